// Response distributions with their links, as small classes.
//
// One class per supported (family, link) pair. Each gives the mean model that
// GEE needs (inverse link, its derivative, the variance function, the
// quasi-likelihood) and the log-likelihood of one observation with its first
// three derivatives in the linear predictor, which the GLMM engines need
// (the third derivative enters the exact gradient of the Laplace and AGHQ
// approximations through the curvature at the mode).
//
// Conventions shared with R (see R/family.R, which reads the codes from
// cpp_family_table() so this file is the single source of truth):
//   y   response on the mean scale (a proportion for binomial),
//   wt  prior weight; for binomial the number of trials (times any weight),
//   phi dispersion on the optimizer's scale: log(sigma) for gaussian,
//       log(theta) for the negative binomial (NB2), log(shape) for Gamma,
//       unused by binomial and poisson.
// Prior weights of nbinom2 and Gamma multiply the log-likelihood (as in
// glmmTMB and MASS::glm.nb); gaussian weights are precisions (as in lm).
#ifndef GLMMGEE_FAMILIES_H
#define GLMMGEE_FAMILIES_H

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>
#include <Rmath.h>
#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/gamma.hpp>

namespace glmmgee {

enum FamilyCode { FAM_GAUSSIAN = 0, FAM_BINOMIAL = 1, FAM_POISSON = 2,
                  FAM_NBINOM2 = 3, FAM_GAMMA = 4, FAM_NBINOM1 = 5,
                  FAM_BETA = 6, FAM_BETABINOMIAL = 7 };
enum LinkCode { LINK_IDENTITY = 0, LINK_LOGIT = 1, LINK_PROBIT = 2,
                LINK_CLOGLOG = 3, LINK_LOG = 4, LINK_INVERSE = 5,
                LINK_CAUCHIT = 6 };

inline const std::vector<std::string>& family_names() {
  static const std::vector<std::string> v = {"gaussian", "binomial", "poisson",
                                             "nbinom2", "Gamma", "nbinom1",
                                             "beta", "betabinomial"};
  return v;
}
inline const std::vector<std::string>& link_names() {
  static const std::vector<std::string> v = {"identity", "logit", "probit",
                                             "cloglog", "log", "inverse",
                                             "cauchit"};
  return v;
}

// log(1 + exp(x)) without overflow or loss of precision, from ex = exp(x)
// already at hand (ex is used only where x <= 18).
inline double log1pexp_at(double x, double ex) {
  if (x <= -37.0) return ex;
  if (x <= 18.0) return std::log1p(ex);
  if (x <= 33.3) return x + std::exp(-x);
  return x;
}
// log(1 + exp(x)): the same branches, exp(x) only where they use it.
inline double log1pexp(double x) { return log1pexp_at(x, x <= 18.0 ? std::exp(x) : 0.0); }

// Thread-safe log-gamma (std::lgamma writes the global signgam). Boost's
// default policy throws on overflow or a pole (lgamma of a huge shape,
// digamma at 0), and an exception inside an OpenMP region aborts R: these
// return +-Inf or NaN instead, which the engines treat as a failed
// evaluation (the optimizer backs off, or R reports the non-finite value).
typedef boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::ignore_error>,
    boost::math::policies::pole_error<boost::math::policies::ignore_error>,
    boost::math::policies::overflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::underflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::denorm_error<boost::math::policies::ignore_error>,
    boost::math::policies::evaluation_error<boost::math::policies::ignore_error>,
    boost::math::policies::rounding_error<boost::math::policies::ignore_error>,
    boost::math::policies::indeterminate_result_error<boost::math::policies::ignore_error> >
    quiet_policy;
inline double lgam(double x) { return boost::math::lgamma(x, quiet_policy()); }
inline double digam(double x) { return boost::math::digamma(x, quiet_policy()); }

// Log-likelihood of one observation and its derivatives in eta.
struct ObsDerivs {
  double l, d1, d2, d3;
};

class ObsModel {
 public:
  virtual ~ObsModel() {}
  virtual bool has_dispersion() const { return false; }
  virtual double linkinv(double eta) const = 0;
  virtual double mu_eta(double eta) const = 0;
  virtual double variance(double mu) const = 0;
  // Sets the dispersion (phi, as above) that the mean-model functions
  // variance() and quasi() use: the negative binomial's variance depends on
  // theta. The likelihood functions take phi as an argument instead.
  virtual void set_phi(double) {}
  // Quasi-likelihood Q(mu; y) per unit weight, up to terms free of mu (QIC).
  virtual double quasi(double y, double mu) const = 0;
  // Part of the log-likelihood that depends on neither eta nor phi.
  virtual double logconst(double y, double wt) const = 0;
  // l (without logconst), d l/d eta, d2, d3 for one observation.
  virtual ObsDerivs derivs(double y, double wt, double eta, double phi) const = 0;
  // Derivatives of (l, d1, d2) in phi; only for families with dispersion.
  virtual void dphi(double y, double wt, double eta, double phi,
                    double* out) const {
    out[0] = out[1] = out[2] = 0.0;
  }
  // The rest of l's derivatives up to third order in (eta, phi): out =
  // (d2 l/dphi2, d3 l/deta dphi2, d3 l/dphi3), for the engines whose inner
  // search moves phi with random effects of the dispersion formula
  // (DispersionRE, families-aux-re.h). False (and zeros) for a family
  // without them.
  virtual bool dphi2(double y, double wt, double eta, double phi,
                     double* out) const {
    (void)y; (void)wt; (void)eta; (void)phi;
    out[0] = out[1] = out[2] = 0.0;
    return false;
  }
  // Batch over n observations, so the engines make one virtual call per
  // cluster and quadrature node rather than one per observation.
  virtual void derivs_n(const double* y, const double* wt, const double* eta,
                        int n, double phi, ObsDerivs* out) const = 0;
  // Sum of l over n observations and each d l / d eta (into d1); what the
  // quadrature nodes need.
  virtual double loglik_d1_n(const double* y, const double* wt,
                             const double* eta, int n, double phi,
                             double* d1) const = 0;
};

template <class Derived>
class ObsModelBase : public ObsModel {
 public:
  void derivs_n(const double* y, const double* wt, const double* eta, int n,
                double phi, ObsDerivs* out) const override {
    const Derived& self = static_cast<const Derived&>(*this);
    for (int i = 0; i < n; ++i) out[i] = self.Derived::derivs(y[i], wt[i], eta[i], phi);
  }
  double loglik_d1_n(const double* y, const double* wt, const double* eta,
                     int n, double phi, double* d1) const override {
    const Derived& self = static_cast<const Derived&>(*this);
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += self.Derived::loglik_d1(y[i], wt[i], eta[i], phi, d1[i]);
    return s;
  }
  // Default: from the full derivatives; families override when cheaper.
  double loglik_d1(double y, double wt, double eta, double phi, double& d1) const {
    const ObsDerivs d = static_cast<const Derived&>(*this).Derived::derivs(y, wt, eta, phi);
    d1 = d.d1;
    return d.l;
  }
};

// Gaussian, identity link; phi = log(sigma); wt are precision weights.
class GaussianIdentity : public ObsModelBase<GaussianIdentity> {
 public:
  bool has_dispersion() const override { return true; }
  double linkinv(double eta) const override { return eta; }
  double mu_eta(double) const override { return 1.0; }
  double variance(double) const override { return 1.0; }
  double quasi(double y, double mu) const override { return -0.5 * (y - mu) * (y - mu); }
  double logconst(double, double wt) const override {
    return wt > 0 ? -0.5 * std::log(2.0 * M_PI) + 0.5 * std::log(wt) : 0.0;
  }
  ObsDerivs derivs(double y, double wt, double eta, double phi) const override {
    const double s2 = std::exp(2.0 * phi), r = y - eta;
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    return ObsDerivs{-phi - 0.5 * wt * r * r / s2, wt * r / s2, -wt / s2, 0.0};
  }
  void dphi(double y, double wt, double eta, double phi, double* out) const override {
    const double s2 = std::exp(2.0 * phi), r = y - eta;
    if (wt <= 0) { out[0] = out[1] = out[2] = 0.0; return; }
    out[0] = -1.0 + wt * r * r / s2;
    out[1] = -2.0 * wt * r / s2;
    out[2] = 2.0 * wt / s2;
  }
  // dl/dphi = -1 + c r^2 with c = wt exp(-2 phi): each phi derivative of
  // c r^2 (and of its eta derivative) is -2 times the one before.
  bool dphi2(double y, double wt, double eta, double phi, double* out) const override {
    return gaussian_dphi2(y, wt, eta, phi, 1.0, out);
  }
  // (shared with GaussianLog: mu' = d mu / d eta)
  static bool gaussian_dphi2(double y, double wt, double mu, double phi, double mu1,
                             double* out) {
    if (wt <= 0) { out[0] = out[1] = out[2] = 0.0; return true; }
    const double c = wt * std::exp(-2.0 * phi), r = y - mu;
    out[0] = -2.0 * c * r * r;
    out[1] = 4.0 * c * r * mu1;
    out[2] = 4.0 * c * r * r;
    return true;
  }
};

// Binomial: y is the proportion of wt trials. Shared normalizing constant.
inline double binomial_logconst(double y, double wt) {
  if (wt <= 0) return 0.0;
  const double s = wt * y;
  return lgam(wt + 1.0) - lgam(s + 1.0) - lgam(wt - s + 1.0);
}
inline double binomial_quasi(double y, double mu) {
  const double eps = 1e-300;
  double q = 0.0;
  if (y > 0) q += y * std::log(std::max(mu, eps));
  if (y < 1) q += (1.0 - y) * std::log(std::max(1.0 - mu, eps));
  return q;
}

class BinomialLogit : public ObsModelBase<BinomialLogit> {
 public:
  double linkinv(double eta) const override { return 1.0 / (1.0 + std::exp(-eta)); }
  double mu_eta(double eta) const override {
    const double e = std::exp(-std::fabs(eta));
    return e / ((1.0 + e) * (1.0 + e));
  }
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override { return binomial_logconst(y, wt); }
  ObsDerivs derivs(double y, double wt, double eta, double) const override {
    // mu and 1 - mu computed from the side that does not cancel.
    const double e = std::exp(-std::fabs(eta));
    const double mu = eta >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    const double omu = eta >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
    const double v = mu * omu;
    return ObsDerivs{wt * (y * eta - log1pexp(eta)), wt * (y - mu), -wt * v,
                     -wt * v * (omu - mu)};
  }
  double loglik_d1(double y, double wt, double eta, double, double& d1) const {
    const double e = std::exp(-std::fabs(eta));
    const double mu = eta >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    d1 = wt * (y - mu);
    return wt * (y * eta - (eta > 0 ? eta : 0.0) - std::log1p(e));
  }
};

// d^k/dx^k log Phi(x), k = 1, 2, 3, stable far into both tails.
inline void log_pnorm_derivs(double x, double* r) {
  const double lp = R::pnorm(x, 0.0, 1.0, 1, 1);
  const double ld = R::dnorm(x, 0.0, 1.0, 1);
  const double m = std::exp(ld - lp);          // phi(x) / Phi(x)
  const double m1 = -m * (x + m);              // derivative of m
  const double m2 = -m1 * (x + m) - m * (1.0 + m1);
  r[0] = m; r[1] = m1; r[2] = m2;
}

class BinomialProbit : public ObsModelBase<BinomialProbit> {
 public:
  double linkinv(double eta) const override { return R::pnorm(eta, 0.0, 1.0, 1, 0); }
  double mu_eta(double eta) const override { return R::dnorm(eta, 0.0, 1.0, 0); }
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override { return binomial_logconst(y, wt); }
  ObsDerivs derivs(double y, double wt, double eta, double) const override {
    // l = s log Phi(eta) + f log Phi(-eta), s successes, f failures.
    const double s = wt * y, f = wt - s;
    double a[3], b[3];
    double l = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0;
    if (s > 0) {
      log_pnorm_derivs(eta, a);
      l += s * R::pnorm(eta, 0.0, 1.0, 1, 1);
      d1 += s * a[0]; d2 += s * a[1]; d3 += s * a[2];
    }
    if (f > 0) {
      log_pnorm_derivs(-eta, b);
      l += f * R::pnorm(-eta, 0.0, 1.0, 1, 1);
      d1 -= f * b[0]; d2 += f * b[1]; d3 -= f * b[2];
    }
    return ObsDerivs{l, d1, d2, d3};
  }
};

class BinomialCloglog : public ObsModelBase<BinomialCloglog> {
 public:
  double linkinv(double eta) const override {
    return -std::expm1(-std::exp(std::min(eta, 700.0)));
  }
  double mu_eta(double eta) const override {
    eta = std::min(eta, 700.0);
    return std::exp(eta - std::exp(eta));
  }
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override { return binomial_logconst(y, wt); }
  ObsDerivs derivs(double y, double wt, double eta, double) const override {
    // log mu = A(eta) = log(1 - exp(-t)), log(1 - mu) = -t, t = exp(eta).
    eta = std::min(eta, 700.0);
    const double s = wt * y, f = wt - s, t = std::exp(eta);
    double A0, A1, A2, A3;
    if (t < 1e-5) {  // series of t / expm1(t); avoids cancellation
      A0 = std::log(-std::expm1(-t));
      A1 = 1.0 - t / 2.0 + t * t / 12.0;
      A2 = -t / 2.0 + t * t / 6.0;
      A3 = -t / 2.0 + t * t / 3.0;
    } else {
      const double p = 1.0 / std::expm1(t), dp = -p * (1.0 + p);
      A0 = std::log(-std::expm1(-t));
      A1 = t * p;
      A2 = t * p * (1.0 - t * (1.0 + p));
      const double fprime = p + t * dp - 2.0 * t * p - t * t * dp -
                            2.0 * t * p * p - 2.0 * t * t * p * dp;
      A3 = t * fprime;
    }
    double l = -f * t, d1 = -f * t, d2 = -f * t, d3 = -f * t;
    if (s > 0) { l += s * A0; d1 += s * A1; d2 += s * A2; d3 += s * A3; }
    return ObsDerivs{l, d1, d2, d3};
  }
};

// What the log-link count families share (PoissonLog, NBinom2Log in
// families-dispersion.h, NBinom1Log in families-extra.h): the log link and
// the normalizing constant -log y!.
template <class Derived>
class CountLogBase : public ObsModelBase<Derived> {
 public:
  double linkinv(double eta) const override { return std::exp(eta); }
  double mu_eta(double eta) const override { return std::exp(eta); }
  double logconst(double y, double wt) const override {
    return wt > 0 ? -wt * lgam(y + 1.0) : 0.0;
  }
};

// The Poisson mean model on top: the variance mu and the quasi-Poisson
// quasi-likelihood (PoissonLog; NBinom1Log, whose GEE is quasi-Poisson with
// 1 + phi as its scale).
template <class Derived>
class QuasiPoissonBase : public CountLogBase<Derived> {
 public:
  double variance(double mu) const override { return mu; }
  double quasi(double y, double mu) const override {
    return y * std::log(std::max(mu, 1e-300)) - mu;
  }
};

class PoissonLog : public QuasiPoissonBase<PoissonLog> {
 public:
  ObsDerivs derivs(double y, double wt, double eta, double) const override {
    const double mu = std::exp(eta);
    return ObsDerivs{wt * (y * eta - mu), wt * (y - mu), -wt * mu, -wt * mu};
  }
  double loglik_d1(double y, double wt, double eta, double, double& d1) const {
    const double mu = std::exp(eta);
    d1 = wt * (y - mu);
    return wt * (y * eta - mu);
  }
};

}  // namespace glmmgee

