// Ordinal GEE with global odds ratios (Heagerty and Zeger, 1996): Fisher
// scoring on the two sets of estimating equations and the per-cluster
// estimating functions for the sandwich (R/gee-ordinal-global.R holds the
// model set-up, the messages and the sandwich). For the cut-point
// indicators z_tk = I(Y_t <= k), k = 1..c, of the responses of a cluster:
//   U1 = sum_i D1_i' V1_i^{-1} (z_i - mu_i)
//   U2 = sum_i sum_{t<s} D2' V2^{-1} (r_t (x) r_s - sigma_ts)
// V1_i: mu_min(k,m) - mu_k mu_m within a time, P11 - mu_t mu_s' between
// times, P11 from Plackett's formula with the pair's odds ratio; V2 the
// exact variance of the products r_tk r_sm under the pair's J x J table.
//
// Everything but the residuals r = z - mu depends on a cluster's rows only
// through their covariates, offsets and the groups of their pairs, so it is
// computed once per covariate pattern (cluster-patterns.h); the residual
// terms, linear in the residuals or their pairwise products, per cluster.
#include <RcppEigen.h>
#include <algorithm>
#include <cfloat>
#include <cstddef>
#include <cmath>
#include <memory>
#include <vector>
#include "util/cluster-patterns.h"
#include "util/resources.h"
#include "entry/entry-gee.h"

