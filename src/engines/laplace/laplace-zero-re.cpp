// The two-part sparse Laplace engine (laplace-zero-re.h).
//
// Gradient of L = sum l(eta(u^), a(u^), phi) - |u^|^2/2 - log det(H)/2.
// Row i: R_i = (alpha_i; zeta_i), the rows of A1 and A2; l's derivatives g
// (in eta, a, phi), h (second, h2 its 2 x 2 block in (eta, a), hphi its
// column in phi), t (third); W_i = -h2. A parameter moves row i's
// predictors at fixed u by dv0_i = (deta0, da0) and dphi_i; then
//   du^ = H^{-1} sum_i R_i' (h2_i dv0_i + hphi_i dphi_i)   (+ Lambda_k' w),
//   d log det H = sum_i c_i . dv_i + cphi_i dphi_i  (+ the explicit term),
// with M_i = R_i H^{-1} R_i', c_i,d = -sum_bc M_i,bc t_i[b][c][d] and dv_i
// the total change of (eta_i, a_i). With v = H^{-1} sum_i R_i' c_i,
// e_i = c_i + h2_i R_i v and ephi_i = cphi_i + hphi_i . R_i v:
//   dL/dbeta    = X'  (g_eta - e_eta / 2),   dL/dgamma = Xz' (g_a - e_a / 2),
//   dL/ddelta   = Xd' (g_phi - ephi / 2),
//   dL/dlambda_k = sum_{(r,c) in k} [ze_r u^_c - w_r v_c / 2]
//                  - sum_i sum_{recipes (i, r, c) of k} z_ir sum_b W_i,b p(c) (H^{-1} R_b,i')_c,
// ze = Zc' (g_eta - e_eta/2) stacked on Zz' (g_a - e_a/2), w the same without
// e, p(c) the part (count 0, zero 1) of column c. The last term is the
// explicit derivative of log det H through A. (The one-part engine's
// formulas, laplace.cpp, with a 2 x 2 W per row.)
#include "engines/laplace/laplace-zero-re.h"
#include "util/resources.h"
#include "util/sparse-pairs.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace glmmgee {

// The guard's bound is passed by reference (Rcpp::Named), an odr-use: under
// C++14 it needs this definition, or an unoptimized build fails to load
// with an undefined symbol.
constexpr double SparseTwoPart::kHminTol;

using Eigen::MatrixXd;
using Eigen::VectorXd;


