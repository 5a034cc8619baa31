// The latent distributions F of the cumulative link models,
//   P(Y <= k) = F(theta_k - eta),
// shared by the mixed-model engine (ordinal.cpp) and the ordinal GEE
// (ordinal-gee.cpp). Link codes as cumulative()$link_code in R.
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

}  // namespace glmmgee

#endif
