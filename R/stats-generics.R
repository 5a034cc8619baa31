# The base generics that model-selection and reporting code in stats (and
# packages built on it) calls: weights(), df.residual(), deviance(),
# extractAIC(). With them drop1() and step() work on glmm fits through
# their default methods, which refit by update() and compare extractAIC().

#' Weights, residual degrees of freedom, deviance and AIC of a fit
#'
#' `weights()` returns the prior weights (for binomial fits the numbers of
#' trials), padded with `NA` by `na.exclude`. `df.residual()` is the number
#' of observations minus the number of estimated parameters: for a [glmm()]
#' fit all of them (fixed effects, covariance parameters, dispersion), as
#' lme4 counts; for a [gee()] fit the regression coefficients.
#'
#' For a glmm, `deviance()` is \eqn{-2\ell}, minus twice the full
#' log-likelihood (the `deviance` column of [anova()]); `extractAIC()`
#' returns the number of parameters and the AIC, so that [drop1()] and
#' [step()] compare fits by AIC and, with `test = "Chisq"`, by
#' likelihood-ratio tests (the models are refitted with [update()], with the
#' same random effects). lme4's `deviance()` on a `glmer` fit differs: it is
#' the sum of squared conditional deviance residuals,
#' `sum(residuals(fit, type = "deviance")^2)`; its `drop1()` gives the same
#' AIC and likelihood-ratio statistics as ours at `nAGQ = 1`.
#'
#' On a REML fit `drop1()` first refits the model by maximum likelihood, as
#' [anova()] and lme4 do (REML criteria of models with different fixed
#' effects are not comparable), and says so.
#'
#' For a gee, `deviance()` is the quasi-deviance \eqn{\sum_i w_i d(y_i,
#' \hat\mu_i)} at the GEE estimates (the family's unit deviance, not divided
#' by the scale). A GEE has no likelihood, hence no AIC: `extractAIC()`
#' stops and points to [QIC()].
#'
#' @param object,fit A fit from [glmm()] or [gee()].
#' @param scale Not used (there for the generic).
#' @param k The penalty per parameter: 2 for AIC, `log(nobs(fit))` for BIC.
#' @param ... For `drop1()`, the arguments of [stats::drop1()] (`test`, `k`,
#'   ...); for the others not used: an argument given here is an error (a
#'   misspelt name is not ignored).
#' @return `weights()` a numeric vector; `df.residual()`, `deviance()` a
#'   number; `extractAIC()` a vector: the number of parameters and the
#'   criterion.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   head(weights(fit)); df.residual(fit); deviance(fit); extractAIC(fit)
#'   drop1(fit, test = "Chisq")
#' }
#' @name glmm-criteria
NULL

#' @rdname glmm-criteria
#' @export
weights.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "weights.glmmgee_glmm")
  stats::naresid(object$na.action, object$prior.weights)
}

#' @rdname glmm-criteria
#' @export
df.residual.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "df.residual.glmmgee_glmm")
  object$nobs - object$df
}

#' @rdname glmm-criteria
#' @export
deviance.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "deviance.glmmgee_glmm")
  -2 * object$loglik
}

#' @rdname glmm-criteria
#' @export
extractAIC.glmmgee_glmm <- function(fit, scale = 0, k = 2, ...) {
  check_dots(..., .method = "extractAIC.glmmgee_glmm")
  check_penalty(k)
  c(fit$df, -2 * fit$loglik + k * fit$df)
}

#' @rdname glmm-criteria
#' @param scope As in [stats::drop1()].
#' @export
drop1.glmmgee_glmm <- function(object, scope, ...) {
  # (the refit anova() makes, anova_ml_fits(): its checks that the data
  # found are the fit's)
  if (isREML(object)) {
    message("refitting model(s) with ML (instead of REML)")
    object <- reml_ml_refit(object, quiet = FALSE)
  } else {
    check_refit_data(object, "drop1()")
  }
  NextMethod()
}

# stats::drop1() refits each smaller model by evaluating the fit's call
# again where its formula was made: the data found there must be the
# fit's. A data set replaced under the same name since gave a term an LRT
# of 0.108 (p = 0.74) where the fit's own data give 97.4, with no word.
# The call is evaluated with doFit = FALSE (the model frame only) and the
# columns its frame shares with the fit's compared (the response, weights
# and covariates); a fit without a stored frame, or whose call cannot be
# evaluated there, is left to drop1()'s own errors.
check_refit_data <- function(object, caller) {
  mf <- object$model
  if (!is.data.frame(mf) || is.null(object$call)) return(invisible())
  call <- stats::update(object, formula. = object$formula, evaluate = FALSE)
  call$doFit <- FALSE
  spec <- tryCatch(eval(call, environment(stats::formula(object))), error = function(e) NULL)
  frame <- spec$data$frame
  if (!is.data.frame(frame)) return(invisible())
  common <- intersect(names(frame), names(mf))
  same <- nrow(frame) == nrow(mf) && all(vapply(common, function(v)
    isTRUE(all.equal(frame[[v]], mf[[v]], check.attributes = FALSE)), TRUE))
  if (!same)
    stop(sprintf(paste0("%s refits the model with update(), and the data its call names are no ",
                        "longer those the fit was made on (%d rows found, %d fitted, or other ",
                        "values); refit the model on the data at hand first"),
                 caller, nrow(frame), nrow(mf)), call. = FALSE)
  invisible()
}

#' @rdname glmm-criteria
#' @export
weights.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "weights.glmmgee_gee")
  stats::naresid(object$na.action, gee_named(object, object$prior.weights))
}

#' @rdname glmm-criteria
#' @export
df.residual.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "df.residual.glmmgee_gee")
  object$nobs - length(object$coefficients)
}

#' @rdname glmm-criteria
#' @export
deviance.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "deviance.glmmgee_gee")
  sum(object$family$dev.resids(object$y, object$fitted.values, object$prior.weights))
}

#' @rdname glmm-criteria
#' @export
extractAIC.glmmgee_gee <- function(fit, scale = 0, k = 2, ...) {
  check_dots(..., .method = "extractAIC.glmmgee_gee")
  stop("a GEE has no likelihood, so no AIC: drop1() and step() by AIC do not apply; ",
       "compare working correlations and mean models with QIC()", call. = FALSE)
}

check_penalty <- function(k) {
  if (!is.numeric(k) || length(k) != 1L || !is.finite(k) || k < 0)
    stop("'k' must be one non-negative number (2 for AIC, log(n) for BIC)", call. = FALSE)
  invisible(k)
}
