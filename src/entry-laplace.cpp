// Entry points of the several-term Laplace engines (engines/laplace/):
// laplace_sparse (SparseLaplace) and laplace_sparse_zero_re (SparseTwoPart).
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include <new>
#include "engines/laplace/laplace.h"
#include "engines/laplace/laplace-zero-re.h"
#include "entry/engine-args.h"
#include "entry/entry-laplace.h"

// ---- forwarded to engines/laplace/laplace-start.cpp ----

// [[Rcpp::export]]
Eigen::VectorXd cpp_sparse_glm_start(SEXP ptr, int maxit) {
  return glmmgee_exports::sparse_glm_start(ptr, maxit);
}

// The two-part sparse Laplace engine (laplace-zero-re.h): any random-effect
// terms in each part, independent parts. off: n x 3 offsets of (eta, logit
// zero probability, log dispersion); lam_*: Lambda's pattern over
// (Zc's columns, Zz's columns), 0-based. With kinds 7 and 8 (random effects
// in all three predictors) the first `nsecond` of Zz's columns are the zero
// part's, the others the dispersion part's (-1: all Zz's are the second
// predictor's).
// [[Rcpp::export]]
SEXP cpp_sparse_two_part_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::MatrixXd> Xz,
                    Eigen::Map<Eigen::MatrixXd> Xd, Eigen::MappedSparseMatrix<double> Zc,
                    Eigen::MappedSparseMatrix<double> Zz, Eigen::Map<Eigen::VectorXd> y,
                    Eigen::Map<Eigen::VectorXd> wt, Eigen::Map<Eigen::MatrixXd> off,
                    Rcpp::IntegerVector lam_row, Rcpp::IntegerVector lam_col,
                    Rcpp::IntegerVector lam_k, int ntheta, int family, int link, int kind,
                    int nsecond = -1) {
  glmmgee::check_engine_rows(X.rows(), {Xz.rows(), Xd.rows(), Zc.rows(), Zz.rows(), y.size(),
                                        wt.size(), off.rows()},
                             "X, Xz, Xd, Zc, Zz, y, weights and offsets");
  if (off.cols() != 3) Rcpp::stop("the offsets must have 3 columns");
  if (Zc.cols() + Zz.cols() < 1) Rcpp::stop("the model needs a random effect");
  if (lam_row.size() != lam_col.size() || lam_row.size() != lam_k.size())
    Rcpp::stop("lam_row, lam_col and lam_k must have the same length");
  if (ntheta < 0) Rcpp::stop("ntheta must be a non-negative count");
  try {
    glmmgee::SparseTwoPart::SpMat zc(Zc), zz(Zz);
    glmmgee::SparseTwoPart* eng = new glmmgee::SparseTwoPart(
        X, Xz, Xd, zc, zz, y, wt, off, Rcpp::as<std::vector<int> >(lam_row),
        Rcpp::as<std::vector<int> >(lam_col), Rcpp::as<std::vector<int> >(lam_k), ntheta,
        family, link, kind, nsecond);
    Rcpp::XPtr<glmmgee::SparseTwoPart> p(eng, true);
    p.attr("class") = "glmmgee_sparse_two_part_engine";
    return p;
  } catch (std::bad_alloc&) {
    Rcpp::stop("not enough memory for the two-part sparse engine (its random-effects design and "
               "penalized Hessian); fewer random effects per observation or fewer levels may help");
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
}

static glmmgee::SparseTwoPart* sparse_two_part_ptr(SEXP ptr) {
  Rcpp::XPtr<glmmgee::SparseTwoPart> p(ptr);
  if (!p.get()) Rcpp::stop("the two-part sparse engine is no longer available");
  return p.get();
}

// The Laplace log-likelihood at each column of thetas (P x m): m
// evaluations in one call, for the differences of the gradient.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_sparse_two_part_eval(SEXP ptr, Eigen::Map<Eigen::MatrixXd> thetas) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
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
Rcpp::List cpp_sparse_two_part_grad(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
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
// theta from the last evaluation's modes (SparseTwoPart::fixed_curvature());
// NULL unless that evaluation was made at theta and succeeded.
// [[Rcpp::export]]
SEXP cpp_sparse_two_part_fixed_curvature(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  Eigen::MatrixXd out;
  if (!eng->fixed_curvature(theta, out)) return R_NilValue;
  return Rcpp::wrap(out);
}

// The modes, H^{-1} and H on H's lower pattern and H's smallest eigenvalue
// at theta; with guard = FALSE also where that eigenvalue is below the
// engine's validity bound (for diagnostics; `failed` is then FALSE).
// [[Rcpp::export]]
Rcpp::List cpp_sparse_two_part_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool guard = true) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  glmmgee::SparseTwoPartModes m;
  try {
    m = eng->modes(theta, guard);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  return Rcpp::List::create(Rcpp::Named("u") = m.u, Rcpp::Named("b") = m.b,
                            Rcpp::Named("eta") = m.eta, Rcpp::Named("a") = m.a,
                            Rcpp::Named("phi") = m.phi,
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
Rcpp::List cpp_sparse_two_part_degenerate(SEXP ptr) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
  return Rcpp::List::create(Rcpp::Named("refused") = (double)eng->degenerate(),
                            Rcpp::Named("bound") = glmmgee::SparseTwoPart::kHminTol);
}

// [[Rcpp::export]]
void cpp_sparse_two_part_reset(SEXP ptr) { sparse_two_part_ptr(ptr)->reset(); }

// The inner search's warm start, to keep and put back (SparseTwoPart::warm()).
// [[Rcpp::export]]
Eigen::VectorXd cpp_sparse_two_part_warm(SEXP ptr) { return sparse_two_part_ptr(ptr)->warm(); }

// [[Rcpp::export]]
void cpp_sparse_two_part_set_warm(SEXP ptr, Eigen::Map<Eigen::VectorXd> u) {
  if (!sparse_two_part_ptr(ptr)->set_warm(u))
    Rcpp::stop("cpp_sparse_two_part_set_warm(): 'u' must be finite, of the engine's number of random effects");
}

// The whole state an evaluation leaves for the next (the inner search's
// warm start and the smallest eigenvalue's inverse iteration start), to
// keep and put back (SparseTwoPart::eigvec()).
// [[Rcpp::export]]
Rcpp::List cpp_sparse_two_part_state(SEXP ptr) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
  return Rcpp::List::create(Rcpp::Named("u") = eng->warm(), Rcpp::Named("evec") = eng->eigvec());
}

// [[Rcpp::export]]
void cpp_sparse_two_part_set_state(SEXP ptr, Rcpp::List state) {
  glmmgee::SparseTwoPart* eng = sparse_two_part_ptr(ptr);
  if (!state.containsElementNamed("u") || !state.containsElementNamed("evec"))
    Rcpp::stop("cpp_sparse_two_part_set_state(): 'state' must be a list with 'u' and 'evec'");
  Eigen::VectorXd u = Rcpp::as<Eigen::VectorXd>(state["u"]);
  Eigen::VectorXd v = Rcpp::as<Eigen::VectorXd>(state["evec"]);
  if (!eng->set_warm(u) || !eng->set_eigvec(v))
    Rcpp::stop("cpp_sparse_two_part_set_state(): 'u' and 'evec' must be finite, of the engine's number of random effects");
}

// Z arrives as a dgCMatrix (n x Q); Lambda's pattern as 0-based (row, col,
// parameter) triplets. The pointer lives only while a fit runs.
// [[Rcpp::export]]
SEXP cpp_sparse_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::MappedSparseMatrix<double> Z,
                    Eigen::Map<Eigen::VectorXd> y, Eigen::Map<Eigen::VectorXd> wt,
                    Eigen::Map<Eigen::VectorXd> offset, Rcpp::IntegerVector lam_row,
                    Rcpp::IntegerVector lam_col, Rcpp::IntegerVector lam_k,
                    int ntheta, int family, int link) {
  const long n = X.rows();
  if (Z.rows() != n || y.size() != n || wt.size() != n || offset.size() != n)
    Rcpp::stop("X, Z, y, weights and offset must all have %d rows", (int)n);
  const int Q = (int)Z.cols();
  if (Q < 1) Rcpp::stop("Z needs at least one column");
  const glmmgee::LambdaPattern lam =
      glmmgee_exports::lambda_pattern(lam_row, lam_col, lam_k, ntheta, Q);
  glmmgee::SparseLaplace::RowMat Zr(Z);
  glmmgee::SparseLaplace* eng =
      new glmmgee::SparseLaplace(X, Zr, y, wt, offset, lam, family, link);
  return Rcpp::XPtr<glmmgee::SparseLaplace>(eng, true);
}

