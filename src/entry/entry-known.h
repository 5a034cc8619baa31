// Declarations for entry-known.cpp.
#ifndef GLMMGEE_ENTRY_KNOWN_H
#define GLMMGEE_ENTRY_KNOWN_H

#include <RcppEigen.h>

// R-facing kernels that the entry points of entry-known.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/known/known-tridiag.cpp
Rcpp::List tridiag_solve(Eigen::Map<Eigen::VectorXd> dT, Eigen::Map<Eigen::VectorXd> eT,
                         double lambda, Eigen::Map<Eigen::MatrixXd> B);
Eigen::MatrixXd householder_apply(Eigen::Map<Eigen::MatrixXd> packed, Eigen::Map<Eigen::VectorXd> h,
                                  Eigen::Map<Eigen::MatrixXd> B, bool transpose);
Rcpp::List tridiagonalize(Rcpp::NumericMatrix K);
}  // namespace glmmgee_exports

#endif
