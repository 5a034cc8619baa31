// Marginal log-likelihood of a GLMM with one grouping factor, by the Laplace
// approximation (K = 1) or adaptive Gauss-Hermite quadrature (K > 1), with
// its exact gradient.
//
// Model, for cluster i with rows j:
//   eta_j = x_j' beta + offset_j + z_j' Lambda u_i,   u_i ~ N(0, I_q),
// so b_i = Lambda u_i has covariance D = Lambda Lambda'. Lambda is lower
// triangular with a fixed pattern of free entries (block-diagonal for
// (x || g) or several terms on one factor); its diagonal is bounded below by
// zero in the optimizer, which makes a variance of exactly zero reachable
// (a singular fit) rather than an infinitely negative log-parameter.
//
// Parameters theta = (beta [p], Lambda's free entries [nl], phi [0 or 1]).
//
// The integral over u_i is taken after centring at the mode u^_i and scaling
// by L_i = C_i^{-T}, where H_i = C_i C_i' is the negative Hessian of the
// integrand's log at the mode (Liu & Pierce 1994; Pinheiro & Bates 1995).
// The gradient differentiates the approximation itself, including how u^_i
// and C_i move with theta (implicit-function theorem, third derivatives of
// the log-likelihood in eta), so it agrees with numerical differentiation of
// the returned value and the optimizer sees one consistent function.
#ifndef GLMMGEE_AGQ_H
#define GLMMGEE_AGQ_H

#include <RcppEigen.h>
#include <algorithm>
#include <memory>
#include <vector>
#include "families/families.h"
#include "families/families-aux.h"
#include "families/gh-rule.h"
#include "util/resources.h"

namespace glmmgee {

// Rows of the data regrouped by cluster (counting sort, stable).
struct ClusterLayout {
  int M = 0;
  std::vector<int> start;  // M + 1 offsets into the sorted rows
  std::vector<int> perm;   // sorted position -> original row (0-based)
  // Rows of the largest cluster.
  int largest() const {
    int m = 0;
    for (int i = 0; i < M; ++i) m = std::max(m, start[i + 1] - start[i]);
    return m;
  }
};
// group holds codes 1..M in any order. Throws if a code is out of range.
ClusterLayout make_layout(const int* group, int n, int M);

// Per-cluster results at one parameter value, for ranef() and predictions.
// Written in place into R vectors (allocate(), before any parallel region),
// which go to R as they are: no second copy of M x q^2 values.
struct AgqSummaries {
  Rcpp::NumericMatrix mode_r, mode_var_r, post_mean_r, post_var_r;
  Rcpp::NumericVector loglik_r;
  Eigen::Map<Eigen::MatrixXd> mode{nullptr, 0, 0};       // M x q, u^ (spherical scale)
  Eigen::Map<Eigen::MatrixXd> mode_var{nullptr, 0, 0};   // M x q*q, H^{-1} (column-major per cluster)
  Eigen::Map<Eigen::MatrixXd> post_mean{nullptr, 0, 0};  // M x q, E[u | y] under the rule
  Eigen::Map<Eigen::MatrixXd> post_var{nullptr, 0, 0};   // M x q*q, Var[u | y] under the rule
  Eigen::Map<Eigen::VectorXd> loglik{nullptr, 0};        // M, each cluster's marginal log-likelihood
  int newton_failures = 0;
  void allocate(int M, int q) {
    mode_r = Rcpp::NumericMatrix(M, q);
    mode_var_r = Rcpp::NumericMatrix(M, q * q);
    post_mean_r = Rcpp::NumericMatrix(M, q);
    post_var_r = Rcpp::NumericMatrix(M, q * q);
    loglik_r = Rcpp::NumericVector(M);
    new (&mode) Eigen::Map<Eigen::MatrixXd>(mode_r.begin(), M, q);
    new (&mode_var) Eigen::Map<Eigen::MatrixXd>(mode_var_r.begin(), M, q * q);
    new (&post_mean) Eigen::Map<Eigen::MatrixXd>(post_mean_r.begin(), M, q);
    new (&post_var) Eigen::Map<Eigen::MatrixXd>(post_var_r.begin(), M, q * q);
    new (&loglik) Eigen::Map<Eigen::VectorXd>(loglik_r.begin(), M);
  }
};

struct AgqResult {
  double loglik = 0.0;
  Eigen::VectorXd gradient;
  int newton_failures = 0;  // clusters whose mode search did not converge
  // The same sums as unrounded pairs (dd-sum.h): hi + lo, for drivers that
  // add the sums of several engines (shards).
  double loglik_hi = 0.0, loglik_lo = 0.0;
  Eigen::VectorXd gradient_hi, gradient_lo;
};

// The number of quadrature points of a one-factor engine (AgqEngine,
// TwoPartEngine in agq-zero-re.h), switched on an existing engine, keeping the
// data and the modes (a Laplace fit's modes are the right warm start for
// quadrature), or only checked against the memory limit. The engine
// befriends it and holds K_, q_, grid_ and check_work_memory(K), which
// throws, naming the size, when K points per random effect would need more
// scratch memory than allowed.
template <class Engine>
class NagqSwitch {
 public:
  void set_nagq(int K) {
    Engine& e = static_cast<Engine&>(*this);
    e.check_work_memory(K);
    e.K_ = K;
    e.grid_ = gh_grid(K, e.q_);
  }
  int nagq() const { return static_cast<const Engine&>(*this).K_; }
  void check_nagq(int K) const { static_cast<const Engine&>(*this).check_work_memory(K); }
};

class AgqEngine : public NagqSwitch<AgqEngine> {
  friend class NagqSwitch<AgqEngine>;

