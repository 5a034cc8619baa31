// The one R result of the LMM criterion's exact gradients (lmm-sparse.h),
// shared by the plain several-term route's entry point and the structured
// one's (both in entry-lmm.cpp), which differ only in their size check and
// in the gradient they call; and the kernels entry-lmm.cpp forwards to.
#ifndef GLMMGEE_EXPORTS_LMM_GRAD_H
#define GLMMGEE_EXPORTS_LMM_GRAD_H

#include <RcppEigen.h>
#include "engines/lmm/lmm-sparse.h"

namespace glmmgee {

// The criterion behind `ptr`, refused when the pointer is stale or theta
// has the wrong length.
inline LmmSparse& lmm_checked(SEXP ptr, const Eigen::Map<Eigen::VectorXd>& theta) {
  Rcpp::XPtr<LmmSparse> p(ptr);
  if (!p) Rcpp::stop("the LMM criterion pointer is no longer valid");
  if (theta.size() != p->ntheta())
    Rcpp::stop("theta has length %d; the model has %d covariance parameters",
               (int)theta.size(), p->ntheta());
  return *p;
}

// The pieces of the criteria at theta and, where they evaluate, their
// gradients from grad(theta, pieces).
template <class Grad>
Rcpp::List lmm_grad_result(LmmSparse& p, const Eigen::Map<Eigen::VectorXd>& theta, Grad grad) {
  Rcpp::checkUserInterrupt();
  const Eigen::VectorXd th = theta;
  LmmPls r = p.evaluate(th);
  if (!r.ok)
    return Rcpp::List::create(Rcpp::Named("ok") = false, Rcpp::Named("ldL2") = r.ldL2,
                              Rcpp::Named("ldRX2") = r.ldRX2, Rcpp::Named("pwrss") = r.pwrss);
  LmmGrad g = grad(th, r);
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("ldL2") = r.ldL2,
                            Rcpp::Named("ldRX2") = r.ldRX2, Rcpp::Named("pwrss") = r.pwrss,
                            Rcpp::Named("grad_ldL2") = g.ldL2, Rcpp::Named("grad_ldRX2") = g.ldRX2,
                            Rcpp::Named("grad_pwrss") = g.pwrss);
}

// cpp_lmmsp_final()'s list at theta `th` from the criterion's pieces `r`
// there (r.ok), read from the engine's current factor, which must be the
// one of that evaluation (lmm-sparse-final.cpp).
Rcpp::List lmm_final_list(const LmmSparse& p, const Eigen::VectorXd& th, const LmmPls& r);

}  // namespace glmmgee

// R-facing kernels that the entry points of entry-lmm.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/lmm/lmm-onefactor-ml-info.cpp
Rcpp::List lmm_ml_final(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                        Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol,
                        Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> yo,
                        Eigen::Map<Eigen::VectorXd> w, Rcpp::IntegerVector index);
Rcpp::NumericMatrix lmm_ml_hessian(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                                   Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol);
// engines/lmm/lmm-onefactor-search.cpp
Rcpp::List lmm_search(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> start,
                      Rcpp::LogicalVector bounded, Rcpp::IntegerVector prow,
                      Rcpp::IntegerVector pcol, bool reml, int maxit, double tol, bool polish,
                      Rcpp::NumericVector alt);
Rcpp::NumericVector lmm_moment_start(Rcpp::List suff, Rcpp::IntegerVector prow,
                                     Rcpp::IntegerVector pcol);
// engines/lmm/lmm-onefactor.cpp
Rcpp::List lmm_loglik(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta, Rcpp::IntegerVector prow,
                      Rcpp::IntegerVector pcol, bool gradient);
Rcpp::List lmm_reml_info(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> par, Rcpp::NumericVector sz,
                         Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol);
Rcpp::List lmm_eval(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta, Rcpp::IntegerVector prow,
                    Rcpp::IntegerVector pcol, bool reml, bool full);
Rcpp::List lmm_suff(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Z,
                    Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> w,
                    Rcpp::IntegerVector index, int M);
// engines/lmm/lmm-sparse-newton.cpp
SEXP lmmsp_hessian(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool reml, double max_work);
Rcpp::NumericMatrix lmmsp_loglik_hessian(SEXP ptr, Rcpp::NumericVector x0, Rcpp::NumericVector h,
                                         Rcpp::IntegerVector which, Rcpp::NumericVector scale,
                                         int n, int p, bool reml);
Rcpp::List lmmsp_newton(SEXP ptr, Eigen::Map<Eigen::VectorXd> start, Rcpp::NumericVector lower,
                        Rcpp::NumericVector floor, int n, int p, double logw, bool reml, int maxit,
                        int budget, double max_work);
// engines/lmm/lmm-term-moments.cpp
Rcpp::List lmm_term_moments(Rcpp::List codes, Rcpp::IntegerVector nl, Rcpp::NumericVector r, int p);
// util/info-inverse.cpp
Rcpp::NumericVector lmm_ml_moments(Rcpp::NumericMatrix A, Rcpp::NumericVector b,
                                   Rcpp::NumericVector v, Rcpp::NumericMatrix Tm, double n,
                                   int maxit, double tol);
}  // namespace glmmgee_exports

#endif
