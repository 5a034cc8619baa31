// Starting values of the sparse engine's fixed effects: the GLM without
// random effects on the engine's own (centred and scaled) design
// (glm-newton.h), as for one grouping factor; stats::glm.fit()'s R-level
// iterations were a sixth of a nested fit's time.
#include "engines/laplace/laplace.h"
#include "util/glm-newton.h"
#include "entry/entry-laplace.h"

namespace glmmgee {

Eigen::VectorXd SparseLaplace::glm_start(int maxit) const {
  if (aux_) Rcpp::stop("glm_start: not available with auxiliary predictors");
  return glm_newton_start(*fam_, X_, y_, wt_, off_, maxit);
}

}  // namespace glmmgee

// Fixed effects of the GLM without random effects, for starting values.
Eigen::VectorXd glmmgee_exports::sparse_glm_start(SEXP ptr, int maxit) {
  Rcpp::XPtr<glmmgee::SparseLaplace> p(ptr);
  if (!p) Rcpp::stop("the sparse engine pointer is no longer valid");
  return p->glm_start(maxit);
}
