// Column facts of a model frame for the formula front end (R/model-data.R,
// R/checks.R), one pass over the columns in place of an R closure per
// column (attributes(), anyNA(), min(), max() and their temporaries were a
// tenth of the front end of a small several-term fit). Each function
// answers only "the common case holds"; FALSE sends the caller to its R
// code, which decides (and words any error) as before.
#include <Rcpp.h>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <vector>
#include "entry/entry-model-data.h"

// A plain vector (no attributes) or a factor whose only attributes are
// its levels and class: plain_column() in R/model-data.R.
// (is.factor() is inherits(x, "factor"), whatever the type.) With
// `factor_only`, the class must be "factor" alone.
static bool plain_col(SEXP x, bool factor_only = false) {
  SEXP at = ATTRIB(x);
  if (Rf_isNull(at)) return true;
  if (!Rf_inherits(x, "factor") || Rf_length(at) != 2) return false;
  if (factor_only) {
    SEXP cl = Rf_getAttrib(x, R_ClassSymbol);
    if (TYPEOF(cl) != STRSXP || XLENGTH(cl) != 1 || std::strcmp(CHAR(STRING_ELT(cl, 0)), "factor"))
      return false;
  }
  for (SEXP a = at; !Rf_isNull(a); a = CDR(a)) {
    SEXP tag = TAG(a);
    if (tag != R_LevelsSymbol && tag != R_ClassSymbol) return false;
  }
  return true;
}

static bool any_na(SEXP x) {
  R_xlen_t n = XLENGTH(x);
  switch (TYPEOF(x)) {
  case LGLSXP: { const int* v = LOGICAL(x); for (R_xlen_t i = 0; i < n; ++i) if (v[i] == NA_LOGICAL) return true; return false; }
  case INTSXP: { const int* v = INTEGER(x); for (R_xlen_t i = 0; i < n; ++i) if (v[i] == NA_INTEGER) return true; return false; }
  case REALSXP: { const double* v = REAL(x); for (R_xlen_t i = 0; i < n; ++i) if (ISNAN(v[i])) return true; return false; }
  case CPLXSXP: { const Rcomplex* v = COMPLEX(x); for (R_xlen_t i = 0; i < n; ++i) if (ISNAN(v[i].r) || ISNAN(v[i].i)) return true; return false; }
  case STRSXP: { for (R_xlen_t i = 0; i < n; ++i) if (STRING_ELT(x, i) == NA_STRING) return true; return false; }
  case RAWSXP: return false;
  default: return true;
  }
}

// Whether every element of `cols` is a plain column (plain_column()) of
// length `n` and of type logical, integer, double, complex, character or
// raw, with no missing value: the test direct_frame() makes per column.
bool glmmgee_exports::frame_columns_plain(SEXP cols, int n) {
  if (TYPEOF(cols) != VECSXP) return false;
  for (R_xlen_t j = 0; j < XLENGTH(cols); ++j) {
    SEXP x = VECTOR_ELT(cols, j);
    switch (TYPEOF(x)) {
    case LGLSXP: case INTSXP: case REALSXP: case CPLXSXP: case STRSXP: case RAWSXP: break;
    default: return false;
    }
    if (!plain_col(x) || XLENGTH(x) != (R_xlen_t) n || any_na(x)) return false;
  }
  return true;
}

// Whether check_frame_finite() would pass the frame `mf` without a look of
// its own: every column plain (no attributes, or a factor of class
// "factor" alone with only its levels: neither an integer64 vector nor a
// numeric one) and no double column holding an
// infinite value (missing values are not infinite).
bool glmmgee_exports::frame_plain_finite(SEXP mf) {
  if (TYPEOF(mf) != VECSXP) return false;
  for (R_xlen_t j = 0; j < XLENGTH(mf); ++j) {
    SEXP x = VECTOR_ELT(mf, j);
    if (!plain_col(x, true)) return false;
    if (TYPEOF(x) == REALSXP && Rf_isNull(ATTRIB(x))) {
      const double* v = REAL(x);
      R_xlen_t m = XLENGTH(x);
      for (R_xlen_t i = 0; i < m; ++i)
        if (std::isinf(v[i])) return false;
    }
  }
  return true;
}

// The number of distinct codes of `code` (integer or double) whose values
// are whole numbers from 1 to `M`, when `M` is at most max(4 n, 1e5): by
// one pass and a table of M flags, without tabulate()'s M counts and the
// n-length temporaries of anyNA(), min(), max() (n_distinct_codes() in
// R/re-terms-sparse.R). -1 for anything else (no codes, attributes,
// another type, a missing or out-of-range value), which the R code then counts.
int glmmgee_exports::n_distinct_codes(SEXP code, double M) {
  R_xlen_t n = XLENGTH(code);
  if (n == 0 || !Rf_isNull(ATTRIB(code)) || !(M <= std::max(4.0 * (double) n, 1e5)) || M < 0)
    return -1;
  std::vector<unsigned char> seen((size_t) M, 0);
  int k = 0;
  if (TYPEOF(code) == INTSXP) {
    const int* v = INTEGER(code);
    for (R_xlen_t i = 0; i < n; ++i) {
      int c = v[i];
      if (c == NA_INTEGER || c < 1 || (double) c > M) return -1;
      if (!seen[c - 1]) { seen[c - 1] = 1; ++k; }
    }
    return k;
  }
  if (TYPEOF(code) == REALSXP) {
    const double* v = REAL(code);
    for (R_xlen_t i = 0; i < n; ++i) {
      double c = v[i];
      if (ISNAN(c) || c < 1 || c > M || c != std::trunc(c)) return -1;
      size_t j = (size_t) c - 1;
      if (!seen[j]) { seen[j] = 1; ++k; }
    }
    return k;
  }
  return -1;
}

