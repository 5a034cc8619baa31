// The curvature of the two-part engine's log-likelihood (agq-zero-re.h) in the
// fixed coefficients f = (beta, gamma, delta) of the three predictors, from
// one pass over the observations at the modes: the start matrix of the
// Newton/BFGS search (R/fit-glmm-zi.R, zi_start_hessian()), which before
// took one gradient evaluation per parameter. The same construction as the
// one-factor engine's (agq-info.cpp): with J the negative second
// derivatives of h_i(u, f) = sum_j l_j(eta_j, a_j, phi_j) - |u|^2 / 2 at
// the mode u^_i, the random effects are eliminated by their Schur
// complement,
//   J_i = J_ff - J_fu J_uu^{-1} J_uf,   J_uu = H_i (the Laplace curvature),
// and -sum_i J_i is the Hessian of the Laplace log-likelihood in f without
// the terms of log|H_i| (the conditional information of the mixed model,
// Breslow & Clayton 1993, sec. 2). It only guides the search; the standard
// errors come from differences of the exact gradient. The second
// derivative in phi, which the observation models do not give, is a
// central difference of the first.
#include "engines/agq/agq-zero-re.h"
#include "util/resources.h"
#include <cmath>

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

MatrixXd TwoPartEngine::fixed_curvature(const VectorXd& theta) {
  // The modes at theta: usually those of the evaluation just made there.
  if (!(du_valid_ && du_theta_ == theta)) evaluate(theta, false);
  const int q = q_, F = p_ + pz_ + pd_;
  MatrixXd Lam = MatrixXd::Zero(q, q);
  for (int e = 0; e < nl_; ++e) Lam(lam_row_[e], lam_col_[e]) = theta[p_ + e];
  const VectorXd eta0 = X_ * theta.head(p_) + off_.col(0);
  const VectorXd a0 = Xz_ * theta.segment(p_ + nl_, pz_) + off_.col(1);
  const VectorXd ph = Xd_ * theta.segment(p_ + nl_ + pz_, pd_) + off_.col(2);
  const TwoPartRE& ob = *obs_;
  MatrixXd out = MatrixXd::Zero(F, F), Jff(F, F), Jfu(F, q), Juu(q, q), B(3, q);
  VectorXd v(F);
  std::vector<int> chan(F);
  for (int m = 0; m < F; ++m) chan[m] = m < p_ ? 0 : (m < p_ + pz_ ? 1 : 2);
  Eigen::LLT<MatrixXd> llt(q);
  Obs2 o;
  InterruptPoll ip;
  for (int i = 0; i < lay_.M; ++i) {
    if (ip.poll()) break;
    Jff.setZero();
    Jfu.setZero();
    Juu.setIdentity();
    for (int s = lay_.start[i]; s < lay_.start[i + 1]; ++s) {
      // Rows of Z Lambda in both parts, and the predictors at the mode.
      double eta = eta0[s], a = a0[s];
      for (int b = 0; b < q; ++b) {
        double c1 = 0.0, c2 = 0.0;
        for (int r = b; r < q; ++r) {
          c1 += Z1_(s, r) * Lam(r, b);
          c2 += Z2_(s, r) * Lam(r, b);
        }
        B(0, b) = c1;
        B(1, b) = c2;
        eta += c1 * ucache_(i, b);
        a += c2 * ucache_(i, b);
      }
      // (kinds 7 and 8: the log dispersion random too, B's third row)
      double phv = ph[s];
      if (r3_)
        for (int b = 0; b < q; ++b) {
          double c3 = 0.0;
          for (int r = b; r < q; ++r) c3 += Z3_(s, r) * Lam(r, b);
          B(2, b) = c3;
          phv += c3 * ucache_(i, b);
        }
      ob.eval(y_[s], wt_[s], eta, a, phv, true, o);
      // N: negative second derivatives in (eta, a, phi).
      double N[3][3];
      neg_obs_hessian(ob, o, y_[s], wt_[s], eta, a, phv, pd_ > 0 || r3_, N);
      for (int m = 0; m < F; ++m) {
        const int c = chan[m];
        v[m] = c == 0 ? X_(s, m) : (c == 1 ? Xz_(s, m - p_) : Xd_(s, m - p_ - pz_));
      }
      for (int m = 0; m < F; ++m) {
        const int c = chan[m];
        for (int k = 0; k <= m; ++k) Jff(m, k) += v[m] * N[c][chan[k]] * v[k];
        for (int b = 0; b < q; ++b) Jfu(m, b) += v[m] * (N[c][0] * B(0, b) + N[c][1] * B(1, b));
        if (r3_)
          for (int b = 0; b < q; ++b) Jfu(m, b) += v[m] * N[c][2] * B(2, b);
      }
      for (int b = 0; b < q; ++b)
        for (int d = 0; d <= b; ++d)
          Juu(b, d) += N[0][0] * B(0, b) * B(0, d) + N[0][1] * (B(0, b) * B(1, d) + B(1, b) * B(0, d)) +
                       N[1][1] * B(1, b) * B(1, d);
      if (r3_)
        for (int b = 0; b < q; ++b)
          for (int d = 0; d <= b; ++d)
            Juu(b, d) += N[0][2] * (B(0, b) * B(2, d) + B(2, b) * B(0, d)) +
                         N[1][2] * (B(1, b) * B(2, d) + B(2, b) * B(1, d)) +
                         N[2][2] * B(2, b) * B(2, d);
    }
    for (int m = 0; m < F; ++m)
      for (int k = 0; k < m; ++k) Jff(k, m) = Jff(m, k);
    for (int b = 0; b < q; ++b)
      for (int d = 0; d < b; ++d) Juu(d, b) = Juu(b, d);
    llt.compute(Juu);
    // Where the curvature in u is not positive definite (far from the
    // optimum the two-part likelihood need not be concave), the cluster
    // adds its J_ff alone.
    if (llt.info() == Eigen::Success) Jff.noalias() -= Jfu * llt.solve(Jfu.transpose());
    out -= Jff;
  }
  ip.raise_if_interrupted();
  return out;
}

}  // namespace glmmgee
