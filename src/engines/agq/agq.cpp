// Laplace / adaptive Gauss-Hermite engine for one grouping factor.
// See agq.h for the model and the parameterization.
#include "engines/agq/agq.h"
#include "engines/agq/agq-clusters.h"
#include "engines/agq/agq-work.h"
#include "util/dd-sum.h"
#include "util/lin-pred.h"
#include "util/resources.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

ClusterLayout make_layout(const int* group, int n, int M) {
  ClusterLayout lay;
  lay.M = M;
  lay.start.assign(M + 1, 0);
  for (int j = 0; j < n; ++j) {
    const int g = group[j];
    if (g < 1 || g > M) throw std::invalid_argument("cluster code out of range");
    ++lay.start[g];
  }
  for (int i = 0; i < M; ++i) lay.start[i + 1] += lay.start[i];
  lay.perm.assign(n, 0);
  std::vector<int> next(lay.start.begin(), lay.start.end() - 1);
  for (int j = 0; j < n; ++j) lay.perm[next[group[j] - 1]++] = j;
  return lay;
}

// `view` = the rows of `from` in the order `perm` (sorted position -> row):
// `from` itself when the rows already come cluster by cluster (perm the
// identity, the usual layout) and its columns are contiguous, else a copy
// in `own`, filled column by column (sequential writes; row by row, a
// column-major matrix is read with a stride of n doubles, several times
// slower at millions of rows).
template <typename From, typename Own, typename View>
static void cluster_order(const From& from, const std::vector<int>& perm, bool identity,
                          Own& own, View& view) {
  const long n = (long)perm.size();
  if (identity && (from.cols() <= 1 || from.outerStride() == from.rows())) {
    new (&view) View(from.data(), from.rows(), from.cols());
    return;
  }
  own.resize(from.rows(), from.cols());
  for (long c = 0; c < (long)from.cols(); ++c)
    for (long s = 0; s < n; ++s) own(s, c) = from(perm[s], c);
  new (&view) View(own.data(), own.rows(), own.cols());
}

AgqEngine::AgqEngine(const Eigen::Ref<const MatrixXd>& X,
                     const Eigen::Ref<const MatrixXd>& Z,
                     const Eigen::Ref<const VectorXd>& y,
                     const Eigen::Ref<const VectorXd>& wt,
                     const Eigen::Ref<const VectorXd>& offset, const int* group,
                     int M, const std::vector<int>& lam_row,
                     const std::vector<int>& lam_col, int family, int link,
                     int nAGQ, int nthreads)
    : n_((int)X.rows()), p_((int)X.cols()), q_((int)Z.cols()),
      nl_((int)lam_row.size()), K_(nAGQ), nthreads_(std::max(1, nthreads)),
      lam_row_(lam_row), lam_col_(lam_col) {
  fam_ = make_obs_model(family, link);
  if (!fam_) throw std::invalid_argument("unsupported family/link");
  disp_ = fam_->has_dispersion();
  lay_ = make_layout(group, n_, M);
  nmax_ = lay_.largest();
  bool identity = true;
  for (int s = 0; s < n_ && identity; ++s) identity = lay_.perm[s] == s;
  cluster_order(X, lay_.perm, identity, X_own_, X_);
  // A Z without rows is one column of ones (a random intercept): zv() and
  // z_at() read 1 for it.
  unit_z_ = Z.rows() == 0;
  if (unit_z_ && q_ != 1) throw std::invalid_argument("a Z without rows must have one column");
  if (!unit_z_) cluster_order(Z, lay_.perm, identity, Z_own_, Z_);
  cluster_order(y, lay_.perm, identity, y_own_, y_);
  unit_wt_ = wt.size() == 0;
  if (unit_wt_ || unit_z_) ones_.assign(std::max(nmax_, 4096), 1.0);
  if (!unit_wt_) cluster_order(wt, lay_.perm, identity, wt_own_, wt_);
  if (offset.size()) cluster_order(offset, lay_.perm, identity, off_own_, off_);
  // Rows already in cluster order (the usual layout): the identity
  // permutation is not kept (row_of(); 40 MB at ten million rows).
  if (identity) std::vector<int>().swap(lay_.perm);
  // The constants depend on (y, wt) only, and binary or count data repeat a
  // few pairs: remembering the last two distinct pairs saves most of the
  // lgamma calls (three per binomial observation).
  lconst_.setZero(M);
  double ky[2] = {NAN, NAN}, kw[2] = {NAN, NAN}, kv[2] = {0.0, 0.0};
  int slot = 0;
  for (int i = 0; i < M; ++i)
    for (int s = lay_.start[i]; s < lay_.start[i + 1]; ++s) {
      const double yy = y_[s], ww = weight(s);
      double c;
      if (yy == ky[0] && ww == kw[0]) c = kv[0];
      else if (yy == ky[1] && ww == kw[1]) c = kv[1];
      else {
        c = fam_->logconst(yy, ww);
        ky[slot] = yy; kw[slot] = ww; kv[slot] = c;
        slot ^= 1;
      }
      lconst_[i] += c;
    }
  make_patterns();
  check_work_memory(K_);
  grid_ = gh_grid(K_, q_);
  ucache_.setZero(M, q_);
  if (q_ == 1 && family == FAM_BINOMIAL && link == LINK_LOGIT) fast_kind_ = FAST_LOGIT;
  if (q_ == 1 && family == FAM_POISSON && link == LINK_LOG) fast_kind_ = FAST_LOG;
  fast_ = fast_kind_;
  zconst_.assign(M, 1);
  wconst_.assign(M, 0.0);
  for (int i = 0; i < M; ++i) {
    const int a = lay_.start[i], b = lay_.start[i + 1];
    bool wc = true;
    for (int s = a + 1; s < b; ++s) {
      if (zv(s, 0) != zv(a, 0)) zconst_[i] = 0;
      if (weight(s) != weight(a)) wc = false;
    }
    wconst_[i] = wc && b > a ? weight(a) : NAN;
  }
}

