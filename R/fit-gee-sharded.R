# gee() on the workers of a `parallel` cluster (gee_control(workers = )):
# the clusters are split once into shards of whole clusters
# (shard_of_cluster(), fixed by the data and `shards`, never by the
# workers), each worker keeps an engine per shard (workers-gee.R), and
# every step of GeeEngine::fit() runs on sums over shards taken in shard
# order: the starting least-squares equations, the residual moments behind
# the scale and working correlation, the whitened cross-product that gives
# the scoring step, and the pieces of every variance estimator. So the fit
# is the same for any number of workers and equals the in-process fit to
# rounding. Only parameters go out and sums of size (p + 1)^2 (and the
# correlation moments) come back per round.

# Same result list as cpp_gee_fit(), for new_gee_object().
gee_run_workers <- function(data, spec, family, control, corstr, T) {
  if (identical(family$family, "nbinom2"))
    stop("gee_control(workers = ): nbinom2 alternates a theta moment step with the fit and is not distributed yet; fit it in one process",
         call. = FALSE)
  if (bitwAnd(spec$vflags, gee_se_types[["fij"]]))
    stop("std.err = \"fij\" refits the model without each cluster in turn (one distributed fit per cluster): it is not distributed; use \"j1s\" or \"jack\" (computed on the workers) or fit in one process",
         call. = FALSE)
  p <- ncol(data$X)
  sizes <- tabulate(data$id, data$M)
  sh <- shard_of_cluster(sizes, control$shards)
  S <- max(sh)
  rows <- split(seq_along(data$y), sh[data$id])
  spec$T_global <- as.integer(T)
  get <- function(ids) lapply(ids, function(s) {
    r <- rows[[s]]
    list(X = data$X[r, , drop = FALSE], y = data$y[r], weights = data$weights[r],
         offset = data$offset[r], id = data$id[r], M = data$M,
         wave = if (!is.null(data$wave)) data$wave[r],
         eta_start = if (!is.null(data$eta_start)) data$eta_start[r])
  })
  eng <- shard_engine(control$workers, S)
  on.exit(shard_free(eng), add = TRUE)
  eng$reload <- shard_reloader(eng, get, spec, "gee")
  shard_load(eng, seq_len(S))
  res <- gee_fit_shards(eng, spec, p, corstr, T, data$beta_start)
  res$clusters$sizes <- tabulate(data$id[data$weights > 0], data$M)
  res$clusters$sizes <- res$clusters$sizes[res$clusters$sizes > 0]
  res$dist <- shard_traffic(eng, S)
  list(res = res, spec = spec, family = family)
}

# Rounds, shards, workers and bytes of a distributed fit, for $distributed.
shard_traffic <- function(eng, S)
  list(shards = S, workers = eng$W, rounds = eng$rounds, bytes_sent = eng$bytes_out,
       bytes_received = eng$bytes_in, traffic = eng$traffic, moved = eng$moved)

# Number of correlation parameters and of moment entries, as the engine
# lays them out (GeeEngine::nalpha(), moment_size()).
gee_sizes <- function(corstr, T, Mv) {
  switch(corstr,
         exchangeable = c(na = 1, ms = 1), ar1 = c(na = 1, ms = T),
         mdep = c(na = Mv, ms = Mv + 1), unstructured = c(na = T * (T - 1) / 2, ms = T * (T - 1) / 2),
         c(na = 0, ms = 0))
}

