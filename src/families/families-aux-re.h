// Two-part observation models (zero-inflation, hurdle) whose zero part
// carries random effects too (agq-zero-re.h). families-aux.h treats the logit
// a of the zero probability as a fixed per-observation predictor; here it
// moves with the random effects, so the engine needs the joint derivatives
// of one observation's log-likelihood l(eta, a, phi) up to third order in
// the two random predictors (eta, a) and up to first order in phi.
//
// Zero-inflated (Lambert 1992), y = 0: with l0 = log f_c(0; eta, phi) and
// s = l0 - a, l = A(a) + F(s), A(a) = -log1pexp(-a), F(s) = log1pexp(s).
// F' = r = plogis(s), F'' = r(1-r), F''' = r(1-r)(1-2r), and the chain rule
//   l_bc   = F'' s_b s_c + F' s_bc (+ A'' when b = c = a),
//   l_bcd  = F''' s_b s_c s_d + F''(s_bc s_d + s_bd s_c + s_cd s_b) + F' s_bcd
// with s_eta = l0', s_a = -1, s_phi = dl0/dphi, s_{eta eta} = l0'',
// s_{eta phi} = dl0'/dphi, s_{eta eta eta} = l0''', s_{eta eta phi} = dl0''/dphi.
// y > 0: l = l_c(y) - log1pexp(a), separable in a.
// Hurdle (Mullahy 1986): y = 0: l = A(a); y > 0: the zero-truncated count
// part (as in families-aux.h) minus log1pexp(a), separable.
#ifndef GLMMGEE_FAMILIES_AUX_RE_H
#define GLMMGEE_FAMILIES_AUX_RE_H

#include "families/families.h"
#include <cmath>
#include <memory>
#include <stdexcept>

namespace glmmgee {

// Derivatives of one observation's l in v = (eta, a, phi):
// g[c] = dl/dv_c, h[b][c] = d2l/dv_b dv_c, t[b][c][d] = d3l/dv_b dv_c dv_d,
// with b, c over the random predictors: (eta, a) for kinds 1 to 6 (h's and
// t's rows for phi unused), all three for kinds 7 and 8, where phi moves
// with random effects too.
struct Obs2 {
  double l;
  double g[3];
  double h[3][3];
  double t[3][3][3];
};

// What the observation models with a random log dispersion share (kinds 4
// to 6): the count (or any) family's l at (y; eta, a) with its derivatives
// in (eta, a) up to third order, d3[k] the third derivative with k of its
// three arguments a (eta eta eta, eta eta a, eta a a, a a a).
struct RowDerivs2 {
  double l = 0.0, d1[2] = {0.0, 0.0}, d2[2][2] = {{0.0, 0.0}, {0.0, 0.0}};
  double d3[4] = {0.0, 0.0, 0.0, 0.0};
};

class TwoPartRE {
 public:
  explicit TwoPartRE(const ObsModel* inner)
      : f_(inner), disp_(inner->has_dispersion()), lc0_(inner->logconst(0.0, 1.0)),
        nb2_(dynamic_cast<const NBinom2Log*>(inner) != nullptr) {}
  virtual ~TwoPartRE() {}
  // How many of (eta, a, phi) move with random effects: 2, or 3 (kinds 7
  // and 8).
  virtual int random_predictors() const { return 2; }
  virtual double logconst(double y, double wt) const {
    return y > 0 && wt > 0 ? wt * f_->logconst(y, 1.0) : 0.0;
  }
  // One row's quantities that depend on theta only through its dispersion
  // phi: for nbinom2, exp(phi) and the log-gamma and digamma differences at
  // the row's y (nb_lgamma_diff(), nb_digamma_diff(): up to 8 log1p() a
  // row, the largest single cost of a two-part negative binomial pass over
  // the rows). An engine whose phi is fixed while its inner search moves
  // (eta, a) fills them once per theta (row_const()) and passes them to
  // eval(), which then gives the same values to the last bit.
  struct RowConst {
    bool set = false;
    double y = 0.0, t = 0.0, lg = 0.0, dg = 0.0;
  };
  void row_const(double y, double ph, RowConst& r) const {
    r.set = nb2_;
    if (!nb2_) return;
    r.y = y;
    r.t = std::exp(ph);
    r.lg = nb_lgamma_diff(r.t, y);
    r.dg = nb_digamma_diff(r.t, y);
  }
  // Fills o; with full = false only l and g (quadrature nodes). `rc`:
  // row_const() at (y, phi), or nullptr.
  virtual void eval(double y, double wt, double eta, double a, double phi, bool full,
                    Obs2& o, const RowConst* rc) const = 0;
  void eval(double y, double wt, double eta, double a, double phi, bool full, Obs2& o) const {
    eval(y, wt, eta, a, phi, full, o, nullptr);
  }
  // eval() with full = true, except that a class may leave the third
  // derivatives o.t for third() to fill from what it keeps in `keep`
  // (kKeep doubles): an inner search evaluates the rows several times per
  // theta and needs o.t only at the mode (the gradient's log det(H) term).
  // third() then gives o.t the values eval() would have, to the last bit.
  // By default eval() fills o.t at once and third() does nothing.
  static constexpr int kKeep = 10;
  virtual void eval_defer(double y, double wt, double eta, double a, double phi, Obs2& o,
                          const RowConst* rc, double* keep) const {
    (void)keep;
    eval(y, wt, eta, a, phi, true, o, rc);
  }
  virtual void third(double wt, const double* keep, Obs2& o) const {
    (void)wt;
    (void)keep;
    (void)o;
  }

