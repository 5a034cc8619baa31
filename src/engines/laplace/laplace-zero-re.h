// Laplace approximation for two-part GLMMs (zero-inflation, hurdle) whose
// count part and zero part each carry any number of random-effect terms
// (crossed, nested, slopes; the same or different grouping factors):
//   eta = X beta + off_1 + Zc Lambda_c u_c,   a = Xz gamma + off_2 + Zz Lambda_z u_z,
// log phi = Xd delta + off_3, u = (u_c, u_z) ~ N(0, I), the two parts'
// effects independent (Lambda block diagonal, glmmTMB's model). With
// kinds 7 and 8 phi (the log dispersion) carries random effects too:
// phi = Xd delta + off_3 + Zd Lambda_d u_d, u = (u_c, u_z, u_d), W 3 x 3
// per row (Zz's last columns are Zd's: `nsecond` of them are the zero
// part's). One row's
// log-likelihood l(eta, a, phi) and its derivatives in (eta, a) come from
// families-aux-re.h. With A1 = [Zc 0] Lambda, A2 = [0 Zz] Lambda and the
// per-row negative Hessian W = -d2 l / d(eta, a)^2 at the joint mode u^,
//   H = I + A1' W11 A1 + A1' W12 A2 + A2' W12 A1 + A2' W22 A2,
//   L = sum l(u^) - |u^|^2 / 2 - log det(H) / 2.
// H has a fixed sparsity pattern (A = A1 + A2 has a fixed pattern, the two
// parts' columns disjoint): it is analysed (fill-reducing ordering, symbolic
// factorization) once per engine and only factorized numerically per
// evaluation, by the interruptible sparse Cholesky of polled-llt.h.
//
// Exact gradient (laplace-zero-re.cpp): the implicit function theorem for the
// joint mode u^ of both parts' effects, and the derivative of log det H,
// which needs the 2 x 2 blocks M_i = R_i H^{-1} R_i' (R_i = rows i of A1 and
// A2) and H^{-1} a_i on a_i's pattern: H^{-1} on the pattern of H, from the
// selected inverse (Takahashi recurrences, polled-llt.h).
#ifndef GLMMGEE_SPARSE_TWO_PART_H
#define GLMMGEE_SPARSE_TWO_PART_H

#include <RcppEigen.h>
#include <memory>
#include <vector>
#include "families/families.h"
#include "families/families-aux-re.h"
#include "util/polled-llt.h"

namespace glmmgee {

struct SparseTwoPartModes {
  Eigen::VectorXd u, b, eta, a, phi;  // phi: the third predictor at the mode
  std::vector<int> inv_i, inv_j;  // H^{-1} on H's lower pattern (0-based)
  std::vector<double> inv_x;
  std::vector<double> h_x;  // H itself on the same pattern
  double hmin = 0.0;        // H's smallest eigenvalue at the mode
  double loglik = 0.0;
  bool failed = false;
};

class SparseTwoPart {
 public:
  typedef Eigen::SparseMatrix<double> SpMat;
  typedef Eigen::SparseMatrix<double, Eigen::RowMajor> RowMat;
  SparseTwoPart(const Eigen::Ref<const Eigen::MatrixXd>& X,
             const Eigen::Ref<const Eigen::MatrixXd>& Xz,
             const Eigen::Ref<const Eigen::MatrixXd>& Xd, const SpMat& Zc, const SpMat& Zz,
             const Eigen::Ref<const Eigen::VectorXd>& y,
             const Eigen::Ref<const Eigen::VectorXd>& wt,
             const Eigen::Ref<const Eigen::MatrixXd>& off, const std::vector<int>& lam_row,
             const std::vector<int>& lam_col, const std::vector<int>& lam_k, int ntheta,
             int family, int link, int kind, int nsecond = -1);
  int npar() const { return p_ + nth_ + pz_ + pd_; }
  // The Laplace log-likelihood (-Inf when the joint mode is not found, or
  // H is not positive definite there, or H's smallest eigenvalue is below
  // kHminTol: see mode()); *iters: Newton iterations; with grad, its exact
  // gradient in theta (NaN where the value is -Inf).
  double evaluate(const Eigen::VectorXd& theta, int* iters, Eigen::VectorXd* grad = nullptr);
  // The modes and H at theta; with `guard` false, also where H's smallest
  // eigenvalue is below kHminTol (for diagnostics).
  SparseTwoPartModes modes(const Eigen::VectorXd& theta, bool guard = true);
  void reset() { ucache_.setZero(); }
  // The inner Newton search's warm start (the last mode found). Where the
  // joint objective has several modes the Laplace value depends on it, so
  // a caller that evaluates elsewhere (restarts) puts back the one it had
  // at the optimum it keeps. set_warm() returns false on a wrong size.
  const Eigen::VectorXd& warm() const { return ucache_; }
  bool set_warm(const Eigen::VectorXd& u) {
    if (u.size() != ucache_.size() || !u.allFinite()) return false;
    ucache_ = u;
    return true;
  }
  // The other state an evaluation leaves for the next: the start of
  // min_eigen()'s inverse iteration (empty before the first). The guard's
  // smallest eigenvalue, and so which points are refused near the bound,
  // depends on it; a caller that wants a search to run exactly as from
  // an earlier point of the fit puts back both (set_eigvec() returns false
  // on a wrong size).
  const Eigen::VectorXd& eigvec() const { return evec_; }
  bool set_eigvec(const Eigen::VectorXd& v) {
    if (v.size() != 0 && (v.size() != Q_ || !v.allFinite())) return false;
    evec_ = v;
    return true;
  }
  // The search's start curvature in (beta, gamma, delta) at theta: the
  // Hessian of sum l - |u|^2 / 2 with u at its joint mode (the Schur
  // complement of H in the joint Hessian of coefficients and effects),
  // without the log det(H) / 2 terms; from the state of the last
  // evaluation, which must have been made at theta and succeeded (false
  // otherwise, out untouched). No evaluation, no change of the warm start.
  bool fixed_curvature(const Eigen::VectorXd& theta, Eigen::MatrixXd& out) const;
  // Evaluations refused since the engine was made because H's smallest
  // eigenvalue at the mode was below kHminTol.
  long degenerate() const { return degenerate_; }
  // H's smallest eigenvalue at the mode of the last evaluation (NaN where
  // its inner search failed): how near the search is to the refused region.
  double hmin() const { return hmin_; }
  // The Laplace approximation is used only where H's smallest eigenvalue
  // is at least this (the prior alone gives 1; see mode()).
  static constexpr double kHminTol = 1e-3;

