// A shard's share of the GLM starting-value iteration (agq-start.cpp): the
// distributed driver (R/dist-engine.R) sums these over shards, in shard
// order, and takes glm_start()'s Newton steps on the totals, so a sharded fit
// starts where the in-memory fit starts.
#include "agq.h"

namespace glmmgee {

double AgqEngine::glm_sums(const Eigen::VectorXd& beta, Eigen::VectorXd& grad,
                           Eigen::MatrixXd& info) const {
  if (beta.size() != p_) throw std::invalid_argument("beta has the wrong length");
  const ObsModel& fam = *fam_;
  Eigen::VectorXd eta = X_ * beta;
  eta += off_;
  std::vector<ObsDerivs> dv(n_);
  fam.derivs_n(y_.data(), wt_.data(), eta.data(), n_, 0.0, dv.data());
  double l = 0.0;
  Eigen::VectorXd d1(n_), w(n_);
  for (int j = 0; j < n_; ++j) {
    l += dv[j].l;
    d1[j] = dv[j].d1;
    w[j] = -dv[j].d2;
  }
  grad.noalias() = X_.transpose() * d1;
  info.noalias() = X_.transpose() * w.asDiagonal() * X_;
  return l;
}

}  // namespace glmmgee

static glmmgee::AgqEngine* shard_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::AgqEngine> p(ptr);
  if (!p.get()) Rcpp::stop("the shard's GLMM engine is no longer available");
  return p.get();
}

// Log-likelihood, score and information of the GLM without random effects
// at beta, on one shard's rows.
// [[Rcpp::export]]
Rcpp::List cpp_agq_glm_sums(SEXP ptr, Eigen::Map<Eigen::VectorXd> beta) {
  glmmgee::AgqEngine* eng = shard_engine(ptr);
  Eigen::VectorXd grad;
  Eigen::MatrixXd info;
  double l = 0.0;
  try {
    l = eng->glm_sums(beta, grad, info);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return Rcpp::List::create(Rcpp::Named("loglik") = l, Rcpp::Named("gradient") = grad,
                            Rcpp::Named("information") = info);
}
