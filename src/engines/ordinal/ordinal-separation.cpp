// The certificate that a cumulative link model's maximum likelihood
// estimate exists (R/separation-ordinal.R has the argument): the rows of
// the stacked existence problem are
//   cut y_i (where y_i < J):      (e_{y_i}, -x_i),   weight u = f(a_i) / p_i,
//   cut y_i - 1 (where y_i > 1):  (-e_{y_i-1}, x_i), weight u = f(b_i) / p_i,
// with a_i = theta_{y_i} - eta_i, b_i = theta_{y_i-1} - eta_i and p_i the
// category's probability; x_i centred and scaled here (column means and
// standard deviations). With A those rows, g = A'u and G = A'A, the
// corrected weights u - A G^{-1} g satisfy A'u = 0; when they are all
// positive no direction separates the data (Gordan's theorem). One pass
// over the data for g and G, one for the corrected weights: no copy of X.
#include <RcppEigen.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>
#include "families/cum-link.h"
#include "entry/entry-ordinal.h"

namespace {

// F(x) and f(x) of the latent distribution (link codes as in cum-link.h),
// one exponential or normal tail each: the certificate needs positive
// weights, not precise ones (any u > 0 corrected to A'u = 0 proves
// existence), so the log-space care of cat_derivs() is kept for the rare
// observation whose category probability underflows here.
inline void cdf_density(int link, double x, double& F, double& f) {
  if (std::isinf(x)) {
    F = x > 0 ? 1.0 : 0.0;
    f = 0.0;
    return;
  }
  switch (link) {
    case 0: {
      const double e = std::exp(-std::fabs(x)), d = 1 + e;
      F = x >= 0 ? 1 / d : e / d;
      f = e / (d * d);
      return;
    }
    case 1:
      F = R::pnorm(x, 0.0, 1.0, 1, 0);
      f = R::dnorm(x, 0.0, 1.0, 0);
      return;
    default: {
      const double e = std::exp(x);
      F = -std::expm1(-e);
      f = std::exp(x - e);
      return;
    }
  }
}

}  // namespace

double glmmgee_exports::ordinal_certificate(const Rcpp::IntegerVector& y, const Rcpp::NumericMatrix& X,
                               const Rcpp::NumericVector& eta, const Rcpp::NumericVector& theta,
                               int link) {
  using namespace glmmgee;
  const int n = y.size(), p = X.ncol(), k1 = theta.size(), J = k1 + 1, P = k1 + p;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (X.nrow() != n || eta.size() != n || k1 < 1) Rcpp::stop("cpp_ordinal_certificate: sizes differ");
  std::unique_ptr<CumLink> F = make_cum_link(link);
  if (!F) Rcpp::stop("cpp_ordinal_certificate: unknown link code");
  for (int i = 0; i < n; ++i)
    if (y[i] < 1 || y[i] > J) Rcpp::stop("cpp_ordinal_certificate: a category outside 1..J");
  if (n < 2) return nan;
  // Column means and standard deviations (two passes: x + 1e8 loses no digits).
  std::vector<double> ctr(p, 0.0), scl(p, 0.0);
  for (int j = 0; j < p; ++j) {
    const double* xj = &X(0, j);
    double s = 0;
    for (int i = 0; i < n; ++i) s += xj[i];
    ctr[j] = s / n;
    double ss = 0;
    for (int i = 0; i < n; ++i) ss += (xj[i] - ctr[j]) * (xj[i] - ctr[j]);
    scl[j] = std::sqrt(ss / (n - 1));
    if (!(scl[j] > 0) || !std::isfinite(scl[j])) scl[j] = 1;
  }
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> uu(n), ul(n), xs(p);
  Eigen::MatrixXd G = Eigen::MatrixXd::Zero(P, P);
  Eigen::VectorXd g = Eigen::VectorXd::Zero(P);
  double umax = 0;
  for (int i = 0; i < n; ++i) {
    const int c = y[i];
    const double a = c < J ? theta[c - 1] - eta[i] : inf;
    const double b = c > 1 ? theta[c - 2] - eta[i] : -inf;
    double Fa, fa, Fb, fb;
    cdf_density(link, a, Fa, fa);
    cdf_density(link, b, Fb, fb);
    const double pr = Fa - Fb;
    if (pr > 1e-8) {
      uu[i] = fa / pr;
      ul[i] = fb / pr;
    } else {
      const CatDerivs d = cat_derivs(*F, a, b, false);
      uu[i] = d.qa;
      ul[i] = -d.qb;
    }
    if (!std::isfinite(uu[i]) || !std::isfinite(ul[i])) return nan;
    umax = std::max(umax, std::max(uu[i], ul[i]));
    for (int j = 0; j < p; ++j) xs[j] = (X(i, j) - ctr[j]) / scl[j];
    // Both rows at once: the threshold entries are +1 at cut c (upper row)
    // and -1 at cut c - 1 (lower row); the covariates -x (upper), +x (lower).
    const int rows = (c < J) + (c > 1);
    if (c < J) {
      G(c - 1, c - 1) += 1;
      g[c - 1] += uu[i];
      for (int j = 0; j < p; ++j) G(c - 1, k1 + j) -= xs[j];
    }
    if (c > 1) {
      G(c - 2, c - 2) += 1;
      g[c - 2] -= ul[i];
      for (int j = 0; j < p; ++j) G(c - 2, k1 + j) -= xs[j];
    }
    const double net = ul[i] - uu[i];
    for (int j = 0; j < p; ++j) {
      g[k1 + j] += net * xs[j];
      for (int l = 0; l <= j; ++l) G(k1 + j, k1 + l) += rows * xs[j] * xs[l];
    }
  }
  if (!(umax > 0)) return nan;
  for (int j = 0; j < p; ++j) {
    for (int l = 0; l < j; ++l) G(k1 + l, k1 + j) = G(k1 + j, k1 + l);
    for (int k = 0; k < k1; ++k) G(k1 + j, k) = G(k, k1 + j);
  }
  Eigen::LLT<Eigen::MatrixXd> llt(G);
  if (llt.info() != Eigen::Success) return nan;
  const Eigen::VectorXd dg = Eigen::MatrixXd(llt.matrixL()).diagonal();
  if (!(dg.minCoeff() > 1e-6 * dg.maxCoeff())) return nan;
  const Eigen::VectorXd v = llt.solve(g / umax);
  double lowest = inf;
  for (int i = 0; i < n; ++i) {
    const int c = y[i];
    double xb = 0;
    for (int j = 0; j < p; ++j) xb += (X(i, j) - ctr[j]) / scl[j] * v[k1 + j];
    if (c < J) lowest = std::min(lowest, uu[i] / umax - (v[c - 1] - xb));
    if (c > 1) lowest = std::min(lowest, ul[i] / umax - (xb - v[c - 2]));
  }
  return lowest;
}