 private:
  void setup(const Eigen::VectorXd& theta);
  // W = -h, the row's negative Hessian in the random predictors (h's upper
  // triangle, as the observation models fill it).
  static void neg_h(const Obs2& o, double w[3][3]) {
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 3; ++c) w[b][c] = -(b <= c ? o.h[b][c] : o.h[c][b]);
  }
  // Sum of l at u (with full, each row's derivatives into obs_d_).
  double rows(const Eigen::VectorXd& u, bool full);
  // A1' v1 + A2' v2 (+ A3' v3 with three random predictors).
  Eigen::VectorXd at_times(const Eigen::VectorXd& v1, const Eigen::VectorXd& v2,
                           const Eigen::VectorXd& v3) const;
  // H (+ mu on the diagonal) at the weights of obs_d_, factorized.
  bool factor(double mu);
  // The joint mode and the factor of H there (newton()), then the guard
  // on H's smallest eigenvalue (false when refused).
  bool mode(int* iters, bool guard = true);
  bool newton(int* iters);
  double logdet() const;
  double laplace_value() const;
  double min_eigen();
  void map_pairs();
  void third_derivs();
  void gradient(Eigen::VectorXd& g);

  int n_, p_, pz_, pd_, Q_, qc_, nth_;
  // The random predictors (2 or 3) and where the third's columns start.
  int nr_ = 2, q2_ = 0;
  // The predictor (0 eta, 1 a, 2 phi) that random effect j moves.
  int part(int j) const { return j < qc_ ? 0 : (j < q2_ ? 1 : 2); }
  // Where the second (random) and third (fixed) predictors' coefficients
  // start in theta: (beta, Lambda, a's, phi's), except with kinds 5 and 6
  // (a zero part beside a dispersion formula with random effects),
  // whose a is the log dispersion and phi the zero part's logit, laid out
  // as every two-part fit, zero part first: (beta, Lambda, phi's, a's).
  int a_at_ = 0, ph_at_ = 0;
  bool row_consts_ = true;  // phi is a dispersion whose rows' constants pay
  std::unique_ptr<ObsModel> fam_;
  std::unique_ptr<TwoPartRE> obs_;
  Eigen::MatrixXd X_, Xz_, Xd_, off_;
  Eigen::VectorXd y_, wt_;
  SpMat Z_;  // [Zc Zz (Zd)], n x Q, for Z' v
  std::vector<int> lr_, lc_, lk_;
  double lconst_ = 0.0;
  // A = [Zc Zz] Lambda with a fixed row-major pattern (explicit zeros kept);
  // its values are sums of recipes z * theta[p + k].
  RowMat A_;
  std::vector<long> rec_start_;
  std::vector<int> rec_pos_, rec_k_, rec_loc_;
  std::vector<double> rec_z_;
  // H: lower triangle and diagonal, fixed pattern; per row of A the
  // positions of its pairs (a <= b) in H and in the factor.
  SpMat H_;
  std::vector<long> pair_start_;
  std::vector<int> pair_h_, pair_s_, diag_h_;
  bool pairs_mapped_ = false;
  PolledLLT chol_;
  Eigen::VectorXd eta0_, a0_, ph_, eta_, av_, g1_, g2_, g3_;
  Eigen::VectorXd phv_;  // phi at the current u (three random predictors)
  std::vector<Obs2> obs_d_;
  std::vector<TwoPartRE::RowConst> rc_;  // per row at ph_ (setup())
  std::vector<double> keep_;  // per row, TwoPartRE::eval_defer()'s, beside obs_d_
  bool t_ready_ = false;      // obs_d_'s third derivatives filled (third_derivs())
  Eigen::VectorXd u_, ucache_;
  Eigen::VectorXd evec_;  // the last eigenvector of min_eigen(), its warm start
  double hmin_ = 0.0;
  long degenerate_ = 0;
  Eigen::VectorXd last_theta_;  // theta of the last evaluate(), if it succeeded
  bool last_ok_ = false;
};

}  // namespace glmmgee
#endif
