// The package's entry points from R: thin wrappers only. They check sizes at
// the boundary, map R memory read-only, call the engines and return lists.
#include <RcppEigen.h>
#include "families.h"
#include "gee.h"
#include "agq-dist.h"
#include "engine-args.h"
#include "known-gaussian.h"
#include "known-laplace.h"
#include "resources.h"

// [[Rcpp::depends(RcppEigen, BH)]]

//' Family and link codes shared with R (single source of truth)
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_family_table() {
  using namespace glmmgee;
  const auto& fams = family_names();
  const auto& links = link_names();
  Rcpp::CharacterVector pf, pl;
  for (size_t f = 0; f < fams.size(); ++f)
    for (size_t l = 0; l < links.size(); ++l)
      if (make_obs_model((int)f, (int)l)) { pf.push_back(fams[f]); pl.push_back(links[l]); }
  return Rcpp::List::create(
      Rcpp::Named("family") = Rcpp::wrap(fams),
      Rcpp::Named("link") = Rcpp::wrap(links),
      Rcpp::Named("supported") = Rcpp::DataFrame::create(
          Rcpp::Named("family") = pf, Rcpp::Named("link") = pl,
          Rcpp::Named("stringsAsFactors") = false));
}

// Mean-model and log-likelihood pieces of one family, vectorised, so R-level
// tests can check every family against stats:: on the same inputs.
// [[Rcpp::export]]
Rcpp::List cpp_family_eval(int family, int link, Rcpp::NumericVector y,
                           Rcpp::NumericVector wt, Rcpp::NumericVector eta,
                           double phi) {
  using namespace glmmgee;
  std::unique_ptr<ObsModel> m = make_obs_model(family, link);
  if (!m) Rcpp::stop("unsupported family/link codes");
  const R_xlen_t n = eta.size();
  if (y.size() != n || wt.size() != n) Rcpp::stop("'y', 'wt' and 'eta' differ in length");
  m->set_phi(phi);
  Rcpp::NumericVector mu(n), mu_eta(n), var(n), ll(n), d1(n), d2(n), d3(n),
      p0(n), p1(n), p2(n);
  for (R_xlen_t i = 0; i < n; ++i) {
    mu[i] = m->linkinv(eta[i]);
    mu_eta[i] = m->mu_eta(eta[i]);
    var[i] = m->variance(mu[i]);
    ObsDerivs d = m->derivs(y[i], wt[i], eta[i], phi);
    ll[i] = d.l + m->logconst(y[i], wt[i]);
    d1[i] = d.d1; d2[i] = d.d2; d3[i] = d.d3;
    double o[3];
    m->dphi(y[i], wt[i], eta[i], phi, o);
    p0[i] = o[0]; p1[i] = o[1]; p2[i] = o[2];
  }
  return Rcpp::List::create(Rcpp::Named("mu") = mu, Rcpp::Named("mu_eta") = mu_eta,
                            Rcpp::Named("variance") = var, Rcpp::Named("loglik") = ll,
                            Rcpp::Named("d1") = d1, Rcpp::Named("d2") = d2,
                            Rcpp::Named("d3") = d3, Rcpp::Named("dphi_l") = p0,
                            Rcpp::Named("dphi_d1") = p1, Rcpp::Named("dphi_d2") = p2);
}

// Largest useful thread count (processors, OpenMP's thread limit).
// [[Rcpp::export]]
int cpp_max_threads() { return glmmgee::max_threads(); }

// What a request for `requested` threads gets in this process, and whether
// it is a forked child (for tests of the fork rule).
// [[Rcpp::export]]
Rcpp::List cpp_thread_info(int requested) {
  return Rcpp::List::create(Rcpp::Named("forked_child") = glmmgee::in_forked_child(),
                            Rcpp::Named("max") = glmmgee::max_threads(),
                            Rcpp::Named("usable") = glmmgee::usable_threads(requested));
}

// ---- GLMM, one grouping factor: Laplace / AGHQ engine ----------------------
#include "agq.h"
#include "exports-agq.h"

