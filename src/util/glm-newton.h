// The GLM without random effects, maximized by Newton's method with step
// halving from beta = 0 on an engine's own design and family: the starting
// values of the one-factor (agq-start.cpp) and the sparse (laplace-start.cpp)
// engines. The log-likelihood is concave in beta for every supported family
// and link, so the damped iteration converges; a start needs about 3 digits
// (the mixed model's optimum is further from the GLM's than that). It
// replaces stats::glm.fit(), whose R-level iterations cost more than a whole
// quadrature fit on large data.
#ifndef GLMMGEE_GLM_NEWTON_H
#define GLMMGEE_GLM_NEWTON_H

#include <RcppEigen.h>
#include <cmath>
#include <vector>
#include "families/families.h"

namespace glmmgee {

inline Eigen::VectorXd glm_newton_start(const ObsModel& fam,
                                        const Eigen::Ref<const Eigen::MatrixXd>& X,
                                        const Eigen::Ref<const Eigen::VectorXd>& y,
                                        const Eigen::Ref<const Eigen::VectorXd>& wt,
                                        const Eigen::Ref<const Eigen::VectorXd>& off, int maxit) {
  const int n = (int)X.rows(), p = (int)X.cols();
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(p), step(p), grad(p), bnew(p);
  Eigen::MatrixXd info(p, p);
  Eigen::VectorXd eta(n), d1(n), w(n);
  std::vector<ObsDerivs> dv(n);
  auto loglik = [&](const Eigen::VectorXd& b) {
    eta.noalias() = X * b;
    eta += off;
    fam.derivs_n(y.data(), wt.data(), eta.data(), n, 0.0, dv.data());
    double l = 0.0;
    for (int j = 0; j < n; ++j) l += dv[j].l;
    return l;
  };
  double ll = loglik(beta);
  for (int it = 0; it < maxit; ++it) {
    for (int j = 0; j < n; ++j) {
      d1[j] = dv[j].d1;
      w[j] = -dv[j].d2;
    }
    grad.noalias() = X.transpose() * d1;
    info.noalias() = X.transpose() * w.asDiagonal() * X;
    Eigen::LDLT<Eigen::MatrixXd> ldlt(info);
    if (ldlt.info() != Eigen::Success) break;
    step = ldlt.solve(grad);
    const double dec = step.dot(grad);
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

#endif