 public:
  AgqEngine(const Eigen::Ref<const Eigen::MatrixXd>& X,
            const Eigen::Ref<const Eigen::MatrixXd>& Z,
            const Eigen::Ref<const Eigen::VectorXd>& y,
            const Eigen::Ref<const Eigen::VectorXd>& wt,
            const Eigen::Ref<const Eigen::VectorXd>& offset,
            const int* group, int M, const std::vector<int>& lam_row,
            const std::vector<int>& lam_col, int family, int link, int nAGQ,
            int nthreads);

  int npar() const { return p_ + nl_ + (aux_ ? (int)XA_.cols() : (disp_ ? 1 : 0)); }
  int nclusters() const { return lay_.M; }
  bool has_dispersion() const { return disp_; }

  // Auxiliary linear predictors (families-aux.h): zero-inflation, hurdle or
  // a dispersion formula. XA (n x pa, rows in the original order) holds the
  // designs of all auxiliary predictors side by side, pred says which
  // predictor each column feeds, aoff (n x naux) their offsets. Their
  // coefficients follow Lambda's entries in theta, replacing the scalar
  // dispersion. Throws on sizes that do not fit.
  void set_aux(int kind, const Eigen::Ref<const Eigen::MatrixXd>& XA,
               const std::vector<int>& pred,
               const Eigen::Ref<const Eigen::MatrixXd>& aoff);
  int naux() const { return aux_ ? aux_->naux() : 0; }

