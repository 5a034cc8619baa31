// Column moments of a dense design in one call, computed as R computes
// them, so the results are bitwise R's and the decisions and scales taken
// from them do not change: colMeans() sums in long double and divides in
// long double (its `sum /= n` on an LDOUBLE accumulator); mean() does the
// same and then adds the long-double mean of the deviations from that sum
// (its second pass); `x^2` is x * x in double. The R expressions each made
// one or two copies of a column or of the whole design (0.1-0.3 ms at
// 10,000 rows, 30-40 microseconds on sleepstudy's 180).
#include <Rcpp.h>
#include <algorithm>
#include <cmath>
#include "util/resources.h"
#include "entry/entry-model-data.h"

namespace {

// R's mean() of f(0), ..., f(n - 1), f a deterministic element (x[i], or a
// square of one formed in double as R forms x^2 and (x - m)^2): the two
// passes recompute it, so no n-length scratch is needed (75 MB per column
// at ten million rows).
template <class F>
double r_mean(const F& f, R_xlen_t n) {
  long double s = 0.0;
  for (R_xlen_t i = 0; i < n; ++i) s += f(i);
  if (!R_FINITE(static_cast<double>(s))) return static_cast<double>(s / n);
  s /= n;
  if (R_FINITE(static_cast<double>(s))) {
    long double t = 0.0;
    for (R_xlen_t i = 0; i < n; ++i) t += (f(i) - s);
    s += t / n;
  }
  return static_cast<double>(s);
}

// colMeans() of one column of such elements.
template <class F>
double r_colmean(const F& f, R_xlen_t n) {
  long double s = 0.0;
  for (R_xlen_t i = 0; i < n; ++i) s += f(i);
  s /= n;
  return static_cast<double>(s);
}

}  // namespace

// For each column x of M (finite doubles, at least one row):
//   mean:    colMeans(M)
//   sd_cm:   sqrt(colMeans(Xc * Xc)), Xc = M - rep(mean, each = n)  (well_scaled_x())
//   sd_mean: sqrt(mean((x - mean)^2))                              (design_transform())
//   rms:     sqrt(mean(x^2))                                       (design_transform())
//   n01:     sum(x == 0 | x == 1)                                  (design_transform())
//   amax:    max(abs(x))                                           (design_transform())
// and `finite`: whether all of them are finite. With all = false, sd_cm and
// rms are NA (not computed: design_transform() needs rms only for a block
// without a constant column, and takes it from R there).
Rcpp::List glmmgee_exports::col_moments(Rcpp::NumericMatrix M, bool all) {
  const R_xlen_t n = M.nrow();
  const int k = M.ncol();
  if (n < 1) Rcpp::stop("col moments: 'M' has no rows");
  Rcpp::NumericVector mn(k), sd_cm(k), sd_mean(k), rms(k), n01(k), amax(k);
  glmmgee::InterruptPoll ip;
  for (int j = 0; j < k; ++j) {
    if (ip.poll()) ip.raise_if_interrupted();
    const double* x = &M(0, j);
    const double m = r_colmean([x](R_xlen_t i) { return x[i]; }, n);
    mn[j] = m;
    const auto dev2 = [x, m](R_xlen_t i) {
      const double d = x[i] - m;
      return d * d;
    };
    sd_cm[j] = all ? std::sqrt(r_colmean(dev2, n)) : NA_REAL;
    sd_mean[j] = std::sqrt(r_mean(dev2, n));
    R_xlen_t c01 = 0;
    double a = 0.0;
    for (R_xlen_t i = 0; i < n; ++i) {
      c01 += (x[i] == 0.0 || x[i] == 1.0);
      a = std::max(a, std::fabs(x[i]));
    }
    rms[j] = all ? std::sqrt(r_mean([x](R_xlen_t i) { return x[i] * x[i]; }, n)) : NA_REAL;
    n01[j] = static_cast<double>(c01);
    amax[j] = a;
  }
  bool finite = true;
  for (int j = 0; j < k && finite; ++j)
    finite = R_FINITE(mn[j]) && R_FINITE(sd_mean[j]) &&
             (!all || (R_FINITE(sd_cm[j]) && R_FINITE(rms[j])));
  return Rcpp::List::create(Rcpp::_["mean"] = mn, Rcpp::_["sd_cm"] = sd_cm,
                            Rcpp::_["sd_mean"] = sd_mean, Rcpp::_["rms"] = rms,
                            Rcpp::_["n01"] = n01, Rcpp::_["amax"] = amax,
                            Rcpp::_["n"] = static_cast<double>(n),
                            Rcpp::_["finite"] = finite);
}

// What lmm_design_transform() asks of a design before deciding whether to
// transform it (well_scaled_x(), within_far()), in one call that sums each
// column in long double twice instead of the six times cpp_col_moments()
// does (two thirds of its cost went to sd_mean and rms, which only
// design_transform() reads). For each column x of M (at least one row):
//   mean:  colMeans(M)                                  (as cpp_col_moments())
//   sd_cm: sqrt(colMeans(Xc * Xc))                      (as cpp_col_moments())
//   const: all(x == x[1])
//   n0, n1: sum(x == 0), sum(x == 1)                    (colSums(X == 0), ...)
// and `finite`: whether the moments are finite, and so every entry (the R
// expressions then give the same values; otherwise the caller takes them).
Rcpp::List glmmgee_exports::col_facts(Rcpp::NumericMatrix M) {
  const R_xlen_t n = M.nrow();
  const int k = M.ncol();
  if (n < 1) Rcpp::stop("col facts: 'M' has no rows");
  Rcpp::NumericVector mn(k), sd_cm(k), n0(k), n1(k);
  Rcpp::LogicalVector cst(k);
  bool finite = true;
  glmmgee::InterruptPoll ip;
  for (int j = 0; j < k; ++j) {
    if (ip.poll()) ip.raise_if_interrupted();
    const double* x = &M(0, j);
    // A non-finite entry makes the long-double sum, and so the mean, not
    // finite: `finite` below covers the entries too.
    const double m = r_colmean([x](R_xlen_t i) { return x[i]; }, n);
    const double x0 = x[0];
    R_xlen_t c0 = 0, c1 = 0, cs = 0;
    for (R_xlen_t i = 0; i < n; ++i) {
      const double v = x[i];
      c0 += (v == 0.0);
      c1 += (v == 1.0);
      cs += (v == x0);
    }
    long double t = 0.0;
    for (R_xlen_t i = 0; i < n; ++i) {
      const double d = x[i] - m;
      const double dd = d * d;  // rounded to double, as Xc * Xc is
      t += dd;
    }
    t /= n;
    mn[j] = m;
    sd_cm[j] = std::sqrt(static_cast<double>(t));
    n0[j] = static_cast<double>(c0);
    n1[j] = static_cast<double>(c1);
    cst[j] = cs == n;
    finite = finite && R_FINITE(mn[j]) && R_FINITE(sd_cm[j]);
  }
  return Rcpp::List::create(Rcpp::_["mean"] = mn, Rcpp::_["sd_cm"] = sd_cm,
                            Rcpp::_["const"] = cst, Rcpp::_["n0"] = n0,
                            Rcpp::_["n1"] = n1, Rcpp::_["finite"] = finite);
}
