# The sandwich package on gee fits: estfun() and bread() so that
# vcovCL() reproduces the GEE's robust variance.

test_that("vcovCL(type = \"HC0\", cadjust = FALSE) is the robust variance of a gee fit", {
  skip_if_not_installed("sandwich")
  skip_if_not_installed("MASS")
  d <- MASS::epil
  for (cs in c("independence", "exchangeable", "ar1")) {
    fit <- gee(y ~ lbase + trt + lage + V4, data = d, id = subject, family = poisson,
               corstr = cs, waves = period)
    V <- vcov(fit, type = "san.se")
    expect_equal(sandwich::vcovCL(fit, cluster = d$subject, type = "HC0", cadjust = FALSE), V,
                 tolerance = 1e-8, info = cs)
    expect_equal(sandwich::vcovCL(fit, cluster = ~subject, type = "HC0", cadjust = FALSE), V,
                 tolerance = 1e-8, info = cs)
    # vcovCL's default cluster adjustment K / (K - 1)
    expect_equal(sandwich::vcovCL(fit, cluster = d$subject, type = "HC0"), V * 59 / 58,
                 tolerance = 1e-8, info = cs)
  }
  ef <- sandwich::estfun(fit)
  expect_identical(dim(ef), c(nrow(d), 5L))
  # the rows of a cluster sum to its estimating function; all sum to zero
  expect_equal(unname(colSums(ef)), rep(0, 5), tolerance = 1e-6)
  expect_equal(sandwich::bread(fit), nrow(d) * vcov(fit, type = "model") / fit$scale)
  expect_error(sandwich::estfun(fit, bogus = 1), "bogus")
})

test_that("estfun() of a binomial fit with trials and unsorted rows matches the robust variance", {
  skip_if_not_installed("sandwich")
  set.seed(8)
  d <- data.frame(id = rep(1:40, each = 3), x = rnorm(120), n = sample(2:6, 120, TRUE))
  d$s <- rbinom(120, d$n, plogis(-0.2 + 0.5 * d$x + rep(rnorm(40), each = 3)))
  d <- d[sample(120), ]
  fit <- gee(cbind(s, n - s) ~ x, data = d, id = id, family = binomial, corstr = "exchangeable")
  expect_equal(sandwich::vcovCL(fit, cluster = d$id, type = "HC0", cadjust = FALSE),
               vcov(fit, type = "san.se"), tolerance = 1e-8)
})
