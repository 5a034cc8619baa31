# Base-graphics plots of a GLMM: the caterpillar plot of predicted random
# effects with their shrinkage, and the two views of one covariate.

#' Caterpillar plot of predicted random effects, with shrinkage
#'
#' Ranks the clusters by their predicted random effect (the hospital-ranking
#' plot): each cluster's empirical-Bayes prediction with its prediction
#' interval (prediction \eqn{\pm z} conditional SD, see [ranef.glmmgee_glmm()]) and,
#' for the random intercept, the raw per-cluster estimate (open circles)
#' joined to the prediction by a thin line, which shows the shrinkage
#' towards zero: strongest for clusters with little information. The raw
#' estimate is the maximum-likelihood estimate of the cluster's own
#' intercept deviation with the fixed effects (and any other random effects)
#' held at their estimates and no random-effect distribution; for a cluster
#' whose responses are all 0 or all 1 it is infinite and drawn as a triangle
#' at the edge of the plot.
#'
#' @param fit A fit from [glmm()].
#' @param term The random-effect term to plot (name or index), by default
#'   the first.
#' @param which The grouping factor whose levels are plotted (name or index
#'   among `names(ranef(fit))`), for fits with several; by default the
#'   first.
#' @param level Level of the prediction intervals.
#' @param type `"mode"` or `"mean"`, as in [ranef.glmmgee_glmm()].
#' @param raw Show the raw per-cluster estimates (random intercept only).
#' @param labels Label the clusters on the axis (by default when there are
#'   at most 40).
#' @param main,xlab,ylab Titles.
#' @param ... Passed to [plot.default()].
#' @return Invisibly, a data frame with one row per cluster in rank order:
#'   `group`, `estimate`, `lower`, `upper`, `raw` and `rank`.
#' @seealso [ranef.glmmgee_glmm()], [plot_views()].
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   rk <- plot_ranef(fit)
#'   head(rk)
#' }
#' @export
plot_ranef <- function(fit, term = 1L, level = 0.95, type = c("mode", "mean"),
                       raw = TRUE, labels = NULL, main = NULL, xlab = NULL,
                       ylab = NULL, which = 1L, ...) {
  refuse_ordinal(fit, "plot_ranef()", "autoplot(fit, which = \"ranef\") plots the clusters' modes")
  if (!is_glmm(fit))
    stop(sprintf("'fit': plot_ranef() needs a fit from glmm(), not an object of class \"%s\"",
                 class(fit)[1L]), call. = FALSE)
  type <- match.arg(type)
  check_level(level)
  rf <- ranef(fit, type = type)
  if (length(which) != 1L)
    stop("'which' must name one grouping factor", call. = FALSE)
  which <- match_parm(which, names(rf), names(rf)[1L], arg = "which")
  cnames <- names(rf[[which]])
  term <- match_parm(term, cnames, cnames[1L], arg = "term")
  if (length(term) != 1L) stop("'term' must name one random-effect term", call. = FALSE)
  d <- as.data.frame(structure(unclass(rf)[which], class = class(rf)), level = level)
  d <- d[d$term == term, , drop = FALSE]
  rawv <- if (raw && term == "(Intercept)") raw_intercepts(fit, which)[as.character(d$grp)]
          else rep(NA_real_, nrow(d))
  o <- order(d$condval)
  res <- data.frame(group = as.character(d$grp[o]), estimate = d$condval[o],
                    lower = d$lower[o], upper = d$upper[o], raw = unname(rawv[o]),
                    rank = seq_along(o), stringsAsFactors = FALSE)
  M <- nrow(res)
  fin <- is.finite(res$raw)
  yl <- range(res$lower, res$upper, res$raw[fin], 0)
  if (is.null(labels)) labels <- M <= 40L
  graphics::plot(res$rank, res$estimate, type = "n", ylim = yl, xaxt = if (labels) "n" else "s",
                 xlab = xlab %||% sprintf("Clusters (%s), ranked", which),
                 ylab = ylab %||% sprintf("Random effect: %s (link scale)", term),
                 main = main %||% sprintf("Predicted random effects, %g%% prediction intervals",
                                          100 * level), ...)
  if (labels) graphics::axis(1, at = res$rank, labels = res$group, las = 2,
                             cex.axis = 0.7)
  graphics::abline(h = 0, col = "grey60", lty = 2)
  if (any(!is.na(res$raw))) {
    edge <- ifelse(res$raw > 0, yl[2L], yl[1L])
    rv <- ifelse(fin, res$raw, edge)
    ok <- !is.na(res$raw)
    graphics::segments(res$rank[ok], rv[ok], res$rank[ok], res$estimate[ok], col = "grey70")
    graphics::points(res$rank[ok & fin], rv[ok & fin], pch = 1, col = "firebrick")
    inf <- ok & !fin
    if (any(inf)) graphics::points(res$rank[inf], rv[inf], col = "firebrick",
                                   pch = ifelse(res$raw[inf] > 0, 2, 6))
  }
  graphics::segments(res$rank, res$lower, res$rank, res$upper, col = "steelblue")
  graphics::points(res$rank, res$estimate, pch = 19, col = "steelblue4", cex = 0.8)
  if (any(!is.na(res$raw)))
    graphics::legend("topleft", bty = "n", cex = 0.8, pch = c(19, 1),
                     col = c("steelblue4", "firebrick"),
                     legend = c("predicted (shrunken)", "raw per-cluster estimate"))
  invisible(res)
}

