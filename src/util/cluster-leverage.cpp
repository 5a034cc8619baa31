// The clusters' leverages and adjustments of the bias-reduced cluster-robust
// covariances (score_cluster_sandwich(), R/vcov-robust-scores.R) in one
// pass over the clusters. In R the same steps made about ten P x P x G
// temporaries and two rounds of small eigen decompositions through R
// arrays; here each cluster's matrices live in fixed workspaces, and the
// decompositions of these small matrices (P is the number of free
// parameters, rarely above ten) are by cyclic Jacobi rotations, which
// allocate nothing and are accurate to a few units of rounding relative
// to the matrix's norm (Golub and Van Loan, Matrix Computations, 4th ed.,
// section 8.5).
//
// With H_i the clusters' informations (k x k) and M (k x P) the map into
// whitened coordinates, the steps are those documented in R:
//   W_i = M' H_i M (symmetrized), P_i its positive semi-definite part,
//   T = sum_i P_i, L_i = T^(-1/2) P_i T^(-1/2) (eigenvalues clamped to
//   [0, 1]), adj_i = (I - L_i)^(-power), and each whitened score row u_i
//   becomes T^(1/2) adj_i T^(-1/2) u_i.
#include <Rcpp.h>
#include <algorithm>
#include <cmath>
#include <vector>
#include "entry/entry-util.h"

namespace {

// Eigen decomposition of the symmetric n x n matrix `a` (column-major,
// both triangles; overwritten): eigenvalues in `values` (unordered),
// eigenvectors in the columns of `vectors`. False where `a` is not finite.
bool jacobi_eigen(double* a, int n, double* values, double* vectors) {
  double norm2 = 0.0;
  for (int t = 0; t < n * n; ++t) {
    if (!std::isfinite(a[t])) return false;
    norm2 += a[t] * a[t];
  }
  std::fill(vectors, vectors + n * n, 0.0);
  for (int j = 0; j < n; ++j) vectors[j + j * n] = 1.0;
  const double tol2 = 1e-30 * norm2;  // off-diagonal norm below 1e-15 of the whole
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off2 = 0.0;
    for (int q = 1; q < n; ++q)
      for (int p = 0; p < q; ++p) off2 += a[p + q * n] * a[p + q * n];
    if (2 * off2 <= tol2) break;
    for (int q = 1; q < n; ++q) {
      double* aq = a + q * n;
      double* vq = vectors + q * n;
      for (int p = 0; p < q; ++p) {
        double* ap = a + p * n;
        const double apq = aq[p];
        if (apq == 0.0) continue;
        // the rotation that zeroes a_pq: t = tan(theta), the smaller root of
        // t^2 + 2 tau t - 1 = 0; then a_pp - t a_pq and a_qq + t a_pq are
        // the new diagonal entries
        const double tau = (aq[q] - ap[p]) / (2.0 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1.0 + tau * tau));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = t * c;
        ap[p] -= t * apq;
        aq[q] += t * apq;
        aq[p] = ap[q] = 0.0;
        for (int k = 0; k < n; ++k) {  // rows and columns p, q: J' A J
          if (k == p || k == q) continue;
          const double akp = ap[k], akq = aq[k];
          ap[k] = a[p + k * n] = c * akp - s * akq;
          aq[k] = a[q + k * n] = s * akp + c * akq;
        }
        double* vp = vectors + p * n;
        for (int k = 0; k < n; ++k) {  // V J
          const double vkp = vp[k], vkq = vq[k];
          vp[k] = c * vkp - s * vkq;
          vq[k] = s * vkp + c * vkq;
        }
      }
    }
  }
  for (int j = 0; j < n; ++j) values[j] = a[j + j * n];
  return true;
}

// out = V diag(f) V' (n x n, column-major).
void apply_spectrum(const double* V, const double* f, int n, double* out) {
  for (int j = 0; j < n; ++j)
    for (int i = j; i < n; ++i) {
      double s = 0.0;
      for (int k = 0; k < n; ++k) s += V[i + k * n] * f[k] * V[j + k * n];
      out[i + j * n] = out[j + i * n] = s;
    }
}

}  // namespace

