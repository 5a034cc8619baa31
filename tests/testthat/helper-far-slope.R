# Shared fixtures of the far-off random slope tests.

# A crossed design (30 x 12) with a random slope on a and an intercept on b;
# gaussian or Poisson y; x2 = x * 1e-6 - 5 is x far from zero in odd units.
far_slope_crossed <- function(seed, family = "gaussian") {
  set.seed(seed)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  eta <- 0.5 + 0.3 * d$x + rnorm(30, sd = 0.5)[d$a] + (0.2 * rnorm(30))[d$a] * d$x +
    rnorm(12, sd = 0.4)[d$b]
  d$y <- if (family == "gaussian") 2 * eta + rnorm(nrow(d)) else rpois(nrow(d), exp(eta / 2))
  d$x2 <- d$x * 1e-6 - 5
  d
}

# The sd of the slope's random effect of term `g` and its delta-method
# variance from cov_theta (its lambda[1,1], lambda[2,1], lambda[2,2]).
far_slope_sd <- function(fit, g) {
  nm <- names(fit$theta)
  lam <- fit$theta[startsWith(nm, paste0(g, "."))]
  V <- fit$cov_theta[names(lam), names(lam)]
  s <- sqrt(lam[2]^2 + lam[3]^2)
  gr <- c(0, lam[2], lam[3]) / s
  c(sd = unname(s), var = drop(t(gr) %*% V %*% gr))
}

# f2, the fit on the far-off design x2 = (x - b) / a (columns mapped by Tm),
# is f1, the fit on x, mapped: centred, the same warnings, logLik (plus
# `shift`, REML's log|det| term), fixed effects and their covariance.
expect_far_slope_mapped <- function(f2, f1, Tm, shift = 0, tol_ll = 1e-9, tol_vcov = 1e-4) {
  expect_true(isTRUE(f2$optinfo$centred_z))
  expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)) + shift, tolerance = tol_ll)
  expect_equal(unname(fixef(f2)), unname(drop(Tm %*% fixef(f1))), tolerance = 1e-5)
  expect_equal(unname(vcov(f2)), unname(Tm %*% vcov(f1) %*% t(Tm)), tolerance = tol_vcov)
}

# The simulated crossed design of the binomial and Poisson far-slope tests
# (test-glmm-sparse-slope-centring.R): 30 x 12 levels of a and b, x ~ N(2, 1.5^2), binary yb and count yp
# with a random slope on a and an intercept on b, and x2 = x * 1e-6 - 5, x
# far from zero in odd units (no random numbers drawn for it).
slope_crossed_sim <- function(seed = 2701) {
  set.seed(seed)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  ra <- rnorm(30)
  rs <- rnorm(30)
  rb <- rnorm(12)
  d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.5 * d$x + ra[d$a] + 0.4 * rs[d$a] * d$x +
                                      0.7 * rb[d$b]))
  d$yp <- rpois(nrow(d), exp(0.5 + 0.2 * d$x + 0.4 * ra[d$a] + 0.15 * rs[d$a] * d$x +
                               0.4 * rb[d$b]))
  d$x2 <- d$x * 1e-6 - 5
  d
}

# sleepstudy with a three-level factor, a binary response and Days shifted far
# from zero (x1) and shrunk towards it (x3): contrasts and ratios must not
# depend on where the covariate sits.
sleep_far_covariates <- function() {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$yb <- as.integer(d$Reaction > stats::median(d$Reaction))
  d$x1 <- d$Days + 1e8
  d$x3 <- d$Days * 1e-6 - 5
  d
}
