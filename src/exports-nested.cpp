// Entry points of the nested multilevel AGHQ engine (agq-nested.h): thin
// wrappers that check sizes at the boundary and turn C++ errors into R ones.
#include <RcppEigen.h>
#include "agq-nested.h"

// [[Rcpp::depends(RcppEigen, BH)]]

namespace {
glmmgee::NestedAgq* nested_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::NestedAgq> xp(ptr);
  if (!xp.get()) Rcpp::stop("the nested quadrature engine is no longer available");
  return xp.get();
}
}  // namespace

//' Nested AGHQ engine: build (units: list of 0-based codes, outermost first;
//' Zr: the innermost level's random-effect design, or NULL for an intercept)
//' @noRd
// [[Rcpp::export]]
SEXP cpp_nested_new(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> y,
                    Eigen::Map<Eigen::VectorXd> wt, Eigen::Map<Eigen::VectorXd> offset,
                    Rcpp::List units, int family, int link, int nthreads,
                    Rcpp::Nullable<Rcpp::NumericMatrix> Zr = R_NilValue) {
  const long n = X.rows();
  Eigen::MatrixXd Z;
  if (Zr.isNotNull()) {
    Rcpp::NumericMatrix zm(Zr.get());
    if (zm.nrow() != n) Rcpp::stop("Z has %d rows for %d observations", zm.nrow(), (int)n);
    Z = Eigen::Map<Eigen::MatrixXd>(zm.begin(), zm.nrow(), zm.ncol());
  }
  if (y.size() != n || wt.size() != n || offset.size() != n)
    Rcpp::stop("X, y, weights and offset must all have %d rows", (int)n);
  std::vector<std::vector<int> > u(units.size());
  for (R_xlen_t l = 0; l < units.size(); ++l) {
    Rcpp::IntegerVector v = units[l];
    if (v.size() != n) Rcpp::stop("level %d has %d codes for %d observations", (int)l + 1,
                                  (int)v.size(), (int)n);
    u[l].assign(v.begin(), v.end());
  }
  try {
    glmmgee::NestedAgq* e = new glmmgee::NestedAgq(X, y, wt, offset, u, family, link, nthreads, Z);
    return Rcpp::XPtr<glmmgee::NestedAgq>(e, true);
  } catch (std::exception& ex) {
    Rcpp::stop(ex.what());
  }
  return R_NilValue;
}

//' Nested AGHQ engine: log-likelihood at theta = (beta, s_1..s_L, [phi])
//' (with Z: s_L replaced by Lambda's lower triangle by columns),
//' and its gradient (adaptive nodes held fixed; see agq-nested.h)
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_nested_eval(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, int nAGQ,
                           bool gradient = false) {
  glmmgee::NestedAgq* eng = nested_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  if (nAGQ < 1 || nAGQ > 100) Rcpp::stop("nAGQ must be between 1 and 100");
  Rcpp::checkUserInterrupt();
  glmmgee::NestedResult r = eng->evaluate(theta, nAGQ, gradient);
  Rcpp::List out = Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                                      Rcpp::Named("failures") = r.failures);
  if (gradient) out["gradient"] = r.gradient;
  return out;
}

//' Nested AGHQ engine: joint modes, their conditional variances, eta
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_nested_modes(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta) {
  glmmgee::NestedAgq* eng = nested_engine(ptr);
  if (theta.size() != eng->npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(),
               eng->npar());
  glmmgee::NestedModes m = eng->modes(theta);
  return Rcpp::List::create(Rcpp::Named("u") = Rcpp::wrap(m.u),
                            Rcpp::Named("var") = Rcpp::wrap(m.var),
                            Rcpp::Named("eta") = m.eta,
                            Rcpp::Named("failed") = m.failed);
}
