// Ordinal GEE with a local-odds-ratios association structure (Touloumis,
// Agresti and Kateri, 2013): the marginal cumulative link model
//   P(Y_it <= k) = F(theta_k - x_it'beta - o_it),
// fitted by Fisher scoring on the estimating equations
//   sum_i D_i' V_i^{-1} (y_i - pi_i) = 0,
// where y_i stacks the indicators of categories 1..J-1 at each of the
// cluster's times, pi_i their marginal probabilities and D_i = d pi_i / d psi.
// V_i is their full covariance: diag(pi_t) - pi_t pi_t' within a time, and
// P_ts - pi_t pi_s' between times t < s, where the joint table P_ts has the
// margins pi_t, pi_s (all J categories) and the local odds ratios of the
// pair's association table, found by iterative proportional fitting from
// that table. The association tables are estimated beforehand in R
// (gee-ordinal-assoc.R) and held fixed, as in multgee::ordLORgee.
#include <RcppEigen.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include "util/cluster-patterns.h"
#include "families/cum-link.h"
#include "util/resources.h"
#include "entry/entry-gee.h"

namespace glmmgee {
namespace {

struct OrdGeeData {
  const Eigen::Map<const Eigen::VectorXi>& y;      // categories 1..J, sorted by cluster, time
  const Eigen::Map<const Eigen::MatrixXd>& X;      // covariates, no intercept
  const Eigen::Map<const Eigen::VectorXd>& offset;
  const Eigen::Map<const Eigen::VectorXi>& starts; // cluster i: rows starts[i] .. starts[i+1]-1
  const Eigen::Map<const Eigen::VectorXi>& time;   // 0-based time index
  const Eigen::Map<const Eigen::MatrixXd>& tables; // J*J x pairs, column-major J x J tables
  const Eigen::Map<const Eigen::MatrixXi>& pair;   // T x T: column of `tables` for t < s
  // Clusters by covariate pattern (times, covariate rows, offsets): those of
  // one pattern share D_i and V_i, so D_i'V_i^-1 D_i and V_i^-1 D_i are
  // computed once per pattern and only y_i - pi_i per cluster.
  const ClusterPatterns& patterns;
  // For each pattern, its pairs of times j < l in order (0,1), (0,2), ...,
  // (1,2), ...: the index of a between-times block shared with other
  // patterns (same pair table, same covariate rows at both times, so the same
  // margins), or -1 for a block of this pattern alone.
  const std::vector<std::vector<int>>& pair_block;
  int nshared;
  int J;
  double ipf_tol;
  int ipf_maxit;
};

struct OrdGeeEval {
  Eigen::MatrixXd A, B;   // sum D'V^-1 D, sum u_i u_i'
  Eigen::VectorXd U;      // sum u_i
  bool valid = true;
  std::string problem;
  int ipf_unconverged = 0;
};

// Scales `tab` (J x J, positive, column-major) to row sums r and column
// sums c; returns false when the row sums still differ from r by more than
// tol. Works in place: it runs for every pair of a cluster's responses at
// every scoring evaluation. Each sweep takes two passes over the table (row
// scaling with the column sums, column scaling with the next row sums).
bool ipf_fit(Eigen::MatrixXd& tab, const Eigen::VectorXd& r, const Eigen::VectorXd& c, double tol,
             int maxit) {
  const int nr = tab.rows(), nc = tab.cols();
  double* t = tab.data();
  double small[64];
  std::vector<double> large(nr > 32 ? 2 * nr : 0);
  double* rs = nr > 32 ? large.data() : small;   // row sums
  double* rf = rs + nr;                          // row factors
  std::fill(rs, rs + nr, 0.0);
  for (int b = 0; b < nc; ++b)
    for (int a = 0; a < nr; ++a) rs[a] += t[a + b * nr];
  for (int it = 0; it < maxit; ++it) {
    for (int a = 0; a < nr; ++a) {
      rf[a] = rs[a] > 0 ? r[a] / rs[a] : 0.0;
      rs[a] = 0.0;
    }
    for (int b = 0; b < nc; ++b) {
      double cs = 0.0;
      for (int a = 0; a < nr; ++a) cs += (t[a + b * nr] *= rf[a]);
      const double f = cs > 0 ? c[b] / cs : 0.0;
      for (int a = 0; a < nr; ++a) rs[a] += (t[a + b * nr] *= f);
    }
    double dev = 0.0;
    for (int a = 0; a < nr; ++a) dev = std::max(dev, std::abs(rs[a] - r[a]));
    if (dev <= tol) return true;
  }
  return false;
}

OrdGeeEval ordgee_eval(const OrdGeeData& d, const CumLink& F, const Eigen::VectorXd& psi,
                       InterruptPoll& ip) {
  const int J = d.J, k1 = J - 1, p = d.X.cols(), q = k1 + p;
  OrdGeeEval out;
  out.A = Eigen::MatrixXd::Zero(q, q);
  out.B = Eigen::MatrixXd::Zero(q, q);
  out.U = Eigen::VectorXd::Zero(q);
  const Eigen::VectorXd theta = psi.head(k1), beta = psi.tail(p);
  // Shared between-times blocks, fitted by IPF on first use in this
  // evaluation.
  Eigen::MatrixXd shared(k1, static_cast<Eigen::Index>(k1) * d.nshared);
  std::vector<signed char> state(d.nshared, 0);   // 0 not yet, 1 converged, -1 not converged
  Eigen::MatrixXd tab(J, J), blk(k1, k1);
  for (std::size_t g = 0; g < d.patterns.size(); ++g) {
    const PatternSpan members = d.patterns[g];
    if (ip.poll()) break;
    const int i = members[0];
    const int s0 = d.starts[i], ni = d.starts[i + 1] - s0, m = ni * k1;
    Eigen::MatrixXd P(J, ni);           // category probabilities, all J
    Eigen::MatrixXd D = Eigen::MatrixXd::Zero(m, q);
    for (int j = 0; j < ni; ++j) {
      const int row = s0 + j;
      const double eta = (p ? d.X.row(row).dot(beta) : 0.0) + d.offset[row];
      double Fprev = 0.0, fprev = 0.0;
      for (int k = 0; k < J; ++k) {
        double Fk = 1.0, fk = 0.0;
        if (k < k1) {
          const double c = theta[k] - eta;
          Fk = std::exp(F.logF(c));
          fk = std::exp(F.logf(c));
        }
        P(k, j) = k == k1 ? std::exp(F.logS(theta[k1 - 1] - eta)) : Fk - Fprev;
        if (!(P(k, j) > 0)) {
          out.valid = false;
          out.problem = "a category probability is zero or negative";
          return out;
        }
        if (k < k1) {
          const int rr = j * k1 + k;
          D(rr, k) = fk;
          if (k > 0) D(rr, k - 1) = -fprev;
          for (int c = 0; c < p; ++c) D(rr, k1 + c) = -(fk - fprev) * d.X(row, c);
        }
        Fprev = Fk;
        fprev = fk;
      }
    }
    Eigen::MatrixXd V = Eigen::MatrixXd::Zero(m, m);
    const int nmem = members.size();
    int npair = 0;
    // ni (ni - 1) / 2 pairs, each an IPF fit unless shared: seconds for a
    // cluster of hundreds of rows, so the pairs poll too.
    for (int j = 0; j < ni; ++j) {
      if (ip.poll()) break;
      const Eigen::VectorXd pj = P.col(j).head(k1);
      V.block(j * k1, j * k1, k1, k1) = -pj * pj.transpose();
      V.block(j * k1, j * k1, k1, k1).diagonal() += pj;
      for (int l = j + 1; l < ni; ++l) {
        const int col = d.pair(d.time[s0 + j], d.time[s0 + l]);
        const int id = d.pair_block[g][npair++];
        if (id < 0 || state[id] == 0) {
          tab = Eigen::Map<const Eigen::MatrixXd>(d.tables.col(col).data(), J, J);
          const bool conv = ipf_fit(tab, P.col(j), P.col(l), d.ipf_tol, d.ipf_maxit);
          blk = tab.topLeftCorner(k1, k1) - pj * P.col(l).head(k1).transpose();
          if (id >= 0) {
            shared.middleCols(static_cast<Eigen::Index>(k1) * id, k1) = blk;
            state[id] = conv ? 1 : -1;
          } else if (!conv) {
            out.ipf_unconverged += nmem;
          }
        } else {
          blk = shared.middleCols(static_cast<Eigen::Index>(k1) * id, k1);
        }
        if (id >= 0 && state[id] < 0) out.ipf_unconverged += nmem;
        V.block(j * k1, l * k1, k1, k1) = blk;
        V.block(l * k1, j * k1, k1, k1) = blk.transpose();
      }
    }
    if (ip.interrupted()) break;
    Eigen::LLT<Eigen::MatrixXd> llt(V);
    if (llt.info() != Eigen::Success) {
      out.valid = false;
      out.problem = "the working covariance of cluster " + std::to_string(i + 1) +
                    " is not positive definite";
      return out;
    }
    const Eigen::MatrixXd W = llt.solve(D);      // V^-1 D
    out.A.noalias() += static_cast<double>(nmem) * (D.transpose() * W);
    Eigen::VectorXd r(m), u(q);
    for (const int c : members) {
      const int c0 = d.starts[c];
      for (int j = 0; j < ni; ++j)
        for (int k = 0; k < k1; ++k)
          r[j * k1 + k] = (d.y[c0 + j] == k + 1 ? 1.0 : 0.0) - P(k, j);
      u.noalias() = W.transpose() * r;
      out.U += u;
      out.B.noalias() += u * u.transpose();
    }
  }
  ip.raise_if_interrupted();
  return out;
}

bool ordered_thresholds(const Eigen::VectorXd& psi, int k1) {
  for (int k = 1; k < k1; ++k)
    if (!(psi[k] > psi[k - 1])) return false;
  return true;
}

}  // namespace
}  // namespace glmmgee

