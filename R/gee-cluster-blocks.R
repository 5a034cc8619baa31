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
    Dk <- X[r, , drop = FALSE] * dmu[r]
    list(rows = r, D = Dk, e = e[r], a = a[r], R = Rk, Vinv = chol2inv(ch), V = V, pos = pos[r],
         logdet = 2 * sum(log(diag(ch))), Z = backsolve(ch, Dk, transpose = TRUE))
  })
  # The rows of each cluster in an orthonormal basis Q of the whitened
  # derivatives Z (V_k = C C', Z_k = C^-1 D_k): Z_k H^-1 Z_k' = Q_k Q_k',
  # the cluster's leverage, accurate whatever the location or scale of a
  # covariate (through H^-1 it had carried the rounding of an ill-conditioned
  # H, e.g. with x + 1e4, and missed a leverage of 1).
  Qall <- qr.Q(qr(do.call(rbind, lapply(blocks, `[[`, "Z"))))
  at <- cumsum(c(0L, vapply(blocks, function(b) length(b$rows), 1L)))
  for (k in seq_along(blocks))
    blocks[[k]]$Q <- Qall[(at[k] + 1L):at[k + 1L], , drop = FALSE]
  names(blocks) <- object$id.levels[as.integer(names(rows))]
  H <- Reduce(`+`, lapply(blocks, function(b) crossprod(b$D, b$Vinv %*% b$D)))
  # Inverted at unit diagonal: solve(H) itself had refused a design with
  # a covariate of large mean or scale (x + 1e4, income in cents) as
  # computationally singular, although the leverages (and so the leverage-1
  # rule of gee_corrected_residuals()) do not depend on either.
  s <- 1 / sqrt(diag(H))
  Hinv <- solve(H * outer(s, s)) * outer(s, s)
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
# the Mancl-DeRouen / Preisser-Qaqish correction, of the cluster `label`.
# With V_k = C C' (Cholesky), I - Q_k = C S C^-1 where S = I - C^-1 D_k H^-1
# D_k' C^-T = I - b$Q b$Q' is symmetric, so the residuals are C S^-1 C^-1 e_k. A cluster
# with an eigenvalue of S at or below 1e-12 has leverage 1 and is refused:
# the rule and the message of the engine's md and kc sandwiches (gee.cpp).
# (solve() of I - Q_k had failed for some row orders only and, for others,
# divided rounding noise by rounding noise.)
gee_corrected_residuals <- function(b, label, what) {
  C <- t(chol(b$V))
  S <- diag(nrow(b$Q)) - tcrossprod(b$Q)
  es <- eigen((S + t(S)) / 2, symmetric = TRUE)
  if (min(es$values) <= 1e-12)
    stop(sprintf("%s: %s", what, gee_leverage_one_text(label)), call. = FALSE)
  Q <- es$vectors
  drop(C %*% (Q %*% (crossprod(Q, forwardsolve(C, b$e)) / es$values)))
}

# The refusal of a cluster of leverage 1 (also written by gee.cpp, which
# names the cluster by its code; gee_engine_text() puts the label back).
gee_leverage_one_text <- function(label) {
  sprintf(paste0("leverage of cluster %s is 1: some coefficient is determined by this cluster alone, ",
                 "so its leverage-corrected residuals are undefined, and with them the bias-corrected ",
                 "variances (\"md\", \"kc\", \"wl\", \"cjack\") and dfbeta(); use \"san.se\" or ",
                 "a model in which no cluster alone determines a coefficient"), label)
}

# The engine's leverage and jackknife refusals in words (other messages
# unchanged): the cluster named by its label among `levels` (the engine
# numbers clusters by code, in the order of the id levels) and, for a
# deletion that leaves the information singular, the coefficients that the
# other clusters' rows cannot estimate (design X, cluster codes id, prior
# weights w; not named where X is not at hand, e.g. a sharded fit).
gee_engine_text <- function(msg, levels, X = NULL, id = NULL, w = NULL) {
  m <- regmatches(msg, regexec("cluster ([0-9]+)", msg))[[1L]]
  if (length(m) != 2L) return(msg)
  code <- as.integer(m[2L])
  lab <- if (is.null(levels)) NA else levels[code]
  if (is.na(lab)) lab <- m[2L]
  if (grepl("^leverage of cluster [0-9]+ is 1$", msg)) return(gee_leverage_one_text(lab))
  if (!grepl("^jackknife fit without cluster [0-9]+ failed: the information matrix without it is singular$", msg))
    return(msg)
  gone <- if (!is.null(X) && nrow(X) == length(id)) gee_deletion_aliased(X, id, w, code)
  sprintf(paste0("the delete-one-cluster jackknife (\"jack\", \"j1s\", \"fij\") is undefined: ",
                 "without cluster %s %s. Use \"san.se\""), lab,
          if (length(gone))
            sprintf("the coefficient%s %s cannot be estimated (no other cluster informs %s)",
                    if (length(gone) > 1L) "s" else "", paste(sQuote(gone, FALSE), collapse = ", "),
                    if (length(gone) > 1L) "them" else "it")
          else "the information matrix of the other clusters is singular")
}

# The coefficients aliased in the design X of the rows outside cluster
# `code` (cluster codes id, prior weights w; rows of weight 0 unused).
gee_deletion_aliased <- function(X, id, w, code) {
  keep <- id != code & (if (is.null(w)) TRUE else w > 0)
  q <- qr(X[keep, , drop = FALSE])
  if (q$rank == ncol(X)) return(character())
  colnames(X)[q$pivot[-seq_len(q$rank)]]
}
