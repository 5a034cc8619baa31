// The passes over the clusters that the one-factor engines share (AgqEngine
// in agq.cpp, TwoPartEngine in agq-zero-re.cpp): an evaluation's blocked,
// order-independent sums, the per-cluster summaries, and the pieces of one
// cluster's quadrature that do not depend on the model. Each engine keeps its
// own cluster(); these templates only call it.
//
// Both passes run on the region scaffold (util/parallel.h): the scratch of
// every thread is allocated by the caller before the region, an exception
// thrown by a cluster is kept and thrown again after the region, and an
// interrupt stops the pass.
#ifndef GLMMGEE_AGQ_CLUSTERS_H
#define GLMMGEE_AGQ_CLUSTERS_H

#include <RcppEigen.h>
#include <algorithm>
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <vector>
#include "engines/agq/agq.h"
#include "util/dd-sum.h"
#include "util/parallel.h"
#include "util/resources.h"

namespace glmmgee {

// Clusters per block of an evaluation's sums (and per chunk of a summaries
// pass).
constexpr int kClusterBlock = 64;

// Threads for a pass over M clusters: no more than blocks. A team with
// nothing to do spins in the OpenMP runtime (10 times the CPU of a
// one-thread fit on 23 clusters).
inline int cluster_threads(int nthreads, int M) {
  const int nb = (M + kClusterBlock - 1) / kClusterBlock;
  return std::max(1, std::min(usable_threads(nthreads), nb));
}

inline int cluster_thread_id() { return thread_index(); }

// Throws, naming the size, when the scratch of nt threads, `doubles` each,
// for K points per random effect (q of them; `note` says which) over the
// largest cluster (nmax rows) would exceed the memory limit.
inline void check_quadrature_memory(double doubles, int nt, int K, int q, int nmax,
                                    const char* note) {
  check_memory(8.0 * nt * doubles,
               "adaptive quadrature with nAGQ = " + std::to_string(K) + " (" +
                   std::to_string(K) + "^" + std::to_string(q) + " points per cluster" + note +
                   ") over the largest cluster (" + std::to_string(nmax) + " rows) in " +
                   std::to_string(nt) + (nt == 1 ? " thread" : " threads"));
}

// One Work(args...) per thread, allocated before a parallel region; an
// allocation that fails is an error stating the `doubles` each needs.
template <class Work, class... Args>
std::vector<std::unique_ptr<Work> > thread_work(int nt, double doubles, const Args&... args) {
  std::vector<std::unique_ptr<Work> > work(nt);
  try {
    for (int t = 0; t < nt; ++t) work[t].reset(new Work(args...));
  } catch (std::bad_alloc&) {
    throw std::runtime_error("adaptive quadrature needs " + format_bytes(8.0 * nt * doubles) +
                             " of scratch memory, which could not be allocated");
  }
  return work;
}

// The marginal log-likelihood of M clusters and, with `gradient`, its P
// entries of gradient, on nt threads. cluster(i, tid, g, failed) returns
// cluster i's log-likelihood using thread tid's scratch, adds its gradient
// to g (P zeros on entry; nullptr without the gradient) and sets *failed
// when its mode search did not converge. Each cluster's contribution is
// added to a block's order-independent sum (dd-sum.h), and the blocks' sums
// to the total: the rounded result is the same for any number of threads
// and any grouping of the clusters into shards. With `scores` (M x P, and
// `gradient`), row i receives cluster i's own gradient: the per-cluster
// score contributions of a sandwich covariance.
template <class Cluster>
AgqResult sum_over_clusters(int M, int P, int nt, bool gradient, const Cluster& cluster,
                            Eigen::MatrixXd* scores = nullptr) {
  const int B = kClusterBlock, nb = (M + B - 1) / B;
  std::vector<DDSum> bll(nb);
  std::vector<DDVec> bg(gradient ? nb : 0);
  std::vector<int> bfail(nb, 0);
  // One cluster's gradient, per thread (padded: one cache line apart).
  Eigen::MatrixXd gl = Eigen::MatrixXd::Zero(P + 8, nt);
  InterruptPoll ip;
  parallel_for(nb, nt, 1, ip, [&](long bl) {
      const int b = (int)bl;
      const int tid = cluster_thread_id();
      DDSum s;
      DDVec g(gradient ? P : 0);
      int nf = 0;
      const int hi = std::min(M, (b + 1) * B);
      double* gc = gl.col(tid).data();
      for (int i = b * B; i < hi; ++i) {
        bool failed = false;
        if (gradient) std::fill(gc, gc + P, 0.0);
        s.add(cluster(i, tid, gradient ? gc : nullptr, &failed));
        if (gradient) g.add(gc, P);
        if (scores) scores->row(i) = Eigen::Map<const Eigen::RowVectorXd>(gc, P);
        if (failed) ++nf;
      }
      bll[b] = s;
      bfail[b] = nf;
      if (gradient) bg[b] = std::move(g);
  });
  AgqResult res;
  DDSum tot;
  for (int b = 0; b < nb; ++b) {
    tot.add(bll[b]);
    res.newton_failures += bfail[b];
  }
  res.loglik = tot.value();
  res.loglik_hi = tot.hi;
  res.loglik_lo = tot.lo;
  if (gradient) {
    DDVec gt(P);
    for (int b = 0; b < nb; ++b) gt.add(bg[b]);
    res.gradient.resize(P);
    res.gradient_hi.resize(P);
    res.gradient_lo.resize(P);
    for (int k = 0; k < P; ++k) {
      res.gradient[k] = gt.hi[k] + gt.lo[k];
      res.gradient_hi[k] = gt.hi[k];
      res.gradient_lo[k] = gt.lo[k];
    }
  }
  return res;
}

// Each of M clusters' summaries (q random effects) on nt threads:
// cluster(i, tid, out, failed) stores row i of *out (store_cluster_summary())
// and sets *failed when its mode search did not converge.
template <class Cluster>
AgqSummaries summaries_over_clusters(int M, int q, int nt, const Cluster& cluster) {
  AgqSummaries out;
  out.allocate(M, q);
  std::vector<int> fail(M, 0);
  InterruptPoll ip;
  parallel_for(M, nt, kClusterBlock, ip, [&](long i) {
    bool failed = false;
    cluster((int)i, cluster_thread_id(), &out, &failed);
    fail[i] = failed;
  });
  for (int i = 0; i < M; ++i) out.newton_failures += fail[i];
  return out;
}

// The normalized weights pi_k = exp(lw_k - amax) / sum of the Q nodes, with
// amax the largest lw_k; returns log sum_k exp(lw_k).
inline double node_weights(const Eigen::VectorXd& lw, long Q, double amax, Eigen::VectorXd& pi) {
  double ssum = 0.0;
  for (long k = 0; k < Q; ++k) {
    pi[k] = std::exp(lw[k] - amax);
    ssum += pi[k];
  }
  pi.head(Q) /= ssum;
  return amax + std::log(ssum);
}

// Row i of the summaries: the mode u, H^{-1} from H's factor, the posterior
// mean and variance of u under the rule (nodes in the rows of `nodes`,
// weights pi; Laplace: H^{-1} as the variance) and the log-likelihood ll.
inline void store_cluster_summary(int i, const Eigen::VectorXd& u,
                                  const Eigen::LLT<Eigen::MatrixXd>& llt,
                                  const Eigen::MatrixXd& nodes, const Eigen::VectorXd& pi,
                                  bool laplace, double ll, AgqSummaries& out) {
  const int q = (int)u.size();
  const long Q = nodes.rows();
  out.mode.row(i) = u.transpose();
  const Eigen::MatrixXd Hinv = llt.solve(Eigen::MatrixXd::Identity(q, q));
  out.mode_var.row(i) = Eigen::Map<const Eigen::VectorXd>(Hinv.data(), q * q).transpose();
  Eigen::VectorXd ubar(q);
  ubar.noalias() = nodes.transpose() * pi;
  Eigen::MatrixXd V = Eigen::MatrixXd::Zero(q, q);
  for (long k = 0; k < Q; ++k)
    for (int a = 0; a < q; ++a)
      for (int b = 0; b < q; ++b)
        V(a, b) += pi[k] * (nodes(k, a) - ubar[a]) * (nodes(k, b) - ubar[b]);
  if (laplace) V = Hinv;  // the Gaussian approximation's variance
  out.post_mean.row(i) = ubar.transpose();
  out.post_var.row(i) = Eigen::Map<const Eigen::VectorXd>(V.data(), q * q).transpose();
  out.loglik[i] = ll;
}

}  // namespace glmmgee
#endif
