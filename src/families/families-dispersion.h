// Count and positive continuous families with an estimated dispersion:
// negative binomial NB2 and Gamma, both with a log link. Included by
// families.h (after ObsModelBase, before the factory); not on its own.
//
// NB2 (Hilbe 2011, ch. 8; Venables & Ripley 2002, sec. 7.4): for y = 0, 1, ...
//   f(y) = Gamma(y + theta) / (Gamma(theta) y!) p^y (1 - p)^theta,
//   p = mu / (theta + mu),  E y = mu,  Var y = mu + mu^2 / theta,
// with phi = log(theta). Written with p = plogis(eta - phi) so that neither
// a large mu nor a large theta overflows or cancels:
//   log f = G(theta, y) + y eta - (y + theta) log1p(mu / theta) - log y!,
//   G(theta, y) = lgamma(y + theta) - lgamma(theta) - y log(theta)
//               = sum_{k < y} log1p(k / theta) for whole y.
// Derivatives in eta (a = y + theta):
//   d1 = y - a p,  d2 = -a p (1 - p),  d3 = -a p (1 - p)(1 - 2 p),
// and in phi (theta d/dtheta), with mu (1 - p) = theta p:
//   dl  = theta [psi(y + theta) - psi(theta) - log1p(mu / theta)]
//         + theta p - y (1 - p),
//   dd1 = p (1 - p) y - theta p^2,
//   dd2 = -p (1 - p) [y (2 p - 1) + 2 theta p].
//
// Gamma with shape nu (phi = log nu) and mean mu (McCullagh & Nelder 1989,
// ch. 8): log f = nu log(nu / mu) + (nu - 1) log y - nu y / mu - lgamma(nu),
// so with r = y / mu:  d1 = nu (r - 1),  d2 = -nu r,  d3 = nu r, and
// d/dphi of (l, d1, d2) = (nu [log nu + 1 - psi(nu) + log r - r], d1, d2).
// The dispersion's second and third derivatives (dphi2(), for random
// effects in the dispersion formula) are in families-extra.h.
#ifndef GLMMGEE_FAMILIES_DISPERSION_H
#define GLMMGEE_FAMILIES_DISPERSION_H