void AgqEngine::make_patterns() {
  pat_.clear();
  pat_rep_.clear();
  pat_start_.clear();
  pmax_ = 0;
  // One random effect: the scalar path, or a row's product with Lambda is
  // one multiplication; nothing to save.
  if (q_ < 2) return;
  std::vector<int> pat(n_), reps, start{0};
  std::vector<unsigned long long> h;
  std::vector<int> order, first, lp;
  bool any = false;
  int pmax = 0;
  for (int i = 0; i < lay_.M; ++i) {
    if ((i & 4095) == 4095) Rcpp::checkUserInterrupt();
    const int s0 = lay_.start[i], ni = lay_.start[i + 1] - s0;
    // A hash of each row's Z entries.
    h.assign(ni, 1469598103934665603ULL);
    for (int a = 0; a < q_; ++a)
      for (int j = 0; j < ni; ++j) {
        double v = zv(s0 + j, a);
        if (v == 0.0) v = 0.0;  // -0 and +0 alike
        unsigned long long bits;
        std::memcpy(&bits, &v, sizeof bits);
        h[j] = (h[j] ^ bits) * 1099511628211ULL;
        h[j] ^= h[j] >> 29;
      }
    order.resize(ni);
    for (int j = 0; j < ni; ++j) order[j] = j;
    // Sorted by hash (equal hashes by row), each run of equal hashes is
    // split into its distinct rows by comparing every row with the run's
    // patterns so far: almost always one, as unequal rows rarely share a
    // hash. A pattern's first row is its smallest (rows of a run come in
    // order).
    std::sort(order.begin(), order.end(),
              [&](int x, int y) { return h[x] != h[y] ? h[x] < h[y] : x < y; });
    auto same_row = [&](int x, int y) {
      for (int a = 0; a < q_; ++a)
        if (zv(s0 + x, a) != zv(s0 + y, a)) return false;
      return true;
    };
    first.clear();
    lp.resize(ni);
    for (int r = 0; r < ni;) {
      int e = r;
      while (e < ni && h[order[e]] == h[order[r]]) ++e;
      const int g0 = (int)first.size();
      for (int k = r; k < e; ++k) {
        const int x = order[k];
        int g = g0;
        // (At most 8 comparisons: rows that are never equal, NaN, must not
        // cost a comparison with every row before them; a row left as a
        // pattern of its own is still exact, only less grouped.)
        while (g < (int)first.size() && g - g0 < 8 && !same_row(first[g], x)) ++g;
        if (g < (int)first.size() && !same_row(first[g], x)) g = (int)first.size();
        if (g == (int)first.size()) first.push_back(x);
        lp[x] = g;
      }
      r = e;
    }
    // Grouped only where it pays: at most half as many patterns as rows,
    // and enough rows folded together that the saved O(rows q^2) loops
    // outweigh the per-pattern matrix products (clusters of 10 rows and
    // two random effects were 5-10% slower grouped; three about even).
    const int np = (int)first.size();
    if (2 * np <= ni && (double)(ni - np) * q_ * q_ >= 64.0) {
      // Patterns numbered by their first row.
      std::vector<int> runs(np);
      for (int g = 0; g < np; ++g) runs[g] = g;
      std::sort(runs.begin(), runs.end(), [&](int x, int y) { return first[x] < first[y]; });
      std::vector<int> rank(np);
      for (int g = 0; g < np; ++g) rank[runs[g]] = g;
      for (int j = 0; j < ni; ++j) pat[s0 + j] = rank[lp[j]];
      for (int g2 = 0; g2 < np; ++g2) reps.push_back(s0 + first[runs[g2]]);
      any = true;
      pmax = std::max(pmax, np);
    } else {
      for (int j = 0; j < ni; ++j) {
        pat[s0 + j] = j;
        reps.push_back(s0 + j);
      }
    }
    start.push_back((int)reps.size());
  }
  if (!any) return;
  pat_.swap(pat);
  pat_rep_.swap(reps);
  pat_start_.swap(start);
  pmax_ = pmax;
}

void AgqEngine::set_aux(int kind, const Eigen::Ref<const MatrixXd>& XA,
                        const std::vector<int>& pred,
                        const Eigen::Ref<const MatrixXd>& aoff) {
  std::unique_ptr<AuxObsModel> m = make_aux_model(kind, fam_.get(), (int)aoff.cols());
  if (!m) throw std::invalid_argument("this family has no auxiliary predictor of that kind");
  const int na = m->naux();
  if (XA.rows() != n_ || aoff.rows() != n_)
    throw std::invalid_argument("auxiliary designs must have one row per observation");
  if (aoff.cols() != na || (int)pred.size() != XA.cols())
    throw std::invalid_argument("auxiliary designs do not match the number of predictors");
  for (int pr : pred)
    if (pr < 0 || pr >= na) throw std::invalid_argument("auxiliary predictor index out of range");
  XA_.resize(n_, XA.cols());
  AOFF_.resize(n_, na);
  for (int s = 0; s < n_; ++s) {
    XA_.row(s) = XA.row(row_of(s));
    AOFF_.row(s) = aoff.row(row_of(s));
  }
  apred_ = pred;
  aux_ = std::move(m);
  AV_.setZero(na, n_);
  // Zeros and positive counts have different constants in the two-part models.
  lconst_.setZero(lay_.M);
  for (int i = 0; i < lay_.M; ++i)
    for (int s = lay_.start[i]; s < lay_.start[i + 1]; ++s)
      lconst_[i] += aux_->logconst(y_[s], weight(s));
  fast_kind_ = fast_ = FAST_NONE;
  ucache_.setZero();
}

void AgqEngine::fill_aux(const VectorXd& theta) {
  if (!aux_) return;
  AV_ = AOFF_.transpose();
  const int base = p_ + nl_;
  for (int m = 0; m < (int)XA_.cols(); ++m)
    AV_.row(apred_[m]) += theta[base + m] * XA_.col(m).transpose();
}

void AgqEngine::unpack(const VectorXd& theta, VectorXd& beta, MatrixXd& Lam,
                       double& phi) const {
  beta = theta.head(p_);
  Lam.setZero(q_, q_);
  for (int e = 0; e < nl_; ++e) Lam(lam_row_[e], lam_col_[e]) = theta[p_ + e];
  phi = disp_ && !aux_ ? theta[p_ + nl_] : 0.0;
}