// Whether a character vector (a factor's levels) has no NA, without expanding
// a deferred string vector (as.character(seq_len(M)), the levels of integer
// ids: anyNA() turns it into M strings, 76 MB at a million levels), whose
// source knows it has none.
bool glmmgee_exports::strings_no_na(SEXP x) {
  if (TYPEOF(x) != STRSXP) return false;
  if (STRING_NO_NA(x)) return true;
  const R_xlen_t n = XLENGTH(x);
  for (R_xlen_t i = 0; i < n; ++i)
    if (STRING_ELT(x, i) == NA_STRING) return false;
  return true;
}

// The integer codes of a factor as a plain integer vector. as.integer()
// duplicates the factor with its attributes first, which expands deferred
// levels (those of integer ids) into M strings before dropping them.
SEXP glmmgee_exports::plain_codes(SEXP f) {
  if (TYPEOF(f) != INTSXP) Rcpp::stop("plain_codes: not integer codes");
  const R_xlen_t n = XLENGTH(f);
  SEXP out = PROTECT(Rf_allocVector(INTSXP, n));
  if (n) std::memcpy(INTEGER(out), INTEGER(f), sizeof(int) * (size_t) n);
  UNPROTECT(1);
  return out;
}

// Whether drop_unused_levels() and check_one_level_factors() (R/model-data.R,
// R/one-level-factors.R) would leave the frame `mf` as it is and say
// nothing: every column not a factor is a plain non-character vector (no
// attributes), and every factor (integer codes, class "factor" or
// c("ordered", "factor")) has two or more levels, each of them used. FALSE
// for anything else, which the R code then looks at.
bool glmmgee_exports::frame_factors_used(SEXP mf) {
  if (TYPEOF(mf) != VECSXP) return false;
  for (R_xlen_t j = 0; j < XLENGTH(mf); ++j) {
    SEXP x = VECTOR_ELT(mf, j);
    if (Rf_isNull(ATTRIB(x))) {
      if (TYPEOF(x) == STRSXP) return false;
      continue;
    }
    if (TYPEOF(x) != INTSXP) return false;
    SEXP cl = Rf_getAttrib(x, R_ClassSymbol);
    if (TYPEOF(cl) != STRSXP) return false;
    R_xlen_t nc = XLENGTH(cl);
    bool fac = (nc == 1 && !std::strcmp(CHAR(STRING_ELT(cl, 0)), "factor")) ||
      (nc == 2 && !std::strcmp(CHAR(STRING_ELT(cl, 0)), "ordered") &&
       !std::strcmp(CHAR(STRING_ELT(cl, 1)), "factor"));
    if (!fac) return false;
    SEXP lev = Rf_getAttrib(x, R_LevelsSymbol);
    if (TYPEOF(lev) != STRSXP) return false;
    R_xlen_t L = XLENGTH(lev);
    if (L < 2) return false;
    std::vector<unsigned char> seen((size_t) L, 0);
    R_xlen_t k = 0;
    const int* v = INTEGER(x);
    for (R_xlen_t i = 0, n = XLENGTH(x); i < n && k < L; ++i) {
      int c = v[i];
      if (c != NA_INTEGER && c >= 1 && (R_xlen_t) c <= L && !seen[c - 1]) { seen[c - 1] = 1; ++k; }
    }
    if (k < L) return false;
  }
  return true;
}

// The n x p design of an intercept (when `intercept`) and the plain integer
// or double columns `cols`, each of length n (numeric_design() in
// R/design-direct.R has checked them): allocated once and filled column by
// column, integers converted as as.double() does (NA to NA). In R,
// matrix(1, n, p) and a copy per column touch the matrix twice over.
SEXP glmmgee_exports::numeric_design(SEXP cols, bool intercept, int n) {
  if (TYPEOF(cols) != VECSXP || n < 0) Rcpp::stop("'cols' must be a list of numeric columns");
  const R_xlen_t k = XLENGTH(cols);
  for (R_xlen_t j = 0; j < k; ++j) {
    SEXP x = VECTOR_ELT(cols, j);
    if ((TYPEOF(x) != REALSXP && TYPEOF(x) != INTSXP) || XLENGTH(x) != (R_xlen_t) n)
      Rcpp::stop("column %d is not a numeric vector of length %d", (int)j + 1, n);
  }
  const int p = (int)k + (intercept ? 1 : 0);
  SEXP X = PROTECT(Rf_allocMatrix(REALSXP, n, p));
  double* out = REAL(X);
  if (intercept) std::fill(out, out + n, 1.0);
  for (R_xlen_t j = 0; j < k; ++j) {
    SEXP x = VECTOR_ELT(cols, j);
    double* to = out + (std::size_t)(j + (intercept ? 1 : 0)) * (std::size_t)n;
    if (TYPEOF(x) == REALSXP) {
      if (n) std::memcpy(to, REAL(x), sizeof(double) * (std::size_t)n);
    } else {
      const int* v = INTEGER(x);
      for (int i = 0; i < n; ++i) to[i] = v[i] == NA_INTEGER ? NA_REAL : (double)v[i];
    }
  }
  UNPROTECT(1);
  return X;
}
