# DHARMa's accessors for gee fits, registered when DHARMa is loaded:
# simulateResiduals() takes the observed response, the fitted means and the
# simulations from them. Binomial responses are counts of successes there
# (the proportion times the number of trials), as DHARMa expects.

#' DHARMa residuals for GEE fits
#'
#' Methods for DHARMa's internal accessors, registered when DHARMa is
#' loaded, so that `DHARMa::simulateResiduals()` runs on a [gee()] fit: the
#' observed response, the fitted marginal means and the simulations of
#' [simulate.glmmgee_gee()] (see there for what is simulated: the scaled
#' residuals test the working model taken as a distribution, including its
#' working correlation). Binomial responses are passed as counts of
#' successes. DHARMa warns that the class is not among those it knows;
#' refitting (`refit = TRUE`) is not offered.
#'
#' @param object a fit from [gee()].
#' @param nsim,type as in DHARMa (`type = "normal"` only).
#' @param simulateREs as in DHARMa, which passes it on: a gee fit has no
#'   random effects, so every choice simulates the same marginal model.
#' @param ... not used: an argument given here is an error.
#' @return Vectors (response, fitted means) or an n x nsim matrix.
#' @examples
#' if (requireNamespace("DHARMa", quietly = TRUE) &&
#'     requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'              family = poisson, corstr = "exchangeable")
#'   res <- suppressWarnings(DHARMa::simulateResiduals(fit, n = 100))
#'   DHARMa::testDispersion(res, plot = FALSE)
#' }
#' @name DHARMa-methods
#' @exportS3Method DHARMa::getObservedResponse
getObservedResponse.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "getObservedResponse.glmmgee_gee")
  y <- object$y
  if (object$family$family == "binomial") y <- y * object$prior.weights
  unname(y)
}

#' @rdname DHARMa-methods
#' @exportS3Method DHARMa::getFitted
getFitted.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "getFitted.glmmgee_gee")
  unname(object$fitted.values)
}

#' @rdname DHARMa-methods
#' @exportS3Method DHARMa::getSimulations
getSimulations.glmmgee_gee <- function(object, nsim = 1, type = c("normal", "refit"),
                                       simulateREs = c("conditional", "unconditional",
                                                       "user-specified"), ...) {
  check_dots(..., .method = "getSimulations.glmmgee_gee")
  type <- match.arg(type)
  # DHARMa (0.5) passes its simulateResiduals(simulateREs =) on: a gee fit
  # has no random effects, so every choice is the same marginal simulation.
  match.arg(simulateREs)
  if (type == "refit")
    stop("DHARMa's refit = TRUE is not available for gee fits; use the default simulations",
         call. = FALSE)
  s <- as.matrix(simulate(object, nsim = nsim))
  if (object$family$family == "binomial") s <- s * object$prior.weights
  unname(s)
}
