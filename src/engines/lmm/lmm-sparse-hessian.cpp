// The exact Hessian in theta of the profiled LMM criteria's pieces
// (lmm-sparse.h), for the Newton search and the standard errors of the
// covariance parameters (R/fit-lmm-sparse.R).
//
// In the marginal form V = I_n + Z Lambda Lambda'Z' (rows already scaled by
// the weights), log|M| = log|V|, log|RX'RX| = log|X'V^{-1}X| and pwrss =
// y'Py with P = V^{-1} - V^{-1}X K X'V^{-1}, K = (X'V^{-1}X)^{-1}. With
// Lambda linear in theta (E_k = dLambda/dtheta_k),
//   dV/dtheta_k = Z S_k Z',   S_k = E_k Lambda' + Lambda E_k',
//   d2V/dtheta_k dtheta_l = Z S_kl Z',   S_kl = E_k E_l' + E_l E_k',
// and the standard derivatives of log|V|, log|V| + log|X'V^{-1}X| (the
// REML criterion's determinants) and y'Py (Harville 1977, JASA 72, eqs.
// (3.2)-(3.3); Wolfinger, Tobias & Sall 1994, SIAM J. Sci. Comput. 15(6),
// sec. 2) read, with C = Z'V^{-1}Z, F = Z'V^{-1}X, D = Z'PZ = C - F K F'
// and a = Z'Py (= Z' times the penalized residual of lmm-sparse.cpp),
//   d log|V|        = tr(C S_k),  d2 = tr(C S_kl) - tr(C S_k C S_l),
//   d(log|V| + log|X'V^{-1}X|) = tr(D S_k),  d2 = tr(D S_kl) - tr(D S_k D S_l),
//   d pwrss         = -a'S_k a,   d2 = 2 (S_k a)'D (S_l a) - a'S_kl a.
// By Woodbury, C = G - G Lambda M^{-1} Lambda'G (G = Z'Z) and
// F = Z'X - G Lambda M^{-1} Lambda'Z'X. C is block diagonal over the
// connected components of the graph of G and Lambda (crossed factors make
// one block, nested ones a block per top-level group), so C is formed dense
// per block by a dense Cholesky of M's block; the REML and pwrss terms in F
// (a rank-p coupling of the blocks) are p x p products:
//   tr(D S_k D S_l) = tr(C S_k C S_l) - 2 tr(K F'S_l C S_k F) + tr(K F'S_k F K F'S_l F),
//   tr(D S_kl)      = tr(C S_kl) - 2 tr(K (E_k'F)'(E_l'F)).
// With Lambda diagonal (random intercepts; lambda_i = theta_{k(i)}) S_k is
// the diagonal 2 lambda_i [k(i) = k], so tr(C S_k) = 2 sum_{k(i)=k} lambda_i
// C_ii, tr(C S_k C S_l) = 4 sum_{k(j)=k, k(i)=l} lambda_i lambda_j C_ij^2,
// tr(C S_kl) = 2 [k = l] sum_{k(i)=k} C_ii and S_k F = 2 lambda_i F_i. on the
// rows of term k: read off C directly instead of forming each C S_k.
// There M's off-diagonal pattern is G's, and a random-intercept term's
// levels never share a row, so each block's members unconnected to one
// another (find_blocks() puts them first) make M's leading part diagonal:
// eliminated first (a Schur complement, diagonal_block_cf()), they leave
// the dense Cholesky and the rank update to the rest (the crossed 40 x 30
// design: a 30 x 30 factor and a rank-30 update of the 70 x 70 C, instead
// of a 70 x 70 factor, its 70-column solve and a rank-70 update; a nested
// design's 8 subgroups of a group leave a 1 x 1 factor).
#include "engines/lmm/lmm-sparse.h"
#include <algorithm>
#include <numeric>

