// Gaussian model with one known-covariance random effect, after spectral
// rotation (EMMA, Kang et al. 2008; FaST-LMM, Lippert et al. 2011; GEMMA,
// Zhou and Stephens 2012):
//   y = X beta + g + e,  g ~ N(0, s2g G),  e ~ N(0, s2e I),  G = Z K Z'.
// With G = U diag(d) U' (U n x k orthonormal, k <= n, the complement of U
// having eigenvalue 0), V = s2e (lambda G + I), lambda = s2g / s2e, and
// (lambda G + I)^{-1} = U diag(w) U' + (I - U U'), w = 1 / (1 + lambda d).
// R computes the rotated data y1 = U'y, X1 = U'X once (O(n^3), or O(n r^2)
// from a factor of K) and the complement's cross-products
// y'y - y1'y1, X'y - X1'y1, X'X - X1'X1; each evaluation of the likelihood,
// s2e and beta profiled out, is then O(k p^2).
#ifndef GLMMGEE_KNOWN_GAUSSIAN_H
#define GLMMGEE_KNOWN_GAUSSIAN_H

#include <RcppEigen.h>

namespace glmmgee {

struct KgData {
  Eigen::Map<const Eigen::VectorXd> d;    // nonzero eigenvalues of G (k)
  Eigen::Map<const Eigen::VectorXd> y1;   // U'y (k)
  Eigen::Map<const Eigen::MatrixXd> X1;   // U'X (k x p)
  double yy_c;                            // y'(I - UU')y
  Eigen::Map<const Eigen::VectorXd> Xy_c; // X'(I - UU')y (p)
  Eigen::Map<const Eigen::MatrixXd> XX_c; // X'(I - UU')X (p x p)
  double n;                               // observations
};

struct KgResult {
  double loglik;          // profiled log-likelihood (ML) or REML criterion / -2
  double s2e;             // residual variance at this lambda
  Eigen::VectorXd beta;   // GLS estimate
  Eigen::MatrixXd XtVX;   // X'(lambda G + I)^{-1} X (vcov(beta) = s2e * inverse)
  double rss;             // r'(lambda G + I)^{-1} r
  bool ok;                // false when X'V^{-1}X is not positive definite
};

// Log-likelihood at lambda = exp(log_lambda) (lambda = 0 when log_lambda is
// -Inf), beta and s2e profiled. REML as lme4 reports it: without the
// constant log det(X'X) / 2.
KgResult kg_profile(const KgData& dat, double log_lambda, bool reml);

}  // namespace glmmgee

#endif
