# Tests and model-selection criteria for GEE fits: Wald tests of terms,
# generalized Wald and score tests between nested fits, QIC/QICu/CIC.

#' Wald and score tests for GEE fits
#'
#' With one fit: a Wald chi-square test of each term of the formula, with
#' the fit's variance estimator, of type II (as [car::Anova()]'s default):
#' each term is tested after all the terms that do not contain it, so the
#' test of a main effect ignores the interactions that contain it (their
#' coefficients set to zero by the Wald projection) and does not depend on
#' how factors are coded or covariates centred. A term contained in no
#' other (e.g. the highest-order interaction) is tested given all the
#' others. Type III tests (each term given all others, which in a model
#' with interactions depend on the coding) are `car::Anova(fit, type =
#' "III")`; sequential tests, as geepack's `anova()` gives by refitting,
#' are `anova()` of the nested fits (e.g. `anova(f0, f1, f2)`).
#'
#' With several fits (nested, same data, same clusters): each fit is compared
#' with the next larger one. `test = "wald"` is the generalized Wald test
#' \eqn{\hat\beta_2' V_{22}^{-1} \hat\beta_2} of the extra coefficients from
#' the larger fit. `test = "score"` is the generalized score test of
#' Rotnitzky and Jewell (1990) and Boos (1992): the larger model's estimating
#' function \eqn{U} is evaluated at the smaller fit (extra coefficients zero,
#' the smaller fit's correlation and scale), and
#' \eqn{T = U' H^{-1} C' (C H^{-1} B H^{-1} C')^{-1} C H^{-1} U}, with
#' \eqn{C} selecting the extra coefficients; it needs only the smaller fit
#' and the same working correlation in both. Fits are nested when the
#' coefficient names of the smaller are among those of the larger.
#'
#' @param object a fit from [gee()].
#' @param ... further fits, for comparisons.
#' @param test `"wald"` or `"score"` (comparisons only).
#' @param type variance estimator for the Wald tests (see [gee()]).
#' @return A data frame of class `"anova"`: `Df`, `Chisq`, `Pr(>Chisq)`.
#' @references
#' Rotnitzky, A. and Jewell, N. P. (1990). Hypothesis testing of regression
#' parameters in semiparametric generalized linear models for cluster
#' correlated data. *Biometrika* 77, 485--497.
#'
#' Boos, D. D. (1992). On generalized score tests. *The American
#' Statistician* 46, 327--333.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   f1 <- gee(y ~ ap * hilo, data = bacteria, id = ID, family = binomial,
#'             corstr = "exchangeable")
#'   anova(f1)
#'   f0 <- update(f1, . ~ ap)
#'   anova(f0, f1)
#'   anova(f0, f1, test = "score")
#' }
#' @export
anova.glmmgee_gee <- function(object, ..., test = c("wald", "score"), type = object$std.err) {
  check_dots_fits(..., .method = "anova.glmmgee_gee")
  test <- match.arg(test)
  type <- match_std_err(type, "type")
  fits <- c(list(object), list(...))
  if (!all(vapply(fits, inherits, logical(1), "glmmgee_gee")))
    stop("anova(): every model must be a fit from gee()", call. = FALSE)
  if (length(fits) == 1L) return(gee_anova_terms(object, type))
  gee_comparison_table(fits, c(list(substitute(object)), as.list(match.call(expand.dots = FALSE)$...)),
                       function(f) length(coef(f)), gee_compare, test, type, "GEE", se_label(type))
}

# anova()'s table for several nested GEE fits `fits` (labelled by `exprs`,
# the calls' arguments): ordered by their number of coefficients (`size`),
# each compared with the next by `compare(small, big, test, type)`; `what`
# names the fits and `type_label` the variance in the heading.
gee_comparison_table <- function(fits, exprs, size, compare, test, type, what, type_label) {
  names(fits) <- fit_labels(exprs)
  fits <- fits[order(vapply(fits, size, 1L))]
  rows <- lapply(seq_len(length(fits) - 1L), function(k)
    compare(fits[[k]], fits[[k + 1L]], test, type))
  tab <- data.frame(Df = c(NA, vapply(rows, `[[`, 1, "df")),
                    Chisq = c(NA, vapply(rows, `[[`, 1, "stat")),
                    check.names = FALSE)
  tab[["Pr(>Chisq)"]] <- stats::pchisq(tab$Chisq, tab$Df, lower.tail = FALSE)
  rownames(tab) <- names(fits)
  structure(tab, class = c("anova", "data.frame"),
            heading = c(sprintf("Comparison of nested %s fits: generalized %s test%s\n", what,
                                if (test == "wald") "Wald" else "score",
                                if (test == "wald") sprintf(" (%s variance)", type_label) else ""),
                        paste0(names(fits), ": ", vapply(fits, function(f)
                          if (is.null(f$formula)) "(matrix fit)" else deparse1(f$formula), ""),
                          collapse = "\n")))
}

