// GEE engine; see gee.h for the notation and the contracts.
#include "engines/gee/gee.h"
#include "util/parallel.h"
#include "util/progress.h"
#include "util/resources.h"

#include <algorithm>
#include <complex>
#include <unsupported/Eigen/FFT>
#include <cmath>
#include <limits>

namespace glmmgee {

const std::vector<std::string>& corstr_names() {
  static const std::vector<std::string> v = {"independence", "exchangeable", "ar1",
                                             "unstructured", "mdep", "fixed"};
  return v;
}

namespace {

const int kMaxBlocks = 256;

// Runs f(block, acc, thread) for every block of clusters, each block writing
// into its own zeroed accumulator of length `width`, then adds the
// accumulators in block order: the floating-point result does not depend on
// the threads. On the region scaffold (util/parallel.h): an exception in a
// block stops the others and is thrown again after the region; so is an
// interrupt, polled between blocks and (through `poll`) inside long ones.
template <class F>
void reduce_blocks(int nblocks, int width, int threads, std::vector<double>& out,
                   F f, InterruptPoll* poll = nullptr) {
  InterruptPoll own;
  InterruptPoll& ip = poll ? *poll : own;
  std::vector<double> acc((size_t)nblocks * width, 0.0);
  parallel_for(nblocks, threads, 1, ip,
               [&](long b) { f((int)b, acc.data() + (size_t)b * width, thread_index()); });
  out.assign(width, 0.0);
  for (int b = 0; b < nblocks; ++b)
    for (int j = 0; j < width; ++j) out[j] += acc[(size_t)b * width + j];
}

// Index of the pair of positions a < b among the T(T-1)/2 upper-triangle
// pairs in row order (1:2, 1:3, ..., 1:T, 2:3, ...).
inline int pair_index(int a, int b, int T) { return a * T - a * (a + 1) / 2 + (b - a - 1); }

typedef Eigen::Map<Eigen::MatrixXd> MapMat;

// The information of the clusters left after deleting one, M = H - H_k,
// judged and factored against the full information H = L L' (its Cholesky
// factor `ref`): W = L^-1 M L^-T = I - L^-1 H_k L^-T, whose eigenvalues
// are 1 minus the leverages of the deleted cluster in the directions of
// the coefficients. W does not change when the design is shifted, scaled
// or otherwise reparametrised (year, x + 1000, income in cents), unlike a
// pivot of M itself, which had refused every deletion of a fit whose
// variance was asked for after the fit (vcov(type = "jack") etc. use the
// user's unscaled design). A deletion is singular when a pivot of W is at
// or below 1e-10 of the largest: the deleted cluster alone determines a
// direction (the leverage-1 rule of md, kc and the R-side corrected
// residuals). Eigen's LDLT reports success on a singular semidefinite
// matrix and solves with the null direction set to zero, which had left a
// coefficient that no remaining cluster informs at its full-data value (a
// jackknife variance silently too small). Without a Cholesky factor of H
// (H not positive definite) M is factored and judged as it is.
class DeletionSolver {
 public:
  DeletionSolver(const Eigen::LLT<Eigen::MatrixXd>* ref, const Eigen::MatrixXd& M) : ref_(ref) {
    if (ref_ && ref_->info() == Eigen::Success) {
      Eigen::MatrixXd W = ref_->matrixL().solve(M);
      W = ref_->matrixL().solve(Eigen::MatrixXd(W.transpose()));
      ldlt_.compute(0.5 * (W + W.transpose()));
    } else {
      ref_ = nullptr;
      ldlt_.compute(M);
    }
  }
  bool singular() const {
    if (ldlt_.info() != Eigen::Success) return true;
    const Eigen::VectorXd d = ldlt_.vectorD();
    return d.size() > 0 && !(d.minCoeff() > 1e-10 * d.cwiseAbs().maxCoeff());
  }
  // M^-1 u.
  Eigen::VectorXd solve(const Eigen::VectorXd& u) const {
    if (!ref_) return ldlt_.solve(u);
    return ref_->matrixU().solve(ldlt_.solve(ref_->matrixL().solve(u)));
  }

