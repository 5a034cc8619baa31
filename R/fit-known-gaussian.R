# Gaussian models with one known-covariance random intercept, fitted
# exactly (ML or REML) by spectral rotation (src/engines/known/known-gaussian.cpp): one
# eigendecomposition of F'F for a factor F = Z L of G = Z K Z' (a dense K
# with one observation per level is reduced to tridiagonal form instead,
# fit-known-gaussian-tri.R; a sparse K is left sparse,
# fit-known-gaussian-sparse.R),
# then O(k p^2) per evaluation of the likelihood with beta and the residual
# variance profiled out, maximized over the variance ratio
# lambda = s2g / s2e by a grid and Brent's method (as EMMA, Kang et al. 2008).
# glmm() routes here (glmm-known-gaussian.R) when the family is gaussian with
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
# (fit-known-gaussian-tri.R). Otherwise G = F F' with F = Z L (L a factor
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
  apply_U <- function(a) drop(Fm %*% (V %*% (a / s)))
  basis <- list(L = L, V = V, s = s)
  list(d = d, tri = NULL, y1 = y1, X1 = X1, yy_c = sum(y^2) - sum(y1^2),
       Xy_c = drop(crossprod(X, y)) - drop(crossprod(X1, y1)),
       XX_c = crossprod(X) - crossprod(X1), n = n, apply_U = apply_U, basis = basis,
       k = length(d))
}

# The fit from the rotation: the profiled (RE)ML over t = log(lambda) on a
# grid of half-unit steps, refined by Brent's method around the best grid
# point, and compared with the boundary lambda = 0 (s2g = 0).
known_gaussian_fit <- function(X, y, index, K, kf, g, reml) {
  n <- length(y)
  p <- ncol(X)
  check_full_rank(X)
  if (reml && n <= p)
    stop("REML needs more observations than fixed effects", call. = FALSE)
  rot <- known_gaussian_rotation(index, K, kf, X, y, g)
  prof <- if (is.null(rot$tri) && is.null(rot$sparse)) {
    function(t) cpp_known_gaussian_profile(rot$d, rot$y1, rot$X1, rot$yy_c, rot$Xy_c,
                                           rot$XX_c, n, t, reml)
  } else {
    function(t) known_gaussian_profile_system(rot, n, t, reml)
  }
  nev <- 0L
  ll <- function(t) { nev <<- nev + 1L; r <- prof(t); if (isTRUE(r$ok)) r$loglik else -Inf }
  # Centred where lambda * mean(d) = 1 (equal shares), 12 units either way.
  grid <- -log(mean(rot$d)) + seq(-12, 12, by = 0.5)
  vals <- vapply(grid, ll, 0)
  j <- which.max(vals)
  opt <- stats::optimize(ll, grid[c(max(j - 1L, 1L), min(j + 1L, length(grid)))],
                         maximum = TRUE, tol = 1e-9)
  t_hat <- opt$maximum
  warn <- character()
  ll0 <- ll(-Inf)
  singular <- ll0 >= opt$objective
  # The residual variance's boundary (s2e = 0, lambda -> infinity) is a
  # legitimate optimum when G is positive definite (one observation per
  # level, K positive definite). The profile is continuous there, so when
  # the grid's best point is its upper end it is evaluated 18 units further
  # (the residual's share of V about 1e-13), which is the boundary's value
  # to within that share: if no lower, the fit is recorded there, s2e = 0.
  residual_zero <- FALSE
  if (singular) t_hat <- -Inf
  else if (j == length(grid)) {
    t_far <- grid[length(grid)] + 18
    ll_far <- ll(t_far)
    if (is.finite(ll_far) && ll_far >= opt$objective) {
      t_hat <- t_far
      residual_zero <- TRUE
    } else {
      warn <- c(warn, "the residual variance is estimated at (near) zero: the variance ratio is at the upper end of its search range")
    }
  }
  best <- prof(t_hat)
  lambda <- if (singular) 0 else exp(t_hat)
  s2e <- best$s2e
  beta <- drop(best$beta)
  names(beta) <- colnames(X)
  vc <- s2e * chol2inv(chol(best$XtVX))
  dimnames(vc) <- list(names(beta), names(beta))
  # Predictions b = s2g K Z' V^{-1} r = lambda K Z' a with
  # a = (lambda G + I)^{-1} r = r - U (I - W) U' r, W the rotated inverse.
  r <- y - drop(X %*% beta)
  r1 <- rot$y1 - drop(rot$X1 %*% beta)
  a <- r - rot$apply_U(r1 - rotated_solve(rot, lambda, r1))
  nl <- if (is.null(kf)) nrow(K) else nrow(kf$L)
  zta <- numeric(nl)
  s <- rowsum(a, index)
  zta[as.integer(rownames(s))] <- s
  b <- lambda * if (is.null(kf)) drop(as.matrix(K %*% zta)) else drop(kf$L %*% crossprod(kf$L, zta))
  list(beta = beta, vcov = vc, s2e = if (residual_zero) 0 else s2e, s2g = lambda * s2e,
       lambda = if (residual_zero) Inf else lambda,
       loglik = best$loglik, b = b, singular = singular, residual_zero = residual_zero,
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
                      evaluations = nev, rank = rot$k, warnings = warn,
                      residual_zero = isTRUE(residual_zero)))
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
  th <- c(sdg, lsig)
  h <- 1e-4 * pmax(abs(th), 1e-2)
  H <- matrix(0, 2L, 2L)
  for (i in 1:2) for (j in 1:2) {
    ei <- replace(numeric(2L), i, h[i])
    ej <- replace(numeric(2L), j, h[j])
    H[i, j] <- (ll(th + ei + ej) - ll(th + ei - ej) - ll(th - ei + ej) + ll(th - ei - ej)) /
      (4 * h[i] * h[j])
  }
  out <- matrix(NA_real_, 2L, 2L)
  if (singular) {
    if (-H[2L, 2L] > 0) out[2L, 2L] <- -1 / H[2L, 2L]
  } else if (residual_zero) {
    # the residual on its boundary: the effect's sd alone
    if (-H[1L, 1L] > 0) out[1L, 1L] <- -1 / H[1L, 1L]
  } else {
    inv <- tryCatch(solve(-H), error = function(e) NULL)
    if (!is.null(inv) && all(diag(inv) > 0)) out <- inv
  }
  out
}
