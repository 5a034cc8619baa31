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

# Tz (q x q) when some column of a random-effect block is further than
# lmm_z_centre_sd standard deviations from zero beside a constant column of
# that block, else NULL (then the routes run on the user's Z, bitwise as
# before).
#
# The bound is 10, the fixed effects' (well_scaled_x(): a mean within 10
# standard deviations). With 100, the several-term route's search on the
# user's Z between the two was at the mercy of its path: sleepstudy's
# Days + k sd(Days) in (Dc | Subject) + (1 | h) (h's variance 0) took 46 to
# 526 evaluations for k = 10..95, and at k = 80 REML stopped 0.57 below
# the optimum ("did not report convergence"); on the centred design 86 to
# 101, at the optimum. The one-factor route took 15 to 23 either way.
lmm_z_centre_sd <- 10

lmm_z_centring <- function(Z, keep, cov_blocks) {
  if (ncol(Z) < 2L) return(NULL)
  Zk <- if (all(keep)) Z else Z[keep, , drop = FALSE]
  tz <- design_transform(Zk, blocks = cov_blocks, within = FALSE)
  if (tz$identity || !centres_far(tz$T, lmm_z_centre_sd)) return(NULL)
  tz$T
}

# Whether the map T of design_transform() (M = M* T) centres some column by
# more than `sd` of its standard deviations: the criterion of every route's
# far-off-slope map. The GLMM routes (glmm_reparam(), sparse_reparam(), the
# ordinal fitter) use 100: they search on the standardized design anyway, in
# the same number of evaluations at any distance. The LMM routes use
# lmm_z_centre_sd (10), above.
centres_far <- function(Tm, sd = 100) {
  off <- Tm
  diag(off) <- 0
  any(abs(off) > sd * rep(diag(Tm), each = nrow(off)))
}

# A several-term route's term's q covariate columns (one value per row):
# the sums over its levels of re$Z's columns (each row belongs to one
# level). Shared by lmm_sparse_centring() and cs_pair_far_terms().
term_raw_columns <- function(Z, tm) {
  q <- length(tm$cnames)
  nl <- length(tm$columns) %/% q
  one <- rep(1, nl)
  vapply(seq_len(q), function(j)
    as.vector(Z[, tm$columns[j + (seq_len(nl) - 1L) * q], drop = FALSE] %*% one),
    numeric(nrow(Z)))
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
  mp <- lambda_map(fit$Lambda, Ti, fit$cov_blocks, lam_index)
  L <- mp$L
  W <- mp$W
  lam <- L[lam_index]
  fit$lambda <- stats::setNames(lam, names(fit$lambda))
  fit$Lambda <- L
  fit <- remap_lambda(fit, il, lam, mp$J)
  m <- fit$modes
  m$mode <- m$mode %*% W
  m$post_mean <- m$post_mean %*% W
  # rows vec(W' V W) (that is, V (W %x% W))
  m$mode_var <- sandwich_rows(m$mode_var, t(W))
  m$post_var <- sandwich_rows(m$post_var, t(W))
  fit$modes <- m
  if (reml) fit$optinfo$reml$theta <- lam / fit$sigma
  fit$optinfo$centred_z <- TRUE
  fit
}

# The user's Lambda = L (lower triangular, L W' = Ti Ls) of a search's Ls on
# Z* = Z Tz^-1, block by block, and the Jacobian J of its entries at
# `lam_index` in Ls's entries there (lq_jacobian()).
lambda_map <- function(Ls, Ti, cov_blocks, lam_index) {
  lq <- lq_blocks(Ti %*% Ls, cov_blocks)
  L <- lq$L
  W <- lq$W
  list(L = L, W = W, J = lq_jacobian(Ls, L, W, lam_index))
}

# Sets the covariance parameters at positions `il` of the fit's theta to
# `lam` and maps their rows and columns of the covariance (and of its
# standardized version), the Hessian and the gradient by the Jacobian J of
# lam in the search's parameters.
remap_lambda <- function(fit, il, lam, J) {
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
  remap_curvature(fit, il, solve(J))
}

