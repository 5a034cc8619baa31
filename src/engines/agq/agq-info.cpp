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
#include "engines/agq/agq.h"
#include <cmath>

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Eigen::MatrixXd AgqEngine::fixed_curvature(const VectorXd& theta) {
  if (!aux_) throw std::invalid_argument("fixed_curvature() needs auxiliary predictors");
  // The modes at theta (warm-started, so usually no Newton step at all).
  evaluate(theta, false);
  MatrixXd Lam;
  double phi;
  VectorXd& eta0 = eta_buf_;
  prepare(theta, Lam, phi, eta0);
  const int na = aux_->naux(), pa = (int)XA_.cols(), F = p_ + pa, q = q_, C = 1 + na;
  // Channel c of an observation (c = 0: eta; c = 1 + k: auxiliary
  // predictor k) depends on the coefficients in cols[c] through the
  // columns of D[c]: X for eta, the columns of XA that feed predictor k.
  std::vector<std::vector<int> > cols(C);
  for (int m = 0; m < p_; ++m) cols[0].push_back(m);
  for (int m = 0; m < pa; ++m) cols[1 + apred_[m]].push_back(p_ + m);
  std::vector<MatrixXd> D(C);
  for (int c = 1; c < C; ++c) {
    D[c].resize(n_, (int)cols[c].size());
    for (int m = 0; m < (int)cols[c].size(); ++m) D[c].col(m) = XA_.col(cols[c][m] - p_);
  }
  auto design = [&](int c) -> Eigen::Ref<const MatrixXd> {
    if (c == 0) return X_;
    return D[c];
  };
  // Per observation: the negative second derivatives N (C x C) in the
  // channels, N(c, d) in column c * C + d of W, and Z_j' Lambda in row j
  // of Arow. The sums over observations are then matrix products.
  MatrixXd W(n_, C * C), Arow(n_, q), N(C, C);
  VectorXd A(q);
  std::vector<double> ap(na), o(3), om(3);
  for (int i = 0; i < lay_.M; ++i) {
    if ((i & 1023) == 1023) Rcpp::checkUserInterrupt();
    for (int sj = lay_.start[i]; sj < lay_.start[i + 1]; ++sj) {
      for (int b = 0; b < q; ++b) {
        double acc = 0.0;
        for (int a = b; a < q; ++a) acc += zv(sj, a) * Lam(a, b);
        A[b] = acc;
      }
      Arow.row(sj) = A.transpose();
      const double eta = eta0[sj] + A.dot(ucache_.row(i).transpose());
      const double* av = AV_.data() + (long)sj * na;
      const double y = y_[sj], wt = weight(sj);
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
      for (int c = 0; c < C; ++c)
        for (int d = 0; d < C; ++d) W(sj, c * C + d) = 0.5 * (N(c, d) + N(d, c));
    }
  }
  // J = sum over observations of t N t', t_c = d(channel c) / d f.
  MatrixXd J = MatrixXd::Zero(F, F);
  for (int c = 0; c < C; ++c)
    for (int d = c; d < C; ++d) {
      // lazyProduct(): Eigen's blocked product would start an OpenMP team
      // for a product of this size (depth n), costing more than it saves.
      const MatrixXd WD = W.col(c * C + d).asDiagonal() * design(d);
      const MatrixXd B = design(c).transpose().lazyProduct(WD);
      for (int r = 0; r < (int)cols[c].size(); ++r)
        for (int s = 0; s < (int)cols[d].size(); ++s) {
          J(cols[c][r], cols[d][s]) += B(r, s);
          if (d != c) J(cols[d][s], cols[c][r]) += B(r, s);
        }
    }
  // Each cluster's Schur term: J_fu H_i^{-1} J_uf, J_fu = sum_j t_j N_j(., 0) A_j'.
  MatrixXd Jfu(F, q), Huu(q, q), WA;
  for (int i = 0; i < lay_.M; ++i) {
    if ((i & 1023) == 1023) Rcpp::checkUserInterrupt();
    const int s0 = lay_.start[i], ni = lay_.start[i + 1] - s0;
    const auto Ai = Arow.middleRows(s0, ni);
    Huu.setIdentity();
    WA = W.col(0).segment(s0, ni).asDiagonal() * Ai;
    Huu.noalias() += Ai.transpose().lazyProduct(WA);
    for (int c = 0; c < C; ++c) {
      if (c > 0) WA = W.col(c * C).segment(s0, ni).asDiagonal() * Ai;
      const MatrixXd B = design(c).middleRows(s0, ni).transpose().lazyProduct(WA);
      for (int r = 0; r < (int)cols[c].size(); ++r) Jfu.row(cols[c][r]) = B.row(r);
    }
    Eigen::LLT<MatrixXd> llt(Huu);
    if (llt.info() != Eigen::Success) continue;  // no Laplace curvature: skip the cluster's Schur term
    const MatrixXd S = llt.solve(Jfu.transpose());
    J.noalias() -= Jfu.lazyProduct(S);
  }
  return -0.5 * (J + J.transpose());
}

}  // namespace glmmgee
