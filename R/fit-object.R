# The fitted GLMM object: its documented top-level fields and the one
# constructor of its optimization record, `$optinfo`.

#' Fitted GLMM objects
#'
#' Every fit of [glmm()] (and of [glmm_shards()]) is a list of class
#' `glmmgee_glmm`, with a subclass before it where methods differ (several
#' random-effect terms, zero-inflation parts, covariance structures, known
#' covariances, non-normal random effects, fits on workers). It is plain R
#' data: [saveRDS()] keeps it whole.
#'
#' @section Top-level fields:
#' Every GLMM fit carries `call`, `formula`, `family`, `coefficients` (the
#' fixed effects), `vcov` (their covariance), `theta` (all parameters on the
#' optimizer's scale) and `cov_theta` (their covariance), `sigma`,
#' `family_par` (a family's extra parameter), `loglik`, `df`, `nobs`, `n`,
#' `ngroups`, `group_name`, `y`, `prior.weights`, `offset`, `model` (the
#' model frame), `terms`, `contrasts`, `re_formula`, `na.action`, `nAGQ`,
#' `singular`, `gradient`, `hessian`, `optinfo` and `engine`. Fields such as
#' `X`, `Z`, `fitted.values` and `linear.predictors` are rebuilt on access
#' where they are not stored. Fits of one grouping factor and fits of
#' several terms nested in one grouping factor, also with zero or
#' dispersion parts, structured covariances, and cumulative link random
#' intercepts, one or several nested (see [vcov()] for which), also keep
#' `cluster_curvature`: each cluster's information (and, except by nested
#' quadrature or a cumulative link, its score) at the optimum, from the evaluations that gave
#' the Hessian, from which [vcov()]'s cluster-robust types are formed. Fits
#' with a known covariance keep `covariance`, the list they were fitted
#' with, which their profiles and refits ([update()][update.glmmgee], [anova()] of REML fits,
#' [drop1()]) use. Use the extractors ([fixef()], [ranef()],
#' [VarCorr()], [vcov()], [logLik()], ...) rather than the fields where one
#' exists.
#'
#' @section `$engine`:
#' The engine that fitted the model, an object of class `glmmgee_engine`
#' ([engine_info()]): `name`, `fits`, `workers` and `capabilities`, the
#' methods it can serve. A method that the engine or a part of the model
#' cannot serve stops with an error naming the engine and what is missing.
#'
#' @section `$optinfo`:
#' How the optimization went, the same fields on every route. Always present:
#' \describe{
#'   \item{`method`}{the approximation or criterion (`"Laplace"`, `"AGHQ"`,
#'     `"REML"`, ...).}
#'   \item{`optimizer`}{the search that found the optimum.}
#'   \item{`nAGQ`}{quadrature points per random effect (1: Laplace; `NA`
#'     where the engine has no quadrature rule).}
#'   \item{`converged`}{whether the optimizer reported convergence
#'     (`convergence == 0`; `NA` where it reports none).}
#'   \item{`convergence`, `message`}{the optimizer's code and message.}
#'   \item{`iterations`, `evaluations`}{iterations and evaluations of the
#'     criterion.}
#'   \item{`max_grad`}{the largest absolute gradient at the optimum on the
#'     parameters the optimizer searched (see `grad_basis`).}
#'   \item{`hessian_cond`}{the condition number of the Hessian.}
#'   \item{`warnings`}{the warnings of the fit (character).}
#' }
#' Present where the route records them: `stages` (each stage of the search),
#' `newton_steps`, `newton_failures`, `max_grad_user` (the largest gradient in
#' the user's parameters), `grad_basis` (`"standardized"`, `"user"` or
#' `"profiled"`), `scaled_grad` (the remaining Newton step),
#' `scaled_grad_sigma_held`, `verification`, `boundary_check` (parameters on a
#' boundary and the restarts that confirmed them), `dispersion_limit`,
#' `zero_inflation_vanishes`, `logseries_limit`, `zero_variance_check`,
#' `laplace_validity`, `reparameterized`, `centred_z`, `scaled_z`,
#' `cs2_unstructured`, `cs2_centred`, `response_scale`, `nthreads`,
#' `nnz_factor` (non-zeros of a sparse factor), `rank`, `reml` (the restricted
#' criterion's record), `laplace` (the Laplace fit that started a quadrature
#' search), `nested_levels`, `engine_calls`, `gradient` (how the gradient
#' was computed), `residual_zero`, `residual_unidentified`, `sigma_fixed_se`,
#' `warnings_separation`.
#'
#' Fits saved by earlier versions, whose record named the gradient
#' `gradient_max` and the condition number `hessian_condition`, are read
#' with these names.
#' @name glmmgee_glmm
#' @aliases glmmgee_glmm-class
#' @seealso [glmm()], [engine_info()].
NULL

