# multcomp's glht() reads a model through its generic modelparm(); the
# default reads coef(), which for a glmm is the per-cluster list (multcomp
# ships a method for lme4's class, not ours). Registered when multcomp is
# loaded.

#' Multiple comparisons with multcomp
#'
#' A method for multcomp's `modelparm()`, registered when multcomp is
#' loaded, so that [multcomp::glht()] works on [glmm()] and [gee()] fits:
#' the fixed effects, `vcov(model)` (or `vcov.`) and normal reference
#' distributions (`df = 0`, as multcomp uses for lme4 fits). `mcp()`
#' contrasts of factors work as for other models.
#'
#' @param model A fit from [glmm()] or [gee()].
#' @param coef.,vcov. Functions of the fit (or the values) giving the
#'   coefficients and their covariance; by default the fixed effects and
#'   `vcov(model)`.
#' @param df Degrees of freedom; 0 (normal) by default.
#' @param ... Ignored.
#' @return An object of class `modelparm`, as multcomp's methods.
#' @examples
#' if (requireNamespace("multcomp", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   summary(multcomp::glht(fit, multcomp::mcp(period = "Tukey")))
#' }
#' @name multcomp-methods
#' @exportS3Method multcomp::modelparm
modelparm.glmmgee_glmm <- function(model, coef. = NULL, vcov. = NULL, df = 0, ...) {
  w <- wald_model(model, vcov.)
  beta <- if (is.null(coef.)) w$coefficients
          else if (is.function(coef.)) coef.(model) else coef.
  if (!is.numeric(df) || length(df) != 1L || is.na(df) || df < 0)
    stop("'df' must be one non-negative number (0 for normal reference distributions)",
         call. = FALSE)
  structure(list(coef = beta, vcov = w$vcov, df = df, estimable = rep(TRUE, length(beta))),
            class = "modelparm")
}

#' @rdname multcomp-methods
#' @exportS3Method multcomp::modelparm
modelparm.glmmgee_gee <- modelparm.glmmgee_glmm

# Cumulative link fits: the covariates' coefficients (wald_model() leaves
# the thresholds out), so that mcp() contrasts of a factor are of its
# coefficients. (The glmmgee_glmm_ordinal method: fits saved before the
# class inherited glmmgee_glmm.)

#' @rdname multcomp-methods
#' @exportS3Method multcomp::modelparm
modelparm.glmmgee_glmm_ordinal <- modelparm.glmmgee_glmm

#' @rdname multcomp-methods
#' @exportS3Method multcomp::modelparm
modelparm.glmmgee_gee_ordinal <- modelparm.glmmgee_glmm