#include "families/families-dispersion.h"
#include "families/families-extra.h"
#include "families/families-binlog.h"

namespace glmmgee {

// The one factory: codes come from R, which got them from cpp_family_table().
// Returns nullptr for a pair that is not supported (R checks first).
inline std::unique_ptr<ObsModel> make_obs_model(int family, int link) {
  if (family == FAM_GAUSSIAN && link == LINK_IDENTITY)
    return std::unique_ptr<ObsModel>(new GaussianIdentity());
  if (family == FAM_BINOMIAL && link == LINK_LOGIT)
    return std::unique_ptr<ObsModel>(new BinomialLogit());
  if (family == FAM_BINOMIAL && link == LINK_PROBIT)
    return std::unique_ptr<ObsModel>(new BinomialProbit());
  if (family == FAM_BINOMIAL && link == LINK_CLOGLOG)
    return std::unique_ptr<ObsModel>(new BinomialCloglog());
  if (family == FAM_POISSON && link == LINK_LOG)
    return std::unique_ptr<ObsModel>(new PoissonLog());
  if (family == FAM_NBINOM2 && link == LINK_LOG)
    return std::unique_ptr<ObsModel>(new NBinom2Log());
  if (family == FAM_GAMMA && link == LINK_LOG)
    return std::unique_ptr<ObsModel>(new GammaLog());
  if (family == FAM_GAMMA && link == LINK_INVERSE)
    return std::unique_ptr<ObsModel>(new GammaInverse());
  if (family == FAM_GAMMA && link == LINK_IDENTITY)
    return std::unique_ptr<ObsModel>(new GammaIdentity());
  if (family == FAM_GAUSSIAN && link == LINK_LOG)
    return std::unique_ptr<ObsModel>(new GaussianLog());
  if (family == FAM_BINOMIAL && link == LINK_CAUCHIT)
    return std::unique_ptr<ObsModel>(new BinomialCauchit());
  if (family == FAM_NBINOM1 && link == LINK_LOG)
    return std::unique_ptr<ObsModel>(new NBinom1Log());
  if (family == FAM_BETA && link == LINK_LOGIT)
    return std::unique_ptr<ObsModel>(new BetaLogit());
  if (family == FAM_BETABINOMIAL && link == LINK_LOGIT)
    return std::unique_ptr<ObsModel>(new BetaBinomialLogit());
  if (family == FAM_BINOMIAL && link == LINK_LOG)
    return std::unique_ptr<ObsModel>(new BinomialLog());
  return std::unique_ptr<ObsModel>();
}

}  // namespace glmmgee

#endif
