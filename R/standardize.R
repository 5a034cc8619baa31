# Marginal standardization (g-computation) for glmm and gee fits.

#' Marginal standardization (g-computation)
#'
#' For each value of `variable`, sets it to that value in every row of the
#' data, predicts the mean of every row and averages: the standardized mean
#' \eqn{\hat m(v) = n^{-1}\sum_i \hat\mu_i(v)}, the mean outcome had everyone
#' had \eqn{v}. Then the contrasts with the first value: the difference
#' \eqn{m(v) - m(v_1)}, the ratio \eqn{m(v)/m(v_1)} and, for binomial fits,
#' the marginal odds ratio.
#'
#' For a [gee()] fit the predictions are the population-averaged means. For
#' a [glmm()] fit, `re = "marginal"` (the default) integrates each
#' prediction over the random-effect distribution, giving population-averaged
#' means (see [marginal_coefs()] for how), while `re = "conditional"` sets the
#' random effects to zero: the means for a typical cluster (\eqn{b = 0}),
#' which for non-identity links are not population averages.
#'
#' @section Standard errors:
#' `se = "delta"`: the delta method over all parameters of the fit (for a
#' glmm the fixed effects and the variance components, from
#' `vcov(fit, full = TRUE)`; for a gee the coefficients, from `vcov(fit)`).
#' When the average is over the data of the fit (`newdata` not given), the
#' data are a sample of clusters too, and the variance adds the
#' between-cluster variance of the averaged predictions (as stdReg's
#' sandwich does); with `newdata` the population is taken as fixed.
#' Intervals for ratios are computed on the log scale; their `std.error` is
#' on the ratio scale (delta method).
#'
#' With several grouping factors, the clusters are the levels of `cluster`
#' (by default the outermost factor of a nested design); a resampled
#' cluster brings all its rows, and the levels of the factors nested in it
#' become new levels for each copy, while the levels of crossed factors are
#' kept. Known-covariance terms cannot be resampled (their levels are tied
#' together through K): the bootstrap refuses them.
#'
#' `se = "bootstrap"`: a cluster bootstrap, run by [boot::boot()]. Whole
#' clusters are resampled with replacement, the model is refitted on each
#' resample (starting from the estimates) and the standardized means
#' recomputed on the resampled rows (or on `newdata`). Standard errors are
#' the standard deviations of the replicates; intervals are
#' [boot::boot.ci()] intervals of type `boot_type`: percentile (`"perc"`,
#' the default), bias-corrected and accelerated (`"bca"`), normal (`"norm"`)
#' or basic; for ratios and odds ratios the `"norm"` and `"basic"` intervals
#' are computed on the log scale. Replicates whose refit fails or does not
#' converge are dropped (and counted); BCa intervals then cannot be
#' computed (they need every replicate), so use another type. The `boot`
#' object of the standardized means (one column per value) is kept as the
#' attribute `"boot"`, for [boot::boot.ci()] or [plot()]. `cores > 1` runs
#' the refits in parallel through boot: on forked workers (`parallel =
#' "multicore"`), or on Windows on socket workers (`"snow"`); a cluster from
#' [parallel::makeCluster()] can be given as `cl`. Resamples are drawn by
#' boot in the main process before any refit, so results depend on the seed,
#' not on `cores` or `cl`. The progress bar is shown for serial runs.
#'
#' @param fit A fit from [glmm()] or [gee()] (formula interface).
#' @param variable Name of one variable of the fixed-effects part of the
#'   model.
#' @param values Values to set. By default: the levels of a factor, `FALSE`
#'   and `TRUE` for a logical, 0 and 1 for a 0/1 variable, otherwise the
#'   10%, 25%, 50%, 75% and 90% quantiles. The first is the reference of
#'   the contrasts.
#' @param newdata Data frame to standardize over; by default the data of
#'   the fit.
#' @param re For a glmm: `"marginal"` (integrate over the random effects) or
#'   `"conditional"` (random effects zero). Ignored for a gee. For a
#'   cumulative link mixed model ([ordinal-glmm]) `standardize()` returns
#'   the category probabilities averaged over the data for each value,
#'   with delta-method intervals given the covariate values (`se = "delta"`
#'   only; the bootstrap's arguments are errors), model-based or with a
#'   cluster-robust `vcov`.
#' @param se `"delta"`, `"bootstrap"` or `"none"`.
#' @param level Confidence level.
#' @param B Number of bootstrap replicates. `B`, `cores`, `boot_type` and
#'   `cl` are for `se = "bootstrap"`; with another `se` they are errors.
#' @param cores Number of parallel workers for the bootstrap.
#' @param boot_type Type of bootstrap interval, as [boot::boot.ci()]:
#'   `"perc"`, `"bca"`, `"norm"` or `"basic"`.
#' @param cl A cluster from [parallel::makeCluster()] to run the bootstrap
#'   refits on (any platform); it overrides `cores`.
#' @param progress Show a progress bar during the bootstrap.
#' @param cluster For a glmm with several grouping factors: the name of the
#'   grouping factor whose levels are the independent clusters (resampled
#'   by the bootstrap, counted by the delta method's sampling term). By
#'   default the outermost factor of a nested design, e.g. `hospital` for
#'   `(1 | hospital/ward)`. Crossed designs have none: the bootstrap then
#'   needs `cluster`, and the delta method uses the first grouping factor.
#' @param vcov For a [glmm()] fit with `se = "delta"`: the covariance of
#'   the parameters the delta method uses, `"model"` (the default, the
#'   inverse observed information) or a cluster-robust type `"CR0"`,
#'   `"CR1"`, `"CR2"` or `"CR3"` (see [vcov()][glmm-extractors]; clustered by
#'   `cluster`, by default the grouping factor that nests all others).
#'   Intervals then use t quantiles with Satterthwaite degrees of freedom
#'   (combined with the between-cluster part's \eqn{K - 1} when the data
#'   are a sample).
#' @param x A `glmmgee_standardized` object.
#' @param digits Number of significant digits to print.
#' @param ... For a fit from [glmm_shards()] or [gee_shards()] without
#'   `newdata`: `workers =`, a cluster to read the shard files on when the
#'   fit's own has been stopped. The workers compute the sums the means,
#'   their Jacobian and the between-cluster term need; `values` must be
#'   given for a numeric or logical variable (its default quantiles need
#'   the rows) and `se = "bootstrap"` is refused. Otherwise ignored.
#' @return A data frame of class `glmmgee_standardized` with columns
#'   `quantity` (`"mean"`, `"difference"`, `"ratio"`, `"odds ratio"`),
#'   `value`, `estimate`, `std.error`, `conf.low` and `conf.high`;
#'   attributes `view`, `variable`, `se`, `level`, `cluster` (the
#'   grouping factor taken as the clusters) and, for the bootstrap,
#'   the `replicates` (one row per successful replicate, one column per
#'   value), the number that `failed`, the `boot` object and the
#'   `boot_type`.
#' @seealso [marginal_coefs()], [compare_views()].
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   pa <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID,
#'             family = binomial, corstr = "exchangeable")
#'   standardize(pa, "trt")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial)
#'   standardize(fit, "trt")                        # population-averaged
#'   standardize(fit, "trt", re = "conditional")    # a typical patient
#'   \donttest{
#'   sb <- standardize(pa, "trt", se = "bootstrap", B = 100, progress = FALSE)
#'   sb
#'   boot::boot.ci(attr(sb, "boot"), type = "bca", index = 2)
#'   }
#' }
#' @export
standardize <- function(fit, variable, values = NULL, newdata = NULL,
                        re = c("marginal", "conditional"),
                        se = c("delta", "bootstrap", "none"), level = 0.95,
                        B = 200L, cores = 1L, progress = interactive(),
                        cluster = NULL, boot_type = c("perc", "bca", "norm", "basic"),
                        cl = NULL, vcov = NULL, ...) {
  check_dots(..., .method = "standardize",
             .allow = if (inherits(fit, c("glmmgee_glmm_sharded", "glmmgee_gee_sharded"))) "workers")
  require_capability(fit, "standardize", "standardize()")
  if (inherits(fit, "glmmgee_glmm_ordinal")) {
    # the delta method only: the bootstrap's arguments are errors, not ignored
    if (!identical(match.arg(se), "delta") || !missing(B) || !missing(cores) ||
        !missing(boot_type) || !missing(cl))
      stop("standardize() of a cumulative link mixed model gives delta-method intervals only ",
           "(se = \"delta\"); 'B', 'cores', 'boot_type' and 'cl' are for the bootstrap",
           call. = FALSE)
    robust <- ordinal_parameter_choice(fit, vcov, named_grouping(fit, cluster), "standardize()")
    return(ordinal_standardize(fit, variable, values, newdata, re, level, robust = robust))
  }
  check_fit(fit, "standardize() predicts from it")
  if (is.null(fit$terms))
    stop("'fit' must come from the formula interface (glmm() or gee()), not a matrix-level fitter",
         call. = FALSE)
  re <- match.arg(re)
  se <- match.arg(se)
  if (se != "bootstrap")
    refuse_unused(c(B = !missing(B), cores = !missing(cores), boot_type = !missing(boot_type),
                    cl = !missing(cl)),
                  sprintf("standardize(se = \"%s\")", se), "the bootstrap (se = \"bootstrap\")")
  boot_type <- match.arg(boot_type)
  check_level(level)
  clusters <- standardize_clusters(fit, cluster, se)
  vars <- model_variables(fit)
  if (missing(variable) || !is.character(variable) || length(variable) != 1L ||
      !(variable %in% vars))
    stop(sprintf("'variable' must name one variable of the model's fixed effects (%s)%s",
                 paste(vars, collapse = ", "),
                 if (!missing(variable) && is.character(variable))
                   sprintf("; \"%s\" is not one", variable[1L]) else ""), call. = FALSE)
  sampled <- is.null(newdata)
  robust <- NULL
  if (!is.null(vcov) && !identical(vcov, "model")) {
    if (!is_glmm(fit))
      stop("standardize(): 'vcov' is for glmm() fits; a gee fit's standard errors are chosen ",
           "by its std.err", call. = FALSE)
    if (se != "delta")
      stop(sprintf("standardize(): 'vcov' chooses the covariance of the delta method; it needs se = \"delta\", not \"%s\"",
                   se), call. = FALSE)
    if (inherits(fit, "glmmgee_glmm_sharded"))
      fit <- sharded_use_workers(fit, list(...)$workers, "standardize")
    robust <- parameter_vcov_choice(fit, vcov, if (!is.null(cluster)) clusters$id, "standardize()")
  }
  if (sampled && inherits(fit, c("glmmgee_glmm_sharded", "glmmgee_gee_sharded")))
    return(standardize_sharded(fit, variable, values, re, se, level, list(...)$workers, robust))
  if (!sampled && !is.data.frame(newdata))
    stop("'newdata' must be a data frame", call. = FALSE)
  data <- if (sampled) fit_data(fit) else newdata
  if (!(variable %in% names(data)))
    stop(sprintf("'newdata' has no column '%s'", variable), call. = FALSE)
  values <- standardize_values(fit, data[[variable]], variable, values)
  view <- if (is_gee(fit)) "marginal" else if (re == "marginal") "marginal" else "typical"
  designs <- lapply(values$set, function(v) {
    d <- data
    d[[variable]] <- rep(v, length.out = nrow(d))
    design_at(fit, d)
  })
  ev <- standardize_evaluator(fit, designs, if (is_gee(fit)) "none" else re,
                              star = if (is.null(robust) && is_glmm(fit)) cov_star_of(fit))
  par <- if (se == "delta") robust %||% fit_parameters(fit) else
    list(theta = if (is_glmm(fit)) fit$theta else fit$coefficients)
  est <- ev(unname(par$theta), seq_len(nrow(data)), jacobian = se == "delta")
  m <- est$mean
  fam <- fit$family
  binary <- fam$family == "binomial"
  out <- if (se == "delta") {
    S <- delta_cov(est$jacobian, par$vcov, par$star)
    Sb <- if (sampled) between_cluster_cov(est$rows, clusters$id)
    df <- if (!is.null(robust))
      standardize_df(robust, est$jacobian, S, Sb, length(unique(clusters$id)))
    if (sampled) S <- S + Sb
    contrast_table(m, S, values$label, binary, level, df)
  } else if (se == "bootstrap") {
    check_bootstrap_args(fit, B, cores, clusters$id, cl = cl)
    bt <- bootstrap_means(fit, ev, m, sampled, nrow(data), B, cores, cl, progress,
                          clusters$term)
    structure(bootstrap_table(bt$boot, values$label, binary, level, boot_type),
              replicates = bt$reps, failed = bt$failed, boot = bt$boot)
  } else {
    contrast_table(m, NULL, values$label, binary, level)
  }
  attrs <- attributes(out)[c("replicates", "failed", "boot")]
  trouble <- c(standardize_trouble(fit, m, values$label, binary),
               standardize_binlog_over(fam, est$rows, values$label))
  for (w in trouble) warning(w, call. = FALSE)
  out <- structure(out, class = c("glmmgee_standardized", "data.frame"), view = view,
                   variable = variable, se = se, level = level, family = fam,
                   cluster = clusters$name, warnings = trouble,
                   vcov_label = if (!is.null(robust))
                     satterthwaite_label(robust$label, "intervals"))
  if (se == "bootstrap") {
    attr(out, "replicates") <- attrs$replicates
    attr(out, "failed") <- attrs$failed
    attr(out, "boot") <- attrs$boot
    attr(out, "boot_type") <- boot_type
  }
  out
}

