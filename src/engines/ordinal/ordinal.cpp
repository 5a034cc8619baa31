// Cumulative link mixed model with a random intercept on one grouping factor:
//   P(Y_ij <= k | u_i) = F(theta_k - eta_ij),  eta_ij = x_ij'beta + o_ij + sigma u_i,
//   u_i ~ N(0, 1),
// integrated over u_i by adaptive Gauss-Hermite quadrature (one node: the
// Laplace approximation). The J - 1 thresholds do not fit the scalar ObsModel
// interface of families.h (one mean, one dispersion), so the model has its
// own small engine.
//
// The gradient is that of the approximation itself: the mode u^ and the
// scale s = (-h''(u^))^(-1/2) move with the parameters, and their
// derivatives (implicit differentiation of h'(u^) = 0) enter through
//   dL/dpsi = s'/s + sum_k pi_k [dh/dpsi(u_k) + h'(u_k) (du^/dpsi + z_k s')],
// with u_k = u^ + s z_k and pi_k the normalized quadrature weights.
#include <RcppEigen.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>
#include "families/cum-link.h"
#include "families/gh-rule.h"
#include "util/resources.h"
#include "entry/entry-ordinal.h"

namespace glmmgee {
namespace {

const double kInf = std::numeric_limits<double>::infinity();

struct OrdData {
  const Eigen::Map<const Eigen::VectorXi>& y;   // categories 1..J
  const Eigen::Map<const Eigen::MatrixXd>& X;
  const Eigen::Map<const Eigen::VectorXd>& off;
  const Eigen::Map<const Eigen::VectorXd>& w;
  const Eigen::Map<const Eigen::VectorXi>& start;  // cluster c: rows start[c] .. start[c+1]-1
  int J;
};

// h(u) = sum_i w_i log p_i(u) - u^2/2 of one cluster, with h' and h''.
struct HVal { double h, h1, h2; };

class ClusterEval {
 public:
  ClusterEval(const OrdData& d, const CumLink& F, const Eigen::VectorXd& th,
              const Eigen::VectorXd& eta0, double sigma)
      : d_(d), F_(F), th_(th), eta0_(eta0), sigma_(sigma) {}

  double upper(int i, double eta) const {
    const int k = d_.y[i];
    return k == d_.J ? kInf : th_[k - 1] - eta;
  }
  double lower(int i, double eta) const {
    const int k = d_.y[i];
    return k == 1 ? -kInf : th_[k - 2] - eta;
  }
  CatDerivs at(int i, double u, bool third = true) const {
    const double eta = eta0_[i] + sigma_ * u;
    return cat_derivs(F_, upper(i, eta), lower(i, eta), third);
  }
  // With qa, qb non-null the rows' first derivatives are stored there (the
  // gradient's node loop reads them instead of evaluating F again).
  HVal h(int c, double u, double* qa = nullptr, double* qb = nullptr) const {
    HVal v{-0.5 * u * u, -u, -1.0};
    const int s0 = d_.start[c];
    for (int i = s0; i < d_.start[c + 1]; ++i) {
      const CatDerivs q = at(i, u, false);
      const double wi = d_.w[i];
      v.h += wi * q.q;
      v.h1 -= sigma_ * wi * (q.qa + q.qb);
      v.h2 += sigma_ * sigma_ * wi * (q.qaa + 2 * q.qab + q.qbb);
      if (qa) { qa[i - s0] = q.qa; qb[i - s0] = q.qb; }
    }
    return v;
  }
  // Newton's method with step halving; h is concave (log-concave F). *at
  // receives h at the returned mode (the last point evaluated). With
  // `pending` non-null, a last step short enough to end the iterations is
  // taken without evaluating h there (*pending = true, *at not set): the
  // caller's pass at the mode computes it, in the same operations as h().
  // (A step that short is always accepted: h moves by ~1e-22 relative.)
  double mode(int c, double u, HVal* at, bool* pending = nullptr) const {
    HVal v = h(c, u);
    if (pending) *pending = false;
    for (int it = 0; it < 200; ++it) {
      const double step = -v.h1 / v.h2;
      if (pending && std::fabs(step) < 1e-11 * (1 + std::fabs(u + step))) {
        *pending = true;
        return u + step;
      }
      double t = 1;
      HVal nv = h(c, u + step);
      while (!(nv.h >= v.h - 1e-12 * std::fabs(v.h)) && t > 1e-10) {
        t /= 2;
        nv = h(c, u + t * step);
      }
      u += t * step;
      v = nv;
      if (std::fabs(t * step) < 1e-11 * (1 + std::fabs(u))) break;
    }
    *at = v;
    return u;
  }

 private:
  const OrdData& d_;
  const CumLink& F_;
  const Eigen::VectorXd& th_;
  const Eigen::VectorXd& eta0_;
  double sigma_;
};


// Logit fast path. With E_i = exp(eta0_i), t = exp(sigma u) and the
// observed category k of row i, the logistic F gives
//   F(a) = 1 / (1 + A_i t),    A_i = E_i exp(-theta_k)      (0 for k = J),
//   S(b) = 1 / (1 + B_i / t),  B_i = exp(theta_{k-1}) / E_i (0 for k = 1),
//   p    = F(a) - F(b) = F(a) S(b) (1 - exp(-(theta_k - theta_{k-1}))),
// the last because F(a) - F(b) = (e^a - e^b) / ((1 + e^a)(1 + e^b)). So
// log p is the log of a product plus a constant per category (no
// cancellation, one log per node for a cluster of equal weights), one exp
// per node serves the whole cluster, and every derivative in eta is a
// polynomial in F(a) and S(b): with f = F (1 - F) and f' = f (1 - 2 F),
//   qa + qb = S(b) - F(a),  qaa + qab = -f(a),  qab + qbb = -f(b),
//   qaaa + 2 qaab + qabb = -f'(a),  qaab + 2 qabb + qbbb = -f'(b),
//   qa = 1 - F(a) + r_k,  qb = S(b) - 1 - r_k,  r_k = 1 / (exp(theta_k - theta_{k-1}) - 1)
// (the derivatives of log(1 - exp(b - a)) cancel in every sum but qa, qb).
// Parameters or nodes outside the range where these products stay finite
// fall back to ClusterEval (the functions return false).
class LogitCluster {
 public:
  static constexpr double kLim = 300.0;  // bound on |eta0|, |theta|, |sigma u|

  LogitCluster(const OrdData& d, const Eigen::VectorXd& th, const Eigen::VectorXd& eta0,
               double sigma)
      : d_(d), sigma_(sigma), ok_(true) {
    const int J = d.J, n = d.y.size();
    for (int k = 0; k < J - 1; ++k)
      if (!(std::fabs(th[k]) < kLim)) ok_ = false;
    for (int i = 0; i < n && ok_; ++i)
      if (!(std::fabs(eta0[i]) < kLim)) ok_ = false;
    if (!ok_) return;
    r_.setZero(J + 1);
    logd_.setZero(J + 1);
    for (int k = 2; k < J; ++k) {
      const double dth = th[k - 1] - th[k - 2];
      r_[k] = 1 / std::expm1(dth);
      logd_[k] = std::log(-std::expm1(-dth));
    }
    A_.resize(n);
    B_.resize(n);
    for (int i = 0; i < n; ++i) {
      const int k = d.y[i];
      const double E = std::exp(eta0[i]);
      A_[i] = k == J ? 0.0 : E * std::exp(-th[k - 1]);
      B_[i] = k == 1 ? 0.0 : std::exp(th[k - 2]) / E;
    }
    th_ = th;
    eta0_ = eta0;
  }
  bool ok() const { return ok_; }

