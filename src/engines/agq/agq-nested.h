// Multilevel adaptive Gauss-Hermite quadrature for nested random intercepts
// (Pinheiro and Chao, 2006).
//
// Model: levels l = 0 (outermost) .. L-1 (innermost); every observation i
// belongs to one unit of each level, each unit of level l >= 1 to exactly
// one unit of level l-1. With u_{l,v} ~ N(0, 1) independent,
//   eta_i = x_i' beta + offset_i + sum_l s_l u_{l, unit_l(i)},  s_l >= 0.
// The likelihood of an outer unit is an L-fold nested integral: a unit's
// integral over its own u holds, at every node, the integrals of its
// children, so the cost is (number of units) x K^depth, never K^(number of
// units).
//
// For a unit v of level l and the sum c of its ancestors' contributions
// s u, let F_v(c, u) = -u^2/2 + (leaf) sum_i l_i(eta_i + c + s_l u)
//                              (else) sum_w P_w(c + s_l u),
// P_v(c) = max_u F_v(c, u) the profile (the joint maximum over the subtree).
// At the maximiser u^, with D_v = d2 of the leaf sum (or sum_w P_w''),
//   P_v'  = sum l' (or sum P_w'),      P_v'' = D_v / (1 - s_l^2 D_v),
//   sigma_v^2 = 1 / (1 - s_l^2 D_v)    (the Schur complement of the subtree's
//                                      Hessian: the curvature in u once the
//                                      descendants are maximised out),
//   kappa_v = du^/dc = s_l D_v / (1 - s_l^2 D_v).
// The quadrature of v given c is centred at u^ and scaled by sigma_v:
//   g_v(c) = log sum_k w_k exp(z_k^2/2) sigma_v exp(-u_k^2/2 + inner(u_k)),
//   u_k = u^ + sigma_v z_k, inner = the leaf sum or sum_w g_w(c + s_l u_k):
// each child's integral is centred at its own conditional mode given the
// node. With one node (K = 1) this is the Laplace approximation of the joint
// integral: the product of the sigma_v is det(H)^{-1/2} of the joint Hessian.
//
// Random slopes at the innermost level: with an n x q design Z there (q > 1;
// q = 1 with a column of ones is the intercept above), the innermost unit's
// effects are Lambda u, u ~ N(0, I_q), Lambda lower triangular (lme4's
// theta fills it column by column), and the leaf sum is
// sum_i l_i(eta_i + c + z_i' Lambda u). Its profile is found by Newton steps
// in u; with A = I - Lambda' (sum d2_i z_i z_i') Lambda at the maximiser and
// a = Lambda' sum d2_i z_i,
//   P_v' = sum l',   P_v'' = sum d2 + a' A^{-1} a,   du^/dc = A^{-1} a,
// and the quadrature is the product grid of K^q nodes u^ + C z with C the
// Cholesky factor of A^{-1}. The parameters are then (beta, s_1..s_{L-1},
// Lambda's lower triangle by columns, [log dispersion]).
#ifndef GLMMGEE_AGQ_NESTED_H
#define GLMMGEE_AGQ_NESTED_H

#include <RcppEigen.h>
#include <memory>
#include <vector>
#include "families/families.h"
#include "families/gh-rule.h"
#include "util/resources.h"

namespace glmmgee {

struct NestedResult {
  double loglik = 0.0;
  int failures = 0;  // units whose mode or curvature could not be found
  Eigen::VectorXd gradient;  // with evaluate(gradient = true); see above
  // Each outer unit's log-likelihood, without the constant of the
  // observations' densities (which `loglik` includes).
  Eigen::VectorXd unit_loglik;
  // With the gradient, each outer unit's part of it (npar x units; the
  // columns sum to `gradient`).
  Eigen::MatrixXd unit_gradient;
};

struct NestedModes {
  std::vector<std::vector<double> > u, var;  // per level, per unit (u scale)
  Eigen::VectorXd eta;
  bool failed = false;
};

class NestedAgq {
 public:
  // unit[l][i]: unit (0-based) of observation i at level l.
  NestedAgq(const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::VectorXd>& y,
            const Eigen::Ref<const Eigen::VectorXd>& wt,
            const Eigen::Ref<const Eigen::VectorXd>& offset,
            const std::vector<std::vector<int> >& unit, int family, int link,
            int nthreads,
            const Eigen::Ref<const Eigen::MatrixXd>& Z = Eigen::MatrixXd());
  int npar() const { return p_ + L_ - 1 + nlam_ + (disp_ ? 1 : 0); }
  int q() const { return q_; }
  NestedResult evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, int K,
                        bool gradient = false);
  NestedModes modes(const Eigen::Ref<const Eigen::VectorXd>& theta);

