// Checks at the boundary of the one-factor engines' constructors
// (cpp_agq_new() and cpp_two_part_new() in entry-agq.cpp): the
// same sizes and covariance pattern are refused with the same messages
// before any engine is built.
#ifndef GLMMGEE_ENGINE_ARGS_H
#define GLMMGEE_ENGINE_ARGS_H

#include <Rcpp.h>
#include <initializer_list>
#include <vector>

namespace glmmgee {

// Every size in `sizes` must equal n (the rows of X); `what` names them all
// for the message.
inline void check_engine_rows(long n, std::initializer_list<long> sizes, const char* what) {
  for (long s : sizes)
    if (s != n) Rcpp::stop("%s must all have %d rows", what, (int)n);
}

// Clusters, the number of quadrature points and Lambda's pattern (0-based
// (row, col) entries of the lower triangle of a q x q matrix); returns the
// pattern as the engines take it.
inline void check_engine_pattern(int M, int nAGQ, int q, const Rcpp::IntegerVector& lam_row,
                                 const Rcpp::IntegerVector& lam_col, std::vector<int>& lr,
                                 std::vector<int>& lc) {
  if (M < 1) Rcpp::stop("need at least one cluster");
  if (nAGQ < 1) Rcpp::stop("nAGQ must be at least 1");
  if (lam_row.size() != lam_col.size()) Rcpp::stop("bad covariance pattern");
  for (int e = 0; e < lam_row.size(); ++e)
    if (lam_row[e] < 0 || lam_row[e] >= q || lam_col[e] < 0 || lam_col[e] > lam_row[e])
      Rcpp::stop("covariance pattern entry %d is not in the lower triangle", e + 1);
  lr.assign(lam_row.begin(), lam_row.end());
  lc.assign(lam_col.begin(), lam_col.end());
}

}  // namespace glmmgee
#endif