  // h, h1 = h', h2 = h'' at u; with fa, sb non-null the rows' F(a), S(b)
  // are stored there.
  bool h(int c, double u, HVal* v, double* fa = nullptr, double* sb = nullptr) const {
    if (!(std::fabs(sigma_ * u) < kLim)) return false;
    const double t = std::exp(sigma_ * u), it = 1 / t;
    const int s0 = d_.start[c], s1 = d_.start[c + 1];
    double lp = 0, prod = 1, g1 = 0, g2 = 0, cst = 0;
    const double w0 = s1 > s0 ? d_.w[s0] : 1.0;
    for (int i = s0; i < s1; ++i) {
      const double Fa = 1 / (1 + A_[i] * t), Sb = 1 / (1 + B_[i] * it);
      const double wi = d_.w[i];
      if (fa) { fa[i - s0] = Fa; sb[i - s0] = Sb; }
      g1 += wi * (Fa - Sb);
      g2 += wi * (Fa * (1 - Fa) + Sb * (1 - Sb));
      cst += wi * logd_[d_.y[i]];
      const double fac = Fa * Sb;
      if (fac > 1e-100) {
        if (wi == w0) {
          prod *= fac;
          if (prod < 1e-150) { lp += w0 * std::log(prod); prod = 1; }
        } else {
          lp += wi * std::log(fac);
        }
      } else {
        // Deep in a tail: log F(a) + log S(b) from a and b themselves.
        const int k = d_.y[i];
        const double eta = eta0_[i] + sigma_ * u;
        const LogitLink L;
        if (k < d_.J) lp += wi * L.logF(th_[k - 1] - eta);
        if (k > 1) lp += wi * L.logS(th_[k - 2] - eta);
      }
    }
    lp += w0 * std::log(prod);
    v->h = -0.5 * u * u + lp + cst;
    v->h1 = -u + sigma_ * g1;
    v->h2 = -1 - sigma_ * sigma_ * g2;
    return std::isfinite(v->h);
  }

  // Newton's method with step halving, as ClusterEval::mode(). *at and
  // the rows' F(a), S(b) in fa, sb receive the values at the returned mode
  // (the last point evaluated), which the caller needs there.
  bool mode(int c, double u, double* out, HVal* at, double* fa, double* sb) const {
    HVal v;
    if (!h(c, u, &v, fa, sb)) return false;
    for (int it = 0; it < 200; ++it) {
      const double step = -v.h1 / v.h2;
      double t = 1;
      HVal nv;
      bool ok = h(c, u + step, &nv, fa, sb);
      while (!(ok && nv.h >= v.h - 1e-12 * std::fabs(v.h)) && t > 1e-10) {
        t /= 2;
        ok = h(c, u + t * step, &nv, fa, sb);
      }
      if (!ok) return false;
      u += t * step;
      v = nv;
      if (std::fabs(t * step) < 1e-11 * (1 + std::fabs(u))) break;
    }
    *out = u;
    *at = v;
    return true;
  }

  double r(int k) const { return r_[k]; }

 private:
  const OrdData& d_;
  double sigma_;
  bool ok_;
  Eigen::VectorXd r_, logd_, A_, B_, th_, eta0_;
};

// One cluster's log-likelihood and the posterior summaries of its u.
struct ClusterOut { double ll, mode, scale, pmean, pvar; };

// From the nodes' h: the cluster's log-likelihood, the summaries and the
// normalized node weights pi_k.
void node_summaries(const GhRule& rule, double uh, double s, const Eigen::VectorXd& hk,
                    Eigen::VectorXd* pik, ClusterOut* o) {
  const int K = rule.z.size();
  Eigen::VectorXd lw(K);
  for (int k = 0; k < K; ++k) lw[k] = rule.logw[k] + 0.5 * rule.z[k] * rule.z[k] + hk[k];
  const double mx = lw.maxCoeff();
  const double lse = mx + std::log((lw.array() - mx).exp().sum());
  o->ll = std::log(s) + lse;
  o->mode = uh;
  o->scale = s;
  *pik = (lw.array() - lse).exp().matrix();
  double m1 = 0, m2 = 0;
  for (int k = 0; k < K; ++k) {
    const double uk = uh + s * rule.z[k];
    m1 += (*pik)[k] * uk;
    m2 += (*pik)[k] * uk * uk;
  }
  o->pmean = m1;
  o->pvar = std::max(m2 - m1 * m1, 0.0);
}

// Cluster c by the logit fast path; the gradient (when `grad` is non-null)
// is added to *grad, with the formulas of cpp_ordinal_loglik()'s general
// path. `buf` is scratch space. False: out of the fast path's range.
bool logit_cluster(const LogitCluster& L, const OrdData& d, const GhRule& rule, int c, double u0,
                   double sigma, Eigen::VectorXd* grad, ClusterOut* o, Eigen::VectorXd* buf) {
  const int s0 = d.start[c], nc = d.start[c + 1] - s0, K = rule.z.size(), J = d.J;
  const int p = d.X.cols(), P = J - 1 + p + 1;
  if (buf->size() < 2 * nc * (K + 1)) buf->resize(2 * nc * (K + 1));
  double* fa = buf->data();
  double* sb = fa + nc * (K + 1);
  // h and the rows' F(a), S(b) at the mode from the mode's last iteration;
  // the middle node (z = 0: odd nAGQ, the Laplace approximation) is the
  // mode itself. Each point evaluated once, the same values.
  double uh;
  HVal v0;
  if (!L.mode(c, u0, &uh, &v0, fa + nc * K, sb + nc * K)) return false;
  const double s = 1 / std::sqrt(-v0.h2);
  Eigen::VectorXd hk(K), h1k(K), pik;
  for (int k = 0; k < K; ++k) {
    HVal vk;
    if (rule.z[k] == 0.0) {
      vk = v0;
      std::copy(fa + nc * K, fa + nc * (K + 1), fa + nc * k);
      std::copy(sb + nc * K, sb + nc * (K + 1), sb + nc * k);
    } else if (!L.h(c, uh + s * rule.z[k], &vk, fa + nc * k, sb + nc * k)) {
      return false;
    }
    hk[k] = vk.h;
    h1k[k] = vk.h1;
  }
  node_summaries(rule, uh, s, hk, &pik, o);
  if (!grad) return true;

  // At the mode: derivatives of h' and h'' in the parameters, and h'''.
  const double s2 = sigma * sigma;
  Eigen::VectorXd dh1 = Eigen::VectorXd::Zero(P), dh2 = Eigen::VectorXd::Zero(P);
  Eigen::VectorXd d2(nc), d3(nc);
  double h3 = 0;
  const double* fam = fa + nc * K;
  const double* sbm = sb + nc * K;
  for (int j = 0; j < nc; ++j) {
    const int i = s0 + j, cat = d.y[i];
    const double wi = d.w[i], Fa = fam[j], Sb = sbm[j];
    const double ffa = Fa * (1 - Fa), ffb = Sb * (1 - Sb);
    const double fpa = ffa * (1 - 2 * Fa), fpb = ffb * (2 * Sb - 1);
    const double D1 = Sb - Fa, D2 = -ffa - ffb, D3 = -fpa - fpb;
    if (cat < J) {
      dh1[cat - 1] += sigma * wi * ffa;
      dh2[cat - 1] -= s2 * wi * fpa;
    }
    if (cat > 1) {
      dh1[cat - 2] += sigma * wi * ffb;
      dh2[cat - 2] -= s2 * wi * fpb;
    }
    d2[j] = wi * D2;
    d3[j] = wi * D3;
    dh1[P - 1] += -sigma * wi * D1 + s2 * uh * wi * D2;
    dh2[P - 1] += 2 * s2 * wi * D2 - s2 * sigma * uh * wi * D3;
    h3 -= s2 * sigma * wi * D3;
  }
  const auto Xc = d.X.middleRows(s0, nc);
  if (p) {
    dh1.segment(J - 1, p) = sigma * (Xc.transpose() * d2);
    dh2.segment(J - 1, p) = -s2 * (Xc.transpose() * d3);
  }
  const Eigen::VectorXd du = -dh1 / v0.h2;
  const Eigen::VectorXd ds = 0.5 * s * s * s * (dh2 + h3 * du);
  // The nodes' direct derivatives, averaged with the weights pi_k.
  Eigen::VectorXd fbar = Eigen::VectorXd::Zero(nc), sbar = Eigen::VectorXd::Zero(nc);
  double gsig = 0, hbar = 0, hzbar = 0;
  for (int k = 0; k < K; ++k) {
    const double pk = pik[k];
    if (pk == 0) continue;
    const double uk = uh + s * rule.z[k];
    fbar += pk * Eigen::Map<const Eigen::VectorXd>(fa + nc * k, nc);
    sbar += pk * Eigen::Map<const Eigen::VectorXd>(sb + nc * k, nc);
    gsig += pk * uk * (h1k[k] + uk);
    hbar += pk * h1k[k];
    hzbar += pk * h1k[k] * rule.z[k];
  }
  Eigen::VectorXd acc = ds / s + hbar * du + hzbar * ds;
  Eigen::VectorXd e(nc);
  for (int j = 0; j < nc; ++j) {
    const int i = s0 + j, cat = d.y[i];
    const double wi = d.w[i];
    if (cat < J) acc[cat - 1] += wi * (1 - fbar[j] + L.r(cat));
    if (cat > 1) acc[cat - 2] += wi * (sbar[j] - 1 - L.r(cat));
    e[j] = wi * (fbar[j] - sbar[j]);
  }
  if (p) acc.segment(J - 1, p) += Xc.transpose() * e;
  acc[P - 1] += gsig;
  *grad += acc;
  return true;
}

}  // namespace

// The inputs both engines share, checked at the boundary (rows of X and Z
// by the caller); the latent distribution of `link`.
std::unique_ptr<CumLink> checked_ordinal_inputs(const Eigen::Map<Eigen::VectorXi>& y, int p,
                                                const Eigen::Map<Eigen::VectorXd>& offset,
                                                const Eigen::Map<Eigen::VectorXd>& weights,
                                                const Eigen::Map<Eigen::VectorXi>& start, int J,
                                                const Eigen::Map<Eigen::VectorXd>& theta,
                                                const Eigen::Map<Eigen::VectorXd>& beta, int nAGQ,
                                                int link) {
  const int n = y.size(), M = start.size() - 1;
  if (offset.size() != n || weights.size() != n)
    Rcpp::stop("ordinal engine: 'y', 'offset' and 'weights' differ in rows");
  if (J < 2 || theta.size() != J - 1 || beta.size() != p)
    Rcpp::stop("ordinal engine: wrong number of thresholds or coefficients");
  if (M < 1 || start[0] != 0 || start[M] != n)
    Rcpp::stop("ordinal engine: cluster starts must run from 0 to n");
  for (int c = 0; c < M; ++c)
    if (start[c + 1] < start[c]) Rcpp::stop("ordinal engine: cluster starts must not decrease");
  for (int i = 0; i < n; ++i)
    if (y[i] < 1 || y[i] > J) Rcpp::stop("ordinal engine: categories must lie in 1..J");
  if (nAGQ < 1) Rcpp::stop("ordinal engine: nAGQ must be >= 1");
  std::unique_ptr<CumLink> F = make_cum_link(link);
  if (!F) Rcpp::stop("ordinal engine: unknown link code");
  return F;
}

// The clusters' starting modes for Newton's method: the caller's (a
// non-finite one replaced by 0) or zeros.
Eigen::VectorXd start_modes(const Rcpp::Nullable<Rcpp::NumericVector>& mode_start, int M,
                            const char* who) {
  Eigen::VectorXd u0 = Eigen::VectorXd::Zero(M);
  if (mode_start.isNotNull()) {
    Rcpp::NumericVector ms(mode_start);
    if (ms.size() != M) Rcpp::stop("%s: 'mode_start' must have one value per cluster", who);
    for (int c = 0; c < M; ++c) u0[c] = std::isfinite(ms[c]) ? ms[c] : 0.0;
  }
  return u0;
}
}  // namespace glmmgee

