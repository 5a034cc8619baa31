# Random effects of new clusters predicted from their own observations
# (dynamic prediction), and rank intervals of the fitted clusters.

#' Random effects of new clusters from their own observations
#'
#' Predicts the random effects of clusters that were not in the fit from
#' their own observed outcomes, without refitting: the fitted parameters are
#' held fixed and each new cluster's posterior distribution of \eqn{b} given
#' its observations is summarized, exactly as [ranef()] summarizes the
#' fitted clusters (the same engine and quadrature). This is what
#' `predict(fit, newdata)` cannot do, since it gives new clusters
#' \eqn{b = 0}.
#'
#' For each new cluster: the posterior mode and its conditional standard
#' deviation (from the curvature at the mode, as `ranef(type = "mode")`),
#' the posterior mean and standard deviation (adaptive quadrature with
#' `nAGQ` points, as `ranef(type = "mean")`) and, for a scalar random
#' effect, the posterior median and an equal-tailed prediction interval,
#' from the posterior density on a fine grid (trapezoidal rule). With
#' `type = "response"` the cluster's predicted mean for each row of
#' `newdata` is added (conditional on the posterior mode).
#'
#' With several random-effect terms (nested, crossed) the fit's sparse
#' Laplace engine is run on the new rows with the parameters fixed: the
#' joint posterior modes of all their random effects, with conditional
#' standard deviations from the curvature there (`mean`, `median` and the
#' interval limits are then the mode and mode +/- z SD, the Laplace
#' approximation's normal posterior). Known-covariance terms are not
#' supported (their new levels have no covariance with the fitted ones).
#'
#' For bridge and nonparametric random intercepts
#' ([ranef-distributions]) the summaries come from that fit's engine and
#' prior: for the bridge the posterior on the engine's adaptive rule and the
#' quantiles on a grid; for mass points the posterior probabilities of the
#' points (mode: the most probable point; median and interval: quantiles
#' of the discrete posterior).
#'
#' @param fit A fit from [glmm()].
#' @param newdata Rows of the new clusters, with the response, the
#'   covariates and the grouping factor (and `weights` variables if the fit
#'   used them). Levels also present in the fit are treated as new clusters
#'   with only these observations.
#' @param level Level of the prediction intervals.
#' @param nAGQ Quadrature points for the posterior means; by default those
#'   of the fit (11 for a Laplace fit).
#' @return A data frame of class `glmmgee_ranef_new`, one row per cluster
#'   and random effect: `group`, `term`, `n` (observations), `mode`,
#'   `mode_sd`, `mean`, `sd`, `median`, `lower`, `upper`; attribute
#'   `predictions` (the rows' linear predictors and means at the mode).
#' @seealso [ranef()], [rank_intervals()].
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   old <- bacteria[!bacteria$ID %in% c("X01", "X02"), ]
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = old, family = binomial)
#'   ranef_new(fit, bacteria[bacteria$ID %in% c("X01", "X02"), ])
#' }
#' @export
ranef_new <- function(fit, newdata, level = 0.95, nAGQ = NULL) {
  if (!is_glmm(fit))
    stop(sprintf("'fit' must be a glmm() fit, not an object of class \"%s\"", class(fit)[1L]),
         call. = FALSE)
  require_capability(fit, "ranef_new", "ranef_new()")
  if (!is.data.frame(newdata) || !nrow(newdata))
    stop("'newdata' must be a data frame with the new clusters' observations", call. = FALSE)
  check_level(level)
  if (inherits(fit, "glmmgee_glmm_sparse")) return(ranef_new_sparse(fit, newdata, level))
  if (is_dist_fit(fit)) return(ranef_new_dist(fit, newdata, level))
  q <- length(fit$cnames)
  if (is.null(nAGQ)) nAGQ <- if (fit$nAGQ > 1L) fit$nAGQ else default_nAGQ(q, fit$family)
  nAGQ <- check_nAGQ(nAGQ, q)
  nd <- new_cluster_data(fit, newdata)
  fam <- fit$family
  pat <- fit$pattern
  eng <- cpp_agq_new(nd$X, nd$Z, nd$y, nd$weights, nd$offset, nd$cl$index,
                     length(nd$cl$levels), pat$row - 1L, pat$col - 1L, fam$family_code,
                     fam$link_code, nAGQ, 1L)
  on.exit(cpp_agq_free(eng), add = TRUE)
  s <- cpp_agq_summaries(eng, unname(fit$theta))
  Lam <- fit$Lambda
  M <- length(nd$cl$levels)
  mode <- s$mode %*% t(Lam)
  mean <- s$post_mean %*% t(Lam)
  mode_var <- sandwich_rows(s$mode_var, Lam)
  post_var <- sandwich_rows(s$post_var, Lam)
  diag_idx <- (seq_len(q) - 1L) * q + seq_len(q)
  out <- data.frame(group = rep(nd$cl$levels, times = q),
                    term = rep(fit$cnames, each = M),
                    n = rep(tabulate(nd$cl$index, M), times = q),
                    mode = as.vector(mode), mode_sd = sqrt(as.vector(mode_var[, diag_idx])),
                    mean = as.vector(mean), sd = sqrt(as.vector(post_var[, diag_idx])),
                    median = NA_real_, lower = NA_real_, upper = NA_real_,
                    stringsAsFactors = FALSE)
  if (q == 1L) {
    qs <- posterior_quantiles(fit, nd, c(0.5, (1 - level) / 2, 1 - (1 - level) / 2),
                              as.vector(mean), out$sd)
    out$median <- qs[, 1L]; out$lower <- qs[, 2L]; out$upper <- qs[, 3L]
  }
  if (s$newton_failures > 0L)
    warning(sprintf("the posterior mode search failed in %d new cluster(s)", s$newton_failures),
            call. = FALSE)
  eta <- drop(nd$X %*% fit$coefficients) + nd$offset +
    rowSums(nd$Z * mode[nd$cl$index, , drop = FALSE])
  structure(out, class = c("glmmgee_ranef_new", "data.frame"), level = level,
            predictions = data.frame(group = nd$cl$levels[nd$cl$index], eta = eta,
                                     mu = fam$linkinv(eta), row.names = nd$rownames))
}

