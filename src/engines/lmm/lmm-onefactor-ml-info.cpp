// The exact Hessian of a one-factor linear mixed model's log-likelihood
// (nothing profiled) in the one-factor engine's parameters
// theta = c(beta, Lambda's entries at prow/pcol, log sigma), from the
// per-cluster sufficient statistics (lmm-onefactor.cpp): what the gaussian
// ML fit's standard errors come from, in place of central differences of
// the engine's gradient.
//
// Per cluster (rows scaled by sqrt(w)), V = s2 I + Z Lambda Lambda' Z',
// r = y - X beta, l = -1/2 log|V| - 1/2 r'V^-1 r + const. With
// V_j = dV/dtheta_j and V_jk its second derivative (standard results for
// the gaussian log-likelihood, e.g. Searle, Casella and McCulloch 1992,
// Variance Components, ch. 6):
//   d2l/dbeta dbeta'   = -X'V^-1 X,
//   d2l/dbeta dtheta_j = -X'V^-1 V_j V^-1 r,
//   d2l/dtheta_j dtheta_k = -tr(V^-1 V_jk)/2 + tr(V^-1 V_k V^-1 V_j)/2
//                           + r'V^-1 V_jk V^-1 r/2 - r'V^-1 V_k V^-1 V_j V^-1 r.
// For Lambda's entry j at (a, b): V_j = Z D_j Z', D_j = E_ab Lambda' + Lambda E_ba,
// V_jk = Z (E_ab E_cd' + E_cd E_ab') Z' for entries j = (a, b), k = (c, d);
// for log sigma V_phi = V_phiphi = ... = 2 s2 I, 4 s2 I, and V_j,phi = 0.
// Woodbury gives every term from q x q and q x p matrices: with
// T = Lambda'S Lambda, B = s2 I + T, R = I - S Lambda B^-1 Lambda',
// c = Z'r = g - F beta, v = Lambda'c, m = B^-1 v:
//   Z'V^-1 Z = R S / s2,  Z'V^-2 Z = R S R' / s2^2,  X'V^-1 Z = F'R' / s2,
//   Z'V^-1 r = R c / s2 = a,  Z'V^-2 r = R a / s2,
//   X'V^-1 X = (X'X - F'Lambda B^-1 Lambda'F) / s2,
//   X'V^-2 r = (X'r - 2 F'Lambda m + F'Lambda B^-1 T m) / s2^2,
//   tr V^-1 = (n_i - tr B^-1 T) / s2,  tr V^-2 = (n_i - 2 tr B^-1 T + tr (B^-1 T)^2) / s2^2,
//   r'V^-k r from r'r and v'(B^-1 T)^j B^-1 v, j = 0, 1, 2.
// Cost O(M (q^2 (q + p) + k^2 q^2)); one call per fit.
#include <Rcpp.h>
#include <RcppEigen.h>
#include <cmath>
#include <vector>
#include "engines/lmm/lmm-onefactor.h"
#include "util/resources.h"
#include "entry/entry-lmm.h"

// [[Rcpp::depends(RcppEigen)]]

using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::Map;

