# ggplot2's autoplot() for glmm and gee fits, registered when ggplot2 is
# loaded: the caterpillar plot of the predicted random effects and the plot
# of residuals against fitted values, as ggplot objects a user can add to.

#' ggplot2 plots of glmm and gee fits
#'
#' Methods for [ggplot2::autoplot()], registered when ggplot2 is loaded.
#'
#' * `which = "ranef"` (glmm fits): the caterpillar plot of the predicted
#'   random effects (posterior modes, [ranef.glmmgee_glmm()]) with their
#'   `level` prediction intervals (prediction \eqn{\pm z} conditional SD),
#'   clusters in rank order, one panel per grouping factor and term (see
#'   [plot_ranef()] for the base-graphics version with the raw per-cluster
#'   estimates).
#' * `which = "residuals"`: Pearson residuals against fitted values (means
#'   on the response scale), with a zero line.
#' * `which = "coef"` (gee fits, and glmm fits): the estimates with Wald
#'   intervals from `vcov(object)`, intercept left out.
#' * `which = "influence"` (gee fits): Cook's distance of each cluster
#'   ([cooks.distance.glmmgee_gee()]) against its index, with a dotted line
#'   at three times the mean (the ggplot2 version of [plot_influence()]).
#'
#' Cumulative link fits ([cumulative()]) have no residuals and are refused
#' for `"residuals"`.
#'
#' @param object A fit from [glmm()] or [gee()].
#' @param which The plot: `"ranef"` (the default for a glmm), `"residuals"`
#'   (the default for a gee), `"coef"` or (gee fits) `"influence"`.
#' @param level Level of the intervals.
#' @param ... Must be empty.
#' @return A `ggplot` object.
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   ggplot2::autoplot(fit)
#'   ggplot2::autoplot(fit, which = "residuals")
#' }
#' @name glmmgee-autoplot
NULL

# ggplot2's data pronoun in aes(), for R CMD check's global-variable scan.
utils::globalVariables(".data")

#' @rdname glmmgee-autoplot
#' @exportS3Method ggplot2::autoplot
autoplot.glmmgee_glmm <- function(object, which = c("ranef", "residuals", "coef"),
                                  level = 0.95, ...) {
  check_no_dots(list(...), "autoplot")
  which <- match_choice(which, c("ranef", "residuals", "coef"), "which")
  check_level(level)
  switch(which,
         ranef = autoplot_ranef(object, level),
         residuals = autoplot_residuals(object),
         coef = autoplot_coef(fixef(object), vcov(object), level,
                              "Fixed effects (conditional), link scale"))
}

#' @rdname glmmgee-autoplot
#' @exportS3Method ggplot2::autoplot
autoplot.glmmgee_glmm_ordinal <- function(object, which = c("ranef", "coef"), level = 0.95, ...) {
  check_no_dots(list(...), "autoplot")
  which <- match_choice(which, c("ranef", "coef"), "which")
  check_level(level)
  b <- object$coefficients
  switch(which,
         ranef = autoplot_ranef(object, level),
         coef = autoplot_coef(b, vcov(object)[names(b), names(b), drop = FALSE], level,
                              "Coefficients (conditional), latent scale"))
}

#' @rdname glmmgee-autoplot
#' @exportS3Method ggplot2::autoplot
autoplot.glmmgee_gee <- function(object, which = c("residuals", "coef", "influence"),
                                 level = 0.95, ...) {
  check_no_dots(list(...), "autoplot")
  which <- match_choice(which, c("residuals", "coef", "influence"), "which")
  check_level(level)
  switch(which,
         residuals = autoplot_residuals(object),
         influence = autoplot_influence(object),
         coef = autoplot_coef(coef(object), vcov(object), level,
                              sprintf("Coefficients (population-averaged), %s standard errors",
                                      se_label(object$std.err))))
}

#' @rdname glmmgee-autoplot
#' @exportS3Method ggplot2::autoplot
autoplot.glmmgee_gee_ordinal <- function(object, which = "coef", level = 0.95, ...) {
  check_no_dots(list(...), "autoplot")
  match_choice(which, "coef", "which")
  check_level(level)
  b <- object$coefficients
  autoplot_coef(b, vcov(object)[names(b), names(b), drop = FALSE], level,
                "Coefficients (population-averaged), robust standard errors")
}

# An argument autoplot() would otherwise drop without a word.
check_no_dots <- function(dots, fun) {
  if (length(dots))
    stop(sprintf("%s(): unknown argument%s %s", fun, if (length(dots) > 1L) "s" else "",
                 paste(sprintf("'%s'", names(dots) %||% rep("", length(dots))), collapse = ", ")),
         call. = FALSE)
  invisible(NULL)
}