# Several terms: the sparse Laplace engine on the new rows at the fitted
# parameters.
# For the ranef() methods of fits whose new clusters' random effects are not
# available: an error naming `newdata`, instead of the fitted clusters'
# modes returned as if they were the new ones.
refuse_ranef_newdata <- function(dots, what) {
  if (!is.null(dots$newdata))
    stop(sprintf("'newdata': random effects of new clusters are not available for %s", what),
         call. = FALSE)
}

ranef_new_sparse <- function(fit, newdata, level) {
  env <- environment(fit$formula) %||% parent.frame()
  f <- new_cluster_frame_formula(fit$formula)
  environment(f) <- env
  plain <- if (has_covstruct(fit$formula)) covstruct_split(fit$formula)$plain else fit$formula
  # The random effects' columns keep the fit's factor levels (a new cluster
  # seen at some times only still has a column per time); the grouping
  # factors take the new rows' levels.
  gvars <- unique(unlist(lapply(find_bars(plain), function(b) all.vars(b[[3L]]))))
  fm <- fit$model
  xlev <- list()
  for (v in setdiff(names(fm), gvars))
    if (is.factor(fm[[v]]) || is.character(fm[[v]]))
      xlev[[v]] <- if (is.factor(fm[[v]])) levels(fm[[v]]) else sort(unique(fm[[v]]))
  args <- list(formula = f, data = newdata, na.action = stats::na.omit,
               drop.unused.levels = FALSE, xlev = xlev)
  args$weights <- newdata_weights(fit, newdata, env)
  mf <- tryCatch(do.call(stats::model.frame, args), error = function(e)
    stop(sprintf("'newdata' must hold the response, covariates and grouping factors of the model: %s",
                 conditionMessage(e)), call. = FALSE))
  for (v in intersect(gvars, names(mf))) if (is.factor(mf[[v]])) mf[[v]] <- droplevels(mf[[v]])
  fam <- fit$family
  resp <- model_response(mf, fam)
  # The new rows' own terms, where one level of a grouping factor (one new
  # cluster) is the usual case; a structured term as the unstructured term
  # of its columns (the fit's theta holds its Lambda's entries).
  re <- sparse_re_terms(plain, mf, NULL, new_clusters = TRUE)
  rows <- newdata[rownames(mf), , drop = FALSE]
  des <- design_at(fit, rows)
  theta <- unname(fit$theta)
  p <- length(fit$coefficients)
  if (re$ntheta != length(theta) - p - has_dispersion(fam))
    stop("the random-effect terms of 'newdata' do not match those of the fit", call. = FALSE)
  eng <- cpp_sparse_new(des$X, re$Z, as.numeric(resp$y), as.numeric(resp$weights),
                        as.numeric(des$offset), re$lam_row - 1L, re$lam_col - 1L,
                        re$lam_k - 1L, re$ntheta, fam$family_code, fam$link_code)
  modes <- cpp_sparse_modes(eng, theta)
  terms <- sparse_term_summaries(re, theta[p + seq_len(re$ntheta)], modes, eng, theta)
  z <- stats::qnorm(1 - (1 - level) / 2)
  out <- do.call(rbind, lapply(terms, function(tm) {
    q <- length(tm$cnames)
    nl <- length(tm$levels)
    sd <- sqrt(vapply(seq_len(q), function(j) tm$condvar[j, j, ], numeric(nl)))
    sd <- matrix(sd, nl, q)
    data.frame(group = rep(tm$levels, times = q),
               term = rep(paste(tm$group, tm$cnames, sep = "."), each = nl),
               n = rep(tabulate(tm$index, nl), times = q),
               mode = as.vector(tm$b), mode_sd = as.vector(sd), mean = as.vector(tm$b),
               sd = as.vector(sd), median = as.vector(tm$b),
               lower = as.vector(tm$b - z * sd), upper = as.vector(tm$b + z * sd),
               stringsAsFactors = FALSE)
  }))
  rownames(out) <- NULL
  eta <- drop(des$X %*% fit$coefficients) + des$offset + as.numeric(re$Z %*% modes$b)
  structure(out, class = c("glmmgee_ranef_new", "data.frame"), level = level,
            predictions = data.frame(eta = eta, mu = fam$linkinv(eta), row.names = rownames(mf)))
}