 protected:
  static void clear(Obs2& o) {
    double* p = &o.l;
    for (int k = 0; k < (int)(sizeof(Obs2) / sizeof(double)); ++k) p[k] = 0.0;
  }
  static double plogis(double x) { return 1.0 / (1.0 + std::exp(-x)); }
  void inner_dphi(double y, double eta, double ph, double* o) const {
    if (disp_) f_->dphi(y, 1.0, eta, ph, o);
    else o[0] = o[1] = o[2] = 0.0;
  }
  // The count part's quantities at (eta, phi) that do not depend on y, for
  // the negative binomial (nbinom2): shared by its derivatives in eta and
  // in phi, and by those at y and at 0 (hurdle), which each recompute them.
  struct Nb2At {
    double t, x, p, q, lx;
    const RowConst* rc;
  };
  static Nb2At nb2_at(double eta, double ph, const RowConst* rc) {
    Nb2At c;
    c.rc = rc && rc->set ? rc : nullptr;
    c.t = c.rc ? c.rc->t : std::exp(ph);
    c.x = eta - ph;
    c.p = 1.0 / (1.0 + std::exp(-c.x));
    const double ex = std::exp(c.x);
    c.q = 1.0 / (1.0 + ex);
    c.lx = log1pexp_at(c.x, ex);
    return c;
  }
  // f_->derivs(y, 1, eta, ph) and inner_dphi(y, eta, ph, o), one row
  // (unit weight). For nbinom2 from nb2_at()'s shared quantities `c`, with
  // NBinom2Log::derivs() and ::dphi()'s expressions (families-dispersion.h)
  // term for term, so the values are the same to the last bit (checked in
  // test-zi-random-sparse-inner-newton.R): it was a quarter of a two-part
  // negative binomial fit.
  ObsDerivs inner_derivs(double y, double eta, double ph, double* o, const Nb2At* c) const {
    if (!c || nb_poisson_limit(ph, y, eta)) {
      const ObsDerivs d = f_->derivs(y, 1.0, eta, ph);
      inner_dphi(y, eta, ph, o);
      return d;
    }
    const double wt = 1.0, t = c->t, p = c->p, q = c->q;
    const double a = y + t, v = a * p * q;
    const bool pre = c->rc && c->rc->y == y;
    const double l = (pre ? c->rc->lg : nb_lgamma_diff(t, y)) + y * eta - a * c->lx;
    o[0] = wt * (t * ((pre ? c->rc->dg : nb_digamma_diff(t, y)) - c->lx) + t * p - y * q);
    o[1] = wt * (p * q * y - t * p * p);
    o[2] = -wt * p * q * (y * (p - q) + 2.0 * t * p);
    return ObsDerivs{wt * l, wt * (y - a * p), -wt * v, -wt * v * (q - p)};
  }
  // -log1pexp(a) in a (the count part's share 1 - pi), into o; returns
  // plogis(a). The _h versions leave out the o.t term (third()'s).
  static double minus_log1pexp_h(double a, bool full, Obs2& o) {
    const double p = plogis(a);
    o.l -= log1pexp(a);
    o.g[1] -= p;
    if (full) o.h[1][1] -= p * (1.0 - p);
    return p;
  }
  static void minus_log1pexp(double a, bool full, Obs2& o) {
    const double p = minus_log1pexp_h(a, full, o);
    if (full) o.t[1][1][1] -= p * (1.0 - p) * (1.0 - 2.0 * p);
  }
  // -log1pexp(-a) = log pi, into o; returns plogis(a).
  static double log_pi_h(double a, bool full, Obs2& o) {
    const double ema = std::exp(-a), p = 1.0 / (1.0 + ema);  // plogis(a)
    o.l -= log1pexp_at(-a, ema);
    o.g[1] += 1.0 - p;
    if (full) o.h[1][1] -= p * (1.0 - p);
    return p;
  }
  static void log_pi(double a, bool full, Obs2& o) {
    const double p = log_pi_h(a, full, o);
    if (full) o.t[1][1][1] -= p * (1.0 - p) * (1.0 - 2.0 * p);
  }
  // scale() of l, g and h (third() scales o.t).
  static void scale_h(Obs2& o, double wt) {
    if (wt == 1.0) return;
    o.l *= wt;
    for (int c = 0; c < 3; ++c) o.g[c] *= wt;
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c) o.h[b][c] *= wt;
  }
  static void scale(Obs2& o, double wt) {
    if (wt == 1.0) return;
    double* p = &o.l;
    for (int k = 0; k < (int)(sizeof(Obs2) / sizeof(double)); ++k) p[k] *= wt;
  }
  // The family's l at (y; eta, a) and its derivatives in (eta, a) up to
  // third order (RowDerivs2) at weight wt, a the log dispersion; with
  // full = false l and d1 only (kinds 4 to 6).
  RowDerivs2 count_derivs2(double y, double wt, double eta, double a, bool full) const {
    RowDerivs2 r;
    const ObsDerivs d = f_->derivs(y, wt, eta, a);
    double q[3];
    f_->dphi(y, wt, eta, a, q);
    r.l = d.l;
    r.d1[0] = d.d1;
    r.d1[1] = q[0];
    if (!full) return r;
    double p2[3];
    f_->dphi2(y, wt, eta, a, p2);
    r.d2[0][0] = d.d2;
    r.d2[0][1] = r.d2[1][0] = q[1];
    r.d2[1][1] = p2[0];
    r.d3[0] = d.d3;
    r.d3[1] = q[2];
    r.d3[2] = p2[1];
    r.d3[3] = p2[2];
    return r;
  }
  // o's l, g and (with full) h and t in (eta, d) from c (count_derivs2()'s
  // (eta, a)), d the log dispersion at v's index `di`.
  static void put_count(const RowDerivs2& c, bool full, Obs2& o, int di = 1) {
    const int at[2] = {0, di};
    o.l = c.l;
    o.g[0] = c.d1[0];
    o.g[di] = c.d1[1];
    if (!full) return;
    for (int b = 0; b < 2; ++b)
      for (int e = 0; e < 2; ++e) {
        o.h[at[b]][at[e]] = c.d2[b][e];
        for (int k = 0; k < 2; ++k) o.t[at[b]][at[e]][at[k]] = c.d3[b + e + k];
      }
  }
  // Adds to o's g, h and t the chain rule of F(s), s = s0(eta, d) + sz z,
  // from s0's derivatives c and F's first three derivatives F1, F2, F3
  // (s's higher derivatives with z are zero; l itself is the caller's):
  //   l_b += F1 s_b,  l_bc += F2 s_b s_c + F1 s_bc,
  //   l_bcd += F3 s_b s_c s_d + F2 (s_bc s_d + s_bd s_c + s_cd s_b) + F1 s_bcd,
  // d at v's index `di`, z at the other of 1 and 2; h's and t's first
  // indices over the first `nr` predictors (the random ones).
  static void add_chain(const RowDerivs2& c, double sz, double F1, double F2, double F3,
                        bool full, Obs2& o, int di = 1, int nr = 2) {
    // pos[k]: predictor k's place in count_derivs2()'s (eta, d), -1 for z
    const int pos[3] = {0, di == 1 ? 1 : -1, di == 2 ? 1 : -1};
    double s1[3];
    for (int k = 0; k < 3; ++k) s1[k] = pos[k] < 0 ? sz : c.d1[pos[k]];
    for (int k = 0; k < 3; ++k) o.g[k] += F1 * s1[k];
    if (!full) return;
    auto s2 = [&](int b, int e) { return pos[b] < 0 || pos[e] < 0 ? 0.0 : c.d2[pos[b]][pos[e]]; };
    auto s3 = [&](int b, int e, int k) {
      return pos[b] < 0 || pos[e] < 0 || pos[k] < 0 ? 0.0 : c.d3[pos[b] + pos[e] + pos[k]];
    };
    for (int b = 0; b < nr; ++b)
      for (int k = 0; k < 3; ++k) o.h[b][k] += F2 * s1[b] * s1[k] + F1 * s2(b, k);
    for (int b = 0; b < nr; ++b)
      for (int e = 0; e < nr; ++e)
        for (int k = 0; k < 3; ++k)
          o.t[b][e][k] += F3 * s1[b] * s1[e] * s1[k] +
                          F2 * (s2(b, e) * s1[k] + s2(b, k) * s1[e] + s2(e, k) * s1[b]) +
                          F1 * s3(b, e, k);
  }
  // The second and third derivatives in z (at index zi) of z's logistic
  // terms, -p (1 - p) and -p (1 - p) (1 - 2 p) with p = plogis(z), added
  // to o (kinds 7 and 8, where z is random; the same for log plogis(z) and
  // -log1pexp(z)).
  static void add_z_curvature(double z, int zi, Obs2& o) {
    const double p = plogis(z), pq = p * (1.0 - p);
    o.h[zi][zi] -= pq;
    o.t[zi][zi][zi] -= pq * (1.0 - 2.0 * p);
  }
  const ObsModel* f_;
  bool disp_;
  double lc0_;
  bool nb2_;  // f_ is NBinom2Log (inner_derivs())
};

