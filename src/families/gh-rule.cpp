// Gauss-Hermite rules by the Golub-Welsch method: the nodes are the
// eigenvalues of the symmetric tridiagonal Jacobi matrix of the probabilists'
// Hermite polynomials (off-diagonal sqrt(k)); the weights, which equal the
// squared first components of the normalized eigenvectors, are computed from
// the equivalent Christoffel-function formula for full relative accuracy.
// Golub & Welsch (1969), Math. Comp. 23, 221-230.
#include "families/gh-rule.h"
#include "util/resources.h"
#include <cmath>
#include <map>
#include <mutex>

namespace glmmgee {

static GhRule compute_rule(int K) {
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(K, K);
  for (int k = 1; k < K; ++k) J(k, k - 1) = J(k - 1, k) = std::sqrt((double)k);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J);
  Eigen::VectorXd z = es.eigenvalues();
  // Weights from the Christoffel function, w_k = 1 / sum_j p_j(z_k)^2 with
  // the orthonormal Hermite polynomials p_j, rather than as squared
  // eigenvector components: those carry only absolute accuracy, so the tail
  // weights of large rules lost up to 1e-6 of relative accuracy (K = 30).
  Eigen::VectorXd w(K);
  for (int k = 0; k < K; ++k) {
    double pm = 0.0, p = 1.0, s = 1.0;
    for (int j = 1; j < K; ++j) {
      const double pn = (z[k] * p - std::sqrt((double)(j - 1)) * pm) / std::sqrt((double)j);
      pm = p;
      p = pn;
      s += p * p;
    }
    w[k] = 1.0 / s;
  }
  // Symmetrize: the rule is exactly symmetric, the eigensolver only nearly.
  GhRule r;
  r.z.resize(K);
  r.logw.resize(K);
  for (int k = 0; k < K; ++k) {
    r.z[k] = 0.5 * (z[k] - z[K - 1 - k]);
    r.logw[k] = std::log(0.5 * (w[k] + w[K - 1 - k]));
  }
  if (K % 2 == 1) r.z[K / 2] = 0.0;
  const double lsum = std::log(r.logw.array().exp().sum());
  r.logw.array() -= lsum;
  return r;
}

GhRule gh_rule(int K) {
  static std::map<int, GhRule> cache;
  static std::mutex mtx;
  std::lock_guard<std::mutex> lock(mtx);
  auto it = cache.find(K);
  if (it != cache.end()) return it->second;
  GhRule r = compute_rule(K);
  cache[K] = r;
  return r;
}

GhGrid gh_grid(int K, int q) {
  const double Qd = std::pow((double)K, (double)q);
  check_memory(8.0 * Qd * (q + 2.0), "the quadrature grid of nAGQ^q = " + std::to_string(K) +
                                         "^" + std::to_string(q) + " points");
  const GhRule r = gh_rule(K);
  long Q = 1;
  for (int d = 0; d < q; ++d) Q *= K;
  GhGrid g;
  g.z.resize(Q, q);
  g.logw.resize(Q);
  g.logw_ad.resize(Q);
  for (long k = 0; k < Q; ++k) {
    long rem = k;
    double lw = 0.0, ss = 0.0;
    for (int d = 0; d < q; ++d) {
      const int idx = (int)(rem % K);
      rem /= K;
      g.z(k, d) = r.z[idx];
      lw += r.logw[idx];
      ss += r.z[idx] * r.z[idx];
    }
    g.logw[k] = lw;
    g.logw_ad[k] = lw + 0.5 * ss;
  }
  return g;
}

}  // namespace glmmgee
