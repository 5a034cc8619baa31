// Observation models with per-observation auxiliary linear predictors:
// zero-inflation, hurdle (two-part) models and a dispersion formula.
//
// Each wraps an ordinary ObsModel (families.h) without changing it, so every
// family with a likelihood works: zero-inflation and hurdle for any count
// family (poisson, nbinom2, and whatever count families are added later),
// a dispersion formula for any family with a dispersion. The auxiliary
// predictors a of one observation, stored contiguously, are
//   a[0] logit of the structural-zero probability pi (zi and hurdle),
//   a[last] log dispersion phi, on the scale of families.h (when the inner
//           family has one).
// They carry no random effect, so the engines need their derivatives only
// to chain through the auxiliary design matrices (d/d gamma = x_z d/d a[0]).
//
// Zero-inflated (Lambert 1992): f(0) = pi + (1 - pi) f_c(0),
// f(y) = (1 - pi) f_c(y) for y > 0. With l0 = log f_c(0; eta) and
// s = l0 - a0, log f(0) = -log1pexp(-a0) + log1pexp(s); writing
// r = plogis(s) (the probability that a zero comes from the count part):
//   d1 = r l0',  d2 = r l0'' + r(1 - r) l0'^2,
//   d3 = r l0''' + 3 r(1 - r) l0' l0'' + r(1 - r)(1 - 2r) l0'^3,
//   d/da0 (l, d1, d2) = (1 - pi - r, -r(1-r) l0',
//                        -r(1-r) l0'' - r(1-r)(1-2r) l0'^2),
// and in phi, with (q0, q1, q2) = d/dphi (l0, l0', l0''):
//   (r q0,  r(1-r) q0 l0' + r q1,
//    r q2 + r(1-r) q0 l0'' + r(1-r)(1-2r) q0 l0'^2 + 2 r(1-r) l0' q1).
//
// Hurdle (Mullahy 1986): f(0) = pi, f(y) = (1 - pi) f_c(y) / (1 - f_c(0)).
// With g = log(1 - exp(l0)) and t = exp(l0) / (1 - exp(l0)) = 1/expm1(-l0):
//   -g' = t l0',  -g'' = t l0'' + t(1+t) l0'^2,
//   -g''' = t l0''' + 3 t(1+t) l0' l0'' + t(1+t)(1+2t) l0'^3,
// and in phi: -dg = t q0, -dg' = t q1 + t(1+t) q0 l0',
//   -dg'' = t q2 + t(1+t) q0 l0'' + 2 t(1+t) l0' q1 + t(1+t)(1+2t) q0 l0'^2.
//
// Prior weights multiply the log-likelihood (as in glmmTMB), so the inner
// family is evaluated at unit weight.
#ifndef GLMMGEE_FAMILIES_AUX_H
#define GLMMGEE_FAMILIES_AUX_H

#include "families/families.h"