  AgqResult evaluate(const Eigen::VectorXd& theta, bool gradient);
  // The same with the gradient's Lambda part along directions only: dirs
  // (nl x nd, column k the derivative of Lambda's entries in a structure's
  // k-th parameter) replaces the nl entries' gradient by dirs' times it,
  // computed inside the clusters, where every implicit term (the mode's and
  // the factor's motion) costs one column per direction instead of one per
  // entry. Throws when dirs has not nl rows or holds a non-finite value.
  AgqResult evaluate(const Eigen::VectorXd& theta, bool gradient,
                     const Eigen::MatrixXd& dirs);
  int nlambda() const { return nl_; }
  // Each cluster's gradient at theta (M x npar(), rows in the order of the
  // group codes): the score contributions whose sum evaluate() returns.
  Eigen::MatrixXd cluster_scores(const Eigen::VectorXd& theta);
  // evaluate() with its gradient, and each cluster's gradient in the rows
  // of S (resized to M x npar()): the same numbers as evaluate()'s.
  AgqResult evaluate_scores(const Eigen::VectorXd& theta, Eigen::MatrixXd& S);
  // The same along directions (evaluate(theta, true, dirs)): each cluster's
  // gradient in the directions' coordinates (M x (npar() - nl + nd)).
  AgqResult evaluate_scores(const Eigen::VectorXd& theta, Eigen::MatrixXd& S,
                            const Eigen::MatrixXd& dirs);
  // Maximum-likelihood fixed effects of the GLM without random effects
  // (damped Newton from zero, at most maxit steps): the starting values.
  Eigen::VectorXd glm_start(int maxit) const;
  // The same GLM's log-likelihood, score and information at beta on this
  // engine's rows only: a shard's share of the sums that glm_start() uses,
  // so a driver holding many shards can take the same Newton steps.
  double glm_sums(const Eigen::VectorXd& beta, Eigen::VectorXd& grad,
                  Eigen::MatrixXd& info) const;
  // The same with the low parts of order-independent sums (agq-shard.cpp).
  double glm_sums_dd(const Eigen::VectorXd& beta, Eigen::VectorXd& grad,
                     Eigen::MatrixXd& info, Eigen::VectorXd& lo) const;
  AgqSummaries summaries(const Eigen::VectorXd& theta);
  // Hessian in the fixed and auxiliary coefficients (p + columns of XA) of
  // the log-likelihood at the modes, without the log|H| terms
  // (agq-info.cpp): a start curvature for the search. Needs set_aux().
  Eigen::MatrixXd fixed_curvature(const Eigen::VectorXd& theta);
  // Mode cache management: the engine warm-starts each cluster's Newton
  // search from its last mode; reset() forgets them.
  void reset_modes() { ucache_.setZero(); }
  // The scalar fast path (see agq-scalar-fast.cpp) can be switched off, so tests
  // can check it against the general code on the same data.
  void set_fast(bool on) { fast_ = on ? fast_kind_ : FAST_NONE; }
  // Each cluster's mode search stops where the next Newton step is below
  // 1e-10 (relative), without taking it: the value is then exact to about
  // 1e-20, its gradient to about 1e-10. With polished modes the last step
  // is taken and the curvature taken again there (one more pass over the
  // cluster's rows), so the gradient is exact to rounding, as differences
  // of it for a Hessian need (the cumulative link slope fits).
  void set_polish(bool on) { polish_ = on; }
  bool fast() const { return fast_ != FAST_NONE; }
  // The same for the grouping of a cluster's rows by their Z row
  // (make_patterns()); returns whether any cluster is grouped.
  bool set_patterns(bool on) {
    if (on) {
      make_patterns();
    } else {
      pat_.clear();
      pat_rep_.clear();
      pat_start_.clear();
      pmax_ = 0;
    }
    return !pat_start_.empty();
  }

 private:
  struct Work;
  // Directions in Lambda's entries by column, nonzeros only: direction k
  // has entries e[start[k] .. start[k + 1]) with weights w.
  struct LamDirs {
    int nd = 0;
    std::vector<int> start, e;
    std::vector<double> w;
  };
  AgqResult evaluate_impl(const Eigen::VectorXd& theta, bool gradient, const LamDirs* dirs,
                          Eigen::MatrixXd* scores = nullptr);
  // evaluate(theta, true, dirs), with each cluster's gradient in `scores`
  // when not null.
  AgqResult evaluate_dirs(const Eigen::VectorXd& theta, const Eigen::MatrixXd& dirs,
                          Eigen::MatrixXd* scores);
  // Throws, naming the size, when the scratch for K points per random effect
  // in every thread would exceed the memory limit (resources.h).
  void check_work_memory(int K) const;
  int aux_columns() const;
  // One Work per thread, allocated before a parallel region.
  // width: gradient entries per cluster (npar() without directions).
  std::vector<std::unique_ptr<Work> > make_work(int nthreads, int width) const;
  double cluster(int i, const Eigen::VectorXd& eta0,
                 const Eigen::MatrixXd& Lam, double phi, bool grad, Work& w,
                 double* g, AgqSummaries* out, bool* failed,
                 const LamDirs* dirs = nullptr);
  void unpack(const Eigen::VectorXd& theta, Eigen::VectorXd& beta,
              Eigen::MatrixXd& Lam, double& phi) const;
  // The setup every pass over the clusters at theta starts with: theta
  // unpacked, the auxiliary predictors filled, X beta + offset row by row
  // (lin-pred.h). Before a parallel region.
  void prepare(const Eigen::VectorXd& theta, Eigen::MatrixXd& Lam, double& phi,
               Eigen::VectorXd& eta0);
  // One random effect with a log-likelihood in exp(eta) (logit, log links):
  // same results as cluster(), several times faster. Returns false, leaving
  // the outputs untouched, when the cluster needs the general code.
  template <bool Logit>
  bool cluster_scalar_exp(int i, const Eigen::VectorXd& eta0, double lam, bool grad,
                    Work& w, double* g, AgqSummaries* out, bool* failed,
                    double* ll);

  // Per-observation auxiliary predictors at theta (before a parallel region).
  void fill_aux(const Eigen::VectorXd& theta);

