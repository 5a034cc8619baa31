// A shard's share of a distributed GEE fit (R/fit-gee-sharded.R): each
// worker keeps one engine per shard and returns sums over its clusters
// (start equations, correlation moments, the whitened cross-product, the
// variance pieces); the main process adds them in shard order and takes the
// same steps as GeeEngine::fit() on the totals.
#include <RcppEigen.h>
#include "engines/gee/gee.h"
#include "entry/entry-gee.h"

namespace glmmgee {

std::vector<double> GeeEngine::shard_moments(const Eigen::VectorXd& beta, std::string& error) {
  if (beta.size() != p_) throw std::invalid_argument("beta has the wrong length");
  Moments mom;
  std::vector<double> out;
  const int ms = moment_size();
  if (K_ == 0) {
    out.assign(2 + 2 * ms, 0.0);
    return out;
  }
  if (!pass_resid(beta, -1, mom, error)) return out;
  out.reserve(2 + 2 * ms);
  out.push_back(mom.sum_e2);
  out.push_back(mom.nobs);
  out.insert(out.end(), mom.S.begin(), mom.S.end());
  out.insert(out.end(), mom.C.begin(), mom.C.end());
  return out;
}

Eigen::MatrixXd GeeEngine::shard_cross(const GeeParams& par, int& bad_code, int& nonpd) {
  Eigen::MatrixXd ZtZ = Eigen::MatrixXd::Zero(p_ + 1, p_ + 1);
  bad_code = 0;
  nonpd = 0;
  if (K_ == 0) return ZtZ;
  const bool fresh = cache_skip_ == -1 && cache_beta_.size() == p_ &&
                     (cache_beta_.array() == par.beta.array()).all();
  if (!fresh) {
    Moments mom;
    std::string err;
    if (!pass_resid(par.beta, -1, mom, err)) throw std::runtime_error(err);
  }
  const int bad = pass_cross(par, -1, ZtZ, nullptr, nullptr);
  if (bad >= 0) bad_code = code_[bad];
  nonpd = last_nonpd_;
  return ZtZ;
}

}  // namespace glmmgee

namespace {

glmmgee::GeeEngine* gee_shard(SEXP ptr) {
  Rcpp::XPtr<glmmgee::GeeEngine> p(ptr);
  if (!p.get()) Rcpp::stop("the shard's GEE engine is no longer available");
  return p.get();
}

glmmgee::GeeParams gee_params(const Rcpp::NumericVector& beta, const Rcpp::NumericVector& alpha,
                              double phi, const glmmgee::GeeEngine& eng) {
  if (beta.size() != eng.ncoef()) Rcpp::stop("'beta' has the wrong length");
  if (alpha.size() != eng.nalpha()) Rcpp::stop("'alpha' has the wrong length");
  glmmgee::GeeParams par;
  par.beta = Rcpp::as<Eigen::VectorXd>(beta);
  par.alpha = Rcpp::as<Eigen::VectorXd>(alpha);
  par.phi = phi;
  return par;
}

}  // namespace

// Defined in entry-gee.cpp.
namespace glmmgee_exports {
glmmgee::GeeInput gee_input_list(const Rcpp::List& data, const Rcpp::List& spec);
Rcpp::List gee_variance_to_list(const glmmgee::GeeVariance& v);
}

// An engine on one shard's rows; `data` must stay alive (the worker keeps it
// with the pointer) since the engine maps its memory.
SEXP glmmgee_exports::gee_shard_new(Rcpp::List data, Rcpp::List spec) {
  glmmgee::GeeInput in = glmmgee_exports::gee_input_list(data, spec);
  in.T_global = Rcpp::as<int>(spec["T_global"]);
  glmmgee::GeeEngine* eng = new glmmgee::GeeEngine(in);
  eng->set_threads(Rcpp::as<int>(spec["threads"]));
  Rcpp::XPtr<glmmgee::GeeEngine> ptr(eng, true);
  return ptr;
}

// Cluster structure of the shard: usable clusters, active rows, wave
// positions, the first duplicated-wave cluster (its code in the shard).
Rcpp::List glmmgee_exports::gee_shard_info(SEXP ptr) {
  glmmgee::GeeEngine* eng = gee_shard(ptr);
  return Rcpp::List::create(Rcpp::Named("K") = eng->clusters(),
                            Rcpp::Named("T") = eng->positions(),
                            Rcpp::Named("nactive") = eng->nactive(),
                            Rcpp::Named("duplicated") = eng->duplicated_wave_cluster());
}