namespace glmmgee {
// Every cluster's contribution at (thresholds th, beta, log sigma): the
// log-likelihood, with `gradient` its gradient, and the per-cluster results;
// the clusters' Newton iterations start at u0.
struct OrdEval {
  double total;
  Eigen::VectorXd grad, mode, scale, pmean, pvar, cll;
  // each cluster's gradient (P x M), kept when `want_cluster_grad`
  bool want_cluster_grad = false;
  Eigen::MatrixXd cluster_grad;
};

void ordinal_eval(const OrdData& d, const CumLink& F, int link, bool fast, const GhRule& rule,
                  const Eigen::VectorXd& th, const Eigen::VectorXd& beta, double log_sigma,
                  const Eigen::VectorXd& u0, bool gradient, OrdEval* out) {
  const int p = d.X.cols(), M = d.start.size() - 1, J = d.J;
  const Eigen::VectorXd eta0 = d.X * beta + d.off;
  const double sigma = std::exp(log_sigma);
  ClusterEval ev(d, F, th, eta0, sigma);
  const int K = rule.z.size(), P = J - 1 + p + 1;

  Eigen::VectorXd& grad = out->grad;
  grad.setZero(P);
  Eigen::VectorXd &mode = out->mode, &scale = out->scale, &pmean = out->pmean,
                  &pvar = out->pvar, &cll = out->cll;
  mode.resize(M); scale.resize(M); pmean.resize(M); pvar.resize(M); cll.resize(M);
  Eigen::VectorXd dh1(P), dh2(P), dhk(P), du(P), ds(P), acc(P);
  Eigen::VectorXd lw(K), hk(K), h1k(K);
  InterruptPoll poll(0.5);
  double total = 0;
  // The logit link's closed forms (LogitCluster), cluster by cluster where
  // they stay in range; the general evaluation otherwise.
  std::unique_ptr<LogitCluster> lc;
  if (fast && link == 0) {
    lc.reset(new LogitCluster(d, th, eta0, sigma));
    if (!lc->ok()) lc.reset();
  }
  Eigen::VectorXd buf, before;
  std::vector<double> qbuf;
  const bool per_cluster = gradient && out->want_cluster_grad;
  if (per_cluster) out->cluster_grad.resize(P, M);
  for (int c = 0; c < M; ++c) {
    if (poll.poll()) poll.raise_if_interrupted();
    if (lc) {
      ClusterOut o;
      // (adds to grad only when it succeeds; the cluster's part is the
      // difference, so that grad's sum is the same with or without it)
      if (per_cluster) before = grad;
      if (logit_cluster(*lc, d, rule, c, u0[c], sigma, gradient ? &grad : nullptr, &o, &buf)) {
        if (per_cluster) out->cluster_grad.col(c) = grad - before;
        total += o.ll;
        cll[c] = o.ll;
        mode[c] = o.mode;
        scale[c] = o.scale;
        pmean[c] = o.pmean;
        pvar[c] = o.pvar;
        continue;
      }
    }
    // The general path evaluates F at every row, mode iteration and node
    // (probit: two pnorm() per row); each point once: h at the mode comes
    // from the mode's last iteration, or with the gradient from the pass at
    // the mode (third derivatives), which then ends the iterations without
    // evaluating h at the last step first; it serves the middle node (z = 0,
    // an odd nAGQ; the Laplace approximation's one node), and the nodes'
    // first derivatives are kept for the gradient (the middle node's from
    // the pass at the mode). The same values as evaluating them again.
    HVal v0;
    bool pending = false;
    const double uh = ev.mode(c, u0[c], &v0, gradient ? &pending : nullptr);
    const int nc = d.start[c + 1] - d.start[c];
    if (gradient && static_cast<int>(qbuf.size()) < 2 * nc * (K + 1)) qbuf.resize(2 * nc * (K + 1));
    double* qak = gradient ? qbuf.data() : nullptr;
    double* qbk = gradient ? qbuf.data() + nc * (K + 1) : nullptr;
    // Derivatives of h' and h'' at the mode, and h''' there; the rows' first
    // derivatives at the mode kept in slot K of qak, qbk.
    double h3 = 0;
    if (gradient) {
      dh1.setZero();
      dh2.setZero();
      if (pending) v0 = HVal{-0.5 * uh * uh, -uh, -1.0};
      const double s2 = sigma * sigma;
      for (int i = d.start[c]; i < d.start[c + 1]; ++i) {
        const CatDerivs q = ev.at(i, uh);
        qak[nc * K + i - d.start[c]] = q.qa;
        qbk[nc * K + i - d.start[c]] = q.qb;
        const double wi = d.w[i];
        const int cat = d.y[i];
        if (pending) {  // as ClusterEval::h()
          v0.h += wi * q.q;
          v0.h1 -= sigma * wi * (q.qa + q.qb);
          v0.h2 += sigma * sigma * wi * (q.qaa + 2 * q.qab + q.qbb);
        }
        const double D1 = q.qa + q.qb, D2 = q.qaa + 2 * q.qab + q.qbb;
        const double D3 = q.qaaa + 3 * q.qaab + 3 * q.qabb + q.qbbb;
        if (cat < J) {
          dh1[cat - 1] -= sigma * wi * (q.qaa + q.qab);
          dh2[cat - 1] += s2 * wi * (q.qaaa + 2 * q.qaab + q.qabb);
        }
        if (cat > 1) {
          dh1[cat - 2] -= sigma * wi * (q.qab + q.qbb);
          dh2[cat - 2] += s2 * wi * (q.qaab + 2 * q.qabb + q.qbbb);
        }
        dh1.segment(J - 1, p) += (sigma * wi * D2) * d.X.row(i).transpose();
        dh2.segment(J - 1, p) -= (s2 * wi * D3) * d.X.row(i).transpose();
        dh1[P - 1] += -sigma * wi * D1 + s2 * uh * wi * D2;
        dh2[P - 1] += 2 * s2 * wi * D2 - s2 * sigma * uh * wi * D3;
        h3 -= s2 * sigma * wi * D3;
      }
    }
    const double s = 1 / std::sqrt(-v0.h2);
    double mx = -kInf;
    for (int k = 0; k < K; ++k) {
      if (rule.z[k] == 0.0 && gradient) {
        std::copy(qak + nc * K, qak + nc * (K + 1), qak + nc * k);
        std::copy(qbk + nc * K, qbk + nc * (K + 1), qbk + nc * k);
      }
      const HVal vk = rule.z[k] == 0.0 ? v0
                      : gradient ? ev.h(c, uh + s * rule.z[k], qak + nc * k, qbk + nc * k)
                                 : ev.h(c, uh + s * rule.z[k]);
      hk[k] = vk.h;
      h1k[k] = vk.h1;
      lw[k] = rule.logw[k] + 0.5 * rule.z[k] * rule.z[k] + vk.h;
      mx = std::max(mx, lw[k]);
    }
    const double lse = mx + std::log((lw.array() - mx).exp().sum());
    const double Lc = std::log(s) + lse;
    total += Lc;
    cll[c] = Lc;
    mode[c] = uh;
    scale[c] = s;
    Eigen::VectorXd pik = (lw.array() - lse).exp().matrix();
    double m1 = 0, m2 = 0;
    for (int k = 0; k < K; ++k) {
      const double uk = uh + s * rule.z[k];
      m1 += pik[k] * uk;
      m2 += pik[k] * uk * uk;
    }
    pmean[c] = m1;
    pvar[c] = std::max(m2 - m1 * m1, 0.0);
    if (!gradient) continue;

    du = -dh1 / v0.h2;
    ds = 0.5 * s * s * s * (dh2 + h3 * du);
    acc = ds / s;
    for (int k = 0; k < K; ++k) {
      if (pik[k] == 0) continue;
      const double uk = uh + s * rule.z[k];
      dhk.setZero();
      const double* qa = qak + nc * k;
      const double* qb = qbk + nc * k;
      for (int i = d.start[c]; i < d.start[c + 1]; ++i) {
        const int j = i - d.start[c];
        const double wi = d.w[i];
        const int cat = d.y[i];
        if (cat < J) dhk[cat - 1] += wi * qa[j];
        if (cat > 1) dhk[cat - 2] += wi * qb[j];
        dhk.segment(J - 1, p) -= (wi * (qa[j] + qb[j])) * d.X.row(i).transpose();
        dhk[P - 1] -= sigma * uk * wi * (qa[j] + qb[j]);
      }
      acc += pik[k] * (dhk + h1k[k] * (du + rule.z[k] * ds));
    }
    grad += acc;
    if (per_cluster) out->cluster_grad.col(c) = acc;
  }
  out->total = total;
}

// The Hessian of the log-likelihood in (thresholds, beta, log sigma) by
// differences of the exact gradient, evaluated here without a round trip
// to R per column: central differences (`central`, relative error ~1e-9:
// the modes are solved to 1e-11) or forward ones from the gradient at the
// point, g0 (half the evaluations, ~1e-5). The fitter now takes the exact
// Hessian (ordinal_exact_hessian(), below); these remain as checks.
Eigen::MatrixXd ordinal_fd_hessian(const OrdData& d, const CumLink& F, int link, bool fast,
                                   const GhRule& rule, const Eigen::VectorXd& th,
                                   const Eigen::VectorXd& beta, double log_sigma,
                                   const OrdEval& at, bool central) {
  const int k1 = th.size(), p = beta.size(), P = k1 + p + 1;
  Eigen::VectorXd x(P);
  x << th, beta, log_sigma;
  Eigen::MatrixXd H(P, P);
  OrdEval e;
  auto grad_at = [&](const Eigen::VectorXd& z) {
    ordinal_eval(d, F, link, fast, rule, z.head(k1), z.segment(k1, p), z[P - 1], at.mode, true, &e);
    return e.grad;
  };
  for (int j = 0; j < P; ++j) {
    const double h = (central ? 1e-4 : 1e-5) * std::max(1.0, std::fabs(x[j]));
    Eigen::VectorXd xp = x;
    xp[j] += h;
    const Eigen::VectorXd gp = grad_at(xp);
    if (central) {
      Eigen::VectorXd xm = x;
      xm[j] -= h;
      H.col(j) = (gp - grad_at(xm)) / (2 * h);
    } else {
      H.col(j) = (gp - at.grad) / h;
    }
  }
  return (H + H.transpose()) / 2;
}

namespace {
// Derivatives of l = log(F(a) - F(b)) in (a, b) to the fourth order
// (`order` 2 or 4; the others left 0). With p = F(a) - F(b) the mixed
// derivatives of p vanish and p's own are A_n = f^(n-1)(a) / p and
// B_n = -f^(n-1)(b) / p; the derivatives of log p are the joint cumulants
// of these "moments":
//   l_ij = r_ij - r_i r_j,
//   l_ijk = r_ijk - (r_ij r_k + r_ik r_j + r_jk r_i) + 2 r_i r_j r_k,
//   l_ijkl = r_ijkl - sum_4 r_ijk r_l - sum_3 r_ij r_kl + 2 sum_6 r_ij r_k r_l - 6 r_i r_j r_k r_l.
struct CatDerivs4 {
  double q, a, b, aa, ab, bb, aaa, aab, abb, bbb, aaaa, aaab, aabb, abbb, bbbb;
};

// f'''/f of the link code's F (with f = exp(phi): phi'^3 + 3 phi' phi'' +
// phi'''), beside CumLink's g1 = f'/f and g2 = f''/f.
double cum_g3(int link, const CumLink& F, double x) {
  switch (link) {
    case 0: {  // phi' = 1 - 2F = t, phi'' = -2f, phi''' = -2ft
      const double t = F.g1(x), f = std::exp(F.logf(x));
      return t * (t * t - 8 * f);
    }
    case 1: return x * (3 - x * x);  // phi' = -x, phi'' = -1
    default: {  // cloglog: phi' = 1 - e^x, phi'' = phi''' = -e^x
      const double e = std::exp(x), t = 1 - e;
      return t * t * t - 3 * t * e - e;
    }
  }
}

CatDerivs4 cat_derivs4(const CumLink& F, int link, double a, double b, int order) {
  CatDerivs4 d{};
  const bool top = std::isinf(a), bottom = std::isinf(b);
  d.q = cat_logp(F, a, b);
  const double A1 = top ? 0.0 : std::exp(F.logf(a) - d.q);
  const double B1 = bottom ? 0.0 : -std::exp(F.logf(b) - d.q);
  const double A2 = top ? 0.0 : A1 * F.g1(a), B2 = bottom ? 0.0 : B1 * F.g1(b);
  d.a = A1;
  d.b = B1;
  d.aa = A2 - A1 * A1;
  d.ab = -A1 * B1;
  d.bb = B2 - B1 * B1;
  if (order < 4) return d;
  const double A3 = top ? 0.0 : A1 * F.g2(a), B3 = bottom ? 0.0 : B1 * F.g2(b);
  const double A4 = top ? 0.0 : A1 * cum_g3(link, F, a), B4 = bottom ? 0.0 : B1 * cum_g3(link, F, b);
  const double A1s = A1 * A1, B1s = B1 * B1;
  d.aaa = A3 - 3 * A2 * A1 + 2 * A1s * A1;
  d.bbb = B3 - 3 * B2 * B1 + 2 * B1s * B1;
  d.aab = B1 * (2 * A1s - A2);
  d.abb = A1 * (2 * B1s - B2);
  d.aaaa = A4 - 4 * A3 * A1 - 3 * A2 * A2 + 12 * A2 * A1s - 6 * A1s * A1s;
  d.bbbb = B4 - 4 * B3 * B1 - 3 * B2 * B2 + 12 * B2 * B1s - 6 * B1s * B1s;
  d.aaab = B1 * (-A3 + 6 * A2 * A1 - 6 * A1s * A1);
  d.abbb = A1 * (-B3 + 6 * B2 * B1 - 6 * B1s * B1);
  d.aabb = -A2 * B2 + 2 * A2 * B1s + 2 * B2 * A1s - 6 * A1s * B1s;
  return d;
}

// Row i's share of a gradient-like vector: ca d/d(theta_k) + cb d/d(theta_{k-1})
// of the row's a = theta_k - eta and b = theta_{k-1} - eta, i.e. ca at the
// upper threshold, cb at the lower, -(ca + cb) x_i at beta.
inline void add_row_vec(Eigen::VectorXd* g, const OrdData& d, int i, double ca, double cb) {
  const int k = d.y[i], J = d.J, p = d.X.cols();
  if (k < J) (*g)[k - 1] += ca;
  if (k > 1) (*g)[k - 2] += cb;
  const double cx = -(ca + cb);
  for (int j = 0; j < p; ++j) (*g)[J - 1 + j] += cx * d.X(i, j);
}

// ... and of a matrix: caa ea ea' + cab (ea eb' + eb ea') + cbb eb eb', with
// ea, eb the gradients of a and b in (thresholds, beta).
inline void add_row_sym(Eigen::MatrixXd* H, const OrdData& d, int i, double caa, double cab,
                        double cbb) {
  const int k = d.y[i], J = d.J, p = d.X.cols();
  const int ia = k < J ? k - 1 : -1, ib = k > 1 ? k - 2 : -1;
  if (ia >= 0) (*H)(ia, ia) += caa;
  if (ib >= 0) (*H)(ib, ib) += cbb;
  if (ia >= 0 && ib >= 0) {
    (*H)(ia, ib) += cab;
    (*H)(ib, ia) += cab;
  }
  const double xa = -(caa + cab), xb = -(cab + cbb), xx = caa + 2 * cab + cbb;
  for (int j = 0; j < p; ++j) {
    const double x = d.X(i, j);
    if (ia >= 0) {
      (*H)(ia, J - 1 + j) += xa * x;
      (*H)(J - 1 + j, ia) += xa * x;
    }
    if (ib >= 0) {
      (*H)(ib, J - 1 + j) += xb * x;
      (*H)(J - 1 + j, ib) += xb * x;
    }
    for (int l = 0; l < p; ++l) (*H)(J - 1 + j, J - 1 + l) += xx * x * d.X(i, l);
  }
}
}  // namespace

// The exact Hessian (and gradient) of the approximated log-likelihood in
// (thresholds, beta, log sigma), from the clusters' modes u^ (the engine's
// `mode`, solved to 1e-11). It is derived on the scale v = sigma u, on which
// every row's a and b are linear in (thresholds, beta, v) and log sigma
// enters only the prior term: with tau = log sigma,
//   h(v) = sum_i w_i l_i(a_i, b_i) - v^2 exp(-2 tau) / 2 - tau,
// the same integral and (adaptive quadrature and the Laplace approximation
// being invariant under v = sigma u) the same approximation. With the mode
// v^ (h_v = 0), D = h_vv there, s = (-D)^(-1/2), nodes v_k = v^ + s z_k,
// g_k = h(v_k) and pi_k the normalized node weights,
//   L = log s + log sum_k W_k exp(g_k),
//   grad L = grad log s + sum_k pi_k grad g_k,
//   hess L = hess log s + sum_k pi_k (hess g_k + grad g_k grad g_k') - gbar gbar',
// with (implicit differentiation of h_v(v^) = 0)
//   m = grad v^ = -h_vpsi / D,
//   hess v^ = -(h_vpsipsi + h_vvpsi m' + m h_vvpsi' + h_vvv m m') / D,
//   grad D = h_vvpsi + h_vvv m,
//   hess D = h_vvpsipsi + h_vvvpsi m' + m h_vvvpsi' + h_vvvv m m' + h_vvv hess v^,
//   grad log s = -grad D / (2 D),  hess log s = -(hess D / D - grad D grad D' / D^2) / 2,
//   grad v_k = m + z_k grad s,  hess v_k = hess v^ + z_k hess s,
//   grad g_k = h_psi + h_v grad v_k,
//   hess g_k = h_psipsi + h_vpsi grad v_k' + grad v_k h_vpsi' + h_vv grad v_k grad v_k' + h_v hess v_k
// (h's derivatives at v_k). The mode needs l's derivatives to the fourth
// order, the other nodes to the second. One pass costs a few gradient
// evaluations; the central differences it replaces cost 2P of them.
Eigen::MatrixXd ordinal_exact_hessian(const OrdData& d, const CumLink& F, int link,
                                      const GhRule& rule,
                                      const Eigen::VectorXd& th, const Eigen::VectorXd& beta,
                                      double log_sigma, const Eigen::VectorXd& umode,
                                      Eigen::VectorXd* grad_out,
                                      Eigen::MatrixXd* cluster_hess = nullptr) {
  const int p = d.X.cols(), M = d.start.size() - 1, J = d.J, P = J - 1 + p + 1, K = rule.z.size();
  const int it = P - 1;  // log sigma
  const Eigen::VectorXd eta0 = d.X * beta + d.off;
  const double sigma = std::exp(log_sigma), e2 = std::exp(-2 * log_sigma);
  Eigen::MatrixXd H = Eigen::MatrixXd::Zero(P, P);
  Eigen::VectorXd G = Eigen::VectorXd::Zero(P);
  Eigen::VectorXd hp(P), hvp(P), hvvp(P), hvvvp(P), m(P), gD(P), gls(P), gs(P), dvk(P), gk(P),
      gbar(P), hpk(P), hvpk(P);
  Eigen::MatrixXd Hpp(P, P), Hvpp(P, P), Hvvpp(P, P), V2(P, P), HD(P, P), Hls(P, P), Hs(P, P),
      Hc(P, P), Hppk(P, P), Hk(P, P);
  Eigen::VectorXd lw(K);
  // each cluster's Hessian (P x P M), when asked for
  if (cluster_hess) cluster_hess->resize(P, static_cast<Eigen::Index>(P) * M);
  std::vector<Eigen::VectorXd> gks(K, Eigen::VectorXd(P));
  std::vector<Eigen::MatrixXd> Hks(K, Eigen::MatrixXd(P, P));
  auto bounds = [&](int i, double v, double* a, double* b) {
    const int k = d.y[i];
    const double eta = eta0[i] + v;
    *a = k == J ? kInf : th[k - 1] - eta;
    *b = k == 1 ? -kInf : th[k - 2] - eta;
  };
  // Rows x nodes x P^2 per cluster: polled every cluster.
  InterruptPoll poll(0.5);
  for (int c = 0; c < M; ++c) {
    if (poll.poll()) poll.raise_if_interrupted();
    const double vh = sigma * umode[c];
    // h and its derivatives at the mode.
    double h0 = -0.5 * vh * vh * e2 - log_sigma, hv = -vh * e2, hvv = -e2, hvvv = 0, hvvvv = 0;
    hp.setZero(); hvp.setZero(); hvvp.setZero(); hvvvp.setZero();
    Hpp.setZero(); Hvpp.setZero(); Hvvpp.setZero();
    hp[it] = vh * vh * e2 - 1;
    Hpp(it, it) = -2 * vh * vh * e2;
    hvp[it] = 2 * vh * e2;
    hvvp[it] = 2 * e2;
    Hvpp(it, it) = -4 * vh * e2;
    Hvvpp(it, it) = -4 * e2;
    for (int i = d.start[c]; i < d.start[c + 1]; ++i) {
      double a, b;
      bounds(i, vh, &a, &b);
      const CatDerivs4 q = cat_derivs4(F, link, a, b, 4);
      const double w = d.w[i];
      h0 += w * q.q;
      hv -= w * (q.a + q.b);
      hvv += w * (q.aa + 2 * q.ab + q.bb);
      hvvv -= w * (q.aaa + 3 * q.aab + 3 * q.abb + q.bbb);
      hvvvv += w * (q.aaaa + 4 * q.aaab + 6 * q.aabb + 4 * q.abbb + q.bbbb);
      add_row_vec(&hp, d, i, w * q.a, w * q.b);
      add_row_vec(&hvp, d, i, -w * (q.aa + q.ab), -w * (q.ab + q.bb));
      add_row_vec(&hvvp, d, i, w * (q.aaa + 2 * q.aab + q.abb), w * (q.aab + 2 * q.abb + q.bbb));
      add_row_vec(&hvvvp, d, i, -w * (q.aaaa + 3 * q.aaab + 3 * q.aabb + q.abbb),
                  -w * (q.aaab + 3 * q.aabb + 3 * q.abbb + q.bbbb));
      add_row_sym(&Hpp, d, i, w * q.aa, w * q.ab, w * q.bb);
      add_row_sym(&Hvpp, d, i, -w * (q.aaa + q.aab), -w * (q.aab + q.abb), -w * (q.abb + q.bbb));
      add_row_sym(&Hvvpp, d, i, w * (q.aaaa + 2 * q.aaab + q.aabb),
                  w * (q.aaab + 2 * q.aabb + q.abbb), w * (q.aabb + 2 * q.abbb + q.bbbb));
    }
    const double D = hvv;
    m = -hvp / D;
    V2 = -(Hvpp + hvvp * m.transpose() + m * hvvp.transpose() + hvvv * m * m.transpose()) / D;
    gD = hvvp + hvvv * m;
    HD = Hvvpp + hvvvp * m.transpose() + m * hvvvp.transpose() + hvvvv * m * m.transpose() +
         hvvv * V2;
    const double s = 1 / std::sqrt(-D);
    gls = -gD / (2 * D);
    Hls = -(HD / D - gD * gD.transpose() / (D * D)) / 2;
    gs = s * gls;
    Hs = s * (Hls + gls * gls.transpose());
    // The nodes.
    double mx = -kInf;
    for (int k = 0; k < K; ++k) {
      const double z = rule.z[k];
      double hk = h0, hvk = hv, hvvk = hvv;
      if (z == 0.0) {
        hpk = hp;
        hvpk = hvp;
        Hppk = Hpp;
      } else {
        const double vk = vh + s * z;
        hk = -0.5 * vk * vk * e2 - log_sigma;
        hvk = -vk * e2;
        hvvk = -e2;
        hpk.setZero(); hvpk.setZero(); Hppk.setZero();
        hpk[it] = vk * vk * e2 - 1;
        Hppk(it, it) = -2 * vk * vk * e2;
        hvpk[it] = 2 * vk * e2;
        for (int i = d.start[c]; i < d.start[c + 1]; ++i) {
          double a, b;
          bounds(i, vk, &a, &b);
          const CatDerivs4 q = cat_derivs4(F, link, a, b, 2);
          const double w = d.w[i];
          hk += w * q.q;
          hvk -= w * (q.a + q.b);
          hvvk += w * (q.aa + 2 * q.ab + q.bb);
          add_row_vec(&hpk, d, i, w * q.a, w * q.b);
          add_row_vec(&hvpk, d, i, -w * (q.aa + q.ab), -w * (q.ab + q.bb));
          add_row_sym(&Hppk, d, i, w * q.aa, w * q.ab, w * q.bb);
        }
      }
      lw[k] = rule.logw[k] + 0.5 * z * z + hk;
      mx = std::max(mx, lw[k]);
      dvk = m + z * gs;
      gks[k] = hpk + hvk * dvk;
      Hks[k] = Hppk + hvpk * dvk.transpose() + dvk * hvpk.transpose() +
               hvvk * dvk * dvk.transpose() + hvk * (V2 + z * Hs);
    }
    const double lse = mx + std::log((lw.array() - mx).exp().sum());
    gbar.setZero();
    Hc = Hls;
    for (int k = 0; k < K; ++k) {
      const double pk = std::exp(lw[k] - lse);
      if (pk == 0) continue;
      gbar += pk * gks[k];
      Hc += pk * (Hks[k] + gks[k] * gks[k].transpose());
    }
    Hc -= gbar * gbar.transpose();
    H += Hc;
    G += gls + gbar;
    if (cluster_hess)
      cluster_hess->block(0, static_cast<Eigen::Index>(P) * c, P, P) = (Hc + Hc.transpose()) / 2;
  }
  if (grad_out) *grad_out = G;
  return (H + H.transpose()) / 2;
}

}  // namespace glmmgee

