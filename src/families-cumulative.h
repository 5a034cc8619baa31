// The cumulative link observation model of an ordinal response with
// categories 1..J, for the engines with auxiliary predictors (families-aux.h):
//   P(Y <= k) = F(theta_k - eta),  k = 1..J-1,
// so one observation's log-likelihood is log p with
//   p = F(a) - F(b),  a = theta_y - eta (+Inf for y = J),
//                     b = theta_{y-1} - eta (-Inf for y = 1).
// The thresholds are the auxiliary predictors: a[k] = theta_{k+1} for every
// observation (the R side gives each a design column of ones), so the
// engines' auxiliary-coefficient machinery carries them as extra
// parameters; only the two thresholds bracketing y have non-zero
// derivatives. With q = log p and its partial derivatives q_a, q_b, ...:
//   d1 = -(q_a + q_b),  d2 = q_aa + 2 q_ab + q_bb,
//   d3 = -(q_aaa + 3 q_aab + 3 q_abb + q_bbb),
//   d/d theta_y (l, d1, d2)     = (q_a, -(q_aa + q_ab), q_aaa + 2 q_aab + q_abb),
//   d/d theta_{y-1} (l, d1, d2) = (q_b, -(q_ab + q_bb), q_aab + 2 q_abb + q_bbb).
// Prior weights multiply the log-likelihood (as in ordinal::clmm). The
// latent distributions (logistic, normal, Gumbel-min as ordinal's
// "cloglog") are log-concave, so each observation's l is concave in eta.
#ifndef GLMMGEE_FAMILIES_CUMULATIVE_H
#define GLMMGEE_FAMILIES_CUMULATIVE_H

// Included by families-aux.h after AuxObsModel, before the factory.

#include <Rmath.h>
#include <cmath>
#include <limits>
#include <memory>

namespace glmmgee {

// One latent distribution F: log F, log(1 - F), log f, and f'/f, f''/f.
class CumLinkF {
 public:
  virtual ~CumLinkF() {}
  virtual double logF(double x) const = 0;
  virtual double logS(double x) const = 0;
  virtual double logf(double x) const = 0;
  virtual double g1(double x) const = 0;
  virtual double g2(double x) const = 0;
};

class CumLogit : public CumLinkF {
 public:
  double logF(double x) const override {
    return x < 0 ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
  }
  double logS(double x) const override { return logF(-x); }
  double logf(double x) const override { return logF(x) + logS(x); }
  double g1(double x) const override { return -std::tanh(x / 2); }
  double g2(double x) const override {
    const double t = g1(x), f = std::exp(logf(x));
    return t * t - 2 * f;
  }
};

class CumProbit : public CumLinkF {
 public:
  double logF(double x) const override { return R::pnorm(x, 0.0, 1.0, 1, 1); }
  double logS(double x) const override { return R::pnorm(x, 0.0, 1.0, 0, 1); }
  double logf(double x) const override { return -0.5 * x * x - 0.918938533204672742; }
  double g1(double x) const override { return -x; }
  double g2(double x) const override { return x * x - 1; }
};

// F(x) = 1 - exp(-exp(x)).
class CumCloglog : public CumLinkF {
 public:
  double logF(double x) const override { return std::log(-std::expm1(-std::exp(x))); }
  double logS(double x) const override { return -std::exp(x); }
  double logf(double x) const override { return x - std::exp(x); }
  double g1(double x) const override { return 1 - std::exp(x); }
  double g2(double x) const override {
    const double e = std::exp(x);
    return (1 - e) * (1 - e) - e;
  }
};

// log p, p = F(a) - F(b), and its partial derivatives in a and b to the
// third order (p_ab = 0, so the mixed ones follow from the pure ones).
struct CumDerivs {
  double q, qa, qb, qaa, qab, qbb, qaaa, qaab, qabb, qbbb;
};

inline CumDerivs cum_derivs(const CumLinkF& F, double a, double b) {
  CumDerivs d;
  const bool top = std::isinf(a), bottom = std::isinf(b);
  if (top) d.q = F.logS(b);
  else if (bottom) d.q = F.logF(a);
  else if (b > 0) {  // both in the upper tail: survivor functions, no cancellation
    const double sa = F.logS(a), sb = F.logS(b);
    d.q = sb + std::log(-std::expm1(sa - sb));
  } else {
    const double fa = F.logF(a), fb = F.logF(b);
    d.q = fa + std::log(-std::expm1(fb - fa));
  }
  const double ra = top ? 0.0 : std::exp(F.logf(a) - d.q);
  const double rb = bottom ? 0.0 : std::exp(F.logf(b) - d.q);
  // p_aa/p, p_aaa/p, p_bb/p, p_bbb/p.
  const double paa = top ? 0.0 : ra * F.g1(a), paaa = top ? 0.0 : ra * F.g2(a);
  const double pbb = bottom ? 0.0 : -rb * F.g1(b), pbbb = bottom ? 0.0 : -rb * F.g2(b);
  d.qa = ra;
  d.qb = -rb;
  d.qaa = paa - d.qa * d.qa;
  d.qbb = pbb - d.qb * d.qb;
  d.qab = -d.qa * d.qb;
  d.qaaa = paaa - 3 * d.qa * d.qaa - d.qa * d.qa * d.qa;
  d.qbbb = pbbb - 3 * d.qb * d.qbb - d.qb * d.qb * d.qb;
  d.qaab = -paa * d.qb - 2 * d.qa * d.qab;
  d.qabb = -pbb * d.qa - 2 * d.qb * d.qab;
  return d;
}

class Cumulative : public AuxObsModel {
 public:
  // link: 0 logit, 1 probit, 2 cloglog (cumulative()'s link_code); nthr =
  // J - 1 thresholds.
  Cumulative(int link, int nthr) : nthr_(nthr) {
    if (link == 0) F_.reset(new CumLogit());
    else if (link == 1) F_.reset(new CumProbit());
    else F_.reset(new CumCloglog());
  }
  int naux() const override { return nthr_; }
  double logconst(double, double) const override { return 0.0; }
  ObsDerivs derivs(double y, double wt, double eta, const double* a) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    const CumDerivs q = at(y, eta, a);
    return ObsDerivs{wt * q.q, -wt * (q.qa + q.qb), wt * (q.qaa + 2 * q.qab + q.qbb),
                     -wt * (q.qaaa + 3 * q.qaab + 3 * q.qabb + q.qbbb)};
  }
  void daux(double y, double wt, double eta, const double* a, int k,
            double* out) const override {
    out[0] = out[1] = out[2] = 0.0;
    const int yk = (int)y;
    const bool up = k == yk - 1, low = k == yk - 2;
    if (wt <= 0 || (!up && !low)) return;
    const CumDerivs q = at(y, eta, a);
    if (up) {
      out[0] = wt * q.qa;
      out[1] = -wt * (q.qaa + q.qab);
      out[2] = wt * (q.qaaa + 2 * q.qaab + q.qabb);
    } else {
      out[0] = wt * q.qb;
      out[1] = -wt * (q.qab + q.qbb);
      out[2] = wt * (q.qaab + 2 * q.qabb + q.qbbb);
    }
  }

 private:
  CumDerivs at(double y, double eta, const double* a) const {
    const int yk = (int)y;
    const double inf = std::numeric_limits<double>::infinity();
    const double up = yk > nthr_ ? inf : a[yk - 1] - eta;
    const double low = yk <= 1 ? -inf : a[yk - 2] - eta;
    return cum_derivs(*F_, up, low);
  }
  std::unique_ptr<CumLinkF> F_;
  int nthr_;
};

}  // namespace glmmgee

#endif
