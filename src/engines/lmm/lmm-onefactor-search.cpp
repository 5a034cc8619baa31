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
#include "engines/lmm/lmm-onefactor.h"
#include "util/resources.h"
#include "entry/entry-lmm.h"

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
                              int maxit, double tol, bool polish,
                              const VectorXd* alt = nullptr) {
  NewtonResult res;
  const Eigen::Index k = x.size();
  x = project(x, bounded);
  LmmEval e = f(x);
  // `alt`: a second start (the identity), taken instead when its criterion
  // is lower; the search from it is then the plain one (no polish), step
  // for step the search that starts there without `alt`.
  if (alt) {
    const VectorXd xa = project(*alt, bounded);
    const LmmEval ea = f(xa);
    if (ea.ok && std::isfinite(ea.dev) && (!e.ok || !std::isfinite(e.dev) || ea.dev < e.dev)) {
      x = xa;
      e = ea;
      polish = false;
    }
  }
  if (!e.ok || !std::isfinite(e.dev)) {
    res.theta = x;
    res.message = "criterion not finite at the start";
    return res;
  }
  MatrixXd Hprev;                       // the last Hessian made, and its
  std::vector<Eigen::Index> frprev;     // free entries
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
    // The step from the symmetrized Hessian Hs: eigenvalues reflected and
    // floored.
    auto newton_step = [&](const MatrixXd& Hsym) {
      Eigen::SelfAdjointEigenSolver<MatrixXd> es(Hsym);
      VectorXd lam = es.eigenvalues().cwiseAbs();
      const double floor = 1e-8 * std::max(lam.maxCoeff(), 1e-8);
      for (Eigen::Index a = 0; a < nf; ++a) lam[a] = std::max(lam[a], floor);
      return VectorXd(-es.eigenvectors() * (es.eigenvectors().transpose() * gf).cwiseQuotient(lam));
    };
    // With `polish`, the last iteration's Hessian first (same free entries):
    // when the decrement it gives already passes the test, the search ends
    // there without the k evaluations of a new one (they only confirmed the
    // test and gave the last step, which the previous Hessian gives to
    // within its change over one step near the optimum).
    bool reuse = false;
    VectorXd d(nf);
    MatrixXd Hs;
    if (polish && Hprev.rows() == nf && frprev == fr) {
      const VectorXd dp = newton_step(Hprev);
      const double decp = -gf.dot(dp);
      if (std::isfinite(decp) && decp < tol * std::max(1.0, std::abs(e.dev))) {
        reuse = true;
        d = dp;
        Hs = Hprev;
      }
    }
    // Hessian of the free block by forward differences of the exact gradient.
    MatrixXd H(nf, nf);
    bool hok = !reuse;
    for (Eigen::Index b = 0; b < nf && hok; ++b) {
      const double h = 1e-6 * std::max(std::abs(x[fr[b]]), 0.1);
      VectorXd xh = x;
      xh[fr[b]] += h;
      const LmmEval eh = f(xh);
      if (!eh.ok || !eh.grad.allFinite()) { hok = false; break; }
      for (Eigen::Index a = 0; a < nf; ++a) H(a, b) = (eh.grad[fr[a]] - gf[a]) / h;
    }
    if (reuse) {
      // d and Hs from the previous Hessian.
    } else if (hok && H.allFinite()) {
      Hs = (H + H.transpose()) / 2.0;
      d = newton_step(Hs);
      Hprev = Hs;
      frprev = fr;
    } else {
      d = -gf;
      Hprev.resize(0, 0);
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
      // `polish`: the Newton step whose decrement passed the test is taken
      // too (one evaluation; the Hessian is the one just made) when it
      // lowers the criterion, or when it halves the gradient and leaves
      // the criterion within 10 tol * |deviance|. The decrement test stops
      // up to tol * |deviance| short of the optimum wherever the search
      // came from, and there the criterion's own rounding (1e-11 on
      // sleepstudy, where pwrss cancels against y'y, 1e-10 at 10,000
      // observations) hides the last step's gain; the gradient does not:
      // in Newton's quadratic convergence that step ends within rounding
      // of the stationary point (gradients 1e-4 to 1e-8 fell to 1e-10 to
      // 1e-13), so a search from another start ends there too, not merely
      // within the tolerance.
      if (polish && !saddle && Hs.size() && dec > 0) {
        VectorXd xn = x;
        for (Eigen::Index a = 0; a < nf; ++a) xn[fr[a]] += d[a];
        xn = project(xn, bounded);
        const LmmEval en = f(xn);
        auto gmax = [&](const LmmEval& ev) {
          double g = 0.0;
          for (Eigen::Index a = 0; a < nf; ++a) g = std::max(g, std::abs(ev.grad[fr[a]]));
          return g;
        };
        if (en.ok && std::isfinite(en.dev) && en.grad.allFinite() &&
            (en.dev < e.dev ||
             (en.dev <= e.dev + 10.0 * tol * std::max(1.0, std::abs(e.dev)) &&
              gmax(en) < 0.5 * gmax(e)))) {
          x = xn;
          e = en;
        }
      }
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

// A start for the search from the per-cluster sums by moments, in the
// spirit of the classical within-cluster estimators: beta by least squares
// without random effects, then per cluster the least-squares fit of its
// residuals on Z, b_i = S_i^-1 c_i (c_i = g_i - F_i beta), whose second
// moment is about D + s2 S_i^-1; s2 from the residual sum of squares left
// within the clusters, D = mean(b_i b_i') - s2 mean(S_i^-1), kept to the
// pattern's blocks, and theta = chol(D) / sqrt(s2) at the pattern's
// entries. Clusters whose S_i is (nearly) singular are left out. Empty
// when it fails (no residual degrees of freedom, s2 or D not positive):
// the caller then starts from the identity as before. From this start
// (with the polishing step, the reused Hessian and the identity's one
// evaluation for comparison) the search takes 11-12 criterion evaluations
// where it took 20-44 from the identity on sleepstudy and on simulated
// (x | g) fits with 1,000 clusters, 17 instead of 231 on sleepstudy's
// (poly(Days, 2) | Subject).
Rcpp::NumericVector glmmgee_exports::lmm_moment_start(Rcpp::List suff, Rcpp::IntegerVector prow,
                                         Rcpp::IntegerVector pcol) {
  const Suff s = glmmgee::lmm1::read_suff(suff);
  const Eigen::Index k = prow.size();
  if (pcol.size() != k) Rcpp::stop("lmm start: the pattern's rows and columns differ in length");
  const int q = s.q, p = s.p, M = s.M;
  for (Eigen::Index j = 0; j < k; ++j)
    if (prow[j] < 0 || prow[j] >= q || pcol[j] < 0 || pcol[j] > prow[j])
      Rcpp::stop("lmm start: pattern outside the lower triangle");
  const Rcpp::NumericVector none(0);
  Eigen::LLT<MatrixXd> xx(s.XtX);
  if (xx.info() != Eigen::Success) return none;
  const VectorXd beta = xx.solve(s.Xty);
  const double rss = s.yty - 2.0 * beta.dot(s.Xty) + beta.dot(s.XtX * beta);
  // The cancelling formula is only trusted well above its rounding.
  if (!(rss > 1e-8 * s.yty)) return none;
  MatrixXd B = MatrixXd::Zero(q, q), Sinv = MatrixXd::Zero(q, q), Si(q, q), I = MatrixXd::Identity(q, q);
  VectorXd c(q), b(q);
  double within = 0.0;
  int used = 0;
  Eigen::LLT<MatrixXd> llt(q);
  glmmgee::InterruptPoll ip;
  for (int i = 0; i < M; ++i) {
    if ((i & 0x3FFF) == 0 && ip.poll()) ip.raise_if_interrupted();
    Si = Eigen::Map<const MatrixXd>(s.S.col(i).data(), q, q);
    llt.compute(Si);
    if (llt.info() != Eigen::Success) continue;
    const MatrixXd& L = llt.matrixLLT();
    bool ok = true;
    for (int a = 0; a < q && ok; ++a) ok = L(a, a) * L(a, a) > 1e-8 * Si(a, a) && Si(a, a) > 0;
    if (!ok) continue;
    c = s.g.col(i);
    c.noalias() -= Eigen::Map<const MatrixXd>(s.F.col(i).data(), q, p) * beta;
    b = llt.solve(c);
    B.noalias() += b * b.transpose();
    Sinv += llt.solve(I);
    within += c.dot(b);
    ++used;
  }
  const double df = s.n - p - static_cast<double>(used) * q;
  if (used < q + 1 || !(df > 0)) return none;
  const double s2 = (rss - within) / df;
  if (!(s2 > 0) || !std::isfinite(s2)) return none;
  MatrixXd D = (B - s2 * Sinv) / static_cast<double>(used);
  // Only the pattern's entries (its blocks): the rest of D is zero.
  MatrixXd Dp = MatrixXd::Zero(q, q);
  for (Eigen::Index j = 0; j < k; ++j) {
    Dp(prow[j], pcol[j]) = D(prow[j], pcol[j]);
    Dp(pcol[j], prow[j]) = D(prow[j], pcol[j]);
  }
  Eigen::LLT<MatrixXd> ld(Dp);
  if (ld.info() != Eigen::Success) return none;
  const MatrixXd L = ld.matrixL();
  Rcpp::NumericVector th(k);
  for (Eigen::Index j = 0; j < k; ++j) {
    th[j] = L(prow[j], pcol[j]) / std::sqrt(s2);
    if (!std::isfinite(th[j])) return none;
    if (prow[j] == pcol[j] && !(th[j] > 1e-3)) return none;
  }
  return th;
}

// Minimizes the one-factor (RE)ML criterion over theta (entries at
// prow/pcol, 0-based) from `start`, entries with `bounded` kept >= 0.
// Returns nlminb's fields the caller reads: par, objective, convergence
// (0: the Newton decrement fell below tol * max(1, |deviance|)), message,
// iterations, evaluations (criterion calls, each with its gradient), and
// the gradient at par. `polish`: the last Newton step taken too (see
// projected_newton()). `alt`: a second start, used instead of `start` (and
// then without polish) where the criterion is lower there.
Rcpp::List glmmgee_exports::lmm_search(Rcpp::List suff, Eigen::Map<Eigen::VectorXd> start,
                          Rcpp::LogicalVector bounded, Rcpp::IntegerVector prow,
                          Rcpp::IntegerVector pcol, bool reml, int maxit, double tol,
                          bool polish,
                          Rcpp::NumericVector alt) {
  const Suff s = glmmgee::lmm1::read_suff(suff);
  const Eigen::Index k = start.size();
  if (prow.size() != k || pcol.size() != k || bounded.size() != k)
    Rcpp::stop("lmm search: 'start', 'bounded' and the pattern differ in length");
  if (maxit < 1 || !(tol > 0)) Rcpp::stop("lmm search: 'maxit' and 'tol' must be positive");
  if (!start.allFinite()) Rcpp::stop("lmm search: 'start' must be finite");
  std::vector<bool> bd(k);
  for (Eigen::Index j = 0; j < k; ++j) bd[j] = bounded[j] == TRUE;
  Criterion f{s, prow, pcol, reml};
  if (alt.size() != 0 && alt.size() != k)
    Rcpp::stop("lmm search: 'alt' must be empty or as long as 'start'");
  VectorXd altv;
  if (alt.size()) {
    altv = Rcpp::as<VectorXd>(alt);
    if (!altv.allFinite()) Rcpp::stop("lmm search: 'alt' must be finite");
  }
  const NewtonResult r = projected_newton(f, start, bd, maxit, tol, polish,
                                          alt.size() ? &altv : nullptr);
  return Rcpp::List::create(
      Rcpp::_["par"] = r.theta, Rcpp::_["objective"] = r.dev,
      Rcpp::_["convergence"] = r.code, Rcpp::_["message"] = r.message,
      Rcpp::_["iterations"] = r.iterations,
      Rcpp::_["evaluations"] = Rcpp::IntegerVector::create(Rcpp::_["function"] = f.evals,
                                                           Rcpp::_["gradient"] = f.evals),
      Rcpp::_["gradient"] = r.grad.size() ? Rcpp::wrap(r.grad) : Rcpp::wrap(Rcpp::NumericVector(k, NA_REAL)));
}
