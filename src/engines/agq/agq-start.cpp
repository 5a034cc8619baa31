// Starting values for the fixed effects of the one-factor engine: the GLM
// without random effects on the engine's own data and family
// (glm-newton.h).
#include "engines/agq/agq.h"
#include "util/glm-newton.h"

namespace glmmgee {

Eigen::VectorXd AgqEngine::glm_start(int maxit) const {
  return glm_newton_start(*fam_, X_, y_, wt_, off_, maxit);
}

}  // namespace glmmgee
