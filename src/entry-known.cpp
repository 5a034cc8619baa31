// Entry points of the known-covariance engines (engines/known/): known_gaussian
// (spectral and tridiagonal) and known_laplace (KlEngine).
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include <algorithm>
#include <cmath>
#include <vector>
#include "engines/known/known-gaussian.h"
#include "engines/known/known-laplace.h"
#include "util/resources.h"
#include "entry/entry-known.h"

// ---- forwarded to engines/known/known-tridiag.cpp ----

// [[Rcpp::export]]
Rcpp::List cpp_tridiagonalize(Rcpp::NumericMatrix K) {
  return glmmgee_exports::tridiagonalize(K);
}

// [[Rcpp::export]]
Eigen::MatrixXd cpp_householder_apply(Eigen::Map<Eigen::MatrixXd> packed,
                                      Eigen::Map<Eigen::VectorXd> h, Eigen::Map<Eigen::MatrixXd> B,
                                      bool transpose) {
  return glmmgee_exports::householder_apply(packed, h, B, transpose);
}

// [[Rcpp::export]]
Rcpp::List cpp_tridiag_solve(Eigen::Map<Eigen::VectorXd> dT, Eigen::Map<Eigen::VectorXd> eT,
                             double lambda, Eigen::Map<Eigen::MatrixXd> B) {
  return glmmgee_exports::tridiag_solve(dT, eT, lambda, B);
}

// Profiled (RE)ML of the rotated gaussian known-covariance model at
// log(lambda), lambda = s2g / s2e (known-gaussian.h).
// [[Rcpp::export]]
Rcpp::List cpp_known_gaussian_profile(Eigen::Map<Eigen::VectorXd> d,
                                      Eigen::Map<Eigen::VectorXd> y1,
                                      Eigen::Map<Eigen::MatrixXd> X1,
                                      double yy_c,
                                      Eigen::Map<Eigen::VectorXd> Xy_c,
                                      Eigen::Map<Eigen::MatrixXd> XX_c,
                                      double n, double log_lambda, bool reml) {
  const Eigen::Index p = X1.cols();
  if (y1.size() != d.size() || X1.rows() != d.size() || Xy_c.size() != p ||
      XX_c.rows() != p || XX_c.cols() != p)
    Rcpp::stop("cpp_known_gaussian_profile: inconsistent sizes");
  glmmgee::KgData dat{Eigen::Map<const Eigen::VectorXd>(d.data(), d.size()),
                      Eigen::Map<const Eigen::VectorXd>(y1.data(), y1.size()),
                      Eigen::Map<const Eigen::MatrixXd>(X1.data(), X1.rows(), X1.cols()),
                      yy_c, Eigen::Map<const Eigen::VectorXd>(Xy_c.data(), Xy_c.size()),
                      Eigen::Map<const Eigen::MatrixXd>(XX_c.data(), p, p), n};
  glmmgee::KgResult r = glmmgee::kg_profile(dat, log_lambda, reml);
  return Rcpp::List::create(Rcpp::Named("loglik") = r.loglik, Rcpp::Named("ok") = r.ok,
                            Rcpp::Named("s2e") = r.ok ? r.s2e : NA_REAL,
                            Rcpp::Named("beta") = r.ok ? Rcpp::wrap(r.beta) : R_NilValue,
                            Rcpp::Named("XtVX") = r.ok ? Rcpp::wrap(r.XtVX) : R_NilValue);
}

// Known-covariance Laplace engine (known-laplace.h): the upper Cholesky
// factor U of M = I + s2 L' diag(w) L and log det M (the score scan's
// working covariance).
// [[Rcpp::export]]
Rcpp::List cpp_known_laplace_factor(Eigen::Map<Eigen::MatrixXd> L, Eigen::Map<Eigen::VectorXd> w,
                                    double s2, int threads) {
  if (w.size() != L.rows()) Rcpp::stop("cpp_known_laplace_factor: inconsistent sizes");
  if (!(s2 >= 0)) Rcpp::stop("cpp_known_laplace_factor: negative variance");
  glmmgee::KlMat Lc(L.data(), L.rows(), L.cols());
  const Eigen::Index r = L.cols();
  glmmgee::check_memory(16.0 * r * r, "the factor of the penalized Hessian");
  glmmgee::KlFactor f(Lc, glmmgee::kl_is_reversed_triangular(Lc), threads);
  Eigen::MatrixXd F(r, r);
  double logdet = 0;
  if (!f.penalized_factor(w, s2, F, &logdet)) return Rcpp::List::create(Rcpp::Named("ok") = false);
  Rcpp::NumericMatrix U(r, r);
  Eigen::Map<Eigen::MatrixXd>(U.begin(), r, r) = F.triangularView<Eigen::Lower>().transpose();
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("U") = U,
                            Rcpp::Named("logdet") = logdet);
}

