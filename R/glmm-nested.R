# glmm() for nested random intercepts with nAGQ > 1: the formula front end
# of the multilevel adaptive quadrature engine (fitter in fit-nested.R).

#' Adaptive quadrature for nested random effects
#'
#' With nested grouping factors, `(1 | a/b)`, `(1 | a) + (1 | a:b)` or deeper
#' `(1 | a/b/c)`, [glmm()] with `nAGQ > 1` integrates the random intercepts
#' by multilevel adaptive Gauss-Hermite quadrature (Pinheiro and Chao,
#' 2006): the integral over each unit's random effect holds, at every
#' quadrature node, the integrals of the units nested in it, each centred at
#' its own conditional mode given the node and scaled by the curvature there
#' (with the units below it maximised out). The cost grows with the number
#' of units times `nAGQ^depth`, not with the product of the grids of all the
#' units in an outer unit. With `nAGQ = 1` the rule is the Laplace
#' approximation of the joint integral, which the sparse engine computes
#' (see [glmm-several-terms]); that fit is also the starting point of the
#' quadrature fit.
#'
#' The nesting is read from the data: each level of the finer factor must
#' occur within exactly one level of the coarser one (labels need not be
#' unique across outer units when written as `a/b` or `a:b`). Crossed
#' factors, known covariances and random slopes above the innermost level
#' are refused with an error suggesting `nAGQ = 1`. Every family and link of
#' the one-factor engine is available.
#'
#' **Random slopes at the innermost level.** In `(1 | a) + (1 + x | a:b)`
#' the innermost term may have q random effects with an unstructured
#' covariance, parametrized as lme4 does by the lower-triangular factor
#' Lambda (its entries by columns in `$theta`). Each innermost unit's q
#' effects are integrated on a product grid of `nAGQ^q` nodes centred at
#' the unit's conditional mode (given the node of the levels above) and
#' scaled by the Cholesky factor of the inverse of its conditional
#' curvature, as the one-factor engine does with q effects; its profile's
#' derivatives in the shift from the levels above (a Schur complement of
#' the q x q curvature) scale the grids above it. A pass costs about
#' `nAGQ^(depth - 1 + q)` node evaluations per observation: `glmm()` refuses
#' the fit when that exceeds 1e5, or when `nAGQ^q` times the number of
#' innermost units exceeds 2e6, and suggests `nAGQ = 1` or a smaller
#' `nAGQ`. Uncorrelated effects, `(1 + x || a:b)` (or several terms of
#' the innermost factor), make Lambda block diagonal, the blocks' entries
#' fixed at zero in the engine. Rescaling a covariate gives the same fit; shifting it
#' (centring) rotates the standardized effects, which a product grid does
#' not follow exactly, so the fit then agrees to the rule's error (it
#' shrinks as `nAGQ` grows). `ranef()` and `predict()` of these fits use the
#' joint conditional modes and their Gaussian-approximation covariances at
#' the estimates from the sparse engine.
#'
#' **Covariance structures at the innermost level.** The innermost term may
#' carry any of the package's structures ([covariance-structures]):
#' `(1 | school) + ar1(0 + time | school:class)`, `cs()`, `diag()`,
#' `toep()`, ... . Its Lambda is then the Cholesky factor of the structure's
#' covariance, integrated as above, and the gradient reaches the
#' structure's parameters through the exact Jacobian of that factor. The
#' fit starts from the Laplace fit of the same model (the sparse engine)
#' and reports the structures as that fit does (`$structures`,
#' `$theta_structure`). Such fits are searched on the user's columns (not
#' centred), so a random slope far from zero is refused as above.
#'
#' The log-likelihood is the full one, comparable with the Laplace fit and
#' with one-factor fits. The engine also returns its gradient with respect
#' to the fixed effects, the standard deviation of every level (with random
#' slopes: Lambda's entries at the innermost level) and the log
#' dispersion, computed with the adaptive nodes held where they are: at
#' every level the derivative of the log of the weighted sum over the nodes
#' of exp(the children's log-integrals) is the weighted mean of the
#' children's derivatives, down to the observations' scores. That is the
#' quadrature, by the same rule, of the integrand's derivative: the
#' derivative of the integral to the rule's accuracy (it leaves out how the
#' rule's error moves with the nodes, a term that vanishes as `nAGQ`
#' grows). Quasi-Newton (BFGS) steps on it, started from the Laplace fit and
#' its Hessian, take one engine pass each; the end point is then checked,
#' and finished by Newton steps, with central differences of the value
#' itself, so the estimates maximize the quadrature log-likelihood. The
#' standard errors come from forward differences of the engine's gradient.
#' `$optinfo$evaluations` counts every engine pass after the Laplace fit
#' (typically 20-30 at `nAGQ` 5-11 with two or three parameters of each
#' kind, against about 100 with central differences throughout), and
#' `$optinfo$stages` each stage's share. The fit records `nAGQ`,
#' the Laplace fit's log-likelihood and estimates
#' (`$optinfo$laplace`), and prints the approximation used.
#'
#' `ranef()` gives, for every level, the joint conditional modes (the
#' maximum of the joint posterior of all levels' effects at the estimates)
#' and, in its `"postVar"` attribute, their conditional variances under the
#' Gaussian approximation there (the diagonal of the inverse joint
#' Hessian), as for the Laplace fit. `predict()` adds the modes of every
#' level (`re.form = NULL`, the default; new data with known units) or none
#' (`re.form = NA`, the population-level prediction).
#'
#' @references Pinheiro, J. C. and Chao, E. C. (2006). Efficient Laplacian
#'   and adaptive Gaussian quadrature algorithms for multilevel generalized
#'   linear mixed models. *Journal of Computational and Graphical
#'   Statistics* 15, 58-81.
#' @examples
#' set.seed(4)
#' d <- expand.grid(patient = 1:4, ward = 1:4, hospital = 1:20)
#' d$x <- rnorm(nrow(d))
#' u <- rnorm(20)[d$hospital] + 1.5 * rnorm(80)[(d$hospital - 1) * 4 + d$ward]
#' d$y <- rbinom(nrow(d), 1, plogis(-0.5 + d$x + u))
#' fit <- glmm(y ~ x + (1 | hospital/ward), data = d, family = binomial, nAGQ = 7)
#' fit
#' logLik(fit)
#' fit$optinfo$laplace$loglik   # the Laplace approximation's value
#' fit$optinfo$evaluations      # engine passes of the quadrature search
#' head(ranef(fit)$hospital)
#' head(predict(fit, re.form = NA))
#'
#' # A random slope of x at the innermost level (ward within hospital).
#' d$y2 <- rbinom(nrow(d), 1, plogis(-0.5 + d$x + u +
#'                                     rnorm(80)[(d$hospital - 1) * 4 + d$ward] * d$x))
#' fit2 <- glmm(y2 ~ x + (1 | hospital) + (1 + x | hospital:ward), data = d,
#'              family = binomial, nAGQ = 5)
#' VarCorr(fit2)
#' @name glmm-nested
NULL

