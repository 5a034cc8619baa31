# update() refits from the stored call, evaluated where the formula was made.

test_that("update() changes the formula or arguments and refits", {
  d <- sim_counts_offset()
  fit <- glmm(count ~ x + (1 | id), data = d, family = poisson, nAGQ = 1)
  f0 <- update(fit, . ~ . - x)
  expect_identical(names(fixef(f0)), "(Intercept)")
  ref <- glmm(count ~ 1 + (1 | id), data = d, family = poisson, nAGQ = 1)
  expect_equal(fixef(f0), fixef(ref))
  f3 <- update(fit, nAGQ = 3)
  expect_identical(f3$nAGQ, 3L)
  cl <- update(fit, nAGQ = 3, evaluate = FALSE)
  expect_true(is.call(cl))
  expect_identical(cl$nAGQ, 3)
  expect_error(update(fit, . ~ ., 3), "must be named")
})

test_that("a fit made inside a function can be updated outside it", {
  make_fit <- function() {
    local_data <- sim_counts_offset()
    glmm(count ~ x + (1 | id), data = local_data, family = poisson, nAGQ = 1)
  }
  fit <- make_fit()
  expect_false(exists("local_data"))
  f0 <- update(fit, . ~ . - x)
  expect_identical(nobs(f0), nobs(fit))
  make_gee <- function() {
    local_data <- sim_counts_offset()
    gee(count ~ x, data = local_data, id = id, family = poisson)
  }
  g <- make_gee()
  g0 <- update(g, . ~ 1)
  expect_identical(names(coef(g0)), "(Intercept)")
  expect_identical(update(g, corstr = "exchangeable")$corstr, "exchangeable")
})