class ZeroInflatedRE : public TwoPartRE {
 public:
  using TwoPartRE::TwoPartRE;
  using TwoPartRE::eval;
  void eval(double y, double wt, double eta, double a, double phi, bool full,
            Obs2& o, const RowConst* rc) const override {
    double keep[kKeep];
    core(y, wt, eta, a, phi, full, o, rc, keep);
    if (full) third(wt, keep, o);
  }
  void eval_defer(double y, double wt, double eta, double a, double phi, Obs2& o,
                  const RowConst* rc, double* keep) const override {
    core(y, wt, eta, a, phi, true, o, rc, keep);
  }
  // keep: [0] 1 for y > 0, 0 for y = 0, -1 for no weight; y > 0: [1] d3,
  // [2] dl0''/dphi, [3] plogis(a); y = 0: [1] r, [2] v, [3] s_eta, [4]
  // s_phi, [5] s_{eta eta}, [6] s_{eta phi}, [7] s_{eta eta eta}, [8]
  // s_{eta eta phi}, [9] plogis(a).
  void third(double wt, const double* keep, Obs2& o) const override {
    if (keep[0] < 0.0) return;
    if (keep[0] > 0.0) {
      o.t[0][0][0] = keep[1];
      o.t[0][0][2] = keep[2];
      const double p = keep[3];
      o.t[1][1][1] = 0.0;
      o.t[1][1][1] -= p * (1.0 - p) * (1.0 - 2.0 * p);
    } else {
      const double r = keep[1], v = keep[2];
      const double s1[3] = {keep[3], -1.0, keep[4]};
      const double s2[3][3] = {{keep[5], 0.0, keep[6]}, {0.0, 0.0, 0.0}, {keep[6], 0.0, 0.0}};
      const double w3 = v * (1.0 - 2.0 * r);
      for (int b = 0; b < 2; ++b)
        for (int c = 0; c < 3; ++c)
          for (int e = 0; e < 2; ++e) {
            if (e < b) continue;
            double s3 = 0.0;
            if (b == 0 && e == 0) s3 = c == 0 ? keep[7] : (c == 2 ? keep[8] : 0.0);
            const double val = w3 * s1[b] * s1[e] * s1[c] +
                               v * (s2[b][e] * s1[c] + s2[b][c] * s1[e] + s2[e][c] * s1[b]) +
                               r * s3;
            o.t[b][e][c] = val;
            o.t[e][b][c] = val;
          }
      const double p = keep[9];
      o.t[1][1][1] -= p * (1.0 - p) * (1.0 - 2.0 * p);
    }
    if (wt == 1.0) return;
    for (int b = 0; b < 2; ++b)
      for (int e = 0; e < 2; ++e)
        for (int c = 0; c < 3; ++c) o.t[b][e][c] *= wt;
  }

