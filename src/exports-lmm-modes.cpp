// R entry point of the several-term LMM's random effects at its estimates
// (R/fit-lmm-sparse.R): the modes and M^{-1} on M's pattern come from the
// criterion's own factor, so the fit builds no second (Laplace) engine.
#include "exports-lmm-grad.h"

// At relative factor theta: beta, the spherical modes u (lme4's scale,
// variance sigma^2), b_s = Lambda u on the scaled design, and M^{-1} at the
// stored entries of M's lower triangle (1-based row inv_i >= column inv_j).
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmmsp_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::LmmSparse& p = glmmgee::lmm_checked(ptr, theta);
  const Eigen::VectorXd th = theta;
  glmmgee::LmmPls r = p.evaluate(th);
  if (!r.ok) Rcpp::stop("the LMM criterion is not finite at the estimates");
  std::vector<int> ii, jj;
  std::vector<double> x;
  p.inverse_on_pattern(ii, jj, x);
  for (size_t t = 0; t < ii.size(); ++t) {
    ++ii[t];
    ++jj[t];
  }
  return Rcpp::List::create(Rcpp::Named("beta") = r.beta, Rcpp::Named("u") = r.u,
                            Rcpp::Named("b_scaled") = p.lambda_times(th, r.u),
                            Rcpp::Named("inv_i") = ii, Rcpp::Named("inv_j") = jj,
                            Rcpp::Named("inv_x") = x);
}