// H^{-1} = L^{-T} L^{-1} from H's Cholesky factor L (the lower triangle of
// LL): L^{-1} by forward substitution into Li's lower triangle. Written out
// for the few random effects of a cluster, where Eigen's general solves
// cost more in dispatch than in arithmetic.
static void small_inverse_llt(const MatrixXd& LL, int q, MatrixXd& Li, MatrixXd& Hinv) {
  for (int j = 0; j < q; ++j) {
    Li(j, j) = 1.0 / LL(j, j);
    for (int i = j + 1; i < q; ++i) {
      double acc = 0.0;
      for (int k = j; k < i; ++k) acc += LL(i, k) * Li(k, j);
      Li(i, j) = -acc / LL(i, i);
    }
  }
  for (int b = 0; b < q; ++b)
    for (int a = b; a < q; ++a) {
      double acc = 0.0;
      for (int k = a; k < q; ++k) acc += Li(k, a) * Li(k, b);
      Hinv(a, b) = acc;
      Hinv(b, a) = acc;
    }
}

void AgqEngine::prepare(const VectorXd& theta, MatrixXd& Lam, double& phi, VectorXd& eta0) {
  VectorXd beta;
  unpack(theta, beta, Lam, phi);
  fill_aux(theta);
  linear_predictor(X_, beta, off_, eta0);
}

