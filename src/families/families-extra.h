// Links beyond the canonical ones, and the families parameterized as
// glmmTMB defines them (Brooks et al. 2017): NB1, beta and beta-binomial.
// Included by families.h (after families-dispersion.h, before the factory);
// not on its own.
//
// Non-canonical links go through the chain rule. With L_k = d^k l / d mu^k
// and m_k = d^k mu / d eta^k:
//   d1 = L1 m1,  d2 = L2 m1^2 + L1 m2,  d3 = L3 m1^3 + 3 L2 m1 m2 + L1 m3.
// A mean outside the family's support (a negative Gamma mean under the
// inverse or identity link) gives a NaN log-likelihood, which the engines
// treat as a failed evaluation (the optimizer steps back), as glmmTMB does.
#ifndef GLMMGEE_FAMILIES_EXTRA_H
#define GLMMGEE_FAMILIES_EXTRA_H

#include <boost/math/special_functions/trigamma.hpp>
#include <boost/math/special_functions/polygamma.hpp>

namespace glmmgee {

// Digamma, trigamma and tetragamma for x > 0 by the recurrences
// psi(x) = psi(x + 1) - 1/x, psi'(x) = psi'(x + 1) + 1/x^2,
// psi''(x) = psi''(x + 1) - 2/x^3 up to x >= 10, then their asymptotic
// series in the Bernoulli numbers (Abramowitz and Stegun 6.3.18, 6.4.12,
// 6.4.11) to x^-12, whose next terms are below 1e-13 relative there.
// Boost's general versions cost several times more, and the beta families
// call these for every observation at every evaluation.
inline double fast_digamma(double x) {
  if (!(x > 0)) return digam(x);
  double acc = 0.0;
  while (x < 10.0) { acc -= 1.0 / x; x += 1.0; }
  const double r2 = 1.0 / (x * x);
  return acc + std::log(x) - 0.5 / x -
         r2 * (1.0 / 12.0 - r2 * (1.0 / 120.0 - r2 * (1.0 / 252.0 - r2 * (1.0 / 240.0 -
         r2 * (1.0 / 132.0)))));
}
// log Gamma(x) for x > 0 the same way: one log of the product of the
// recurrence, then Stirling's series to x^-11 (absolute error below 1e-13).
inline double fast_lgamma(double x) {
  if (!(x > 0)) return lgam(x);
  double prod = 1.0;
  while (x < 10.0) { prod *= x; x += 1.0; }
  const double r = 1.0 / x, r2 = r * r;
  const double series = r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 -
                        r2 * (1.0 / 1188.0 - r2 * (691.0 / 360360.0))))));
  return (x - 0.5) * std::log(x) - x + 0.91893853320467274178 + series - std::log(prod);
}
inline double trigam(double x) {
  if (!(x > 0)) return boost::math::trigamma(x, quiet_policy());
  double acc = 0.0;
  while (x < 10.0) { acc += 1.0 / (x * x); x += 1.0; }
  const double r = 1.0 / x, r2 = r * r;
  return acc + r + 0.5 * r2 + r * r2 * (1.0 / 6.0 - r2 * (1.0 / 30.0 - r2 * (1.0 / 42.0 -
         r2 * (1.0 / 30.0 - r2 * (5.0 / 66.0)))));
}
inline double tetragam(double x) {
  // (Boost's polygamma() throws at NaN and -Inf whatever the policy, and
  // an exception must not leave an OpenMP region: NaN, a failed evaluation.)
  if (!(x > 0)) return std::isfinite(x) ? boost::math::polygamma(2, x, quiet_policy())
                                        : std::numeric_limits<double>::quiet_NaN();
  double acc = 0.0;
  while (x < 10.0) { acc -= 2.0 / (x * x * x); x += 1.0; }
  const double r = 1.0 / x, r2 = r * r;
  const double series = r2 * (-1.0 - r + r2 * (-0.5 + r2 * (1.0 / 6.0 + r2 * (-1.0 / 6.0 +
                        r2 * (0.3 + r2 * (-5.0 / 6.0))))));
  return acc + series;
}

inline ObsDerivs chain_rule(double wt, double l, double L1, double L2, double L3,
                            double m1, double m2, double m3) {
  return ObsDerivs{wt * l, wt * L1 * m1, wt * (L2 * m1 * m1 + L1 * m2),
                   wt * (L3 * m1 * m1 * m1 + 3.0 * L2 * m1 * m2 + L1 * m3)};
}

