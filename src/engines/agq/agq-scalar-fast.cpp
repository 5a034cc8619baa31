// Scalar fast path of the AGQ engine: one random effect (q = 1) and a
// log-likelihood that is a function of exp(eta) -- binomial with the logit
// link, poisson with the log link. It computes exactly what
// AgqEngine::cluster() computes (value, gradient, summaries), with three
// savings that the general code cannot make:
//
//  * exp(eta) = exp(eta0) * exp(a u) when the cluster's z is constant
//    (a random intercept): one exp per observation per evaluation, and one
//    per mode-search step or quadrature node for the whole cluster;
//  * for the logit link, sum_j log(1 + exp(eta_j)) is taken as the log of a
//    product, one log per node instead of one per observation (for clusters
//    whose prior weights are all equal);
//  * the q x q linear algebra is scalar, and the gradient's per-observation
//    sums are folded so that no n_i x P matrix is formed.
//
// Formulas: see agq.h and AgqEngine::cluster(); the notation follows it
// (A_j = z_j lambda, H = 1 + sum_j W_j A_j^2, C = sqrt(H), u_k = u^ + z_k / C).
#include "engines/agq/agq.h"
#include "engines/agq/agq-work.h"
#include <algorithm>
#include <cmath>

namespace glmmgee {

namespace {
// |eta| bound under which exp(eta) and the running products stay finite
// (products are folded into a log every kFold factors).
constexpr double kLimLogit = 40.0, kLimLog = 500.0;
constexpr int kFold = 16;
}  // namespace

template <bool Logit>
bool AgqEngine::cluster_scalar_exp(int i, const VectorXd& eta0, double lam,
                             bool want_grad, Work& w, double* g,
                             AgqSummaries* out, bool* failed, double* ll_out) {
  const int s0 = lay_.start[i], ni = lay_.start[i + 1] - s0;
  const double* y = y_.data() + s0;
  const double* wt = wt_at(s0);
  const double* z = z_at(s0);  // column 0 of Z in cluster order
  const double* e0v = eta0.data() + s0;
  const bool zc = zconst_[i] != 0;
  const double wc = wconst_[i];
  const bool prod_ok = Logit && wc == wc;  // common weight: log of a product
  const double lim = Logit ? kLimLogit : kLimLog;

  double emax0 = 0.0, amax = 0.0, sy0 = 0.0, sya = 0.0;
  for (int j = 0; j < ni; ++j) {
    const double a = z[j] * lam, wy = wt[j] * y[j];
    emax0 = std::max(emax0, std::fabs(e0v[j]));
    amax = std::max(amax, std::fabs(a));
    sy0 += wy * e0v[j];
    sya += wy * a;
  }
  if (emax0 > lim) return false;
  double* e0 = w.e0.data();
  if (zc)
    for (int j = 0; j < ni; ++j) e0[j] = std::exp(e0v[j]);
  const double a0 = ni > 0 ? z[0] * lam : 0.0;

  // At u = uu, with E_j = exp(eta_j): returns sum_j wt_j log(1 + E_j)
  // (logit) or sum_j wt_j E_j (log); fills mu_j and, for the logit,
  // r_j = 1 / (1 + E_j).
  auto obs_pass = [&](double uu, double* mu, double* r) {
    const double F = zc ? std::exp(a0 * uu) : 0.0;
    double lp = 0.0, prod = 1.0;
    for (int j = 0; j < ni; ++j) {
      const double E = zc ? e0[j] * F : std::exp(e0v[j] + z[j] * lam * uu);
      if (Logit) {
        const double t = 1.0 + E, rr = 1.0 / t;
        r[j] = rr;
        mu[j] = E * rr;
        if (prod_ok) {
          prod *= t;
          if ((j % kFold) == kFold - 1) { lp += std::log(prod); prod = 1.0; }
        } else {
          lp += wt[j] * std::log1p(E);
        }
      } else {
        mu[j] = E;
        lp += wt[j] * E;
      }
    }
    if (prod_ok) lp = wc * (lp + std::log(prod));
    return lp;
  };
  auto hval = [&](double uu, double* mu, double* r, bool* ok) {
    *ok = emax0 + amax * std::fabs(uu) <= lim;
    if (!*ok) return 0.0;
    return sy0 + uu * sya - obs_pass(uu, mu, r) - 0.5 * uu * uu;
  };
  // W_j = -d2 l_j / d eta^2 from the mean.
  auto Wof = [&](int j, const double* mu, const double* r) {
    return Logit ? wt[j] * mu[j] * r[j] : wt[j] * mu[j];
  };

  // --- Mode by damped Newton, as in cluster().
  double u = ucache_(i, 0);
  double *mu = w.mu_a.data(), *r = w.r_a.data(), *mun = w.mu_b.data(), *rn = w.r_b.data();
  bool ok;
  double h = hval(u, mu, r, &ok);
  if (!ok) return false;
  bool converged = false, nan = false;
  double H = 1.0;
  for (int it = 0; it < 100; ++it) {
    double gr = -u;
    H = 1.0;
    for (int j = 0; j < ni; ++j) {
      const double a = z[j] * lam;
      gr += a * wt[j] * (y[j] - mu[j]);
      H += Wof(j, mu, r) * a * a;
    }
    const double step = gr / H;
    if (!(step == step)) { nan = true; break; }
    if (std::fabs(step) <= 1e-10 * (1.0 + std::fabs(u))) { converged = true; break; }
    double t = 1.0, hnew = h, unew = u;
    for (int half = 0; half < 60; ++half) {
      unew = u + t * step;
      hnew = hval(unew, mun, rn, &ok);
      if (!ok) return false;
      if (hnew >= h - 1e-12 * (1.0 + std::fabs(h))) break;
      t *= 0.5;
    }
    u = unew;
    h = hnew;
    std::swap(mu, mun);
    std::swap(r, rn);
  }
  if (nan) return false;  // the general code handles (and reports) it
  if (!converged) *failed = true;
  ucache_(i, 0) = u;
  const double C = std::sqrt(H), Ci = 1.0 / C, logdetC = 0.5 * std::log(H);

  // --- Quadrature. mu at node k goes to column k of D1.
  const long Q = grid_.z.rows();
  double lse;
  if (K_ == 1) {
    w.pi[0] = 1.0;
    w.Unodes(0, 0) = u;
    lse = h;
    for (int j = 0; j < ni; ++j) w.D1(j, 0) = mu[j];
  } else {
    if (emax0 + amax * (std::fabs(u) + Ci * std::fabs(grid_.z(0, 0))) > lim) {
      return false;  // the mode stays cached; the general code starts there
    }
    double amx = -INFINITY;
    for (long k = 0; k < Q; ++k) {
      const double uk = u + Ci * grid_.z(k, 0);
      w.Unodes(k, 0) = uk;
      const double lk = sy0 + uk * sya - obs_pass(uk, &w.D1(0, k), w.pd2.data());
      w.a[k] = grid_.logw_ad[k] + lk - 0.5 * uk * uk;
      amx = std::max(amx, w.a[k]);
    }
    double ssum = 0.0;
    for (long k = 0; k < Q; ++k) {
      w.pi[k] = std::exp(w.a[k] - amx);
      ssum += w.pi[k];
    }
    const double inv = 1.0 / ssum;
    for (long k = 0; k < Q; ++k) w.pi[k] *= inv;
    lse = amx + std::log(ssum);
  }
  const double ll = -logdetC + lse + lconst_[i];
  *ll_out = ll;

  double ubar = 0.0, zbar = 0.0, z2bar = 0.0;
  for (long k = 0; k < Q; ++k) {
    const double zk = K_ == 1 ? 0.0 : grid_.z(k, 0);
    ubar += w.pi[k] * w.Unodes(k, 0);
    zbar += w.pi[k] * zk;
    z2bar += w.pi[k] * zk * zk;
  }
  if (out) {
    out->mode(i, 0) = u;
    out->mode_var(i, 0) = 1.0 / H;
    double v = 0.0;
    for (long k = 0; k < Q; ++k) {
      const double d = w.Unodes(k, 0) - ubar;
      v += w.pi[k] * d * d;
    }
    out->post_mean(i, 0) = ubar;
    out->post_var(i, 0) = K_ == 1 ? 1.0 / H : v;
    out->loglik[i] = ll;
  }
  if (!want_grad) return true;

  // --- Gradient. Per observation: M0_j = sum_k pi_k mu_jk and
  // Mz_j = sum_k pi_k z_k mu_jk; then with D1_jk = wt_j (y_j - mu_jk)
  //   S_j = sum_k pi_k D1_jk = wt_j (y_j - M0_j),
  //   T_j = sum_k pi_k D1_jk u_k = wt_j (y_j ubar - u^ M0_j - Mz_j / C),
  //   d_j = sum_k pi_k z_k D1_jk = wt_j (y_j zbar - Mz_j).
  double* m0 = w.m0.data();
  double* mz = w.mz.data();
  for (int j = 0; j < ni; ++j) { m0[j] = 0.0; mz[j] = 0.0; }
  for (long k = 0; k < Q; ++k) {
    const double pk = w.pi[k], pzk = K_ == 1 ? 0.0 : pk * grid_.z(k, 0);
    const double* muk = &w.D1(0, k);
    for (int j = 0; j < ni; ++j) {
      m0[j] += pk * muk[j];
      mz[j] += pzk * muk[j];
    }
  }
  // Sums over observations that the direct and implicit terms need.
  // c3_j = d3_j A_j^2 (d3 = third derivative of l_j at the mode).
  double sAS = 0.0, sAd = 0.0, s3 = 0.0, szT = 0.0, sz3 = 0.0, szW = 0.0,
         szd1 = 0.0;
  for (int j = 0; j < ni; ++j) {
    const double a = z[j] * lam, Wj = Wof(j, mu, r);
    const double d3 = Logit ? -Wj * (r[j] - mu[j]) : -Wj;
    const double S = wt[j] * (y[j] - m0[j]);
    const double T = wt[j] * (y[j] * ubar - u * m0[j] - Ci * mz[j]);
    const double dj = wt[j] * (y[j] * zbar - mz[j]);
    w.S[j] = S;
    w.W[j] = Wj;
    w.cr[j] = d3 * a * a;
    sAS += a * S;
    sAd += a * dj;
    s3 += d3 * a * a * a;
    szT += z[j] * T;
    sz3 += z[j] * d3 * a * a;
    szW += z[j] * Wj * a;
    szd1 += z[j] * wt[j] * (y[j] - mu[j]);
  }
  const double G1 = -ubar + sAS;
  const double G2 = -(u * zbar + Ci * z2bar) + sAd;
  // Each parameter: total d eta_j = x_j + A_j Du, Du = rhs / H (implicit
  // function theorem); dH = -sum_j d3_j A_j^2 d eta_j (+ 2 sum W z A for
  // lambda); d log|C| = dH / (2H); for K > 1 the nodes move with
  // dL = -dH / (2 H C).
  auto finish = [&](int rr, double direct, double rhs, double dH_x) {
    const double Du = rhs / H;
    const double dH = dH_x - Du * s3;
    double gr = direct - 0.5 * dH / H;
    if (K_ > 1) gr += G1 * Du - G2 * dH * Ci / (2.0 * H);
    g[rr] += gr;
  };
  for (int m = 0; m < p_; ++m) {
    const double* x = X_.data() + (long)m * n_ + s0;
    double dir = 0.0, rhs = 0.0, c3 = 0.0;
    for (int j = 0; j < ni; ++j) {
      dir += x[j] * w.S[j];
      rhs -= w.W[j] * x[j] * z[j] * lam;
      c3 += w.cr[j] * x[j];
    }
    finish(m, dir, rhs, -c3);
  }
  // lambda: d eta_j = z_j u^ + A_j Du; rhs = -u^ sum W z A + sum z d1.
  finish(p_, szT, -u * szW + szd1, -u * sz3 + 2.0 * szW);
  return true;
}

template bool AgqEngine::cluster_scalar_exp<true>(int, const VectorXd&, double, bool, Work&,
                                            double*, AgqSummaries*, bool*, double*);
template bool AgqEngine::cluster_scalar_exp<false>(int, const VectorXd&, double, bool, Work&,
                                             double*, AgqSummaries*, bool*, double*);

}  // namespace glmmgee
