// Entry points of the GEE engines (engines/gee/): GeeEngine in memory and on
// workers, and the ordinal GEE's association models.
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include "engines/gee/gee.h"
#include "util/resources.h"
#include "entry/entry-gee.h"

// ---- forwarded to engines/gee/gee-shard.cpp ----

// [[Rcpp::export]]
SEXP cpp_gee_shard_new(Rcpp::List data, Rcpp::List spec) {
  return glmmgee_exports::gee_shard_new(data, spec);
}

// [[Rcpp::export]]
Rcpp::List cpp_gee_shard_info(SEXP ptr) {
  return glmmgee_exports::gee_shard_info(ptr);
}

// [[Rcpp::export]]
Rcpp::List cpp_gee_shard_start(SEXP ptr, Rcpp::NumericVector eta0) {
  return glmmgee_exports::gee_shard_start(ptr, eta0);
}

// [[Rcpp::export]]
Rcpp::List cpp_gee_shard_moments(SEXP ptr, Rcpp::NumericVector beta) {
  return glmmgee_exports::gee_shard_moments(ptr, beta);
}

// [[Rcpp::export]]
Rcpp::List cpp_gee_shard_cross(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericVector alpha,
                               double phi) {
  return glmmgee_exports::gee_shard_cross(ptr, beta, alpha, phi);
}

// [[Rcpp::export]]
Rcpp::List cpp_gee_shard_variance(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericVector alpha,
                                  double phi, int flags, Eigen::Map<Eigen::MatrixXd> H,
                                  Eigen::Map<Eigen::VectorXd> U) {
  return glmmgee_exports::gee_shard_variance(ptr, beta, alpha, phi, flags, H, U);
}

// [[Rcpp::export]]
Rcpp::List cpp_gee_assoc(int corstr, int mdep, bool scale_fix, double scale_value,
                         Rcpp::NumericVector m, int ms, Rcpp::NumericVector alpha) {
  return glmmgee_exports::gee_assoc(corstr, mdep, scale_fix, scale_value, m, ms, alpha);
}

// ---- forwarded to engines/gee/ordinal-gee-global.cpp ----

// [[Rcpp::export]]
Rcpp::List cpp_ordinal_gee_global(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                                  Eigen::Map<Eigen::VectorXd> offset,
                                  Eigen::Map<Eigen::VectorXi> starts,
                                  Eigen::Map<Eigen::VectorXi> time,
                                  Eigen::Map<Eigen::MatrixXi> group, int J, int nalpha,
                                  Eigen::Map<Eigen::VectorXd> start, int link, int maxit,
                                  double epsilon, bool patterns) {
  return glmmgee_exports::ordinal_gee_global(y, X, offset, starts, time, group, J, nalpha, start,
                                             link, maxit, epsilon, patterns);
}

// ---- forwarded to engines/gee/ordinal-gee.cpp ----

// [[Rcpp::export]]
Rcpp::List cpp_ordinal_gee_lor(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                               Eigen::Map<Eigen::VectorXd> offset,
                               Eigen::Map<Eigen::VectorXi> starts, Eigen::Map<Eigen::VectorXi> time,
                               Eigen::Map<Eigen::MatrixXd> tables, Eigen::Map<Eigen::MatrixXi> pair,
                               int J, Eigen::Map<Eigen::VectorXd> start, int link, int maxit,
                               double tol, double ipf_tol, int ipf_maxit) {
  return glmmgee_exports::ordinal_gee_lor(y, X, offset, starts, time, tables, pair, J, start, link,
                                          maxit, tol, ipf_tol, ipf_maxit);
}

// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_ipf_tables(Eigen::Map<Eigen::MatrixXd> logtab,
                                   Eigen::Map<Eigen::MatrixXd> counts, int J, double tol, int maxit) {
  return glmmgee_exports::ipf_tables(logtab, counts, J, tol, maxit);
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
// An element of `data`, NULL where the list leaves it out.
SEXP data_elem(const Rcpp::List& data, const char* name) {
  return data.containsElementNamed(name) ? SEXP(data[name]) : R_NilValue;
}

glmmgee::GeeInput gee_input(const Rcpp::List& data, const Rcpp::List& spec) {
  glmmgee::GeeInput in;
  auto elem = [&data](const char* name) { return data_elem(data, name); };
  const Eigen::Map<const Eigen::MatrixXd> X = map_matrix(data["X"], "X");
  const Eigen::Map<const Eigen::VectorXd> y = map_vector(data["y"], "y");
  if (TYPEOF(data["id"]) != INTSXP) Rcpp::stop("gee data: 'id' must be an integer vector");
  const Rcpp::IntegerVector id = data["id"];
  in.n = (int)X.rows();
  in.p = (int)X.cols();
  if (y.size() != in.n || id.size() != in.n)
    Rcpp::stop("gee data: 'y' and 'id' must have nrow(X) elements");
  in.X = X.data(); in.y = y.data();
  // NULL weights are all 1 and a NULL offset is 0: no n-vectors of them.
  if (!Rf_isNull(elem("weights"))) {
    const Eigen::Map<const Eigen::VectorXd> w = map_vector(elem("weights"), "weights");
    if (w.size() != in.n) Rcpp::stop("gee data: 'weights' must have nrow(X) elements");
    in.w = w.data();
  }
  if (!Rf_isNull(elem("offset"))) {
    const Eigen::Map<const Eigen::VectorXd> off = map_vector(elem("offset"), "offset");
    if (off.size() != in.n) Rcpp::stop("gee data: 'offset' must have nrow(X) elements");
    in.offset = off.data();
  }
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
  if (!Rf_isNull(data_elem(data, "beta_start"))) {
    start.beta = Rcpp::as<Eigen::VectorXd>(data["beta_start"]);
    if (start.beta.size() != in.p) Rcpp::stop("'start' must have one value per coefficient");
  } else if (Rf_isNull(data_elem(data, "eta_start"))) {
    start.beta = eng.start_from_eta(nullptr, err);
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