# The fit's `weights` evaluated in `newdata` (NULL when the fit had none).
# An expression that does not come from newdata's columns (rep(1, n) with
# the fit's n) gives the wrong number of values: said so, instead of
# model.frame()'s "variable lengths differ".
newdata_weights <- function(fit, newdata, env) {
  wcall <- fit$call$weights
  if (is.null(wcall)) return(NULL)
  w <- eval(wcall, newdata, env)
  if (length(w) != nrow(newdata))
    stop(sprintf(paste0("the fit's weights, '%s', give %d values for the %d rows of 'newdata': ",
                        "give the weights as a column of the data (weights = w)"),
                 paste(deparse(wcall, 500L), collapse = ""), length(w), nrow(newdata)),
         call. = FALSE)
  w
}

# Design, response and clusters of the new rows, as glmm() builds them.
new_cluster_data <- function(fit, newdata) {
  env <- environment(fit$formula) %||% parent.frame()
  f <- new_cluster_frame_formula(fit$formula)
  environment(f) <- env
  args <- list(formula = f, data = newdata, na.action = stats::na.omit)
  args$weights <- newdata_weights(fit, newdata, env)
  mf <- tryCatch(do.call(stats::model.frame, args), error = function(e)
    stop(sprintf("'newdata' must hold the response, covariates and grouping factor of the model: %s",
                 conditionMessage(e)), call. = FALSE))
  resp <- model_response(mf, fit$family)
  rows <- newdata[rownames(mf), , drop = FALSE]
  des <- design_at(fit, rows)
  g <- rows[[fit$group_name]]
  if (is.null(g)) stop(sprintf("'newdata' has no column '%s' (the grouping factor)", fit$group_name),
                       call. = FALSE)
  list(X = des$X, Z = des$Z, offset = des$offset, y = as.numeric(resp$y),
       weights = as.numeric(resp$weights), cl = cluster_index(g, "group"),
       rownames = rownames(mf))
}