# The top-level fields of every GLMM fit (see ?glmmgee_glmm).
glmm_fit_fields <- c("call", "formula", "family", "coefficients", "vcov", "theta",
                     "cov_theta", "sigma", "family_par", "loglik", "df", "nobs", "n",
                     "ngroups", "group_name", "y", "prior.weights", "offset", "model",
                     "terms", "contrasts", "re_formula", "na.action", "nAGQ", "singular",
                     "gradient", "hessian", "optinfo", "engine")

# $optinfo's schema: the fields every record has, in this order, and those
# a route adds.
optinfo_core <- c("method", "optimizer", "nAGQ", "converged", "convergence", "message",
                  "iterations", "evaluations", "max_grad", "hessian_cond", "warnings")
optinfo_optional <- c("stages", "newton_steps", "newton_failures", "max_grad_user",
                      "grad_basis", "scaled_grad", "scaled_grad_sigma_held", "verification",
                      "boundary_check", "dispersion_limit", "zero_inflation_vanishes",
                      "logseries_limit", "zero_variance_check", "laplace_validity",
                      "reparameterized", "centred_z", "scaled_z", "cs2_unstructured",
                      "cs2_centred", "response_scale", "nthreads", "nnz_factor", "rank",
                      "reml", "laplace", "nested_levels", "engine_calls", "gradient",
                      "residual_zero", "residual_unidentified", "sigma_fixed_se",
                      "warnings_separation")
# Names of earlier versions and the schema's.
optinfo_renamed <- c(gradient_max = "max_grad", hessian_condition = "hessian_cond")

# The one constructor of $optinfo. Iterations and evaluations default to
# the sums over `stages` where a staged search ran; `...`: the route's
# fields of optinfo_optional.
new_optinfo <- function(method, optimizer, nAGQ = NA_integer_, convergence = NA_integer_,
                        message = NA_character_, iterations = NULL, evaluations = NULL,
                        max_grad = NA_real_, hessian_cond = NA_real_, warnings = NULL,
                        stages = NULL, ...) {
  extra <- list(...)
  extra <- extra[!vapply(extra, is.null, TRUE)]
  bad <- setdiff(names(extra), optinfo_optional)
  if (length(bad) || (length(extra) && is.null(names(extra))))
    stop(sprintf("internal: $optinfo has no field %s", paste(bad, collapse = ", ")), call. = FALSE)
  stage_sum <- function(f) sum(vapply(stages, function(s) as.integer(s[[f]] %||% 0L), 1L))
  convergence <- convergence %||% NA_integer_
  # A gradient that came out NaN or infinite at the estimates (NA: not
  # computed) makes the fit unconverged whatever the search's own stopping
  # rule said: nothing verifies an optimum there (fit_warnings() says so).
  grad_bad <- length(max_grad) == 1L && (is.nan(max_grad) || is.infinite(max_grad))
  core <- list(method = method, optimizer = optimizer %||% NA_character_,
               nAGQ = nAGQ %||% NA_integer_,
               converged = if (is.na(convergence[1L])) NA else convergence[1L] == 0L && !grad_bad,
               convergence = convergence, message = message %||% NA_character_,
               iterations = iterations %||% if (!is.null(stages)) stage_sum("iterations")
                                            else NA_integer_,
               evaluations = evaluations %||% if (!is.null(stages)) stage_sum("evaluations")
                                              else NA_integer_,
               max_grad = max_grad %||% NA_real_, hessian_cond = hessian_cond %||% NA_real_)
  # warnings as the route made them (NULL where there were none: that is
  # what earlier versions stored, and what the warnings' code reads).
  core["warnings"] <- list(warnings)
  c(core, if (!is.null(stages)) list(stages = stages), extra)
}

