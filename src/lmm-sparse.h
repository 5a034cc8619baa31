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
// M's entries are sums of g_rs theta_k1 theta_k2 over fixed "recipes"
// (computed once from G and Lambda's pattern), so an evaluation costs one
// numeric factorization and a few triangular solves, independent of n
// except for the residuals.
#ifndef GLMMGEE_LMM_SPARSE_H
#define GLMMGEE_LMM_SPARSE_H

#include <RcppEigen.h>
#include <vector>
#include "laplace.h"      // LambdaPattern
#include "polled-llt.h"

namespace glmmgee {

struct LmmPls {
  bool ok = false;
  double ldL2 = 0.0, ldRX2 = 0.0, pwrss = 0.0;
  Eigen::VectorXd beta, u;
  Eigen::MatrixXd RXtRX;
};

class LmmSparse {
 public:
  typedef Eigen::SparseMatrix<double, Eigen::ColMajor> ColMat;

  // X, Z and y already scaled by sqrt(w), the offset already subtracted.
  LmmSparse(const Eigen::Ref<const Eigen::MatrixXd>& X, const ColMat& Z,
            const Eigen::Ref<const Eigen::VectorXd>& y, const LambdaPattern& lam);
  int ntheta() const { return lam_.ntheta; }
  long nnz_factor() const { return (long)chol_.matrixL().nestedExpression().nonZeros(); }
  // ok = false when M or RX'RX is not positive definite.
  LmmPls evaluate(const Eigen::VectorXd& theta);

 private:
  int n_, p_, Q_;
  Eigen::MatrixXd X_, ZtX_, XtX_;
  ColMat Z_;
  Eigen::VectorXd y_, Zty_, Xty_;
  LambdaPattern lam_;
  ColMat M_;                        // lower triangle + diagonal
  std::vector<int> rec_pos_, rec_k1_, rec_k2_, diag_;
  std::vector<double> rec_g_;
  PolledLLT chol_;
  bool analyzed_ = false;
};

}  // namespace glmmgee
#endif
