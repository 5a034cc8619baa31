// A dgCMatrix from its slots, for the formula front end (R/re-terms-direct.R,
// R/re-terms-sparse.R): the object is made from the class's prototype and
// its slots set directly, without new()'s initialize and validity methods
// and without the checks of `@<-` (five slot assignments by `@<-` were most
// of the time of an indicator design on small data). The callers build the
// slots valid by construction; the sizes are checked here.
#include <Rcpp.h>

// [[Rcpp::export(rng = false)]]
SEXP cpp_new_dgc(Rcpp::IntegerVector i, Rcpp::IntegerVector p, Rcpp::NumericVector x,
                 Rcpp::IntegerVector dim, SEXP dimnames) {
  if (dim.size() != 2 || dim[0] < 0 || dim[1] < 0)
    Rcpp::stop("a sparse matrix needs two non-negative dimensions");
  if (p.size() != (R_xlen_t)dim[1] + 1 || p[0] != 0)
    Rcpp::stop("the column pointers must have %d entries starting at 0", dim[1] + 1);
  if (i.size() != x.size() || (R_xlen_t)p[p.size() - 1] != i.size())
    Rcpp::stop("row indices, values and the last column pointer must agree (%d, %d, %d)",
               (int)i.size(), (int)x.size(), p[p.size() - 1]);
  if (!Rf_isNull(dimnames) && (TYPEOF(dimnames) != VECSXP || Rf_length(dimnames) != 2))
    Rcpp::stop("dimnames must be NULL or a list of two");
  // An empty dgCMatrix made once and kept (R_do_MAKE_CLASS() calls R's
  // getClass(), most of a call's time on small data); each result is a
  // shallow copy of it, so the kept one is never modified.
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

// Column sums of squares of a dgCMatrix's stored values, each column's in
// the order of its entries (as rowsum() adds them: the same doubles).
// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_dgc_col_sumsq(Rcpp::IntegerVector p, Rcpp::NumericVector x) {
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
// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_dgc_times(Rcpp::IntegerVector p, Rcpp::IntegerVector i,
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