// Builds the engine for one fit. The returned pointer lives only while the
// fit runs (held in an R closure); fitted objects never keep it.
// [[Rcpp::export]]
SEXP cpp_agq_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Z,
                 Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> wt,
                 Eigen::Map<Eigen::VectorXd> offset, Rcpp::IntegerVector group,
                 int M, Rcpp::IntegerVector lam_row, Rcpp::IntegerVector lam_col,
                 int family, int link, int nAGQ, int nthreads) {
  glmmgee::check_engine_rows(X.rows(), {Z.rows(), y.size(), wt.size(), offset.size(), group.size()},
                             "X, Z, y, weights, offset and group");
  std::vector<int> lr, lc;
  glmmgee::check_engine_pattern(M, nAGQ, (int)Z.cols(), lam_row, lam_col, lr, lc);
  try {
    glmmgee::AgqEngine* eng = new glmmgee::AgqEngine(
        X, Z, y, wt, offset, group.begin(), M, lr, lc, family, link, nAGQ, nthreads);
    return Rcpp::XPtr<glmmgee::AgqEngine>(eng, true);
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

// The same with the gradient's Lambda part along the columns of dirs
// (Lambda's entries x directions): c(beta, t(dirs) %*% d/dlambda, rest).
// [[Rcpp::export]]
Rcpp::List cpp_agq_eval_dir(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient,
                            Eigen::Map<Eigen::MatrixXd> dirs) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  glmmgee::check_engine_theta(*eng, theta);
  if (dirs.rows() != eng->nlambda())
    Rcpp::stop("dirs must have %d rows (one per entry of Lambda)", eng->nlambda());
  Rcpp::checkUserInterrupt();
  return glmmgee::agq_result_list(eng->evaluate(theta, gradient, Eigen::MatrixXd(dirs)));
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

// Switch the scalar fast path (one random effect, logit or log link) off or
// back on; the general code then computes the same quantities (for tests).
// [[Rcpp::export]]
bool cpp_agq_set_fast(SEXP ptr, bool on) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  eng->set_fast(on);
  return eng->fast();
}

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

// Gauss-Hermite rule for the standard normal weight (exported for tests).
// [[Rcpp::export]]
Rcpp::List cpp_gh_rule(int K) {
  if (K < 1 || K > 200) Rcpp::stop("K must be between 1 and 200");
  glmmgee::GhRule r = glmmgee::gh_rule(K);
  return Rcpp::List::create(Rcpp::Named("z") = r.z,
                            Rcpp::Named("w") = Eigen::VectorXd(r.logw.array().exp()));
}

// ---- GEE ------------------------------------------------------------------

//' Working-correlation codes shared with R (single source of truth)
//' @noRd
// [[Rcpp::export]]
Rcpp::CharacterVector cpp_gee_corstr_table() {
  return Rcpp::wrap(glmmgee::corstr_names());
}

namespace {

// Read-only views of R double vectors and matrices (no copies: R must pass
// double storage, which gee_fit() ensures).
Eigen::Map<const Eigen::VectorXd> map_vector(SEXP x, const char* what) {
  if (TYPEOF(x) != REALSXP) Rcpp::stop("gee data: '%s' must be a double vector", what);
  return Eigen::Map<const Eigen::VectorXd>(REAL(x), Rf_xlength(x));
}
Eigen::Map<const Eigen::MatrixXd> map_matrix(SEXP x, const char* what) {
  if (TYPEOF(x) != REALSXP || !Rf_isMatrix(x))
    Rcpp::stop("gee data: '%s' must be a double matrix", what);
  return Eigen::Map<const Eigen::MatrixXd>(REAL(x), Rf_nrows(x), Rf_ncols(x));
}

// Unpacks the model-data and specification lists built by R's gee_fit()
// (R/fit-gee.R) into the engine's input, mapping R memory read-only.
glmmgee::GeeInput gee_input(const Rcpp::List& data, const Rcpp::List& spec) {
  glmmgee::GeeInput in;
  const Eigen::Map<const Eigen::MatrixXd> X = map_matrix(data["X"], "X");
  const Eigen::Map<const Eigen::VectorXd> y = map_vector(data["y"], "y");
  const Eigen::Map<const Eigen::VectorXd> w = map_vector(data["weights"], "weights");
  const Eigen::Map<const Eigen::VectorXd> off = map_vector(data["offset"], "offset");
  if (TYPEOF(data["id"]) != INTSXP) Rcpp::stop("gee data: 'id' must be an integer vector");
  const Rcpp::IntegerVector id = data["id"];
  in.n = (int)X.rows();
  in.p = (int)X.cols();
  if (y.size() != in.n || w.size() != in.n || off.size() != in.n || id.size() != in.n)
    Rcpp::stop("gee data: 'y', 'weights', 'offset' and 'id' must have nrow(X) elements");
  in.X = X.data(); in.y = y.data(); in.w = w.data(); in.offset = off.data();
  in.id = id.begin();
  in.M = Rcpp::as<int>(data["M"]);
  for (int i = 0; i < in.n; ++i)
    if (id[i] < 1 || id[i] > in.M) Rcpp::stop("gee data: cluster codes must lie in 1..M");
  if (!Rf_isNull(data["wave"])) {
    if (TYPEOF(data["wave"]) != INTSXP) Rcpp::stop("gee data: 'wave' must be an integer vector");
    const Rcpp::IntegerVector wv = data["wave"];
    if (wv.size() != in.n) Rcpp::stop("gee data: 'wave' must have nrow(X) elements");
    for (int i = 0; i < in.n; ++i)
      if (wv[i] < 1) Rcpp::stop("gee data: wave positions must be >= 1");
    in.wave = wv.begin();
  }
  in.family = Rcpp::as<int>(spec["family"]);
  in.link = Rcpp::as<int>(spec["link"]);
  if (!glmmgee::make_obs_model(in.family, in.link)) Rcpp::stop("unsupported family/link codes");
  in.corstr = Rcpp::as<int>(spec["corstr"]);
  if (in.corstr < 0 || in.corstr >= (int)glmmgee::corstr_names().size())
    Rcpp::stop("unknown working-correlation code");
  in.mdep = Rcpp::as<int>(spec["mdep"]);
  if (!Rf_isNull(spec["Rfixed"])) {
    const Eigen::Map<const Eigen::MatrixXd> R = map_matrix(spec["Rfixed"], "Rfixed");
    if (R.rows() != R.cols()) Rcpp::stop("gee spec: 'Rfixed' must be square");
    in.Rfixed = R.data();
    in.Rdim = (int)R.rows();
  }
  in.scale_fix = Rcpp::as<bool>(spec["scale_fix"]);
  in.scale_value = Rcpp::as<double>(spec["scale_value"]);
  if (spec.containsElementNamed("family_phi")) {
    in.family_phi = Rcpp::as<double>(spec["family_phi"]);
    if (!std::isfinite(in.family_phi)) Rcpp::stop("gee spec: 'family_phi' must be finite");
  }
  return in;
}

glmmgee::GeeControl gee_control_from(const Rcpp::List& spec) {
  glmmgee::GeeControl c;
  c.epsilon = Rcpp::as<double>(spec["epsilon"]);
  c.maxit = Rcpp::as<int>(spec["maxit"]);
  c.trace = Rcpp::as<bool>(spec["trace"]);
  c.threads = Rcpp::as<int>(spec["threads"]);
  return c;
}

SEXP mat_or_null(const Eigen::MatrixXd& m) {
  if (m.size() == 0) return R_NilValue;
  return Rcpp::wrap(m);
}

Rcpp::List gee_variance_list(const glmmgee::GeeVariance& v) {
  return Rcpp::List::create(
      Rcpp::Named("H") = mat_or_null(v.H), Rcpp::Named("B") = mat_or_null(v.B),
      Rcpp::Named("U") = Rcpp::wrap(v.U), Rcpp::Named("robust") = mat_or_null(v.robust),
      Rcpp::Named("model") = mat_or_null(v.model), Rcpp::Named("md") = mat_or_null(v.md),
      Rcpp::Named("kc") = mat_or_null(v.kc), Rcpp::Named("jack") = mat_or_null(v.jack),
      Rcpp::Named("j1s") = mat_or_null(v.j1s), Rcpp::Named("fij") = mat_or_null(v.fij),
      Rcpp::Named("HI") = mat_or_null(v.HI), Rcpp::Named("quasi") = v.quasi,
      Rcpp::Named("jack_nonconverged") = v.jack_nonconverged,
      Rcpp::Named("nonpd_clusters") = v.nonpd_clusters,
      Rcpp::Named("error") = v.error);
}

}  // namespace

// For the per-shard entries of distributed fits (gee-shard.cpp).
namespace glmmgee_exports {
glmmgee::GeeInput gee_input_list(const Rcpp::List& data, const Rcpp::List& spec) {
  return gee_input(data, spec);
}
Rcpp::List gee_variance_to_list(const glmmgee::GeeVariance& v) { return gee_variance_list(v); }
}  // namespace glmmgee_exports

// Fits a GEE: clusters, scoring to convergence, then the variance estimators
// selected by spec$vflags. Errors that R should word are returned, not thrown.
// [[Rcpp::export]]
Rcpp::List cpp_gee_fit(Rcpp::List data, Rcpp::List spec) {
  const glmmgee::GeeInput in = gee_input(data, spec);
  const glmmgee::GeeControl ctl = gee_control_from(spec);
  glmmgee::GeeEngine eng(in);
  eng.set_threads(ctl.threads);
  Rcpp::List cl = Rcpp::List::create(
      Rcpp::Named("K") = eng.clusters(), Rcpp::Named("T") = eng.positions(),
      Rcpp::Named("nactive") = eng.nactive(),
      Rcpp::Named("sizes") = Rcpp::wrap(eng.cluster_sizes()),
      Rcpp::Named("duplicated") = eng.duplicated_wave_cluster());
  if (eng.duplicated_wave_cluster() > 0 || eng.clusters() == 0)
    return Rcpp::List::create(Rcpp::Named("clusters") = cl);
  glmmgee::GeeParams start;
  std::string err;
  if (!Rf_isNull(data["beta_start"])) {
    start.beta = Rcpp::as<Eigen::VectorXd>(data["beta_start"]);
    if (start.beta.size() != in.p) Rcpp::stop("'start' must have one value per coefficient");
  } else {
    const Rcpp::NumericVector eta0 = data["eta_start"];
    if (eta0.size() != in.n) Rcpp::stop("gee data: 'eta_start' must have nrow(X) elements");
    start.beta = eng.start_from_eta(eta0.begin(), err);
  }
  if (!err.empty())
    return Rcpp::List::create(Rcpp::Named("clusters") = cl, Rcpp::Named("error") = err);
  const glmmgee::GeeFitResult fit = eng.fit(start, ctl);
  Rcpp::List out = Rcpp::List::create(
      Rcpp::Named("clusters") = cl, Rcpp::Named("beta") = Rcpp::wrap(fit.par.beta),
      Rcpp::Named("alpha") = Rcpp::wrap(fit.par.alpha), Rcpp::Named("phi") = fit.par.phi,
      Rcpp::Named("iter") = fit.iter, Rcpp::Named("converged") = fit.converged,
      Rcpp::Named("delta") = fit.delta, Rcpp::Named("score") = fit.score,
      Rcpp::Named("halved") = fit.halved, Rcpp::Named("error") = fit.error);
  if (!fit.error.empty()) return out;
  out["variance"] = gee_variance_list(eng.variance(fit.par, Rcpp::as<int>(spec["vflags"]), ctl));
  // No linear predictors or fitted means: cpp_gee_fitted() gives them when
  // asked, so they are not allocated while the engine holds its own memory.
  return out;
}

// Linear predictors and fitted means at beta, by the engine's own loop: a
// fitted object rebuilds them on access instead of storing 2 n doubles.
// [[Rcpp::export]]
Rcpp::List cpp_gee_fitted(Rcpp::List data, Rcpp::List spec, Rcpp::NumericVector beta) {
  const glmmgee::GeeInput in = gee_input(data, spec);
  glmmgee::GeeEngine eng(in);
  if (beta.size() != in.p) Rcpp::stop("'beta' must have one value per column of X");
  Rcpp::NumericVector eta(in.n), mu(in.n);
  eng.fitted(Rcpp::as<Eigen::VectorXd>(beta), eta.begin(), mu.begin());
  return Rcpp::List::create(Rcpp::Named("eta") = eta, Rcpp::Named("mu") = mu);
}

// Variance estimators (and H, B, U) at given parameter values: on-demand
// vcov types and the generalized score test.
// [[Rcpp::export]]
Rcpp::List cpp_gee_variance(Rcpp::List data, Rcpp::List spec, Rcpp::NumericVector beta,
                            Rcpp::NumericVector alpha, double phi) {
  const glmmgee::GeeInput in = gee_input(data, spec);
  const glmmgee::GeeControl ctl = gee_control_from(spec);
  glmmgee::GeeEngine eng(in);
  if (beta.size() != in.p) Rcpp::stop("'beta' must have one value per column of X");
  if (alpha.size() != eng.nalpha()) Rcpp::stop("'alpha' has the wrong length");
  glmmgee::GeeParams par;
  par.beta = Rcpp::as<Eigen::VectorXd>(beta);
  par.alpha = Rcpp::as<Eigen::VectorXd>(alpha);
  par.phi = phi;
  return gee_variance_list(eng.variance(par, Rcpp::as<int>(spec["vflags"]), ctl));
}

// ---- GLMM, any random-effect terms: sparse Laplace engine -------------------
#include "laplace.h"

// Lambda's pattern from 0-based (row, col, parameter) triplets, checked
// against a Q x Q Lambda with ntheta parameters.
static glmmgee::LambdaPattern lambda_pattern(const Rcpp::IntegerVector& lam_row,
                                             const Rcpp::IntegerVector& lam_col,
                                             const Rcpp::IntegerVector& lam_k, int ntheta,
                                             int Q) {
  if (ntheta < 1) Rcpp::stop("need at least one covariance parameter");
  if (lam_row.size() != lam_col.size() || lam_row.size() != lam_k.size())
    Rcpp::stop("Lambda pattern vectors differ in length");
  glmmgee::LambdaPattern lam;
  lam.ntheta = ntheta;
  for (R_xlen_t e = 0; e < lam_row.size(); ++e) {
    if (lam_row[e] < 0 || lam_row[e] >= Q || lam_col[e] < 0 || lam_col[e] >= Q)
      Rcpp::stop("Lambda pattern entry %d is outside %d x %d", (int)e + 1, Q, Q);
    if (lam_k[e] < 0 || lam_k[e] >= ntheta)
      Rcpp::stop("Lambda pattern entry %d refers to parameter %d of %d", (int)e + 1,
                 lam_k[e] + 1, ntheta);
    lam.row.push_back(lam_row[e]);
    lam.col.push_back(lam_col[e]);
    lam.k.push_back(lam_k[e]);
  }
  return lam;
}

// Z arrives as a dgCMatrix (n x Q); Lambda's pattern as 0-based (row, col,
// parameter) triplets. The pointer lives only while a fit runs.
// [[Rcpp::export]]
SEXP cpp_sparse_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::MappedSparseMatrix<double> Z,
                    Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> wt,
                    Eigen::Map<Eigen::VectorXd> offset, Rcpp::IntegerVector lam_row,
                    Rcpp::IntegerVector lam_col, Rcpp::IntegerVector lam_k,
                    int ntheta, int family, int link) {
  const long n = X.rows();
  if (Z.rows() != n || y.size() != n || wt.size() != n || offset.size() != n)
    Rcpp::stop("X, Z, y, weights and offset must all have %d rows", (int)n);
  const int Q = (int)Z.cols();
  if (Q < 1) Rcpp::stop("Z needs at least one column");
  const glmmgee::LambdaPattern lam = lambda_pattern(lam_row, lam_col, lam_k, ntheta, Q);
  glmmgee::SparseLaplace::RowMat Zr(Z);
  glmmgee::SparseLaplace* eng =
      new glmmgee::SparseLaplace(X, Zr, y, wt, offset, lam, family, link);
  return Rcpp::XPtr<glmmgee::SparseLaplace>(eng, true);
}

