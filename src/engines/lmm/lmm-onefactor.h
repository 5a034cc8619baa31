// The one-factor linear mixed model's profiled criterion (lmm-onefactor.cpp),
// shared with its search (lmm-onefactor-search.cpp): the per-cluster
// sufficient statistics and one evaluation of the criterion.
#ifndef GLMMGEE_LMM_ONEFACTOR_H
#define GLMMGEE_LMM_ONEFACTOR_H

#include <RcppEigen.h>
#include <limits>

namespace glmmgee {
namespace lmm1 {

// Per-cluster sufficient statistics, stacked: S column-major q x q per
// cluster in the columns of a (q*q) x M matrix, F q x p per cluster in a
// (q*p) x M matrix, g q per cluster in a q x M matrix. Maps into the R
// list cpp_lmm_suff() returned (it must outlive the struct).
struct Suff {
  int M, q, p;
  double n, logw, yty;
  Eigen::Map<Eigen::MatrixXd> S, F, g, XtX;
  Eigen::Map<Eigen::VectorXd> Xty;
};

Suff read_suff(const Rcpp::List& s);

// One evaluation of the profiled criterion: the deviance, its gradient in
// theta and, with `full`, the pieces the fitted object and the information
// need. `ok` is false where a factor fails (the deviance is then infinite).
struct LmmEval {
  bool ok = false;
  double dev = std::numeric_limits<double>::infinity();
  Eigen::VectorXd grad, beta, gA, gC, gP;
  Eigen::MatrixXd C, modes, Ainv;
  double pwrss = 0.0, ldA = 0.0, ldC = 0.0;
};

// The criterion (REML or ML) at the relative factor's entries theta[0..k)
// placed at (prow[j], pcol[j]) of Lambda (0-based, lower triangle).
LmmEval lmm_eval_core(const Suff& s, const double* theta, Eigen::Index k,
                      const Rcpp::IntegerVector& prow, const Rcpp::IntegerVector& pcol,
                      bool reml, bool full);

// Lambda (q x q, lower triangular) with theta[j] at (prow[j], pcol[j]),
// j < k; stops (an R error) where the pattern leaves the lower triangle.
Eigen::MatrixXd lambda_of(const double* theta, Eigen::Index k, const Rcpp::IntegerVector& prow,
                          const Rcpp::IntegerVector& pcol, int q);

// The exact Hessian of the restricted log-likelihood (sigma free, beta
// integrated out) in par = c(Lambda's entries at (prow[j], pcol[j]) on the
// sums' Z, log sigma), given the GLS beta and C = s2 X'V^-1X at par
// (lmm-onefactor-reml-info.cpp); false where it fails.
bool reml_exact_hessian(const Suff& s, const Eigen::VectorXd& par,
                        const Rcpp::IntegerVector& prow, const Rcpp::IntegerVector& pcol,
                        const Eigen::VectorXd& beta, const Eigen::MatrixXd& C,
                        Eigen::MatrixXd& out);

}  // namespace lmm1
}  // namespace glmmgee

#endif
