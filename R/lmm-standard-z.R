# Random slopes far from zero on the one-factor LMM routes (ML and REML).
#
# The search there runs on Z with its columns scaled to unit root mean
# square only. A slope column far from zero beside its block's intercept
# (sleepstudy's Days as Days * 1e-6 - 5) is then nearly collinear with the
# intercept: the per-cluster sums Z'Z have a condition number near 1e13,
# the Newton search stopped at its iteration limit 21.4 below the REML
# optimum, and the user's lambda entries at the optimum (a correlation of
# 1 - 1e-13 between the intercept at x = 0 and the slope) cannot even be
# evaluated there to more than a few digits. So such fits run on the
# centred and scaled design of design_transform(), Z = Z* Tz (b* = Tz b),
# and are mapped back exactly, as the fixed effects are (lmm_standard_x()):
# Lambda = Tz^-1 Lambda* W with W orthogonal (an LQ factorization, so the
# small diagonal entries are not lost to cancellation as they are in a
# Cholesky factor of the covariance), the modes u = W' u*, and the
# gradient, Hessian and covariance of the parameters by the exact Jacobian
# of that map.

# Tz (q x q) when some column of a random-effect block is further than 100
# standard deviations from zero beside a constant column of that block, else
# NULL (then the routes run on the user's Z, bitwise as before). Within that
# bound the conditioning of the scaled sums stays below about 1e5.
lmm_z_centring <- function(Z, keep, cov_blocks) {
  if (ncol(Z) < 2L) return(NULL)
  Zk <- if (all(keep)) Z else Z[keep, , drop = FALSE]
  tz <- design_transform(Zk, blocks = cov_blocks)
  if (tz$identity) return(NULL)
  off <- tz$T
  diag(off) <- 0
  if (!any(abs(off) > 100 * rep(diag(tz$T), each = nrow(off)))) return(NULL)
  tz$T
}

# The lower triangular L with nonnegative diagonal and the orthogonal W with
# A = L W' (so L = A W), block by block of `cov_blocks`: from the QR
# factorization of A' without pivoting.
lq_blocks <- function(A, cov_blocks) {
  q <- nrow(A)
  L <- W <- matrix(0, q, q)
  off <- 0L
  for (s in cov_blocks) {
    idx <- off + seq_len(s)
    off <- off + s
    qa <- qr(t(A[idx, idx, drop = FALSE]), tol = 0)
    R <- qr.R(qa)
    S <- ifelse(diag(R) < 0, -1, 1)
    L[idx, idx] <- t(R * S)
    W[idx, idx] <- qr.Q(qa) * rep(S, each = s)
  }
  list(L = L, W = W)
}

# The Jacobian d lambda / d lambda* of the map Lambda* -> Lambda = L of
# lq_blocks(Tz^-1 Lambda*) (L, W its factors), over the entries `lam_index`:
# d Lambda = L Phi(W' (K + K') W), K = Lambda*^-1 d Lambda*, Phi the lower
# triangle with half the diagonal (the derivative of a Cholesky factor).
lq_jacobian <- function(Ls, L, W, lam_index) {
  q <- nrow(Ls)
  nl <- nrow(lam_index)
  Lsi <- forwardsolve(Ls, diag(1, q))
  J <- matrix(0, nl, nl)
  for (k in seq_len(nl)) {
    E <- matrix(0, q, q)
    E[lam_index[k, , drop = FALSE]] <- 1
    K <- Lsi %*% E
    Mk <- crossprod(W, (K + t(K)) %*% W)
    Mk[upper.tri(Mk)] <- 0
    diag(Mk) <- diag(Mk) / 2
    J[, k] <- (L %*% Mk)[lam_index]
  }
  J
}

# Maps a fit on Z* = Z Tz^-1 (REML or ML, interior) to the user's Z.
lmm_standard_z <- function(fit, Tz, reml) {
  pat <- fit$pattern
  q <- fit$q
  p <- fit$p
  nl <- length(pat$row)
  il <- p + seq_len(nl)
  lam_index <- cbind(pat$row, pat$col)
  Ti <- backsolve(Tz, diag(1, q))
  Ls <- fit$Lambda
  lq <- lq_blocks(Ti %*% Ls, fit$cov_blocks)
  L <- lq$L
  W <- lq$W
  J <- lq_jacobian(Ls, L, W, lam_index)
  lam <- L[lam_index]
  fit$lambda <- stats::setNames(lam, names(fit$lambda))
  fit$Lambda <- L
  fit$theta[il] <- lam
  V <- fit$cov_theta
  V[il, ] <- J %*% V[il, , drop = FALSE]
  V[, il] <- V[, il, drop = FALSE] %*% t(J)
  V[il, il] <- (V[il, il] + t(V[il, il])) / 2
  st <- attr(fit$cov_theta, "star")
  fit$cov_theta[] <- V
  if (!is.null(st)) {
    # The standardized covariance of lmm_standard_x() holds lambda on the
    # user's Z too (its map T is the identity there).
    jl <- match(il, st$index)
    Vs <- st$V
    Vs[jl, ] <- J %*% Vs[jl, , drop = FALSE]
    Vs[, jl] <- Vs[, jl, drop = FALSE] %*% t(J)
    Vs[jl, jl] <- (Vs[jl, jl] + t(Vs[jl, jl])) / 2
    st$V <- Vs
    attr(fit$cov_theta, "star") <- st
  }
  Jinv <- solve(J)
  H <- fit$hessian
  H[il, ] <- crossprod(Jinv, H[il, , drop = FALSE])
  H[, il] <- H[, il, drop = FALSE] %*% Jinv
  H[il, il] <- (H[il, il] + t(H[il, il])) / 2
  fit$hessian[] <- H
  fit$gradient[il] <- drop(crossprod(Jinv, fit$gradient[il]))
  fit$optinfo$max_grad <- max(abs(fit$gradient[!fit$on_boundary]), 0)
  if (!is.null(attr(fit$cov_theta, "cond"))) {
    info <- -fit$hessian
    attr(fit$cov_theta, "cond") <- if (anyNA(info)) NA_real_ else raw_condition(info)
    if (!is.null(fit$optinfo$hessian_cond)) fit$optinfo$hessian_cond <- attr(fit$cov_theta, "cond")
  }
  m <- fit$modes
  m$mode <- m$mode %*% W
  m$post_mean <- m$post_mean %*% W
  WW <- kronecker(W, W)
  m$mode_var <- m$mode_var %*% WW
  m$post_var <- m$post_var %*% WW
  fit$modes <- m
  if (reml) fit$optinfo$reml$theta <- lam / fit$sigma
  fit$optinfo$centred_z <- TRUE
  fit
}
