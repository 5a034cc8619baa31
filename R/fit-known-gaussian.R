# Gaussian models with one known-covariance random intercept, fitted
# exactly (ML or REML) by spectral rotation (src/engines/known/known-gaussian.cpp): one
# eigendecomposition of F'F for a factor F = Z L of G = Z K Z' (a dense K
# with one observation per level is reduced to tridiagonal form instead,
# and a sparse K is left sparse: both below), then O(k p^2) per evaluation
# of the likelihood with beta and the residual variance profiled out, maximized over the variance ratio
# lambda = s2g / s2e by a grid and Brent's method (as EMMA, Kang et al. 2008).
# glmm() routes here (glmm-known.R) when the family is gaussian with
# the identity link and the only random-effect term is a known-covariance
# (1 | id).

#' A known covariance given by its factor
#'
#' `kfactor(L)` declares a known covariance \eqn{K = LL'} by its factor
#' `L` (levels x r), e.g. standardized genotypes divided by
#' \eqn{\sqrt{m}}{sqrt(m)} for a genomic relationship matrix over `m`
#' variants. Given as `covariance = list(id = kfactor(L))` to [glmm()] for a
#' gaussian model, `K` is never formed: the fit works from the thin
#' decomposition of `L` (\eqn{O(n r^2)} operations, memory \eqn{O(n r)}).
#' For a binomial (logit) or Poisson (log) model the Laplace approximation
#' works in the r-dimensional space of `L` (\eqn{O(n r^2)} per evaluation).
#'
#' @param L A numeric matrix, one row per level of the grouping factor
#'   (row names: the levels), without missing values.
#' @return An object of class `glmmgee_kfactor`.
#' @examples
#' set.seed(1)
#' n <- 200; m <- 50
#' G <- matrix(rbinom(n * m, 2, 0.3), n, m)
#' L <- scale(G) / sqrt(m)
#' rownames(L) <- paste0("id", 1:n)
#' d <- data.frame(id = rownames(L), x = rnorm(n))
#' d$y <- 1 + 0.5 * d$x + drop(L %*% rnorm(m)) + rnorm(n)
#' fit <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = kfactor(L)))
#' fit
#' @export
kfactor <- function(L) {
  if (!is.matrix(L) || !is.numeric(L))
    stop("'L' must be a numeric matrix (levels x r)", call. = FALSE)
  if (is.null(rownames(L)) || anyDuplicated(rownames(L)))
    stop("'L' needs unique row names: the levels of the grouping factor", call. = FALSE)
  if (ncol(L) < 1L || any(!is.finite(L)))
    stop("'L' must have at least one column and only finite values", call. = FALSE)
  structure(list(L = L), class = "glmmgee_kfactor")
}

# Bytes of memory this machine has free (Linux: MemAvailable; NA elsewhere,
# where nothing is checked).
memory_available <- function() {
  tryCatch({
    mi <- readLines("/proc/meminfo", warn = FALSE)
    line <- grep("^MemAvailable:", mi, value = TRUE)
    if (length(line)) as.numeric(gsub("[^0-9]", "", line)) * 1024 else NA_real_
  }, error = function(e) NA_real_, warning = function(w) NA_real_)
}

# Refuses at once an allocation of `bytes` that cannot fit in free memory,
# or beyond the option `glmmgee.memory_limit` (bytes) when it is set: a cap
# below the machine's memory, for shared machines and for tests of the
# refusal that must not allocate.
check_memory <- function(bytes, what) {
  avail <- memory_available()
  lim <- getOption("glmmgee.memory_limit")
  if (!is.null(lim)) {
    if (!is.numeric(lim) || length(lim) != 1L || is.na(lim) || lim <= 0)
      stop("option 'glmmgee.memory_limit' must be one positive number of bytes", call. = FALSE)
    avail <- if (is.finite(avail)) min(avail, lim) else lim
  }
  if (is.finite(avail) && bytes > avail)
    stop(sprintf("%s needs about %s GB of memory; %s GB are available",
                 what, format_gb(bytes), format_gb(avail)), call. = FALSE)
  invisible(TRUE)
}

