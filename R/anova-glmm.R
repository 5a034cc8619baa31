# Tests from fitted GLMMs: likelihood-ratio tests between nested fits and
# Wald tests of the fixed-effect terms of one fit.

#' Likelihood-ratio and Wald tests for GLMMs
#'
#' With several fits, likelihood-ratio tests between consecutive models
#' after sorting them by their number of parameters: the statistic is
#' \eqn{2(\ell_1 - \ell_0)}, referred to a chi-square with the difference in
#' parameters as degrees of freedom. The models must be nested (this is not
#' checked) and fitted to the same observations and response. The full
#' log-likelihoods are comparable across `nAGQ`, but the test is most
#' meaningful with the same approximation in every fit. When the smaller
#' model sets a variance to zero, the null value is on the boundary and the
#' chi-square p-value is conservative (Self and Liang 1987).
#'
#' With one fit, Wald chi-square tests of each fixed-effect term (all the
#' columns a term contributes to the model matrix, tested jointly, given all
#' other terms), from [vcov()].
#'
#' @param object A fitted model from [glmm()].
#' @param ... Further fitted models from [glmm()].
#' @return A data frame of class `anova`: with several models, columns
#'   `npar`, `AIC`, `BIC`, `logLik`, `deviance` (\eqn{-2\ell}), `Chisq`,
#'   `Df`, `Pr(>Chisq)`; with one model, `Df`, `Chisq`, `Pr(>Chisq)` per
#'   term.
#' @references Self, S. G. and Liang, K.-Y. (1987). Asymptotic properties of
#'   maximum likelihood estimators and likelihood ratio tests under
#'   nonstandard conditions. *Journal of the American Statistical
#'   Association* 82, 605-610.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   f0 <- glmm(cbind(incidence, size - incidence) ~ 1 + (1 | herd),
#'              data = cbpp, family = binomial, nAGQ = 1)
#'   f1 <- update(f0, . ~ . + period)
#'   anova(f0, f1)
#'   anova(f1)
#' }
#' @export
anova.glmmgee_glmm <- function(object, ...) {
  dots <- list(...)
  is_fit <- vapply(dots, inherits, TRUE, what = "glmmgee_glmm")
  if (any(!is_fit))
    stop("anova() compares glmm fits only; other arguments are not supported", call. = FALSE)
  if (!length(dots)) return(wald_terms(object))
  fits <- c(list(object), dots)
  exprs <- c(list(substitute(object)), as.list(substitute(list(...)))[-1L])
  nm <- c("", names(dots) %||% rep("", length(dots)))
  labels <- vapply(seq_along(fits), function(i) {
    if (nzchar(nm[i])) nm[i] else paste(deparse(exprs[[i]], width.cutoff = 500L), collapse = "")
  }, "")
  if (anyDuplicated(labels)) labels <- paste0("model", seq_along(fits))
  check_same_data(fits)
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 1)
  npar <- vapply(fits, function(f) attr(logLik(f), "df"), 1)
  ord <- order(npar)
  ll <- ll[ord]; npar <- npar[ord]; fits <- fits[ord]; labels <- labels[ord]
  chisq <- c(NA, 2 * diff(ll))
  df <- c(NA, diff(npar))
  p <- ifelse(!is.na(df) & df > 0, stats::pchisq(chisq, df, lower.tail = FALSE), NA_real_)
  tab <- data.frame(npar = npar,
                    AIC = vapply(fits, stats::AIC, 1), BIC = vapply(fits, stats::BIC, 1),
                    logLik = ll, deviance = -2 * ll, Chisq = chisq, Df = df,
                    `Pr(>Chisq)` = p, check.names = FALSE, row.names = labels)
  forms <- vapply(seq_along(fits), function(i)
    paste0(labels[i], ": ", paste(deparse(fits[[i]]$formula, width.cutoff = 500L),
                                  collapse = " ")), "")
  methods <- vapply(fits, approximation_label, "")
  head <- c("Likelihood-ratio tests between GLMM fits\n", paste0(forms, collapse = "\n"), "\n")
  if (length(unique(methods)) > 1L)
    head <- c(head, "Note: the fits use different approximations to the likelihood\n")
  structure(tab, heading = head, class = c("anova", "data.frame"))
}

check_same_data <- function(fits) {
  n <- vapply(fits, nobs, 1)
  if (length(unique(n)) > 1L)
    stop(sprintf("the models are fitted to different numbers of observations (%s); refit them on the same rows",
                 paste(n, collapse = ", ")), call. = FALSE)
  ref <- fits[[1L]]
  for (f in fits[-1L]) {
    same <- length(f$y) == length(ref$y) &&
      isTRUE(all.equal(f$y * f$prior.weights, ref$y * ref$prior.weights)) &&
      isTRUE(all.equal(f$prior.weights, ref$prior.weights))
    if (!same)
      stop("the models have different responses (or prior weights); likelihood-ratio tests need the same data",
           call. = FALSE)
  }
  invisible(TRUE)
}

wald_terms <- function(object) {
  X <- object$X
  asg <- attr(X, "assign")
  labs <- attr(object$terms, "term.labels")
  beta <- fixef(object)
  V <- vcov(object)
  rows <- lapply(seq_along(labs), function(k) {
    j <- which(asg == k)
    if (!length(j)) return(c(NA, NA, NA))
    b <- beta[j]
    stat <- tryCatch(drop(crossprod(b, solve(V[j, j, drop = FALSE], b))),
                     error = function(e) NA_real_)
    c(length(j), stat, stats::pchisq(stat, length(j), lower.tail = FALSE))
  })
  tab <- as.data.frame(matrix(as.numeric(unlist(rows)), ncol = 3L, byrow = TRUE))
  names(tab) <- c("Df", "Chisq", "Pr(>Chisq)")
  rownames(tab) <- labs
  structure(tab, heading = c("Wald chi-square tests of the fixed-effect terms (each given all others)\n",
                             paste0("Response: ", deparse(object$formula[[2L]]), "\n")),
            class = c("anova", "data.frame"))
}
