# The fixed-effects part of a fit as a plain Wald model: a coefficient
# vector, its covariance, the terms and the model matrix. Inference packages
# (car, multcomp, lmtest) read a model through coef() and vcov(); a glmm's
# coef() is the per-cluster list (as in lme4), so their methods for our
# classes (ecosystem-*.R) hand them this object instead, and their default
# methods then compute exactly what they compute for any regression.

wald_model <- function(fit, vcov. = NULL) {
  beta <- if (is_glmm(fit)) fixef(fit) else coef(fit)
  V <- if (is.null(vcov.)) vcov(fit)
       else if (is.function(vcov.)) vcov.(fit)
       else vcov.
  V <- as.matrix(V)
  if (!identical(dim(V), c(length(beta), length(beta))))
    stop(sprintf("'vcov.' must be a %d x %d covariance matrix of the fixed effects",
                 length(beta), length(beta)), call. = FALSE)
  dimnames(V) <- list(names(beta), names(beta))
  structure(list(coefficients = beta, vcov = V, terms = fit$terms,
                 X = stats::model.matrix(fit), formula = fit$formula, call = fit$call,
                 user_vcov = !is.null(vcov.)),
            class = "glmmgee_wald")
}

#' @export
coef.glmmgee_wald <- function(object, ...) object$coefficients
#' @export
vcov.glmmgee_wald <- function(object, ...) object$vcov
#' @export
model.matrix.glmmgee_wald <- function(object, ...) object$X
#' @export
formula.glmmgee_wald <- function(x, ...) x$formula
# Asymptotic (z and chi-square) inference: no residual degrees of freedom.
#' @export
df.residual.glmmgee_wald <- function(object, ...) Inf
