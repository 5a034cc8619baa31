// The several-term LMM's random effects at its estimates (cpp_lmmsp_final()
// in entry-lmm.cpp, R/fit-lmm-sparse.R): the modes and M^{-1} on M's pattern come from the
// criterion's own factor, so the fit builds no second (Laplace) engine.
#include "entry/entry-lmm.h"

namespace glmmgee {

Rcpp::List lmm_final_list(const LmmSparse& p, const Eigen::VectorXd& th, const LmmPls& r) {
  std::vector<int> ii, jj;
  std::vector<double> x;
  p.inverse_on_pattern(ii, jj, x);
  for (size_t t = 0; t < ii.size(); ++t) {
    ++ii[t];
    ++jj[t];
  }
  Rcpp::List out(12);
  out.names() = Rcpp::CharacterVector::create("ok", "ldL2", "ldRX2", "pwrss", "beta", "u", "RXtRX",
                                              "nnz_factor", "b_scaled", "inv_i", "inv_j", "inv_x");
  out[0] = true;
  out[1] = r.ldL2;
  out[2] = r.ldRX2;
  out[3] = r.pwrss;
  out[4] = r.beta;
  out[5] = r.u;
  out[6] = r.RXtRX;
  out[7] = (double)p.nnz_factor();
  out[8] = p.lambda_times(th, r.u);
  out[9] = ii;
  out[10] = jj;
  out[11] = x;
  return out;
}

}  // namespace glmmgee
