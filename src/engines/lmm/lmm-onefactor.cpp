// Profiled (RE)ML criterion of a linear mixed model with one grouping
// factor, by per-cluster closed forms.
//
// Model (rows scaled by the square roots of the prior weights):
//   y_i = X_i beta + Z_i Lambda u_i + e_i,  u_i ~ N(0, s2 I), e_i ~ N(0, s2 I),
// Lambda the q x q lower-triangular relative factor (lme4's theta).
// With S_i = Z_i'Z_i, F_i = Z_i'X_i, g_i = Z_i'y_i and A_i = Lambda'S_i Lambda + I,
// s2 V_i^{-1} = I - Z_i Lambda A_i^{-1} Lambda'Z_i' (Woodbury), so
//   C = X'V^{-1}X s2 = X'X - sum F_i'Lambda A_i^{-1} Lambda'F_i   (p x p),
//   log|V_i / s2| = log|A_i|,
//   pwrss = (y - X beta)' s2 V^{-1} (y - X beta) at the GLS beta.
// Everything per evaluation is q x q or q x p per cluster: O(M q^2 (q + p)).
// The criteria are lmer's (Bates et al. 2015, J. Stat. Softw. 67(1), eqs. 34
// and 42): -2 log L_ML = sum log|A_i| + n (1 + log(2 pi pwrss / n)),
// -2 log L_REML = sum log|A_i| + log|C| + (n - p)(1 + log(2 pi pwrss / (n - p))),
// each minus sum log w. Their exact gradients in Lambda (envelope theorem for
// beta; m_i = A_i^{-1} Lambda'(g_i - F_i beta) the spherical modes,
// N_i = A_i^{-1} Lambda'F_i, K = C^{-1}):
//   d sum log|A_i|  = sum 2 S_i Lambda A_i^{-1},
//   d pwrss         = sum 2 (S_i Lambda m_i - c_i) m_i',  c_i = g_i - F_i beta,
//   d log|C|        = -sum 2 (F_i - S_i Lambda N_i) K N_i'.
#include <Rcpp.h>
#include <RcppEigen.h>
#include <cmath>
#include <limits>
#include "engines/lmm/lmm-onefactor.h"
#include "util/resources.h"
#include "entry/entry-lmm.h"

// [[Rcpp::depends(RcppEigen)]]

using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::Map;
using glmmgee::lmm1::LmmEval;
using glmmgee::lmm1::Suff;
using glmmgee::lmm1::read_suff;
using glmmgee::lmm1::lambda_of;

Suff glmmgee::lmm1::read_suff(const Rcpp::List& s) {
  // Maps into the list's own storage: only double matrices (a coerced copy
  // would not outlive this call).
  for (const char* nm : {"S", "F", "g", "XtX", "Xty"})
    if (TYPEOF(s[nm]) != REALSXP) Rcpp::stop("lmm: sufficient statistics must be double");
  auto mat = [&](const char* nm) {
    Rcpp::NumericMatrix m = s[nm];
    return Map<MatrixXd>(m.begin(), m.nrow(), m.ncol());
  };
  Rcpp::NumericVector xty = s["Xty"];
  Rcpp::NumericMatrix S = s["S"];
  Rcpp::NumericMatrix XtX = s["XtX"];
  const int q = Rcpp::as<int>(s["q"]);
  const int p = XtX.nrow();
  Rcpp::NumericMatrix F = s["F"], g = s["g"];
  if (q < 1 || S.nrow() != q * q || F.nrow() != q * p || g.nrow() != q || xty.size() != p ||
      XtX.ncol() != p || F.ncol() != S.ncol() || g.ncol() != S.ncol())
    Rcpp::stop("lmm: inconsistent sufficient statistics");
  return Suff{static_cast<int>(S.ncol()), q, p, Rcpp::as<double>(s["n"]),
              Rcpp::as<double>(s["logw"]), Rcpp::as<double>(s["yty"]),
              mat("S"), mat("F"), mat("g"), mat("XtX"),
              Map<VectorXd>(xty.begin(), xty.size())};
}

