# Known-covariance fits (gaussian and binomial) and assoc_scan(): a
# covariate's units and location do not move the fit or the scan.

test_that("known-covariance gaussian fits do not depend on a covariate's units and location", {
  # X'V^-1X was formed as X'X less its rotated part on the user's X: with
  # x * 1e-6 - 5 the slope came out 4% off and the log-likelihood 0.6
  # below the optimum, without a warning (spectral rotation, the factor,
  # sparse K, and the several-term dense and sparse routes, ML and REML).
  u <- units_data()
  d <- u$d
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  cases <- list(list(f = "(1 | g)", cov = list(g = u$K)),
                list(f = "(1 | g)", cov = list(g = kfactor(u$Lf))),
                list(f = "(1 | g)", cov = list(g = u$Ks)),
                list(f = "(1 | g) + (1 | a)", cov = list(g = u$K)),
                list(f = "(1 | g) + (1 | a)", cov = list(g = u$Ks)))
  for (cs in cases) for (reml in c(FALSE, TRUE)) {
    fit <- function(v) suppressWarnings(glmm(as.formula(paste("y0 ~", v, "+", cs$f)), d,
                                             covariance = cs$cov, REML = reml))
    ref <- slope_summary(fit("x"), "x")
    expect_summary(slope_summary(fit("x2"), "x2", 1e-6, if (reml) log(1e-6) else 0), ref,
                 tolerance = 1e-6)
    expect_summary(slope_summary(fit("x3"), "x3"), ref, tolerance = 1e-6)
  }
  # With K the identity the model is lmer's random intercept.
  skip_if_not_installed("lme4")
  lev <- levels(d$g)
  I <- diag(length(lev))
  dimnames(I) <- list(lev, lev)
  for (reml in c(FALSE, TRUE)) {
    a <- glmm(y0 ~ x2 + (1 | g), d, covariance = list(g = I), REML = reml)
    b <- lme4::lmer(y0 ~ x + (1 | g), d, REML = reml)
    expect_equal(unname(fixef(a)["x2"]) * 1e-6, unname(lme4::fixef(b)["x"]), tolerance = 1e-6)
    expect_equal(unname(sqrt(vcov(a)["x2", "x2"])) * 1e-6,
                 unname(sqrt(as.matrix(vcov(b))["x", "x"])), tolerance = 1e-5)
    expect_equal(as.numeric(logLik(a)) + if (reml) log(1e-6) else 0, as.numeric(logLik(b)),
                 tolerance = 1e-7)
  }
})

test_that("assoc_scan() on a known-covariance fit with a shifted covariate equals the scan on x", {
  # The transformed fit keeps the rotated design of the user's X, which
  # the scan combines with it.
  u <- units_data()
  d <- u$d
  d$x3 <- d$x + 1e4
  set.seed(2)
  G <- matrix(rbinom(nrow(d) * 5, 2, 0.3), nrow(d))
  a <- assoc_scan(glmm(y0 ~ x + (1 | g), d, covariance = list(g = u$K)), G)
  b <- assoc_scan(glmm(y0 ~ x3 + (1 | g), d, covariance = list(g = u$K)), G)
  expect_equal(b$estimate, a$estimate, tolerance = 1e-6)
  expect_equal(b$p_value, a$p_value, tolerance = 1e-6)
})

test_that("assoc_scan() and known-covariance binomial fits do not depend on x's units", {
  # The scan formed X'V^-1X on the user's X (condition 1e13 with
  # x * 1e-6 - 5: statistics 9% off); the binomial known-covariance fit's
  # glm start solved the user's X'WX, singular numerically, and failed.
  d <- units_invariance_data()
  set.seed(5)
  A <- crossprod(matrix(rnorm(60 * 80), 80, 60)) / 80
  rownames(A) <- colnames(A) <- levels(d$id)
  G <- matrix(rbinom(300 * 8, 2, 0.3), 300, 8)
  G[, 8] <- d$x * 0.1 + G[, 8]
  d$yc <- rbinom(300, 1, plogis(d$x + 0.3 * (d$trt == "1")))
  makers <- list(
    one = function(v) glmm(units_formula("yg", v), d, covariance = list(id = A)),
    several = function(v) glmm(units_formula("yg", v, "(1 | id) + (1 | g2)"), d, covariance = list(id = A),
                               REML = TRUE),
    binomial = function(v) glmm(units_formula("yc", v), d, family = binomial, covariance = list(id = A)))
  for (route in names(makers)) {
    fits <- lapply(c("x", "x2", "x3"), function(v) suppressWarnings(makers[[route]](v)))
    sc <- lapply(fits, assoc_scan, G = G)
    expect_equal(sc[[2]]$statistic, sc[[1]]$statistic, tolerance = 1e-6, info = paste(route, "x * 1e-6 - 5"))
    expect_equal(sc[[3]]$statistic, sc[[1]]$statistic, tolerance = 1e-6, info = paste(route, "x + 1e4"))
    # (A REML log-likelihood depends on the design's units: log|X'V^-1X|.)
    if (route != "several")
      expect_equal(as.numeric(logLik(fits[[2]])), as.numeric(logLik(fits[[1]])), tolerance = 1e-9)
  }
  expect_units_invariant(makers$binomial, d, tolerance = 1e-6)
  skip_if_not_installed("lme4")
  # With K = I the binomial model is glmer's (1 | id).
  I60 <- diag(60)
  rownames(I60) <- colnames(I60) <- levels(d$id)
  f <- glmm(yc ~ x2 + trt + (1 | id), d, family = binomial, covariance = list(id = I60))
  g <- lme4::glmer(yc ~ x + trt + (1 | id), d, family = binomial)
  # (glmer stops 3e-4 below the optimum.)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(g)), tolerance = 1e-5)
  expect_gte(as.numeric(logLik(f)), as.numeric(logLik(g)) - 1e-8)
  expect_equal(unname(fixef(f)[c("x2", "trt1")] * c(1e-6, 1)), unname(lme4::fixef(g)[c("x", "trt1")]),
               tolerance = 2e-3)
})
