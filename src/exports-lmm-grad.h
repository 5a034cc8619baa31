// The one R result of the LMM criterion's exact gradients (lmm-sparse.h),
// shared by the plain several-term route's export (exports.cpp) and the
// structured one's (exports-lmm-covstruct.cpp), which differ only in their
// size check and in the gradient they call.
#ifndef GLMMGEE_EXPORTS_LMM_GRAD_H
#define GLMMGEE_EXPORTS_LMM_GRAD_H

#include <RcppEigen.h>
#include "lmm-sparse.h"

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
// one of that evaluation (exports-lmm-modes.cpp).
Rcpp::List lmm_final_list(const LmmSparse& p, const Eigen::VectorXd& th, const LmmPls& r);

}  // namespace glmmgee

#endif
