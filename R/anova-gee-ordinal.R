# Tests and QIC for the ordinal GEE (class glmmgee_gee_ordinal), as
# anova-gee.R gives them for the other GEE fits: Wald tests of terms with
# the robust variance, generalized Wald and score tests between nested
# fits, and QIC/QICu/CIC with the multinomial log-likelihood of independent
# observations as the quasi-likelihood.

#' Wald and score tests, and QIC, for ordinal GEE fits
#'
#' `anova()` of one ordinal GEE ([ordinal-gee]) gives a Wald test of each
#' term of the formula with the robust (sandwich) variance (`type =
#' "naive"` for the model-based one), of type II as [anova.glmmgee_gee()]
#' does for the other GEE fits: each term after the thresholds and all the
#' terms that do not contain it, so that main-effect tests do not depend on
#' the coding of factors or the centring of covariates. Type III tests
#' (each term given all others) are `car::Anova(fit, type = "III")`;
#' sequential tests are `anova()` of nested fits.
#'
#' With several nested fits (same response categories, observations and
#' clusters; the coefficients of the smaller among those of the larger),
#' each is compared with the next larger one: `test = "wald"` is the
#' generalized Wald test of the larger fit's extra coefficients; `test =
#' "score"` the generalized score test of Rotnitzky and Jewell (1990) and
#' Boos (1992), which evaluates the larger model's estimating functions at
#' the smaller fit (extra coefficients zero) and needs only the smaller fit.
#' It is available for `corstr = "independence"`, whose estimating functions
#' are the multinomial scores: \eqn{T = U'H^{-1}C'(C H^{-1} B H^{-1} C')^{-1}
#' C H^{-1} U}, with \eqn{H} the expected multinomial information, \eqn{B}
#' the sum over clusters of the outer products of their scores and \eqn{C}
#' selecting the extra coefficients.
#'
#' `QIC()` of an ordinal GEE takes the multinomial log-likelihood of
#' independent observations (the independence working model; prior weights
#' included) as the quasi-likelihood \eqn{Q}, at the fitted thresholds and
#' coefficients, and \eqn{\hat\Omega_I} its expected information at the same
#' values: \eqn{QIC = -2Q + 2\,\mathrm{tr}(\hat\Omega_I \hat V_R)}, \eqn{QICu
#' = -2Q + 2p}, \eqn{CIC = \mathrm{tr}(\hat\Omega_I \hat V_R)}, with
#' \eqn{\hat V_R} the robust variance and \eqn{p} the number of thresholds
#' and coefficients (the association parameters are not counted). It compares
#' mean models and association structures fitted to the same observations.
#'
#' @param object An ordinal GEE from [gee()] with [cumulative()].
#' @param ... Further ordinal GEE fits.
#' @param test `"wald"` or `"score"` (comparisons only).
#' @param type `"robust"` or `"naive"`: the variance of the Wald tests.
#' @return `anova()`: a data frame of class `"anova"` with `Df`, `Chisq`,
#'   `Pr(>Chisq)`. `QIC()`: a named vector `QIC`, `QICu`, `CIC`,
#'   `QuasiLik`, `params`, or a matrix with a row per fit.
#' @references
#' Rotnitzky, A. and Jewell, N. P. (1990). Hypothesis testing of regression
#' parameters in semiparametric generalized linear models for cluster
#' correlated data. *Biometrika* 77, 485--497.
#'
#' Boos, D. D. (1992). On generalized score tests. *The American
#' Statistician* 46, 327--333.
#'
#' Pan, W. (2001). Akaike's information criterion in generalized estimating
#' equations. *Biometrics* 57, 120--125.
#' @examples
#' if (requireNamespace("ordinal", quietly = TRUE)) {
#'   f1 <- gee(rating ~ temp * contact, data = ordinal::wine, id = judge,
#'             family = cumulative("logit"))
#'   anova(f1)
#'   f0 <- update(f1, . ~ temp)
#'   anova(f0, f1)
#'   anova(f0, f1, test = "score")
#'   QIC(f0, f1)
#' }
#' @name ordinal-gee-tests
NULL

