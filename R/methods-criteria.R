# AIC() and BIC() of GLMM fits: a warning when the fits compared use
# different approximations to the likelihood, and a way to put them all on
# the same one.

#' AIC and BIC of GLMM fits
#'
#' As [stats::AIC()] and [stats::BIC()], from the full log-likelihood
#' ([logLik()]), with a warning when the fits compared use different
#' approximations to the likelihood (the Laplace approximation versus
#' adaptive quadrature with some `nAGQ`, or a non-normal random-intercept
#' distribution): the log-likelihoods are on the same scale, but the
#' approximation error differs between them and can exceed the differences
#' of interest. [anova()] notes the same. `nAGQ` refits every GLMM with one
#' random-effect distribution the same way, so that all use the same one.
#'
#' @param object,... Fits from [glmm()] (and other models with a
#'   [logLik()] method).
#' @param k Penalty per parameter (2 for AIC).
#' @param nAGQ Optional number of quadrature points: every `glmm()` fit with
#'   one grouping factor and a normal random effect is refitted with it
#'   first (see [glmm()]).
#' @return As [stats::AIC()]: a number for one fit, otherwise a data frame
#'   with columns `df` and `AIC` (or `BIC`), one row per fit.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   f1 <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 1)
#'   f2 <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
#'   suppressWarnings(AIC(f1, f2))   # warns: Laplace versus nAGQ = 11
#'   AIC(f1, f2, nAGQ = 11)          # both with 11 points
#' }
#' @name AIC.glmmgee_glmm
#' @export
AIC.glmmgee_glmm <- function(object, ..., k = 2, nAGQ = NULL) {
  check_dots_fits(..., .method = "AIC.glmmgee_glmm")
  labels <- vapply(as.list(match.call(expand.dots = FALSE)$...), function(e)
    paste(deparse(e), collapse = ""), "")
  labels <- c(paste(deparse(substitute(object)), collapse = ""), labels)
  information_criterion(list(object, ...), labels, k, nAGQ, "AIC")
}

#' @rdname AIC.glmmgee_glmm
#' @export
BIC.glmmgee_glmm <- function(object, ..., nAGQ = NULL) {
  check_dots_fits(..., .method = "BIC.glmmgee_glmm")
  labels <- vapply(as.list(match.call(expand.dots = FALSE)$...), function(e)
    paste(deparse(e), collapse = ""), "")
  labels <- c(paste(deparse(substitute(object)), collapse = ""), labels)
  information_criterion(list(object, ...), labels, NULL, nAGQ, "BIC")
}

# The approximation to the likelihood of each of `fits` ("" for a fit
# that is not a GLMM) when the GLMM fits' differ in a way that matters,
# else nothing:
# bridge and nonparametric fits integrate to ~1e-12 and compare with any
# quadrature fit; they differ in approximation only from a Laplace fit.
mixed_approximations <- function(fits) {
  glmms <- vapply(fits, is_glmm, TRUE)
  dist <- vapply(fits, is_dist_fit, TRUE)
  lab <- vapply(fits, function(f) if (is_glmm(f)) approximation_label(f) else "", "")
  methods <- unique(lab[glmms & !dist])
  if (any(dist) && any(grepl("^Laplace approximation$", methods)))
    methods <- c(methods, unique(lab[dist]))
  if (length(unique(methods)) > 1L) lab else character()
}

information_criterion <- function(fits, labels, k, nAGQ, what) {
  if (!is.null(nAGQ)) fits <- lapply(fits, refit_nAGQ, nAGQ = nAGQ)
  glmms <- vapply(fits, is_glmm, TRUE)
  methods <- setdiff(unique(mixed_approximations(fits)), "")
  if (length(methods) > 1L)
    warning(sprintf("%s(): the fits use different approximations to the likelihood (%s); compare fits made the same way, e.g. %s(..., nAGQ = %d)",
                    what, paste(methods, collapse = "; "), what,
                    max(vapply(fits[glmms], function(f) as.integer(f$nAGQ %||% 1L), 1L),
                        na.rm = TRUE)), call. = FALSE)
  one <- function(f) {
    ll <- stats::logLik(f)
    df <- attr(ll, "df")
    pen <- if (is.null(k)) log(attr(ll, "nobs") %||% stats::nobs(f)) else k
    c(df = df, value = -2 * as.numeric(ll) + pen * df)
  }
  vals <- vapply(fits, one, c(df = 0, value = 0))
  if (length(fits) == 1L) return(vals[["value", 1L]])
  out <- data.frame(df = vals["df", ], value = vals["value", ], row.names = labels)
  names(out)[2L] <- what
  out
}

# The same model refitted with nAGQ points, when that applies (one grouping
# factor, normal random effects); other fits are returned as they are.
refit_nAGQ <- function(fit, nAGQ) {
  if (!is_glmm(fit) || inherits(fit, "glmmgee_glmm_sparse") || is_dist_fit(fit) ||
      identical(as.integer(fit$nAGQ), as.integer(nAGQ)))
    return(fit)
  call <- fit$call
  call$nAGQ <- as.integer(nAGQ)
  eval(call, environment(fit$formula) %||% parent.frame())
}
