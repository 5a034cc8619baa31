// Marginal log-likelihood of a GLMM with one scalar random intercept whose
// distribution is not normal: bridge (Wang and Louis, 2003) or discrete
// (mass points). See agq-ranef-dist.h.
//
// Bridge: the integral over b is computed by an adaptive rule centred at the
// posterior mode m with the scale s from the curvature there, but with the
// substitution b = m + s sinh(t) and the trapezoidal rule in t. The bridge
// density has exponential tails (log f ~ -phi |b|), where a Gauss-Hermite
// rule converges slowly; after the sinh map every integrand the package
// meets decays double-exponentially in t, and the trapezoidal rule for such
// analytic integrands converges geometrically in 1 / step (Trefethen and
// Weideman, 2014). The nodes are walked outwards until their terms fall
// below exp(-40) of the largest, so the error is set by `step` alone.
//
// The gradient uses Fisher's identity, d log L_i = E[d log p(y_i, b) | y_i],
// with the expectation taken on the same nodes; it is the gradient of the
// exact integral, which the rule matches to its accuracy (~1e-12).
#include "engines/agq/agq-ranef-dist.h"
#include "families/families.h"
#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace glmmgee {

namespace {

const double kPi = 3.141592653589793238462643;

// Log bridge density and its derivatives, stable for large |phi b|:
// with a = |phi b|, e = exp(-a), D = 1 + e^2 + 2 cos(phi pi) e,
// cosh(phi b) + cos(phi pi) = exp(a) D / 2.
struct BridgePrior {
  double phi, c, s, logs;
  explicit BridgePrior(double phi_) : phi(phi_) {
    c = std::cos(phi * kPi);
    s = std::sin(phi * kPi);
    logs = std::log(s);
  }
  // log f, d/db, d2/db2, d/dphi
  void eval(double b, double* out) const {
    const double x = phi * b;
    const double a = std::fabs(x);
    const double sg = x >= 0 ? 1.0 : -1.0;
    const double e = std::exp(-a);
    const double D = 1.0 + e * e + 2.0 * c * e;
    out[0] = logs - std::log(kPi) - a - std::log(D);
    out[1] = -phi * sg * (1.0 - e * e) / D;
    out[2] = -phi * phi * (4.0 * e * e + 2.0 * c * e * (1.0 + e * e)) / (D * D);
    out[3] = kPi * c / s - b * sg * (1.0 - e * e) / D + 2.0 * kPi * s * e / D;
  }
};

// Sum over one cluster's observations of l (with d1 into `d1` when given)
// at linear predictors eta + b. Without d2sum only l and d1 are needed, and
// the family's batch routine computes just those (the quadrature nodes).
double cluster_loglik(const ObsModel& m, const double* y, const double* wt,
                      const double* eta, int n, double b, double* d1, double* d2sum) {
  if (!d2sum && d1) {
    thread_local std::vector<double> shifted;
    shifted.resize(n);
    for (int j = 0; j < n; ++j) shifted[j] = eta[j] + b;
    return m.loglik_d1_n(y, wt, shifted.data(), n, 0.0, d1);
  }
  double l = 0.0, s2 = 0.0;
  for (int j = 0; j < n; ++j) {
    const ObsDerivs o = m.derivs(y[j], wt[j], eta[j] + b, 0.0);
    l += o.l;
    if (d1) d1[j] = o.d1;
    s2 += o.d2;
  }
  if (d2sum) *d2sum = s2;
  return l;
}

double log_sum_exp(const std::vector<double>& v, double mx) {
  double s = 0.0;
  for (double x : v) s += std::exp(x - mx);
  return mx + std::log(s);
}

}  // namespace