// The approximated log-likelihood (full: every constant included), its
// gradient in (thresholds, beta, log sigma), and per cluster the mode of u,
// the scale s, the posterior mean and variance of u and the log-likelihood;
// with hessian = 1 or 2 also the Hessian (ordinal_fd_hessian(): forward or
// central differences of the gradient), with hessian = 3 the exact one
// (ordinal_exact_hessian(); `hessian_gradient`: the gradient by its
// formulas, equal to `gradient` to rounding), and with `clusters` also
// each cluster's gradient (`cluster_gradient`, M x P) and, with hessian =
// 3, its Hessian (`cluster_hessian`, P x P x M), whose sums they are.
Rcpp::List glmmgee_exports::ordinal_loglik(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                              Eigen::Map<Eigen::VectorXd> offset,
                              Eigen::Map<Eigen::VectorXd> weights,
                              Eigen::Map<Eigen::VectorXi> start, int J,
                              Eigen::Map<Eigen::VectorXd> theta, Eigen::Map<Eigen::VectorXd> beta,
                              double log_sigma, int nAGQ, int link, bool gradient,
                              Rcpp::Nullable<Rcpp::NumericVector> mode_start,
                              bool fast, int hessian, bool clusters) {
  using namespace glmmgee;
  const int n = y.size(), p = X.cols(), M = start.size() - 1;
  if (X.rows() != n) Rcpp::stop("ordinal engine: 'y' and 'X' differ in rows");
  if (hessian < 0 || hessian > 3)
    Rcpp::stop("ordinal engine: 'hessian' must be 0 (none), 1 (forward), 2 (central differences) or 3 (exact)");
  if (clusters && (!gradient || (hessian != 0 && hessian != 3)))
    Rcpp::stop("ordinal engine: the clusters' parts need the gradient and hessian = 0 or 3 (exact)");
  std::unique_ptr<CumLink> F =
      checked_ordinal_inputs(y, p, offset, weights, start, J, theta, beta, nAGQ, link);
  // The previous evaluation's modes: Newton's method then needs a step or two.
  const Eigen::VectorXd u0 = start_modes(mode_start, M, "ordinal engine");

  Eigen::Map<const Eigen::VectorXi> cy(y.data(), n), cst(start.data(), M + 1);
  Eigen::Map<const Eigen::MatrixXd> cX(X.data(), n, p);
  Eigen::Map<const Eigen::VectorXd> co(offset.data(), n), cw(weights.data(), n);
  OrdData d{cy, cX, co, cw, cst, J};
  OrdEval e;
  e.want_cluster_grad = clusters;
  const GhRule rule = gh_rule(nAGQ);
  const Eigen::VectorXd th = theta, b = beta;
  ordinal_eval(d, *F, link, fast, rule, th, b, log_sigma, u0, gradient || hessian > 0, &e);
  Rcpp::List out = Rcpp::List::create(
      Rcpp::Named("loglik") = e.total, Rcpp::Named("gradient") = Rcpp::wrap(e.grad),
      Rcpp::Named("mode") = Rcpp::wrap(e.mode), Rcpp::Named("scale") = Rcpp::wrap(e.scale),
      Rcpp::Named("post_mean") = Rcpp::wrap(e.pmean), Rcpp::Named("post_var") = Rcpp::wrap(e.pvar),
      Rcpp::Named("cluster_loglik") = Rcpp::wrap(e.cll));
  if (clusters) out["cluster_gradient"] = Rcpp::wrap(Eigen::MatrixXd(e.cluster_grad.transpose()));
  if (hessian > 0) {
    const bool ok = std::isfinite(e.total) && e.grad.allFinite() && e.mode.allFinite();
    const int P = e.grad.size();
    if (!ok) {
      out["hessian"] = Rcpp::wrap(Eigen::MatrixXd::Constant(P, P, NA_REAL));
      if (clusters) {
        Rcpp::NumericVector ch(static_cast<R_xlen_t>(P) * P * M, NA_REAL);
        ch.attr("dim") = Rcpp::IntegerVector::create(P, P, M);
        out["cluster_hessian"] = ch;
      }
    } else if (hessian == 3) {
      Eigen::VectorXd g;
      Eigen::MatrixXd chm;
      out["hessian"] = Rcpp::wrap(ordinal_exact_hessian(d, *F, link, rule, th, b, log_sigma, e.mode,
                                                        &g, clusters ? &chm : nullptr));
      out["hessian_gradient"] = Rcpp::wrap(g);
      if (clusters) {
        Rcpp::NumericVector ch(chm.data(), chm.data() + chm.size());
        ch.attr("dim") = Rcpp::IntegerVector::create(P, P, M);
        out["cluster_hessian"] = ch;
      }
    } else {
      out["hessian"] = Rcpp::wrap(ordinal_fd_hessian(d, *F, link, fast, rule, th, b, log_sigma, e,
                                                     hessian == 2));
    }
  }
  return out;
}

