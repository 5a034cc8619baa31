// Multilevel AGHQ for nested random intercepts; see agq-nested.h.
#include "engines/agq/agq-nested.h"
#include "util/lin-pred.h"
#include "util/parallel.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

namespace {
const double NEG_INF = -std::numeric_limits<double>::infinity();

// Maximises a concave-near-the-optimum scalar function by Newton steps with
// step halving. eval(u, F, g, h) gives the value, first and second
// derivative. The last call of eval is always at the returned point, so any
// state eval leaves behind (the children's modes) belongs to the maximiser.
template <class Eval>
bool newton_max(double& u, Eval eval, double& F, double& g, double& h) {
  eval(u, F, g, h);
  if (!std::isfinite(F)) return false;
  for (int it = 0; it < 200; ++it) {
    // Where the curvature is not negative (a family whose log-likelihood is
    // not concave in eta, far from the mode) a plain gradient step.
    const double curv = h < -1e-12 ? h : -1.0 - std::fabs(h);
    double step = -g / curv;
    if (std::fabs(step) < 1e-11 * std::max(1.0, std::fabs(u))) return true;
    const double u0 = u, F0 = F, g0 = g, h0 = h;
    bool ok = false;
    for (int half = 0; half < 40; ++half) {
      u = u0 + step;
      eval(u, F, g, h);
      if (std::isfinite(F) && F >= F0 - 1e-13 * std::fabs(F0)) { ok = true; break; }
      step /= 2;
    }
    if (!ok) {
      u = u0;
      eval(u, F, g, h);
      (void)g0; (void)h0;
      return std::fabs(g) < 1e-6 * std::max(1.0, std::fabs(F));
    }
  }
  return std::fabs(g) < 1e-6 * std::max(1.0, std::fabs(F));
}

double logsumexp(const double* t, int K) {
  double m = NEG_INF;
  for (int k = 0; k < K; ++k) m = std::max(m, t[k]);
  if (!std::isfinite(m)) return m;
  double s = 0.0;
  for (int k = 0; k < K; ++k) s += std::exp(t[k] - m);
  return m + std::log(s);
}
}  // namespace

