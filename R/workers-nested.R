# Nested random intercepts, (1 | a/b), fitted on workers
# (glmm(..., nAGQ = k, control = glmm_control(workers = cl))): the
# multilevel quadrature log-likelihood and its gradient are sums over the
# outermost units, so the rows are split into shards of whole outermost
# units and each worker builds the nested engine (src/engines/agq/agq-nested.cpp) on its
# shards. glmm_nested_fit() runs its optimizer unchanged on these sums,
# taken over shards in shard order (order-independent-sums.R), so the result does not
# depend on the number of workers. The Laplace fit that starts the search
# runs in this process (the data are here anyway).

# The nested engine: in this process, or on the workers when
# control$workers is set. `units`: per level from the outermost inwards,
# 0-based unit codes of the rows (nested_structure()).
nested_engine <- function(X, y, w, off, units, family, control) {
  if (is.null(control$workers))
    return(cpp_nested_new(X, y, w, off, units, family$family_code, family$link_code,
                          control$nthreads))
  outer <- units[[1L]] + 1L
  sh <- shard_of_cluster(tabulate(outer, max(outer)), control$shards)
  rows <- split(seq_along(y), sh[outer])
  get <- function(ids) lapply(ids, function(s) {
    r <- rows[[s]]
    # Unit codes within the shard, in the order of the global codes, so a
    # shard's modes go back to the fit's units by `global`.
    global <- lapply(units, function(u) sort(unique(u[r])))
    list(X = X[r, , drop = FALSE], y = y[r], w = w[r], off = off[r],
         units = lapply(seq_along(units), function(k) match(units[[k]][r], global[[k]]) - 1L),
         rows = r, global = global)
  })
  eng <- shard_engine(control$workers, max(sh))
  spec <- list(family_code = family$family_code, link_code = family$link_code,
               nthreads = control$nthreads)
  eng$reload <- shard_reloader(eng, get, spec, "nested")
  eng$n <- length(y)
  eng$nunits <- vapply(units, function(u) max(u) + 1L, 1L)
  shard_load(eng, seq_len(max(sh)))
  eng
}

# cpp_nested_eval() on either kind of engine.
nested_eval <- function(eng, theta, nAGQ, gradient = FALSE) {
  out <- if (!inherits(eng, "glmmgee_shard_engine")) cpp_nested_eval(eng, theta, nAGQ, gradient)
         else nested_eval_shards(eng, theta, nAGQ, gradient)
  progress_tick(out$loglik, out)  # progress.R
}

nested_eval_shards <- function(eng, theta, nAGQ, gradient) {
  res <- shard_round(eng, "nested_eval", list(theta = theta, nAGQ = nAGQ, gradient = gradient))
  out <- list(loglik = dd_total(lapply(res, function(r) list(hi = r$loglik, lo = 0))),
              failures = sum(vapply(res, function(r) as.numeric(r$failures), 1)))
  if (gradient)
    out$gradient <- dd_total(lapply(res, function(r) list(hi = r$gradient, lo = 0 * r$gradient)))
  out
}

# cpp_nested_modes() on either kind of engine: the shards' modes put back
# in the fit's units and rows (a table of units, asked for once).
nested_modes <- function(eng, theta) {
  if (!inherits(eng, "glmmgee_shard_engine")) return(cpp_nested_modes(eng, theta))
  res <- shard_round(eng, "nested_modes", list(theta = theta))
  L <- length(eng$nunits)
  u <- lapply(eng$nunits, numeric)
  v <- lapply(eng$nunits, numeric)
  eta <- numeric(eng$n)
  failed <- FALSE
  for (r in res) {
    for (k in seq_len(L)) {
      u[[k]][r$global[[k]] + 1L] <- r$u[[k]]
      v[[k]][r$global[[k]] + 1L] <- r$var[[k]]
    }
    eta[r$rows] <- r$eta
    failed <- failed || isTRUE(r$failed)
  }
  list(u = u, var = v, eta = eta, failed = failed)
}

on_worker_nested_op <- function(sh, op, args) {
  switch(op,
    nested_eval = cpp_nested_eval(sh$engine, args$theta, args$nAGQ, args$gradient),
    nested_modes = c(cpp_nested_modes(sh$engine, args$theta),
                     list(global = sh$global, rows = sh$rows)),
    stop("unknown shard operation ", op, call. = FALSE))
}
