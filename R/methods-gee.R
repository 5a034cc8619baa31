# Methods for GEE fits (class "glmmgee_gee"). Nothing is inherited from glm:
# every method here knows that the variance is a sandwich, that there is no
# likelihood, and that the data were grouped by cluster.

#' Methods for GEE fits
#'
#' Extractors and summaries for fits from [gee()] and [gee_fit()].
#'
#' @param object,x a fit from [gee()] or [gee_fit()].
#' @param type for `vcov()`, `confint()` and `summary()`: the variance
#'   estimator (`"san.se"`, `"model"`, `"md"`, `"kc"`, `"jack"`, `"j1s"`,
#'   `"fij"`, `"df"`, `"fg"`, `"mbn"`, `"pan"`, `"gst"`, `"wl"`, `"cjack"`,
#'   or glmtoolbox's names; see [gee()]), by default the fit's `std.err`. Types not computed
#'   at fit time are computed on request. For `residuals()`: `"pearson"`
#'   (\eqn{\sqrt{w}(y - \mu)/\sqrt{V(\mu)}}, not divided by the scale),
#'   `"response"` or `"working"`. For `predict()`: `"link"` or `"response"`.
#' @param parm coefficients (names or indices) for the intervals; all by
#'   default.
#' @param level confidence level.
#' @param method for `confint()`: only `"Wald"` (a GEE has no likelihood to
#'   profile).
#' @param newdata data frame (formula fits) or model matrix ([gee_fit()]
#'   fits) to predict for; the fitted data by default.
#' @param na.action for `predict()` with `newdata`: what to do with rows
#'   holding a missing value in a variable of the model: `na.pass` (the
#'   default) and `na.exclude` give them `NA`, `na.omit` drops them.
#' @param se.fit logical: also return standard errors (delta method on the
#'   response scale), from `vcov(object)`.
#' @param digits number of significant digits to print.
#' @param ... further fits (for `anova()`); otherwise not used: an argument
#'   given here is an error.
#' @return `vcov()`: a covariance matrix (`NA`, with a warning, for a fit
#'   with separation, see "Checks on the data" in [gee()]). `confint()`: a matrix of Wald
#'   limits. `predict()`: a vector, or a list with `fit` and `se.fit`.
#'   `residuals()`, `fitted()`: vectors padded by `na.action` (see
#'   [stats::naresid()]). `summary()`: an object with a print method.
#' @name gee-methods
#' @importFrom stats anova confint family
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'              family = poisson, corstr = "ar1", waves = period)
#'   fit
#'   vcov(fit, type = "md")
#'   confint(fit)
#'   head(predict(fit, type = "response", se.fit = TRUE)$se.fit)
#' }
NULL

#' @rdname gee-methods
#' @export
coef.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "coef.glmmgee_gee", .allow = "complete")
  object$coefficients
}

#' @rdname gee-methods
#' @export
vcov.glmmgee_gee <- function(object, type = object$std.err, ...) {
  check_dots(..., .method = "vcov.glmmgee_gee", .allow = "complete")
  type <- match_std_err(type, "type")
  check_jackknife(type, object$nclusters, length(object$coefficients), length(object$alpha),
                  object$scale.fix, arg = "type")
  sep <- gee_separation_na(object, type)
  if (!is.null(sep)) return(sep)
  v <- object$vcov[[type]]
  if (!is.null(v)) return(v)
  if (!is.null(object$pattern))
    stop(sprintf("'type' = \"%s\" is not available for this fit (corstr = \"%s\"%s): use \"san.se\" or \"model\"",
                 type, object$corstr, if (!is.null(object$dropout)) ", weighted for dropout" else ""),
         call. = FALSE)
  if (type %in% gee_post_se_types) return(gee_post_vcov(object, type))
  r <- gee_variance_of(object, type)
  v <- r[[type]]
  if (type %in% c("jack", "j1s", "fij"))
    v <- jack_factor(object$nclusters, length(object$coefficients), length(object$alpha),
                     object$scale.fix) * v
  nm <- names(object$coefficients)
  dimnames(v) <- list(nm, nm)
  v
}

