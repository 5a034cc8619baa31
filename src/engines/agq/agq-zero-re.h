// Laplace / adaptive Gauss-Hermite engine for a zero-inflated or hurdle
// GLMM with one grouping factor and random effects in both parts.
//
// For cluster i with rows j and u_i ~ N(0, I_q), b_i = Lambda u_i:
//   eta_j = x_j' beta  + offset_j  + zc_j' b_i   (count part, log link)
//   a_j   = xz_j' gamma + offz_j   + zz_j' b_i   (logit of the zero part)
//   phi_j = xd_j' delta + offd_j [+ zd_j' b_i]   (log dispersion, if any)
// zc_j is zero on the zero part's coordinates of b and zz_j on the count
// part's, so D = Lambda Lambda' holds both parts' variances and, when
// Lambda is full, their correlations (GLMMadaptive's model); a Lambda
// block-diagonal over the two parts gives independent terms (glmmTMB's).
// With kinds 7 and 8 the log dispersion is random too (its columns of b
// follow the zero part's: `nsecond` of Zz's columns are the zero part's,
// the rest the dispersion's), and the three predictors are integrated
// jointly; kinds 4 to 6 put the log dispersion in a's slot instead.
//
// Parameters theta = (beta [p], Lambda's free entries [nl], gamma [pz],
// delta [pd]), the order of the fixed-zero-part engine (agq.h), so the R
// side reads both fits alike.
//
// Quadrature and gradient follow agq.cpp with the scalar predictor replaced
// by the pair (eta, a), or the triple (eta, a, phi): nodes u^ + C^{-T} z_k, H = C C' the negative Hessian
// at the mode; the gradient differentiates the approximation itself, moving
// mode and factor by the implicit-function theorem, which needs the third
// derivatives of l in (eta, a) and their derivative in phi
// (families-aux-re.h).
#ifndef GLMMGEE_AGQ_TWO_PART_H
#define GLMMGEE_AGQ_TWO_PART_H

#include <RcppEigen.h>
#include <memory>
#include <vector>
#include "engines/agq/agq.h"
#include "families/families-aux-re.h"
#include "families/gh-rule.h"

namespace glmmgee {

class TwoPartEngine : public NagqSwitch<TwoPartEngine> {
  friend class NagqSwitch<TwoPartEngine>;

 public:
  TwoPartEngine(const Eigen::Ref<const Eigen::MatrixXd>& X,
             const Eigen::Ref<const Eigen::MatrixXd>& Zc,
             const Eigen::Ref<const Eigen::MatrixXd>& Zz,
             const Eigen::Ref<const Eigen::MatrixXd>& Xz,
             const Eigen::Ref<const Eigen::MatrixXd>& Xd,
             const Eigen::Ref<const Eigen::VectorXd>& y,
             const Eigen::Ref<const Eigen::VectorXd>& wt,
             const Eigen::Ref<const Eigen::MatrixXd>& off,  // n x 3: eta, a, phi
             const int* group, int M, const std::vector<int>& lam_row,
             const std::vector<int>& lam_col, int family, int link, int kind,
             int nAGQ, int nthreads, int nsecond = -1);

  int npar() const { return p_ + nl_ + pz_ + pd_; }
  int nclusters() const { return lay_.M; }
  // With `scores` (M x npar()), each cluster's gradient in row i.
  AgqResult evaluate(const Eigen::VectorXd& theta, bool gradient,
                     Eigen::MatrixXd* scores = nullptr);
  // Each cluster's gradient at theta (M x npar()): evaluate()'s score
  // contributions.
  Eigen::MatrixXd cluster_scores(const Eigen::VectorXd& theta);
  // evaluate() with its gradient and the scores in S (resized to M x npar()).
  AgqResult evaluate_scores(const Eigen::VectorXd& theta, Eigen::MatrixXd& S) {
    S.resize(lay_.M, npar());
    return evaluate(theta, true, &S);
  }
  AgqSummaries summaries(const Eigen::VectorXd& theta);
  // The Hessian in (beta, gamma, delta) at the modes without the log|H|
  // terms, a start curvature for the search (agq-zero-re-info.cpp).
  Eigen::MatrixXd fixed_curvature(const Eigen::VectorXd& theta);

 private:
  struct Work;
  void check_work_memory(int K) const;
  // One Work per thread, allocated before a parallel region.
  std::vector<std::unique_ptr<Work> > make_work(int nthreads) const;
  // Lambda and the three linear predictors at theta (rows in cluster
  // order): what every pass over the clusters starts from.
  struct Predictors {
    Eigen::MatrixXd Lam;
    Eigen::VectorXd eta0, a0, ph;
  };
  Predictors prepare(const Eigen::VectorXd& theta) const;
  double cluster(int i, const Eigen::VectorXd& eta0, const Eigen::VectorXd& a0,
                 const Eigen::VectorXd& ph, const Eigen::MatrixXd& Lam, bool grad,
                 Work& w, double* g, AgqSummaries* out, bool* failed);

  int n_, p_, q_, nl_, pz_, pd_, K_, nthreads_, nmax_;
  bool r3_;  // the third predictor random (kinds 7 and 8): Z3_ its design
  std::unique_ptr<ObsModel> fam_;
  std::unique_ptr<TwoPartRE> obs_;
  ClusterLayout lay_;
  Eigen::MatrixXd X_, Z1_, Z2_, Z3_, Xz_, Xd_, off_;  // rows in cluster order
  Eigen::VectorXd y_, wt_, lconst_;
  std::vector<int> lam_row_, lam_col_;
  GhGrid grid_;
  Eigen::MatrixXd ucache_;
  // Warm start of the modes to first order: after an evaluation with the
  // gradient, ducache_ holds each cluster's d u^ / d theta (q x P, by
  // columns, one row per cluster) at du_theta_, where ucache_ holds the
  // modes; the next evaluation starts Newton from u^ + (du/dtheta) dtheta_.
  // Any other evaluation invalidates it (ucache_ moves without it).
  Eigen::MatrixXd ducache_;
  Eigen::VectorXd du_theta_, dtheta_;
  bool du_valid_ = false, use_du_ = false;
  void start_evaluation(const Eigen::VectorXd& theta, bool gradient);
};

}  // namespace glmmgee
#endif
