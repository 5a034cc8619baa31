// Entry points of the linear mixed model engines (engines/lmm/): lmm_one_factor
// (closed forms) and lmm_sparse (profiled (RE)ML over several terms).
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include "entry/entry-laplace.h"
#include "entry/entry-lmm.h"

// ---- forwarded to engines/lmm/lmm-onefactor-ml-info.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::NumericMatrix cpp_lmm_ml_hessian(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                                       Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol) {
  return glmmgee_exports::lmm_ml_hessian(suff, theta, prow, pcol);
}

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_ml_final(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                            Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol,
                            Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> yo,
                            Eigen::Map<Eigen::VectorXd> w, Rcpp::IntegerVector index) {
  return glmmgee_exports::lmm_ml_final(suff, theta, prow, pcol, X, yo, w, index);
}

// ---- forwarded to engines/lmm/lmm-onefactor-search.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_lmm_moment_start(Rcpp::List suff, Rcpp::IntegerVector prow,
                                         Rcpp::IntegerVector pcol) {
  return glmmgee_exports::lmm_moment_start(suff, prow, pcol);
}

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_search(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> start,
                          Rcpp::LogicalVector bounded, Rcpp::IntegerVector prow,
                          Rcpp::IntegerVector pcol, bool reml, int maxit, double tol,
                          bool polish = false,
                          Rcpp::NumericVector alt = Rcpp::NumericVector::create()) {
  return glmmgee_exports::lmm_search(suff, start, bounded, prow, pcol, reml, maxit, tol, polish, alt);
}

// ---- forwarded to engines/lmm/lmm-onefactor.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_suff(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Z,
                        Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> w,
                        Rcpp::IntegerVector index, int M) {
  return glmmgee_exports::lmm_suff(X, Z, y, w, index, M);
}

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_eval(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                        Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol, bool reml, bool full) {
  return glmmgee_exports::lmm_eval(suff, theta, prow, pcol, reml, full);
}

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_reml_info(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> par,
                             Rcpp::NumericVector sz, Rcpp::IntegerVector prow,
                             Rcpp::IntegerVector pcol) {
  return glmmgee_exports::lmm_reml_info(suff, par, sz, prow, pcol);
}

// [[Rcpp::export]]
Rcpp::List cpp_lmm_loglik(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                          Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol, bool gradient) {
  return glmmgee_exports::lmm_loglik(suff, theta, prow, pcol, gradient);
}

// At relative factor theta (the estimates): the criterion's pieces of
// cpp_lmmsp_eval(full = TRUE) (ok, ldL2, ldRX2, pwrss, beta, the spherical
// modes u on lme4's scale, variance sigma^2, RX'RX, the factor's size), and
// b_s = Lambda u on the scaled design and M^{-1} at the stored entries of
// M's lower triangle (1-based row inv_i >= column inv_j), all from the one
// factorization (lmm_sparse_fit() evaluated the criterion there twice for
// them). ok = FALSE, and nothing else, when the criterion is not finite.
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmmsp_final(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::LmmSparse& p = glmmgee::lmm_checked(ptr, theta);
  Rcpp::checkUserInterrupt();
  const Eigen::VectorXd th = theta;
  glmmgee::LmmPls r = p.evaluate(th);
  if (!r.ok) return Rcpp::List::create(Rcpp::Named("ok") = false);
  return glmmgee::lmm_final_list(p, th, r);
}

// ---- forwarded to engines/lmm/lmm-sparse-newton.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmmsp_newton(SEXP ptr, Eigen::Map<Eigen::VectorXd> start, Rcpp::NumericVector lower,
                            Rcpp::NumericVector floor, int n, int p, double logw, bool reml,
                            int maxit, int budget, double max_work) {
  return glmmgee_exports::lmmsp_newton(ptr, start, lower, floor, n, p, logw, reml, maxit, budget,
                                       max_work);
}

// [[Rcpp::export(rng = false)]]
Rcpp::NumericMatrix cpp_lmmsp_loglik_hessian(SEXP ptr, Rcpp::NumericVector x0,
                                             Rcpp::NumericVector h, Rcpp::IntegerVector which,
                                             Rcpp::NumericVector scale, int n, int p, bool reml) {
  return glmmgee_exports::lmmsp_loglik_hessian(ptr, x0, h, which, scale, n, p, reml);
}

// [[Rcpp::export(rng = false)]]
SEXP cpp_lmmsp_hessian(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool reml, double max_work) {
  return glmmgee_exports::lmmsp_hessian(ptr, theta, reml, max_work);
}

// ---- forwarded to engines/lmm/lmm-term-moments.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_term_moments(Rcpp::List codes, Rcpp::IntegerVector nl, Rcpp::NumericVector r,
                                int p) {
  return glmmgee_exports::lmm_term_moments(codes, nl, r, p);
}

// [[Rcpp::export]]
Rcpp::List cpp_lmmsp_grad_sparse(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::LmmSparse& p = glmmgee::lmm_checked(ptr, theta);
  return glmmgee::lmm_grad_result(p, theta, [&p](const Eigen::VectorXd& th,
                                                 const glmmgee::LmmPls& r) {
    return p.gradient_sparse(th, r);
  });
}