static Rcpp::List sparse_result_list(const glmmgee::SparseResult& r) {
  return Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                            Rcpp::Named("gradient") = r.gradient,
                            Rcpp::Named("pirls_iterations") = r.pirls_iterations,
                            Rcpp::Named("failed") = r.pirls_failed);
}

static glmmgee::SparseLaplace* sparse_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::SparseLaplace> p(ptr);
  if (!p) Rcpp::stop("the sparse engine pointer is no longer valid");
  return p.get();
}

// The sparse engine's version of cpp_agq_set_aux().
// [[Rcpp::export]]
int cpp_sparse_set_aux(SEXP ptr, int kind, Eigen::Map<Eigen::MatrixXd> XA,
                       Rcpp::IntegerVector pred, Eigen::Map<Eigen::MatrixXd> aoff) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  std::vector<int> pr(pred.begin(), pred.end());
  eng->set_aux(kind, XA, pr, aoff);
  return eng->npar();
}

// With reuse = TRUE and the gradient asked for, a last evaluation at theta
// made without it is completed (SparseLaplace::evaluate_gradient()).
// [[Rcpp::export]]
Rcpp::List cpp_sparse_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient,
                           bool reuse = false) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  Rcpp::checkUserInterrupt();  // every optimizer step passes here
  return sparse_result_list(gradient && reuse ? eng->evaluate_gradient(theta)
                                              : eng->evaluate(theta, gradient));
}