# Bytes as GB with enough digits for small requests (0.0012, not 0.0).
format_gb <- function(bytes) {
  gb <- bytes / 2^30
  if (gb >= 0.1) sprintf("%.1f", gb) else formatC(gb, digits = 2L, format = "fg")
}

# The rotation: eigenvalues d of G, U'y, U'X, the complement's
# cross-products, and a function applying U to a k-vector (for the
# predictions). Each level observed at most once with a dense K: G is a
# submatrix of K, reduced to tridiagonal form instead
# (known_gaussian_rotation_tri()). Otherwise G = F F' with F = Z L (L a factor
# of K: given, or Cholesky / eigen of K), and the eigenvectors of F'F
# (r x r) give U = F V S^{-1} without forming it.
known_gaussian_rotation <- function(index, K, kf, X, y, g) {
  n <- length(y)
  nl <- if (is.null(kf)) nrow(K) else nrow(kf$L)
  tol <- 1e-10
  if (is.null(kf) && inherits(K, "sparseMatrix"))
    return(known_gaussian_rotation_sparse(index, K, X, y, g))
  if (is.null(kf) && max(tabulate(index, nl)) <= 1L)
    return(known_gaussian_rotation_tri(index, K, X, y, g))
  L <- if (is.null(kf)) as.matrix(covariance_factor(K, g)) else kf$L
  r <- ncol(L)
  check_memory(8 * (2 * n * r + 3 * r^2),
               sprintf("the decomposition of the factor of 'covariance$%s' (%d x %d)", g, n, r))
  Fm <- L[index, , drop = FALSE]
  e <- eigen(crossprod(Fm), symmetric = TRUE)
  keep <- e$values > tol * max(e$values)
  V <- e$vectors[, keep, drop = FALSE]
  d <- e$values[keep]
  s <- sqrt(d)
  y1 <- drop(crossprod(V, crossprod(Fm, y))) / s
  X1 <- crossprod(V, crossprod(Fm, X)) / s
  known_rotation(X, y, d, y1, X1, function(a) drop(Fm %*% (V %*% (a / s))),
                 list(L = L, V = V, s = s), complement = TRUE)
}

# A rotation's fields (known_gaussian_rotation()): with its complement's
# cross-products, or a square one (tridiagonal, or the sparse identity)
# whose complement is empty.
known_rotation <- function(X, y, d, y1, X1, apply_U, basis, k = length(d), complement = FALSE,
                           ...) {
  p <- ncol(X)
  c(list(d = d, y1 = y1, X1 = X1, n = length(y), apply_U = apply_U, basis = basis, k = k,
         yy_c = if (complement) sum(y^2) - sum(y1^2) else 0,
         Xy_c = if (complement) drop(crossprod(X, y)) - drop(crossprod(X1, y1)) else numeric(p),
         XX_c = if (complement) crossprod(X) - crossprod(X1) else matrix(0, p, p)), list(...))
}

