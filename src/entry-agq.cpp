// Entry points of the one-grouping-factor quadrature engines (engines/agq/):
// agq (AgqEngine, also on workers), agq_zero_re (TwoPartEngine), agq_ranef_dist
// (non-normal random effects) and agq_nested (nested quadrature).
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include <new>
#include "engines/agq/agq.h"
#include "engines/agq/agq-ranef-dist.h"
#include "engines/agq/agq-zero-re.h"
#include "engines/agq/agq-nested.h"
#include "entry/engine-args.h"
#include "entry/entry-agq.h"

// ---- forwarded to engines/agq/agq-shard.cpp ----

// [[Rcpp::export]]
Rcpp::List cpp_agq_glm_sums(SEXP ptr, Eigen::Map<Eigen::VectorXd> beta) {
  return glmmgee_exports::agq_glm_sums(ptr, beta);
}

// [[Rcpp::export]]
Rcpp::List cpp_agq_eval_dd(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient) {
  return glmmgee_exports::agq_eval_dd(ptr, theta, gradient);
}

// [[Rcpp::depends(RcppEigen, BH)]]

namespace {
glmmgee::NestedAgq* nested_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::NestedAgq> xp(ptr);
  if (!xp.get()) Rcpp::stop("the nested quadrature engine is no longer available");
  return xp.get();
}
}  // namespace

//' Nested AGHQ engine: build (units: list of 0-based codes, outermost first;
//' Zr: the innermost level's random-effect design, or NULL for an intercept)
//' @noRd
// [[Rcpp::export]]
SEXP cpp_nested_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> y,
                    Eigen::Map<Eigen::VectorXd> wt, Eigen::Map<Eigen::VectorXd> offset,
                    Rcpp::List units, int family, int link, int nthreads,
                    Rcpp::Nullable<Rcpp::NumericMatrix> Zr = R_NilValue) {
  const long n = X.rows();
  Eigen::MatrixXd Z;
  if (Zr.isNotNull()) {
    Rcpp::NumericMatrix zm(Zr.get());
    if (zm.nrow() != n) Rcpp::stop("Z has %d rows for %d observations", zm.nrow(), (int)n);
    Z = Eigen::Map<Eigen::MatrixXd>(zm.begin(), zm.nrow(), zm.ncol());
  }
  if (y.size() != n || wt.size() != n || offset.size() != n)
    Rcpp::stop("X, y, weights and offset must all have %d rows", (int)n);
  std::vector<std::vector<int> > u(units.size());
  for (R_xlen_t l = 0; l < units.size(); ++l) {
    Rcpp::IntegerVector v = units[l];
    if (v.size() != n) Rcpp::stop("level %d has %d codes for %d observations", (int)l + 1,
                                  (int)v.size(), (int)n);
    u[l].assign(v.begin(), v.end());
  }
  try {
    glmmgee::NestedAgq* e = new glmmgee::NestedAgq(X, y, wt, offset, u, family, link, nthreads, Z);
    return Rcpp::XPtr<glmmgee::NestedAgq>(e, true);
  } catch (std::exception& ex) {
    Rcpp::stop(ex.what());
  }
  return R_NilValue;
}

//' Nested AGHQ engine: log-likelihood at theta = (beta, s_1..s_L, [phi])
//' (with Z: s_L replaced by Lambda's lower triangle by columns),
//' and its gradient (adaptive nodes held fixed; see agq-nested.h); with
//' `units`, also each outermost unit's log-likelihood (without the constant
//' part of the observations' densities), for the per-cluster scores of
//' cluster-robust covariances, and with the gradient each unit's part of it
//' (`unit_gradient`, units x parameters)
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_nested_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, int nAGQ,
                           bool gradient = false, bool units = false) {
  glmmgee::NestedAgq* eng = nested_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  if (nAGQ < 1 || nAGQ > 100) Rcpp::stop("nAGQ must be between 1 and 100");
  Rcpp::checkUserInterrupt();
  glmmgee::NestedResult r = eng->evaluate(theta, nAGQ, gradient);
  Rcpp::List out = Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                                      Rcpp::Named("failures") = r.failures);
  if (gradient) out["gradient"] = r.gradient;
  if (units) out["unit_loglik"] = r.unit_loglik;
  if (units && gradient) out["unit_gradient"] = Eigen::MatrixXd(r.unit_gradient.transpose());
  return out;
}

