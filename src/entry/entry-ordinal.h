// Declarations for entry-ordinal.cpp.
#ifndef GLMMGEE_ENTRY_ORDINAL_H
#define GLMMGEE_ENTRY_ORDINAL_H

#include <RcppEigen.h>

// R-facing kernels that the entry points of entry-ordinal.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/ordinal/ordinal-separation.cpp
double ordinal_certificate(const Rcpp::IntegerVector& y, const Rcpp::NumericMatrix& X,
                           const Rcpp::NumericVector& eta, const Rcpp::NumericVector& theta,
                           int link);
// engines/ordinal/ordinal.cpp
Rcpp::List ordinal_scores(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::VectorXd> eta,
                          Eigen::Map<Eigen::VectorXd> theta, int link);
Rcpp::List ordinal_search(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                          Eigen::Map<Eigen::VectorXd> offset, Eigen::Map<Eigen::VectorXd> weights,
                          Eigen::Map<Eigen::VectorXi> start, int J,
                          Eigen::Map<Eigen::VectorXd> par0, int nAGQ, int link,
                          Rcpp::Nullable<Rcpp::NumericVector> mode_start,
                          Rcpp::Nullable<Rcpp::NumericMatrix> H0, Eigen::Map<Eigen::VectorXd> lower,
                          int maxit, double tol);
Rcpp::List ordinal_loglik(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                          Eigen::Map<Eigen::VectorXd> offset, Eigen::Map<Eigen::VectorXd> weights,
                          Eigen::Map<Eigen::VectorXi> start, int J,
                          Eigen::Map<Eigen::VectorXd> theta, Eigen::Map<Eigen::VectorXd> beta,
                          double log_sigma, int nAGQ, int link, bool gradient,
                          Rcpp::Nullable<Rcpp::NumericVector> mode_start, bool fast, int hessian,
                          bool clusters);
}  // namespace glmmgee_exports

#endif
