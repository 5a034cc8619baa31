# REML with a structure that takes up the residual variance
# (cs(0 + time | id), one observation per id and time, beside (1 | site)):
# the search heads for sigma's zero limit along a ray on which the
# likelihood rises like -1 / t^2 and used to stop at sigma 2e-3 to 1e-2 of
# y's SD with "doubtful convergence", 3e-6 to 1.2e-5 below the supremum.
# lmm_covstruct_ray() continues along that ray. The supremum is the dense
# n x n REML computation's at sigma = 0, maximized by optim() from our
# estimates (cs_residual_data() and cs_residual_dense_loglik(): helper-cs-residual-data.R).

sigray_sup <- function(d, p0) {
  fn <- function(q) -cs_residual_dense_loglik(d, exp(q[1:3]), tanh(q[4]), exp(q[5]), 0)
  q0 <- c(log(p0[1:3]), atanh(min(p0[4], 0.999999)), log(max(p0[5], 1e-3)))
  -stats::optim(q0, fn, method = "BFGS", control = list(reltol = 1e-14, maxit = 500))$value
}

test_that("REML heading for sigma = 0 reaches the limit: the dense supremum, recorded as singular", {
  for (s in c(2, 25, 29)) {
    d <- cs_residual_data(s)
    w <- character()
    f <- withCallingHandlers(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE),
                             warning = function(c) {
                               w <<- c(w, conditionMessage(c))
                               invokeRestart("muffleWarning")
                             })
    ll <- as.numeric(logLik(f))
    p0 <- cs_residual_par(VarCorr(f), sigma(f))
    sup <- sigray_sup(d, p0)
    # Within 2e-7 of the supremum (main's build: 2.8e-6, 1.2e-5 and 1.1e-5
    # below), and not above it: the criterion is not read where it has lost
    # its digits (a search below sigma = 1e-4 sd(y) "gained" 5e-4).
    expect_lt(sup - ll, 2e-7)
    expect_lt(ll - sup, 1e-8)
    # The likelihood at our estimates, computed densely at our sigma, is
    # ours (to 1e-7: at sigma ~3e-4 sd(y) either computation's rounding is
    # ~1e-8 of the criterion's terms, which nearly cancel).
    expect_lt(abs(ll - cs_residual_dense_loglik(d, p0[1:3], p0[4], p0[5], p0[6])), 1e-7)
    expect_true(isTRUE(f$optinfo$residual_zero))
    expect_lt(sigma(f), 1e-3 * sd(d$y))
    expect_true(isTRUE(f$optinfo$boundary_check$sigma_ray$tried))
    expect_false(any(grepl("doubtful convergence", w)))
    expect_true(any(grepl("residual standard deviation is at its zero limit", w)))
  }
})

test_that("a fit with sigma away from zero does not take the ray", {
  f <- glmm(y ~ x + cs(0 + time | id) + (1 | site), cs_residual_data(1), REML = TRUE)
  expect_false(isTRUE(f$optinfo$boundary_check$sigma_ray$tried))
  expect_gt(sigma(f), 0.1)
  expect_false(isTRUE(f$optinfo$residual_zero))
})

test_that("ML at sigma's zero limit: no 'doubtful convergence' from the flat log(sigma) direction", {
  # Seed 4: ML ends at sigma 1.3e-5 of y's SD, recorded as residual-at-zero,
  # and said "doubtful convergence: scaled gradient 12" beside "the fit is
  # on that boundary, not unconverged" (the step along log(sigma)). The
  # step with log(sigma) held, as REML's, is the convergence test there.
  d <- cs_residual_data(4)
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = FALSE),
                           warning = function(c) {
                             w <<- c(w, conditionMessage(c))
                             invokeRestart("muffleWarning")
                           })
  expect_true(isTRUE(f$optinfo$residual_zero))
  expect_false(any(grepl("doubtful convergence", w)))
  expect_true(any(grepl("zero limit.*left out of the convergence test", w)))
  expect_lt(f$optinfo$scaled_grad, 1e-3)
  # The log-likelihood is the dense one at the estimates, and no lower than
  # the dense maximum at sigma = 0 from them.
  p0 <- cs_residual_par(VarCorr(f), sigma(f))
  ll <- as.numeric(logLik(f))
  expect_lt(abs(ll - cs_residual_dense_loglik(d, p0[1:3], p0[4], p0[5], p0[6], reml = FALSE)), 1e-7)
  fn <- function(q) -cs_residual_dense_loglik(d, exp(q[1:3]), tanh(q[4]), exp(q[5]), 0, reml = FALSE)
  q0 <- c(log(p0[1:3]), atanh(min(p0[4], 0.999999)), log(max(p0[5], 1e-3)))
  sup <- -stats::optim(q0, fn, method = "BFGS", control = list(reltol = 1e-14, maxit = 500))$value
  expect_gt(ll, sup - 1e-7)
})