NestedAgq::NestedAgq(const Eigen::Ref<const Eigen::MatrixXd>& X,
                     const Eigen::Ref<const Eigen::VectorXd>& y,
                     const Eigen::Ref<const Eigen::VectorXd>& wt,
                     const Eigen::Ref<const Eigen::VectorXd>& offset,
                     const std::vector<std::vector<int> >& unit, int family, int link,
                     int nthreads, const Eigen::Ref<const Eigen::MatrixXd>& Z)
    : n_((int)X.rows()), p_((int)X.cols()), L_((int)unit.size()),
      fam_(make_obs_model(family, link)), X_(X), y_(y), wt_(wt), off_(offset),
      nthreads_(nthreads) {
  if (!fam_) throw std::invalid_argument("unsupported family/link codes");
  if (L_ < 1) throw std::invalid_argument("need at least one level of random effects");
  disp_ = fam_->has_dispersion();
  for (int i = 0; i < n_; ++i) lconst_ += fam_->logconst(y_[i], wt_[i]);
  nunits_.resize(L_);
  for (int l = 0; l < L_; ++l) {
    if ((int)unit[l].size() != n_)
      throw std::invalid_argument("level " + std::to_string(l + 1) + " has " +
                                  std::to_string(unit[l].size()) + " unit codes for " +
                                  std::to_string(n_) + " observations");
    int mx = -1;
    for (int i = 0; i < n_; ++i) {
      if (unit[l][i] < 0) throw std::invalid_argument("negative unit code");
      mx = std::max(mx, unit[l][i]);
    }
    nunits_[l] = mx + 1;
  }
  // Parents, checked: a unit with two parents is a crossed design.
  child_start_.resize(L_);
  child_idx_.resize(L_);
  for (int l = 0; l + 1 < L_; ++l) {
    std::vector<int> parent(nunits_[l + 1], -1);
    for (int i = 0; i < n_; ++i) {
      int& pa = parent[unit[l + 1][i]];
      if (pa < 0) pa = unit[l][i];
      else if (pa != unit[l][i])
        throw std::invalid_argument("level " + std::to_string(l + 2) +
                                    " is not nested in level " + std::to_string(l + 1));
    }
    std::vector<int>& st = child_start_[l];
    st.assign(nunits_[l] + 1, 0);
    for (int w = 0; w < nunits_[l + 1]; ++w) {
      if (parent[w] < 0) throw std::invalid_argument("a unit without observations");
      ++st[parent[w] + 1];
    }
    for (int v = 0; v < nunits_[l]; ++v) st[v + 1] += st[v];
    std::vector<int> pos(st.begin(), st.end() - 1);
    child_idx_[l].resize(nunits_[l + 1]);
    for (int w = 0; w < nunits_[l + 1]; ++w) child_idx_[l][pos[parent[w]]++] = w;
  }
  const int last = L_ - 1;
  obs_start_.assign(nunits_[last] + 1, 0);
  for (int i = 0; i < n_; ++i) ++obs_start_[unit[last][i] + 1];
  for (int v = 0; v < nunits_[last]; ++v) obs_start_[v + 1] += obs_start_[v];
  std::vector<int> pos(obs_start_.begin(), obs_start_.end() - 1);
  obs_idx_.resize(n_);
  for (int i = 0; i < n_; ++i) obs_idx_[pos[unit[last][i]]++] = i;
  // The observations in unit order, so a unit's are contiguous for the
  // families' batch functions.
  ys_.resize(n_);
  ws_.resize(n_);
  Xs_.resize(n_, p_);
  for (int j = 0; j < n_; ++j) {
    ys_[j] = y_[obs_idx_[j]];
    ws_[j] = wt_[obs_idx_[j]];
    Xs_.row(j) = X_.row(obs_idx_[j]);
  }
  for (int v = 0; v < nunits_[last]; ++v)
    maxleaf_ = std::max(maxleaf_, obs_start_[v + 1] - obs_start_[v]);
  if (Z.cols() > 0) {
    if (Z.rows() != n_)
      throw std::invalid_argument("the innermost level's design has " + std::to_string(Z.rows()) +
                                  " rows for " + std::to_string(n_) + " observations");
    if (Z.cols() > 8) throw std::invalid_argument("at most 8 effects at the innermost level");
    zleaf_ = true;
    q_ = (int)Z.cols();
    nlam_ = q_ * (q_ + 1) / 2;
    Zs_.resize(n_, q_);
    for (int j = 0; j < n_; ++j) Zs_.row(j) = Z.row(obs_idx_[j]);
    const size_t nl = nunits_[last];
    lmode_.assign(nl * q_, 0.0);
    lkap_.assign(nl * q_, 0.0);
    lchol_.assign(nl * q_ * q_, 0.0);
    lcat_.assign(nl, 0.0);
    lldet_.assign(nl, 0.0);
  }
  mode_.resize(L_);
  sig_.resize(L_);
  kap_.resize(L_);
  cat_.resize(L_);
  for (int l = 0; l < L_; ++l) {
    mode_[l].assign(nunits_[l], 0.0);
    sig_[l].assign(nunits_[l], 1.0);
    kap_[l].assign(nunits_[l], 0.0);
    cat_[l].assign(nunits_[l], 0.0);
  }
}

double NestedAgq::leaf_sum(int v, double shift, Ctx& cx) const {
  const int a = obs_start_[v], n = obs_start_[v + 1] - a;
  for (int j = 0; j < n; ++j) cx.buf[j] = cx.eta[a + j] + shift;
  return fam_->loglik_d1_n(ys_.data() + a, ws_.data() + a, cx.buf, n, cx.phi, cx.d1);
}

// The parts of a leaf's gradient shared by leaf_grad() and leaf_grad_q(),
// from the d l / d eta the last leaf sum left in cx.d1 (and its eta in
// cx.buf): the fixed effects' entries into g[0, p), returning sum d1 (the
// factor of each intercept level's SD), and the log dispersion's entry.
double NestedAgq::leaf_grad_beta(int v, const Ctx& cx, double* g) const {
  const int a = obs_start_[v], n = obs_start_[v + 1] - a;
  double S = 0.0;
  for (int j = 0; j < n; ++j) S += cx.d1[j];
  for (int k = 0; k < p_; ++k) {
    const double* x = Xs_.data() + (size_t)k * n_ + a;
    double t = 0.0;
    for (int j = 0; j < n; ++j) t += cx.d1[j] * x[j];
    g[k] = t;
  }
  return S;
}