 private:
  struct Ctx {
    const double* eta;
    const double* s;
    double phi;
    const GhRule* rule;
    InterruptPoll* ip;
    double* buf;    // per-thread scratch, one entry per observation of a
    double* d1;     // unit of the innermost level
    ObsDerivs* od;
    // Gradient only (else null): the nodes u on the path from the outer
    // unit (one per level), and per level the K node gradients and the
    // sum over one child's.
    double* path;
    double* nodeg;
    double* childg;
    const double* lam = nullptr;  // with Z: Lambda (q x q, by columns)
    const GhGrid* grid = nullptr;  // with Z: the K^q product grid
  };
  struct Scratch {
    Scratch(int m, int L, int K, int np)
        : buf(m), d1(m), od(m), path(L), nodeg((size_t)L * K * np), childg((size_t)L * np) {}
    std::vector<double> buf, d1;
    std::vector<ObsDerivs> od;
    std::vector<double> path, nodeg, childg;
  };
  void profile(int l, int v, double c, Ctx& cx, double* P, double* P1, double* P2);
  double integrate(int l, int v, double c, Ctx& cx, double* grad);
  double leaf_sum(int v, double shift, Ctx& cx) const;
  // With a design Z: the innermost unit's profile and quadrature (see above).
  void profile_leaf(int v, double c, Ctx& cx, double* P, double* P1, double* P2);
  double integrate_leaf(int v, double c, Ctx& cx, double* grad);
  double leaf_sum_q(int v, double c, const Eigen::VectorXd& u, Ctx& cx) const;
  void leaf_grad_q(int v, const Eigen::VectorXd& u, Ctx& cx, double* g) const;
  void leaf_grad(int v, Ctx& cx, double* g) const;
  double leaf_grad_beta(int v, const Ctx& cx, double* g) const;
  double leaf_grad_phi(int v, const Ctx& cx) const;
  // eta without the random effects, in the innermost units' order.
  void setup_eta(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::VectorXd& eta,
                 std::vector<double>& s, double& phi, Eigen::MatrixXd& lam) const;

  int n_, p_, L_;
  int q_ = 1, nlam_ = 1;
  bool zleaf_ = false;  // a design at the innermost level (else intercept only)
  Eigen::MatrixXd Zs_;  // with Z: the innermost term's design in unit order
  bool disp_;
  std::unique_ptr<ObsModel> fam_;
  Eigen::MatrixXd X_, Xs_;  // Xs_: X in the innermost units' order
  Eigen::VectorXd y_, wt_, off_;
  double lconst_ = 0.0;
  int nthreads_;
  std::vector<int> nunits_;
  // Children of unit v of level l: child_idx[l][child_start[l][v] ..].
  std::vector<std::vector<int> > child_start_, child_idx_;
  // Observations of innermost unit v: obs_idx_[obs_start_[v] ..].
  std::vector<int> obs_start_, obs_idx_;
  std::vector<double> ys_, ws_;  // y and weights in that order
  int maxleaf_ = 0;
  // Per unit: last conditional mode (warm start), sigma and kappa at it,
  // and the ancestors' shift c it was found for.
  std::vector<std::vector<double> > mode_, sig_, kap_, cat_;
  // With Z, per innermost unit: mode (q), du^/dc (q), C (q x q), c of the
  // last search, log det C.
  std::vector<double> lmode_, lkap_, lchol_, lcat_, lldet_;
};

}  // namespace glmmgee
#endif