namespace glmmgee {

namespace {
int find_root(std::vector<int>& parent, int i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}
// In place on the lower triangle of the m x m block Mc: its Cholesky
// factor L, then B <- L^{-1} B (m x nb) and U <- L^{-1} U (m x p); false
// where Mc is not positive definite. The unblocked column algorithm and
// forward substitution, for the small blocks of nested designs.
template <class MB, class BB, class UB>
bool small_chol_solve(MB& Mc, BB& B, UB& U, int m, int nb, int p) {
  // Raw column-major access (the blocks' outer strides): Eigen's element
  // access costs more than the arithmetic at these sizes.
  double* L = Mc.data();
  const long ldl = Mc.outerStride();
  for (int j = 0; j < m; ++j) {
    double d = L[j + ldl * j];
    for (int t = 0; t < j; ++t) d -= L[j + ldl * t] * L[j + ldl * t];
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    L[j + ldl * j] = d;
    for (int i = j + 1; i < m; ++i) {
      double s = L[i + ldl * j];
      for (int t = 0; t < j; ++t) s -= L[i + ldl * t] * L[j + ldl * t];
      L[i + ldl * j] = s / d;
    }
  }
  // Forward substitution, column by column of the right-hand sides.
  auto forward = [&](double* R, long ldr, int ncol) {
    for (int c = 0; c < ncol; ++c) {
      double* x = R + ldr * c;
      for (int t = 0; t < m; ++t) {
        const double v = x[t] / L[t + ldl * t];
        x[t] = v;
        const double* lt = L + ldl * t;
        for (int i = t + 1; i < m; ++i) x[i] -= lt[i] * v;
      }
    }
  };
  forward(B.data(), B.outerStride(), nb);
  forward(U.data(), U.outerStride(), p);
  return true;
}

// Blocks of up to this many members are "small": plain loops instead of
// Eigen's blocked algorithms, whose set-up and packing cost more than their
// arithmetic there.
constexpr int kSmallBlock = 24;

// small_chol_solve()'s result for any m: its plain loops for a small
// block, else Eigen's Cholesky (`ch`, the caller's workspace) and
// triangular solves.
template <class MB, class BB, class UB>
bool chol_solve(MB& Mc, BB& B, UB& U, int m, int nb, int p, Eigen::LLT<Eigen::MatrixXd>& ch) {
  if (m <= kSmallBlock) return small_chol_solve(Mc, B, U, m, nb, p);
  ch.compute(Mc);  // reads the lower triangle
  if (ch.info() != Eigen::Success) return false;
  ch.matrixL().solveInPlace(B);
  ch.matrixL().solveInPlace(U);
  return true;
}

// C and F (Fc holding the block's rows of Z'X on entry) of one block of m
// members where Lambda is diagonal (lam: the block's lambda_i) and the
// first d are unconnected to one another, so that M's leading part A is
// diagonal: A eliminated first (the Schur complement), the dense Cholesky
// is only of the rest's r x r part (r = m - d). With a_i = 1/(lambda_i^2
// g_ii + 1) (i < d, g_ii the diagonal of G's block), s_i = lambda_i^2 a_i,
// the subscripts 1 (first d) and 2 (the rest):
//   C0 = [diag(g a), diag(a) G_12; G_21 diag(a), T],  T = G_22 - G_21 diag(s) G_12,
//   F0 = [diag(a) Z_1'X; Z_2'X - G_21 diag(s) Z_1'X]
// are C and F with only the first d random effects in V, and Woodbury on
// the rest (S = Lambda_2 T Lambda_2 + I = L L', its Schur complement in M)
//   C = C0 - B'B,  F = F0 - B'U,  B = L^{-1} Lambda_2 C0_2.,  U = L^{-1} Lambda_2 F0_2.
// (C0_2. and F0_2. the rows of the rest). No 1/lambda: lambda_i = 0 gives
// a_i = 1. The workspaces Wd (>= r x d), Sb (>= r x r), Bb (>= r x m), Ub
// (>= r x p) and av (>= 2 d + m: a, s and a row of B) are the caller's.
// False where S is not positive definite. The O(m d) parts by plain loops
// on the blocks' storage (column-major, their outer strides), and small
// blocks' products too: at a nested design's m = 9, d = 8, r = 1, Eigen's
// expression set-up cost more than the arithmetic.
template <class GB, class CB, class FB>
bool diagonal_block_cf(const GB& Gc, const double* lam, int m, int d, int p, bool small, CB& Cc,
                       FB& Fc, Eigen::MatrixXd& Wdb, Eigen::MatrixXd& Sb, Eigen::MatrixXd& Bb,
                       Eigen::MatrixXd& Ub, Eigen::VectorXd& av, Eigen::LLT<Eigen::MatrixXd>& ch) {
  const int r = m - d;
  const double* G = Gc.data();
  const long ldg = Gc.outerStride();
  double* C = Cc.data();
  const long ldc = Cc.outerStride();
  double* F = Fc.data();
  const long ldf = Fc.outerStride();
  double* a = av.data();
  double* s = a + d;
  for (int i = 0; i < d; ++i) {
    a[i] = 1.0 / (lam[i] * lam[i] * G[i + ldg * i] + 1.0);
    s[i] = lam[i] * lam[i] * a[i];
  }
  for (int j = 0; j < d; ++j) {
    std::fill(C + ldc * j, C + ldc * j + d, 0.0);
    C[j + ldc * j] = G[j + ldg * j] * a[j];
  }
  if (r == 0) {
    for (int c = 0; c < p; ++c)
      for (int i = 0; i < d; ++i) F[i + ldf * c] *= a[i];
    return true;
  }
  // T = G_22 - G_21 diag(s) G_12 into C's bottom right corner: small blocks
  // directly (lower triangle, then mirrored); else as G_22 - W W', W = G_21
  // diag(sqrt(s)) (sqrt(s_i) = |lambda_i| sqrt(a_i)), a rank-d update.
  auto T = Cc.bottomRightCorner(r, r);
  if (small) {
    for (int j = 0; j < r; ++j)
      for (int i = j; i < r; ++i) {
        const double* gi = G + (d + i);
        const double* gj = G + (d + j);
        double t = G[(d + i) + ldg * (d + j)];
        for (int k = 0; k < d; ++k) t -= s[k] * gi[ldg * k] * gj[ldg * k];
        C[(d + i) + ldc * (d + j)] = t;
        C[(d + j) + ldc * (d + i)] = t;
      }
  } else {
    auto Wd = Wdb.topLeftCorner(r, d);
    for (int i = 0; i < d; ++i) Wd.col(i) = (std::fabs(lam[i]) * std::sqrt(a[i])) * Gc.col(i).tail(r);
    T = Gc.bottomRightCorner(r, r);
    T.template selfadjointView<Eigen::Lower>().rankUpdate(Wd, -1.0);
    T.template triangularView<Eigen::StrictlyUpper>() = T.transpose();
  }
  // C0_12 = diag(a) G_12 and its transpose.
  for (int j = 0; j < r; ++j)
    for (int i = 0; i < d; ++i) {
      const double v = a[i] * G[i + ldg * (d + j)];
      C[i + ldc * (d + j)] = v;
      C[(d + j) + ldc * i] = v;
    }
  // F0: the rest's rows less G_21 diag(s) Z_1'X, then the first d scaled.
  for (int k = 0; k < d; ++k) {
    if (s[k] == 0.0) continue;
    const double* gk = G + ldg * k + d;
    for (int c = 0; c < p; ++c) {
      const double v = s[k] * F[k + ldf * c];
      double* fc = F + ldf * c + d;
      for (int i = 0; i < r; ++i) fc[i] -= gk[i] * v;
    }
  }
  for (int c = 0; c < p; ++c)
    for (int i = 0; i < d; ++i) F[i + ldf * c] *= a[i];
  // S = Lambda_2 T Lambda_2 + I (lower triangle), B = Lambda_2 C0_2., U = Lambda_2 F0_2.
  auto S = Sb.topLeftCorner(r, r);
  auto B = Bb.topLeftCorner(r, m);
  auto U = Ub.topRows(r);
  double* Sp = S.data();
  const long lds = S.outerStride();
  double* Bp = B.data();
  const long ldb = B.outerStride();
  double* Up = U.data();
  const long ldu = U.outerStride();
  for (int j = 0; j < r; ++j) {
    for (int i = j; i < r; ++i) Sp[i + lds * j] = lam[d + i] * lam[d + j] * C[(d + i) + ldc * (d + j)];
    Sp[j + lds * j] += 1.0;
  }
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < r; ++i) Bp[i + ldb * j] = lam[d + i] * C[(d + i) + ldc * j];
  for (int c = 0; c < p; ++c)
    for (int i = 0; i < r; ++i) Up[i + ldu * c] = lam[d + i] * F[(d + i) + ldf * c];
  if (!chol_solve(S, B, U, r, m, p, ch)) return false;
  if (small) {
    // C -= B'B (lower triangle, then mirrored) and F -= B'U one row of B
    // at a time (r rank-1 updates; a nested design's r is 1), the row
    // copied to bk.
    double* bk = s + d;
    for (int k = 0; k < r; ++k) {
      for (int j = 0; j < m; ++j) bk[j] = Bp[k + ldb * j];
      for (int j = 0; j < m; ++j) {
        const double v = bk[j];
        if (v == 0.0) continue;
        double* cj = C + ldc * j;
        for (int i = j; i < m; ++i) cj[i] -= bk[i] * v;
      }
      for (int c = 0; c < p; ++c) {
        const double v = Up[k + ldu * c];
        double* fc = F + ldf * c;
        for (int i = 0; i < m; ++i) fc[i] -= bk[i] * v;
      }
    }
    for (int j = 0; j < m; ++j)
      for (int i = j + 1; i < m; ++i) C[j + ldc * i] = C[i + ldc * j];
  } else {
    Cc.template selfadjointView<Eigen::Lower>().rankUpdate(B.transpose(), -1.0);
    Cc.template triangularView<Eigen::StrictlyUpper>() = Cc.transpose();
    Fc.noalias() -= B.transpose() * U;
  }
  return true;
}

// Where Lambda is diagonal, the block's terms of tr(C S_k), tr(C S_kl) and
// tr(C S_k C S_l) read off C (formulas at the top); kk and u: each member's
// term and 2 lambda_i; acc: K doubles of work. Each unordered pair i != j
// counts twice within a term and once across two (in trCC(min, max), the
// upper triangle; the caller mirrors it).
template <class CB>
void diagonal_block_traces(const CB& Cc, const int* kk, const double* u, int m, int K,
                           Eigen::VectorXd& trC, Eigen::MatrixXd& trCkl, Eigen::MatrixXd& trCC,
                           double* acc) {
  const double* C = Cc.data();
  const long ldc = Cc.outerStride();
  for (int j = 0; j < m; ++j) {
    const double* cj = C + ldc * j;
    const int kj = kk[j];
    trC[kj] += u[j] * cj[j];
    trCkl(kj, kj) += 2.0 * cj[j];
    trCC(kj, kj) += u[j] * u[j] * cj[j] * cj[j];
    std::fill(acc, acc + K, 0.0);
    for (int i = j + 1; i < m; ++i) acc[kk[i]] += u[i] * cj[i] * cj[i];
    for (int k = 0; k < K; ++k) {
      if (acc[k] == 0.0) continue;
      const double v = u[j] * acc[k];
      if (k == kj) trCC(kj, kj) += 2.0 * v;
      else trCC(std::min(k, kj), std::max(k, kj)) += v;
    }
  }
}

// out(a, b) += sum_i A(i, a) B(i, b) over the m rows of the column-major
// A (m x na) and B (m x nb): a block's share of the p x p and K x K sums
// (a few dozen dot products of length m; Eigen's product set-up costs more
// than they do).
void add_crossprod(const double* A, long lda, int na, const double* B, long ldb, int nb, int m,
                   double* out, long ldo) {
  for (int b = 0; b < nb; ++b) {
    const double* bc = B + ldb * b;
    for (int a = 0; a < na; ++a) {
      const double* ac = A + lda * a;
      double s = 0.0;
      for (int i = 0; i < m; ++i) s += ac[i] * bc[i];
      out[a + ldo * b] += s;
    }
  }
}

// H = C R for the m x m block C and the m x nc R, column by column of C
// (skipping R's zeros: S_k's rows outside term k where Lambda is
// diagonal), for the small blocks.
void small_product(const double* C, long ldc, const double* R, long ldr, int m, int nc, double* H,
                   long ldh) {
  for (int c = 0; c < nc; ++c) {
    double* h = H + ldh * c;
    const double* rc = R + ldr * c;
    std::fill(h, h + m, 0.0);
    for (int j = 0; j < m; ++j) {
      const double v = rc[j];
      if (v == 0.0) continue;
      const double* cj = C + ldc * j;
      for (int i = 0; i < m; ++i) h[i] += cj[i] * v;
    }
  }
}

}  // namespace

