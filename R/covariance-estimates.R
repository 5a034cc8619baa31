# The covariance of the estimates: the inverse of the observed information
# over the parameters not on a boundary, taken on a scale whose condition
# does not depend on the covariates' units (the information scaled to unit
# diagonal, or the optimizer's standardized parameters mapped back by the
# inverse of the map's Jacobian).

# A Hessian (or covariance) with the rows and columns of the parameters
# `on_boundary` (logical or positions) set to NA; NULL stays NULL.
na_at_boundary <- function(H, on_boundary) {
  if (is.null(H)) return(NULL)
  H[on_boundary, ] <- NA_real_
  H[, on_boundary] <- NA_real_
  H
}

# Covariance of the parameter estimates: inverse of the observed information
# over the parameters not on a boundary (those get NA).
invert_information <- function(hess, on_boundary, pnames, cond = TRUE) {
  P <- length(pnames)
  V <- matrix(NA_real_, P, P, dimnames = list(pnames, pnames))
  if (is.null(hess)) return(V)
  idx <- which(!on_boundary)
  info <- -hess[idx, idx, drop = FALSE]
  # Singularity is judged and the inverse taken on the information scaled
  # to unit diagonal (S^-1 I S^-1, S = sqrt(diag I)), whose condition does
  # not depend on the units of the covariates: a covariate far from zero
  # (x + 1e4 beside the intercept) gives the raw information a condition
  # number near 1e16 and lost every standard error, although the scaled one
  # is well conditioned and the inverse S^-1 (S^-1 I S^-1)^-1 S^-1 exact.
  dg <- if (anyNA(info)) NA else diag(info)
  if (anyNA(dg) || any(dg <= 0)) return(V)
  # eigen() and solve() took any matrix-like information (as.matrix());
  # the C++ call below takes a base matrix.
  if (!is.matrix(info)) info <- as.matrix(info)
  s <- 1 / sqrt(dg)
  # tcrossprod(s): the products s_i s_j as outer() gives them, a few
  # microseconds less (each entry is one rounded product either way).
  ss <- tcrossprod(s)
  info_s <- info * ss
  # Numerically singular information (e.g. coefficients drifting to
  # infinity under separation: the smallest eigenvalue of info_s at most
  # 1e-14 times the largest, or solve() refusing it) gives no standard
  # errors, not an error. The eigenvalues, the inverse and the condition
  # number come from one C++ call (cpp_info_inverse(),
  # src/util/info-inverse.cpp): the LAPACK routines of eigen() and solve() with
  # R's arguments, the same numbers without the R wrappers' cost.
  iv <- cpp_info_inverse(info_s, if (cond) info)
  if (!iv$ok) return(V)
  V[idx, idx] <- iv$inverse * ss
  attr(V, "ok") <- TRUE
  # The condition number reported is the raw information's, as before. It
  # takes its own eigenvalues: scaling by S is a congruence, not a
  # similarity, so the scaled eigenvalues give only the bound
  # cond(I) <= cond(S^-1 I S^-1) * (max S / min S)^2, not the number; the
  # second decomposition of a P x P matrix costs 16-30 microseconds for
  # P = 6-20 (0.3 ms at P = 60), nothing beside the fit. `cond = FALSE`
  # leaves it out for a caller that takes it again from the Hessian it
  # reports (a fit on y / s mapped back: unscale_covariance()).
  if (cond) attr(V, "cond") <- iv$cond
  V
}

raw_condition <- function(info) {
  ev_raw <- tryCatch(eigen(info, symmetric = TRUE, only.values = TRUE)$values,
                     error = function(e) NA)
  if (anyNA(ev_raw)) NA_real_ else if (min(ev_raw) > 0) max(ev_raw) / min(ev_raw) else Inf
}

