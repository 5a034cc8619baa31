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

test_that("a known-covariance fit beside a quadrature fit: the warning names it, nAGQ = 1 compares them", {
  set.seed(3)
  n <- 60
  ids <- sprintf("id%02d", seq_len(n))
  K <- diag(n)
  dimnames(K) <- list(ids, ids)
  d <- data.frame(id = rep(ids, each = 4), x = rnorm(4 * n))
  d$yb <- rbinom(nrow(d), 1, plogis(0.3 * d$x + rnorm(n)[match(d$id, ids)]))
  fp <- glmm(yb ~ x + (1 | id), data = d, family = binomial)
  fk <- glmm(yb ~ x + (1 | id), data = d, family = binomial, covariance = list(id = K))
  w <- tryCatch(AIC(fp, fk), warning = conditionMessage)
  expect_match(w, paste0("different approximations.*AIC\\(\\.\\.\\., nAGQ = 1\\); ",
                         "fk: the Laplace approximation only \\(a known covariance\\)"))
  # K = I is the plain model: on the same approximation the same AIC
  expect_no_warning(a <- AIC(fp, fk, nAGQ = 1))
  expect_equal(a$AIC[1], a$AIC[2], tolerance = 1e-6)
  # the refusal had blamed "several random-effect terms"
  expect_error(BIC(fp, fk, nAGQ = 11),
               "fk cannot be refitted with it: its random effects have a known covariance")
  f0 <- glmm(yb ~ 1 + (1 | id), data = d, family = binomial)
  expect_warning(anova(f0, fk), "give nAGQ explicitly.*fk: the Laplace approximation only")
})
