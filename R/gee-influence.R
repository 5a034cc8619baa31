# Deletion diagnostics of a GEE fit (Preisser and Qaqish, 1996): leverage,
# one-step changes of the coefficients when a cluster or an observation is
# deleted (dfbeta), and Cook's distances, per cluster or per observation,
# with an index plot. Computed from the per-cluster blocks
# (gee_cluster_blocks()) with the working correlation held at its estimate.

#' Influence diagnostics for GEE fits
#'
#' Leverage, dfbeta and Cook's distance of each cluster or each observation
#' of a [gee()] fit, by the one-step deletion formulas of Preisser and
#' Qaqish (1996) with the working correlation and scale held at their
#' estimates. With \eqn{H = \sum_i D_i'V_i^{-1}D_i} (working covariance
#' \eqn{V_i = A_i^{1/2} R_i A_i^{1/2}}) and the cluster's leverage matrix
#' \eqn{Q_i = D_i H^{-1} D_i' V_i^{-1}}:
#' * `hatvalues()`: the diagonal of \eqn{Q_i} per observation; per cluster
#'   its trace (the sum over the cluster's observations).
#' * `dfbeta()`: per cluster \eqn{\hat\beta - \hat\beta_{(i)} \approx
#'   H^{-1} D_i'V_i^{-1}(I - Q_i)^{-1} e_i}; per observation \eqn{j} of
#'   cluster \eqn{i}, the same with the observation's residual and
#'   derivative conditional on the rest of its cluster: with
#'   \eqn{P = V_i^{-1}}, \eqn{\tilde d = (P D_i)_j}, \eqn{\tilde r = (P
#'   e_i)_j}, \eqn{h = \tilde d H^{-1} \tilde d' / P_{jj}}, the change is
#'   \eqn{H^{-1}\tilde d' \tilde r / (P_{jj}(1 - h))}.
#' * `cooks.distance()`: \eqn{\delta' V^{-1} \delta / p} for each change
#'   \eqn{\delta} from `dfbeta()`, \eqn{V} = `vcov(model, type = type)`
#'   (the fit's estimator by default).
#'
#' These are the measures of glmtoolbox's `leverage()`, `dfbeta()` and
#' `cooks.distance()` (method `"Preisser-Qaqish"`, their defaults) for
#' glmtoolbox's `glmgee` fits. With an independence working correlation they
#' are those of [stats::influence.measures()] for the corresponding glm:
#' the observation leverages are the glm's hat values, and Cook's distances
#' with `type = "model"` the glm's [stats::cooks.distance()] once the scales
#' agree (the GEE's moment estimate of the scale divides by the number of
#' observations, the glm's dispersion by the residual degrees of freedom).
#' The glm's [stats::dfbeta()] takes deviance residuals where these take
#' Pearson residuals, so the two agree for the gaussian family and differ
#' by the factor (deviance / Pearson residual) otherwise.
#'
#' `plot_influence()` draws an index plot of one measure (base graphics),
#' with a dotted line at three times the mean, and labels the `n_label`
#' largest values; it returns the measure invisibly.
#'
#' @param model,object a fit from [gee()] or [gee_fit()].
#' @param level `"cluster"` (the default) or `"observation"` (glmtoolbox's
#'   `"clusters"` and `"observations"` are accepted).
#' @param type for `cooks.distance()`: the variance estimator of the metric
#'   (see [gee()]), the fit's by default.
#' @param measure for `plot_influence()`: `"cooks"`, `"leverage"` or
#'   `"dfbeta"`.
#' @param coef for `plot_influence(measure = "dfbeta")`: the coefficient
#'   (name or index) to plot.
#' @param n_label number of the largest values to label.
#' @param ... not used: an argument given here is an error (for
#'   `plot_influence()`: graphical parameters passed to [graphics::plot()]).
#' @return `hatvalues()` and `cooks.distance()`: a named vector, one value
#'   per cluster (named by cluster) or per observation (named by row, rows
#'   with zero weight left out). `dfbeta()`: a matrix with a column per
#'   coefficient.
#' @references
#' Preisser, J. S. and Qaqish, B. F. (1996). Deletion diagnostics for
#' generalised estimating equations. *Biometrika* 83, 551--562.
#'
#' Vanegas, L. H., Rondon, L. M. and Paula, G. A. (2023). Generalized
#' estimating equations using the new R package glmtoolbox. *The R Journal*
#' 15, 105--133.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'              family = poisson, corstr = "exchangeable")
#'   head(hatvalues(fit))
#'   head(dfbeta(fit))
#'   cd <- cooks.distance(fit)
#'   head(sort(cd, decreasing = TRUE))
#'   head(cooks.distance(fit, level = "observation"))
#'   plot_influence(fit)
#' }
#' @name gee-influence
NULL

match_influence_level <- function(level) {
  if (!is.character(level) || !length(level) || anyNA(level))
    stop("'level' must be \"cluster\" or \"observation\"", call. = FALSE)
  level <- level[1L]
  lv <- c(cluster = "cluster", clusters = "cluster", observation = "observation",
          observations = "observation")
  if (!(level %in% names(lv)))
    stop(sprintf("'level' = \"%s\": use \"cluster\" or \"observation\"", level), call. = FALSE)
  lv[[level]]
}

