# A profile that stops short on a well-scaled
# random-effect block whose estimate lies on a face of Lambda.
#
# The zero part's (x | a) of a zero-inflated Poisson fit is estimated at a
# correlation of 1 (Lambda's second row with its diagonal entry at 0). The
# standard deviation's map on the user's Z fixes the row's direction by the
# ratio of its entries to the diagonal one, which that row does not have:
# each search started at correlation 0, and the upper limit of sd_zi.x|a
# came out 0.5638, where the likelihood-ratio statistic is 2.79, not the
# chi-square cut-off 3.84.

# Twice the log-likelihood drop with a standard deviation held at v: a
# refit over every other parameter on the fit's own engine (not the
# profile's maps), the held row of Lambda written as v (rho, sqrt(1 -
# rho^2)) with rho in [-1, 1], so that the face rho = +/-1 is a bound the
# search reaches; `theta(z, v)` builds theta from the free z (rho at
# position `ir`), started at z0 with rho at several values.
held_deviance <- function(fit, v, theta, z0, ir, lower) {
  eng <- glmmgee:::profile_engine(fit)
  on.exit(eng$free())
  ll <- function(th) eng$eval(glmmgee:::theta_star(th, eng$Tx))$loglik
  expect_equal(ll(unname(fit$theta)), fit$loglik, tolerance = 1e-9)
  f <- function(z) { r <- -ll(theta(z, v)); if (is.finite(r)) r else 1e10 }
  upper <- replace(rep(Inf, length(z0)), ir, 1)
  lower[ir] <- -1
  best <- min(vapply(c(1, 0.5, 0, -0.5, -1), function(r0)
    stats::nlminb(replace(z0, ir, r0), f, lower = lower, upper = upper,
                  control = list(rel.tol = 1e-12, iter.max = 500L, eval.max = 1000L))$objective,
    1))
  2 * (fit$loglik + best)
}

test_that("a zero-part slope block at a correlation of 1 is profiled to the chi-square cut-off", {
  d <- two_part_units_data()
  fit <- suppressWarnings(glmm(yc ~ x + (1 | a), data = d, family = poisson,
                               ziformula = ~ x + (x | a)))
  expect_identical(names(fit$theta), c("(Intercept)", "x", "lambda[1,1]", "lambda[2,2]",
                                       "lambda[3,2]", "lambda[3,3]", "zi~(Intercept)", "zi~x"))
  # on the face: the zero part's second row has its diagonal entry at 0
  L <- fit$theta[c("lambda[3,2]", "lambda[3,3]")]
  expect_lt(abs(L[[2]]), 1e-6 * abs(L[[1]]))
  ci <- suppressWarnings(confint(fit, parm = "sd_zi.x|a", method = "profile"))
  expect_equal(ci[[1]], 0)
  # brute force: the deviance with the standard deviation held at the upper
  # limit is the cut-off (main's build: 0.5638, deviance 2.79)
  th0 <- unname(fit$theta)
  dev <- held_deviance(fit, ci[[2]],
                           function(z, v) c(z[1:4], v * z[5], v * sqrt(max(1 - z[5]^2, 0)), z[6:7]),
                           c(th0[1:4], 0, th0[7:8]), 5L, c(-Inf, -Inf, 0, 0, -1, -Inf, -Inf))
  expect_equal(dev, stats::qchisq(0.95, 1), tolerance = 1e-4)
})

test_that("a one-factor Laplace slope block at a correlation of 1 is profiled to the cut-off, beside lme4", {
  # The same face on the plain route (binomial (x | g), correlation 1):
  # main's build put sd_x|g's upper limit 1.0e-6 short (0.8867734 for
  # 0.8867744); the other parameters' limits are unchanged.
  set.seed(7)
  g <- factor(sample(1:40, 1200, TRUE))
  x <- rnorm(1200)
  u <- rnorm(40)
  d <- data.frame(g, x, y = rbinom(1200, 1, plogis(-0.3 + 0.7 * x + 0.8 * u[g] + 0.5 * u[g] * x)))
  fit <- suppressWarnings(glmm(y ~ x + (x | g), data = d, family = binomial, nAGQ = 1))
  expect_lt(abs(fit$theta[["lambda[2,2]"]]), 1e-6 * abs(fit$theta[["lambda[2,1]"]]))
  ci <- suppressWarnings(confint(fit, parm = "sd_x|g", method = "profile"))
  th0 <- unname(fit$theta)
  dev <- held_deviance(fit, ci[[2]],
                           function(z, v) c(z[1:3], v * z[4], v * sqrt(max(1 - z[4]^2, 0))),
                           c(th0[1:3], 0), 4L, c(-Inf, -Inf, 0, -1))
  expect_equal(dev, stats::qchisq(0.95, 1), tolerance = 1e-6)
  skip_if_not_installed("lme4")
  m <- suppressMessages(lme4::glmer(y ~ x + (x | g), data = d, family = binomial))
  cl <- suppressWarnings(suppressMessages(confint(m, parm = "theta_", method = "profile",
                                                  oldNames = FALSE)))
  # lme4's fit ends 2e-4 below in log-likelihood, its profile with it
  # (where lme4's profile gives the interval: with some builds of the C
  # library's mathematical functions it returns NA for this block)
  if (all(is.finite(cl["sd_x|g", ])))
    expect_equal(unname(ci[1, ]), unname(cl["sd_x|g", ]), tolerance = 2e-5)
  else
    expect_true(all(is.finite(ci[1, ])))
})

