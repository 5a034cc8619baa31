# multcomp::glht on glmm and gee fits against hand computations and the
# same call on the lme4 fit.

test_that("glht on a glmm equals the hand computation and lme4's glht", {
  skip_if_not_installed("multcomp")
  skip_if_not_installed("lme4")
  fit <- eco_glmm()
  g <- eco_glmer()
  K <- rbind("2 - 1" = c(0, 1, 0, 0), "3 - 2" = c(0, -1, 1, 0))
  s <- summary(multcomp::glht(fit, linfct = K), test = multcomp::adjusted("none"))
  expect_equal(s$test$coefficients, drop(K %*% fixef(fit)), ignore_attr = TRUE)
  expect_equal(s$test$sigma, sqrt(diag(K %*% vcov(fit) %*% t(K))), ignore_attr = TRUE)
  expect_equal(s$test$pvalues,
               2 * pnorm(-abs(drop(K %*% fixef(fit)) / sqrt(diag(K %*% vcov(fit) %*% t(K))))),
               ignore_attr = TRUE)
  # mcp() contrasts: the same as lme4's with the same covariance.
  ours <- summary(multcomp::glht(fit, multcomp::mcp(period = "Tukey")))
  theirs <- summary(multcomp::glht(g, multcomp::mcp(period = "Tukey"), vcov. = vcov(fit)))
  expect_equal(ours$test$coefficients, theirs$test$coefficients, tolerance = 1e-5)
  expect_equal(ours$test$tstat, theirs$test$tstat, tolerance = 1e-5)
  expect_equal(confint(ours, calpha = multcomp::univariate_calpha())$confint,
               confint(theirs, calpha = multcomp::univariate_calpha())$confint, tolerance = 1e-5)
})

test_that("glht on a gee uses the sandwich covariance (or the one given)", {
  skip_if_not_installed("multcomp")
  data("bacteria", package = "MASS", envir = environment())
  pa <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID, family = binomial,
            corstr = "exchangeable")
  ht <- multcomp::glht(pa, multcomp::mcp(trt = "Tukey"))
  expect_equal(unname(ht$vcov), unname(vcov(pa)))
  K <- ht$linfct
  expect_equal(coef(ht), drop(K %*% coef(pa)), ignore_attr = TRUE)
  ht2 <- multcomp::glht(pa, multcomp::mcp(trt = "Tukey"), vcov. = vcov(pa, type = "model"))
  expect_equal(unname(ht2$vcov), unname(vcov(pa, type = "model")))
  expect_error(multcomp::glht(pa, K, df = -1), "'df'")
})