  // The poll of the pass over the clusters under way (evaluate_impl(),
  // summaries()), or null: cluster() polls it between quadrature nodes too,
  // since one cluster of 600 rows at 1e5 nodes is a minute of work.
  InterruptPoll* poll_ = nullptr;
  bool polish_ = false;  // set_polish()
  struct PollScope {
    AgqEngine& e;
    PollScope(AgqEngine& eng, InterruptPoll& ip) : e(eng) { e.poll_ = &ip; }
    ~PollScope() { e.poll_ = nullptr; }
  };
  void poll_node(long k) const {
    if (poll_ && (k & 63) == 63 && poll_->poll()) throw Rcpp::internal::InterruptedException();
  }

  enum FastKind { FAST_NONE = 0, FAST_LOGIT = 1, FAST_LOG = 2 };
  FastKind fast_kind_ = FAST_NONE, fast_ = FAST_NONE;
  std::vector<char> zconst_;   // cluster's z column is constant (e.g. intercept)
  // Rows of a cluster that share their random-effect design row share
  // everything Lambda touches (Z_i Lambda, the curvature's outer products,
  // the gradient in Lambda's entries): one spatial field of 100 sites
  // observed 5,000 times is 100 patterns, not 5,000 rows. pat_[s] is row s's
  // pattern within its cluster, numbered by first row; cluster i's patterns
  // have first rows pat_rep_[pat_start_[i] ..]. A cluster where grouping
  // does not pay keeps one pattern per row (make_patterns()); pat_start_ is
  // empty when no cluster is compressed (agq.cpp). pmax_:
  // the most patterns of a compressed cluster (0 when none is).
  std::vector<int> pat_, pat_rep_, pat_start_;
  int pmax_ = 0;
  void make_patterns();
  std::vector<double> wconst_; // cluster's common prior weight, or NaN

  int n_, p_, q_, nl_, K_, nthreads_;
  bool disp_;
  std::unique_ptr<ObsModel> fam_;
  ClusterLayout lay_;
  int nmax_;
  // The data, rows in cluster order: views of the caller's memory when its
  // rows already come cluster by cluster (the usual layout; entry-agq.cpp
  // keeps those R objects alive with the engine), else of the reordered
  // copies in the *_own_ members.
  Eigen::Map<const Eigen::MatrixXd> X_{nullptr, 0, 0}, Z_{nullptr, 0, 0};
  Eigen::Map<const Eigen::VectorXd> y_{nullptr, 0}, wt_{nullptr, 0}, off_{nullptr, 0};
  // Built with empty weights (all 1) or an empty offset (all 0): wt_ and
  // off_ then have no rows. Row s's weight is weight(s); the weights of rows
  // s0.. of one cluster or block of at most max(nmax_, 4096) rows start at
  // wt_at(s0) (ones_ when unit). An empty off_ is a zero offset for
  // linear_predictor() (lin-pred.h).
  bool unit_wt_ = false;
  std::vector<double> ones_;
  double weight(long s) const { return unit_wt_ ? 1.0 : wt_[s]; }
  const double* wt_at(long s0) const { return unit_wt_ ? ones_.data() : wt_.data() + s0; }
  // Built with a Z of no rows (one random intercept, a column of ones): Z_
  // then has no rows either. Entry (s, a) of Z in cluster order is zv(s, a);
  // column 0 of a cluster's rows from s0 starts at z_at(s0) (ones_ when unit).
  bool unit_z_ = false;
  double zv(long s, int a) const { return unit_z_ ? 1.0 : Z_(s, a); }
  const double* z_at(long s0) const { return unit_z_ ? ones_.data() : Z_.data() + s0; }
  // The caller's row of the s-th row in cluster order (lay_.perm is emptied
  // when that is the identity).
  int row_of(int s) const { return lay_.perm.empty() ? s : lay_.perm[s]; }
  Eigen::MatrixXd X_own_, Z_own_;
  Eigen::VectorXd y_own_, wt_own_, off_own_;
  Eigen::VectorXd lconst_;      // per-cluster sum of normalizing constants
  std::vector<int> lam_row_, lam_col_;
  GhGrid grid_;
  Eigen::MatrixXd ucache_;      // M x q warm starts
  std::unique_ptr<AuxObsModel> aux_;
  Eigen::MatrixXd XA_, AOFF_;   // rows in cluster order
  std::vector<int> apred_;
  Eigen::MatrixXd AV_;          // naux x n: observation s's predictors in column s
  // X beta + offset at the last theta, n values: kept between evaluations,
  // since a fresh n-vector per evaluation is paid in page faults (about
  // 0.15 s per evaluation at ten million rows).
  Eigen::VectorXd eta_buf_;
};

}  // namespace glmmgee
#endif
