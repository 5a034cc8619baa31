# REML for y ~ x + cs(0 + time | id) + (1 | site) with the cs() correlation
# at its +1 boundary (30 ids x 3 times, 6 sites). glmmTMB's fit of the
# same model (false convergence) reports a restricted log-likelihood 0.93
# above ours, but its criterion at its own estimates, computed directly,
# is ours: the reported value is not the likelihood at its estimates. Both
# are checked against a dense n x n REML computation and its maximum.

csb36_data <- function(seed = 34) {
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
# beta integrated out: -(log|V| + log|X'V^-1X| + r'V^-1 r + (n - p) log 2 pi) / 2.
csb36_dense_reml <- function(d, sds, rho, s_site, sigma) {
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
  -0.5 * (2 * sum(log(diag(R))) + as.numeric(determinant(XtX)$modulus) + sum(r^2) +
            (n - p) * log(2 * pi))
}

csb36_par <- function(vc, sigma)
  c(attr(vc$id, "stddev"), attr(vc$id, "correlation")[1, 2], attr(vc$site, "stddev"), sigma)

test_that("REML with the cs() correlation at +1: the dense computation's maximum, from either end", {
  d <- csb36_data()
  f <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  po <- unname(csb36_par(VarCorr(f), f$sigma))
  ll <- as.numeric(logLik(f))
  dense <- function(q) csb36_dense_reml(d, q[1:3], q[4], q[5], q[6])
  # Our value is the restricted log-likelihood at our estimates.
  expect_equal(ll, dense(po), tolerance = 1e-8)
  expect_equal(ll, -132.402926, tolerance = 1e-6)
  expect_gt(po[4], 1 - 1e-4)
  expect_true(isTRUE(f$singular))
  # The dense criterion's maximum from an interior start and from the
  # correlation just below 1: at rho = 1, not above ours.
  nf <- function(q) tryCatch(-dense(q), error = function(e) 1e10)
  lo <- c(0, 0, 0, -0.5, 0, 1e-6)
  hi <- c(10, 10, 10, 1, 10, 10)
  best <- -Inf
  for (st in list(c(1, 1, 1, 0.3, 0.3, 0.5), c(0.9, 1.1, 0.5, 1 - 1e-5, 0.25, 0.78))) {
    o <- stats::optim(st, nf, method = "L-BFGS-B", lower = lo, upper = hi,
                      control = list(factr = 1, pgtol = 0, maxit = 2000))
    expect_gt(o$par[4], 1 - 1e-4)
    best <- max(best, -o$value)
  }
  expect_lt(best, ll + 1e-7)
  expect_gt(best, ll - 1e-7)
  # The profile in rho rises to its end: at rho = 0.999 the maximum is lower.
  o <- stats::optim(po[-4], function(q) nf(c(q[1:3], 0.999, q[4:5])), method = "L-BFGS-B",
                    lower = lo[-4], upper = hi[-4], control = list(factr = 1, pgtol = 0))
  expect_lt(-o$value, ll - 1e-3)
})

test_that("glmmTMB's higher REML value there is not its criterion at its estimates", {
  skip_if_not_installed("glmmTMB")
  d <- csb36_data()
  f <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  tm <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  pt <- unname(csb36_par(glmmTMB::VarCorr(tm)$cond, glmmTMB::sigma(tm)))
  at_tmb <- csb36_dense_reml(d, pt[1:3], pt[4], pt[5], pt[6])
  ll <- as.numeric(logLik(f))
  # Its estimates give at most ours, whatever it reports (-131.470 with
  # glmmTMB 1.1.x against -132.403 at its own estimates).
  expect_lt(at_tmb, ll + 1e-6)
  if (-tm$fit$objective > ll + 1e-6) expect_gt(-tm$fit$objective - at_tmb, 1e-6)
})
