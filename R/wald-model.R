# The fixed-effects part of a fit as a plain Wald model: a coefficient
# vector, its covariance, the terms and the model matrix. Inference packages
# (car, multcomp, lmtest) read a model through coef() and vcov(); a glmm's
# coef() is the per-cluster list (as in lme4), so their methods for our
# classes (ecosystem-*.R) hand them this object instead, and their default
# methods then compute exactly what they compute for any regression.

wald_model <- function(fit, vcov. = NULL) {
  if (is_cumulative_fit(fit)) return(cumulative_wald_model(fit, vcov.))
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

# Cumulative link fits (glmm() and gee() with cumulative()): the
# parameters are the thresholds, then the coefficients of the covariates.
# The Wald model holds the coefficients alone, with their block of the
# covariance, so that the tests of car, multcomp and lmtest are of the
# covariates (a default method reading coef() would take the first
# thresholds for them). `vcov.` may be over all parameters (thresholds
# first, as vcov(fit)) or over the coefficients alone.
is_cumulative_fit <- function(fit) inherits(fit, c("glmmgee_glmm_ordinal", "glmmgee_gee_ordinal"))

cumulative_wald_model <- function(fit, vcov. = NULL) {
  beta <- fit$coefficients
  k1 <- length(fit$thresholds)
  p <- length(beta)
  V <- if (is.null(vcov.)) vcov(fit)
       else if (is.function(vcov.)) vcov.(fit)
       else vcov.
  V <- as.matrix(V)
  idx <- if (identical(dim(V), c(k1 + p, k1 + p))) k1 + seq_len(p)
         else if (identical(dim(V), c(p, p))) seq_len(p)
  if (is.null(idx))
    stop(sprintf("'vcov.' must be a covariance matrix over the %d thresholds and %d coefficients (%d x %d, as vcov(fit)) or over the %d coefficients alone",
                 k1, p, k1 + p, k1 + p, p), call. = FALSE)
  V <- V[idx, idx, drop = FALSE]
  dimnames(V) <- list(names(beta), names(beta))
  structure(list(coefficients = beta, vcov = V, terms = fit$terms,
                 X = cumulative_model_matrix(fit), formula = fit$formula, call = fit$call,
                 user_vcov = !is.null(vcov.)),
            class = "glmmgee_wald")
}

# The coefficients' design (no intercept column: the thresholds take its
# place) with the "assign" and "contrasts" attributes of a model matrix,
# which car and multcomp read to find each term's columns and coding.
cumulative_model_matrix <- function(fit) {
  X <- fit$X
  if (is.null(attr(X, "assign")) && !is.null(fit$terms) && !is.null(fit$model)) {
    mm <- stats::model.matrix(stats::delete.response(fit$terms), fit$model,
                              contrasts.arg = fit$contrasts)
    attr(X, "assign") <- attr(mm, "assign")[match(colnames(X), colnames(mm))]
    if (is.null(attr(X, "contrasts"))) attr(X, "contrasts") <- attr(mm, "contrasts")
  }
  X
}
