// Starting values of the sparse engine's fixed effects: the GLM without
// random effects on the engine's own (centred and scaled) design, by
// Newton's method with step halving, as AgqEngine::glm_start()
// (agq-start.cpp). It replaces stats::glm.fit(), whose R-level iterations
// were a sixth of a nested fit's time.
#include "laplace.h"
#include <cmath>

namespace glmmgee {

Eigen::VectorXd SparseLaplace::glm_start(int maxit) const {
  if (aux_) Rcpp::stop("glm_start: not available with auxiliary predictors");
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(p_), step(p_), grad(p_), bnew(p_);
  Eigen::MatrixXd info(p_, p_);
  Eigen::VectorXd eta(n_), d1(n_), w(n_);
  std::vector<ObsDerivs> dv(n_);
  auto loglik = [&](const Eigen::VectorXd& b) {
    eta.noalias() = X_ * b;
    eta += off_;
    fam_->derivs_n(y_.data(), wt_.data(), eta.data(), n_, 0.0, dv.data());
    double l = 0.0;
    for (int j = 0; j < n_; ++j) l += dv[j].l;
    return l;
  };
  double ll = loglik(beta);
  for (int it = 0; it < maxit; ++it) {
    for (int j = 0; j < n_; ++j) {
      d1[j] = dv[j].d1;
      w[j] = -dv[j].d2;
    }
    grad.noalias() = X_.transpose() * d1;
    info.noalias() = X_.transpose() * w.asDiagonal() * X_;
    Eigen::LDLT<Eigen::MatrixXd> ldlt(info);
    if (ldlt.info() != Eigen::Success) break;
    step = ldlt.solve(grad);
    const double dec = step.dot(grad);
    // A start needs about 3 digits, as for one grouping factor.
    if (!(dec == dec) || dec < 1e-7 * (1.0 + std::fabs(ll))) break;
    double t = 1.0, lnew = ll;
    bool ok = false;
    for (int half = 0; half < 30; ++half) {
      bnew = beta + t * step;
      lnew = loglik(bnew);
      if (lnew == lnew && lnew >= ll) { ok = true; break; }
      t *= 0.5;
    }
    if (!ok) break;
    beta = bnew;
    ll = lnew;
  }
  return beta;
}

}  // namespace glmmgee

// Fixed effects of the GLM without random effects, for starting values.
// [[Rcpp::export]]
Eigen::VectorXd cpp_sparse_glm_start(SEXP ptr, int maxit) {
  Rcpp::XPtr<glmmgee::SparseLaplace> p(ptr);
  if (!p) Rcpp::stop("the sparse engine pointer is no longer valid");
  return p->glm_start(maxit);
}
