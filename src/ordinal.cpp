// Cumulative link mixed model with a random intercept on one grouping factor:
//   P(Y_ij <= k | u_i) = F(theta_k - eta_ij),  eta_ij = x_ij'beta + o_ij + sigma u_i,
//   u_i ~ N(0, 1),
// integrated over u_i by adaptive Gauss-Hermite quadrature (one node: the
// Laplace approximation). The J - 1 thresholds do not fit the scalar ObsModel
// interface of families.h (one mean, one dispersion), so the model has its
// own small engine.
//
// The gradient is that of the approximation itself: the mode u^ and the
// scale s = (-h''(u^))^(-1/2) move with the parameters, and their
// derivatives (implicit differentiation of h'(u^) = 0) enter through
//   dL/dpsi = s'/s + sum_k pi_k [dh/dpsi(u_k) + h'(u_k) (du^/dpsi + z_k s')],
// with u_k = u^ + s z_k and pi_k the normalized quadrature weights.
#include <RcppEigen.h>
#include <cmath>
#include <limits>
#include <memory>
#include "cum-link.h"
#include "gh-rule.h"
#include "resources.h"

namespace glmmgee {
namespace {

const double kInf = std::numeric_limits<double>::infinity();

// log p, p = F(a) - F(b), and its partial derivatives in the upper (a) and
// lower (b) arguments up to the third order. a = +Inf or b = -Inf for the
// extreme categories (their terms vanish).
struct CatDerivs {
  double q, qa, qb, qaa, qab, qbb, qaaa, qaab, qabb, qbbb;
};

CatDerivs cat_derivs(const CumLink& F, double a, double b, bool third = true) {
  CatDerivs d;
  const bool top = std::isinf(a), bottom = std::isinf(b);
  if (top) d.q = F.logS(b);
  else if (bottom) d.q = F.logF(a);
  else if (b > 0) {
    // Both in the upper tail: difference of survivor functions, no cancellation.
    const double sa = F.logS(a), sb = F.logS(b);
    d.q = sb + std::log(-std::expm1(sa - sb));
  } else {
    const double fa = F.logF(a), fb = F.logF(b);
    d.q = fa + std::log(-std::expm1(fb - fa));
  }
  const double ra = top ? 0.0 : std::exp(F.logf(a) - d.q);
  const double rb = bottom ? 0.0 : std::exp(F.logf(b) - d.q);
  // p_aa/p, p_aaa/p, p_bb/p, p_bbb/p (p_ab = 0).
  const double paa = top ? 0.0 : ra * F.g1(a), paaa = (top || !third) ? 0.0 : ra * F.g2(a);
  const double pbb = bottom ? 0.0 : -rb * F.g1(b), pbbb = (bottom || !third) ? 0.0 : -rb * F.g2(b);
  d.qa = ra;
  d.qb = -rb;
  d.qaa = paa - d.qa * d.qa;
  d.qbb = pbb - d.qb * d.qb;
  d.qab = -d.qa * d.qb;
  if (!third) {
    d.qaaa = d.qaab = d.qabb = d.qbbb = 0;
    return d;
  }
  d.qaaa = paaa - 3 * d.qa * d.qaa - d.qa * d.qa * d.qa;
  d.qbbb = pbbb - 3 * d.qb * d.qbb - d.qb * d.qb * d.qb;
  d.qaab = -paa * d.qb - 2 * d.qa * d.qab;
  d.qabb = -pbb * d.qa - 2 * d.qb * d.qab;
  return d;
}

struct OrdData {
  const Eigen::Map<const Eigen::VectorXi>& y;   // categories 1..J
  const Eigen::Map<const Eigen::MatrixXd>& X;
  const Eigen::Map<const Eigen::VectorXd>& off;
  const Eigen::Map<const Eigen::VectorXd>& w;
  const Eigen::Map<const Eigen::VectorXi>& start;  // cluster c: rows start[c] .. start[c+1]-1
  int J;
};

// h(u) = sum_i w_i log p_i(u) - u^2/2 of one cluster, with h' and h''.
struct HVal { double h, h1, h2; };

class ClusterEval {
 public:
  ClusterEval(const OrdData& d, const CumLink& F, const Eigen::VectorXd& th,
              const Eigen::VectorXd& eta0, double sigma)
      : d_(d), F_(F), th_(th), eta0_(eta0), sigma_(sigma) {}