// psi^(k)(t + y) - psi^(k)(t) for k = 0, 1, 2 (digamma, trigamma,
// tetragamma). For a whole y up to 60 by the finite sums of the recurrence
// psi(x + 1) = psi(x) + 1/x, exact and free of cancellation when t is large.
// Otherwise, for t >= 10, by the asymptotic series of the three functions
// (Abramowitz and Stegun 6.3.18, 6.4.11-12, to x^-16) differenced term by
// term: with r = 1/(t + y) and s = 1/t the differences of the powers,
// P_n = r^n - s^n = r P_(n-1) + s^(n-1) P_1 with P_1 = -y r s, add terms
// of one sign only, so every difference keeps its relative precision
// however large t is. Two function values subtracted lose it like t / y:
// at t = 1e13 and y = 100 no digit of t^2 D1 (the negative binomials'
// dispersion curvature) was left. The series' next terms move a
// difference by less than 1e-14 relative at t = 10. Below t = 10 the
// functions differ by more than their rounding and are subtracted.
inline void polygamma_diffs(double t, double y, double* out) {
  out[0] = out[1] = out[2] = 0.0;
  if (y == 0.0) return;
  if (y <= 60.0 && y == std::floor(y)) {
    for (int k = 0; k < (int)y; ++k) {
      const double r = 1.0 / (t + k);
      out[0] += r;
      out[1] -= r * r;
      out[2] += 2.0 * r * r * r;
    }
    return;
  }
  if (t >= 10.0) {
    // Bernoulli-number coefficients of x^-2k in psi, x^-(2k+1) in psi'
    // and x^-(2k+2) in psi'', k = 1..7.
    static const double c0[7] = {1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0,
                                 1.0 / 132.0, -691.0 / 32760.0, 1.0 / 12.0};
    static const double c1[7] = {1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0,
                                 5.0 / 66.0, -691.0 / 2730.0, 7.0 / 6.0};
    static const double c2[7] = {0.5, -1.0 / 6.0, 1.0 / 6.0, -0.3,
                                 5.0 / 6.0, -691.0 / 210.0, 17.5};
    const double r = 1.0 / (t + y), s = 1.0 / t;
    double P[17];
    P[1] = -y * r * s;
    double sp = s;  // s^(n-1)
    for (int n = 2; n <= 16; ++n) {
      P[n] = r * P[n - 1] + sp * P[1];
      sp *= s;
    }
    double d0 = std::log1p(y * s) - 0.5 * P[1], d1 = P[1] + 0.5 * P[2], d2 = -P[2] - P[3];
    for (int k = 1; k <= 7; ++k) {
      d0 -= c0[k - 1] * P[2 * k];
      d1 += c1[k - 1] * P[2 * k + 1];
      d2 -= c2[k - 1] * P[2 * k + 2];
    }
    out[0] = d0;
    out[1] = d1;
    out[2] = d2;
    return;
  }
  out[0] = fast_digamma(t + y) - fast_digamma(t);
  out[1] = trigam(t + y) - trigam(t);
  out[2] = tetragam(t + y) - tetragam(t);
}

// Gaussian with a log link; phi = log(sigma), wt precision weights.
class GaussianLog : public ObsModelBase<GaussianLog> {
 public:
  bool has_dispersion() const override { return true; }
  double linkinv(double eta) const override { return std::exp(eta); }
  double mu_eta(double eta) const override { return std::exp(eta); }
  double variance(double) const override { return 1.0; }
  double quasi(double y, double mu) const override { return -0.5 * (y - mu) * (y - mu); }
  double logconst(double, double wt) const override {
    return wt > 0 ? -0.5 * std::log(2.0 * M_PI) + 0.5 * std::log(wt) : 0.0;
  }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    const double s2 = std::exp(2.0 * phi), mu = std::exp(eta), r = y - mu, c = wt / s2;
    return ObsDerivs{-phi - 0.5 * c * r * r, c * r * mu, c * mu * (y - 2.0 * mu),
                     c * mu * (y - 4.0 * mu)};
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0) { out[0] = out[1] = out[2] = 0.0; return; }
    const double s2 = std::exp(2.0 * phi), mu = std::exp(eta), r = y - mu, c = wt / s2;
    out[0] = -1.0 + c * r * r;
    out[1] = -2.0 * c * r * mu;
    out[2] = -2.0 * c * mu * (y - 2.0 * mu);
  }
  bool dphi2(double y, double wt, double eta, double phi, double* out) const override {
    const double mu = std::exp(eta);
    return GaussianIdentity::gaussian_dphi2(y, wt, mu, phi, mu, out);
  }
};