# The same for the several-term sparse LMM route (lmm_sparse_fit()), term by
# term: lmm_sparse_scales() scales Z's columns but does not centre them, so
# y ~ x + (x | g) + (1 | h) with x = Days * 1e-6 - 5 on sleepstudy ended
# 21.4 log-likelihood units below the optimum in "singular convergence".
# A term with several columns per level whose design (its columns summed
# over the levels, n x q) lmm_z_centring() finds far from zero gets the map
# Tk on each level's block of Z's columns: Z* = Z D^-1, D block diagonal.
# NULL when no term needs it (the fit then runs on the user's Z as before),
# else the terms centred, their maps, and `re` with Z*.
lmm_sparse_centring <- function(re, keep) {
  Z <- re$Z
  cen <- list()
  for (k in seq_along(re$terms)) {
    tm <- re$terms[[k]]
    q <- length(tm$cnames)
    # A structured term (covstruct-scale-z.R) is not closed under centring.
    if (q < 2L || isTRUE(tm$known_cov) || !(tm$kind %||% "us") == "us") next
    Tk <- lmm_z_centring(term_raw_columns(Z, tm), keep, q)
    if (!is.null(Tk)) cen[[length(cen) + 1L]] <- list(term = k, T = Tk,
                                                      Ti = backsolve(Tk, diag(1, q)))
  }
  if (!length(cen)) return(NULL)
  Dinv <- lmm_sparse_block_map(re, cen, "Ti")
  Zs <- Z %*% Dinv
  if (!methods::is(Zs, "dgCMatrix"))
    Zs <- methods::as(methods::as(Zs, "CsparseMatrix"), "generalMatrix")
  re$Z <- Zs
  list(re = re, terms = cen)
}

# The Q x Q sparse block diagonal matrix with element `what` of each centred
# term's entry of `cen` on every level's block of its columns, 1 elsewhere.
lmm_sparse_block_map <- function(re, cen, what) {
  Q <- ncol(re$Z)
  ii <- jj <- integer()
  xx <- numeric()
  done <- integer()
  for (ce in cen) {
    tm <- re$terms[[ce$term]]
    q <- nrow(ce$T)
    nl <- length(tm$columns) %/% q
    M <- ce[[what]]
    base <- tm$columns[(seq_len(nl) - 1L) * q + 1L] - 1L
    ii <- c(ii, rep(base, each = q * q) + rep(rep(seq_len(q), q), nl))
    jj <- c(jj, rep(base, each = q * q) + rep(rep(seq_len(q), each = q), nl))
    xx <- c(xx, rep(as.vector(M), nl))
    done <- c(done, tm$columns)
  }
  rest <- setdiff(seq_len(Q), done)
  Matrix::sparseMatrix(i = c(ii, rest), j = c(jj, rest), x = c(xx, rep(1, length(rest))),
                       dims = c(Q, Q))
}

# The centred terms' Lambda entries: their indices among the covariance
# parameters, the block sizes and the entries' positions in the block
# diagonal of one level of each.
lmm_sparse_centred_index <- function(re, zc) {
  sizes <- vapply(zc$terms, function(ce) nrow(ce$T), 1L)
  pat <- block_pattern(sizes)
  list(par = unlist(lapply(zc$terms, function(ce) re$terms[[ce$term]]$par)),
       sizes = sizes, index = cbind(pat$row, pat$col),
       T = as.matrix(Matrix::bdiag(lapply(zc$terms, `[[`, "T"))),
       Ti = as.matrix(Matrix::bdiag(lapply(zc$terms, `[[`, "Ti"))))
}

# A user's `start` (fixed effects, Lambda's entries, log sigma) on Z*:
# Lambda* = the lower triangular L with L W' = Tk Lambda (`inverse`: from
# Z* to the user's Z, by Tk^-1).
lmm_sparse_start_star <- function(start, zc, p, inverse = FALSE) {
  if (is.null(start) || !is.numeric(start) || !all(is.finite(start))) return(start)
  ci <- lmm_sparse_centred_index(zc$re, zc)
  il <- p + ci$par
  if (max(il) > length(start)) return(start)
  q <- sum(ci$sizes)
  L <- matrix(0, q, q)
  L[ci$index] <- start[il]
  start[il] <- lq_blocks((if (inverse) ci$Ti else ci$T) %*% L, ci$sizes)$L[ci$index]
  start
}

