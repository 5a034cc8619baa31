// Dense kernels of the Laplace engine for non-gaussian models with one
// known-covariance random intercept, K = L L' (fit-known-laplace.R). The
// engine works in the r-dimensional space of the factor: b = s L u,
// u ~ N(0, I_r), so the penalized Hessian is M = I + s^2 L' W L with W the
// per-level sums of the working weights. Forming L' W L and the leverages
// diag(L M^{-1} L') are the O(levels r^2) steps; everything else is O(r^2)
// or O(n) and stays in R.
#ifndef GLMMGEE_KNOWN_LAPLACE_H
#define GLMMGEE_KNOWN_LAPLACE_H

#include <RcppEigen.h>

namespace glmmgee {

// L' diag(w) L (r x r), w >= 0. Rows are taken in fixed chunks summed into a
// fixed number of partial sums in a fixed order: the result does not depend
// on the number of threads.
Eigen::MatrixXd kl_weighted_crossprod(const Eigen::Map<const Eigen::MatrixXd>& L,
                                      const Eigen::Map<const Eigen::VectorXd>& w, int threads);

// rowSums((L U^{-1})^2) for the upper Cholesky factor U of M = U'U, i.e.
// diag(L M^{-1} L'); the trace of M^{-1} is returned in *trace_inv.
Eigen::VectorXd kl_leverages(const Eigen::Map<const Eigen::MatrixXd>& L,
                             const Eigen::MatrixXd& U, int threads, double* trace_inv);

}  // namespace glmmgee

#endif
