// Engine for zero-inflated and hurdle GLMMs with random effects in both
// parts (agq-zero-re.h).
#include "engines/agq/agq-zero-re.h"
#include "engines/agq/agq-clusters.h"
#include "util/dd-sum.h"
#include "util/resources.h"
#include <algorithm>
#include <cmath>
#include <new>
#include <stdexcept>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Scratch of one thread, sized for the largest cluster.
struct TwoPartEngine::Work {
  MatrixXd B1, B2, G0, G1n, G2n, Unodes, H, Hinv, C, Cinv, dH, G2, Mr, tmp_q, dL, PZ,
      T0, T1, Du, Dv1, Dv2, S, B3, T2, Dv3;
  VectorXd e0, a0, ph, pv, eta, av, u, unew, step, grad, lw, pi, rhs, ubar, G1, hv;
  std::vector<Obs2> ob, obk;
  std::vector<TwoPartRE::RowConst> rc;  // the rows' constants at ph (TwoPartRE::row_const())
  Eigen::LLT<MatrixXd> llt;
  // (r3: the third predictor random, its rows B3, T2, Dv3 and values pv)
  Work(int nmax, int q, long Q, int P, bool r3)
      : B1(nmax, q), B2(nmax, q), G0(nmax, Q), G1n(nmax, Q), G2n(nmax, Q), Unodes(Q, q),
        H(q, q), Hinv(q, q), C(q, q), Cinv(q, q), dH(q, q), G2(q, q), Mr(q, q),
        tmp_q(q, q), dL(q, q), PZ(Q, q), T0(nmax, q), T1(nmax, q), Du(q, P),
        Dv1(nmax, P), Dv2(nmax, P), S(nmax, 3), B3(r3 ? nmax : 0, q), T2(r3 ? nmax : 0, q),
        Dv3(r3 ? nmax : 0, P), e0(nmax), a0(nmax), ph(nmax), pv(r3 ? nmax : 0),
        eta(nmax), av(nmax), u(q), unew(q), step(q), grad(q), lw(Q), pi(Q), rhs(q),
        ubar(q), G1(q), hv(q), ob(nmax), obk(nmax), rc(nmax), llt(q) {}
};

static double zi_random_work_doubles(double nmax, double q, double Q, double P, bool r3) {
  return nmax * (3.0 * Q + 4.0 * q + 2.0 * P + 16.0) + Q * (2.0 * q + 2.0) + q * (P + 12.0 * q) +
         2.0 * nmax * sizeof(Obs2) / 8.0 + nmax * sizeof(TwoPartRE::RowConst) / 8.0 +
         (r3 ? nmax * (2.0 * q + P + 1.0) : 0.0);
}

TwoPartEngine::TwoPartEngine(const Eigen::Ref<const MatrixXd>& X,
                       const Eigen::Ref<const MatrixXd>& Zc,
                       const Eigen::Ref<const MatrixXd>& Zz,
                       const Eigen::Ref<const MatrixXd>& Xz,
                       const Eigen::Ref<const MatrixXd>& Xd,
                       const Eigen::Ref<const VectorXd>& y,
                       const Eigen::Ref<const VectorXd>& wt,
                       const Eigen::Ref<const MatrixXd>& off, const int* group, int M,
                       const std::vector<int>& lam_row, const std::vector<int>& lam_col,
                       int family, int link, int kind, int nAGQ, int nthreads, int nsecond)
    : n_((int)X.rows()), p_((int)X.cols()), q_((int)(Zc.cols() + Zz.cols())),
      nl_((int)lam_row.size()), pz_((int)Xz.cols()), pd_((int)Xd.cols()), K_(nAGQ),
      nthreads_(std::max(1, nthreads)), lam_row_(lam_row), lam_col_(lam_col) {
  // (kinds 5 and 6, a zero part beside a random dispersion: the third
  // predictor is the zero part's logit, which the observation models
  // differentiate as the other kinds' fixed dispersion)
  make_two_part_models(family, link, kind, pd_, fam_, obs_);
  // Zz's columns of the zero part (the rest the dispersion's, kinds 7 and 8)
  const int qz = nsecond < 0 ? (int)Zz.cols() : nsecond;
  r3_ = qz < (int)Zz.cols();
  if (qz > (int)Zz.cols() || r3_ != (obs_->random_predictors() == 3))
    throw std::invalid_argument(
        "the second part's columns do not match the kind's random predictors");
  lay_ = make_layout(group, n_, M);
  nmax_ = lay_.largest();
  const int qc = (int)Zc.cols();
  X_.resize(n_, p_);
  Z1_.setZero(n_, q_);
  Z2_.setZero(n_, q_);
  if (r3_) Z3_.setZero(n_, q_);
  Xz_.resize(n_, pz_);
  Xd_.resize(n_, pd_);
  off_.resize(n_, 3);
  y_.resize(n_);
  wt_.resize(n_);
  for (int s = 0; s < n_; ++s) {
    const int j = lay_.perm[s];
    X_.row(s) = X.row(j);
    Z1_.row(s).head(qc) = Zc.row(j);
    Z2_.row(s).segment(qc, qz) = Zz.row(j).head(qz);
    if (r3_) Z3_.row(s).tail(q_ - qc - qz) = Zz.row(j).tail(q_ - qc - qz);
    Xz_.row(s) = Xz.row(j);
    Xd_.row(s) = Xd.row(j);
    off_.row(s) = off.row(j);
    y_[s] = y[j];
    wt_[s] = wt[j];
  }
  lconst_.setZero(M);
  for (int i = 0; i < M; ++i)
    for (int s = lay_.start[i]; s < lay_.start[i + 1]; ++s)
      lconst_[i] += obs_->logconst(y_[s], wt_[s]);
  check_work_memory(K_);
  grid_ = gh_grid(K_, q_);
  ucache_.setZero(M, q_);
}