//' Nested AGHQ engine: joint modes, their conditional variances, eta
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_nested_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::NestedAgq* eng = nested_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  glmmgee::NestedModes m = eng->modes(theta);
  return Rcpp::List::create(Rcpp::Named("u") = Rcpp::wrap(m.u),
                            Rcpp::Named("var") = Rcpp::wrap(m.var),
                            Rcpp::Named("eta") = m.eta,
                            Rcpp::Named("failed") = m.failed);
}

// [[Rcpp::depends(RcppEigen, BH)]]

// off: n x 3 offsets of (eta, logit zero probability, log dispersion);
// Xd has no columns for a family without dispersion. kind 1 zero-inflated,
// 2 hurdle, 3 zero-inflated binomial, 4 to 6 a random dispersion (in Zz's
// slot), 7 and 8 random zero and dispersion parts: the first `nsecond` of
// Zz's columns the zero part's, the rest the dispersion's (-1: all the
// second part's).
// [[Rcpp::export]]
SEXP cpp_two_part_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Zc,
                  Eigen::Map<Eigen::MatrixXd> Zz, Eigen::Map<Eigen::MatrixXd> Xz,
                  Eigen::Map<Eigen::MatrixXd> Xd, Eigen::Map<Eigen::VectorXd> y,
                  Eigen::Map<Eigen::VectorXd> wt, Eigen::Map<Eigen::MatrixXd> off,
                  Rcpp::IntegerVector group, int M, Rcpp::IntegerVector lam_row,
                  Rcpp::IntegerVector lam_col, int family, int link, int kind, int nAGQ,
                  int nthreads, int nsecond = -1) {
  glmmgee::check_engine_rows(X.rows(), {Zc.rows(), Zz.rows(), Xz.rows(), Xd.rows(), y.size(),
                                        wt.size(), off.rows(), group.size()},
                             "X, Zc, Zz, Xz, Xd, y, weights, offsets and group");
  if (off.cols() != 3) Rcpp::stop("the offsets must have 3 columns");
  // (with a random dispersion, kinds 4 to 8, the mean may have none)
  if (Zz.cols() < 1 || (Zc.cols() < 1 && (kind < 4 || kind > 8)))
    Rcpp::stop("both parts need a random effect");
  const bool three = kind == 7 || kind == 8;
  if (three != (nsecond >= 1 && nsecond < Zz.cols()) || (!three && nsecond >= 0))
    Rcpp::stop("'nsecond' must split Zz into the zero part's and the dispersion's columns exactly for kinds 7 and 8");
  std::vector<int> lr, lc;
  glmmgee::check_engine_pattern(M, nAGQ, (int)(Zc.cols() + Zz.cols()), lam_row, lam_col, lr, lc);
  try {
    glmmgee::TwoPartEngine* eng = new glmmgee::TwoPartEngine(
        X, Zc, Zz, Xz, Xd, y, wt, off, group.begin(), M, lr, lc, family, link, kind, nAGQ,
        nthreads, nsecond);
    Rcpp::XPtr<glmmgee::TwoPartEngine> p(eng, true);
    p.attr("class") = "glmmgee_two_part_engine";
    return p;
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

static glmmgee::TwoPartEngine* zi_random_ptr(SEXP ptr) {
  return glmmgee::engine_at<glmmgee::TwoPartEngine>(
      ptr, "the two-part GLMM engine is no longer available");
}

// [[Rcpp::export]]
Rcpp::List cpp_two_part_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient) {
  return glmmgee::engine_eval(zi_random_ptr(ptr), theta, gradient);
}

// [[Rcpp::export]]
Eigen::MatrixXd cpp_two_part_scores(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_scores(zi_random_ptr(ptr), theta);
}

// cpp_two_part_eval() with the gradient and each cluster's score.
// [[Rcpp::export]]
Rcpp::List cpp_two_part_eval_scores(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_eval_scores(zi_random_ptr(ptr), theta);
}

// [[Rcpp::export]]
Rcpp::List cpp_two_part_summaries(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_summaries(zi_random_ptr(ptr), theta);
}

// Curvature in the fixed coefficients of all three predictors at the
// modes, without the log|H| terms (agq-zero-re-info.cpp): a start matrix for
// the search, rows and columns in the order (beta, gamma, delta).
// [[Rcpp::export]]
Eigen::MatrixXd cpp_two_part_fixed_curvature(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_fixed_curvature(zi_random_ptr(ptr), theta);
}

// [[Rcpp::export]]
void cpp_two_part_set_nagq(SEXP ptr, int nAGQ) {
  glmmgee::engine_nagq(zi_random_ptr(ptr), nAGQ, true);
}

// R's double matrix `x` (a double vector: one column) as a read-only view of
// its memory, without a copy.
static Eigen::Map<const Eigen::MatrixXd> real_matrix(SEXP x, const char* what) {
  if (TYPEOF(x) != REALSXP) Rcpp::stop("'%s' must be a double matrix", what);
  if (!Rf_isMatrix(x)) return Eigen::Map<const Eigen::MatrixXd>(REAL(x), XLENGTH(x), 1);
  return Eigen::Map<const Eigen::MatrixXd>(REAL(x), Rf_nrows(x), Rf_ncols(x));
}

static Eigen::Map<const Eigen::VectorXd> real_vector(SEXP x, const char* what) {
  if (TYPEOF(x) != REALSXP) Rcpp::stop("'%s' must be a double vector", what);
  return Eigen::Map<const Eigen::VectorXd>(REAL(x), XLENGTH(x));
}

// Builds the engine for one fit. The returned pointer lives only while the
// fit runs (held in an R closure); fitted objects never keep it. The engine
// reads X, Z, y, wt and offset in place when their rows come cluster by
// cluster, so the pointer keeps those R objects alive (its protected value):
// R copies a vector before changing it while the pointer holds it.
// [[Rcpp::export]]
SEXP cpp_agq_new(SEXP X, SEXP Z, SEXP y, SEXP wt, SEXP offset, Rcpp::IntegerVector group,
                 int M, Rcpp::IntegerVector lam_row, Rcpp::IntegerVector lam_col,
                 int family, int link, int nAGQ, int nthreads) {
  const Eigen::Map<const Eigen::MatrixXd> Xm = real_matrix(X, "X"), Zm = real_matrix(Z, "Z");
  const Eigen::Map<const Eigen::VectorXd> ym = real_vector(y, "y"), wm = real_vector(wt, "wt"),
                                          om = real_vector(offset, "offset");
  // Empty weights are unit weights, an empty offset a zero one, and a Z of
  // one column and no rows a random intercept's column of ones: the engine
  // then holds no n-vector for them.
  if (Zm.rows() == 0 && Zm.cols() != 1) Rcpp::stop("a Z without rows must have one column");
  glmmgee::check_engine_rows(Xm.rows(), {Zm.rows() ? Zm.rows() : Xm.rows(), ym.size(),
                                         wm.size() ? wm.size() : Xm.rows(),
                                         om.size() ? om.size() : Xm.rows(), group.size()},
                             "X, Z, y, weights, offset and group");
  std::vector<int> lr, lc;
  glmmgee::check_engine_pattern(M, nAGQ, (int)Zm.cols(), lam_row, lam_col, lr, lc);
  Rcpp::List keep = Rcpp::List::create(X, Z, y, wt, offset);
  try {
    glmmgee::AgqEngine* eng = new glmmgee::AgqEngine(
        Xm, Zm, ym, wm, om, group.begin(), M, lr, lc, family, link, nAGQ, nthreads);
    return Rcpp::XPtr<glmmgee::AgqEngine>(eng, true, R_NilValue, keep);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

static glmmgee::AgqEngine* agq_ptr(SEXP ptr) {
  return glmmgee::engine_at<glmmgee::AgqEngine>(
      ptr, "the GLMM engine is no longer available (was the object saved?)");
}

// Turns an engine into its zero-inflated, hurdle or dispersion-formula
// version (families-aux.h): kind 0 dispersion formula, 1 zero-inflation,
// 2 hurdle, 4-6 the cumulative link model (logit, probit, cloglog; one
// column of ones per threshold); XA the auxiliary designs side by side, pred
// (0-based) the predictor of each column, aoff the predictors' offsets
// (n x naux).
// [[Rcpp::export]]
int cpp_agq_set_aux(SEXP ptr, int kind, Eigen::Map<Eigen::MatrixXd> XA,
                    Rcpp::IntegerVector pred, Eigen::Map<Eigen::MatrixXd> aoff) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  std::vector<int> pr(pred.begin(), pred.end());
  try {
    eng->set_aux(kind, XA, pr, aoff);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return eng->npar();
}

// Marginal log-likelihood and (optionally) its gradient at theta.
// [[Rcpp::export]]
Rcpp::List cpp_agq_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient) {
  return glmmgee::engine_eval(agq_ptr(ptr), theta, gradient);
}

// The engine behind ptr for an evaluation along directions, theta's length
// and dirs' rows (one per entry of Lambda) checked at the boundary.
static glmmgee::AgqEngine* agq_dir_engine(SEXP ptr, const Eigen::Map<Eigen::VectorXd>& theta,
                                          const Eigen::Map<Eigen::MatrixXd>& dirs) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  glmmgee::check_engine_theta(*eng, theta);
  if (dirs.rows() != eng->nlambda())
    Rcpp::stop("dirs must have %d rows (one per entry of Lambda)", eng->nlambda());
  Rcpp::checkUserInterrupt();
  return eng;
}

// The same with the gradient's Lambda part along the columns of dirs
// (Lambda's entries x directions): c(beta, t(dirs) %*% d/dlambda, rest).
// [[Rcpp::export]]
Rcpp::List cpp_agq_eval_dir(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient,
                            Eigen::Map<Eigen::MatrixXd> dirs) {
  glmmgee::AgqEngine* eng = agq_dir_engine(ptr, theta, dirs);
  return glmmgee::agq_result_list(eng->evaluate(theta, gradient, Eigen::MatrixXd(dirs)));
}

// cpp_agq_eval_dir() with the gradient, and each cluster's gradient in the
// same coordinates (rows in the order of the group codes), from one pass.
// [[Rcpp::export]]
Rcpp::List cpp_agq_eval_dir_scores(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta,
                                   Eigen::Map<Eigen::MatrixXd> dirs) {
  glmmgee::AgqEngine* eng = agq_dir_engine(ptr, theta, dirs);
  Eigen::MatrixXd S;
  Rcpp::List out = glmmgee::agq_result_list(eng->evaluate_scores(theta, S, Eigen::MatrixXd(dirs)));
  out["scores"] = S;
  return out;
}

// Each cluster's gradient at theta (clusters x parameters, rows in the
// order of the group codes).
// [[Rcpp::export]]
Eigen::MatrixXd cpp_agq_scores(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_scores(agq_ptr(ptr), theta);
}

// cpp_agq_eval() with the gradient and each cluster's score (rows in the
// order of the group codes), from the same pass.
// [[Rcpp::export]]
Rcpp::List cpp_agq_eval_scores(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_eval_scores(agq_ptr(ptr), theta);
}

// Per-cluster modes, conditional variances and posterior moments at theta.
// [[Rcpp::export]]
Rcpp::List cpp_agq_summaries(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_summaries(agq_ptr(ptr), theta);
}

// Curvature in the fixed and auxiliary coefficients at the modes, without
// the log|H| terms (agq-info.cpp): a start matrix for the search of the
// zero-inflated, hurdle and dispersion-formula fits.
// [[Rcpp::export]]
Eigen::MatrixXd cpp_agq_fixed_curvature(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_fixed_curvature(agq_ptr(ptr), theta);
}

// Change the number of quadrature points of an existing engine.
// [[Rcpp::export]]
void cpp_agq_set_nagq(SEXP ptr, int nAGQ) {
  glmmgee::engine_nagq(agq_ptr(ptr), nAGQ, true);
}

// An error, naming the size, if quadrature with nAGQ points per random
// effect would need more scratch memory than allowed (before a Laplace
// start spends time on a fit that cannot be refined).
// [[Rcpp::export]]
void cpp_agq_check_nagq(SEXP ptr, int nAGQ) {
  glmmgee::engine_nagq(agq_ptr(ptr), nAGQ, false);
}

// Fixed effects of the GLM without random effects, for starting values.
// [[Rcpp::export]]
Eigen::VectorXd cpp_agq_glm_start(SEXP ptr, int maxit) {
  return agq_ptr(ptr)->glm_start(maxit);
}

// Switch the grouping of a cluster's rows by their Z row off or on again,
// for tests that compare the two; returns whether any cluster is grouped.
// [[Rcpp::export]]
bool cpp_agq_set_patterns(SEXP ptr, bool on) {
  return agq_ptr(ptr)->set_patterns(on);
}

// Switch the scalar fast path (one random effect, logit or log link) off or
// back on; the general code then computes the same quantities (for tests).
// [[Rcpp::export]]
bool cpp_agq_set_fast(SEXP ptr, bool on) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  eng->set_fast(on);
  return eng->fast();
}