// The starting weighted least-squares equations at eta0 (the shard's rows).
Rcpp::List glmmgee_exports::gee_shard_start(SEXP ptr, Rcpp::NumericVector eta0) {
  glmmgee::GeeEngine* eng = gee_shard(ptr);
  if (eta0.size() != eng->nrows()) Rcpp::stop("'eta_start' must have one value per row of the shard");
  Eigen::MatrixXd H;
  Eigen::VectorXd g;
  bool bad = false;
  eng->start_sums(eta0.begin(), H, g, bad);
  return Rcpp::List::create(Rcpp::Named("H") = H, Rcpp::Named("g") = g,
                            Rcpp::Named("bad") = bad);
}

// Residual pass at beta: c(sum e^2, nobs, S, C), or an error text.
Rcpp::List glmmgee_exports::gee_shard_moments(SEXP ptr, Rcpp::NumericVector beta) {
  glmmgee::GeeEngine* eng = gee_shard(ptr);
  std::string err;
  std::vector<double> m;
  try {
    m = eng->shard_moments(Rcpp::as<Eigen::VectorXd>(beta), err);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return Rcpp::List::create(Rcpp::Named("m") = Rcpp::wrap(m), Rcpp::Named("error") = err);
}

// Whitened cross-product sum [Dt, e]' R^{-1} [Dt, e] at the parameters.
Rcpp::List glmmgee_exports::gee_shard_cross(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericVector alpha,
                               double phi) {
  glmmgee::GeeEngine* eng = gee_shard(ptr);
  const glmmgee::GeeParams par = gee_params(beta, alpha, phi, *eng);
  int bad = 0, nonpd = 0;
  Eigen::MatrixXd Z;
  try {
    Z = eng->shard_cross(par, bad, nonpd);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return Rcpp::List::create(Rcpp::Named("ZtZ") = Z, Rcpp::Named("bad") = bad,
                            Rcpp::Named("nonpd") = nonpd);
}

// The shard's share of the variance estimators, given H and U of all shards.
Rcpp::List glmmgee_exports::gee_shard_variance(SEXP ptr, Rcpp::NumericVector beta, Rcpp::NumericVector alpha,
                                  double phi, int flags, Eigen::Map<Eigen::MatrixXd> H,
                                  Eigen::Map<Eigen::VectorXd> U) {
  glmmgee::GeeEngine* eng = gee_shard(ptr);
  const glmmgee::GeeParams par = gee_params(beta, alpha, phi, *eng);
  if (H.rows() != beta.size() || H.cols() != beta.size() || U.size() != beta.size())
    Rcpp::stop("'H' and 'U' must match the coefficients");
  const Eigen::MatrixXd Hg = H;
  const Eigen::VectorXd Ug = U;
  glmmgee::GeeControl ctl;
  ctl.threads = 1;
  glmmgee::GeeVariance v;
  if (eng->clusters() == 0) {
    // No cluster with positive weight: zero shares of what the other
    // shards return (the sandwich too), and only the estimators asked for,
    // so that the sums over shards do not depend on which shard is empty.
    const Eigen::MatrixXd Z0 = Eigen::MatrixXd::Zero(beta.size(), beta.size());
    v.B = v.HI = v.robust = Z0;
    if (flags & glmmgee::VAR_MD) v.md = Z0;
    if (flags & glmmgee::VAR_KC) v.kc = Z0;
    if (flags & glmmgee::VAR_JACK) v.jack = Z0;
    if (flags & glmmgee::VAR_J1S) v.j1s = Z0;
    return glmmgee_exports::gee_variance_to_list(v);
  }
  try {
    v = eng->variance(par, flags, ctl, &Hg, &Ug);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return glmmgee_exports::gee_variance_to_list(v);
}

// The scale and working-correlation estimates from moments summed over
// shards, by the engine's own rule.
Rcpp::List glmmgee_exports::gee_assoc(int corstr, int mdep, bool scale_fix, double scale_value,
                         Rcpp::NumericVector m, int ms, Rcpp::NumericVector alpha) {
  if (m.size() != 2 + 2 * ms) Rcpp::stop("moments have the wrong length");
  glmmgee::GeeMoments mom;
  mom.sum_e2 = m[0];
  mom.nobs = m[1];
  mom.S.assign(m.begin() + 2, m.begin() + 2 + ms);
  mom.C.assign(m.begin() + 2 + ms, m.end());
  glmmgee::GeeParams par;
  par.alpha = Rcpp::as<Eigen::VectorXd>(alpha);
  glmmgee::gee_assoc_update(corstr, mdep, scale_fix, scale_value, mom, par);
  return Rcpp::List::create(Rcpp::Named("alpha") = par.alpha, Rcpp::Named("phi") = par.phi);
}