# Raw per-cluster intercept deviations: each cluster's own maximum-likelihood
# estimate of b_i with everything else held fixed, by Fisher scoring for all
# clusters at once. Non-finite estimates (all responses at a boundary) are
# returned as +/-Inf.
raw_intercepts <- function(fit, which = 1L, maxit = 100L, bound = 30) {
  fam <- fit$family
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    # the random intercept of grouping factor `which`: its term among the
    # factor's terms (those of `||` share the factor)
    ks <- terms_by_factor(fit)[[which]]
    k <- ks[vapply(fit$reterms[ks], function(tm) "(Intercept)" %in% tm$cnames, TRUE)][1L]
    tm <- fit$reterms[[k]]
    g <- tm$index
    lev <- tm$levels
    bi <- tm$b[g, "(Intercept)"]
    if (isTRUE(tm$known_cov)) {
      # levels of K without data have no raw estimate
      obs <- sort(unique(g))
      lev <- lev[obs]
      g <- match(g, obs)
    }
  } else {
    g <- fit$group
    lev <- fit$group_levels
    bi <- fit$ranef$mode[g, match("(Intercept)", fit$cnames)]
  }
  M <- length(lev)
  off <- fit$linear.predictors - bi
  w <- fit$prior.weights
  y <- fit$y
  b <- numeric(M)
  for (it in seq_len(maxit)) {
    eta <- off + b[g]
    mu <- fam$linkinv(eta)
    me <- fam$mu.eta(eta)
    v <- fam$variance(mu)
    U <- as.vector(rowsum(w * (y - mu) * me / v, g, reorder = TRUE))
    I <- as.vector(rowsum(w * me^2 / v, g, reorder = TRUE))
    step <- ifelse(I > 0, U / I, 0)
    b <- pmin(pmax(b + step, -bound), bound)
    if (max(abs(step)) < 1e-10) break
  }
  b[abs(b) >= bound] <- sign(b[abs(b) >= bound]) * Inf
  stats::setNames(b, lev)
}