double NestedAgq::leaf_grad_phi(int v, const Ctx& cx) const {
  const int a = obs_start_[v], n = obs_start_[v + 1] - a;
  double t = 0.0, out[3];
  for (int j = 0; j < n; ++j) {
    fam_->dphi(ys_[a + j], ws_[a + j], cx.buf[j], cx.phi, out);
    t += out[0];
  }
  return t;
}

// The gradient of the leaf sum at the shift leaf_sum() was last called with
// (its eta + shift in cx.buf, its d l / d eta in cx.d1).
void NestedAgq::leaf_grad(int v, Ctx& cx, double* g) const {
  const double S = leaf_grad_beta(v, cx, g);
  for (int l = 0; l < L_; ++l) g[p_ + l] = S * cx.path[l];
  if (disp_) g[p_ + L_] = leaf_grad_phi(v, cx);
}

double NestedAgq::leaf_sum_q(int v, double c, const Eigen::VectorXd& u, Ctx& cx) const {
  const int a = obs_start_[v], n = obs_start_[v + 1] - a;
  Eigen::Map<const Eigen::MatrixXd> lam(cx.lam, q_, q_);
  const Eigen::VectorXd b = lam.triangularView<Eigen::Lower>() * u;
  for (int j = 0; j < n; ++j) cx.buf[j] = cx.eta[a + j] + c + Zs_.row(a + j).dot(b);
  return fam_->loglik_d1_n(ys_.data() + a, ws_.data() + a, cx.buf, n, cx.phi, cx.d1);
}

// As leaf_grad(), at the node u of the innermost unit: d eta_i / d Lambda_rk
// = z_ir u_k with the node held fixed.
void NestedAgq::leaf_grad_q(int v, const Eigen::VectorXd& u, Ctx& cx, double* g) const {
  const int a = obs_start_[v], n = obs_start_[v + 1] - a;
  const double S = leaf_grad_beta(v, cx, g);
  for (int l = 0; l + 1 < L_; ++l) g[p_ + l] = S * cx.path[l];
  Eigen::VectorXd zd1 = Eigen::VectorXd::Zero(q_);
  for (int j = 0; j < n; ++j) zd1 += cx.d1[j] * Zs_.row(a + j).transpose();
  int e = p_ + L_ - 1;
  for (int k = 0; k < q_; ++k)
    for (int r = k; r < q_; ++r) g[e++] = zd1[r] * u[k];
  if (disp_) g[e] = leaf_grad_phi(v, cx);
}