namespace glmmgee {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Plackett's P(A and B), written without cancellation at psi = 1.
double plackett(double psi, double m1, double m2) {
  double a = 1 + (m1 + m2) * (psi - 1);
  double s2 = a * a - 4 * psi * (psi - 1) * m1 * m2;
  return 2 * psi * m1 * m2 / (a + std::sqrt(s2 > 0 ? s2 : 0));
}

// cumulative()'s linkinv and dens at x, computed as R's plogis/dlogis,
// pnorm/dnorm and the cloglog closures do.
void cdf_pdf(int link, double x, double& F, double& f) {
  if (link == 0) {
    const double em = std::exp(-x);
    F = 1 / (1 + em);
    const double e = x >= 0 ? em : std::exp(x), d = 1 + e;   // exp(-|x|)
    f = e / (d * d);
  } else if (link == 1) {
    F = R::pnorm(x, 0.0, 1.0, 1, 0);
    f = R::dnorm(x, 0.0, 1.0, 0);
  } else {
    const double ex = std::exp(x);
    F = -std::expm1(-ex);
    f = std::exp(x - ex);
  }
}

struct GlobalData {
  const Eigen::Map<const Eigen::VectorXi>& y;       // categories 1..J, rows sorted by cluster, time
  const Eigen::Map<const Eigen::MatrixXd>& X;       // covariates, no intercept
  const Eigen::Map<const Eigen::VectorXd>& off;
  const Eigen::Map<const Eigen::VectorXi>& starts;  // cluster i: rows starts[i] .. starts[i+1]-1
  const Eigen::Map<const Eigen::VectorXi>& time;    // 0-based, increasing within a cluster
  const Eigen::Map<const Eigen::MatrixXi>& group;   // T x T: log odds ratio of the times t < s
  const ClusterPatterns& patterns;
  int link, c, q;
};

// The working covariances are small (times x cut points) and factored once
// per pattern and pair: plain loops, which for such sizes cost a fraction
// of the general (blocked) dense routines.
// Above this size the factor is taken by Eigen's blocked routine.
constexpr int kBlockedCholesky = 96;
// Columns per panel of the large factorization (between interrupt polls).
constexpr int kPanel = 128;

// Lower Cholesky factor of the m x m column-major `a` in place (upper
// triangle not read) and the reciprocals of its diagonal in `dinv`; false
// unless positive definite, or when the user interrupts (the caller then
// raises the interrupt).
bool cholesky_lower(double* a, int m, double* dinv, InterruptPoll& ip) {
  // Large clusters (m = rows x cut points in the hundreds or thousands):
  // the plain loops read L by rows, a stride of m, and took 72% of a fit
  // on two clusters of 400 rows; Eigen's blocked kernels do the same
  // arithmetic cache-friendly. They run here by panels of kPanel columns
  // (the panel's factor, the solve below it, the update of the trailing
  // matrix), polling for an interrupt between panels: one factorization of
  // a cluster of 1,000 rows and 4 cut points takes seconds, and Eigen's own
  // LLT cannot be interrupted. Eigen's pivot test lets NaN through, so the
  // diagonal is checked after.
  if (m > kBlockedCholesky) {
    Eigen::Map<MatrixXd> A(a, m, m);
    for (int k = 0; k < m; k += kPanel) {
      const int b = std::min(kPanel, m - k), r = m - k - b;
      Eigen::Ref<MatrixXd> A11 = A.block(k, k, b, b);
      Eigen::LLT<Eigen::Ref<MatrixXd>, Eigen::Lower> llt(A11);
      if (llt.info() != Eigen::Success) return false;
      if (r > 0) {
        Eigen::Ref<MatrixXd> A21 = A.block(k + b, k, r, b), A22 = A.block(k + b, k + b, r, r);
        A11.triangularView<Eigen::Lower>().transpose().solveInPlace<Eigen::OnTheRight>(A21);
        A22.selfadjointView<Eigen::Lower>().rankUpdate(A21, -1.0);
      }
      if (ip.poll()) return false;
    }
    for (int j = 0; j < m; ++j) {
      const double d = a[j + static_cast<std::ptrdiff_t>(j) * m];
      if (!(d > 0) || !std::isfinite(d)) return false;
      dinv[j] = 1 / d;
    }
    return true;
  }
  for (int j = 0; j < m; ++j) {
    double s = a[j + j * m];
    for (int k = 0; k < j; ++k) s -= a[j + k * m] * a[j + k * m];
    if (!(s > 0)) return false;
    a[j + j * m] = std::sqrt(s);
    dinv[j] = 1 / a[j + j * m];
    for (int i = j + 1; i < m; ++i) {
      double t = a[i + j * m];
      for (int k = 0; k < j; ++k) t -= a[i + k * m] * a[j + k * m];
      a[i + j * m] = t * dinv[j];
    }
  }
  return true;
}

// B := L^-1 B (transpose = false) or L'^-1 B (true) for the m x m lower
// factor L (dinv: its diagonal's reciprocals) and the m x nc column-major B.
void solve_lower(const double* L, const double* dinv, int m, double* B, int nc, bool transpose) {
  if (m > kBlockedCholesky) {   // as in cholesky_lower: the loops below read L by rows
    const Eigen::Map<const MatrixXd> Lm(L, m, m);
    Eigen::Map<MatrixXd> Bm(B, m, nc);
    if (transpose) Lm.triangularView<Eigen::Lower>().transpose().solveInPlace(Bm);
    else Lm.triangularView<Eigen::Lower>().solveInPlace(Bm);
    return;
  }
  for (int col = 0; col < nc; ++col) {
    double* b = B + static_cast<std::ptrdiff_t>(col) * m;
    if (!transpose) {
      for (int i = 0; i < m; ++i) {
        double t = b[i];
        for (int k = 0; k < i; ++k) t -= L[i + k * m] * b[k];
        b[i] = t * dinv[i];
      }
    } else {
      for (int i = m - 1; i >= 0; --i) {
        double t = b[i];
        for (int k = i + 1; k < m; ++k) t -= L[k + i * m] * b[k];
        b[i] = t * dinv[i];
      }
    }
  }
}

// The sums of one evaluation. The per-cluster estimating functions are
// kept by column (U1t: np x K, U2t: q x K); U1, U2 are their sums.
struct GlobalEval {
  MatrixXd A, F, D, U1t, U2t;
  VectorXd U1, U2;
  bool ok = true;
  int bad_cluster = 0, singular_pairs = 0;
};

// Scratch space of the clusters of one size.
struct SizeWork {
  MatrixXd mu, f, V1, D1, ViD1;
  VectorXd dinv;
  SizeWork(int ni, int c, int np)
      : mu(ni, c), f(ni, c), V1(ni * c, ni * c), D1(ni * c, np), ViD1(ni * c, np), dinv(ni * c) {}
};

class GlobalSums {
 public:
  GlobalSums(const GlobalData& d, int maxsize)
      : d_(d), J_(d.c + 1), c2_(d.c * d.c), np_(d.c + d.X.cols()), res_(d.c, d.y.size()),
        rsum_(maxsize, d.c), P11_(d.c, d.c), cum_(J_ + 1, J_ + 1), W_(J_ * J_, c2_), V2_(c2_, c2_),
        pcell_(J_ * J_), sig_(c2_), d2_(c2_), dm1_(c2_), dm2_(c2_), v_(c2_), ca_(d.c), cb_(d.c),
        ldl2_(c2_) {
    work_.resize(maxsize + 1);   // made at the first cluster of each size
  }