  double upper(int i, double eta) const {
    const int k = d_.y[i];
    return k == d_.J ? kInf : th_[k - 1] - eta;
  }
  double lower(int i, double eta) const {
    const int k = d_.y[i];
    return k == 1 ? -kInf : th_[k - 2] - eta;
  }
  CatDerivs at(int i, double u, bool third = true) const {
    const double eta = eta0_[i] + sigma_ * u;
    return cat_derivs(F_, upper(i, eta), lower(i, eta), third);
  }
  HVal h(int c, double u) const {
    HVal v{-0.5 * u * u, -u, -1.0};
    for (int i = d_.start[c]; i < d_.start[c + 1]; ++i) {
      const CatDerivs q = at(i, u, false);
      const double wi = d_.w[i];
      v.h += wi * q.q;
      v.h1 -= sigma_ * wi * (q.qa + q.qb);
      v.h2 += sigma_ * sigma_ * wi * (q.qaa + 2 * q.qab + q.qbb);
    }
    return v;
  }
  // Newton's method with step halving; h is concave (log-concave F).
  double mode(int c, double u) const {
    HVal v = h(c, u);
    for (int it = 0; it < 200; ++it) {
      const double step = -v.h1 / v.h2;
      double t = 1;
      HVal nv = h(c, u + step);
      while (!(nv.h >= v.h - 1e-12 * std::fabs(v.h)) && t > 1e-10) {
        t /= 2;
        nv = h(c, u + t * step);
      }
      u += t * step;
      v = nv;
      if (std::fabs(t * step) < 1e-11 * (1 + std::fabs(u))) break;
    }
    return u;
  }

 private:
  const OrdData& d_;
  const CumLink& F_;
  const Eigen::VectorXd& th_;
  const Eigen::VectorXd& eta0_;
  double sigma_;
};

}  // namespace
}  // namespace glmmgee

