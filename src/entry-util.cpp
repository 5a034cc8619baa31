// Entry points of the shared utilities (util/): threads and the fork rule, the
// order-independent sums and linear predictor, dense and sparse linear algebra.
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include <climits>
#include <vector>
#include "util/resources.h"
#include "entry/entry-util.h"

// ---- forwarded to engines/agq/agq-shard.cpp ----

// [[Rcpp::export]]
Eigen::VectorXd cpp_lin_pred(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> beta,
                             Eigen::Map<Eigen::VectorXd> offset) {
  return glmmgee_exports::lin_pred(X, beta, offset);
}

// [[Rcpp::export]]
Rcpp::NumericVector cpp_dd_sum(Rcpp::NumericVector x) {
  return glmmgee_exports::dd_sum(x);
}

// Largest useful thread count (processors, OpenMP's thread limit).
// [[Rcpp::export]]
int cpp_max_threads() { return glmmgee::max_threads(); }

// What a request for `requested` threads gets in this process, and whether
// it is a forked child (for tests of the fork rule).
// [[Rcpp::export]]
Rcpp::List cpp_thread_info(int requested) {
  return Rcpp::List::create(Rcpp::Named("forked_child") = glmmgee::in_forked_child(),
                            Rcpp::Named("max") = glmmgee::max_threads(),
                            Rcpp::Named("usable") = glmmgee::usable_threads(requested));
}

// ---- forwarded to util/info-inverse.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_la_solve(Rcpp::NumericMatrix a, Rcpp::Nullable<Rcpp::NumericVector> b) {
  return glmmgee_exports::la_solve(a, b);
}

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_info_inverse(Rcpp::NumericMatrix info_s, Rcpp::Nullable<Rcpp::NumericMatrix> info) {
  return glmmgee_exports::info_inverse(info_s, info);
}

// ---- forwarded to util/lq-rotate.cpp ----

// [[Rcpp::export]]
Rcpp::List cpp_lq_rotate(const Eigen::Map<Eigen::MatrixXd> Ct,
                         const Eigen::Map<Eigen::VectorXd> lam, const Rcpp::IntegerMatrix at,
                         bool jacobian) {
  return glmmgee_exports::lq_rotate(Ct, lam, at, jacobian);
}

// ---- forwarded to util/sparse-symbolic.cpp ----

//' Nonzeros of the Cholesky factor of a symmetric sparse matrix (both
//' triangles of its pattern given) under the AMD ordering.
//' @noRd
// [[Rcpp::export]]
double cpp_chol_factor_nnz(Eigen::MappedSparseMatrix<double> A) {
  return glmmgee_exports::chol_factor_nnz(A);
}

//' The package's sparse Cholesky factorization of a symmetric positive
//' definite matrix (lower triangle read), dense blocks of at least
//' `dense_min` columns by dense kernels: log det, the dense block's first
//' column, the factor's values, the selected inverse beside them, and the
//' solution of A x = b.
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_sparse_chol_check(Eigen::MappedSparseMatrix<double> A, Eigen::Map<Eigen::VectorXd> b,
                                 int dense_min) {
  return glmmgee_exports::sparse_chol_check(A, b, dense_min);
}

//' Connected components of the graph of a square sparse matrix (an edge
//' per nonzero off the diagonal), by union-find: a 1-based label per row,
//' the labels numbered by first appearance.
//' @noRd
// [[Rcpp::export]]
Rcpp::IntegerVector cpp_sparse_components(Eigen::MappedSparseMatrix<double> A) {
  return glmmgee_exports::sparse_components(A);
}

// ---- forwarded to util/cluster-leverage.cpp ----

//' The leverages and adjustments of the bias-reduced cluster-robust
//' covariances in one pass over the clusters (see cluster_leverage()).
//' @noRd
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_cluster_leverage(Rcpp::NumericVector H, Rcpp::NumericMatrix M,
                                Rcpp::NumericMatrix U, double power) {
  return glmmgee_exports::cluster_leverage(H, M, U, power);
}

// Whether every cluster with rows of positive weight has all y <= 0 or all
// y >= 1 among them (pure_clusters_message(), R/unbounded-variance.R), in
// one pass: the R expressions made six n-long temporaries. `index` holds
// 1-based cluster codes in 1..M. A y strictly between 0 and 1 (a
// proportion) makes its cluster neither. Empty weights are unit weights.
// [[Rcpp::export(rng = false)]]
bool cpp_clusters_all_pure(Rcpp::NumericVector y, Rcpp::NumericVector w,
                           Rcpp::IntegerVector index, int M) {
  const R_xlen_t n = y.size();
  const bool unit = w.size() == 0;
  if ((!unit && w.size() != n) || index.size() != n)
    Rcpp::stop("y, w and index must have the same length");
  if (M < 0) Rcpp::stop("M must be non-negative");
  // state per cluster: 0 no rows yet, 1 all zeros so far, 2 all ones so far
  std::vector<unsigned char> state(static_cast<size_t>(M), 0);
  for (R_xlen_t i = 0; i < n; ++i) {
    if (!unit && !(w[i] > 0)) continue;
    const int g = index[i];
    if (g < 1 || g > M) Rcpp::stop("cluster code %d out of 1..%d", g, M);
    const double v = y[i];
    const unsigned char s = v <= 0 ? 1 : (v >= 1 ? 2 : 3);
    if (s == 3) return false;
    unsigned char& st = state[g - 1];
    if (st == 0) st = s;
    else if (st != s) return false;
  }
  return true;
}

// The 1-based rows where a new run of equal codes begins (row 1 first):
// c(1, which(index[-1] != index[-n]) + 1) without its n-long temporaries
// (note_split_ids(), R/model-data.R).
// [[Rcpp::export(rng = false)]]
Rcpp::IntegerVector cpp_run_starts(Rcpp::IntegerVector index) {
  const R_xlen_t n = index.size();
  if (n > INT_MAX) Rcpp::stop("index has more than %d values", INT_MAX);
  std::vector<int> s;
  if (n > 0) s.push_back(1);
  for (R_xlen_t i = 1; i < n; ++i)
    if (index[i] != index[i - 1]) s.push_back(static_cast<int>(i + 1));
  return Rcpp::IntegerVector(s.begin(), s.end());
}

// Per column of a numeric matrix: whether every entry equals the first
// (all(X[, j] == X[1, j]), FALSE for a column holding NA or NaN), stopping
// at a column's first difference instead of copying it.
// [[Rcpp::export(rng = false)]]
Rcpp::LogicalVector cpp_constant_columns(Rcpp::NumericMatrix X) {
  const R_xlen_t n = X.nrow();
  const int k = X.ncol();
  Rcpp::LogicalVector out(k);
  for (int j = 0; j < k; ++j) {
    const double* x = &X(0, 0) + static_cast<R_xlen_t>(j) * n;
    bool c = n > 0 && !ISNAN(x[0]);
    for (R_xlen_t i = 1; c && i < n; ++i) c = x[i] == x[0];
    out[j] = c;
  }
  return out;
}
