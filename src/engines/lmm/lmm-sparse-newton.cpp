// The several-term LMM's Newton search and its standard errors' Hessian
// by differences where the exact one is not available
// (R/fit-lmm-sparse.R: lmm_sparse_newton(), the central differences of
// lmm_sparse_loglik_grad()) in one C++ call each. The R loops spent more
// time on their calls, lists and 2 x 2 solves than on the criterion itself
// (a Penicillin ML search: 565 microseconds, of which its 16 evaluations
// took 190). The arithmetic is R's, step for step and in the same order:
// the criterion and gradient formulas of lmm_sparse_deviance() and
// lmm_sparse_objective(), chol() as LAPACK's dpotrf on the upper triangle,
// forwardsolve(t(R), g) and backsolve(R, .) as BLAS dtrsm, sum() accumulated
// in long double, so the search visits the same points and returns the same
// numbers to the bit.
#include "entry/entry-lmm.h"
#include <R_ext/BLAS.h>
#include <R_ext/Lapack.h>
#include <cmath>
#include <vector>
#include "util/progress.h"

#ifndef FCONE
#define FCONE
#endif

namespace {

using glmmgee::LmmSparse;

// The profiled criterion (lmm_sparse_deviance()) and its gradient in theta
// (lmm_sparse_objective()$gr) at one point; ok = FALSE where R had Inf and NA.
struct LmmPoint {
  bool ok = false;
  double f = R_PosInf;
  Eigen::VectorXd g;
  glmmgee::LmmPls r;  // the criterion's pieces there (for the final list)
};

// The gradient at `pt` (whose evaluation must be the engine's last) by
// selected inversion (LmmSparse::gradient_sparse()).
void point_gradient(LmmSparse& eng, const Eigen::VectorXd& th, int n, int p, bool reml,
                    LmmPoint& pt) {
  glmmgee::LmmGrad gr = eng.gradient_sparse(th, pt.r);
  const long k = th.size();
  pt.g.resize(k);
  const double c = (double)(reml ? n - p : n) / pt.r.pwrss;
  for (long i = 0; i < k; ++i) pt.g[i] = (gr.ldL2[i] + (reml ? gr.ldRX2[i] : 0.0)) + c * gr.pwrss[i];
}

// The same gradient from the exact Hessian's first derivatives at that
// point (LmmSparse::hessian() forms them on the way): the Newton search
// computes the Hessian at every point it accepts, so the selected
// inversion there would be spent twice (it was a third of the search on a
// crossed 40 x 30 design).
void hessian_gradient(const glmmgee::LmmHess& eh, int n, int p, bool reml, LmmPoint& pt) {
  const long k = eh.g_ld.size();
  pt.g.resize(k);
  const double c = (double)(reml ? n - p : n) / pt.r.pwrss;
  for (long i = 0; i < k; ++i) pt.g[i] = eh.g_ld[i] + c * eh.g_q[i];
}

LmmPoint lmm_point(LmmSparse& eng, const Eigen::VectorXd& th, int n, int p, double logw,
                   bool reml, bool with_grad = true) {
  Rcpp::checkUserInterrupt();
  LmmPoint out;
  glmmgee::LmmPls r = eng.evaluate(th);
  if (!r.ok) return out;
  if (reml)
    out.f = r.ldL2 + r.ldRX2 + (double)(n - p) * (1.0 + std::log(2.0 * M_PI * r.pwrss / (double)(n - p))) -
            logw;
  else
    out.f = r.ldL2 + (double)n * (1.0 + std::log(2.0 * M_PI * r.pwrss / (double)n)) - logw;
  out.ok = true;
  glmmgee::progress_tick(-out.f / 2.0);  // R/progress.R: the (restricted) log-likelihood
  out.r = std::move(r);
  if (with_grad) point_gradient(eng, th, n, p, reml, out);
  return out;
}

bool all_finite(const Eigen::VectorXd& v) {
  for (long i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

double max_abs(const Eigen::VectorXd& v) {
  double m = R_NegInf;
  for (long i = 0; i < v.size(); ++i) m = std::max(m, std::fabs(v[i]));
  return m;
}

// -backsolve(R, forwardsolve(t(R), g)) with R = chol(H), as R computes it;
// false where chol() fails (H not positive definite).
bool newton_direction(const std::vector<double>& H, int k, const Eigen::VectorXd& g,
                      Eigen::VectorXd& d) {
  std::vector<double> R(H);
  for (int j = 0; j < k; ++j)
    for (int i = j + 1; i < k; ++i) R[i + (size_t)k * j] = 0.0;
  int info = 0;
  F77_CALL(dpotrf)("U", &k, R.data(), &k, &info FCONE);
  if (info != 0) return false;
  std::vector<double> Rt((size_t)k * k);
  for (int j = 0; j < k; ++j)
    for (int i = 0; i < k; ++i) Rt[i + (size_t)k * j] = R[j + (size_t)k * i];
  std::vector<double> x(g.data(), g.data() + k);
  const double one = 1.0;
  const int ncb = 1;
  F77_CALL(dtrsm)("L", "L", "N", "N", &k, &ncb, &one, Rt.data(), &k, x.data(), &k
                  FCONE FCONE FCONE FCONE);
  F77_CALL(dtrsm)("L", "U", "N", "N", &k, &ncb, &one, R.data(), &k, x.data(), &k
                  FCONE FCONE FCONE FCONE);
  d.resize(k);
  for (int i = 0; i < k; ++i) d[i] = -x[i];
  return true;
}

// The exact derivatives of the criterion's pieces (LmmSparse::hessian())
// as an R list; NULL where they are not available.
SEXP hessian_list(const glmmgee::LmmHess& h, const glmmgee::LmmPls& r) {
  if (!h.ok) return R_NilValue;
  return Rcpp::List::create(Rcpp::Named("ldL2") = r.ldL2, Rcpp::Named("ldRX2") = r.ldRX2,
                            Rcpp::Named("pwrss") = r.pwrss, Rcpp::Named("g_ld") = h.g_ld,
                            Rcpp::Named("g_q") = h.g_q, Rcpp::Named("h_ld") = h.h_ld,
                            Rcpp::Named("h_q") = h.h_q);
}

}  // namespace

// lmm_sparse_newton()'s search (see there): from `start`, Newton steps with
// the exact Hessian (LmmSparse::hessian(), where M's blocks hold at most
// `max_work` entries; max_work = 0: never) or else forward differences of
// the exact gradient, halved until the criterion decreases, ending after a
// step whose largest component is below 1e-7 (with the exact Hessian:
// at the point where the Newton step is below 1e-7, that step not taken;
// see below). ok = FALSE where the R search returned NULL (it gives up);
// otherwise the end point, its criterion, the iterations, the C++
// evaluations, the last Newton step's largest component, the largest
// gradient, cpp_lmmsp_final()'s list at the end point (`final`; NULL where
// a last step of the differences' search was not taken), and with the
// exact Hessian its pieces there (`hessian`, for the standard errors; NULL
// where the blocks are too large).
Rcpp::List glmmgee_exports::lmmsp_newton(SEXP ptr, Eigen::Map<Eigen::VectorXd> start,
                            Rcpp::NumericVector lower, Rcpp::NumericVector floor, int n, int p,
                            double logw, bool reml, int maxit, int budget, double max_work) {
  LmmSparse& eng = glmmgee::lmm_checked(ptr, start);
  const int k = (int)start.size();
  if (lower.size() != k || floor.size() != k)
    Rcpp::stop("'lower' and 'floor' must have %d entries", k);
  const Rcpp::List fail = Rcpp::List::create(Rcpp::Named("ok") = false);
  Eigen::VectorXd th = start;
  // With the exact Hessian each accepted point's gradient comes from it
  // (hessian_gradient()); otherwise from selected inversion at once.
  const bool exact = max_work > 0.0;
  LmmPoint cur = lmm_point(eng, th, n, p, logw, reml, !exact);
  int ncall = 1;
  if (!std::isfinite(cur.f) || !cur.ok) return fail;
  std::vector<double> H((size_t)k * k), h(k);
  Eigen::VectorXd d, tn(k);
  for (int it = 1; it <= maxit; ++it) {
    if (ncall + k + 8 > budget) return fail;
    for (int j = 0; j < k; ++j)
      if (std::isfinite(lower[j]) && th[j] < lower[j] + floor[j]) return fail;
    // The exact Hessian at the current point, whose factor the engine
    // holds (its evaluation was the last); forward differences of the
    // gradient where M's blocks are too large for it.
    glmmgee::LmmHess eh;
    if (exact) eh = eng.hessian(th, cur.r, reml, max_work);
    if (eh.ok && cur.g.size() == 0) hessian_gradient(eh, n, p, reml, cur);
    if (cur.g.size() == 0) point_gradient(eng, th, n, p, reml, cur);
    if (!all_finite(cur.g)) return fail;
    if (eh.ok) {
      const double q = cur.r.pwrss, df = (double)(reml ? n - p : n);
      for (int j = 0; j < k; ++j)
        for (int i = 0; i < k; ++i)
          H[i + (size_t)k * j] = eh.h_ld(i, j) + df * (eh.h_q(i, j) / q - eh.g_q[i] * eh.g_q[j] / (q * q));
    } else {
      for (int j = 0; j < k; ++j) h[j] = 1e-6 * std::max(std::fabs(th[j]), (double)floor[j]);
      for (int j = 0; j < k; ++j) {
        Eigen::VectorXd tj = th;
        tj[j] = th[j] + h[j];
        LmmPoint pj = lmm_point(eng, tj, n, p, logw, reml);
        if (!pj.ok) return fail;  // R: NA columns, then not finite
        for (int i = 0; i < k; ++i) H[i + (size_t)k * j] = (pj.g[i] - cur.g[i]) / h[j];
      }
      ncall += k;
    }
    std::vector<double> Hs((size_t)k * k);
    bool finite = true;
    for (int j = 0; j < k; ++j)
      for (int i = 0; i < k; ++i) {
        Hs[i + (size_t)k * j] = (H[i + (size_t)k * j] + H[j + (size_t)k * i]) / 2.0;
        if (!std::isfinite(Hs[i + (size_t)k * j])) finite = false;
      }
    if (!finite || !newton_direction(Hs, k, cur.g, d)) return fail;
    long double s = 0.0;
    for (int i = 0; i < k; ++i) {
      const double gd = cur.g[i] * d[i];
      s += gd;
    }
    const double slope = (double)s;
    const double nstep = max_abs(d);
    const bool small = nstep < 1e-7;
    // With the exact Hessian the search ends here: the point's remaining
    // Newton step is below 1e-7 on the search's scale (the tolerance
    // lmm_sparse_verify() applies to the other routes' ends), so it is
    // within about that distance of the optimum, and its gradient, exact
    // Hessian (the standard errors', exact at the estimates) and factor
    // (the final list's) are at hand. Taking that step as well cost one
    // evaluation and one more exact Hessian (a sixth of a crossed 40 x 30
    // REML fit's engine work) for a change below 1e-7 in theta and of
    // about g'H^{-1}g / 2 (below 1e-12 on the benches) in the criterion.
    if (small && eh.ok) {
      const Rcpp::List fin = glmmgee::lmm_final_list(eng, th, cur.r);
      const Rcpp::RObject hes = hessian_list(eh, cur.r);
      return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("theta") = th,
                                Rcpp::Named("objective") = cur.f, Rcpp::Named("iterations") = it,
                                Rcpp::Named("evaluations") = ncall, Rcpp::Named("nstep") = nstep,
                                Rcpp::Named("gmax") = max_abs(cur.g), Rcpp::Named("final") = fin,
                                Rcpp::Named("hessian") = hes);
    }
    double a = 1.0;
    bool taken = true;
    LmmPoint pn;
    for (;;) {
      bool out = false;
      for (int i = 0; i < k; ++i) {
        tn[i] = th[i] + a * d[i];
        if (std::isfinite(lower[i]) && tn[i] < lower[i]) out = true;
      }
      if (out) {
        a = a / 2.0;
        if (a < 1e-3) return fail;
        continue;
      }
      pn = lmm_point(eng, tn, n, p, logw, reml, !exact);
      ++ncall;
      if (std::isfinite(pn.f) && pn.f <= cur.f + 1e-4 * a * slope) break;
      if (small) {
        taken = false;
        break;
      }
      a = a / 2.0;
      if (a < 1e-3) return fail;
    }
    if (taken) {
      if (!pn.ok) return fail;
      th = tn;
      cur = std::move(pn);
    }
    if (!small) continue;
    // The end of the differences' search (the exact Hessian was not
    // available). The engine's factor is the end point's when the last step
    // was taken (its evaluation was the last): cpp_lmmsp_final()'s list
    // from it saves the fit that evaluation again (NULL otherwise).
    if (cur.g.size() == 0) point_gradient(eng, th, n, p, reml, cur);
    if (!all_finite(cur.g)) return fail;
    const Rcpp::RObject fin = taken ? (SEXP)glmmgee::lmm_final_list(eng, th, cur.r) : R_NilValue;
    return Rcpp::List::create(Rcpp::Named("ok") = true, Rcpp::Named("theta") = th,
                              Rcpp::Named("objective") = cur.f, Rcpp::Named("iterations") = it,
                              Rcpp::Named("evaluations") = ncall, Rcpp::Named("nstep") = nstep,
                              Rcpp::Named("gmax") = max_abs(cur.g), Rcpp::Named("final") = fin,
                              Rcpp::Named("hessian") = R_NilValue);
  }
  return fail;
}

// The standard errors' Hessian by differences, where the exact one
// (cpp_lmmsp_hessian()) is not available: of the (restricted) log-likelihood with
// sigma free at x0 = (Lambda's entries on the user's scale, log sigma):
// for each parameter j in `which` (1-based), the central difference
// (grad(x0 + h_j e_j) - grad(x0 - h_j e_j)) / (2 h_j) of
// lmm_sparse_loglik_grad() (see there for the formula; NA where the
// criterion fails at a point), one column per j, as R computed it.
Rcpp::NumericMatrix glmmgee_exports::lmmsp_loglik_hessian(SEXP ptr, Rcpp::NumericVector x0,
                                             Rcpp::NumericVector h, Rcpp::IntegerVector which,
                                             Rcpp::NumericVector scale, int n, int p, bool reml) {
  const int k = (int)x0.size();
  if (k < 1 || h.size() != k || scale.size() != k - 1)
    Rcpp::stop("'h' must have %d entries and 'scale' %d", k, k - 1);
  Rcpp::XPtr<LmmSparse> xp(ptr);
  if (!xp) Rcpp::stop("the LMM criterion pointer is no longer valid");
  LmmSparse& eng = *xp;
  if (eng.ntheta() != k - 1)
    Rcpp::stop("the model has %d covariance parameters, not %d", eng.ntheta(), k - 1);
  const int df = reml ? n - p : n;
  auto grad = [&](const std::vector<double>& par, std::vector<double>& out) {
    Rcpp::checkUserInterrupt();
    const double s = std::exp(par[k - 1]);
    Eigen::VectorXd th(k - 1);
    for (int i = 0; i < k - 1; ++i) th[i] = par[i] * scale[i] / s;
    glmmgee::LmmPls r = eng.evaluate(th);
    out.assign(k, NA_REAL);
    if (!r.ok) return;
    glmmgee::LmmGrad g = eng.gradient_sparse(th, r);
    const double s2 = s * s;
    long double acc = 0.0;
    for (int i = 0; i < k - 1; ++i) {
      const double gth = -0.5 * ((g.ldL2[i] + (reml ? g.ldRX2[i] : 0.0)) + g.pwrss[i] / s2);
      out[i] = gth * scale[i] / s;
      const double gt = gth * th[i];
      acc += gt;
    }
    out[k - 1] = ((double)(-df) + r.pwrss / s2) - (double)acc;
  };
  Rcpp::NumericMatrix Hc(k, which.size());
  std::vector<double> xp_(k), xm(k), gp, gm;
  for (int c = 0; c < which.size(); ++c) {
    const int j = which[c] - 1;
    if (j < 0 || j >= k) Rcpp::stop("'which' must lie in 1..%d", k);
    for (int i = 0; i < k; ++i) {
      const double e = i == j ? h[j] : 0.0;
      xp_[i] = x0[i] + e;
      xm[i] = x0[i] - e;
    }
    grad(xp_, gp);
    grad(xm, gm);
    for (int i = 0; i < k; ++i) Hc(i, c) = (gp[i] - gm[i]) / (2.0 * h[j]);
  }
  return Hc;
}

// At relative factor theta: the exact first and second derivatives in
// theta of ld (log|M|, plus log|RX'RX| with reml = TRUE) and of pwrss
// (lmm-sparse-hessian.cpp), with the pieces themselves; NULL where M's
// connected blocks hold more than `max_work` entries in all, or the
// criterion fails there.
SEXP glmmgee_exports::lmmsp_hessian(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool reml, double max_work) {
  LmmSparse& eng = glmmgee::lmm_checked(ptr, theta);
  Rcpp::checkUserInterrupt();
  const Eigen::VectorXd th = theta;
  glmmgee::LmmPls r = eng.evaluate(th);
  if (!r.ok) return R_NilValue;
  return hessian_list(eng.hessian(th, r, reml, max_work), r);
}
