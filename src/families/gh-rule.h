// Gauss-Hermite rules for the standard normal weight, and their product grids.
#ifndef GLMMGEE_GH_RULE_H
#define GLMMGEE_GH_RULE_H

#include <RcppEigen.h>

namespace glmmgee {

// K-point rule with  sum_k w_k f(z_k) ~ E f(Z),  Z ~ N(0, 1).
struct GhRule {
  Eigen::VectorXd z;     // nodes, ascending, exactly symmetric about 0
  Eigen::VectorXd logw;  // log weights, summing (as weights) to 1
};

// Computed once per K by the Golub-Welsch eigenvalue method, symmetrized.
GhRule gh_rule(int K);

// Product grid in q dimensions: K^q nodes (rows of z) with log weights that
// also carry the  ||z||^2 / 2  term of the adaptive rule's integrand ratio.
struct GhGrid {
  Eigen::MatrixXd z;        // (K^q) x q
  Eigen::VectorXd logw;     // log product weight
  Eigen::VectorXd logw_ad;  // log product weight + ||z||^2 / 2
};
GhGrid gh_grid(int K, int q);

}  // namespace glmmgee
#endif
