# The cs() data and the dense REML computation of test-covstruct-cs-reml-boundary.R and
# test-covstruct-cs-sigma-limit.R: y ~ x + cs(0 + time | id) + (1 | site) with one
# observation per id and time (30 ids x 3 times, 6 sites).

cs_residual_data <- function(seed = 34) {
  set.seed(seed)
  n <- 30
  T <- 3
  d <- expand.grid(time = factor(1:T), id = factor(1:n))
  sdt <- c(1, 1.3, 0.8)
  L <- diag(sdt) %*% (matrix(0.5, T, T) + diag(0.5, T)) %*% diag(sdt)
  b <- t(chol(L)) %*% matrix(rnorm(T * n), T, n)
  d$x <- rnorm(nrow(d))
  d$y <- 1 + 0.5 * d$x + b[cbind(as.integer(d$time), as.integer(d$id))] + rnorm(nrow(d), sd = 0.5)
  d$site <- factor(rep(1:6, length.out = nrow(d)))
  d
}

# The restricted log-likelihood from V = Z D Z' + s_site^2 J_site + sigma^2 I
# (D: heterogeneous compound symmetry with SDs sds and correlation rho),
# beta integrated out: -(log|V| + log|X'V^-1X| + r'V^-1 r + (n - p) log 2 pi) / 2;
# with reml = FALSE the log-likelihood at beta's GLS estimate,
# -(log|V| + r'V^-1 r + n log 2 pi) / 2.
cs_residual_dense_loglik <- function(d, sds, rho, s_site, sigma, reml = TRUE) {
  X <- stats::model.matrix(~ x, d)
  n <- nrow(X)
  p <- ncol(X)
  T <- nlevels(d$time)
  C <- diag(sds, T) %*% (matrix(rho, T, T) + diag(1 - rho, T)) %*% diag(sds, T)
  it <- as.integer(d$time)
  V <- C[it, it] * outer(d$id, d$id, "==") + s_site^2 * outer(d$site, d$site, "==") + sigma^2 * diag(n)
  R <- chol(V)
  Xs <- backsolve(R, X, transpose = TRUE)
  ys <- backsolve(R, d$y, transpose = TRUE)
  XtX <- crossprod(Xs)
  r <- ys - Xs %*% solve(XtX, crossprod(Xs, ys))
  if (!reml) return(-0.5 * (2 * sum(log(diag(R))) + sum(r^2) + n * log(2 * pi)))
  -0.5 * (2 * sum(log(diag(R))) + as.numeric(determinant(XtX)$modulus) + sum(r^2) +
            (n - p) * log(2 * pi))
}

cs_residual_par <- function(vc, sigma)
  c(attr(vc$id, "stddev"), attr(vc$id, "correlation")[1, 2], attr(vc$site, "stddev"), sigma)