 private:
  const Eigen::LLT<Eigen::MatrixXd>* ref_;
  Eigen::LDLT<Eigen::MatrixXd> ldlt_;
};

// The refusal of a deletion whose remaining information is singular,
// worded in R (gee_engine_text()), which names the cluster and the
// coefficients.
std::string deletion_message(int code) {
  return "jackknife fit without cluster " + std::to_string(code) +
         " failed: the information matrix without it is singular";
}

// The starting linear predictor of a row when R gives none: the link of
// glm's starting mean (binomial (w y + 0.5) / (w + 1), counts y + 0.1, the
// others y), with the expressions of R's link functions.
double start_eta(int family, int link, double y, double w) {
  double mu;
  switch (family) {
    case FAM_BINOMIAL: case FAM_BETABINOMIAL: {
      // R forms w y and then adds 0.5; `volatile` keeps a compiler from
      // fusing the two into one multiply-add (aarch64, x86 with FMA), which
      // would round once instead of twice and move the start's last bit.
      volatile double wy = w * y;
      mu = (wy + 0.5) / (w + 1.0);
      break;
    }
    case FAM_POISSON: case FAM_NBINOM2: case FAM_NBINOM1: mu = y + 0.1; break;
    default: mu = y;
  }
  switch (link) {
    case LINK_LOGIT: return std::log(mu / (1.0 - mu));
    case LINK_PROBIT: return R::qnorm(mu, 0.0, 1.0, 1, 0);
    case LINK_CLOGLOG: return std::log(-std::log(1.0 - mu));
    case LINK_LOG: return std::log(mu);
    case LINK_INVERSE: return 1.0 / mu;
    case LINK_CAUCHIT: return R::qcauchy(mu, 0.0, 1.0, 1, 0);
    default: return mu;
  }
}

}  // namespace

GeeEngine::GeeEngine(const GeeInput& in)
    : in_(in), fam_(make_obs_model(in.family, in.link)), p_(in.p), K_(0), T_(0),
      nmax_(0), dup_cluster_(0), threads_(1) {
  if (fam_) fam_->set_phi(in.family_phi);
  const int n = in.n, M = in.M;
  auto used = [&in](int i) { return !in.w || in.w[i] > 0; };
  std::vector<int> cnt(M + 1, 0);
  for (int i = 0; i < n; ++i)
    if (used(i)) cnt[in.id[i]]++;
  // Clusters with no usable row are dropped; the rest keep the code order.
  std::vector<int> newk(M + 1, -1);
  for (int c = 1; c <= M; ++c)
    if (cnt[c] > 0) { newk[c] = K_++; code_.push_back(c); }
  start_.assign(K_ + 1, 0);
  for (int c = 1; c <= M; ++c)
    if (newk[c] >= 0) start_[newk[c] + 1] = cnt[c];
  for (int k = 0; k < K_; ++k) start_[k + 1] += start_[k];
  const int N = start_[K_];
  std::vector<int> next(start_.begin(), start_.end() - (K_ > 0 ? 1 : 0));
  // Rows already in cluster order (codes never decrease, every row used)
  // and no waves: row j is input row j at position j - start.
  bool in_order = !in.wave && N == n;
  for (int i = 1; i < n && in_order; ++i) in_order = in.id[i] >= in.id[i - 1];
  if (in.wave) {
    row_.resize(N);
    pos_.resize(N);
    // Stable counting sort by wave position, then by cluster: each cluster
    // ends up ordered by position whatever the input order.
    int W = 0;
    for (int i = 0; i < n; ++i)
      if (used(i)) W = std::max(W, in.wave[i]);
    std::vector<int> wc(W + 1, 0), ord(N);
    for (int i = 0; i < n; ++i)
      if (used(i)) wc[in.wave[i]]++;
    for (int v = 1; v <= W; ++v) wc[v] += wc[v - 1];
    for (int i = n - 1; i >= 0; --i)
      if (used(i)) ord[--wc[in.wave[i]]] = i;
    for (int j = 0; j < N; ++j) {
      const int i = ord[j], k = newk[in.id[i]];
      row_[next[k]] = i;
      pos_[next[k]] = in.wave[i] - 1;
      next[k]++;
    }
    T_ = W;
    for (int k = 0; k < K_ && dup_cluster_ == 0; ++k)
      for (int j = start_[k] + 1; j < start_[k + 1]; ++j)
        if (pos_[j] == pos_[j - 1]) { dup_cluster_ = code_[k]; break; }
  } else if (!in_order) {
    row_.resize(N);
    for (int i = 0; i < n; ++i)
      if (used(i)) row_[next[newk[in.id[i]]]++] = i;
  }
  for (int k = 0; k < K_; ++k) nmax_ = std::max(nmax_, start_[k + 1] - start_[k]);
  if (!in.wave) T_ = nmax_;
  T_ = std::max(T_, in.T_global);
  blocks_init();
  d_.assign(N, 0.0);
  e_.assign(N, 0.0);
}

void GeeEngine::fill_Dt(int j0, int n, double* Z) const {
  const size_t N = (size_t)in_.n;
  for (int c = 0; c < p_; ++c) {
    const double* xc = in_.X + (size_t)c * N;
    double* zc = Z + (size_t)c * n;
    for (int a = 0; a < n; ++a) zc[a] = d_[j0 + a] * xc[row(j0 + a)];
  }
}

void GeeEngine::blocks_init() {
  // Each block has its own accumulator; with many wave positions (ar1 lags
  // over day numbers) a wide one, so fewer blocks keep the accumulators
  // within ~64 MB. The count depends on the data only, never on threads.
  const double q = p_ + 1.0;
  const double width = std::max(3.0 + 2.0 * moment_size(), std::max(q * q, 2.0 * p_ * p_));
  const int by_mem = (int)std::max(1.0, std::floor(8e6 / width));
  const int nb = std::max(1, std::min(std::min(kMaxBlocks, K_), by_mem));
  bstart_.assign(nb + 1, 0);
  for (int b = 0; b <= nb; ++b) bstart_[b] = (int)((long long)b * K_ / nb);
}

void GeeEngine::set_threads(int threads) { threads_ = usable_threads(threads); }

std::vector<int> GeeEngine::cluster_sizes() const {
  std::vector<int> s(K_);
  for (int k = 0; k < K_; ++k) s[k] = start_[k + 1] - start_[k];
  return s;
}

int GeeEngine::nalpha() const {
  switch (in_.corstr) {
    case COR_EXCHANGEABLE: case COR_AR1: return 1;
    case COR_MDEP: return in_.mdep;
    case COR_UNSTRUCTURED: return T_ * (T_ - 1) / 2;
    default: return 0;
  }
}

int GeeEngine::moment_size() const {
  switch (in_.corstr) {
    case COR_EXCHANGEABLE: return 1;
    case COR_AR1: return T_;
    case COR_MDEP: return in_.mdep + 1;
    case COR_UNSTRUCTURED: return T_ * (T_ - 1) / 2;
    default: return 0;
  }
}

void GeeEngine::start_sums(const double* eta0, Eigen::MatrixXd& Hout, Eigen::VectorXd& gout,
                           bool& bad) const {
  const int p = p_, n = in_.n, nb = (int)bstart_.size() - 1;
  const int width = p * p + p + 1;
  std::vector<double> out;
  const ObsModel& fam = *fam_;
  reduce_blocks(nb, width, threads_, out, [&](int b, double* acc, int tid) {
    MapMat H(acc, p, p), g(acc + p * p, p, 1);
    Eigen::VectorXd x(p);
    for (int j = start_[bstart_[b]]; j < start_[bstart_[b + 1]]; ++j) {
      const int i = row(j);
      const double eta = eta0 ? eta0[i] : start_eta(in_.family, in_.link, in_.y[i], wt(i));
      const double mu = fam.linkinv(eta), me = fam.mu_eta(eta);
      const double W = wt(i) * me * me / fam.variance(mu);
      const double z = eta - off(i) + (in_.y[i] - mu) / me;
      if (!std::isfinite(W) || !std::isfinite(z)) { acc[width - 1] = 1.0; continue; }
      for (int c = 0; c < p; ++c) x[c] = in_.X[i + (size_t)c * n];
      H.selfadjointView<Eigen::Lower>().rankUpdate(x, W);
      g.col(0) += (W * z) * x;
    }
  });
  if (out.empty()) out.assign(width, 0.0);  // a shard without usable rows
  Hout = Eigen::Map<Eigen::MatrixXd>(out.data(), p, p);
  gout = Eigen::Map<Eigen::VectorXd>(out.data() + p * p, p);
  bad = out[width - 1] > 0;
}

Eigen::VectorXd GeeEngine::start_from_eta(const double* eta0, std::string& error) const {
  Eigen::MatrixXd H;
  Eigen::VectorXd g;
  bool bad = false;
  start_sums(eta0, H, g, bad);
  if (bad) { error = "non-finite starting working weights"; return Eigen::VectorXd(); }
  H = H.selfadjointView<Eigen::Lower>();
  Eigen::LDLT<Eigen::MatrixXd> ldlt(H);
  Eigen::VectorXd beta = ldlt.solve(g);
  if (ldlt.info() != Eigen::Success || !beta.allFinite())
    error = "the starting weighted least-squares step failed";
  return beta;
}

bool GeeEngine::pass_resid(const Eigen::VectorXd& beta, int skip, Moments& mom,
                           std::string& error) {
  const int p = p_, n = in_.n, nb = (int)bstart_.size() - 1, T = T_;
  const int ms = moment_size(), cor = in_.corstr, m = in_.mdep;
  const int width = 3 + 2 * ms;  // sum e^2, nobs, bad flag, S, C
  const ObsModel& fam = *fam_;
  std::vector<double> out;
  InterruptPoll ip;
  reduce_blocks(nb, width, threads_, out, [&](int b, double* acc, int) {
    double* S = acc + 3;
    double* C = acc + 3 + ms;
    for (int k = bstart_[b]; k < bstart_[b + 1]; ++k) {
      if (k == skip) continue;
      const int j0 = start_[k], j1 = start_[k + 1];
      for (int j = j0; j < j1; ++j) {
        const int i = row(j);
        double eta = off(i);
        for (int c = 0; c < p; ++c) eta += in_.X[i + (size_t)c * n] * beta[c];
        const double mu = fam.linkinv(eta), me = fam.mu_eta(eta), V = fam.variance(mu);
        double e, d;
        if (V > 0) {
          const double s = std::sqrt(wt(i) / V);
          e = s * (in_.y[i] - mu);
          d = s * me;
        } else if (in_.y[i] == mu) {
          // Fitted at the boundary where the observation lies (e.g. a
          // binomial offset of +40 makes mu = 1 in double precision): the
          // residual and the derivative both tend to zero, so the
          // observation carries no information, as in glm's IRLS.
          e = 0.0;
          d = 0.0;
        } else {
          e = d = std::numeric_limits<double>::quiet_NaN();
        }
        if (!std::isfinite(e) || !std::isfinite(d)) acc[2] = 1.0;
        e_[j] = e;
        d_[j] = d;
        acc[0] += e * e;
        acc[1] += 1.0;
      }
      if (cor == COR_EXCHANGEABLE) {
        // Sum over pairs a < c of e_a e_c = ((sum e)^2 - sum e^2) / 2: O(n).
        double se = 0.0, se2 = 0.0;
        for (int a = j0; a < j1; ++a) { se += e_[a]; se2 += e_[a] * e_[a]; }
        S[0] += 0.5 * (se * se - se2);
        C[0] += 0.5 * (j1 - j0) * (j1 - j0 - 1.0);
      } else if (cor == COR_AR1 && ar1_by_fft(j0, j1)) {
        ar1_lag_sums_fft(j0, j1, S, C);
      } else if (cor == COR_AR1 || cor == COR_MDEP || cor == COR_UNSTRUCTURED) {
        // Positions increase within a cluster, so m-dependence stops at the
        // first pair further apart than m: O(n m) rather than O(n^2).
        for (int a = j0; a < j1; ++a) {
          if ((a & 1023) == 0 && ip.poll()) return;
          for (int c = a + 1; c < j1; ++c) {
            const int lo = pos(j0, a), hi = pos(j0, c);
            int idx;
            if (cor == COR_UNSTRUCTURED) idx = pair_index(lo, hi, T);
            else if (cor == COR_MDEP && hi - lo > m) break;
            else idx = hi - lo;
            S[idx] += e_[a] * e_[c];
            C[idx] += 1.0;
          }
        }
      }
    }
  }, &ip);
  cache_beta_ = beta;
  cache_skip_ = skip;
  if (out[2] > 0) {
    cache_skip_ = -2;  // invalid
    // Not a diagnosis of separation: that is decided on the data by a
    // linear program (R/separation.R), which names the terms.
    error = "non-finite Pearson residuals: fitted means reached the boundary of the "
            "family's range (a probability of 0 or 1, or above 1 under the log link)";
    return false;
  }
  mom.sum_e2 = out[0];
  mom.nobs = out[1];
  mom.S.assign(out.begin() + 3, out.begin() + 3 + ms);
  mom.C.assign(out.begin() + 3 + ms, out.end());
  return true;
}

bool GeeEngine::ar1_by_fft(int j0, int j1) const {
  // Direct lag sums cost n^2 / 2 products; the transform about 3 L log2(L)
  // complex operations with L >= 2 x span. Only large clusters gain.
  const double n = j1 - j0;
  if (n < 2048) return false;
  const double span = pos(j0, j1 - 1) - pos(j0, j0) + 1.0;
  double L = 1.0;
  while (L < 2.0 * span) L *= 2.0;
  return 0.5 * n * n > 40.0 * L * std::log2(L);
}

void GeeEngine::ar1_lag_sums_fft(int j0, int j1, double* S, double* C) const {
  // Autocorrelations of the residuals and of the indicator of occupied
  // positions, zero-padded to at least twice the span so they do not wrap.
  const int span = pos(j0, j1 - 1) - pos(j0, j0) + 1;
  int L = 1;
  while (L < 2 * span) L *= 2;
  std::vector<double> x(L, 0.0), ind(L, 0.0);
  for (int j = j0; j < j1; ++j) {
    x[pos(j0, j) - pos(j0, j0)] = e_[j];
    ind[pos(j0, j) - pos(j0, j0)] = 1.0;
  }
  Eigen::FFT<double> fft;
  std::vector<std::complex<double> > fx, fi;
  fft.fwd(fx, x);
  fft.fwd(fi, ind);
  for (int f = 0; f < (int)fx.size(); ++f) {
    fx[f] = std::norm(fx[f]);
    fi[f] = std::norm(fi[f]);
  }
  fft.inv(x, fx);
  fft.inv(ind, fi);
  for (int d = 1; d < span; ++d) {
    S[d] += x[d];
    C[d] += std::round(ind[d]);
  }
}

void GeeEngine::update_assoc(const Moments& mom, GeeParams& par) const {
  gee_assoc_update(in_.corstr, in_.mdep, in_.scale_fix, in_.scale_value, mom, par);
}

void gee_assoc_update(int corstr, int mdep, bool scale_fix, double scale_value,
                      const GeeMoments& mom, GeeParams& par) {
  par.phi = scale_fix ? scale_value : mom.sum_e2 / mom.nobs;
  const double phi = par.phi;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (corstr) {
    case COR_EXCHANGEABLE:
      par.alpha[0] = mom.C[0] > 0 ? mom.S[0] / (mom.C[0] * phi) : 0.0;
      break;
    case COR_MDEP:
      for (int l = 1; l <= mdep; ++l)
        par.alpha[l - 1] = mom.C[l] > 0 ? mom.S[l] / (mom.C[l] * phi) : 0.0;
      break;
    case COR_UNSTRUCTURED:
      for (size_t q = 0; q < mom.S.size(); ++q)
        par.alpha[q] = mom.C[q] > 0 ? mom.S[q] / (mom.C[q] * phi) : nan;
      break;
    case COR_AR1: {
      // Least squares of the standardized pair products on alpha^lag over all
      // pairs (the equation geepack's ar1 scoring converges to), solved by
      // Gauss-Newton from the current value.
      double a = std::isfinite(par.alpha[0]) ? par.alpha[0] : 0.0;
      double npairs = 0.0;
      for (size_t d = 1; d < mom.C.size(); ++d) npairs += mom.C[d];
      if (npairs == 0) { par.alpha[0] = 0.0; break; }
      for (int it = 0; it < 200; ++it) {
        double num = 0.0, den = 0.0, ad1 = 1.0;  // ad1 = a^(d-1)
        for (size_t d = 1; d < mom.C.size(); ++d) {
          const double ad = ad1 * a, g = d * ad1;
          num += g * (mom.S[d] / phi - mom.C[d] * ad);
          den += mom.C[d] * g * g;
          ad1 = ad;
        }
        if (!(den > 0)) { a = (a == 0.0) ? 0.1 : 0.5 * a; continue; }
        double step = num / den;
        while (std::fabs(a + step) >= 1.0) step *= 0.5;
        a += step;
        if (std::fabs(step) <= 1e-15 * (1.0 + std::fabs(a))) break;
      }
      par.alpha[0] = a;
      break;
    }
    default:
      break;
  }
}

std::vector<double> GeeEngine::ar1_powers(const GeeParams& par) const {
  std::vector<double> pw;
  if (in_.corstr != COR_AR1) return pw;
  pw.assign(std::max(T_, 1), 1.0);
  for (int d = 1; d < T_; ++d) pw[d] = pw[d - 1] * par.alpha[0];
  return pw;
}

double GeeEngine::rho(int a, int b, const GeeParams& par,
                      const std::vector<double>& powtab) const {
  const int lo = std::min(a, b), hi = std::max(a, b);
  switch (in_.corstr) {
    case COR_EXCHANGEABLE: return par.alpha[0];
    case COR_AR1: return powtab[hi - lo];
    case COR_MDEP: return hi - lo <= in_.mdep ? par.alpha[hi - lo - 1] : 0.0;
    case COR_UNSTRUCTURED: return par.alpha[pair_index(lo, hi, T_)];
    case COR_FIXED: return in_.Rfixed[lo + (size_t)hi * in_.Rdim];
    default: return 0.0;
  }
}

void GeeEngine::build_R(int k, const GeeParams& par, const std::vector<double>& powtab,
                        double* Rbuf) const {
  const int j0 = start_[k], n = start_[k + 1] - j0;
  if (!Rbuf) throw std::logic_error("gee: no scratch space for a dense working correlation");
  MapMat R(Rbuf, n, n);
  for (int c = 0; c < n; ++c) {
    R(c, c) = 1.0;
    for (int a = c + 1; a < n; ++a)
      R(a, c) = R(c, a) = rho(pos(j0, j0 + a), pos(j0, j0 + c), par, powtab);
  }
}

bool GeeEngine::whiten(int k, const GeeParams& par, const std::vector<double>& powtab,
                       double* Rbuf, double* Z) const {
  const int p = p_, j0 = start_[k], n = start_[k + 1] - j0;
  MapMat Zm(Z, n, p + 1);
  fill_Dt(j0, n, Z);
  for (int a = 0; a < n; ++a) Z[a + (size_t)p * n] = e_[j0 + a];
  if (in_.corstr == COR_INDEPENDENCE || n == 1) return true;
  if (in_.corstr == COR_AR1 && std::fabs(par.alpha[0]) < 1.0) {
    // AR-1 at increasing positions is a Markov chain, so L^{-1} is explicit:
    // z_1 = a_1, z_j = (a_j - r_j a_{j-1}) / sqrt(1 - r_j^2), r_j = alpha^(t_j - t_{j-1}).
    for (int a = n - 1; a >= 1; --a) {
      const double r = powtab[pos(j0, j0 + a) - pos(j0, j0 + a - 1)];
      const double sc = 1.0 / std::sqrt(1.0 - r * r);
      for (int c = 0; c <= p; ++c) {
        double* col = Z + (size_t)c * n;
        col[a] = (col[a] - r * col[a - 1]) * sc;
      }
    }
    return true;
  }
  if (in_.corstr == COR_MDEP) return whiten_banded(k, par, Z);
  build_R(k, par, powtab, Rbuf);
  MapMat R(Rbuf, n, n);
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd> > llt(R);
  if (llt.info() != Eigen::Success) return false;
  llt.matrixL().solveInPlace(Zm);
  return true;
}

bool GeeEngine::whiten_banded(int k, const GeeParams& par, double* Z) const {
  // m-dependence at strictly increasing positions is a band of half-width
  // at most m in the row index, and so is its Cholesky factor: O(n m^2 + n m p)
  // instead of O(n^3) for a long cluster (a few thousand visits of one
  // subject). The band is kept row by row, L(i, i - d) at i (m + 1) + d.
  const int p = p_, j0 = start_[k], n = start_[k + 1] - j0, m = in_.mdep;
  std::vector<double> L((size_t)n * (m + 1), 0.0);
  auto at = [&](int i, int j) -> double& { return L[(size_t)i * (m + 1) + (i - j)]; };
  for (int j = 0; j < n; ++j) {
    const int lo = std::max(0, j - m);
    for (int i = j; i < std::min(n, j + m + 1); ++i) {
      const int gap = pos(j0, j0 + i) - pos(j0, j0 + j);
      double v = i == j ? 1.0 : (gap <= m ? par.alpha[gap - 1] : 0.0);
      for (int c = std::max(lo, i - m); c < j; ++c) v -= at(i, c) * at(j, c);
      if (i == j) {
        if (!(v > 0.0)) return false;
        at(j, j) = std::sqrt(v);
      } else {
        at(i, j) = v / at(j, j);
      }
    }
  }
  for (int c = 0; c <= p; ++c) {
    double* col = Z + (size_t)c * n;
    for (int i = 0; i < n; ++i) {
      double v = col[i];
      for (int j = std::max(0, i - m); j < i; ++j) v -= at(i, j) * col[j];
      col[i] = v / at(i, i);
    }
  }
  return true;
}

bool GeeEngine::dense_needed(const GeeParams& par) const {
  switch (in_.corstr) {
    case COR_UNSTRUCTURED: case COR_MDEP: case COR_FIXED: return true;
    case COR_AR1: return !(std::fabs(par.alpha[0]) < 1.0);
    default: return false;
  }
}

GeeEngine::ThreadScratch GeeEngine::scratch(bool dense, const char* what) const {
  // Per thread: [Dt, e] of one cluster, and with `dense` its working
  // correlation plus the copy a factorization makes.
  const double nm = nmax_, q = p_ + 1.0;
  const double per = nm * q + (dense ? 2.0 * nm * nm : 0.0);
  const std::string need = std::string(what) + " of the largest cluster (" +
                           std::to_string(nmax_) + " rows, in " + std::to_string(threads_) +
                           (threads_ == 1 ? " thread)" : " threads)");
  check_memory(8.0 * per * threads_, need);
  ThreadScratch sc;
  try {
    sc.R.resize(threads_);
    sc.Z.resize(threads_);
    for (int t = 0; t < threads_; ++t) {
      sc.Z[t].resize((size_t)nmax_ * (p_ + 1));
      if (dense) sc.R[t].resize((size_t)nmax_ * nmax_);
    }
  } catch (std::bad_alloc&) {
    throw std::runtime_error(need + " needs " + format_bytes(8.0 * per * threads_) +
                             " of memory, which could not be allocated");
  }
  return sc;
}

int GeeEngine::pass_cross(const GeeParams& par, int skip, Eigen::MatrixXd& ZtZ,
                          Eigen::MatrixXd* Uk, std::vector<Eigen::MatrixXd>* Hk) {
  const int p = p_, q = p + 1, nb = (int)bstart_.size() - 1;
  const int width = q * q;
  const std::vector<double> powtab = ar1_powers(par);
  const bool exch = in_.corstr == COR_EXCHANGEABLE;
  std::vector<double> out;
  std::vector<int> badk(std::max(nb, 1), -1);  // first failing cluster per block
  std::vector<int> nonpd(std::max(nb, 1), 0);
  ThreadScratch sc = scratch(dense_needed(par), "the dense working correlation");
  reduce_blocks(nb, width, threads_, out, [&](int b, double* acc, int tid) {
    double* Rbuf = sc.R[tid].empty() ? nullptr : sc.R[tid].data();
    double* Zbuf = sc.Z[tid].data();
    MapMat A(acc, q, q);
    Eigen::MatrixXd G(q, q);
    Eigen::VectorXd s(q);
    for (int k = bstart_[b]; k < bstart_[b + 1]; ++k) {
      if (k == skip) continue;
      const int j0 = start_[k], n = start_[k + 1] - j0;
      if (exch && n > 1) {
        // R^{-1} = (I - c 11') / (1 - a), c = a / (1 + (n - 1) a): O(n p^2).
        const double a = par.alpha[0];
        if (std::fabs(1.0 - a) < 1e-12 || std::fabs(1.0 + (n - 1) * a) < 1e-12) {
          if (badk[b] < 0) badk[b] = k;
          continue;
        }
        if (!(a < 1.0 && 1.0 + (n - 1) * a > 0.0)) nonpd[b]++;
        MapMat Zm(Zbuf, n, q);
        fill_Dt(j0, n, Zbuf);
        for (int r = 0; r < n; ++r) Zbuf[r + (size_t)p * n] = e_[j0 + r];
        const double c = a / (1.0 + (n - 1) * a);
        s = Zm.colwise().sum().transpose();
        G.noalias() = Zm.transpose().lazyProduct(Zm);
        G.noalias() -= c * s * s.transpose();
        G /= (1.0 - a);
      } else if (whiten(k, par, powtab, Rbuf, Zbuf)) {
        MapMat Zm(Zbuf, n, q);
        G.noalias() = Zm.transpose().lazyProduct(Zm);
      } else {
        // R_k is not positive definite (moment estimates need not give a
        // valid correlation, notably unstructured ones): the estimating
        // equations are still defined as long as R_k is invertible.
        nonpd[b]++;
        build_R(k, par, powtab, Rbuf);
        MapMat Zm(Zbuf, n, q);
        fill_Dt(j0, n, Zbuf);
        for (int r = 0; r < n; ++r) Zbuf[r + (size_t)p * n] = e_[j0 + r];
        Eigen::PartialPivLU<Eigen::MatrixXd> lu(MapMat(Rbuf, n, n));
        if (!(std::fabs(lu.determinant()) > 1e-13)) {
          if (badk[b] < 0) badk[b] = k;
          continue;
        }
        G.noalias() = Zm.transpose() * lu.solve(Eigen::MatrixXd(Zm));
        G = 0.5 * (G + G.transpose()).eval();
      }
      A += G;
      if (Uk) Uk->row(k) = G.block(0, p, p, 1).transpose();
      if (Hk) (*Hk)[k] = G.topLeftCorner(p, p);
    }
  });
  ZtZ = Eigen::Map<Eigen::MatrixXd>(out.data(), q, q);
  last_nonpd_ = 0;
  for (int b = 0; b < nb; ++b) last_nonpd_ += nonpd[b];
  for (int b = 0; b < nb; ++b)
    if (badk[b] >= 0) return badk[b];
  return -1;
}

}  // namespace glmmgee

