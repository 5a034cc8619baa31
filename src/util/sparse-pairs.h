// Positions the sparse Laplace engines (SparseLaplace in laplace.cpp,
// SparseTwoPart in laplace-zero-re.cpp) keep so that an evaluation adds each row's
// pairs of non-zeros of A into H = I + A' W A, and reads H^{-1} at them,
// without a search: in H's pattern (fixed per engine) and in the pattern of
// H's sparse Cholesky factor L (known after the first factorization).
#ifndef GLMMGEE_SPARSE_PAIRS_H
#define GLMMGEE_SPARSE_PAIRS_H

#include <RcppEigen.h>
#include <algorithm>
#include <limits>
#include <vector>
#include "util/polled-llt.h"
#include "util/resources.h"

namespace glmmgee {

// Position of entry (row, col) in a compressed column-major matrix whose
// row indices are sorted within columns; -1 if absent.
inline long find_entry(const int* outer, const int* inner, int col, int row) {
  const int* b = inner + outer[col];
  const int* e = inner + outer[col + 1];
  const int* it = std::lower_bound(b, e, row);
  if (it == e || *it != row) return -1;
  return (long)(it - inner);
}

// Offsets of the rows' pairs: row i of A (n rows, compressed by rows: Ao)
// with m non-zeros has its m (m + 1) / 2 pairs a <= b at
// start[i] .. start[i + 1].
inline std::vector<long> row_pair_offsets(const int* Ao, int n) {
  std::vector<long> start(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    const long m = Ao[i + 1] - Ao[i];
    start[i + 1] = start[i] + m * (m + 1) / 2;
  }
  return start;
}

// For each row of A (n rows, compressed by rows: Ao, Ai with sorted column
// indices) and each pair a <= b of its non-zeros, in that order, the
// position in a lower-triangular pattern compressed by columns (Po, Pi) of
// the entry the pair's columns make once renumbered by perm (nullptr: as
// they are); -1 where the pattern lacks it. Polls ip every 1024 rows
// (nullptr: never).
inline std::vector<int> row_pair_positions(const int* Ao, const int* Ai, int n, const int* Po,
                                           const int* Pi, const int* perm, InterruptPoll* ip) {
  std::vector<int> out;
  out.reserve(row_pair_offsets(Ao, n)[n]);
  for (int i = 0; i < n; ++i) {
    if (ip && (i & 1023) == 0 && ip->poll()) ip->raise_if_interrupted();
    for (int a = Ao[i]; a < Ao[i + 1]; ++a)
      for (int b = a; b < Ao[i + 1]; ++b) {
        const int pa = perm ? perm[Ai[a]] : Ai[a], pb = perm ? perm[Ai[b]] : Ai[b];
        out.push_back((int)find_entry(Po, Pi, std::min(pa, pb), std::max(pa, pb)));
      }
  }
  return out;
}

// H^{-1} on the lower pattern of H, column by column, from S, the selected
// inverse of H's factor chol (PolledLLT::selected_inverse()): f(row, col,
// H^{-1} there (NaN where L's pattern lacks the entry), H there).
template <class F>
void inverse_on_pattern(const Eigen::SparseMatrix<double>& H, const PolledLLT& chol,
                        const std::vector<double>& S, F f) {
  const auto& L = chol.matrixL().nestedExpression();
  const Eigen::VectorXi& perm = chol.permutationP().indices();
  for (int j = 0; j < (int)H.cols(); ++j)
    for (Eigen::SparseMatrix<double>::InnerIterator it(H, j); it; ++it) {
      const int pa = perm[it.row()], pb = perm[j];
      const long pos = find_entry(L.outerIndexPtr(), L.innerIndexPtr(), std::min(pa, pb),
                                  std::max(pa, pb));
      f((int)it.row(), j, pos >= 0 ? S[pos] : std::numeric_limits<double>::quiet_NaN(),
        it.value());
    }
}

}  // namespace glmmgee
#endif