# Row labels for several fits: the expressions the user typed, or "model k"
# when they are not short (e.g. fits passed through do.call()).
fit_labels <- function(exprs) {
  lab <- vapply(exprs, function(e) if (is.name(e) || is.call(e)) deparse1(e) else "", "")
  bad <- nchar(lab) == 0L | nchar(lab) > 40L | duplicated(lab)
  lab[bad] <- paste0("model ", seq_along(lab))[bad]
  lab
}

gee_anova_terms <- function(object, type) {
  # The engine's X (zero rows in a gee_shards() fit) carries the assignment.
  X <- object$engine$data$X
  asgn <- attr(X, "assign")
  if (is.null(asgn) || is.null(object$terms))
    stop("anova(): term tests need a fit from gee() (a formula)", call. = FALSE)
  labs <- attr(object$terms, "term.labels")
  b <- coef(object)
  V <- vcov(object, type = type)
  wald_term_table(b, V, asgn, attr(object$terms, "factors"), labs,
                  sprintf("Wald tests of terms, type II: each after the terms that do not contain it (%s variance)\n",
                          se_label(type)),
                  clusters = if (type != "model") object$nclusters)
}

gee_compare <- function(small, big, test, type) {
  bs <- coef(small); bb <- coef(big)
  extra <- setdiff(names(bb), names(bs))
  if (!all(names(bs) %in% names(bb)) || length(extra) == 0L)
    stop("anova(): the fits are not nested (the coefficients of the smaller fit must be among those of the larger)",
         call. = FALSE)
  # (a binomial and a Poisson fit of the same rows were compared as nested)
  fam <- family_mismatch(small, big)  # anova-glmm.R
  if (!is.null(fam)) stop("anova(): the fits are not nested: ", fam, call. = FALSE)
  if (small$nobs != big$nobs || !isTRUE(all.equal(small$y, big$y)) ||
      !identical(as.integer(small$id), as.integer(big$id)))
    stop("anova(): the fits must use the same observations, response and clusters", call. = FALSE)
  j <- match(extra, names(bb))
  if (test == "wald") {
    V <- vcov(big, type = type)
    # (NA under separation, vcov.glmmgee_gee())
    stat <- if (anyNA(V[j, j])) NA_real_ else drop(crossprod(bb[j], solve(V[j, j, drop = FALSE], bb[j])))
    return(list(df = length(j), stat = stat))
  }
  stop_if_pattern_fit(big, "anova(test = \"score\")")
  if (small$corstr != big$corstr || !identical(small$engine$data$wave, big$engine$data$wave))
    stop("anova(): the score test needs the same working correlation and waves in both fits",
         call. = FALSE)
  beta0 <- stats::setNames(numeric(length(bb)), names(bb))
  beta0[names(bs)] <- bs
  spec <- big$engine$spec
  spec$vflags <- 0L
  alpha <- small$alpha
  alpha[is.na(alpha)] <- NaN
  v <- cpp_gee_variance(big$engine$data, spec, unname(beta0), unname(alpha), small$scale)
  if (nzchar(v$error)) stop("anova(): ", v$error, call. = FALSE)
  Hinv <- solve(v$H)
  a <- (Hinv %*% v$U)[j]
  Vj <- (Hinv %*% v$B %*% Hinv)[j, j, drop = FALSE]
  list(df = length(j), stat = drop(crossprod(a, solve(Vj, a))))
}

