// Entry points that build and check model data for R's front end (util/):
// model-frame column checks, sparse dgCMatrix construction, column moments.
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <Rcpp.h>
#include "entry/entry-model-data.h"

// ---- forwarded to util/col-moments.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_col_moments(Rcpp::NumericMatrix M, bool all = true) {
  return glmmgee_exports::col_moments(M, all);
}

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_col_facts(Rcpp::NumericMatrix M) {
  return glmmgee_exports::col_facts(M);
}

// ---- forwarded to util/dgc-matrix.cpp ----

// [[Rcpp::export(rng = false)]]
SEXP cpp_new_dgc(Rcpp::IntegerVector i, Rcpp::IntegerVector p, Rcpp::NumericVector x,
                 Rcpp::IntegerVector dim, SEXP dimnames) {
  return glmmgee_exports::new_dgc(i, p, x, dim, dimnames);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_indicator_dgc(Rcpp::List codes, Rcpp::IntegerVector nlev, SEXP dimnames) {
  return glmmgee_exports::indicator_dgc(codes, nlev, dimnames);
}

// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_dgc_col_sumsq(Rcpp::IntegerVector p, Rcpp::NumericVector x) {
  return glmmgee_exports::dgc_col_sumsq(p, x);
}

// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_dgc_times(Rcpp::IntegerVector p, Rcpp::IntegerVector i,
                                  Rcpp::NumericVector x, Rcpp::NumericVector v, int n) {
  return glmmgee_exports::dgc_times(p, i, x, v, n);
}

// ---- forwarded to util/frame-columns.cpp ----

// [[Rcpp::export(rng = false)]]
bool cpp_frame_columns_plain(SEXP cols, int n) {
  return glmmgee_exports::frame_columns_plain(cols, n);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_numeric_design(SEXP cols, bool intercept, int n) {
  return glmmgee_exports::numeric_design(cols, intercept, n);
}

// [[Rcpp::export(rng = false)]]
bool cpp_frame_plain_finite(SEXP mf) {
  return glmmgee_exports::frame_plain_finite(mf);
}

// [[Rcpp::export(rng = false)]]
int cpp_n_distinct_codes(SEXP code, double M) {
  return glmmgee_exports::n_distinct_codes(code, M);
}

// [[Rcpp::export(rng = false)]]
bool cpp_strings_no_na(SEXP x) {
  return glmmgee_exports::strings_no_na(x);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_plain_codes(SEXP f) {
  return glmmgee_exports::plain_codes(f);
}

// [[Rcpp::export(rng = false)]]
bool cpp_frame_factors_used(SEXP mf) {
  return glmmgee_exports::frame_factors_used(mf);
}