# Under separation (gee()'s `$separation`) the coefficients named there
# have no finite estimate, and the sandwich shrinks towards 0 along them
# as their residuals vanish: any variance of such a fit is an artefact of
# where the iterations stopped. As glmm() does, every entry is NA (the
# limits for the other coefficients exist in principle, but with a working
# correlation, small-sample corrections and jackknives they are not
# clearly valid at the stopping point); warns naming the coefficients.
# NULL for a fit without separation.
gee_separation_na <- function(object, type) {
  sep <- object$separation
  if (!isTRUE(sep$separated)) return(NULL)
  warning(gee_separation_warning(sep, type), call. = FALSE)
  nm <- names(object$coefficients)
  matrix(NA_real_, length(nm), length(nm), dimnames = list(nm, nm))
}

# vcov() of a gee fit for callers that name the separation themselves
# (odds_ratios(), standardize()): without vcov()'s own warning about it.
gee_vcov_quiet <- function(fit) {
  withCallingHandlers(stats::vcov(fit), warning = function(w)
    if (startsWith(conditionMessage(w), "separation: ")) invokeRestart("muffleWarning"))
}

gee_separation_warning <- function(sep, type) {
  terms <- sQuote(sep$terms, FALSE)
  if (length(terms) > 10L) terms <- c(terms[1:10], sprintf("and %d more", length(terms) - 10L))
  sprintf(paste0("separation: %s %s no finite estimate, so the %s variance is not estimable and every ",
                 "standard error, interval and test of this fit is NA (as for glmm())"),
          paste(terms, collapse = ", "), if (length(sep$terms) == 1L) "has" else "have",
          se_label(type))
}

#' @rdname gee-methods
#' @export
confint.glmmgee_gee <- function(object, parm, level = 0.95, type = object$std.err,
                                method = "Wald", ...) {
  check_dots(..., .method = "confint.glmmgee_gee")
  if (!identical(method, "Wald"))
    stop("a GEE has no likelihood to profile: confint() gives Wald intervals only (method = \"Wald\")",
         call. = FALSE)
  check_level(level)
  cf <- coef(object)
  se <- sqrt(diag(vcov(object, type = type)))
  parm <- names(cf)[select_parameters(if (missing(parm)) NULL else parm, names(cf))]
  a <- (1 - level) / 2
  z <- stats::qnorm(1 - a)
  ci <- cbind(cf[parm] - z * se[parm], cf[parm] + z * se[parm])
  dimnames(ci) <- list(parm, percent_labels(c(a, 1 - a)))
  ci
}

#' @rdname gee-methods
#' @export
nobs.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "nobs.glmmgee_gee", .allow = "use.fallback")
  object$nobs
}

#' @rdname gee-methods
#' @export
formula.glmmgee_gee <- function(x, ...) {
  # `env` (from as.formula()) ignored as by formula.glmmgee_glmm()
  check_dots(..., .method = "formula.glmmgee_gee", .allow = "env")
  if (is.null(x$formula)) stop("this fit came from gee_fit(): it has no formula", call. = FALSE)
  x$formula
}

#' @rdname gee-methods
#' @export
family.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "family.glmmgee_gee")
  object$family
}

#' @rdname gee-methods
#' @export
model.matrix.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "model.matrix.glmmgee_gee")
  object$engine$data$X
}

#' @rdname gee-methods
#' @export
fitted.glmmgee_gee <- function(object, ...) {
  check_dots(..., .method = "fitted.glmmgee_gee")
  stats::naresid(object$na.action, gee_named(object, object$fitted.values))
}