// Fisher scoring for the ordinal GEE with fixed association tables, from
// `start` (thresholds then coefficients); the naive variance A^-1 and the
// sandwich A^-1 B A^-1 at the root.
Rcpp::List glmmgee_exports::ordinal_gee_lor(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                               Eigen::Map<Eigen::VectorXd> offset, Eigen::Map<Eigen::VectorXi> starts,
                               Eigen::Map<Eigen::VectorXi> time, Eigen::Map<Eigen::MatrixXd> tables,
                               Eigen::Map<Eigen::MatrixXi> pair, int J, Eigen::Map<Eigen::VectorXd> start,
                               int link, int maxit, double tol, double ipf_tol, int ipf_maxit) {
  using namespace glmmgee;
  const int n = y.size(), p = X.cols(), k1 = J - 1, K = starts.size() - 1;
  if (J < 2) Rcpp::stop("ordinal GEE: at least two categories are needed");
  if (X.rows() != n || offset.size() != n || time.size() != n)
    Rcpp::stop("ordinal GEE: 'y', 'X', 'offset' and 'time' differ in length");
  if (K < 1 || starts[0] != 0 || starts[K] != n)
    Rcpp::stop("ordinal GEE: 'starts' must run from 0 to the number of observations");
  if (start.size() != k1 + p) Rcpp::stop("ordinal GEE: 'start' has the wrong length");
  if (tables.rows() != J * J) Rcpp::stop("ordinal GEE: association tables must have J*J rows");
  const int T = pair.rows();
  if (pair.cols() != T) Rcpp::stop("ordinal GEE: 'pair' must be square");
  for (int i = 0; i < K; ++i) {
    if (starts[i + 1] < starts[i]) Rcpp::stop("ordinal GEE: 'starts' must be increasing");
    for (int r = starts[i]; r < starts[i + 1]; ++r) {
      if (y[r] < 1 || y[r] > J) Rcpp::stop("ordinal GEE: categories must lie in 1..J");
      if (time[r] < 0 || time[r] >= T) Rcpp::stop("ordinal GEE: time index out of range");
      if (r > starts[i] && time[r] <= time[r - 1])
        Rcpp::stop("ordinal GEE: times must increase within a cluster");
      if (r > starts[i]) {
        const int c = pair(time[r - 1], time[r]);
        if (c < 0 || c >= tables.cols()) Rcpp::stop("ordinal GEE: no association table for a pair of times");
      }
    }
  }
  for (int a = 0; a < T; ++a)
    for (int b = a + 1; b < T; ++b)
      if (pair(a, b) < 0 || pair(a, b) >= tables.cols())
        Rcpp::stop("ordinal GEE: no association table for a pair of times");
  if (!X.allFinite() || !offset.allFinite())
    Rcpp::stop("ordinal GEE: 'X' and 'offset' must be finite");
  if (!(tables.array() > 0).all() || !tables.allFinite())
    Rcpp::stop("ordinal GEE: association tables must be positive and finite");
  std::unique_ptr<CumLink> F = make_cum_link(link);
  if (!F) Rcpp::stop("ordinal GEE: unknown link code");
  const Eigen::Map<const Eigen::VectorXi> cy(y.data(), n), cs(starts.data(), K + 1),
      ct(time.data(), n);
  const Eigen::Map<const Eigen::MatrixXd> cX(X.data(), n, p), ctab(tables.data(), J * J, tables.cols());
  const Eigen::Map<const Eigen::VectorXd> co(offset.data(), n);
  const Eigen::Map<const Eigen::MatrixXi> cp(pair.data(), T, T);
  // Clusters with the same times, covariate rows and offsets, in the order
  // of their first cluster.
  const ClusterPatterns patterns = cluster_patterns(K, [&](int i, std::vector<double>& key) {
    for (int r = starts[i]; r < starts[i + 1]; ++r) {
      key.push_back(time[r]);
      key.push_back(offset[r]);
      for (int c = 0; c < p; ++c) key.push_back(X(r, c));
    }
  });
  // Between-times blocks that several patterns share: the same pair table
  // and equal covariate rows and offsets at both times give equal margins,
  // hence the same IPF. Those used more than once get an index into the
  // evaluation's store; the others are fitted where they are used.
  std::vector<std::vector<int>> pair_block(patterns.size());
  int nshared = 0;
  {
    std::map<std::vector<double>, int> row_ids;
    std::vector<int> row_id(n);
    std::vector<double> key;
    for (int r = 0; r < n; ++r) {
      key.assign(1, offset[r]);
      for (int c = 0; c < p; ++c) key.push_back(X(r, c));
      row_id[r] = row_ids.emplace(key, static_cast<int>(row_ids.size())).first->second;
    }
    std::map<std::array<int, 3>, int> block_ids;
    std::vector<int> uses;
    // ni (ni - 1) / 2 map insertions per pattern (125,000 for 500 rows):
    // seconds over a few dozen large clusters, so each pattern polls.
    InterruptPoll setup_ip;
    for (std::size_t g = 0; g < patterns.size(); ++g) {
      if (setup_ip.poll()) setup_ip.raise_if_interrupted();
      const int s0 = starts[patterns[g][0]], ni = starts[patterns[g][0] + 1] - s0;
      for (int j = 0; j < ni; ++j)
        for (int l = j + 1; l < ni; ++l) {
          const std::array<int, 3> bk{pair(time[s0 + j], time[s0 + l]), row_id[s0 + j], row_id[s0 + l]};
          auto it = block_ids.emplace(bk, static_cast<int>(uses.size())).first;
          if (it->second == static_cast<int>(uses.size())) uses.push_back(0);
          ++uses[it->second];
          pair_block[g].push_back(it->second);
        }
    }
    std::vector<int> index(uses.size(), -1);
    for (std::size_t b = 0; b < uses.size(); ++b)
      if (uses[b] > 1) index[b] = nshared++;
    for (std::vector<int>& pb : pair_block)
      for (int& b : pb) b = index[b];
  }
  OrdGeeData d{cy, cX, co, cs, ct, ctab, cp, patterns, pair_block, nshared, J, ipf_tol, ipf_maxit};
  InterruptPoll ip;
  Eigen::VectorXd psi = start;
  if (!ordered_thresholds(psi, k1)) Rcpp::stop("ordinal GEE: starting thresholds are not increasing");
  OrdGeeEval ev = ordgee_eval(d, *F, psi, ip);
  if (!ev.valid) Rcpp::stop("ordinal GEE: at the starting values " + ev.problem);
  bool converged = false;
  int iter = 0, halvings = 0;
  double crit = NA_REAL;
  std::string problem;
  for (iter = 1; iter <= maxit; ++iter) {
    Eigen::LDLT<Eigen::MatrixXd> ldlt(ev.A);
    if (ldlt.info() != Eigen::Success) {
      problem = "the information matrix D'V^-1 D is singular";
      break;
    }
    Eigen::VectorXd step = ldlt.solve(ev.U);
    if (!step.allFinite()) {
      problem = "the scoring step is not finite";
      break;
    }
    crit = (step.array().abs() / (1.0 + psi.array().abs())).maxCoeff();
    OrdGeeEval ev_new;
    Eigen::VectorXd psi_new;
    bool ok = false;
    for (int h = 0; h < 30; ++h) {
      psi_new = psi + step;
      if (ordered_thresholds(psi_new, k1)) {
        ev_new = ordgee_eval(d, *F, psi_new, ip);
        if (ev_new.valid) {
          ok = true;
          break;
        }
      }
      step *= 0.5;
      ++halvings;
    }
    if (!ok) {
      problem = "no step keeps the thresholds ordered and the probabilities positive";
      break;
    }
    psi = psi_new;
    ev = ev_new;
    if (crit <= tol) {
      converged = true;
      break;
    }
  }
  if (iter > maxit) iter = maxit;
  const int q = k1 + p;
  Eigen::MatrixXd naive = Eigen::MatrixXd::Constant(q, q, NA_REAL), robust = naive;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(ev.A);
  if (ldlt.info() == Eigen::Success && ldlt.isPositive()) {
    naive = ldlt.solve(Eigen::MatrixXd::Identity(q, q));
    robust = naive * ev.B * naive;
  } else if (problem.empty()) {
    problem = "the information matrix D'V^-1 D is singular";
  }
  return Rcpp::List::create(
      Rcpp::Named("psi") = psi, Rcpp::Named("naive") = naive, Rcpp::Named("robust") = robust,
      Rcpp::Named("score") = ev.U.cwiseAbs().maxCoeff(), Rcpp::Named("iterations") = iter,
      Rcpp::Named("converged") = converged, Rcpp::Named("criterion") = crit,
      Rcpp::Named("halvings") = halvings, Rcpp::Named("ipf_unconverged") = ev.ipf_unconverged,
      Rcpp::Named("problem") = problem);
}