static glmmgee::KlEngine* kl_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::KlEngine> p(ptr);
  if (!p) Rcpp::stop("the known-covariance engine pointer is no longer valid");
  return p.get();
}

// The engine of one model (family 0: binomial logit, 1: Poisson log). It
// maps L without copying: the R caller keeps L alive beside the pointer.
// [[Rcpp::export]]
SEXP cpp_kl_engine(SEXP Lsexp, Rcpp::IntegerVector index, Eigen::Map<Eigen::VectorXd> y,
                   Eigen::Map<Eigen::VectorXd> m, int family, int threads) {
  // a double matrix, mapped as is (a coercion here would map a temporary)
  if (TYPEOF(Lsexp) != REALSXP || !Rf_isMatrix(Lsexp))
    Rcpp::stop("cpp_kl_engine: L must be a double matrix");
  Rcpp::NumericMatrix L(Lsexp);
  const R_xlen_t n = y.size();
  if (index.size() != n || m.size() != n) Rcpp::stop("cpp_kl_engine: inconsistent sizes");
  if (family != glmmgee::kKlBinomialLogit && family != glmmgee::kKlPoissonLog)
    Rcpp::stop("cpp_kl_engine: unknown family code %d", family);
  const int nl = L.nrow();
  std::vector<int> idx(n);
  for (R_xlen_t i = 0; i < n; ++i) {
    if (index[i] == NA_INTEGER || index[i] < 1 || index[i] > nl)
      Rcpp::stop("cpp_kl_engine: level index %d outside 1..%d", (int)index[i], nl);
    idx[i] = index[i] - 1;
  }
  glmmgee::KlMat Lc(L.begin(), L.nrow(), L.ncol());
  glmmgee::KlEngine* eng = new glmmgee::KlEngine(Lc, glmmgee::kl_is_reversed_triangular(Lc),
                                                 std::move(idx), y, m, family, threads);
  return Rcpp::XPtr<glmmgee::KlEngine>(eng, true);
}

// Modes and factor at eta0 = X beta + offset and s: the Laplace value, the
// modes u and the linear predictor.
// [[Rcpp::export]]
Rcpp::List cpp_kl_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> eta0, double s) {
  glmmgee::KlEngine* eng = kl_engine(ptr);
  if (eta0.size() != eng->n()) Rcpp::stop("cpp_kl_eval: eta0 has the wrong length");
  if (!(s > 0) || !std::isfinite(s)) Rcpp::stop("cpp_kl_eval: s must be positive and finite");
  if (!eng->evaluate(eta0, s)) return Rcpp::List::create(Rcpp::Named("ok") = false);
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("value") = eng->value(),
                            Rcpp::Named("u") = eng->u(), Rcpp::Named("eta") = eng->eta());
}

// The gradient's pieces at the last cpp_kl_eval(): X'v is the gradient in
// beta, dlogs the derivative in log s; lev = diag(L M^{-1} L').
// [[Rcpp::export]]
Rcpp::List cpp_kl_gradient(SEXP ptr) {
  glmmgee::KlEngine* eng = kl_engine(ptr);
  Eigen::VectorXd v, lev;
  double dlogs = 0;
  eng->gradient(&v, &dlogs, &lev);
  return Rcpp::List::create(Rcpp::Named("v") = v, Rcpp::Named("dlogs") = dlogs,
                            Rcpp::Named("lev") = lev);
}

// The exact Hessian of the Laplace log-likelihood in (beta, s) at the last
// cpp_kl_eval(), for the fixed-effects design X.
// [[Rcpp::export]]
Eigen::MatrixXd cpp_kl_hessian(SEXP ptr, Eigen::Map<Eigen::MatrixXd> X) {
  glmmgee::KlEngine* eng = kl_engine(ptr);
  if (X.rows() != eng->n()) Rcpp::stop("cpp_kl_hessian: X has the wrong number of rows");
  return eng->hessian(Eigen::Map<const Eigen::MatrixXd>(X.data(), X.rows(), X.cols()));
}

