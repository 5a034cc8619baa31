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
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include "families/cum-link.h"

namespace glmmgee {

class Cumulative : public AuxObsModel {
 public:
  // link: 0 logit, 1 probit, 2 cloglog (cumulative()'s link_code); nthr =
  // J - 1 thresholds.
  Cumulative(int link, int nthr) : nthr_(nthr) {
    F_ = make_cum_link(link);
    if (!F_) F_ = make_cum_link(2);
  }
  int naux() const override { return nthr_; }
  double logconst(double, double) const override { return 0.0; }
  ObsDerivs derivs(double y, double wt, double eta, const double* a) const override {
    if (wt <= 0) return ObsDerivs{0.0, 0.0, 0.0, 0.0};
    const CatDerivs q = at(y, eta, a);
    return ObsDerivs{wt * q.q, -wt * (q.qa + q.qb), wt * (q.qaa + 2 * q.qab + q.qbb),
                     -wt * (q.qaaa + 3 * q.qaab + 3 * q.qabb + q.qbbb)};
  }
  void daux(double y, double wt, double eta, const double* a, int k,
            double* out) const override {
    out[0] = out[1] = out[2] = 0.0;
    const int yk = (int)y;
    const bool up = k == yk - 1, low = k == yk - 2;
    if (wt <= 0 || (!up && !low)) return;
    const CatDerivs q = at(y, eta, a);
    if (up) upper(q, wt, out); else lower(q, wt, out);
  }
  // Only the thresholds bracketing y have non-zero derivatives: one
  // category probability serves both.
  void daux_all(double y, double wt, double eta, const double* a, double* out) const override {
    std::fill(out, out + 3 * nthr_, 0.0);
    const int yk = (int)y;
    if (wt <= 0) return;
    const CatDerivs q = at(y, eta, a);
    if (yk <= nthr_) upper(q, wt, out + 3 * (yk - 1));
    if (yk >= 2) lower(q, wt, out + 3 * (yk - 2));
  }
  void dl_aux(double y, double wt, double eta, const double* a, double* out) const override {
    std::fill(out, out + nthr_, 0.0);
    const int yk = (int)y;
    if (wt <= 0) return;
    double q, qa, qb;
    first(yk, eta, a, &q, &qa, &qb);
    if (yk <= nthr_) out[yk - 1] = wt * qa;
    if (yk >= 2) out[yk - 2] = wt * qb;
  }
  double loglik_d1(double y, double wt, double eta, const double* a, double* d1) const override {
    if (wt <= 0) {
      *d1 = 0.0;
      return 0.0;
    }
    double q, qa, qb;
    first((int)y, eta, a, &q, &qa, &qb);
    *d1 = -wt * (qa + qb);
    return wt * q;
  }

 private:
  static void upper(const CatDerivs& q, double wt, double* out) {
    out[0] = wt * q.qa;
    out[1] = -wt * (q.qaa + q.qab);
    out[2] = wt * (q.qaaa + 2 * q.qaab + q.qabb);
  }
  static void lower(const CatDerivs& q, double wt, double* out) {
    out[0] = wt * q.qb;
    out[1] = -wt * (q.qab + q.qbb);
    out[2] = wt * (q.qaab + 2 * q.qabb + q.qbbb);
  }
  CatDerivs at(double y, double eta, const double* a) const {
    const int yk = (int)y;
    return cat_derivs(*F_, upper_arg(yk, eta, a), lower_arg(yk, eta, a));
  }
  void first(int yk, double eta, const double* a, double* q, double* qa, double* qb) const {
    cat_first(*F_, upper_arg(yk, eta, a), lower_arg(yk, eta, a), q, qa, qb);
  }
  // theta_y - eta (+Inf for y = J) and theta_{y-1} - eta (-Inf for y = 1).
  double upper_arg(int yk, double eta, const double* a) const {
    return yk > nthr_ ? std::numeric_limits<double>::infinity() : a[yk - 1] - eta;
  }
  double lower_arg(int yk, double eta, const double* a) const {
    return yk <= 1 ? -std::numeric_limits<double>::infinity() : a[yk - 2] - eta;
  }
  std::unique_ptr<CumLink> F_;
  int nthr_;
};

}  // namespace glmmgee

#endif
