# Structured gaussian covariances (ar1() beside a site factor): standard
# errors free of where a covariate is centred, and the ML optimum free of
# the response's units.

ar1_site_data <- function(seed = 1, M = 40) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(1:M, each = 4)), time = factor(rep(1:4, M)), x = rnorm(4 * M))
  b <- t(chol(0.5 * 0.6^abs(outer(1:4, 1:4, "-")))) %*% matrix(rnorm(4 * M), 4)
  d$site <- factor(sample(8, 4 * M, replace = TRUE))
  d$y <- 1 + 0.5 * d$x + as.vector(b) + rnorm(8, sd = 0.5)[d$site] + rnorm(4 * M, sd = 0.5)
  d
}

test_that("standard errors of a structured fit do not depend on where a covariate is centred", {
  # x + 1e4 beside the intercept gave the information a condition number
  # near 1e16: every standard error was lost with a warning, although the
  # optimum and the slope's standard error do not depend on the shift.
  d <- ar1_site_data()
  d$xs <- d$x + 1e4
  for (reml in c(TRUE, FALSE)) {
    a <- glmm(y ~ x + ar1(0 + time | g) + (1 | site), d, REML = reml)
    b <- expect_no_warning(glmm(y ~ xs + ar1(0 + time | g) + (1 | site), d, REML = reml))
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
    expect_equal(unname(fixef(b)["xs"]), unname(fixef(a)["x"]), tolerance = 1e-5)
    se_a <- sqrt(diag(vcov(a)))
    se_b <- sqrt(diag(vcov(b)))
    expect_true(all(is.finite(se_b)))
    expect_equal(unname(se_b["xs"]), unname(se_a["x"]), tolerance = 1e-4)
    # The intercept at x = -1e4 is the intercept at 0 moved along the slope.
    expect_equal(unname(se_b[1L]), sqrt(se_a[1]^2 + 1e8 * se_a[2]^2 - 2e4 * vcov(a)[1, 2]),
                 tolerance = 1e-3, ignore_attr = TRUE)
  }
})

test_that("a gaussian structured ML fit reaches the same optimum with the response in other units", {
  # With y * 1e6 the sparse Laplace route stopped 1.4 below the optimum with
  # only a convergence warning; the profiled criterion now finishes it.
  d <- ar1_site_data()
  n <- nrow(d)
  a <- glmm(y ~ x + ar1(0 + time | g) + (1 | site), d)
  b <- suppressWarnings(glmm(I(y * 1e6) ~ x + ar1(0 + time | g) + (1 | site), d))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)) - n * log(1e6), tolerance = 1e-8)
  expect_equal(unname(fixef(b)), unname(fixef(a)) * 1e6, tolerance = 1e-5)
  expect_equal(unname(b$structures[[1]]$rho), unname(a$structures[[1]]$rho), tolerance = 1e-4)
})