# The values to set and their labels; a factor value keeps the factor's
# levels so that the model matrix is coded as in the fit.
standardize_values <- function(fit, x, variable, values) {
  lev <- fit$xlevels[[variable]]
  if (is.null(lev) && (is.factor(x) || is.character(x))) lev <- levels(factor(x))
  if (!is.null(lev)) {
    if (is.null(values)) values <- lev
    values <- as.character(values)
    bad <- setdiff(values, lev)
    if (length(bad))
      stop(sprintf("'values': %s not among the levels of '%s' (%s)",
                   paste(dQuote(bad, FALSE), collapse = ", "), variable,
                   paste(lev, collapse = ", ")), call. = FALSE)
    set <- lapply(values, function(v) factor(v, levels = lev))
    return(list(set = set, label = values))
  }
  if (is.logical(x)) {
    if (is.null(values)) values <- c(FALSE, TRUE)
    if (!is.logical(values) || anyNA(values))
      stop(sprintf("'values' for the logical variable '%s' must be TRUE/FALSE", variable),
           call. = FALSE)
  } else {
    if (!is.numeric(x))
      stop(sprintf("'variable' '%s' is neither a factor, logical nor numeric", variable),
           call. = FALSE)
    if (is.null(values)) {
      u <- unique(x[!is.na(x)])
      values <- if (all(u %in% c(0, 1))) c(0, 1)
                else unique(unname(stats::quantile(x, c(0.1, 0.25, 0.5, 0.75, 0.9), na.rm = TRUE)))
    }
    if (!is.numeric(values) || anyNA(values) || any(!is.finite(values)))
      stop(sprintf("'values' for the numeric variable '%s' must be finite numbers", variable),
           call. = FALSE)
  }
  if (!length(values)) stop("'values' is empty", call. = FALSE)
  list(set = as.list(values), label = format(values, digits = 4L, trim = TRUE))
}

