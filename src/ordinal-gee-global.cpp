// Ordinal GEE with global odds ratios (Heagerty and Zeger, 1996): the
// per-cluster sums of the two sets of estimating equations at given
// marginal probabilities and log odds ratios (R/gee-ordinal-global.R holds
// the model, the iterations and the sandwich). For the cut-point
// indicators z_tk = I(Y_t <= k), k = 1..c, of the responses of a cluster:
//   U1 = sum_i D1_i' V1_i^{-1} (z_i - mu_i)
//   U2 = sum_i sum_{t<s} D2' V2^{-1} (r_t (x) r_s - sigma_ts)
// V1_i: mu_min(k,m) - mu_k mu_m within a time, P11 - mu_t mu_s' between
// times, P11 from Plackett's formula with the pair's odds ratio; V2 the
// exact variance of the products r_tk r_sm under the pair's J x J table.
#include <RcppEigen.h>
#include <cmath>

namespace glmmgee {
namespace {

// Plackett's P(A and B), written without cancellation at psi = 1.
double plackett(double psi, double m1, double m2) {
  double a = 1 + (m1 + m2) * (psi - 1);
  double s2 = a * a - 4 * psi * (psi - 1) * m1 * m2;
  return 2 * psi * m1 * m2 / (a + std::sqrt(s2 > 0 ? s2 : 0));
}

}  // namespace
}  // namespace glmmgee

