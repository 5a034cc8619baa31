// Laplace approximation to the marginal log-likelihood of a GLMM with any
// number of random-effect terms (nested, crossed, random slopes, known
// covariance), with a sparse random-effects design and a sparse Cholesky
// factorization, and its exact gradient.
//
// Model:
//   eta = X beta + offset + Z Lambda u,   u ~ N(0, I_Q),
// Z (n x Q) sparse; Lambda (Q x Q) sparse with a fixed pattern whose entries
// are the covariance parameters: entry (r, c) equals lambda[k(r, c)], as
// lme4's Lambdat/Lind (Bates et al. 2015). Known-covariance terms enter
// through Z (R multiplies their columns by a factor of K).
//
// With A = Z Lambda, W = diag(-d2 l / d eta2) at the mode u^ (the
// conditional mode, found by penalized IRLS = Newton with step halving), and
// H = A' W A + I, the Laplace approximation is
//   L = sum_i l_i(eta_i(u^)) - |u^|^2 / 2 - log det(H) / 2.
// H has a fixed sparsity pattern: it is analysed (fill-reducing ordering,
// symbolic factorization) once, and only factorized numerically per
// evaluation.
//
// Gradient (all parameters, exact for the approximation): the implicit
// function theorem gives how u^ moves, and the derivative of log det(H)
// needs h_i = a_i' H^{-1} a_i (a_i the rows of A), i.e. entries of H^{-1}
// on the pattern of the Cholesky factor only, computed by the Takahashi
// recurrences (selected inversion; Takahashi, Fagan and Chin 1973; Rue and
// Martino 2007, sec. 2). The formulas are in laplace.cpp.
#ifndef GLMMGEE_LAPLACE_H
#define GLMMGEE_LAPLACE_H

#include <RcppEigen.h>
#include <limits>
#include <memory>
#include <vector>
#include "families/families.h"
#include "families/families-aux.h"
#include "util/polled-llt.h"

namespace glmmgee {

// Pattern of Lambda: entries (row, col) carrying parameter k (0-based).
struct LambdaPattern {
  std::vector<int> row, col, k;
  int ntheta = 0;
};

struct SparseResult {
  double loglik = 0.0;
  Eigen::VectorXd gradient;
  int pirls_iterations = 0;
  bool pirls_failed = false;
};

// Quantities at the conditional mode, for ranef() and fitted values.
struct SparseModes {
  Eigen::VectorXd u, b, eta, w;   // spherical modes, b = Lambda u, eta, W
  // H^{-1} on the pattern of H (lower triangle, original order).
  std::vector<int> inv_i, inv_j;
  std::vector<double> inv_x;
  double logdet = 0.0;
  bool failed = false;
};

class SparseLaplace {
 public:
  typedef Eigen::SparseMatrix<double, Eigen::RowMajor> RowMat;
  typedef Eigen::SparseMatrix<double, Eigen::ColMajor> ColMat;

  SparseLaplace(const Eigen::Ref<const Eigen::MatrixXd>& X, const RowMat& Z,
                const Eigen::Ref<const Eigen::VectorXd>& y,
                const Eigen::Ref<const Eigen::VectorXd>& wt,
                const Eigen::Ref<const Eigen::VectorXd>& offset,
                const LambdaPattern& lam, int family, int link);

  int npar() const {
    return p_ + lam_.ntheta + (aux_ ? (int)XA_.cols() : (disp_ ? 1 : 0));
  }
  // Auxiliary linear predictors (zero-inflation, hurdle, dispersion
  // formula; families-aux.h), as AgqEngine::set_aux(): their coefficients
  // follow the covariance parameters in theta.
  void set_aux(int kind, const Eigen::Ref<const Eigen::MatrixXd>& XA,
               const std::vector<int>& pred, const Eigen::Ref<const Eigen::MatrixXd>& aoff);
  int nre() const { return Q_; }
  int nobs() const { return n_; }
  long nnz_factor() const;

