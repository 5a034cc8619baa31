// Profiled likelihood of the spectrally rotated gaussian model with one
// known covariance; the formulas are in known-gaussian.h.
#include "engines/known/known-gaussian.h"
#include <cmath>

namespace glmmgee {

KgResult kg_profile(const KgData& dat, double log_lambda, bool reml) {
  const double lambda = std::isinf(log_lambda) && log_lambda < 0 ? 0.0 : std::exp(log_lambda);
  const Eigen::Index k = dat.d.size();
  const Eigen::Index p = dat.X1.cols();
  KgResult out;
  out.ok = false;
  out.loglik = -std::numeric_limits<double>::infinity();
  // w_i = 1 / (1 + lambda d_i); log det(lambda G + I) = sum log(1 + lambda d_i).
  Eigen::VectorXd w(k);
  double logdet = 0.0;
  for (Eigen::Index i = 0; i < k; ++i) {
    const double a = lambda * dat.d[i];
    w[i] = 1.0 / (1.0 + a);
    logdet += std::log1p(a);
  }
  Eigen::MatrixXd WX = dat.X1.array().colwise() * w.array();
  out.XtVX = dat.XX_c;
  out.XtVX.noalias() += dat.X1.transpose() * WX;
  Eigen::VectorXd Xy = dat.Xy_c;
  Xy.noalias() += WX.transpose() * dat.y1;
  const double yy = dat.yy_c + (dat.y1.array().square() * w.array()).sum();
  Eigen::LLT<Eigen::MatrixXd> llt(out.XtVX);
  if (llt.info() != Eigen::Success) return out;
  out.beta = llt.solve(Xy);
  // r'V*^{-1}r = y'V*^{-1}y - beta'X'V*^{-1}y, floored: cancellation can make
  // a near-perfect fit slightly negative.
  out.rss = std::max(yy - Xy.dot(out.beta), 1e-300 * std::max(1.0, yy));
  const double df = reml ? dat.n - p : dat.n;
  if (df <= 0) return out;
  out.s2e = out.rss / df;
  double ll = -0.5 * (logdet + df * (1.0 + std::log(2.0 * M_PI * out.s2e)));
  if (reml) {
    const auto& L = llt.matrixLLT();
    double ld = 0.0;
    for (Eigen::Index j = 0; j < p; ++j) ld += 2.0 * std::log(L(j, j));
    ll -= 0.5 * ld;
  }
  out.loglik = ll;
  out.ok = std::isfinite(ll);
  return out;
}

}  // namespace glmmgee
