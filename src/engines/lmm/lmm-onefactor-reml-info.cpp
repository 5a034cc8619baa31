// The exact Hessian of a one-factor linear mixed model's restricted
// log-likelihood (sigma free, beta integrated out) in the covariance
// parameters par = c(Lambda's entries, log sigma), from the per-cluster
// sufficient statistics (lmm-onefactor.cpp): what the REML fit's standard
// errors of the variance parameters come from, in place of central
// differences of the exact gradient.
//
// With V = s2 I + Z Lambda Lambda'Z' (rows scaled by sqrt(w)),
// K = (X'V^-1X)^-1, P = V^-1 - V^-1 X K X'V^-1 and e = P y = V^-1 (y - X beta^)
// at the generalized least squares beta^, the restricted log-likelihood
// l_R = -1/2 log|V| - 1/2 log|X'V^-1X| - 1/2 y'P y + const has (Harville
// 1977, J. Am. Stat. Assoc. 72, 320-338; Searle, Casella and McCulloch
// 1992, Variance Components, ch. 6)
//   d2 l_R / dtheta_j dtheta_l = -tr(P V_jl)/2 + tr(P V_l P V_j)/2
//                                + e'V_jl e/2 - e'V_l P V_j e.
// Writing P = V^-1 - U K U' (U = V^-1 X) splits it into the log-likelihood's
// Hessian in the covariance parameters at beta^ (cpp_lmm_ml_hessian()'s
// formulas, same V_j and V_jl, taken here in the same pass) plus
//   tr(K U'V_jl U)/2 - tr(K U'V_j V^-1 V_l U) + tr(K A_l K A_j)/2 + d_l'K d_j,
// A_j = U'V_j U, d_j = U'V_j e. For Lambda's entry j at (a, b),
// V_j = Z D_j Z' with D_j = E_ab Lambda' + Lambda E_ba, and
// V_jl = Z (E_ac + E_ca) Z' for l at (c, b) in the same column (0 otherwise);
// for log sigma V_phi = 2 s2 I, V_phiphi = 4 s2 I, V_j,phi = 0. Per cluster,
// with B = s2 I + Lambda'S Lambda, H = Lambda B^-1 Lambda', R = I - S H,
// P2 = 2 H - H S H (so that V^-1 = (I - Z H Z') / s2 and
// V^-2 X = (X - Z P2 F) / s2^2), everything is q x q or q x p:
//   Z'V^-1 X = R F / s2 = G',  Z'V^-1 Z = R S / s2,  Z'e = R c / s2 (c = g - F beta^),
//   Z'V^-2 X = (F - S P2 F) / s2^2,
//   X'V^-1 X = (X'X - F'H F) / s2,  X'V^-2 X = (X'X - 2 F'H F + F'H S H F) / s2^2,
//   X'V^-3 X = (X'X - F'P2 F - F'H F + F'H S P2 F) / s2^3,
//   X'V^-2 r = (X'r - F'P2 c) / s2^2  (r = y - X beta^, e = V^-1 r),
// X'X and X'r = X'y - X'X beta^ summed over the clusters. beta^ and
// X'V^-1X come from the criterion's evaluation at the same point.
// Cost: one pass, O(M (q^2 (q + p) + k^2 (q^2 + p q))), with q x q algebra
// of fixed size for q <= 3 (as the criterion's, lmm-onefactor.cpp).
#include <Rcpp.h>
#include <RcppEigen.h>
#include <cmath>
#include <vector>
#include "engines/lmm/lmm-onefactor.h"
#include "util/resources.h"

// [[Rcpp::depends(RcppEigen)]]

using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::Map;