// Take each mode search's last Newton step (AgqEngine::set_polish()).
// [[Rcpp::export]]
void cpp_agq_set_polish(SEXP ptr, bool on) { agq_ptr(ptr)->set_polish(on); }

// Forget the warm-start modes (used before refits from new starting values).
// [[Rcpp::export]]
void cpp_agq_reset(SEXP ptr) { agq_ptr(ptr)->reset_modes(); }

// Free the engine now rather than at the next garbage collection: it holds
// a cluster-sorted copy of the data (about 60 MB at a million rows), which
// the fitted object does not need. Later calls on the pointer are errors.
// [[Rcpp::export]]
void cpp_agq_free(SEXP ptr) {
  Rcpp::XPtr<glmmgee::AgqEngine> p(ptr);
  if (p.get()) p.release();
}

// One evaluation of the non-normal random-intercept engine (agq-ranef-dist.cpp):
// rows sorted by cluster, `start` the 0-based first row of each cluster
// followed by n.
// [[Rcpp::export]]
Rcpp::List cpp_dist_eval(Eigen::Map<Eigen::MatrixXd> X, Rcpp::NumericVector y,
                         Rcpp::NumericVector wt, Rcpp::NumericVector offset,
                         Rcpp::IntegerVector start, int family, int link,
                         Eigen::Map<Eigen::VectorXd> beta, int dist,
                         Eigen::Map<Eigen::VectorXd> prior, double step) {
  using namespace glmmgee;
  const int n = X.rows();
  if (y.size() != n || wt.size() != n || offset.size() != n)
    Rcpp::stop("'y', 'wt' and 'offset' must have one value per row of 'X'");
  if (beta.size() != X.cols()) Rcpp::stop("'beta' must have one value per column of 'X'");
  if (start.size() < 2 || start[0] != 0 || start[start.size() - 1] != n)
    Rcpp::stop("'start' must run from 0 to n");
  for (R_xlen_t i = 1; i < start.size(); ++i)
    if (start[i] <= start[i - 1]) Rcpp::stop("'start' must be increasing (no empty cluster)");
  DistData d{Eigen::Map<const Eigen::MatrixXd>(X.data(), X.rows(), X.cols()),
             y.begin(), wt.begin(), offset.begin(),
             std::vector<int>(start.begin(), start.end()), family, link};
  DistResult r = dist_evaluate(d, beta, dist, prior, step);
  return Rcpp::List::create(
      Rcpp::Named("loglik") = r.loglik, Rcpp::Named("gradient") = r.gradient,
      Rcpp::Named("cluster_loglik") = r.cl_loglik, Rcpp::Named("mode") = r.mode,
      Rcpp::Named("mean") = r.mean, Rcpp::Named("var") = r.var,
      Rcpp::Named("scale") = r.scale, Rcpp::Named("post") = r.post,
      Rcpp::Named("mode_failures") = r.mode_failures);
}
