# emmeans support for the cumulative link fits (glmm() mixed models and
# the ordinal GEE), with the modes emmeans offers for ordinal::clm and clmm
# fits. The basis is the one emmeans builds for a clm without nominal or
# scale effects: the thresholds then the coefficients, and for the modes on
# the cumulative scale one row per (threshold, grid point), with the
# threshold named "cut" and emmeans' own post-grid step (misc$postGridHook,
# named as emmeans' clm support names it) turning cumulative probabilities
# into exceedance or category probabilities or the mean class. A mixed
# model's basis is at b = 0 (a typical cluster), as emmeans does for clmm.

#' emmeans support for cumulative link fits
#'
#' Methods that let [emmeans::emmeans()] and [emmeans::ref_grid()] work on
#' cumulative link mixed models ([glmm()] with [cumulative()]) and ordinal
#' GEE ([ordinal-gee]), with the `mode`s emmeans offers for
#' `ordinal::clm()`/`clmm()` fits:
#' * `"latent"` (the default): \eqn{x'\beta} minus the mean threshold, the
#'   mean of the latent variable up to a constant (`rescale = c(a, b)` gives
#'   \eqn{a + b} times it);
#' * `"linear.predictor"`: \eqn{\theta_j - x'\beta} for each threshold
#'   (factor `cut`, levels `"1|2"`, ...);
#' * `"cum.prob"`, `"exc.prob"`: \eqn{P(Y \le j)} and \eqn{P(Y > j)};
#' * `"prob"`: the probability of each category (factor named after the
#'   response);
#' * `"mean.class"`: the expected category number \eqn{\sum_k k P(Y = k)}.
#'
#' For a mixed model these are conditional on the random effects being zero
#' (a typical cluster), as emmeans gives them for a clmm; for an ordinal
#' GEE they are population-averaged, with the robust covariance
#' (`std.err = "naive"` for the model-based one). Degrees of freedom are
#' infinite (z tests).
#'
#' @param object A cumulative link fit from [glmm()] or [gee()].
#' @param trms,xlev,grid As emmeans passes them.
#' @param mode One of `"latent"`, `"linear.predictor"`, `"cum.prob"`,
#'   `"exc.prob"`, `"prob"`, `"mean.class"`.
#' @param rescale For `mode = "latent"`: the shift and scale of the latent
#'   variable, as for emmeans' clm support.
#' @param std.err For an ordinal GEE: `"robust"` or `"naive"`.
#' @param ... Passed on by emmeans (e.g. `vcov.`).
#' @return `recover_data()` the data of the fit; `emm_basis()` the list
#'   emmeans documents.
#' @examples
#' if (requireNamespace("emmeans", quietly = TRUE) &&
#'     requireNamespace("ordinal", quietly = TRUE)) {
#'   fit <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
#'               family = cumulative("logit"))
#'   emmeans::emmeans(fit, ~ temp)                       # latent scale
#'   emmeans::emmeans(fit, ~ temp, mode = "prob")        # category probabilities
#'   emmeans::emmeans(fit, ~ temp | contact, mode = "mean.class")
#' }
#' @name ordinal-emmeans
NULL

#' @rdname ordinal-emmeans
#' @exportS3Method emmeans::recover_data
recover_data.glmmgee_glmm_ordinal <- function(object, ...) {
  emm_recover(object, ..., na.action = object$na.action)
}

#' @rdname ordinal-emmeans
#' @exportS3Method emmeans::recover_data
recover_data.glmmgee_gee_ordinal <- function(object, ...) {
  emm_recover(object, ..., na.action = attr(object$model, "na.action"))
}

#' @rdname ordinal-emmeans
#' @exportS3Method emmeans::emm_basis
emm_basis.glmmgee_glmm_ordinal <- function(object, trms, xlev, grid,
                                           mode = c("latent", "linear.predictor", "cum.prob",
                                                    "exc.prob", "prob", "mean.class"),
                                           rescale = c(0, 1), ...) {
  V <- if (has_vcov_arg(...)) emmeans::.my.vcov(object, ...) else vcov(object)
  ordinal_emm_basis(object, trms, xlev, grid, V, mode, rescale)
}

#' @rdname ordinal-emmeans
#' @exportS3Method emmeans::emm_basis
emm_basis.glmmgee_gee_ordinal <- function(object, trms, xlev, grid,
                                          mode = c("latent", "linear.predictor", "cum.prob",
                                                   "exc.prob", "prob", "mean.class"),
                                          rescale = c(0, 1), std.err = c("robust", "naive"), ...) {
  std.err <- match_choice(std.err, c("robust", "naive"), "std.err")
  user <- has_vcov_arg(...)
  V <- if (user) emmeans::.my.vcov(object, ...) else vcov(object, type = std.err)
  out <- ordinal_emm_basis(object, trms, xlev, grid, V, mode, rescale)
  if (user) {
    V <- as.matrix(V)
    hit <- Filter(function(t) isTRUE(all.equal(unname(vcov(object, type = t)), unname(V),
                                               tolerance = 1e-10)),
                  unique(c(std.err, "robust", "naive")))
    std.err <- if (length(hit)) hit[[1L]] else "user-supplied (vcov.)"
  }
  out$misc$initMesg <- sprintf("Covariance: %s", std.err)
  out
}

ordinal_emm_basis <- function(object, trms, xlev, grid, V, mode, rescale) {
  mode <- match_choice(mode, c("latent", "linear.predictor", "cum.prob", "exc.prob", "prob",
                               "mean.class"), "mode")
  if (!is.numeric(rescale) || length(rescale) != 2L || any(!is.finite(rescale)))
    stop("'rescale' must be two finite numbers (shift, scale)", call. = FALSE)
  th <- object$thresholds
  k1 <- length(th)
  bhat <- c(th, object$coefficients)
  m <- stats::model.frame(trms, grid, na.action = stats::na.pass, xlev = xlev)
  X <- stats::model.matrix(trms, m, contrasts.arg = object$contrasts)
  X <- X[, colnames(object$X), drop = FALSE]
  misc <- list()
  if (mode == "latent") {
    # x'beta - mean(theta): the latent mean, thresholds centred.
    bigX <- cbind(matrix(-rescale[2L] / k1, nrow(X), k1), rescale[2L] * X)
    bhat[seq_len(k1)] <- bhat[seq_len(k1)] - rescale[1L] / rescale[2L]
    misc$offset.mult <- rescale[2L]
  } else {
    # theta_j - x'beta, threshold by threshold (the grid repeated for each).
    n <- nrow(X)
    bigX <- cbind(kronecker(diag(k1), matrix(1, n, 1L)), kronecker(matrix(-1, k1, 1L), X))
    misc$ylevs <- list(cut = names(th))
    misc$tran <- object$family$link
    misc$inv.lbl <- "cumprob"
    misc$offset.mult <- -1
    if (mode != "linear.predictor") {
      misc$mode <- mode
      misc$respName <- deparse1(object$formula[[2L]])
      misc$postGridHook <- ".clm.postGrid"
    }
  }
  colnames(bigX) <- names(bhat)
  list(X = bigX, bhat = bhat, nbasis = matrix(NA), V = V[seq_along(bhat), seq_along(bhat)],
       dffun = function(k, dfargs) Inf, dfargs = list(), misc = misc)
}
