// Profiled (RE)ML criterion of a linear mixed model with any random-effect
// terms (crossed, nested, random slopes), by penalized least squares with a
// sparse Cholesky factor (Bates, Maechler, Bolker & Walker 2015, J. Stat.
// Softw. 67(1), section 3).
//
// Model (rows scaled by the square roots of the prior weights, the offset
// subtracted from y):
//   y = X beta + Z Lambda u + e,  u ~ N(0, s2 I_Q),  e ~ N(0, s2 I_n),
// Lambda (Q x Q) with a fixed pattern whose entries are the relative
// covariance parameters: entry (r, c) = theta[k(r, c)] (lme4's Lambdat/Lind).
// With G = Z'Z, M = Lambda'G Lambda + I = P'L L'P (P the fill-reducing
// permutation, found once), RZX = L^{-1} P Lambda'Z'X, cu = L^{-1} P Lambda'Z'y,
//   RX'RX = X'X - RZX'RZX,    beta = (RX'RX)^{-1} (X'y - RZX'cu),
//   u     = P' L^{-T} (cu - RZX beta),
//   pwrss = |y - X beta - Z Lambda u|^2 + |u|^2,
// and lmer's criteria (eqs. 34 and 42 there), each minus sum log w:
//   -2 log L_ML   = log|M| + n (1 + log(2 pi pwrss / n)),
//   -2 log L_REML = log|M| + log|RX'RX| + (n - p)(1 + log(2 pi pwrss / (n - p))).
// Where V = I + Z Lambda Lambda'Z' shrinks a direction of X by many orders
// (sigma far below the random effects' SDs with Z spanning every row, as a
// cs(0 + time | id) term that takes up the residual), X'X - RZX'RZX cancels
// nearly all of X'X and log|RX'RX| and beta lose as many digits (a REML
// criterion 5e-4 too high, the search drifting on the noise). There, with
// U = M^{-1} Lambda'Z'X = P'L^{-T} RZX, u_y = M^{-1} Lambda'Z'y and
// V^{-1} = I - Z Lambda M^{-1} Lambda'Z' (Woodbury), the residualized
// Xr = V^{-1} X = X - Z Lambda U and yr = V^{-1} y give the same matrices as
// sums of positive semidefinite terms (Lambda'Z'V^{-1} = M^{-1} Lambda'Z'):
//   RX'RX = X'V^{-1}X = Xr'V Xr = Xr'Xr + U'U,
//   X'V^{-1}y = Xr'yr + U'u_y,   u = u_y - U beta.
// Each pivot of RX'RX is compared with X'X's own; below 1e-6 of it
// (evaluate_residualized()) the cheap form is replaced, so ordinary fits
// keep their arithmetic to the bit.
// M's entries are sums of g_rs theta_k1 theta_k2 over fixed "recipes"
// (computed once from G and Lambda's pattern), so an evaluation costs one
// numeric factorization and a few triangular solves, independent of n
// except for the residuals.
//
// Exact gradients in theta (E_k = dLambda/dtheta_k, Lambda being linear in
// theta; W = M^{-1} Lambda'Z'X, K = (RX'RX)^{-1}, r = y - X beta - Z Lambda u):
//   d log|M|     = tr(M^{-1} dM) = 2 tr(M^{-1} Lambda'G E_k)  (dM = E_k'G Lambda + its transpose),
//   d log|RX'RX| = tr(K dRX'RX), dRX'RX = W'dM W - E_k'Z'X' W - W'E_k'Z'X,
//                = 2 tr(W K W' Lambda'G E_k) - 2 tr(W K X'Z E_k),
//   d pwrss      = -2 r'Z E_k u  (beta and u minimize the penalized RSS, so
//                  only the explicit dependence counts).
// M^{-1} is formed dense (Q solves with the factor), so the gradient is for
// moderate Q (the caller decides).
#ifndef GLMMGEE_LMM_SPARSE_H
#define GLMMGEE_LMM_SPARSE_H