// One cluster: mode search, quadrature, and (optionally) the gradient.
// Returns the cluster's marginal log-likelihood, adds its gradient to g.
// Loops over observations are written out: clusters are small, and Eigen's
// expression machinery would allocate temporaries for them.
double AgqEngine::cluster(int i, const VectorXd& eta0, const MatrixXd& Lam,
                          double phi, bool want_grad, Work& w, double* g,
                          AgqSummaries* out, bool* failed, const LamDirs* dirs) {
  if (fast_ != FAST_NONE) {
    double ll;
    const bool done =
        fast_ == FAST_LOGIT
            ? cluster_scalar_exp<true>(i, eta0, Lam(0, 0), want_grad, w, g, out, failed, &ll)
            : cluster_scalar_exp<false>(i, eta0, Lam(0, 0), want_grad, w, g, out, failed, &ll);
    if (done) return ll;
  }
  const int s0 = lay_.start[i], ni = lay_.start[i + 1] - s0, q = q_;
  const ObsModel& fam = *fam_;
  const double* y = y_.data() + s0;
  const double* wt = wt_at(s0);
  // The observation log-likelihood: the family's, or its wrapper with the
  // per-observation auxiliary predictors.
  const int na = aux_ ? aux_->naux() : 0;
  const double* av = aux_ ? AV_.data() + (long)s0 * na : nullptr;
  auto obs_derivs = [&](const double* et, ObsDerivs* dv) {
    if (!aux_) return fam.derivs_n(y, wt, et, ni, phi, dv);
    for (int j = 0; j < ni; ++j) dv[j] = aux_->derivs(y[j], wt[j], et[j], av + (long)j * na);
  };
  auto obs_loglik_d1 = [&](const double* et, double* d1) {
    if (!aux_) return fam.loglik_d1_n(y, wt, et, ni, phi, d1);
    double sum = 0.0;
    for (int j = 0; j < ni; ++j) sum += aux_->loglik_d1(y[j], wt[j], et[j], av + (long)j * na, d1 + j);
    return sum;
  };
  // The cluster's rows by pattern of their Z row (make_patterns()): np
  // patterns, row j in pattern pj[j], pattern p's Z row that of row rep[p].
  // Without compression every row is its own pattern (np = ni), and every
  // sum below is the sum over rows it was before, in the same order.
  int np = ni;
  const int* pj;
  const int* rep;
  if (!pat_start_.empty()) {
    np = pat_start_[i + 1] - pat_start_[i];
    pj = pat_.data() + s0;
    rep = pat_rep_.data() + pat_start_[i];
  } else {
    for (int j = 0; j < ni; ++j) {
      w.pj[j] = j;
      w.rep[j] = s0 + j;
    }
    pj = w.pj.data();
    rep = w.rep.data();
  }
  const bool comp = np < ni;
  MatrixXd& A = w.A;  // rows 0..np-1 used: A = Z_i Lambda, one row per pattern
  // Grouped, the patterns' Z rows are gathered (Zp) and the sums over them
  // are matrix products; row by row the loops stay as they were.
  if (comp) {
    auto Zp = w.Zp.topRows(np);
    for (int a = 0; a < q; ++a)
      for (int p = 0; p < np; ++p) Zp(p, a) = zv(rep[p], a);
    A.topRows(np).noalias() = Zp * Lam.triangularView<Eigen::Lower>();
  } else {
    for (int p = 0; p < np; ++p)
      for (int b = 0; b < q; ++b) {
        double acc = 0.0;
        for (int a = b; a < q; ++a) acc += zv(rep[p], a) * Lam(a, b);
        A(p, b) = acc;
      }
  }
  for (int j = 0; j < ni; ++j) w.eta0i[j] = eta0[s0 + j];
  double* eta = w.eta.data();
  auto set_eta = [&](const double* uu) {
    if (!comp) {
      for (int j = 0; j < ni; ++j) {
        double e = w.eta0i[j];
        for (int b = 0; b < q; ++b) e += A(j, b) * uu[b];
        eta[j] = e;
      }
      return;
    }
    w.au.head(np).noalias() = A.topRows(np) * Eigen::Map<const VectorXd>(uu, q);
    for (int j = 0; j < ni; ++j) eta[j] = w.eta0i[j] + w.au[pj[j]];
  };
  // Per-pattern sums of d1 and of c = -d2 at the derivatives dv.
  auto pattern_sums = [&](const std::vector<ObsDerivs>& dv) {
    for (int p = 0; p < np; ++p) w.d1p[p] = w.cp[p] = 0.0;
    for (int j = 0; j < ni; ++j) {
      w.d1p[pj[j]] += dv[j].d1;
      w.cp[pj[j]] -= dv[j].d2;
    }
  };

  // --- Mode of h(u) = sum_j l_j(eta_j(u)) - |u|^2 / 2 by damped Newton.
  VectorXd& u = w.u;
  u = ucache_.row(i).transpose();
  auto hval = [&](const VectorXd& uu, std::vector<ObsDerivs>& dv) {
    set_eta(uu.data());
    obs_derivs(eta, dv.data());
    double h = -0.5 * uu.squaredNorm();
    for (int j = 0; j < ni; ++j) h += dv[j].l;
    return h;
  };
  double h = hval(u, w.dv);
  // A cached mode can put a mean outside the family's domain (Gamma with
  // the inverse or identity link) after beta moved: start again from 0.
  if (!std::isfinite(h) && u.squaredNorm() > 0) {
    u.setZero();
    h = hval(u, w.dv);
  }
  bool converged = false, polished = false;
  for (int it = 0; it < 100; ++it) {
    w.grad = -u;
    w.H.setIdentity();
    if (comp) {
      pattern_sums(w.dv);
      auto Ap = A.topRows(np);
      w.grad.noalias() += Ap.transpose() * w.d1p.head(np);
      w.CA.topRows(np).noalias() = w.cp.head(np).asDiagonal() * Ap;
      w.H.noalias() += Ap.transpose() * w.CA.topRows(np);
    } else {
      for (int j = 0; j < ni; ++j) {
        const double d1 = w.dv[j].d1, c = -w.dv[j].d2;
        for (int a = 0; a < q; ++a) {
          w.grad[a] += d1 * A(j, a);
          for (int b = 0; b <= a; ++b) w.H(a, b) += c * A(j, a) * A(j, b);
        }
      }
      for (int a = 0; a < q; ++a)
        for (int b = 0; b < a; ++b) w.H(b, a) = w.H(a, b);
    }
    w.llt.compute(w.H);
    w.step = w.llt.solve(w.grad);
    const double smax = w.step.cwiseAbs().maxCoeff();
    if (!(smax == smax)) break;  // NaN: give up on this cluster
    if (polished) { converged = true; break; }  // H and w.dv at the polished mode
    if (smax <= 1e-10 * (1.0 + u.cwiseAbs().maxCoeff())) {
      if (!polish_) { converged = true; break; }
      // (set_polish()) the last step taken, and one more round for H there
      polished = true;
      w.unew = u + w.step;
      const double hp = hval(w.unew, w.dvk);
      if (std::isfinite(hp)) {
        u = w.unew;
        h = hp;
        std::swap(w.dv, w.dvk);
      }
      continue;
    }
    double t = 1.0, hnew = h;
    for (int half = 0; half < 60; ++half) {
      w.unew = u + t * w.step;
      hnew = hval(w.unew, w.dvk);
      if (hnew >= h - 1e-12 * (1.0 + std::fabs(h))) break;
      t *= 0.5;
    }
    if (!std::isfinite(hnew)) break;  // no step stays in the domain
    u = w.unew;
    h = hnew;
    std::swap(w.dv, w.dvk);
  }
  if (!converged) *failed = true;
  if (std::isfinite(h)) ucache_.row(i) = u.transpose();
  else ucache_.row(i).setZero();
  // H, its Cholesky factor and the derivatives in w.dv are all at the mode.
  // C^{-1} places the quadrature nodes; Laplace (K = 1) needs only log|C|.
  const MatrixXd& LLT = w.llt.matrixLLT();
  double logdetC = 0.0;
  for (int d = 0; d < q; ++d) logdetC += std::log(LLT(d, d));
  if (K_ > 1) {
    w.C = w.llt.matrixL();
    w.Cinv.setIdentity();
    w.C.triangularView<Eigen::Lower>().solveInPlace(w.Cinv);
  }

  // --- Quadrature: nodes u_k = u^ + C^{-T} z_k, log-sum-exp over nodes.
  const long Q = grid_.z.rows();
  const bool need_nodes = want_grad || out;
  double lse;
  if (K_ == 1) {
    w.Unodes.row(0) = u.transpose();
    w.pi[0] = 1.0;
    lse = h;
    if (need_nodes)
      for (int j = 0; j < ni; ++j) w.D1(j, 0) = w.dv[j].d1;
  } else {
    w.Unodes.noalias() = grid_.z * w.Cinv;
    w.Unodes.rowwise() += u.transpose();
    double amax = -INFINITY;
    for (long k = 0; k < Q; ++k) {
      double usq = 0.0;
      for (int b = 0; b < q; ++b) {
        w.unew[b] = w.Unodes(k, b);
        usq += w.unew[b] * w.unew[b];
      }
      poll_node(k);
      set_eta(w.unew.data());
      const double lk = obs_loglik_d1(eta, &w.D1(0, k));
      w.a[k] = grid_.logw_ad[k] + lk - 0.5 * usq;
      amax = std::max(amax, w.a[k]);
    }
    lse = node_weights(w.a, Q, amax, w.pi);
  }
  const double ll = -logdetC + lse + lconst_[i];

  if (out) store_cluster_summary(i, u, w.llt, w.Unodes, w.pi, K_ == 1, ll, *out);
  if (!want_grad) return ll;

  // --- Gradient. Without directions, one entry per Lambda entry; with
  // them, one per direction, each entry's term e spread as w_ek to entry p + k.
  const int nd = dirs ? dirs->nd : nl_;
  const int P = npar() - nl_ + nd;
  auto spread = [&](const double* v, double* to) {
    if (!dirs) {
      for (int e = 0; e < nl_; ++e) to[e] += v[e];
      return;
    }
    for (int k = 0; k < nd; ++k) {
      double acc = 0.0;
      for (int t = dirs->start[k]; t < dirs->start[k + 1]; ++t) acc += dirs->w[t] * v[dirs->e[t]];
      to[k] += acc;
    }
  };
  // S_j = sum_k pi_k d1_jk,  T_jb = sum_k pi_k d1_jk u_kb; T only summed
  // over each pattern's rows, Tp = D1p diag(pi) U with D1p the sums of D1.
  if (!comp) {
    for (int j = 0; j < ni; ++j) {
      double sj = 0.0;
      for (int b = 0; b < q; ++b) w.T(j, b) = 0.0;
      for (long k = 0; k < Q; ++k) {
        const double v = w.pi[k] * w.D1(j, k);
        sj += v;
        for (int b = 0; b < q; ++b) w.T(j, b) += v * w.Unodes(k, b);
      }
      w.S[j] = sj;
    }
  } else {
    auto D1p = w.D1p.topRows(np);
    D1p.setZero();
    for (long k = 0; k < Q; ++k)
      for (int j = 0; j < ni; ++j) D1p(pj[j], k) += w.D1(j, k);
    for (int j = 0; j < ni; ++j) {
      double sj = 0.0;
      for (long k = 0; k < Q; ++k) sj += w.pi[k] * w.D1(j, k);
      w.S[j] = sj;
    }
    auto Tp = w.Tp.topRows(np);
    Tp.setZero();
    for (long k = 0; k < Q; ++k)
      for (int b = 0; b < q; ++b) {
        const double pu = w.pi[k] * w.Unodes(k, b);
        for (int p = 0; p < np; ++p) Tp(p, b) += D1p(p, k) * pu;
      }
  }
  // Direct terms: derivative of sum_k pi_k h(u_k) with the nodes held fixed.
  for (int m = 0; m < p_; ++m) {
    double acc = 0.0;
    for (int j = 0; j < ni; ++j) acc += X_(s0 + j, m) * w.S[j];
    g[m] += acc;
  }
  if (comp) {
    w.ZT.noalias() = w.Zp.topRows(np).transpose() * w.Tp.topRows(np);
    for (int e = 0; e < nl_; ++e) w.lv[e] = w.ZT(lam_row_[e], lam_col_[e]);
  } else {
    for (int e = 0; e < nl_; ++e) {
      const int a = lam_row_[e], b = lam_col_[e];
      double acc = 0.0;
      for (int j = 0; j < ni; ++j) acc += zv(s0 + j, a) * w.T(j, b);
      w.lv[e] = acc;
    }
  }
  spread(w.lv.data(), g + p_);
  if (aux_) {
    // d/d(aux coefficient) of sum_k pi_k h(u_k), through its design column.
    // Laplace: the one node is the mode, where the implicit terms below need
    // the same call's other two derivatives; they are kept from here.
    double* o = w.oa.data();
    w.Sa.topRows(ni).setZero();
    for (long k = 0; k < Q; ++k) {
      poll_node(k);
      for (int b = 0; b < q; ++b) w.unew[b] = w.Unodes(k, b);
      set_eta(w.unew.data());
      for (int j = 0; j < ni; ++j) {
        if (K_ == 1) {
          aux_->daux_all(y[j], wt[j], eta[j], av + (long)j * na, o);
          for (int c = 0; c < na; ++c) {
            w.Sa(j, c) += w.pi[k] * o[3 * c];
            w.Pa1(j, c) = o[3 * c + 1];
            w.Pa2(j, c) = o[3 * c + 2];
          }
        } else {
          aux_->dl_aux(y[j], wt[j], eta[j], av + (long)j * na, o);
          for (int c = 0; c < na; ++c) w.Sa(j, c) += w.pi[k] * o[c];
        }
      }
    }
    for (int m = 0; m < (int)XA_.cols(); ++m) {
      double acc = 0.0;
      for (int j = 0; j < ni; ++j) acc += XA_(s0 + j, m) * w.Sa(j, apred_[m]);
      g[p_ + nl_ + m] += acc;
    }
  } else if (disp_) {
    // d/dphi of sum_k pi_k h(u_k): needs the dispersion derivative at each node.
    double acc = 0.0, o[3];
    for (long k = 0; k < Q; ++k) {
      for (int b = 0; b < q; ++b) w.unew[b] = w.Unodes(k, b);
      set_eta(w.unew.data());
      double sp = 0.0;
      for (int j = 0; j < ni; ++j) {
        fam.dphi(y[j], wt[j], eta[j], phi, o);
        sp += o[0];
        if (K_ == 1) {
          w.pd1[j] = o[1];
          w.pd2[j] = o[2];
        }
      }
      acc += w.pi[k] * sp;
    }
    g[p_ + nd] += acc;
  }

  // Implicit terms: how the mode u^ and the factor C move with theta, for
  // all P parameters at once. Column r of Deta is d eta / d theta_r at the
  // mode: its direct part Deta0 plus A du^_r, with du^_r = H^{-1} rhs_r and
  // rhs = A' R (+ the Lambda entry's own term). The derivative of H is
  //   dH_r = A' diag(c_r) A  (+ hv e_b' + e_b hv' for a Lambda entry b),
  //   c_jr = -d3_j Deta_jr  (- the auxiliary predictors' d2 derivative),
  // and everything the gradient needs from dH_r is linear in it: with
  // -1/2 d log|H| = -1/2 <H^{-1}, dH_r> and, for quadrature, the nodes'
  // term <G2, dL_r> = -<dH_r, K2> (dL_r = -C^{-T} Phi(C^{-1} dH_r C^{-T})',
  // Phi the lower triangle with half the diagonal, K2 the symmetric part
  // of C^{-T} Phi((C^{-1} G2)') C^{-1}), the gradient is
  //   g_r = sum_j c_jr kappa_j (+ 2 (Kt hv)_b) (+ G1' du^_r),
  // kappa_j = a_j' Kt a_j, Kt = -1/2 H^{-1} - K2. One pass over the
  // observations per matrix product instead of a q x q matrix per
  // parameter and observation.
  for (int j = 0; j < ni; ++j) w.W[j] = -w.dv[j].d2;
  // d1p, cp: sums over patterns at the mode (cp sums W).
  if (comp) pattern_sums(w.dv);
  small_inverse_llt(w.llt.matrixLLT(), q, w.tmp_q, w.Hinv);
  auto Ai = A.topRows(np);
  auto Deta = w.Deta.topLeftCorner(ni, P);
  auto R = w.Rm.topLeftCorner(ni, P);
  if (p_ > 0) {
    Deta.leftCols(p_) = X_.middleRows(s0, ni);
    for (int m = 0; m < p_; ++m)
      for (int j = 0; j < ni; ++j) R(j, m) = -w.W[j] * Deta(j, m);
  }
  if (!dirs) {
    for (int e = 0; e < nl_; ++e) {
      const int a = lam_row_[e], b0 = lam_col_[e], r = p_ + e;
      for (int j = 0; j < ni; ++j) {
        const double d = zv(s0 + j, a) * u[b0];
        Deta(j, r) = d;
        R(j, r) = -w.W[j] * d;
      }
    }
  } else {
    // d eta / d phi_k, direct part: Z_i (dLambda / dphi_k) u^, the same
    // for the rows of a pattern.
    for (int k = 0; k < nd && !comp; ++k) {
      const int r = p_ + k;
      for (int j = 0; j < ni; ++j) Deta(j, r) = 0.0;
      for (int t = dirs->start[k]; t < dirs->start[k + 1]; ++t) {
        const int e = dirs->e[t];
        const double wu = dirs->w[t] * u[lam_col_[e]];
        const int a = lam_row_[e];
        for (int j = 0; j < ni; ++j) Deta(j, r) += zv(s0 + j, a) * wu;
      }
      for (int j = 0; j < ni; ++j) R(j, r) = -w.W[j] * Deta(j, r);
    }
    for (int k = 0; k < nd && comp; ++k) {
      // Z_p (dLambda_k u^): the direction's Lambda times u^ first.
      const int r = p_ + k;
      w.va.setZero();
      for (int t = dirs->start[k]; t < dirs->start[k + 1]; ++t) {
        const int e = dirs->e[t];
        w.va[lam_row_[e]] += dirs->w[t] * u[lam_col_[e]];
      }
      w.DP.col(r).head(np).noalias() = w.Zp.topRows(np) * w.va;
      for (int j = 0; j < ni; ++j) {
        Deta(j, r) = w.DP(pj[j], r);
        R(j, r) = -w.W[j] * Deta(j, r);
      }
    }
  }
  if (aux_) {
    double* o = w.oa.data();
    set_eta(u.data());
    if (K_ > 1)
      for (int j = 0; j < ni; ++j) {
        aux_->daux_all(y[j], wt[j], eta[j], av + (long)j * na, o);
        for (int c = 0; c < na; ++c) {
          w.Pa1(j, c) = o[3 * c + 1];
          w.Pa2(j, c) = o[3 * c + 2];
        }
      }
    for (int m = 0; m < (int)XA_.cols(); ++m) {
      const int r = p_ + nl_ + m, c = apred_[m];
      for (int j = 0; j < ni; ++j) {
        Deta(j, r) = 0.0;
        R(j, r) = XA_(s0 + j, m) * w.Pa1(j, c);
      }
    }
  } else if (disp_) {
    double o[3];
    set_eta(u.data());
    for (int j = 0; j < ni; ++j) {
      if (K_ > 1) {
        fam.dphi(y[j], wt[j], eta[j], phi, o);
        w.pd1[j] = o[1];
        w.pd2[j] = o[2];
      }
      Deta(j, P - 1) = 0.0;
      R(j, P - 1) = w.pd1[j];
    }
  }
  auto RHS = w.RHS.leftCols(P);
  auto Du = w.Du.leftCols(P);
  if (!comp) {
    RHS.noalias() = Ai.transpose() * R;
  } else {
    auto Rp = w.Rp.topLeftCorner(np, P);
    Rp.setZero();
    for (int j = 0; j < ni; ++j) Rp.row(pj[j]) += R.row(j);
    RHS.noalias() = Ai.transpose() * Rp;
  }
  if (comp) w.zdv.noalias() = w.Zp.topRows(np).transpose() * w.d1p.head(np);
  for (int e = 0; e < nl_; ++e) {
    const int a = lam_row_[e], b0 = lam_col_[e];
    double zd1 = 0.0;
    if (comp) zd1 = w.zdv[a];
    else
      for (int j = 0; j < ni; ++j) zd1 += zv(s0 + j, a) * w.dv[j].d1;
    if (!dirs) {
      RHS(b0, p_ + e) += zd1;
    } else {
      w.lv[e] = zd1;
    }
  }
  if (dirs)
    for (int k = 0; k < nd; ++k)
      for (int t = dirs->start[k]; t < dirs->start[k + 1]; ++t) {
        const int e = dirs->e[t];
        RHS(lam_col_[e], p_ + k) += dirs->w[t] * w.lv[e];
      }
  Du.noalias() = w.Hinv * RHS;
  if (!comp) {
    Deta.noalias() += Ai * Du;
  } else {
    auto ADu = w.ADu.topLeftCorner(np, P);
    ADu.noalias() = Ai * Du;
    for (int j = 0; j < ni; ++j) Deta.row(j) += ADu.row(pj[j]);
  }
  // c_jr, in place of R.
  for (int r = 0; r < P; ++r)
    for (int j = 0; j < ni; ++j) R(j, r) = -w.dv[j].d3 * Deta(j, r);
  if (aux_) {
    for (int m = 0; m < (int)XA_.cols(); ++m) {
      const int r = p_ + nl_ + m, c = apred_[m];
      for (int j = 0; j < ni; ++j) R(j, r) -= XA_(s0 + j, m) * w.Pa2(j, c);
    }
  } else if (disp_) {
    for (int j = 0; j < ni; ++j) R(j, P - 1) -= w.pd2[j];
  }
  w.Kt = -0.5 * w.Hinv;
  if (K_ > 1) {
    // G1 = sum_k pi_k grad h(u_k), G2 = sum_k pi_k grad h(u_k) z_k'.
    w.ubar.noalias() = w.Unodes.transpose() * w.pi;
    if (comp) {
      for (int p = 0; p < np; ++p) w.Sp[p] = 0.0;
      for (int j = 0; j < ni; ++j) w.Sp[pj[j]] += w.S[j];
    }
    const VectorXd& Spat = comp ? w.Sp : w.S;
    for (int b = 0; b < q; ++b) {
      double acc = -w.ubar[b];
      for (int p = 0; p < np; ++p) acc += A(p, b) * Spat[p];
      w.G1[b] = acc;
    }
    w.PZ.noalias() = w.pi.asDiagonal() * grid_.z;  // Q x q
    w.G2.noalias() = -(w.Unodes.transpose() * w.PZ);
    if (!comp) {
      for (int j = 0; j < ni; ++j)
        for (int c = 0; c < q; ++c) {
          double djc = 0.0;  // sum_k D1_jk pi_k z_kc
          for (long k = 0; k < Q; ++k) djc += w.D1(j, k) * w.PZ(k, c);
          for (int b = 0; b < q; ++b) w.G2(b, c) += A(j, b) * djc;
        }
    } else {
      // Dz = D1p PZ: the same sums over each pattern's rows.
      w.Dz.topRows(np).noalias() = w.D1p.topRows(np) * w.PZ;
      for (int p = 0; p < np; ++p)
        for (int c = 0; c < q; ++c)
          for (int b = 0; b < q; ++b) w.G2(b, c) += A(p, b) * w.Dz(p, c);
    }
    w.Mr.noalias() = w.Cinv * w.G2;
    w.tmp_q = w.Mr.transpose().triangularView<Eigen::Lower>();
    w.tmp_q.diagonal() *= 0.5;
    w.dH.noalias() = w.tmp_q * w.Cinv;
    w.dL.noalias() = w.Cinv.transpose() * w.dH;
    w.Kt -= 0.5 * (w.dL + w.dL.transpose());
  }
  if (comp) {
    // kappa_p = a_p' Kt a_p: the rows of (A Kt) o A summed.
    auto Ap = A.topRows(np);
    w.CA.topRows(np).noalias() = Ap * w.Kt;
    w.kp.head(np) = w.CA.topRows(np).cwiseProduct(Ap).rowwise().sum();
    for (int j = 0; j < ni; ++j) w.kap[j] = w.kp[pj[j]];
  } else {
    for (int j = 0; j < ni; ++j) {
      double k = 0.0;
      for (int a = 0; a < q; ++a) {
        double t = 0.0;
        for (int b = 0; b < q; ++b) t += w.Kt(a, b) * A(j, b);
        k += A(j, a) * t;
      }
      w.kap[j] = k;
    }
  }
  auto grc = w.grc.head(P);
  grc.noalias() = R.transpose() * w.kap.head(ni);
  if (K_ > 1) grc.noalias() += Du.transpose() * w.G1;
  // Each Lambda entry e = (a, b0) adds 2 Kt.row(b0) hv_a, where
  // hv_a = sum_j W_j Z_ja A_j' depends on its row a only. Entry by entry
  // that is O(nl n_i q) = O(n_i q^3) a cluster: 8e8 operations at q = 200
  // (ar1() over 200 times), 9 s an evaluation over 30 clusters, with no
  // interrupt check inside. From kWideLambda columns on, all hv_a at once,
  // HV = A_i' diag(W) Z_i, and the terms are the entries of 2 Kt HV:
  // O(n_i q^2 + q^3). (Below it the loop, whose sums are kept as they were.)
  constexpr int kWideLambda = 16;
  // Over patterns: W summed over a pattern's rows (cp) times its Z row.
  if (q >= kWideLambda) {
    MatrixXd WZ;
    if (!comp) {
      // (q >= 16: never the unit Z of one random intercept.)
      WZ = w.W.head(ni).asDiagonal() * Z_.middleRows(s0, ni);
    } else {
      WZ = w.cp.head(np).asDiagonal() * w.Zp.topRows(np);
    }
    const MatrixXd KH = w.Kt * (Ai.transpose() * WZ);
    for (int e = 0; e < nl_; ++e) w.lv[e] = 2.0 * KH(lam_col_[e], lam_row_[e]);
  } else {
    for (int e = 0; e < nl_; ++e) {
      const int a = lam_row_[e], b0 = lam_col_[e];
      w.hv.setZero();
      for (int p = 0; p < np; ++p) {
        const double v = comp ? w.cp[p] * w.Zp(p, a) : w.W[p] * zv(rep[p], a);
        for (int b = 0; b < q; ++b) w.hv[b] += A(p, b) * v;
      }
      w.lv[e] = 2.0 * w.Kt.row(b0).dot(w.hv);
    }
  }
  spread(w.lv.data(), grc.data() + p_);
  for (int r = 0; r < P; ++r) g[r] += grc[r];
  return ll;
}

