# Data in this process, fitted on workers: glmm_fit() with
# glmm_control(workers = cl) splits its (already centred and scaled)
# design into shards of whole clusters and hands them to the workers once.

# Shard of each cluster: contiguous runs of the fit's cluster order with
# about equal numbers of rows. Depends only on the data and `S`, never on
# the workers.
shard_of_cluster <- function(sizes, S) {
  S <- max(1L, min(as.integer(S), length(sizes)))
  start <- cumsum(sizes) - sizes
  s <- findInterval(start, sum(sizes) * (seq_len(S) - 1L) / S)
  match(s, unique(s))  # no empty shard
}

glmm_fit_workers <- function(mod, y, weights, offset, cl, control, start) {
  sh <- shard_of_cluster(tabulate(cl$index, mod$M), control$shards)
  rows <- split(seq_along(y), sh[cl$index])
  first <- match(seq_len(max(sh)), sh)
  rp <- mod$rp
  get <- function(ids) lapply(ids, function(s) {
    r <- rows[[s]]
    k <- which(sh == s)
    list(X = rp$X[r, , drop = FALSE], Z = rp$Z[r, , drop = FALSE], y = as.numeric(y[r]),
         w = as.numeric(weights[r]), off = as.numeric(offset[r]),
         index = cl$index[r] - first[s] + 1L, M = length(k), clusters = k)
  })
  eng <- shard_engine(control$workers, max(sh))
  on.exit(shard_free(eng), add = TRUE)
  spec <- engine_spec(mod, control)
  eng$reload <- shard_reloader(eng, get, spec, "agq")
  shard_load(eng, seq_len(max(sh)))
  fit <- glmm_fit_shards(eng, mod, control, start)
  fit$group <- cl
  fit
}

engine_spec <- function(mod, control) {
  list(lam_row = mod$pat$row - 1L, lam_col = mod$pat$col - 1L,
       family_code = mod$family$family_code, link_code = mod$family$link_code,
       nAGQ = if (control$laplace_start) 1L else mod$nAGQ, nthreads = control$nthreads)
}