static Rcpp::List sparse_result_list(const glmmgee::SparseResult& r) {
  return Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                            Rcpp::Named("gradient") = r.gradient,
                            Rcpp::Named("pirls_iterations") = r.pirls_iterations,
                            Rcpp::Named("failed") = r.pirls_failed);
}

static glmmgee::SparseLaplace* sparse_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::SparseLaplace> p(ptr);
  if (!p) Rcpp::stop("the sparse engine pointer is no longer valid");
  return p.get();
}

// The sparse engine's version of cpp_agq_set_aux().
// [[Rcpp::export]]
int cpp_sparse_set_aux(SEXP ptr, int kind, Eigen::Map<Eigen::MatrixXd> XA,
                       Rcpp::IntegerVector pred, Eigen::Map<Eigen::MatrixXd> aoff) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  std::vector<int> pr(pred.begin(), pred.end());
  eng->set_aux(kind, XA, pr, aoff);
  return eng->npar();
}

// With reuse = TRUE and the gradient asked for, a last evaluation at theta
// made without it is completed (SparseLaplace::evaluate_gradient()).
// [[Rcpp::export]]
Rcpp::List cpp_sparse_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient,
                           bool reuse = false) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  Rcpp::checkUserInterrupt();  // every optimizer step passes here
  return sparse_result_list(gradient && reuse ? eng->evaluate_gradient(theta)
                                              : eng->evaluate(theta, gradient));
}

