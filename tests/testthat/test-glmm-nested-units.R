# Nested adaptive quadrature: estimates and profiles do not depend on a
# covariate's units and location.

test_that("nested adaptive quadrature does not depend on a covariate's units and location", {
  # The search ran in the user's parameters: with x + 1e4 it stopped at
  # the Laplace start ("doubtful convergence", log-likelihood 0.002 short,
  # the slope Laplace's), with x * 1e-6 - 5 also without standard errors.
  set.seed(3)
  d <- data.frame(a = factor(rep(1:20, each = 12)), b = factor(rep(1:3, 80)))
  d$x <- rnorm(240)
  d$y <- rbinom(240, 1, plogis(0.2 + d$x + rnorm(20)[d$a] + rnorm(60)[interaction(d$a, d$b)]))
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  fit <- function(v, ...) glmm(as.formula(paste("y ~", v, "+ (1 | a/b)")), d, binomial, nAGQ = 5, ...)
  ref <- slope_summary(fit("x"), "x")
  expect_summary(slope_summary(fit("x2"), "x2", 1e-6), ref, tolerance = 1e-6)
  expect_summary(slope_summary(expect_silent(fit("x3")), "x3"), ref, tolerance = 1e-6)
  # Without the Hessian the estimates map back alone.
  f0 <- fit("x3", control = glmm_control(hessian = FALSE))
  expect_equal(unname(fixef(f0)["x3"]), ref[["b"]], tolerance = 1e-6)
})

test_that("profile() of a nested quadrature fit does not depend on x's units", {
  # The profile's engine ran on the user's X: with x * 1e-6 - 5 the
  # searches for the other parameters at each point stopped short and the
  # slope's 95% interval was [795772, 795788] for a slope of 0.81e6 with
  # standard error 0.14e6; with x + 1e4 its upper end was 0.955 for 1.087.
  d <- nested_data(7, A = 25, B = 4, m = 4)
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  ci <- lapply(c("x", "x2", "x3"), function(v) {
    f <- glmm(as.formula(paste("y ~", v, "+ (1 | a/b)")), d, family = binomial, nAGQ = 9)
    expect_s3_class(f, "glmmgee_glmm_nested")
    confint(f, parm = c(v, "sd_(Intercept)|a"), method = "profile")
  })
  expect_equal(ci[[2]][1, ] * 1e-6, ci[[1]][1, ], tolerance = 1e-5)
  expect_equal(ci[[3]][1, ], ci[[1]][1, ], tolerance = 1e-5)
  expect_equal(ci[[2]][2, ], ci[[1]][2, ], tolerance = 1e-5)
  expect_equal(ci[[3]][2, ], ci[[1]][2, ], tolerance = 1e-5)
  # The well-scaled profile against the Wald interval's centre and width
  # (a profile of 100 clusters is close to quadratic in the slope).
  w <- confint(glmm(y ~ x + (1 | a/b), d, family = binomial, nAGQ = 9), parm = "x")
  expect_equal(unname(ci[[1]][1, ]), unname(w[1, ]), tolerance = 0.05)
})
