# A dense known covariance with one observation per level, rotated by the
# tridiagonal reduction G = Q T Q' (src/engines/known/known-tridiag.cpp) instead of an
# eigendecomposition: Q'y and Q'X once (Q applied through its reflectors,
# never formed), then each likelihood evaluation factors the tridiagonal
# lambda T + I in O(n) and solves for p + 1 columns. The reduction is
# about a third of the cost of R's eigen() with eigenvectors (reference
# LAPACK), and the exact likelihood, BLUPs and the score scan follow from
# it as from the eigenvectors (known_gaussian_fit(), assoc_scan()).

known_gaussian_rotation_tri <- function(index, K, X, y, g) {
  n <- length(y)
  whole <- is.matrix(K) && identical(index, seq_len(nrow(K)))
  # the reduced copy, plus the reordered G unless K is used as it stands
  check_memory(8 * n^2 * (if (whole) 1 else 2),
               sprintf("the tridiagonal reduction of 'covariance$%s' (%d x %d)", g, n, n))
  G <- if (whole) K else as.matrix(K[index, index])
  storage.mode(G) <- "double"
  tr <- cpp_tridiagonalize(G)
  rm(G)
  if (!tr$symmetric)
    stop(sprintf("'covariance$%s' is not symmetric", g), call. = FALSE)
  ev <- tr$values
  if (min(ev) < -1e-8 * max(abs(ev)))
    stop(sprintf("'covariance$%s' is not positive semidefinite (smallest eigenvalue %.3g)",
                 g, min(ev)), call. = FALSE)
  if (max(ev) <= 0)
    stop(sprintf("'covariance$%s' is zero over the observed levels", g), call. = FALSE)
  keep <- ev > 1e-10 * max(ev)
  basis <- list(packed = tr$packed, h = tr$h)
  y1 <- drop(cpp_householder_apply(tr$packed, tr$h, matrix(y), TRUE))
  X1 <- cpp_householder_apply(tr$packed, tr$h, X, TRUE)
  dimnames(X1) <- list(NULL, colnames(X))
  apply_U <- function(a) drop(cpp_householder_apply(basis$packed, basis$h, matrix(a), FALSE))
  # Q is square: the complement of the rotation is empty.
  p <- ncol(X)
  list(d = ev[keep], tri = list(dT = tr$dT, eT = tr$eT), y1 = y1, X1 = X1, yy_c = 0,
       Xy_c = numeric(p), XX_c = matrix(0, p, p), n = n, apply_U = apply_U, basis = basis,
       k = sum(keep))
}

rotated_solve <- function(rot, lambda, B) {
  s <- rotated_system(rot, lambda, B)
  if (!isTRUE(s$ok)) stop("the rotated covariance is not positive definite", call. = FALSE)
  if (is.matrix(B)) s$solution else drop(s$solution)
}

# The profiled (RE)ML at log(lambda) of a model rotated tridiagonally (or
# left sparse): the same quantities as cpp_known_gaussian_profile()
# (known-gaussian.h), from one O(n p) tridiagonal solve (or one sparse
# Cholesky factorization and solve).
known_gaussian_profile_system <- function(rot, n, log_lambda, reml) {
  lambda <- if (is.infinite(log_lambda) && log_lambda < 0) 0 else exp(log_lambda)
  p <- ncol(rot$X1)
  fail <- list(ok = FALSE, loglik = -Inf)
  s <- rotated_system(rot, lambda, cbind(rot$X1, rot$y1))
  if (!isTRUE(s$ok)) return(fail)
  S <- s$solution
  XtVX <- crossprod(rot$X1, S[, seq_len(p), drop = FALSE])
  XtVX <- (XtVX + t(XtVX)) / 2
  Xy <- drop(crossprod(rot$X1, S[, p + 1L]))
  yy <- sum(rot$y1 * S[, p + 1L])
  R <- tryCatch(chol(XtVX), error = function(e) NULL)
  if (is.null(R)) return(fail)
  beta <- backsolve(R, backsolve(R, Xy, transpose = TRUE))
  # floored as in the diagonal route: cancellation near a perfect fit
  rss <- max(yy - sum(Xy * beta), 1e-300 * max(1, yy))
  df <- if (reml) n - p else n
  if (df <= 0) return(fail)
  s2e <- rss / df
  ll <- -0.5 * (s$logdet + df * (1 + log(2 * pi * s2e)))
  if (reml) ll <- ll - sum(log(diag(R)))
  list(loglik = ll, ok = is.finite(ll), s2e = s2e, beta = beta, XtVX = XtVX)
}
