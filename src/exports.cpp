// The package's entry points from R: thin wrappers only. They check sizes at
// the boundary, map R memory read-only, call the engines and return lists.
#include <RcppEigen.h>
#include "families.h"

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

// ---- GLMM, one grouping factor: Laplace / AGHQ engine ----------------------
#include "agq.h"

// Builds the engine for one fit. The returned pointer lives only while the
// fit runs (held in an R closure); fitted objects never keep it.
// [[Rcpp::export]]
SEXP cpp_agq_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Z,
                 Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> wt,
                 Eigen::Map<Eigen::VectorXd> offset, Rcpp::IntegerVector group,
                 int M, Rcpp::IntegerVector lam_row, Rcpp::IntegerVector lam_col,
                 int family, int link, int nAGQ, int nthreads) {
  const long n = X.rows();
  if (Z.rows() != n || y.size() != n || wt.size() != n || offset.size() != n ||
      group.size() != n)
    Rcpp::stop("X, Z, y, weights, offset and group must all have %d rows", (int)n);
  if (M < 1) Rcpp::stop("need at least one cluster");
  if (nAGQ < 1) Rcpp::stop("nAGQ must be at least 1");
  const int q = (int)Z.cols();
  if (lam_row.size() != lam_col.size()) Rcpp::stop("bad covariance pattern");
  for (int e = 0; e < lam_row.size(); ++e)
    if (lam_row[e] < 0 || lam_row[e] >= q || lam_col[e] < 0 || lam_col[e] > lam_row[e])
      Rcpp::stop("covariance pattern entry %d is not in the lower triangle", e + 1);
  std::vector<int> lr(lam_row.begin(), lam_row.end()), lc(lam_col.begin(), lam_col.end());
  try {
    glmmgee::AgqEngine* eng = new glmmgee::AgqEngine(
        X, Z, y, wt, offset, group.begin(), M, lr, lc, family, link, nAGQ, nthreads);
    return Rcpp::XPtr<glmmgee::AgqEngine>(eng, true);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

static glmmgee::AgqEngine* agq_ptr(SEXP ptr) {
  Rcpp::XPtr<glmmgee::AgqEngine> p(ptr);
  if (!p.get()) Rcpp::stop("the GLMM engine is no longer available (was the object saved?)");
  return p.get();
}

// Marginal log-likelihood and (optionally) its gradient at theta.
// [[Rcpp::export]]
Rcpp::List cpp_agq_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  glmmgee::AgqResult r = eng->evaluate(theta, gradient);
  return Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                            Rcpp::Named("gradient") = r.gradient,
                            Rcpp::Named("newton_failures") = r.newton_failures);
}

// Per-cluster modes, conditional variances and posterior moments at theta.
// [[Rcpp::export]]
Rcpp::List cpp_agq_summaries(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::AgqEngine* eng = agq_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  glmmgee::AgqSummaries s = eng->summaries(theta);
  return Rcpp::List::create(Rcpp::Named("mode") = s.mode,
                            Rcpp::Named("mode_var") = s.mode_var,
                            Rcpp::Named("post_mean") = s.post_mean,
                            Rcpp::Named("post_var") = s.post_var,
                            Rcpp::Named("loglik") = s.loglik,
                            Rcpp::Named("newton_failures") = s.newton_failures);
}

// Change the number of quadrature points of an existing engine.
// [[Rcpp::export]]
void cpp_agq_set_nagq(SEXP ptr, int nAGQ) {
  if (nAGQ < 1) Rcpp::stop("nAGQ must be at least 1");
  agq_ptr(ptr)->set_nagq(nAGQ);
}

// Forget the warm-start modes (used before refits from new starting values).
// [[Rcpp::export]]
void cpp_agq_reset(SEXP ptr) { agq_ptr(ptr)->reset_modes(); }

// Gauss-Hermite rule for the standard normal weight (exported for tests).
// [[Rcpp::export]]
Rcpp::List cpp_gh_rule(int K) {
  if (K < 1 || K > 200) Rcpp::stop("K must be between 1 and 200");
  glmmgee::GhRule r = glmmgee::gh_rule(K);
  return Rcpp::List::create(Rcpp::Named("z") = r.z,
                            Rcpp::Named("w") = Eigen::VectorXd(r.logw.array().exp()));
}
