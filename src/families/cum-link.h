// The latent distributions F of the cumulative link models,
//   P(Y <= k) = F(theta_k - eta),
// shared by the mixed-model engines (ordinal.cpp, the sparse engine's
// families-cumulative.h) and the ordinal GEE (ordinal-gee.cpp). Link codes as cumulative()$link_code in R.
#ifndef GLMMGEE_CUM_LINK_H
#define GLMMGEE_CUM_LINK_H

#include <Rcpp.h>
#include <cmath>
#include <memory>

namespace glmmgee {

// One latent distribution F: log F, log(1 - F), log f, and f'/f, f''/f.
class CumLink {
 public:
  virtual ~CumLink() {}
  virtual double logF(double x) const = 0;
  virtual double logS(double x) const = 0;
  virtual double logf(double x) const = 0;
  virtual double g1(double x) const = 0;
  virtual double g2(double x) const = 0;
};

class LogitLink : public CumLink {
 public:
  double logF(double x) const override {
    return x < 0 ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
  }
  double logS(double x) const override { return logF(-x); }
  double logf(double x) const override { return logF(x) + logS(x); }
  double g1(double x) const override { return -std::tanh(x / 2); }  // 1 - 2F
  double g2(double x) const override {
    const double t = g1(x), f = std::exp(logf(x));
    return t * t - 2 * f;
  }
};

class ProbitLink : public CumLink {
 public:
  double logF(double x) const override { return R::pnorm(x, 0.0, 1.0, 1, 1); }
  double logS(double x) const override { return R::pnorm(x, 0.0, 1.0, 0, 1); }
  double logf(double x) const override { return -0.5 * x * x - 0.918938533204672742; }
  double g1(double x) const override { return -x; }
  double g2(double x) const override { return x * x - 1; }
};

// F(x) = 1 - exp(-exp(x)), as ordinal's "cloglog".
class CloglogLink : public CumLink {
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

inline std::unique_ptr<CumLink> make_cum_link(int code) {
  switch (code) {
    case 0: return std::unique_ptr<CumLink>(new LogitLink());
    case 1: return std::unique_ptr<CumLink>(new ProbitLink());
    case 2: return std::unique_ptr<CumLink>(new CloglogLink());
  }
  return nullptr;
}

// log p, p = F(a) - F(b), and its partial derivatives in the upper (a) and
// lower (b) arguments up to the third order. a = +Inf or b = -Inf for the
// extreme categories (their terms vanish).
struct CatDerivs {
  double q, qa, qb, qaa, qab, qbb, qaaa, qaab, qabb, qbbb;
};

// log p, p = F(a) - F(b), without cancellation in either tail.
inline double cat_logp(const CumLink& F, double a, double b) {
  if (std::isinf(a)) return F.logS(b);
  if (std::isinf(b)) return F.logF(a);
  if (b > 0) {
    // Both in the upper tail: difference of survivor functions, no cancellation.
    const double sa = F.logS(a), sb = F.logS(b);
    return sb + std::log(-std::expm1(sa - sb));
  }
  const double fa = F.logF(a), fb = F.logF(b);
  return fa + std::log(-std::expm1(fb - fa));
}

// q = log p and its first derivatives alone, as cat_derivs() computes
// them: what the quadrature nodes need.
inline void cat_first(const CumLink& F, double a, double b, double* q, double* qa, double* qb) {
  *q = cat_logp(F, a, b);
  *qa = std::isinf(a) ? 0.0 : std::exp(F.logf(a) - *q);
  *qb = std::isinf(b) ? 0.0 : -std::exp(F.logf(b) - *q);
}

inline CatDerivs cat_derivs(const CumLink& F, double a, double b, bool third = true) {
  CatDerivs d;
  const bool top = std::isinf(a), bottom = std::isinf(b);
  double ra, mrb;  // p_a/p and p_b/p (= -rb)
  cat_first(F, a, b, &d.q, &ra, &mrb);
  const double rb = -mrb;
  // p_aa/p, p_aaa/p, p_bb/p, p_bbb/p (p_ab = 0).
  // Where a density underflows to zero its derivative terms are zero too:
  // far in the tail the link's g1, g2 overflow (cloglog: 1 - exp(x)), and
  // 0 * Inf would make the curvature NaN at a finite log-likelihood.
  const bool za = top || ra == 0.0, zb = bottom || rb == 0.0;
  const double paa = za ? 0.0 : ra * F.g1(a), paaa = (za || !third) ? 0.0 : ra * F.g2(a);
  const double pbb = zb ? 0.0 : -rb * F.g1(b), pbbb = (zb || !third) ? 0.0 : -rb * F.g2(b);
  d.qa = ra;
  d.qb = -rb;
  d.qaa = paa - d.qa * d.qa;
  d.qbb = pbb - d.qb * d.qb;
  d.qab = -d.qa * d.qb;
  if (!third) {
    d.qaaa = d.qaab = d.qabb = d.qbbb = 0;
    return d;
  }
  d.qaaa = paaa - 3 * d.qa * d.qaa - d.qa * d.qa * d.qa;
  d.qbbb = pbbb - 3 * d.qb * d.qbb - d.qb * d.qb * d.qb;
  d.qaab = -paa * d.qb - 2 * d.qa * d.qab;
  d.qabb = -pbb * d.qa - 2 * d.qb * d.qab;
  return d;
}

}  // namespace glmmgee

#endif
