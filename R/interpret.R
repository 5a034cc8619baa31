# Exponentiated coefficients: odds ratios (logit link) and rate ratios (log
# link), with Wald intervals, from glmm, gee or marginal_coefs objects.

#' Odds ratios and rate ratios with confidence intervals
#'
#' Exponentiated coefficients with Wald intervals, \eqn{\exp(\hat\beta \pm
#' z_{1-\alpha/2} SE)}, and Wald p-values for \eqn{\beta = 0} (ratio 1).
#' `odds_ratios()` needs a binomial fit with the logit link; `rate_ratios()`
#' a fit with the log link (for a poisson fit, ratios of rates; for other
#' families, ratios of means).
#'
#' What the ratios mean depends on the fit, and the printout says so:
#' * from [glmm()]: **conditional (subject-specific)** ratios, comparing two
#'   observations in the same cluster (the same random effect); standard
#'   errors from the inverse observed information.
#' * from [gee()]: **marginal (population-averaged)** ratios, comparing the
#'   population of clusters; standard errors from the fit's variance
#'   estimator (`std.err`, by default the robust sandwich).
#' * from [marginal_coefs()]: the marginal ratios implied by a GLMM;
#'   standard errors by the delta method.
#'
#' @param fit A fit from [glmm()] or [gee()], or the result of
#'   [marginal_coefs()].
#' @param level Confidence level.
#' @param parm Coefficients (names or indices); by default all but the
#'   intercept (whose exponential is a baseline odds or rate, not a ratio).
#' @param x A `glmmgee_ratios` object.
#' @param digits Number of significant digits to print.
#' @param ... For a cumulative link mixed model ([ordinal-glmm]): `type =
#'   "conditional"` (the default; \eqn{\exp\beta}, the same at every
#'   threshold) or `"marginal"` (population-averaged, one per threshold, with
#'   a column `threshold`), and `nAGQ` for the integral (30). Otherwise
#'   ignored.
#' @return A data frame of class `glmmgee_ratios` with columns `term`,
#'   `estimate` (the ratio), `std.error` (of the coefficient, log scale),
#'   `conf.low`, `conf.high` and `p.value`; attributes `measure`, `view`
#'   (`"conditional"` or `"marginal"`) and `level`.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial)
#'   odds_ratios(fit)                       # conditional
#'   pa <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID,
#'             family = binomial, corstr = "exchangeable")
#'   odds_ratios(pa)                        # population-averaged
#'   data(epil, package = "MASS")
#'   rate_ratios(glmm(y ~ trt + lbase + (1 | subject), data = epil,
#'                    family = poisson))
#' }
#' @export
odds_ratios <- function(fit, level = 0.95, parm = NULL, ...) {
  if (inherits(fit, "glmmgee_glmm_ordinal")) return(ordinal_odds_ratios(fit, level, parm, ...))
  if (inherits(fit, "glmmgee_gee_ordinal")) return(ordinal_gee_odds_ratios(fit, level, parm))
  est <- estimates_of(fit, "odds_ratios")
  fam <- est$family
  if (fam$family != "binomial")
    stop(sprintf("'fit': odds ratios need a binary outcome (binomial family); this fit is %s(%s)%s",
                 fam$family, fam$link,
                 if (fam$link == "log") "; use rate_ratios()" else ""), call. = FALSE)
  if (fam$link != "logit")
    stop(sprintf("'fit': odds ratios need the logit link; with the %s link exp(coefficient) is not an odds ratio",
                 fam$link), call. = FALSE)
  ratio_table(est, level, parm, "odds ratio")
}

#' @rdname odds_ratios
#' @export
rate_ratios <- function(fit, level = 0.95, parm = NULL) {
  est <- estimates_of(fit, "rate_ratios")
  fam <- est$family
  if (fam$link != "log")
    stop(sprintf("'fit': rate ratios need the log link; with the %s link exp(coefficient) is not a ratio of means%s",
                 fam$link, if (fam$link == "logit") " (use odds_ratios())" else ""),
         call. = FALSE)
  measure <- if (fam$family == "poisson" || grepl("^Negative Binomial|^nbinom", fam$family))
    "rate ratio" else if (fam$family == "binomial") "risk ratio" else "ratio of means"
  ratio_table(est, level, parm, measure)
}

# Coefficients, covariance, family and view of anything the ratio functions
# accept.
estimates_of <- function(fit, caller) {
  if (inherits(fit, "glmmgee_marginal_coefs")) {
    if (is.null(fit$vcov))
      stop(sprintf("'fit': %s() needs marginal_coefs(std_errors = TRUE)", caller), call. = FALSE)
    return(list(coef = fit$coefficients, vcov = fit$vcov, family = fit$family,
                view = "marginal", source = "implied by a GLMM (marginal_coefs)"))
  }
  check_fit(fit, sprintf("%s() reads its coefficients", caller))
  if (is_glmm(fit))
    list(coef = fit$coefficients, vcov = fit$vcov, family = fit$family,
         view = "conditional", source = "GLMM", separation = fit$separation)
  else
    list(coef = fit$coefficients, vcov = stats::vcov(fit), family = fit$family,
         view = "marginal", source = sprintf("GEE, %s standard errors", se_label(fit$std.err)),
         separation = fit$separation)
}