MatrixXd glmmgee::lmm1::lambda_of(const double* theta, Eigen::Index k,
                                  const Rcpp::IntegerVector& prow,
                                  const Rcpp::IntegerVector& pcol, int q) {
  MatrixXd Lam = MatrixXd::Zero(q, q);
  for (Eigen::Index j = 0; j < k; ++j) {
    if (prow[j] < 0 || prow[j] >= q || pcol[j] < 0 || pcol[j] > prow[j])
      Rcpp::stop("lmm: pattern outside the lower triangle");
    Lam(prow[j], pcol[j]) = theta[j];
  }
  return Lam;
}

namespace {

}  // namespace

// Per-cluster sums of the weighted design (rows with weight 0 dropped
// beforehand by the caller).
Rcpp::List glmmgee_exports::lmm_suff(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Z,
                        Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> w,
                        Rcpp::IntegerVector index, int M) {
  const Eigen::Index n = X.rows(), p = X.cols(), q = Z.cols();
  if (Z.rows() != n || y.size() != n || w.size() != n || index.size() != n || M < 1)
    Rcpp::stop("lmm: X, Z, y, weights and index must have the same number of rows");
  MatrixXd S = MatrixXd::Zero(q * q, M), F = MatrixXd::Zero(q * p, M), g = MatrixXd::Zero(q, M);
  MatrixXd XtX = MatrixXd::Zero(p, p);
  VectorXd Xty = VectorXd::Zero(p);
  double yty = 0.0, logw = 0.0;
  VectorXd x(p), z(q);
  glmmgee::InterruptPoll ip;
  for (Eigen::Index r = 0; r < n; ++r) {
    if ((r & 0xFFFF) == 0 && ip.poll()) ip.raise_if_interrupted();
    const int i = index[r] - 1;
    if (i < 0 || i >= M) Rcpp::stop("lmm: cluster index out of range");
    const double sw = std::sqrt(w[r]);
    logw += std::log(w[r]);
    x = X.row(r).transpose() * sw;
    z = Z.row(r).transpose() * sw;
    const double yr = y[r] * sw;
    for (Eigen::Index b = 0; b < q; ++b)
      for (Eigen::Index a = 0; a < q; ++a) S(a + b * q, i) += z[a] * z[b];
    for (Eigen::Index c = 0; c < p; ++c)
      for (Eigen::Index a = 0; a < q; ++a) F(a + c * q, i) += z[a] * x[c];
    g.col(i) += z * yr;
    XtX.selfadjointView<Eigen::Lower>().rankUpdate(x);
    Xty += x * yr;
    yty += yr * yr;
  }
  XtX.triangularView<Eigen::StrictlyUpper>() = XtX.transpose();
  return Rcpp::List::create(Rcpp::_["S"] = S, Rcpp::_["F"] = F, Rcpp::_["g"] = g,
                            Rcpp::_["XtX"] = XtX, Rcpp::_["Xty"] = Xty,
                            Rcpp::_["yty"] = yty, Rcpp::_["n"] = static_cast<double>(n),
                            Rcpp::_["logw"] = logw, Rcpp::_["q"] = static_cast<int>(q));
}

