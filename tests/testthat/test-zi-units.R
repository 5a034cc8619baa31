# Zero-inflated fits with covariates in extreme units: no false
# doubtful-convergence warning.

test_that("a zero-inflated fit with a covariate in micro-units does not report doubtful convergence", {
  # The gradient test read the user's gradient (3.1 per micro-unit) at an
  # optimum equal to the unscaled fit's.
  data(Owls, package = "glmmTMB")
  O <- Owls
  O$AT <- O$ArrivalTime * 1e6
  a <- glmm(SiblingNegotiation ~ ArrivalTime + (1 | Nest), ziformula = ~ 1, data = O, family = poisson)
  b <- expect_no_warning(glmm(SiblingNegotiation ~ AT + (1 | Nest), ziformula = ~ 1, data = O,
                              family = poisson))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
})
