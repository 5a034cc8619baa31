// Sparse Cholesky factorization H = P' L L' P that can be interrupted.
//
// Eigen's SimplicialLLT gives the fill-reducing ordering and the symbolic
// analysis (elimination tree, column counts, storage of L); the numeric
// factorization is done here, by the up-looking algorithm (Davis 2006,
// "Direct Methods for Sparse Linear Systems", sec. 4.2): row k of L solves
// L[0:k, 0:k] x = H[0:k, k] over the reach of column k in the elimination
// tree, then L[k, k] = sqrt(H[k, k] - |x|^2). Between rows it polls for a
// user interrupt, which Eigen's own factorize() cannot: with crossed factors
// whose factor fills in, one factorization can take minutes.
//
// Where the elimination leaves a clique at the end (the last columns of L
// full below the diagonal: the levels of the smaller of two crossed
// factors, once the larger one is eliminated), the up-looking rows of that
// block stop at the sparse columns and leave its Schur complement
// S = H22 - L21 L21' as a dense matrix, which is factored by blocks with
// dense kernels (as the supernodal and blocked Cholesky factorizations do;
// Davis 2006, ch. 9; Bates et al., MixedModels.jl): a 1,000-level block
// costs a few hundredths of a second instead of most of a second. The
// selected inverse takes that block's inverse the same way. Blocks below
// kDenseMin (200) columns keep the scalar algorithm (and its arithmetic).
#ifndef GLMMGEE_POLLED_LLT_H
#define GLMMGEE_POLLED_LLT_H

#include <RcppEigen.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "util/resources.h"