namespace {

template <int Q>
LmmEval lmm_eval_q(const Suff& s, const double* theta, Eigen::Index k,
                   const Rcpp::IntegerVector& prow, const Rcpp::IntegerVector& pcol,
                   bool reml, bool full) {
  using MQ = Eigen::Matrix<double, Q, Q>;
  using VQ = Eigen::Matrix<double, Q, 1>;
  using MQP = Eigen::Matrix<double, Q, Eigen::Dynamic>;
  using MPQ = Eigen::Matrix<double, Eigen::Dynamic, Q>;
  const int M = s.M, q = s.q, p = s.p;
  LmmEval out;
  const MQ Lam = lambda_of(theta, k, prow, pcol, q);
  // Pass 1: A_i, their Cholesky factors (kept, one column per cluster), C
  // and X'V^{-1}y (times s2). Work matrices are allocated once: the loop
  // runs M times per evaluation.
  MatrixXd Lstore(q * q, M);
  MatrixXd C = s.XtX;
  VectorXd Cy = s.Xty;
  double ldA = 0.0, yVy = s.yty;
  glmmgee::InterruptPoll ip;
  MQ Si = MQ::Zero(q, q), Ai = MQ::Zero(q, q), LtS = MQ::Zero(q, q);
  MQP LF = MQP::Zero(q, p);
  VQ Lg = VQ::Zero(q);
  Eigen::LLT<MQ> llt(q);
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3FFF) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Map<const MQ>(s.S.col(i).data(), q, q);
    LtS.noalias() = Lam.transpose() * Si;
    Ai.noalias() = LtS * Lam;
    Ai.diagonal().array() += 1.0;
    llt.compute(Ai);
    if (llt.info() != Eigen::Success) return out;
    const MQ& LL = llt.matrixLLT();
    for (int a = 0; a < q; ++a) ldA += 2.0 * std::log(LL(a, a));
    Map<MatrixXd>(Lstore.col(i).data(), q, q) = LL;
    const auto L = LL.template triangularView<Eigen::Lower>();
    LF.noalias() = Lam.transpose() * Map<const MQP>(s.F.col(i).data(), q, p);
    Lg.noalias() = Lam.transpose() * s.g.col(i);
    L.solveInPlace(LF);   // L^{-1} Lambda'F
    L.solveInPlace(Lg);
    C.noalias() -= LF.transpose() * LF;
    Cy.noalias() -= LF.transpose() * Lg;
    yVy -= Lg.squaredNorm();
  }
  Eigen::LLT<MatrixXd> cc(C);
  if (cc.info() != Eigen::Success) return out;
  const VectorXd beta = cc.solve(Cy);
  double ldC = 0.0;
  for (int a = 0; a < p; ++a) ldC += 2.0 * std::log(cc.matrixLLT()(a, a));
  const double pwrss = std::max(yVy - Cy.dot(beta), 1e-300 * std::max(1.0, s.yty));
  const double df = reml ? s.n - p : s.n;
  if (!(df > 0)) Rcpp::stop("lmm: no residual degrees of freedom");
  double dev = ldA + df * (1.0 + std::log(2.0 * M_PI * pwrss / df)) - s.logw;
  if (reml) dev += ldC;
  // Pass 2: the gradient in Lambda (formulas at the top of the file).
  MatrixXd K = reml ? cc.solve(MatrixXd::Identity(p, p)) : MatrixXd();
  // The three terms apart: the information for sigma free needs them.
  MQ GA = MQ::Zero(q, q), GP = MQ::Zero(q, q), GC = MQ::Zero(q, q), SL = MQ::Zero(q, q);
  MQP N = MQP::Zero(q, p), Fi = MQP::Zero(q, p), LtF = MQP::Zero(q, p), R = MQP::Zero(q, p);
  MPQ KN = MPQ::Zero(p, q);
  VQ c = VQ::Zero(q), m = VQ::Zero(q), Ltc = VQ::Zero(q);
  if (full) { out.modes.resize(q, M); out.Ainv.resize(q * q, M); }
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3FFF) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Map<const MQ>(s.S.col(i).data(), q, q);
    Fi = Map<const MQP>(s.F.col(i).data(), q, p);
    const auto L = Map<const MQ>(Lstore.col(i).data(), q, q).template triangularView<Eigen::Lower>();
    Ai.setIdentity();
    L.solveInPlace(Ai);
    L.transpose().solveInPlace(Ai);   // A_i^{-1}
    SL.noalias() = Si * Lam;
    GA.noalias() += 2.0 * SL * Ai;
    c = s.g.col(i);
    c.noalias() -= Fi * beta;
    Ltc.noalias() = Lam.transpose() * c;
    m.noalias() = Ai * Ltc;
    c.noalias() -= SL * m;   // c_i - S_i Lambda m_i
    GP.noalias() -= 2.0 * c * m.transpose();
    if (reml) {
      LtF.noalias() = Lam.transpose() * Fi;
      N.noalias() = Ai * LtF;
      R = Fi;
      R.noalias() -= SL * N;
      KN.noalias() = K * N.transpose();
      GC.noalias() -= 2.0 * R * KN;
    }
    if (full) {
      out.modes.col(i) = m;
      out.Ainv.col(i) = Map<const VectorXd>(Ai.data(), q * q);
    }
  }
  const MQ G = GA + (df / pwrss) * GP + GC;
  auto pick = [&](const MQ& H) {
    VectorXd v(k);
    for (Eigen::Index j = 0; j < k; ++j) v[j] = H(prow[j], pcol[j]);
    return v;
  };
  out.ok = true;
  out.dev = dev;
  out.grad = pick(G);
  if (full) {
    out.beta = beta;
    out.pwrss = pwrss;
    out.C = C;
    out.ldA = ldA;
    out.ldC = ldC;
    out.gA = pick(GA);
    out.gC = pick(GC);
    out.gP = pick(GP);
  }
  return out;
}


}  // namespace

