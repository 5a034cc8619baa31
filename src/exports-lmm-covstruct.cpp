// R entry point of the LMM criterion's sparse exact gradient
// (lmm-sparse-selinv.cpp), used by the structured several-term fits
// (R/fit-lmm-sparse-covstruct.R).
#include "exports-lmm-grad.h"

// [[Rcpp::export]]
Rcpp::List cpp_lmmsp_grad_sparse(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::LmmSparse& p = glmmgee::lmm_checked(ptr, theta);
  return glmmgee::lmm_grad_result(p, theta, [&p](const Eigen::VectorXd& th,
                                                 const glmmgee::LmmPls& r) {
    return p.gradient_sparse(th, r);
  });
}