# The fit from the rotation: the profiled (RE)ML maximized over
# t = log(lambda) (known_ratio_search()), with beta and the residual
# variance profiled out.
known_gaussian_fit <- function(X, y, index, K, kf, g, reml) {
  n <- length(y)
  known_multi_check(X, y, reml)
  rot <- known_gaussian_rotation(index, K, kf, X, y, g)
  prof <- if (is.null(rot$tri) && is.null(rot$sparse)) {
    function(t) cpp_known_gaussian_profile(rot$d, rot$y1, rot$X1, rot$yy_c, rot$Xy_c,
                                           rot$XX_c, n, t, reml)
  } else {
    function(t) known_gaussian_profile_system(rot, n, t, reml)
  }
  nev <- 0L
  ll <- function(t) { nev <<- nev + 1L; r <- prof(t); if (isTRUE(r$ok)) r$loglik else -Inf }
  srch <- known_ratio_search(ll, -log(mean(rot$d)))
  t_hat <- srch$t
  singular <- srch$singular
  residual_zero <- srch$residual_zero
  best <- prof(t_hat)
  # The other criterion at the same variance ratio, sigma profiled (as
  # lme4's logLik(REML = ) of the other kind): the ML log-likelihood of a
  # REML fit, the restricted one of an ML fit.
  other <- if (is.null(rot$tri) && is.null(rot$sparse))
    cpp_known_gaussian_profile(rot$d, rot$y1, rot$X1, rot$yy_c, rot$Xy_c, rot$XX_c, n, t_hat, !reml)
  else known_gaussian_profile_system(rot, n, t_hat, !reml)
  lambda <- if (singular) 0 else exp(t_hat)
  est <- known_multi_estimates(best, list(s0 = 1), lambda, X, y)
  beta <- est$beta
  s2e <- best$s2e
  # Predictions b = s2g K Z' V^{-1} r = lambda K Z' a with
  # a = (lambda G + I)^{-1} r = r - U (I - W) U' r, W the rotated inverse.
  r1 <- rot$y1 - drop(rot$X1 %*% beta)
  a <- est$r - rot$apply_U(r1 - rotated_solve(rot, lambda, r1))
  b <- known_level_blup(a, index, if (is.null(kf)) nrow(K) else nrow(kf$L), lambda, kf$L,
                        if (is.null(kf)) K)
  condvar <- known_gaussian_condvar(rot, index, K, kf, lambda, lambda * s2e)
  list(beta = beta, vcov = est$vcov, s2e = if (residual_zero) 0 else s2e, s2g = lambda * s2e,
       condvar = condvar,
       lambda = if (residual_zero) Inf else lambda,
       loglik = best$loglik, loglik_ml = if (reml) other$loglik,
       loglik_reml = if (!reml) other$loglik,
       b = b, singular = singular, residual_zero = residual_zero,
       cov_var = known_gaussian_varcov(rot, beta, sqrt(lambda * s2e), 0.5 * log(s2e), singular,
                                       residual_zero),
       kdiag = if (is.null(kf)) as.numeric(Matrix::diag(K)) else rowSums(kf$L^2),
       # what assoc_scan() needs to rotate variants without decomposing again
       rotation = list(basis = rot$basis, index = index, d = rot$d, tri = rot$tri,
                       sparse = rot$sparse, y1 = rot$y1, X1 = rot$X1, lambda = lambda,
                       s2e = s2e),
       optinfo = new_optinfo(optimizer = "grid + Brent (optimize)", nAGQ = 1L,
                      method = sprintf("%s (%s)", if (reml) "REML" else "ML",
                                       if (!is.null(rot$sparse)) "sparse Cholesky"
                                       else if (!is.null(rot$tri)) "tridiagonal rotation"
                                       else "spectral rotation"),
                      evaluations = nev, rank = rot$k, warnings = character(),
                      residual_zero = isTRUE(residual_zero)))
}

# The maximum of the profiled (RE)ML `ll` over t = log(lambda), lambda =
# s2g / s2e: a grid of half-unit steps 12 units either side of `centre`
# (where lambda mean(d) = 1, equal shares), refined by Brent's method
# between the best grid point's neighbours. While the best point is an end
# of the grid, the grid goes on by further half units, up to `reach` = 30
# units from the centre (a share of about 1e-13 of V): with replicates of
# a level (or a singular G) the residual is estimable and the likelihood
# falls again beyond an optimum that can lie far past 12 units (s2g / s2e
# of 1e6: the grid's end was taken for it, s2g off by a factor of 3 and
# the log-likelihood 90 below the maximum). Below the grid it goes on only
# while its lowest point is above the boundary lambda = 0 (s2g = 0), which
# wins when it is no lower than the optimum (`singular`).
#
# The residual's boundary (s2e = 0, lambda -> infinity) is a legitimate
# optimum when G is positive definite (one observation per level, K
# positive definite): the profile then rises to a finite limit. When the
# grid's last point, `reach` units up, is within rounding (1e-9 relative)
# of its best, the fit is recorded there, `residual_zero` (s2e = 0): the
# residual's share of V is then below its floor relative to the data.
known_ratio_search <- function(ll, centre, reach = 30) {
  steps <- seq(-12, 12, by = 0.5)
  vals <- vapply(centre + steps, ll, 0)
  ll0 <- ll(-Inf)
  repeat {
    j <- which.max(vals)
    m <- length(steps)
    more <- if (j == m && steps[m] < reach) {
      steps[m] + 0.5 * seq_len(min(12, (reach - steps[m]) / 0.5))
    } else if (j == 1L && steps[1L] > -reach && vals[1L] > ll0) {
      steps[1L] - 0.5 * rev(seq_len(min(12, (reach + steps[1L]) / 0.5)))
    }
    if (is.null(more)) break
    nv <- vapply(centre + more, ll, 0)
    up <- more[1L] > steps[m]
    steps <- if (up) c(steps, more) else c(more, steps)
    vals <- if (up) c(vals, nv) else c(nv, vals)
  }
  grid <- centre + steps
  m <- length(steps)
  opt <- stats::optimize(ll, grid[c(max(j - 1L, 1L), min(j + 1L, m))], maximum = TRUE,
                         tol = 1e-9)
  top <- max(vals[j], opt$objective)
  singular <- ll0 >= opt$objective
  residual_zero <- !singular && steps[m] >= reach && vals[m] >= top - 1e-9 * max(1, abs(top))
  # (the top point as centre + 12 + 18, where earlier versions put it)
  list(t = if (singular) -Inf else if (residual_zero) centre + 12 + (reach - 12) else opt$maximum,
       singular = singular, residual_zero = residual_zero)
}