#' Quasi-likelihood information criteria for GEE
#'
#' QIC (Pan, 2001) for choosing the working correlation and the mean model,
#' its approximation QICu for the mean model, and CIC (Hin and Wang, 2009)
#' for the working correlation:
#' \deqn{QIC = -2 Q(\hat\beta_R; I) + 2\,\mathrm{tr}(\hat\Omega_I \hat V_R),
#'   \quad QICu = -2Q + 2p, \quad CIC = \mathrm{tr}(\hat\Omega_I \hat V_R),}
#' where \eqn{Q} is the independence quasi-likelihood at the fitted
#' coefficients, \eqn{\hat\Omega_I = \sum_i D_i' A_i^{-1} D_i / \phi} is the
#' independence information evaluated at the same coefficients (as in Pan's
#' definition, without refitting an independence model) and \eqn{\hat V_R}
#' is the robust sandwich. \eqn{\phi} is 1 for binomial and poisson; for a
#' family whose scale is estimated (gaussian, Gamma, ...) it is the fit's
#' scale, and with several fits the scale of the fit with the most
#' coefficients for all of them (as Pan takes it from the largest model),
#' so that their quasi-likelihoods can be compared: with each fit's own
#' scale a gaussian quasi-likelihood is \eqn{-N/2} whatever the mean model.
#'
#' geepack's `QIC()` differs: it refits the model under independence for
#' \eqn{\hat\Omega_I}, using that fit's scale, while its quasi-likelihood is
#' not divided by the scale and ignores prior weights. `QIC` is an S3
#' generic here and in geepack; the method for gee fits is registered on
#' geepack's generic as well (when geepack is loaded), so `QIC(fit)` gives
#' these numbers whichever of the two packages is attached last. MuMIn's
#' `QIC` is a plain function, not a generic (it dispatches on an internal
#' `getQIC` generic that refits under independence through `update()`): when
#' MuMIn is attached after glmmgee it masks this `QIC`, so call
#' `glmmgee::QIC()`. (MuMIn cannot be installed on the R version this was
#' tested with, so no method is registered for its internal generic.)
#'
#' @param object a fit from [gee()] or [gee_fit()].
#' @param ... further fits: the result is then a matrix with a row per fit.
#' @return A named vector `QIC`, `QICu`, `CIC`, `QuasiLik`, `params`, or a
#'   matrix of them.
#' @references
#' Pan, W. (2001). Akaike's information criterion in generalized estimating
#' equations. *Biometrics* 57, 120--125.
#'
#' Hin, L.-Y. and Wang, Y.-G. (2009). Working-correlation-structure
#' identification in generalized estimating equations. *Statistics in
#' Medicine* 28, 642--658.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fits <- lapply(c("independence", "exchangeable", "ar1"), function(cs)
#'     gee(y ~ ap + hilo, data = bacteria, id = ID, family = binomial,
#'         corstr = cs, waves = week))
#'   do.call(QIC, fits)
#' }
#' @export
QIC <- function(object, ...) UseMethod("QIC")

#' @rdname QIC
#' @export
QIC.glmmgee_gee <- function(object, ...) {
  check_dots_fits(..., .method = "QIC.glmmgee_gee")
  fits <- c(list(object), list(...))
  if (!all(vapply(fits, inherits, logical(1), "glmmgee_gee")))
    stop("QIC(): every model must be a fit from gee() or gee_fit()", call. = FALSE)
  phi <- qic_common_scale(fits)
  qic_table(fits, function(f) gee_qic_one(f, phi),
            c(list(substitute(object)), as.list(match.call(expand.dots = FALSE)$...)))
}

# The scale several fits' criteria share where it is estimated (gaussian,
# Gamma, ...): the scale of the fit with the most coefficients, as Pan
# (2001) takes it from the largest model. Each fit's own scale made a
# gaussian quasi-likelihood -N/2 for every mean model (dietox: Weight ~ 1
# chosen over Weight ~ Time, Wald chi-square 7,604), and with Gamma the
# criteria followed the scale's changes. NULL: each fit's own (one fit, or
# scales fixed at 1 by the family).
qic_common_scale <- function(fits) {
  if (length(fits) < 2L || all(vapply(fits, gee_unit_scale, TRUE))) return(NULL)
  fits[[which.max(vapply(fits, function(f) length(coef(f)), 1L))]]$scale
}

# QIC()'s result for the fits `fits` (the first the method's object):
# one fit's criteria as a named vector, several fits' as a table with a
# row per fit, labelled by `exprs` (the calls' arguments), and a warning
# where they use different numbers of observations. `one` computes a
# fit's five criteria.
qic_table <- function(fits, one, exprs) {
  out <- t(vapply(fits, one, numeric(5)))
  if (length(fits) == 1L) return(out[1L, ])
  rownames(out) <- fit_labels(exprs)
  if (any(vapply(fits, nobs, 1L) != nobs(fits[[1L]])))
    warning("QIC(): the fits do not use the same number of observations", call. = FALSE)
  out
}

# Whether the criteria take the scale as 1 (binomial and poisson).
gee_unit_scale <- function(fit) fit$family$family %in% c("binomial", "poisson")

gee_qic_one <- function(fit, scale = NULL) {
  stop_if_pattern_fit(fit, "QIC()")
  phi <- if (gee_unit_scale(fit)) 1 else scale %||% fit$scale
  Q <- fit$quasi / phi
  # trace.indep: the trace from the engine's centred and scaled design
  # (gee_standard_x()), where the user's loses digits.
  cic <- if (!is.null(fit$trace.indep)) fit$trace.indep / phi
         else sum(diag((fit$info.indep / phi) %*% vcov(fit, type = "san.se")))
  p <- length(coef(fit))
  c(QIC = -2 * Q + 2 * cic, QICu = -2 * Q + 2 * p, CIC = cic, QuasiLik = Q, params = p)
}