# GeeEngine::fit() with its passes replaced by rounds over the shards.
gee_fit_shards <- function(eng, spec, p, corstr, T, beta_start = NULL) {
  info <- shard_round(eng, "gee_info")
  K <- sum(vapply(info, `[[`, 0L, "K"))
  dup <- vapply(info, `[[`, 0L, "duplicated")
  out <- list(clusters = list(K = K, T = T, nactive = sum(vapply(info, `[[`, 0L, "nactive")),
                              duplicated = if (any(dup > 0L)) dup[dup > 0L][1L] else 0L))
  if (out$clusters$duplicated > 0L || K == 0L) return(out)
  sz <- gee_sizes(corstr, T, spec$mdep)
  na <- sz[["na"]]; ms <- sz[["ms"]]
  fail <- function(msg) { out$error <- msg; out }
  beta <- if (!is.null(beta_start)) beta_start else {
    st <- shard_round(eng, "gee_start")
    if (any(vapply(st, `[[`, NA, "bad"))) return(fail("non-finite starting working weights"))
    H <- sum_shards(st, "H")
    H[upper.tri(H)] <- t(H)[upper.tri(H)]
    b <- tryCatch(solve(H, sum_shards(st, "g")), error = function(e) NULL)
    if (is.null(b) || !all(is.finite(b))) return(fail("the starting weighted least-squares step failed"))
    b
  }
  moments <- function(b) {
    r <- shard_round(eng, "gee_moments", list(beta = b))
    err <- vapply(r, `[[`, "", "error")
    if (any(nzchar(err))) return(err[nzchar(err)][1L])
    sum_shards(r, "m")
  }
  alpha <- rep(0, na)
  m <- moments(beta)
  if (is.character(m)) return(fail(m))
  phi <- if (spec$scale_fix) spec$scale_value else m[1L] / m[2L]
  it_done <- 0L; converged <- FALSE; delta <- 0; score <- 0; err <- ""
  cross <- function(b, a, ph) {
    r <- shard_round(eng, "gee_cross", list(beta = b, alpha = a, phi = ph))
    bad <- vapply(r, `[[`, 0L, "bad")
    list(ZtZ = sum_shards(r, "ZtZ"), nonpd = sum(vapply(r, `[[`, 0L, "nonpd")),
         bad = if (any(bad > 0L)) bad[bad > 0L][1L] else 0L)
  }
  for (it in seq_len(spec$maxit)) {
    cr <- cross(beta, alpha, phi)
    if (cr$bad > 0L) { err <- gee_singular_text(cr$bad, alpha); break }
    g <- cr$ZtZ[seq_len(p), p + 1L]
    score <- max(abs(g))
    step <- tryCatch(solve(cr$ZtZ[seq_len(p), seq_len(p), drop = FALSE], g), error = function(e) NULL)
    if (is.null(step) || !all(is.finite(step))) {
      err <- "the scoring step failed: the information matrix is singular"
      break
    }
    nb <- beta + step
    m <- moments(nb)
    if (is.character(m)) { err <- m; break }
    as <- cpp_gee_assoc(spec$corstr, spec$mdep, spec$scale_fix, spec$scale_value, m, ms, alpha)
    fin <- is.finite(as$alpha) & is.finite(alpha)
    delta <- max(c(abs(step) / (1 + abs(nb)),
                   abs(as$alpha - alpha)[fin] / (1 + abs(as$alpha[fin])),
                   abs(as$phi - phi) / (1 + abs(as$phi))))
    beta <- nb; alpha <- as$alpha; phi <- as$phi
    it_done <- it
    progress_tick(NaN)  # progress.R: one scoring step
    if (spec$trace)
      message(sprintf("iteration %d: relative change %.3g, scale %.6g%s", it, delta, phi,
                      if (na > 0) sprintf(", alpha[1] %.6g", alpha[1L]) else ""))
    if (delta <= spec$epsilon) { converged <- TRUE; break }
  }
  out <- c(out, list(beta = beta, alpha = alpha, phi = phi, iter = it_done,
                     converged = converged, delta = delta, score = score, error = err))
  if (nzchar(err)) return(out)
  out$variance <- gee_variance_shards(eng, beta, alpha, phi, spec$vflags, p, cross)
  out
}

# The variance estimators: H and U of all shards first, then every shard's
# share of the meats given them (each share is linear in its clusters).
gee_variance_shards <- function(eng, beta, alpha, phi, flags, p, cross) {
  cr <- cross(beta, alpha, phi)
  if (cr$bad > 0L) return(list(error = gee_singular_text(cr$bad, alpha)))
  H <- cr$ZtZ[seq_len(p), seq_len(p), drop = FALSE]
  U <- cr$ZtZ[seq_len(p), p + 1L]
  r <- shard_round(eng, "gee_variance", list(beta = beta, alpha = alpha, phi = phi,
                                             flags = as.integer(flags), H = H, U = U))
  err <- vapply(r, `[[`, "", "error")
  if (any(nzchar(err))) return(list(error = err[nzchar(err)][1L]))
  Hinv <- tryCatch(solve(H), error = function(e) NULL)
  if (is.null(Hinv) || !all(is.finite(Hinv))) return(list(error = "the information matrix is singular"))
  v <- list(H = H, U = U, B = sum_shards(r, "B"), robust = sum_shards(r, "robust"),
            model = phi * Hinv, HI = sum_shards(r, "HI"), quasi = sum_shards(r, "quasi"),
            jack_nonconverged = 0L, nonpd_clusters = cr$nonpd, error = "")
  for (tp in c("md", "kc", "jack", "j1s"))
    if (!is.null(r[[1L]][[tp]])) v[[tp]] <- sum_shards(r, tp)
  v
}

# GeeEngine::singular_message() for a cluster found on a shard.
gee_singular_text <- function(code, alpha) {
  a <- if (length(alpha))
    sprintf(" (alpha = %s%s)", paste(sprintf("%f", utils::head(alpha, 6L)), collapse = ", "),
            if (length(alpha) > 6L) ", ..." else "")
  else ""
  sprintf("the working correlation matrix of cluster %d (in the order of the 'id' levels) is singular or invalid%s; the moment estimates do not give a valid correlation: try a simpler 'corstr'",
          code, a)
}