SparseTwoPart::SparseTwoPart(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& Xz,
                       const Eigen::Ref<const MatrixXd>& Xd, const SpMat& Zc, const SpMat& Zz,
                       const Eigen::Ref<const VectorXd>& y, const Eigen::Ref<const VectorXd>& wt,
                       const Eigen::Ref<const MatrixXd>& off, const std::vector<int>& lam_row,
                       const std::vector<int>& lam_col, const std::vector<int>& lam_k,
                       int ntheta, int family, int link, int kind, int nsecond)
    : n_((int)X.rows()), p_((int)X.cols()), pz_((int)Xz.cols()), pd_((int)Xd.cols()),
      Q_((int)(Zc.cols() + Zz.cols())), qc_((int)Zc.cols()), nth_(ntheta), X_(X), Xz_(Xz),
      Xd_(Xd), off_(off), y_(y), wt_(wt), lr_(lam_row), lc_(lam_col), lk_(lam_k) {
  make_two_part_models(family, link, kind, pd_, fam_, obs_);
  const bool swapped = kind == 5 || kind == 6;
  a_at_ = p_ + nth_ + (swapped ? pd_ : 0);
  row_consts_ = kind < 5;
  ph_at_ = p_ + nth_ + (swapped ? 0 : pz_);
  nr_ = obs_->random_predictors();
  if (nsecond < 0) nsecond = (int)Zz.cols();
  if (nsecond > Zz.cols() || (nr_ == 2 && nsecond != Zz.cols()))
    throw std::invalid_argument("the zero part's random-effect columns are out of range");
  q2_ = qc_ + nsecond;
  for (size_t k = 0; k < lr_.size(); ++k)
    if (lr_[k] < 0 || lr_[k] >= Q_ || lc_[k] < 0 || lc_[k] > lr_[k] || lk_[k] < 0 ||
        lk_[k] >= nth_)
      throw std::invalid_argument("the Lambda pattern is out of range");
  // The parts' effects are independent: Lambda is block diagonal.
  for (size_t k = 0; k < lr_.size(); ++k)
    if (part(lr_[k]) != part(lc_[k]))
      throw std::invalid_argument("the Lambda pattern links the two parts' effects");
  std::vector<Eigen::Triplet<double> > tz;
  for (int j = 0; j < Zc.outerSize(); ++j)
    for (SpMat::InnerIterator it(Zc, j); it; ++it) tz.emplace_back(it.row(), j, it.value());
  for (int j = 0; j < Zz.outerSize(); ++j)
    for (SpMat::InnerIterator it(Zz, j); it; ++it) tz.emplace_back(it.row(), qc_ + j, it.value());
  Z_.resize(n_, Q_);
  Z_.setFromTriplets(tz.begin(), tz.end());
  Z_.makeCompressed();
  RowMat Zr(Z_);
  Zr.makeCompressed();

  // Pattern of A and the recipes A(i, c) += z_ir theta[p + k].
  std::vector<std::vector<int> > lam_by_row(Q_);
  for (size_t e = 0; e < lr_.size(); ++e) lam_by_row[lr_[e]].push_back((int)e);
  std::vector<Eigen::Triplet<double> > trip;
  std::vector<int> cols;
  InterruptPoll ip;  // the loops below are long for a dense design
  for (int i = 0; i < n_; ++i) {
    if ((i & 1023) == 0 && ip.poll()) ip.raise_if_interrupted();
    cols.clear();
    for (RowMat::InnerIterator it(Zr, i); it; ++it)
      for (int e : lam_by_row[it.col()]) cols.push_back(lc_[e]);
    std::sort(cols.begin(), cols.end());
    cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
    for (int c : cols) trip.emplace_back(i, c, 0.0);
  }
  A_.resize(n_, Q_);
  A_.setFromTriplets(trip.begin(), trip.end());
  A_.makeCompressed();
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  rec_start_.assign(n_ + 1, 0);
  for (int i = 0; i < n_; ++i) {
    if ((i & 1023) == 0 && ip.poll()) ip.raise_if_interrupted();
    for (RowMat::InnerIterator it(Zr, i); it; ++it)
      for (int e : lam_by_row[it.col()]) {
        const int* b = Ai + Ao[i];
        const int* f = std::lower_bound(b, Ai + Ao[i + 1], lc_[e]);
        rec_pos_.push_back((int)(f - Ai));
        rec_loc_.push_back((int)(f - b));
        rec_k_.push_back(lk_[e]);
        rec_z_.push_back(it.value());
      }
    rec_start_[i + 1] = (long)rec_pos_.size();
  }

  // Pattern of H = I + sum_i R_i' W_i R_i: lower triangle and the diagonal.
  long npairs = 0;
  for (int i = 0; i < n_; ++i) {
    const long m = Ao[i + 1] - Ao[i];
    npairs += m * (m + 1) / 2;
  }
  // The same cap as the one-part sparse Laplace engine (laplace.cpp), and
  // the memory rule of resources.h: the triplets (16 bytes), H (12 a stored
  // entry) and the pair map (4) must fit before any is allocated.
  if (npairs > 200000000L)
    throw std::invalid_argument("the random-effects design is too dense for the sparse engine (" +
                                std::to_string(npairs) + " pairs of non-zeros per row in total)");
  check_memory(32.0 * ((double)npairs + Q_) + 40.0 * A_.nonZeros(),
               "the two-part sparse engine's penalized Hessian (" + std::to_string(Q_) +
                   " random effects, " + std::to_string(npairs) + " pairs of non-zeros)");
  trip.clear();
  trip.reserve(npairs + Q_);
  for (int i = 0; i < n_; ++i) {
    if ((i & 1023) == 0 && ip.poll()) ip.raise_if_interrupted();
    for (int a = Ao[i]; a < Ao[i + 1]; ++a)
      for (int b = a; b < Ao[i + 1]; ++b) trip.emplace_back(Ai[b], Ai[a], 0.0);
  }
  for (int j = 0; j < Q_; ++j) trip.emplace_back(j, j, 0.0);
  H_.resize(Q_, Q_);
  H_.setFromTriplets(trip.begin(), trip.end());
  H_.makeCompressed();
  const int* Ho = H_.outerIndexPtr();
  const int* Hi = H_.innerIndexPtr();
  pair_start_ = row_pair_offsets(Ao, n_);
  pair_h_ = row_pair_positions(Ao, Ai, n_, Ho, Hi, nullptr, &ip);
  diag_h_.resize(Q_);
  for (int j = 0; j < Q_; ++j) diag_h_[j] = (int)find_entry(Ho, Hi, j, j);
  chol_.analyzePattern(H_);  // the fill-reducing ordering, once

  for (int i = 0; i < n_; ++i) lconst_ += obs_->logconst(y_[i], wt_[i]);
  for (VectorXd* v : {&eta_, &av_, &g1_, &g2_, &g3_}) v->setZero(n_);
  obs_d_.resize(n_);
  rc_.resize(n_);
  keep_.resize((size_t)n_ * TwoPartRE::kKeep);
  ucache_.setZero(Q_);
}