 private:
  // l, g and (with full) h into o, o.t left at 0; what third() needs into
  // keep.
  void core(double y, double wt, double eta, double a, double phi, bool full, Obs2& o,
            const RowConst* rc, double* keep) const {
    clear(o);
    keep[0] = -1.0;
    if (wt <= 0) return;
    double q[3];
    Nb2At c;
    const Nb2At* cp = nullptr;
    if (nb2_) {
      c = nb2_at(eta, phi, rc);
      cp = &c;
    }
    if (y > 0) {
      const ObsDerivs d = inner_derivs(y, eta, phi, q, cp);
      o.l = d.l;
      o.g[0] = d.d1;
      o.g[2] = q[0];
      if (full) {
        o.h[0][0] = d.d2;
        o.h[0][2] = q[1];
        keep[0] = 1.0;
        keep[1] = d.d3;
        keep[2] = q[2];
      }
      keep[3] = minus_log1pexp_h(a, full, o);
      scale_h(o, wt);
      return;
    }
    const ObsDerivs d = inner_derivs(0.0, eta, phi, q, cp);
    const double s = d.l + lc0_ - a, r = plogis(s), v = r * (1.0 - r);
    const double s1[3] = {d.d1, -1.0, q[0]};
    o.l = log1pexp(s);
    for (int c = 0; c < 3; ++c) o.g[c] = r * s1[c];
    if (full) {
      // Second derivatives of s: only in eta and phi.
      double s2[3][3] = {{d.d2, 0.0, q[1]}, {0.0, 0.0, 0.0}, {q[1], 0.0, 0.0}};
      for (int b = 0; b < 2; ++b)
        for (int c = 0; c < 3; ++c) o.h[b][c] = v * s1[b] * s1[c] + r * s2[b][c];
      keep[0] = 0.0;
      keep[1] = r;
      keep[2] = v;
      keep[3] = d.d1;
      keep[4] = q[0];
      keep[5] = d.d2;
      keep[6] = q[1];
      keep[7] = d.d3;
      keep[8] = q[2];
    }
    keep[9] = log_pi_h(a, full, o);
    scale_h(o, wt);
  }
};