#include <RcppEigen.h>
#include <vector>
#include "engines/laplace/laplace.h"      // LambdaPattern
#include "util/polled-llt.h"

namespace glmmgee {

struct LmmPls {
  bool ok = false;
  double ldL2 = 0.0, ldRX2 = 0.0, pwrss = 0.0;
  Eigen::VectorXd beta, u;
  Eigen::MatrixXd RXtRX, RZX;
  Eigen::VectorXd res;
};

// Gradients in theta of log|M|, log|RX'RX| and pwrss (formulas above).
struct LmmGrad {
  Eigen::VectorXd ldL2, ldRX2, pwrss;
};

// Exact first and second derivatives in theta of ld = log|M| (ML) or
// log|M| + log|RX'RX| (REML) and of pwrss (lmm-sparse-hessian.cpp); ok =
// false where the dense work per connected block of M would be too large.
struct LmmHess {
  bool ok = false;
  Eigen::VectorXd g_ld, g_q;
  Eigen::MatrixXd h_ld, h_q;
};

class LmmSparse {
 public:
  typedef Eigen::SparseMatrix<double, Eigen::ColMajor> ColMat;

  // X, Z and y already scaled by sqrt(w), the offset already subtracted.
  LmmSparse(const Eigen::Ref<const Eigen::MatrixXd>& X, ColMat Z,
            const Eigen::Ref<const Eigen::VectorXd>& y, const LambdaPattern& lam);
  int ntheta() const { return lam_.ntheta; }
  long nnz_factor() const { return (long)chol_.matrixL().nestedExpression().nonZeros(); }
  // ok = false when M or RX'RX is not positive definite.
  LmmPls evaluate(const Eigen::VectorXd& theta);
  // At the point of the last evaluate() (r its result, ok = true).
  LmmGrad gradient(const Eigen::VectorXd& theta, const LmmPls& r);
  // The same gradient without dense Q x Q work (lmm-sparse-selinv.cpp):
  // M^{-1} is needed only on the pattern of M, which the Takahashi
  // recurrences give from the factor (selected inversion); W K W' likewise
  // only there, from its rank-p form. Any Q the factorization handles.
  LmmGrad gradient_sparse(const Eigen::VectorXd& theta, const LmmPls& r);
  int nrandom() const { return Q_; }
  // The exact Hessian (lmm-sparse-hessian.cpp) at the point of the last
  // evaluate() (r its result, ok = true), where M's connected blocks hold at
  // most `max_work` entries in all (sum of their squared sizes).
  LmmHess hessian(const Eigen::VectorXd& theta, const LmmPls& r, bool reml, double max_work);
  // After an evaluate() that succeeded (lmm-sparse-selinv.cpp): M^{-1} at
  // each stored entry of M's lower triangle (row i >= column j, 0-based,
  // original order), from the selected inverse of its factor.
  void inverse_on_pattern(std::vector<int>& i, std::vector<int>& j,
                          std::vector<double>& x) const;
  // Lambda(theta) u (the random effects of the scaled design).
  Eigen::VectorXd lambda_times(const Eigen::VectorXd& theta, const Eigen::VectorXd& u) const;
  // Rough operation counts of one evaluate() and of the gradient's extra
  // work (after an evaluate()): the caller's choice between the exact
  // gradient and finite differences.
  Eigen::Vector2d costs() const;

