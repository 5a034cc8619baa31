// Dense kernels of the known-covariance Laplace engine (known-laplace.h).
#include "known-laplace.h"
#include "resources.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

namespace {
// Rows per chunk: large enough for blocked products, small enough that the
// per-thread scratch (chunk x r) stays a small multiple of the factor.
const Eigen::Index kChunk = 1024;
// Partial sums of L'WL: fixed, so the summation order is the same for any
// number of threads; memory is kParts r^2.
const int kParts = 2;
}  // namespace

Eigen::MatrixXd kl_weighted_crossprod(const Eigen::Map<const Eigen::MatrixXd>& L,
                                      const Eigen::Map<const Eigen::VectorXd>& w, int threads) {
  const Eigen::Index n = L.rows(), r = L.cols();
  const Eigen::Index nchunk = (n + kChunk - 1) / kChunk;
  const int nt = std::min(usable_threads(threads), kParts);
  check_memory(8.0 * ((double)kParts * r * r + (double)kParts * kChunk * r),
               "the weighted cross-product of the covariance factor");
  std::vector<Eigen::MatrixXd> part(kParts, Eigen::MatrixXd::Zero(r, r));
  RegionGuard guard;
  InterruptPoll ip;
#pragma omp parallel for schedule(static, 1) num_threads(nt)
  for (int k = 0; k < kParts; ++k) {
    guard.run([&] {
      Eigen::MatrixXd Lw;
      for (Eigen::Index c = k; c < nchunk; c += kParts) {
        if (guard.failed() || ip.poll()) return;
        const Eigen::Index lo = c * kChunk, m = std::min(kChunk, n - lo);
        Lw = L.middleRows(lo, m);
        for (Eigen::Index i = 0; i < m; ++i) Lw.row(i) *= std::sqrt(std::max(w[lo + i], 0.0));
        part[k].selfadjointView<Eigen::Lower>().rankUpdate(Lw.transpose());
      }
    });
  }
  guard.rethrow();
  ip.raise_if_interrupted();
  Eigen::MatrixXd A = part[0];
  for (int k = 1; k < kParts; ++k) A += part[k];
  return A.selfadjointView<Eigen::Lower>();
}

Eigen::VectorXd kl_leverages(const Eigen::Map<const Eigen::MatrixXd>& L,
                             const Eigen::MatrixXd& U, int threads, double* trace_inv) {
  const Eigen::Index n = L.rows(), r = L.cols();
  const Eigen::Index nchunk = (n + kChunk - 1) / kChunk;
  const int nt = usable_threads(threads);
  check_memory(8.0 * ((double)r * r + (double)nt * kChunk * r),
               "the leverages of the covariance factor");
  Eigen::MatrixXd Uinv = Eigen::MatrixXd::Identity(r, r);
  U.triangularView<Eigen::Upper>().solveInPlace(Uinv);
  *trace_inv = Uinv.squaredNorm();
  Eigen::VectorXd lev(n);
  RegionGuard guard;
  InterruptPoll ip;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (Eigen::Index c = 0; c < nchunk; ++c) {
    if (guard.failed() || ip.poll()) continue;
    guard.run([&] {
      const Eigen::Index lo = c * kChunk, m = std::min(kChunk, n - lo);
      Eigen::MatrixXd T = L.middleRows(lo, m) * Uinv.triangularView<Eigen::Upper>();
      lev.segment(lo, m) = T.rowwise().squaredNorm();
    });
  }
  guard.rethrow();
  ip.raise_if_interrupted();
  return lev;
}

}  // namespace glmmgee
