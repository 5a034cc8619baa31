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
#' grouping factor and a normal random effect the same way, so that all use
#' the same one; it is an error for a fit it cannot refit (several
#' random-effect terms, a `ranef_dist` fit, importance sampling or the
#' second-order approximation of [glmm_control()]: refit those with the
#' same settings instead). The warning names the remedy that applies. A fit
#' with a known covariance (`covariance =` of [glmm()]) is fitted by the
#' Laplace approximation only, while a binomial or Poisson fit of one
#' grouping factor uses adaptive quadrature by default: compare them with
#' `nAGQ = 1` (e.g. `AIC(fit_plain, fit_known, nAGQ = 1)`). The check needs
#' the fits in one call: `AIC(f1)` and `AIC(f2)` apart cannot warn.
#'
#' For a penalized fit (`penalized = TRUE` of [glmm()]) the criteria use
#' [logLik()], the log-likelihood without the prior at the penalized
#' estimates, and count every parameter as a free one (the prior's shrinkage
#' is not counted as fewer degrees of freedom). GLMMadaptive's `logLik()`
#' of a penalized fit includes the log prior, so its AIC of the same model
#' differs by twice the log prior (`2 * fit$penalty$value`; 11.8 on one
#' separated binary data set). Compare penalized fits with each other only,
#' with the same prior.
#'
#' @param object,... Fits from [glmm()] (and other models with a
#'   [logLik()] method).
#' @param k Penalty per parameter (2 for AIC).
#' @param nAGQ Optional number of quadrature points: every `glmm()` fit with
#'   one grouping factor and a normal random effect is refitted with it
#'   first (see [glmm()]); any other GLMM fit must already have it (an
#'   error names the fit otherwise).
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
  if (!is.null(nAGQ)) fits <- Map(refit_nAGQ, fits, labels, MoreArgs = list(nAGQ = nAGQ))
  methods <- setdiff(unique(mixed_approximations(fits)), "")
  if (length(methods) > 1L)
    warning(sprintf("%s(): the fits use different approximations to the likelihood (%s); %s",
                    what, paste(methods, collapse = "; "), approximation_remedy(fits, labels, what)),
            call. = FALSE)
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

# How a fit's approximation to the likelihood can be changed: "nagq" (one
# grouping factor, normal random effects: refitted with any nAGQ),
# "several" (several terms: the Laplace approximation only), "known" (a
# known covariance, glmm(covariance = ): the Laplace approximation only,
# exact for the gaussian family), "refined"
# (importance sampling or the second-order approximation, set by
# glmm_control()), "dist" (ranef_dist: its own rule, no nAGQ), "" (not a
# GLMM: nothing to approximate).
approximation_kind <- function(fit) {
  if (!is_glmm(fit)) return("")
  if (is_dist_fit(fit)) return("dist")
  if (!is.null(.subset2(fit, "importance")) || !is.null(.subset2(fit, "second_order"))) return("refined")
  if (inherits(fit, "glmmgee_glmm_known")) return("known")
  if (inherits(fit, "glmmgee_glmm_sparse")) return("several")
  "nagq"
}

# What the user can do about fits (named `labels`) whose approximations
# differ, as the warnings of AIC(), BIC() (`what`) and anova() say it: only
# a remedy that works for these fits (nAGQ changes neither a refinement set
# by glmm_control(), nor a ranef_dist fit, nor a fit of several terms or
# with a known covariance).
approximation_remedy <- function(fits, labels, what) {
  kind <- vapply(fits, approximation_kind, "")
  named <- function(k) paste(labels[kind == k], collapse = ", ")
  if (any(kind == "refined"))
    return(sprintf(paste0("%s: a refinement of the Laplace approximation set by glmm_control() ",
                          "(importance_draws or laplace_order = 2), which nAGQ does not change; ",
                          "refit the fits of several random-effect terms with the same glmm_control() ",
                          "settings to compare them"), named("refined")))
  if (any(kind == "dist")) {
    laplace <- kind %in% c("nagq", "several", "known") & !vapply(fits, function(f) isTRUE(f$nAGQ > 1L), TRUE)
    one <- labels[laplace & kind == "nagq"]
    several <- labels[laplace & kind == "several"]
    return(paste0(sprintf("%s: a ranef_dist fit, whose own rule integrates to about 1e-12 and takes no nAGQ",
                          named("dist")),
                  if (length(one)) sprintf("; refit %s in glmm() with nAGQ > 1 (adaptive quadrature) to compare",
                                           paste(one, collapse = ", ")),
                  if (length(several)) sprintf(paste0("; %s (several random-effect terms) has only the Laplace ",
                                                      "approximation, whose error glmm_control(importance_draws = ) removes"),
                                               paste(several, collapse = ", ")),
                  if (any(laplace & kind == "known"))
                    sprintf("; %s (a known covariance) has only the Laplace approximation",
                            paste(labels[laplace & kind == "known"], collapse = ", "))))
  }
  # Fits of several terms or with a known covariance have nAGQ = 1 only: the
  # common choice is then 1 (the others refitted with it).
  common <- if (any(kind %in% c("several", "known"))) 1L
            else max(vapply(fits[kind == "nagq"], function(f) as.integer(f$nAGQ %||% 1L), 1L),
                     na.rm = TRUE)
  # which fits have the Laplace approximation only, and why
  only <- kind %in% c("several", "known")
  note <- if (any(only))
    sprintf("; %s: the Laplace approximation only (%s)", paste(labels[only], collapse = ", "),
            paste(unique(c(several = "several random-effect terms",
                           known = "a known covariance")[kind[only]]), collapse = "; "))
  else ""
  if (what == "anova")
    sprintf("give nAGQ explicitly, the same in every fit (e.g. nAGQ = %d)%s", common, note)
  else sprintf("compare fits made the same way, e.g. %s(..., nAGQ = %d)%s", what, common, note)
}

# The same model refitted with nAGQ points, for a GLMM with one grouping
# factor and normal random effects; a fit that is no GLMM is returned as it
# is (its likelihood is exact), and one whose approximation nAGQ cannot set
# is an error naming it (`label`).
refit_nAGQ <- function(fit, label, nAGQ) {
  kind <- approximation_kind(fit)
  same <- identical(as.integer(fit$nAGQ), as.integer(nAGQ))
  why <- switch(kind,
    refined = "its likelihood is refined by glmm_control() (importance sampling or laplace_order = 2), which nAGQ does not change; refit the fits to compare with the same glmm_control() and leave nAGQ out",
    dist = "it is a ranef_dist fit, whose likelihood is integrated by its own rule and takes no nAGQ; refit the normal fits in glmm() with nAGQ > 1 and leave nAGQ out",
    several = if (!same) "it has several random-effect terms, fitted by the Laplace approximation (nAGQ = 1) only",
    known = if (!same) "its random effects have a known covariance ('covariance'), fitted by the Laplace approximation (nAGQ = 1) only; compare with nAGQ = 1")
  if (!is.null(why))
    stop(sprintf("'nAGQ' = %s: %s cannot be refitted with it: %s", format(nAGQ), label, why),
         call. = FALSE)
  if (kind == "" || same) return(fit)
  call <- call_with_fit_covariance(fit$call, fit)
  call$nAGQ <- as.integer(nAGQ)
  restore_call_covariance(eval(call, environment(fit$formula) %||% parent.frame()), fit)
}