AgqResult AgqEngine::evaluate(const VectorXd& theta, bool gradient) {
  return evaluate_impl(theta, gradient, nullptr);
}

MatrixXd AgqEngine::cluster_scores(const VectorXd& theta) {
  MatrixXd S(lay_.M, npar());
  evaluate_impl(theta, true, nullptr, &S);
  return S;
}

AgqResult AgqEngine::evaluate_scores(const VectorXd& theta, MatrixXd& S) {
  S.resize(lay_.M, npar());
  return evaluate_impl(theta, true, nullptr, &S);
}

AgqResult AgqEngine::evaluate(const VectorXd& theta, bool gradient, const MatrixXd& dirs) {
  if (gradient) return evaluate_dirs(theta, dirs, nullptr);
  if (dirs.rows() != nl_)
    throw std::invalid_argument("the directions must have one row per entry of Lambda (" +
                                std::to_string(nl_) + ")");
  if (!dirs.allFinite()) throw std::invalid_argument("the directions must be finite");
  return evaluate_impl(theta, false, nullptr);
}

AgqResult AgqEngine::evaluate_scores(const VectorXd& theta, MatrixXd& S, const MatrixXd& dirs) {
  return evaluate_dirs(theta, dirs, &S);
}

AgqResult AgqEngine::evaluate_dirs(const VectorXd& theta, const MatrixXd& dirs, MatrixXd* scores) {
  if (dirs.rows() != nl_)
    throw std::invalid_argument("the directions must have one row per entry of Lambda (" +
                                std::to_string(nl_) + ")");
  if (!dirs.allFinite()) throw std::invalid_argument("the directions must be finite");
  const int nd = (int)dirs.cols();
  const int P = npar(), rest = P - p_ - nl_;
  if (fast_ != FAST_NONE || aux_) {
    // The scalar fast path and the auxiliary predictors keep their entry-
    // wise gradient: contracted here, after the sums (and each cluster's
    // row likewise).
    MatrixXd Sfull;
    if (scores) Sfull.resize(lay_.M, P);
    AgqResult r = evaluate_impl(theta, true, nullptr, scores ? &Sfull : nullptr);
    VectorXd g(p_ + nd + rest), hi(g.size()), lo(g.size());
    g.head(p_) = r.gradient.head(p_);
    g.segment(p_, nd) = dirs.transpose() * r.gradient.segment(p_, nl_);
    g.tail(rest) = r.gradient.tail(rest);
    hi = g;
    lo.setZero();
    r.gradient = g;
    r.gradient_hi = hi;
    r.gradient_lo = lo;
    if (scores) {
      scores->resize(Sfull.rows(), g.size());
      scores->leftCols(p_) = Sfull.leftCols(p_);
      scores->middleCols(p_, nd).noalias() = Sfull.middleCols(p_, nl_) * dirs;
      scores->rightCols(rest) = Sfull.rightCols(rest);
    }
    return r;
  }
  LamDirs d;
  d.nd = nd;
  d.start.assign(nd + 1, 0);
  for (int k = 0; k < nd; ++k) {
    for (int e = 0; e < nl_; ++e)
      if (dirs(e, k) != 0.0) {
        d.e.push_back(e);
        d.w.push_back(dirs(e, k));
      }
    d.start[k + 1] = (int)d.e.size();
  }
  if (scores) scores->resize(lay_.M, p_ + nd + rest);
  return evaluate_impl(theta, true, &d, scores);
}