#' Two views of one covariate: conditional curves and the marginal curve
#'
#' Draws the mean as a function of `variable` for a spread of clusters
#' (thin grey curves, one per random-effect value at evenly spaced quantiles
#' of its distribution), the curve of a typical cluster (\eqn{b = 0},
#' dashed) and the population-averaged curve (bold), the mean over the
#' random-effect distribution computed as in [marginal_coefs()]. For
#' non-identity links the marginal curve is flatter than the conditional
#' ones: the population-averaged effect is attenuated.
#'
#' The other covariates are held at reference values: the mean of a numeric
#' variable, the most frequent level of a factor or logical, unless given in
#' `at`.
#'
#' @param fit A fit from [glmm()].
#' @param variable Name of a numeric variable of the fixed effects.
#' @param at Optional named list of values for the other variables.
#' @param n_curves Number of conditional curves.
#' @param range Range of `variable`; by default its range in the data.
#' @param n_grid Number of points along each curve.
#' @param main,xlab,ylab Titles.
#' @param ... Graphical parameters passed to [plot.window()].
#' @return Invisibly, a list with the grid `x`, the `conditional` curves (a
#'   matrix, one column per random-effect value), the `typical` curve and
#'   the `marginal` curve, and the `legend` box (as [legend()] returns it).
#' @seealso [compare_views()], [marginal_coefs()].
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   bacteria$weeks <- bacteria$week
#'   fit <- glmm(y ~ trt + weeks + (1 | ID), data = bacteria, family = binomial)
#'   plot_views(fit, "weeks")
#' }
#' @export
plot_views <- function(fit, variable, at = NULL, n_curves = 25L, range = NULL,
                       n_grid = 101L, main = NULL, xlab = NULL, ylab = NULL, ...) {
  re <- re_structure(fit, "plot_views")
  vars <- model_variables(fit)
  if (missing(variable) || !is.character(variable) || length(variable) != 1L ||
      !(variable %in% vars))
    stop(sprintf("'variable' must name one variable of the model's fixed effects (%s)",
                 paste(vars, collapse = ", ")), call. = FALSE)
  data <- fit_data(fit)
  x <- data[[variable]]
  if (!is.numeric(x))
    stop(sprintf("'variable' '%s' must be numeric to draw curves (use standardize() for factors)",
                 variable), call. = FALSE)
  if (!is.numeric(n_curves) || length(n_curves) != 1L || n_curves < 1)
    stop("'n_curves' must be a positive whole number", call. = FALSE)
  if (is.null(range)) range <- base::range(x)
  if (!is.numeric(range) || length(range) != 2L || any(!is.finite(range)) || range[1L] >= range[2L])
    stop("'range' must be two increasing finite numbers", call. = FALSE)
  grid <- seq(range[1L], range[2L], length.out = n_grid)
  nd <- reference_rows(data, variable, at, vars, n_grid)
  nd[[variable]] <- grid
  des <- design_at(fit, nd)
  fam <- fit$family
  eta <- drop(des$X %*% fit$coefficients) + des$offset
  Lam <- re$Lambda
  if (!is.null(re$dist)) {
    cv <- dist_view_curves(re$dist, fam, fit$theta, des$X, des$offset, n_curves)
    return(draw_views(grid, cv$cond, fam$linkinv(eta), cv$marg, variable, main, xlab, ylab, ...))
  }
  # Random-effect values: b = Lambda u for u at evenly spaced normal quantiles
  # along the direction of the first random effect when q = 1; for q > 1 a
  # fixed pseudo-random sample (the user's random-number stream untouched).
  u <- stats::qnorm((seq_len(n_curves) - 0.5) / n_curves)
  U <- if (re$q == 1L) matrix(u, 1L) else with_seed(1L, matrix(stats::rnorm(re$q * n_curves), re$q))
  Bv <- Lam %*% U
  cond <- fam$linkinv(eta + des$Z %*% Bv)
  typical <- fam$linkinv(eta)
  marg <- marginal_mean(eta, re_scale(des$Z, Lam, re$pattern)$s, fam)$mean
  draw_views(grid, cond, typical, marg, variable, main, xlab, ylab, ...)
}

