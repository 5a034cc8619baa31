// Zero inflation of a family whose prior weight is a number of trials
// (binomial): f(0) = pi + (1 - pi) f_c(0; n), f(y) = (1 - pi) f_c(y; n) for
// y > 0, with the inner family evaluated at its own weight n (the trials)
// and no further multiplier, as glmmTMB's zero-inflated binomial
// (f_c(0; n) = (1 - p)^n). The derivatives are those of ZeroInflated
// (families-aux.h) with l0 = log f_c(0; n); the inner family has no
// dispersion, so there is one auxiliary predictor, the logit of pi.
#ifndef GLMMGEE_FAMILIES_AUX_TRIALS_H
#define GLMMGEE_FAMILIES_AUX_TRIALS_H

// Included by families-aux.h after AuxObsModel, before the factory.

namespace glmmgee {

class ZeroInflatedTrials : public AuxObsModel {
 public:
  explicit ZeroInflatedTrials(const ObsModel* inner) : f_(inner) {}
  int naux() const override { return 1; }
  double logconst(double y, double wt) const override {
    return y > 0 && wt > 0 ? f_->logconst(y, wt) : 0.0;
  }
  ObsDerivs derivs(double y, double wt, double eta, const double* a) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    const ObsDerivs d = f_->derivs(y, wt, eta, 0.0);
    if (y > 0) return ObsDerivs{d.l - log1pexp(a[0]), d.d1, d.d2, d.d3};
    // logconst(0, n) = 0, so d.l is log f_c(0; n) itself.
    const double s = d.l - a[0], r = plogis(s), v = r * (1.0 - r);
    return ObsDerivs{-log1pexp(-a[0]) + log1pexp(s), r * d.d1, r * d.d2 + v * d.d1 * d.d1,
                     r * d.d3 + 3.0 * v * d.d1 * d.d2 +
                         v * (1.0 - 2.0 * r) * d.d1 * d.d1 * d.d1};
  }
  void daux(double y, double wt, double eta, const double* a, int,
            double* out) const override {
    out[0] = out[1] = out[2] = 0.0;
    if (wt <= 0) return;
    if (y > 0) { out[0] = -plogis(a[0]); return; }
    const ObsDerivs d = f_->derivs(0.0, wt, eta, 0.0);
    const double s = d.l - a[0], r = plogis(s), v = r * (1.0 - r);
    out[0] = plogis(-a[0]) - r;
    out[1] = -v * d.d1;
    out[2] = -(v * d.d2 + v * (1.0 - 2.0 * r) * d.d1 * d.d1);
  }

 private:
  static double plogis(double x) { return 1.0 / (1.0 + std::exp(-x)); }
  const ObsModel* f_;
};

}  // namespace glmmgee

#endif
