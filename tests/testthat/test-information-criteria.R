# AIC() and BIC() across approximations: a warning where the approximations
# differ and can be refitted alike.

test_that("AIC() and BIC() warn when the approximations differ and can refit alike", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  f1 <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 1)
  f2 <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial, nAGQ = 11)
  expect_warning(a <- AIC(f1, f2), "different approximations")
  expect_equal(a$AIC, c(-2 * as.numeric(logLik(f1)) + 2 * 4, -2 * as.numeric(logLik(f2)) + 2 * 5))
  expect_equal(rownames(a), c("f1", "f2"))
  expect_warning(BIC(f1, f2), "different approximations")
  expect_no_warning(a11 <- AIC(f1, f2, nAGQ = 11))
  f1b <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 11)
  expect_equal(a11$AIC[1], AIC(f1b))
  expect_equal(BIC(f1), -2 * as.numeric(logLik(f1)) + log(nobs(f1)) * 4)
  expect_no_warning(AIC(f2, f1b))
})

test_that("anova() warns when the fits use different approximations to the likelihood", {
  skip_if_not_installed("lme4")
  data(grouseticks, package = "lme4", envir = environment())
  # the default nAGQ: 11 with one random-effect term, Laplace with two
  fb <- glmm(TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION), data = grouseticks, family = poisson)
  fc <- glmm(TICKS ~ YEAR + (1 | BROOD), data = grouseticks, family = poisson)
  expect_warning(a <- anova(fc, fb),
                 "fc: Adaptive Gauss-Hermite quadrature, nAGQ = 11; fb: Laplace.*mixes them; give nAGQ explicitly")
  expect_s3_class(a, "anova")
  fc1 <- glmm(TICKS ~ YEAR + (1 | BROOD), data = grouseticks, family = poisson, nAGQ = 1)
  expect_no_warning(anova(fc1, fb))
})

test_that("AIC() beside a ranef_dist fit names a remedy that works, and its nAGQ refuses what it cannot refit", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  f1 <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 1)
  br <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, ranef_dist = "bridge")
  w <- tryCatch(AIC(f1, br), warning = conditionMessage)
  expect_match(w, "br: a ranef_dist fit.*takes no nAGQ; refit f1 in glmm\\(\\) with nAGQ > 1")
  expect_false(grepl("AIC(..., nAGQ", w, fixed = TRUE))
  # nAGQ had left the bridge fit as it was, with the same warning
  expect_error(AIC(f1, br, nAGQ = 11), "'nAGQ' = 11: br cannot be refitted with it: it is a ranef_dist fit")
  expect_error(BIC(br, nAGQ = 11), "br cannot be refitted")
  f11 <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 11)
  expect_no_warning(AIC(f11, br))
})