namespace glmmgee {
namespace {
// The search of ordinal_glmm_fit() (R/fit-ordinal.R) on its scale
// par = (alpha_1, log increments alpha_2.., beta, log sigma), thresholds
// theta_j = alpha_1 + sum_{m=2..j} exp(alpha_m), without a round trip to R
// per evaluation: on small data (wine, 72 rows) R's overhead per step was
// most of the fit. The same steps as newton_search() (R/search.R)
// with bfgs = TRUE, interpolate = TRUE: Newton steps from the curvature at
// the start, BFGS updates, a step that lowers the log-likelihood shortened
// to the maximum of the quadratic through the start and the trial (within
// [0.1, 0.5] of the trial), a bound on log sigma approached by `shrink` of
// the way, converged when the Newton decrement is below tol * max(1, |ll|).
class OrdSearch {
 public:
  OrdSearch(const OrdData& d, const CumLink& F, int link, const GhRule& rule,
            const Eigen::VectorXd& u0)
      : d_(d), F_(F), link_(link), rule_(rule), u0_(u0), k1_(d.J - 1), p_(d.X.cols()),
        P_(k1_ + p_ + 1) {}

  int evaluations() const { return evals_; }
  const Eigen::VectorXd& modes() const { return u0_; }

  // The log-likelihood and its gradient at par (-Inf and false where not
  // finite); each finite evaluation's modes start the next one's.
  bool eval(const Eigen::VectorXd& par, double* ll, Eigen::VectorXd* g) {
    OrdEval e;
    ordinal_eval(d_, F_, link_, true, rule_, thetas(par), par.segment(k1_, p_), par[P_ - 1], u0_,
                 true, &e);
    ++evals_;
    if (e.mode.allFinite()) u0_ = e.mode;
    if (!std::isfinite(e.total) || !e.grad.allFinite()) {
      *ll = -kInf;
      g->setConstant(P_, NA_REAL);
      return false;
    }
    *ll = e.total;
    *g = e.grad;
    // d theta_j / d alpha_m: 1 for m = 1, exp(alpha_m) for 2 <= m <= j.
    for (int j = k1_ - 2; j >= 0; --j) (*g)[j] += (*g)[j + 1];
    for (int m = 1; m < k1_; ++m) (*g)[m] *= std::exp(par[m]);
    return true;
  }