void SparseTwoPart::setup(const VectorXd& theta) {
  if (theta.size() != npar()) throw std::invalid_argument("theta has the wrong length");
  double* Av = A_.valuePtr();
  std::fill(Av, Av + A_.nonZeros(), 0.0);
  for (size_t r = 0; r < rec_pos_.size(); ++r) Av[rec_pos_[r]] += rec_z_[r] * theta[p_ + rec_k_[r]];
  eta0_ = X_ * theta.head(p_) + off_.col(0);
  a0_ = Xz_ * theta.segment(a_at_, pz_) + off_.col(1);
  ph_ = Xd_ * theta.segment(ph_at_, pd_) + off_.col(2);
  // phi stays fixed while the inner search moves (eta, a): its rows'
  // constants once here, not on every pass (TwoPartRE::row_const()).
  // (kinds 5 and 6: phi is the zero part's logit, and their rows take no
  // constants)
  if (row_consts_)
    for (int i = 0; i < n_; ++i) obs_->row_const(y_[i], ph_[i], rc_[i]);
  phv_ = ph_;
}

double SparseTwoPart::rows(const VectorXd& u, bool full) {
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  double s = 0.0;
  Obs2 o;
  if (full) t_ready_ = false;
  for (int i = 0; i < n_; ++i) {
    double e = eta0_[i], a = a0_[i], f = ph_[i];
    for (int k = Ao[i]; k < Ao[i + 1]; ++k) {
      const int pk = part(Ai[k]);
      if (pk == 0) e += Av[k] * u[Ai[k]];
      else if (pk == 1) a += Av[k] * u[Ai[k]];
      else f += Av[k] * u[Ai[k]];
    }
    eta_[i] = e;
    av_[i] = a;
    phv_[i] = f;
    Obs2& d = full ? obs_d_[i] : o;
    // The third derivatives only where the gradient needs them (at the
    // mode, third_derivs()): what they take is kept beside obs_d_.
    if (full)
      obs_->eval_defer(y_[i], wt_[i], e, a, f, d, &rc_[i],
                       &keep_[(size_t)i * TwoPartRE::kKeep]);
    else
      obs_->eval(y_[i], wt_[i], e, a, f, false, d, &rc_[i]);
    s += d.l;
    if (!full) continue;
    g1_[i] = d.g[0];
    g2_[i] = d.g[1];
    g3_[i] = d.g[2];
  }
  return s;
}

VectorXd SparseTwoPart::at_times(const VectorXd& v1, const VectorXd& v2, const VectorXd& v3) const {
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  const VectorXd* v[3] = {&v1, &v2, &v3};
  VectorXd out = VectorXd::Zero(Q_);
  for (int i = 0; i < n_; ++i)
    for (int k = Ao[i]; k < Ao[i + 1]; ++k) out[Ai[k]] += Av[k] * (*v[part(Ai[k])])[i];
  return out;
}