// Binomial with the cauchit link, mu = 1/2 + atan(eta)/pi. Each tail
// probability is computed as atan(1/|eta|)/pi, which does not cancel.
class BinomialCauchit : public ObsModelBase<BinomialCauchit> {
 public:
  double linkinv(double eta) const override { return mu_of(eta); }
  double mu_eta(double eta) const override { return 1.0 / (M_PI * (1.0 + eta * eta)); }
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override { return binomial_logconst(y, wt); }
  ObsDerivs derivs(double y, double wt, double eta, double) const override {
    const double s = wt * y, f = wt - s;
    const double mu = mu_of(eta), omu = mu_of(-eta), a = 1.0 + eta * eta;
    const double m1 = 1.0 / (M_PI * a), m2 = -2.0 * eta / (M_PI * a * a),
                 m3 = (6.0 * eta * eta - 2.0) / (M_PI * a * a * a);
    double l = 0.0, L1 = 0.0, L2 = 0.0, L3 = 0.0;
    if (s > 0) {
      l += s * std::log(mu); L1 += s / mu; L2 -= s / (mu * mu); L3 += 2.0 * s / (mu * mu * mu);
    }
    if (f > 0) {
      l += f * std::log(omu); L1 -= f / omu; L2 -= f / (omu * omu);
      L3 -= 2.0 * f / (omu * omu * omu);
    }
    return chain_rule(1.0, l, L1, L2, L3, m1, m2, m3);
  }

 private:
  static double mu_of(double eta) {
    return eta < 0 ? std::atan(-1.0 / eta) / M_PI : 0.5 + std::atan(eta) / M_PI;
  }
};

// Gamma with shape nu = exp(phi) (see GammaLog) under the inverse link
// (mu = 1/eta, the canonical one: l = nu (log eta - y eta) + ...) and the
// identity link (mu = eta).
class GammaInverse : public GammaBase<GammaInverse> {
 public:
  double linkinv(double eta) const override { return 1.0 / eta; }
  double mu_eta(double eta) const override { return -1.0 / (eta * eta); }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    if (!(eta > 0)) return bad();
    const double nu = std::exp(phi);
    const double l = nu * (phi + std::log(y) + std::log(eta) - y * eta) - lgam(nu);
    return ObsDerivs{wt * l, wt * nu * (1.0 / eta - y), -wt * nu / (eta * eta),
                     2.0 * wt * nu / (eta * eta * eta)};
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0 || !(eta > 0)) { out[0] = out[1] = out[2] = 0.0; return; }
    const double nu = std::exp(phi);
    out[0] = wt * nu * (phi + 1.0 - digam(nu) + std::log(y * eta) - y * eta);
    out[1] = wt * nu * (1.0 / eta - y);
    out[2] = -wt * nu / (eta * eta);
  }

 private:
  static ObsDerivs bad() {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return ObsDerivs{nan, nan, nan, nan};
  }
};

class GammaIdentity : public GammaBase<GammaIdentity> {
 public:
  double linkinv(double eta) const override { return eta; }
  double mu_eta(double) const override { return 1.0; }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    if (!(eta > 0)) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      return ObsDerivs{nan, nan, nan, nan};
    }
    const double nu = std::exp(phi), r = y / eta;
    const double l = nu * (phi + std::log(r) - r) - lgam(nu);
    return ObsDerivs{wt * l, wt * nu * (r - 1.0) / eta, wt * nu * (1.0 - 2.0 * r) / (eta * eta),
                     wt * nu * (6.0 * r - 2.0) / (eta * eta * eta)};
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0 || !(eta > 0)) { out[0] = out[1] = out[2] = 0.0; return; }
    const double nu = std::exp(phi), r = y / eta;
    out[0] = wt * nu * (phi + 1.0 - digam(nu) + std::log(r) - r);
    out[1] = wt * nu * (r - 1.0) / eta;
    out[2] = wt * nu * (1.0 - 2.0 * r) / (eta * eta);
  }
};