namespace glmmgee {

// lgamma(y + t) - lgamma(t) - y log t, accurate for any t > 0, y >= 0.
inline double nb_lgamma_diff(double t, double y) {
  if (y == 0.0) return 0.0;
  if (y <= 8.0 && y == std::floor(y)) {
    double s = 0.0;
    for (int k = 1; k < (int)y; ++k) s += std::log1p(k / t);
    return s;
  }
  if (t > 1e5) {
    // Stirling's series for both log-gammas; the 1/t^3 terms are below
    // rounding for t this large.
    return (t + y - 0.5) * std::log1p(y / t) - y +
           (1.0 / (t + y) - 1.0 / t) / 12.0;
  }
  return lgam(y + t) - lgam(t) - y * std::log(t);
}

// psi(y + t) - psi(t), accurate for any t > 0, y >= 0.
inline double nb_digamma_diff(double t, double y) {
  if (y == 0.0) return 0.0;
  if (y <= 8.0 && y == std::floor(y)) {
    double s = 0.0;
    for (int k = 0; k < (int)y; ++k) s += 1.0 / (t + k);
    return s;
  }
  if (t > 1e5) {
    const double a = t + y;
    return std::log1p(y / t) - 0.5 * (1.0 / a - 1.0 / t) -
           (1.0 / (a * a) - 1.0 / (t * t)) / 12.0;
  }
  return digam(y + t) - digam(t);
}

// Where a negative binomial is the Poisson distribution to double
// precision. With size s (NB2: theta; NB1: mu / phi) the log-likelihood,
// its derivatives in eta and its derivative in log s differ from the
// Poisson's by terms of order (y + mu)^2 / s (the NB2 expansion of
// G(theta, y) - (y + theta) log1p(mu / theta) in 1 / theta:
// ((y - mu)^2 - y) / (2 theta)); with s > 1e16 (1 + y + mu)^2 they are
// below rounding, and the Poisson values are returned instead. This is the
// dispersion's no-overdispersion limit (dispersion_limit()): beyond it the
// exact expressions cancel (theta times a difference of two 1 / theta
// terms) and then overflow (exp(log s) > 1.8e308; NB1's k^3 beyond 5.6e102),
// which stopped a search whose dispersion formula ran to the limit in some
// rows with a gradient that was not finite. log_s the log size, eta the log
// mean. Not for eta beyond 700 (a mean that overflows, met by a cluster's
// mode search running off): there the exact expressions run as before.
inline bool nb_poisson_limit(double log_s, double y, double eta) {
  return eta < 700.0 && log_s > 36.8413614879047 + 2.0 * std::log1p(y + std::exp(eta));
}

// The Poisson log-likelihood (without -log y!) and its derivatives in eta.
inline ObsDerivs nb_poisson_derivs(double y, double wt, double eta) {
  const double mu = std::exp(eta);
  return ObsDerivs{wt * (y * eta - mu), wt * (y - mu), -wt * mu, -wt * mu};
}

class NBinom2Log : public CountLogBase<NBinom2Log> {
 public:
  bool has_dispersion() const override { return true; }
  void set_phi(double phi) override { theta_ = std::exp(phi); }
  double variance(double mu) const override { return mu + mu * mu / theta_; }
  double quasi(double y, double mu) const override {
    // Integral of (y - t) / V(t): the NB2 log-likelihood kernel at theta.
    mu = std::max(mu, 1e-300);
    return y * std::log(mu / (theta_ + mu)) - theta_ * std::log(theta_ + mu);
  }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    if (nb_poisson_limit(phi, y, eta)) return nb_poisson_derivs(y, wt, eta);
    const double t = std::exp(phi), x = eta - phi;
    const double p = 1.0 / (1.0 + std::exp(-x)), q = 1.0 / (1.0 + std::exp(x));
    const double a = y + t, v = a * p * q;
    const double l = nb_lgamma_diff(t, y) + y * eta - a * log1pexp(x);
    return ObsDerivs{wt * l, wt * (y - a * p), -wt * v, -wt * v * (q - p)};
  }
  double loglik_d1(double y, double wt, double eta, double phi, double& d1) const {
    if (wt <= 0) { d1 = 0.0; return 0.0; }
    if (nb_poisson_limit(phi, y, eta)) {
      const ObsDerivs d = nb_poisson_derivs(y, wt, eta);
      d1 = d.d1;
      return d.l;
    }
    const double t = std::exp(phi), x = eta - phi;
    const double p = 1.0 / (1.0 + std::exp(-x)), a = y + t;
    d1 = wt * (y - a * p);
    return wt * (nb_lgamma_diff(t, y) + y * eta - a * log1pexp(x));
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0 || nb_poisson_limit(phi, y, eta)) { out[0] = out[1] = out[2] = 0.0; return; }
    const double t = std::exp(phi), x = eta - phi;
    const double p = 1.0 / (1.0 + std::exp(-x)), q = 1.0 / (1.0 + std::exp(x));
    out[0] = wt * (t * (nb_digamma_diff(t, y) - log1pexp(x)) + t * p - y * q);
    out[1] = wt * (p * q * y - t * p * p);
    out[2] = -wt * p * q * (y * (p - q) + 2.0 * t * p);
  }
  // Defined in families-extra.h (it needs the polygamma differences).
  bool dphi2(double y, double wt, double eta, double phi, double* out) const override;

 private:
  double theta_ = 1.0;
};

// What the Gamma families share whatever the link: a dispersion (phi =
// log shape nu), the variance mu^2, the GEE quasi-likelihood and the
// normalizing constant -log y. Each link is a small class on top
// (GammaLog here, GammaInverse and GammaIdentity in families-extra.h).
template <class Derived>
class GammaBase : public ObsModelBase<Derived> {
 public:
  bool has_dispersion() const override { return true; }
  double variance(double mu) const override { return mu * mu; }
  double quasi(double y, double mu) const override {
    mu = std::max(mu, 1e-300);
    return -y / mu - std::log(mu);
  }
  double logconst(double y, double wt) const override {
    return wt > 0 && y > 0 ? -wt * std::log(y) : 0.0;
  }
  // Defined in families-extra.h (it needs trigamma and tetragamma).
  bool dphi2(double y, double wt, double eta, double phi, double* out) const override;
};

class GammaLog : public GammaBase<GammaLog> {
 public:
  double linkinv(double eta) const override { return std::exp(eta); }
  double mu_eta(double eta) const override { return std::exp(eta); }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    const double nu = std::exp(phi), lr = std::log(y) - eta, r = std::exp(lr);
    const double l = nu * (phi + lr - r) - lgam(nu);
    return ObsDerivs{wt * l, wt * nu * (r - 1.0), -wt * nu * r, wt * nu * r};
  }
  double loglik_d1(double y, double wt, double eta, double phi, double& d1) const {
    if (wt <= 0) { d1 = 0.0; return 0.0; }
    const double nu = std::exp(phi), lr = std::log(y) - eta, r = std::exp(lr);
    d1 = wt * nu * (r - 1.0);
    return wt * (nu * (phi + lr - r) - lgam(nu));
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0) { out[0] = out[1] = out[2] = 0.0; return; }
    const double nu = std::exp(phi), lr = std::log(y) - eta, r = std::exp(lr);
    out[0] = wt * nu * (phi + 1.0 - digam(nu) + lr - r);
    out[1] = wt * nu * (r - 1.0);
    out[2] = -wt * nu * r;
  }
};

}  // namespace glmmgee

#endif
