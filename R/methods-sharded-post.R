# Post-estimation of glmm_shards() fits that needs the rows: the workers
# read the shard files again (the fit's shards are freed when it ends) and
# return sums, or write per-row results beside the shard files; the rows
# never come to this process.

# The cluster to read the shards on: `workers` if given, else the one the
# fit was made on, which must still be running.
sharded_workers <- function(fit, workers, caller) {
  if (!is.null(workers)) return(check_workers_arg(workers, caller))
  cl <- .subset2(fit, "shard_source")$workers
  ok <- !is.null(cl) && isTRUE(tryCatch(all(unlist(parallel::clusterCall(cl, function() TRUE))),
                                        error = function(e) FALSE))
  if (!ok)
    stop(sprintf(paste0("%s() on a fit from glmm_shards() or gee_shards() reads the shard files again on the workers, ",
                        "but the cluster the fit was made on has been stopped; give a running one, e.g. ",
                        "%s(fit, workers = parallel::makeCluster(2)) (its workers must see the shard files)"),
                 caller, caller), call. = FALSE)
  cl
}

# Reads the fit's shards onto `cl` (model frames coded as in the fit, not
# centred) and returns an engine whose rounds reach them; the caller frees it.
sharded_reload <- function(fit, cl) {
  src <- .subset2(fit, "shard_source")
  if (is.null(src))
    stop("this distributed fit was made by an older version that did not record its shard files; refit it",
         call. = FALSE)
  files <- src$files
  design <- if (identical(src$kind, "gee")) dist_w_gee_design else dist_w_design
  eng <- shard_engine(cl, length(files))
  eng$reload <- function(ids, w) {
    parallel::clusterCall(eng$cl[w], dist_w_read, eng$key,
                          stats::setNames(as.list(files[ids]), ids), src$read_spec)
    parallel::clusterCall(eng$cl[w], design, eng$key, src$dspec)
  }
  shard_load(eng, seq_along(files))
  eng
}

# The random-effect structure of re_structure() without the rows' Z (the
# workers have their own).
sharded_re <- function(fit) {
  pat <- .subset2(fit, "pattern")
  p <- length(.subset2(fit, "coefficients"))
  Lam <- .subset2(fit, "Lambda")
  list(q = ncol(Lam), cnames = .subset2(fit, "cnames"), Lambda = Lam, pattern = pat, p = p,
       lambda_index = p + seq_along(pat$row), ntheta = length(.subset2(fit, "theta")),
       sparse = FALSE, dist = NULL, aux = NULL)
}

# marginal_coefs() of a sharded fit. The least-squares fit of g(mean) -
# offset (and of the Jacobian's columns) on X is found from the shards' R
# factors of [X, g(mean) - offset, J]: stacking them and factoring again
# gives the R factor of the combined matrix (tall-skinny QR), so only
# (p + 1 + parameters)^2 numbers come back per shard.
marginal_coefs_sharded <- function(fit, std_errors, workers, call) {
  cl <- sharded_workers(fit, workers, "marginal_coefs")
  eng <- sharded_reload(fit, cl)
  on.exit(shard_free(eng), add = TRUE)
  fam <- .subset2(fit, "family")
  res <- shard_round(eng, "post_marginal",
                     list(re = sharded_re(fit), family = fam, theta = .subset2(fit, "theta"),
                          jacobian = std_errors))
  if (any(vapply(res, `[[`, TRUE, "degenerate")))
    stop("marginal means of 0 or 1: the marginal coefficients are infinite", call. = FALSE)
  R <- do.call(rbind, lapply(res, `[[`, "R"))
  p <- length(.subset2(fit, "coefficients"))
  sol <- qr.coef(qr(R[, seq_len(p), drop = FALSE]), R[, -seq_len(p), drop = FALSE])
  gamma <- sol[, 1L]
  names(gamma) <- names(.subset2(fit, "coefficients"))
  V <- NULL
  if (std_errors) {
    par <- fit_parameters(fit)
    Jg <- sol[, -1L, drop = FALSE]
    V <- delta_cov(Jg, par$vcov, par$star)
    dimnames(V) <- list(names(gamma), names(gamma))
  }
  structure(list(coefficients = gamma, vcov = V, conditional = .subset2(fit, "coefficients"),
                 conditional_vcov = .subset2(fit, "vcov"), family = fam,
                 se_method = if (std_errors) "delta method over all parameters (fixed effects and variance components)",
                 ranef_dist = "normal", call = call),
            class = "glmmgee_marginal_coefs")
}