# $optinfo's max_grad: the largest absolute gradient over the parameters
# not on a boundary (0 where all are).
max_free_gradient <- function(gradient, on_boundary)
  if (any(!on_boundary)) max(abs(gradient[!on_boundary])) else 0

# $optinfo of the one-factor quadrature engine's fits (one-part and
# two-part): the search record `stages` (naming nlminb where it took over),
# the convergence record `opt` (convergence, message), the largest free
# gradient on the optimizer's scale (max_grad) and on the user's, the
# remaining Newton step (scaled_grad) and the condition of cov_theta's
# information; `newton_steps` and `zero_inflation_vanishes` where a route
# reports them (NULL: left out).
agq_optinfo <- function(stages, nAGQ, opt, max_grad, max_grad_user, reparameterized,
                        scaled_grad, cov_theta, newton_failures, warnings, boundary_check,
                        dispersion_limit, nthreads, newton_steps = NULL,
                        zero_inflation_vanishes = NULL) {
  new_optinfo(optimizer = if (any(grepl("nlminb", names(stages)))) "Newton-BFGS, then nlminb"
                          else "Newton-BFGS",
              method = if (nAGQ == 1L) "Laplace" else "AGHQ", nAGQ = nAGQ, stages = stages,
              convergence = opt$convergence, message = opt$message,
              newton_steps = newton_steps, max_grad = max_grad, max_grad_user = max_grad_user,
              grad_basis = grad_basis_of(reparameterized), scaled_grad = scaled_grad,
              hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
              newton_failures = newton_failures, warnings = warnings,
              boundary_check = boundary_check, dispersion_limit = dispersion_limit,
              zero_inflation_vanishes = zero_inflation_vanishes,
              reparameterized = reparameterized, nthreads = nthreads)
}

# $optinfo of the sparse Laplace engines' fits (one-part, two-part,
# cumulative): the optimizer named from the search record `stages`
# (sparse_optimizer_name()), the convergence record `opt`, the largest
# gradient `max_grad`, the condition of cov_theta's information; `...`: the
# route's fields of optinfo_optional, in the order it reports them.
sparse_optinfo <- function(stages, opt, method, max_grad, cov_theta, warnings, ...) {
  new_optinfo(optimizer = sparse_optimizer_name(stages), method = method, nAGQ = 1L,
              stages = stages, convergence = opt$convergence, message = opt$message,
              max_grad = max_grad, hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
              warnings = warnings, ...)
}

# A record of an earlier version on the schema: renamed fields under their
# names, the fields it lacks as NA.
upgrade_optinfo <- function(oi) {
  old <- intersect(names(oi), names(optinfo_renamed))
  for (o in old) {
    if (is.null(oi[[optinfo_renamed[[o]]]])) oi[[optinfo_renamed[[o]]]] <- oi[[o]]
    oi[[o]] <- NULL
  }
  conv <- oi$convergence %||% NA_integer_
  fill <- list(method = NA_character_, optimizer = NA_character_, nAGQ = NA_integer_,
               converged = if (is.na(conv[1L])) NA else conv[1L] == 0L,
               convergence = NA_integer_, message = NA_character_,
               iterations = NA_integer_, evaluations = NA_integer_, max_grad = NA_real_,
               hessian_cond = NA_real_)
  for (f in setdiff(names(fill), names(oi))) oi[f] <- list(fill[[f]])
  if (!"warnings" %in% names(oi)) oi["warnings"] <- list(NULL)
  oi[c(optinfo_core, setdiff(names(oi), optinfo_core))]
}
