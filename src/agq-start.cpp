// Starting values for the fixed effects: the GLM without random effects,
// maximized by Newton's method with step halving on the engine's own data
// and family (the log-likelihood is concave in beta for every supported
// family and link, so the damped iteration converges from beta = 0).
// This replaces a call to stats::glm.fit(), whose R-level iterations cost
// more than the whole quadrature fit on large data.
#include "agq.h"
#include <cmath>

namespace glmmgee {

Eigen::VectorXd AgqEngine::glm_start(int maxit) const {
  const ObsModel& fam = *fam_;
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(p_), step(p_), grad(p_), bnew(p_);
  Eigen::MatrixXd info(p_, p_);
  Eigen::VectorXd eta(n_);
  std::vector<ObsDerivs> dv(n_);
  auto loglik = [&](const Eigen::VectorXd& b) {
    eta.noalias() = X_ * b;
    eta += off_;
    fam.derivs_n(y_.data(), wt_.data(), eta.data(), n_, 0.0, dv.data());
    double l = 0.0;
    for (int j = 0; j < n_; ++j) l += dv[j].l;
    return l;
  };
  double ll = loglik(beta);
  Eigen::VectorXd wcol(n_);
  for (int it = 0; it < maxit; ++it) {
    for (int j = 0; j < n_; ++j) {
      eta[j] = dv[j].d1;
      wcol[j] = -dv[j].d2;
    }
    grad.noalias() = X_.transpose() * eta;
    info.noalias() = X_.transpose() * wcol.asDiagonal() * X_;
    Eigen::LDLT<Eigen::MatrixXd> ldlt(info);
    if (ldlt.info() != Eigen::Success) break;
    step = ldlt.solve(grad);
    const double dec = step.dot(grad);
    // A start needs no more than about 3 digits: the mixed model's optimum
    // is further from the GLM's than that.
    if (!(dec == dec) || dec < 1e-7 * (1.0 + std::fabs(ll))) break;
    double t = 1.0, lnew = ll;
    bool ok = false;
    for (int half = 0; half < 30; ++half) {
      bnew = beta + t * step;
      lnew = loglik(bnew);
      if (lnew == lnew && lnew >= ll) { ok = true; break; }
      t *= 0.5;
    }
    if (!ok) { loglik(beta); break; }
    beta = bnew;
    ll = lnew;
  }
  return beta;
}

}  // namespace glmmgee
