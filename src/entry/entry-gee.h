// Declarations for entry-gee.cpp.
#ifndef GLMMGEE_ENTRY_GEE_H
#define GLMMGEE_ENTRY_GEE_H

#include <RcppEigen.h>

// R-facing kernels that the entry points of entry-gee.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/gee/gee-shard.cpp
Rcpp::List gee_assoc(int corstr, int mdep, bool scale_fix, double scale_value,
                     Rcpp::NumericVector m, int ms, Rcpp::NumericVector alpha);
Rcpp::List gee_shard_variance(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericVector alpha,
                              double phi, int flags, Eigen::Map<Eigen::MatrixXd> H,
                              Eigen::Map<Eigen::VectorXd> U);
Rcpp::List gee_shard_cross(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericVector alpha, double phi);
Rcpp::List gee_shard_moments(SEXP ptr, Rcpp::NumericVector beta);
Rcpp::List gee_shard_start(SEXP ptr, Rcpp::NumericVector eta0);
Rcpp::List gee_shard_info(SEXP ptr);
SEXP gee_shard_new(Rcpp::List data, Rcpp::List spec);
// engines/gee/ordinal-gee-global.cpp
Rcpp::List ordinal_gee_global(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                              Eigen::Map<Eigen::VectorXd> offset,
                              Eigen::Map<Eigen::VectorXi> starts, Eigen::Map<Eigen::VectorXi> time,
                              Eigen::Map<Eigen::MatrixXi> group, int J, int nalpha,
                              Eigen::Map<Eigen::VectorXd> start, int link, int maxit,
                              double epsilon, bool patterns);
// engines/gee/ordinal-gee.cpp
Rcpp::NumericMatrix ipf_tables(Eigen::Map<Eigen::MatrixXd> logtab,
                               Eigen::Map<Eigen::MatrixXd> counts, int J, double tol, int maxit);
Rcpp::List ordinal_gee_lor(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                           Eigen::Map<Eigen::VectorXd> offset, Eigen::Map<Eigen::VectorXi> starts,
                           Eigen::Map<Eigen::VectorXi> time, Eigen::Map<Eigen::MatrixXd> tables,
                           Eigen::Map<Eigen::MatrixXi> pair, int J,
                           Eigen::Map<Eigen::VectorXd> start, int link, int maxit, double tol,
                           double ipf_tol, int ipf_maxit);
}  // namespace glmmgee_exports

#endif
