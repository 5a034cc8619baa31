// Laplace / adaptive Gauss-Hermite engine for one grouping factor.
// See agq.h for the model and the parameterization.
#include "agq.h"
#include <algorithm>
#include <cmath>
#include <stdexcept>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

ClusterLayout make_layout(const int* group, int n, int M) {
  ClusterLayout lay;
  lay.M = M;
  lay.start.assign(M + 1, 0);
  for (int j = 0; j < n; ++j) {
    const int g = group[j];
    if (g < 1 || g > M) throw std::invalid_argument("cluster code out of range");
    ++lay.start[g];
  }
  for (int i = 0; i < M; ++i) lay.start[i + 1] += lay.start[i];
  lay.perm.assign(n, 0);
  std::vector<int> next(lay.start.begin(), lay.start.end() - 1);
  for (int j = 0; j < n; ++j) lay.perm[next[group[j] - 1]++] = j;
  return lay;
}

// Scratch space of one thread, sized once for the largest cluster.
struct AgqEngine::Work {
  MatrixXd A, D1, Unodes, H, Hinv, Cinv, dH, G2, Mr, tmp_q;
  VectorXd eta0i, eta, u, unew, step, grad, a, pi, S, hv, c, rhs, du, deta,
      P, G1, ubar;
  MatrixXd T, Du, Deta;
  std::vector<ObsDerivs> dv, dvk;
  std::vector<double> pl;
  Eigen::LLT<MatrixXd> llt;
  Work(int nmax, int q, long Q, int npar)
      : A(nmax, q), D1(nmax, Q), Unodes(Q, q), H(q, q), Hinv(q, q), Cinv(q, q),
        dH(q, q), G2(q, q), Mr(q, q), tmp_q(q, q), eta0i(nmax), eta(nmax),
        u(q), unew(q), step(q), grad(q), a(Q), pi(Q), S(nmax), hv(q),
        c(nmax), rhs(q), du(q), deta(nmax), P(Q), G1(q), ubar(q), T(nmax, q),
        Du(q, npar), Deta(nmax, npar), dv(nmax), dvk(nmax), pl(nmax), llt(q) {}
};

AgqEngine::AgqEngine(const Eigen::Ref<const MatrixXd>& X,
                     const Eigen::Ref<const MatrixXd>& Z,
                     const Eigen::Ref<const VectorXd>& y,
                     const Eigen::Ref<const VectorXd>& wt,
                     const Eigen::Ref<const VectorXd>& offset, const int* group,
                     int M, const std::vector<int>& lam_row,
                     const std::vector<int>& lam_col, int family, int link,
                     int nAGQ, int nthreads)
    : n_((int)X.rows()), p_((int)X.cols()), q_((int)Z.cols()),
      nl_((int)lam_row.size()), K_(nAGQ), nthreads_(std::max(1, nthreads)),
      lam_row_(lam_row), lam_col_(lam_col) {
  fam_ = make_obs_model(family, link);
  if (!fam_) throw std::invalid_argument("unsupported family/link");
  disp_ = fam_->has_dispersion();
  lay_ = make_layout(group, n_, M);
  nmax_ = 0;
  for (int i = 0; i < M; ++i) nmax_ = std::max(nmax_, lay_.start[i + 1] - lay_.start[i]);
  X_.resize(n_, p_);
  Z_.resize(n_, q_);
  y_.resize(n_);
  wt_.resize(n_);
  off_.resize(n_);
  for (int s = 0; s < n_; ++s) {
    const int j = lay_.perm[s];
    X_.row(s) = X.row(j);
    Z_.row(s) = Z.row(j);
    y_[s] = y[j];
    wt_[s] = wt[j];
    off_[s] = offset[j];
  }
  lconst_.setZero(M);
  for (int i = 0; i < M; ++i)
    for (int s = lay_.start[i]; s < lay_.start[i + 1]; ++s)
      lconst_[i] += fam_->logconst(y_[s], wt_[s]);
  grid_ = gh_grid(K_, q_);
  ucache_.setZero(M, q_);
}

void AgqEngine::unpack(const VectorXd& theta, VectorXd& beta, MatrixXd& Lam,
                       double& phi) const {
  beta = theta.head(p_);
  Lam.setZero(q_, q_);
  for (int e = 0; e < nl_; ++e) Lam(lam_row_[e], lam_col_[e]) = theta[p_ + e];
  phi = disp_ ? theta[p_ + nl_] : 0.0;
}