void TwoPartEngine::check_work_memory(int K) const {
  const double Q = std::pow((double)K, (double)q_);
  check_quadrature_memory(zi_random_work_doubles(nmax_, q_, Q, npar(), r3_), usable_threads(nthreads_), K,
                          q_, nmax_, ", both parts' random effects");
}

double TwoPartEngine::cluster(int i, const VectorXd& eta0, const VectorXd& a0,
                           const VectorXd& ph, const MatrixXd& Lam, bool want_grad,
                           Work& w, double* g, AgqSummaries* out, bool* failed) {
  const int s0 = lay_.start[i], ni = lay_.start[i + 1] - s0, q = q_;
  const TwoPartRE& ob = *obs_;
  const double* y = y_.data() + s0;
  const double* wt = wt_.data() + s0;
  // B1 = Z1 Lambda, B2 = Z2 Lambda (rows of this cluster).
  for (int j = 0; j < ni; ++j)
    for (int b = 0; b < q; ++b) {
      double c1 = 0.0, c2 = 0.0;
      for (int a = b; a < q; ++a) {
        c1 += Z1_(s0 + j, a) * Lam(a, b);
        c2 += Z2_(s0 + j, a) * Lam(a, b);
      }
      w.B1(j, b) = c1;
      w.B2(j, b) = c2;
    }
  // (the third predictor's rows B3 = Z3 Lambda, kinds 7 and 8)
  const bool r3 = r3_;
  if (r3)
    for (int j = 0; j < ni; ++j)
      for (int b = 0; b < q; ++b) {
        double c3 = 0.0;
        for (int a = b; a < q; ++a) c3 += Z3_(s0 + j, a) * Lam(a, b);
        w.B3(j, b) = c3;
      }
  for (int j = 0; j < ni; ++j) {
    w.e0[j] = eta0[s0 + j];
    w.a0[j] = a0[s0 + j];
    w.ph[j] = ph[s0 + j];
    // Fixed over the cluster's inner search and nodes: once here.
    ob.row_const(y[j], w.ph[j], w.rc[j]);
  }
  auto set_pred = [&](const double* uu) {
    for (int j = 0; j < ni; ++j) {
      double e = w.e0[j], a = w.a0[j];
      for (int b = 0; b < q; ++b) {
        e += w.B1(j, b) * uu[b];
        a += w.B2(j, b) * uu[b];
      }
      w.eta[j] = e;
      w.av[j] = a;
      if (r3) {
        double d = w.ph[j];
        for (int b = 0; b < q; ++b) d += w.B3(j, b) * uu[b];
        w.pv[j] = d;
      }
    }
  };
  auto hval = [&](const VectorXd& uu, std::vector<Obs2>& o, bool full) {
    set_pred(uu.data());
    double h = -0.5 * uu.squaredNorm();
    for (int j = 0; j < ni; ++j) {
      ob.eval(y[j], wt[j], w.eta[j], w.av[j], r3 ? w.pv[j] : w.ph[j], full, o[j], &w.rc[j]);
      h += o[j].l;
    }
    return h;
  };
  // Negative Hessian of h at the derivatives in o.
  auto neg_hess = [&](const std::vector<Obs2>& o) {
    w.H.setIdentity();
    for (int j = 0; j < ni; ++j) {
      const double h00 = o[j].h[0][0], h01 = o[j].h[0][1], h11 = o[j].h[1][1];
      for (int a = 0; a < q; ++a) {
        const double b1a = w.B1(j, a), b2a = w.B2(j, a);
        for (int b = 0; b <= a; ++b)
          w.H(a, b) -= h00 * b1a * w.B1(j, b) + h01 * (b1a * w.B2(j, b) + b2a * w.B1(j, b)) +
                       h11 * b2a * w.B2(j, b);
      }
      if (r3) {
        const double h02 = o[j].h[0][2], h12 = o[j].h[1][2], h22 = o[j].h[2][2];
        for (int a = 0; a < q; ++a) {
          const double b1a = w.B1(j, a), b2a = w.B2(j, a), b3a = w.B3(j, a);
          for (int b = 0; b <= a; ++b)
            w.H(a, b) -= h02 * (b1a * w.B3(j, b) + b3a * w.B1(j, b)) +
                         h12 * (b2a * w.B3(j, b) + b3a * w.B2(j, b)) + h22 * b3a * w.B3(j, b);
        }
      }
    }
    for (int a = 0; a < q; ++a)
      for (int b = 0; b < a; ++b) w.H(b, a) = w.H(a, b);
  };

  // --- Mode of h(u) = sum_j l_j - |u|^2 / 2 by damped Newton; the
  // two-part likelihood need not be concave, so an indefinite Hessian is
  // shifted towards the identity until it is positive definite.
  VectorXd& u = w.u;
  u = ucache_.row(i).transpose();
  double h;
  if (use_du_) {
    // The last mode moved to first order; where that leaves the finite
    // numbers, the last mode itself.
    const int P = npar();
    for (int b = 0; b < q; ++b) {
      double d = 0.0;
      for (int r = 0; r < P; ++r) d += ducache_(i, r * q + b) * dtheta_[r];
      u[b] += d;
    }
    h = hval(u, w.ob, true);
    if (!std::isfinite(h)) {
      u = ucache_.row(i).transpose();
      h = hval(u, w.ob, true);
    }
  } else {
    h = hval(u, w.ob, true);
  }
  if (!std::isfinite(h) && u.squaredNorm() > 0) {
    u.setZero();
    h = hval(u, w.ob, true);
  }
  bool converged = false;
  for (int it = 0; it < 200; ++it) {
    w.grad = -u;
    for (int j = 0; j < ni; ++j)
      for (int a = 0; a < q; ++a) {
        w.grad[a] += w.ob[j].g[0] * w.B1(j, a) + w.ob[j].g[1] * w.B2(j, a);
        if (r3) w.grad[a] += w.ob[j].g[2] * w.B3(j, a);
      }
    neg_hess(w.ob);
    w.llt.compute(w.H);
    bool pd = w.llt.info() == Eigen::Success;
    if (pd) {
      for (int d = 0; d < q; ++d) if (!(w.llt.matrixLLT()(d, d) > 0)) pd = false;
    }
    if (pd) {
      w.step = w.llt.solve(w.grad);
    } else {
      double tau = 1.0;
      for (int k = 0; k < 60; ++k) {
        w.tmp_q = w.H;
        w.tmp_q.diagonal().array() += tau;
        Eigen::LLT<MatrixXd> l2(w.tmp_q);
        if (l2.info() == Eigen::Success) {
          w.step = l2.solve(w.grad);
          break;
        }
        tau *= 4.0;
      }
    }
    const double smax = w.step.cwiseAbs().maxCoeff();
    if (!(smax == smax)) break;
    if (pd && smax <= 1e-10 * (1.0 + u.cwiseAbs().maxCoeff())) { converged = true; break; }
    double t = 1.0, hnew = h;
    for (int half = 0; half < 60; ++half) {
      w.unew = u + t * w.step;
      hnew = hval(w.unew, w.obk, true);
      if (hnew >= h - 1e-12 * (1.0 + std::fabs(h))) break;
      t *= 0.5;
    }
    if (!std::isfinite(hnew)) break;
    u = w.unew;
    h = hnew;
    std::swap(w.ob, w.obk);
  }
  if (!converged) {
    *failed = true;
    // Keep a usable factor for the quadrature below.
    neg_hess(w.ob);
    w.llt.compute(w.H);
    if (w.llt.info() != Eigen::Success) {
      w.H.setIdentity();
      w.llt.compute(w.H);
    }
  }
  if (std::isfinite(h)) ucache_.row(i) = u.transpose();
  else ucache_.row(i).setZero();
  w.C = w.llt.matrixL();
  w.Cinv.setIdentity();
  w.C.triangularView<Eigen::Lower>().solveInPlace(w.Cinv);
  double logdetC = 0.0;
  for (int d = 0; d < q; ++d) logdetC += std::log(w.C(d, d));

  // --- Quadrature.
  const long Q = grid_.z.rows();
  double lse;
  if (K_ == 1) {
    w.Unodes.row(0) = u.transpose();
    w.pi[0] = 1.0;
    lse = h;
    for (int j = 0; j < ni; ++j) {
      w.G0(j, 0) = w.ob[j].g[0];
      w.G1n(j, 0) = w.ob[j].g[1];
      w.G2n(j, 0) = w.ob[j].g[2];
    }
  } else {
    w.Unodes.noalias() = grid_.z * w.Cinv;
    w.Unodes.rowwise() += u.transpose();
    double amax = -INFINITY;
    for (long k = 0; k < Q; ++k) {
      w.unew = w.Unodes.row(k).transpose();
      const double hk = hval(w.unew, w.obk, false);
      for (int j = 0; j < ni; ++j) {
        w.G0(j, k) = w.obk[j].g[0];
        w.G1n(j, k) = w.obk[j].g[1];
        w.G2n(j, k) = w.obk[j].g[2];
      }
      w.lw[k] = grid_.logw_ad[k] + hk;
      amax = std::max(amax, w.lw[k]);
    }
    lse = node_weights(w.lw, Q, amax, w.pi);
  }
  const double ll = -logdetC + lse + lconst_[i];

  if (out) store_cluster_summary(i, u, w.llt, w.Unodes, w.pi, K_ == 1, ll, *out);
  if (!want_grad) return ll;

  // --- Gradient. Node-weighted first derivatives per observation.
  const int P = npar();
  for (int j = 0; j < ni; ++j) {
    double s[3] = {0.0, 0.0, 0.0};
    for (int b = 0; b < q; ++b) w.T0(j, b) = w.T1(j, b) = 0.0;
    for (long k = 0; k < Q; ++k) {
      const double v0 = w.pi[k] * w.G0(j, k), v1 = w.pi[k] * w.G1n(j, k);
      s[0] += v0;
      s[1] += v1;
      s[2] += w.pi[k] * w.G2n(j, k);
      for (int b = 0; b < q; ++b) {
        w.T0(j, b) += v0 * w.Unodes(k, b);
        w.T1(j, b) += v1 * w.Unodes(k, b);
      }
    }
    for (int c = 0; c < 3; ++c) w.S(j, c) = s[c];
    if (r3)
      for (int b = 0; b < q; ++b) {
        double t2 = 0.0;
        for (long k = 0; k < Q; ++k) t2 += w.pi[k] * w.G2n(j, k) * w.Unodes(k, b);
        w.T2(j, b) = t2;
      }
  }
  // Direct terms (nodes held fixed).
  for (int m = 0; m < p_; ++m) {
    double acc = 0.0;
    for (int j = 0; j < ni; ++j) acc += X_(s0 + j, m) * w.S(j, 0);
    g[m] += acc;
  }
  for (int e = 0; e < nl_; ++e) {
    const int a = lam_row_[e], b = lam_col_[e];
    double acc = 0.0;
    for (int j = 0; j < ni; ++j) acc += Z1_(s0 + j, a) * w.T0(j, b) + Z2_(s0 + j, a) * w.T1(j, b);
    if (r3)
      for (int j = 0; j < ni; ++j) acc += Z3_(s0 + j, a) * w.T2(j, b);
    g[p_ + e] += acc;
  }
  for (int m = 0; m < pz_; ++m) {
    double acc = 0.0;
    for (int j = 0; j < ni; ++j) acc += Xz_(s0 + j, m) * w.S(j, 1);
    g[p_ + nl_ + m] += acc;
  }
  for (int m = 0; m < pd_; ++m) {
    double acc = 0.0;
    for (int j = 0; j < ni; ++j) acc += Xd_(s0 + j, m) * w.S(j, 2);
    g[p_ + nl_ + pz_ + m] += acc;
  }

  // Implicit terms: the mode and the factor move with theta. w.ob holds the
  // full derivatives at the mode.
  w.Hinv = w.llt.solve(MatrixXd::Identity(q, q));
  // Direct change of (eta, a, phi) of row j for parameter r, u held fixed.
  auto direct = [&](int r, int j, double* dv) {
    dv[0] = dv[1] = dv[2] = 0.0;
    if (r < p_) dv[0] = X_(s0 + j, r);
    else if (r < p_ + nl_) {
      const int a = lam_row_[r - p_], b0 = lam_col_[r - p_];
      dv[0] = Z1_(s0 + j, a) * u[b0];
      dv[1] = Z2_(s0 + j, a) * u[b0];
      if (r3) dv[2] = Z3_(s0 + j, a) * u[b0];
    } else if (r < p_ + nl_ + pz_) dv[1] = Xz_(s0 + j, r - p_ - nl_);
    else dv[2] = Xd_(s0 + j, r - p_ - nl_ - pz_);
  };
  for (int r = 0; r < P; ++r) {
    w.rhs.setZero();
    for (int j = 0; j < ni; ++j) {
      double dv[3];
      direct(r, j, dv);
      const Obs2& o = w.ob[j];
      const double c0 = o.h[0][0] * dv[0] + o.h[0][1] * dv[1] + o.h[0][2] * dv[2];
      const double c1 = o.h[1][0] * dv[0] + o.h[1][1] * dv[1] + o.h[1][2] * dv[2];
      for (int b = 0; b < q; ++b) w.rhs[b] += w.B1(j, b) * c0 + w.B2(j, b) * c1;
      if (r3) {
        const double c2 = o.h[2][0] * dv[0] + o.h[2][1] * dv[1] + o.h[2][2] * dv[2];
        for (int b = 0; b < q; ++b) w.rhs[b] += w.B3(j, b) * c2;
      }
    }
    if (r >= p_ && r < p_ + nl_) {
      const int a = lam_row_[r - p_], b0 = lam_col_[r - p_];
      double acc = 0.0;
      for (int j = 0; j < ni; ++j) acc += Z1_(s0 + j, a) * w.ob[j].g[0] + Z2_(s0 + j, a) * w.ob[j].g[1];
      if (r3)
        for (int j = 0; j < ni; ++j) acc += Z3_(s0 + j, a) * w.ob[j].g[2];
      w.rhs[b0] += acc;
    }
    w.Du.col(r).noalias() = w.Hinv * w.rhs;
    for (int j = 0; j < ni; ++j) {
      double dv[3];
      direct(r, j, dv);
      double e1 = dv[0], e2 = dv[1];
      for (int b = 0; b < q; ++b) {
        e1 += w.B1(j, b) * w.Du(b, r);
        e2 += w.B2(j, b) * w.Du(b, r);
      }
      w.Dv1(j, r) = e1;
      w.Dv2(j, r) = e2;
      if (r3) {
        double e3 = dv[2];
        for (int b = 0; b < q; ++b) e3 += w.B3(j, b) * w.Du(b, r);
        w.Dv3(j, r) = e3;
      }
    }
  }
  if (ducache_.rows() == lay_.M) {
    const bool keep = !*failed && std::isfinite(ll) && w.Du.allFinite();
    for (int r = 0; r < P; ++r)
      for (int b = 0; b < q; ++b) ducache_(i, r * q + b) = keep ? w.Du(b, r) : 0.0;
  }
  if (K_ > 1) {
    w.ubar.noalias() = w.Unodes.topRows(Q).transpose() * w.pi.head(Q);
    for (int b = 0; b < q; ++b) {
      double acc = -w.ubar[b];
      for (int j = 0; j < ni; ++j) acc += w.B1(j, b) * w.S(j, 0) + w.B2(j, b) * w.S(j, 1);
      if (r3)
        for (int j = 0; j < ni; ++j) acc += w.B3(j, b) * w.S(j, 2);
      w.G1[b] = acc;
    }
    w.PZ.topRows(Q).noalias() = w.pi.head(Q).asDiagonal() * grid_.z;
    w.G2.noalias() = -(w.Unodes.topRows(Q).transpose() * w.PZ.topRows(Q));
    for (int j = 0; j < ni; ++j)
      for (int c = 0; c < q; ++c) {
        double d0 = 0.0, d1 = 0.0;
        for (long k = 0; k < Q; ++k) {
          d0 += w.G0(j, k) * w.PZ(k, c);
          d1 += w.G1n(j, k) * w.PZ(k, c);
        }
        for (int b = 0; b < q; ++b) w.G2(b, c) += w.B1(j, b) * d0 + w.B2(j, b) * d1;
        if (r3) {
          double d2 = 0.0;
          for (long k = 0; k < Q; ++k) d2 += w.G2n(j, k) * w.PZ(k, c);
          for (int b = 0; b < q; ++b) w.G2(b, c) += w.B3(j, b) * d2;
        }
      }
  }
  for (int r = 0; r < P; ++r) {
    // dH_r = -sum_j B_j' (t_j . dv_j) B_j  (- dB' Hm B - B' Hm dB for Lambda).
    w.dH.setZero();
    for (int j = 0; j < ni; ++j) {
      double dv[3];
      direct(r, j, dv);
      dv[0] = w.Dv1(j, r);
      dv[1] = w.Dv2(j, r);
      if (r3) dv[2] = w.Dv3(j, r);
      const Obs2& o = w.ob[j];
      double m2[3][3];
      const int nr = r3 ? 3 : 2;
      for (int a = 0; a < nr; ++a)
        for (int b = 0; b < nr; ++b)
          m2[a][b] = o.t[a][b][0] * dv[0] + o.t[a][b][1] * dv[1] + o.t[a][b][2] * dv[2];
      for (int a = 0; a < q; ++a) {
        const double b1a = w.B1(j, a), b2a = w.B2(j, a);
        for (int b = 0; b <= a; ++b)
          w.dH(a, b) -= m2[0][0] * b1a * w.B1(j, b) + m2[0][1] * (b1a * w.B2(j, b) + b2a * w.B1(j, b)) +
                        m2[1][1] * b2a * w.B2(j, b);
      }
      if (r3)
        for (int a = 0; a < q; ++a) {
          const double b1a = w.B1(j, a), b2a = w.B2(j, a), b3a = w.B3(j, a);
          for (int b = 0; b <= a; ++b)
            w.dH(a, b) -= m2[0][2] * (b1a * w.B3(j, b) + b3a * w.B1(j, b)) +
                          m2[1][2] * (b2a * w.B3(j, b) + b3a * w.B2(j, b)) +
                          m2[2][2] * b3a * w.B3(j, b);
        }
    }
    for (int a = 0; a < q; ++a)
      for (int b = 0; b < a; ++b) w.dH(b, a) = w.dH(a, b);
    if (r >= p_ && r < p_ + nl_) {
      const int a = lam_row_[r - p_], b0 = lam_col_[r - p_];
      w.hv.setZero();
      for (int j = 0; j < ni; ++j) {
        const Obs2& o = w.ob[j];
        const double z1 = Z1_(s0 + j, a), z2 = Z2_(s0 + j, a);
        const double c1 = z1 * o.h[0][0] + z2 * o.h[1][0];  // coefficient of B1_j
        const double c2 = z1 * o.h[0][1] + z2 * o.h[1][1];  // of B2_j
        for (int b = 0; b < q; ++b) w.hv[b] += c1 * w.B1(j, b) + c2 * w.B2(j, b);
        if (r3) {
          // (the third predictor's rows: its own coefficient, and its
          // cross terms with the other two)
          const double z3 = Z3_(s0 + j, a);
          const double d1 = z3 * o.h[2][0], d2 = z3 * o.h[2][1];
          const double c3 = z1 * o.h[0][2] + z2 * o.h[1][2] + z3 * o.h[2][2];
          for (int b = 0; b < q; ++b)
            w.hv[b] += d1 * w.B1(j, b) + d2 * w.B2(j, b) + c3 * w.B3(j, b);
        }
      }
      w.dH.row(b0) -= w.hv.transpose();
      w.dH.col(b0) -= w.hv;
    }
    double gr = -0.5 * (w.Hinv.cwiseProduct(w.dH)).sum();
    if (K_ > 1) {
      w.Mr.noalias() = w.Cinv * w.dH * w.Cinv.transpose();
      w.tmp_q = w.Mr.triangularView<Eigen::Lower>();
      w.tmp_q.diagonal() *= 0.5;
      w.dL.noalias() = -(w.Cinv.transpose() * w.tmp_q.transpose());
      gr += w.G1.dot(w.Du.col(r)) + (w.G2.cwiseProduct(w.dL)).sum();
    }
    g[r] += gr;
  }
  return ll;
}