namespace {

template <int Q>
bool reml_hessian_q(const glmmgee::lmm1::Suff& s, const VectorXd& par,
                    const Rcpp::IntegerVector& prow, const Rcpp::IntegerVector& pcol,
                    const VectorXd& beta, const MatrixXd& Cs2, MatrixXd& out) {
  using MQ = Eigen::Matrix<double, Q, Q>;
  using VQ = Eigen::Matrix<double, Q, 1>;
  using MQP = Eigen::Matrix<double, Q, Eigen::Dynamic>;
  using MPQ = Eigen::Matrix<double, Eigen::Dynamic, Q>;
  const int M = s.M, q = s.q, p = s.p;
  const Eigen::Index k = prow.size(), nl = k + 1;
  const MQ Lam = glmmgee::lmm1::lambda_of(par.data(), k, prow, pcol, q);
  const double s2 = std::exp(2.0 * par[k]);
  if (!std::isfinite(s2) || !(s2 > 0) || !Lam.allFinite() || !beta.allFinite()) return false;
  // K = (X'V^-1X)^-1 = s2 C^-1, C = s2 X'V^-1X as the criterion holds it.
  Eigen::LLT<MatrixXd> cc(Cs2);
  if (cc.info() != Eigen::Success) return false;
  const MatrixXd K = cc.solve(MatrixXd::Identity(p, p)) * s2;
  const MQ I = MQ::Identity(q, q);
  // D_j = E_ab Lambda' + Lambda E_ba for each free entry j = (a, b).
  // (Eigen's allocator: fixed-size matrices of 2 x 2 are vectorized and aligned.)
  using VecMQ = std::vector<MQ, Eigen::aligned_allocator<MQ>>;
  VecMQ D(k, MQ::Zero(q, q));
  for (Eigen::Index j = 0; j < k; ++j) {
    D[j].row(prow[j]) += Lam.col(pcol[j]).transpose();
    D[j].col(prow[j]) += Lam.col(pcol[j]);
  }
  // Accumulators: the log-likelihood's part (Hll, Hlf, hff, quad as in
  // cpp_lmm_ml_hessian()), the sums of A_j, d_j, tr(K U'V_jl U) and
  // tr(K U'V_j V^-1 V_l U), and X'V^-2X s2^2, X'V^-3X s2^3, X'V^-2r s2^2.
  MatrixXd Hll = MatrixXd::Zero(k, k), trB = MatrixXd::Zero(nl, nl), trC = MatrixXd::Zero(nl, nl);
  VectorXd Hlf = VectorXd::Zero(k);
  double hff = 0.0, quad = 0.0;
  std::vector<MatrixXd> A(nl, MatrixXd::Zero(p, p));
  MatrixXd d = MatrixXd::Zero(p, nl);
  MatrixXd XV2X = s.XtX, XV3X = s.XtX;
  VectorXd XV2r = s.Xty;
  XV2r.noalias() -= s.XtX * beta;
  MQ Si, T, B, Bi, BiT, Hm, R, W, W2, P2, Q1, Qg;
  MQP HF(q, p), P2F(q, p), ZV2X(q, p), RF(q, p);
  MPQ G(p, q), KG(p, q);
  std::vector<MPQ> GD(k, MPQ(p, q));
  VecMQ WD(k, MQ::Zero(q, q)), QDW(k, MQ::Zero(q, q));
  std::vector<VQ, Eigen::aligned_allocator<VQ>> Da(k, VQ::Zero(q));
  VQ c, v, m, a, b, t1, t2;
  Eigen::LLT<MQ> llt(q);
  glmmgee::InterruptPoll ip;
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3FF) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Map<const MQ>(s.S.col(i).data(), q, q);
    const Map<const MQP> Fi(s.F.col(i).data(), q, p);
    Q1.noalias() = Lam.transpose() * Si;
    T.noalias() = Q1 * Lam;
    B = T;
    B.diagonal().array() += s2;
    llt.compute(B);
    if (llt.info() != Eigen::Success) return false;
    Bi = llt.solve(I);
    BiT.noalias() = Bi * T;
    Q1.noalias() = Lam * Bi;
    Hm.noalias() = Q1 * Lam.transpose();   // Lambda B^-1 Lambda'
    R = I;
    R.noalias() -= Si * Hm;
    W.noalias() = R * Si;
    W /= s2;                                // Z'V^-1 Z
    W2.noalias() = W * R.transpose();
    W2 /= s2;                               // Z'V^-2 Z
    c = s.g.col(i);
    c.noalias() -= Fi * beta;
    v.noalias() = Lam.transpose() * c;
    m.noalias() = Bi * v;
    a.noalias() = R * c;
    a /= s2;                                // Z'e
    b.noalias() = R * a;
    b /= s2;                                // Z'V^-2 r
    // The log-likelihood's part (cpp_lmm_ml_hessian()).
    t1.noalias() = BiT * m;
    t2.noalias() = BiT * t1;
    quad += 8.0 * v.dot(m) - 10.0 * v.dot(t1) + 4.0 * v.dot(t2);
    Q1.noalias() = BiT * BiT;
    hff += -2.0 * BiT.trace() + 2.0 * Q1.trace();
    // The restricted part's per-cluster matrices.
    Q1.noalias() = Hm * Si;
    P2 = 2.0 * Hm;
    P2.noalias() -= Q1 * Hm;                // 2H - H S H
    HF.noalias() = Hm * Fi;
    P2F.noalias() = P2 * Fi;
    RF.noalias() = R * Fi;
    G = RF.transpose() / s2;                // X'V^-1 Z
    ZV2X = Fi;
    ZV2X.noalias() -= Si * P2F;
    ZV2X /= s2 * s2;                        // Z'V^-2 X
    XV2X.noalias() -= 2.0 * (Fi.transpose() * HF);
    RF.noalias() = Si * HF;                 // S H F
    XV2X.noalias() += HF.transpose() * RF;
    XV3X.noalias() -= Fi.transpose() * P2F;
    XV3X.noalias() -= Fi.transpose() * HF;
    XV3X.noalias() += RF.transpose() * P2F;
    XV2r.noalias() -= P2F.transpose() * c;
    KG.noalias() = K * G;
    Qg.noalias() = G.transpose() * KG;      // G'K G
    for (Eigen::Index j = 0; j < k; ++j) {
      WD[j].noalias() = W * D[j];
      Da[j].noalias() = D[j] * a;
      GD[j].noalias() = G * D[j];
      A[j].noalias() += GD[j] * G.transpose();
      d.col(j).noalias() += GD[j] * a;
      Q1.noalias() = Qg * D[j];
      QDW[j].noalias() = Q1 * W;            // G'K G D_j W
      RF.noalias() = D[j] * ZV2X;
      trC(j, k) += 2.0 * s2 * (KG.transpose().cwiseProduct(RF)).sum();
      Hlf[j] += s2 * (W2.cwiseProduct(D[j].transpose())).sum() - 2.0 * s2 * b.dot(Da[j]);
    }
    for (Eigen::Index j = 0; j < k; ++j) {
      t2.noalias() = W * Da[j];
      for (Eigen::Index l = 0; l <= j; ++l) {
        double h = 0.5 * (WD[l].cwiseProduct(WD[j].transpose())).sum() - Da[l].dot(t2);
        trC(j, l) += (QDW[j].cwiseProduct(D[l].transpose())).sum();
        if (pcol[j] == pcol[l]) {
          const int r1 = prow[j], r2 = prow[l];
          h += -W(r1, r2) + a[r1] * a[r2];
          trB(j, l) += 2.0 * Qg(r1, r2);
        }
        Hll(j, l) += h;
      }
    }
  }
  const double rss = s.yty - 2.0 * beta.dot(s.Xty) + beta.dot(s.XtX * beta);
  XV2X /= s2 * s2;
  XV3X /= s2 * s2 * s2;
  XV2r /= s2 * s2;
  A[k] = 2.0 * s2 * XV2X;
  d.col(k) = 2.0 * s2 * XV2r;
  trB(k, k) = 4.0 * s2 * (K.cwiseProduct(XV2X)).sum();
  trC(k, k) = 4.0 * s2 * s2 * (K.cwiseProduct(XV3X)).sum();
  std::vector<MatrixXd> KA(nl);
  for (Eigen::Index j = 0; j < nl; ++j) KA[j] = K * A[j];
  const MatrixXd Kd = K * d;
  out.resize(nl, nl);
  for (Eigen::Index j = 0; j < nl; ++j) {
    for (Eigen::Index l = 0; l <= j; ++l) {
      double hml, tb, tc;
      if (j < k) {
        hml = Hll(j, l); tb = trB(j, l); tc = trC(j, l);
      } else if (l < k) {
        hml = Hlf[l]; tb = 0.0; tc = trC(l, k);
      } else {
        hml = hff + (-2.0 * rss + quad) / s2; tb = trB(k, k); tc = trC(k, k);
      }
      const double h = hml + 0.5 * tb - tc + 0.5 * (KA[l].cwiseProduct(KA[j].transpose())).sum() +
                       d.col(l).dot(Kd.col(j));
      out(j, l) = out(l, j) = h;
    }
  }
  return out.allFinite();
}

}  // namespace

// The Hessian of the restricted log-likelihood at par = c(Lambda's entries
// at prow/pcol on the sums' (scaled) Z, log sigma), given beta^ and
// C = s2 X'V^-1X there (the criterion's evaluation at the same point); false
// where a cluster's B or C is not positive definite (lambda_of() stops on a
// pattern outside the lower triangle).
bool glmmgee::lmm1::reml_exact_hessian(const Suff& s, const VectorXd& par,
                                       const Rcpp::IntegerVector& prow,
                                       const Rcpp::IntegerVector& pcol, const VectorXd& beta,
                                       const MatrixXd& C, MatrixXd& out) {
  switch (s.q) {
    case 1: return reml_hessian_q<1>(s, par, prow, pcol, beta, C, out);
    case 2: return reml_hessian_q<2>(s, par, prow, pcol, beta, C, out);
    case 3: return reml_hessian_q<3>(s, par, prow, pcol, beta, C, out);
    default: return reml_hessian_q<Eigen::Dynamic>(s, par, prow, pcol, beta, C, out);
  }
}
