# Per-cluster pieces of a fitted GEE, for the estimators computed after the
# fit (small-sample variances, influence measures, criteria, the sandwich
# package's estfun()/bread(), simulate()): for each cluster its rows, the
# derivative matrix D = d mu / d beta', the residuals e = y - mu, the
# variances a = V(mu) / w (without the scale) and the working correlation
# R at the cluster's wave positions, so that its working covariance is
# V = A^{1/2} R A^{1/2} (phi V with the scale). H = sum D' V^-1 D is then
# the information without the scale: vcov(fit, type = "model") = phi H^-1.

# The wave position of each row (1-based, engine positions): the waves
# given to the fit, else the order of the cluster's rows in the data among
# those with positive weight, as the engine numbers them.
gee_row_positions <- function(object) {
  d <- object$engine$data
  if (!is.null(d$wave)) return(as.integer(d$wave))
  keep <- d$weights > 0
  pos <- integer(length(d$id))
  pos[keep] <- stats::ave(seq_len(sum(keep)), d$id[keep], FUN = seq_along)
  pos
}

# The blocks of every cluster with positive weight. `what` names the
# function asking, for the refusal of a fit without its data.
gee_cluster_blocks <- function(object, what) {
  # Fits of the pattern engine (dropout weights, the M-dependent and AR-M
  # structures) keep their own pieces, not these (fit-gee-patterns.R).
  stop_if_pattern_fit(object, what)
  d <- object$engine$data
  X <- d$X
  if (is.null(X) || nrow(X) != length(d$y) || !length(d$y))
    stop(sprintf("%s needs the fit's data rows, which a sharded or distributed fit (gee_shards()) does not keep",
                 what), call. = FALSE)
  if (inherits(object, "glmmgee_gee_ordinal"))
    stop(sprintf("%s is not available for ordinal GEE fits", what), call. = FALSE)
  fam <- object$family
  eta <- object$linear.predictors
  mu <- fam$linkinv(eta)
  w <- d$weights
  keep <- which(w > 0)
  pos <- gee_row_positions(object)
  rows <- split(keep, d$id[keep])
  rows <- rows[lengths(rows) > 0L]
  dmu <- fam$mu.eta(eta)
  a <- fam$variance(mu) / w
  e <- d$y - mu
  Tn <- object$max.wave
  blocks <- lapply(rows, function(r) {
    if (!is.null(d$wave)) r <- r[order(pos[r])]
    Rk <- working_correlation(object$corstr, object$alpha, Tn, object$R,
                              if (is.null(object$Mv)) 1L else object$Mv, obs = pos[r])
    Rk <- unname(Rk)
    sa <- sqrt(a[r])
    V <- Rk * outer(sa, sa)
    ch <- tryCatch(chol(V), error = function(err) NULL)
    if (is.null(ch))
      stop(sprintf("%s: the working covariance of cluster %s is not positive definite",
                   what, object$id.levels[d$id[r[1L]]]), call. = FALSE)
    list(rows = r, D = X[r, , drop = FALSE] * dmu[r], e = e[r], a = a[r], R = Rk,
         Vinv = chol2inv(ch), V = V, pos = pos[r], logdet = 2 * sum(log(diag(ch))))
  })
  names(blocks) <- object$id.levels[as.integer(names(rows))]
  H <- Reduce(`+`, lapply(blocks, function(b) crossprod(b$D, b$Vinv %*% b$D)))
  Hinv <- solve(H)
  nm <- names(object$coefficients)
  dimnames(Hinv) <- list(nm, nm)
  for (k in seq_along(blocks)) {
    b <- blocks[[k]]
    blocks[[k]]$U <- drop(crossprod(b$D, b$Vinv %*% b$e))
  }
  list(blocks = blocks, H = H, Hinv = Hinv, p = ncol(X), K = length(blocks),
       N = length(keep), n = nrow(X), mu = mu)
}

# Leverage-corrected residuals (I - Q_k)^{-1} e_k with Q_k = D_k H^-1 D_k' V_k^-1,
# the Mancl-DeRouen / Preisser-Qaqish correction.
gee_corrected_residuals <- function(b, Hinv) {
  Q <- b$D %*% Hinv %*% crossprod(b$D, b$Vinv)
  IQ <- diag(nrow(Q)) - Q
  r <- tryCatch(solve(IQ, b$e), error = function(err) NULL)
  if (is.null(r))
    stop("the leverage of a cluster is 1: the corrected residuals are undefined", call. = FALSE)
  r
}
