// Starting values for the fixed effects of the one-factor engine: the GLM
// without random effects on the engine's own data and family
// (glm-newton.h).
#include "engines/agq/agq.h"
#include "util/glm-newton.h"

namespace glmmgee {

Eigen::VectorXd AgqEngine::glm_start(int maxit) const {
  if (!unit_wt_ && off_.size()) return glm_newton_start(*fam_, X_, y_, wt_, off_, maxit);
  const Eigen::VectorXd w = unit_wt_ ? Eigen::VectorXd::Ones(n_) : Eigen::VectorXd(wt_);
  const Eigen::VectorXd o = off_.size() ? Eigen::VectorXd(off_) : Eigen::VectorXd::Zero(n_);
  return glm_newton_start(*fam_, X_, y_, w, o, maxit);
}

}  // namespace glmmgee