  // The sums at (thresholds, beta) = par and the log odds ratios alpha;
  // out.ok = false (and out.bad_cluster, 1-based, the first such cluster)
  // when a cluster's V1 is not positive definite: the margins and odds
  // ratios are incompatible there.
  void eval(const VectorXd& par, const VectorXd& alpha, GlobalEval& out, InterruptPoll& ip) {
    const int K = d_.starts.size() - 1, q = d_.q;
    out.A.setZero(np_, np_);
    out.F.setZero(q, q);
    out.D.setZero(q, np_);
    out.U1t.setZero(np_, K);
    out.U2t.setZero(q, K);
    out.ok = true;
    out.bad_cluster = 0;
    out.singular_pairs = 0;
    psi_ = alpha.array().exp();
    ip_ = &ip;
    for (std::size_t g = 0; g < d_.patterns.size(); ++g) {
      // Every pattern: poll() asks R at most every 0.1 s, and one pattern of
      // a large cluster is seconds of work (pattern() polls inside it too).
      if (ip.poll()) break;
      const PatternSpan members = d_.patterns[g];
      bool ok;
      switch (d_.c) {   // the loops over cut points unrolled for 2-4 categories
        case 1: ok = pattern<1>(par, members, out); break;
        case 2: ok = pattern<2>(par, members, out); break;
        case 3: ok = pattern<3>(par, members, out); break;
        default: ok = pattern<0>(par, members, out);
      }
      // The scratch of a large cluster size is not kept: clusters of many
      // distinct large sizes would otherwise hold one (rows x cut points)^2
      // matrix per size at once (gigabytes), while refilling it costs
      // little beside its cubic factorization.
      const int ni = d_.starts[members[0] + 1] - d_.starts[members[0]];
      if (ni * d_.c > kBlockedCholesky) work_[ni].reset();
      if (ip.interrupted()) break;
      if (!ok) {
        out.ok = false;
        out.bad_cluster = members[0] + 1;
        break;
      }
    }
    ip.raise_if_interrupted();
    out.U1 = out.U1t.rowwise().sum();
    out.U2 = out.U2t.rowwise().sum();
  }