# Per-row results of a sharded fit, one new file per shard beside it.
sharded_rows_out <- function(fit, what, args, suffix, workers, caller) {
  if (!is.character(suffix) || length(suffix) != 1L || is.na(suffix) || !nzchar(suffix) ||
      grepl("[/\\\\]", suffix))
    stop("'suffix' must be one non-empty string without path separators", call. = FALSE)
  cl <- sharded_workers(fit, workers, caller)
  eng <- sharded_reload(fit, cl)
  on.exit(shard_free(eng), add = TRUE)
  src <- .subset2(fit, "shard_source")
  out <- sub("(\\.[^./\\\\]+)$", paste0("_", suffix, "\\1"), src$files)
  res <- shard_round(eng, "post_rows",
                     c(args, list(what = what, family = .subset2(fit, "family"),
                                  beta = .subset2(fit, "coefficients"),
                                  B = if (is_glmm(fit)) .subset2(fit, "ranef")$mode, format = src$format,
                                  out = stats::setNames(as.list(out), seq_along(out)))))
  structure(out, rows = vapply(res, function(r) as.integer(r), 1L))
}

#' @rdname glmm_shards
#' @param object A fit from `glmm_shards()`.
#' @param suffix What is added to each shard file's name (before its
#'   extension) to name the file of its per-row results, e.g.
#'   `part01.rds` gives `part01_fitted.rds`.
#' @param type For `predict()`: `"link"` or `"response"`; for
#'   `residuals()`: `"deviance"`, `"pearson"`, `"response"` or `"working"`.
#' @param re.form,newdata As in [predict.glmmgee_glmm()]; with `newdata`
#'   the prediction is returned as for any glmm fit.
#' @param ... Not used: an argument given here is an error.
#' @export
fitted.glmmgee_glmm_sharded <- function(object, suffix = "fitted", workers = NULL, ...) {
  check_dots(..., .method = "fitted.glmmgee_glmm_sharded")
  sharded_rows_out(object, "fitted", list(cols = TRUE, type = "response"), suffix, workers, "fitted")
}

#' @rdname glmm_shards
#' @export
residuals.glmmgee_glmm_sharded <- function(object, type = c("deviance", "pearson", "response", "working"),
                                           suffix = NULL, workers = NULL, ...) {
  check_dots(..., .method = "residuals.glmmgee_glmm_sharded")
  type <- match.arg(type)
  sharded_rows_out(object, "residuals", list(cols = TRUE, type = type),
                   suffix %||% paste0("residuals_", type), workers, "residuals")
}

#' @rdname glmm_shards
#' @export
predict.glmmgee_glmm_sharded <- function(object, newdata = NULL, type = c("link", "response"),
                                         re.form = NULL, ..., suffix = NULL, workers = NULL) {
  if (!is.null(newdata)) return(NextMethod())
  type <- match.arg(type)
  check_dots(..., .method = "predict.glmmgee_glmm_sharded")
  cols <- unlist(bar_columns(object)[selected_bars(object, re.form)], use.names = FALSE)
  sharded_rows_out(object, "predict", list(cols = cols, type = type),
                   suffix %||% paste0("predict_", type), workers, "predict")
}

