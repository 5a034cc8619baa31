// The search of the one-factor linear mixed model's profiled criterion
// (lmm-onefactor.cpp) in one call: on small data (sleepstudy, 18 clusters)
// one evaluation is a few microseconds and nlminb's round trips through R
// (about 12 microseconds each, 25-30 per fit) cost more than the criterion.
//
// Projected Newton's method (Bertsekas 1982, SIAM J. Control Optim. 20(2),
// 221-246) on theta with lower bounds (0 for Lambda's diagonal, none
// below it): the exact gradient, the Hessian by forward differences of it
// (eigenvalues reflected and floored, so every step is a descent step),
// an entry resting at its bound with a gradient pushing outwards held
// there, the step projected onto the bounds and halved until the deviance
// falls by an Armijo fraction of its predicted decrease; a steepest-descent
// step when the Newton step fails. Converged when the Newton decrement on
// the free entries is below tol * max(1, |deviance|). The caller verifies
// the result (bounds, gradient) and falls back to nlminb when it fails.
#include <Rcpp.h>
#include <RcppEigen.h>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include "lmm-onefactor.h"

// [[Rcpp::depends(RcppEigen)]]

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using glmmgee::lmm1::LmmEval;
using glmmgee::lmm1::Suff;

struct Criterion {
  const Suff& s;
  const Rcpp::IntegerVector& prow;
  const Rcpp::IntegerVector& pcol;
  bool reml;
  int evals = 0;
  LmmEval operator()(const VectorXd& th) {
    ++evals;
    return glmmgee::lmm1::lmm_eval_core(s, th.data(), th.size(), prow, pcol, reml, false);
  }
};

struct NewtonResult {
  VectorXd theta, grad;
  double dev = R_PosInf;
  int iterations = 0, code = 1;
  std::string message;
};

// x projected onto the bounds.
VectorXd project(VectorXd x, const std::vector<bool>& bounded) {
  for (Eigen::Index j = 0; j < x.size(); ++j)
    if (bounded[j] && x[j] < 0) x[j] = 0;
  return x;
}