 private:
  // Adds the clusters of one pattern; false when its V1 is not positive
  // definite. C: the number of cut points when fixed at compile time, else 0.
  template <int C>
  bool pattern(const VectorXd& par, const PatternSpan& members, GlobalEval& out) {
    const int c = C > 0 ? C : d_.c, p = d_.X.cols(), i0 = members[0], r0 = d_.starts[i0];
    const int ni = d_.starts[i0 + 1] - r0, m = ni * c;
    if (ni == 0) return true;
    const double nm = static_cast<double>(members.size());
    if (!work_[ni]) work_[ni].reset(new SizeWork(ni, c, np_));
    SizeWork& w = *work_[ni];
    w.D1.setZero();
    w.V1.setZero();
    for (int a = 0; a < ni; ++a) {
      const int r = r0 + a;
      double eta = d_.off[r];
      if (p) eta = d_.X.row(r).dot(par.tail(p)) + d_.off[r];
      for (int k = 0; k < c; ++k) {
        cdf_pdf(d_.link, par[k] - eta, w.mu(a, k), w.f(a, k));
        w.D1(a * c + k, k) = w.f(a, k);
        for (int l = 0; l < p; ++l) w.D1(a * c + k, c + l) = -w.f(a, k) * d_.X(r, l);
        for (int l = 0; l < c; ++l)
          w.V1(a * c + k, a * c + l) = w.mu(a, std::min(k, l)) - w.mu(a, k) * w.mu(a, l);
      }
    }
    // Residuals of the members (res_ by column: a cluster's block is its
    // stacked z_i - mu_i) and their sums over the members.
    rsum_.topRows(ni).setZero();
    for (const int i : members) {
      const int ri = d_.starts[i];
      for (int a = 0; a < ni; ++a)
        for (int k = 0; k < c; ++k) {
          const double e = (d_.y[ri + a] <= k + 1 ? 1.0 : 0.0) - w.mu(a, k);
          res_(k, ri + a) = e;
          rsum_(a, k) += e;
        }
    }
    // ni (ni - 1) / 2 pairs: 180,000 for a cluster of 600 rows.
    for (int a = 0; a < ni; ++a) {
      if (ip_->poll()) return false;
      for (int b = a + 1; b < ni; ++b) pair<C>(a, b, r0, members, nm, w, out);
    }
    // V1 = L L'; G = L^-1 D1 gives D1'V1^-1 D1 = G'G, and V1^-1 D1 = L'^-1 G.
    if (!cholesky_lower(w.V1.data(), m, w.dinv.data(), *ip_)) return false;
    w.ViD1 = w.D1;
    solve_lower(w.V1.data(), w.dinv.data(), m, w.ViD1.data(), np_, false);
    for (int s = 0; s < np_; ++s)
      for (int r = 0; r <= s; ++r) {
        const double g = nm * w.ViD1.col(r).dot(w.ViD1.col(s));
        out.A(r, s) += g;
        if (r != s) out.A(s, r) += g;
      }
    solve_lower(w.V1.data(), w.dinv.data(), m, w.ViD1.data(), np_, true);
    for (const int i : members) {
      const Eigen::Map<const VectorXd> e(res_.data() + static_cast<Eigen::Index>(d_.starts[i]) * c, m);
      out.U1t.col(i).noalias() = w.ViD1.transpose() * e;
    }
    return true;
  }

