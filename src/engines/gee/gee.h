// Generalized estimating equations: Fisher scoring over clusters, moment
// estimators of the scale and the working correlation, and the variance
// estimators (model-based, sandwich, small-sample corrected, jackknife).
//
// Notation (Liang & Zeger 1986). For observation j of cluster i with prior
// weight w, mean mu = linkinv(eta) and variance function V(mu):
//   e_ij  = sqrt(w / V) (y - mu)              weighted Pearson residual,
//   Dt_ij = sqrt(w / V) dmu/deta x_ij         scaled derivative row.
// The working covariance of cluster i is phi * R_i(alpha), so with L_i the
// Cholesky factor of R_i and Z_i = L_i^{-1} [Dt_i, e_i] everything the
// estimating equations need is a cross-product of Z_i:
//   H = sum_i Dt_i' R_i^{-1} Dt_i,   U_i = Dt_i' R_i^{-1} e_i.
// phi cancels from the beta step and from the sandwich; it enters the
// model-based variance (phi H^{-1}) and the correlation moments.
//
// Clusters are built here from the integer cluster index by a counting sort,
// so the input rows may come in any order. Sums over clusters are formed in
// a fixed number of blocks and added in block order, which makes the results
// the same for any number of OpenMP threads.
#ifndef GLMMGEE_GEE_H
#define GLMMGEE_GEE_H

#include <RcppEigen.h>
#include <string>
#include <memory>
#include <vector>
#include "families/families.h"

namespace glmmgee {

// Working correlation codes, shared with R through cpp_gee_corstr_table().
enum CorCode { COR_INDEPENDENCE = 0, COR_EXCHANGEABLE = 1, COR_AR1 = 2,
               COR_UNSTRUCTURED = 3, COR_MDEP = 4, COR_FIXED = 5 };
const std::vector<std::string>& corstr_names();

// Optional variance estimators (the sandwich and model-based ones are always
// computed), as bit flags.
enum VarFlag { VAR_MD = 1, VAR_KC = 2, VAR_JACK = 4, VAR_J1S = 8, VAR_FIJ = 16 };

// Everything the engine reads; the pointers refer to R memory, read only.
struct GeeInput {
  const double* X = nullptr;  // n x p, column major
  int n = 0, p = 0;
  const double* y = nullptr;
  const double* w = nullptr;  // prior weights (nullptr: all 1); rows with w == 0 are left out
  const double* offset = nullptr;  // nullptr: no offset
  const int* id = nullptr;    // cluster codes 1..M
  int M = 0;
  const int* wave = nullptr;  // 1-based wave positions, or nullptr: data order
  int family = 0, link = 0, corstr = COR_INDEPENDENCE, mdep = 1;
  const double* Rfixed = nullptr;  // Rdim x Rdim fixed working correlation
  int Rdim = 0;
  bool scale_fix = false;
  double scale_value = 1.0;
  // Dispersion inside the variance function (log theta for nbinom2), held
  // fixed by the engine; R alternates it with the regression.
  double family_phi = 0.0;
  // Distributed fits: the number of wave positions of the whole data, so
  // that every shard lays out its correlation moments alike (0: own data).
  int T_global = 0;
};

struct GeeControl {
  double epsilon = 1e-8;
  int maxit = 50;
  bool trace = false;
  int threads = 1;
};

struct GeeParams {
  Eigen::VectorXd beta, alpha;  // alpha: NaN marks an unidentified parameter
  double phi = 1.0;
};

struct GeeFitResult {
  GeeParams par;
  int iter = 0;
  bool converged = false;
  double delta = 0.0;  // last relative change
  double score = 0.0;  // largest |estimating function| at the last iteration's start
  int halved = 0;      // iterations whose step left the family's range and was halved
  std::string error;   // non-empty: the fit could not continue
};

struct GeeVariance {
  Eigen::MatrixXd H, B, robust, model;  // H, B without phi
  Eigen::MatrixXd md, kc, jack, j1s, fij;  // jackknife sums are unscaled
  Eigen::VectorXd U;                    // total estimating function
  Eigen::MatrixXd HI;                   // independence information (no phi)
  double quasi = 0.0;                   // sum of w * Q(y; mu)
  int jack_nonconverged = 0;
  int nonpd_clusters = 0;  // clusters whose working correlation is not PD
  std::string error;
};

// Correlation moments of a residual pass: sum of e^2, observations, pair
// products S and counts C (layout by corstr).
struct GeeMoments {
  double sum_e2 = 0.0, nobs = 0.0;
  std::vector<double> S, C;
};

// The moment estimates of the scale and working correlation from summed
// moments (shared by the engine and the distributed driver).
void gee_assoc_update(int corstr, int mdep, bool scale_fix, double scale_value,
                      const GeeMoments& mom, GeeParams& par);

class GeeEngine {
 public:
  explicit GeeEngine(const GeeInput& in);

  // Cluster structure after dropping zero-weight rows.
  int clusters() const { return K_; }
  int positions() const { return T_; }
  int nactive() const { return start_.empty() ? 0 : start_.back(); }
  int nrows() const { return in_.n; }
  int ncoef() const { return p_; }
  // Original code (1..M) of the first cluster with a duplicated wave, or 0.
  int duplicated_wave_cluster() const { return dup_cluster_; }
  std::vector<int> cluster_sizes() const;
  int nalpha() const;
  void set_threads(int threads);