  SparseResult evaluate(const Eigen::VectorXd& theta, bool gradient);
  // evaluate(theta, true); when the last evaluation was at theta without
  // the gradient (a line search's trial, then accepted), only its gradient
  // part is computed, from what that evaluation left: the same values as
  // evaluate(theta, true) in its place would have given.
  SparseResult evaluate_gradient(const Eigen::VectorXd& theta);
  // Each cluster's part of the gradient at theta (G x npar), when every
  // random effect and everything it is correlated with lies within one
  // cluster (H is then block diagonal by cluster, and each block's part is
  // the gradient of that cluster's own Laplace log-likelihood): obs_cl[i]
  // the cluster of observation i, re_cl[j] that of random effect j (0-based;
  // -1 for observations of zero weight and effects nothing loads on). The
  // caller checks the clusters; a failed evaluation gives NaN.
  Eigen::MatrixXd cluster_gradient(const Eigen::VectorXd& theta, const std::vector<int>& obs_cl,
                                   const std::vector<int>& re_cl, int G);
  // evaluate(theta, true) and, from the same pass, cluster_gradient()'s
  // rows in `per` (resized to G x npar(); NaN where the evaluation failed).
  SparseResult evaluate_split(const Eigen::VectorXd& theta, const std::vector<int>& obs_cl,
                              const std::vector<int>& re_cl, int G, Eigen::MatrixXd& per);
  SparseModes modes(const Eigen::VectorXd& theta);
  // H^{-1} rhs at the mode for theta (columns of rhs in original order).
  Eigen::MatrixXd solve(const Eigen::VectorXd& theta, const Eigen::MatrixXd& rhs);
  void reset_modes() {
    ucache_.setZero();
    uanchor_.setZero();
    ll_anchor_ = -std::numeric_limits<double>::infinity();
    below_ = 0;
    last_ok_ = false;
    grad_ready_ = false;
  }
  // The GLM's fixed effects (no random effects), for starting values
  // (laplace-start.cpp); not with auxiliary predictors.
  Eigen::VectorXd glm_start(int maxit) const;
  // Threads for the loops over observations, H's entries and A's columns
  // (laplace-kernels.cpp); results do not depend on the number.
  void set_threads(int nthreads);
  int threads() const { return nthreads_; }

 private:
  void fill_aux(const Eigen::VectorXd& theta);
  std::unique_ptr<AuxObsModel> aux_;
  Eigen::MatrixXd XA_, AOFF_, AV_;  // AV_: naux x n
  std::vector<int> apred_;
  void unpack(const Eigen::VectorXd& theta, Eigen::VectorXd& beta,
              Eigen::VectorXd& lam, double& phi) const;
  void set_A(const Eigen::VectorXd& lam);
  bool factor_H(const Eigen::VectorXd& w);
  // Newton with step halving from the cached mode; leaves the factor of H at
  // the returned mode, and d (derivatives) there.
  // With `alt`, PIRLS starts from whichever of u and *alt has the higher
  // penalized log-likelihood.
  bool pirls(const Eigen::VectorXd& eta0, double phi, Eigen::VectorXd& u,
             Eigen::VectorXd& eta, std::vector<ObsDerivs>& d, double& f,
             int& iters, const Eigen::VectorXd* alt = nullptr);
  // First-order prediction of the modes at (beta, lam) from the last
  // evaluation's mode and factor (laplace-predict.cpp); call before set_A().
  bool predict_modes(const Eigen::VectorXd& beta, const Eigen::VectorXd& lam,
                     Eigen::VectorXd& u) const;
  void keep_last(const Eigen::VectorXd& beta, const Eigen::VectorXd& lam,
                 const Eigen::VectorXd& u, const std::vector<ObsDerivs>& d);
  void selected_inverse(std::vector<double>& S) const;
  // With `per` (and the clusters of cluster_gradient()), each cluster's
  // part is also summed into its row.
  void add_gradient(SparseResult& res, const std::vector<int>* obs_cl = nullptr,
                    const std::vector<int>* re_cl = nullptr, Eigen::MatrixXd* per = nullptr);
  double logdet() const;
  // Kernels in laplace-kernels.cpp, run in fixed chunks (chunked.h).
  void eta_of(const Eigen::VectorXd& eta0, const Eigen::VectorXd& u,
              Eigen::VectorXd& eta) const;                      // eta0 + A u
  void At_times(const Eigen::VectorXd& v, Eigen::VectorXd& out) const;  // A' v
  void Zt_times(const Eigen::VectorXd& v, Eigen::VectorXd& out) const;  // Z' v
  // Derivatives of each observation at eta (the family's, or its wrapper's
  // with the auxiliary predictors of fill_aux()); returns sum l in chunk order.
  double obs_derivs(const Eigen::VectorXd& eta, double phi, std::vector<ObsDerivs>& d) const;
  void assemble_H(const Eigen::VectorXd& w);                    // H = A' W A + I
  void build_gather();

