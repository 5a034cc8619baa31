// R entry point of the LMM criterion's sparse exact gradient
// (lmm-sparse-selinv.cpp), used by the structured several-term fits
// (R/fit-lmm-sparse-covstruct.R).
#include "lmm-sparse.h"

// [[Rcpp::export]]
Rcpp::List cpp_lmmsp_grad_sparse(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  Rcpp::XPtr<glmmgee::LmmSparse> p(ptr);
  if (!p) Rcpp::stop("the LMM criterion pointer is no longer valid");
  if (theta.size() != p->ntheta())
    Rcpp::stop("theta has length %d; the model has %d covariance parameters",
               (int)theta.size(), p->ntheta());
  Rcpp::checkUserInterrupt();
  const Eigen::VectorXd th = theta;
  glmmgee::LmmPls r = p->evaluate(th);
  if (!r.ok)
    return Rcpp::List::create(Rcpp::Named("ok") = false, Rcpp::Named("ldL2") = r.ldL2,
                              Rcpp::Named("ldRX2") = r.ldRX2, Rcpp::Named("pwrss") = r.pwrss);
  glmmgee::LmmGrad g = p->gradient_sparse(th, r);
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("ldL2") = r.ldL2,
                            Rcpp::Named("ldRX2") = r.ldRX2, Rcpp::Named("pwrss") = r.pwrss,
                            Rcpp::Named("grad_ldL2") = g.ldL2, Rcpp::Named("grad_ldRX2") = g.ldRX2,
                            Rcpp::Named("grad_pwrss") = g.pwrss);
}