void LmmSparse::find_blocks() {
  std::vector<int> parent(Q_);
  std::iota(parent.begin(), parent.end(), 0);
  auto unite = [&](int a, int b) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  };
  for (int j = 0; j < Q_; ++j)
    for (ColMat::InnerIterator it(G_, j); it; ++it) unite((int)it.row(), j);
  for (size_t e = 0; e < lam_.row.size(); ++e) unite(lam_.row[e], lam_.col[e]);
  // Each block's size counted first, so that its lists are allocated once
  // (a nested design has a block per top-level group).
  std::vector<int> id(Q_, -1), count;
  block_of_.assign(Q_, -1);
  block_pos_.assign(Q_, -1);
  for (int i = 0; i < Q_; ++i) {
    const int r = find_root(parent, i);
    if (id[r] < 0) {
      id[r] = (int)count.size();
      count.push_back(0);
    }
    block_of_[i] = id[r];
    block_pos_[i] = count[id[r]]++;
  }
  blocks_.assign(count.size(), std::vector<int>());
  for (size_t b = 0; b < count.size(); ++b) blocks_[b].reserve(count[b]);
  for (int i = 0; i < Q_; ++i) blocks_[block_of_[i]].push_back(i);
  std::fill(count.begin(), count.end(), 0);
  for (size_t e = 0; e < lam_.row.size(); ++e) ++count[block_of_[lam_.row[e]]];
  block_entries_.assign(blocks_.size(), std::vector<int>());
  for (size_t b = 0; b < count.size(); ++b) block_entries_[b].reserve(count[b]);
  for (size_t e = 0; e < lam_.row.size(); ++e) block_entries_[block_of_[lam_.row[e]]].push_back((int)e);
  block_work_ = 0.0;
  for (const auto& b : blocks_) block_work_ += (double)b.size() * (double)b.size();
  // Each level's term where Lambda is diagonal (lambda_is_diagonal(), the
  // constructor's test: one entry per column, on the diagonal); empty
  // otherwise.
  diag_k_.clear();
  if (lambda_is_diagonal()) {
    diag_k_.assign(Q_, -1);
    for (size_t e = 0; e < lam_.row.size(); ++e) diag_k_[lam_.col[e]] = lam_.k[e];
  }
  // With Lambda diagonal, M's off-diagonal pattern is G's: each block's
  // members unconnected to one another in G (greedily, in increasing
  // order: a random-intercept term's levels never share a row) go first,
  // so that M's leading block_d_ x block_d_ part is diagonal
  // (diagonal_block_cf()).
  block_d_.assign(blocks_.size(), 0);
  if (!diag_k_.empty()) {
    std::vector<char> in_d(Q_, 0);
    std::vector<int> lead, rest;
    lead.reserve(Q_);
    rest.reserve(Q_);
    for (size_t b = 0; b < blocks_.size(); ++b) {
      std::vector<int>& mem = blocks_[b];
      lead.clear();
      rest.clear();
      for (int i : mem) {
        bool free = true;
        for (ColMat::InnerIterator it(G_, i); it && free; ++it)
          if (it.row() != i && in_d[it.row()]) free = false;
        if (free) {
          in_d[i] = 1;
          lead.push_back(i);
        } else {
          rest.push_back(i);
        }
      }
      block_d_[b] = (int)lead.size();
      std::copy(rest.begin(), rest.end(), std::copy(lead.begin(), lead.end(), mem.begin()));
      for (size_t t = 0; t < mem.size(); ++t) block_pos_[mem[t]] = (int)t;
    }
  }
  blocks_found_ = true;
}

