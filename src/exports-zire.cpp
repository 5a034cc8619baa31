// Entry points of the engine for two-part GLMMs with random effects in both
// parts (agq-zire.h): thin wrappers that check sizes at the boundary.
#include <RcppEigen.h>
#include <new>
#include "agq-zire.h"
#include "sparse-zire.h"
#include "engine-args.h"
#include "exports-agq.h"

// [[Rcpp::depends(RcppEigen, BH)]]

// off: n x 3 offsets of (eta, logit zero probability, log dispersion);
// Xd has no columns for a family without dispersion. kind 1 zero-inflated,
// 2 hurdle.
// [[Rcpp::export]]
SEXP cpp_zire_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Zc,
                  Eigen::Map<Eigen::MatrixXd> Zz, Eigen::Map<Eigen::MatrixXd> Xz,
                  Eigen::Map<Eigen::MatrixXd> Xd, Eigen::Map<Eigen::VectorXd> y,
                  Eigen::Map<Eigen::VectorXd> wt, Eigen::Map<Eigen::MatrixXd> off,
                  Rcpp::IntegerVector group, int M, Rcpp::IntegerVector lam_row,
                  Rcpp::IntegerVector lam_col, int family, int link, int kind, int nAGQ,
                  int nthreads) {
  glmmgee::check_engine_rows(X.rows(), {Zc.rows(), Zz.rows(), Xz.rows(), Xd.rows(), y.size(),
                                        wt.size(), off.rows(), group.size()},
                             "X, Zc, Zz, Xz, Xd, y, weights, offsets and group");
  if (off.cols() != 3) Rcpp::stop("the offsets must have 3 columns");
  if (Zc.cols() < 1 || Zz.cols() < 1) Rcpp::stop("both parts need a random effect");
  std::vector<int> lr, lc;
  glmmgee::check_engine_pattern(M, nAGQ, (int)(Zc.cols() + Zz.cols()), lam_row, lam_col, lr, lc);
  try {
    glmmgee::ZireEngine* eng = new glmmgee::ZireEngine(
        X, Zc, Zz, Xz, Xd, y, wt, off, group.begin(), M, lr, lc, family, link, kind, nAGQ,
        nthreads);
    Rcpp::XPtr<glmmgee::ZireEngine> p(eng, true);
    p.attr("class") = "glmmgee_zire_engine";
    return p;
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

static glmmgee::ZireEngine* zire_ptr(SEXP ptr) {
  return glmmgee::engine_at<glmmgee::ZireEngine>(
      ptr, "the two-part GLMM engine is no longer available");
}

// [[Rcpp::export]]
Rcpp::List cpp_zire_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient) {
  return glmmgee::engine_eval(zire_ptr(ptr), theta, gradient);
}

// [[Rcpp::export]]
Rcpp::List cpp_zire_summaries(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_summaries(zire_ptr(ptr), theta);
}

// Curvature in the fixed coefficients of all three predictors at the
// modes, without the log|H| terms (agq-zire-info.cpp): a start matrix for
// the search, rows and columns in the order (beta, gamma, delta).
// [[Rcpp::export]]
Eigen::MatrixXd cpp_zire_fixed_curvature(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  return glmmgee::engine_fixed_curvature(zire_ptr(ptr), theta);
}

// [[Rcpp::export]]
void cpp_zire_set_nagq(SEXP ptr, int nAGQ) {
  glmmgee::engine_nagq(zire_ptr(ptr), nAGQ, true);
}

// The two-part sparse Laplace engine (sparse-zire.h): any random-effect
// terms in each part, independent parts. off: n x 3 offsets of (eta, logit
// zero probability, log dispersion); lam_*: Lambda's pattern over
// (Zc's columns, Zz's columns), 0-based.
// [[Rcpp::export]]
SEXP cpp_spzire_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Xz,
                    Eigen::Map<Eigen::MatrixXd> Xd, Eigen::MappedSparseMatrix<double> Zc,
                    Eigen::MappedSparseMatrix<double> Zz, Eigen::Map<Eigen::VectorXd> y,
                    Eigen::Map<Eigen::VectorXd> wt, Eigen::Map<Eigen::MatrixXd> off,
                    Rcpp::IntegerVector lam_row, Rcpp::IntegerVector lam_col,
                    Rcpp::IntegerVector lam_k, int ntheta, int family, int link, int kind) {
  glmmgee::check_engine_rows(X.rows(), {Xz.rows(), Xd.rows(), Zc.rows(), Zz.rows(), y.size(),
                                        wt.size(), off.rows()},
                             "X, Xz, Xd, Zc, Zz, y, weights and offsets");
  if (off.cols() != 3) Rcpp::stop("the offsets must have 3 columns");
  if (Zc.cols() + Zz.cols() < 1) Rcpp::stop("the model needs a random effect");
  if (lam_row.size() != lam_col.size() || lam_row.size() != lam_k.size())
    Rcpp::stop("lam_row, lam_col and lam_k must have the same length");
  if (ntheta < 0) Rcpp::stop("ntheta must be a non-negative count");
  try {
    glmmgee::SparseZire::SpMat zc(Zc), zz(Zz);
    glmmgee::SparseZire* eng = new glmmgee::SparseZire(
        X, Xz, Xd, zc, zz, y, wt, off, Rcpp::as<std::vector<int> >(lam_row),
        Rcpp::as<std::vector<int> >(lam_col), Rcpp::as<std::vector<int> >(lam_k), ntheta,
        family, link, kind);
    Rcpp::XPtr<glmmgee::SparseZire> p(eng, true);
    p.attr("class") = "glmmgee_spzire_engine";
    return p;
  } catch (std::bad_alloc&) {
    Rcpp::stop("not enough memory for the two-part sparse engine (its random-effects design and "
               "penalized Hessian); fewer random effects per observation or fewer levels may help");
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

static glmmgee::SparseZire* spzire_ptr(SEXP ptr) {
  Rcpp::XPtr<glmmgee::SparseZire> p(ptr);
  if (!p.get()) Rcpp::stop("the two-part sparse engine is no longer available");
  return p.get();
}

// The Laplace log-likelihood at each column of thetas (P x m): m
// evaluations in one call, for the differences of the gradient.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_spzire_eval(SEXP ptr, Eigen::Map<Eigen::MatrixXd> thetas) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  if (thetas.rows() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  Rcpp::NumericVector out(thetas.cols());
  for (int j = 0; j < thetas.cols(); ++j) {
    Rcpp::checkUserInterrupt();
    try {
      out[j] = eng->evaluate(thetas.col(j), nullptr);
    } catch (std::exception& e) {
      Rcpp::stop(e.what());
    }
  }
  return out;
}

// The Laplace log-likelihood and its exact gradient at theta, the inner
// Newton search's iterations for the joint mode and H's smallest
// eigenvalue there (hmin; below the engine's bound the point is refused).
// [[Rcpp::export]]
Rcpp::List cpp_spzire_grad(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  Eigen::VectorXd g;
  double ll;
  int iters = 0;
  try {
    ll = eng->evaluate(theta, &iters, &g);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return Rcpp::List::create(Rcpp::Named("loglik") = ll, Rcpp::Named("gradient") = g,
                            Rcpp::Named("iterations") = iters,
                            Rcpp::Named("hmin") = eng->hmin());
}

// The start curvature in the fixed, zero and dispersion coefficients at
// theta from the last evaluation's modes (SparseZire::fixed_curvature());
// NULL unless that evaluation was made at theta and succeeded.
// [[Rcpp::export]]
SEXP cpp_spzire_fixed_curvature(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  Eigen::MatrixXd out;
  if (!eng->fixed_curvature(theta, out)) return R_NilValue;
  return Rcpp::wrap(out);
}

// The modes, H^{-1} and H on H's lower pattern and H's smallest eigenvalue
// at theta; with guard = FALSE also where that eigenvalue is below the
// engine's validity bound (for diagnostics; `failed` is then FALSE).
// [[Rcpp::export]]
Rcpp::List cpp_spzire_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool guard = true) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  glmmgee::SparseZireModes m;
  try {
    m = eng->modes(theta, guard);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return Rcpp::List::create(Rcpp::Named("u") = m.u, Rcpp::Named("b") = m.b,
                            Rcpp::Named("eta") = m.eta, Rcpp::Named("a") = m.a,
                            Rcpp::Named("inv_i") = Rcpp::wrap(m.inv_i),
                            Rcpp::Named("inv_j") = Rcpp::wrap(m.inv_j),
                            Rcpp::Named("inv_x") = Rcpp::wrap(m.inv_x),
                            Rcpp::Named("h_x") = Rcpp::wrap(m.h_x),
                            Rcpp::Named("hmin") = m.hmin,
                            Rcpp::Named("loglik") = m.loglik, Rcpp::Named("failed") = m.failed);
}

// The number of evaluations the engine refused because H's smallest
// eigenvalue at the mode was below its validity bound, and that bound.
// [[Rcpp::export]]
Rcpp::List cpp_spzire_degenerate(SEXP ptr) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  return Rcpp::List::create(Rcpp::Named("refused") = (double)eng->degenerate(),
                            Rcpp::Named("bound") = glmmgee::SparseZire::kHminTol);
}

