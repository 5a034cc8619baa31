// Progress reports from loops that run in C++: one evaluation of the
// log-likelihood (or one scoring step) counted by the R side's report
// (R/progress.R, progress_tick()), which prints nothing unless a fit that
// asked for reports is running. Called between iterations on the main
// thread, never inside an OpenMP region. An R error or interrupt raised
// by the report surfaces as Rcpp's exception and leaves by the entry
// point's error handling.
#ifndef GLMMGEE_UTIL_PROGRESS_H
#define GLMMGEE_UTIL_PROGRESS_H

#include <Rcpp.h>

namespace glmmgee {

inline void progress_tick(double loglik) {
  Rcpp::Environment ns = Rcpp::Environment::namespace_env("glmmgee");
  Rcpp::Environment state = ns.get("progress_state");
  SEXP active = state.get("active");
  if (TYPEOF(active) != LGLSXP || Rf_xlength(active) != 1 || LOGICAL(active)[0] != 1) return;
  Rcpp::Function tick = ns["progress_tick"];
  tick(loglik);
}

}  // namespace glmmgee

#endif