# Posterior quantiles of a scalar random effect per cluster, from the
# log posterior on a grid of 2401 points over mean +/- 12 sd (trapezoidal
# rule, then linear interpolation of the distribution function); the
# prior's log density is normal unless given.
posterior_quantiles <- function(fit, nd, probs, centre, scale, lprior = NULL) {
  if (is.null(lprior)) lprior <- function(b) stats::dnorm(b, 0, fit$Lambda[1L, 1L], log = TRUE)
  fam <- fit$family
  phi <- if (has_dispersion(fam)) fit$theta[[length(fit$theta)]] else 0
  eta0 <- drop(nd$X %*% fit$coefficients) + nd$offset
  z <- nd$Z[, 1L]
  t(vapply(seq_along(nd$cl$levels), function(i) {
    r <- which(nd$cl$index == i)
    s <- max(scale[i], 1e-8)
    b <- centre[i] + s * seq(-12, 12, length.out = 2401L)
    E <- eta0[r] + outer(z[r], b)
    ll <- cpp_family_eval(fam$family_code, fam$link_code, rep(nd$y[r], length(b)),
                          rep(nd$weights[r], length(b)), as.vector(E), phi)$loglik
    lp <- colSums(matrix(ll, length(r))) + lprior(b)
    # Outside the family's range (Gamma(inverse): a negative mean; the log
    # link of binomial: a probability above 1) the density is zero, where
    # the family's evaluation gives NaN or -Inf.
    lp[!is.finite(lp)] <- -Inf
    if (!any(is.finite(lp))) return(rep(NA_real_, length(probs)))
    d <- exp(lp - max(lp))
    cdf <- cumsum(c(0, (d[-1L] + d[-length(d)]) / 2))
    cdf <- cdf / cdf[length(cdf)]
    stats::approx(cdf, b, xout = probs, ties = "ordered")$y
  }, numeric(length(probs))))
}

#' @export
print.glmmgee_ranef_new <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_ranef_new", .allow = print_dots)
  cat(sprintf("Random effects of new clusters from their own observations (parameters fixed); %g%% prediction intervals\n",
              100 * attr(x, "level")))
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  attributes(d) <- attributes(d)[c("names", "row.names")]
  class(d) <- "data.frame"
  print(format(d, digits = digits), row.names = FALSE)
  invisible(x)
}