void NestedAgq::profile_leaf(int v, double c, Ctx& cx, double* P, double* P1, double* P2) {
  *P = NEG_INF;
  *P1 = *P2 = 0.0;
  if (cx.ip->poll() || cx.ip->interrupted()) return;
  const int q = q_, a0 = obs_start_[v], n = obs_start_[v + 1] - a0;
  const Eigen::MatrixXd lam =
      Eigen::Map<const Eigen::MatrixXd>(cx.lam, q, q).triangularView<Eigen::Lower>();
  const Eigen::MatrixXd Zv = Zs_.middleRows(a0, n);
  Eigen::Map<Eigen::VectorXd> mode(lmode_.data() + (size_t)v * q, q);
  Eigen::Map<Eigen::VectorXd> kap(lkap_.data() + (size_t)v * q, q);
  double S1 = 0.0, D = 0.0;
  Eigen::VectorXd zd1(q), zd2(q);
  Eigen::MatrixXd M(q, q);
  auto eval = [&](const Eigen::VectorXd& u, Eigen::VectorXd& g, Eigen::MatrixXd& H) {
    const Eigen::VectorXd e = Zv * (lam * u);
    for (int j = 0; j < n; ++j) cx.buf[j] = cx.eta[a0 + j] + c + e[j];
    fam_->derivs_n(ys_.data() + a0, ws_.data() + a0, cx.buf, n, cx.phi, cx.od);
    double val = -0.5 * u.squaredNorm();
    S1 = D = 0.0;
    zd1.setZero();
    zd2.setZero();
    M.setZero();
    for (int j = 0; j < n; ++j) {
      const ObsDerivs& o = cx.od[j];
      val += o.l;
      S1 += o.d1;
      D += o.d2;
      zd1 += o.d1 * Zv.row(j).transpose();
      zd2 += o.d2 * Zv.row(j).transpose();
      M.noalias() += o.d2 * Zv.row(j).transpose() * Zv.row(j);
    }
    g = -u + lam.transpose() * zd1;
    H = lam.transpose() * M * lam - Eigen::MatrixXd::Identity(q, q);
    return val;
  };
  // Warm start along du^/dc, then Newton steps with step halving as in
  // newton_max(); where -H is not positive definite, a gradient step.
  Eigen::VectorXd u = mode + kap * (c - lcat_[v]), g(q);
  if (!u.allFinite()) u.setZero();
  Eigen::MatrixXd H(q, q);
  double F = eval(u, g, H);
  bool ok = std::isfinite(F), done = false;
  for (int it = 0; ok && !done && it < 200; ++it) {
    Eigen::LLT<Eigen::MatrixXd> llt(-H);
    Eigen::VectorXd step = llt.info() == Eigen::Success
                               ? Eigen::VectorXd(llt.solve(g))
                               : Eigen::VectorXd(g / (1.0 + H.cwiseAbs().maxCoeff()));
    if (step.lpNorm<Eigen::Infinity>() < 1e-11 * std::max(1.0, u.lpNorm<Eigen::Infinity>())) {
      done = true;
      break;
    }
    const Eigen::VectorXd u0 = u;
    const double F0 = F;
    bool moved = false;
    for (int half = 0; half < 40; ++half) {
      u = u0 + step;
      F = eval(u, g, H);
      if (std::isfinite(F) && F >= F0 - 1e-13 * std::fabs(F0)) {
        moved = true;
        break;
      }
      step /= 2;
    }
    if (!moved) {
      u = u0;
      F = eval(u, g, H);
      break;
    }
  }
  if (ok && !done) ok = g.lpNorm<Eigen::Infinity>() < 1e-6 * std::max(1.0, std::fabs(F));
  mode = u;
  lcat_[v] = c;
  if (!ok || !std::isfinite(F) || cx.ip->interrupted()) return;
  Eigen::LLT<Eigen::MatrixXd> la(-H);
  if (la.info() != Eigen::Success) return;
  const Eigen::MatrixXd Ainv = la.solve(Eigen::MatrixXd::Identity(q, q));
  Eigen::LLT<Eigen::MatrixXd> lc(Ainv);
  if (lc.info() != Eigen::Success) return;
  Eigen::Map<Eigen::MatrixXd>(lchol_.data() + (size_t)v * q * q, q, q) = lc.matrixL();
  double ld = 0.0;
  for (int k = 0; k < q; ++k) ld -= std::log(la.matrixLLT()(k, k));
  lldet_[v] = ld;
  const Eigen::VectorXd av = lam.transpose() * zd2;
  kap = la.solve(av);
  *P = F;
  *P1 = S1;
  *P2 = D + av.dot(kap);
}

double NestedAgq::integrate_leaf(int v, double c, Ctx& cx, double* grad) {
  double P, P1, P2;
  profile_leaf(v, c, cx, &P, &P1, &P2);
  if (!std::isfinite(P)) return NEG_INF;
  const GhGrid& G = *cx.grid;
  const int NK = (int)G.z.rows(), q = q_;
  if (NK == 1 && !grad) return P + lldet_[v];
  const Eigen::Map<const Eigen::VectorXd> mode(lmode_.data() + (size_t)v * q, q);
  const Eigen::Map<const Eigen::MatrixXd> C(lchol_.data() + (size_t)v * q * q, q, q);
  const int np = npar();
  std::vector<double> t(NK);
  Eigen::MatrixXd ng(grad ? np : 0, grad ? NK : 0);
  Eigen::VectorXd u(q);
  for (int k = 0; k < NK; ++k) {
    u = mode + C * G.z.row(k).transpose();
    const double inner = leaf_sum_q(v, c, u, cx);
    t[k] = G.logw_ad[k] + lldet_[v] - 0.5 * u.squaredNorm() + inner;
    if (grad) leaf_grad_q(v, u, cx, ng.col(k).data());
  }
  const double lse = logsumexp(t.data(), NK);
  if (grad) {
    std::fill(grad, grad + np, 0.0);
    if (std::isfinite(lse))
      for (int k = 0; k < NK; ++k) {
        const double pk = std::exp(t[k] - lse);
        if (pk == 0.0) continue;
        for (int r = 0; r < np; ++r) grad[r] += pk * ng(r, k);
      }
  }
  return lse;
}