DistResult dist_evaluate(const DistData& d, const Eigen::VectorXd& beta, int dist,
                         const Eigen::VectorXd& prior, double step) {
  std::unique_ptr<ObsModel> model = make_obs_model(d.family, d.link);
  if (!model) throw std::invalid_argument("unsupported family/link codes");
  const int n = d.X.rows(), p = d.X.cols();
  const int M = (int)d.start.size() - 1;
  const int K = dist == DIST_DISCRETE ? (int)prior.size() / 2 : 0;
  const int npar = dist == DIST_BRIDGE ? 1 : 2 * K;
  if (dist == DIST_BRIDGE && (prior.size() != 1 || !(prior[0] > 0.0 && prior[0] < 1.0)))
    throw std::invalid_argument("bridge phi must lie in (0, 1)");
  if (!(step > 0.0)) throw std::invalid_argument("step must be positive");

  Eigen::VectorXd eta = d.X * beta;
  for (int i = 0; i < n; ++i) eta[i] += d.offset[i];
  Eigen::VectorXd e = Eigen::VectorXd::Zero(n);   // E[d l / d eta | y] per row
  Eigen::VectorXd gprior = Eigen::VectorXd::Zero(npar);

  DistResult r;
  r.cl_loglik.resize(M); r.mode.resize(M); r.mean.resize(M); r.var.resize(M);
  r.scale = Eigen::VectorXd::Zero(M);
  r.post = Eigen::MatrixXd::Zero(dist == DIST_DISCRETE ? M : 0, K);
  r.mode_failures = 0;
  double total = 0.0;
  for (int i = 0; i < n; ++i) total += model->logconst(d.y[i], d.wt[i]);

  std::vector<double> logp(K), pi(K);
  if (dist == DIST_DISCRETE) {
    double mx = -INFINITY;
    for (int k = 0; k < K; ++k) mx = std::max(mx, prior[K + k]);
    double s = 0.0;
    for (int k = 0; k < K; ++k) s += std::exp(prior[K + k] - mx);
    for (int k = 0; k < K; ++k) { logp[k] = prior[K + k] - mx - std::log(s); pi[k] = std::exp(logp[k]); }
  }
  BridgePrior bp(dist == DIST_BRIDGE ? prior[0] : 0.5);
  std::vector<double> lg, nodes, d1buf;

  for (int i = 0; i < M; ++i) {
    const int a0 = d.start[i], ni = d.start[i + 1] - a0;
    const double* yi = d.y + a0;
    const double* wi = d.wt + a0;
    const double* ei = eta.data() + a0;
    lg.clear(); nodes.clear(); d1buf.clear();
    if (dist == DIST_DISCRETE) {
      d1buf.resize((size_t)ni * K);
      for (int k = 0; k < K; ++k) {
        nodes.push_back(prior[k]);
        lg.push_back(logp[k] + cluster_loglik(*model, yi, wi, ei, ni, prior[k],
                                              d1buf.data() + (size_t)k * ni, nullptr));
      }
    } else {
      // Posterior mode: Newton with a curvature kept positive (the bridge
      // log density is convex in its tails) and step halving.
      double b = 0.0, pr[4], d2 = 0.0;
      bp.eval(b, pr);
      double h = cluster_loglik(*model, yi, wi, ei, ni, b, nullptr, nullptr) + pr[0];
      bool ok = false;
      std::vector<double> g1(ni);
      for (int it = 0; it < 200; ++it) {
        cluster_loglik(*model, yi, wi, ei, ni, b, g1.data(), &d2);
        bp.eval(b, pr);
        double g = pr[1];
        for (int j = 0; j < ni; ++j) g += g1[j];
        const double H = -d2 + std::max(-pr[2], 0.0) + 1e-10;
        double delta = g / H;
        const double cap = 10.0 / bp.phi;
        if (delta > cap) delta = cap;
        if (delta < -cap) delta = -cap;
        double bn = b + delta, hn = -INFINITY;
        for (int half = 0; half < 60; ++half) {
          bp.eval(bn, pr);
          hn = cluster_loglik(*model, yi, wi, ei, ni, bn, nullptr, nullptr) + pr[0];
          if (hn >= h - 1e-12 * (1.0 + std::fabs(h))) break;
          delta *= 0.5;
          bn = b + delta;
        }
        const bool small = std::fabs(bn - b) < 1e-10 * (1.0 + std::fabs(b));
        b = bn; h = hn;
        if (small) { ok = true; break; }
      }
      if (!ok) ++r.mode_failures;
      cluster_loglik(*model, yi, wi, ei, ni, b, nullptr, &d2);
      bp.eval(b, pr);
      double curv = -(d2 + pr[2]);
      if (!(curv > 1e-8)) curv = -d2 + std::max(-pr[2], 0.0) + 1e-8;
      const double s = 1.0 / std::sqrt(curv);
      r.mode[i] = b;
      r.scale[i] = s;
      // Nodes walked outwards from the mode on each side.
      std::vector<double> row(ni);
      auto add = [&](double t) {
        const double bb = b + s * std::sinh(t);
        bp.eval(bb, pr);
        const double l = cluster_loglik(*model, yi, wi, ei, ni, bb, row.data(), nullptr);
        nodes.push_back(bb);
        lg.push_back(l + pr[0] + std::log(s * std::cosh(t) * step));
        d1buf.insert(d1buf.end(), row.begin(), row.end());
        return lg.back();
      };
      double top = add(0.0);
      for (int side = -1; side <= 1; side += 2) {
        for (int j = 1; j * step <= 20.0; ++j) {
          const double v = add(side * j * step);
          top = std::max(top, v);
          if (j * step > 1.0 && v < top - 40.0) break;
        }
      }
    }
    const int nk = (int)lg.size();
    const double mx = *std::max_element(lg.begin(), lg.end());
    const double L = log_sum_exp(lg, mx);
    r.cl_loglik[i] = L;
    total += L;
    double mean = 0.0, best = -INFINITY;
    std::vector<double> w(nk);
    for (int k = 0; k < nk; ++k) {
      w[k] = std::exp(lg[k] - L);
      mean += w[k] * nodes[k];
      for (int j = 0; j < ni; ++j) e[a0 + j] += w[k] * d1buf[(size_t)k * ni + j];
    }
    double var = 0.0;
    for (int k = 0; k < nk; ++k) var += w[k] * (nodes[k] - mean) * (nodes[k] - mean);
    r.mean[i] = mean;
    r.var[i] = var;
    if (dist == DIST_DISCRETE) {
      int arg = 0;
      for (int k = 0; k < K; ++k) {
        r.post(i, k) = w[k];
        if (lg[k] > best) { best = lg[k]; arg = k; }
        double sk = 0.0;
        for (int j = 0; j < ni; ++j) sk += d1buf[(size_t)k * ni + j];
        gprior[k] += w[k] * sk;
        gprior[K + k] += w[k] - pi[k];
      }
      r.mode[i] = prior[arg];
    } else {
      double pr[4];
      for (int k = 0; k < nk; ++k) { bp.eval(nodes[k], pr); gprior[0] += w[k] * pr[3]; }
    }
    if ((i & 1023) == 0) Rcpp::checkUserInterrupt();
  }
  r.loglik = total;
  r.gradient.resize(p + npar);
  r.gradient.head(p) = d.X.transpose() * e;
  r.gradient.tail(npar) = gprior;
  return r;
}

}  // namespace glmmgee