# The conditional variances Var(b_i | y) of the levels at the estimates,
# beta held at its estimate (as lme4's condVar): with b ~ N(0, s2g K) and
# V = s2e (I + lambda G), G = Z K Z', the diagonal of
#   s2g (K - lambda K Z' (I + lambda G)^-1 Z K),
# which is (Z'Z / s2e + (s2g K)^-1)^-1 where K is invertible but needs no
# inverse (K may be singular, or given by its factor). From the fit's own
# rotation: with F = Z L = U S V' (spectral), b = L u and
# Var(u | y) = s2g (V diag(1 / (1 + lambda d)) V' + I - V V'); otherwise
# (tridiagonal, sparse) the columns of Z K are rotated and solved in
# chunks. `s2g` is lambda times the profiled residual variance (finite
# also where the residual variance is recorded as zero).
known_gaussian_condvar <- function(rot, index, K, kf, lambda, s2g) {
  if (is.null(rot$tri) && is.null(rot$sparse)) {
    B <- rot$basis
    LV <- B$L %*% B$V
    shrink <- lambda * rot$d / (1 + lambda * rot$d)
    return(pmax(s2g * (rowSums(B$L^2) - drop(LV^2 %*% shrink)), 0))
  }
  kd <- as.numeric(Matrix::diag(K))
  q <- numeric(nrow(K))
  if (lambda > 0) for (cols in column_chunks(nrow(K), length(index))) {
    W <- as.matrix(K[index, cols, drop = FALSE])
    if (!is.null(rot$tri)) W <- cpp_householder_apply(rot$basis$packed, rot$basis$h, W, TRUE)
    q[cols] <- colSums(W * rotated_solve(rot, lambda, W))
  }
  pmax(s2g * (kd - lambda * q), 0)
}

# Column blocks of 1:nl whose n-row dense blocks hold about two million
# entries (the conditional variances' solves).
column_chunks <- function(nl, n) {
  step <- max(1L, floor(2^21 / max(n, 1L)))
  split(seq_len(nl), ceiling(seq_len(nl) / step))
}

# Covariance of (sd of the known-covariance effect, log residual sd): the
# inverse of the observed information of the ML log-likelihood in the
# rotated coordinates (O(k) per evaluation), beta held at its estimate (for
# the gaussian family beta and the variance parameters are asymptotically
# independent). For a REML fit it is evaluated at the REML estimates.
known_gaussian_varcov <- function(rot, beta, sdg, lsig, singular, residual_zero = FALSE) {
  r1 <- rot$y1 - drop(rot$X1 %*% beta)
  rc <- rot$yy_c - 2 * sum(beta * rot$Xy_c) + drop(crossprod(beta, rot$XX_c %*% beta))
  ll <- function(th) {
    s2e <- exp(2 * th[2L])
    s <- rotated_system(rot, th[1L]^2 / s2e, r1)
    if (!isTRUE(s$ok)) return(NA_real_)
    -0.5 * (s$logdet + rot$n * log(s2e) + (sum(r1 * s$solution) + rc) / s2e)
  }
  # the residual on its boundary (residual_zero): the effect's sd alone
  known_multi_hessian_cov(ll, c(sdg, lsig), c(!singular, !residual_zero))
}