// NB1 (glmmTMB's nbinom1): negative binomial with size k = mu / phi, so
// Var y = mu (1 + phi); phi here is log(phi). With D_j the polygamma
// differences psi^(j)(y + k) - psi^(j)(k) and L = log(1 + phi):
//   l = lgamma(y + k) - lgamma(k) - k L + y (log phi - L) - log y!,
//   d1 = k (D0 - L),  d2 = d1 + k^2 D1,  d3 = d1 + 3 k^2 D1 + k^3 D2,
// since d k / d eta = k and d k / d log(phi) = -k.
// GEE: the quasi-Poisson variance and quasi-likelihood, with 1 + phi as
// the scale (QuasiPoissonBase).
class NBinom1Log : public QuasiPoissonBase<NBinom1Log> {
 public:
  bool has_dispersion() const override { return true; }
  void set_phi(double phi) override { disp_ = std::exp(phi); }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    if (nb_poisson_limit(eta - phi, y, eta)) return nb_poisson_derivs(y, wt, eta);
    const double k = std::exp(eta - phi), L = log1pexp(phi);
    double D[3];
    polygamma_diffs(k, y, D);
    const double l = nb_lgamma_diff(k, y) + y * std::log(k) - k * L + y * (phi - L);
    const double d1 = k * (D[0] - L), k2 = k * k;
    return ObsDerivs{wt * l, wt * d1, wt * (d1 + k2 * D[1]),
                     wt * (d1 + 3.0 * k2 * D[1] + k2 * k * D[2])};
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0 || nb_poisson_limit(eta - phi, y, eta)) { out[0] = out[1] = out[2] = 0.0; return; }
    const double k = std::exp(eta - phi), L = log1pexp(phi);
    const double s = 1.0 / (1.0 + std::exp(-phi)), k2 = k * k;  // phi / (1 + phi)
    double D[3];
    polygamma_diffs(k, y, D);
    out[0] = wt * (-k * (D[0] - L + s) + y * (1.0 - s));
    out[1] = wt * (-k * (D[0] - L) - k2 * D[1] - k * s);
    out[2] = wt * (-k * (D[0] - L) - 3.0 * k2 * D[1] - k * s - k2 * k * D[2]);
  }
  // With dk/dphi = -k, dL/dphi = s, ds/dphi = s (1 - s) = u:
  //   l_pp  = k (D0 - L) + k^2 D1 + 2 k s - (k + y) u,
  //   l_epp = k (D0 - L) + 3 k^2 D1 + k^3 D2 + 2 k s - k u,
  //   l_ppp = -k (D0 - L) - 3 k^2 D1 - k^3 D2 - 3 k s + 3 k u - (k + y) u (1 - 2 s).
  bool dphi2(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0 || nb_poisson_limit(eta - phi, y, eta)) {
      out[0] = out[1] = out[2] = 0.0;
      return true;
    }
    const double k = std::exp(eta - phi), L = log1pexp(phi);
    const double s = 1.0 / (1.0 + std::exp(-phi)), u = s * (1.0 - s), k2 = k * k;
    double D[3];
    polygamma_diffs(k, y, D);
    const double a = k * (D[0] - L);
    out[0] = wt * (a + k2 * D[1] + 2.0 * k * s - (k + y) * u);
    out[1] = wt * (a + 3.0 * k2 * D[1] + k2 * k * D[2] + 2.0 * k * s - k * u);
    out[2] = wt * (-a - 3.0 * k2 * D[1] - k2 * k * D[2] - 3.0 * k * s + 3.0 * k * u -
                   (k + y) * u * (1.0 - 2.0 * s));
    return true;
  }

 private:
  double disp_ = 1.0;
};

// Beta and beta-binomial with a logit link, as glmmTMB's beta_family() and
// betabinomial(): shape parameters a = mu phi, b = (1 - mu) phi, phi the
// precision (here log(phi)). Both log-likelihoods depend on mu through
// dl/dmu = phi S, dS/dmu = phi S1, dS1/dmu = phi S2, so with v = mu (1 - mu)
// and dv/deta = v (1 - 2 mu):
//   d1 = phi v S,  d2 = phi v (1 - 2mu) S + phi^2 v^2 S1,
//   d3 = phi v [(1 - 2mu)^2 - 2v] S + 3 phi^2 v^2 (1 - 2mu) S1 + phi^3 v^3 S2.
// Each family supplies S, S1, S2 and their derivatives in phi at fixed mu
// (Sp, S1p), and dl/dphi (lp).
struct MuScores {
  double l, S, S1, S2, lp, Sp, S1p;
  // Second and third derivatives in the precision at fixed mu, of l (lpp,
  // lppp) and of S (Spp): for dphi2().
  double lpp, lppp, Spp;
};