bool SparseTwoPart::factor(double mu) {
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  double* Hx = H_.valuePtr();
  std::fill(Hx, Hx + H_.nonZeros(), 0.0);
  for (int j = 0; j < Q_; ++j) Hx[diag_h_[j]] = 1.0 + mu;
  for (int i = 0; i < n_; ++i) {
    const Obs2& o = obs_d_[i];
    double w[3][3];
    neg_h(o, w);
    long pp = pair_start_[i];
    for (int a = Ao[i]; a < Ao[i + 1]; ++a) {
      const int pa = part(Ai[a]);
      for (int b = a; b < Ao[i + 1]; ++b)
        Hx[pair_h_[pp++]] += Av[a] * Av[b] * w[pa][part(Ai[b])];
    }
  }
  chol_.factorize_polled(H_);
  return chol_.info() == Eigen::Success;
}

double SparseTwoPart::logdet() const { return chol_.logdet(); }

// The joint mode (newton()), then the guard: the Laplace approximation
// replaces the integrand by a normal density of precision H around the
// mode. The prior alone gives H = I; a smallest eigenvalue far below 1
// means the data's log-likelihood is
// convex along that direction, nearly cancelling the prior, so the
// integrand is not near-normal there and -log det(H) / 2 grows without
// bound as H approaches singularity (the zero part's effects of a
// two-part model can do this: its likelihood is not concave in them).
// Such points are refused (evaluate() gives -Inf, as for a mode not
// found), so the search backtracks into the region where the
// approximation holds; their mode stays the next warm start.
bool SparseTwoPart::mode(int* iters, bool guard) {
  hmin_ = std::numeric_limits<double>::quiet_NaN();
  if (!newton(iters)) {
    ucache_.setZero();
    return false;
  }
  hmin_ = min_eigen();
  if (guard && !(hmin_ >= kHminTol)) {
    ++degenerate_;
    return false;
  }
  return true;
}

// Newton's method for the joint mode with step halving; where H is not
// positive definite (the two-part likelihood is not concave) a multiple of
// I is added until it is (Levenberg). Ends with the factor of the
// undamped H at the mode.
bool SparseTwoPart::newton(int* iters) {
  VectorXd u = ucache_;
  double f = rows(u, true) - 0.5 * u.squaredNorm();
  if (!std::isfinite(f)) {
    u.setZero();
    f = rows(u, true) - 0.5 * u.squaredNorm();
    if (!std::isfinite(f)) return false;
  }
  // What the work arrays hold: each row's derivatives (obs_d_, g1_, g2_)
  // at u, and the factor of the undamped H at u. The line search evaluates
  // its trial points with the derivatives, so an accepted step needs no
  // second pass over the rows, and the mode's last factor is reused when
  // it is already the undamped one at the final u (the same values as a
  // fresh pass or factorization: both depend on u alone).
  bool derivs_at_u = true, factor_at_u = false;
  double last_dec = std::numeric_limits<double>::infinity();
  int it = 0;
  for (; it < 200; ++it) {
    Rcpp::checkUserInterrupt();  // main thread: one factorization per check
    VectorXd grad = at_times(g1_, g2_, g3_) - u;
    double mu = 0.0;
    while (!factor(mu)) {
      mu = mu == 0.0 ? 1e-4 : mu * 10.0;
      if (mu > 1e8) return false;
    }
    factor_at_u = mu == 0.0;
    VectorXd step = chol_.solve(grad);
    const double dec = grad.dot(step);
    if (!std::isfinite(dec)) return false;
    last_dec = dec;
    if (dec < 1e-20) break;
    double t = 1.0, fn = -std::numeric_limits<double>::infinity();
    VectorXd un;
    derivs_at_u = false;
    for (int h = 0; h < 40; ++h, t *= 0.5) {
      un = u + t * step;
      fn = rows(un, true) - 0.5 * un.squaredNorm();
      if (std::isfinite(fn) && fn >= f - 1e-12 * std::abs(f)) break;
    }
    if (!std::isfinite(fn) || fn < f - 1e-12 * std::abs(f)) break;
    // Stalled at the mode: the undamped Newton step (mu = 0) had to be
    // shortened and still did not raise f, with the decrement below 1e-10.
    // Then rounding, not the quadratic model, decides the line search (f is
    // a sum over the rows that can cancel to near 0, and its tolerance
    // 1e-12 |f| falls below its rounding), further steps are ever shorter
    // (t to 1e-9) and move u by no more than that; what is left to gain is
    // about dec / 2 < 5e-11, below the outer search's resolution (rel.tol
    // / 100 of |logLik|). On the hard Salamanders ZINB one evaluation ran
    // all 200 iterations this way (decrement 1.3e-15), 0.48 s of its 0.65 s
    // in the engine. Regular models never reach this.
    const bool stalled = mu == 0.0 && t < 1.0 && fn <= f && dec < 1e-10;
    u = un;
    f = fn;
    derivs_at_u = true;
    factor_at_u = false;
    if (dec < 1e-14 && t == 1.0) break;
    if (stalled) break;
  }
  if (iters) *iters = it;
  // A search that stopped (no ascent left, or the iteration cap) with the
  // Newton decrement still large has not found the mode: its Laplace value
  // would be wrong, so the evaluation fails (as the one-part engine's).
  if (!(last_dec < 1e-6)) return false;
  if (!derivs_at_u) rows(u, true);
  if (!factor_at_u && !factor(0.0)) return false;
  u_ = u;
  ucache_ = u;
  return true;
}

