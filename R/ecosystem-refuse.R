# Calls of other packages that would run on our fits through their generic
# code and give numbers that are wrong for them, refused here with a
# message that says what to use instead. Each was found by running it:
# clubSandwich's vcovCR() treats a gee fit as a linear model with working
# independence and returns standard errors off by a factor of six on
# MASS::epil; performance's r2() gives a glm R2 for a gee. Registered when
# those packages load.

#' Calls refused on glmm and gee fits
#'
#' Some functions of other packages run on any object with `coef()`,
#' `residuals()` and `model.matrix()` and return numbers that are wrong for
#' a GEE or a GLMM. For glmmgee fits they stop with a message instead:
#'
#' * `clubSandwich::vcovCR()` on a [gee()] fit: use `vcov(fit, type = )`,
#'   which offers the sandwich (`"san.se"`), Mancl-DeRouen (`"md"`),
#'   Kauermann-Carroll (`"kc"`) and jackknife (`"jack"`, `"j1s"`, `"fij"`)
#'   estimators, computed with the working correlation. (On a [glmm()] fit
#'   `vcovCR()` works; see [vcovCR()][clubSandwich-methods].)
#' * `performance::r2()` on a [gee()] fit: a glm's R2 would ignore the
#'   clustering and there is no likelihood; report the working correlation
#'   or compare fits by [QIC()]. (On a [glmm()] fit it is Nakagawa's R2, from
#'   the variance decomposition of [variance_shares()]; see
#'   [get_variance()][glmmgee-insight].)
#'
#' @param obj,model A fit from [glmm()] or [gee()].
#' @param ... Ignored.
#' @return For `r2()` on a glmm fit, performance's Nakagawa R2; otherwise
#'   nothing: these methods signal an error.
#' @examples
#' if (requireNamespace("clubSandwich", quietly = TRUE) &&
#'     requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- gee(y ~ lbase + trt, data = epil, id = subject, family = poisson,
#'              corstr = "exchangeable")
#'   try(clubSandwich::vcovCR(fit, cluster = epil$subject, type = "CR2"))
#'   vcov(fit, type = "kc")
#' }
#' @name glmmgee-refused
NULL

#' @rdname glmmgee-refused
#' @exportS3Method clubSandwich::vcovCR
vcovCR.glmmgee_gee <- function(obj, ...) {
  stop("clubSandwich::vcovCR() does not know the working correlation of a glmmgee gee fit ",
       "and would give wrong standard errors; use vcov(fit, type = \"san.se\"), \"md\" ",
       "(Mancl-DeRouen), \"kc\" (Kauermann-Carroll) or \"jack\"/\"j1s\"/\"fij\" (jackknife)",
       call. = FALSE)
}

#' @rdname glmmgee-refused
#' @exportS3Method performance::r2
r2.glmmgee_glmm <- function(model, ...) {
  # performance's generic code would treat the fit as a glm; Nakagawa's R2
  # reads the variance decomposition of get_variance() instead.
  performance::r2_nakagawa(model, ...)
}

#' @rdname glmmgee-refused
#' @exportS3Method performance::r2
r2.glmmgee_gee <- function(model, ...) {
  stop("performance::r2() is not available for glmmgee gee fits (no likelihood, and a ",
       "glm's R2 ignores the clustering)", call. = FALSE)
}

#' @rdname glmmgee-refused
#' @exportS3Method performance::r2
r2.glmmgee_glmm_ordinal <- r2.glmmgee_glmm  # fits saved before the class inherited glmmgee_glmm

#' @rdname glmmgee-refused
#' @exportS3Method performance::r2
r2.glmmgee_gee_ordinal <- function(model, ...) {
  stop("performance::r2() is not available for glmmgee ordinal gee fits (no likelihood, and a ",
       "cumulative link model's R2 without the clustering would ignore it)", call. = FALSE)
}