// The per-cluster algebra with the random-effects dimension q fixed at
// compile time for q = 1, 2, 3 (Eigen's fixed-size matrices: no heap work
// and unrolled products in the cluster loops, which dominate small fits),
// dynamic above.
LmmEval glmmgee::lmm1::lmm_eval_core(const Suff& s, const double* theta, Eigen::Index k,
                      const Rcpp::IntegerVector& prow, const Rcpp::IntegerVector& pcol,
                      bool reml, bool full) {
  switch (s.q) {
    case 1: return lmm_eval_q<1>(s, theta, k, prow, pcol, reml, full);
    case 2: return lmm_eval_q<2>(s, theta, k, prow, pcol, reml, full);
    case 3: return lmm_eval_q<3>(s, theta, k, prow, pcol, reml, full);
    default: return lmm_eval_q<Eigen::Dynamic>(s, theta, k, prow, pcol, reml, full);
  }
}

// The criterion at relative factor entries `theta` (placed at rows/cols
// `prow`/`pcol`, 0-based, of Lambda). Returns the deviance (-2 log L,
// sigma profiled), its gradient in theta, and with `full` the pieces the
// fitted object needs: beta, pwrss, C, log-determinants, modes m_i and
// A_i^{-1} (column-major q x q per cluster).
// rng = false here and on the other LMM criterion exports: they draw no
// random numbers, and Rcpp's default RNG scope (reading and writing back R's
// generator state) costs about 2 microseconds a call, paid dozens of times
// per fit by nlminb's evaluations (a few percent of a small fit).
Rcpp::List glmmgee_exports::lmm_eval(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                        Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol, bool reml,
                        bool full) {
  const Suff s = read_suff(suff);
  const Eigen::Index k = theta.size();
  if (prow.size() != k || pcol.size() != k) Rcpp::stop("lmm: theta and its pattern differ in length");
  const LmmEval e = lmm_eval_core(s, theta.data(), k, prow, pcol, reml, full);
  if (!e.ok) return Rcpp::List::create(Rcpp::_["deviance"] = e.dev);
  if (!full)
    return Rcpp::List::create(Rcpp::_["deviance"] = e.dev, Rcpp::_["gradient"] = e.grad);
  return Rcpp::List::create(Rcpp::_["deviance"] = e.dev, Rcpp::_["gradient"] = e.grad,
                            Rcpp::_["beta"] = e.beta, Rcpp::_["pwrss"] = e.pwrss,
                            Rcpp::_["C"] = e.C, Rcpp::_["ldA"] = e.ldA, Rcpp::_["ldC"] = e.ldC,
                            Rcpp::_["modes"] = e.modes, Rcpp::_["Ainv"] = e.Ainv,
                            Rcpp::_["grad_ldA"] = e.gA, Rcpp::_["grad_ldC"] = e.gC,
                            Rcpp::_["grad_pwrss"] = e.gP);
}