// H's smallest eigenvalue by inverse iteration with the factor of H
// (Golub & Van Loan 2013, sec. 8.2.2), warm-started from the last
// eigenvector: 1 / |H^{-1} x| for a unit x is at least lambda_min and
// falls to it (H_ holds the undamped H of the mode). The guard needs no more than 1e-3 relative: a degenerate
// direction (lambda_min far below the others) dominates after a few
// solves, and where the smallest eigenvalues cluster (near 1, the prior's
// curvature) any of them is as good an answer; a few solves, against the
// factorizations of the mode.
double SparseTwoPart::min_eigen() {
  VectorXd x = evec_.size() == Q_ ? evec_ : VectorXd::Ones(Q_);
  double nx = x.norm();
  if (!(nx > 0.0) || !std::isfinite(nx)) {
    x.setOnes(Q_);
    nx = x.norm();
  }
  x /= nx;
  double ny = 0.0;
  for (int k = 0; k < 30; ++k) {
    VectorXd y = chol_.solve(x);
    const double prev = ny;
    ny = y.norm();
    if (!std::isfinite(ny) || !(ny > 0.0)) return 0.0;
    x = y / ny;
    if (k > 0 && std::abs(ny - prev) <= 1e-3 * ny) break;
  }
  evec_ = x;
  // The Rayleigh quotient at x, also at least lambda_min, is closer
  // (its error is quadratic in x's).
  const double rq = x.dot(H_.selfadjointView<Eigen::Lower>() * x);
  return std::isfinite(rq) ? std::min(rq, 1.0 / ny) : 1.0 / ny;
}

double SparseTwoPart::evaluate(const VectorXd& theta, int* iters, VectorXd* grad) {
  last_ok_ = false;
  setup(theta);
  if (!mode(iters)) {
    if (grad) grad->setConstant(npar(), std::numeric_limits<double>::quiet_NaN());
    return -std::numeric_limits<double>::infinity();
  }
  const double ll = laplace_value();
  if (grad) gradient(*grad);
  last_theta_ = theta;
  last_ok_ = true;
  return ll;
}