  // The Hessian on par's scale from the engine's exact one in (thresholds,
  // beta, log sigma) (ordinal_exact_hessian(); counted as one evaluation).
  Eigen::MatrixXd hessian(const Eigen::VectorXd& par) {
    OrdEval e;
    const Eigen::VectorXd th = thetas(par);
    const Eigen::VectorXd b = par.segment(k1_, p_);
    ordinal_eval(d_, F_, link_, true, rule_, th, b, par[P_ - 1], u0_, true, &e);
    evals_ += 2;
    if (!std::isfinite(e.total) || !e.grad.allFinite() || !e.mode.allFinite())
      return Eigen::MatrixXd::Constant(P_, P_, NA_REAL);
    u0_ = e.mode;
    const Eigen::MatrixXd Hp =
        ordinal_exact_hessian(d_, F_, link_, rule_, th, b, par[P_ - 1], e.mode, nullptr);
    return to_par_scale(par, Hp, e.grad);
  }

 private:
  // From Hp and gradient g in (thresholds, beta, log sigma): with
  // D = d theta / d alpha, D' Hp D plus, for m >= 2, exp(alpha_m) times the
  // alpha-gradient (d^2 theta_j / d alpha_m^2 = exp(alpha_m), j >= m).
  Eigen::MatrixXd to_par_scale(const Eigen::VectorXd& par, const Eigen::MatrixXd& Hp,
                               const Eigen::VectorXd& g) const {
    Eigen::MatrixXd D = Eigen::MatrixXd::Identity(P_, P_);
    for (int j = 0; j < k1_; ++j) {
      D(j, 0) = 1;
      for (int m = 1; m <= j; ++m) D(j, m) = std::exp(par[m]);
    }
    Eigen::MatrixXd H = D.transpose() * Hp * D;
    double ga = 0;
    for (int j = k1_ - 1; j >= 1; --j) {
      ga += g[j];
      H(j, j) += ga * std::exp(par[j]);
    }
    return H;
  }