#' @rdname gee-methods
#' @export
residuals.glmmgee_gee <- function(object, type = c("pearson", "response", "working"), ...) {
  check_dots(..., .method = "residuals.glmmgee_gee")
  type <- match.arg(type)
  y <- object$y; mu <- object$fitted.values; eta <- object$linear.predictors
  fam <- object$family
  r <- switch(type,
              response = y - mu,
              pearson = sqrt(object$prior.weights) * (y - mu) / sqrt(fam$variance(mu)),
              working = (y - mu) / fam$mu.eta(eta))
  stats::naresid(object$na.action, gee_named(object, r))
}

gee_named <- function(object, v) {
  rn <- rownames(object$engine$data$X)
  if (!is.null(rn)) names(v) <- rn
  v
}

#' @rdname gee-methods
#' @export
predict.glmmgee_gee <- function(object, newdata, type = c("link", "response"),
                                se.fit = FALSE, na.action = stats::na.pass, ...) {
  check_dots(..., .method = "predict.glmmgee_gee")
  type <- match.arg(type)
  fam <- object$family
  if (missing(newdata) || is.null(newdata)) {
    X <- object$engine$data$X
    off <- object$offset
    na <- object$na.action
  } else if (is.null(object$terms)) {
    X <- newdata
    if (!is.matrix(X) || ncol(X) != length(object$coefficients))
      stop(sprintf("'newdata' must be a model matrix with %d columns for a gee_fit() fit",
                   length(object$coefficients)), call. = FALSE)
    off <- rep(0, nrow(X))
    na <- NULL
  } else {
    tt <- stats::delete.response(object$terms)
    check_newdata_vars(tt, newdata, "fixed effects", environment(tt) %||% parent.frame())
    check_newdata_xlevels(object$xlevels, newdata, "fixed effects",
                          environment(tt) %||% parent.frame())
    mf <- stats::model.frame(tt, newdata, na.action = stats::na.pass, xlev = object$xlevels)
    if (!is.null(cl <- attr(tt, "dataClasses"))) stats::.checkMFClasses(cl, mf)
    X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
    off <- stats::model.offset(mf)
    if (is.null(off)) off <- rep(0, nrow(X))
    off <- off + newdata_offset(object$call$offset, newdata,
                                environment(object$formula) %||% parent.frame(), nrow(X))
    # Rows of newdata with a missing value in a variable of the model under
    # na.action, as predict.glmmgee_glmm() (na.omit was swallowed by '...').
    na <- attr(match.fun(na.action)(mf), "na.action")
    if (!is.null(na)) {
      X <- X[-na, , drop = FALSE]
      off <- off[-na]
    }
  }
  eta <- drop(X %*% object$coefficients) + off
  fit <- if (type == "link") eta else fam$linkinv(eta)
  warn_binlog_over(fam, exp(eta), names(eta) %||% rownames(X),
                   if (type == "response") "predicted probabilities"
                   else "predicted probabilities exp(eta) of these linear predictors")
  if (!se.fit) return(stats::napredict(na, fit))
  se <- sqrt(delta_var(X, vcov(object), cov_star_of(object)))
  if (type == "response") se <- se * abs(fam$mu.eta(eta))
  list(fit = stats::napredict(na, fit), se.fit = stats::napredict(na, se))
}

#' @rdname gee-methods
#' @export
print.glmmgee_gee <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_gee", .allow = print_dots)
  cat(sprintf("GEE: %s(%s), working correlation \"%s\"\n", x$family$family,
              x$family$link, x$corstr))
  if (!is.null(x$call)) { cat("Call: "); print(x$call) }
  cat("\nCoefficients:\n")
  # (as print.glm(): format(signif()) padded the shorter ones with zeros,
  # -1.28288 printed as -1.28300)
  print(format(x$coefficients, digits = digits), quote = FALSE)
  gee_print_footer(x, digits)
  invisible(x)
}