// mu, f: n x c marginal P(Y <= k) and densities f(theta_k - eta); res: z - mu;
// X: n x p; starts: cluster row offsets (K + 1); pa, pb: 0-based rows of each
// pair (rows sorted by cluster, pairs grouped by cluster in order); pc: the
// pair's cluster; group: 0-based log odds ratio of each pair (pa < pb, both
// rows of cluster pc). Returns ok = false and the 1-based bad_cluster when a
// cluster's working covariance V1 is not positive definite (the odds ratios
// and margins are incompatible there): the caller shortens its step.
// [[Rcpp::export]]
Rcpp::List cpp_ordinal_gee_global(Eigen::Map<Eigen::MatrixXd> mu, Eigen::Map<Eigen::MatrixXd> f,
                                  Eigen::Map<Eigen::MatrixXd> res, Eigen::Map<Eigen::MatrixXd> X,
                                  Eigen::Map<Eigen::VectorXi> starts, Eigen::Map<Eigen::VectorXi> pa,
                                  Eigen::Map<Eigen::VectorXi> pb, Eigen::Map<Eigen::VectorXi> pc,
                                  Eigen::Map<Eigen::VectorXi> group, Eigen::Map<Eigen::VectorXd> alpha,
                                  bool keep) {
  using Eigen::MatrixXd;
  using Eigen::VectorXd;
  const int n = mu.rows(), c = mu.cols(), p = X.cols(), np = c + p, q = alpha.size();
  const int K = starts.size() - 1, npairs = pa.size(), J = c + 1, c2 = c * c;
  if (c < 1 || f.rows() != n || f.cols() != c || res.rows() != n || res.cols() != c || X.rows() != n ||
      K < 1 || starts[0] != 0 || starts[K] != n || pb.size() != npairs || pc.size() != npairs ||
      group.size() != npairs)
    Rcpp::stop("cpp_ordinal_gee_global: inconsistent sizes");
  for (int i = 0; i < K; ++i)
    if (starts[i + 1] < starts[i]) Rcpp::stop("cpp_ordinal_gee_global: cluster starts must not decrease");
  for (int k = 0; k < npairs; ++k)
    if (pa[k] < 0 || pa[k] >= n || pb[k] < 0 || pb[k] >= n || pc[k] < 0 || pc[k] >= K ||
        group[k] < 0 || group[k] >= q || pa[k] < starts[pc[k]] || pa[k] >= starts[pc[k] + 1] ||
        pb[k] < starts[pc[k]] || pb[k] >= starts[pc[k] + 1] || pa[k] >= pb[k] || (k > 0 && pc[k] < pc[k - 1]))
      Rcpp::stop("cpp_ordinal_gee_global: pair %d is out of range", k + 1);
  MatrixXd A = MatrixXd::Zero(np, np), F = MatrixXd::Zero(q, q), D = MatrixXd::Zero(q, np);
  VectorXd U1 = VectorXd::Zero(np), U2 = VectorXd::Zero(q);
  MatrixXd U1i = MatrixXd::Zero(keep ? K : 0, np), U2i = MatrixXd::Zero(keep ? K : 0, q);
  int singular_pairs = 0;
  // Indicator values of each category u at cut point k: I(u <= k).
  MatrixXd Rm(J, c);
  for (int u = 0; u < J; ++u)
    for (int k = 0; k < c; ++k) Rm(u, k) = u <= k ? 1.0 : 0.0;
  // D1 of a row: f_jk (e_k, -x_j).
  auto d1 = [&](int j) {
    MatrixXd d = MatrixXd::Zero(c, np);
    for (int k = 0; k < c; ++k) {
      d(k, k) = f(j, k);
      for (int l = 0; l < p; ++l) d(k, c + l) = -f(j, k) * X(j, l);
    }
    return d;
  };
  int kp = 0;  // next pair
  MatrixXd P11(c, c), W(J * J, c2), V2(c2, c2), D2(c2, q), dU(c2, np);
  VectorXd sig(c2), s(c2), pcell(J * J);
  for (int i = 0; i < K; ++i) {
    if ((i & 255) == 0) Rcpp::checkUserInterrupt();
    const int r0 = starts[i], ni = starts[i + 1] - r0, m = ni * c;
    if (ni == 0) continue;
    MatrixXd D1(m, np), V1 = MatrixXd::Zero(m, m);
    VectorXd e(m);
    for (int a = 0; a < ni; ++a) {
      D1.middleRows(a * c, c) = d1(r0 + a);
      for (int k = 0; k < c; ++k) {
        e(a * c + k) = res(r0 + a, k);
        for (int l = 0; l < c; ++l)
          V1(a * c + k, a * c + l) = mu(r0 + a, std::min(k, l)) - mu(r0 + a, k) * mu(r0 + a, l);
      }
    }
    for (; kp < npairs && pc[kp] == i; ++kp) {
      const int ja = pa[kp], jb = pb[kp], a = ja - r0, b = jb - r0;
      const double psi = std::exp(alpha[group[kp]]);
      for (int k = 0; k < c; ++k)
        for (int l = 0; l < c; ++l) P11(k, l) = glmmgee::plackett(psi, mu(ja, k), mu(jb, l));
      for (int k = 0; k < c; ++k)
        for (int l = 0; l < c; ++l) {
          V1(a * c + k, b * c + l) = V1(b * c + l, a * c + k) = P11(k, l) - mu(ja, k) * mu(jb, l);
        }
      // Cells (u, v) of the pair's table from the cumulative probabilities.
      auto cum = [&](int u, int v) {  // P(Y_t <= u, Y_s <= v), 0-based categories, -1 = none
        if (u < 0 || v < 0) return 0.0;
        if (u >= c && v >= c) return 1.0;
        if (u >= c) return mu(jb, v);
        if (v >= c) return mu(ja, u);
        return P11(u, v);
      };
      for (int v = 0; v < J; ++v)
        for (int u = 0; u < J; ++u) {
          double pr = cum(u, v) - cum(u - 1, v) - cum(u, v - 1) + cum(u - 1, v - 1);
          pcell(v * J + u) = pr > 0 ? pr : 0;
        }
      // Products r_tk r_sm, k fastest, and their value in each cell.
      for (int l = 0; l < c; ++l)
        for (int k = 0; k < c; ++k) {
          const int kl = l * c + k;
          sig(kl) = P11(k, l) - mu(ja, k) * mu(jb, l);
          s(kl) = res(ja, k) * res(jb, l);
          for (int v = 0; v < J; ++v)
            for (int u = 0; u < J; ++u)
              W(v * J + u, kl) = (Rm(u, k) - mu(ja, k)) * (Rm(v, l) - mu(jb, l));
        }
      V2.noalias() = W.transpose() * pcell.asDiagonal() * W;
      V2 -= sig * sig.transpose();
      D2.setZero();
      MatrixXd Da = D1.middleRows(a * c, c), Db = D1.middleRows(b * c, c);
      for (int l = 0; l < c; ++l)
        for (int k = 0; k < c; ++k) {
          const int kl = l * c + k;
          const double m1 = mu(ja, k), m2 = mu(jb, l), pp = P11(k, l);
          const double gp = 1 - m1 - m2 + 2 * pp + psi * (m1 + m2 - 2 * pp);
          D2(kl, group[kp]) = psi * (m1 - pp) * (m2 - pp) / gp;
          const double dm1 = (pp + psi * (m2 - pp)) / gp, dm2 = (pp + psi * (m1 - pp)) / gp;
          // d(s - sigma)/d(thresholds, beta) through mu_tk and mu_sl.
          dU.row(kl) = (-res(jb, l) - (dm1 - m2)) * Da.row(k) + (-res(ja, k) - (dm2 - m1)) * Db.row(l);
        }
      Eigen::LDLT<MatrixXd> ldl(V2);
      if (ldl.info() != Eigen::Success || !(ldl.vectorD().minCoeff() > 1e-14 * ldl.vectorD().cwiseAbs().maxCoeff())) {
        ++singular_pairs;
        continue;
      }
      MatrixXd ViD2 = ldl.solve(D2);
      VectorXd u2 = ViD2.transpose() * (s - sig);
      F.noalias() += ViD2.transpose() * D2;
      U2 += u2;
      D.noalias() -= ViD2.transpose() * dU;
      if (keep) U2i.row(i) += u2.transpose();
    }
    Eigen::LDLT<MatrixXd> ldl(V1);
    if (ldl.info() != Eigen::Success || !(ldl.vectorD().minCoeff() > 0)) {
      // Not an error: the caller shortens the step (or reports the failure).
      return Rcpp::List::create(Rcpp::Named("ok") = false, Rcpp::Named("bad_cluster") = i + 1);
    }
    MatrixXd ViD1 = ldl.solve(D1);
    VectorXd u1 = ViD1.transpose() * e;
    A.noalias() += ViD1.transpose() * D1;
    U1 += u1;
    if (keep) U1i.row(i) = u1.transpose();
  }
  return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("A") = A, Rcpp::Named("U1") = U1, Rcpp::Named("F") = F,
                            Rcpp::Named("U2") = U2, Rcpp::Named("D") = D, Rcpp::Named("U1i") = U1i,
                            Rcpp::Named("U2i") = U2i, Rcpp::Named("singular_pairs") = singular_pairs);
}