#' Rank intervals of the clusters (profiling)
#'
#' Ranks the fitted clusters by their random effect (rank 1 is the lowest)
#' with intervals that show how uncertain each rank is, as used to compare
#' hospitals or schools. The parameters are held at their estimates and the
#' clusters' random effects are drawn from their posterior distributions
#' (independent given the parameters; inverse distribution function on a
#' fine grid of each posterior density); each draw ranks the clusters, and
#' the interval of a cluster is the equal-tailed interval of its ranks over
#' the draws. Wide rank intervals are the rule: with few observations per
#' cluster, most clusters cannot be told apart.
#'
#' @param fit A fit from [glmm()] with one random intercept (one grouping
#'   factor, normal).
#' @param level Level of the intervals.
#' @param n_draws Number of posterior draws.
#' @param seed Seed for the draws (the user's random-number stream is left
#'   untouched).
#' @param x A `glmmgee_rank_intervals` object.
#' @param ... Passed to [plot.default()].
#' @return A data frame of class `glmmgee_rank_intervals`: `group`,
#'   `mean` (posterior mean of the random effect), `rank` (rank of the
#'   posterior mean), `mean_rank`, `lower`, `upper`, ordered by `rank`;
#'   `plot()` draws the intervals.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   ri <- rank_intervals(fit, n_draws = 1000)
#'   head(ri)
#'   plot(ri)
#' }
#' @export
rank_intervals <- function(fit, level = 0.95, n_draws = 2000L, seed = 1L) {
  if (!is_glmm(fit) || inherits(fit, "glmmgee_glmm_sparse") || is_dist_fit(fit) ||
      !identical(fit$cnames, "(Intercept)"))
    stop("'fit' must be a glmm() fit with one random intercept (one grouping factor, normal)",
         call. = FALSE)
  check_level(level)
  if (!is.numeric(n_draws) || length(n_draws) != 1L || n_draws < 100)
    stop("'n_draws' must be a number of at least 100", call. = FALSE)
  n_draws <- as.integer(n_draws)
  M <- fit$ngroups
  nd <- list(X = fit$X, Z = matrix(1, length(fit$group), 1L), offset = fit$offset,
             y = as.numeric(fit$y), weights = as.numeric(fit$prior.weights),
             cl = list(index = fit$group, levels = fit$group_levels))
  centre <- fit$ranef$mean[, 1L]
  scale <- sqrt(fit$ranef$var[1L, 1L, ])
  probs <- (seq_len(n_draws) - 0.5) / n_draws
  Q <- posterior_quantiles(fit, nd, probs, centre, scale)
  # Stratified draws, shuffled independently per cluster.
  R <- with_seed(seed, {
    D <- t(apply(Q, 1L, function(v) v[sample.int(n_draws)]))
    apply(D, 2L, rank, ties.method = "random")
  })
  a <- (1 - level) / 2
  lim <- t(apply(R, 1L, stats::quantile, probs = c(a, 1 - a), names = FALSE, type = 1))
  out <- data.frame(group = fit$group_levels, mean = centre, rank = rank(centre),
                    mean_rank = rowMeans(R), lower = lim[, 1L], upper = lim[, 2L],
                    stringsAsFactors = FALSE)
  out <- out[order(out$rank), ]
  rownames(out) <- NULL
  structure(out, class = c("glmmgee_rank_intervals", "data.frame"), level = level,
            n_draws = n_draws)
}

#' @rdname rank_intervals
#' @export
plot.glmmgee_rank_intervals <- function(x, ...) {
  M <- nrow(x)
  graphics::plot(x$rank, seq_len(M), xlim = c(1, M), type = "n", yaxt = "n",
                 xlab = sprintf("rank (%g%% interval)", 100 * attr(x, "level")), ylab = "",
                 ...)
  graphics::segments(x$lower, seq_len(M), x$upper, seq_len(M), col = "grey40")
  graphics::points(x$rank, seq_len(M), pch = 19, cex = 0.7)
  graphics::axis(2L, at = seq_len(M), labels = x$group, las = 1L, cex.axis = 0.6)
  invisible(x)
}

