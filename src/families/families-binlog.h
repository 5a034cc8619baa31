// Binomial with the log link: log-binomial regression, whose coefficients
// are log relative risks. mu = exp(eta) is a probability only for eta <= 0,
// so the parameter space is bounded; with s successes and f failures of
// wt trials
//   l = s eta + f log(1 - e^eta),
// and with q = e^eta / (1 - e^eta) = 1 / expm1(-eta), dq/deta = q(1 + q):
//   d1 = s - f q,  d2 = -f q(1 + q),  d3 = -f q(1 + q)(1 + 2q).
// Outside the space (eta > 0, or eta = 0 with a failure) the observation is
// impossible and l = -Inf: the engines' damped Newton steps and the outer
// optimizer back off from it, as for the Gamma family's inverse link, and
// an adaptive quadrature node there contributes zero to the integral (the
// random-effect distribution is cut at mu = 1; R warns when a fit ends at
// that boundary). The log-likelihood is concave in eta inside the space.
#ifndef GLMMGEE_FAMILIES_BINLOG_H
#define GLMMGEE_FAMILIES_BINLOG_H

namespace glmmgee {

class BinomialLog : public ObsModelBase<BinomialLog> {
 public:
  double linkinv(double eta) const override { return std::exp(eta); }
  double mu_eta(double eta) const override { return std::exp(eta); }
  double variance(double mu) const override { return mu * (1.0 - mu); }
  double quasi(double y, double mu) const override { return binomial_quasi(y, mu); }
  double logconst(double y, double wt) const override { return binomial_logconst(y, wt); }
  ObsDerivs derivs(double y, double wt, double eta, double) const override {
    const double s = wt * y, f = wt - s;
    if (f <= 0) {
      if (eta > 0) return impossible();
      return ObsDerivs{s * eta, s, 0.0, 0.0};
    }
    if (eta >= 0) return impossible();
    const double q = 1.0 / std::expm1(-eta), v = q * (1.0 + q);
    return ObsDerivs{s * eta + f * std::log(-std::expm1(eta)), s - f * q, -f * v,
                     -f * v * (1.0 + 2.0 * q)};
  }

 private:
  // Zero derivatives, not infinite ones: a quadrature node out there has
  // weight exp(-Inf) = 0, and 0 * Inf would make the gradient NaN.
  static ObsDerivs impossible() {
    return ObsDerivs{-std::numeric_limits<double>::infinity(), 0.0, 0.0, 0.0};
  }
};

}  // namespace glmmgee

#endif