// Before the clusters of an evaluation at theta: whether they may start
// from the first-order moved modes (ducache_ valid for this size), and
// room for d u^ / d theta when the gradient is asked (the prediction is
// skipped where that memory is not to be had: it only saves iterations).
void TwoPartEngine::start_evaluation(const VectorXd& theta, bool gradient) {
  const int P = npar();
  use_du_ = du_valid_ && du_theta_.size() == theta.size();
  if (use_du_) dtheta_ = theta - du_theta_;
  du_valid_ = false;
  if (!gradient || ducache_.rows() == lay_.M) return;
  try {
    ducache_.setZero(lay_.M, (Eigen::Index)q_ * P);
  } catch (const std::bad_alloc&) {
    ducache_.resize(0, 0);
  }
}

TwoPartEngine::Predictors TwoPartEngine::prepare(const VectorXd& theta) const {
  MatrixXd Lam = MatrixXd::Zero(q_, q_);
  for (int e = 0; e < nl_; ++e) Lam(lam_row_[e], lam_col_[e]) = theta[p_ + e];
  return Predictors{Lam, X_ * theta.head(p_) + off_.col(0),
                    Xz_ * theta.segment(p_ + nl_, pz_) + off_.col(1),
                    Xd_ * theta.segment(p_ + nl_ + pz_, pd_) + off_.col(2)};
}