void NestedAgq::profile(int l, int v, double c, Ctx& cx, double* P, double* P1, double* P2) {
  if (zleaf_ && l == L_ - 1) return profile_leaf(v, c, cx, P, P1, P2);
  const double s = cx.s[l];
  double S1 = 0.0, D = 0.0;
  auto eval = [&](double u, double& F, double& g, double& h) {
    double val = -0.5 * u * u;
    S1 = 0.0;
    D = 0.0;
    const double cu = c + s * u;
    if (l == L_ - 1) {
      const int a = obs_start_[v], n = obs_start_[v + 1] - a;
      for (int j = 0; j < n; ++j) cx.buf[j] = cx.eta[a + j] + cu;
      fam_->derivs_n(ys_.data() + a, ws_.data() + a, cx.buf, n, cx.phi, cx.od);
      for (int j = 0; j < n; ++j) {
        val += cx.od[j].l;
        S1 += cx.od[j].d1;
        D += cx.od[j].d2;
      }
    } else {
      for (int j = child_start_[l][v]; j < child_start_[l][v + 1]; ++j) {
        double q, q1, q2;
        profile(l + 1, child_idx_[l][j], cu, cx, &q, &q1, &q2);
        val += q;
        S1 += q1;
        D += q2;
      }
    }
    F = val;
    g = -u + s * S1;
    h = -1.0 + s * s * D;
  };
  // After an interrupt every search returns at once (the result is
  // discarded), so Ctrl-C is honoured within the poll interval.
  if ((l == L_ - 1 && cx.ip->poll()) || cx.ip->interrupted()) {
    *P = NEG_INF;
    *P1 = *P2 = 0.0;
    return;
  }
  // Warm start: the last mode moved along du^/dc to the new c, so that the
  // searches inside a parent's search and at its quadrature nodes take one
  // or two Newton steps.
  double u = mode_[l][v] + kap_[l][v] * (c - cat_[l][v]), F, g, h;
  if (!std::isfinite(u)) u = 0.0;
  const bool ok = newton_max(u, eval, F, g, h);
  const double piv = 1.0 - s * s * D;
  mode_[l][v] = u;
  cat_[l][v] = c;
  // A failure is reported as P = -Inf: the parent's Newton backs off from
  // it, and it reaches the caller only at the parent's own optimum.
  if (!ok || !(piv > 0) || !std::isfinite(F) || cx.ip->interrupted()) {
    *P = NEG_INF;
    *P1 = *P2 = 0.0;
    return;
  }
  sig_[l][v] = 1.0 / std::sqrt(piv);
  kap_[l][v] = s * D / piv;
  *P = F;
  *P1 = S1;
  *P2 = D / piv;
}