// X, Z (dgCMatrix, n x Q) and y (the offset subtracted) are scaled here:
// rows by `rs` (square roots of the weights), Z's columns by 1 / `cs`.
// Lambda's pattern as for cpp_sparse_new(). The pointer lives only while a
// fit runs.
// [[Rcpp::export(rng = false)]]
SEXP cpp_lmmsp_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::MappedSparseMatrix<double> Z,
                   Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> rs,
                   Eigen::Map<Eigen::VectorXd> cs, Rcpp::IntegerVector lam_row,
                   Rcpp::IntegerVector lam_col, Rcpp::IntegerVector lam_k, int ntheta) {
  const long n = X.rows();
  if (Z.rows() != n || y.size() != n || rs.size() != n)
    Rcpp::stop("X, Z, y and the row scales must all have %d rows", (int)n);
  const int Q = (int)Z.cols();
  if (cs.size() != Q) Rcpp::stop("the column scales must have %d entries", Q);
  for (int j = 0; j < Q; ++j)
    if (!(cs[j] > 0.0) || !std::isfinite(cs[j])) Rcpp::stop("column scales must be positive");
  if (Q < 1) Rcpp::stop("Z needs at least one column");
  const glmmgee::LambdaPattern lam =
      glmmgee_exports::lambda_pattern(lam_row, lam_col, lam_k, ntheta, Q);
  glmmgee::LmmSparse::ColMat Zc(Z);
  for (int j = 0; j < Q; ++j)
    for (glmmgee::LmmSparse::ColMat::InnerIterator it(Zc, j); it; ++it)
      it.valueRef() *= rs[it.row()] / cs[j];
  const Eigen::MatrixXd Xs = rs.asDiagonal() * X;
  const Eigen::VectorXd ys = rs.cwiseProduct(y);
  return Rcpp::XPtr<glmmgee::LmmSparse>(new glmmgee::LmmSparse(Xs, std::move(Zc), ys, lam), true);
}

// The pieces of the criteria at relative factor theta (lmm-sparse.h); with
// full = TRUE also beta, the spherical modes u and RX'RX.
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmmsp_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool full) {
  Rcpp::XPtr<glmmgee::LmmSparse> p(ptr);
  if (!p) Rcpp::stop("the LMM criterion pointer is no longer valid");
  if (theta.size() != p->ntheta())
    Rcpp::stop("theta has length %d; the model has %d covariance parameters",
               (int)theta.size(), p->ntheta());
  Rcpp::checkUserInterrupt();
  glmmgee::LmmPls r = p->evaluate(theta);
  if (!full || !r.ok)
    return Rcpp::List::create(Rcpp::Named("ok") = r.ok, Rcpp::Named("ldL2") = r.ldL2,
                              Rcpp::Named("ldRX2") = r.ldRX2, Rcpp::Named("pwrss") = r.pwrss);
  return Rcpp::List::create(Rcpp::Named("ok") = r.ok, Rcpp::Named("ldL2") = r.ldL2,
                            Rcpp::Named("ldRX2") = r.ldRX2, Rcpp::Named("pwrss") = r.pwrss,
                            Rcpp::Named("beta") = r.beta, Rcpp::Named("u") = r.u,
                            Rcpp::Named("RXtRX") = r.RXtRX,
                            Rcpp::Named("nnz_factor") = (double)p->nnz_factor());
}

// Rough operation counts of one criterion evaluation and of its exact
// gradient's extra work, at the factor of the last evaluation.
// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_lmmsp_costs(SEXP ptr) {
  Rcpp::XPtr<glmmgee::LmmSparse> p(ptr);
  if (!p) Rcpp::stop("the LMM criterion pointer is no longer valid");
  const Eigen::Vector2d c = p->costs();
  return Rcpp::NumericVector::create(Rcpp::Named("eval") = c[0], Rcpp::Named("grad") = c[1]);
}

// The pieces of the criteria at theta and their exact gradients in theta
// (lmm-sparse.h); refused above `max_q` random effects (M^{-1} is formed
// dense).
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmmsp_grad(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, int max_q) {
  glmmgee::LmmSparse& p = glmmgee::lmm_checked(ptr, theta);
  if (p.nrandom() > max_q)
    Rcpp::stop("the exact gradient is formed for at most %d random effects, not %d", max_q,
               p.nrandom());
  return glmmgee::lmm_grad_result(p, theta, [&p](const Eigen::VectorXd& th,
                                                 const glmmgee::LmmPls& r) {
    return p.gradient(th, r);
  });
}

// ---- forwarded to util/info-inverse.cpp ----

// [[Rcpp::export(rng = false)]]
Rcpp::NumericVector cpp_lmm_ml_moments(Rcpp::NumericMatrix A, Rcpp::NumericVector b,
                                       Rcpp::NumericVector v, Rcpp::NumericMatrix Tm, double n,
                                       int maxit, double tol) {
  return glmmgee_exports::lmm_ml_moments(A, b, v, Tm, n, maxit, tol);
}
