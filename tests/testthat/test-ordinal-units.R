# Cumulative link mixed models whose answers must not depend on a
# covariate's units or location: standard errors with one or several random
# intercepts, random slopes on far-off covariates.

test_that("cumulative link mixed models: standard errors do not depend on a covariate's units or location", {
  # The Hessian was differenced on the user's scale with steps of 1e-5:
  # for x * 1e7 (coefficient ~1e-8) the standard error came out 38 times
  # too large with a gradient warning, for x + 1e4 there were none.
  data(wine, package = "ordinal")
  w <- wine
  set.seed(1)
  w$x <- rnorm(72)
  w$x7 <- w$x * 1e7
  w$x4 <- w$x + 1e4
  for (re in c("(1 | judge)", "(1 + contact | judge)")) {
    fit <- function(v) glmm(stats::as.formula(paste("rating ~", v, "+ temp +", re)), data = w,
                            family = cumulative)
    a <- fit("x")
    b <- expect_no_warning(fit("x7"))
    d <- expect_no_warning(fit("x4"))
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8, info = re)
    expect_equal(as.numeric(logLik(d)), as.numeric(logLik(a)), tolerance = 1e-8, info = re)
    se <- function(f) sqrt(diag(vcov(f)))[5:6]
    expect_equal(unname(se(b) * c(1e7, 1)), unname(se(a)), tolerance = 1e-5, info = re)
    expect_equal(unname(se(d)), unname(se(a)), tolerance = 1e-5, info = re)
  }
  # And the unscaled fit's agree with clmm's.
  skip_if_not_installed("ordinal")
  ref <- ordinal::clmm(rating ~ x + temp + (1 | judge), data = w)
  a <- glmm(rating ~ x + temp + (1 | judge), data = w, family = cumulative, nAGQ = 1)
  expect_equal(unname(sqrt(diag(vcov(a)))[5:6]), unname(sqrt(diag(vcov(ref)))[5:6]), tolerance = 1e-4)
})

test_that("cumulative link models with several random intercepts: a covariate's units do not change its standard error", {
  # The sparse route's Hessian was differenced on the user's design: with
  # x * 1e7 the standard error was 0.108 per 1e-7 instead of 0.0455
  # (clmm's), with no warning; with x + 1e4 there were none.
  skip_if_not_installed("ordinal")
  data(soup, package = "ordinal")
  s <- soup
  set.seed(1)
  s$x <- rnorm(nrow(s))
  s$x7 <- s$x * 1e7
  s$x4 <- s$x + 1e4
  a <- glmm(SURENESS ~ x + PROD + (1 | RESP) + (1 | RESP:PROD), data = s, family = cumulative)
  b <- glmm(SURENESS ~ x7 + PROD + (1 | RESP) + (1 | RESP:PROD), data = s, family = cumulative)
  # x + 1e4: no standard errors before ("not negative definite").
  d <- expect_no_warning(glmm(SURENESS ~ x4 + PROD + (1 | RESP) + (1 | RESP:PROD), data = s,
                              family = cumulative))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(as.numeric(logLik(d)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(sqrt(diag(vcov(b)))[6:7] * c(1e7, 1)), unname(sqrt(diag(vcov(a)))[6:7]),
               tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(d)))[6:7]), unname(sqrt(diag(vcov(a)))[6:7]), tolerance = 1e-5)
  ref <- ordinal::clmm(SURENESS ~ x + PROD + (1 | RESP) + (1 | RESP:PROD), data = s)
  expect_equal(unname(sqrt(diag(vcov(a)))[6:7]), unname(sqrt(diag(vcov(ref)))[6:7]), tolerance = 1e-4)
})

test_that("an ordinal random slope on a far-off covariate fits without a stray 'NaNs produced' warning", {
  data(wine, package = "ordinal", envir = environment())
  wine$x <- as.numeric(wine$temp == "warm")
  far <- wine
  far$x <- far$x * 1e6 + 1e7
  a <- glmm(rating ~ x + contact + (x | judge), wine, family = cumulative())
  # The slope's column is far from zero beside the intercept: fitted on the
  # standardized Z and mapped back, where log() met the negative
  # off-diagonal entry of the factor.
  expect_no_warning(b <- glmm(rating ~ x + contact + (x | judge), far, family = cumulative()))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(fixef(b)[["x"]] * 1e6, fixef(a)[["x"]], tolerance = 1e-5)
})
