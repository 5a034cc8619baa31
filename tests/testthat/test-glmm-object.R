# The fitted glmm object stores no length-n derived vectors (fitted values,
# linear predictors, X, an intercept-only Z, unit weights, zero offset): they
# are rebuilt on access. These tests pin the rebuilt values to an independent
# computation from the data and the estimates, and check that they survive
# saveRDS().

expected_eta <- function(fit, X, Z, g, offset = 0) {
  B <- ranef(fit)[[1L]]
  drop(X %*% fixef(fit)) + offset + rowSums(Z * as.matrix(B)[as.character(g), , drop = FALSE])
}

test_that("fitted values and residuals of a random-intercept fit match X beta + b + offset", {
  data(cbpp, package = "lme4")
  cb <- cbpp
  cb$lexp <- log(cb$size) / 10
  fit <- glmm(cbind(incidence, size - incidence) ~ period + offset(lexp) + (1 | herd),
              data = cb, family = binomial, nAGQ = 5)
  X <- model.matrix(~ period, cb)
  eta <- unname(expected_eta(fit, X, matrix(1, nrow(cb)), cb$herd, cb$lexp))
  mu <- plogis(eta)
  y <- cb$incidence / cb$size
  expect_equal(unname(fitted(fit)), unname(mu), tolerance = 1e-12)
  expect_identical(names(fitted(fit)), rownames(cb))
  expect_equal(unname(predict(fit)), unname(eta), tolerance = 1e-12)
  expect_equal(unname(residuals(fit, "response")), y - mu, tolerance = 1e-12)
  expect_equal(unname(residuals(fit, "pearson")),
               (y - mu) * sqrt(cb$size) / sqrt(mu * (1 - mu)), tolerance = 1e-10)
  dev <- binomial()$dev.resids(y, mu, cb$size)
  expect_equal(unname(residuals(fit, "deviance")), sign(y - mu) * sqrt(dev), tolerance = 1e-10)
  expect_equal(unname(residuals(fit, "working")), (y - mu) / (mu * (1 - mu)), tolerance = 1e-10)
  expect_equal(unname(model.matrix(fit)), unname(X))
  expect_identical(colnames(model.matrix(fit)), colnames(X))
  expect_equal(fit$prior.weights, as.numeric(cb$size))
  expect_equal(fit$offset, cb$lexp)
  expect_equal(dim(model.matrix(fit, type = "random")), c(nrow(cb), nlevels(cb$herd)))

  stored <- unclass(fit)
  for (f in c("X", "Z", "eta_fixed", "linear.predictors", "fitted.values"))
    expect_null(stored[[f]], info = f)
})

test_that("a random slope keeps Z; unit weights and zero offset are rebuilt", {
  d <- sim_binary_q2()$data
  fit <- glmm(y ~ time + trt + (1 + time | id), data = d, family = binomial, nAGQ = 1)
  X <- model.matrix(~ time + trt, d)
  Z <- cbind(1, d$time)
  eta <- expected_eta(fit, X, Z, d$id)
  expect_equal(unname(fit$linear.predictors), unname(eta), tolerance = 1e-12)
  expect_equal(unname(fitted(fit)), plogis(unname(eta)), tolerance = 1e-12)
  expect_equal(fit$eta_fixed, drop(X %*% fixef(fit)), tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(unname(fit$Z), unname(Z))
  expect_identical(fit$prior.weights, rep(1, nrow(d)))
  expect_identical(fit$offset, rep(0, nrow(d)))
  expect_identical(fit$fitted, fit$fitted.values)  # partial names, as on a list
  expect_null(fit$no_such_field)
})

test_that("the object survives saveRDS() with the same fitted values, residuals and predictions", {
  data(cbpp, package = "lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
              data = cbpp, family = binomial, nAGQ = 1)
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f))
  saveRDS(fit, f)
  back <- readRDS(f)
  expect_identical(fitted(back), fitted(fit))
  expect_identical(residuals(back, "pearson"), residuals(fit, "pearson"))
  expect_identical(predict(back, re.form = NA), predict(fit, re.form = NA))
  expect_identical(ranef(back), ranef(fit))
  nd <- data.frame(period = factor(1:4), herd = "new")
  expect_identical(predict(back, nd, type = "response", allow.new.levels = TRUE),
                   predict(fit, nd, type = "response", allow.new.levels = TRUE))
})

test_that("an object that stores the derived fields returns them as stored", {
  data(cbpp, package = "lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
              data = cbpp, family = binomial, nAGQ = 1)
  old <- unclass(fit)
  old$fitted.values <- rep(0.5, nrow(cbpp))
  class(old) <- "glmmgee_glmm"
  expect_identical(old$fitted.values, rep(0.5, nrow(cbpp)))
  expect_identical(fitted(old), rep(0.5, nrow(cbpp)))
})