 private:
  Eigen::VectorXd thetas(const Eigen::VectorXd& par) const {
    Eigen::VectorXd th(k1_);
    th[0] = par[0];
    for (int j = 1; j < k1_; ++j) th[j] = th[j - 1] + std::exp(par[j]);
    return th;
  }

  const OrdData& d_;
  const CumLink& F_;
  int link_;
  const GhRule& rule_;
  Eigen::VectorXd u0_;
  int k1_, p_, P_, evals_ = 0;
};

struct SearchResult {
  Eigen::VectorXd par;
  Eigen::MatrixXd H;  // -B, the updated information, or the start's
  bool converged = false;
  int iterations = 0;
  std::string message;
};

// The BFGS update of the information B from step s and gradient change yv
// (of -loglik), as bfgs_update() (R/search.R); false: not updated.
bool bfgs_step(Eigen::MatrixXd* B, Eigen::LLT<Eigen::MatrixXd>* ch, const Eigen::VectorXd& s,
               const Eigen::VectorXd& yv) {
  const double sy = s.dot(yv);
  if (!yv.allFinite() || !std::isfinite(sy) ||
      !(sy > 1e-12 * std::sqrt(s.squaredNorm() * yv.squaredNorm())))
    return false;
  const Eigen::VectorXd Bs = *B * s;
  const Eigen::MatrixXd B1 = *B - Bs * Bs.transpose() / s.dot(Bs) + yv * yv.transpose() / sy;
  Eigen::LLT<Eigen::MatrixXd> c1(B1);
  if (c1.info() != Eigen::Success) return false;
  *B = B1;
  *ch = c1;
  return true;
}

SearchResult newton_bfgs(OrdSearch* S, Eigen::VectorXd par, const Eigen::MatrixXd& H0,
                         const Eigen::VectorXd& lower, int maxit, double tol, double shrink,
                         int max_hits) {
  SearchResult res;
  res.par = par;
  res.H = H0;
  Eigen::MatrixXd B = -H0;
  Eigen::LLT<Eigen::MatrixXd> ch;
  if (B.allFinite()) ch.compute(B);
  if (!B.allFinite() || ch.info() != Eigen::Success) {
    res.message = "Hessian not negative definite";
    return res;
  }
  const int P = par.size();
  double ll;
  Eigen::VectorXd g(P), gn(P), th(P);
  S->eval(par, &ll, &g);
  int hits = 0;
  for (int it = 1; it <= maxit; ++it) {
    Rcpp::checkUserInterrupt();
    const Eigen::VectorXd step = ch.solve(g);
    const double dec = step.dot(g);
    if (!std::isfinite(dec)) break;
    if (dec < tol * std::max(1.0, std::fabs(ll)) || step.cwiseAbs().maxCoeff() < 1e-10) {
      res.converged = true;
      break;
    }
    double t = 1;
    bool out = false;
    double tb = kInf;
    for (int j = 0; j < P; ++j)
      if (par[j] + step[j] < lower[j]) {
        out = true;
        tb = std::min(tb, (lower[j] - par[j]) / step[j]);
      }
    if (out) {
      t = std::min(1.0, shrink * tb);
      ++hits;
    } else {
      hits = 0;
    }
    if (!std::isfinite(t) || t <= 0 || hits > max_hits) break;
    bool ok = false;
    double lln = -kInf;
    for (;;) {
      th = par + t * step;
      S->eval(th, &lln, &gn);
      if (std::isfinite(lln) && lln >= ll - 1e-10 * std::fabs(ll)) {
        ok = t >= 1e-4;
        break;
      }
      const double ft = lln - ll;
      const double tq = std::isfinite(ft) ? dec * t * t / (2 * (dec * t - ft)) : t / 2;
      t = std::min(std::max(tq, 0.1 * t), 0.5 * t);
      if (t < 1e-4) break;
    }
    if (!ok) break;
    bfgs_step(&B, &ch, th - par, g - gn);
    par = th;
    ll = lln;
    g = gn;
    res.iterations = it;
  }
  res.par = par;
  res.H = -B;
  res.message = res.converged ? "Newton decrement below tolerance" : "Newton steps did not converge";
  return res;
}
}  // namespace
}  // namespace glmmgee

