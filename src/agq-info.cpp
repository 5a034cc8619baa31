// The curvature of the one-factor engine's log-likelihood in the fixed and
// auxiliary coefficients, from one pass over the observations: the start
// matrix of the Newton/BFGS search of the zero-inflated, hurdle and
// dispersion-formula fits (R/fit-glmm-zi.R), which before took one gradient
// evaluation per parameter (29 for glmmTMB's Salamanders ZIP).
//
// At the modes u^_i of the clusters, the joint negative Hessian of
// h_i(u, f) = sum_j l_j(eta_j, a_j) - |u|^2 / 2 in the coefficients f =
// (beta, gamma, delta) and u_i is assembled from per-observation second
// derivatives, and u_i is eliminated by its Schur complement:
//   J_i = J_ff - J_fu J_uu^{-1} J_uf,   J_uu = H_i (the Laplace curvature).
// The sum over clusters is the Hessian of the Laplace log-likelihood in f
// without the terms of log|H_i| (which change by O(1/n_i) relative) -- the
// conditional (penalized) information of the mixed model (Breslow &
// Clayton 1993, sec. 2) -- enough for a start curvature, never used for
// standard errors. The second derivatives in two auxiliary predictors, which
// the observation models do not provide, are central differences of their
// first derivatives.
#include "agq.h"
#include "lin-pred.h"
#include <cmath>

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Eigen::MatrixXd AgqEngine::fixed_curvature(const VectorXd& theta) {
  if (!aux_) throw std::invalid_argument("fixed_curvature() needs auxiliary predictors");
  // The modes at theta (warm-started, so usually no Newton step at all).
  evaluate(theta, false);
  VectorXd beta;
  MatrixXd Lam;
  double phi;
  unpack(theta, beta, Lam, phi);
  fill_aux(theta);
  VectorXd eta0;
  linear_predictor(X_, beta, off_, eta0);
  const int na = aux_->naux(), pa = (int)XA_.cols(), F = p_ + pa, q = q_;
  MatrixXd J = MatrixXd::Zero(F, F);
  MatrixXd Jfu(F, q), Huu(q, q), N(1 + na, 1 + na);
  std::vector<VectorXd> t(1 + na, VectorXd(F));
  VectorXd s(F), A(q);
  std::vector<double> ap(na), o(3), om(3);
  for (int i = 0; i < lay_.M; ++i) {
    if ((i & 1023) == 1023) Rcpp::checkUserInterrupt();
    Jfu.setZero();
    Huu.setIdentity();
    for (int sj = lay_.start[i]; sj < lay_.start[i + 1]; ++sj) {
      for (int b = 0; b < q; ++b) {
        double acc = 0.0;
        for (int a = b; a < q; ++a) acc += Z_(sj, a) * Lam(a, b);
        A[b] = acc;
      }
      const double eta = eta0[sj] + A.dot(ucache_.row(i).transpose());
      const double* av = AV_.data() + (long)sj * na;
      const double y = y_[sj], wt = wt_[sj];
      N(0, 0) = -aux_->derivs(y, wt, eta, av).d2;
      for (int k = 0; k < na; ++k) {
        aux_->daux(y, wt, eta, av, k, o.data());
        N(0, k + 1) = N(k + 1, 0) = -o[1];
        for (int m = 0; m < na; ++m) {
          for (int c = 0; c < na; ++c) ap[c] = av[c];
          const double h = 1e-4 * (1.0 + std::fabs(av[m]));
          ap[m] = av[m] + h;
          aux_->daux(y, wt, eta, ap.data(), k, o.data());
          ap[m] = av[m] - h;
          aux_->daux(y, wt, eta, ap.data(), k, om.data());
          N(k + 1, m + 1) = -(o[0] - om[0]) / (2.0 * h);
        }
      }
      N = 0.5 * (N + N.transpose()).eval();
      // t_c = d(channel c) / d f: eta through X, auxiliary predictor k
      // through the columns of XA that feed it.
      for (int c = 0; c <= na; ++c) t[c].setZero();
      for (int m = 0; m < p_; ++m) t[0][m] = X_(sj, m);
      for (int m = 0; m < pa; ++m) t[1 + apred_[m]][p_ + m] = XA_(sj, m);
      for (int c = 0; c <= na; ++c) {
        s.setZero();
        for (int d = 0; d <= na; ++d) s += N(c, d) * t[d];
        J.noalias() += t[c] * s.transpose();
        Jfu.noalias() += (N(c, 0) * t[c]) * A.transpose();
      }
      Huu.noalias() += N(0, 0) * A * A.transpose();
    }
    Eigen::LLT<MatrixXd> llt(Huu);
    if (llt.info() != Eigen::Success) continue;  // no Laplace curvature: skip the cluster's Schur term
    J.noalias() -= Jfu * llt.solve(Jfu.transpose());
  }
  return -0.5 * (J + J.transpose());
}

}  // namespace glmmgee
