# Wald confidence intervals shared by the confint() methods, so that every
# method checks `parm` and `level` the same way (an unknown name is an
# error, not an NA row; a level outside (0, 1) is an error, not NaN).

# The checked arguments of a confint() method: `parm` as coefficient names
# (all by default) and the two tail probabilities with their column labels.
confint_args <- function(names, parm, level) {
  parm <- match_parm(if (missing(parm)) NULL else parm, names, default = names)
  check_level(level)
  a <- (1 - level) / 2
  list(parm = parm, tails = c(a, 1 - a),
       labels = paste(format(100 * c(a, 1 - a), trim = TRUE, scientific = FALSE,
                             digits = 3L), "%"))
}

# Wald intervals estimate +/- z se for coefficients `cf`. `vc` is the
# covariance or a function returning it, called only once the arguments
# have passed (computing some covariances costs a refit).
wald_confint <- function(cf, vc, parm, level) {
  a <- confint_args(names(cf), parm, level)
  V <- if (is.function(vc)) vc() else vc
  se <- sqrt(diag(V))[a$parm]
  z <- stats::qnorm(a$tails[2L])
  ci <- cbind(cf[a$parm] - z * se, cf[a$parm] + z * se)
  dimnames(ci) <- list(a$parm, a$labels)
  ci
}

#' Wald confidence intervals for the fixed effects of a GLMM
#'
#' Intervals \eqn{\hat\beta \pm z_{1-\alpha/2}\,\mathrm{se}} from [vcov()]
#' (the inverse Hessian of the marginal log-likelihood).
#'
#' @param object A fit from [glmm()].
#' @param parm Coefficient names or indices; all fixed effects by default.
#'   Names not among the coefficients are an error.
#' @param level Confidence level, one number strictly between 0 and 1.
#' @param ... Ignored.
#' @return A matrix with one row per coefficient and the lower and upper
#'   limits as columns.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   confint(fit)
#'   exp(confint(fit, parm = "period2", level = 0.9))
#' }
#' @export
confint.glmmgee_glmm <- function(object, parm, level = 0.95, ...) {
  wald_confint(fixef(object), function() stats::vcov(object), parm, level)
}
