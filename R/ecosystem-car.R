# Methods for car's generics, registered when car is loaded. car's default
# methods read coef(); a glmm's coef() is the per-cluster list, so they get
# the fixed effects as a plain Wald model (wald_model()).

#' Wald tests and the delta method with car
#'
#' Methods for [car::Anova()], [car::linearHypothesis()] and
#' [car::deltaMethod()] on [glmm()] and [gee()] fits, registered when car
#' is loaded. All are Wald (chi-square) inferences on the fixed effects with
#' `vcov(mod)` (for a gee the fit's `std.err` type; pass `vcov.` to use
#' another, e.g. `vcov. = vcov(fit, type = "md")`). `Anova()` gives type II
#' (default) or type III tests per term; for a glmm it equals car's
#' `Anova()` on the lme4 fit of the same model and approximation, and type
#' III on a gee equals geepack's Wald test of the fit against the fit
#' without the term.
#'
#' @param mod,model,object A fit from [glmm()] or [gee()].
#' @param type `"II"` or `"III"`, as in [car::Anova()].
#' @param test.statistic,test Only `"Chisq"`: the fits are asymptotic, with
#'   no denominator degrees of freedom for F tests.
#' @param hypothesis.matrix,rhs,g. As in [car::linearHypothesis()] and
#'   [car::deltaMethod()]; coefficient names are the fixed effects'.
#' @param parameterNames Names to use for the fixed effects in `g.` (one
#'   per coefficient), as in car's methods for `lm` and `glm` fits.
#' @param envir Environment in which `g.` is evaluated.
#' @param vcov. Covariance matrix of the fixed effects (or a function of
#'   the fit returning it); `vcov(mod)` by default.
#' @param ... Passed to car's default methods.
#' @return What car's default methods return: an `anova` table, or a data
#'   frame of estimates with standard errors and limits for
#'   `deltaMethod()`.
#'
#' For cumulative link fits ([glmm()] or [gee()] with [cumulative()]) the
#' tests, hypotheses and `g.` are of the covariates' coefficients only, with
#' their block of the covariance; the thresholds are not tested (`vcov.`
#' may be given over all parameters, thresholds first, or over the
#' coefficients alone).
#' @examples
#' if (requireNamespace("car", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   car::Anova(fit)
#'   car::linearHypothesis(fit, "period2 = period3")
#'   car::deltaMethod(fit, "exp(period2)")
#' }
#' @name car-methods
NULL

#' @rdname car-methods
#' @exportS3Method car::Anova
Anova.glmmgee_glmm <- function(mod, type = c("II", "III", 2, 3), test.statistic = "Chisq",
                               vcov. = NULL, ...) {
  check_chisq(test.statistic, "test.statistic")
  car_anova(mod, type, vcov., ...)
}

#' @rdname car-methods
#' @exportS3Method car::Anova
Anova.glmmgee_gee <- function(mod, type = c("II", "III", 2, 3), test.statistic = "Chisq",
                              vcov. = NULL, ...) {
  check_chisq(test.statistic, "test.statistic")
  car_anova(mod, type, vcov., ...)
}

# F tests would need denominator degrees of freedom (Kenward-Roger for
# lme4's linear mixed models) that these asymptotic fits do not have.
check_chisq <- function(test, arg) {
  if (!identical(test, "Chisq"))
    stop(sprintf("'%s' = \"%s\" is not available: glmmgee's Wald tests are chi-square tests (no denominator degrees of freedom); use \"Chisq\"",
                 arg, paste(test, collapse = ", ")), call. = FALSE)
  invisible(test)
}

car_anova <- function(mod, type, vcov., ...) {
  type <- match.arg(as.character(type), c("II", "III", "2", "3"))
  if (is.null(mod$terms))
    stop("Anova() needs the terms of a formula fit; this fit came from a matrix-level fitter",
         call. = FALSE)
  w <- wald_model(mod, vcov.)
  tab <- car::Anova(w, type = type, test.statistic = "Chisq", ...)
  # The layout car gives lme4 and glmmTMB fits.
  tab <- tab[c("Chisq", "Df", "Pr(>Chisq)")]
  attr(tab, "heading") <- c(sprintf("Analysis of Deviance Table (Type %s Wald chisquare tests)\n",
                                    if (type %in% c("II", "2")) "II" else "III"),
                            paste("Response:", deparse(mod$formula[[2L]], width.cutoff = 500L)))
  tab
}

#' @rdname car-methods
#' @exportS3Method car::linearHypothesis
linearHypothesis.glmmgee_glmm <- function(model, hypothesis.matrix, rhs = NULL, test = "Chisq",
                                          vcov. = NULL, ...) {
  check_chisq(test, "test")
  w <- wald_model(model, vcov.)
  car::linearHypothesis(w, hypothesis.matrix, rhs = rhs, test = "Chisq",
                        vcov. = if (w$user_vcov) w$vcov, ...)
}

#' @rdname car-methods
#' @exportS3Method car::linearHypothesis
linearHypothesis.glmmgee_gee <- linearHypothesis.glmmgee_glmm

#' @rdname car-methods
#' @exportS3Method car::deltaMethod
deltaMethod.glmmgee_glmm <- function(object, g., vcov. = NULL, parameterNames = NULL, ...,
                                     envir = parent.frame()) {
  w <- wald_model(object, vcov.)
  cf <- w$coefficients
  V <- w$vcov
  # As car's methods for lm and glm: the coefficients renamed for use in g.
  if (!is.null(parameterNames)) {
    if (!is.character(parameterNames) || length(parameterNames) != length(cf))
      stop(sprintf("'parameterNames' must be %d names, one per fixed effect", length(cf)),
           call. = FALSE)
    names(cf) <- parameterNames
    dimnames(V) <- list(parameterNames, parameterNames)
  }
  car::deltaMethod(cf, g., vcov. = V, ..., envir = envir)
}

#' @rdname car-methods
#' @exportS3Method car::deltaMethod
deltaMethod.glmmgee_gee <- deltaMethod.glmmgee_glmm

# Cumulative link fits: the tests are of the covariates' coefficients, with
# their block of the covariance (wald_model() leaves the thresholds out).
# A GLMM fit inherits the methods above; the glmmgee_glmm_ordinal method is
# for fits saved by versions whose ordinal class did not inherit
# glmmgee_glmm (car's default would test the thresholds too).

#' @rdname car-methods
#' @exportS3Method car::Anova
Anova.glmmgee_glmm_ordinal <- Anova.glmmgee_glmm

#' @rdname car-methods
#' @exportS3Method car::Anova
Anova.glmmgee_gee_ordinal <- Anova.glmmgee_glmm

#' @rdname car-methods
#' @exportS3Method car::linearHypothesis
linearHypothesis.glmmgee_glmm_ordinal <- linearHypothesis.glmmgee_glmm

#' @rdname car-methods
#' @exportS3Method car::linearHypothesis
linearHypothesis.glmmgee_gee_ordinal <- linearHypothesis.glmmgee_glmm

#' @rdname car-methods
#' @exportS3Method car::deltaMethod
deltaMethod.glmmgee_glmm_ordinal <- deltaMethod.glmmgee_glmm

#' @rdname car-methods
#' @exportS3Method car::deltaMethod
deltaMethod.glmmgee_gee_ordinal <- deltaMethod.glmmgee_glmm
