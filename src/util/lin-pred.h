// The linear predictor X beta + offset with each row's value independent of
// where the row sits in X.
//
// Eigen's matrix-vector product handles rows in packets and a remainder in
// separate code, and the two can round a row's dot product differently: the
// same row gave values one ulp apart in a 5-row and a 10-row matrix. A
// cluster's rows sit at different positions in the in-memory engine and in
// a shard's engine, so eta, the modes and the gradients of the cluster then
// differed in their last bits, which no order-independent sum (dd-sum.h)
// can undo. Here every row takes the same operations in the same order:
// x_1 b_1, plus x_2 b_2, ..., plus the offset. An empty offset is a zero
// one: 0.0 is added all the same, so the values are bitwise those of an
// offset of n zeros (x b = -0.0 becomes +0.0).
#ifndef GLMMGEE_LIN_PRED_H
#define GLMMGEE_LIN_PRED_H

#include <RcppEigen.h>

namespace glmmgee {

inline void linear_predictor(const Eigen::Ref<const Eigen::MatrixXd>& X,
                             const Eigen::Ref<const Eigen::VectorXd>& beta,
                             const Eigen::Ref<const Eigen::VectorXd>& offset,
                             Eigen::VectorXd& eta) {
  const Eigen::Index n = X.rows(), p = X.cols();
  eta.resize(n);
  double* e = eta.data();
  const bool zero = offset.size() == 0;
  if (p == 0) {
    for (Eigen::Index s = 0; s < n; ++s) e[s] = zero ? 0.0 : offset[s];
    return;
  }
  // Column by column (X is column-major): each row's terms in order 1..p.
  const double b0 = beta[0];
  const double* x0 = X.col(0).data();
  for (Eigen::Index s = 0; s < n; ++s) e[s] = x0[s] * b0;
  for (Eigen::Index m = 1; m < p; ++m) {
    const double bm = beta[m];
    const double* xm = X.col(m).data();
    for (Eigen::Index s = 0; s < n; ++s) e[s] += xm[s] * bm;
  }
  if (zero)
    for (Eigen::Index s = 0; s < n; ++s) e[s] += 0.0;
  else
    for (Eigen::Index s = 0; s < n; ++s) e[s] += offset[s];
}

}  // namespace glmmgee

#endif