test_that("zero-inflated quadrature profiles with random effects in both parts do not depend on x's units", {
  # With a far slope the two-part quadrature fit runs on both parts' centred
  # and scaled Z* (zi_random_z_reparam()), which the quadrature is not invariant
  # to; the profile engine was rebuilt on the user's Z, and profile()
  # stopped with "the model could not be rebuilt from the fit" for
  # x * 1e-6 - 5 and x + 1e6. Now on the fit's Z*: the limits of the fit on
  # the centred x (run on its own Z, a scaling of Z*) to 1e-5, as the
  # far-off quadrature fits stop about 1e-7 short of the optimum.
  d <- two_part_units_data()
  d$xc <- d$x - mean(d$x)
  ci <- function(v) suppressWarnings(confint(suppressWarnings(
    glmm(as.formula(sprintf("yc ~ %s + (%s | a)", v, v)), data = d, family = poisson,
         ziformula = ~ 1 + (1 | a), nAGQ = 3)),
    parm = c(v, sprintf("sd_%s|a", v), "sd_zi.(Intercept)|a"), method = "profile"))
  c0 <- ci("xc")
  expect_true(all(is.finite(c0)))
  for (v in c("x2", "x4")) {
    cv <- ci(v)
    expect_true(all(is.finite(cv)))
    sc <- if (v == "x2") c(1e-6, 1e-6, 1) else 1
    expect_equal(unname(cv) * sc, unname(c0), tolerance = 1e-5)
  }
})

test_that("a profile from a singular fit lets the standard deviation held at zero move off it", {
  # A Cholesky diagonal entry at 0 is a stationary point (the likelihood
  # depends on its square): the refits of each profile point, warm-started
  # at the singular estimate, stayed there, and the intercept's 99% interval
  # was the plain GLM's, (-0.694, 0.542). Each limit is checked by a glmer
  # refit with the intercept held there by an offset: the standard
  # deviation re-optimises to about 0.25 and twice the drop is the cut-off.
  set.seed(10)
  d <- data.frame(g = factor(rep(1:8, each = 10)), x = rnorm(80))
  d$y <- rbinom(80, 1, plogis(-0.3 + 0.8 * d$x))
  fit <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 1))
  expect_true(isTRUE(fit$singular))
  ci <- confint(fit, method = "profile", parm = "(Intercept)", level = 0.99)
  skip_if_not_installed("lme4")
  for (lim in unlist(ci)) {
    d$o <- rep(lim, nrow(d))
    m <- suppressMessages(lme4::glmer(y ~ 0 + x + (1 | g), data = d, family = binomial,
                                      offset = o))
    expect_equal(2 * (fit$loglik - as.numeric(logLik(m))), stats::qchisq(0.99, 1),
                 tolerance = 1e-4)
  }
  # A gaussian slope block at a correlation of -1: the slope's standard
  # deviation held above its estimate re-optimises the block (lme4's
  # profile: upper limit 0.4565; the held row left at the face gave 0.4146).
  set.seed(300)
  d <- data.frame(g = factor(rep(1:10, each = 8)), x = rep(seq(-1, 1, length = 8), 10))
  d$y <- 1 + 0.5 * d$x + rnorm(10)[d$g] + rnorm(80)
  fit <- suppressWarnings(glmm(y ~ x + (x | g), data = d))
  ci <- suppressWarnings(confint(fit, method = "profile", parm = "sd_x|g"))
  m <- lme4::lmer(y ~ x + (x | g), data = d, REML = FALSE)
  cl <- suppressWarnings(suppressMessages(confint(m, parm = "sd_x|g", method = "profile",
                                                  oldNames = FALSE)))
  expect_equal(ci[[2]], cl[[2]], tolerance = 1e-3)
})