template <class Derived>
class LogitPrecision : public ObsModelBase<Derived> {
 public:
  bool has_dispersion() const override { return true; }
  void set_phi(double phi) override { prec_ = std::exp(phi); }
  double linkinv(double eta) const override { return 1.0 / (1.0 + std::exp(-eta)); }
  double mu_eta(double eta) const override {
    const double e = std::exp(-std::fabs(eta));
    return e / ((1.0 + e) * (1.0 + e));
  }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    double mu, omu, v;
    split(eta, mu, omu, v);
    const double p = std::exp(phi), c = 1.0 - 2.0 * mu;
    const MuScores m = static_cast<const Derived&>(*this).scores(y, wt, mu, omu, p);
    const double pv = p * v;
    return ObsDerivs{m.l, pv * m.S, pv * c * m.S + pv * pv * m.S1,
                     pv * (c * c - 2.0 * v) * m.S + 3.0 * pv * pv * c * m.S1 + pv * pv * pv * m.S2};
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0) { out[0] = out[1] = out[2] = 0.0; return; }
    double mu, omu, v;
    split(eta, mu, omu, v);
    const double p = std::exp(phi), c = 1.0 - 2.0 * mu;
    const MuScores m = static_cast<const Derived&>(*this).scores(y, wt, mu, omu, p);
    out[0] = p * m.lp;
    out[1] = p * (v * m.S + p * v * m.Sp);
    out[2] = p * (v * c * m.S + p * v * c * m.Sp + 2.0 * p * v * v * m.S1 + p * p * v * v * m.S1p);
  }
  // With d/dphi = p d/dp at fixed mu: l_pp = p lp + p^2 lpp, l_ppp = p lp +
  // 3 p^2 lpp + p^3 lppp, and l_epp = l_ep + p v (2 p Sp + p^2 Spp).
  bool dphi2(double y, double wt, double eta, double phi, double* out) const override {
    if (wt <= 0) { out[0] = out[1] = out[2] = 0.0; return true; }
    double mu, omu, v;
    split(eta, mu, omu, v);
    const double p = std::exp(phi), p2 = p * p;
    const MuScores m = static_cast<const Derived&>(*this).scores(y, wt, mu, omu, p);
    out[0] = p * m.lp + p2 * m.lpp;
    out[1] = p * v * (m.S + p * m.Sp) + p * v * (2.0 * p * m.Sp + p2 * m.Spp);
    out[2] = p * m.lp + 3.0 * p2 * m.lpp + p2 * p * m.lppp;
    return true;
  }

 protected:
  double prec_ = 1.0;

 private:
  static void split(double eta, double& mu, double& omu, double& v) {
    const double e = std::exp(-std::fabs(eta));
    mu = eta >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    omu = eta >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
    v = mu * omu;
  }
};

// Beta: y in (0, 1), Var y = mu (1 - mu) / (1 + phi); prior weights
// multiply the log-likelihood (as in glmmTMB).
class BetaLogit : public LogitPrecision<BetaLogit> {
 public:
  // GEE: the binomial variance function, with 1 / (1 + phi) as its scale.
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override {
    return wt > 0 ? -wt * (std::log(y) + std::log1p(-y)) : 0.0;
  }
  MuScores scores(double y, double wt, double mu, double omu, double p) const {
    const double a = mu * p, b = omu * p, ly = std::log(y), l1y = std::log1p(-y);
    const double pa = fast_digamma(a), pb = fast_digamma(b), ta = trigam(a), tb = trigam(b);
    const double qa = tetragam(a), qb = tetragam(b);
    MuScores m;
    m.l = wt * (fast_lgamma(p) - fast_lgamma(a) - fast_lgamma(b) + a * ly + b * l1y);
    m.S = wt * (ly - l1y - pa + pb);
    m.S1 = -wt * (ta + tb);
    m.S2 = -wt * (qa - qb);
    m.lp = wt * (fast_digamma(p) - mu * pa - omu * pb + mu * ly + omu * l1y);
    m.Sp = -wt * (mu * ta - omu * tb);
    m.S1p = -wt * (mu * qa + omu * qb);
    m.lpp = wt * (trigam(p) - mu * mu * ta - omu * omu * tb);
    m.lppp = wt * (tetragam(p) - mu * mu * mu * qa - omu * omu * omu * qb);
    m.Spp = -wt * (mu * mu * qa - omu * omu * qb);
    return m;
  }
};

