// The linear algebra of invert_information() (R/fit-glmm.R) in one call:
// the eigenvalues of the scaled information (the singularity test), its
// inverse, and the raw information's condition number. R's eigen(symmetric
// = TRUE, only.values = TRUE), solve() and their R wrappers cost about 45
// of the 50 microseconds the function took on a small fit (Penicillin);
// the same LAPACK routines are called here with the arguments R passes
// them (dsyevr: all eigenvalues, lower triangle, abstol 0, the work sizes
// it asks for; dgesv on the identity, then dgecon's reciprocal condition
// number against solve()'s tolerance, the machine epsilon), so the numbers
// are the same to the bit (test-lmmback30.R compares them with R's).
#include <Rcpp.h>
#include <R_ext/Lapack.h>
#include <cfloat>
#include <cmath>
#include <vector>

#ifndef FCONE
#define FCONE
#endif

namespace {

// All eigenvalues of the symmetric n x n matrix `a` (column-major), as
// eigen(a, symmetric = TRUE, only.values = TRUE) computes them (ascending
// here; R reverses them). False where R's eigen() stops (non-finite
// entries, a LAPACK error).
bool sym_eigenvalues(const double* a, int n, std::vector<double>& w) {
  const size_t nn = (size_t)n * n;
  for (size_t t = 0; t < nn; ++t)
    if (!std::isfinite(a[t])) return false;
  std::vector<double> x(a, a + nn);
  w.assign(n, 0.0);
  std::vector<int> isuppz(2 * (size_t)n);
  double vl = 0.0, vu = 0.0, abstol = 0.0, tmp = 0.0;
  int il = 0, iu = 0, m = 0, info = 0, lwork = -1, liwork = -1, itmp = 0;
  F77_CALL(dsyevr)("N", "A", "L", &n, x.data(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(),
                   nullptr, &n, isuppz.data(), &tmp, &lwork, &itmp, &liwork, &info
                   FCONE FCONE FCONE);
  if (info != 0) return false;
  lwork = (int)tmp;
  liwork = itmp;
  std::vector<double> work(lwork);
  std::vector<int> iwork(liwork);
  F77_CALL(dsyevr)("N", "A", "L", &n, x.data(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(),
                   nullptr, &n, isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info
                   FCONE FCONE FCONE);
  return info == 0;
}

}  // namespace

// `info_s`: the information scaled to unit diagonal (k x k); `info`: the raw
// information (k x k) or NULL. ok = FALSE where invert_information() gives
// no standard errors (eigen() fails, the smallest eigenvalue is at most
// 1e-14 times the largest, solve() stops); otherwise the inverse of info_s
// and, with `info`, its condition number as raw_condition() computes it.
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_info_inverse(Rcpp::NumericMatrix info_s, Rcpp::Nullable<Rcpp::NumericMatrix> info) {
  const int n = info_s.nrow();
  if (info_s.ncol() != n) Rcpp::stop("'info_s' must be a square matrix");
  const Rcpp::List fail = Rcpp::List::create(Rcpp::Named("ok") = false);
  std::vector<double> ev;
  // eigen() refuses a 0 x 0 matrix
  if (n < 1 || !sym_eigenvalues(info_s.begin(), n, ev)) return fail;
  // R: min(ev) <= 1e-14 * max(ev) over the values (any order)
  double lo = ev[0], hi = ev[0];
  for (double v : ev) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo <= 1e-14 * hi) return fail;
  // solve(info_s): dgesv on a copy and the identity, then dgecon's test
  std::vector<double> A(info_s.begin(), info_s.end());
  Rcpp::NumericMatrix B(n, n);
  for (int j = 0; j < n; ++j) B(j, j) = 1.0;
  std::vector<int> ipiv(n);
  int nrhs = n, lda = n, info_code = 0;
  F77_CALL(dgesv)(&n, &nrhs, A.data(), &lda, ipiv.data(), B.begin(), &lda, &info_code);
  if (info_code != 0) return fail;
  std::vector<double> dwork(4 * (size_t)n);
  const double anorm = F77_CALL(dlange)("1", &n, &n, info_s.begin(), &n, dwork.data() FCONE);
  double rcond = 0.0;
  F77_CALL(dgecon)("1", &n, A.data(), &n, &anorm, &rcond, dwork.data(), ipiv.data(), &info_code
                   FCONE);
  if (info_code != 0 || rcond < DBL_EPSILON) return fail;
  double cond = NA_REAL;
  if (info.isNotNull()) {
    Rcpp::NumericMatrix raw(info.get());
    if (raw.nrow() != n || raw.ncol() != n) Rcpp::stop("'info' must be %d x %d", n, n);
    std::vector<double> er;
    if (sym_eigenvalues(raw.begin(), n, er)) {
      double rlo = er[0], rhi = er[0];
      for (double v : er) {
        rlo = std::min(rlo, v);
        rhi = std::max(rhi, v);
      }
      cond = rlo > 0 ? rhi / rlo : R_PosInf;
    }
  }
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("inverse") = B,
                            Rcpp::Named("cond") = cond);
}