// The approximated log-likelihood (full: every constant included), its
// gradient in (thresholds, beta, log sigma), and per cluster the mode of u,
// the scale s, the posterior mean and variance of u and the log-likelihood.
// [[Rcpp::export]]
Rcpp::List cpp_ordinal_loglik(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::MatrixXd> X,
                              Eigen::Map<Eigen::VectorXd> offset,
                              Eigen::Map<Eigen::VectorXd> weights,
                              Eigen::Map<Eigen::VectorXi> start, int J,
                              Eigen::Map<Eigen::VectorXd> theta, Eigen::Map<Eigen::VectorXd> beta,
                              double log_sigma, int nAGQ, int link, bool gradient,
                              Rcpp::Nullable<Rcpp::NumericVector> mode_start = R_NilValue) {
  using namespace glmmgee;
  const int n = y.size(), p = X.cols(), M = start.size() - 1;
  if (X.rows() != n || offset.size() != n || weights.size() != n)
    Rcpp::stop("ordinal engine: 'y', 'X', 'offset' and 'weights' differ in rows");
  if (J < 2 || theta.size() != J - 1 || beta.size() != p)
    Rcpp::stop("ordinal engine: wrong number of thresholds or coefficients");
  if (M < 1 || start[0] != 0 || start[M] != n)
    Rcpp::stop("ordinal engine: cluster starts must run from 0 to n");
  for (int c = 0; c < M; ++c)
    if (start[c + 1] < start[c]) Rcpp::stop("ordinal engine: cluster starts must not decrease");
  for (int i = 0; i < n; ++i)
    if (y[i] < 1 || y[i] > J) Rcpp::stop("ordinal engine: categories must lie in 1..J");
  if (nAGQ < 1) Rcpp::stop("ordinal engine: nAGQ must be >= 1");
  std::unique_ptr<CumLink> F = make_cum_link(link);
  if (!F) Rcpp::stop("ordinal engine: unknown link code");
  // The previous evaluation's modes: Newton's method then needs a step or two.
  Rcpp::NumericVector u0(M);
  if (mode_start.isNotNull()) {
    Rcpp::NumericVector ms(mode_start);
    if (ms.size() != M) Rcpp::stop("ordinal engine: 'mode_start' must have one value per cluster");
    for (int c = 0; c < M; ++c) u0[c] = std::isfinite(ms[c]) ? ms[c] : 0.0;
  }

  Eigen::Map<const Eigen::VectorXi> cy(y.data(), n), cst(start.data(), M + 1);
  Eigen::Map<const Eigen::MatrixXd> cX(X.data(), n, p);
  Eigen::Map<const Eigen::VectorXd> co(offset.data(), n), cw(weights.data(), n);
  OrdData d{cy, cX, co, cw, cst, J};
  const Eigen::VectorXd th = theta;
  const Eigen::VectorXd eta0 = cX * beta + co;
  const double sigma = std::exp(log_sigma);
  ClusterEval ev(d, *F, th, eta0, sigma);
  const GhRule rule = gh_rule(nAGQ);
  const int K = rule.z.size(), P = J - 1 + p + 1;

  Eigen::VectorXd grad = Eigen::VectorXd::Zero(P);
  Rcpp::NumericVector mode(M), scale(M), pmean(M), pvar(M), cll(M);
  Eigen::VectorXd dh1(P), dh2(P), dhk(P), du(P), ds(P), acc(P);
  Eigen::VectorXd lw(K), hk(K), h1k(K);
  InterruptPoll poll(0.5);
  double total = 0;
  for (int c = 0; c < M; ++c) {
    if ((c & 63) == 0 && poll.poll()) poll.raise_if_interrupted();
    const double uh = ev.mode(c, u0[c]);
    const HVal v0 = ev.h(c, uh);
    const double s = 1 / std::sqrt(-v0.h2);
    double mx = -kInf;
    for (int k = 0; k < K; ++k) {
      const HVal vk = ev.h(c, uh + s * rule.z[k]);
      hk[k] = vk.h;
      h1k[k] = vk.h1;
      lw[k] = rule.logw[k] + 0.5 * rule.z[k] * rule.z[k] + vk.h;
      mx = std::max(mx, lw[k]);
    }
    const double lse = mx + std::log((lw.array() - mx).exp().sum());
    const double Lc = std::log(s) + lse;
    total += Lc;
    cll[c] = Lc;
    mode[c] = uh;
    scale[c] = s;
    Eigen::VectorXd pik = (lw.array() - lse).exp().matrix();
    double m1 = 0, m2 = 0;
    for (int k = 0; k < K; ++k) {
      const double uk = uh + s * rule.z[k];
      m1 += pik[k] * uk;
      m2 += pik[k] * uk * uk;
    }
    pmean[c] = m1;
    pvar[c] = std::max(m2 - m1 * m1, 0.0);
    if (!gradient) continue;

    // Derivatives of h' and h'' at the mode, and h''' there.
    dh1.setZero();
    dh2.setZero();
    double h3 = 0;
    const double s2 = sigma * sigma;
    for (int i = d.start[c]; i < d.start[c + 1]; ++i) {
      const CatDerivs q = ev.at(i, uh);
      const double wi = d.w[i];
      const int cat = d.y[i];
      const double D1 = q.qa + q.qb, D2 = q.qaa + 2 * q.qab + q.qbb;
      const double D3 = q.qaaa + 3 * q.qaab + 3 * q.qabb + q.qbbb;
      if (cat < J) {
        dh1[cat - 1] -= sigma * wi * (q.qaa + q.qab);
        dh2[cat - 1] += s2 * wi * (q.qaaa + 2 * q.qaab + q.qabb);
      }
      if (cat > 1) {
        dh1[cat - 2] -= sigma * wi * (q.qab + q.qbb);
        dh2[cat - 2] += s2 * wi * (q.qaab + 2 * q.qabb + q.qbbb);
      }
      dh1.segment(J - 1, p) += (sigma * wi * D2) * cX.row(i).transpose();
      dh2.segment(J - 1, p) -= (s2 * wi * D3) * cX.row(i).transpose();
      dh1[P - 1] += -sigma * wi * D1 + s2 * uh * wi * D2;
      dh2[P - 1] += 2 * s2 * wi * D2 - s2 * sigma * uh * wi * D3;
      h3 -= s2 * sigma * wi * D3;
    }
    du = -dh1 / v0.h2;
    ds = 0.5 * s * s * s * (dh2 + h3 * du);
    acc = ds / s;
    for (int k = 0; k < K; ++k) {
      if (pik[k] == 0) continue;
      const double uk = uh + s * rule.z[k];
      dhk.setZero();
      for (int i = d.start[c]; i < d.start[c + 1]; ++i) {
        const CatDerivs q = ev.at(i, uk, false);
        const double wi = d.w[i];
        const int cat = d.y[i];
        if (cat < J) dhk[cat - 1] += wi * q.qa;
        if (cat > 1) dhk[cat - 2] += wi * q.qb;
        dhk.segment(J - 1, p) -= (wi * (q.qa + q.qb)) * cX.row(i).transpose();
        dhk[P - 1] -= sigma * uk * wi * (q.qa + q.qb);
      }
      acc += pik[k] * (dhk + h1k[k] * (du + rule.z[k] * ds));
    }
    grad += acc;
  }
  return Rcpp::List::create(
      Rcpp::Named("loglik") = total, Rcpp::Named("gradient") = Rcpp::wrap(grad),
      Rcpp::Named("mode") = mode, Rcpp::Named("scale") = scale,
      Rcpp::Named("post_mean") = pmean, Rcpp::Named("post_var") = pvar,
      Rcpp::Named("cluster_loglik") = cll);
}