autoplot_ranef <- function(object, level) {
  d <- ranef_plot_table(ranef(object, condVar = TRUE))
  z <- stats::qnorm(1 - (1 - level) / 2)
  d$lower <- d$condval - z * d$condsd
  d$upper <- d$condval + z * d$condsd
  d$panel <- paste0(d$grpvar, ": ", d$term)
  # Rank within each panel.
  d$rank <- stats::ave(d$condval, d$panel, FUN = function(v) rank(v, ties.method = "first"))
  ggplot2::ggplot(d, ggplot2::aes(x = .data$rank, y = .data$condval)) +
    ggplot2::geom_hline(yintercept = 0, colour = "grey60", linetype = 2) +
    ggplot2::geom_linerange(ggplot2::aes(ymin = .data$lower, ymax = .data$upper),
                            colour = "steelblue", na.rm = TRUE) +
    ggplot2::geom_point(colour = "steelblue4", size = 1.2) +
    ggplot2::facet_wrap(~ panel, scales = "free") +
    ggplot2::labs(x = "Clusters, ranked", y = "Predicted random effect (link scale)",
                  title = sprintf("Predicted random effects, %g%% prediction intervals",
                                  100 * level))
}

autoplot_residuals <- function(object) {
  r <- tryCatch(as.vector(stats::residuals(object, type = "pearson")),
                error = function(e) stop(sprintf("autoplot(which = \"residuals\"): %s",
                                                 conditionMessage(e)), call. = FALSE))
  f <- as.vector(stats::fitted(object))
  ok <- is.finite(r) & is.finite(f)
  d <- data.frame(fitted = f[ok], residual = r[ok])
  ggplot2::ggplot(d, ggplot2::aes(x = .data$fitted, y = .data$residual)) +
    ggplot2::geom_hline(yintercept = 0, colour = "grey60", linetype = 2) +
    ggplot2::geom_point(alpha = 0.6) +
    ggplot2::labs(x = "Fitted values (response scale)", y = "Pearson residuals",
                  title = "Residuals against fitted values")
}

# Cook's distance of each cluster (gee-influence.R) against its index, with
# the dotted line at three times the mean that plot_influence() draws.
autoplot_influence <- function(object) {
  cd <- cooks.distance(object)
  d <- data.frame(index = seq_along(cd), cook = unname(cd), cluster = names(cd))
  ggplot2::ggplot(d, ggplot2::aes(x = .data$index, y = .data$cook)) +
    ggplot2::geom_segment(ggplot2::aes(xend = .data$index, yend = 0), colour = "grey40") +
    ggplot2::geom_point(size = 1) +
    ggplot2::geom_hline(yintercept = 3 * mean(cd), linetype = 3) +
    ggplot2::labs(x = "Cluster index", y = "Cook's distance",
                  title = sprintf("Cook's distance per cluster (%s metric)", se_label(object$std.err)))
}

autoplot_coef <- function(b, V, level, title) {
  keep <- names(b) != "(Intercept)"
  if (!any(keep)) stop("autoplot(which = \"coef\"): the model has no coefficient besides the intercept",
                       call. = FALSE)
  se <- sqrt(diag(as.matrix(V)))[keep]
  z <- stats::qnorm(1 - (1 - level) / 2)
  d <- data.frame(term = factor(names(b)[keep], levels = rev(names(b)[keep])),
                  estimate = unname(b[keep]), lower = unname(b[keep] - z * se),
                  upper = unname(b[keep] + z * se))
  ggplot2::ggplot(d, ggplot2::aes(x = .data$estimate, y = .data$term)) +
    ggplot2::geom_vline(xintercept = 0, colour = "grey60", linetype = 2) +
    ggplot2::geom_errorbarh(ggplot2::aes(xmin = .data$lower, xmax = .data$upper), height = 0.2) +
    ggplot2::geom_point() +
    ggplot2::labs(x = sprintf("Estimate with %g%% Wald interval", 100 * level), y = NULL,
                  title = title)
}

# One row per grouping factor, term and level of ranef()'s list: the
# prediction and its conditional SD, from the "postVar" array (q x q x M)
# or the "condVar" vector (one term) of each data frame.
ranef_plot_table <- function(rf) {
  out <- lapply(names(rf), function(g) {
    d <- rf[[g]]
    M <- nrow(d)
    q <- ncol(d)
    V <- attr(d, "postVar") %||% attr(d, "condVar")
    sd <- if (is.null(V)) matrix(NA_real_, M, q)
          else if (length(dim(V)) == 3L) t(matrix(apply(V, 3L, function(v) sqrt(diag(as.matrix(v)))), q, M))
          else matrix(sqrt(as.numeric(V)), M, q)
    data.frame(grpvar = g, term = rep(names(d), each = M), grp = rep(rownames(d), q),
               condval = unlist(d, use.names = FALSE), condsd = as.vector(sd),
               stringsAsFactors = FALSE)
  })
  do.call(rbind, out)
}
