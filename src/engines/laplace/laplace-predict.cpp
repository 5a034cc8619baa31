// Where PIRLS starts after a step of the optimizer: the modes of the last
// evaluation moved by the implicit function theorem. The modes solve
// g(u, theta) = A' d1(eta) - u = 0, with Jacobian -H in u, so to first order
// in the step (db, dLambda) from the last evaluation
//   H du = dLambda' Z' d1 - A' W (X db + Z dLambda u^),
// the derivatives of g in beta and in Lambda's entries (laplace.cpp), all
// at the last evaluation's mode, whose factor of H is still held: one solve.
// After the search's long steps the warm start from the old modes alone
// took 5-8 Newton iterations (each a factorization); from the prediction
// Newton starts within O(|step|^2) of the new mode. A step in the
// dispersion or the auxiliary coefficients is not followed (they only move
// W and d1); PIRLS converges from either start to the same tolerance.
#include "engines/laplace/laplace.h"
#include <cmath>

namespace glmmgee {

void SparseLaplace::keep_last(const Eigen::VectorXd& beta, const Eigen::VectorXd& lam,
                              const Eigen::VectorXd& u, const std::vector<ObsDerivs>& d) {
  last_beta_ = beta;
  last_lam_ = lam;
  last_u_ = u;
  last_d1_.resize(n_);
  last_w_.resize(n_);
  for (int i = 0; i < n_; ++i) {
    last_d1_[i] = d[i].d1;
    last_w_[i] = -d[i].d2;
  }
  last_ok_ = true;
}

bool SparseLaplace::predict_modes(const Eigen::VectorXd& beta, const Eigen::VectorXd& lam,
                                  Eigen::VectorXd& u) const {
  if (!last_ok_) return false;
  const Eigen::VectorXd db = beta - last_beta_;
  const Eigen::VectorXd dl = lam - last_lam_;
  // dLambda u^ (Q), and dLambda' Z' d1 (Q).
  Eigen::VectorXd zd1, dlu = Eigen::VectorXd::Zero(Q_), rhs = Eigen::VectorXd::Zero(Q_);
  Zt_times(last_d1_, zd1);
  for (size_t q = 0; q < lam_.row.size(); ++q) {
    const double s = dl[lam_.k[q]];
    if (s == 0.0) continue;
    dlu[lam_.row[q]] += s * last_u_[lam_.col[q]];
    rhs[lam_.col[q]] += s * zd1[lam_.row[q]];
  }
  // W (X db + Z dLambda u^), Z by its columns (a scatter: serial, O(nnz Z)).
  Eigen::VectorXd t = X_ * db;
  const int* Zo = Zc_.outerIndexPtr();
  const int* Zi = Zc_.innerIndexPtr();
  const double* Zv = Zc_.valuePtr();
  for (int c = 0; c < Q_; ++c) {
    const double s = dlu[c];
    if (s == 0.0) continue;
    for (int k = Zo[c]; k < Zo[c + 1]; ++k) t[Zi[k]] += Zv[k] * s;
  }
  t.array() *= last_w_.array();
  Eigen::VectorXd atw;
  At_times(t, atw);
  rhs -= atw;
  u = last_u_ + chol_.solve(rhs);
  return u.allFinite();
}

}  // namespace glmmgee
