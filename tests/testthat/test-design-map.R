# The design map applied to the parameters (design-map-engine.R): on large
# designs the one-factor engine runs on the user's X with beta = T^-1 beta*
# instead of on the centred and scaled copy X* = X T^-1. The same function,
# so the same fit to rounding; and no map where the copy is needed for
# accuracy (a column far from zero beside the intercept).

map_data <- function() {
  set.seed(3)
  M <- 80
  n <- M * 6
  d <- data.frame(g = rep(seq_len(M), each = 6), x = rnorm(n, 2, 3),
                  trt = rep(rbinom(M, 1, 0.4), each = 6),
                  f = factor(sample(letters[1:3], n, TRUE)))
  b <- rnorm(M)[d$g]
  b2 <- rnorm(M, sd = 0.4)[d$g]
  d$yb <- rbinom(n, 1, plogis(-0.3 + 0.3 * d$x + 0.5 * d$trt + b))
  d$yp <- rpois(n, exp(0.2 + 0.1 * d$x + b + b2 * d$x / 3))
  d$yn <- rnbinom(n, mu = exp(0.2 + 0.1 * d$x + b), size = 2)
  d$yg <- rgamma(n, shape = 4, rate = 4 / exp(0.5 + 0.1 * d$x + 0.5 * b))
  d
}

# The fit with the map forced (threshold 0) and the default fit (copy, at
# this size), and how many evaluations went through the map.
fit_both_ways <- function(formula, data, family, nAGQ) {
  ns <- asNamespace("glmmgee")
  calls <- 0L
  suppressMessages(trace("xmap_eval", tracer = function() calls <<- calls + 1L, where = ns,
                         print = FALSE))
  on.exit(suppressMessages(untrace("xmap_eval", where = ns)), add = TRUE)
  copy <- withr::with_options(list(glmmgee.design_map_entries = 1e9),
                              glmm(formula, data, family, nAGQ = nAGQ))
  n_copy <- calls
  mapped <- withr::with_options(list(glmmgee.design_map_entries = 0),
                                glmm(formula, data, family, nAGQ = nAGQ))
  list(copy = copy, mapped = mapped, copy_calls = n_copy, map_calls = calls - n_copy)
}

test_that("fits through the design map equal the fits on the centred copy", {
  d <- map_data()
  cases <- list(
    list(yb ~ x + trt + f + (1 | g), binomial, 1L),
    list(yb ~ x + trt + (1 | g), binomial, 9L),
    list(yp ~ x + trt + (1 + x | g), poisson, 5L),
    list(yn ~ x + f + (1 | g), nbinom2, 1L),          # start by glm.fit, mapped to beta*
    list(yg ~ x + trt + (1 | g), Gamma(link = "log"), 7L))
  for (cs in cases) {
    lab <- paste(deparse(cs[[1L]]), cs[[3L]])
    r <- fit_both_ways(cs[[1L]], d, cs[[2L]], cs[[3L]])
    expect_identical(r$copy_calls, 0L, label = lab)
    expect_gt(r$map_calls, 5L)
    expect_equal(r$mapped$theta, r$copy$theta, tolerance = 1e-8, label = lab)
    expect_lt(abs(r$mapped$loglik - r$copy$loglik), 1e-8)
    expect_equal(r$mapped$cov_theta, r$copy$cov_theta, tolerance = 1e-6, label = lab)
    expect_equal(ranef(r$mapped)[[1L]], ranef(r$copy)[[1L]], tolerance = 1e-6, label = lab)
    expect_equal(fitted(r$mapped), fitted(r$copy), tolerance = 1e-8, label = lab)
  }
})

test_that("a column far from zero keeps the centred copy", {
  d <- map_data()
  d$xf <- d$x + 1e6
  r <- fit_both_ways(yb ~ xf + trt + (1 | g), d, binomial, 1L)
  expect_identical(r$map_calls, 0L)
  expect_identical(r$mapped$theta, r$copy$theta)
  # The map's rule itself: no copy only where no centre is far.
  X <- cbind(1, d$x, d$trt)
  expect_null(design_transform(X, copy = FALSE)$M)
  expect_false(is.null(design_transform(cbind(1, d$xf), copy = FALSE)$M))
  expect_equal(design_transform(X, copy = FALSE)$T, design_transform(X)$T)
})

test_that("the map's threshold option is checked", {
  d <- map_data()
  withr::local_options(glmmgee.design_map_entries = "big")
  expect_error(glmm(yb ~ x + (1 | g), d, binomial), "glmmgee.design_map_entries")
})