// Fitted counts of the association model's tables for the profile
// likelihood (gee-ordinal-assoc.R): column k of `logtab` (J*J, a J x J
// table by columns) holds the log association table of pair k, column k of
// `counts` its observed counts; the result is exp(logtab) scaled by IPF to
// the observed margins (as proportions, to `tol`) times the pair's total.
Rcpp::NumericMatrix glmmgee_exports::ipf_tables(Eigen::Map<Eigen::MatrixXd> logtab, Eigen::Map<Eigen::MatrixXd> counts,
                                   int J, double tol, int maxit) {
  if (J < 2 || logtab.rows() != J * J || counts.rows() != J * J || logtab.cols() != counts.cols())
    Rcpp::stop("ipf: 'logtab' and 'counts' must both be J*J x pairs");
  const int npairs = counts.cols();
  Rcpp::NumericMatrix out(J * J, npairs);
  Eigen::MatrixXd tab(J, J);
  Eigen::VectorXd r(J), c(J);
  for (int k = 0; k < npairs; ++k) {
    const Eigen::Map<const Eigen::MatrixXd> n(counts.col(k).data(), J, J);
    const double N = n.sum();
    if (!(N > 0)) continue;
    const double top = logtab.col(k).maxCoeff();
    for (int e = 0; e < J * J; ++e) tab.data()[e] = std::exp(logtab(e, k) - top);
    r = n.rowwise().sum() / N;
    c = n.colwise().sum().transpose() / N;
    glmmgee::ipf_fit(tab, r, c, tol, maxit);
    for (int e = 0; e < J * J; ++e) out(e, k) = tab.data()[e] * N;
  }
  return out;
}