// [[Rcpp::export]]
void cpp_spzire_reset(SEXP ptr) { spzire_ptr(ptr)->reset(); }

// The inner search's warm start, to keep and put back (SparseZire::warm()).
// [[Rcpp::export]]
Eigen::VectorXd cpp_spzire_warm(SEXP ptr) { return spzire_ptr(ptr)->warm(); }

// [[Rcpp::export]]
void cpp_spzire_set_warm(SEXP ptr, Eigen::Map<Eigen::VectorXd> u) {
  if (!spzire_ptr(ptr)->set_warm(u))
    Rcpp::stop("cpp_spzire_set_warm(): 'u' must be finite, of the engine's number of random effects");
}

// The whole state an evaluation leaves for the next (the inner search's
// warm start and the smallest eigenvalue's inverse iteration start), to
// keep and put back (SparseZire::eigvec()).
// [[Rcpp::export]]
Rcpp::List cpp_spzire_state(SEXP ptr) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  return Rcpp::List::create(Rcpp::Named("u") = eng->warm(), Rcpp::Named("evec") = eng->eigvec());
}

// [[Rcpp::export]]
void cpp_spzire_set_state(SEXP ptr, Rcpp::List state) {
  glmmgee::SparseZire* eng = spzire_ptr(ptr);
  if (!state.containsElementNamed("u") || !state.containsElementNamed("evec"))
    Rcpp::stop("cpp_spzire_set_state(): 'state' must be a list with 'u' and 'evec'");
  Eigen::VectorXd u = Rcpp::as<Eigen::VectorXd>(state["u"]);
  Eigen::VectorXd v = Rcpp::as<Eigen::VectorXd>(state["evec"]);
  if (!eng->set_warm(u) || !eng->set_eigvec(v))
    Rcpp::stop("cpp_spzire_set_state(): 'u' and 'evec' must be finite, of the engine's number of random effects");
}