// [[Rcpp::export]]
Rcpp::List cpp_sparse_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  glmmgee::SparseModes m = eng->modes(theta);
  if (m.failed) Rcpp::stop("the conditional modes could not be found");
  for (int& i : m.inv_i) ++i;
  for (int& j : m.inv_j) ++j;
  return Rcpp::List::create(Rcpp::Named("u") = m.u, Rcpp::Named("b") = m.b,
                            Rcpp::Named("eta") = m.eta, Rcpp::Named("w") = m.w,
                            Rcpp::Named("logdet") = m.logdet,
                            Rcpp::Named("inv_i") = Rcpp::wrap(m.inv_i),
                            Rcpp::Named("inv_j") = Rcpp::wrap(m.inv_j),
                            Rcpp::Named("inv_x") = Rcpp::wrap(m.inv_x),
                            Rcpp::Named("nnz_factor") = (double)eng->nnz_factor());
}

// [[Rcpp::export]]
Eigen::MatrixXd cpp_sparse_solve(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta,
                                 Eigen::Map<Eigen::MatrixXd> rhs) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta has the wrong length");
  if (rhs.rows() != eng->nre()) Rcpp::stop("rhs must have %d rows", eng->nre());
  return eng->solve(theta, rhs);
}

// One evaluation of the non-normal random-intercept engine (agq-dist.cpp):
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