// The search of the random-intercept fit on the optimizer's scale (see
// OrdSearch): from par0 with the curvature H0 (NULL: the exact Hessian at
// par0), Newton/BFGS steps until the Newton
// decrement is below tol * max(1, |loglik|) or maxit steps. Returns the
// parameters, whether it converged, the updated Hessian (`hessian`; the
// start's, `hessian0`, for a fallback's scaling), the steps, the engine
// evaluations (an exact Hessian counted as one) and the last modes.
Rcpp::List glmmgee_exports::ordinal_search(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                              Eigen::Map<Eigen::VectorXd> offset,
                              Eigen::Map<Eigen::VectorXd> weights,
                              Eigen::Map<Eigen::VectorXi> start, int J,
                              Eigen::Map<Eigen::VectorXd> par0, int nAGQ, int link,
                              Rcpp::Nullable<Rcpp::NumericVector> mode_start,
                              Rcpp::Nullable<Rcpp::NumericMatrix> H0,
                              Eigen::Map<Eigen::VectorXd> lower, int maxit, double tol) {
  using namespace glmmgee;
  const int n = y.size(), p = X.cols(), M = start.size() - 1, P = J - 1 + p + 1;
  if (X.rows() != n) Rcpp::stop("ordinal search: 'y' and 'X' differ in rows");
  if (J < 2 || par0.size() != P || lower.size() != P)
    Rcpp::stop("ordinal search: 'par0' and 'lower' must have J - 1 + ncol(X) + 1 values");
  if (maxit < 0 || !(tol > 0)) Rcpp::stop("ordinal search: 'maxit' and 'tol' must be positive");
  // (the checks read only the lengths of the thresholds and beta)
  std::unique_ptr<CumLink> F = checked_ordinal_inputs(
      y, p, offset, weights, start, J, Eigen::Map<Eigen::VectorXd>(par0.data(), J - 1),
      Eigen::Map<Eigen::VectorXd>(par0.data() + J - 1, p), nAGQ, link);
  const Eigen::VectorXd u0 = start_modes(mode_start, M, "ordinal search");
  Eigen::Map<const Eigen::VectorXi> cy(y.data(), n), cst(start.data(), M + 1);
  Eigen::Map<const Eigen::MatrixXd> cX(X.data(), n, p);
  Eigen::Map<const Eigen::VectorXd> co(offset.data(), n), cw(weights.data(), n);
  OrdData d{cy, cX, co, cw, cst, J};
  const GhRule rule = gh_rule(nAGQ);
  OrdSearch S(d, *F, link, rule, u0);
  const Eigen::VectorXd par = par0;
  Eigen::MatrixXd H;
  if (H0.isNotNull()) {
    Rcpp::NumericMatrix h(H0);
    if (h.nrow() != P || h.ncol() != P) Rcpp::stop("ordinal search: 'H0' must be P x P");
    H = Eigen::Map<Eigen::MatrixXd>(h.begin(), P, P);
  } else {
    H = S.hessian(par);
  }
  const SearchResult r = newton_bfgs(&S, par, H, lower, maxit, tol, 0.5, 1);
  return Rcpp::List::create(
      Rcpp::Named("par") = Rcpp::wrap(r.par), Rcpp::Named("converged") = r.converged,
      Rcpp::Named("hessian") = Rcpp::wrap(r.H), Rcpp::Named("hessian0") = Rcpp::wrap(H),
      Rcpp::Named("iterations") = r.iterations, Rcpp::Named("message") = r.message,
      Rcpp::Named("evaluations") = S.evaluations(), Rcpp::Named("mode") = Rcpp::wrap(S.modes()));
}

// Per-observation log-likelihood and its derivatives in (thresholds, beta)
// for a cumulative link model without random effects (eta = X beta + offset):
// the scores the ordinal GEE's sandwich sums by cluster, and the category
// probabilities for its expected information.
Rcpp::List glmmgee_exports::ordinal_scores(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::VectorXd> eta,
                              Eigen::Map<Eigen::VectorXd> theta, int link) {
  using namespace glmmgee;
  const int n = y.size(), J = theta.size() + 1;
  if (eta.size() != n) Rcpp::stop("ordinal scores: 'y' and 'eta' differ in length");
  std::unique_ptr<CumLink> F = make_cum_link(link);
  if (!F) Rcpp::stop("ordinal scores: unknown link code");
  Rcpp::NumericVector ll(n), da(n), db(n);
  for (int i = 0; i < n; ++i) {
    const int k = y[i];
    if (k < 1 || k > J) Rcpp::stop("ordinal scores: categories must lie in 1..J");
    const double a = k == J ? kInf : theta[k - 1] - eta[i];
    const double b = k == 1 ? -kInf : theta[k - 2] - eta[i];
    const CatDerivs q = cat_derivs(*F, a, b);
    ll[i] = q.q;
    da[i] = q.qa;
    db[i] = q.qb;
  }
  return Rcpp::List::create(Rcpp::Named("loglik") = ll, Rcpp::Named("d_upper") = da,
                            Rcpp::Named("d_lower") = db);
}
