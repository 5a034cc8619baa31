# A well-conditioned parameterization for the optimizer.
#
# The maximum of the likelihood does not depend on how the covariates are
# centred or scaled, but a gradient optimizer does: with time coded 0..20,
# or a covariate in units 1e4 times too small, the intercept variance and
# the slope variance (and their fixed effects) are strongly correlated and
# on scales many orders of magnitude apart, and the optimizer stops on a
# boundary or at an iteration limit far from the optimum. So the engine is
# handed centred and scaled designs,
#   X = X* Tx   (beta*  = Tx beta),
#   Z = Z* Tz   (b*     = Tz b,  D* = Tz D Tz', Lambda* = chol(D*)),
# where the non-constant columns are centred (only when their block has a
# constant column to absorb the centre: centring a slope with a diagonal
# covariance would change the model) and divided by their standard
# deviation. Both maps are exact, so the optimum is mapped back exactly.
# The maps of the designs are built in design-transform.R; here the maps of
# the parameters and of the fit's curvature.

# Lower-triangular factor of a positive semidefinite matrix, with zero
# columns where a pivot vanishes (a rank-deficient D: a variance at zero or
# a correlation at +/-1), so that L L' = D and diag(L) >= 0. A pivot
# vanishes relative to its own variance, not to the largest one: the
# variances of the user's units can differ by any factor (a slope on
# Days * 1e6 has a variance 1e-14 times the intercept's, and its column
# was zeroed, a false singular fit).
chol_psd <- function(D, tol = 1e-12) {
  q <- nrow(D)
  L <- matrix(0, q, q)
  for (j in seq_len(q)) {
    d <- D[j, j] - sum(L[j, seq_len(j - 1L)]^2)
    if (!(d > tol * abs(D[j, j]))) next
    L[j, j] <- sqrt(d)
    if (j < q) for (i in (j + 1L):q)
      L[i, j] <- (D[i, j] - sum(L[i, seq_len(j - 1L)] * L[j, seq_len(j - 1L)])) / L[j, j]
  }
  L
}