std::vector<std::unique_ptr<TwoPartEngine::Work> > TwoPartEngine::make_work(int nt) const {
  const long Q = grid_.z.rows();
  return thread_work<Work>(nt, zi_random_work_doubles(nmax_, q_, (double)Q, npar(), r3_), nmax_, q_,
                           Q, npar(), r3_);
}

MatrixXd TwoPartEngine::cluster_scores(const VectorXd& theta) {
  MatrixXd S(lay_.M, npar());
  evaluate(theta, true, &S);
  return S;
}

AgqResult TwoPartEngine::evaluate(const VectorXd& theta, bool gradient, MatrixXd* scores) {
  const int M = lay_.M, P = npar();
  start_evaluation(theta, gradient);
  const Predictors pr = prepare(theta);
  const int nt = cluster_threads(nthreads_, M);
  std::vector<std::unique_ptr<Work> > work = make_work(nt);
  // Every cluster polls for an interrupt (AgqEngine::evaluate_impl() says why).
  InterruptPoll ip;
  AgqResult res = sum_over_clusters(M, P, nt, gradient, [&](int i, int tid, double* g, bool* failed) {
    if (ip.poll()) throw Rcpp::internal::InterruptedException();
    return cluster(i, pr.eta0, pr.a0, pr.ph, pr.Lam, gradient, *work[tid], g, nullptr, failed);
  }, scores);
  if (gradient) {
    bool finite = std::isfinite(res.loglik) && res.gradient.allFinite();
    // A cluster whose posterior is too flat for the rule (its Hessian at
    // the mode nearly singular) makes the gradient non-finite: the point
    // is reported as unusable, so the search steps back from it.
    if (!finite) {
      res.loglik = -INFINITY;
      res.gradient.setZero();
    } else if (ducache_.rows() == M) {
      du_theta_ = theta;
      du_valid_ = true;
    }
  }
  return res;
}

AgqSummaries TwoPartEngine::summaries(const VectorXd& theta) {
  const Predictors pr = prepare(theta);
  start_evaluation(theta, false);
  const int M = lay_.M, nt = cluster_threads(nthreads_, M);
  std::vector<std::unique_ptr<Work> > work = make_work(nt);
  InterruptPoll ip;
  return summaries_over_clusters(M, q_, nt, [&](int i, int tid, AgqSummaries* out, bool* failed) {
    if (ip.poll()) throw Rcpp::internal::InterruptedException();
    cluster(i, pr.eta0, pr.a0, pr.ph, pr.Lam, false, *work[tid], nullptr, out, failed);
  });
}

}  // namespace glmmgee
