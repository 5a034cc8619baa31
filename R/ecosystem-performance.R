# performance's check_overdispersion() on glmm fits, registered when
# performance is loaded. performance has no method for classes it does not
# know ("not yet implemented"); this one is the Pearson chi-square test that
# performance computes for lme4 and glmmTMB fits with residual_type =
# "normal".

#' Overdispersion check (performance)
#'
#' A method for [performance::check_overdispersion()] on [glmm()] fits of
#' counts and binomial responses, registered when performance is loaded:
#' the sum of squared Pearson residuals (conditional on the predicted random
#' effects) against a chi-square distribution with the residual degrees of
#' freedom ([df.residual()]: observations minus all parameters), the test
#' performance gives for lme4 and glmmTMB fits with `residual_type =
#' "normal"`. A dispersion ratio well above 1 suggests overdispersion (see
#' [overdispersion] for the remedies). `residual_type = "simulated"` hands
#' the fit to performance's simulated-residual check (which needs the
#' DHARMa package).
#'
#' @param x A fit from [glmm()].
#' @param residual_type `"normal"` (the default: Pearson residuals) or
#'   `"simulated"`.
#' @param ... Passed to performance's simulated-residual check; must be
#'   empty for `"normal"`.
#' @return An object of class `check_overdisp`, as performance's: a list
#'   with `chisq_statistic`, `dispersion_ratio`, `residual_df`, `p_value`.
#' @examples
#' if (requireNamespace("performance", quietly = TRUE) &&
#'     requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson)
#'   performance::check_overdispersion(fit)
#' }
#' @name glmmgee-overdispersion-check
#' @exportS3Method performance::check_overdispersion
check_overdispersion.glmmgee_glmm <- function(x, residual_type = "normal", ...) {
  residual_type <- match_choice(residual_type, c("normal", "simulated"), "residual_type")
  obj_name <- deparse1(substitute(x))
  fam <- x$family$family
  if (!fam %in% c("poisson", "binomial", "nbinom1", "nbinom2"))
    stop(sprintf("check_overdispersion(): the %s family has no overdispersion to check (it is for count and binomial models)%s",
                 fam, if (fam %in% c("gaussian", "Gamma")) "; its dispersion is estimated" else ""),
         call. = FALSE)
  if (!is.null(x$aux$kind) && !identical(x$aux$kind, "disp"))
    stop("check_overdispersion(): not available for zero-inflated or hurdle fits (their Pearson residuals mix two parts); compare the fit with its negative binomial version by AIC()",
         call. = FALSE)
  if (residual_type == "simulated")
    return(performance::check_overdispersion(performance::simulate_residuals(x, ...),
                                             object_name = obj_name))
  check_no_dots(list(...), "check_overdispersion")
  rp <- stats::residuals(x, type = "pearson")
  rdf <- stats::df.residual(x)
  chisq <- sum(rp^2, na.rm = TRUE)
  out <- list(chisq_statistic = chisq, dispersion_ratio = chisq / rdf, residual_df = rdf,
              p_value = stats::pchisq(chisq, df = rdf, lower.tail = FALSE))
  class(out) <- c("check_overdisp", "see_check_overdisp")
  attr(out, "object_name") <- obj_name
  out
}