# The reparameterization of a one-grouping-factor model: X, Z transformed
# and the maps of theta = (beta, lambda, dispersion) between the user's
# parameterization and the optimizer's.
# z_blocks: the column blocks within which Z may be centred, when finer
# than the covariance blocks (the two parts of glmm_zi_random_fit(): a zero-part
# slope is centred by the zero part's intercept even when both parts'
# effects share one covariance).
# copy_x = FALSE: X* is not formed where design_transform() finds the map
# safe to apply to beta instead (then `X` is NULL and the engine is built
# on the user's X, inside xmap_engine()).
glmm_reparam <- function(X, Z, pat, cov_blocks, p, disp, mom_x = NULL, mom_z = NULL,
                         z_blocks = cov_blocks, copy_x = TRUE) {
  tx <- design_transform(X, mom = mom_x, copy = copy_x)
  # Z = NULL (a random intercept's ones, not built): the identity map that
  # design_transform() gives a constant column.
  tz <- if (is.null(Z) && is.null(mom_z)) list(M = NULL, T = diag(1, 1L), scale = 1, identity = TRUE)
        else design_transform(Z, blocks = z_blocks, mom = mom_z, within = FALSE)
  q <- length(tz$scale)
  nl <- length(pat$row)
  lam_index <- cbind(pat$row, pat$col)
  map <- function(theta, Tb, Tr) {
    beta <- theta[seq_len(p)]
    lam <- theta[p + seq_len(nl)]
    L <- matrix(0, q, q)
    L[lam_index] <- lam
    A <- Tr %*% L
    Ls <- chol_psd(tcrossprod(A))
    c(drop(Tb %*% beta), Ls[lam_index], if (disp) theta[[length(theta)]])
  }
  Txi <- backsolve(tx$T, diag(1, p))
  Tzi <- backsolve(tz$T, diag(1, q))
  identity <- tx$identity && tz$identity
  typical <- c(1 / tx$scale, 1 / tz$scale[pat$row], if (disp) 1)
  # A slope column far from zero beside its block's intercept (Days * 1e-6
  # - 5): in the user's units its correlation with the intercept is
  # 1 - 1e-13, and the Cholesky factor of D = Tz^-1 D* Tz^-T loses the small
  # last diagonal entry of Lambda to cancellation (a false singular fit, no
  # standard errors). There the maps go by an LQ factorization,
  # Lambda = Tz^-1 Lambda* W with W orthogonal (lq_blocks(), exact to
  # rounding of the entries), the Jacobian is the exact one of that map and
  # the singular fit is judged on the standardized scale. The criterion is
  # centres_far() at 100 standard deviations (the LMM routes centre from
  # 10: their search runs on the user's Z otherwise, while this one always
  # runs on the standardized design); other fits keep the maps above,
  # bitwise.
  far <- !tz$identity && q > 1L && centres_far(tz$T)
  map_lq <- function(theta, Tb, Tr) {
    L <- matrix(0, q, q)
    L[lam_index] <- theta[p + seq_len(nl)]
    c(drop(Tb %*% theta[seq_len(p)]), lq_blocks(Tr %*% L, cov_blocks)$L[lam_index],
      if (disp) theta[[length(theta)]])
  }
  if (far) map <- map_lq
  to_star <- function(theta) if (identity) theta else map(theta, tx$T, tz$T)
  jacobian <- function(theta, free = rep(TRUE, length(theta))) {
    if (identity) return(diag(1, length(theta)))
    if (!far || !all(free)) return(map_jacobian(to_star, theta, typical, free))
    # d theta* / d theta exactly: Tx for beta, the inverse of the Jacobian
    # of Lambda* -> Lambda for lambda, 1 for the dispersion.
    theta_s <- to_star(theta)
    Ls <- matrix(0, q, q)
    Ls[lam_index] <- theta_s[p + seq_len(nl)]
    lq <- lq_blocks(Tzi %*% Ls, cov_blocks)
    J <- diag(1, length(theta))
    J[seq_len(p), seq_len(p)] <- tx$T
    il <- p + seq_len(nl)
    J[il, il] <- solve(lq_jacobian(Ls, lq$L, lq$W, lam_index))
    J
  }
  # The orthogonal Q with Lambda Q = Tz^{-1} Lambda*: both are square roots
  # of D, so the optimizer's standardized effects u* and the user's
  # u = Lambda^{-1} b are related by u = Q u* (the orthogonal Procrustes
  # solution, exact also for a singular D).
  rotation <- function(theta, theta_star) {
    if (identity) return(diag(1, q))
    if (far) {
      # Lambda = Tz^-1 Lambda* W, so u = Lambda^-1 b = W' u*.
      Ls <- matrix(0, q, q)
      Ls[lam_index] <- theta_star[p + seq_len(nl)]
      return(t(lq_blocks(Tzi %*% Ls, cov_blocks)$W))
    }
    L <- Ls <- matrix(0, q, q)
    L[lam_index] <- theta[p + seq_len(nl)]
    Ls[lam_index] <- theta_star[p + seq_len(nl)]
    sv <- svd(crossprod(L, Tzi %*% Ls))
    sv$u %*% t(sv$v)
  }
  # Which parameters the fit reports on a boundary (`user_mask`, the
  # judgement in the user's units) at theta, theta_star: for a far slope,
  # judged on the standardized scale, where a conditional standard
  # deviation of 1e-7 relative to the intercept's means a correlation of
  # 1 - 1e-13 in the user's units only because of where x = 0 lies.
  # With a boundary there, Lambda's entries are taken from the standardized
  # scale too: in the user's units the far slope's small entry would count
  # as zero beside a truly zero one (w in (x2 + w | g)), two parameters
  # fixed for one on the optimizer's side, and no standard errors.
  boundary <- function(theta, theta_star, user_mask, star_mask) {
    if (!far) return(user_mask(theta))
    bs <- star_mask(theta_star)
    if (!any(bs)) return(rep(FALSE, length(theta)))
    b <- user_mask(theta)
    il <- p + seq_len(nl)
    b[il] <- bs[il]
    b
  }
  list(X = tx$M, Z = tz$M, identity = identity, far = far, boundary = boundary,
       Tx = tx$T, Txi = Txi, Tzi = Tzi,
       x_scale = tx$scale, z_scale = tz$scale,
       to_star = to_star,
       from_star = function(theta) if (identity) theta else map(theta, Txi, Tzi),
       jacobian = jacobian, rotation = rotation,
       # A typical size of each parameter in the user's units (the singular-
       # fit tolerance is relative to it).
       typical = typical)
}

