// Per-thread scratch of the AGQ engine (internal to the engine's files).
#ifndef GLMMGEE_AGQ_WORK_H
#define GLMMGEE_AGQ_WORK_H

#include "engines/agq/agq.h"

namespace glmmgee {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Scratch space of one thread, sized once for the largest cluster, so the
// per-cluster work makes no heap allocations.
struct AgqEngine::Work {
  MatrixXd A, D1, Unodes, H, Hinv, C, Cinv, dH, G2, Mr, tmp_q, dL, PZ, T, Du, Deta, Rm, RHS, Kt;
  VectorXd eta0i, eta, u, unew, step, grad, a, pi, S, hv, rhs, ubar, G1, P,
      W, cr, pd1, pd2, kap, grc;
  std::vector<ObsDerivs> dv, dvk;
  Eigen::LLT<MatrixXd> llt;
  // Scalar fast path: exp(eta0), mean and 1/(1 + exp(eta)) at two points of
  // the mode search, and per-observation sums over the nodes.
  VectorXd e0, mu_a, r_a, mu_b, r_b, m0, mz;
  // Auxiliary predictors (zero-inflation, dispersion formula): per
  // observation and predictor, the node-weighted derivative of l and the
  // derivatives of d1 and d2 at the mode.
  MatrixXd Sa, Pa1, Pa2;
  // One observation's daux_all(): 3 values per auxiliary predictor.
  VectorXd oa;
  // Per Lambda entry: its gradient term before the directions contract it.
  VectorXd lv;
  // Rows grouped by their random-effect design row (AgqEngine::pat_*): a
  // row's pattern, a pattern's first row (identity when the cluster is not
  // grouped), per-pattern values (Z Lambda u, kappa) and, for grouped
  // clusters only (pmax patterns at most), per-pattern sums of row
  // quantities (d1, -d2, S, D1, R's rows, node sums of D1 z) and values
  // (T, the direct part of d eta / d theta along directions, A du, the Z
  // rows, scaled rows of A, Z' T, Z' d1, a direction's Lambda u).
  std::vector<int> pj, rep;
  VectorXd au, d1p, cp, Sp, kp;
  MatrixXd D1p, Tp, Rp, Dz, DP, ADu, Zp, CA, ZT;
  VectorXd zdv, va;
  // na: columns of the auxiliary predictors' per-observation sums (at
  // least 2: a zero and a dispersion part; J - 1 thresholds of a
  // cumulative link model).
  Work(int nmax, int q, long Q, int npar, int nl, int pmax, int na)
      : A(nmax, q), D1(nmax, Q), Unodes(Q, q), H(q, q), Hinv(q, q), C(q, q),
        Cinv(q, q), dH(q, q), G2(q, q), Mr(q, q), tmp_q(q, q), dL(q, q),
        PZ(Q, q), T(nmax, q), Du(q, npar), Deta(nmax, npar), Rm(nmax, npar), RHS(q, npar),
        Kt(q, q), eta0i(nmax),
        eta(nmax), u(q), unew(q), step(q), grad(q), a(Q), pi(Q), S(nmax),
        hv(q), rhs(q), ubar(q), G1(q), P(Q), W(nmax), cr(nmax), pd1(nmax),
        pd2(nmax), kap(nmax), grc(npar), dv(nmax), dvk(nmax), llt(q), e0(nmax), mu_a(nmax),
        r_a(nmax), mu_b(nmax), r_b(nmax), m0(nmax), mz(nmax),
        Sa(nmax, na), Pa1(nmax, na), Pa2(nmax, na), oa(3 * na), lv(nl), pj(nmax), rep(nmax), au(nmax),
        d1p(nmax), cp(nmax), Sp(nmax), kp(nmax), D1p(pmax, Q), Tp(pmax, q), Rp(pmax, npar),
        Dz(pmax, q), DP(pmax, npar), ADu(pmax, npar), Zp(pmax, q), CA(pmax, q), ZT(q, q),
        zdv(q), va(q) {}
};

}  // namespace glmmgee
#endif