#' @rdname ordinal-gee-tests
#' @export
anova.glmmgee_gee_ordinal <- function(object, ..., test = c("wald", "score"),
                                      type = c("robust", "naive")) {
  check_dots_fits(..., .method = "anova.glmmgee_gee_ordinal")
  test <- match_choice(test, c("wald", "score"), "test")
  type <- match_choice(type, c("robust", "naive"), "type")
  fits <- c(list(object), list(...))
  if (!all(vapply(fits, inherits, logical(1), "glmmgee_gee_ordinal")))
    stop("anova(): every model must be an ordinal GEE from gee() with family = cumulative()",
         call. = FALSE)
  if (length(fits) == 1L) return(ordinal_gee_anova_terms(object, type))
  gee_comparison_table(fits, c(list(substitute(object)), as.list(match.call(expand.dots = FALSE)$...)),
                       function(f) length(f$psi), ordinal_gee_compare, test, type, "ordinal GEE", type)
}

# Registered on geepack's QIC generic too (see ecosystem-geepack.R).
#' @rdname ordinal-gee-tests
#' @export
#' @exportS3Method geepack::QIC glmmgee_gee_ordinal
QIC.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots_fits(..., .method = "QIC.glmmgee_gee_ordinal")
  fits <- c(list(object), list(...))
  if (!all(vapply(fits, inherits, logical(1), "glmmgee_gee_ordinal")))
    stop("QIC(): every model must be an ordinal GEE from gee() with family = cumulative()",
         call. = FALSE)
  qic_table(fits, ordinal_gee_qic_one, c(list(substitute(object)),
                                         as.list(match.call(expand.dots = FALSE)$...)))
}

# ---- helpers ------------------------------------------------------------------

# What the independence estimating functions need: response codes, design,
# offset, prior weights and cluster ids of the fitted rows.
ordinal_gee_data <- function(fit) {
  mf <- fit$model
  list(y = match(as.character(mf[[1L]]), fit$y_levels), X = fit$X,
       off = fit$offset %||% rep(0, nrow(fit$X)),
       w = fit$prior.weights %||% rep(1, nrow(fit$X)),
       id = cluster_index(mf[["(id)"]], "id")$index)
}

# The column of each coefficient in the formula's terms (attr "assign"
# without the intercept the thresholds replace).
ordinal_gee_assign <- function(fit) {
  mm <- stats::model.matrix(fit$terms, fit$model, contrasts.arg = fit$contrasts)
  keep <- colnames(mm) != "(Intercept)"
  asgn <- attr(mm, "assign")[keep]
  if (!identical(colnames(mm)[keep], colnames(fit$X)))
    stop("anova(): the fit's design could not be rebuilt from its model frame", call. = FALSE)
  asgn
}

ordinal_gee_anova_terms <- function(object, type) {
  labs <- attr(object$terms, "term.labels")
  if (!length(labs)) stop("anova(): the model has no terms to test (thresholds only)", call. = FALSE)
  asgn <- ordinal_gee_assign(object)
  k1 <- length(object$thresholds)
  b <- object$coefficients
  V <- vcov(object, type = type)[-seq_len(k1), -seq_len(k1), drop = FALSE]
  wald_term_table(b, V, asgn, attr(object$terms, "factors"), labs,
                  sprintf("Wald tests of terms, type II: each after the thresholds and the terms that do not contain it (%s variance)\n",
                          type),
                  clusters = if (type == "robust") object$nclusters)
}