namespace glmmgee_exports {

// `H` a k x k x G array (vector with dim), `M` k x P, `U` G x P, `power`
// the adjustment's exponent (1/2 for CR2, 1 for CR3, 0 for none). Returns
// list(L, adj (P x P x G arrays), U (adjusted rows), Th, Tih (T^(1/2),
// T^(-1/2)), finite (false where a W_i is not finite), one (the 1-based
// first cluster with a leverage of 1 when power > 0, else 0)).
Rcpp::List cluster_leverage(Rcpp::NumericVector H, Rcpp::NumericMatrix M, Rcpp::NumericMatrix U,
                            double power) {
  const int k = M.nrow(), P = M.ncol();
  const R_xlen_t G = U.nrow();
  if (k < 1 || P < 1) Rcpp::stop("cluster_leverage(): 'M' must have at least one row and column");
  if (U.ncol() != P) Rcpp::stop("cluster_leverage(): 'U' must have ncol(M) columns");
  const R_xlen_t kk = static_cast<R_xlen_t>(k) * k, PP = static_cast<R_xlen_t>(P) * P;
  if (H.size() != kk * G)
    Rcpp::stop("cluster_leverage(): 'H' must hold one nrow(M) x nrow(M) slice per row of 'U'");
  if (!(power >= 0) || !std::isfinite(power))
    Rcpp::stop("cluster_leverage(): 'power' must be finite and non-negative");
  const double* m = M.begin();
  const double* u = U.begin();
  Rcpp::NumericVector L(PP * G), adj(PP * G);
  Rcpp::NumericMatrix Uout(G, P);
  std::vector<double> HM(static_cast<size_t>(k) * P), W(PP), V(PP), B(PP), C(PP), Q(PP), f(P),
      v(P), w(P);
  // pass 1: each W_i's positive part P_i = B_i B_i' (B_i = its eigenvectors
  // of positive eigenvalue times their roots, r_i columns, kept in adj's
  // slot until pass 2), and T = sum P_i
  std::vector<int> rank(G);
  std::vector<double> T(PP, 0.0);
  bool finite = true;
  for (R_xlen_t g = 0; g < G && finite; ++g) {
    if ((g & 1023) == 1023) Rcpp::checkUserInterrupt();
    const double* h = H.begin() + g * kk;
    for (int j = 0; j < P; ++j)  // H_i M
      for (int i = 0; i < k; ++i) {
        double s = 0.0;
        for (int l = 0; l < k; ++l) s += h[i + l * k] * m[l + j * k];
        HM[i + j * k] = s;
      }
    for (int j = 0; j < P; ++j)  // M' (H_i M), symmetrized
      for (int i = 0; i <= j; ++i) {
        double s1 = 0.0, s2 = 0.0;
        for (int l = 0; l < k; ++l) {
          s1 += m[l + i * k] * HM[l + j * k];
          s2 += m[l + j * k] * HM[l + i * k];
        }
        W[i + j * P] = W[j + i * P] = (s1 + s2) / 2.0;
      }
    if (!jacobi_eigen(W.data(), P, f.data(), V.data())) {
      finite = false;
      break;
    }
    double* Bg = adj.begin() + g * PP;
    int r = 0;
    for (int j = 0; j < P; ++j) {
      if (!(f[j] > 0)) continue;
      const double root = std::sqrt(f[j]);
      for (int i = 0; i < P; ++i) Bg[i + r * P] = V[i + j * P] * root;
      ++r;
    }
    rank[g] = r;
    for (int j = 0; j < P; ++j)
      for (int i = j; i < P; ++i) {
        double s = 0.0;
        for (int l = 0; l < r; ++l) s += Bg[i + l * P] * Bg[j + l * P];
        T[i + j * P] += s;
        if (i != j) T[j + i * P] += s;
      }
  }
  Rcpp::NumericMatrix Th(P, P), Tih(P, P);
  int one = 0;
  if (finite) finite = jacobi_eigen(T.data(), P, f.data(), V.data());
  if (finite) {
    for (int j = 0; j < P; ++j) v[j] = std::sqrt(f[j]);
    apply_spectrum(V.data(), v.data(), P, Th.begin());
    for (int j = 0; j < P; ++j) v[j] = 1.0 / std::sqrt(f[j]);
    apply_spectrum(V.data(), v.data(), P, Tih.begin());
    const double* th = Th.begin();
    const double* tih = Tih.begin();
    // pass 2: L_i = E E' with E = T^(-1/2) B_i (P x r). Its nonzero
    // eigenvalues mu are those of the r x r E'E = Q diag(mu) Q', and
    // (I - L_i)^(-power) = I + F diag(g(mu)) F' with F = E Q and
    // g(mu) = ((1 - mu)^(-power) - 1) / mu (power at mu = 0): one
    // decomposition of r x r, r the number of the cluster's directions of
    // positive curvature.
    for (R_xlen_t g = 0; g < G; ++g) {
      if ((g & 1023) == 1023) Rcpp::checkUserInterrupt();
      double* Lg = L.begin() + g * PP;
      double* Ag = adj.begin() + g * PP;
      const int r = rank[g];
      for (int j = 0; j < r; ++j)  // E = T^(-1/2) B_i
        for (int i = 0; i < P; ++i) {
          double s = 0.0;
          for (int l = 0; l < P; ++l) s += tih[i + l * P] * Ag[l + j * P];
          B[i + j * P] = s;
        }
      for (int j = 0; j < r; ++j)  // E'E
        for (int i = 0; i <= j; ++i) {
          double s = 0.0;
          for (int l = 0; l < P; ++l) s += B[l + i * P] * B[l + j * P];
          C[i + j * r] = C[j + i * r] = s;
        }
      for (int j = 0; j < P; ++j)  // L_i = E E'
        for (int i = j; i < P; ++i) {
          double s = 0.0;
          for (int l = 0; l < r; ++l) s += B[i + l * P] * B[j + l * P];
          Lg[i + j * P] = Lg[j + i * P] = s;
        }
      if (r > 0) jacobi_eigen(C.data(), r, f.data(), Q.data());
      double lmax = 0.0;
      for (int j = 0; j < r; ++j) {
        const double mu = std::min(std::max(f[j], 0.0), 1.0);
        lmax = std::max(lmax, mu);
        f[j] = mu > 1e-300 ? std::expm1(-power * std::log1p(-mu)) / mu : power;
      }
      if (power > 0 && one == 0 && lmax >= 1 - 1e-8) one = static_cast<int>(g) + 1;
      for (int j = 0; j < r; ++j)  // F = E Q
        for (int i = 0; i < P; ++i) {
          double s = 0.0;
          for (int l = 0; l < r; ++l) s += B[i + l * P] * Q[l + j * r];
          C[i + j * P] = s;
        }
      for (int j = 0; j < P; ++j)  // I + F diag(g) F'
        for (int i = j; i < P; ++i) {
          double s = i == j ? 1.0 : 0.0;
          for (int l = 0; l < r; ++l) s += C[i + l * P] * f[l] * C[j + l * P];
          Ag[i + j * P] = Ag[j + i * P] = s;
        }
      // T^(1/2) adj_i T^(-1/2) u_i
      for (int i = 0; i < P; ++i) {
        double s = 0.0;
        for (int l = 0; l < P; ++l) s += tih[i + l * P] * u[g + l * G];
        v[i] = s;
      }
      for (int i = 0; i < P; ++i) {
        double s = 0.0;
        for (int l = 0; l < P; ++l) s += Ag[i + l * P] * v[l];
        w[i] = s;
      }
      for (int i = 0; i < P; ++i) {
        double s = 0.0;
        for (int l = 0; l < P; ++l) s += th[i + l * P] * w[l];
        Uout[g + i * G] = s;
      }
    }
  }
  const Rcpp::IntegerVector dims = Rcpp::IntegerVector::create(P, P, static_cast<int>(G));
  L.attr("dim") = dims;
  adj.attr("dim") = Rcpp::clone(dims);
  return Rcpp::List::create(Rcpp::Named("L") = L, Rcpp::Named("adj") = adj,
                            Rcpp::Named("U") = Uout, Rcpp::Named("Th") = Th,
                            Rcpp::Named("Tih") = Tih, Rcpp::Named("finite") = finite,
                            Rcpp::Named("one") = one);
}

}  // namespace glmmgee_exports
