// A scalar random intercept with a non-normal distribution: the bridge
// distribution of Wang and Louis (2003) or a discrete one on mass points
// (nonparametric maximum likelihood, Aitkin 1999). Only the log prior density
// differs from the normal engine in agq.cpp; it is kept apart because the
// bridge prior has exponential (not gaussian) tails, which a Gauss-Hermite
// rule integrates poorly, and a discrete prior needs no quadrature at all.
#ifndef GLMMGEE_AGQ_DIST_H
#define GLMMGEE_AGQ_DIST_H

#include <RcppEigen.h>
#include <vector>

namespace glmmgee {

enum DistCode { DIST_BRIDGE = 0, DIST_DISCRETE = 1 };

// Data sorted by cluster: rows start[i] .. start[i + 1] - 1 form cluster i.
struct DistData {
  Eigen::Map<const Eigen::MatrixXd> X;
  const double* y;
  const double* wt;
  const double* offset;
  std::vector<int> start;
  int family, link;
};

// What one evaluation returns. The log-likelihood includes every normalizing
// constant. The gradient is over (beta, prior parameters): for the bridge
// d/dphi, for the discrete prior d/d(mass points) then d/d(alpha), where the
// weights are softmax(alpha). Per cluster: log-likelihood, posterior mode,
// mean, variance, the quadrature scale (bridge) and, for the discrete prior,
// the posterior probabilities of the mass points (clusters x points).
struct DistResult {
  double loglik;
  Eigen::VectorXd gradient;
  Eigen::VectorXd cl_loglik, mode, mean, var, scale;
  Eigen::MatrixXd post;
  int mode_failures;
};

DistResult dist_evaluate(const DistData& d, const Eigen::VectorXd& beta, int dist,
                         const Eigen::VectorXd& prior, double step);

}  // namespace glmmgee

#endif