namespace glmmgee {

std::string GeeEngine::singular_message(int k, const GeeParams& par) const {
  std::string a;
  for (int j = 0; j < par.alpha.size() && j < 6; ++j)
    a += (j ? ", " : "") + std::to_string(par.alpha[j]);
  if (par.alpha.size() > 6) a += ", ...";
  return "the working correlation matrix of cluster " + std::to_string(code_[k]) +
         " (in the order of the 'id' levels) is singular or invalid" +
         (a.empty() ? std::string() : " (alpha = " + a + ")") +
         "; the moment estimates do not give a valid correlation: try a simpler 'corstr'";
}

GeeFitResult GeeEngine::fit(const GeeParams& start, const GeeControl& ctl, int skip,
                            const Eigen::LLT<Eigen::MatrixXd>* ref) {
  threads_ = usable_threads(ctl.threads);
  GeeFitResult res;
  GeeParams par = start;
  const int na = nalpha(), p = p_;
  if (par.alpha.size() != na) par.alpha = Eigen::VectorXd::Zero(na);
  Moments mom;
  if (!pass_resid(par.beta, skip, mom, res.error)) { res.par = par; return res; }
  if (!in_.scale_fix) par.phi = mom.sum_e2 / mom.nobs;
  else par.phi = in_.scale_value;
  Eigen::MatrixXd ZtZ;
  for (int it = 1; it <= ctl.maxit; ++it) {
    const int bad = pass_cross(par, skip, ZtZ, nullptr, nullptr);
    if (bad >= 0) { res.error = singular_message(bad, par); break; }
    Eigen::LDLT<Eigen::MatrixXd> ldlt(ZtZ.topLeftCorner(p, p));
    res.score = ZtZ.col(p).head(p).cwiseAbs().maxCoeff();
    const Eigen::VectorXd step = ldlt.solve(ZtZ.col(p).head(p));
    if (ldlt.info() != Eigen::Success || !step.allFinite() ||
        (skip >= 0 && DeletionSolver(ref, ZtZ.topLeftCorner(p, p)).singular())) {
      res.error = skip >= 0 ? deletion_message(code_[skip])
                            : "the scoring step failed: the information matrix is singular";
      break;
    }
    GeeParams next = par;
    next.beta += step;
    // A step that leaves the family's range (binomial(log): a mean above
    // 1, where the variance is negative) is halved until the means are
    // valid again, as glm's IRLS does; the scoring equations' root, where
    // it exists, lies inside. A halved step does not count towards
    // convergence: only a full step below the tolerance does.
    Eigen::VectorXd taken = step;
    bool halved = false;
    if (!pass_resid(next.beta, skip, mom, res.error)) {
      bool ok = false;
      for (int h = 0; h < 40 && !ok; ++h) {
        taken *= 0.5;
        next.beta = par.beta + taken;
        std::string again;
        ok = pass_resid(next.beta, skip, mom, again);
      }
      if (!ok) break;
      res.error.clear();
      halved = true;
      ++res.halved;
    }
    update_assoc(mom, next);
    double delta = 0.0;
    for (int j = 0; j < p; ++j)
      delta = std::max(delta, std::fabs(halved ? step[j] : taken[j]) /
                                  (1.0 + std::fabs(next.beta[j])));
    for (int j = 0; j < na; ++j)
      if (std::isfinite(next.alpha[j]) && std::isfinite(par.alpha[j]))
        delta = std::max(delta, std::fabs(next.alpha[j] - par.alpha[j]) /
                                    (1.0 + std::fabs(next.alpha[j])));
    delta = std::max(delta, std::fabs(next.phi - par.phi) / (1.0 + std::fabs(next.phi)));
    par = next;
    res.iter = it;
    res.delta = delta;
    if (ctl.trace && skip < 0) {
      Rprintf("iteration %d: relative change %.3g, scale %.6g", it, delta, par.phi);
      if (na > 0) Rprintf(", alpha[1] %.6g", par.alpha[0]);
      Rprintf("\n");
    }
    if (skip < 0) glmmgee::progress_tick(R_NaN);  // R/progress.R: one scoring step
    if (delta <= ctl.epsilon) { res.converged = true; break; }
    if (skip < 0) Rcpp::checkUserInterrupt();
  }
  res.par = par;
  return res;
}

GeeVariance GeeEngine::variance(const GeeParams& par, int flags, const GeeControl& ctl,
                                const Eigen::MatrixXd* Hg, const Eigen::VectorXd* Ug) {
  threads_ = usable_threads(ctl.threads);
  GeeVariance v;
  const int p = p_, q = p + 1, nb = (int)bstart_.size() - 1, n = in_.n;
  Moments mom;
  const bool fresh = cache_skip_ == -1 && cache_beta_.size() == p &&
                     (cache_beta_.array() == par.beta.array()).all();
  if (!fresh && !pass_resid(par.beta, -1, mom, v.error)) return v;
  Eigen::MatrixXd Uk(K_, p), ZtZ;
  std::vector<Eigen::MatrixXd> Hk;
  const bool needHk = (flags & VAR_JACK) || (Hg && (flags & VAR_J1S));
  if (needHk) Hk.resize(K_);
  const int bad = pass_cross(par, -1, ZtZ, &Uk, needHk ? &Hk : nullptr);
  if (bad >= 0) { v.error = singular_message(bad, par); return v; }
  v.nonpd_clusters = last_nonpd_;
  v.H = ZtZ.topLeftCorner(p, p);
  v.U = ZtZ.col(p).head(p);
  if (Hg && (flags & VAR_FIJ)) {
    v.error = "the fully iterated jackknife cannot be distributed";
    return v;
  }
  Eigen::LDLT<Eigen::MatrixXd> ldlt(Hg ? *Hg : v.H);
  const Eigen::MatrixXd Hinv = ldlt.solve(Eigen::MatrixXd::Identity(p, p));
  if (ldlt.info() != Eigen::Success || !Hinv.allFinite()) {
    v.error = "the information matrix is singular";
    return v;
  }
  // The full information against which deletions are judged.
  const Eigen::LLT<Eigen::MatrixXd> href(Hg ? *Hg : v.H);
  // Meat in cluster order (no threaded products, so the sums are fixed).
  v.B = Eigen::MatrixXd::Zero(p, p);
  for (int k = 0; k < K_; ++k)
    v.B.selfadjointView<Eigen::Lower>().rankUpdate(Uk.row(k).transpose());
  v.B = v.B.selfadjointView<Eigen::Lower>();
  v.robust = Hinv * v.B * Hinv;
  v.model = par.phi * Hinv;

  // Quasi-likelihood and the independence information, for QIC.
  {
    const ObsModel& fam = *fam_;
    std::vector<double> out;
    reduce_blocks(nb, p * p + 1, threads_, out, [&](int b, double* acc, int tid) {
      MapMat HI(acc, p, p);
      Eigen::VectorXd drow(p);
      for (int j = start_[bstart_[b]]; j < start_[bstart_[b + 1]]; ++j) {
        const int i = row(j);
        double eta = off(i);
        for (int c = 0; c < p; ++c) eta += in_.X[i + (size_t)c * n] * par.beta[c];
        acc[p * p] += wt(i) * fam.quasi(in_.y[i], fam.linkinv(eta));
        fill_Dt(j, 1, drow.data());
        HI.selfadjointView<Eigen::Lower>().rankUpdate(drow);
      }
    });
    v.HI = Eigen::Map<Eigen::MatrixXd>(out.data(), p, p).selfadjointView<Eigen::Lower>();
    v.quasi = out[p * p];
  }

  if (flags & (VAR_MD | VAR_KC)) {
    // Leverage-corrected residuals: with L the Cholesky factor of R_k and
    // S_k = L^{-1} Dt_k H^{-1} Dt_k' L^{-T}, the leverage H_kk = L S_k L^{-1}
    // so (I - H_kk)^{-a} = L (I - S_k)^{-a} L^{-1}, a = 1 (Mancl-DeRouen) or
    // 1/2 (Kauermann-Carroll); the meat uses (L^{-1}Dt)'(I - S_k)^{-a} L^{-1}e.
    const std::vector<double> powtab = ar1_powers(par);
    std::vector<double> out;
    std::vector<int> badk(std::max(nb, 1), -1), notpd(std::max(nb, 1), -1);
    // The leverage of a cluster is an n x n matrix with its eigenvectors:
    // the size check counts them with the working correlation.
    const bool dense = dense_needed(par) || in_.corstr == COR_EXCHANGEABLE;
    check_memory(8.0 * threads_ * 4.0 * nmax_ * (double)nmax_,
                 "the bias-corrected sandwich (std.err = \"md\" or \"kc\") of the largest "
                 "cluster (" + std::to_string(nmax_) + " rows)");
    ThreadScratch sc = scratch(dense, "the dense working correlation");
    reduce_blocks(nb, 2 * p * p, threads_, out, [&](int b, double* acc, int tid) {
      double* Rbuf = sc.R[tid].empty() ? nullptr : sc.R[tid].data();
      double* Zbuf = sc.Z[tid].data();
      MapMat Amd(acc, p, p), Akc(acc + p * p, p, p);
      for (int k = bstart_[b]; k < bstart_[b + 1]; ++k) {
        const int nk = start_[k + 1] - start_[k];
        if (!whiten(k, par, powtab, Rbuf, Zbuf)) {
          if (notpd[b] < 0) notpd[b] = k;
          continue;
        }
        const MapMat Zm(Zbuf, nk, q);
        const Eigen::MatrixXd Zd = Zm.leftCols(p);
        const Eigen::VectorXd ze = Zm.col(p);
        Eigen::MatrixXd S = -Zd * Hinv * Zd.transpose();
        S.diagonal().array() += 1.0;
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(S);
        const Eigen::VectorXd lam = es.eigenvalues();
        if (lam.minCoeff() <= 1e-12) {
          if (badk[b] < 0) badk[b] = k;
          continue;
        }
        const Eigen::MatrixXd& Q = es.eigenvectors();
        const Eigen::VectorXd t = Q.transpose() * ze;
        if (flags & VAR_MD) {
          const Eigen::VectorXd u =
              Zd.transpose() * (Q * (t.array() / lam.array()).matrix());
          Amd.selfadjointView<Eigen::Lower>().rankUpdate(u);
        }
        if (flags & VAR_KC) {
          const Eigen::VectorXd u =
              Zd.transpose() * (Q * (t.array() / lam.array().sqrt()).matrix());
          Akc.selfadjointView<Eigen::Lower>().rankUpdate(u);
        }
      }
    });
    for (int b = 0; b < nb; ++b)
      if (notpd[b] >= 0) {
        v.error = "the working correlation of cluster " + std::to_string(code_[notpd[b]]) +
                  " is not positive definite: the bias-corrected sandwiches need a valid one";
        return v;
      }
    for (int b = 0; b < nb; ++b)
      if (badk[b] >= 0) {
        // Worded in R (gee_leverage_one_text()), which names the cluster.
        v.error = "leverage of cluster " + std::to_string(code_[badk[b]]) + " is 1";
        return v;
      }
    const Eigen::MatrixXd Bmd =
        Eigen::Map<Eigen::MatrixXd>(out.data(), p, p).selfadjointView<Eigen::Lower>();
    const Eigen::MatrixXd Bkc =
        Eigen::Map<Eigen::MatrixXd>(out.data() + p * p, p, p).selfadjointView<Eigen::Lower>();
    if (flags & VAR_MD) v.md = Hinv * Bmd * Hinv;
    if (flags & VAR_KC) v.kc = Hinv * Bkc * Hinv;
  }

  if (flags & VAR_JACK) {
    // One-step deletion estimates beta - beta_(-k) = (H - H_k)^{-1} U_k.
    std::vector<double> out;
    std::vector<int> singk(std::max(nb, 1), -1);
    reduce_blocks(nb, p * p, threads_, out, [&](int b, double* acc, int tid) {
      MapMat A(acc, p, p);
      for (int k = bstart_[b]; k < bstart_[b + 1]; ++k) {
        const DeletionSolver lk(&href, (Hg ? *Hg : v.H) - Hk[k]);
        const Eigen::VectorXd d = lk.solve(Uk.row(k).transpose());
        if (lk.singular() || !d.allFinite()) {
          if (singk[b] < 0) singk[b] = k;
          continue;
        }
        A.selfadjointView<Eigen::Lower>().rankUpdate(d);
      }
    });
    for (int b = 0; b < nb; ++b)
      if (singk[b] >= 0) {
        v.error = deletion_message(code_[singk[b]]);
        return v;
      }
    v.jack = Eigen::Map<Eigen::MatrixXd>(out.data(), p, p).selfadjointView<Eigen::Lower>();
  }

  if (Hg && (flags & VAR_J1S)) {
    // One scoring step without cluster k from the full-data estimates: the
    // step is (H - H_k)^{-1} (U - U_k), with H and U of all shards.
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(p, p);
    for (int k = 0; k < K_; ++k) {
      const DeletionSolver lk(&href, *Hg - Hk[k]);
      const Eigen::VectorXd d = lk.solve(*Ug - Uk.row(k).transpose());
      if (lk.singular() || !d.allFinite()) {
        v.error = deletion_message(code_[k]);
        return v;
      }
      A.selfadjointView<Eigen::Lower>().rankUpdate(d);
    }
    v.j1s = A.selfadjointView<Eigen::Lower>();
  } else if (flags & (VAR_J1S | VAR_FIJ)) {
    // Deletion refits from the full-data estimates, in cluster order. They
    // overwrite the residual caches, so they come last.
    GeeControl c1 = ctl;
    c1.trace = false;
    for (int pass = 0; pass < 2; ++pass) {
      const int flag = pass == 0 ? VAR_J1S : VAR_FIJ;
      if (!(flags & flag)) continue;
      GeeControl cc = c1;
      if (flag == VAR_J1S) cc.maxit = 1;
      Eigen::MatrixXd A = Eigen::MatrixXd::Zero(p, p);
      for (int k = 0; k < K_; ++k) {
        const GeeFitResult r = fit(par, cc, k, &href);
        if (!r.error.empty()) {
          v.error = r.error.rfind("jackknife", 0) == 0
                        ? r.error
                        : "jackknife fit without cluster " + std::to_string(code_[k]) + " failed: " + r.error;
          return v;
        }
        if (flag == VAR_FIJ && !r.converged) v.jack_nonconverged++;
        const Eigen::VectorXd d = r.par.beta - par.beta;
        A.selfadjointView<Eigen::Lower>().rankUpdate(d);
        Rcpp::checkUserInterrupt();
      }
      A = A.selfadjointView<Eigen::Lower>();
      if (flag == VAR_J1S) v.j1s = A; else v.fij = A;
    }
  }
  return v;
}

void GeeEngine::fitted(const Eigen::VectorXd& beta, double* eta, double* mu) const {
  const int n = in_.n, p = p_;
  for (int i = 0; i < n; ++i) {
    double e = off(i);
    for (int c = 0; c < p; ++c) e += in_.X[i + (size_t)c * n] * beta[c];
    eta[i] = e;
    mu[i] = fam_->linkinv(e);
  }
}

}  // namespace glmmgee