// Threads for the sparse engine's loops (results do not depend on them);
// returns the number it will use (capped, 1 in a forked child).
// [[Rcpp::export]]
int cpp_sparse_set_threads(SEXP ptr, int nthreads) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  eng->set_threads(nthreads);
  return eng->threads();
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
  const Eigen::Index n = K.rows();
  if (K.cols() != n) Rcpp::stop("cpp_known_dense_factor: K is not square");
  if (levels.isNotNull() && Rcpp::CharacterVector(levels).size() != n)
    Rcpp::stop("cpp_known_dense_factor: %d levels for %d rows",
               (int)Rcpp::CharacterVector(levels).size(), (int)n);
  const double sc = std::max(K.diagonal().cwiseAbs().maxCoeff(), 1e-300);
  double asym = 0;
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = j + 1; i < n; ++i) asym = std::max(asym, std::fabs(K(i, j) - K(j, i)));
  if (!(asym <= tol * sc))
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

// rowSums(L^2) without the temporary L^2.
// [[Rcpp::export]]
Eigen::VectorXd cpp_row_sumsq(Eigen::Map<Eigen::MatrixXd> L) {
  Eigen::VectorXd out = Eigen::VectorXd::Zero(L.rows());
  for (Eigen::Index j = 0; j < L.cols(); ++j) out += L.col(j).cwiseAbs2();
  return out;
}

// ---- Linear mixed models, any random-effect terms: profiled (RE)ML ---------
#include "exports-lmm-grad.h"

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
  const glmmgee::LambdaPattern lam = lambda_pattern(lam_row, lam_col, lam_k, ntheta, Q);
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