ratio_table <- function(est, level, parm, measure) {
  check_level(level)
  cf <- est$coef
  default <- setdiff(names(cf), "(Intercept)")
  if (!length(default)) default <- names(cf)
  parm <- match_parm(parm, names(cf), default)
  se <- sqrt(diag(est$vcov))[parm]
  b <- cf[parm]
  z <- stats::qnorm(1 - (1 - level) / 2)
  out <- data.frame(term = parm, estimate = unname(exp(b)), std.error = unname(se),
                    conf.low = unname(exp(b - z * se)), conf.high = unname(exp(b + z * se)),
                    p.value = unname(2 * stats::pnorm(-abs(b / se))),
                    stringsAsFactors = FALSE)
  bad <- unbounded_terms(b, se, est$separation)
  # A finite, well-determined coefficient (|z| > 2, no separation) whose
  # exp() overflows or that the drift heuristic caught only by its size is
  # a covariate in small units (x * 1e-6: one unit is a step of 1e6 on the
  # log scale), not a fit on its way to infinity: said so.
  sep <- if (isTRUE(est$separation$separated)) est$separation$terms else character()
  units <- bad[!bad %in% sep & is.finite(b[bad]) & !is.na(se[bad]) & is.finite(se[bad]) &
                 abs(b[bad] / se[bad]) > 2]
  bad <- setdiff(bad, units)
  if (length(units))
    warning(sprintf(paste0("%s for %s: one unit of the covariate is a step of %s on the log scale, ",
                           "so the ratio per unit overflows or is not informative; rescale the ",
                           "covariate (e.g. x / sd(x)) to read it"),
                    measure, paste(sQuote(units, FALSE), collapse = ", "),
                    paste(format(signif(b[units], 3)), collapse = ", ")), call. = FALSE)
  if (length(bad))
    warning(sprintf(paste0("%s for %s: no finite estimate (the fit is separated or the coefficient ",
                           "is on its way to +/-Inf), so the ratio, its interval and p-value are ",
                           "meaningless"), measure, paste(sQuote(bad, FALSE), collapse = ", ")),
            call. = FALSE)
  nose <- setdiff(parm[is.na(se)], bad)
  if (length(nose))
    warning(sprintf("%s for %s: the fit gives no standard error (see its warnings), so no interval or p-value",
                    measure, paste(sQuote(nose, FALSE), collapse = ", ")), call. = FALSE)
  structure(out, class = c("glmmgee_ratios", "data.frame"), measure = measure,
            view = est$view, source = est$source, level = level)
}

#' @rdname odds_ratios
#' @export
print.glmmgee_ratios <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat(sprintf("%s%ss, %s\n", toupper(substring(attr(x, "measure"), 1, 1)),
              substring(attr(x, "measure"), 2), view_label(attr(x, "view"))))
  cat(sprintf("From: %s. Wald %g%% intervals; std.error on the log scale.\n",
              attr(x, "source"), 100 * attr(x, "level")))
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  d$p.value <- format.pval(d$p.value, digits = 3L)
  print(format(d, digits = digits), row.names = FALSE)
  invisible(x)
}

# Coefficient selection by name or index; unknown ones are an error naming
# the argument.
match_parm <- function(parm, names, default, arg = "parm") {
  if (missing(parm) || is.null(parm)) return(default)
  if (is.numeric(parm)) {
    if (any(is.na(parm) | parm < 1 | parm > length(names) | parm != round(parm)))
      stop(sprintf("'%s': indices must be between 1 and %d", arg, length(names)), call. = FALSE)
    return(names[parm])
  }
  if (!is.character(parm))
    stop(sprintf("'%s' must be coefficient names or indices", arg), call. = FALSE)
  bad <- setdiff(parm, names)
  if (length(bad))
    stop(sprintf("'%s': %s not among the coefficients (%s)", arg,
                 paste(sQuote(bad, FALSE), collapse = ", "),
                 paste(names, collapse = ", ")), call. = FALSE)
  parm
}

check_level <- function(level, arg = "level") {
  if (!is.numeric(level) || length(level) != 1L || is.na(level) || level <= 0 || level >= 1)
    stop(sprintf("'%s' must be one number between 0 and 1, e.g. 0.95", arg), call. = FALSE)
  invisible(level)
}

# Coefficients among `b` (with standard errors `se`) that have no finite
# estimate: named by the fit's separation check, or numerically unbounded
# (exp() overflows, or a standard error so large that the Wald interval
# covers every ratio, the Hauck-Donner signature of a drifting estimate).
unbounded_terms <- function(b, se, separation = NULL) {
  sep <- if (isTRUE(separation$separated)) intersect(names(b), separation$terms) else character()
  # An NA standard error (no covariance of the fit) says nothing about the
  # estimate itself; an infinite one does.
  num <- names(b)[!is.finite(exp(b)) | (!is.na(se) & !is.finite(se)) |
                    (abs(b) > 10 & !is.na(se) & se > 100)]
  unique(c(sep, num))
}