  // The pair of rows a < b of the pattern: its V1 block, and its terms of
  // the association equations, unless the variance of its products is
  // singular (then counted in singular_pairs and left out).
  template <int C>
  void pair(int a, int b, int r0, const PatternSpan& members, double nm, SizeWork& w, GlobalEval& out) {
    const int c = C > 0 ? C : d_.c, J = c + 1, c2 = c * c;
    const int g = d_.group(d_.time[r0 + a], d_.time[r0 + b]);
    const double psi = psi_[g];
    for (int l = 0; l < c; ++l)
      for (int k = 0; k < c; ++k) {
        P11_(k, l) = plackett(psi, w.mu(a, k), w.mu(b, l));
        w.V1(a * c + k, b * c + l) = w.V1(b * c + l, a * c + k) = P11_(k, l) - w.mu(a, k) * w.mu(b, l);
      }
    // Cells (u, v) of the pair's table from the cumulative probabilities
    // cum_(u + 1, v + 1) = P(Y_t <= u, Y_s <= v) (0-based categories; row
    // and column 0 for "none").
    for (int u = 0; u <= J; ++u) cum_(u, 0) = cum_(0, u) = 0;
    for (int k = 0; k < c; ++k) {
      cum_(k + 1, J) = w.mu(a, k);
      cum_(J, k + 1) = w.mu(b, k);
      for (int l = 0; l < c; ++l) cum_(k + 1, l + 1) = P11_(k, l);
    }
    cum_(J, J) = 1;
    for (int v = 0; v < J; ++v)
      for (int u = 0; u < J; ++u) {
        const double pr = cum_(u + 1, v + 1) - cum_(u, v + 1) - cum_(u + 1, v) + cum_(u, v);
        pcell_(v * J + u) = pr > 0 ? pr : 0;
      }
    // Products r_tk r_sm (k fastest), their value in each cell, their mean
    // sigma, its derivative in alpha (d2) and in the two margins.
    for (int l = 0; l < c; ++l)
      for (int k = 0; k < c; ++k) {
        const int kl = l * c + k;
        const double m1 = w.mu(a, k), m2 = w.mu(b, l), pp = P11_(k, l);
        sig_(kl) = pp - m1 * m2;
        for (int v = 0; v < J; ++v) {
          const double rb = (v <= l ? 1.0 : 0.0) - m2;
          for (int u = 0; u < J; ++u) W_(v * J + u, kl) = ((u <= k ? 1.0 : 0.0) - m1) * rb;
        }
        const double igp = 1 / (1 - m1 - m2 + 2 * pp + psi * (m1 + m2 - 2 * pp));
        d2_(kl) = psi * (m1 - pp) * (m2 - pp) * igp;
        dm1_(kl) = (pp + psi * (m2 - pp)) * igp - m2;   // d sigma / d mu_tk
        dm2_(kl) = (pp + psi * (m1 - pp)) * igp - m1;   // d sigma / d mu_sl
      }
    const int nc = J * J;
    for (int s = 0; s < c2; ++s)
      for (int r = 0; r <= s; ++r) {
        double t = 0;
        for (int e = 0; e < nc; ++e) t += pcell_(e) * W_(e, r) * W_(e, s);
        V2_(r, s) = V2_(s, r) = t - sig_(r) * sig_(s);
      }
    // A pair whose V2 is singular (relative to its scale) is left out.
    if (c2 == 1) {
      if (!(V2_(0, 0) > 1e-14 * std::fabs(V2_(0, 0)))) {
        out.singular_pairs += static_cast<int>(members.size());
        return;
      }
      v_(0) = d2_(0) / V2_(0, 0);
    } else {
      ldl2_.compute(V2_);
      if (ldl2_.info() != Eigen::Success ||
          !(ldl2_.vectorD().minCoeff() > 1e-14 * ldl2_.vectorD().cwiseAbs().maxCoeff())) {
        out.singular_pairs += static_cast<int>(members.size());
        return;
      }
      v_ = ldl2_.solve(d2_);
    }
    out.F(g, g) += nm * v_.dot(d2_);
    // dU2/d(thresholds, beta) of one cluster is -v' d(s - sigma): through
    // mu_tk (row a*c+k of D1) with coefficient -r_sl - dsigma/dmu_tk, and
    // through mu_sl alike; summed over the members the residuals enter by
    // their sums.
    for (int k = 0; k < c; ++k) {
      double sa = 0, sb = 0;
      for (int l = 0; l < c; ++l) {
        sa += v_(l * c + k) * (-rsum_(b, l) - nm * dm1_(l * c + k));
        sb += v_(k * c + l) * (-rsum_(a, l) - nm * dm2_(k * c + l));
      }
      ca_(k) = sa;
      cb_(k) = sb;
    }
    for (int k = 0; k < c; ++k)
      for (int j = 0; j < np_; ++j) out.D(g, j) -= ca_(k) * w.D1(a * c + k, j) + cb_(k) * w.D1(b * c + k, j);
    for (const int i : members) {
      const int ri = d_.starts[i];
      double u2 = 0;
      for (int l = 0; l < c; ++l)
        for (int k = 0; k < c; ++k) u2 += v_(l * c + k) * (res_(k, ri + a) * res_(l, ri + b) - sig_(l * c + k));
      out.U2t(g, i) += u2;
    }
  }

  const GlobalData& d_;
  const int J_, c2_, np_;
  MatrixXd res_, rsum_, P11_, cum_, W_, V2_;
  VectorXd pcell_, sig_, d2_, dm1_, dm2_, v_, ca_, cb_, psi_;
  Eigen::LDLT<MatrixXd> ldl2_;
  std::vector<std::unique_ptr<SizeWork>> work_;
  InterruptPoll* ip_ = nullptr;   // eval()'s, for pattern()'s polls
};

// x = solve(M, b) as R's solve() would give it, or false where solve()
// stops: a zero pivot or a reciprocal condition number below the machine
// epsilon.
bool solve_like_r(const MatrixXd& M, const VectorXd& b, VectorXd& x) {
  Eigen::PartialPivLU<MatrixXd> lu(M);
  if (!(lu.matrixLU().diagonal().cwiseAbs().minCoeff() > 0) || !(lu.rcond() >= DBL_EPSILON)) return false;
  x = lu.solve(b);
  return true;
}

bool ordered_thresholds(const VectorXd& par, int c) {
  for (int k = 1; k < c; ++k)
    if (!(par[k] > par[k - 1])) return false;
  return true;
}

}  // namespace
}  // namespace glmmgee

