// A dgCMatrix from its slots, for the formula front end (R/re-terms-direct.R,
// R/re-terms-sparse.R): the object is made from the class's prototype and
// its slots set directly, without new()'s initialize and validity methods
// and without the checks of `@<-` (five slot assignments by `@<-` were most
// of the time of an indicator design on small data). The callers build the
// slots valid by construction; the sizes are checked here.
#include <Rcpp.h>
#include <climits>
#include <vector>
#include "entry/entry-model-data.h"

// An empty dgCMatrix made once and kept (R_do_MAKE_CLASS() calls R's
// getClass(), most of a call's time on small data); each result is a
// shallow copy of it, so the kept one is never modified.
static SEXP dgc_from_slots(SEXP i, SEXP p, SEXP x, SEXP dim, SEXP dimnames) {
  static SEXP proto = R_NilValue;
  if (proto == R_NilValue) {
    SEXP cls = PROTECT(R_do_MAKE_CLASS("dgCMatrix"));
    SEXP obj = PROTECT(R_do_new_object(cls));
    R_PreserveObject(obj);
    proto = obj;
    UNPROTECT(2);
  }
  SEXP m = PROTECT(Rf_shallow_duplicate(proto));
  R_do_slot_assign(m, Rf_install("i"), i);
  R_do_slot_assign(m, Rf_install("p"), p);
  R_do_slot_assign(m, Rf_install("x"), x);
  R_do_slot_assign(m, Rf_install("Dim"), dim);
  if (!Rf_isNull(dimnames)) R_do_slot_assign(m, Rf_install("Dimnames"), dimnames);
  UNPROTECT(1);
  return m;
}

static void check_dimnames(SEXP dimnames) {
  if (!Rf_isNull(dimnames) && (TYPEOF(dimnames) != VECSXP || Rf_length(dimnames) != 2))
    Rcpp::stop("dimnames must be NULL or a list of two");
}

SEXP glmmgee_exports::new_dgc(Rcpp::IntegerVector i, Rcpp::IntegerVector p, Rcpp::NumericVector x,
                 Rcpp::IntegerVector dim, SEXP dimnames) {
  if (dim.size() != 2 || dim[0] < 0 || dim[1] < 0)
    Rcpp::stop("a sparse matrix needs two non-negative dimensions");
  if (p.size() != (R_xlen_t)dim[1] + 1 || p[0] != 0)
    Rcpp::stop("the column pointers must have %d entries starting at 0", dim[1] + 1);
  if (i.size() != x.size() || (R_xlen_t)p[p.size() - 1] != i.size())
    Rcpp::stop("row indices, values and the last column pointer must agree (%d, %d, %d)",
               (int)i.size(), (int)x.size(), p[p.size() - 1]);
  check_dimnames(dimnames);
  return dgc_from_slots(i, p, x, dim, dimnames);
}

// The indicator designs of grouping factors side by side: `codes` holds one
// integer vector of level codes 1..nlev[t] per factor, all of the same
// length n; the result is the n x sum(nlev) dgCMatrix with a 1 in row r of
// column offset_t + codes[[t]][r]. Within a column the rows are increasing
// (a counting sort, stable as R's order()), so each factor's block has the
// slots that indicator_columns() (R/re-terms-direct.R) made by order() and
// tabulate(), and the whole the slots of their column binding.
SEXP glmmgee_exports::indicator_dgc(Rcpp::List codes, Rcpp::IntegerVector nlev, SEXP dimnames) {
  const R_xlen_t nt = codes.size();
  if (nlev.size() != nt) Rcpp::stop("one number of levels per factor is needed");
  check_dimnames(dimnames);
  R_xlen_t n = nt ? Rf_xlength(codes[0]) : 0;
  double ncol_d = 0.0;
  for (R_xlen_t t = 0; t < nt; ++t) {
    SEXP c = codes[t];
    if (TYPEOF(c) != INTSXP || Rf_xlength(c) != n)
      Rcpp::stop("factor %d: the codes must be an integer vector of length %d", (int)t + 1, (int)n);
    if (nlev[t] < 0) Rcpp::stop("factor %d: a negative number of levels", (int)t + 1);
    ncol_d += nlev[t];
  }
  if (ncol_d > INT_MAX || (double)n * (double)nt > INT_MAX)
    Rcpp::stop("the indicator design is too large for a dgCMatrix");
  const int ncol = (int)ncol_d;
  Rcpp::IntegerVector p(ncol + 1);
  Rcpp::IntegerVector i(n * nt);
  Rcpp::NumericVector x(n * nt, 1.0);
  int off = 0;
  for (R_xlen_t t = 0; t < nt; ++t) {
    const int *c = INTEGER(codes[t]);
    const int nl = nlev[t];
    for (R_xlen_t r = 0; r < n; ++r) {
      if (c[r] < 1 || c[r] > nl)
        Rcpp::stop("factor %d: code %d at row %d is outside 1..%d", (int)t + 1, c[r], (int)r + 1, nl);
      ++p[off + c[r]];
    }
    off += nl;
  }
  for (int j = 0; j < ncol; ++j) p[j + 1] += p[j];
  std::vector<int> next(p.begin(), p.end() - 1);
  off = 0;
  for (R_xlen_t t = 0; t < nt; ++t) {
    const int *c = INTEGER(codes[t]);
    for (R_xlen_t r = 0; r < n; ++r) i[next[off + c[r] - 1]++] = (int)r;
    off += nlev[t];
  }
  Rcpp::IntegerVector dim = Rcpp::IntegerVector::create((int)n, ncol);
  return dgc_from_slots(i, p, x, dim, dimnames);
}

// Column sums of squares of a dgCMatrix's stored values, each column's in
// the order of its entries (as rowsum() adds them: the same doubles).
Rcpp::NumericVector glmmgee_exports::dgc_col_sumsq(Rcpp::IntegerVector p, Rcpp::NumericVector x) {
  const R_xlen_t nc = p.size() - 1;
  if (nc < 0 || p[0] != 0 || (R_xlen_t)p[nc] != x.size())
    Rcpp::stop("the column pointers do not match the %d stored values", (int)x.size());
  Rcpp::NumericVector out(nc);
  for (R_xlen_t j = 0; j < nc; ++j) {
    if (p[j + 1] < p[j]) Rcpp::stop("the column pointers must not decrease");
    double s = 0.0;
    for (int t = p[j]; t < p[j + 1]; ++t) s += x[t] * x[t];
    out[j] = s;
  }
  return out;
}

// Z v for a dgCMatrix Z given by its slots (n rows): column by column,
// y[i] += Z_ij v_j in the order of the stored entries, as CHOLMOD's sdmult
// (behind Matrix's `%*%`) adds them.
Rcpp::NumericVector glmmgee_exports::dgc_times(Rcpp::IntegerVector p, Rcpp::IntegerVector i,
                                  Rcpp::NumericVector x, Rcpp::NumericVector v, int n) {
  const R_xlen_t nc = p.size() - 1;
  if (nc < 0 || v.size() != nc || p[0] != 0 || (R_xlen_t)p[nc] != x.size() ||
      i.size() != x.size() || n < 0)
    Rcpp::stop("a %d-column sparse matrix and a vector of length %d do not conform",
               (int)nc, (int)v.size());
  Rcpp::NumericVector y(n);
  for (R_xlen_t j = 0; j < nc; ++j) {
    const double vj = v[j];
    for (int t = p[j]; t < p[j + 1]; ++t) {
      const int r = i[t];
      if (r < 0 || r >= n) Rcpp::stop("row index %d out of range", r);
      y[r] += x[t] * vj;
    }
  }
  return y;
}