# The modes of a fit on zc$re's Z* mapped to the user's Z (`re`): the
# spherical modes u = W' u* and their conditional covariance W' Var(u*) W
# (W the LQ map's orthogonal factor, block by block of ci$sizes), b = Tk^-1
# b* per level, and the terms' summaries from these and fit$theta (already
# on the user's Z). Shared by lmm_sparse_standard_z() and
# covstruct_uncentre_z().
lmm_sparse_map_modes <- function(fit, zc, re, ci, W) {
  p <- length(fit$beta)
  off <- 0L
  for (k in seq_along(zc$terms)) {
    s <- ci$sizes[[k]]
    zc$terms[[k]]$W <- W[off + seq_len(s), off + seq_len(s), drop = FALSE]
    off <- off + s
  }
  Wf <- lmm_sparse_block_map(re, zc$terms, "W")
  Dinv <- lmm_sparse_block_map(re, zc$terms, "Ti")
  m <- fit$modes
  m$u <- as.vector(Matrix::crossprod(Wf, m$u))
  m$b <- as.vector(Dinv %*% m$b)
  A <- Matrix::sparseMatrix(i = pmin(m$inv_i, m$inv_j), j = pmax(m$inv_i, m$inv_j),
                            x = m$inv_x, dims = c(ncol(re$Z), ncol(re$Z)), symmetric = TRUE)
  B <- Matrix::crossprod(Wf, A %*% Wf)
  m$inv_x <- as.vector(B[cbind(m$inv_i, m$inv_j)])
  fit$modes <- m
  fit$terms <- sparse_term_summaries(re, unname(fit$theta[p + seq_len(re$ntheta)]), m, NULL,
                                     unname(fit$theta))
  fit
}

# Maps a fit of lmm_sparse_fit() on zc$re's Z* (interior) to the user's Z
# (`re`): Lambda, the covariance, Hessian and gradient of the parameters as
# lmm_standard_z() does, the spherical modes u = W' u* and their
# conditional covariance W' Var(u*) W, b = Tk^-1 b* per level, and the
# terms' summaries from these. The likelihood is the same on Z and Z*.
lmm_sparse_standard_z <- function(fit, zc, re) {
  ci <- lmm_sparse_centred_index(re, zc)
  p <- length(fit$beta)
  il <- p + ci$par
  q <- sum(ci$sizes)
  Ls <- matrix(0, q, q)
  Ls[ci$index] <- fit$theta[il]
  ob <- fit$on_boundary[il]
  if (any(ob)) {
    mp <- lmm_face_map(Ls, ci, ob)
    fit$theta[il[ob]] <- 0
    fit <- remap_lambda(fit, il[!ob], mp$L[ci$index][!ob], mp$J)
  } else {
    mp <- lambda_map(Ls, ci$Ti, ci$sizes, ci$index)
    fit <- remap_lambda(fit, il, mp$L[ci$index], mp$J)
  }
  lam <- mp$L[ci$index]
  fit <- lmm_sparse_map_modes(fit, zc, re, ci, mp$W)
  if (!is.null(fit$optinfo$reml$theta)) fit$optinfo$reml$theta[ci$par] <- lam / fit$sigma
  fit$optinfo$centred_z <- TRUE
  fit
}

# A centred fit on the boundary in its centred terms maps back exactly when
# every centred term has two columns and only its lambda[2,2] is at 0 (a
# correlation of +/-1, or also the slope's variance 0): Lambda* = [v, 0]
# maps to Lambda = [s Ti v, 0], s the sign of its first entry, the same
# face, linearly. Returns L, W (lq_blocks()) and the Jacobian of the free
# entries (lambda[1,1], lambda[2,1] of each term) in the search's, or NULL
# for any other boundary (then the fit runs on the user's Z from the
# centred optimum, lmm_sparse_fit()).
lmm_face_map <- function(Ls, ci, ob) {
  if (any(ci$sizes != 2L)) return(NULL)
  pos <- rep(1:3, length(ci$sizes))
  if (any(ob & pos != 3L)) return(NULL)
  A <- ci$Ti %*% Ls
  lq <- lq_blocks(A, ci$sizes)
  nb <- length(ci$sizes)
  free <- !ob
  J <- matrix(0, length(ob), length(ob))
  for (k in seq_len(nb)) {
    e <- 2L * (k - 1L) + 1:2
    r <- 3L * (k - 1L) + 1:3
    if (ob[r[3L]]) {
      s <- sign(A[e[1L], e[1L]])
      if (s == 0) return(NULL)
      J[r[1:2], r[1:2]] <- s * ci$Ti[e, e]
    } else {
      Lk <- lq$L[e, e]
      J[r, r] <- lq_jacobian(Ls[e, e], Lk, lq$W[e, e], cbind(c(1L, 2L, 2L), c(1L, 1L, 2L)))
    }
  }
  L <- lq$L
  L[ci$index[ob, , drop = FALSE]] <- 0
  list(L = L, W = lq$W, J = J[free, free, drop = FALSE])
}

# Whether lmm_face_map() applies to a centred fit (see there).
lmm_face_mappable <- function(fit, zc, re) {
  ci <- lmm_sparse_centred_index(re, zc)
  il <- length(fit$beta) + ci$par
  q <- sum(ci$sizes)
  Ls <- matrix(0, q, q)
  Ls[ci$index] <- fit$theta[il]
  !is.null(lmm_face_map(Ls, ci, fit$on_boundary[il]))
}