// The restricted log-likelihood's gradient with sigma free (beta
// integrated out) in par = c(Lambda's entries on the user's Z, log sigma),
// Z's columns scaled by `sz` in the sufficient statistics: with
// s_j = sz[row_j] / sigma and theta_j = par_j s_j the relative factor,
//   dl/dpar_j = -(gA + gC + gP / sigma^2)_j s_j / 2,
//   dl/dlog sigma = -(n - p) + pwrss / sigma^2 + sum_j (gA + gC + gP / sigma^2)_j theta_j / 2.
// False where the criterion fails at par.
// `ev`, when given, receives the criterion's evaluation at par.
bool reml_sigma_gradient(const Suff& s, const VectorXd& par, const Rcpp::NumericVector& sz,
                         const Rcpp::IntegerVector& prow, const Rcpp::IntegerVector& pcol,
                         VectorXd& out, LmmEval* ev = nullptr) {
  const Eigen::Index k = par.size() - 1;
  const double ls = par[k], e2 = std::exp(-2.0 * ls);
  VectorXd sc(k), th(k);
  for (Eigen::Index j = 0; j < k; ++j) {
    sc[j] = sz[prow[j]] * std::exp(-ls);
    th[j] = par[j] * sc[j];
  }
  const LmmEval e = lmm_eval_core(s, th.data(), k, prow, pcol, true, true);
  if (ev) *ev = e;
  if (!e.ok || !std::isfinite(e.dev)) return false;
  const VectorXd gth = -0.5 * (e.gA + e.gC + e.gP * e2);
  out.resize(k + 1);
  out.head(k) = gth.cwiseProduct(sc);
  out[k] = -(s.n - s.p) + e.pwrss * e2 - gth.dot(th);
  return true;
}

// The information pieces of a one-factor REML fit at par (see
// reml_sigma_gradient): the gradient there and the exact Hessian
// (glmmgee::lmm1::reml_exact_hessian(), on the sums' scaled Z, mapped back
// by the diagonal Jacobian sz[row]); NA where it fails. It replaced central
// differences of the exact gradient (2 (k + 1) evaluations, about a fifth of
// a fit, with an O(h^2) error in the standard errors' 8th digit).
Rcpp::List glmmgee_exports::lmm_reml_info(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> par,
                             Rcpp::NumericVector sz, Rcpp::IntegerVector prow,
                             Rcpp::IntegerVector pcol) {
  const Suff s = read_suff(suff);
  const Eigen::Index k = prow.size(), nl = k + 1;
  if (pcol.size() != k || par.size() != nl)
    Rcpp::stop("lmm: 'par' must hold the pattern's entries and log sigma");
  if (sz.size() != s.q) Rcpp::stop("lmm: 'sz' must have one scale per column of Z");
  for (Eigen::Index j = 0; j < k; ++j)
    if (prow[j] < 0 || prow[j] >= s.q || pcol[j] < 0 || pcol[j] > prow[j])
      Rcpp::stop("lmm: pattern outside the lower triangle");
  const double na = NA_REAL;
  VectorXd x0 = par, g0;
  LmmEval e;
  const bool ok = reml_sigma_gradient(s, x0, sz, prow, pcol, g0, &e);
  if (!ok) g0 = VectorXd::Constant(nl, na);
  VectorXd J = VectorXd::Ones(nl);
  for (Eigen::Index j = 0; j < k; ++j) J[j] = sz[prow[j]];
  MatrixXd H;
  if (ok && glmmgee::lmm1::reml_exact_hessian(s, x0.cwiseProduct(J), prow, pcol, e.beta, e.C, H))
    H = J.asDiagonal() * H * J.asDiagonal();   // symmetric up to the products' rounding
  else
    H = MatrixXd::Constant(nl, nl, na);
  const MatrixXd Hs = (H + H.transpose()) / 2.0;
  return Rcpp::List::create(Rcpp::_["gradient"] = g0, Rcpp::_["hessian"] = Hs);
}