// The clusters of cluster_gradient() checked at the boundary: theta's
// length, G >= 1, one code per observation and per random effect, each in
// 1..G or NA; returned 0-based (-1 for NA).
static std::vector<int> sparse_cluster_codes(const Rcpp::IntegerVector& v, int G) {
  std::vector<int> out(v.size());
  for (R_xlen_t i = 0; i < v.size(); ++i) {
    if (v[i] == NA_INTEGER) { out[i] = -1; continue; }
    if (v[i] < 1 || v[i] > G) Rcpp::stop("cluster codes must lie in 1..G or be NA");
    out[i] = v[i] - 1;
  }
  return out;
}

static void check_sparse_split(glmmgee::SparseLaplace* eng, const Eigen::Map<Eigen::VectorXd>& theta,
                               const Rcpp::IntegerVector& obs_cl,
                               const Rcpp::IntegerVector& re_cl, int G) {
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  if (G < 1) Rcpp::stop("G must be positive");
  if (obs_cl.size() != eng->nobs() || re_cl.size() != eng->nre())
    Rcpp::stop("obs_cl needs one cluster per observation (%d) and re_cl one per random effect (%d)",
               eng->nobs(), eng->nre());
}

// Each cluster's part of the gradient (SparseLaplace::cluster_gradient()):
// obs_cl one cluster per observation and re_cl one per random effect,
// 1..G, NA for none.
// [[Rcpp::export]]
Eigen::MatrixXd cpp_sparse_cluster_gradient(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta,
                                            Rcpp::IntegerVector obs_cl,
                                            Rcpp::IntegerVector re_cl, int G) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  check_sparse_split(eng, theta, obs_cl, re_cl, G);
  Rcpp::checkUserInterrupt();
  return eng->cluster_gradient(theta, sparse_cluster_codes(obs_cl, G),
                               sparse_cluster_codes(re_cl, G), G);
}

// cpp_sparse_eval() with the gradient and, from the same pass, each
// cluster's part of it ($scores, G x parameters).
// [[Rcpp::export]]
Rcpp::List cpp_sparse_eval_split(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta,
                                 Rcpp::IntegerVector obs_cl, Rcpp::IntegerVector re_cl, int G) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  check_sparse_split(eng, theta, obs_cl, re_cl, G);
  Rcpp::checkUserInterrupt();
  Eigen::MatrixXd per;
  Rcpp::List out = sparse_result_list(eng->evaluate_split(
      theta, sparse_cluster_codes(obs_cl, G), sparse_cluster_codes(re_cl, G), G, per));
  out["scores"] = per;
  return out;
}

// [[Rcpp::export]]
Rcpp::List cpp_sparse_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  glmmgee::SparseModes m = eng->modes(theta);
  if (m.failed) Rcpp::stop("the conditional modes could not be found");
  for (int& i : m.inv_i) ++i;
  for (int& j : m.inv_j) ++j;
  return Rcpp::List::create(Rcpp::Named("u") = m.u, Rcpp::Named("b") = m.b,
                            Rcpp::Named("eta") = m.eta, Rcpp::Named("w") = m.w,
                            Rcpp::Named("logdet") = m.logdet,
                            Rcpp::Named("inv_i") = Rcpp::wrap(m.inv_i),
                            Rcpp::Named("inv_j") = Rcpp::wrap(m.inv_j),
                            Rcpp::Named("inv_x") = Rcpp::wrap(m.inv_x),
                            Rcpp::Named("nnz_factor") = (double)eng->nnz_factor());
}

// [[Rcpp::export]]
Eigen::MatrixXd cpp_sparse_solve(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta,
                                 Eigen::Map<Eigen::MatrixXd> rhs) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta has the wrong length");
  if (rhs.rows() != eng->nre()) Rcpp::stop("rhs must have %d rows", eng->nre());
  return eng->solve(theta, rhs);
}

// Threads for the sparse engine's loops (results do not depend on them);
// returns the number it will use (capped, 1 in a forked child).
// [[Rcpp::export]]
int cpp_sparse_set_threads(SEXP ptr, int nthreads) {
  glmmgee::SparseLaplace* eng = sparse_engine(ptr);
  eng->set_threads(nthreads);
  return eng->threads();
}