double NestedAgq::integrate(int l, int v, double c, Ctx& cx, double* grad) {
  if (zleaf_ && l == L_ - 1) return integrate_leaf(v, c, cx, grad);
  double P, P1, P2;
  profile(l, v, c, cx, &P, &P1, &P2);
  if (!std::isfinite(P)) return NEG_INF;
  const double uh = mode_[l][v], sg = sig_[l][v], s = cx.s[l];
  const int K = (int)cx.rule->z.size();
  if (K == 1 && l == L_ - 1 && !grad) return P + std::log(sg);
  const int np = npar();
  double* ng = grad ? cx.nodeg + (size_t)l * K * np : nullptr;
  double* cg = grad ? cx.childg + (size_t)l * np : nullptr;
  std::vector<double> t(K);
  for (int k = 0; k < K; ++k) {
    const double z = cx.rule->z[k];
    const double u = uh + sg * z;
    double* gk = grad ? ng + (size_t)k * np : nullptr;
    if (grad) {
      cx.path[l] = u;
      std::fill(gk, gk + np, 0.0);
    }
    double inner;
    if (l == L_ - 1) {
      inner = leaf_sum(v, c + s * u, cx);
      if (grad) leaf_grad(v, cx, gk);
    } else {
      inner = 0.0;
      for (int j = child_start_[l][v]; j < child_start_[l][v + 1]; ++j) {
        inner += integrate(l + 1, child_idx_[l][j], c + s * u, cx, cg);
        if (grad) for (int r = 0; r < np; ++r) gk[r] += cg[r];
      }
    }
    t[k] = cx.rule->logw[k] + 0.5 * z * z + std::log(sg) - 0.5 * u * u + inner;
  }
  const double lse = logsumexp(t.data(), K);
  if (grad) {
    std::fill(grad, grad + np, 0.0);
    if (std::isfinite(lse))
      for (int k = 0; k < K; ++k) {
        const double pk = std::exp(t[k] - lse);
        if (pk == 0.0) continue;
        const double* gk = ng + (size_t)k * np;
        for (int r = 0; r < np; ++r) grad[r] += pk * gk[r];
      }
  }
  return lse;
}

void NestedAgq::setup_eta(const Eigen::Ref<const Eigen::VectorXd>& theta,
                          Eigen::VectorXd& eta, std::vector<double>& s, double& phi,
                          Eigen::MatrixXd& lam) const {
  Eigen::VectorXd e;
  linear_predictor(X_, theta.head(p_), off_, e);
  eta.resize(n_);
  for (int j = 0; j < n_; ++j) eta[j] = e[obs_idx_[j]];
  s.assign(L_, 0.0);
  for (int l = 0; l + 1 < L_; ++l) s[l] = theta[p_ + l];
  lam = Eigen::MatrixXd::Zero(q_, q_);
  int t = p_ + L_ - 1;
  for (int k = 0; k < q_; ++k)
    for (int r = k; r < q_; ++r) lam(r, k) = theta[t++];
  if (!zleaf_) s[L_ - 1] = lam(0, 0);
  phi = disp_ ? theta[t] : 0.0;
}

NestedResult NestedAgq::evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, int K,
                                  bool gradient) {
  if (theta.size() != npar()) throw std::invalid_argument("theta has the wrong length");
  if (K < 1) throw std::invalid_argument("nAGQ must be at least 1");
  Eigen::VectorXd eta;
  std::vector<double> s;
  double phi;
  Eigen::MatrixXd lam;
  setup_eta(theta, eta, s, phi, lam);
  const GhRule rule = gh_rule(K);
  if (zleaf_ && std::pow((double)K, q_) * npar() > 1e7)
    throw std::invalid_argument("nAGQ^q nodes at the innermost level are too many");
  const GhGrid grid = zleaf_ ? gh_grid(K, q_) : GhGrid();
  const int M = nunits_[0];
  const int np = npar();
  const int KG = gradient ? K : 1, NG = gradient ? np : 1;
  check_memory((3.0 * maxleaf_ * sizeof(ObsDerivs) + (double)L_ * (KG + 1) * NG * sizeof(double)) *
                       usable_threads(nthreads_) +
                   (gradient ? (double)M * np * sizeof(double) : 0.0),
               "nested quadrature scratch space");
  std::vector<double> ll(M, 0.0);
  Eigen::MatrixXd gm = Eigen::MatrixXd::Zero(gradient ? np : 0, gradient ? M : 0);
  std::vector<int> fail(M, 0);
  const int nt = usable_threads(nthreads_);
  InterruptPoll ip;
  // Outer units are independent and each touches only its own subtree's
  // warm starts; the sum is taken afterwards in unit order, so the result
  // does not depend on the number of threads.
  parallel_for(M, nt, 1, ip, [&](long v) {
      Scratch sc(maxleaf_, L_, KG, NG);
      Ctx cx{eta.data(), s.data(), phi, &rule, &ip, sc.buf.data(), sc.d1.data(), sc.od.data(),
             sc.path.data(), sc.nodeg.data(), sc.childg.data()};
      cx.lam = lam.data();
      cx.grid = &grid;
      ll[v] = integrate(0, v, 0.0, cx, gradient ? gm.col(v).data() : nullptr);
      if (!std::isfinite(ll[v])) fail[v] = 1;
  });
  NestedResult r;
  r.unit_loglik = Eigen::Map<Eigen::VectorXd>(ll.data(), M);
  for (int v = 0; v < M; ++v) {
    r.loglik += ll[v];
    r.failures += fail[v];
  }
  if (gradient) {
    r.gradient = Eigen::VectorXd::Zero(np);
    for (int v = 0; v < M; ++v) r.gradient += gm.col(v);
    r.unit_gradient = std::move(gm);
  }
  r.loglik += lconst_;
  if (r.failures) r.loglik = NEG_INF;
  return r;
}