# The worker side: one shard's share of a post-estimation operation.
dist_w_post_op <- function(sh, op, args) {
  switch(op,
    post_marginal = {
      fam <- args$family
      r <- glmm_means(args$re, fam, args$theta, sh$X, sh$Z, sh$off, "marginal",
                      jacobian = args$jacobian)
      mu <- r$mean
      degenerate <- fam$family == "binomial" && any(mu <= 0 | mu >= 1)
      A <- cbind(sh$X, fam$linkfun(mu) - sh$off)
      if (args$jacobian) A <- cbind(A, r$jacobian / fam$mu.eta(fam$linkfun(mu)))
      qa <- qr(A)
      list(degenerate = degenerate, R = qr.R(qa)[, order(qa$pivot), drop = FALSE])
    },
    post_rows = dist_w_rows(sh, args),
    post_standardize = dist_w_standardize(sh, args),
    stop("unknown shard operation ", op, call. = FALSE))
}

# Writes a shard's per-row results (model-frame rows, numbered as in the
# shard file) in the shard's format; returns the number of rows written.
dist_w_rows <- function(sh, args) {
  fam <- args$family
  # glmm shards hold w and off, gee shards weights and offset.
  w <- sh$w %||% sh$weights
  eta <- drop(sh$X %*% args$beta) + (sh$off %||% sh$offset)
  cols <- if (isTRUE(args$cols)) seq_len(ncol(sh$Z)) else args$cols
  if (length(cols))
    eta <- eta + rowSums(sh$Z[, cols, drop = FALSE] *
                           args$B[sh$clusters[sh$index], cols, drop = FALSE])
  mu <- fam$linkinv(eta)
  value <- switch(args$what,
    predict = if (args$type == "response") mu else eta,
    fitted = mu,
    residuals = switch(args$type,
      response = sh$y - mu,
      pearson = (sh$y - mu) * sqrt(w) / sqrt(fam$variance(mu)),
      deviance = sign(sh$y - mu) * sqrt(pmax(fam$dev.resids(sh$y, mu, w), 0)),
      working = (sh$y - mu) / fam$mu.eta(eta)))
  df <- data.frame(row = as.integer(sh$rows), value = unname(as.numeric(value)))
  names(df)[2L] <- args$what
  path <- args$out[[sh$sid]]
  switch(args$format,
    rds = saveRDS(df, path),
    csv = utils::write.csv(df, path, row.names = FALSE),
    parquet = if (requireNamespace("nanoparquet", quietly = TRUE)) nanoparquet::write_parquet(df, path)
              else arrow::write_parquet(df, path))
  nrow(df)
}

#' @rdname gee_shards
#' @param object A fit from `gee_shards()`.
#' @param suffix What is added to each shard file's name (before its
#'   extension) to name the file of its per-row results.
#' @param type For `predict()`: `"link"` or `"response"`; for
#'   `residuals()`: `"pearson"`, `"response"` or `"working"`.
#' @param newdata As in [predict.glmmgee_gee()]; with it the prediction is
#'   returned as for any gee fit.
#' @param ... Not used: an argument given here is an error.
#' @export
fitted.glmmgee_gee_sharded <- function(object, suffix = "fitted", workers = NULL, ...) {
  check_dots(..., .method = "fitted.glmmgee_gee_sharded")
  sharded_rows_out(object, "fitted", list(cols = integer(), type = "response"), suffix, workers, "fitted")
}

#' @rdname gee_shards
#' @export
residuals.glmmgee_gee_sharded <- function(object, type = c("pearson", "response", "working"),
                                          suffix = NULL, workers = NULL, ...) {
  check_dots(..., .method = "residuals.glmmgee_gee_sharded")
  type <- match.arg(type)
  sharded_rows_out(object, "residuals", list(cols = integer(), type = type),
                   suffix %||% paste0("residuals_", type), workers, "residuals")
}

#' @rdname gee_shards
#' @export
predict.glmmgee_gee_sharded <- function(object, newdata = NULL, type = c("link", "response"), ...,
                                        suffix = NULL, workers = NULL) {
  if (!is.null(newdata)) return(NextMethod())
  type <- match.arg(type)
  check_dots(..., .method = "predict.glmmgee_gee_sharded")
  sharded_rows_out(object, "predict", list(cols = integer(), type = type),
                   suffix %||% paste0("predict_", type), workers, "predict")
}
