# Several random-effect terms with a covariate in extreme units: no false
# doubtful-convergence warning.

test_that("several random-effect terms: a covariate in units of 1e-7 does not report doubtful convergence", {
  data(Salamanders, package = "glmmTMB")
  S <- Salamanders
  set.seed(1)
  S$x <- rnorm(nrow(S))
  S$x7 <- S$x * 1e7
  a <- glmm(count ~ x + (1 | site) + (1 | spp), data = S, family = nbinom1())
  # Before: "doubtful convergence: largest absolute gradient 2.5e+02".
  b <- expect_no_warning(glmm(count ~ x7 + (1 | site) + (1 | spp), data = S, family = nbinom1()))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(sqrt(diag(vcov(b)))[2]) * 1e7, unname(sqrt(diag(vcov(a)))[2]), tolerance = 1e-5)
})
