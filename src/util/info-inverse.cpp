// The linear algebra of invert_information() (R/fit-glmm.R) in one call:
// the eigenvalues of the scaled information (the singularity test), its
// inverse, and the raw information's condition number. R's eigen(symmetric
// = TRUE, only.values = TRUE), solve() and their R wrappers cost about 45
// of the 50 microseconds the function took on a small fit (Penicillin);
// the same LAPACK routines are called here with the arguments R passes
// them (dsyevr: all eigenvalues, lower triangle, abstol 0, the work sizes
// it asks for; dgesv on the identity, then dgecon's reciprocal condition
// number against solve()'s tolerance, the machine epsilon), so the numbers
// are the same to the bit (test-lmm-sparse-info-inverse.R compares them with R's).
#include <Rcpp.h>
#include <algorithm>
#include <R_ext/Lapack.h>
#include <cfloat>
#include <cmath>
#include <vector>
#include "entry/entry-lmm.h"
#include "entry/entry-util.h"

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

// solve(a, b) as R's La_solve() computes it: dgesv on a copy of the n x n
// `a` with the n x nrhs right-hand side `b` (overwritten by the solution),
// then dgecon's reciprocal condition number against solve()'s tolerance,
// the machine epsilon. False where solve() stops (exactly or
// computationally singular).
bool lapack_solve(const double* a, int n, double* b, int nrhs) {
  std::vector<double> A(a, a + (size_t)n * n);
  std::vector<int> ipiv(n);
  int lda = n, info = 0;
  F77_CALL(dgesv)(&n, &nrhs, A.data(), &lda, ipiv.data(), b, &lda, &info);
  if (info != 0) return false;
  std::vector<double> dwork(4 * (size_t)n);
  const double anorm = F77_CALL(dlange)("1", &n, &n, a, &n, dwork.data() FCONE);
  double rcond = 0.0;
  F77_CALL(dgecon)("1", &n, A.data(), &n, &anorm, &rcond, dwork.data(), ipiv.data(), &info
                   FCONE);
  return info == 0 && !(rcond < DBL_EPSILON);
}

}  // namespace

// solve(a, b) (b a vector or matrix of n rows) or, with b NULL, solve(a),
// by the LAPACK calls R makes, without the R wrapper (the several-term
// LMM's moment start and fixed-effects covariance, ~8 microseconds each).
// ok = FALSE where solve() stops; `x` the solution, a vector for a vector b.
Rcpp::List glmmgee_exports::la_solve(Rcpp::NumericMatrix a, Rcpp::Nullable<Rcpp::NumericVector> b) {
  const int n = a.nrow();
  if (a.ncol() != n || n < 1) Rcpp::stop("'a' must be a non-empty square matrix");
  const Rcpp::List fail = Rcpp::List::create(Rcpp::Named("ok") = false);
  if (b.isNull()) {
    Rcpp::NumericMatrix x(n, n);
    for (int j = 0; j < n; ++j) x(j, j) = 1.0;
    if (!lapack_solve(a.begin(), n, x.begin(), n)) return fail;
    return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("x") = x);
  }
  Rcpp::NumericVector bb(b.get());
  if (bb.size() % n != 0 || bb.size() == 0)
    Rcpp::stop("'b' must have a multiple of %d entries", n);
  Rcpp::NumericVector x(bb.begin(), bb.end());  // a copy, without b's attributes
  if (!lapack_solve(a.begin(), n, x.begin(), (int)(bb.size() / n))) return fail;
  if (bb.hasAttribute("dim")) x.attr("dim") = bb.attr("dim");
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("x") = x);
}