# Draws the curves with the legend in a band above them. The band's height
# is measured, not guessed: the legend is sized in a provisional coordinate
# system (shrunk to the plot's width if need be) and the y range is then
# extended so that the band holds it, whatever the size of the device.
draw_views <- function(grid, cond, typical, marg, variable, main, xlab, ylab, ...) {
  yr <- base::range(cond, marg, typical)
  if (diff(yr) <= 0) yr <- yr + c(-0.5, 0.5) * max(abs(yr[1L]), 1e-3)
  xr <- base::range(grid)
  labels <- c("clusters (random effects at quantiles)", "typical cluster (b = 0)",
              "population average")
  graphics::plot.new()
  graphics::plot.window(xr, yr, ...)
  cex <- 0.8
  lg <- graphics::legend("top", legend = labels, lty = c(1, 2, 1), cex = cex, plot = FALSE)
  usr <- graphics::par("usr")
  if (lg$rect$w > 0.98 * diff(usr[1:2])) {
    cex <- cex * 0.98 * diff(usr[1:2]) / lg$rect$w
    lg <- graphics::legend("top", legend = labels, lty = c(1, 2, 1), cex = cex, plot = FALSE)
  }
  # Fraction f of the plot's height taken by the legend; with the default
  # 4% axis padding the data must fit below the band: D (1.04 - 1.08 f)
  # >= diff(yr) for the new data range D.
  f <- min(lg$rect$h / diff(usr[3:4]), 0.8)
  D <- diff(yr) / (1.04 - 1.08 * f) * 1.02
  graphics::plot.window(xr, c(yr[1L], yr[1L] + D), ...)
  graphics::box()
  graphics::axis(1L)
  graphics::axis(2L)
  graphics::title(main = main %||% "Conditional (grey) and population-averaged (bold) curves",
                  xlab = xlab %||% variable, ylab = ylab %||% "Mean response")
  graphics::matlines(grid, cond, lty = 1, col = grDevices::grey(0.6, 0.6), lwd = 0.8)
  graphics::lines(grid, typical, lty = 2, lwd = 2, col = "grey25")
  graphics::lines(grid, marg, lwd = 3, col = "firebrick")
  lg <- graphics::legend("top", bg = "white", box.col = NA, cex = cex, lty = c(1, 2, 1),
                         lwd = c(1, 2, 3), col = c("grey60", "grey25", "firebrick"),
                         legend = labels)
  invisible(list(x = grid, conditional = cond, typical = typical, marginal = marg,
                 legend = lg$rect))
}

# n copies of a reference row: mean of numerics, most frequent value of
# factors, logicals and characters, overridden by `at`.
reference_rows <- function(data, variable, at, vars, n) {
  if (!is.null(at) && (!is.list(at) || is.null(names(at)) || !all(names(at) %in% vars)))
    stop(sprintf("'at' must be a named list of values for variables of the model (%s)",
                 paste(vars, collapse = ", ")), call. = FALSE)
  row <- lapply(data, function(v) {
    if (is.numeric(v)) return(mean(v))
    tab <- table(v)
    m <- names(tab)[which.max(tab)]
    if (is.factor(v)) factor(m, levels = levels(v)) else if (is.logical(v)) as.logical(m) else m
  })
  for (nm in names(at)) {
    v <- data[[nm]]
    row[[nm]] <- if (is.factor(v)) {
      if (!all(as.character(at[[nm]]) %in% levels(v)))
        stop(sprintf("'at': \"%s\" is not a level of '%s'", at[[nm]], nm), call. = FALSE)
      factor(at[[nm]], levels = levels(v))
    } else at[[nm]]
  }
  as.data.frame(lapply(row, function(v) rep(v, length.out = n)), stringsAsFactors = FALSE,
                optional = TRUE)
}

# Evaluates expr with a fixed seed and restores the caller's random state.
with_seed <- function(seed, expr, kind = NULL) {
  had_seed <- exists(".Random.seed", envir = globalenv(), inherits = FALSE)
  old <- if (had_seed) get(".Random.seed", envir = globalenv(), inherits = FALSE)
  # (.Random.seed holds the generators too; without one, they are reset
  # by name)
  old_kind <- if (!is.null(kind) && !had_seed) RNGkind()
  on.exit({
    if (!is.null(old_kind)) suppressWarnings(RNGkind(old_kind[1L], old_kind[2L], old_kind[3L]))
    if (is.null(old)) rm(".Random.seed", envir = globalenv())
    else assign(".Random.seed", old, envir = globalenv())
  })
  if (is.null(kind)) set.seed(seed)
  else set.seed(seed, kind = kind[1L], normal.kind = kind[2L], sample.kind = kind[3L])
  expr
}