namespace glmmgee {

class PolledLLT
    : public Eigen::SimplicialLLT<Eigen::SparseMatrix<double, Eigen::ColMajor>, Eigen::Lower,
                                  Eigen::AMDOrdering<int> > {
 public:
  typedef Eigen::SparseMatrix<double, Eigen::ColMajor> ColMat;

  // Numeric factorization of `a` (same pattern as at analyzePattern()).
  // Throws Rcpp's interrupt exception when the user interrupts.
  void factorize_polled(const ColMat& a) {
    const int n = (int)a.cols();
    // Upper triangle of P H P' with the ordering found by analyzePattern():
    // each of its entries is one stored entry of `a`, moved, so it is filled
    // by the map found once (twist_map()) instead of Eigen's symmetric
    // permutation per factorization (6% of a Poisson ar1() + (1 | site)
    // fit, with its allocations); the same values in the same places.
    if (!a.isCompressed()) {
      twisted(a, ap_);
      ap_from_.clear();
    } else {
      if (ap_from_.empty() || ap_nnz_ != (long)a.nonZeros() || ap_.cols() != n) twist_map(a);
      const double* av = a.valuePtr();
      double* apv = ap_.valuePtr();
      const long m = (long)ap_from_.size();
      for (long k = 0; k < m; ++k) apv[k] = av[ap_from_[k]];
    }
    const ColMat& ap = ap_;
    const int* Lp = this->m_matrix.outerIndexPtr();
    int* Li = this->m_matrix.innerIndexPtr();
    double* Lx = this->m_matrix.valuePtr();
    const int* parent = this->m_parent.data();
    int* nz = this->m_nonZerosPerCol.data();
    std::vector<double> y(n, 0.0);
    // The reach of each row depends on the pattern alone: found in the
    // tree the first time (and recorded, `record`), then replayed in the
    // same order, so the sums are the same to the bit.
    const bool replay = reach_ok_ && !ap_from_.empty();
    std::vector<int> reach(replay ? 0 : n), tag(replay ? 0 : n);
    const bool record = !replay && !ap_from_.empty();
    if (record) {
      reach_start_.assign(1, 0L);
      reach_seq_.clear();
    }
    InterruptPoll ip;
    bool ok = true;
    // Rows from s0 on form the dense block: their up-looking solves visit
    // the sparse columns only, and leave the block's Schur complement in y.
    const int s0 = dense_start();
    const int m = n - s0;
    if (m > 0 && dense_.rows() != m) {
      // The block, and the two more of its size selected_inverse() takes.
      check_memory(3.0 * 8.0 * (double)m * (double)m,
                   "the dense block of the random effects' Cholesky factor (" +
                       std::to_string(m) + " x " + std::to_string(m) + ")");
      dense_.resize(m, m);
    }
    for (int k = 0; k < n && ok; ++k) {
      if ((k & 15) == 0 && ip.poll()) break;
      nz[k] = 0;
      const int* rk;
      int top, stop;
      if (replay) {
        for (ColMat::InnerIterator it(ap, k); it; ++it)
          if (it.index() <= k) y[it.index()] += it.value();
        rk = reach_seq_.data() + reach_start_[k];
        top = 0;
        stop = (int)(reach_start_[k + 1] - reach_start_[k]);
      } else {
        // Nonzero pattern of row k of L: the reach of H[0:k, k]'s rows in
        // the elimination tree, in topological order at reach[top..n).
        top = n;
        tag[k] = k;
        for (ColMat::InnerIterator it(ap, k); it; ++it) {
          int i = it.index();
          if (i > k) continue;
          y[i] += it.value();
          int len = 0;
          for (; tag[i] != k; i = parent[i]) {
            reach[len++] = i;
            tag[i] = k;
          }
          while (len > 0) reach[--top] = reach[--len];
        }
        rk = reach.data();
        stop = n;
        if (record) {
          // rows of the dense block keep only their sparse columns
          for (int t = top; t < n; ++t)
            if (k < s0 || reach[t] < s0) reach_seq_.push_back(reach[t]);
          reach_start_.push_back((long)reach_seq_.size());
        }
      }
      double d = y[k] * this->m_shiftScale + this->m_shiftOffset;
      y[k] = 0.0;
      for (; top < stop; ++top) {
        const int i = rk[top];
        if (i >= s0) continue;  // a column of the dense block (k >= s0 only)
        const double xi = y[i] / Lx[Lp[i]];  // forward substitution, column i
        y[i] = 0.0;
        const int end = Lp[i] + nz[i];
        for (int p = Lp[i] + 1; p < end; ++p) y[Li[p]] -= Lx[p] * xi;
        d -= xi * xi;
        Li[end] = k;  // L[k, i]
        Lx[end] = xi;
        ++nz[i];
      }
      if (k >= s0) {
        // Row k of the Schur complement (lower triangle of dense_).
        double* sk = y.data() + s0;
        for (int r = 0; r < k - s0; ++r) {
          dense_(k - s0, r) = sk[r];
          sk[r] = 0.0;
        }
        dense_(k - s0, k - s0) = d;
        continue;
      }
      if (!(d > 0.0)) { ok = false; break; }
      Li[Lp[k]] = k;
      Lx[Lp[k]] = std::sqrt(d);
      nz[k] = 1;
    }
    if (ok && m > 0 && !ip.interrupted()) {
      ok = dense_llt_polled(dense_, ip);
      if (ok) {
        for (int j = s0; j < n; ++j) {
          const int c = j - s0;
          for (int t = 0; t < n - j; ++t) {
            Li[Lp[j] + t] = j + t;
            Lx[Lp[j] + t] = dense_(c + t, c);
          }
          nz[j] = n - j;
        }
      }
    }
    this->m_info = ok ? Eigen::Success : Eigen::NumericalIssue;
    this->m_factorizationIsOk = true;
    // A factorization that stopped early recorded only some rows.
    if (record) reach_ok_ = (int)reach_start_.size() == n + 1;
    ip.raise_if_interrupted();
  }
  // Stored entries of the factor, known from the analysis on.
  long factor_nonzeros() const { return (long)this->m_matrix.nonZeros(); }
  // log det of the factorized matrix: twice the sum of log L_jj (each
  // column's diagonal entry is stored first).
  double logdet() const {
    const auto& L = this->matrixL().nestedExpression();
    const int* Lo = L.outerIndexPtr();
    const double* Lx = L.valuePtr();
    double s = 0.0;
    for (int j = 0; j < (int)L.cols(); ++j) s += std::log(Lx[Lo[j]]);
    return 2.0 * s;
  }

  // The fill-reducing ordering and symbolic analysis of `a`'s pattern;
  // forgets the selected inverse's plan, which belongs to the old pattern.
  void analyzePattern(const ColMat& a) { analyze_ordered(a, nullptr); }

  // The same with the elimination order `order` (order[t]: the index of `a`
  // eliminated t-th) in place of AMD's, when given. A compressed `a` whose
  // rows increase within columns (the lower triangle is read) is analysed
  // without Eigen's copies: AMD gets the symmetric pattern Eigen would give
  // it (selfadjointView, then A + A', both sorted: the same arrays, so the
  // same ordering), and P a P' and the map of its values
  // (factorize_polled()) are made once here, in Eigen's order of entries.
  void analyze_ordered(const ColMat& a, const std::vector<int>* order) {
    ap_from_.clear();
    ap_nnz_ = -1;
    reach_ok_ = false;
    drop_plan();
    plan_built_ = false;
    plan_scans_ = 0;
    const int n = (int)a.cols();
    if (order != nullptr && (int)order->size() != n)
      Rcpp::stop("internal: an elimination order of %d indices for %d columns",
                 (int)order->size(), n);
    if (!a.isCompressed() || a.rows() != n || !rows_sorted(a)) {
      if (order != nullptr) Rcpp::stop("internal: an elimination order needs a compressed, sorted matrix");
      Base::analyzePattern(a);
      return;
    }
    if (order != nullptr) {
      this->m_Pinv.resize(n);
      for (int t = 0; t < n; ++t) this->m_Pinv.indices()[t] = (*order)[t];
    } else {
      ColMat full;
      symmetric_pattern(a, full);
      Eigen::internal::minimum_degree_ordering(full, this->m_Pinv);
    }
    if (this->m_Pinv.size() > 0)
      this->m_P = this->m_Pinv.inverse();
    else
      this->m_P.resize(0);
    twist_map(a);
    Base::analyzePattern_preordered(ap_, false);
  }

  // Takahashi recurrences on the factor P H P' = L L': S = (P H P')^{-1} on
  // the pattern of L (S[k] beside L's k-th stored value), column by column
  // from the last,
  //   S_ij = -(1/L_jj) sum_{k in S_j} L_kj S_ik   (i in S_j, the rows of col j),
  //   S_jj = 1/L_jj^2 - (1/L_jj) sum_{k in S_j} L_kj S_kj.
  // For k in S_j the entries S_ik, i in S_j, lie in column k of the pattern
  // (closure of the filled graph), so a scan of column k with the rows of
  // column j marked finds them all (Takahashi, Fagan and Chin 1973; Rue and
  // Martino 2007, sec. 2). Main thread only (polls for interrupts).
  //
  // L's pattern is the same at every factorization, so where the scans
  // are found (their hits) depends on the pattern only: the second call
  // scans and records them as it goes (plan_), and later calls visit the
  // hits alone, in the same order, so the sums and S are the same to the
  // bit. Where a column k of crossed factors is long and shares few rows
  // with column j, most of a scan misses; the plan skips them. The plan is
  // not kept when it would need more than kMaxPlanBytes (the scan then
  // runs every time). The first call only scans: a fit that inverts once
  // (a gaussian LMM's conditional variances at its estimates) would pay
  // for a recording it never uses (crossed 40 x 30: the recording doubled
  // the scan's cost).
  void selected_inverse(std::vector<double>& S) const {
    const auto& L = this->matrixL().nestedExpression();
    const int Q = (int)L.cols();
    const int* Lo = L.outerIndexPtr();
    const int* Li = L.innerIndexPtr();
    const double* Lx = L.valuePtr();
    const bool planned = plan_built_ && !plan_cnt_.empty();
    bool record = !plan_built_ && plan_scans_ > 0;
    if (!plan_built_) ++plan_scans_;
    if (record) {
      plan_built_ = true;
      plan_cnt_.assign(L.nonZeros(), 0);
      plan_q_.clear();
      plan_m_.clear();
    }
    S.assign(L.nonZeros(), 0.0);
    std::vector<long> mark(planned ? 0 : Q, -1);
    std::vector<double> acc(Q, 0.0);
    long h = 0;  // the next hit of the plan
    InterruptPoll ip;
    // The dense block's part is the inverse of its Schur complement,
    // (L22 L22')^{-1}, taken by dense kernels.
    const int s0 = dense_start();
    if (s0 < Q) {
      if (!dense_inverse_polled(L, s0, S, ip)) {
        if (record) drop_plan();
        ip.raise_if_interrupted();
      }
    }
    for (int j = s0 - 1; j >= 0; --j) {
      if (ip.poll()) {
        if (record) drop_plan();
        ip.raise_if_interrupted();
      }
      const int p0 = Lo[j], p1 = Lo[j + 1];
      const double ljj = Lx[p0];
      for (int p = p0 + 1; p < p1; ++p) acc[Li[p]] = 0.0;
      if (planned) {
        for (int p = p0 + 1; p < p1; ++p) {
          const int k = Li[p];
          const double lkj = Lx[p];
          double ak = acc[k] + lkj * S[Lo[k]];
          for (const long he = h + plan_cnt_[p]; h < he; ++h) {
            const int q = plan_q_[h];
            acc[Li[q]] += lkj * S[q];
            ak += Lx[plan_m_[h]] * S[q];
          }
          acc[k] = ak;
        }
      } else {
        for (int p = p0 + 1; p < p1; ++p) mark[Li[p]] = p;
        for (int p = p0 + 1; p < p1; ++p) {
          const int k = Li[p];
          const double lkj = Lx[p];
          acc[k] += lkj * S[Lo[k]];
          for (int q = Lo[k] + 1; q < Lo[k + 1]; ++q) {
            const long mi = mark[Li[q]];
            if (mi < 0) continue;
            acc[Li[q]] += lkj * S[q];
            acc[k] += Lx[mi] * S[q];
            if (record) {
              plan_q_.push_back(q);
              plan_m_.push_back((int)mi);
              ++plan_cnt_[p];
            }
          }
        }
        for (int p = p0 + 1; p < p1; ++p) mark[Li[p]] = -1;
        if (record && 8.0 * (double)plan_q_.size() + 4.0 * (double)plan_cnt_.size() > kMaxPlanBytes) {
          drop_plan();
          record = false;
        }
      }
      double sjj = 1.0 / (ljj * ljj);
      for (int p = p0 + 1; p < p1; ++p) {
        S[p] = -acc[Li[p]] / ljj;
        sjj -= Lx[p] * S[p] / ljj;
      }
      S[p0] = sjj;
    }
  }

  // The first column of the dense block at the end of L's pattern (the
  // columns from it on full below the diagonal), or L's size when that
  // block has fewer than kDenseMin columns. The pattern's property: once a
  // column is full, every later one is.
  int dense_start() const {
    const auto& L = this->m_matrix;
    const int n = (int)L.cols();
    const int* Lp = L.outerIndexPtr();
    int s = n;
    while (s > 0 && Lp[s] - Lp[s - 1] == n - s + 1) --s;
    return n - s >= dense_min_ ? s : n;
  }
  // The smallest dense block factored by dense kernels (kDenseMin unless a
  // test sets another, to compare both paths on one matrix).
  void set_dense_min(int m) { dense_min_ = std::max(1, m); }

 private:
  typedef Eigen::SimplicialLLT<ColMat, Eigen::Lower, Eigen::AMDOrdering<int> > Base;
  static constexpr int kDenseMin = 200;
  // Used by value only (int{kDenseBlock}): std::min() takes references,
  // which in C++14 would need a definition outside the class, missing from
  // an unoptimized build (the symbol is then undefined at load).
  static constexpr int kDenseBlock = 128;
  int dense_min_ = kDenseMin;
  // The dense block's Schur complement, then its factor (lower triangle).
  Eigen::MatrixXd dense_;

  // The lower Cholesky factor of the symmetric matrix whose lower triangle
  // is in `a`, in place, by blocks of kDenseBlock columns (factor the
  // diagonal block, solve the panel below it, update the rest), polling for
  // an interrupt between blocks. False when `a` is not positive definite or
  // the user interrupted.
  static bool dense_llt_polled(Eigen::MatrixXd& a, InterruptPoll& ip) {
    const int m = (int)a.rows();
    for (int c0 = 0; c0 < m; c0 += kDenseBlock) {
      if (ip.poll()) return false;
      const int w = std::min(int{kDenseBlock}, m - c0), r = m - c0 - w;
      Eigen::Ref<Eigen::MatrixXd> a11(a.block(c0, c0, w, w));
      Eigen::LLT<Eigen::Ref<Eigen::MatrixXd> > llt(a11);  // in place
      if (llt.info() != Eigen::Success) return false;
      if (r > 0) {
        auto a21 = a.block(c0 + w, c0, r, w);
        a11.triangularView<Eigen::Lower>().transpose().solveInPlace<Eigen::OnTheRight>(a21);
        a.block(c0 + w, c0 + w, r, r).selfadjointView<Eigen::Lower>().rankUpdate(a21, -1.0);
      }
    }
    return true;
  }

  // The selected inverse on the dense block of the factor L (columns s0 to
  // the end): (L22 L22')^{-1} = L22^{-T} L22^{-1}, the triangular inverse and
  // then its product by blocks of columns, polling between blocks; written
  // into S beside L's entries. False when interrupted.
  bool dense_inverse_polled(const ColMat& L, int s0, std::vector<double>& S,
                            InterruptPoll& ip) const {
    const int n = (int)L.cols(), m = n - s0;
    const int* Lo = L.outerIndexPtr();
    const double* Lx = L.valuePtr();
    Eigen::MatrixXd L22 = Eigen::MatrixXd::Zero(m, m), V = Eigen::MatrixXd::Zero(m, m);
    for (int c = 0; c < m; ++c)
      for (int t = 0; t < m - c; ++t) L22(c + t, c) = Lx[Lo[s0 + c] + t];
    // V = L22^{-1}, lower triangular: its columns c0.. from rows c0 on.
    for (int c0 = 0; c0 < m; c0 += kDenseBlock) {
      if (ip.poll()) return false;
      const int w = std::min(int{kDenseBlock}, m - c0);
      auto vb = V.block(c0, c0, m - c0, w);
      vb.topRows(w).setIdentity();
      L22.block(c0, c0, m - c0, m - c0).triangularView<Eigen::Lower>().solveInPlace(vb);
    }
    // Lower triangle of V'V, columns c0.. (rows from c0 on): V' is upper
    // triangular, so the product skips its zeros (half the flops).
    for (int c0 = 0; c0 < m; c0 += kDenseBlock) {
      if (ip.poll()) return false;
      const int w = std::min(int{kDenseBlock}, m - c0);
      L22.block(c0, c0, m - c0, w).noalias() =
          V.block(c0, c0, m - c0, m - c0).transpose().triangularView<Eigen::Upper>() *
          V.block(c0, c0, m - c0, w);
    }
    for (int c = 0; c < m; ++c)
      for (int t = 0; t < m - c; ++t) S[Lo[s0 + c] + t] = L22(c + t, c);
    return true;
  }
  static constexpr double kMaxPlanBytes = 256.0 * 1024 * 1024;
  // The hits of the scans of selected_inverse(), in the order it visits
  // them (columns j from the last, their stored entries p in order): for
  // the entry p of L (row k of column j), plan_cnt_[p] positions q in
  // column k whose row is in column j, and m, the position of that row in
  // column j. plan_built_ with plan_cnt_ empty: no plan (too large, or its
  // recording was interrupted).
  mutable std::vector<int> plan_cnt_;
  mutable std::vector<int> plan_q_, plan_m_;
  mutable bool plan_built_ = false;
  // Scans made since the last analysis (the plan is recorded on the second).
  mutable int plan_scans_ = 0;
  void drop_plan() const {
    std::vector<int>().swap(plan_cnt_);
    std::vector<int>().swap(plan_q_);
    std::vector<int>().swap(plan_m_);
  }
  // The upper triangle of P H P' (factorize_polled()) and, for each of its
  // stored values, the position of the value of H it holds; ap_nnz_: the
  // number of stored values of the H the map was made for.
  ColMat ap_;
  std::vector<long> ap_from_;
  long ap_nnz_ = -1;
  // The rows' reaches in the elimination tree (factorize_polled()), row k's
  // at reach_seq_[reach_start_[k] .. reach_start_[k + 1]), for the map's
  // pattern; reach_ok_ once they are complete.
  std::vector<long> reach_start_;
  std::vector<int> reach_seq_;
  bool reach_ok_ = false;

  // P a P' (upper triangle) from the lower triangle of `a`, as Eigen does.
  void twisted(const ColMat& a, ColMat& out) const {
    const int n = (int)a.cols();
    out.resize(n, n);
    if (this->m_P.size() == 0)
      out.selfadjointView<Eigen::Upper>() = a.selfadjointView<Eigen::Lower>();
    else
      out.selfadjointView<Eigen::Upper>() = a.selfadjointView<Eigen::Lower>().twistedBy(this->m_P);
  }
  // P a P' (upper triangle, a's values) and where each of its values comes
  // from in a (compressed), entries in the order Eigen's symmetric
  // permutation gives them (permute_symm_to_symm: a's columns in turn, the
  // rows of each in storage order, lower triangle only), so that the reach
  // of each row (factorize_polled()) and the sums along it are Eigen's.
  void twist_map(const ColMat& a) {
    const int n = (int)a.cols();
    const int* ao = a.outerIndexPtr();
    const int* ai = a.innerIndexPtr();
    const bool perm = this->m_P.size() > 0;
    const int* P = perm ? this->m_P.indices().data() : nullptr;
    ap_.resize(n, n);
    int* co = ap_.outerIndexPtr();
    std::vector<int> count(n, 0);
    for (int j = 0; j < n; ++j) {
      const int jp = perm ? P[j] : j;
      for (int t = ao[j]; t < ao[j + 1]; ++t) {
        const int i = ai[t];
        if (i < j) continue;
        const int ip = perm ? P[i] : i;
        ++count[ip > jp ? ip : jp];
      }
    }
    co[0] = 0;
    for (int j = 0; j < n; ++j) co[j + 1] = co[j] + count[j];
    ap_.resizeNonZeros(co[n]);
    for (int j = 0; j < n; ++j) count[j] = co[j];
    int* ci = ap_.innerIndexPtr();
    double* cv = ap_.valuePtr();
    const double* av = a.valuePtr();
    ap_from_.resize(co[n]);
    for (int j = 0; j < n; ++j) {
      const int jp = perm ? P[j] : j;
      for (int t = ao[j]; t < ao[j + 1]; ++t) {
        const int i = ai[t];
        if (i < j) continue;
        const int ip = perm ? P[i] : i;
        const int at = count[ip > jp ? ip : jp]++;
        ci[at] = ip < jp ? ip : jp;
        cv[at] = av[t];
        ap_from_[at] = t;
      }
    }
    ap_nnz_ = (long)a.nonZeros();
    reach_ok_ = false;
  }
  // Whether the rows of each column of a compressed `a` increase strictly.
  static bool rows_sorted(const ColMat& a) {
    const int* ao = a.outerIndexPtr();
    const int* ai = a.innerIndexPtr();
    for (int j = 0; j < (int)a.cols(); ++j)
      for (int t = ao[j] + 1; t < ao[j + 1]; ++t)
        if (ai[t] <= ai[t - 1]) return false;
    return true;
  }
  // The pattern of the symmetric matrix whose lower triangle is stored in
  // `a` (rows sorted), both triangles, rows sorted: column c holds the rows
  // j < c whose column j has row c (in increasing j), then its own rows
  // >= c.
  static void symmetric_pattern(const ColMat& a, ColMat& out) {
    const int n = (int)a.cols();
    const int* ao = a.outerIndexPtr();
    const int* ai = a.innerIndexPtr();
    std::vector<int> count(n, 0);
    for (int j = 0; j < n; ++j)
      for (int t = ao[j]; t < ao[j + 1]; ++t) {
        const int i = ai[t];
        if (i < j) continue;
        ++count[j];
        if (i > j) ++count[i];
      }
    out.resize(n, n);
    int* oo = out.outerIndexPtr();
    oo[0] = 0;
    for (int j = 0; j < n; ++j) oo[j + 1] = oo[j] + count[j];
    out.resizeNonZeros(oo[n]);
    int* oi = out.innerIndexPtr();
    std::fill(out.valuePtr(), out.valuePtr() + oo[n], 0.0);
    for (int j = 0; j < n; ++j) count[j] = oo[j];
    for (int j = 0; j < n; ++j)
      for (int t = ao[j]; t < ao[j + 1]; ++t) {
        const int i = ai[t];
        if (i < j) continue;
        oi[count[j]++] = i;
        if (i > j) oi[count[i]++] = j;
      }
  }
};

}  // namespace glmmgee
#endif
