// Declarations for entry-util.cpp.
#ifndef GLMMGEE_ENTRY_UTIL_H
#define GLMMGEE_ENTRY_UTIL_H

#include <RcppEigen.h>

// R-facing kernels that the entry points of entry-util.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/agq/agq-shard.cpp
Rcpp::NumericVector dd_sum(Rcpp::NumericVector x);
Eigen::VectorXd lin_pred(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> beta,
                         Eigen::Map<Eigen::VectorXd> offset);
// util/cluster-leverage.cpp
Rcpp::List cluster_leverage(Rcpp::NumericVector H, Rcpp::NumericMatrix M, Rcpp::NumericMatrix U,
                            double power);
// util/info-inverse.cpp
Rcpp::List info_inverse(Rcpp::NumericMatrix info_s, Rcpp::Nullable<Rcpp::NumericMatrix> info);
Rcpp::List la_solve(Rcpp::NumericMatrix a, Rcpp::Nullable<Rcpp::NumericVector> b);
// util/lq-rotate.cpp
Rcpp::List lq_rotate(const Eigen::Map<Eigen::MatrixXd> Ct, const Eigen::Map<Eigen::VectorXd> lam,
                     const Rcpp::IntegerMatrix at, bool jacobian);
// util/sparse-symbolic.cpp
Rcpp::IntegerVector sparse_components(Eigen::MappedSparseMatrix<double> A);
double chol_factor_nnz(Eigen::MappedSparseMatrix<double> A);
Rcpp::List sparse_chol_check(Eigen::MappedSparseMatrix<double> A, Eigen::Map<Eigen::VectorXd> b,
                             int dense_min);
}  // namespace glmmgee_exports

#endif
