// The two-part sparse Laplace engine (sparse-zire.h).
#include "sparse-zire.h"
#include <cmath>
#include <limits>
#include <stdexcept>

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

SparseZire::SparseZire(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& Xz,
                       const Eigen::Ref<const MatrixXd>& Xd, const SpMat& Zc, const SpMat& Zz,
                       const Eigen::Ref<const VectorXd>& y, const Eigen::Ref<const VectorXd>& wt,
                       const Eigen::Ref<const MatrixXd>& off, const std::vector<int>& lam_row,
                       const std::vector<int>& lam_col, const std::vector<int>& lam_k,
                       int ntheta, int family, int link, int kind)
    : n_((int)X.rows()), p_((int)X.cols()), pz_((int)Xz.cols()), pd_((int)Xd.cols()),
      Q_((int)(Zc.cols() + Zz.cols())), nth_(ntheta), X_(X), Xz_(Xz), Xd_(Xd), off_(off),
      y_(y), wt_(wt), lr_(lam_row), lc_(lam_col), lk_(lam_k) {
  fam_ = make_obs_model(family, link);
  if (!fam_) throw std::invalid_argument("unsupported family/link");
  obs_ = make_two_part_re(kind, fam_.get());
  if (!obs_) throw std::invalid_argument("unknown two-part kind");
  if (fam_->has_dispersion() != (pd_ > 0))
    throw std::invalid_argument("a dispersion design is needed exactly when the family has a dispersion");
  for (size_t k = 0; k < lr_.size(); ++k)
    if (lr_[k] < 0 || lr_[k] >= Q_ || lc_[k] < 0 || lc_[k] > lr_[k] || lk_[k] < 0 ||
        lk_[k] >= nth_)
      throw std::invalid_argument("the Lambda pattern is out of range");
  const int qc = (int)Zc.cols();
  std::vector<Eigen::Triplet<double> > t1, t2;
  for (int j = 0; j < Zc.outerSize(); ++j)
    for (SpMat::InnerIterator it(Zc, j); it; ++it) t1.emplace_back(it.row(), j, it.value());
  for (int j = 0; j < Zz.outerSize(); ++j)
    for (SpMat::InnerIterator it(Zz, j); it; ++it) t2.emplace_back(it.row(), qc + j, it.value());
  Z1_.resize(n_, Q_);
  Z2_.resize(n_, Q_);
  Z1_.setFromTriplets(t1.begin(), t1.end());
  Z2_.setFromTriplets(t2.begin(), t2.end());
  for (int i = 0; i < n_; ++i) lconst_ += obs_->logconst(y_[i], wt_[i]);
  for (VectorXd* v : {&eta_, &av_, &g1_, &g2_, &w11_, &w12_, &w22_}) v->setZero(n_);
  ucache_.setZero(Q_);
}

void SparseZire::setup(const VectorXd& theta) {
  if (theta.size() != npar()) throw std::invalid_argument("theta has the wrong length");
  std::vector<Eigen::Triplet<double> > tl;
  tl.reserve(lr_.size());
  for (size_t k = 0; k < lr_.size(); ++k) tl.emplace_back(lr_[k], lc_[k], theta[p_ + lk_[k]]);
  SpMat Lam(Q_, Q_);
  Lam.setFromTriplets(tl.begin(), tl.end());
  A1_ = Z1_ * Lam;
  A2_ = Z2_ * Lam;
  eta0_ = X_ * theta.head(p_) + off_.col(0);
  a0_ = Xz_ * theta.segment(p_ + nth_, pz_) + off_.col(1);
  ph_ = Xd_ * theta.segment(p_ + nth_ + pz_, pd_) + off_.col(2);
}

double SparseZire::rows(const VectorXd& u, bool full) {
  eta_ = eta0_ + A1_ * u;
  av_ = a0_ + A2_ * u;
  double s = 0.0;
  Obs2 o;
  for (int i = 0; i < n_; ++i) {
    obs_->eval(y_[i], wt_[i], eta_[i], av_[i], ph_[i], full, o);
    s += o.l;
    if (!full) continue;
    g1_[i] = o.g[0];
    g2_[i] = o.g[1];
    w11_[i] = -o.h[0][0];
    w12_[i] = -o.h[0][1];
    w22_[i] = -o.h[1][1];
  }
  return s;
}

void SparseZire::hessian(SpMat& H) const {
  SpMat I(Q_, Q_);
  I.setIdentity();
  SpMat C = SpMat(A1_.transpose()) * (w12_.asDiagonal() * A2_);
  H = SpMat(A1_.transpose()) * (w11_.asDiagonal() * A1_) +
      SpMat(A2_.transpose()) * (w22_.asDiagonal() * A2_) + C + SpMat(C.transpose()) + I;
}