class HurdleRE : public TwoPartRE {
 public:
  using TwoPartRE::TwoPartRE;
  using TwoPartRE::eval;
  void eval(double y, double wt, double eta, double a, double phi, bool full,
            Obs2& o, const RowConst* rc) const override {
    clear(o);
    if (wt <= 0) return;
    if (y <= 0) {
      log_pi(a, full, o);
      scale(o, wt);
      return;
    }
    Nb2At c;
    const Nb2At* cp = nullptr;
    if (nb2_) {
      c = nb2_at(eta, phi, rc);
      cp = &c;
    }
    double p[3], q[3];
    const ObsDerivs d = inner_derivs(y, eta, phi, p, cp);
    const ObsDerivs z = inner_derivs(0.0, eta, phi, q, cp);
    const double l0 = z.l + lc0_, t = 1.0 / std::expm1(-l0), u = t * (1.0 + t);
    o.l = d.l - std::log(-std::expm1(l0));
    o.g[0] = d.d1 + t * z.d1;
    o.g[2] = p[0] + t * q[0];
    if (full) {
      o.h[0][0] = d.d2 + t * z.d2 + u * z.d1 * z.d1;
      o.h[0][2] = p[1] + t * q[1] + u * q[0] * z.d1;
      o.t[0][0][0] = d.d3 + t * z.d3 + 3.0 * u * z.d1 * z.d2 +
                     u * (1.0 + 2.0 * t) * z.d1 * z.d1 * z.d1;
      o.t[0][0][2] = p[2] + t * q[2] + u * q[0] * z.d2 + 2.0 * u * z.d1 * q[1] +
                     u * (1.0 + 2.0 * t) * q[0] * z.d1 * z.d1;
    }
    minus_log1pexp(a, full, o);
    scale(o, wt);
  }
};

