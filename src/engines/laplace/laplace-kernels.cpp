// The loops of the sparse Laplace engine that are linear in the number of
// observations (or of entries of H), in fixed chunks that a team of OpenMP
// threads shares (chunked.h): the linear predictor eta0 + A u, the family
// derivatives, A' v and Z' v (gathered column by column), and the values of
// H = A' W A + I. Sums over chunks are added in chunk order and sums within
// an entry in observation order, so the results do not depend on the number
// of threads. The sparse Cholesky factorization and the selected inverse
// stay serial. Eigen's own sparse-dense products are not used here: for a
// row-major operand they start an OpenMP team of their own (omp_get_max_threads()
// threads), outside the thread setting of glmm_control().
#include "engines/laplace/laplace.h"
#include "util/chunked.h"
#include <cmath>

namespace glmmgee {

namespace {
const long kObsChunk = 4096;   // observations per chunk
const long kColChunk = 256;    // columns of A or Z per chunk
const long kEntryChunk = 2048; // entries of H per chunk
}  // namespace

void SparseLaplace::set_threads(int nthreads) {
  nthreads_ = usable_threads(nthreads);
  if (nthreads_ > 1 && hg_start_.empty()) build_gather();
}

// For several threads: the pairs of each entry of H, in observation order.
void SparseLaplace::build_gather() {
  const long npairs = (long)pair_h_.size();
  check_memory(12.0 * (double)npairs + 8.0 * (double)H_.nonZeros(),
               "the entry-by-entry assembly of H for several threads");
  hg_start_.assign(H_.nonZeros() + 1, 0);
  for (long pp = 0; pp < npairs; ++pp) ++hg_start_[pair_h_[pp] + 1];
  for (long e = 0; e < H_.nonZeros(); ++e) hg_start_[e + 1] += hg_start_[e];
  hg_pair_.resize(npairs);
  std::vector<long> next(hg_start_.begin(), hg_start_.end() - 1);
  for (long pp = 0; pp < npairs; ++pp) hg_pair_[next[pair_h_[pp]]++] = (int)pp;
  pair_prod_.assign(npairs, 0.0);
}

void SparseLaplace::eta_of(const Eigen::VectorXd& eta0, const Eigen::VectorXd& u,
                           Eigen::VectorXd& eta) const {
  eta.resize(n_);
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  run_chunks(n_, kObsChunk, nthreads_, [&](long, long b, long e) {
    for (long i = b; i < e; ++i) {
      double s = 0.0;
      for (int a = Ao[i]; a < Ao[i + 1]; ++a) s += Av[a] * u[Ai[a]];
      eta[i] = eta0[i] + s;
    }
  });
}

void SparseLaplace::At_times(const Eigen::VectorXd& v, Eigen::VectorXd& out) const {
  out.resize(Q_);
  const double* Av = A_.valuePtr();
  run_chunks(Q_, kColChunk, nthreads_, [&](long, long b, long e) {
    for (long c = b; c < e; ++c) {
      double s = 0.0;
      for (long k = acol_start_[c]; k < acol_start_[c + 1]; ++k) s += Av[acol_pos_[k]] * v[acol_row_[k]];
      out[c] = s;
    }
  });
}

void SparseLaplace::Zt_times(const Eigen::VectorXd& v, Eigen::VectorXd& out) const {
  out.resize(Q_);
  const int* Zo = Zc_.outerIndexPtr();
  const int* Zi = Zc_.innerIndexPtr();
  const double* Zv = Zc_.valuePtr();
  run_chunks(Q_, kColChunk, nthreads_, [&](long, long b, long e) {
    for (long c = b; c < e; ++c) {
      double s = 0.0;
      for (int k = Zo[c]; k < Zo[c + 1]; ++k) s += Zv[k] * v[Zi[k]];
      out[c] = s;
    }
  });
}

double SparseLaplace::obs_derivs(const Eigen::VectorXd& eta, double phi,
                                 std::vector<ObsDerivs>& d) const {
  d.resize(n_);
  std::vector<double> part(chunk_count(n_, kObsChunk), 0.0);
  run_chunks(n_, kObsChunk, nthreads_, [&](long c, long b, long e) {
    if (aux_) {
      const int na = aux_->naux();
      for (long i = b; i < e; ++i)
        d[i] = aux_->derivs(y_[i], wt_[i], eta[i], AV_.data() + i * na);
    } else {
      fam_->derivs_n(y_.data() + b, wt_.data() + b, eta.data() + b, (int)(e - b), phi,
                     d.data() + b);
    }
    double s = 0.0;
    for (long i = b; i < e; ++i) s += d[i].l;
    part[c] = s;
  });
  double s = 0.0;
  for (double x : part) s += x;
  return s;
}

void SparseLaplace::assemble_H(const Eigen::VectorXd& w) {
  double* Hv = H_.valuePtr();
  const int* Ao = A_.outerIndexPtr();
  const double* Av = A_.valuePtr();
  if (nthreads_ <= 1 || hg_start_.empty()) {
    std::fill(Hv, Hv + H_.nonZeros(), 0.0);
    for (int i = 0; i < n_; ++i) {
      const double wi = w[i];
      if (wi == 0.0) continue;
      long pp = pair_start_[i];
      for (int a = Ao[i]; a < Ao[i + 1]; ++a) {
        const double wa = wi * Av[a];
        for (int b = a; b < Ao[i + 1]; ++b) Hv[pair_h_[pp++]] += wa * Av[b];
      }
    }
  } else {
    // The same products as the serial scatter above, then each entry's sum
    // in the same (observation) order: identical values.
    run_chunks(n_, kObsChunk, nthreads_, [&](long, long b0, long e0) {
      for (long i = b0; i < e0; ++i) {
        const double wi = w[i];
        long pp = pair_start_[i];
        for (int a = Ao[i]; a < Ao[i + 1]; ++a) {
          const double wa = wi * Av[a];
          for (int b = a; b < Ao[i + 1]; ++b) pair_prod_[pp++] = wi == 0.0 ? 0.0 : wa * Av[b];
        }
      }
    });
    const long nh = H_.nonZeros();
    run_chunks(nh, kEntryChunk, nthreads_, [&](long, long b0, long e0) {
      for (long e = b0; e < e0; ++e) {
        double s = 0.0;
        for (long k = hg_start_[e]; k < hg_start_[e + 1]; ++k) s += pair_prod_[hg_pair_[k]];
        Hv[e] = s;
      }
    });
  }
  for (int j = 0; j < Q_; ++j) Hv[diag_h_[j]] += 1.0;
}

}  // namespace glmmgee