NestedModes NestedAgq::modes(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  if (theta.size() != npar()) throw std::invalid_argument("theta has the wrong length");
  if (zleaf_)
    throw std::invalid_argument("joint modes with random slopes at the innermost level are not available");
  Eigen::VectorXd eta;
  std::vector<double> s;
  double phi;
  Eigen::MatrixXd lam;
  setup_eta(theta, eta, s, phi, lam);
  const GhRule rule = gh_rule(1);
  InterruptPoll ip;
  NestedModes out;
  // The joint modes: the profile of each outer unit at c = 0 leaves every
  // descendant's mode (and sigma, kappa) at the joint maximiser.
  Scratch sc(maxleaf_, 0, 0, 0);
  for (int v = 0; v < nunits_[0]; ++v) {
    Ctx cx{eta.data(), s.data(), phi, &rule, &ip, sc.buf.data(), sc.d1.data(), sc.od.data(),
           nullptr, nullptr, nullptr};
    double P, P1, P2;
    profile(0, v, 0.0, cx, &P, &P1, &P2);
    if (!std::isfinite(P)) out.failed = true;
  }
  ip.raise_if_interrupted();
  // Conditional variances of the joint Gaussian approximation, top down:
  // u_v = u^_v + kappa_v dc_v + e_v with e_v ~ N(0, sigma_v^2) given the
  // ancestors, and c for the children is c_v + s u_v.
  out.u = mode_;
  out.var.resize(L_);
  std::vector<double> vc(nunits_[0], 0.0);
  for (int l = 0; l < L_; ++l) {
    out.var[l].resize(nunits_[l]);
    std::vector<double> vnext(l + 1 < L_ ? nunits_[l + 1] : 0, 0.0);
    for (int v = 0; v < nunits_[l]; ++v) {
      const double sg2 = sig_[l][v] * sig_[l][v], k = kap_[l][v];
      out.var[l][v] = sg2 + k * k * vc[v];
      if (l + 1 < L_) {
        const double a = 1.0 + s[l] * k;
        const double vn = a * a * vc[v] + s[l] * s[l] * sg2;
        for (int j = child_start_[l][v]; j < child_start_[l][v + 1]; ++j)
          vnext[child_idx_[l][j]] = vn;
      }
    }
    vc.swap(vnext);
  }
  // The linear predictor at the modes.
  out.eta.resize(n_);
  for (int j = 0; j < n_; ++j) out.eta[obs_idx_[j]] = eta[j];
  std::vector<double> shift(nunits_[0], 0.0);
  for (int v = 0; v < nunits_[0]; ++v) shift[v] = s[0] * mode_[0][v];
  for (int l = 1; l < L_; ++l) {
    std::vector<double> sh(nunits_[l]);
    for (int v = 0; v < nunits_[l - 1]; ++v)
      for (int j = child_start_[l - 1][v]; j < child_start_[l - 1][v + 1]; ++j) {
        const int w = child_idx_[l - 1][j];
        sh[w] = shift[v] + s[l] * mode_[l][w];
      }
    shift.swap(sh);
  }
  for (int v = 0; v < nunits_[L_ - 1]; ++v)
    for (int j = obs_start_[v]; j < obs_start_[v + 1]; ++j) out.eta[obs_idx_[j]] += shift[v];
  return out;
}

}  // namespace glmmgee