# Bridge or nonparametric random intercept: the fit's own engine and prior
# on the new rows.
ranef_new_dist <- function(fit, newdata, level) {
  nd <- new_cluster_data(fit, newdata)
  rd <- fit$ranef_dist
  fam <- fit$family
  theta <- unname(fit$theta)
  p <- rd$p
  X <- nd$X
  if (rd$type == "bridge") {
    eng <- dist_engine(X, nd$y, nd$weights, nd$offset, nd$cl, fam)
    ev <- eng(theta[seq_len(p)], 0L, theta[[p + 1L]])
    centre <- 0
  } else {
    int <- rd$intercept
    eng <- dist_engine(X[, -int, drop = FALSE], nd$y, nd$weights, nd$offset, nd$cl, fam)
    ev <- eng(theta[seq_len(p)][-int], 1L, theta[p + seq_len(2L * rd$k)])
    centre <- theta[[int]]
  }
  M <- length(nd$cl$levels)
  a <- (1 - level) / 2
  probs <- c(0.5, a, 1 - a)
  if (rd$type == "bridge") {
    lprior <- function(b) log(dbridge(b, rd$phi))
    qs <- posterior_quantiles(fit, nd, probs, ev$mean, sqrt(ev$var), lprior)
    mode_sd <- ev$scale
  } else {
    pts <- theta[p + seq_len(rd$k)] - centre
    o <- order(pts)
    qs <- t(apply(ev$post, 1L, function(w) {
      cw <- cumsum(w[o])
      vapply(probs, function(pr) pts[o][min(which(cw >= pr - 1e-12))], 1)
    }))
    mode_sd <- sqrt(ev$var)
  }
  out <- data.frame(group = nd$cl$levels, term = "(Intercept)",
                    n = tabulate(nd$cl$index, M), mode = ev$mode - centre, mode_sd = mode_sd,
                    mean = ev$mean - centre, sd = sqrt(ev$var), median = qs[, 1L],
                    lower = qs[, 2L], upper = qs[, 3L], stringsAsFactors = FALSE)
  eta <- drop(X %*% fit$coefficients) + nd$offset + out$mode[nd$cl$index]
  structure(out, class = c("glmmgee_ranef_new", "data.frame"), level = level,
            predictions = data.frame(group = nd$cl$levels[nd$cl$index], eta = eta,
                                     mu = fam$linkinv(eta), row.names = nd$rownames))
}

# predict(fit, newdata, new_clusters = TRUE): each cluster of newdata with
# its own posterior mode from ranef_new(). The other arguments of predict()
# are honoured or refused by name, never ignored: the prediction has no
# standard error (the mode's uncertainty is not in the delta method), its
# random effects are the new clusters' own (so no re.form), and every
# cluster is new (so no allow.new.levels). Rows ranef_new() could not use
# (a missing value) are kept as NA under na.pass and na.exclude and dropped
# by na.omit, as in predict().
predict_new_clusters <- function(object, newdata, type, se.fit = FALSE, re.form = NULL,
                                 allow.new.levels = FALSE, na.action = stats::na.pass) {
  if (is.null(newdata))
    stop("'new_clusters = TRUE' needs 'newdata' with the new clusters' observations",
         call. = FALSE)
  if (se.fit)
    stop(paste0("'se.fit' is not available with new_clusters = TRUE: the delta method over the fixed ",
                "effects would leave out the uncertainty of the new clusters' random effects ",
                "(ranef_new() gives their modes' standard deviations)"),
         call. = FALSE)
  if (!is.null(re.form))
    stop("'re.form' is not available with new_clusters = TRUE: the new clusters' own random effects are used; for none, use re.form = NA without new_clusters",
         call. = FALSE)
  check_flag(allow.new.levels, "allow.new.levels")
  if (allow.new.levels)
    stop("'allow.new.levels' is not available with new_clusters = TRUE: every cluster of 'newdata' is new and predicted from its own rows",
         call. = FALSE)
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  p <- attr(ranef_new(object, newdata), "predictions")
  rn <- rownames(newdata)
  out <- rep(NA_real_, length(rn))
  out[match(rownames(p), rn)] <- if (type == "response") p$mu else p$eta
  names(out) <- rn
  nao <- attr(match.fun(na.action)(data.frame(fit = out)), "na.action")
  if (is.null(nao)) out else stats::napredict(nao, out[-nao])
}

# The model-frame formula of the new rows: the fit's formula with its bars
# (and its structures, ar1() and the like, which are no functions) replaced.
new_cluster_frame_formula <- function(formula) {
  if (has_covstruct(formula)) covstruct_frame_formula(formula) else reformulas::subbars(formula)
}
