// What the entry points of the one-factor engines have in common (AgqEngine
// and TwoPartEngine, entry-agq.cpp): the engine behind an external pointer,
// theta's length checked at the boundary, the engines' errors turned into R
// errors, and the lists R reads. Templates over the
// engine, so each entry point stays one line.
#ifndef GLMMGEE_EXPORTS_AGQ_H
#define GLMMGEE_EXPORTS_AGQ_H

#include <RcppEigen.h>
#include <exception>
#include "engines/agq/agq.h"

namespace glmmgee {

// The engine behind ptr; `gone` is the error once it has been freed.
template <class Engine>
Engine* engine_at(SEXP ptr, const char* gone) {
  Rcpp::XPtr<Engine> p(ptr);
  if (!p.get()) Rcpp::stop(gone);
  return p.get();
}

template <class Engine>
void check_engine_theta(const Engine& eng, const Eigen::Map<Eigen::VectorXd>& theta) {
  if (theta.size() != eng.npar()) Rcpp::stop("theta must have length %d", eng.npar());
}

inline Rcpp::List agq_result_list(const AgqResult& r) {
  return Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                            Rcpp::Named("gradient") = r.gradient,
                            Rcpp::Named("newton_failures") = r.newton_failures);
}

// Marginal log-likelihood and (optionally) its gradient at theta. Every
// optimizer step passes here, on the main thread: a long fit stops at the
// next evaluation when the user interrupts.
template <class Engine>
Rcpp::List engine_eval(Engine* eng, const Eigen::Map<Eigen::VectorXd>& theta, bool gradient) {
  check_engine_theta(*eng, theta);
  Rcpp::checkUserInterrupt();
  return agq_result_list(eng->evaluate(theta, gradient));
}

// Each cluster's gradient at theta (clusters x parameters): the score
// contributions of a cluster-robust (sandwich) covariance.
template <class Engine>
Eigen::MatrixXd engine_scores(Engine* eng, const Eigen::Map<Eigen::VectorXd>& theta) {
  check_engine_theta(*eng, theta);
  Rcpp::checkUserInterrupt();
  return eng->cluster_scores(theta);
}

// engine_eval() with the gradient and each cluster's score (the rows of
// `scores`, which sum to the gradient): one pass, for a fit that keeps its
// clusters' curvature with its Hessian.
template <class Engine>
Rcpp::List engine_eval_scores(Engine* eng, const Eigen::Map<Eigen::VectorXd>& theta) {
  check_engine_theta(*eng, theta);
  Rcpp::checkUserInterrupt();
  Eigen::MatrixXd S;
  const AgqResult r = eng->evaluate_scores(theta, S);
  Rcpp::List out = agq_result_list(r);
  out["scores"] = S;
  return out;
}

// Per-cluster modes, conditional variances and posterior moments at theta.
template <class Engine>
Rcpp::List engine_summaries(Engine* eng, const Eigen::Map<Eigen::VectorXd>& theta) {
  check_engine_theta(*eng, theta);
  const AgqSummaries s = eng->summaries(theta);
  return Rcpp::List::create(Rcpp::Named("mode") = s.mode_r,
                            Rcpp::Named("mode_var") = s.mode_var_r,
                            Rcpp::Named("post_mean") = s.post_mean_r,
                            Rcpp::Named("post_var") = s.post_var_r,
                            Rcpp::Named("loglik") = s.loglik_r,
                            Rcpp::Named("newton_failures") = s.newton_failures);
}

// The start curvature in the fixed coefficients of every predictor at the
// modes, without the log|H| terms (the engines' fixed_curvature()).
template <class Engine>
Eigen::MatrixXd engine_fixed_curvature(Engine* eng, const Eigen::Map<Eigen::VectorXd>& theta) {
  check_engine_theta(*eng, theta);
  try {
    return eng->fixed_curvature(theta);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

// A new number of quadrature points (set = true) or only the check that its
// scratch memory is within the limit (set = false), as an R error naming
// the size; nAGQ below 1 is an R error before the engine sees it.
template <class Engine>
void engine_nagq(Engine* eng, int nAGQ, bool set) {
  if (nAGQ < 1) Rcpp::stop("nAGQ must be at least 1");
  try {
    if (set) eng->set_nagq(nAGQ);
    else eng->check_nagq(nAGQ);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

}  // namespace glmmgee
// R-facing kernels that the entry points of entry-agq.cpp forward to: each
// takes and returns R objects and is documented where it is defined.
namespace glmmgee_exports {
// engines/agq/agq-shard.cpp
Rcpp::List agq_eval_dd(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient);
Rcpp::List agq_glm_sums(SEXP ptr, Eigen::Map<Eigen::VectorXd> beta);
}  // namespace glmmgee_exports

#endif
