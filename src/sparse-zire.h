// Laplace approximation for two-part GLMMs (zero-inflation, hurdle) whose
// count part and zero part each carry any number of random-effect terms
// (crossed, nested, slopes; the same or different grouping factors):
//   eta = X beta + off_1 + Zc Lambda_c u_c,   a = Xz gamma + off_2 + Zz Lambda_z u_z,
// log phi = Xd delta + off_3, u = (u_c, u_z) ~ N(0, I), the two parts'
// effects independent (Lambda block diagonal, glmmTMB's model). One row's
// log-likelihood l(eta, a, phi) and its derivatives in (eta, a) come from
// families-aux-re.h. With A1 = [Zc 0] Lambda, A2 = [0 Zz] Lambda and the
// per-row negative Hessian W = -d2 l / d(eta, a)^2 at the joint mode u^,
//   H = I + A1' W11 A1 + A1' W12 A2 + A2' W12 A1 + A2' W22 A2,
//   L = sum l(u^) - |u^|^2 / 2 - log det(H) / 2.
// H is sparse; it is factorized by a sparse Cholesky (SimplicialLLT with a
// fill-reducing ordering). The engine evaluates L only: the gradient is
// taken by central differences in R (fit-sparse-zire.R).
#ifndef GLMMGEE_SPARSE_ZIRE_H
#define GLMMGEE_SPARSE_ZIRE_H

#include <RcppEigen.h>
#include <memory>
#include <vector>
#include "families.h"
#include "families-aux-re.h"

namespace glmmgee {

struct SparseZireModes {
  Eigen::VectorXd u, b, eta, a;
  std::vector<int> inv_i, inv_j;  // H^{-1} on H's lower pattern (0-based)
  std::vector<double> inv_x;
  double loglik = 0.0;
  bool failed = false;
};

class SparseZire {
 public:
  typedef Eigen::SparseMatrix<double> SpMat;
  SparseZire(const Eigen::Ref<const Eigen::MatrixXd>& X,
             const Eigen::Ref<const Eigen::MatrixXd>& Xz,
             const Eigen::Ref<const Eigen::MatrixXd>& Xd, const SpMat& Zc, const SpMat& Zz,
             const Eigen::Ref<const Eigen::VectorXd>& y,
             const Eigen::Ref<const Eigen::VectorXd>& wt,
             const Eigen::Ref<const Eigen::MatrixXd>& off, const std::vector<int>& lam_row,
             const std::vector<int>& lam_col, const std::vector<int>& lam_k, int ntheta,
             int family, int link, int kind);
  int npar() const { return p_ + nth_ + pz_ + pd_; }
  // The Laplace log-likelihood (-Inf when the joint mode is not found or
  // H is not positive definite there); *iters: Newton iterations.
  double evaluate(const Eigen::VectorXd& theta, int* iters);
  SparseZireModes modes(const Eigen::VectorXd& theta);
  void reset() { ucache_.setZero(); }

 private:
  void setup(const Eigen::VectorXd& theta);
  // Sum of l at u (and, with full, the derivatives into g1, g2, w11, w12, w22).
  double rows(const Eigen::VectorXd& u, bool full);
  bool mode(int* iters);
  void hessian(SpMat& H) const;

  int n_, p_, pz_, pd_, Q_, nth_;
  std::unique_ptr<ObsModel> fam_;
  std::unique_ptr<TwoPartRE> obs_;
  Eigen::MatrixXd X_, Xz_, Xd_, off_;
  Eigen::VectorXd y_, wt_;
  SpMat Z1_, Z2_, A1_, A2_;
  std::vector<int> lr_, lc_, lk_;
  double lconst_ = 0.0;
  Eigen::VectorXd eta0_, a0_, ph_, eta_, av_, g1_, g2_, w11_, w12_, w22_;
  Eigen::VectorXd u_, ucache_;
  Eigen::SimplicialLLT<SpMat> chol_;
};

}  // namespace glmmgee
#endif