# A function of (theta, rows) giving the standardized means over those
# rows of every design, their Jacobian in theta and the per-row predictions
# (for the between-cluster term).
standardize_evaluator <- function(fit, designs, re_mode,
                                  star = if (is_glmm(fit)) cov_star_of(fit)) {
  fam <- fit$family
  re <- if (is_glmm(fit)) re_structure(fit, "standardize")
  function(theta, rows, jacobian = FALSE) {
    per <- lapply(designs, function(d) {
      X <- d$X[rows, , drop = FALSE]
      off <- d$offset[rows]
      if (is.null(re)) {
        eta <- drop(X %*% theta) + off
        list(mean = fam$linkinv(eta), jacobian = if (jacobian) X * fam$mu.eta(eta))
      } else {
        glmm_means(re, fam, theta, X, d$Z[rows, , drop = FALSE], off, re_mode, jacobian,
                   aux = lapply(d$aux, function(A) A[rows, , drop = FALSE]), star = star)
      }
    })
    mu <- vapply(per, function(r) r$mean, numeric(length(rows)))
    if (!is.matrix(mu)) mu <- matrix(mu, nrow = length(rows))
    out <- list(mean = colMeans(mu), rows = mu)
    if (jacobian)
      out$jacobian <- same_basis(do.call(rbind, lapply(per, function(r) colMeans(r$jacobian))),
                                 per[[1L]]$jacobian)
    out
  }
}