# Row labels of the observations of the blocks: the row names of the data.
gee_obs_labels <- function(object, rows) {
  rn <- rownames(object$engine$data$X)
  if (is.null(rn)) as.character(rows) else rn[rows]
}

gee_influence_parts <- function(object, level, what) {
  cb <- gee_cluster_blocks(object, what)
  Hinv <- cb$Hinv
  p <- cb$p
  nm <- names(object$coefficients)
  if (level == "cluster") {
    lev <- vapply(cb$blocks, function(b) sum(diag(b$D %*% Hinv %*% crossprod(b$D, b$Vinv))), 1)
    dfb <- t(vapply(seq_along(cb$blocks), function(k) {
      b <- cb$blocks[[k]]
      drop(Hinv %*% crossprod(b$D, b$Vinv %*% gee_corrected_residuals(b, names(cb$blocks)[k], what)))
    }, numeric(p)))
    if (p == 1L) dfb <- t(dfb)
    dimnames(dfb) <- list(names(cb$blocks), nm)
    return(list(leverage = lev, dfbeta = dfb))
  }
  parts <- lapply(cb$blocks, function(b) {
    PD <- b$Vinv %*% b$D
    Pr <- drop(b$Vinv %*% b$e)
    Pjj <- diag(b$Vinv)
    lev <- rowSums((b$D %*% Hinv) * PD)
    hc <- rowSums((PD %*% Hinv) * PD) / Pjj
    if (any(hc >= 1 - 1e-12))
      stop(sprintf("%s: an observation has leverage 1, its deletion change is undefined", what),
           call. = FALSE)
    dfb <- (PD %*% Hinv) * (Pr / (Pjj * (1 - hc)))
    list(rows = b$rows, leverage = lev, dfbeta = dfb)
  })
  rows <- unlist(lapply(parts, `[[`, "rows"), use.names = FALSE)
  o <- order(rows)
  lev <- unlist(lapply(parts, `[[`, "leverage"), use.names = FALSE)[o]
  dfb <- do.call(rbind, lapply(parts, `[[`, "dfbeta"))[o, , drop = FALSE]
  lab <- gee_obs_labels(object, rows[o])
  names(lev) <- lab
  dimnames(dfb) <- list(lab, nm)
  list(leverage = lev, dfbeta = dfb)
}

#' @rdname gee-influence
#' @importFrom stats hatvalues
#' @export
hatvalues.glmmgee_gee <- function(model, level = c("cluster", "observation"), ...) {
  check_dots(..., .method = "hatvalues.glmmgee_gee")
  level <- match_influence_level(level)
  gee_influence_parts(model, level, "hatvalues()")$leverage
}

#' @rdname gee-influence
#' @importFrom stats dfbeta
#' @export
dfbeta.glmmgee_gee <- function(model, level = c("cluster", "observation"), ...) {
  check_dots(..., .method = "dfbeta.glmmgee_gee")
  level <- match_influence_level(level)
  gee_influence_parts(model, level, "dfbeta()")$dfbeta
}

#' @rdname gee-influence
#' @importFrom stats cooks.distance
#' @export
cooks.distance.glmmgee_gee <- function(model, level = c("cluster", "observation"),
                                       type = model$std.err, ...) {
  check_dots(..., .method = "cooks.distance.glmmgee_gee")
  level <- match_influence_level(level)
  V <- vcov(model, type = type)
  d <- gee_influence_parts(model, level, "cooks.distance()")$dfbeta
  cd <- rowSums((d %*% solve(V)) * d) / ncol(d)
  names(cd) <- rownames(d)
  cd
}

#' @rdname gee-influence
#' @export
plot_influence <- function(object, measure = c("cooks", "leverage", "dfbeta"),
                           level = c("cluster", "observation"), coef = 2L,
                           type = object$std.err, n_label = 3L, ...) {
  if (!inherits(object, "glmmgee_gee"))
    stop("plot_influence(): 'object' must be a fit from gee()", call. = FALSE)
  measure <- match.arg(measure)
  level <- match_influence_level(level)
  if (!is.numeric(n_label) || length(n_label) != 1L || is.na(n_label) || n_label < 0)
    stop("'n_label' must be one non-negative number", call. = FALSE)
  nm <- names(object$coefficients)
  v <- switch(measure,
              cooks = cooks.distance(object, level = level, type = type),
              leverage = hatvalues(object, level = level),
              dfbeta = {
                j <- select_parameters(coef, nm)
                if (length(j) != 1L) stop("'coef' must name one coefficient", call. = FALSE)
                d <- dfbeta(object, level = level)
                stats::setNames(d[, j], rownames(d))
              })
  ylab <- switch(measure, cooks = "Cook's distance",
                 leverage = if (level == "cluster") "leverage (trace)" else "leverage",
                 dfbeta = sprintf("dfbeta: %s", nm[select_parameters(coef, nm)]))
  args <- utils::modifyList(list(x = seq_along(v), y = unname(v), type = "h",
                                 xlab = if (level == "cluster") "cluster index" else "observation index",
                                 ylab = ylab), list(...))
  do.call(graphics::plot, args)
  ref <- if (measure == "dfbeta") 0 else 3 * mean(v)
  graphics::abline(h = ref, lty = 3)
  k <- utils::head(order(abs(v), decreasing = TRUE), n_label)
  if (length(k)) graphics::text(k, v[k], labels = names(v)[k], pos = 3, cex = 0.8, xpd = TRUE)
  invisible(v)
}