  // One weighted least-squares step from a starting linear predictor
  // (independence), the usual way into Fisher scoring. eta0 = nullptr: the
  // link of glm's starting means (start_eta() in gee.cpp), row by row.
  Eigen::VectorXd start_from_eta(const double* eta0, std::string& error) const;
  // Scoring to convergence; `skip` leaves one cluster out (jackknife), its
  // information judged singular or not against the full information's
  // Cholesky factor `ref` (DeletionSolver in gee.cpp).
  GeeFitResult fit(const GeeParams& start, const GeeControl& ctl, int skip = -1,
                   const Eigen::LLT<Eigen::MatrixXd>* ref = nullptr);
  // With Hg, Ug (the information and estimating function of all shards of a
  // distributed fit) the bias corrections and jackknives use them instead of
  // this engine's own, the one-step jackknife comes from its closed form
  // (H - H_k)^{-1} (U - U_k), and every result is this engine's share of a
  // sum over shards.
  GeeVariance variance(const GeeParams& par, int flags, const GeeControl& ctl,
                       const Eigen::MatrixXd* Hg = nullptr,
                       const Eigen::VectorXd* Ug = nullptr);
  // Shard sums for distributed fits (gee-shard.cpp).
  void start_sums(const double* eta0, Eigen::MatrixXd& H, Eigen::VectorXd& g, bool& bad) const;
  std::vector<double> shard_moments(const Eigen::VectorXd& beta, std::string& error);
  Eigen::MatrixXd shard_cross(const GeeParams& par, int& bad_code, int& nonpd);
  // Linear predictor and mean for every input row.
  void fitted(const Eigen::VectorXd& beta, double* eta, double* mu) const;

 private:
  typedef GeeMoments Moments;
  // Scratch space of each thread, allocated before a parallel region.
  // A dense working correlation buffer is left uninitialized: a cluster of
  // thousands of rows would otherwise pay for zeroing n^2 doubles at every
  // pass although the banded and closed-form paths never touch it.
  struct RawBuffer {
    std::unique_ptr<double[]> p;
    size_t n = 0;
    void resize(size_t k) { p.reset(new double[k]); n = k; }
    bool empty() const { return n == 0; }
    double* data() { return p.get(); }
  };
  struct ThreadScratch {
    std::vector<RawBuffer> R;
    std::vector<std::vector<double> > Z;
  };
  bool dense_needed(const GeeParams& par) const;
  ThreadScratch scratch(bool dense, const char* what) const;
  void blocks_init();
  int moment_size() const;
  // Residual pass at beta: caches e and Dt, collects the moments.
  bool pass_resid(const Eigen::VectorXd& beta, int skip, Moments& mom,
                  std::string& error);
  void update_assoc(const Moments& mom, GeeParams& par) const;
  // ar1 lag sums of one large cluster by fast Fourier transform (S, C by lag).
  bool ar1_by_fft(int j0, int j1) const;
  void ar1_lag_sums_fft(int j0, int j1, double* S, double* C) const;
  // Whitened [Dt, e] of cluster k into Z (n x (p+1)); false if R_k is not
  // positive definite.
  bool whiten_banded(int k, const GeeParams& par, double* Z) const;
  bool whiten(int k, const GeeParams& par, const std::vector<double>& powtab,
              double* Rbuf, double* Z) const;
  double rho(int a, int b, const GeeParams& par, const std::vector<double>& powtab) const;
  std::vector<double> ar1_powers(const GeeParams& par) const;
  // Sum of Z_k' Z_k over clusters ((p+1) x (p+1)); optional per-cluster U_k
  // and H_k. Returns the first failing cluster or -1.
  int pass_cross(const GeeParams& par, int skip, Eigen::MatrixXd& ZtZ,
                 Eigen::MatrixXd* Uk, std::vector<Eigen::MatrixXd>* Hk);
  void build_R(int k, const GeeParams& par, const std::vector<double>& powtab,
               double* Rbuf) const;
  std::string singular_message(int k, const GeeParams& par) const;

  GeeInput in_;
  std::unique_ptr<ObsModel> fam_;
  int p_, K_, T_, nmax_, dup_cluster_;
  int threads_;
  std::vector<int> start_, row_, pos_, code_;  // clusters in sorted order
  // The input row at sorted position j, and the (0-based) position of row j
  // of the cluster that starts at j0. row_ and pos_ are kept only where they
  // differ from j and j - j0: rows that come cluster by cluster, all with
  // weight, and no waves need neither (80 MB at ten million rows).
  int row(int j) const { return row_.empty() ? j : row_[j]; }
  int pos(int j0, int j) const { return pos_.empty() ? j - j0 : pos_[j]; }
  double wt(int i) const { return in_.w ? in_.w[i] : 1.0; }
  double off(int i) const { return in_.offset ? in_.offset[i] : 0.0; }
  std::vector<int> bstart_;                    // cluster blocks
  // Caches in sorted order: e_ the residuals, d_ = sqrt(w / V) dmu/deta,
  // so that row j of Dt is d_[j] times the row of X (fill_Dt(); not kept as
  // n x p values: 150 MB at ten million rows of three columns).
  std::vector<double> d_, e_;
  // Rows j0 .. j0 + n - 1 of Dt into the first p columns of the column-major
  // n-row matrix at Z (n = 1: row j0 as p values).
  void fill_Dt(int j0, int n, double* Z) const;
  int last_nonpd_ = 0;          // clusters whose R was not positive definite (last pass)
  Eigen::VectorXd cache_beta_;  // beta and skipped cluster of the caches
  int cache_skip_ = -2;         // -2: caches not valid
};

}  // namespace glmmgee

#endif