# The same for the sparse engine (several terms): X as above; the columns
# of each term with its own covariance (not a known K) are transformed by
# that term's q x q matrix T, the same for every level, so that Z* keeps
# the term-by-term, level-by-level layout of Z (re-terms-sparse.R).
# A term whose T centres a column far from zero (centres_far(): x * 1e-6 -
# 5 in (x | a) + (1 | b)) is mapped as glmm_reparam() maps one factor's:
# by an LQ factor (Lambda = T^-1 Lambda* W) with the exact Jacobian, its
# boundary judged on the standardized scale. Through the Cholesky factor of
# D, Lambda's last diagonal entry (a correlation of 1 - 1e-13) was lost to
# cancellation: a false singular fit of binomial data, without standard
# errors. Other terms keep the Cholesky map, bitwise.
sparse_reparam <- function(X, re, p, disp) {
  tx <- design_transform(X)
  Z <- re$Z
  n <- nrow(Z)
  nth <- re$ntheta
  maps <- list()
  typ_lam <- rep(1, nth)
  identity <- tx$identity
  for (k in seq_along(re$terms)) {
    tm <- re$terms[[k]]
    q <- length(tm$cnames)
    if (tm$known_cov) next
    nl <- length(tm$levels)
    # The term's raw columns: each observation belongs to one level.
    raw <- matrix(0, n, q)
    for (j in seq_len(q))
      raw[, j] <- Matrix::rowSums(Z[, tm$columns[seq(j, nl * q, by = q)], drop = FALSE])
    tz <- design_transform(raw, within = FALSE)
    if (tz$identity) next
    identity <- FALSE
    lt <- which(lower.tri(diag(q), diag = TRUE), arr.ind = TRUE)
    lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
    typ_lam[tm$par] <- 1 / tz$scale[lt[, 1L]]
    Ti <- backsolve(tz$T, diag(1, q))
    Z[, tm$columns] <- Z[, tm$columns, drop = FALSE] %*%
      Matrix::kronecker(Matrix::Diagonal(nl), Matrix::Matrix(Ti, sparse = TRUE))
    maps[[length(maps) + 1L]] <- list(term = k, par = tm$par, lt = lt, q = q, T = tz$T, Ti = Ti,
                                      far = q > 1L && centres_far(tz$T))
  }
  Z <- methods::as(methods::as(Z, "CsparseMatrix"), "generalMatrix")
  far <- vapply(maps, `[[`, TRUE, "far")
  map <- function(theta, Tb, which) {
    out <- theta
    out[seq_len(p)] <- drop(Tb %*% theta[seq_len(p)])
    for (m in maps) {
      L <- matrix(0, m$q, m$q)
      L[m$lt] <- theta[p + m$par]
      A <- m[[which]] %*% L
      out[p + m$par] <- if (m$far) lq_blocks(A, m$q)$L[m$lt] else chol_psd(tcrossprod(A))[m$lt]
    }
    out
  }
  Txi <- backsolve(tx$T, diag(1, p))
  typical <- c(1 / tx$scale, typ_lam, if (disp) 1)
  to_star <- function(theta) if (identity) theta else map(theta, tx$T, "T")
  # d theta* / d theta: by differences of to_star, except (with a far term)
  # Tx for beta and, for each far term, exactly: off the boundary the
  # inverse of the Jacobian of Lambda* -> Lambda (lq_jacobian()); on the
  # face where a two-column term's lambda[2,2] is 0 (a correlation of +/-1),
  # where Lambda* = [v*, 0] maps linearly to Lambda = [s T^-1 v*, 0] (s the
  # sign of its first entry, as in lmm_face_map()), s T over (lambda[1,1],
  # lambda[2,1]). Other boundaries keep the differences.
  jacobian <- function(theta, free = rep(TRUE, length(theta))) {
    if (identity) return(diag(1, length(theta)))
    if (!any(far)) return(map_jacobian(to_star, theta, typical, free))
    theta_s <- to_star(theta)
    star_L <- function(m) {
      Ls <- matrix(0, m$q, m$q)
      Ls[m$lt] <- theta_s[p + m$par]
      Ls
    }
    exact <- Filter(function(m) m$far && all(free[p + m$par]), maps)
    face <- Filter(function(m) m$far && m$q == 2L && identical(free[p + m$par], c(TRUE, TRUE, FALSE)) &&
                     sign((m$Ti %*% star_L(m))[1L, 1L]) != 0, maps)
    num <- free
    num[seq_len(p)] <- FALSE
    for (m in c(exact, face)) num[p + m$par] <- FALSE
    J <- map_jacobian(to_star, theta, typical, num)
    J[seq_len(p), seq_len(p)] <- tx$T
    for (m in exact) {
      Ls <- star_L(m)
      lq <- lq_blocks(m$Ti %*% Ls, m$q)
      il <- p + m$par
      J[il, il] <- solve(lq_jacobian(Ls, lq$L, lq$W, m$lt))
    }
    for (m in face) {
      il <- p + m$par
      J[il, il] <- 0
      J[il[1:2], il[1:2]] <- sign((m$Ti %*% star_L(m))[1L, 1L]) * m$T
    }
    J
  }
  # Which parameters the fit reports on a boundary: a far term's judged on
  # the standardized scale (`star_mask` at theta*), every other parameter
  # in the user's units (`user_mask`). In the user's units a far term's
  # small last diagonal entry would count as zero beside a truly zero one
  # (a w in (x2 + w | a) at zero variance): two parameters fixed on the
  # user's side for one on the optimizer's, and no standard errors.
  boundary <- function(theta, theta_star, user_mask, star_mask) {
    b <- user_mask(theta)
    if (!any(far)) return(b)
    bs <- star_mask(theta_star)
    for (m in maps[far]) b[p + m$par] <- bs[p + m$par]
    b
  }
  # Term summaries (sparse_term_summaries()) computed on the standardized
  # design, in the user's parameterization: b = T^{-1} b*, conditional
  # covariances T^{-1} C* T^{-T}, Lambda and D from the user's theta.
  terms_to_user <- function(terms, theta) {
    for (m in maps) {
      tm <- terms[[m$term]]
      L <- matrix(0, m$q, m$q, dimnames = dimnames(tm$Lambda))
      L[m$lt] <- theta[p + m$par]
      tm$Lambda <- L
      tm$D <- L %*% t(L)
      tm$b[] <- tm$b %*% t(m$Ti)
      cv <- tm$condvar
      for (l in seq_len(dim(cv)[3L])) cv[, , l] <- m$Ti %*% cv[, , l] %*% t(m$Ti)
      tm$condvar <- cv
      terms[[m$term]] <- tm
    }
    terms
  }
  list(X = tx$M, Z = Z, identity = identity, far = any(far), Tx = tx$T, to_star = to_star,
       from_star = function(theta) if (identity) theta else map(theta, Txi, "Ti"),
       jacobian = jacobian, boundary = boundary,
       terms_to_user = terms_to_user, typical = typical)
}