# Covariance of the averages that comes from sampling clusters: with cluster
# sums S_c of the row predictions and sizes n_c, the empirical covariance of
# (S_c - n_c m) / N over the K clusters, times K / (K - 1).
between_cluster_cov <- function(rows, cluster) {
  N <- nrow(rows)
  m <- colMeans(rows)
  S <- rowsum(rows, cluster, reorder = FALSE)
  nc <- as.vector(rowsum(rep(1, N), cluster, reorder = FALSE))
  R <- (S - outer(nc, m)) / N
  K <- nrow(S)
  crossprod(R) * K / (K - 1)
}

# The clusters of a standardization (see cluster_of()): their ids per row,
# the term of a several-term fit that defines them, and its name. For a
# crossed design without `cluster` the delta method counts the levels of
# the first term's grouping factor as clusters, and the bootstrap is
# refused (which factor to resample is the user's choice).
standardize_clusters <- function(fit, cluster, se) {
  if (!inherits(fit, "glmmgee_glmm_sparse")) {
    if (!is.null(cluster) && !(is_glmm(fit) && identical(cluster, fit$group_name)))
      stop("'cluster' is for glmm fits with several grouping factors; this fit has one set of clusters",
           call. = FALSE)
    return(list(id = cluster_of(fit), term = NULL,
                name = if (is_glmm(fit)) fit$group_name else "id"))
  }
  k <- cluster_term(fit, cluster)
  tms <- grouping_terms(fit)
  g <- vapply(tms, `[[`, "", "group")
  if (is.na(k)) {
    if (se == "bootstrap")
      stop(sprintf(paste0("the grouping factors %s are crossed, so there is no one set of independent clusters to resample; ",
                          "name the factor whose levels the bootstrap should resample with 'cluster =' ",
                          "(the other factors' levels are then kept fixed)"),
                   paste(sQuote(unique(g), FALSE), collapse = ", ")), call. = FALSE)
    k <- 1L
  }
  list(id = tms[[k]]$index, term = k, name = g[k])
}