# The covariance of the estimates in the user's parameterization, inverted
# on the optimizer's standardized scale and mapped back: V = A Vs A' with
# A = J^-1 over the free parameters (J = d theta* / d theta, Hs the
# optimizer's Hessian, `hess` the user's, J' Hs J). Inverting the user's
# information instead made the standard errors depend on the covariates'
# units and location: with x * 1e-6 - 5 the intercept and the coefficient of
# x are correlated to 1 - 1e-14 there, so the inverse lost about as many
# digits as the condition number has (standard errors 1e-4 to 1e-3 relative
# off, or none at all: "not negative definite"), while on the standardized
# scale the information is well conditioned and the map is exact. Whether
# the information is numerically singular is also judged there. The
# condition number reported stays the user's information's.
star_covariance <- function(Hs, J, star_boundary, on_boundary, pnames, hess, Tx = NULL) {
  P <- length(pnames)
  V <- matrix(NA_real_, P, P, dimnames = list(pnames, pnames))
  if (is.null(Hs) || is.null(hess)) return(V)
  fs <- which(!star_boundary)
  fu <- which(!on_boundary)
  if (length(fs) != length(fu)) return(V)
  Hs <- na_at_boundary(Hs, star_boundary)
  Vs <- invert_information(Hs, star_boundary, pnames)
  if (is.null(attr(Vs, "ok"))) return(V)
  A <- jacobian_inverse(J[fs, fu, drop = FALSE])
  if (is.null(A) || !all(is.finite(A))) {
    # A map singular in one block only (a correlation at +/-1 in a far
    # slope's LQ map of Lambda): the other blocks' parameters keep their
    # standard errors, that block's are NA (jacobian_blocks_inverse()).
    A <- jacobian_blocks_inverse(J[fs, fu, drop = FALSE])
    if (is.null(A)) return(invert_information(hess, on_boundary, pnames))
  }
  Vu <- A %*% Vs[fs, fs, drop = FALSE] %*% t(A)
  sing <- attr(A, "singular")
  if (length(sing)) {
    Vu[sing, ] <- NA_real_
    Vu[, sing] <- NA_real_
  }
  V[fu, fu] <- (Vu + t(Vu)) / 2
  attr(V, "ok") <- TRUE
  # V = A V* A' over the free parameters, kept where a covariate's units
  # make V itself lose the digits a derived quantity needs (delta_cov(); the
  # caller passes the design's Tx then). The fixed effects' block of A is
  # Tx^{-1} exactly: J's central differences carry rounding errors of 1e-10
  # relative there, which x * 1e-6 - 5 magnifies to 1e-4 in a prediction.
  if (!is.null(Tx)) {
    ip <- seq_len(ncol(Tx))
    Je <- J
    Je[ip, ] <- 0
    Je[, ip] <- 0
    Je[ip, ip] <- Tx
    Ae <- jacobian_inverse(Je[fs, fu, drop = FALSE])
    if (!is.null(Ae) && all(is.finite(Ae)))
      attr(V, "star") <- list(T = Ae, V = Vs[fs, fs, drop = FALSE], index = fu, P = P)
  }
  info <- -hess[fu, fu, drop = FALSE]
  attr(V, "cond") <- if (anyNA(info)) NA_real_ else raw_condition(info)
  V
}

# The inverse of a map's Jacobian; by back substitution where solve()
# refuses an upper triangular one as computationally singular: a covariate
# far from zero centred by the constant a factor's indicators span
# (0 + f + x, x = Days + 1e8: design_transform()) puts the mean in every
# indicator's row of T, a condition number near 1e17 that back
# substitution inverts exactly (its entries are the map's own). NULL when
# neither applies.
# The inverse of a block-diagonal (up to a permutation) Jacobian block by
# block, where the whole is singular: the connected blocks of its non-zero
# pattern are inverted one by one (jacobian_inverse()); a block that is
# singular is left at zero and named in attr(, "singular") (its
# parameters' standard errors are then NA). The fixed effects and a zero-part slope's Lambda are separate
# blocks: at a correlation of +/-1 the Lambda block's map is singular, and
# the fixed effects lost their standard errors with it (rounding had
# decided whether solve() accepted the whole). NULL when J is one block or
# no block could be inverted.
jacobian_blocks_inverse <- function(J) {
  P <- nrow(J)
  if (P != ncol(J) || P < 2L) return(NULL)
  # an NA/NaN entry links its row and column (treated as zero, it split a
  # block whose inverse is unknown into blocks that looked invertible)
  nz <- is.na(J) | J != 0
  nz <- nz | t(nz)
  comp <- rep(0L, P)
  k <- 0L
  for (i in seq_len(P)) {
    if (comp[i]) next
    k <- k + 1L
    todo <- i
    while (length(todo)) {
      comp[todo] <- k
      todo <- setdiff(which(colSums(nz[todo, , drop = FALSE]) > 0 & comp == 0L), todo)
    }
  }
  if (k < 2L) return(NULL)
  A <- matrix(0, P, P)
  bad <- integer()
  any_ok <- FALSE
  for (b in seq_len(k)) {
    ix <- which(comp == b)
    Ab <- jacobian_inverse(J[ix, ix, drop = FALSE])
    if (is.null(Ab) || !all(is.finite(Ab))) {
      bad <- c(bad, ix)
    } else {
      A[ix, ix] <- Ab
      any_ok <- TRUE
    }
  }
  if (!any_ok) return(NULL)
  attr(A, "singular") <- sort(bad)
  A
}

#
# A map whose ill-conditioning is only its rows' and columns' scales (a
# zero-part slope c2 = cover * 1e-6 - 5 under its LQ map: entries from 1 to
# 5e6) is inverted on J equilibrated, D_r J D_c with each row and then each
# column scaled to a largest entry of 1, and scaled back, D_c (.)^-1 D_r:
# solve() had refused it on rounding-level differences in the estimates, and
# the fit lost every standard error ("not negative definite").
jacobian_inverse <- function(J) {
  tryCatch(solve(J), error = function(e) {
    # a Jacobian with NA/NaN entries (differences at a point where the map
    # is not finite) has no inverse here: NULL, not an error in if (NA)
    if (anyNA(J)) return(NULL)
    if (all(J[lower.tri(J)] == 0) && all(diag(J) != 0)) return(backsolve(J, diag(1, nrow(J))))
    r <- 1 / apply(abs(J), 1L, max)
    Jr <- J * r
    cc <- 1 / apply(abs(Jr), 2L, max)
    if (!all(is.finite(c(r, cc)))) return(NULL)
    Ji <- tryCatch(solve(sweep(Jr, 2L, cc, `*`)), error = function(e) NULL)
    if (is.null(Ji)) NULL else (Ji * cc) %*% diag(r, length(r))
  })
}