  int n_, p_, Q_;
  bool disp_;
  std::unique_ptr<ObsModel> fam_;
  Eigen::MatrixXd X_;
  ColMat Zc_;                        // Z, column-major, for Z' v
  Eigen::VectorXd y_, wt_, off_;
  double lconst_ = 0.0;
  LambdaPattern lam_;
  // A = Z Lambda with a fixed row-major pattern; its values are
  // sum over recipes of z * lambda[k].
  RowMat A_;
  std::vector<int> rec_pos_, rec_k_, rec_loc_;  // A value position, k, local col
  std::vector<double> rec_z_;
  std::vector<long> rec_start_;             // n + 1 offsets (recipes by row)
  // H (lower triangle + diagonal, column-major) and, per observation, the
  // positions of its pairs (a <= b local indices) in H and in the factor.
  ColMat H_;
  std::vector<long> pair_start_;     // n + 1 offsets
  std::vector<int> pair_h_, pair_s_;
  std::vector<int> diag_h_;           // position of H(j, j)
  PolledLLT chol_;  // SimplicialLLT whose factorization honours Ctrl-C
  bool pairs_mapped_ = false;
  Eigen::VectorXd ucache_;  // the modes of the last evaluation
  // Where PIRLS starts: the modes of the last evaluation, unless its
  // log-likelihood was below the one before (a rejected trial step, whose
  // modes can be far off), then those of the one before; after two such
  // evaluations in a row (a restart elsewhere), the last one's again.
  Eigen::VectorXd uanchor_;
  double ll_anchor_ = -std::numeric_limits<double>::infinity();
  int below_ = 0;
  // The last successful evaluation: its parameters, modes and, at the
  // modes, d1 and W; chol_ still holds the factor of its H.
  bool last_ok_ = false;
  Eigen::VectorXd last_beta_, last_lam_, last_u_, last_d1_, last_w_;
  int nthreads_ = 1;
  // The last evaluation's derivatives and eta at the modes, phi, theta and
  // result, for its gradient (grad_ready_: made without it, and the factor
  // not changed since).
  bool grad_ready_ = false;
  std::vector<ObsDerivs> grad_d_;
  Eigen::VectorXd grad_eta_, grad_theta_;
  double grad_phi_ = 0.0;
  SparseResult grad_res_;
  // A by columns: positions in A's values and rows, increasing rows.
  std::vector<long> acol_start_;
  std::vector<int> acol_pos_, acol_row_;
  // With several threads H is gathered entry by entry: the pairs of each
  // entry in increasing observation order (the order of the serial
  // scatter, so the sums are the same), their products in pair_prod_.
  std::vector<long> hg_start_;
  std::vector<int> hg_pair_;
  std::vector<double> pair_prod_;
};

}  // namespace glmmgee
#endif
