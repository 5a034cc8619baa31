// Size of a sparse Cholesky factor before it is computed: a fill-reducing
// ordering (approximate minimum degree) and the column counts of the
// factor from the elimination tree, in O(n) memory besides the pattern.
// The R side compares the count with the free memory before CHOLMOD
// allocates the factor (R/fit-known-gaussian-multi.R). The counting
// is the symbolic step of Davis's LDL (T. A. Davis, "Algorithm 849: a
// concise sparse Cholesky factorization package", ACM TOMS 31, 2005).
#include <RcppEigen.h>
#include <Eigen/OrderingMethods>
#include <algorithm>
#include <vector>
#include "util/resources.h"
#include "util/polled-llt.h"
#include "entry/entry-util.h"

// [[Rcpp::depends(RcppEigen)]]

// Nonzeros of the Cholesky factor of a symmetric sparse matrix (both
// triangles of its pattern given) under the AMD ordering.
double glmmgee_exports::chol_factor_nnz(Eigen::MappedSparseMatrix<double> A) {
  const int n = (int)A.rows();
  if (A.cols() != n) Rcpp::stop("the matrix must be square; it is %d x %d", n, (int)A.cols());
  if (n == 0) return 0.0;
  typedef Eigen::SparseMatrix<double, Eigen::ColMajor, int> Sp;
  Sp full = A;
  Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int> pinv, perm;
  Eigen::AMDOrdering<int> amd;
  amd(full, pinv);
  perm = pinv.inverse();
  Sp ap(n, n);
  ap.selfadjointView<Eigen::Upper>() = full.selfadjointView<Eigen::Lower>().twistedBy(perm);
  std::vector<int> parent(n, -1), flag(n), count(n, 0);
  glmmgee::InterruptPoll ip;
  for (int k = 0; k < n; ++k) {
    if ((k & 1023) == 0 && ip.poll()) ip.raise_if_interrupted();
    flag[k] = k;
    for (Sp::InnerIterator it(ap, k); it; ++it) {
      int i = (int)it.index();
      if (i >= k) continue;
      // walk up the elimination tree from i to the first node marked in
      // row k: each step is one nonzero of row k of the factor
      while (flag[i] != k) {
        if (parent[i] == -1) parent[i] = k;
        ++count[i];
        flag[i] = k;
        i = parent[i];
      }
    }
  }
  double nnz = n;
  for (int k = 0; k < n; ++k) nnz += count[k];
  return nnz;
}

// Connected components of the graph of a square sparse matrix (an edge
// per nonzero off the diagonal), by union-find: a 1-based label per row,
// the labels numbered by first appearance.
Rcpp::IntegerVector glmmgee_exports::sparse_components(Eigen::MappedSparseMatrix<double> A) {
  const int n = (int)A.rows();
  if (A.cols() != n) Rcpp::stop("the matrix must be square; it is %d x %d", n, (int)A.cols());
  std::vector<int> root(n);
  for (int i = 0; i < n; ++i) root[i] = i;
  auto find = [&root](int i) {
    while (root[i] != i) {
      root[i] = root[root[i]];
      i = root[i];
    }
    return i;
  };
  for (int k = 0; k < n; ++k)
    for (Eigen::MappedSparseMatrix<double>::InnerIterator it(A, k); it; ++it) {
      const int a = find((int)it.index()), b = find(k);
      if (a != b) root[std::max(a, b)] = std::min(a, b);
    }
  Rcpp::IntegerVector out(n);
  std::vector<int> label(n, 0);
  int next = 0;
  for (int i = 0; i < n; ++i) {
    const int r = find(i);
    if (label[r] == 0) label[r] = ++next;
    out[i] = label[r];
  }
  return out;
}

// The package's sparse Cholesky factorization (util/polled-llt.h) of a
// symmetric positive definite matrix (lower triangle read) under AMD, with
// dense blocks of at least `dense_min` columns factored by dense kernels:
// log det, the first column of the dense block (0-based; n when none), the
// factor's stored values and column pointers (0-based; each column's
// diagonal first), the selected inverse beside them, and the
// solution of A x = b. For tests of the two paths against each other.
Rcpp::List glmmgee_exports::sparse_chol_check(Eigen::MappedSparseMatrix<double> A,
                                             Eigen::Map<Eigen::VectorXd> b, int dense_min) {
  const int n = (int)A.rows();
  if (A.cols() != n) Rcpp::stop("the matrix must be square; it is %d x %d", n, (int)A.cols());
  if (b.size() != n) Rcpp::stop("b has length %d; the matrix has %d rows", (int)b.size(), n);
  typedef Eigen::SparseMatrix<double, Eigen::ColMajor, int> Sp;
  Sp lower = Sp(A).triangularView<Eigen::Lower>();
  lower.makeCompressed();
  glmmgee::PolledLLT chol;
  chol.set_dense_min(dense_min);
  chol.analyzePattern(lower);
  chol.factorize_polled(lower);
  if (chol.info() != Eigen::Success) Rcpp::stop("the matrix is not positive definite");
  std::vector<double> S;
  chol.selected_inverse(S);
  const auto& L = chol.matrixL().nestedExpression();
  const Eigen::VectorXd x = chol.solve(Eigen::VectorXd(b));
  return Rcpp::List::create(
      Rcpp::Named("logdet") = chol.logdet(), Rcpp::Named("dense_start") = chol.dense_start(),
      Rcpp::Named("L") = Rcpp::NumericVector(L.valuePtr(), L.valuePtr() + L.nonZeros()),
      Rcpp::Named("colptr") = Rcpp::IntegerVector(L.outerIndexPtr(), L.outerIndexPtr() + n + 1),
      Rcpp::Named("inverse") = Rcpp::wrap(S), Rcpp::Named("x") = x);
}
