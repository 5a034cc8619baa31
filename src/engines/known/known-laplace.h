// The Laplace engine for binomial (logit) and Poisson (log) models with one
// known-covariance random intercept, K = L L' (fit-known-laplace.R). The
// engine works in the r-dimensional space of the factor: b = s L u,
// u ~ N(0, I_r), so the penalized Hessian is M = I + s^2 L' W L with W the
// per-level sums of the working weights. Forming L' W L, its Cholesky factor
// and the leverages diag(L M^{-1} L') are the O(levels r^2) steps; the
// Newton / chord iterations for the modes are O(levels r) each. All of them
// run here; R drives the optimizer over (beta, log s).
//
// Two layouts of L: a general dense levels x r matrix (a genotype factor),
// and the factor of a dense K made by known_dense_factor(): the Cholesky
// factor with its columns in reverse order, so that row i is nonzero only in
// columns r-1-i, ..., r-1 ("reversed triangular"). K = L L' either way; with
// the reversed layout the products skip the zero half of L and, because a
// forward substitution with the lower factor of M leaves the leading zeros
// of such a row in place, the leverages need only the trailing block of the
// factor: the per-evaluation cost drops from levels r^2 / 2 to about r^3 / 6
// for each of the two products.
#ifndef GLMMGEE_KNOWN_LAPLACE_H
#define GLMMGEE_KNOWN_LAPLACE_H

#include <RcppEigen.h>
#include <vector>

namespace glmmgee {

typedef Eigen::Map<const Eigen::MatrixXd> KlMat;

// The factor L with its layout and the multiplications the engine needs.
// Every product is split into fixed blocks, each computed by one thread in a
// fixed order: results do not depend on the number of threads.
class KlFactor {
 public:
  KlFactor(const KlMat& L, bool rtri, int threads) : L_(L), rtri_(rtri), threads_(threads) {}
  Eigen::Index rows() const { return L_.rows(); }
  Eigen::Index cols() const { return L_.cols(); }
  bool rtri() const { return rtri_; }
  // first column that may be nonzero in rows [0, hi) ... [lo, hi)
  Eigen::Index first_col(Eigen::Index hi) const {
    return rtri_ ? std::max<Eigen::Index>(0, L_.cols() - hi) : 0;
  }
  // first row that may be nonzero in columns [j0, j1)
  Eigen::Index first_row(Eigen::Index j1) const {
    return rtri_ ? std::max<Eigen::Index>(0, L_.cols() - j1) : 0;
  }
  // L V (levels x k) for V r x k
  Eigen::MatrixXd mul(const Eigen::MatrixXd& V) const;
  // L' v (r) for v of length levels
  Eigen::VectorXd tmul(const Eigen::VectorXd& v) const;
  // The lower Cholesky factor of M = I + s2 L' diag(w) L written into F
  // (r x r; only its lower triangle is set). False when M is not positive
  // definite; *logdet = log det M.
  bool penalized_factor(const Eigen::VectorXd& w, double s2, Eigen::Ref<Eigen::MatrixXd> F,
                        double* logdet) const;
  // diag(L M^{-1} L') from the lower factor F of M.
  Eigen::VectorXd leverages(const Eigen::MatrixXd& F) const;
  // The weighted Gram matrices S_k = A' diag(V.col(k)) A of A = L F^{-T}
  // (levels x r), for the columns of V (levels x k): k r x r matrices, only
  // their lower triangles set. tr(S_k S_l) = v_k' (P o P) v_l for the
  // hat matrix P = L M^{-1} L' (= A A'), the term of the log-determinant's
  // second derivatives that the leverages do not give.
  std::vector<Eigen::MatrixXd> weighted_grams(const Eigen::MatrixXd& F,
                                              const Eigen::MatrixXd& V) const;

 private:
  KlMat L_;
  bool rtri_;
  int threads_;
};

// True when the levels x levels matrix L is zero above its anti-diagonal
// (row i zero in columns < r-1-i): the layout known_dense_factor() makes.
bool kl_is_reversed_triangular(const KlMat& L);

// Family codes of the engine (R: known_laplace_family()$code).
enum KlFamily { kKlBinomialLogit = 0, kKlPoissonLog = 1 };

// The engine of one model. It keeps the modes u and the factor of M from
// the previous evaluation: the next evaluation's modes start from them and
// first iterate with that factor fixed (the chord method, O(levels r) per
// step instead of O(levels r^2)); consecutive evaluations of an optimizer are
// close, so they converge in a few steps. Memory: one r x r factor.
class KlEngine {
 public:
  KlEngine(const KlMat& L, bool rtri, std::vector<int> index, Eigen::VectorXd y,
           Eigen::VectorXd m, int family, int threads);
  // Modes and factor at eta0 = X beta + offset and s; false when the modes or
  // the factor could not be found. The Laplace log-likelihood is then value().
  bool evaluate(const Eigen::VectorXd& eta0, double s);
  double value() const { return h_ - 0.5 * logdet_; }
  // The gradient's pieces at the last evaluation: the observation vector v
  // whose product X'v is the gradient in beta, and the derivative in log s;
  // also the leverages diag(L M^{-1} L').
  void gradient(Eigen::VectorXd* vobs, double* dlogs, Eigen::VectorXd* lev) const;
  // The exact Hessian of the Laplace log-likelihood in (beta, s) at the last
  // evaluation, for the fixed-effects design X (observations x p): the
  // modes' first and second derivatives by implicit differentiation of the
  // mode equation (O(levels r) each), the log-determinant's from the
  // leverages and p + 1 weighted Gram matrices (weighted_grams()).
  Eigen::MatrixXd hessian(const Eigen::Map<const Eigen::MatrixXd>& X) const;
  void reset();
  const Eigen::VectorXd& u() const { return u_; }
  const Eigen::VectorXd& eta() const { return eta_; }
  Eigen::Index n() const { return y_.size(); }

 private:
  struct Derivs {
    Eigen::VectorXd r, w, w3, w4;
  };
  double loglik(const Eigen::VectorXd& eta) const;
  // r, w = -d2 loglik / d eta2 and, with third, w3 = dw / d eta and
  // w4 = d w3 / d eta (per observation)
  void derivs(const Eigen::VectorXd& eta, Derivs* d, bool third) const;
  Eigen::VectorXd level_sums(const Eigen::VectorXd& v) const;
  Eigen::VectorXd at_obs(const Eigen::VectorXd& lv) const;
  Eigen::VectorXd msolve(const Eigen::VectorXd& g) const;
  // One run of the mode iterations from u_; refresh = false keeps F_ fixed
  // (chord), refresh = true refactors when the decrement shrinks slowly.
  bool ascend(const Eigen::VectorXd& eta0, double s, int maxit, bool refresh);

  KlFactor L_;
  std::vector<int> index_;
  bool identity_;
  Eigen::VectorXd y_, m_, const_;
  int family_;
  Eigen::MatrixXd F_;
  bool have_F_;
  Eigen::VectorXd u_, Lu_, eta_;
  double s_, h_, logdet_;
};

}  // namespace glmmgee

#endif
