# A nested AGHQ fit (several terms, nAGQ > 1) with a random slope whose
# covariate lies far from zero (x * 1e-6 - 5): the engine integrates on the
# user's columns, where the search ended at logLik -Inf (or at intercept
# 3.5e6) after up to minutes. Such a fit is refused before fitting, naming
# the term and the covariate; well-scaled covariates fit as before.

test_that("nested AGHQ with a far-off random slope is refused before fitting", {
  d <- nested_shifted_slope_data()
  tm <- system.time(err <- tryCatch(
    glmm(y ~ xf + (1 | hospital) + (1 + xf | hospital:ward), data = d, family = binomial,
         nAGQ = 3),
    error = function(e) e))
  expect_s3_class(err, "error")
  msg <- conditionMessage(err)
  expect_match(msg, "'xf'", fixed = TRUE)
  expect_match(msg, "(1 + xf | hospital:ward)", fixed = TRUE)
  expect_match(msg, "nAGQ = 1", fixed = TRUE)
  expect_match(msg, "Centre the covariate", fixed = TRUE)
  # Refused before any fitting (the base build searched for 30 s here).
  expect_lt(tm[["elapsed"]], 10)
})

test_that("the refused model fits on the centred covariate and by Laplace", {
  d <- nested_shifted_slope_data()
  d$xc <- d$xf - mean(d$xf)
  fc <- suppressWarnings(glmm(y ~ xc + (1 | hospital) + (1 + xc | hospital:ward), data = d,
                              family = binomial, nAGQ = 3))
  expect_true(is.finite(as.numeric(logLik(fc))))
  # Laplace (nAGQ = 1) centres the far column itself: the same optimum.
  f1 <- suppressWarnings(glmm(y ~ xf + (1 | hospital) + (1 + xf | hospital:ward), data = d,
                              family = binomial, nAGQ = 1))
  f1c <- suppressWarnings(glmm(y ~ xc + (1 | hospital) + (1 + xc | hospital:ward), data = d,
                               family = binomial, nAGQ = 1))
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f1c)), tolerance = 1e-7)
  # A covariate offset by less than the criterion (x + 20: 20 standard
  # deviations; the one-factor route centres from 100) is not refused.
  d$x20 <- d$x + 20
  f20 <- suppressWarnings(glmm(y ~ x20 + (1 | hospital) + (1 + x20 | hospital:ward), data = d,
                               family = binomial, nAGQ = 3))
  expect_true(is.finite(as.numeric(logLik(f20))))
})