// [[Rcpp::export]]
void cpp_kl_reset(SEXP ptr) { kl_engine(ptr)->reset(); }

// The order of the dense K of a known_*_factor() entry point `fn`: an error
// unless K is square with one level name per row (when names are given).
static Eigen::Index check_square_levels(const Eigen::Map<Eigen::MatrixXd>& K,
                                        const Rcpp::Nullable<Rcpp::CharacterVector>& levels,
                                        const char* fn) {
  const Eigen::Index n = K.rows();
  if (K.cols() != n) Rcpp::stop("%s: K is not square", fn);
  if (levels.isNotNull() && Rcpp::CharacterVector(levels).size() != n)
    Rcpp::stop("%s: %d levels for %d rows", fn, (int)Rcpp::CharacterVector(levels).size(),
               (int)n);
  return n;
}

// K symmetric to rel_tol times its largest absolute diagonal entry (R has
// refused non-finite entries before).
static bool symmetric_to(const Eigen::Map<Eigen::MatrixXd>& K, double rel_tol) {
  const Eigen::Index n = K.rows();
  const double sc = std::max(n > 0 ? K.diagonal().cwiseAbs().maxCoeff() : 0.0, 1e-300);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = j + 1; i < n; ++i)
      if (!(std::fabs(K(i, j) - K(j, i)) <= rel_tol * sc)) return false;
  return true;
}

// The factor of a dense K for the engine: its Cholesky factor, computed in
// place in the one n x n matrix returned, with the columns in reverse order
// (known-laplace.h). ok = FALSE when K is not positive definite, symmetric =
// FALSE when K is not symmetric to tol times its largest diagonal entry.
// The row names `levels` (if given) are set here: `rownames<-` in R would copy the
// n x n result (it is also referenced by the returned list), and the
// discarded copy stays allocated until R's next garbage collection, beside
// the engine's n x n factor of M.
// [[Rcpp::export]]
Rcpp::List cpp_known_dense_factor(Eigen::Map<Eigen::MatrixXd> K, double tol,
                                  Rcpp::Nullable<Rcpp::CharacterVector> levels = R_NilValue) {
  const Eigen::Index n = check_square_levels(K, levels, "cpp_known_dense_factor");
  if (!symmetric_to(K, tol))
    return Rcpp::List::create(Rcpp::Named("ok") = false, Rcpp::Named("symmetric") = false);
  glmmgee::check_memory(8.0 * n * n, "the Cholesky factor of the covariance");
  Rcpp::NumericMatrix out(n, n);
  Eigen::Map<Eigen::MatrixXd> F(out.begin(), n, n);
  F.triangularView<Eigen::Lower>() = K.triangularView<Eigen::Lower>();
  {
    Eigen::Ref<Eigen::MatrixXd> Fr(F);
    Eigen::LLT<Eigen::Ref<Eigen::MatrixXd> > llt(Fr);
    if (llt.info() != Eigen::Success || !F.diagonal().allFinite())
      return Rcpp::List::create(Rcpp::Named("ok") = false, Rcpp::Named("symmetric") = true);
  }
  for (Eigen::Index j = 0; j < n / 2; ++j) F.col(j).swap(F.col(n - 1 - j));
  if (levels.isNotNull())
    out.attr("dimnames") = Rcpp::List::create(Rcpp::CharacterVector(levels), R_NilValue);
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("symmetric") = true,
                            Rcpp::Named("L") = out);
}

