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

# `fit` with `workers` (if given, checked) as the cluster its shards are
# read on, for the methods that read them more than once.
sharded_use_workers <- function(fit, workers, caller) {
  if (!is.null(workers)) fit$shard_source$workers <- sharded_workers(fit, workers, caller)
  fit
}

# Reads the fit's shards onto `cl` (model frames coded as in the fit, not
# centred) and returns an engine whose rounds reach them; the caller frees it.
sharded_reload <- function(fit, cl) {
  src <- .subset2(fit, "shard_source")
  if (is.null(src))
    stop("this distributed fit was made by an older version that did not record its shard files; refit it",
         call. = FALSE)
  files <- src$files
  design <- if (identical(src$kind, "gee")) on_worker_gee_design else on_worker_design
  eng <- shard_engine(cl, length(files))
  eng$reload <- function(ids, w) {
    parallel::clusterCall(eng$cl[w], on_worker_read, eng$key,
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
# (p + 1 + parameters)^2 numbers come back per shard. `robust`: a
# cluster-robust choice of parameter_vcov_choice(), or NULL.
marginal_coefs_sharded <- function(fit, std_errors, workers, call, robust = NULL) {
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
  V <- df <- NULL
  if (std_errors) {
    par <- robust %||% fit_parameters(fit)
    Jg <- sol[, -1L, drop = FALSE]
    V <- delta_cov(Jg, par$vcov, par$star)
    dimnames(V) <- list(names(gamma), names(gamma))
    if (!is.null(robust)) df <- stats::setNames(robust$df(Jg), names(gamma))
  }
  structure(list(coefficients = gamma, vcov = V, df = df, conditional = .subset2(fit, "coefficients"),
                 conditional_vcov = .subset2(fit, "vcov"), family = fam,
                 se_method = if (std_errors) paste0(
                   "delta method over all parameters (fixed effects and variance components)",
                   if (!is.null(robust))
                     paste0(" with the ", satterthwaite_label(robust$label, "intervals"))),
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
#'   `residuals()`: `"deviance"`, `"pearson"`, `"response"` or `"working"`;
#'   for `vcov()`: `"model"` or a cluster-robust type, as in
#'   [vcov.glmmgee_glmm()].
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

# The clusters of vcov(type = "CR*") of a distributed fit: the clusters of
# its grouping factor that have data, one entry each (the rows' codes stay
# on the workers, so no coarser cluster can be formed here).
sharded_vcov_cluster <- function(fit, cluster) {
  gname <- .subset2(fit, "group_name")
  own <- is.null(cluster) ||
    (inherits(cluster, "formula") && length(cluster) == 2L && identical(cluster[[2L]], as.name(gname)))
  if (!own)
    stop(sprintf(paste0("'cluster': a distributed fit (glmm_shards()) is clustered by its grouping factor '%s', ",
                        "whose clusters lie whole within one shard; its rows stay on the workers, so no other ",
                        "cluster can be formed. Leave 'cluster' NULL (or give ~ %s)"), gname, gname),
         call. = FALSE)
  active <- .subset2(fit, "group")
  if (length(active) < 2L)
    stop(sprintf("the grouping '%s' has fewer than 2 clusters with data; cluster-robust covariances need at least 2",
                 gname), call. = FALSE)
  structure(list(code = seq_along(active), levels = as.character(.subset2(fit, "group_levels")[active]),
                 name = gname), class = "glmmgee_vcov_cluster")
}

# The engine of cluster-robust covariances of a distributed fit
# (cluster_score_parts()): the one-factor engine built again on each shard,
# in the user's coding, at the fit's nAGQ; `scores(theta)` gathers its
# clusters' scores into the fit's cluster order (a cluster never straddles
# shards), one round per evaluation, and `free()` releases the shards.
sharded_robust_engine <- function(fit) {
  cl <- sharded_workers(fit, NULL, "vcov")
  eng <- sharded_reload(fit, cl)
  done <- FALSE
  on.exit(if (!done) shard_free(eng), add = TRUE)
  pat <- .subset2(fit, "pattern")
  fam <- .subset2(fit, "family")
  p <- length(.subset2(fit, "coefficients"))
  q <- ncol(.subset2(fit, "Lambda"))
  spec <- list(lam_row = pat$row - 1L, lam_col = pat$col - 1L, family_code = fam$family_code,
               link_code = fam$link_code, nAGQ = as.integer(.subset2(fit, "nAGQ")), nthreads = 1L)
  # On the fit's standardized basis of the random effects, as an in-memory
  # fit's robust engine (fit_basis_engine()): the quadrature's value and
  # the clusters' informations depend on it (fits saved before it was kept
  # run on the user's Z).
  Tzi <- .subset2(.subset2(fit, "shard_source"), "Tzi")
  Tz <- if (!is.null(Tzi)) backsolve(Tzi, diag(1, q))
  zb <- if (!is.null(Tz) && q > 1L)
    basis_blocks(pat, .subset2(fit, "cov_blocks") %||% q, Tz, p + seq_along(pat$row))
  if (is.null(zb)) Tzi <- diag(q)
  engines <- function(w) parallel::clusterCall(eng$cl[w], on_worker_engines, eng$key, diag(p), Tzi, spec)
  read <- eng$reload
  eng$reload <- function(ids, w) {
    read(ids, w)
    engines(w)
  }
  shard_pass(eng, seq_len(eng$S), function(ids, w) {
    engines(w)
    list()
  })
  M <- length(.subset2(fit, "group_levels"))
  scores <- function(th) {
    S <- matrix(0, M, length(th))
    for (r in shard_round(eng, "post_scores", list(theta = th))) S[r$clusters, ] <- r$scores
    S
  }
  done <- TRUE
  out <- list(scores = scores, Tx = NULL, free = function() shard_free(eng))
  if (!is.null(zb)) {
    bm <- basis_map(zb)
    out$par <- list(theta = as.numeric(.subset2(fit, "theta")), V = .subset2(fit, "cov_theta"),
                    to_engine = bm$to_engine, engine_jac = bm$jac)
  }
  out
}

# lmm_cluster_sums() of a gaussian distributed fit: the GLS pieces of each
# cluster are formed on the workers, which return in one round X' V^-1 X
# and X' V^-1 e (for M and the check that they reproduce the fit), and in a
# second each cluster's u_i and, with `df`, its Y_i and W_i
# (lmm_block_sums()).
lmm_sharded_sums <- function(fit, type, df) {
  cl <- sharded_workers(fit, NULL, "vcov")
  eng <- sharded_reload(fit, cl)
  on.exit(shard_free(eng), add = TRUE)
  beta <- .subset2(fit, "coefficients")
  s2 <- .subset2(fit, "sigma")^2
  if (!is.finite(s2) || s2 <= 0) s2 <- 1
  args <- list(beta = unname(beta), D = tcrossprod(.subset2(fit, "Lambda")) / s2)
  g <- shard_round(eng, "post_lmm", args)
  M <- lmm_gls_check(sum_shards(g, "xvx"), sum_shards(g, "xve"), beta, .subset2(fit, "vcov"))
  lev <- as.character(.subset2(fit, "group_levels"))
  res <- shard_round(eng, "post_lmm", c(args, list(M = M, type = type, levels = lev, df = df)))
  active <- .subset2(fit, "group")
  pos <- lapply(res, function(r) match(r$clusters, active))
  p <- length(beta)
  G <- length(active)
  u <- matrix(0, p, G)
  Y <- W <- if (df) array(0, c(p, p, G))
  for (k in seq_along(res)) {
    u[, pos[[k]]] <- res[[k]]$u
    if (df) {
      Y[, , pos[[k]]] <- res[[k]]$Y
      W[, , pos[[k]]] <- res[[k]]$W
    }
  }
  list(u = u, Y = Y, W = W, M = M, scale = s2, names = names(beta), levels = lev[active])
}

# The worker side of lmm_sharded_sums(): the shard's cluster blocks (rows of
# positive weight) at the fit's beta and D = Lambda Lambda' / sigma^2;
# without args$M their GLS sums, with it their lmm_block_sums() (those of
# the degrees of freedom with args$df) and the clusters' positions in the
# fit's order.
on_worker_lmm <- function(sh, args) {
  pos <- sh$w > 0
  rows <- split(which(pos), factor(sh$index[pos], levels = seq_len(sh$M)))
  keep <- lengths(rows) > 0L
  e <- sh$y - sh$off - drop(sh$X %*% args$beta)
  blocks <- lapply(rows[keep], function(r) {
    Zr <- sh$Z[r, , drop = FALSE]
    lmm_block(sh$X[r, , drop = FALSE], e[r], diag(1 / sh$w[r], length(r)) + Zr %*% args$D %*% t(Zr))
  })
  if (is.null(args$M)) return(lmm_gls_sums(blocks))
  clusters <- sh$clusters[keep]
  c(lmm_block_sums(blocks, args$M, args$type, args$levels[clusters], args$df),
    list(clusters = clusters))
}

# The worker side: one shard's share of a post-estimation operation.
on_worker_post_op <- function(sh, op, args) {
  switch(op,
    post_scores = list(scores = cpp_agq_scores(sh$engine, args$theta), clusters = sh$clusters),
    post_lmm = on_worker_lmm(sh, args),
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
    post_rows = on_worker_rows(sh, args),
    post_standardize = on_worker_standardize(sh, args),
    stop("unknown shard operation ", op, call. = FALSE))
}

# Writes a shard's per-row results (model-frame rows, numbered as in the
# shard file) in the shard's format; returns the number of rows written.
on_worker_rows <- function(sh, args) {
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
