// What the entry points of the sparse engines share (entry-laplace.cpp,
// entry-lmm.cpp) and the kernels entry-laplace.cpp forwards to.
#ifndef GLMMGEE_ENTRY_LAPLACE_H
#define GLMMGEE_ENTRY_LAPLACE_H

#include <RcppEigen.h>
#include "engines/laplace/laplace.h"

// R-facing kernels that the entry points of entry-laplace.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/laplace/laplace-start.cpp
Eigen::VectorXd sparse_glm_start(SEXP ptr, int maxit);

// Lambda's pattern from 0-based (row, col, parameter) triplets, checked
// against a Q x Q Lambda with ntheta parameters (the sparse Laplace and
// several-term LMM engines' constructors).
inline glmmgee::LambdaPattern lambda_pattern(const Rcpp::IntegerVector& lam_row,
                                             const Rcpp::IntegerVector& lam_col,
                                             const Rcpp::IntegerVector& lam_k, int ntheta,
                                             int Q) {
  if (ntheta < 1) Rcpp::stop("need at least one covariance parameter");
  if (lam_row.size() != lam_col.size() || lam_row.size() != lam_k.size())
    Rcpp::stop("Lambda pattern vectors differ in length");
  glmmgee::LambdaPattern lam;
  lam.ntheta = ntheta;
  for (R_xlen_t e = 0; e < lam_row.size(); ++e) {
    if (lam_row[e] < 0 || lam_row[e] >= Q || lam_col[e] < 0 || lam_col[e] >= Q)
      Rcpp::stop("Lambda pattern entry %d is outside %d x %d", (int)e + 1, Q, Q);
    if (lam_k[e] < 0 || lam_k[e] >= ntheta)
      Rcpp::stop("Lambda pattern entry %d refers to parameter %d of %d", (int)e + 1,
                 lam_k[e] + 1, ntheta);
    lam.row.push_back(lam_row[e]);
    lam.col.push_back(lam_col[e]);
    lam.k.push_back(lam_k[e]);
  }
  return lam;
}
}  // namespace glmmgee_exports

#endif
