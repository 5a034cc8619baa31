// The map of a profile's rotated covariance block (R/profile-z-basis.R,
// rotated_eval()): Lambda on the basis C' to the adaptive quadrature
// engine's Lambda* = the lower triangular factor of C' Lambda (an LQ
// factorization, C' Lambda = Lambda* W'), and the Jacobian
// d lambda* / d lambda over the block's entries. It runs at every
// evaluation of the engine; in R (qr(), a loop of small matrix products)
// it cost as much as the evaluation itself.
#include <RcppEigen.h>
#include "entry/entry-util.h"

// [[Rcpp::depends(RcppEigen)]]

// Ct: the s x s matrix C'; lam: the block's entries at `at` (1-based row,
// column pairs of the lower triangle); jacobian: whether to return J
// (NULL also when a diagonal entry of Lambda is not positive: there the
// map has no derivative, as rotated_eval() treats it).
Rcpp::List glmmgee_exports::lq_rotate(const Eigen::Map<Eigen::MatrixXd> Ct,
                         const Eigen::Map<Eigen::VectorXd> lam,
                         const Rcpp::IntegerMatrix at, bool jacobian) {
  const int s = Ct.rows();
  const int nl = lam.size();
  if (Ct.cols() != s || at.nrow() != nl || at.ncol() != 2)
    Rcpp::stop("cpp_lq_rotate: sizes do not match");
  for (int i = 0; i < nl; ++i)
    if (at(i, 0) < 1 || at(i, 0) > s || at(i, 1) < 1 || at(i, 1) > at(i, 0))
      Rcpp::stop("cpp_lq_rotate: 'at' is not in the lower triangle");
  Eigen::MatrixXd L = Eigen::MatrixXd::Zero(s, s);
  for (int i = 0; i < nl; ++i) L(at(i, 0) - 1, at(i, 1) - 1) = lam[i];
  // C' L = L* W' from the QR factorization of (C' L)' = Q R: L* = R' S,
  // W = Q S with S the signs that make diag(L*) >= 0.
  Eigen::HouseholderQR<Eigen::MatrixXd> qr((Ct * L).transpose());
  Eigen::MatrixXd R = qr.matrixQR().triangularView<Eigen::Upper>();
  Eigen::MatrixXd W = qr.householderQ() * Eigen::MatrixXd::Identity(s, s);
  for (int j = 0; j < s; ++j)
    if (R(j, j) < 0) { R.row(j) *= -1.0; W.col(j) *= -1.0; }
  Eigen::MatrixXd Ls = R.transpose();
  Rcpp::NumericVector out(nl);
  for (int i = 0; i < nl; ++i) out[i] = Ls(at(i, 0) - 1, at(i, 1) - 1);
  bool regular = jacobian;
  for (int j = 0; j < s && regular; ++j) regular = L(j, j) > 0;
  if (!regular)
    return Rcpp::List::create(Rcpp::Named("lambda") = out, Rcpp::Named("J") = R_NilValue);
  // d L* = L* Phi(W' (K + K') W), K = L^-1 dL, Phi the lower triangle with
  // half the diagonal (the derivative of a Cholesky factor).
  Eigen::MatrixXd Li = L.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(s, s));
  Rcpp::NumericMatrix J(nl, nl);
  for (int k = 0; k < nl; ++k) {
    const int r = at(k, 0) - 1, c = at(k, 1) - 1;
    Eigen::MatrixXd K = Eigen::MatrixXd::Zero(s, s);
    K.col(c) = Li.col(r);
    Eigen::MatrixXd M = W.transpose() * (K + K.transpose()) * W;
    M = M.triangularView<Eigen::Lower>();
    M.diagonal() *= 0.5;
    Eigen::MatrixXd D = Ls * M;
    for (int i = 0; i < nl; ++i) J(i, k) = D(at(i, 0) - 1, at(i, 1) - 1);
  }
  for (int i = 0; i < nl * nl; ++i)
    if (!std::isfinite(J[i]))
      return Rcpp::List::create(Rcpp::Named("lambda") = out, Rcpp::Named("J") = R_NilValue);
  return Rcpp::List::create(Rcpp::Named("lambda") = out, Rcpp::Named("J") = J);
}
