// The known-covariance Laplace engine (known-laplace.h).
#include "engines/known/known-laplace.h"
#include <Rmath.h>
#include <cmath>
#include <limits>
#include "util/parallel.h"
#include "util/resources.h"

namespace glmmgee {

namespace {
// Rows per block of the products: large enough for blocked kernels, small
// enough that the per-thread scratch (block x r) stays a small part of L.
const Eigen::Index kRows = 512;
// Rows per block of the leverages of a dense K's (reversed triangular) factor.
const Eigen::Index kRowsTri = 256;
// Columns per block of L'v and per panel of L'WL.
const Eigen::Index kCols = 128;
// The chord iterations of the modes (KlEngine::ascend) give way to Newton
// steps when the decrement shrinks by less than this factor per iteration,
// or would need more than kChordLeft further iterations at its rate (one
// iteration is two passes over L; one Newton factor is about levels r / 2
// multiply-adds per column, tens of passes).
const double kChordRate = 0.5;
const double kChordLeft = 30;

double log1pexp(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

double plogis(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}
}  // namespace

bool kl_is_reversed_triangular(const KlMat& L) {
  const Eigen::Index r = L.cols();
  if (L.rows() != r || r < 2) return false;
  for (Eigen::Index j = 0; j < r - 1; ++j)  // column j: rows 0 .. r-2-j are zero
    if (!L.col(j).head(r - 1 - j).isZero(0.0)) return false;
  return true;
}

Eigen::MatrixXd KlFactor::mul(const Eigen::MatrixXd& V) const {
  const Eigen::Index n = L_.rows(), r = L_.cols(), k = V.cols();
  const Eigen::Index nb = (n + kRows - 1) / kRows;
  Eigen::MatrixXd out(n, k);
  const int nt = usable_threads(threads_);
  InterruptPoll ip;
  parallel_for(nb, nt, 1, ip, [&](long b) {
    const Eigen::Index lo = b * kRows, m = std::min(kRows, n - lo);
    const Eigen::Index c0 = first_col(lo + m);
    out.middleRows(lo, m).noalias() = L_.block(lo, c0, m, r - c0) * V.bottomRows(r - c0);
  });
  return out;
}

Eigen::VectorXd KlFactor::tmul(const Eigen::VectorXd& v) const {
  const Eigen::Index n = L_.rows(), r = L_.cols();
  const Eigen::Index nb = (r + kCols - 1) / kCols;
  Eigen::VectorXd out(r);
  const int nt = usable_threads(threads_);
  InterruptPoll ip;
  parallel_for(nb, nt, 1, ip, [&](long b) {
    const Eigen::Index j0 = b * kCols, jw = std::min(kCols, r - j0);
    const Eigen::Index i0 = first_row(j0 + jw);
    out.segment(j0, jw).noalias() = L_.block(i0, j0, n - i0, jw).transpose() * v.tail(n - i0);
  });
  return out;
}

bool KlFactor::penalized_factor(const Eigen::VectorXd& w, double s2, Eigen::Ref<Eigen::MatrixXd> F,
                                double* logdet) const {
  const Eigen::Index n = L_.rows(), r = L_.cols();
  const int nt = usable_threads(threads_);
  InterruptPoll ip;
  F.setZero();
  if (!rtri_) {
    // A general factor (levels >> r): row blocks alternate between F and one
    // more r x r partial sum, each a symmetric rank-k update (half the
    // multiply-adds of a general product); the two are added in a fixed
    // order, so the result does not depend on the number of threads.
    check_memory(8.0 * ((double)r * r + 2.0 * kRows * r),
                 "the weighted cross-product of the covariance factor");
    const Eigen::Index nb = (n + kRows - 1) / kRows;
    Eigen::MatrixXd P = Eigen::MatrixXd::Zero(r, r);
    // Two parts (one per block parity), each a loop over its blocks that
    // returns early on an interrupt.
    parallel_for(2, std::min(nt, 2), 1, ip, [&](long k) {
        Eigen::MatrixXd Lw;
        for (Eigen::Index c = k; c < nb; c += 2) {
          if (ip.poll()) return;
          const Eigen::Index lo = c * kRows, m = std::min(kRows, n - lo);
          Lw = w.segment(lo, m).cwiseMax(0.0).cwiseSqrt().asDiagonal() * L_.middleRows(lo, m);
          if (k == 0)
            F.selfadjointView<Eigen::Lower>().rankUpdate(Lw.transpose());
          else
            P.selfadjointView<Eigen::Lower>().rankUpdate(Lw.transpose());
        }
    });
    F.triangularView<Eigen::Lower>() += P;
  } else {
    // The reversed-triangular factor of a dense K (levels = r): no r x r
    // scratch beyond F. Row blocks in order; within a block each thread adds
    // to its own column panels of the lower triangle, so every entry is
    // summed in row order whatever the number of threads. Rows [lo, lo+m)
    // are zero before column c0, which the products skip.
    check_memory(8.0 * kRows * r, "the weighted cross-product of the covariance factor");
    const Eigen::Index np = (r + kCols - 1) / kCols;
    Eigen::MatrixXd Lw(kRows, r);
    for (Eigen::Index lo = 0; lo < n; lo += kRows) {
      const Eigen::Index m = std::min(kRows, n - lo);
      const Eigen::Index c0 = first_col(lo + m);
      Lw.topRows(m).rightCols(r - c0) = w.segment(lo, m).cwiseMax(0.0).asDiagonal() *
                                        L_.block(lo, c0, m, r - c0);
      parallel_for(np, nt, 1, ip, [&](long p) {
        const Eigen::Index j0 = p * kCols, jw = std::min(kCols, r - j0);
        if (j0 + jw <= c0) return;  // the panel's columns are zero in these rows
        const Eigen::Index a = std::max(j0, c0);
        F.block(a, a, r - a, j0 + jw - a).noalias() +=
            L_.block(lo, a, m, r - a).transpose() * Lw.block(0, a, m, j0 + jw - a);
      });
    }
  }
  F.triangularView<Eigen::Lower>() *= s2;
  F.diagonal().array() += 1.0;
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd> > llt(F);  // in place: F's lower triangle
  if (llt.info() != Eigen::Success) return false;
  *logdet = 2.0 * F.diagonal().array().log().sum();
  return std::isfinite(*logdet);
}

Eigen::VectorXd KlFactor::leverages(const Eigen::MatrixXd& F) const {
  const Eigen::Index n = L_.rows(), r = L_.cols();
  // a dense K's factor: smaller row blocks, so that the threads' scratch
  // (a block's rows of L) adds little to the two n x n matrices of the fit
  const Eigen::Index br = rtri_ ? kRowsTri : kRows;
  const Eigen::Index nb = (n + br - 1) / br;
  const int nt = usable_threads(threads_);
  // lev_i = ||F^{-1} l_i||^2. A general factor: the rows of L F^{-T} by
  // blocked products with the explicit inverse (r x r, small beside L). The
  // reversed-triangular one: triangular solves in place, where a row zero
  // before c0 needs only F's trailing block (no r x r scratch).
  Eigen::MatrixXd Finv;
  if (!rtri_) {
    check_memory(8.0 * ((double)r * r + (double)nt * kRows * r),
                 "the leverages of the covariance factor");
    Finv = Eigen::MatrixXd::Identity(r, r);
    F.triangularView<Eigen::Lower>().solveInPlace(Finv);
  } else {
    check_memory(8.0 * nt * br * r, "the leverages of the covariance factor");
  }
  Eigen::VectorXd lev(n);
  InterruptPoll ip;
  parallel_for(nb, nt, 1, ip, [&](long b) {
      const Eigen::Index lo = b * br, m = std::min(br, n - lo);
      if (!rtri_) {
        Eigen::MatrixXd T = L_.middleRows(lo, m) *
                            Finv.transpose().triangularView<Eigen::Upper>();
        lev.segment(lo, m) = T.rowwise().squaredNorm();
        return;
      }
      const Eigen::Index c0 = first_col(lo + m), k = r - c0;
      Eigen::MatrixXd T = L_.block(lo, c0, m, k).transpose();
      F.bottomRightCorner(k, k).triangularView<Eigen::Lower>().solveInPlace(T);
      lev.segment(lo, m) = T.colwise().squaredNorm().transpose();
  });
  return lev;
}

std::vector<Eigen::MatrixXd> KlFactor::weighted_grams(const Eigen::MatrixXd& F,
                                                      const Eigen::MatrixXd& V) const {
  const Eigen::Index n = L_.rows(), r = L_.cols(), nk = V.cols();
  const Eigen::Index br = rtri_ ? kRowsTri : kRows;
  const Eigen::Index nb = (n + br - 1) / br;
  // Two sets of partial sums, one per block parity, added in a fixed order:
  // the result does not depend on the number of threads (as in
  // penalized_factor()).
  check_memory(8.0 * ((2.0 * nk + (rtri_ ? 0.0 : 1.0)) * r * r + 2.0 * (nk + 1) * br * r),
               "the weighted Gram matrices of the covariance factor");
  Eigen::MatrixXd Finv;
  if (!rtri_) {
    Finv = Eigen::MatrixXd::Identity(r, r);
    F.triangularView<Eigen::Lower>().solveInPlace(Finv);
  }
  std::vector<Eigen::MatrixXd> S(2 * nk);
  for (auto& m : S) m = Eigen::MatrixXd::Zero(r, r);
  const int nt = usable_threads(threads_);
  InterruptPoll ip;
  parallel_for(2, std::min(nt, 2), 1, ip, [&](long part) {
      Eigen::MatrixXd T, Tw;
      for (Eigen::Index b = part; b < nb; b += 2) {
        if (ip.poll()) return;
        const Eigen::Index lo = b * br, m = std::min(br, n - lo);
        // T = the block's rows of A, transposed (k x m): rows before c0 of a
        // reversed-triangular block are zero and stay so after the solve.
        const Eigen::Index c0 = first_col(lo + m), k = r - c0;
        if (!rtri_) {
          T = Finv.triangularView<Eigen::Lower>() * L_.middleRows(lo, m).transpose();
        } else {
          T = L_.block(lo, c0, m, k).transpose();
          F.bottomRightCorner(k, k).triangularView<Eigen::Lower>().solveInPlace(T);
        }
        for (Eigen::Index j = 0; j < nk; ++j) {
          Tw = T * V.col(j).segment(lo, m).asDiagonal();
          S[part * nk + j].bottomRightCorner(k, k).triangularView<Eigen::Lower>() +=
              Tw * T.transpose();
        }
      }
  });
  std::vector<Eigen::MatrixXd> out(nk);
  for (Eigen::Index j = 0; j < nk; ++j) {
    out[j].swap(S[j]);
    out[j].triangularView<Eigen::Lower>() += S[nk + j];
    S[nk + j].resize(0, 0);
  }
  return out;
}

KlEngine::KlEngine(const KlMat& L, bool rtri, std::vector<int> index, Eigen::VectorXd y,
                   Eigen::VectorXd m, int family, int threads)
    : L_(L, rtri, threads), index_(std::move(index)), y_(std::move(y)), m_(std::move(m)),
      family_(family), have_F_(false), s_(0), h_(0), logdet_(0) {
  const Eigen::Index n = y_.size();
  identity_ = (Eigen::Index)index_.size() == L.rows() && n == L.rows();
  for (Eigen::Index i = 0; identity_ && i < n; ++i) identity_ = index_[i] == i;
  const_.resize(n);
  for (Eigen::Index i = 0; i < n; ++i)
    const_[i] = family_ == kKlBinomialLogit ? R::lchoose(m_[i], std::nearbyint(m_[i] * y_[i]))
                                             : -std::lgamma(y_[i] + 1.0);
  reset();
}

void KlEngine::reset() {
  u_ = Eigen::VectorXd::Zero(L_.cols());
  have_F_ = false;
}

double KlEngine::loglik(const Eigen::VectorXd& eta) const {
  double ll = 0;
  if (family_ == kKlBinomialLogit) {
    for (Eigen::Index i = 0; i < eta.size(); ++i)
      ll += const_[i] + m_[i] * (y_[i] * eta[i] - log1pexp(eta[i]));
  } else {
    for (Eigen::Index i = 0; i < eta.size(); ++i)
      ll += const_[i] + y_[i] * eta[i] - std::exp(eta[i]);
  }
  return ll;
}

void KlEngine::derivs(const Eigen::VectorXd& eta, Derivs* d, bool third) const {
  const Eigen::Index n = eta.size();
  d->r.resize(n);
  d->w.resize(n);
  if (third) {
    d->w3.resize(n);
    d->w4.resize(n);
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    if (family_ == kKlBinomialLogit) {
      const double mu = plogis(eta[i]);
      d->r[i] = m_[i] * (y_[i] - mu);
      d->w[i] = m_[i] * mu * (1 - mu);
      if (third) {
        d->w3[i] = d->w[i] * (1 - 2 * mu);
        d->w4[i] = d->w[i] * (1 - 6 * mu * (1 - mu));
      }
    } else {
      const double mu = std::exp(eta[i]);
      d->r[i] = y_[i] - mu;
      d->w[i] = mu;
      if (third) d->w3[i] = d->w4[i] = mu;
    }
  }
}

Eigen::VectorXd KlEngine::level_sums(const Eigen::VectorXd& v) const {
  if (identity_) return v;
  Eigen::VectorXd out = Eigen::VectorXd::Zero(L_.rows());
  for (size_t i = 0; i < index_.size(); ++i) out[index_[i]] += v[i];
  return out;
}

Eigen::VectorXd KlEngine::at_obs(const Eigen::VectorXd& lv) const {
  if (identity_) return lv;
  Eigen::VectorXd out(index_.size());
  for (size_t i = 0; i < index_.size(); ++i) out[i] = lv[index_[i]];
  return out;
}

Eigen::VectorXd KlEngine::msolve(const Eigen::VectorXd& g) const {
  Eigen::VectorXd x = F_.triangularView<Eigen::Lower>().solve(g);
  F_.triangularView<Eigen::Lower>().transpose().solveInPlace(x);
  return x;
}

bool KlEngine::ascend(const Eigen::VectorXd& eta0, double s, int maxit, bool refresh) {
  const Eigen::Index r = L_.cols();
  Eigen::VectorXd u = u_;
  Eigen::VectorXd Lu = L_.mul(u);
  Eigen::VectorXd eta = eta0 + s * at_obs(Lu);
  double h = loglik(eta) - 0.5 * u.squaredNorm();
  double dec_old = std::numeric_limits<double>::infinity();
  bool have = !refresh && have_F_;
  Derivs d;
  for (int it = 0; it < maxit; ++it) {
    Rcpp::checkUserInterrupt();
    derivs(eta, &d, false);
    const Eigen::VectorXd g = s * L_.tmul(level_sums(d.r)) - u;
    bool fresh = false;
    if (refresh && (!have || g.dot(msolve(g)) > 0.1 * dec_old)) {
      if (F_.rows() != r) {
        check_memory(8.0 * r * r, "the penalized Hessian of the random effects");
        F_.resize(r, r);
      }
      double ld;
      have_F_ = have = L_.penalized_factor(level_sums(d.w), s * s, F_, &ld);
      if (!have) return false;
      fresh = true;
    }
    const Eigen::VectorXd delta = msolve(g);
    const double dec = g.dot(delta);
    if (!refresh && it >= 2 && dec >= 1e-14 && std::isfinite(dec_old)) {
      // The chord iterations converge linearly, at the rate at which the
      // decrement shrinks. Where the remaining iterations at that rate would
      // cost more than a few Newton factors (a step of the optimizer that
      // moved s or the modes far), hand over to Newton steps from here: the
      // modes found so far are kept as their start.
      const double rho = dec / dec_old;
      if (!(rho < kChordRate) ||
          std::log(1e-14 / dec) / std::log(rho) > kChordLeft) {
        u_ = u;
        return false;
      }
    }
    dec_old = dec;
    if (dec < (fresh ? 1e-10 : 1e-14)) {
      u_ = u + delta;
      Lu_ = L_.mul(u_);
      eta_ = eta0 + s * at_obs(Lu_);
      h_ = loglik(eta_) - 0.5 * u_.squaredNorm();
      return std::isfinite(h_);
    }
    const Eigen::VectorXd Ld = L_.mul(delta);
    double step = 1;
    Eigen::VectorXd un, Lun, en;
    double hn;
    for (;;) {
      un = u + step * delta;
      Lun = Lu + step * Ld;
      en = eta0 + s * at_obs(Lun);
      hn = loglik(en) - 0.5 * un.squaredNorm();
      if (std::isfinite(hn) && hn >= h - 1e-12 * std::fabs(h)) break;
      step /= 2;
      if (step < 1e-10) return false;
    }
    u.swap(un);
    Lu.swap(Lun);
    eta.swap(en);
    h = hn;
  }
  return false;
}

bool KlEngine::evaluate(const Eigen::VectorXd& eta0, double s) {
  s_ = s;
  bool ok = have_F_ && ascend(eta0, s, 60, false);
  if (!ok) ok = ascend(eta0, s, 200, true);
  if (!ok) return false;
  Derivs d;
  derivs(eta_, &d, false);
  const Eigen::Index r = L_.cols();
  if (F_.rows() != r) {
    check_memory(8.0 * r * r, "the penalized Hessian of the random effects");
    F_.resize(r, r);
  }
  have_F_ = L_.penalized_factor(level_sums(d.w), s * s, F_, &logdet_);
  return have_F_;
}

void KlEngine::gradient(Eigen::VectorXd* vobs, double* dlogs, Eigen::VectorXd* lev) const {
  if (!have_F_) Rcpp::stop("the known-covariance engine has no factor at the current point");
  const double s = s_, s2 = s * s;
  Derivs d;
  derivs(eta_, &d, true);
  *lev = L_.leverages(F_);
  const Eigen::VectorXd wl = level_sums(d.w), rl = level_sums(d.r);
  // r - tr(M^{-1}) = tr(M^{-1} (M - I)) = s^2 sum_i w_i lev_i
  const double tI = s2 * wl.dot(*lev);
  const Eigen::VectorXd cobs = (-0.5 * s2) * d.w3.cwiseProduct(at_obs(*lev));
  const Eigen::VectorXd cl = level_sums(cobs);
  Eigen::MatrixXd V(L_.cols(), 2);
  V.col(0) = msolve(L_.tmul(cl));
  V.col(1) = (2 * msolve(u_) - u_) / s;
  const Eigen::MatrixXd Q = L_.mul(V);
  *vobs = d.r + cobs - s2 * d.w.cwiseProduct(at_obs(Q.col(0)));
  const double gs = rl.dot(Lu_) - tI / s + cl.dot(Lu_ + s * Q.col(1));
  *dlogs = s * gs;
}

// Notation: theta = (beta, s), eta = X beta + s Z L u at the modes u(theta)
// (Z: observations to levels), e_k = d eta / d theta_k at fixed u (X_k, or
// Z L u for s), M = I + s^2 L'Z'WZL. The Laplace log-likelihood is
// h(u(theta), theta) - log det M / 2 with h = loglik(eta) - u'u/2.
//  - The modes: s L'Z'r = u; differentiated, M du_k = dk_s L'Z'r -
//    s L'Z'(w e_k), and deta_k = e_k + s Z L du_k (the total derivative).
//  - h at the modes: d2h_kl = dk_s (Z L du_l)'r - e_k'(w deta_l) (the
//    envelope theorem, then the total derivative of e_k'r).
//  - log det M: dM_k = L'Z' diag(v_k) Z L with v_k = 2 s dk_s w +
//    s^2 w3 deta_k, so d2 (-log det M / 2)_kl = tr(M^-1 dM_l M^-1 dM_k) / 2
//    - tr(M^-1 d2M_kl) / 2; the first trace is v_k'(P o P) v_l =
//    tr(S_k S_l) (weighted_grams()), the second a sum over the leverages p_i
//    of the weights of d2M_kl = 2 dk_s dl_s w + 2 s (dk_s w3 deta_l +
//    dl_s w3 deta_k) + s^2 (w4 deta_k deta_l + w3 d2eta_kl).
//  - d2eta_kl = dk_s Z L du_l + dl_s Z L du_k + s Z L d2u_kl, where the
//    mode equation differentiated twice gives M d2u_kl = L'Z' a_kl with
//    a_kl = -dk_s w (deta_l + s Z L du_l) - dl_s w (deta_k + s Z L du_k)
//    - s w3 deta_k deta_l; only c' d2u_kl is needed (c = L'Z'(w3 p)), so
//    one solve M z = c serves every pair.
Eigen::MatrixXd KlEngine::hessian(const Eigen::Map<const Eigen::MatrixXd>& X) const {
  if (!have_F_) Rcpp::stop("the known-covariance engine has no factor at the current point");
  const Eigen::Index n = y_.size(), p = X.cols(), q = p + 1, r = L_.cols();
  if (X.rows() != n) Rcpp::stop("the known-covariance engine: X has %d rows, not %d",
                                (int)X.rows(), (int)n);
  const double s = s_, s2 = s * s;
  Derivs d;
  derivs(eta_, &d, true);
  const Eigen::VectorXd lev = L_.leverages(F_);
  const Eigen::VectorXd pobs = at_obs(lev);
  const Eigen::VectorXd zlu = at_obs(Lu_);
  Eigen::MatrixXd E(n, q), dU(r, q);
  E.leftCols(p) = X;
  E.col(p) = zlu;
  for (Eigen::Index k = 0; k < q; ++k) {
    Eigen::VectorXd a = (-s) * d.w.cwiseProduct(E.col(k));
    if (k == p) a += d.r;
    dU.col(k) = msolve(L_.tmul(level_sums(a)));
  }
  Eigen::MatrixXd ZLdU(n, q);
  {
    const Eigen::MatrixXd LdU = L_.mul(dU);
    for (Eigen::Index k = 0; k < q; ++k) ZLdU.col(k) = at_obs(LdU.col(k));
  }
  const Eigen::MatrixXd dEta = E + s * ZLdU;
  // h at the modes
  Eigen::MatrixXd H = -E.transpose() * (d.w.asDiagonal() * dEta);
  H.row(p) += d.r.transpose() * ZLdU;
  // the log-determinant: the weighted Gram matrices of the v_k
  const Eigen::VectorXd w3p = d.w3.cwiseProduct(pobs);
  Eigen::MatrixXd Vl(L_.rows(), q);
  for (Eigen::Index k = 0; k < q; ++k) {
    Eigen::VectorXd v = s2 * d.w3.cwiseProduct(dEta.col(k));
    if (k == p) v += (2 * s) * d.w;
    Vl.col(k) = level_sums(v);
  }
  std::vector<Eigen::MatrixXd> S = L_.weighted_grams(F_, Vl);
  const Eigen::VectorXd z = msolve(L_.tmul(level_sums(w3p)));
  const double swp = d.w.dot(pobs);
  for (Eigen::Index k = 0; k < q; ++k) {
    for (Eigen::Index l = k; l < q; ++l) {
      // tr(S_k S_l) from the lower triangles
      const double g = 2 * S[k].triangularView<Eigen::Lower>().toDenseMatrix().cwiseProduct(
                               S[l]).sum() -
                       S[k].diagonal().dot(S[l].diagonal());
      Eigen::VectorXd a = (-s) * d.w3.cwiseProduct(dEta.col(k)).cwiseProduct(dEta.col(l));
      double tr2 = s2 * (d.w4.cwiseProduct(dEta.col(k)).cwiseProduct(dEta.col(l))).dot(pobs);
      if (k == p) {
        a -= d.w.cwiseProduct(dEta.col(l) + s * ZLdU.col(l));
        tr2 += 2 * s * w3p.dot(dEta.col(l)) + s2 * w3p.dot(ZLdU.col(l));
      }
      if (l == p) {
        a -= d.w.cwiseProduct(dEta.col(k) + s * ZLdU.col(k));
        tr2 += 2 * s * w3p.dot(dEta.col(k)) + s2 * w3p.dot(ZLdU.col(k));
      }
      if (k == p && l == p) tr2 += 2 * swp;
      // s^2 w3'(p * s Z L d2u_kl) = s^3 z' L'Z' a_kl
      tr2 += s2 * s * z.dot(L_.tmul(level_sums(a)));
      const double hkl = 0.5 * g - 0.5 * tr2;
      H(k, l) += hkl;
      if (l != k) H(l, k) += hkl;
    }
  }
  return 0.5 * (H + H.transpose());
}

}  // namespace glmmgee
