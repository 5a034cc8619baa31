// Declarations for entry-model-data.cpp.
#ifndef GLMMGEE_ENTRY_MODEL_DATA_H
#define GLMMGEE_ENTRY_MODEL_DATA_H

#include <RcppEigen.h>

// R-facing kernels that the entry points of entry-model-data.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// util/col-moments.cpp
Rcpp::List col_facts(Rcpp::NumericMatrix M);
Rcpp::List col_moments(Rcpp::NumericMatrix M, bool all);
// util/dgc-matrix.cpp
Rcpp::NumericVector dgc_times(Rcpp::IntegerVector p, Rcpp::IntegerVector i, Rcpp::NumericVector x,
                              Rcpp::NumericVector v, int n);
Rcpp::NumericVector dgc_col_sumsq(Rcpp::IntegerVector p, Rcpp::NumericVector x);
SEXP indicator_dgc(Rcpp::List codes, Rcpp::IntegerVector nlev, SEXP dimnames);
SEXP new_dgc(Rcpp::IntegerVector i, Rcpp::IntegerVector p, Rcpp::NumericVector x,
             Rcpp::IntegerVector dim, SEXP dimnames);
// util/frame-columns.cpp
bool frame_factors_used(SEXP mf);
int n_distinct_codes(SEXP code, double M);
bool strings_no_na(SEXP x);
SEXP plain_codes(SEXP f);
bool frame_plain_finite(SEXP mf);
bool frame_columns_plain(SEXP cols, int n);
SEXP numeric_design(SEXP cols, bool intercept, int n);
}  // namespace glmmgee_exports

#endif