// Newton's method for the joint mode with step halving; where H is not
// positive definite (the two-part likelihood is not concave) a multiple of
// I is added until it is (Levenberg). Ends with the factor of the
// undamped H at the mode.
bool SparseZire::mode(int* iters) {
  VectorXd u = ucache_;
  double f = rows(u, true) - 0.5 * u.squaredNorm();
  if (!std::isfinite(f)) {
    u.setZero();
    f = rows(u, true) - 0.5 * u.squaredNorm();
    if (!std::isfinite(f)) return false;
  }
  SpMat H, Hd, I(Q_, Q_);
  I.setIdentity();
  bool done = false;
  double last_dec = std::numeric_limits<double>::infinity();
  int it = 0;
  for (; it < 200 && !done; ++it) {
    Rcpp::checkUserInterrupt();  // main thread: one factorization per check
    hessian(H);
    VectorXd grad = A1_.transpose() * g1_ + A2_.transpose() * g2_ - u;
    double mu = 0.0;
    chol_.compute(H);
    while (chol_.info() != Eigen::Success) {
      mu = mu == 0.0 ? 1e-4 : mu * 10.0;
      if (mu > 1e8) return false;
      Hd = H + mu * I;
      chol_.compute(Hd);
    }
    VectorXd step = chol_.solve(grad);
    const double dec = grad.dot(step);
    last_dec = dec;
    if (dec < 1e-20) { done = true; break; }
    double t = 1.0, fn = -std::numeric_limits<double>::infinity();
    VectorXd un;
    for (int h = 0; h < 40; ++h, t *= 0.5) {
      un = u + t * step;
      fn = rows(un, false) - 0.5 * un.squaredNorm();
      if (std::isfinite(fn) && fn >= f - 1e-12 * std::abs(f)) break;
    }
    if (!std::isfinite(fn) || fn < f - 1e-12 * std::abs(f)) { rows(u, true); done = true; break; }
    u = un;
    f = rows(u, true) - 0.5 * u.squaredNorm();
    if (dec < 1e-14 && t == 1.0) done = true;
  }
  if (iters) *iters = it;
  // A search that stopped (no ascent left, or the iteration cap) with the
  // Newton decrement still large has not found the mode: its Laplace value
  // would be wrong, so the evaluation fails (as the one-part engine's).
  if (!(last_dec < 1e-6)) return false;
  hessian(H);
  chol_.compute(H);
  if (chol_.info() != Eigen::Success) return false;
  u_ = u;
  ucache_ = u;
  return true;
}

double SparseZire::evaluate(const VectorXd& theta, int* iters) {
  setup(theta);
  if (!mode(iters)) {
    ucache_.setZero();
    return -std::numeric_limits<double>::infinity();
  }
  const double s = rows(u_, false);
  const VectorXd d = SpMat(chol_.matrixL()).diagonal();
  double ld = 0.0;
  for (int j = 0; j < Q_; ++j) ld += 2.0 * std::log(d[j]);
  return s + lconst_ - 0.5 * u_.squaredNorm() - 0.5 * ld;
}

SparseZireModes SparseZire::modes(const VectorXd& theta) {
  SparseZireModes m;
  m.loglik = evaluate(theta, nullptr);
  if (!std::isfinite(m.loglik)) {
    m.failed = true;
    return m;
  }
  std::vector<Eigen::Triplet<double> > tl;
  for (size_t k = 0; k < lr_.size(); ++k) tl.emplace_back(lr_[k], lc_[k], theta[p_ + lk_[k]]);
  SpMat Lam(Q_, Q_);
  Lam.setFromTriplets(tl.begin(), tl.end());
  m.u = u_;
  m.b = Lam * u_;
  rows(u_, false);
  m.eta = eta_;
  m.a = av_;
  SpMat H;
  hessian(H);
  // H^{-1} on H's lower pattern, a block of columns at a time.
  const int bs = 256;
  for (int j0 = 0; j0 < Q_; j0 += bs) {
    Rcpp::checkUserInterrupt();
    const int nc = std::min(bs, Q_ - j0);
    MatrixXd E = MatrixXd::Zero(Q_, nc);
    for (int c = 0; c < nc; ++c) E(j0 + c, c) = 1.0;
    const MatrixXd S = chol_.solve(E);
    for (int c = 0; c < nc; ++c)
      for (SpMat::InnerIterator it(H, j0 + c); it; ++it) {
        if (it.row() < j0 + c) continue;
        m.inv_i.push_back((int)it.row());
        m.inv_j.push_back(j0 + c);
        m.inv_x.push_back(S(it.row(), c));
      }
  }
  return m;
}

}  // namespace glmmgee