# standardize()'s `cluster`, the name of one of the fit's grouping
# factors, as the clusters resolve_vcov_cluster() takes (a factor over the
# rows; NULL stays NULL).
named_grouping <- function(fit, cluster) {
  if (is.null(cluster)) return(NULL)
  gs <- vcov_re_groupings(fit)
  names <- vapply(gs, `[[`, "", "name")
  k <- if (is.character(cluster) && length(cluster) == 1L) match(cluster, names) else NA
  if (is.na(k))
    stop(sprintf("'cluster' must name one of the fit's grouping factors (%s)",
                 paste(sQuote(unique(names), FALSE), collapse = ", ")), call. = FALSE)
  structure(gs[[k]]$index, levels = as.character(gs[[k]]$levels), class = "factor")
}

# For a cluster-robust `vcov`: a function giving the degrees of freedom of
# the variance a' S a of a quantity with gradient `a` in the means: the
# Satterthwaite degrees of freedom of its delta-method part (J theta, J the
# means' Jacobian `jac`), combined by Welch-Satterthwaite with those of the
# between-cluster part `Sb` (K - 1, K clusters) when the data are a sample.
standardize_df <- function(robust, jac, Sd, Sb, K) {
  function(a) {
    dd <- robust$df(crossprod(a, jac))
    if (is.null(Sb)) return(dd)
    vd <- max(drop(crossprod(a, Sd %*% a)), 0)
    vb <- max(drop(crossprod(a, Sb %*% a)), 0)
    (vd + vb)^2 / (vd^2 / dd + vb^2 / (K - 1))
  }
}