// The Hessian of cpp_lmm_loglik()'s log-likelihood at theta (its layout),
// or a matrix of NA where a cluster's B is not positive definite.
Rcpp::NumericMatrix glmmgee_exports::lmm_ml_hessian(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                                       Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol) {
  const glmmgee::lmm1::Suff s = glmmgee::lmm1::read_suff(suff);
  const int M = s.M, q = s.q, p = s.p;
  const Eigen::Index k = prow.size(), P = p + k + 1;
  if (pcol.size() != k) Rcpp::stop("lmm: the pattern's rows and columns differ in length");
  if (theta.size() != P) Rcpp::stop("lmm: theta must have length %d", static_cast<int>(P));
  const MatrixXd Lam = glmmgee::lmm1::lambda_of(theta.data() + p, k, prow, pcol, q);
  const VectorXd beta = theta.head(p);
  const double s2 = std::exp(2.0 * theta[p + k]);
  Rcpp::NumericMatrix out(P, P);
  if (!std::isfinite(s2) || !(s2 > 0) || !Lam.allFinite() || !beta.allFinite()) {
    std::fill(out.begin(), out.end(), NA_REAL);
    return out;
  }
  // D_j = E_ab Lambda' + Lambda E_ba for each free entry j = (a, b).
  std::vector<MatrixXd> D(k);
  for (Eigen::Index j = 0; j < k; ++j) {
    D[j] = MatrixXd::Zero(q, q);
    D[j].row(prow[j]) += Lam.col(pcol[j]).transpose();
    D[j].col(prow[j]) += Lam.col(pcol[j]);
  }
  const VectorXd Xr = s.Xty - s.XtX * beta;   // X'r
  const double rss = s.yty - 2.0 * beta.dot(s.Xty) + beta.dot(s.XtX * beta);
  MatrixXd Hbb = s.XtX;             // becomes X'V^-1 X s2
  MatrixXd Hbl = MatrixXd::Zero(p, k), Hll = MatrixXd::Zero(k, k);
  VectorXd xv2r = Xr;               // X'V^-2 r s2^2
  VectorXd Hlf = VectorXd::Zero(k);
  double hff = 0.0, quad = 0.0;     // quad: sum of 8 x1 - 10 x2 + 4 x3
  MatrixXd Si(q, q), T(q, q), B(q, q), Bi(q, q), BiT(q, q), R(q, q), W(q, q), W2(q, q);
  MatrixXd LF(q, p), Gx(p, q), WD(q, q);
  // Work matrices for the products' intermediate results (the same
  // products, in the same order, that the expressions' own temporaries
  // held, without an allocation per cluster).
  MatrixXd Q1(q, q), Q2(q, q), PQ(p, q);
  VectorXd u1(q);
  std::vector<MatrixXd> WDj(k, MatrixXd(q, q));
  std::vector<VectorXd> Dja(k, VectorXd(q));
  VectorXd c(q), v(q), m(q), a(q), b(q), t1(q), t2(q);
  const MatrixXd I = MatrixXd::Identity(q, q);
  Eigen::LLT<MatrixXd> llt(q);
  glmmgee::InterruptPoll ip;
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3FF) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Map<const MatrixXd>(s.S.col(i).data(), q, q);
    const Map<const MatrixXd> Fi(s.F.col(i).data(), q, p);
    Q1.noalias() = Lam.transpose() * Si;
    T.noalias() = Q1 * Lam;
    B = T;
    B.diagonal().array() += s2;
    llt.compute(B);
    if (llt.info() != Eigen::Success) {
      std::fill(out.begin(), out.end(), NA_REAL);
      return out;
    }
    Bi = llt.solve(I);
    BiT.noalias() = Bi * T;
    R = I;
    Q1.noalias() = Si * Lam;
    Q2.noalias() = Q1 * Bi;
    R.noalias() -= Q2 * Lam.transpose();
    Q1.noalias() = R * Si;
    W = Q1 / s2;
    W2.noalias() = Q1 * R.transpose();
    W2 /= (s2 * s2);
    c = s.g.col(i);
    c.noalias() -= Fi * beta;
    v.noalias() = Lam.transpose() * c;
    m.noalias() = Bi * v;
    a.noalias() = R * c / s2;
    b.noalias() = R * a / s2;
    LF.noalias() = Lam.transpose() * Fi;
    PQ.noalias() = LF.transpose() * Bi;
    Hbb.noalias() -= PQ * LF;
    Gx.noalias() = Fi.transpose() * R.transpose() / s2;
    // X'V^-2 r: -2 F'Lambda m + F'Lambda B^-1 T m.
    t1.noalias() = BiT * m;
    u1 = 2.0 * m - t1;
    xv2r.noalias() -= LF.transpose() * u1;
    // r'V^-k r pieces: x1 = v'B^-1 v, x2 = v'B^-1 T B^-1 v, x3 = v'(B^-1 T)^2 B^-1 v.
    t2.noalias() = BiT * t1;
    quad += 8.0 * v.dot(m) - 10.0 * v.dot(t1) + 4.0 * v.dot(t2);
    Q1.noalias() = BiT * BiT;
    hff += -2.0 * BiT.trace() + 2.0 * Q1.trace();
    for (Eigen::Index j = 0; j < k; ++j) {
      WDj[j].noalias() = W * D[j];
      Dja[j].noalias() = D[j] * a;
    }
    for (Eigen::Index j = 0; j < k; ++j) {
      t1 = Dja[j];   // D_j a
      Hbl.col(j).noalias() -= Gx * t1;
      // log sigma: s2 tr(W2 D_j) - 2 s2 b'D_j a.
      Hlf[j] += s2 * (W2.cwiseProduct(D[j].transpose())).sum() - 2.0 * s2 * b.dot(t1);
      t2.noalias() = W * t1;
      for (Eigen::Index l = 0; l <= j; ++l) {
        // tr(W D_l W D_j) / 2 - a'D_l W D_j a.
        double h = 0.5 * (WDj[l].cwiseProduct(WDj[j].transpose())).sum();
        h -= Dja[l].dot(t2);
        // V_jl: nonzero when both entries are in the same column of Lambda,
        // D_jl = E_ab E_cb' + E_cb E_ab' (a = prow[j], c = prow[l]).
        if (pcol[j] == pcol[l]) {
          const int r1 = prow[j], r2 = prow[l];
          h += -W(r1, r2) + a[r1] * a[r2];   // -tr(W D_jl)/2 + a'D_jl a/2
        }
        Hll(j, l) += h;
        if (l != j) Hll(l, j) += h;
      }
    }
  }
  const double phi_rr = (-2.0 * rss + quad) / s2;
  Rcpp::NumericMatrix& H = out;
  for (int r = 0; r < p; ++r) {
    for (int cc = 0; cc < p; ++cc) H(r, cc) = -Hbb(r, cc) / s2;
    for (Eigen::Index j = 0; j < k; ++j) H(r, p + j) = H(p + j, r) = Hbl(r, j);
    H(r, p + k) = H(p + k, r) = -2.0 * xv2r[r] / s2;
  }
  for (Eigen::Index j = 0; j < k; ++j) {
    for (Eigen::Index l = 0; l < k; ++l) H(p + j, p + l) = Hll(j, l);
    H(p + j, p + k) = H(p + k, p + j) = Hlf[j];
  }
  H(p + k, p + k) = hff + phi_rr;
  // X'V^-1 X = X'X - sum F'Lambda B^-1 Lambda'F is symmetric only up to
  // rounding as accumulated: symmetrized exactly, as the standard errors'
  // inversion expects.
  for (Eigen::Index r = 0; r < P; ++r)
    for (Eigen::Index cc = 0; cc < r; ++cc) H(r, cc) = H(cc, r) = 0.5 * (H(r, cc) + H(cc, r));
  return out;
}

