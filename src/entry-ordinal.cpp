// Entry points of the cumulative link mixed model (engines/ordinal/).
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include "entry/entry-ordinal.h"

// ---- forwarded to engines/ordinal/ordinal-separation.cpp ----

// [[Rcpp::export]]
double cpp_ordinal_certificate(const Rcpp::IntegerVector& y, const Rcpp::NumericMatrix& X,
                               const Rcpp::NumericVector& eta, const Rcpp::NumericVector& theta,
                               int link) {
  return glmmgee_exports::ordinal_certificate(y, X, eta, theta, link);
}

// ---- forwarded to engines/ordinal/ordinal.cpp ----

// [[Rcpp::export]]
Rcpp::List cpp_ordinal_loglik(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                              Eigen::Map<Eigen::VectorXd> offset,
                              Eigen::Map<Eigen::VectorXd> weights,
                              Eigen::Map<Eigen::VectorXi> start, int J,
                              Eigen::Map<Eigen::VectorXd> theta, Eigen::Map<Eigen::VectorXd> beta,
                              double log_sigma, int nAGQ, int link, bool gradient,
                              Rcpp::Nullable<Rcpp::NumericVector> mode_start = R_NilValue,
                              bool fast = true, int hessian = 0,
                              bool clusters = false) {
  return glmmgee_exports::ordinal_loglik(y, X, offset, weights, start, J, theta, beta, log_sigma,
                                         nAGQ, link, gradient, mode_start, fast, hessian, clusters);
}

// [[Rcpp::export]]
Rcpp::List cpp_ordinal_search(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                              Eigen::Map<Eigen::VectorXd> offset,
                              Eigen::Map<Eigen::VectorXd> weights,
                              Eigen::Map<Eigen::VectorXi> start, int J,
                              Eigen::Map<Eigen::VectorXd> par0, int nAGQ, int link,
                              Rcpp::Nullable<Rcpp::NumericVector> mode_start,
                              Rcpp::Nullable<Rcpp::NumericMatrix> H0,
                              Eigen::Map<Eigen::VectorXd> lower, int maxit, double tol) {
  return glmmgee_exports::ordinal_search(y, X, offset, weights, start, J, par0, nAGQ, link,
                                         mode_start, H0, lower, maxit, tol);
}

// [[Rcpp::export]]
Rcpp::List cpp_ordinal_scores(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::VectorXd> eta,
                              Eigen::Map<Eigen::VectorXd> theta, int link) {
  return glmmgee_exports::ordinal_scores(y, eta, theta, link);
}