// With D_i the row's coefficients' design (x_i in eta, xz_i in a, xd_i in
// phi), N_i = -(second derivatives of l_i in (eta, a, phi)) and R_i the
// rows of A1, A2: J_ff = sum D_i' N_i D_i, J_fu = sum D_i' N_i[, eta a] R_i,
// and the curvature is -(J_ff - J_fu H^{-1} J_fu'). N_i's (phi, phi) entry
// is not among the rows' derivatives (Obs2): central differences of
// dl/dphi (neg_obs_hessian(), shared with TwoPartEngine::fixed_curvature()).
bool SparseTwoPart::fixed_curvature(const VectorXd& theta, MatrixXd& out) const {
  if (!last_ok_ || last_theta_.size() != theta.size() || last_theta_ != theta) return false;
  const int F = p_ + pz_ + pd_;
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  MatrixXd Jff = MatrixXd::Zero(F, F), Jfu = MatrixXd::Zero(F, Q_);
  VectorXd v(F);
  std::vector<int> chan(F);
  // (in theta's order: beta, then a's and phi's coefficients as a_at_ and
  // ph_at_ place them)
  std::vector<int> col(F);
  for (int m = 0; m < F; ++m) {
    const int k = m < p_ ? m : m + nth_;  // the position in theta
    chan[m] = m < p_ ? 0 : (k >= a_at_ && k < a_at_ + pz_ ? 1 : 2);
    col[m] = chan[m] == 0 ? m : (chan[m] == 1 ? k - a_at_ : k - ph_at_);
  }
  for (int i = 0; i < n_; ++i) {
    double N[3][3];
    neg_obs_hessian(*obs_, obs_d_[i], y_[i], wt_[i], eta_[i], av_[i], phv_[i], pd_ > 0, N);
    for (int m = 0; m < F; ++m) {
      const int c = chan[m];
      v[m] = c == 0 ? X_(i, m) : (c == 1 ? Xz_(i, col[m]) : Xd_(i, col[m]));
    }
    for (int m = 0; m < F; ++m) {
      const int c = chan[m];
      if (v[m] == 0.0) continue;
      for (int k = 0; k <= m; ++k) Jff(m, k) += v[m] * N[c][chan[k]] * v[k];
      for (int k = Ao[i]; k < Ao[i + 1]; ++k)
        Jfu(m, Ai[k]) += v[m] * N[c][part(Ai[k])] * Av[k];
    }
  }
  for (int m = 0; m < F; ++m)
    for (int k = 0; k < m; ++k) Jff(k, m) = Jff(m, k);
  // H^{-1} J_fu' by the factor of H at the mode (the last evaluation's).
  MatrixXd S(Q_, F);
  for (int m = 0; m < F; ++m) S.col(m) = chol_.solve(VectorXd(Jfu.row(m).transpose()));
  Jff.noalias() -= Jfu * S;
  out = -(Jff + Jff.transpose()) / 2.0;
  return out.allFinite();
}

// L at the mode and factor that mode() left.
double SparseTwoPart::laplace_value() const {
  double s = 0.0;
  for (int i = 0; i < n_; ++i) s += obs_d_[i].l;
  return s + lconst_ - 0.5 * u_.squaredNorm() - 0.5 * logdet();
}

void SparseTwoPart::map_pairs() {
  if (pairs_mapped_) return;
  const auto& L = chol_.matrixL().nestedExpression();
  pair_s_ = row_pair_positions(A_.outerIndexPtr(), A_.innerIndexPtr(), n_, L.outerIndexPtr(),
                               L.innerIndexPtr(), chol_.permutationP().indices().data(), nullptr);
  pairs_mapped_ = true;
}

// The rows' third derivatives at the last full pass (rows()), once.
void SparseTwoPart::third_derivs() {
  if (t_ready_) return;
  for (int i = 0; i < n_; ++i)
    obs_->third(wt_[i], &keep_[(size_t)i * TwoPartRE::kKeep], obs_d_[i]);
  t_ready_ = true;
}