// What a one-factor gaussian ML fit holds beside its estimates, at theta
// (cpp_lmm_loglik()'s layout), in one pass over the clusters instead of the
// one-factor engine's build, evaluation and summaries: the log-likelihood and
// its exact gradient (cpp_lmm_loglik()'s formulas), the modes of the
// standardized random effects u_i (b_i = Lambda u_i) with their conditional
// covariances, and each cluster's log-likelihood. For a gaussian identity
// model u_i | y is normal, with mean m_i = B_i^-1 Lambda'c_i and covariance
// sigma^2 B_i^-1 (B_i = sigma^2 I + Lambda'S_i Lambda, c_i = g_i - F_i beta),
// so the modes are the posterior means and the Laplace approximation is
// exact; cluster i's log-likelihood is
//   -[n_i log(2 pi) + (n_i - q) log sigma^2 + log|B_i| + Q_i / sigma^2 - sum_i log w] / 2,
// Q_i = RSS_i - c_i'Lambda m_i, RSS_i its weighted residual sum of squares,
// taken from the rows (X, yo = y - offset, w, 1-based index; rows of weight
// 0 are not in the sums and are skipped). The total is the clusters' sum.
Rcpp::List glmmgee_exports::lmm_ml_final(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                            Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol,
                            Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> yo,
                            Eigen::Map<Eigen::VectorXd> w, Rcpp::IntegerVector index) {
  const glmmgee::lmm1::Suff s = glmmgee::lmm1::read_suff(suff);
  const int M = s.M, q = s.q, p = s.p;
  const Eigen::Index k = prow.size(), P = p + k + 1, n = X.rows();
  if (pcol.size() != k) Rcpp::stop("lmm: the pattern's rows and columns differ in length");
  if (theta.size() != P) Rcpp::stop("lmm: theta must have length %d", static_cast<int>(P));
  if (X.cols() != p || yo.size() != n || w.size() != n || index.size() != n)
    Rcpp::stop("lmm: X, yo, w and index must have the same number of rows");
  const MatrixXd Lam = glmmgee::lmm1::lambda_of(theta.data() + p, k, prow, pcol, q);
  const VectorXd beta = theta.head(p);
  const double s2 = std::exp(2.0 * theta[p + k]);
  if (!std::isfinite(s2) || !(s2 > 0) || !Lam.allFinite() || !beta.allFinite())
    return Rcpp::List::create(Rcpp::_["loglik"] = -std::numeric_limits<double>::infinity());
  // Per cluster: weighted residual sum of squares, rows and sum of log w.
  // With X'r, from the residuals themselves: X'y - X'X beta and
  // y'y - 2 beta'X'y + beta'X'X beta from the sums lose digits by
  // cancellation (a few units in the 12th digit of a sleepstudy
  // log-likelihood).
  VectorXd rssi = VectorXd::Zero(M), ni = VectorXd::Zero(M), lwi = VectorXd::Zero(M);
  VectorXd gb = VectorXd::Zero(p);   // X'r
  for (Eigen::Index r = 0; r < n; ++r) {
    if (!(w[r] > 0)) continue;
    const int i = index[r] - 1;
    if (i < 0 || i >= M) Rcpp::stop("lmm: cluster index out of range");
    const double e = yo[r] - X.row(r).dot(beta);
    rssi[i] += w[r] * e * e;
    gb.noalias() += (w[r] * e) * X.row(r).transpose();
    ni[i] += 1.0;
    lwi[i] += std::log(w[r]);
  }
  const double rss = rssi.sum();
  double ldB = 0.0, quad = 0.0, trB = 0.0, mm = 0.0;
  const double l2pi = std::log(2.0 * M_PI), ls2 = std::log(s2);
  MatrixXd GL = MatrixXd::Zero(q, q), Si(q, q), SL(q, q), B(q, q), Binv(q, q);
  const MatrixXd I = MatrixXd::Identity(q, q);
  Rcpp::NumericMatrix mode(M, q), mvar(M, q * q);
  Rcpp::NumericVector cll(M);
  VectorXd c(q), v(q), m(q), Lm(q);
  Eigen::LLT<MatrixXd> llt(q);
  glmmgee::InterruptPoll ip;
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3FF) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Map<const MatrixXd>(s.S.col(i).data(), q, q);
    const Map<const MatrixXd> Fi(s.F.col(i).data(), q, p);
    SL.noalias() = Si * Lam;
    B.noalias() = Lam.transpose() * SL;
    B.diagonal().array() += s2;
    llt.compute(B);
    if (llt.info() != Eigen::Success)
      return Rcpp::List::create(Rcpp::_["loglik"] = -std::numeric_limits<double>::infinity());
    const MatrixXd& LL = llt.matrixLLT();
    double ldBi = 0.0;
    for (int a = 0; a < q; ++a) ldBi += 2.0 * std::log(LL(a, a));
    ldB += ldBi;
    c = s.g.col(i);
    c.noalias() -= Fi * beta;
    v.noalias() = Lam.transpose() * c;
    m = llt.solve(v);
    const double qi = v.dot(m);
    quad += qi;
    cll[i] = -0.5 * (ni[i] * l2pi + (ni[i] - q) * ls2 + ldBi + (rssi[i] - qi) / s2 - lwi[i]);
    Binv = llt.solve(I);
    for (int a = 0; a < q; ++a) mode(i, a) = m[a];
    for (int a = 0; a < q * q; ++a) mvar(i, a) = s2 * Binv(a);
    trB += Binv.trace();
    mm += m.squaredNorm();
    Lm.noalias() = Lam * m;
    gb.noalias() -= Fi.transpose() * Lm;
    GL.noalias() -= SL * Binv;
    c.noalias() -= SL * m;
    GL.noalias() += (c / s2) * m.transpose();
  }
  const double Q = rss - quad, nq = s.n - static_cast<double>(M) * q;
  double ll = 0.0;
  for (int i = 0; i < M; ++i) ll += cll[i];
  VectorXd grad(P);
  grad.head(p) = gb / s2;
  for (Eigen::Index j = 0; j < k; ++j) grad[p + j] = GL(prow[j], pcol[j]);
  grad[p + k] = -(nq / s2 + trB - Q / (s2 * s2) + mm / s2) * s2;
  return Rcpp::List::create(Rcpp::_["loglik"] = ll, Rcpp::_["gradient"] = grad,
                            Rcpp::_["mode"] = mode, Rcpp::_["mode_var"] = mvar,
                            Rcpp::_["loglik_clusters"] = cll);
}
