# The worker side of distributed fitting (workers-engine.R is the main side).
#
# Each worker of a `parallel` cluster keeps its shards in `.dist_state`, one
# entry per fit (`key`), and answers rounds: one operation applied to each
# of its shards, returning one small result per shard (sums of size
# parameters^2 at most). Nothing here holds data of other shards, and no
# result has a length that grows with the number of rows (cluster-level
# summaries grow with the number of clusters in the shard and are only
# asked for once, after the fit).

.dist_state <- new.env(parent = emptyenv())

# The engine each kind of shard is given on its worker: "agq" (a list with
# X, Z, y, w, off, index = cluster codes within the shard, M, clusters = the
# clusters' positions in the fit's global cluster order), "nested"
# (workers-nested.R) and "gee" (the GEE engine's data list with global
# cluster codes, so the engine's messages name the clusters as gee() does;
# the engine maps the shard's memory, kept with it).
on_worker_shard_engines <- list(
  agq = function(sh, spec) {
    sh$engine <- cpp_agq_new(sh$X, sh$Z, sh$y, sh$w, sh$off, sh$index, sh$M,
                             spec$lam_row, spec$lam_col, spec$family_code, spec$link_code,
                             spec$nAGQ, spec$nthreads)
    sh
  },
  nested = function(sh, spec) {
    sh$engine <- cpp_nested_new(sh$X, sh$y, sh$w, sh$off, sh$units, spec$family_code,
                                spec$link_code, spec$nthreads)
    sh
  },
  gee = function(sh, spec) {
    sh$gee <- cpp_gee_shard_new(sh, spec)
    sh
  })

# Stores shards (a list named by shard id) of one `kind` (on_worker_shard_engines)
# and builds their engines.
on_worker_load <- function(key, shards, spec, kind) {
  st <- .dist_state[[key]] %||% list(shards = list())
  for (id in names(shards)) st$shards[[id]] <- on_worker_shard_engines[[kind]](shards[[id]], spec)
  .dist_state[[key]] <- st
  names(shards)
}

# Forgets a fit's shards (their engines are freed by the garbage collector).
on_worker_drop <- function(key) {
  if (exists(key, envir = .dist_state, inherits = FALSE)) rm(list = key, envir = .dist_state)
  gc(verbose = FALSE)
  TRUE
}

# One round: `op` on each shard this worker holds, results named by shard id.
on_worker_run <- function(key, op, args) {
  st <- .dist_state[[key]]
  # A worker with no shard (more workers than shards) answers with none; one
  # that lost its shards is caught by the main process (shards missing).
  if (is.null(st)) return(list())
  lapply(st$shards, function(sh) on_worker_op(sh, op, args))
}

on_worker_op <- function(sh, op, args) {
  switch(op,
    eval = cpp_agq_eval_dd(sh$engine, args$theta, args$gradient)[c("loglik_dd", "gradient_dd", "newton_failures")],
    nagq = { cpp_agq_set_nagq(sh$engine, args$nAGQ); TRUE },
    reset = { cpp_agq_reset(sh$engine); TRUE },
    check_nagq = { cpp_agq_check_nagq(sh$engine, args$nAGQ); TRUE },
    summaries = c(cpp_agq_summaries(sh$engine, args$theta), list(clusters = sh$clusters)),
    glm = cpp_agq_glm_sums(sh$engine, args$beta)[c("hi", "lo")],
    rss = {
      mu <- args$family$linkinv(cpp_lin_pred(sh$X, args$beta, sh$off))
      cpp_dd_sum(((sh$y - mu) * sqrt(sh$w))^2)
    },
    irls = on_worker_irls(sh, args),
    nb_pearson = {
      mu <- args$family$linkinv(drop(sh$X %*% args$beta) + sh$off)
      vapply(args$log_theta, function(lt)
        sum(sh$w * (sh$y - mu)^2 / (mu + mu^2 / exp(lt))), 1)
    },
    gamma_pearson = {
      mu <- args$family$linkinv(drop(sh$X %*% args$beta) + sh$off)
      sum(sh$w * (sh$y - mu)^2 / mu^2)
    },
    pure = on_worker_pure(sh),
    if (startsWith(op, "gee_")) on_worker_gee_op(sh, op, args)
    else if (startsWith(op, "post_")) on_worker_post_op(sh, op, args)
    else if (startsWith(op, "nested_")) on_worker_nested_op(sh, op, args)
    else stop("unknown shard operation ", op, call. = FALSE))
}

# A shard's share of one iteration of stats::glm.fit's IRLS (the start of
# families whose dispersion is not a gaussian scale): the weighted normal
# equations and the deviance at the current coefficients.
on_worker_irls <- function(sh, args) {
  fam <- args$family
  if (identical(args$op, "mean")) return(c(sum(sh$w * sh$y), sum(sh$w)))
  eta <- if (is.null(args$beta)) {
    y <- sh$y; weights <- sh$w; nobs <- length(y); mustart <- NULL
    eval(fam$initialize)
    # glm.fit(mustart =): the family's initialize runs, the value given stays.
    if (!is.null(args$mustart)) mustart <- rep(args$mustart, nobs)
    fam$linkfun(mustart)
  } else drop(sh$X %*% args$beta) + sh$off
  mu <- fam$linkinv(eta)
  dev <- sum(fam$dev.resids(sh$y, mu, sh$w))
  # glm.fit()'s check of the linear predictor and means (Gamma with the
  # identity link: every mean positive).
  valid <- (is.null(fam$valideta) || fam$valideta(eta)) && (is.null(fam$validmu) || fam$validmu(mu))
  if (!valid) return(list(valid = FALSE, dev = dev))
  me <- fam$mu.eta(eta)
  good <- sh$w > 0 & me != 0
  z <- (eta - sh$off)[good] + (sh$y - mu)[good] / me[good]
  wt <- sh$w[good] * me[good]^2 / fam$variance(mu)[good]
  Xg <- sh$X[good, , drop = FALSE]
  list(xtwx = crossprod(Xg, Xg * wt), xtwz = drop(crossprod(Xg, wt * z)), dev = dev, valid = TRUE)
}

# What pure_clusters_message() needs, per shard (clusters never straddle
# shards): whether every used cluster is all 0 or all 1, and whether some
# cluster has more than one trial.
on_worker_pure <- function(sh) {
  keep <- sh$w > 0
  g <- sh$index[keep]
  n <- tabulate(g, sh$M)
  ones <- tabulate(g[sh$y[keep] >= 1], sh$M)
  zeros <- tabulate(g[sh$y[keep] <= 0], sh$M)
  used <- n > 0
  trials <- rowsum(sh$w[keep], g, reorder = TRUE)
  c(all_pure = all(ones[used] == n[used] | zeros[used] == n[used]),
    multi = any(trials > 1), used = any(used))
}