// Zero-inflated binomial (glmmTMB's): y the proportion of wt trials; the
// count part is the inner family at wt trials, f_c(0) = (1 - p)^wt, and
// the zero part's share enters once per row, not once per trial. With
// l0 = log f_c(0) the formulas of ZeroInflatedRE hold without dispersion.
class ZeroInflatedBinomialRE : public TwoPartRE {
 public:
  using TwoPartRE::TwoPartRE;
  double logconst(double y, double wt) const override {
    return y > 0 && wt > 0 ? f_->logconst(y, wt) : 0.0;
  }
  using TwoPartRE::eval;
  void eval(double y, double wt, double eta, double a, double, bool full,
            Obs2& o, const RowConst*) const override {
    clear(o);
    if (wt <= 0) return;
    if (y > 0) {
      const ObsDerivs d = f_->derivs(y, wt, eta, 0.0);
      o.l = d.l;
      o.g[0] = d.d1;
      if (full) {
        o.h[0][0] = d.d2;
        o.t[0][0][0] = d.d3;
      }
      minus_log1pexp(a, full, o);
      return;
    }
    const ObsDerivs d = f_->derivs(0.0, wt, eta, 0.0);
    const double s = d.l + f_->logconst(0.0, wt) - a, r = plogis(s), v = r * (1.0 - r);
    const double s1[2] = {d.d1, -1.0};
    o.l = log1pexp(s);
    o.g[0] = r * s1[0];
    o.g[1] = r * s1[1];
    if (full) {
      const double w3 = v * (1.0 - 2.0 * r);
      for (int b = 0; b < 2; ++b)
        for (int c = 0; c < 2; ++c) {
          o.h[b][c] = v * s1[b] * s1[c] + (b == 0 && c == 0 ? r * d.d2 : 0.0);
          for (int e = 0; e < 2; ++e) {
            // d3 s / d eta3 is the only third derivative of s; d2 s only in eta.
            const double s2be = b == 0 && e == 0 ? d.d2 : 0.0;
            const double s2bc = b == 0 && c == 0 ? d.d2 : 0.0;
            const double s2ec = e == 0 && c == 0 ? d.d2 : 0.0;
            const double s3 = b == 0 && e == 0 && c == 0 ? d.d3 : 0.0;
            o.t[b][e][c] = w3 * s1[b] * s1[e] * s1[c] +
                           v * (s2be * s1[c] + s2bc * s1[e] + s2ec * s1[b]) + r * s3;
          }
        }
    }
    log_pi(a, full, o);
  }
};

// A dispersion formula with random effects (a location-scale model): the
// second random predictor a is the log dispersion itself (phi in the
// family's convention: log sigma for gaussian, log theta for nbinom2, log
// phi for nbinom1, log shape for Gamma, log precision for beta and
// beta-binomial), and the third slot is unused (no fixed dispersion
// predictor beside it). One observation's l is the family's own, with its
// weights as the one-part engines take them, and its derivatives in (eta,
// a) up to third order are derivs(), dphi() and dphi2().
class DispersionRE : public TwoPartRE {
 public:
  using TwoPartRE::TwoPartRE;
  double logconst(double y, double wt) const override { return f_->logconst(y, wt); }
  using TwoPartRE::eval;
  void eval(double y, double wt, double eta, double a, double, bool full, Obs2& o,
            const RowConst*) const override {
    clear(o);
    if (wt <= 0) return;
    put_count(count_derivs2(y, wt, eta, a, full), full, o);
  }
};