bootstrap_means <- function(fit, ev, m, sampled, nrows, B, cores, cl, progress, term = NULL) {
  if (inherits(fit, "glmmgee_gee")) stop_if_pattern_fit(fit, "standardize(se = \"bootstrap\")")
  by_cl <- if (is.null(term)) cluster_rows(fit)
           else split(seq_along(fit$reterms[[term]]$index), fit$reterms[[term]]$index)
  K <- length(by_cl)
  stat <- function(draw) {
    th <- refit_clusters(fit, by_cl, draw, term)
    if (is.null(th)) return(rep(NA_real_, length(m)))
    rows <- if (sampled) unlist(by_cl[draw], use.names = FALSE) else seq_len(nrows)
    ev(th, rows)$mean
  }
  bt <- run_boot(K, B, stat, m, as.integer(cores), cl, isTRUE(progress))
  ok <- stats::complete.cases(bt$t)
  if (sum(ok) < 10L)
    stop(sprintf("only %d of %d bootstrap refits succeeded", sum(ok), B), call. = FALSE)
  if (any(!ok))
    warning(sprintf("%d of %d bootstrap refits failed or did not converge and were dropped",
                    sum(!ok), B), call. = FALSE)
  list(boot = bt, reps = bt$t[ok, , drop = FALSE], failed = sum(!ok))
}

# Why a standardization may not mean what it prints: a separated fit (its
# coefficients drift to +/-Inf, so predicted risks of exactly 0 or 1 and
# intervals of zero width, e.g. a risk difference of 1 with CI [1, 1]; a
# penalized one's are finite but set by the prior), or
# binary means at 0 or 1 for another reason. Returned as warning texts.
standardize_trouble <- function(fit, m, labels, binary) {
  out <- character()
  sep <- fit$separation
  pen <- !is.null(.subset2(fit, "penalty"))
  if (isTRUE(sep$separated) && pen)
    out <- c(out, sprintf(paste0("the data are separated (%s), but the fit is penalized (penalized = TRUE): ",
                                 "its coefficients are finite but set largely by the prior (posterior ",
                                 "mode), not by the data, so the standardized means and their ",
                                 "intervals reflect the prior"),
                          paste(sQuote(sep$terms, FALSE), collapse = ", ")))
  else if (isTRUE(sep$separated))
    out <- c(out, sprintf(paste0("the fit is separated (%s): its coefficients have no finite estimate, ",
                                 "so the standardized means, their contrasts and intervals are not ",
                                 "meaningful (risks of 0 or 1 with intervals of zero width)"),
                          paste(sQuote(sep$terms, FALSE), collapse = ", ")))
  # (A log-binomial mean above 1 is not a probability: standardize_binlog_over().)
  edge <- binary & (m < 1e-6 | (m > 1 - 1e-6 & m <= 1))
  if (any(edge) && (pen || !isTRUE(sep$separated)))
    out <- c(out, sprintf(paste0("standardized risk(s) at %s are within 1e-6 of 0 or 1: the delta-method ",
                                 "intervals of these means and their contrasts collapse and are not ",
                                 "meaningful"), paste(labels[edge], collapse = ", ")))
  out
}

# A log-binomial fit's predicted risks above 1 among the standardized rows
# (a row set to a value of the variable that its data did not have, or
# integrated over a random effect that pushes exp(eta) past 1): their
# average is not a standardized risk. Returned as warning texts.
standardize_binlog_over <- function(family, rows, labels) {
  if (!is_binomial_log(family) || is.null(rows)) return(character())
  out <- character()
  for (k in seq_len(ncol(rows))) {
    msg <- binlog_over_message(rows[, k], NULL,
                               sprintf("predicted risks averaged for %s", labels[k]))
    if (!is.null(msg)) out <- c(out, msg)
  }
  out
}