# A sparse known covariance (a Matrix::sparseMatrix K: pedigree,
# compactly supported spatial covariance, neighbourhood structure) kept
# sparse end to end: with A = Z K Z' (sparse, n x n) the model's
# V* = lambda A + I is factored by CHOLMOD's sparse Cholesky (through
# Matrix) at each value of the variance ratio, the fill-reducing ordering
# and symbolic analysis done once. Memory is that of A and of the factor,
# linear in their nonzeros; K is never densified and no eigenvectors are
# formed. The "rotation" is the identity: known_gaussian_fit(), its
# standard errors and assoc_scan() work through rotated_system() as for
# the tridiagonal rotation.

known_gaussian_rotation_sparse <- function(index, K, X, y, g) {
  n <- length(y)
  A <- known_sparse_term(K, index, g, n)$A
  check_memory(8 * 4 * (length(A@x) + n),
               sprintf("the sparse factorization of 'covariance$%s' (%d x %d, %d nonzeros)",
                       g, n, n, length(A@x)))
  dA <- Matrix::diag(A)
  # Symbolic analysis once (AMD ordering); a K that is not positive
  # semidefinite shows as a failed factorization of A + eps I.
  L0 <- tryCatch(Matrix::Cholesky(A, perm = TRUE, LDL = FALSE, super = NA,
                                  Imult = 1e-8 * mean(dA)),
                 error = function(e) NULL, warning = function(w) NULL)
  if (is.null(L0))
    stop_not_semidefinite(sprintf("'covariance$%s'", g), "its sparse Cholesky factorization failed")
  # mean(d) of the spectral routes (the grid's centre): trace / n
  known_rotation(X, y, mean(dA), y, X, function(a) a, list(identity = TRUE), k = n,
                 sparse = list(A = A, L0 = L0))
}

# (lambda D + I)^{-1} B and log det(lambda D + I) in the coordinates of a
# rotation: D diagonal (spectral), tridiagonal, or the sparse A itself.
rotated_system <- function(rot, lambda, B) {
  B <- as.matrix(B)
  if (!is.null(rot$sparse)) {
    if (lambda == 0) return(list(ok = TRUE, solution = B, logdet = 0))
    L <- chm_update(rot$sparse$L0, lambda * rot$sparse$A, mult = 1)
    if (is.null(L)) return(list(ok = FALSE))
    return(list(ok = TRUE, solution = as.matrix(Matrix::solve(L, B, system = "A")),
                logdet = 2 * chm_half_logdet(L)))
  }
  if (!is.null(rot$tri)) return(cpp_tridiag_solve(rot$tri$dT, rot$tri$eT, lambda, B))
  list(ok = TRUE, solution = B / (1 + lambda * rot$d), logdet = sum(log1p(lambda * rot$d)))
}

# A CHOLMOD factor L0 updated to the factor of A + mult I on its pattern
# (NULL where that fails: not positive definite), and half the log
# determinant of the factored matrix (that of L: what determinant() of a
# CHMfactor gives).
chm_update <- function(L0, A, mult = 0) {
  tryCatch(Matrix::update(L0, A, mult = mult), error = function(e) NULL, warning = function(w) NULL)
}
chm_half_logdet <- function(L) as.numeric(Matrix::determinant(L, sqrt = TRUE)$modulus)

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
    stop_not_semidefinite(sprintf("'covariance$%s'", g), sprintf("smallest eigenvalue %.3g", min(ev)))
  if (max(ev) <= 0)
    stop(sprintf("'covariance$%s' is zero over the observed levels", g), call. = FALSE)
  keep <- ev > 1e-10 * max(ev)
  basis <- list(packed = tr$packed, h = tr$h)
  y1 <- drop(cpp_householder_apply(tr$packed, tr$h, matrix(y), TRUE))
  X1 <- cpp_householder_apply(tr$packed, tr$h, X, TRUE)
  dimnames(X1) <- list(NULL, colnames(X))
  # Q is square: the complement of the rotation is empty.
  known_rotation(X, y, ev[keep], y1, X1,
                 function(a) drop(cpp_householder_apply(basis$packed, basis$h, matrix(a), FALSE)),
                 basis, tri = list(dT = tr$dT, eT = tr$eT))
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
