# lmtest's coeftest() reads coef() and vcov(), and takes t tests with
# df.residual() degrees of freedom by default. Our fits are asymptotic
# (z tests, as summary()), and a glmm's coef() is the per-cluster list, so
# these methods, registered when lmtest is loaded, pass the fixed effects
# with df = Inf.

#' Coefficient tests with lmtest
#'
#' Methods for [lmtest::coeftest()] and [lmtest::coefci()] on [glmm()] and
#' [gee()] fits, registered when lmtest is loaded: Wald z tests (`df = Inf`,
#' the table of [summary()]) from `vcov(x)`, or from `vcov.` (a matrix or a
#' function of the fit, e.g. `function(f) vcov(f, type = "md")` for a gee).
#' A finite `df` gives t tests. For cumulative link fits ([cumulative()])
#' the table is that of [summary()]: the thresholds, then the covariates'
#' coefficients, each under its own name.
#'
#' @param x A fit from [glmm()] or [gee()].
#' @param vcov. Covariance of the fixed effects, or a function of the fit.
#' @param df Degrees of freedom; `Inf` (z tests) by default.
#' @param parm,level For `coefci()`: coefficients and confidence level.
#' @param ... Passed to lmtest's default methods.
#' @return A `coeftest` matrix, or a matrix of limits for `coefci()`.
#' @examples
#' if (requireNamespace("lmtest", quietly = TRUE) &&
#'     requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID,
#'              family = binomial, corstr = "exchangeable")
#'   lmtest::coeftest(fit)
#'   lmtest::coeftest(fit, vcov. = function(f) vcov(f, type = "md"))
#' }
#' @name lmtest-methods
#' @exportS3Method lmtest::coeftest
coeftest.glmmgee_glmm <- function(x, vcov. = NULL, df = Inf, ...) {
  w <- wald_model(x, vcov.)
  lmtest::coeftest(w, vcov. = w$vcov, df = df, ...)
}

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coeftest
coeftest.glmmgee_gee <- coeftest.glmmgee_glmm

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coefci
coefci.glmmgee_glmm <- function(x, parm = NULL, level = 0.95, vcov. = NULL, df = Inf, ...) {
  w <- wald_model(x, vcov.)
  lmtest::coefci(w, parm = parm, level = level, vcov. = w$vcov, df = df, ...)
}

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coefci
coefci.glmmgee_gee <- coefci.glmmgee_glmm

# Cumulative link fits: the table of summary(), thresholds then
# coefficients, each under its own name, with z tests; `vcov.` over all of
# them (as vcov(fit)).

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coeftest
coeftest.glmmgee_glmm_ordinal <- function(x, vcov. = NULL, df = Inf, ...) {
  w <- cumulative_parameters(x, vcov.)
  lmtest::coeftest(w, vcov. = w$vcov, df = df, ...)
}

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coeftest
coeftest.glmmgee_gee_ordinal <- coeftest.glmmgee_glmm_ordinal

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coefci
coefci.glmmgee_glmm_ordinal <- function(x, parm = NULL, level = 0.95, vcov. = NULL, df = Inf, ...) {
  w <- cumulative_parameters(x, vcov.)
  lmtest::coefci(w, parm = parm, level = level, vcov. = w$vcov, df = df, ...)
}

#' @rdname lmtest-methods
#' @exportS3Method lmtest::coefci
coefci.glmmgee_gee_ordinal <- coefci.glmmgee_glmm_ordinal

# The thresholds and coefficients of a cumulative link fit with their
# covariance, named alike.
cumulative_parameters <- function(x, vcov. = NULL) {
  cf <- c(x$thresholds, x$coefficients)
  k <- length(cf)
  V <- if (is.null(vcov.)) vcov(x)
       else if (is.function(vcov.)) vcov.(x)
       else vcov.
  V <- as.matrix(V)
  if (nrow(V) < k || ncol(V) < k || (!is.null(vcov.) && !identical(dim(V), c(k, k))))
    stop(sprintf("'vcov.' must be the %d x %d covariance matrix of the thresholds and coefficients (as vcov(fit))",
                 k, k), call. = FALSE)
  V <- V[seq_len(k), seq_len(k), drop = FALSE]
  dimnames(V) <- list(names(cf), names(cf))
  structure(list(coefficients = cf, vcov = V), class = "glmmgee_wald")
}