namespace glmmgee {

// AUX_CUMULATIVE + link code (0 logit, 1 probit, 2 cloglog): the cumulative
// link model of an ordinal response, its thresholds as the auxiliary
// predictors (families-cumulative.h).
enum AuxKind { AUX_DISP = 0, AUX_ZI = 1, AUX_HURDLE = 2, AUX_ZI_TRIALS = 3,
               AUX_CUMULATIVE = 4 };

class AuxObsModel {
 public:
  virtual ~AuxObsModel() {}
  // Number of auxiliary predictors per observation.
  virtual int naux() const = 0;
  // Part of the log-likelihood free of eta and a.
  virtual double logconst(double y, double wt) const = 0;
  virtual ObsDerivs derivs(double y, double wt, double eta, const double* a) const = 0;
  // Derivatives of (l, d1, d2) in a[k].
  virtual void daux(double y, double wt, double eta, const double* a, int k,
                    double* out) const = 0;
  // daux() for every k at once: out[3 k .. 3 k + 2]. A model whose
  // derivatives share one costly evaluation (the cumulative link model's
  // category probability) makes it once.
  virtual void daux_all(double y, double wt, double eta, const double* a, double* out) const {
    for (int k = 0, na = naux(); k < na; ++k) daux(y, wt, eta, a, k, out + 3 * k);
  }
  // The first derivatives of l alone (out[k] = daux()'s out[0] for a[k]):
  // all the quadrature nodes need.
  virtual void dl_aux(double y, double wt, double eta, const double* a, double* out) const {
    double o[3];
    for (int k = 0, na = naux(); k < na; ++k) {
      daux(y, wt, eta, a, k, o);
      out[k] = o[0];
    }
  }
  // The log-likelihood, with its first derivative in eta in *d1: the
  // quadrature nodes need no more.
  virtual double loglik_d1(double y, double wt, double eta, const double* a, double* d1) const {
    const ObsDerivs d = derivs(y, wt, eta, a);
    *d1 = d.d1;
    return d.l;
  }
};

// A dispersion formula: phi per observation instead of one scalar.
class DispersionFormula : public AuxObsModel {
 public:
  explicit DispersionFormula(const ObsModel* inner) : f_(inner) {}
  int naux() const override { return 1; }
  double logconst(double y, double wt) const override { return f_->logconst(y, wt); }
  ObsDerivs derivs(double y, double wt, double eta, const double* a) const override {
    return f_->derivs(y, wt, eta, a[0]);
  }
  void daux(double y, double wt, double eta, const double* a, int,
            double* out) const override {
    f_->dphi(y, wt, eta, a[0], out);
  }

 private:
  const ObsModel* f_;
};

// Shared by the two-part models: the inner family at unit weight.
class TwoPart : public AuxObsModel {
 public:
  explicit TwoPart(const ObsModel* inner)
      : f_(inner), disp_(inner->has_dispersion()), lc0_(inner->logconst(0.0, 1.0)) {}
  int naux() const override { return disp_ ? 2 : 1; }
  double logconst(double y, double wt) const override {
    return y > 0 && wt > 0 ? wt * f_->logconst(y, 1.0) : 0.0;
  }

 protected:
  double phi(const double* a) const { return disp_ ? a[1] : 0.0; }
  static double plogis(double x) { return 1.0 / (1.0 + std::exp(-x)); }
  void inner_dphi(double y, double eta, double ph, double* o) const {
    if (disp_) f_->dphi(y, 1.0, eta, ph, o);
    else o[0] = o[1] = o[2] = 0.0;
  }
  const ObsModel* f_;
  bool disp_;
  double lc0_;
};

class ZeroInflated : public TwoPart {
 public:
  using TwoPart::TwoPart;
  ObsDerivs derivs(double y, double wt, double eta, const double* a) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    const double ph = phi(a);
    if (y > 0) {
      ObsDerivs d = f_->derivs(y, 1.0, eta, ph);
      return ObsDerivs{wt * (d.l - log1pexp(a[0])), wt * d.d1, wt * d.d2, wt * d.d3};
    }
    const ObsDerivs d = f_->derivs(0.0, 1.0, eta, ph);
    const double s = d.l + lc0_ - a[0], r = plogis(s), v = r * (1.0 - r);
    const double l = -log1pexp(-a[0]) + log1pexp(s);
    return ObsDerivs{wt * l, wt * r * d.d1, wt * (r * d.d2 + v * d.d1 * d.d1),
                     wt * (r * d.d3 + 3.0 * v * d.d1 * d.d2 +
                           v * (1.0 - 2.0 * r) * d.d1 * d.d1 * d.d1)};
  }
  void daux(double y, double wt, double eta, const double* a, int k,
            double* out) const override {
    out[0] = out[1] = out[2] = 0.0;
    if (wt <= 0) return;
    const double ph = phi(a);
    if (y > 0) {
      if (k == 0) out[0] = -wt * plogis(a[0]);
      else {
        inner_dphi(y, eta, ph, out);
        for (int c = 0; c < 3; ++c) out[c] *= wt;
      }
      return;
    }
    const ObsDerivs d = f_->derivs(0.0, 1.0, eta, ph);
    const double s = d.l + lc0_ - a[0], r = plogis(s), v = r * (1.0 - r);
    const double v2 = v * (1.0 - 2.0 * r);
    if (k == 0) {
      out[0] = wt * (plogis(-a[0]) - r);
      out[1] = -wt * v * d.d1;
      out[2] = -wt * (v * d.d2 + v2 * d.d1 * d.d1);
      return;
    }
    double q[3];
    inner_dphi(0.0, eta, ph, q);
    out[0] = wt * r * q[0];
    out[1] = wt * (v * q[0] * d.d1 + r * q[1]);
    out[2] = wt * (r * q[2] + v * q[0] * d.d2 + v2 * q[0] * d.d1 * d.d1 +
                   2.0 * v * d.d1 * q[1]);
  }
};

