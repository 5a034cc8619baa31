# Gaussian ML with one grouping factor on the profiled C++ search
# (fit-lmm-ml.R): the same optimum as lmer(REML = FALSE) and as the
# Laplace engine's route, which it replaces for interior optima.

# The route's searches (Newton in C++, nlminb after it when it stops at a
# bound), not the engine's Newton-BFGS.
profiled_route <- function(fit)
  fit$optinfo$optimizer %in% c("Newton (exact gradient, C++)", "nlminb (exact gradient)",
                                  "nlminb, then Newton (exact gradient, C++)")

engine_route <- function(expr) {
  op <- options(glmmgee.lmm_profiled = FALSE)
  on.exit(options(op))
  expr
}

test_that("sleepstudy: lmer's ML optimum, and the engine route's estimates and standard errors", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  for (form in list(Reaction ~ Days + (Days | Subject), Reaction ~ Days + (1 | Subject),
                    Reaction ~ Days + (Days || Subject))) {
    fit <- glmm(form, sleepstudy)
    expect_true(profiled_route(fit))
    ref <- lme4::lmer(form, sleepstudy, REML = FALSE)
    # Ours is lmer's optimum or higher.
    expect_gt(as.numeric(logLik(fit)), as.numeric(logLik(ref)) - 1e-7)
    expect_equal(fixef(fit), lme4::fixef(ref), tolerance = 1e-5)
    expect_equal(unname(sigma(fit)), sigma(ref), tolerance = 1e-5)
    eng <- engine_route(glmm(form, sleepstudy))
    expect_false(profiled_route(eng))
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(eng)), tolerance = 1e-10)
    expect_equal(fit$theta, eng$theta, tolerance = 1e-7)
    # The analytic Hessian here, forward differences of the engine's exact
    # gradient on its scale there.
    expect_equal(fit$cov_theta, eng$cov_theta, tolerance = 1e-4)
    expect_equal(ranef(fit), ranef(eng), tolerance = 1e-7)
    expect_equal(predict(fit), predict(eng), tolerance = 1e-9)
    expect_length(fit$optinfo$warnings, 0L)
    expect_true(fit$optinfo$boundary_check$verified)
  }
})

test_that("weights and offsets: the same fit as the engine's route", {
  d <- lmm_weighted_sim(31, 80, 6L, c(3, 50))
  for (args in list(list(weights = quote(w)), list(offset = quote(o)))) {
    cl <- as.call(c(list(quote(glmm), y ~ x + (x | g), data = quote(d)), args))
    fit <- eval(cl)
    eng <- engine_route(eval(cl))
    expect_true(profiled_route(fit))
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(eng)), tolerance = 1e-10)
    expect_equal(fit$theta, eng$theta, tolerance = 1e-7)
    expect_equal(fit$cov_theta, eng$cov_theta, tolerance = 1e-4)
    expect_equal(fit$cluster_loglik, eng$cluster_loglik, tolerance = 1e-8)
    expect_identical(nobs(fit), nobs(eng))
  }
})

test_that("a variance at zero is left to the engine, which verifies the boundary", {
  set.seed(7)
  M <- 40
  g <- rep(seq_len(M), each = 5L)
  x <- rnorm(length(g))
  d <- data.frame(g = g, x = x, y = 2 + x + rnorm(M, sd = 0.8)[g] + rnorm(length(g)))
  fit <- suppressWarnings(glmm(y ~ x + (x | g), d))
  expect_true(fit$singular)
  expect_false(profiled_route(fit))
  expect_true(fit$optinfo$boundary_check$performed)
})

test_that("a start keeps the engine's route; nAGQ = 1 given does not", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  fit <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy,
              start = list(beta = c(250, 10), lambda = 30, sigma = 30))
  expect_false(profiled_route(fit))
  fit <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, nAGQ = 1)
  expect_true(profiled_route(fit))
  # A malformed nAGQ still meets glmm_fit()'s check.
  expect_error(glmm(Reaction ~ Days + (1 | Subject), sleepstudy, nAGQ = "1"), "nAGQ")
})