// One cluster: mode search, quadrature, and (optionally) the gradient.
// Returns the cluster's marginal log-likelihood, adds its gradient to g.
double AgqEngine::cluster(int i, const VectorXd& eta0, const MatrixXd& Lam,
                          double phi, bool want_grad, Work& w, double* g,
                          AgqSummaries* out, bool* failed) {
  const int s0 = lay_.start[i], ni = lay_.start[i + 1] - s0, q = q_;
  const ObsModel& fam = *fam_;
  const double* y = y_.data() + s0;
  const double* wt = wt_.data() + s0;
  auto A = w.A.topRows(ni);
  A.noalias() = Z_.middleRows(s0, ni) * Lam;
  auto eta0i = w.eta0i.head(ni);
  eta0i = eta0.segment(s0, ni);
  auto eta = w.eta.head(ni);

  // --- Mode of h(u) = sum_j l_j(eta_j(u)) - |u|^2 / 2 by damped Newton.
  VectorXd& u = w.u;
  u = ucache_.row(i).transpose();
  auto hval = [&](const VectorXd& uu, std::vector<ObsDerivs>& dv) {
    eta.noalias() = eta0i + A * uu;
    fam.derivs_n(y, wt, eta.data(), ni, phi, dv.data());
    double h = -0.5 * uu.squaredNorm();
    for (int j = 0; j < ni; ++j) h += dv[j].l;
    return h;
  };
  double h = hval(u, w.dv);
  bool converged = false;
  for (int it = 0; it < 100; ++it) {
    for (int j = 0; j < ni; ++j) w.c[j] = -w.dv[j].d2;
    w.grad = -u;
    for (int j = 0; j < ni; ++j) w.grad.noalias() += w.dv[j].d1 * A.row(j).transpose();
    w.H.noalias() = A.transpose() * w.c.head(ni).asDiagonal() * A;
    w.H.diagonal().array() += 1.0;
    w.llt.compute(w.H);
    w.step = w.llt.solve(w.grad);
    const double smax = w.step.cwiseAbs().maxCoeff();
    if (!(smax == smax)) break;  // NaN: give up on this cluster
    if (smax <= 1e-10 * (1.0 + u.cwiseAbs().maxCoeff())) { converged = true; break; }
    double t = 1.0, hnew = h;
    for (int half = 0; half < 60; ++half) {
      w.unew = u + t * w.step;
      hnew = hval(w.unew, w.dvk);
      if (hnew >= h - 1e-12 * (1.0 + std::fabs(h))) break;
      t *= 0.5;
    }
    u = w.unew;
    h = hnew;
    std::swap(w.dv, w.dvk);
  }
  if (!converged) *failed = true;
  ucache_.row(i) = u.transpose();
  // H, its Cholesky factor and the derivatives in w.dv are all at the mode.
  const MatrixXd C = w.llt.matrixL();
  w.Cinv = C.triangularView<Eigen::Lower>().solve(MatrixXd::Identity(q, q));
  double logdetC = 0.0;
  for (int d = 0; d < q; ++d) logdetC += std::log(C(d, d));

  // --- Quadrature: nodes u_k = u^ + C^{-T} z_k, log-sum-exp over nodes.
  const long Q = grid_.z.rows();
  double lse;
  if (K_ == 1) {
    w.Unodes.row(0) = u.transpose();
    w.a[0] = h;
    w.pi[0] = 1.0;
    lse = h;
    if (want_grad || out)
      for (int j = 0; j < ni; ++j) w.D1(j, 0) = w.dv[j].d1;
    if (disp_ && want_grad) {
      double sp = 0.0, o[3];
      for (int j = 0; j < ni; ++j) {
        fam.dphi(y[j], wt[j], eta0i[j] + A.row(j).dot(u), phi, o);
        sp += o[0];
      }
      w.P[0] = sp;
    }
  } else {
    w.Unodes.noalias() = grid_.z * w.Cinv;
    w.Unodes.rowwise() += u.transpose();
    double amax = -INFINITY;
    for (long k = 0; k < Q; ++k) {
      VectorXd& uk = w.unew;
      uk = w.Unodes.row(k).transpose();
      eta.noalias() = eta0i + A * uk;
      fam.derivs_n(y, wt, eta.data(), ni, phi, w.dvk.data());
      double hk = -0.5 * uk.squaredNorm();
      for (int j = 0; j < ni; ++j) {
        hk += w.dvk[j].l;
        w.D1(j, k) = w.dvk[j].d1;
      }
      if (disp_ && want_grad) {
        double sp = 0.0, o[3];
        for (int j = 0; j < ni; ++j) {
          fam.dphi(y[j], wt[j], eta[j], phi, o);
          sp += o[0];
        }
        w.P[k] = sp;
      }
      w.a[k] = grid_.logw_ad[k] + hk;
      amax = std::max(amax, w.a[k]);
    }
    double ssum = 0.0;
    for (long k = 0; k < Q; ++k) {
      w.pi[k] = std::exp(w.a[k] - amax);
      ssum += w.pi[k];
    }
    w.pi /= ssum;
    lse = amax + std::log(ssum);
  }
  const double ll = -logdetC + lse + lconst_[i];

  if (out) {
    out->mode.row(i) = u.transpose();
    const MatrixXd Hinv = w.llt.solve(MatrixXd::Identity(q, q));
    out->mode_var.row(i) = Eigen::Map<const VectorXd>(Hinv.data(), q * q).transpose();
    const VectorXd pm = w.Unodes.transpose() * w.pi;
    const MatrixXd Uc = w.Unodes.rowwise() - pm.transpose();
    MatrixXd pv = Uc.transpose() * w.pi.asDiagonal() * Uc;
    if (K_ == 1) pv = Hinv;  // Laplace: the Gaussian approximation's variance
    out->post_mean.row(i) = pm.transpose();
    out->post_var.row(i) = Eigen::Map<const VectorXd>(pv.data(), q * q).transpose();
    out->loglik[i] = ll;
  }
  if (!want_grad) return ll;

  // --- Gradient.
  const int P = npar();
  auto Xi = X_.middleRows(s0, ni);
  auto Zi = Z_.middleRows(s0, ni);
  auto D1 = w.D1.topLeftCorner(ni, Q);
  auto S = w.S.head(ni);
  S.noalias() = D1 * w.pi;                                  // sum_k pi_k d1_jk
  auto T = w.T.topRows(ni);
  T.noalias() = D1 * (w.pi.asDiagonal() * w.Unodes);        // sum_k pi_k d1_jk u_k
  // Direct terms: derivative of sum_k pi_k h(u_k) with the nodes held fixed.
  for (int m = 0; m < p_; ++m) g[m] += Xi.col(m).dot(S);
  for (int e = 0; e < nl_; ++e)
    g[p_ + e] += Zi.col(lam_row_[e]).dot(T.col(lam_col_[e]));
  if (disp_) g[p_ + nl_] += w.P.head(Q).dot(w.pi);

  // Implicit terms: how the mode u^ and the factor C move with theta.
  auto W = w.c.head(ni);  // W_j = -d2_j at the mode
  for (int j = 0; j < ni; ++j) W[j] = -w.dv[j].d2;
  w.Hinv = w.llt.solve(MatrixXd::Identity(q, q));
  auto Deta = w.Deta.topRows(ni);  // ni x P, total d eta / d theta at the mode
  VectorXd pd2(disp_ ? ni : 0);
  for (int m = 0; m < p_; ++m) {
    w.rhs.noalias() = -(A.transpose() * W.cwiseProduct(Xi.col(m)));
    w.Du.col(m) = w.Hinv * w.rhs;
    Deta.col(m) = Xi.col(m) + A * w.Du.col(m);
  }
  double zd1_cache;
  for (int e = 0; e < nl_; ++e) {
    const int a = lam_row_[e], b = lam_col_[e];
    zd1_cache = 0.0;
    for (int j = 0; j < ni; ++j) zd1_cache += Zi(j, a) * w.dv[j].d1;
    w.rhs.noalias() = -(A.transpose() * W.cwiseProduct(Zi.col(a))) * u[b];
    w.rhs[b] += zd1_cache;
    w.Du.col(p_ + e) = w.Hinv * w.rhs;
    Deta.col(p_ + e) = Zi.col(a) * u[b] + A * w.Du.col(p_ + e);
  }
  if (disp_) {
    double o[3];
    VectorXd pd1(ni);
    for (int j = 0; j < ni; ++j) {
      fam.dphi(y[j], wt[j], eta0i[j] + A.row(j).dot(u), phi, o);
      pd1[j] = o[1];
      pd2[j] = o[2];
    }
    w.rhs.noalias() = A.transpose() * pd1;
    w.Du.col(P - 1) = w.Hinv * w.rhs;
    Deta.col(P - 1) = A * w.Du.col(P - 1);
  }
  if (K_ > 1) {
    // G1 = sum_k pi_k grad h(u_k), G2 = sum_k pi_k grad h(u_k) z_k'.
    w.ubar.noalias() = w.Unodes.transpose() * w.pi;
    w.G1.noalias() = A.transpose() * S - w.ubar;
    const MatrixXd PZ = w.pi.asDiagonal() * grid_.z;  // Q x q
    w.G2.noalias() = A.transpose() * (D1 * PZ) - w.Unodes.transpose() * PZ;
  }
  VectorXd cr(ni);
  for (int r = 0; r < P; ++r) {
    // dH_r = A' diag(-d3 * deta_r [- dphi d2]) A  (+ dA' W A + A' W dA for Lambda)
    for (int j = 0; j < ni; ++j) cr[j] = -w.dv[j].d3 * Deta(j, r);
    if (disp_ && r == P - 1) cr -= pd2;
    w.dH.noalias() = A.transpose() * cr.asDiagonal() * A;
    if (r >= p_ && r < p_ + nl_) {
      const int a = lam_row_[r - p_], b = lam_col_[r - p_];
      w.hv.noalias() = A.transpose() * W.cwiseProduct(Zi.col(a));
      w.dH.row(b) += w.hv.transpose();
      w.dH.col(b) += w.hv;
    }
    double gr = -0.5 * (w.Hinv.cwiseProduct(w.dH)).sum();  // d log|L|
    if (K_ > 1) {
      // dL = -L Phi(C^{-1} dH C^{-T})',  L = C^{-T}
      w.Mr.noalias() = w.Cinv * w.dH * w.Cinv.transpose();
      w.tmp_q = w.Mr.triangularView<Eigen::Lower>();
      w.tmp_q.diagonal() *= 0.5;
      const MatrixXd dL = -(w.Cinv.transpose() * w.tmp_q.transpose());
      gr += w.G1.dot(w.Du.col(r)) + (w.G2.cwiseProduct(dL)).sum();
    }
    g[r] += gr;
  }
  return ll;
}