# The most nodes of the innermost level's product grids in one engine pass
# (nAGQ^q x the number of its units).
nested_slope_limit <- 2e6

# The nested engine's checks of the design `re` (nested_structure()) and
# of the number of quadrature nodes nAGQ means for it (glmm_several());
# returns the nesting, invisibly.
nested_quadrature_check <- function(re, nAGQ, control) {
  ns <- if (is.null(control$workers)) nested_structure(re) else
    tryCatch(nested_structure(re), error = function(e)
      stop(paste0("glmm_control(workers = ): ", sub("\\. Use nAGQ = 1.*$", "", conditionMessage(e)),
                  ". Crossed designs are not fitted on workers: their likelihood is not a sum over the units of one factor; ",
                  "large-scale systems use method-of-moments or backfitting estimators for them"), call. = FALSE))
  depth <- length(ns$order)
  # With q effects at the innermost level every unit there has a grid of
  # nAGQ^q nodes at each node of the levels above.
  dims <- depth - 1L + ns$q
  if (nAGQ^dims > 1e5)
    stop(sprintf(paste0("'nAGQ' = %d with %d nested levels and %d random effect%s at the innermost ",
                        "level means %d^%d = %g quadrature points for each row (%d dimensions); ",
                        "use a smaller nAGQ, or nAGQ = 1 (the Laplace approximation)"),
                 nAGQ, depth, ns$q, if (ns$q > 1L) "s" else "", nAGQ, dims, nAGQ^dims, dims),
         call. = FALSE)
  nleaf <- length(ns$used[[depth]])
  if (ns$q > 1L && nAGQ^ns$q * nleaf > nested_slope_limit)
    stop(sprintf(paste0("'nAGQ' = %d with %d random effects at the innermost level ('%s') means ",
                        "%d^%d x %d units = %g quadrature nodes per pass, above the limit of %g; ",
                        "use nAGQ = 1 (the Laplace approximation) or a smaller nAGQ"),
                 nAGQ, ns$q, re$terms[[ns$order[depth]]]$group, nAGQ, ns$q, nleaf,
                 nAGQ^ns$q * nleaf, nested_slope_limit), call. = FALSE)
  invisible(ns)
}