AgqResult AgqEngine::evaluate_impl(const VectorXd& theta, bool gradient, const LamDirs* dirs,
                                   MatrixXd* scores) {
  MatrixXd Lam;
  double phi;
  VectorXd& eta0 = eta_buf_;
  prepare(theta, Lam, phi, eta0);
  const int M = lay_.M, P = npar() - (dirs ? nl_ - dirs->nd : 0);
  const int nt = cluster_threads(nthreads_, M);
  std::vector<std::unique_ptr<Work> > work = make_work(nt, P);
  // sum_over_clusters() polls between blocks of 64 clusters; with up to
  // 1e5 nodes per cluster a block can be minutes of work (two random
  // effects at nAGQ = 300, clusters of 100 rows). So every cluster polls:
  // an interrupt seen by the master thread stops each thread at its next
  // cluster, by an exception the region's guard carries out and throws
  // again after the region, on the main thread.
  InterruptPoll ip;
  PollScope scope(*this, ip);
  auto pass = [&]() {
    return sum_over_clusters(M, P, nt, gradient, [&](int i, int tid, double* g, bool* failed) {
      if (ip.poll()) throw Rcpp::internal::InterruptedException();
      return cluster(i, eta0, Lam, phi, gradient, *work[tid], g, nullptr, failed, dirs);
    }, scores);
  };
  AgqResult r = pass();
  // Each mode search starts from the cluster's mode at the last parameters.
  // From a mode far from the new one, a search can stop at once where the
  // curvature is enormous, at a point whose value is not finite (cloglog
  // with three random effects after a trial step far out). Before a value
  // counts as undefined, every search runs again from u = 0.
  if ((!std::isfinite(r.loglik) || (gradient && !r.gradient.allFinite())) &&
      !ucache_.isZero(0.0)) {
    reset_modes();
    r = pass();
  }
  return r;
}

