# lmtest::coeftest and coefci on glmm and gee fits equal summary()'s table
# and confint(); for gee also geepack's summary on the same model.

test_that("coeftest on a glmm equals summary()'s table and glmmTMB's", {
  skip_if_not_installed("lmtest")
  skip_if_not_installed("glmmTMB")
  fit <- eco_glmm()
  ct <- lmtest::coeftest(fit)
  expect_equal(unclass(ct)[, 1:4], summary(fit)$coefficients, ignore_attr = TRUE)
  expect_equal(lmtest::coefci(fit), confint(fit, parm = "beta_"), ignore_attr = TRUE)
  tm <- eco_glmmtmb()
  expect_equal(unclass(ct)[, 1:4], summary(tm)$coefficients$cond, tolerance = 1e-4,
               ignore_attr = TRUE)
  t5 <- lmtest::coeftest(fit, df = 5)
  expect_equal(unclass(t5)[, 4], 2 * pt(-abs(ct[, 3]), 5), ignore_attr = TRUE)
})

test_that("coeftest on a gee equals summary() and geepack's robust table", {
  skip_if_not_installed("lmtest")
  skip_if_not_installed("geepack")
  d <- ohio_data()
  fit <- gee(resp ~ age + smoke, data = shuffle_rows(d), id = id, waves = wave,
             family = binomial, corstr = "ar1")
  g <- geepack::geeglm(resp ~ age + smoke, id = id, waves = wave, data = d,
                       family = binomial, corstr = "ar1", control = gee_tight())
  ct <- lmtest::coeftest(fit)
  sm <- summary(fit)$coefficients
  expect_equal(unclass(ct)[, 1:2], as.matrix(sm[, 1:2]), ignore_attr = TRUE)
  gs <- summary(g)$coefficients
  expect_equal(unclass(ct)[, 1:2], as.matrix(gs[, 1:2]), tolerance = 1e-5, ignore_attr = TRUE)
  expect_equal(unclass(ct)[, 4], gs[, 4], tolerance = 1e-4, ignore_attr = TRUE)
  md <- lmtest::coeftest(fit, vcov. = function(f) vcov(f, type = "model"))
  expect_equal(unclass(md)[, 2], sqrt(diag(vcov(fit, type = "model"))), ignore_attr = TRUE)
})