// The exact gradient at the mode and factor of the last evaluation (the
// formulas at the top of this file, over nr_ random predictors: with
// three, M_i, W_i and the sums over b run over all three and phi's row is
// a random predictor's).
void SparseTwoPart::gradient(VectorXd& g) {
  third_derivs();
  map_pairs();
  std::vector<double> S;
  chol_.selected_inverse(S);
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  const int P = nr_;
  VectorXd c[3] = {VectorXd(n_), VectorXd(n_), VectorXd(n_)};
  VectorXd gl = VectorXd::Zero(nth_);
  // Per part b: the row's entries of A_b (al[b]) and H^{-1} A_b' on them (va[b]).
  std::vector<double> al[3], va[3];
  for (int i = 0; i < n_; ++i) {
    const int m = Ao[i + 1] - Ao[i];
    for (int b = 0; b < P; ++b) {
      al[b].assign(m, 0.0);
      va[b].assign(m, 0.0);
    }
    for (int la = 0; la < m; ++la) al[part(Ai[Ao[i] + la])][la] = Av[Ao[i] + la];
    long pp = pair_start_[i];
    for (int la = 0; la < m; ++la)
      for (int lb = la; lb < m; ++lb) {
        const double s = S[pair_s_[pp++]];
        for (int b = 0; b < P; ++b) va[b][la] += s * al[b][lb];
        if (lb != la)
          for (int b = 0; b < P; ++b) va[b][lb] += s * al[b][la];
      }
    double M[3][3] = {{0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}};
    for (int b = 0; b < P; ++b)
      for (int e = b; e < P; ++e)
        for (int la = 0; la < m; ++la) M[b][e] += al[b][la] * va[e][la];
    const Obs2& o = obs_d_[i];
    for (int d = 0; d < 3; ++d) {
      double acc = 0.0;
      for (int b = 0; b < P; ++b) {
        acc += M[b][b] * o.t[b][b][d];
        for (int e = b + 1; e < P; ++e) acc += 2.0 * M[b][e] * o.t[b][e][d];
      }
      c[d][i] = -acc;
    }
    double w[3][3];
    neg_h(o, w);
    for (long r = rec_start_[i]; r < rec_start_[i + 1]; ++r) {
      const int loc = rec_loc_[r], pc = part(Ai[Ao[i] + loc]);
      double acc = 0.0;
      for (int b = 0; b < P; ++b) acc += w[b][pc] * va[b][loc];
      gl[rec_k_[r]] -= rec_z_[r] * acc;
    }
  }
  const VectorXd vq = chol_.solve(at_times(c[0], c[1], c[2]));
  VectorXd rr[3] = {VectorXd(n_), VectorXd(n_), VectorXd(n_)};
  for (int i = 0; i < n_; ++i) {
    double q[3] = {0.0, 0.0, 0.0};
    for (int k = Ao[i]; k < Ao[i + 1]; ++k) q[part(Ai[k])] += Av[k] * vq[Ai[k]];
    const Obs2& o = obs_d_[i];
    for (int d = 0; d < 3; ++d) {
      double acc = c[d][i];
      for (int b = 0; b < P; ++b) acc += (b <= d ? o.h[b][d] : o.h[d][b]) * q[b];
      rr[d][i] = o.g[d] - 0.5 * acc;
    }
  }
  g.resize(npar());
  g.head(p_) = X_.transpose() * rr[0];
  g.segment(a_at_, pz_) = Xz_.transpose() * rr[1];
  g.segment(ph_at_, pd_) = Xd_.transpose() * rr[2];
  // Z' r and Z' (g without e), each column with its part's row vector.
  const VectorXd* gp[3] = {&g1_, &g2_, &g3_};
  VectorXd zr = VectorXd::Zero(Q_), zw = VectorXd::Zero(Q_);
  for (int j = 0; j < Q_; ++j) {
    const int pj = part(j);
    for (SpMat::InnerIterator it(Z_, j); it; ++it) {
      const int i = (int)it.row();
      zr[j] += it.value() * rr[pj][i];
      zw[j] += it.value() * (*gp[pj])[i];
    }
  }
  for (size_t q = 0; q < lr_.size(); ++q)
    gl[lk_[q]] += zr[lr_[q]] * u_[lc_[q]] - 0.5 * zw[lr_[q]] * vq[lc_[q]];
  g.segment(p_, nth_) = gl;
}

SparseTwoPartModes SparseTwoPart::modes(const VectorXd& theta, bool guard) {
  SparseTwoPartModes m;
  last_ok_ = false;
  setup(theta);
  if (!mode(nullptr, guard)) {
    m.failed = true;
    m.hmin = hmin_;
    return m;
  }
  m.loglik = laplace_value();
  m.hmin = hmin_;
  std::vector<Eigen::Triplet<double> > tl;
  for (size_t k = 0; k < lr_.size(); ++k) tl.emplace_back(lr_[k], lc_[k], theta[p_ + lk_[k]]);
  SpMat Lam(Q_, Q_);
  Lam.setFromTriplets(tl.begin(), tl.end());
  m.u = u_;
  m.b = Lam * u_;
  m.eta = eta_;
  m.a = av_;
  m.phi = phv_;
  // H^{-1} on H's lower pattern, from the selected inverse.
  std::vector<double> S;
  chol_.selected_inverse(S);
  inverse_on_pattern(H_, chol_, S, [&](int i, int j, double inv, double h) {
    m.inv_i.push_back(i);
    m.inv_j.push_back(j);
    m.inv_x.push_back(inv);
    m.h_x.push_back(h);
  });
  return m;
}

}  // namespace glmmgee