AgqSummaries AgqEngine::summaries(const VectorXd& theta) {
  MatrixXd Lam;
  double phi;
  VectorXd& eta0 = eta_buf_;
  prepare(theta, Lam, phi, eta0);
  const int M = lay_.M;
  const int nt = cluster_threads(nthreads_, M);
  std::vector<std::unique_ptr<Work> > work = make_work(nt, npar());
  InterruptPoll ip;  // every cluster, as in evaluate_impl()
  PollScope scope(*this, ip);
  return summaries_over_clusters(M, q_, nt, [&](int i, int tid, AgqSummaries* out, bool* failed) {
    if (ip.poll()) throw Rcpp::internal::InterruptedException();
    cluster(i, eta0, Lam, phi, false, *work[tid], nullptr, out, failed);
  });
}

// Doubles in one thread's Work for K points per random effect (agq-work.h).
static double work_doubles(double nmax, double q, double Q, double P) {
  return nmax * (Q + 2.0 * q + 2.0 * P + 36.0) + Q * (2.0 * q + 3.0) + q * (2.0 * P + 12.0 * q) + P;
}
// The same for the per-pattern sums of grouped clusters (pmax patterns).
static double pattern_doubles(double pmax, double q, double Q, double P) {
  return pmax * (Q + 5.0 * q + 3.0 * P) + q * (q + 2.0);
}

// Columns of Work's auxiliary sums, and the doubles they add beyond the
// two that work_doubles() counts.
int AgqEngine::aux_columns() const { return std::max(2, naux()); }
static double aux_doubles(double nmax, int na) { return 3.0 * nmax * (na - 2); }

void AgqEngine::check_work_memory(int K) const {
  const double Q = std::pow((double)K, (double)q_);
  check_quadrature_memory(work_doubles(nmax_, q_, Q, npar()) + pattern_doubles(pmax_, q_, Q, npar()) +
                              aux_doubles(nmax_, aux_columns()),
                          usable_threads(nthreads_), K, q_, nmax_, "");
}

std::vector<std::unique_ptr<AgqEngine::Work> > AgqEngine::make_work(int nt, int width) const {
  const long Q = grid_.z.rows();
  return thread_work<Work>(
      nt, work_doubles(nmax_, q_, (double)Q, width) + pattern_doubles(pmax_, q_, (double)Q, width) +
              aux_doubles(nmax_, aux_columns()),
      nmax_, q_, Q, width, nl_, pmax_, aux_columns());
}

}  // namespace glmmgee