// Beta-binomial: y the proportion of wt trials (wt = the number of trials,
// as for binomial; prior weights other than trials are not separable).
//   l = lbeta(s + a, f + b) - lbeta(a, b) + lchoose(n, s),
// with A_j, B_j the polygamma differences at (a, s) and (b, f).
class BetaBinomialLogit : public LogitPrecision<BetaBinomialLogit> {
 public:
  // GEE: the binomial variance function (overdispersion in the scale).
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override { return binomial_logconst(y, wt); }
  MuScores scores(double y, double wt, double mu, double omu, double p) const {
    const double s = wt * y, f = wt - s, a = mu * p, b = omu * p;
    double A[3], B[3], N[3];
    polygamma_diffs(a, s, A);
    polygamma_diffs(b, f, B);
    polygamma_diffs(p, wt, N);
    MuScores m;
    // lgamma(x + a) - lgamma(a) through nb_lgamma_diff(), accurate at large a.
    m.l = nb_lgamma_diff(a, s) + s * std::log(a) + nb_lgamma_diff(b, f) + f * std::log(b) -
          nb_lgamma_diff(p, wt) - wt * std::log(p);
    m.S = A[0] - B[0];
    m.S1 = A[1] + B[1];
    m.S2 = A[2] - B[2];
    m.lp = mu * A[0] + omu * B[0] - N[0];
    m.Sp = mu * A[1] - omu * B[1];
    m.S1p = mu * A[2] + omu * B[2];
    m.lpp = mu * mu * A[1] + omu * omu * B[1] - N[1];
    m.lppp = mu * mu * mu * A[2] + omu * omu * omu * B[2] - N[2];
    m.Spp = mu * mu * A[2] - omu * omu * B[2];
    return m;
  }
};

// NBinom2Log::dphi2() (families-dispersion.h). With t = theta, x = eta -
// phi, p = plogis(x), q = 1 - p, L = log1pexp(x) and D_j the polygamma
// differences at (t, y), d/dphi of dl/dphi = t (D0 - L) + t p - y q gives
//   l_pp  = t (D0 - L) + t^2 D1 + 2 t p - (y + t) p q,
//   l_epp = -t p + 2 t p q - (y + t) p q (q - p),
//   l_ppp = t (D0 - L) + 3 t^2 D1 + t^3 D2 + 3 t p - 3 t p q + (y + t) p q (q - p).
inline bool NBinom2Log::dphi2(double y, double wt, double eta, double phi, double* out) const {
  if (wt <= 0 || nb_poisson_limit(phi, y, eta)) {
    out[0] = out[1] = out[2] = 0.0;
    return true;
  }
  const double t = std::exp(phi), x = eta - phi;
  const double p = 1.0 / (1.0 + std::exp(-x)), q = 1.0 / (1.0 + std::exp(x));
  const double a = y + t, pq = p * q, t2 = t * t;
  double D[3];
  polygamma_diffs(t, y, D);
  const double b = t * (nb_digamma_diff(t, y) - log1pexp(x));
  out[0] = wt * (b + t2 * D[1] + 2.0 * t * p - a * pq);
  out[1] = wt * (-t * p + 2.0 * t * pq - a * pq * (q - p));
  out[2] = wt * (b + 3.0 * t2 * D[1] + t2 * t * D[2] + 3.0 * t * p - 3.0 * t * pq +
                 a * pq * (q - p));
  return true;
}

// GammaBase::dphi2() (families-dispersion.h), every link: dl/dphi = nu [phi
// + 1 - psi(nu) + g(eta)] (dphi()), so with nu = exp(phi)
//   l_pp = l_p + nu - nu^2 psi'(nu),  l_ppp = l_pp + nu - 2 nu^2 psi'(nu) -
//   nu^3 psi''(nu),  l_epp = l_ep = d1.
template <class Derived>
bool GammaBase<Derived>::dphi2(double y, double wt, double eta, double phi, double* out) const {
  double q[3];
  this->dphi(y, wt, eta, phi, q);
  if (wt <= 0 || (q[0] == 0.0 && q[1] == 0.0 && q[2] == 0.0)) {
    out[0] = out[1] = out[2] = 0.0;
    return true;
  }
  const double nu = std::exp(phi), t1 = trigam(nu), t2 = tetragam(nu);
  out[0] = q[0] + wt * (nu - nu * nu * t1);
  out[1] = q[1];
  out[2] = out[0] + wt * (nu - 2.0 * nu * nu * t1 - nu * nu * nu * t2);
  return true;
}

}  // namespace glmmgee

#endif
