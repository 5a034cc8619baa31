# Two-part fits (zero-inflated, hurdle) whose negative binomial dispersion
# runs to its Poisson limit: said in a warning and recorded, left out of the
# convergence test and the covariance (as the one-part routes do), instead
# of a false "doubtful convergence" and missing standard errors.

displim_data <- function(seed, overdispersed = FALSE) {
  set.seed(seed)
  M <- 60; n <- 8
  g <- rep(seq_len(M), each = n)
  x <- rnorm(M * n)
  b <- rnorm(M, 0, 0.4)
  mu <- exp(0.5 + 0.3 * x + b[g])
  y <- if (overdispersed) rnbinom(M * n, mu = mu, size = 1.5) else rpois(M * n, mu)
  y[runif(M * n) < 0.2] <- 0
  data.frame(y = y, x = x, g = factor(g), h = factor(rep(1:10, length.out = M * n)))
}

fit_quiet <- function(...) {
  w <- character()
  f <- withCallingHandlers(glmm(...), warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  list(fit = f, warnings = w)
}

expect_at_limit <- function(r, ref, what) {
  f <- r$fit
  expect_true(isTRUE(f$optinfo$dispersion_limit), info = what)
  expect_true(any(grepl("estimated at its limit", r$warnings)), info = what)
  expect_false(any(grepl("doubtful convergence", r$warnings)), info = what)
  # The fit is the Poisson model's: same log-likelihood and fixed effects,
  # standard errors present.
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(ref)), tolerance = 1e-6, info = what)
  expect_equal(unname(fixef(f)), unname(fixef(ref)), tolerance = 1e-4, info = what)
  se <- sqrt(diag(vcov(f)))
  expect_true(all(is.finite(se)), info = what)
  expect_equal(unname(se), unname(sqrt(diag(vcov(ref)))), tolerance = 1e-3, info = what)
}

test_that("zero-inflated nbinom2 at its Poisson limit, one factor and several terms", {
  d <- displim_data(3)
  r1 <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1, family = nbinom2())
  p1 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = poisson()))
  expect_at_limit(r1, p1, "one factor")
  r2 <- fit_quiet(y ~ x + (1 | g) + (1 | h), data = d, ziformula = ~1, family = nbinom2())
  p2 <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), data = d, ziformula = ~1,
                              family = poisson()))
  expect_at_limit(r2, p2, "sparse")
})

test_that("nbinom1 hurdle and zero-part random effects at the Poisson limit", {
  d <- displim_data(3)
  r1 <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1, family = truncated_nbinom1())
  p1 <- glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = truncated_poisson())
  expect_at_limit(r1, p1, "hurdle nbinom1")
  r2 <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1 + (1 | h), family = nbinom1())
  p2 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, ziformula = ~1 + (1 | h),
                              family = poisson()))
  expect_at_limit(r2, p2, "two-part sparse engine")
})

test_that("overdispersed counts and dispersion formulas with covariates are not flagged", {
  d <- displim_data(4, overdispersed = TRUE)
  f <- glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = nbinom2())
  expect_false(f$optinfo$dispersion_limit)
  expect_true(all(is.finite(sqrt(diag(f$cov_theta)))))
  d0 <- displim_data(3)
  f2 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d0, ziformula = ~1, dispformula = ~x,
                              family = nbinom2()))
  expect_false(f2$optinfo$dispersion_limit)
})
