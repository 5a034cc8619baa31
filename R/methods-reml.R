# Methods that depend on whether a gaussian fit used REML (fit-reml.R,
# fit-lmm-onefactor.R, fit-lmm-sparse.R).

#' Was a model fitted by REML?
#'
#' `TRUE` for a [glmm()] fit with `REML = TRUE` (a gaussian identity-link
#' model, fitted by restricted maximum likelihood as `lme4::lmer()` does by
#' default), `FALSE` for fits by maximum likelihood. glmmgee's own generic:
#' it does not need lme4.
#' @param x A fitted model.
#' @param ... Not used: an argument given here is an error.
#' @return `TRUE` or `FALSE`.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(sleepstudy, package = "lme4")
#'   f <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
#'   isREML(f)
#'   logLik(f)                 # the restricted log-likelihood, as lmer's
#'   logLik(f, REML = FALSE)   # the log-likelihood at the REML estimates
#' }
#' @export
isREML <- function(x, ...) UseMethod("isREML")

#' @rdname isREML
#' @export
isREML.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "isREML.glmmgee_glmm")
  isTRUE(x$REML)
}

# The same method for lme4's generic when lme4 is loaded (delayed
# registration: no import of lme4), so isREML() answers whichever package
# was attached last.
#' @rawNamespace if (getRversion() >= "3.6.0") S3method(lme4::isREML, glmmgee_glmm)
NULL

#' @rdname isREML
#' @export
isREML.default <- function(x, ...) {
  check_dots(..., .method = "isREML.default")
  FALSE
}

# anova() between fits of which some used REML and whose fixed effects
# differ: restricted likelihoods of different fixed effects are not
# comparable, so, as lme4 does, those fits are refitted by ML, saying so.
anova_ml_fits <- function(fits) {
  reml <- vapply(fits, isREML, TRUE)
  if (!any(reml)) return(fits)
  fixed <- vapply(fits, function(f) paste(sort(names(f$coefficients)), collapse = "\r"), "")
  if (length(unique(fixed)) == 1L && all(reml)) return(fits)
  message("refitting model(s) with ML (instead of REML)")
  lapply(fits, function(f) if (isREML(f)) reml_ml_refit(f, quiet = FALSE) else f)
}