gee_print_footer <- function(x, digits) {
  cat(sprintf("\nScale: %s%s\n", format(signif(x$scale, digits)),
              if (x$scale.fix) " (fixed)" else ""))
  if (!is.null(x$nb_theta))
    cat(sprintf("Negative binomial theta: %s (moment estimate)\n",
                format(signif(x$nb_theta$theta, digits))))
  if (!is.null(x$phi) && is.finite(x$phi))
    cat(sprintf("%s: %s (from the scale)\n", phi_label(x$family$family, "marginal"),
                format(signif(x$phi, digits))))
  if (length(x$alpha)) {
    a <- x$alpha
    cat("Correlation parameters:",
        if (length(a) > 6L) paste0(paste(names(a)[1:6], "=", signif_each(a[1:6], digits), collapse = ", "),
                                  sprintf(", ... (%d in all)", length(a)))
        else paste(names(a), "=", signif_each(a, digits), collapse = ", "), "\n")
  }
  sz <- range(x$cluster.sizes)
  cat(sprintf("Clusters: %d (size %s), observations: %d", x$nclusters,
              if (sz[1L] == sz[2L]) sz[1L] else paste(sz, collapse = "-"), x$nobs))
  nna <- length(x$na.action)
  if (nna && is.null(x$dropout))
    cat(sprintf(" (%d row%s removed for missing values)", nna, if (nna > 1L) "s" else ""))
  cat("\n")
  if (!is.null(d <- x$dropout))
    cat(sprintf("Weighted for dropout at random: %s-level inverse probability weights from the dropout model %s (%d missed visit%s, %d cluster%s dropping out)\n",
                sub("s$", "", d$level), paste(deparse(d$formula, width.cutoff = 500L), collapse = " "),
                d$missed, if (d$missed == 1L) "" else "s", d$dropouts, if (d$dropouts == 1L) "" else "s"))
  cat(if (x$converged && isTRUE(x$separation$separated))
        sprintf("Steps became small after %d iterations, but under separation there is no finite root (see the note).\n", x$iter)
      else if (x$converged) sprintf("Converged in %d iterations.\n", x$iter)
      else sprintf("NOT converged after %d iterations (last relative change %.3g).\n",
                   x$iter, x$delta))
  for (w in setdiff(x$warnings, grep("did not converge", x$warnings, value = TRUE)))
    cat("Note:", w, "\n")
}

#' @rdname gee-methods
#' @export
summary.glmmgee_gee <- function(object, type = object$std.err, ...) {
  check_dots(..., .method = "summary.glmmgee_gee")
  type <- match_std_err(type, "type")
  cf <- coef(object)
  se <- sqrt(diag(vcov(object, type = type)))
  z <- cf / se
  tab <- cbind(Estimate = cf, `Std. Error` = se, `z value` = z,
               `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  structure(list(fit = object, coefficients = tab, std.err = type),
            class = "summary.glmmgee_gee")
}

se_label <- function(type) {
  switch(type, san.se = "robust sandwich", model = "model-based",
         md = "Mancl-DeRouen bias-corrected sandwich",
         kc = "Kauermann-Carroll bias-corrected sandwich", jack = "approximate jackknife",
         j1s = "one-step jackknife", fij = "fully iterated jackknife",
         gee_post_se_label(type))
}

#' @rdname gee-methods
#' @export
print.summary.glmmgee_gee <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.summary.glmmgee_gee", .allow = print_dots)
  f <- x$fit
  cat(sprintf("GEE: %s(%s), working correlation \"%s\"%s\n", f$family$family, f$family$link,
              f$corstr, if (f$corstr %in% c("mdep", names(gee_pattern_corstrs))) sprintf(" (Mv = %d)", f$Mv) else ""))
  if (!is.null(f$call)) { cat("Call: "); print(f$call) }
  cat(sprintf("\nCoefficients (standard errors: %s):\n", se_label(x$std.err)))
  stats::printCoefmat(x$coefficients, digits = digits, has.Pvalues = TRUE,
                      P.values = TRUE, signif.legend = TRUE)
  gee_print_footer(f, digits)
  T <- nrow(f$working.correlation)
  if (f$corstr != "independence" && T <= 8L) {
    cat("\nWorking correlation (by wave position):\n")
    print(round(f$working.correlation, 3L))
  }
  invisible(x)
}
