# REML for y ~ x + cs(0 + time | id) + (1 | site) with the cs() correlation
# at its +1 boundary (30 ids x 3 times, 6 sites). glmmTMB's fit of the
# same model (false convergence) reports a restricted log-likelihood 0.93
# above ours, but its criterion at its own estimates, computed directly,
# is ours: the reported value is not the likelihood at its estimates. Both
# are checked against a dense n x n REML computation and its maximum.
# (Data and the dense computation: helper-cs-residual-data.R.)

test_that("REML with the cs() correlation at +1: the dense computation's maximum, from either end", {
  d <- cs_residual_data()
  f <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  po <- unname(cs_residual_par(VarCorr(f), f$sigma))
  ll <- as.numeric(logLik(f))
  dense <- function(q) cs_residual_dense_loglik(d, q[1:3], q[4], q[5], q[6])
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
  d <- cs_residual_data()
  f <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  tm <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  pt <- unname(cs_residual_par(glmmTMB::VarCorr(tm)$cond, glmmTMB::sigma(tm)))
  at_tmb <- cs_residual_dense_loglik(d, pt[1:3], pt[4], pt[5], pt[6])
  ll <- as.numeric(logLik(f))
  # Its estimates give at most ours, whatever it reports (-131.470 with
  # glmmTMB 1.1.x against -132.403 at its own estimates).
  expect_lt(at_tmb, ll + 1e-6)
  if (-tm$fit$objective > ll + 1e-6) expect_gt(-tm$fit$objective - at_tmb, 1e-6)
})