// Zero-inflation beside a dispersion formula with random effects (kind 5),
// or with random effects in the zero part too (kind 7). With kind 5 the
// log dispersion d is the second random predictor a and the logit z of the
// zero probability the third, phi, with fixed effects only; with kind 7 z
// is the second random predictor and d the third, random too (v = (eta, z,
// d), as kinds 1 and 2 order them). With l0 = log f_c(0; eta, d), for
// y = 0
//   l = A(z) + F(s),  s = l0 - z,  A(z) = -log1pexp(-z),  F(s) = log1pexp(s),
// so with r = plogis(s), v = r (1 - r), w = v (1 - 2 r) (F's first three
// derivatives), s_z = -1 and s's higher derivatives in z zero:
//   l_b   = r s_b (plus plogis(-z) for b = z),
//   l_bc  = v s_b s_c + r s_bc,
//   l_bcd = w s_b s_c s_d + v (s_bc s_d + s_bd s_c + s_cd s_b) + r s_bcd
// (add_chain()), with l0's derivatives in (eta, d) from the count
// family's derivs(), dphi() and dphi2() at y = 0, and A's own second and
// third derivatives where z is random (add_z_curvature()). y > 0: l =
// l_c(y; eta, d) - log1pexp(z), separable in z. Every term times the
// row's weight.
class ZeroInflatedDispersionRE : public TwoPartRE {
 public:
  ZeroInflatedDispersionRE(const ObsModel* inner, bool z_random)
      : TwoPartRE(inner), zr_(z_random), zi_(z_random ? 1 : 2), di_(z_random ? 2 : 1) {}
  int random_predictors() const override { return zr_ ? 3 : 2; }
  using TwoPartRE::eval;
  void eval(double y, double wt, double eta, double a, double phi, bool full, Obs2& o,
            const RowConst*) const override {
    clear(o);
    if (wt <= 0) return;
    const double z = zr_ ? a : phi, d = zr_ ? phi : a;
    const RowDerivs2 c = count_derivs2(y, 1.0, eta, d, full);
    if (y > 0) {
      put_count(c, full, o, di_);
      o.l -= log1pexp(z);
      o.g[zi_] = -plogis(z);
    } else {
      const double s = c.l + lc0_ - z, r = plogis(s), v = r * (1.0 - r);
      o.l = -log1pexp(-z) + log1pexp(s);
      add_chain(c, -1.0, r, v, v * (1.0 - 2.0 * r), full, o, di_, random_predictors());
      o.g[zi_] += plogis(-z);
    }
    if (zr_ && full) add_z_curvature(z, zi_, o);
    scale(o, wt);
  }

 private:
  bool zr_;
  int zi_, di_;
};

// A hurdle beside a dispersion formula with random effects (kind 6), or
// with random effects in the zero part too (kind 8); the predictors as in
// ZeroInflatedDispersionRE. y = 0: l = log plogis(z), free of (eta, d).
// y > 0: with l0 = log f_c(0; eta, d) and G(s) = -log(1 - exp(s)) (the
// zero-truncated count part's normalization, G' = t = 1 / expm1(-s),
// G'' = u = t (1 + t), G''' = u (1 + 2 t)),
//   l = l_c(y; eta, d) + G(l0) - log1pexp(z),
// and l's derivatives in (eta, d) are l_c's plus G's chain rule through
// l0 (add_chain()), with l_c's and l0's from the count family's derivs(),
// dphi() and dphi2(). Every term times the row's weight.
class HurdleDispersionRE : public TwoPartRE {
 public:
  HurdleDispersionRE(const ObsModel* inner, bool z_random)
      : TwoPartRE(inner), zr_(z_random), zi_(z_random ? 1 : 2), di_(z_random ? 2 : 1) {}
  int random_predictors() const override { return zr_ ? 3 : 2; }
  using TwoPartRE::eval;
  void eval(double y, double wt, double eta, double a, double phi, bool full, Obs2& o,
            const RowConst*) const override {
    clear(o);
    if (wt <= 0) return;
    const double z = zr_ ? a : phi, d = zr_ ? phi : a;
    if (y <= 0) {
      // (log_pi() fills index 1, which is z's with kind 8; kind 6 moves its
      // gradient to the third predictor)
      log_pi(z, full && zr_, o);
      if (!zr_) {
        o.g[2] = o.g[1];
        o.g[1] = 0.0;
      }
      scale(o, wt);
      return;
    }
    const RowDerivs2 c = count_derivs2(y, 1.0, eta, d, full);
    const RowDerivs2 c0 = count_derivs2(0.0, 1.0, eta, d, full);
    const double l0 = c0.l + lc0_, t = 1.0 / std::expm1(-l0), u = t * (1.0 + t);
    put_count(c, full, o, di_);
    o.l += -std::log(-std::expm1(l0)) - log1pexp(z);
    add_chain(c0, 0.0, t, u, u * (1.0 + 2.0 * t), full, o, di_, random_predictors());
    o.g[zi_] = -plogis(z);
    if (zr_ && full) add_z_curvature(z, zi_, o);
    scale(o, wt);
  }

 private:
  bool zr_;
  int zi_, di_;
};

