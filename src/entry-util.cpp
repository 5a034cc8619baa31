// Entry points of the shared utilities (util/): threads and the fork rule, the
// order-independent sums and linear predictor, dense and sparse linear algebra.
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
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

//' Connected components of the graph of a square sparse matrix (an edge
//' per nonzero off the diagonal), by union-find: a 1-based label per row,
//' the labels numbered by first appearance.
//' @noRd
// [[Rcpp::export]]
Rcpp::IntegerVector cpp_sparse_components(Eigen::MappedSparseMatrix<double> A) {
  return glmmgee_exports::sparse_components(A);
}