// The exact marginal log-likelihood of the same model with nothing
// profiled, in the one-factor engine's parameters (for structured
// covariances, whose search runs over c(beta, Lambda's entries, log sigma)):
// theta = c(beta, Lambda's entries at `prow`/`pcol`, log sigma), Lambda
// absolute (b_i = Lambda u_i, u_i ~ N(0, I)), e ~ N(0, sigma^2 / w). With
// B_i = sigma^2 I + Lambda'S_i Lambda, c_i = g_i - F_i beta, v_i = Lambda'c_i,
// m_i = B_i^{-1} v_i, RSS = |y - X beta|^2 (weighted) and
// Q = RSS - sum v_i'm_i (= sigma^2 r'V^{-1}r by Woodbury):
//   -2 log L = n log(2 pi) + (n - M q) log sigma^2 + sum log|B_i| + Q / sigma^2 - sum log w,
//   dlogL/dbeta   = (X'r - sum F_i'Lambda m_i) / sigma^2,
//   dlogL/dLambda = sum [-S_i Lambda B_i^{-1} + (c_i - S_i Lambda m_i) m_i' / sigma^2],
//   dlogL/dsigma^2 = -[(n - M q) / sigma^2 + sum tr B_i^{-1} - Q / sigma^4
//                      + sum m_i'm_i / sigma^2] / 2.
// The Laplace approximation is exact here, so this is the one-factor
// engine's value and gradient for a gaussian identity model, at O(M q^2
// (q + p)) per evaluation from the per-cluster sums instead of a mode
// search per cluster.
Rcpp::List glmmgee_exports::lmm_loglik(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> theta,
                          Rcpp::IntegerVector prow, Rcpp::IntegerVector pcol, bool gradient) {
  const Suff s = read_suff(suff);
  const int M = s.M, q = s.q, p = s.p;
  const Eigen::Index k = prow.size();
  if (pcol.size() != k) Rcpp::stop("lmm: the pattern's rows and columns differ in length");
  if (theta.size() != p + k + 1) Rcpp::stop("lmm: theta must have length %d", p + k + 1);
  const MatrixXd Lam = lambda_of(theta.data() + p, k, prow, pcol, q);
  const VectorXd beta = theta.head(p);
  const double phi = theta[p + k], s2 = std::exp(2.0 * phi);
  const double ninf = -std::numeric_limits<double>::infinity();
  auto failed = [&]() {
    return Rcpp::List::create(Rcpp::_["loglik"] = ninf,
                              Rcpp::_["gradient"] = Rcpp::NumericVector(theta.size(), NA_REAL));
  };
  if (!std::isfinite(s2) || !(s2 > 0) || !Lam.allFinite() || !beta.allFinite()) return failed();
  VectorXd gb = s.Xty;
  gb.noalias() -= s.XtX * beta;   // X'r
  const double rss = s.yty - 2.0 * beta.dot(s.Xty) + beta.dot(s.XtX * beta);
  double ldB = 0.0, quad = 0.0, trB = 0.0, mm = 0.0;
  MatrixXd GL = MatrixXd::Zero(q, q), Si(q, q), SL(q, q), B(q, q), Binv(q, q);
  const MatrixXd I = MatrixXd::Identity(q, q);
  VectorXd c(q), v(q), m(q), Lm(q);
  Eigen::LLT<MatrixXd> llt(q);
  glmmgee::InterruptPoll ip;
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3F) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Map<const MatrixXd>(s.S.col(i).data(), q, q);
    const Map<const MatrixXd> Fi(s.F.col(i).data(), q, p);
    SL.noalias() = Si * Lam;
    B.noalias() = Lam.transpose() * SL;
    B.diagonal().array() += s2;
    llt.compute(B);
    if (llt.info() != Eigen::Success) return failed();
    const MatrixXd& LL = llt.matrixLLT();
    for (int a = 0; a < q; ++a) ldB += 2.0 * std::log(LL(a, a));
    c = s.g.col(i);
    c.noalias() -= Fi * beta;
    v.noalias() = Lam.transpose() * c;
    m = llt.solve(v);
    quad += v.dot(m);
    if (!gradient) continue;
    Binv = llt.solve(I);
    trB += Binv.trace();
    mm += m.squaredNorm();
    Lm.noalias() = Lam * m;
    gb.noalias() -= Fi.transpose() * Lm;
    GL.noalias() -= SL * Binv;
    c.noalias() -= SL * m;
    GL.noalias() += (c / s2) * m.transpose();
  }
  const double Q = rss - quad, nq = s.n - static_cast<double>(M) * q;
  const double ll = -0.5 * (s.n * std::log(2.0 * M_PI) + nq * std::log(s2) + ldB + Q / s2 - s.logw);
  if (!std::isfinite(ll)) return failed();
  if (!gradient) return Rcpp::List::create(Rcpp::_["loglik"] = ll);
  VectorXd grad(theta.size());
  grad.head(p) = gb / s2;
  for (Eigen::Index j = 0; j < k; ++j) grad[p + j] = GL(prow[j], pcol[j]);
  grad[p + k] = -(nq / s2 + trB - Q / (s2 * s2) + mm / s2) * s2;
  return Rcpp::List::create(Rcpp::_["loglik"] = ll, Rcpp::_["gradient"] = grad);
}