// Fisher scoring for the thresholds and coefficients (start) and the q log
// odds ratios (from 0), solving both sets of equations together; a step is
// halved until the thresholds stay ordered and every cluster's V1 positive
// definite. y: categories 1..J, rows sorted by cluster (starts: K + 1 row
// offsets) and time (0-based time); group: T x T, the 0-based log odds
// ratio of the pairs of times t < s seen in the data. link:
// cumulative()$link_code. patterns = false computes every cluster on its own
// (for tests). status: 0 ran (converged or maxit), 1 V1 not positive
// definite at the start (bad_cluster), 2 a step could not be computed, 3 no
// step kept; A, F, D, U1i, U2i are the sums and per-cluster estimating
// functions at the returned estimates, for the sandwich.
Rcpp::List glmmgee_exports::ordinal_gee_global(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                                  Eigen::Map<Eigen::VectorXd> offset, Eigen::Map<Eigen::VectorXi> starts,
                                  Eigen::Map<Eigen::VectorXi> time, Eigen::Map<Eigen::MatrixXi> group,
                                  int J, int nalpha, Eigen::Map<Eigen::VectorXd> start, int link, int maxit,
                                  double epsilon, bool patterns) {
  using namespace glmmgee;
  const int n = y.size(), p = X.cols(), c = J - 1, np = c + p, K = starts.size() - 1, T = group.rows();
  if (J < 2) Rcpp::stop("cpp_ordinal_gee_global: at least two categories are needed");
  if (X.rows() != n || offset.size() != n || time.size() != n)
    Rcpp::stop("cpp_ordinal_gee_global: 'y', 'X', 'offset' and 'time' differ in length");
  if (K < 1 || starts[0] != 0 || starts[K] != n)
    Rcpp::stop("cpp_ordinal_gee_global: 'starts' must run from 0 to the number of observations");
  if (group.cols() != T || nalpha < 1) Rcpp::stop("cpp_ordinal_gee_global: 'group' must be square, 'nalpha' positive");
  if (start.size() != np || !start.allFinite()) Rcpp::stop("cpp_ordinal_gee_global: 'start' has the wrong length or is not finite");
  if (!ordered_thresholds(start, c)) Rcpp::stop("cpp_ordinal_gee_global: starting thresholds are not increasing");
  if (link < 0 || link > 2) Rcpp::stop("cpp_ordinal_gee_global: unknown link code");
  if (!X.allFinite() || !offset.allFinite()) Rcpp::stop("cpp_ordinal_gee_global: 'X' and 'offset' must be finite");
  if (maxit < 0 || !(epsilon > 0)) Rcpp::stop("cpp_ordinal_gee_global: 'maxit' and 'epsilon' must be positive");
  int maxsize = 0;
  for (int i = 0; i < K; ++i) {
    if (starts[i + 1] < starts[i]) Rcpp::stop("cpp_ordinal_gee_global: cluster starts must not decrease");
    maxsize = std::max(maxsize, starts[i + 1] - starts[i]);
  }
  for (int i = 0; i < K; ++i) {
    for (int r = starts[i]; r < starts[i + 1]; ++r) {
      if (y[r] < 1 || y[r] > J) Rcpp::stop("cpp_ordinal_gee_global: categories must lie in 1..J");
      if (time[r] < 0 || time[r] >= T) Rcpp::stop("cpp_ordinal_gee_global: time index out of range");
      if (r > starts[i] && time[r] <= time[r - 1])
        Rcpp::stop("cpp_ordinal_gee_global: times must increase within a cluster");
      for (int s = starts[i]; s < r; ++s)
        if (group(time[s], time[r]) < 0 || group(time[s], time[r]) >= nalpha)
          Rcpp::stop("cpp_ordinal_gee_global: no log odds ratio for the times %d and %d", time[s] + 1, time[r] + 1);
    }
  }
  const Eigen::Map<const Eigen::VectorXi> cy(y.data(), n), cs(starts.data(), K + 1), ct(time.data(), n);
  const Eigen::Map<const Eigen::MatrixXd> cX(X.data(), n, p);
  const Eigen::Map<const Eigen::VectorXd> co(offset.data(), n);
  const Eigen::Map<const Eigen::MatrixXi> cg(group.data(), T, T);
  // Patterns: a cluster's covariate rows and offsets, and the groups of its
  // pairs (which odds ratio each pair has).
  const ClusterPatterns pats = cluster_patterns(K, [&](int i, std::vector<double>& key) {
    if (!patterns) {
      key.push_back(i);
      return;
    }
    key.push_back(starts[i + 1] - starts[i]);
    for (int r = starts[i]; r < starts[i + 1]; ++r) {
      key.push_back(offset[r]);
      for (int l = 0; l < p; ++l) key.push_back(X(r, l));
      for (int s = starts[i]; s < r; ++s) key.push_back(group(time[s], time[r]));
    }
  });
  const GlobalData d{cy, cX, co, cs, ct, cg, pats, link, c, nalpha};
  GlobalSums sums(d, maxsize);
  InterruptPoll ip;
  VectorXd par = start, alpha = VectorXd::Zero(nalpha), db, da, par_new, alpha_new;
  GlobalEval cur, trial;
  sums.eval(par, alpha, cur, ip);
  int status = 0, it = 0, bad_cluster = 0;
  bool converged = false;
  double crit = NA_REAL;
  for (it = 1; it <= maxit; ++it) {
    if (!cur.ok) {   // at the start only: a step is kept only where every V1 is positive definite
      status = 1;
      bad_cluster = cur.bad_cluster;
      break;
    }
    if (!solve_like_r(cur.A, cur.U1, db) || !solve_like_r(cur.F, cur.U2 - cur.D * db, da) ||
        !db.allFinite() || !da.allFinite()) {
      status = 2;
      break;
    }
    crit = 0;
    for (int j = 0; j < np; ++j) crit = std::max(crit, std::fabs(db[j]) / std::max(1.0, std::fabs(par[j])));
    for (int j = 0; j < nalpha; ++j) crit = std::max(crit, std::fabs(da[j]) / std::max(1.0, std::fabs(alpha[j])));
    double h = 1;
    for (;;) {
      par_new = par + h * db;
      alpha_new = alpha + h * da;
      if (ordered_thresholds(par_new, c)) {
        sums.eval(par_new, alpha_new, trial, ip);
        if (trial.ok) break;
      }
      h /= 2;
      if (h < 1e-4) break;
    }
    if (h < 1e-4) {
      status = 3;
      break;
    }
    par = par_new;
    alpha = alpha_new;
    std::swap(cur, trial);
    if (crit < epsilon) {
      converged = true;
      break;
    }
  }
  if (it > maxit) it = maxit;
  return Rcpp::List::create(
      Rcpp::Named("par") = par, Rcpp::Named("alpha") = alpha, Rcpp::Named("status") = status,
      Rcpp::Named("bad_cluster") = bad_cluster, Rcpp::Named("iterations") = it,
      Rcpp::Named("crit") = crit, Rcpp::Named("converged") = converged, Rcpp::Named("ok") = cur.ok,
      Rcpp::Named("A") = cur.A, Rcpp::Named("F") = cur.F, Rcpp::Named("D") = cur.D,
      Rcpp::Named("U1i") = MatrixXd(cur.U1t.transpose()), Rcpp::Named("U2i") = MatrixXd(cur.U2t.transpose()),
      Rcpp::Named("singular_pairs") = cur.singular_pairs, Rcpp::Named("patterns") = static_cast<int>(pats.size()));
}