// Per-observation log-likelihood and its derivatives in (thresholds, beta)
// for a cumulative link model without random effects (eta = X beta + offset):
// the scores the ordinal GEE's sandwich sums by cluster, and the category
// probabilities for its expected information.
// [[Rcpp::export]]
Rcpp::List cpp_ordinal_scores(Eigen::Map<Eigen::VectorXi> y, Eigen::Map<Eigen::VectorXd> eta,
                              Eigen::Map<Eigen::VectorXd> theta, int link) {
  using namespace glmmgee;
  const int n = y.size(), J = theta.size() + 1;
  if (eta.size() != n) Rcpp::stop("ordinal scores: 'y' and 'eta' differ in length");
  std::unique_ptr<CumLink> F = make_cum_link(link);
  if (!F) Rcpp::stop("ordinal scores: unknown link code");
  Rcpp::NumericVector ll(n), da(n), db(n);
  for (int i = 0; i < n; ++i) {
    const int k = y[i];
    if (k < 1 || k > J) Rcpp::stop("ordinal scores: categories must lie in 1..J");
    const double a = k == J ? kInf : theta[k - 1] - eta[i];
    const double b = k == 1 ? -kInf : theta[k - 2] - eta[i];
    const CatDerivs q = cat_derivs(*F, a, b);
    ll[i] = q.q;
    da[i] = q.qa;
    db[i] = q.qb;
  }
  return Rcpp::List::create(Rcpp::Named("loglik") = ll, Rcpp::Named("d_upper") = da,
                            Rcpp::Named("d_lower") = db);
}