// kind 1 zero-inflation, 2 hurdle, 3 zero-inflated binomial, 4 a
// dispersion formula with random effects, 5 zero-inflation and 6 a hurdle
// beside one, 7 and 8 zero-inflation and a hurdle with random effects in
// the zero and dispersion parts both (the codes of aux_kind_code() in R);
// nullptr otherwise.
inline std::unique_ptr<TwoPartRE> make_two_part_re(int kind, const ObsModel* inner) {
  if (kind == 1) return std::unique_ptr<TwoPartRE>(new ZeroInflatedRE(inner));
  if (kind == 2) return std::unique_ptr<TwoPartRE>(new HurdleRE(inner));
  if (kind == 3) return std::unique_ptr<TwoPartRE>(new ZeroInflatedBinomialRE(inner));
  if (kind == 4) return std::unique_ptr<TwoPartRE>(new DispersionRE(inner));
  if (kind == 5 || kind == 7)
    return std::unique_ptr<TwoPartRE>(new ZeroInflatedDispersionRE(inner, kind == 7));
  if (kind == 6 || kind == 8)
    return std::unique_ptr<TwoPartRE>(new HurdleDispersionRE(inner, kind == 8));
  return std::unique_ptr<TwoPartRE>();
}

// The count part's model and its two-part wrapper for the codes (family,
// link, kind), checked at the engines' boundary (the two-part engines of
// agq-zero-re.h and laplace-zero-re.h): throws std::invalid_argument naming the
// problem; pd is the number of dispersion coefficients.
inline void make_two_part_models(int family, int link, int kind, int pd,
                                 std::unique_ptr<ObsModel>& fam,
                                 std::unique_ptr<TwoPartRE>& obs) {
  fam = make_obs_model(family, link);
  if (!fam) throw std::invalid_argument("unsupported family/link");
  obs = make_two_part_re(kind, fam.get());
  if (!obs) throw std::invalid_argument("unknown two-part kind");
  if (kind >= 4 && kind <= 8) {
    double o[3];
    if (!fam->has_dispersion() || !fam->dphi2(1.0, 1.0, 0.0, 0.0, o))
      throw std::invalid_argument("this family has no dispersion formula with random effects");
    if (kind == 4 && pd > 0)
      throw std::invalid_argument("a dispersion formula with random effects takes its fixed design as the second part's");
    if (kind == 5 && pd == 0)
      throw std::invalid_argument("zero-inflation beside a dispersion formula with random effects needs the zero part's design as the third");
    // (kinds 5 to 8 evaluate the count part at unit weight and scale it:
    // a count family's rows, not a beta-binomial's trials)
    if (kind >= 5 && family != FAM_NBINOM2 && family != FAM_NBINOM1)
      throw std::invalid_argument("a zero part beside a dispersion formula with random effects needs a negative binomial family");
    return;
  }
  if (fam->has_dispersion() != (pd > 0))
    throw std::invalid_argument("a dispersion design is needed exactly when the family has a dispersion");
}

// N = -(the second derivatives of one observation's l in (eta, a, phi)),
// from its Obs2 `o` (evaluated with full = true). The (phi, phi) entry is
// not among Obs2's derivatives: central differences of dl/dphi, step
// 1e-4 (1 + |phi|), when the model has a dispersion (`has_disp`), else 0.
// Shared by the one-factor and sparse two-part curvatures.
inline void neg_obs_hessian(const TwoPartRE& ob, const Obs2& o, double y, double wt, double eta,
                            double a, double phi, bool has_disp, double N[3][3]) {
  for (int c = 0; c < 2; ++c)
    for (int d = 0; d < 3; ++d) N[c][d] = -o.h[c][d];
  N[2][0] = N[0][2];
  N[2][1] = N[1][2];
  N[2][2] = 0.0;
  // (phi random too: its row of h is filled)
  if (ob.random_predictors() == 3) {
    N[2][2] = -o.h[2][2];
    return;
  }
  if (has_disp) {
    Obs2 op, om;
    const double h = 1e-4 * (1.0 + std::fabs(phi));
    ob.eval(y, wt, eta, a, phi + h, false, op);
    ob.eval(y, wt, eta, a, phi - h, false, om);
    N[2][2] = -(op.g[2] - om.g[2]) / (2.0 * h);
  }
}

}  // namespace glmmgee

#endif