class Hurdle : public TwoPart {
 public:
  using TwoPart::TwoPart;
  ObsDerivs derivs(double y, double wt, double eta, const double* a) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    if (y <= 0) return ObsDerivs{-wt * log1pexp(-a[0]), 0.0, 0.0, 0.0};
    const double ph = phi(a);
    const ObsDerivs d = f_->derivs(y, 1.0, eta, ph);
    const ObsDerivs z = f_->derivs(0.0, 1.0, eta, ph);
    const double l0 = z.l + lc0_, t = 1.0 / std::expm1(-l0), u = t * (1.0 + t);
    const double l = d.l - log1pexp(a[0]) - std::log(-std::expm1(l0));
    return ObsDerivs{wt * l, wt * (d.d1 + t * z.d1),
                     wt * (d.d2 + t * z.d2 + u * z.d1 * z.d1),
                     wt * (d.d3 + t * z.d3 + 3.0 * u * z.d1 * z.d2 +
                           u * (1.0 + 2.0 * t) * z.d1 * z.d1 * z.d1)};
  }
  void daux(double y, double wt, double eta, const double* a, int k,
            double* out) const override {
    out[0] = out[1] = out[2] = 0.0;
    if (wt <= 0) return;
    if (k == 0) {
      out[0] = wt * (y > 0 ? -plogis(a[0]) : plogis(-a[0]));
      return;
    }
    if (y <= 0) return;
    const double ph = phi(a);
    const ObsDerivs z = f_->derivs(0.0, 1.0, eta, ph);
    const double l0 = z.l + lc0_, t = 1.0 / std::expm1(-l0), u = t * (1.0 + t);
    double p[3], q[3];
    inner_dphi(y, eta, ph, p);
    inner_dphi(0.0, eta, ph, q);
    out[0] = wt * (p[0] + t * q[0]);
    out[1] = wt * (p[1] + t * q[1] + u * q[0] * z.d1);
    out[2] = wt * (p[2] + t * q[2] + u * q[0] * z.d2 + 2.0 * u * z.d1 * q[1] +
                   u * (1.0 + 2.0 * t) * q[0] * z.d1 * z.d1);
  }
};

}  // namespace glmmgee

#include "families/families-aux-trials.h"
#include "families/families-cumulative.h"

namespace glmmgee {

// The one factory for the wrappers; nullptr for an unknown kind, or a
// dispersion formula on a family without a dispersion. `naux` is the number
// of auxiliary predictors the caller supplies, read only by the cumulative
// model (its J - 1 thresholds), which does not wrap `inner`.
inline std::unique_ptr<AuxObsModel> make_aux_model(int kind, const ObsModel* inner,
                                                   int naux = 0) {
  if (kind >= AUX_CUMULATIVE && kind <= AUX_CUMULATIVE + 2 && naux >= 1)
    return std::unique_ptr<AuxObsModel>(new Cumulative(kind - AUX_CUMULATIVE, naux));
  if (kind == AUX_DISP && inner->has_dispersion())
    return std::unique_ptr<AuxObsModel>(new DispersionFormula(inner));
  if (kind == AUX_ZI) return std::unique_ptr<AuxObsModel>(new ZeroInflated(inner));
  if (kind == AUX_HURDLE) return std::unique_ptr<AuxObsModel>(new Hurdle(inner));
  if (kind == AUX_ZI_TRIALS && !inner->has_dispersion())
    return std::unique_ptr<AuxObsModel>(new ZeroInflatedTrials(inner));
  return std::unique_ptr<AuxObsModel>();
}

}  // namespace glmmgee

#endif
