// Penalized least squares for linear mixed models with several random-effect
// terms; the formulas are in lmm-sparse.h.
#include "engines/lmm/lmm-sparse.h"
#include "util/resources.h"
#include <algorithm>
#include <cmath>

namespace glmmgee {

namespace {
// Position of entry (row, col) in a compressed column-major matrix whose
// row indices are sorted within columns; -1 if absent.
long entry_pos(const Eigen::SparseMatrix<double, Eigen::ColMajor>& m, int row, int col) {
  const int* inner = m.innerIndexPtr();
  const int* b = inner + m.outerIndexPtr()[col];
  const int* e = inner + m.outerIndexPtr()[col + 1];
  const int* it = std::lower_bound(b, e, row);
  if (it == e || *it != row) return -1;
  return (long)(it - inner);
}

// G = Z'Z (both triangles, rows sorted) with the sums of Eigen's sparse
// product: G(i, j) = sum of Z(k, i) Z(k, j) over the rows k the two columns
// share, in increasing k, the first product assigned. It goes through Z's
// rows as Eigen does, but without converting the product back to column
// order (the rows of each column are sorted instead).
void cross_product(const Eigen::SparseMatrix<double, Eigen::ColMajor>& Z,
                   Eigen::SparseMatrix<double, Eigen::ColMajor>& G) {
  const int n = (int)Z.rows(), Q = (int)Z.cols();
  const int* zo = Z.outerIndexPtr();
  const int* zi = Z.innerIndexPtr();
  const double* zx = Z.valuePtr();
  // Z's rows: each row's columns in increasing order.
  std::vector<int> ro(n + 1, 0), rc(zo[Q]);
  std::vector<double> rx(zo[Q]);
  for (int t = 0; t < zo[Q]; ++t) ++ro[zi[t] + 1];
  for (int k = 0; k < n; ++k) ro[k + 1] += ro[k];
  {
    std::vector<int> at(ro.begin(), ro.end() - 1);
    for (int j = 0; j < Q; ++j)
      for (int t = zo[j]; t < zo[j + 1]; ++t) {
        const int a = at[zi[t]]++;
        rc[a] = j;
        rx[a] = zx[t];
      }
  }
  std::vector<int> go(Q + 1, 0), gi;
  std::vector<double> gx;
  gi.reserve(zo[Q]);
  gx.reserve(zo[Q]);
  std::vector<char> mask(Q, 0);
  std::vector<double> val(Q);
  std::vector<int> idx;
  idx.reserve(Q);
  for (int j = 0; j < Q; ++j) {
    idx.clear();
    for (int t = zo[j]; t < zo[j + 1]; ++t) {
      const int k = zi[t];
      const double y = zx[t];
      for (int a = ro[k]; a < ro[k + 1]; ++a) {
        const int i = rc[a];
        if (!mask[i]) {
          mask[i] = 1;
          val[i] = rx[a] * y;
          idx.push_back(i);
        } else {
          val[i] += rx[a] * y;
        }
      }
    }
    std::sort(idx.begin(), idx.end());
    for (int i : idx) {
      gi.push_back(i);
      gx.push_back(val[i]);
      mask[i] = 0;
    }
    go[j + 1] = (int)gi.size();
  }
  G.resize(Q, Q);
  G.resizeNonZeros(go[Q]);
  std::copy(go.begin(), go.end(), G.outerIndexPtr());
  std::copy(gi.begin(), gi.end(), G.innerIndexPtr());
  std::copy(gx.begin(), gx.end(), G.valuePtr());
}
}  // namespace

LmmSparse::LmmSparse(const Eigen::Ref<const Eigen::MatrixXd>& X, ColMat Z,
                     const Eigen::Ref<const Eigen::VectorXd>& y, const LambdaPattern& lam)
    : n_((int)X.rows()), p_((int)X.cols()), Q_((int)Z.cols()), X_(X), Z_(std::move(Z)), y_(y),
      lam_(lam) {
  Z_.makeCompressed();
  ZtX_ = Z_.transpose() * X_;
  Zty_ = Z_.transpose() * y_;
  XtX_ = X_.transpose() * X_;
  Xty_ = X_.transpose() * y_;
  cross_product(Z_, G_);  // both triangles
  const bool diagonal = lambda_is_diagonal();
  if (diagonal)
    diagonal_recipes();
  else
    general_recipes();
  std::vector<int> order;
  if (diagonal && complete_bipartite_order(order))
    chol_.analyze_ordered(M_, &order);
  else
    chol_.analyzePattern(M_);
  // X'X's own pivots, the reference for how far V^{-1} shrinks each
  // direction of X (evaluate()); its diagonal where X'X is not positive
  // definite (the R side refuses such an X before it comes here).
  Eigen::LLT<Eigen::MatrixXd> cxx(XtX_);
  xpiv_ = XtX_.diagonal();
  if (cxx.info() == Eigen::Success)
    for (int j = 0; j < p_; ++j) {
      const double r = cxx.matrixLLT()(j, j);
      if (r > 0.0) xpiv_[j] = r * r;
    }
}

bool LmmSparse::lambda_is_diagonal() const {
  if ((int)lam_.row.size() != Q_) return false;
  std::vector<char> seen(Q_, 0);
  for (int e = 0; e < Q_; ++e) {
    const int r = lam_.row[e];
    if (r != lam_.col[e] || seen[r]) return false;
    seen[r] = 1;
  }
  return true;
}

void LmmSparse::diagonal_recipes() {
  // Lambda diagonal: M(i, j) = g_ij theta_k(i) theta_k(j), so M's lower
  // triangle has G's pattern (and the diagonal), one recipe per entry, in
  // the order general_recipes() makes them (G's columns, their rows).
  std::vector<int> kcol(Q_);
  for (int e = 0; e < Q_; ++e) kcol[lam_.col[e]] = lam_.k[e];
  const int* go = G_.outerIndexPtr();
  const int* gi = G_.innerIndexPtr();
  const double* gx = G_.valuePtr();
  std::vector<int> mo(Q_ + 1, 0), mi;
  mi.reserve(G_.nonZeros() / 2 + Q_);
  rec_pos_.clear();
  rec_k1_.clear();
  rec_k2_.clear();
  rec_g_.clear();
  diag_.resize(Q_);
  for (int s = 0; s < Q_; ++s) {
    int t = go[s];
    while (t < go[s + 1] && gi[t] < s) ++t;
    if (t == go[s + 1] || gi[t] != s) {
      diag_[s] = (int)mi.size();
      mi.push_back(s);
    }
    for (; t < go[s + 1]; ++t) {
      const int r = gi[t];
      if (r == s) diag_[s] = (int)mi.size();
      rec_pos_.push_back((int)mi.size());
      rec_k1_.push_back(kcol[r]);
      rec_k2_.push_back(kcol[s]);
      rec_g_.push_back(gx[t]);
      mi.push_back(r);
    }
    mo[s + 1] = (int)mi.size();
  }
  M_.resize(Q_, Q_);
  M_.resizeNonZeros(mo[Q_]);
  std::copy(mo.begin(), mo.end(), M_.outerIndexPtr());
  std::copy(mi.begin(), mi.end(), M_.innerIndexPtr());
  std::fill(M_.valuePtr(), M_.valuePtr() + mo[Q_], 0.0);
}

bool LmmSparse::complete_bipartite_order(std::vector<int>& order) const {
  // The columns of each parameter (a term's levels): two groups.
  std::vector<int> kcol(Q_), size(lam_.ntheta, 0);
  for (int e = 0; e < Q_; ++e) kcol[lam_.col[e]] = lam_.k[e];
  for (int j = 0; j < Q_; ++j) ++size[kcol[j]];
  int ka = -1, kb = -1;
  for (int k = 0; k < lam_.ntheta; ++k) {
    if (size[k] == 0) continue;
    if (ka < 0)
      ka = k;
    else if (kb < 0)
      kb = k;
    else
      return false;
  }
  if (kb < 0) return false;
  if (size[kb] > size[ka]) std::swap(ka, kb);  // ka: the larger group, eliminated first
  // Each group's block of G diagonal, every pair across the groups present.
  const int* go = G_.outerIndexPtr();
  const int* gi = G_.innerIndexPtr();
  long cross = 0;
  for (int s = 0; s < Q_; ++s)
    for (int t = go[s]; t < go[s + 1]; ++t) {
      const int r = gi[t];
      if (r == s) continue;
      if (kcol[r] == kcol[s]) return false;
      ++cross;
    }
  if (cross != 2L * size[ka] * (long)size[kb]) return false;
  order.clear();
  order.reserve(Q_);
  for (int j = 0; j < Q_; ++j)
    if (kcol[j] == ka) order.push_back(j);
  for (int j = 0; j < Q_; ++j)
    if (kcol[j] == kb) order.push_back(j);
  return true;
}

void LmmSparse::general_recipes() {
  const ColMat& G = G_;

  std::vector<std::vector<int> > by_row(Q_);
  for (size_t e = 0; e < lam_.row.size(); ++e) by_row[lam_.row[e]].push_back((int)e);

  // M(i, j) = sum_{r, s} Lambda(r, i) G(r, s) Lambda(s, j): one recipe per
  // non-zero g_rs and pair of Lambda entries in rows r and s, lower
  // triangle only (G is stored whole, so (s, r) brings the mirror term).
  struct Rec { int i, j, k1, k2; double g; };
  std::vector<Rec> rec;
  InterruptPoll ip;
  for (int s = 0; s < Q_; ++s) {
    if ((s & 255) == 0 && ip.poll()) ip.raise_if_interrupted();
    for (ColMat::InnerIterator it(G, s); it; ++it) {
      const int r = it.index();
      for (int e1 : by_row[r])
        for (int e2 : by_row[s]) {
          const int i = lam_.col[e1], j = lam_.col[e2];
          if (i < j) continue;
          rec.push_back(Rec{i, j, lam_.k[e1], lam_.k[e2], it.value()});
        }
    }
  }
  if (rec.size() > 400000000UL)
    Rcpp::stop("the random-effects design is too dense for the sparse LMM criterion");
  std::vector<Eigen::Triplet<double> > trip;
  trip.reserve(rec.size() + Q_);
  for (const Rec& c : rec) trip.push_back(Eigen::Triplet<double>(c.i, c.j, 0.0));
  for (int j = 0; j < Q_; ++j) trip.push_back(Eigen::Triplet<double>(j, j, 0.0));
  M_.resize(Q_, Q_);
  M_.setFromTriplets(trip.begin(), trip.end());
  M_.makeCompressed();
  std::vector<Eigen::Triplet<double> >().swap(trip);
  rec_pos_.resize(rec.size());
  rec_k1_.resize(rec.size());
  rec_k2_.resize(rec.size());
  rec_g_.resize(rec.size());
  for (size_t c = 0; c < rec.size(); ++c) {
    rec_pos_[c] = (int)entry_pos(M_, rec[c].i, rec[c].j);
    rec_k1_[c] = rec[c].k1;
    rec_k2_[c] = rec[c].k2;
    rec_g_[c] = rec[c].g;
  }
  diag_.resize(Q_);
  for (int j = 0; j < Q_; ++j) diag_[j] = (int)entry_pos(M_, j, j);
}

LmmPls LmmSparse::evaluate(const Eigen::VectorXd& theta) {
  LmmPls out;
  if (theta.size() != lam_.ntheta)
    Rcpp::stop("theta has length %d; the model has %d covariance parameters",
               (int)theta.size(), lam_.ntheta);
  double* Mx = M_.valuePtr();
  std::fill(Mx, Mx + M_.nonZeros(), 0.0);
  for (size_t c = 0; c < rec_pos_.size(); ++c)
    Mx[rec_pos_[c]] += rec_g_[c] * theta[rec_k1_[c]] * theta[rec_k2_[c]];
  for (int j = 0; j < Q_; ++j) Mx[diag_[j]] += 1.0;
  chol_.factorize_polled(M_);
  if (chol_.info() != Eigen::Success) return out;
  const auto& L = chol_.matrixL().nestedExpression();
  double ld = 0.0;
  for (int j = 0; j < Q_; ++j) ld += std::log(L.valuePtr()[L.outerIndexPtr()[j]]);
  out.ldL2 = 2.0 * ld;

  // Lambda'Z'X and Lambda'Z'y, then the forward solves with P and L.
  Eigen::MatrixXd RZX = Eigen::MatrixXd::Zero(Q_, p_);
  Eigen::VectorXd cu = Eigen::VectorXd::Zero(Q_);
  for (size_t e = 0; e < lam_.row.size(); ++e) {
    const double t = theta[lam_.k[e]];
    RZX.row(lam_.col[e]) += t * ZtX_.row(lam_.row[e]);
    cu[lam_.col[e]] += t * Zty_[lam_.row[e]];
  }
  RZX = chol_.permutationP() * RZX;
  cu = chol_.permutationP() * cu;
  chol_.matrixL().solveInPlace(RZX);
  chol_.matrixL().solveInPlace(cu);
  out.RXtRX = XtX_;
  out.RXtRX.noalias() -= RZX.transpose() * RZX;
  Eigen::LLT<Eigen::MatrixXd> cx(out.RXtRX);
  if (!rx_kept_digits(cx)) {
    if (!evaluate_residualized(theta, RZX, cu, cx, out)) return out;
  } else {
    out.beta = cx.solve(Xty_ - RZX.transpose() * cu);
    Eigen::VectorXd t = cu - RZX * out.beta;
    chol_.matrixU().solveInPlace(t);
    out.u = chol_.permutationPinv() * t;
  }
  const Eigen::MatrixXd& R = cx.matrixLLT();
  double ldx = 0.0;
  for (int j = 0; j < p_; ++j) ldx += std::log(R(j, j));
  out.ldRX2 = 2.0 * ldx;
  // Residuals from the data, not from cross-products: no cancellation.
  Eigen::VectorXd b = Eigen::VectorXd::Zero(Q_);
  for (size_t e = 0; e < lam_.row.size(); ++e)
    b[lam_.row[e]] += theta[lam_.k[e]] * out.u[lam_.col[e]];
  Eigen::VectorXd res = y_ - X_ * out.beta;
  res.noalias() -= Z_ * b;
  out.pwrss = res.squaredNorm() + out.u.squaredNorm();
  out.ok = std::isfinite(out.pwrss) && std::isfinite(out.ldL2);
  out.RZX = RZX;
  out.res = res;
  return out;
}

bool LmmSparse::rx_kept_digits(const Eigen::LLT<Eigen::MatrixXd>& cx) const {
  if (cx.info() != Eigen::Success) return false;
  const Eigen::MatrixXd& R = cx.matrixLLT();
  for (int j = 0; j < p_; ++j)
    if (!(R(j, j) > 0.0) || R(j, j) * R(j, j) < kRxShrink * xpiv_[j]) return false;
  return true;
}

bool LmmSparse::evaluate_residualized(const Eigen::VectorXd& theta, const Eigen::MatrixXd& RZX,
                                      const Eigen::VectorXd& cu,
                                      Eigen::LLT<Eigen::MatrixXd>& cx, LmmPls& out) const {
  // U = M^{-1} Lambda'Z'X = P' L^{-T} RZX, and u_y = M^{-1} Lambda'Z'y likewise.
  Eigen::MatrixXd U = RZX;
  chol_.matrixU().solveInPlace(U);
  U = chol_.permutationPinv() * U;
  Eigen::VectorXd uy = cu;
  chol_.matrixU().solveInPlace(uy);
  uy = chol_.permutationPinv() * uy;
  // Lambda U and Lambda u_y, then Xr = V^{-1} X and yr = V^{-1} y from the rows.
  Eigen::MatrixXd LU = Eigen::MatrixXd::Zero(Q_, p_);
  Eigen::VectorXd Luy = Eigen::VectorXd::Zero(Q_);
  for (size_t e = 0; e < lam_.row.size(); ++e) {
    const double t = theta[lam_.k[e]];
    LU.row(lam_.row[e]) += t * U.row(lam_.col[e]);
    Luy[lam_.row[e]] += t * uy[lam_.col[e]];
  }
  Eigen::MatrixXd Xr = X_;
  Xr.noalias() -= Z_ * LU;
  Eigen::VectorXd yr = y_;
  yr.noalias() -= Z_ * Luy;
  out.RXtRX.noalias() = Xr.transpose() * Xr;
  out.RXtRX.noalias() += U.transpose() * U;
  cx.compute(out.RXtRX);
  if (cx.info() != Eigen::Success) return false;
  const Eigen::MatrixXd& R = cx.matrixLLT();
  for (int j = 0; j < p_; ++j)
    if (!(R(j, j) > 0.0)) return false;
  Eigen::VectorXd rhs = Xr.transpose() * yr;
  rhs.noalias() += U.transpose() * uy;
  out.beta = cx.solve(rhs);
  out.u = uy;
  out.u.noalias() -= U * out.beta;
  return true;
}

Eigen::Vector2d LmmSparse::costs() const {
  const auto& L = chol_.matrixL().nestedExpression();
  double fact = 0.0;
  for (int j = 0; j < Q_; ++j) {
    const double c = (double)(L.outerIndexPtr()[j + 1] - L.outerIndexPtr()[j]);
    fact += c * c;
  }
  const double nnzL = (double)L.nonZeros();
  const double eval = fact + 4.0 * (double)Z_.nonZeros() + 2.0 * (double)n_ * p_ +
                      2.0 * nnzL * (p_ + 2);
  const double grad = 2.0 * (double)Q_ * nnzL + (double)Q_ * Q_ * (p_ + 2) +
                      2.0 * (double)G_.nonZeros();
  return Eigen::Vector2d(eval, grad);
}

LmmGrad LmmSparse::gradient_pwrss(const LmmPls& r) const {
  const int k = lam_.ntheta;
  LmmGrad g;
  g.ldL2 = Eigen::VectorXd::Zero(k);
  g.ldRX2 = Eigen::VectorXd::Zero(k);
  g.pwrss = Eigen::VectorXd::Zero(k);
  // d pwrss: -2 (Z'r)[row] u[col] per Lambda entry.
  const Eigen::VectorXd Ztr = Z_.transpose() * r.res;
  for (size_t e = 0; e < lam_.row.size(); ++e)
    g.pwrss[lam_.k[e]] -= 2.0 * Ztr[lam_.row[e]] * r.u[lam_.col[e]];
  return g;
}

LmmGrad LmmSparse::gradient(const Eigen::VectorXd& theta, const LmmPls& r) {
  LmmGrad g = gradient_pwrss(r);
  const size_t ne = lam_.row.size();
  // M^{-1} = P' L^{-T} L^{-1} P, dense; W = M^{-1} Lambda'Z'X = P' L^{-T} RZX.
  Eigen::MatrixXd Minv = chol_.permutationP() * Eigen::MatrixXd::Identity(Q_, Q_);
  chol_.matrixL().solveInPlace(Minv);
  chol_.matrixU().solveInPlace(Minv);
  Minv = chol_.permutationPinv() * Minv;
  Eigen::MatrixXd W = r.RZX;
  chol_.matrixU().solveInPlace(W);
  W = chol_.permutationPinv() * W;
  const Eigen::MatrixXd WK = W * r.RXtRX.llt().solve(Eigen::MatrixXd::Identity(p_, p_));
  Eigen::MatrixXd T = WK * W.transpose();
  // tr(D Lambda'G E_k) for D = M^{-1} and D = W K W': with H = D Lambda',
  // the entry (col e, row e) of H G for each Lambda entry e.
  auto trace_terms = [&](const Eigen::MatrixXd& D, Eigen::VectorXd& out) {
    Eigen::MatrixXd H = Eigen::MatrixXd::Zero(Q_, Q_);
    for (size_t e = 0; e < ne; ++e)
      H.col(lam_.row[e]) += theta[lam_.k[e]] * D.col(lam_.col[e]);
    for (size_t e = 0; e < ne; ++e) {
      const int rr = lam_.row[e], cc = lam_.col[e];
      double a = 0.0;
      for (ColMat::InnerIterator it(G_, rr); it; ++it) a += H(cc, it.row()) * it.value();
      out[lam_.k[e]] += 2.0 * a;
    }
  };
  trace_terms(Minv, g.ldL2);
  trace_terms(T, g.ldRX2);
  for (size_t e = 0; e < ne; ++e)
    g.ldRX2[lam_.k[e]] -= 2.0 * WK.row(lam_.col[e]).dot(ZtX_.row(lam_.row[e]));
  return g;
}

}  // namespace glmmgee
