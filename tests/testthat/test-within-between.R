# wb(x, g): within- and between-cluster effects.

# Confounded clusters: the cluster effect u grows with the cluster mean of x.
sim_confounded <- function(binary = FALSE, seed = 2) {
  set.seed(seed)
  M <- 150; ni <- 6
  g <- rep(seq_len(M), each = ni)
  u <- rnorm(M)
  x <- 0.8 * u[g] + rnorm(M * ni)
  eta <- 0.3 + 0.5 * x + 1.2 * u[g]
  y <- if (binary) rbinom(M * ni, 1, plogis(eta)) else eta + rnorm(M * ni)
  data.frame(y = y, x = x, g = g)
}

test_that("the within coefficient equals the fixed-effects estimate; the naive one does not", {
  d <- sim_confounded()
  fe <- coef(lm(y ~ x + factor(g), data = d))[["x"]]
  fit <- glmm(y ~ wb(x, g) + (1 | g), data = d)
  expect_equal(fixef(fit)[["wb(x, g)within"]], fe, tolerance = 1e-6)
  naive <- fixef(glmm(y ~ x + (1 | g), data = d))[["x"]]
  expect_gt(abs(naive - fe), 0.1)
  # The same with gee(): within deviations are orthogonal to every
  # cluster-level column, so least squares recovers the within estimate.
  pa <- gee(y ~ wb(x, g), data = d, id = g, corstr = "independence")
  expect_equal(coef(pa)[["wb(x, g)within"]], fe, tolerance = 1e-8)
  pe <- gee(y ~ wb(x, g), data = d, id = g, corstr = "exchangeable")
  expect_equal(coef(pe)[["wb(x, g)within"]], fe, tolerance = 1e-6)
})

test_that("for binary data the within coefficient is close to conditional logit", {
  skip_if_not_installed("survival")
  d <- sim_confounded(binary = TRUE, seed = 4)
  # Conditional logit as the stratified Cox model with tied times
  # (clogit()'s own construction); `strata` must be found by its name.
  d$time <- 1
  env <- list2env(list(Surv = survival::Surv, strata = survival::strata))
  f <- stats::as.formula("Surv(time, y) ~ x + strata(g)", env = env)
  cl <- survival::coxph(f, data = d, method = "exact")
  est <- coef(cl)[["x"]]
  se <- sqrt(vcov(cl)[1, 1])
  fit <- glmm(y ~ wb(x, g) + (1 | g), data = d, family = binomial)
  expect_lt(abs(fixef(fit)[["wb(x, g)within"]] - est), 0.5 * se)
  naive <- fixef(glmm(y ~ x + (1 | g), data = d, family = binomial))[["x"]]
  expect_gt(abs(naive - est), 2 * se)
  # The truth is 0.5; the within estimate is consistent for it.
  expect_lt(abs(fixef(fit)[["wb(x, g)within"]] - 0.5), 3 * sqrt(vcov(fit)[3, 3]))
})

test_that("predict() with new data uses the cluster means of the fitting data", {
  d <- sim_confounded()
  fit <- glmm(y ~ wb(x, g) + (1 | g), data = d)
  nd <- d[c(1, 8, 20), ]
  expect_equal(unname(predict(fit, newdata = nd)), unname(predict(fit)[c(1, 8, 20)]),
               tolerance = 1e-10)
  pa <- gee(y ~ wb(x, g), data = d, id = g)
  expect_equal(unname(predict(pa, newdata = nd)), unname(predict(pa)[c(1, 8, 20)]),
               tolerance = 1e-10)
  # A cluster not seen in fitting takes the mean of its rows in newdata.
  new <- data.frame(x = c(1, 3), g = 999)
  X <- cbind(1, 2, c(-1, 1))
  expect_equal(unname(predict(pa, newdata = new)), drop(X %*% coef(pa)), tolerance = 1e-12)
  w <- wb(c(1, 2, 4), c("a", "a", "b"))
  expect_equal(unclass(w)[, "between"], c(1.5, 1.5, 4))
  expect_equal(unclass(w)[, "within"], c(-0.5, 0.5, 0))
  expect_error(wb(factor(c("p", "q")), 1:2), "must be numeric")
  expect_error(wb(1:3, 1:2), "one value per value")
})
