// Dense known covariance without an eigendecomposition: K (n x n, one
// observation per level) is reduced once to tridiagonal form T = Q'KQ by
// Householder reflections (Golub and Van Loan, Matrix Computations, 4th
// ed., sec. 8.3.1; 4n^3/3 flops), Q kept as its reflectors in the lower
// triangle of the reduced matrix. The model rotated by Q' has
// V* = lambda T + I, tridiagonal, so every evaluation of the likelihood is
// an O(n p) LDL' factorization and solve (R/fit-known-gaussian.R). The
// eigenvectors, which cost several times the reduction with LAPACK's
// reference routines, are never formed.
#include <RcppEigen.h>
#include <cmath>
#include "util/resources.h"
#include "entry/entry-known.h"

typedef Eigen::Map<Eigen::MatrixXd> MapMat;


// Tridiagonal reduction of the symmetric K. Returns the reduced matrix
// (reflectors below the subdiagonal; only its lower triangle is
// meaningful), the reflectors' coefficients, the diagonal and subdiagonal
// of T and T's eigenvalues (O(n^2), for the positive-semidefinite check and
// the rank). Refuses a K that is not symmetric (relative 1e-8).
// One thread: each of the n - 1 steps is two passes over the trailing
// triangle (a symmetric matrix-vector product and a rank-2 update), and
// sharing them between threads (one team per pass) was measured 3.5 times
// slower in CPU time on a loaded 2-core machine than Eigen's serial kernels.
Rcpp::List glmmgee_exports::tridiagonalize(Rcpp::NumericMatrix K) {
  const Eigen::Index n = K.nrow();
  if (K.ncol() != n || n < 2) Rcpp::stop("cpp_tridiagonalize: K must be square, n >= 2");
  glmmgee::check_memory(8.0 * n * (double)n, "the tridiagonal reduction of a " +
                        std::to_string(n) + " x " + std::to_string(n) + " covariance");
  Rcpp::NumericMatrix out = Rcpp::clone(K);
  MapMat A(out.begin(), n, n);
  const double scale = std::max(A.diagonal().cwiseAbs().maxCoeff(), 1e-300);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = j + 1; i < n; ++i)
      if (std::abs(A(i, j) - A(j, i)) > 1e-8 * scale)
        return Rcpp::List::create(Rcpp::Named("symmetric") = false);
  Eigen::VectorXd hc(n - 1), v, w;
  glmmgee::InterruptPoll ip(0.25);
  for (Eigen::Index i = 0; i < n - 1; ++i) {
    if (ip.poll()) ip.raise_if_interrupted();
    const Eigen::Index m = n - i - 1;
    double tau, beta;
    A.col(i).tail(m).makeHouseholderInPlace(tau, beta);
    v = A.col(i).tail(m);
    v[0] = 1.0;
    if (tau != 0.0) {
      auto A22 = A.bottomRightCorner(m, m);
      w.noalias() = A22.selfadjointView<Eigen::Lower>() * (tau * v);
      // H A22 H = A22 - v w' - w v' with w = p - (tau / 2)(p'v) v, p = tau A22 v.
      w -= (0.5 * tau * w.dot(v)) * v;
      A22.selfadjointView<Eigen::Lower>().rankUpdate(v, w, -1.0);
    }
    A(i + 1, i) = beta;
    hc[i] = tau;
  }
  Eigen::VectorXd dT = A.diagonal();
  Eigen::VectorXd eT = A.diagonal(-1);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
  es.computeFromTridiagonal(dT, eT, Eigen::EigenvaluesOnly);
  return Rcpp::List::create(Rcpp::Named("symmetric") = true, Rcpp::Named("packed") = out,
                            Rcpp::Named("h") = hc, Rcpp::Named("dT") = dT,
                            Rcpp::Named("eT") = eT,
                            Rcpp::Named("values") = Rcpp::wrap(es.eigenvalues()));
}

// Q'B (transpose = TRUE) or QB for Q = H_1 ... H_{n-1}, the reflectors of
// cpp_tridiagonalize(); in slices of columns, polling for interrupts.
Eigen::MatrixXd glmmgee_exports::householder_apply(Eigen::Map<Eigen::MatrixXd> packed,
                                      Eigen::Map<Eigen::VectorXd> h,
                                      Eigen::Map<Eigen::MatrixXd> B, bool transpose) {
  const Eigen::Index n = packed.rows();
  if (packed.cols() != n || h.size() != n - 1 || B.rows() != n)
    Rcpp::stop("cpp_householder_apply: inconsistent sizes");
  glmmgee::check_memory(8.0 * n * (double)B.cols(), "the rotation of " +
                        std::to_string(B.cols()) + " columns");
  Eigen::HouseholderSequence<Eigen::Map<Eigen::MatrixXd>, Eigen::Map<Eigen::VectorXd>> Q(packed, h);
  Q.setLength(n - 1).setShift(1);
  Eigen::MatrixXd out = B;
  const Eigen::Index slice = 64;
  glmmgee::InterruptPoll ip(0.25);
  for (Eigen::Index c = 0; c < out.cols(); c += slice) {
    if (ip.poll()) ip.raise_if_interrupted();
    const Eigen::Index nc = std::min(slice, out.cols() - c);
    Eigen::MatrixXd blk = out.middleCols(c, nc);
    if (transpose) Q.adjoint().applyThisOnTheLeft(blk);
    else Q.applyThisOnTheLeft(blk);
    out.middleCols(c, nc) = blk;
  }
  return out;
}

// (lambda T + I)^{-1} B for the tridiagonal T (diagonal dT, subdiagonal eT)
// by the LDL' factorization, and log det(lambda T + I). ok = FALSE when a
// pivot is not positive (T not positive semidefinite at this lambda).
Rcpp::List glmmgee_exports::tridiag_solve(Eigen::Map<Eigen::VectorXd> dT, Eigen::Map<Eigen::VectorXd> eT,
                             double lambda, Eigen::Map<Eigen::MatrixXd> B) {
  const Eigen::Index n = dT.size();
  if (eT.size() != n - 1 || B.rows() != n) Rcpp::stop("cpp_tridiag_solve: inconsistent sizes");
  Eigen::VectorXd D(n), l(n > 1 ? n - 1 : 0);
  double logdet = 0.0;
  D[0] = 1.0 + lambda * dT[0];
  bool ok = D[0] > 0;
  for (Eigen::Index i = 1; i < n && ok; ++i) {
    l[i - 1] = lambda * eT[i - 1] / D[i - 1];
    D[i] = 1.0 + lambda * dT[i] - l[i - 1] * lambda * eT[i - 1];
    ok = D[i] > 0;
  }
  if (!ok) return Rcpp::List::create(Rcpp::Named("ok") = false);
  for (Eigen::Index i = 0; i < n; ++i) logdet += std::log(D[i]);
  Eigen::MatrixXd X = B;
  for (Eigen::Index i = 1; i < n; ++i) X.row(i) -= l[i - 1] * X.row(i - 1);
  for (Eigen::Index i = 0; i < n; ++i) X.row(i) /= D[i];
  for (Eigen::Index i = n - 2; i >= 0; --i) X.row(i) -= l[i] * X.row(i + 1);
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("solution") = X,
                            Rcpp::Named("logdet") = logdet);
}