ordinal_gee_compare <- function(small, big, test, type) {
  bs <- small$psi; bb <- big$psi
  extra <- setdiff(names(bb), names(bs))
  if (!identical(small$y_levels, big$y_levels) || !all(names(bs) %in% names(bb)) ||
      length(extra) == 0L)
    stop("anova(): the fits are not nested (the same response categories, and the coefficients of the smaller fit among those of the larger)",
         call. = FALSE)
  ds <- ordinal_gee_data(small); db <- ordinal_gee_data(big)
  if (small$nobs != big$nobs || !identical(ds$y, db$y) || !identical(ds$id, db$id) ||
      !isTRUE(all.equal(ds$w, db$w)))
    stop("anova(): the fits must use the same observations, response, weights and clusters",
         call. = FALSE)
  j <- match(extra, names(bb))
  if (test == "wald") {
    V <- vcov(big, type = type)
    return(list(df = length(j), stat = drop(crossprod(bb[j], solve(V[j, j, drop = FALSE], bb[j])))))
  }
  if (small$corstr != "independence" || big$corstr != "independence")
    stop(sprintf(paste0("anova(): the score test of ordinal GEE fits needs corstr = \"independence\" ",
                        "in both (here \"%s\" and \"%s\"); use test = \"wald\""),
                 small$corstr, big$corstr), call. = FALSE)
  psi0 <- stats::setNames(numeric(length(bb)), names(bb))
  psi0[names(bs)] <- bs
  # On centred and scaled covariates (x + 1e4 made H numerically singular);
  # the statistic is invariant: the extra coefficients are only rescaled.
  k1 <- length(big$thresholds)
  std <- ordinal_gee_std(db$X, unname(psi0), k1)
  s <- ordinal_multinomial_scores(std$theta, std$beta, std$X, db$y, db$off, db$w, big$family)
  H <- ordinal_multinomial_info(std$theta, std$beta, std$X, db$off, db$w, big$family)
  Ui <- rowsum(s$U, db$id, reorder = FALSE)
  Hinv <- solve(H)
  a <- drop(Hinv %*% colSums(s$U))[j]
  Vj <- (Hinv %*% crossprod(Ui) %*% Hinv)[j, j, drop = FALSE]
  list(df = length(j), stat = drop(crossprod(a, solve(Vj, a))))
}

# The thresholds and coefficients psi on centred and scaled covariates
# (the engines' standardization, ordinal_gee_scale_x()): psi_s = A psi,
# theta_s = theta - centre'beta, beta_s = scale * beta.
ordinal_gee_std <- function(X, psi, k1) {
  st <- ordinal_gee_scale_x(X)
  p <- ncol(X)
  A <- diag(k1 + p)
  if (p) {
    A[seq_len(k1), k1 + seq_len(p)] <- -matrix(st$centre, k1, p, byrow = TRUE)
    A[k1 + seq_len(p), k1 + seq_len(p)] <- diag(st$scale, p)
  }
  psi_s <- drop(A %*% psi)
  list(X = st$X, A = A, theta = psi_s[seq_len(k1)], beta = psi_s[k1 + seq_len(p)])
}

# QIC's pieces. The trace is taken on centred and scaled covariates, where
# it is invariant: Omega_s = A^-T Omega A^-1 and V_s = A V A'.
ordinal_gee_qic_one <- function(fit) {
  d <- ordinal_gee_data(fit)
  k1 <- length(fit$thresholds)
  th <- unname(fit$thresholds); beta <- unname(fit$coefficients)
  Q <- ordinal_multinomial_scores(th, beta, d$X, d$y, d$off, d$w, fit$family)$ll
  std <- ordinal_gee_std(d$X, c(th, beta), k1)
  H <- ordinal_multinomial_info(std$theta, std$beta, std$X, d$off, d$w, fit$family)
  cic <- sum(H * (std$A %*% vcov(fit, type = "robust") %*% t(std$A)))
  npar <- k1 + length(beta)
  c(QIC = -2 * Q + 2 * cic, QICu = -2 * Q + 2 * npar, CIC = cic, QuasiLik = Q, params = npar)
}