AgqResult AgqEngine::evaluate(const VectorXd& theta, bool gradient) {
  VectorXd beta;
  MatrixXd Lam;
  double phi;
  unpack(theta, beta, Lam, phi);
  const VectorXd eta0 = X_ * beta + off_;
  const int M = lay_.M, P = npar();
  // Fixed-size blocks summed in a fixed order: the result does not depend
  // on the number of threads.
  const int B = 64, nb = (M + B - 1) / B;
  std::vector<double> bll(nb, 0.0);
  MatrixXd bg = MatrixXd::Zero(P, gradient ? nb : 0);
  std::vector<int> bfail(nb, 0);
  const long Q = grid_.z.rows();
#pragma omp parallel num_threads(nthreads_)
  {
    Work w(nmax_, q_, Q, P);
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < nb; ++b) {
      double s = 0.0;
      const int hi = std::min(M, (b + 1) * B);
      for (int i = b * B; i < hi; ++i) {
        bool failed = false;
        s += cluster(i, eta0, Lam, phi, gradient, w,
                     gradient ? bg.col(b).data() : nullptr, nullptr, &failed);
        if (failed) ++bfail[b];
      }
      bll[b] = s;
    }
  }
  AgqResult res;
  for (int b = 0; b < nb; ++b) {
    res.loglik += bll[b];
    res.newton_failures += bfail[b];
  }
  if (gradient) {
    res.gradient.setZero(P);
    for (int b = 0; b < nb; ++b) res.gradient += bg.col(b);
  }
  return res;
}

AgqSummaries AgqEngine::summaries(const VectorXd& theta) {
  VectorXd beta;
  MatrixXd Lam;
  double phi;
  unpack(theta, beta, Lam, phi);
  const VectorXd eta0 = X_ * beta + off_;
  const int M = lay_.M;
  AgqSummaries out;
  out.mode.resize(M, q_);
  out.mode_var.resize(M, q_ * q_);
  out.post_mean.resize(M, q_);
  out.post_var.resize(M, q_ * q_);
  out.loglik.resize(M);
  std::vector<int> fail(M, 0);
  const long Q = grid_.z.rows();
#pragma omp parallel num_threads(nthreads_)
  {
    Work w(nmax_, q_, Q, npar());
#pragma omp for schedule(dynamic, 64)
    for (int i = 0; i < M; ++i) {
      bool failed = false;
      cluster(i, eta0, Lam, phi, false, w, nullptr, &out, &failed);
      fail[i] = failed;
    }
  }
  for (int i = 0; i < M; ++i) out.newton_failures += fail[i];
  return out;
}

}  // namespace glmmgee