LmmHess LmmSparse::hessian(const Eigen::VectorXd& theta, const LmmPls& r, bool reml,
                           double max_work) {
  LmmHess out;
  if (!r.ok || theta.size() != lam_.ntheta) return out;
  if (!blocks_found_) find_blocks();
  if (block_work_ > max_work) return out;
  const int K = lam_.ntheta;
  // The bound of the Q x p work matrices (S_k F, C S_k F, E_k'F: 3 K of
  // them) this function once formed, 1.25e7 doubles (100 MB), beyond which
  // the caller keeps the differences of the exact gradient. The sums they
  // served are now accumulated block by block (below); the bound stays so
  // that which designs get the exact Hessian does not change.
  if (3.0 * (double)K * (double)Q_ * (double)p_ > 1.25e7) return out;
  const size_t ne = lam_.row.size();
  using Eigen::MatrixXd;
  using Eigen::VectorXd;

  Eigen::LLT<MatrixXd> cx(r.RXtRX);
  if (cx.info() != Eigen::Success) return out;
  const MatrixXd Kx = cx.solve(MatrixXd::Identity(p_, p_));
  const VectorXd a = Z_.transpose() * r.res;
  // Lambda'a and E_k'a; w_k = S_k a = E_k (Lambda'a) + Lambda (E_k'a).
  VectorXd lta = VectorXd::Zero(Q_);
  MatrixXd Ea = MatrixXd::Zero(Q_, K), Wv = MatrixXd::Zero(Q_, K);
  for (size_t e = 0; e < ne; ++e) {
    lta[lam_.col[e]] += theta[lam_.k[e]] * a[lam_.row[e]];
    Ea(lam_.col[e], lam_.k[e]) += a[lam_.row[e]];
  }
  for (size_t e = 0; e < ne; ++e) {
    Wv(lam_.row[e], lam_.k[e]) += lta[lam_.col[e]];
    const double t = theta[lam_.k[e]];
    for (int k = 0; k < K; ++k) Wv(lam_.row[e], k) += t * Ea(lam_.col[e], k);
  }

  MatrixXd trCC = MatrixXd::Zero(K, K), trCkl = MatrixXd::Zero(K, K);
  VectorXd trC = VectorXd::Zero(K);
  // The REML and pwrss terms' p x p and K x K pieces, summed block by block
  // (C is block diagonal, so each is a sum over the blocks of products of
  // the blocks' rows): with R = [S_1 F, ..., S_K F, W] (W = [w_1 ... w_K])
  // and E = [E_1'F, ..., E_K'F] on a block's rows, FR = F'R (holding F'S_k F
  // and F'W), RCR = R'C R (its blocks (S_l F)'C (S_k F) and W'C W; the
  // cross blocks (S_k F)'C W are not needed, left zero) and EE = E'E.
  const int kp = K * p_, nr = kp + K;
  MatrixXd FR = MatrixXd::Zero(p_, nr), RCR = MatrixXd::Zero(nr, nr), EE = MatrixXd::Zero(kp, kp);
  const double* Mx = M_.valuePtr();
  const int* Mo = M_.outerIndexPtr();
  const int* Mi = M_.innerIndexPtr();
  // Work matrices sized for the largest block, used through their top-left
  // corners (nested designs have many small blocks).
  int mmax = 0;
  for (const auto& b : blocks_) mmax = std::max(mmax, (int)b.size());
  // The general path's C Lambda, C S_k and C E_k work (m x m each, K + 1 of
  // them), Lambda'F and E is not used where Lambda is diagonal
  // (diagonal_block_traces(), the row-by-row sums below).
  const int mgen = diag_k_.empty() ? mmax : 0;
  MatrixXd Gb(mmax, mmax), Mb(mmax, mmax), Bb(mmax, mmax), Cb(mmax, mmax), CLb(mgen, mgen);
  MatrixXd Ub(mmax, p_), Fb(mmax, p_), LFb(mgen, p_), Rb(mmax, nr), Hb(mmax, nr), Eb(mgen, kp);
  std::vector<MatrixXd> Tb(K, MatrixXd(mgen, mgen)), CEb(K, MatrixXd(mgen, mgen));
  // Where Lambda is diagonal (diagonal_block_cf()): G_21 diag(sqrt(s)), a,
  // s and a row of B, each member's lambda, term and 2 lambda.
  const int mdiag = diag_k_.empty() ? 0 : mmax;
  MatrixXd Wdb(mdiag, mdiag);
  VectorXd av(3 * mdiag);
  Eigen::LLT<MatrixXd> ch;
  std::vector<int> dkk(mdiag);
  std::vector<double> dlam(mdiag), du(mdiag), acc(K);
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const std::vector<int>& idx = blocks_[b];
    const std::vector<int>& ent = block_entries_[b];
    const int m = (int)idx.size();
    auto Gc = Gb.topLeftCorner(m, m);
    auto Mc = Mb.topLeftCorner(m, m);
    auto B = Bb.topLeftCorner(m, m);
    auto Cc = Cb.topLeftCorner(m, m);
    auto U = Ub.topRows(m);
    auto Fc = Fb.topRows(m);
    auto Rc = Rb.topRows(m);
    auto Ec = Eb.topRows(m);
    Gc.setZero();
    for (int jj = 0; jj < m; ++jj)
      for (ColMat::InnerIterator it(G_, idx[jj]); it; ++it) Gc(block_pos_[it.row()], jj) = it.value();
    // Small blocks (nested designs) by plain loops and coefficient-wise
    // products (kSmallBlock).
    const bool small = m <= kSmallBlock;
    if (!diag_k_.empty()) {
      for (int i = 0; i < m; ++i) {
        dkk[i] = diag_k_[idx[i]];
        dlam[i] = theta[dkk[i]];
        du[i] = 2.0 * dlam[i];
        for (int c = 0; c < p_; ++c) Fc(i, c) = ZtX_(idx[i], c);
      }
      if (!diagonal_block_cf(Gc, dlam.data(), m, block_d_[b], p_, small, Cc, Fc, Wdb, Mb, Bb, Ub,
                             av, ch))
        return out;
      diagonal_block_traces(Cc, dkk.data(), du.data(), m, K, trC, trCkl, trCC, acc.data());
      // S_k F = 2 lambda_i F_i on the rows i of term k (E_k'F = F_i there:
      // not stored, see below).
      Rc.leftCols(kp).setZero();
      for (int i = 0; i < m; ++i)
        for (int c = 0; c < p_; ++c) Rc(i, dkk[i] * p_ + c) = du[i] * Fc(i, c);
    } else {
      Mc.setZero();
      for (int jj = 0; jj < m; ++jj) {
        const int j = idx[jj];
        for (int t = Mo[j]; t < Mo[j + 1]; ++t) Mc(block_pos_[Mi[t]], jj) = Mx[t];
      }
      // Y' = Lambda'G on the block, B = L^{-1} Y' (M_b = L L'), C = G - B'B.
      B.setZero();
      U.setZero();
      for (int e : ent) {
        const double t = theta[lam_.k[e]];
        const int rr = block_pos_[lam_.row[e]], cc = block_pos_[lam_.col[e]];
        B.row(cc) += t * Gc.row(rr);
        U.row(cc) += t * ZtX_.row(lam_.row[e]);
      }
      if (!chol_solve(Mc, B, U, m, m, p_, ch)) return out;
      Cc = Gc;
      if (small) {
        Cc.noalias() -= B.transpose().lazyProduct(B);
      } else {
        Cc.template selfadjointView<Eigen::Lower>().rankUpdate(B.transpose(), -1.0);
        Cc.template triangularView<Eigen::StrictlyUpper>() = Cc.transpose();
      }
      for (int i = 0; i < m; ++i) Fc.row(i) = ZtX_.row(idx[i]);
      if (small) Fc.noalias() -= B.transpose().lazyProduct(U);
      else Fc.noalias() -= B.transpose() * U;
      // T_k = C S_k = (C E_k) Lambda' + (C Lambda) E_k' on the block.
      auto CL = CLb.topLeftCorner(m, m);
      CL.setZero();
      for (int e : ent) CL.col(block_pos_[lam_.col[e]]) += theta[lam_.k[e]] * Cc.col(block_pos_[lam_.row[e]]);
      for (int k = 0; k < K; ++k) {
        Tb[k].topLeftCorner(m, m).setZero();
        CEb[k].topLeftCorner(m, m).setZero();
      }
      for (int e : ent)
        CEb[lam_.k[e]].topLeftCorner(m, m).col(block_pos_[lam_.col[e]]) += Cc.col(block_pos_[lam_.row[e]]);
      for (int k = 0; k < K; ++k) {
        auto T = Tb[k].topLeftCorner(m, m);
        auto CE = CEb[k].topLeftCorner(m, m);
        for (int f : ent)
          T.col(block_pos_[lam_.row[f]]) += theta[lam_.k[f]] * CE.col(block_pos_[lam_.col[f]]);
        for (int e : ent)
          if (lam_.k[e] == k) T.col(block_pos_[lam_.row[e]]) += CL.col(block_pos_[lam_.col[e]]);
        trC[k] += T.trace();
      }
      for (int k = 0; k < K; ++k)
        for (int l = k; l < K; ++l)
          trCC(k, l) += Tb[k].topLeftCorner(m, m).cwiseProduct(Tb[l].topLeftCorner(m, m).transpose()).sum();
      // tr(C S_kl) = 2 tr(C E_k E_l'): pairs of entries sharing a column.
      for (int e : ent)
        for (int f : ent)
          if (lam_.col[e] == lam_.col[f])
            trCkl(lam_.k[e], lam_.k[f]) += 2.0 * Cc(block_pos_[lam_.row[f]], block_pos_[lam_.row[e]]);
      // S_k F = E_k (Lambda'F) + Lambda (E_k'F) and E_k'F on the block.
      auto LF = LFb.topRows(m);
      LF.setZero();
      for (int e : ent) LF.row(block_pos_[lam_.col[e]]) += theta[lam_.k[e]] * Fc.row(block_pos_[lam_.row[e]]);
      Rc.leftCols(kp).setZero();
      Ec.setZero();
      for (int k = 0; k < K; ++k) {
        auto Ek = Ec.middleCols(k * p_, p_);
        auto Sk = Rc.middleCols(k * p_, p_);
        for (int e : ent)
          if (lam_.k[e] == k) {
            Ek.row(block_pos_[lam_.col[e]]) += Fc.row(block_pos_[lam_.row[e]]);
            Sk.row(block_pos_[lam_.row[e]]) += LF.row(block_pos_[lam_.col[e]]);
          }
        for (int f : ent) Sk.row(block_pos_[lam_.row[f]]) += theta[lam_.k[f]] * Ek.row(block_pos_[lam_.col[f]]);
      }
    }
    // The block's shares of FR, RCR and EE (H = C R).
    for (int c = 0; c < K; ++c)
      for (int i = 0; i < m; ++i) Rc(i, kp + c) = Wv(idx[i], c);
    auto Hc = Hb.topRows(m);
    if (small) small_product(Cc.data(), Cc.outerStride(), Rc.data(), Rc.outerStride(), m, nr,
                             Hc.data(), Hc.outerStride());
    else Hc.noalias() = Cc * Rc;
    if (!diag_k_.empty()) {
      // Row by row, S_k F and E_k'F vanishing outside term k's rows: with
      // k = k(i), (E_k'F)'(E_k'F) += F_i F_i', F'S_k F += 2 lambda_i F_i F_i',
      // F'W += F_i w_i', (S_k F)'C (S_l F) += 2 lambda_i F_i (C S_l F)_i and
      // W'C W += w_i (C W)_i.
      // Raw column-major access: Eigen's element access through the
      // blocks costs more than the arithmetic here.
      const int p = p_;
      const double* Fp = Fc.data();
      const double* Rp = Rc.data();
      const double* Hp = Hc.data();
      const long ldf = Fc.outerStride(), ldr = Rc.outerStride(), ldh = Hc.outerStride();
      double* EEp = EE.data();
      double* FRp = FR.data();
      double* RCRp = RCR.data();
      for (int i = 0; i < m; ++i) {
        const int o = dkk[i] * p;
        for (int c = 0; c < p; ++c)
          for (int e = 0; e < p; ++e) {
            const double ff = Fp[i + ldf * e] * Fp[i + ldf * c];
            EEp[(o + e) + kp * (o + c)] += ff;
            FRp[e + p * (o + c)] += du[i] * ff;
          }
        for (int c = 0; c < K; ++c) {
          const double w = Rp[i + ldr * (kp + c)];
          for (int e = 0; e < p; ++e) FRp[e + p * (kp + c)] += Fp[i + ldf * e] * w;
        }
        for (int e = 0; e < p; ++e) {
          const double v = Rp[i + ldr * (o + e)];
          for (int c = 0; c < kp; ++c) RCRp[(o + e) + nr * c] += v * Hp[i + ldh * c];
        }
        for (int e = 0; e < K; ++e) {
          const double v = Rp[i + ldr * (kp + e)];
          for (int c = 0; c < K; ++c) RCRp[(kp + e) + nr * (kp + c)] += v * Hp[i + ldh * (kp + c)];
        }
      }
      continue;
    }
    add_crossprod(Fc.data(), Fc.outerStride(), p_, Rc.data(), Rc.outerStride(), nr, m, FR.data(), p_);
    add_crossprod(Rc.data(), Rc.outerStride(), kp, Hc.data(), Hc.outerStride(), kp, m, RCR.data(), nr);
    add_crossprod(Rc.data() + Rc.outerStride() * kp, Rc.outerStride(), K,
                  Hc.data() + Hc.outerStride() * kp, Hc.outerStride(), K, m,
                  RCR.data() + (nr + 1) * kp, nr);
    add_crossprod(Ec.data(), Ec.outerStride(), kp, Ec.data(), Ec.outerStride(), kp, m, EE.data(), kp);
  }
  for (int k = 0; k < K; ++k)
    for (int l = 0; l < k; ++l) {
      trCC(k, l) = trCC(l, k);
    }
  trCkl = (trCkl + trCkl.transpose()).eval() / 2.0;

  // pwrss: q_k = -a'w_k, q_kl = 2 (w_k'C w_l - (F'w_k)'K(F'w_l)) - 2 (E_k'a)'(E_l'a).
  const MatrixXd FW = FR.rightCols(K);
  MatrixXd EaEa = MatrixXd::Zero(K, K);
  add_crossprod(Ea.data(), Q_, K, Ea.data(), Q_, K, Q_, EaEa.data(), K);
  out.g_q = -(Wv.transpose() * a);
  out.h_q = 2.0 * (RCR.bottomRightCorner(K, K) - FW.transpose() * Kx * FW) - 2.0 * EaEa;
  out.h_q = (out.h_q + out.h_q.transpose()).eval() / 2.0;
  out.g_ld = trC;
  out.h_ld = trCkl - trCC;
  if (reml) {
    // Om_k = F'S_k F; (E_k'F)'(E_l'F) and (S_l F)'C (S_k F) are EE's and
    // RCR's (k, l) and (l, k) p x p blocks.
    std::vector<MatrixXd> Om(K);
    for (int k = 0; k < K; ++k) Om[k] = FR.middleCols(k * p_, p_);
    for (int k = 0; k < K; ++k) {
      out.g_ld[k] -= (Kx * Om[k]).trace();
      for (int l = 0; l < K; ++l) {
        const double dkl = 2.0 * (Kx * EE.block(k * p_, l * p_, p_, p_)).trace();
        const double cross = 2.0 * (Kx * RCR.block(l * p_, k * p_, p_, p_)).trace();
        const double quad = (Kx * Om[k] * Kx * Om[l]).trace();
        out.h_ld(k, l) += -dkl + cross - quad;
      }
    }
    out.h_ld = (out.h_ld + out.h_ld.transpose()).eval() / 2.0;
  }
  out.ok = out.g_ld.allFinite() && out.h_ld.allFinite() && out.g_q.allFinite() &&
           out.h_q.allFinite();
  return out;
}

}  // namespace glmmgee