// The factor of a dense positive semidefinite K of low rank: K = L L' with
// L levels x r by Cholesky factorization with diagonal pivoting (each step
// takes the level of largest remaining variance), stopped when every
// remaining variance is at most tol times K's largest diagonal entry. The
// columns are computed left-looking, one gemv against the columns so far, so
// the work is about levels r^2 (an eigendecomposition costs about 9 levels^3).
// `max_rank` (0 = levels) stops it early with full = FALSE when the rank
// would exceed that; symmetric = FALSE (and nothing else) when K is not
// symmetric to 1e-8 of its largest diagonal entry. The rows of L are in the
// order of K's. The remainder
// R = K - L L' is then checked by power iteration (20 products with K):
// `remainder_rq` is the Rayleigh quotient of its dominant direction, negative
// when K is not positive semidefinite, and `k_rq` that of K for scale.
// [[Rcpp::export]]
Rcpp::List cpp_known_pivoted_factor(Eigen::Map<Eigen::MatrixXd> K, double tol, int max_rank,
                                    Rcpp::Nullable<Rcpp::CharacterVector> levels = R_NilValue) {
  const Eigen::Index n = check_square_levels(K, levels, "cpp_known_pivoted_factor");
  if (!(tol >= 0) || max_rank < 0) Rcpp::stop("cpp_known_pivoted_factor: bad tol or max_rank");
  if (!symmetric_to(K, 1e-8))
    return Rcpp::List::create(Rcpp::Named("symmetric") = false, Rcpp::Named("full") = false);
  const Eigen::Index rmax = max_rank == 0 ? n : std::min<Eigen::Index>(max_rank, n);
  Eigen::VectorXd d = K.diagonal();
  const double dmax = n > 0 ? d.maxCoeff() : 0.0;
  std::vector<char> taken(n, 0);
  Eigen::Index cap = std::min<Eigen::Index>(rmax, 64), r = 0;
  glmmgee::check_memory(8.0 * n * cap, "the low-rank factor of the covariance");
  Eigen::MatrixXd L(n, cap);
  bool full = true;
  while (n > 0) {
    Eigen::Index j = -1;
    double best = tol * dmax;
    for (Eigen::Index i = 0; i < n; ++i)
      if (!taken[i] && d[i] > best) { best = d[i]; j = i; }
    if (j < 0) break;
    if (r == rmax) { full = false; break; }
    if (r == cap) {
      const Eigen::Index nc = std::min<Eigen::Index>(rmax, 2 * cap);
      glmmgee::check_memory(8.0 * n * (nc + cap), "the low-rank factor of the covariance");
      L.conservativeResize(n, nc);
      cap = nc;
    }
    Eigen::VectorXd c = K.col(j);
    if (r > 0) c.noalias() -= L.leftCols(r) * L.row(j).head(r).transpose();
    c /= std::sqrt(best);
    for (Eigen::Index i = 0; i < n; ++i)
      if (taken[i]) c[i] = 0.0;
    taken[j] = 1;
    L.col(r) = c;
    d -= c.cwiseAbs2();
    d[j] = 0.0;
    ++r;
    if ((r & 15) == 0) Rcpp::checkUserInterrupt();
  }
  double dmin = 0.0;
  for (Eigen::Index i = 0; i < n; ++i)
    if (!taken[i]) dmin = std::min(dmin, d[i]);
  double rq = 0.0, krq = 0.0;
  if (full && n > 0) {
    // power iteration on R = K - L L' from a fixed start
    Eigen::VectorXd v(n), w(n);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = 1.0 + 0.5 * std::sin(1.0 + i);
    w.noalias() = K * v;
    krq = v.dot(w) / v.squaredNorm();
    for (int it = 0; it < 20; ++it) {
      const double vn = v.norm();
      if (!(vn > 0)) break;
      v /= vn;
      w.noalias() = K * v;
      if (r > 0) w.noalias() -= L.leftCols(r) * (L.leftCols(r).transpose() * v);
      rq = v.dot(w);
      v = w;
      Rcpp::checkUserInterrupt();
    }
  }
  Rcpp::NumericMatrix out(n, full ? r : 0);
  if (full)
    for (Eigen::Index k = 0; k < r; ++k)
      std::copy(L.col(k).data(), L.col(k).data() + n, out.begin() + k * n);
  if (full && levels.isNotNull())
    out.attr("dimnames") = Rcpp::List::create(Rcpp::CharacterVector(levels), R_NilValue);
  return Rcpp::List::create(Rcpp::Named("symmetric") = true, Rcpp::Named("full") = full,
                            Rcpp::Named("rank") = (int)r,
                            Rcpp::Named("L") = out, Rcpp::Named("remainder_min") = dmin,
                            Rcpp::Named("remainder_rq") = rq, Rcpp::Named("k_rq") = krq,
                            Rcpp::Named("dmax") = dmax);
}

// rowSums(L^2) without the temporary L^2.
// [[Rcpp::export]]
Eigen::VectorXd cpp_row_sumsq(Eigen::Map<Eigen::MatrixXd> L) {
  Eigen::VectorXd out = Eigen::VectorXd::Zero(L.rows());
  for (Eigen::Index j = 0; j < L.cols(); ++j) out += L.col(j).cwiseAbs2();
  return out;
}