# d theta* / d theta by central differences of the (smooth, cheap) map
# to_star, over the parameters in `free` (the other columns are zero), with
# steps relative to each parameter's typical size.
map_jacobian <- function(to_star, theta, typical, free) {
  P <- length(theta)
  J <- matrix(0, P, P)
  for (j in which(free)) {
    h <- 1e-6 * max(abs(theta[j]), typical[j])
    tp <- theta; tp[j] <- tp[j] + h
    tm <- theta; tm[j] <- tm[j] - h
    J[, j] <- (to_star(tp) - to_star(tm)) / (2 * h)
  }
  J
}

# The Hessian in the user's parameterization, J' H* J over the parameters
# off the boundary (NA elsewhere); H* and J from the optimizer's side.
to_user_hessian <- function(Hs, J, star_boundary, on_boundary) {
  if (is.null(Hs)) return(NULL)
  P <- nrow(Hs)
  H <- matrix(NA_real_, P, P)
  fs <- which(!star_boundary)
  fu <- which(!on_boundary)
  if (length(fs) != length(fu) || anyNA(Hs[fs, fs])) return(H)
  Jf <- J[fs, fu, drop = FALSE]
  Hu <- crossprod(Jf, Hs[fs, fs, drop = FALSE] %*% Jf)
  H[fu, fu] <- (Hu + t(Hu)) / 2
  H
}

# Engine summaries (cpp_agq_summaries()) of the standardized effects u*
# turned into those of the user's u = Q u*: the modes and means rotated, the
# q x q covariances (one column-major matrix per row) to Q V Q'.
rotate_summaries <- function(s, Q) {
  if (isTRUE(all(Q == diag(1, nrow(Q))))) return(s)
  s$mode <- s$mode %*% t(Q)
  s$post_mean <- s$post_mean %*% t(Q)
  s$mode_var <- sandwich_rows(s$mode_var, Q)
  s$post_var <- sandwich_rows(s$post_var, Q)
  s
}

# The log-likelihood of a fitted one-grouping-factor model at other values
# of its parameters (the user's parameterization), on the approximation the
# fit reports: that of the standardized design. For comparisons with other
# packages' estimates.
loglik_at_theta <- function(fit, theta, nAGQ = fit$nAGQ) {
  pat <- fit$pattern
  p <- length(fit$coefficients)
  disp <- length(theta) > p + length(pat$row)
  Z <- as.matrix(fit$Z %||% matrix(1, length(fit$y), 1L))
  rp <- glmm_reparam(as.matrix(fit$X), Z, pat, fit$cov_blocks, p, disp)
  n <- length(fit$y)
  eng <- cpp_agq_new(rp$X, rp$Z, as.numeric(fit$y), as.numeric(fit$prior.weights %||% rep(1, n)),
                     as.numeric(fit$offset %||% numeric(n)), fit$group, fit$ngroups,
                     pat$row - 1L, pat$col - 1L, fit$family$family_code,
                     fit$family$link_code, as.integer(nAGQ), 1L)
  on.exit(cpp_agq_free(eng), add = TRUE)
  cpp_agq_eval(eng, rp$to_star(as.numeric(theta)), FALSE)$loglik
}