 private:
  // Both gradients' common start: zeroed parts, and d pwrss (exact; the
  // envelope of the penalized residual) filled in.
  LmmGrad gradient_pwrss(const LmmPls& r) const;
  // Whether RX'RX = X'X - RZX'RZX (cx its Cholesky) kept its digits: every
  // pivot positive and at least kRxShrink times X'X's own (the factor by
  // which V^{-1} shrinks that direction of X). The subtraction leaves an
  // absolute error of a few eps X'X_jj, so log|RX'RX| and beta lose about
  // eps / shrink: on cs_data(3) beside (1 | site) (4 fixed effects) the
  // error in log|RX'RX| was 9e-11 at a shrink of 4e-5, 1e-8 at 4e-7, 7e-5
  // at 4e-11 (sigma 1e-5 of the random effects' SDs); the residualized
  // form 1e-12 at 4e-11. At the threshold the cheap form is off by a few
  // 1e-9; ordinary fits shrink far less (lme4's Penicillin 3e-3, sleepstudy
  // with Days 0.08 and 0.18, Pastes 0.025), so they never switch.
  static constexpr double kRxShrink = 1e-6;
  bool rx_kept_digits(const Eigen::LLT<Eigen::MatrixXd>& cx) const;
  // RX'RX, beta and u by the residualized form (above), from RZX and cu =
  // L^{-1} P Lambda'Z'y of the same evaluation; cx refactorized; false
  // when RX'RX is still not positive definite.
  bool evaluate_residualized(const Eigen::VectorXd& theta, const Eigen::MatrixXd& RZX,
                             const Eigen::VectorXd& cu, Eigen::LLT<Eigen::MatrixXd>& cx,
                             LmmPls& out) const;
  int n_, p_, Q_;
  Eigen::MatrixXd X_, ZtX_, XtX_;
  Eigen::VectorXd xpiv_;            // squared Cholesky pivots of X'X
  ColMat Z_;
  Eigen::VectorXd y_, Zty_, Xty_;
  LambdaPattern lam_;
  ColMat G_;                        // Z'Z, both triangles
  ColMat M_;                        // lower triangle + diagonal
  std::vector<int> rec_pos_, rec_k1_, rec_k2_, diag_;
  std::vector<double> rec_g_;
  // M's pattern (lower triangle) and its recipes: where each column of
  // Lambda has its one entry on the diagonal (random intercepts, `||`
  // terms), straight from G; else from every pair of Lambda's entries.
  bool lambda_is_diagonal() const;
  void diagonal_recipes();
  void general_recipes();
  // Without AMD, an elimination order as good as any where Lambda is
  // diagonal with two parameters whose columns form a complete bipartite
  // graph in M (each parameter's block of G diagonal, every column of one
  // meeting every column of the other: random intercepts of two fully
  // crossed factors, every plate with every sample). Eliminating first a
  // column of the group of a columns makes the other group's b columns a
  // clique, C(b, 2) fill, and after it nothing fills; eliminating first one
  // of the b costs C(a, 2) likewise. So the larger group first, then the
  // other, fills min(C(a, 2), C(b, 2)), the least any order can (AMD can
  // do worse: 105 against 84 entries of the factor with factors of 6 and 9
  // levels). False, and `order` unset, elsewhere.
  bool complete_bipartite_order(std::vector<int>& order) const;
  PolledLLT chol_;
  bool analyzed_ = false;
  // For each stored entry of M, the position of its entry in the factor's
  // pattern (P M P' = L L'), found at the first use after a successful
  // factorization (the pattern of L is fixed by the analysis).
  mutable std::vector<int> m_in_l_;
  const std::vector<int>& m_in_factor() const;
  // M's connected blocks (the components of the graph of G and Lambda's
  // pattern), found at the first hessian(): members in increasing order
  // (with Lambda diagonal: the first block_d_[b], unconnected to one
  // another, then the rest, each in increasing order), each index's
  // position in its block, each block's Lambda entries.
  void find_blocks();
  bool blocks_found_ = false;
  std::vector<std::vector<int> > blocks_, block_entries_;
  std::vector<int> block_of_, block_pos_, block_d_;
  double block_work_ = 0.0;
  // Lambda diagonal (random intercepts, `||` terms: one entry per column,
  // on the diagonal): the parameter of each column, else empty.
  std::vector<int> diag_k_;
};

}  // namespace glmmgee
#endif