// `info_s`: the information scaled to unit diagonal (k x k); `info`: the raw
// information (k x k) or NULL. ok = FALSE where invert_information() gives
// no standard errors (eigen() fails, the smallest eigenvalue is at most
// 1e-14 times the largest, solve() stops); otherwise the inverse of info_s
// and, with `info`, its condition number as raw_condition() computes it.
Rcpp::List glmmgee_exports::info_inverse(Rcpp::NumericMatrix info_s, Rcpp::Nullable<Rcpp::NumericMatrix> info) {
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
  Rcpp::NumericMatrix B(n, n);
  for (int j = 0; j < n; ++j) B(j, j) = 1.0;
  if (!lapack_solve(info_s.begin(), n, B.begin(), n)) return fail;
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

// The fixed point of lmm_ml_moments() (R/fit-lmm-sparse.R): the moment
// solution v (K variances, then the residual variance) of A v = b moved to
// ML's equations, `Tm` the strata each Henderson row sums, `n` the rows.
// Returns v unchanged where a solve fails or the first round is not finite.
Rcpp::NumericVector glmmgee_exports::lmm_ml_moments(Rcpp::NumericMatrix A, Rcpp::NumericVector b,
                                       Rcpp::NumericVector v, Rcpp::NumericMatrix Tm,
                                       double n, int maxit, double tol) {
  const int m = A.nrow();
  if (A.ncol() != m || Tm.nrow() != m || Tm.ncol() != m || b.size() != m || v.size() != m || m < 2)
    Rcpp::stop("ML moments: 'A', 'b', 'v' and 'Tm' must agree in size");
  const int K = m - 1;
  Rcpp::NumericVector out(v.begin(), v.end());
  // Ai = A^-1; SA = Tm^-1 A
  std::vector<double> Ai((size_t)m * m, 0.0), SA(A.begin(), A.end());
  for (int j = 0; j < m; ++j) Ai[(size_t)j * m + j] = 1.0;
  if (!lapack_solve(A.begin(), m, Ai.data(), m) || !lapack_solve(Tm.begin(), m, SA.data(), m)) return out;
  std::vector<double> m1(m, 1.0), d(m), z(m), w(m, 0.0);
  for (int j = 0; j < K; ++j) m1[j] = n - A(K, j);
  for (int s = 0; s < m; ++s) {
    d[s] = SA[(size_t)K * m + s];
    if (!(d[s] > 0)) return out;
  }
  // w = Ai' m1; z = d * Tm' w
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) w[i] += Ai[(size_t)i * m + j] * m1[j];
  for (int s = 0; s < m; ++s) {
    double t = 0.0;
    for (int k = 0; k < m; ++k) t += Tm(k, s) * w[k];
    z[s] = d[s] * t;
    if (!std::isfinite(z[s])) return out;
  }
  // x0 = Ai b; P = Ai Tm diag(-z)
  std::vector<double> x0(m, 0.0), P((size_t)m * m, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) x0[i] += Ai[(size_t)j * m + i] * b[j];
  for (int s = 0; s < m; ++s)
    for (int i = 0; i < m; ++i) {
      double t = 0.0;
      for (int k = 0; k < m; ++k) t += Ai[(size_t)k * m + i] * Tm(k, s);
      P[(size_t)s * m + i] = -z[s] * t;
    }
  std::vector<double> cur(v.begin(), v.end()), vv(m), ls(m), nxt(m);
  for (int it = 0; it < maxit; ++it) {
    double l1 = 0.0;
    for (int j = 0; j < m; ++j) {
      vv[j] = cur[j] < 0 ? 0.0 : cur[j];
      l1 += m1[j] * vv[j];
    }
    for (int s = 0; s < m; ++s) {
      double t = 0.0;
      for (int j = 0; j < m; ++j) t += SA[(size_t)j * m + s] * vv[j];
      ls[s] = t / d[s];
    }
    double dmax = 0.0, vmax = 0.0;
    bool ok = true;
    for (int i = 0; i < m; ++i) {
      double t = 0.0;
      for (int s = 0; s < m; ++s) t += P[(size_t)s * m + i] * ls[s] * ls[s];
      nxt[i] = x0[i] + t / l1;
      if (!std::isfinite(nxt[i])) ok = false;
    }
    if (!ok || !(nxt[K] > 0)) break;
    for (int i = 0; i < m; ++i) {
      dmax = std::max(dmax, std::fabs(nxt[i] - cur[i]));
      vmax = std::max(vmax, std::fabs(nxt[i]));
    }
    cur = nxt;
    std::copy(cur.begin(), cur.end(), out.begin());
    if (dmax <= tol * vmax) break;
  }
  return out;
}