NewtonResult projected_newton(Criterion& f, VectorXd x, const std::vector<bool>& bounded,
                              int maxit, double tol) {
  NewtonResult res;
  const Eigen::Index k = x.size();
  x = project(x, bounded);
  LmmEval e = f(x);
  if (!e.ok || !std::isfinite(e.dev)) {
    res.theta = x;
    res.message = "criterion not finite at the start";
    return res;
  }
  for (int it = 1; it <= maxit; ++it) {
    Rcpp::checkUserInterrupt();
    // Free entries: all but those at their bound whose gradient pushes out.
    std::vector<Eigen::Index> fr;
    for (Eigen::Index j = 0; j < k; ++j)
      if (!(bounded[j] && x[j] <= 0 && e.grad[j] > 0)) fr.push_back(j);
    const Eigen::Index nf = fr.size();
    if (nf == 0) { res.code = 0; res.message = "every entry at its bound"; break; }
    VectorXd gf(nf);
    for (Eigen::Index a = 0; a < nf; ++a) gf[a] = e.grad[fr[a]];
    // Hessian of the free block by forward differences of the exact gradient.
    MatrixXd H(nf, nf);
    bool hok = true;
    for (Eigen::Index b = 0; b < nf && hok; ++b) {
      const double h = 1e-6 * std::max(std::abs(x[fr[b]]), 0.1);
      VectorXd xh = x;
      xh[fr[b]] += h;
      const LmmEval eh = f(xh);
      if (!eh.ok || !eh.grad.allFinite()) { hok = false; break; }
      for (Eigen::Index a = 0; a < nf; ++a) H(a, b) = (eh.grad[fr[a]] - gf[a]) / h;
    }
    VectorXd d(nf);
    MatrixXd Hs;
    if (hok && H.allFinite()) {
      Hs = (H + H.transpose()) / 2.0;
      Eigen::SelfAdjointEigenSolver<MatrixXd> es(Hs);
      VectorXd lam = es.eigenvalues().cwiseAbs();
      const double floor = 1e-8 * std::max(lam.maxCoeff(), 1e-8);
      for (Eigen::Index a = 0; a < nf; ++a) lam[a] = std::max(lam[a], floor);
      d = -es.eigenvectors() * (es.eigenvectors().transpose() * gf).cwiseQuotient(lam);
    } else {
      d = -gf;
    }
    const double dec = -gf.dot(d);
    if (!std::isfinite(dec)) { res.message = "Newton step not finite"; break; }
    if (dec < tol * std::max(1.0, std::abs(e.dev))) {
      // A variance at its bound with a flat gradient and negative curvature
      // there is a saddle, not the optimum: left to the caller's fallback.
      bool saddle = Hs.size() == 0;
      for (Eigen::Index a = 0; a < nf && !saddle; ++a)
        saddle = bounded[fr[a]] && x[fr[a]] <= 0 && Hs(a, a) < 0;
      res.code = saddle ? 3 : 0;
      res.message = !saddle ? "Newton decrement below tolerance"
                    : Hs.size() ? "flat gradient and negative curvature at a bound"
                                : "no Hessian at the last step";
      break;
    }
    // Backtracking along the projected path; then once along -gradient.
    bool moved = false;
    for (int pass = 0; pass < 2 && !moved; ++pass) {
      if (pass == 1) d = -gf / std::max(1.0, gf.cwiseAbs().maxCoeff());
      double t = 1.0;
      for (int ls = 0; ls < 40; ++ls, t /= 2) {
        VectorXd xn = x;
        for (Eigen::Index a = 0; a < nf; ++a) xn[fr[a]] += t * d[a];
        xn = project(xn, bounded);
        const VectorXd dx = xn - x;
        const double pred = e.grad.dot(dx);
        if (!(pred < 0)) continue;
        const LmmEval en = f(xn);
        if (en.ok && std::isfinite(en.dev) && en.grad.allFinite() &&
            en.dev <= e.dev + 1e-4 * pred) {
          x = xn;
          e = en;
          moved = true;
          break;
        }
      }
    }
    res.iterations = it;
    if (!moved) { res.message = "no step lowers the criterion"; break; }
  }
  if (res.code != 0 && res.message.empty()) res.message = "iteration limit reached";
  res.theta = x;
  res.grad = e.grad;
  res.dev = e.dev;
  return res;
}

}  // namespace

// Minimizes the one-factor (RE)ML criterion over theta (entries at
// prow/pcol, 0-based) from `start`, entries with `bounded` kept >= 0.
// Returns nlminb's fields the caller reads: par, objective, convergence
// (0: the Newton decrement fell below tol * max(1, |deviance|)), message,
// iterations, evaluations (criterion calls, each with its gradient), and
// the gradient at par.
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_search(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> start,
                          Rcpp::LogicalVector bounded, Rcpp::IntegerVector prow,
                          Rcpp::IntegerVector pcol, bool reml, int maxit, double tol) {
  const Suff s = glmmgee::lmm1::read_suff(suff);
  const Eigen::Index k = start.size();
  if (prow.size() != k || pcol.size() != k || bounded.size() != k)
    Rcpp::stop("lmm search: 'start', 'bounded' and the pattern differ in length");
  if (maxit < 1 || !(tol > 0)) Rcpp::stop("lmm search: 'maxit' and 'tol' must be positive");
  if (!start.allFinite()) Rcpp::stop("lmm search: 'start' must be finite");
  std::vector<bool> bd(k);
  for (Eigen::Index j = 0; j < k; ++j) bd[j] = bounded[j] == TRUE;
  Criterion f{s, prow, pcol, reml};
  const NewtonResult r = projected_newton(f, start, bd, maxit, tol);
  return Rcpp::List::create(
      Rcpp::_["par"] = r.theta, Rcpp::_["objective"] = r.dev,
      Rcpp::_["convergence"] = r.code, Rcpp::_["message"] = r.message,
      Rcpp::_["iterations"] = r.iterations,
      Rcpp::_["evaluations"] = Rcpp::IntegerVector::create(Rcpp::_["function"] = f.evals,
                                                           Rcpp::_["gradient"] = f.evals),
      Rcpp::_["gradient"] = r.grad.size() ? Rcpp::wrap(r.grad) : Rcpp::wrap(Rcpp::NumericVector(k, NA_REAL)));
}
