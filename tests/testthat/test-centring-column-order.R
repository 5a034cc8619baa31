# A covariate far from zero BEFORE a factor whose indicators span the
# constant, without an intercept column (0 + x + f): it must be the fit of
# 0 + f + x (and of lme4 / geepack on the covariate near zero), whatever
# the order of the columns in the formula.

column_order_sleep <- function() {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  # A between-subject factor: groups of subjects.
  d$G <- factor(as.integer(d$Subject) %% 4)
  d$x <- d$Days + 1e8
  d$x2 <- d$Days * 1e-6 - 5
  d$yb <- as.integer(d$Reaction > stats::median(d$Reaction))
  d
}

# The fit of 0 + x + f against the one of 0 + f + x: the same coefficients
# and covariance, reported in the user's order.
column_order_same <- function(a, b, tol_b, tol_se) {
  nm <- names(fixef(a))
  expect_identical(nm[-1], names(fixef(b))[-length(nm)])
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-8)
  expect_equal(fixef(a), fixef(b)[nm], tolerance = tol_b)
  expect_equal(sqrt(diag(vcov(a))), sqrt(diag(vcov(b)))[nm], tolerance = tol_se)
}

test_that("0 + x + f, x = Days + 1e8: lmer's fit on Days, as 0 + f + x (gaussian)", {
  d <- column_order_sleep()
  # Before: refused as rank deficient (the column before the indicators was
  # only scaled, collinear with them to 1e-16).
  a <- glmm(Reaction ~ 0 + x + f + (1 | Subject), d)
  b <- glmm(Reaction ~ 0 + f + x + (1 | Subject), d)
  l0 <- lme4::lmer(Reaction ~ 0 + Days + f + (1 | Subject), d, REML = FALSE)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_identical(names(fixef(a)), c("x", "fa", "fb", "fc"))
  expect_equal(unname(fixef(a)["x"]), unname(lme4::fixef(l0)["Days"]), tolerance = 1e-6)
  expect_equal(unname(sqrt(vcov(a)["x", "x"])), sqrt(as.matrix(vcov(l0))["Days", "Days"]),
               tolerance = 1e-5)
  column_order_same(a, b, 1e-7, 1e-5)
  # Another factor's indicators beside the spanning ones.
  a <- glmm(Reaction ~ 0 + x + f + G + (1 | Subject), d)
  l0 <- lme4::lmer(Reaction ~ 0 + Days + f + G + (1 | Subject), d, REML = FALSE)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(unname(fixef(a)["x"]), unname(lme4::fixef(l0)["Days"]), tolerance = 1e-6)
  # A factor of subject groups, random slopes.
  a <- glmm(Reaction ~ 0 + x + G + (Days | Subject), d)
  l0 <- lme4::lmer(Reaction ~ 0 + Days + G + (Days | Subject), d, REML = FALSE)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(unname(fixef(a)["x"]), unname(lme4::fixef(l0)["Days"]), tolerance = 1e-5)
})

test_that("0 + x + f, x far from zero: glmer's fit on Days (binomial)", {
  d <- column_order_sleep()
  a <- glmm(yb ~ 0 + x + f + (1 | Subject), d, family = binomial, nAGQ = 1)
  g0 <- lme4::glmer(yb ~ 0 + Days + f + (1 | Subject), d, family = binomial)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(g0)), tolerance = 1e-6)
  expect_equal(unname(fixef(a)["x"]), unname(lme4::fixef(g0)["Days"]), tolerance = 1e-4)
  # Days * 1e-6 - 5 (default quadrature): before, 5.66 below the optimum
  # (-81.302 against -75.642) without standard errors.
  a2 <- glmm(yb ~ 0 + x2 + f + (1 | Subject), d, family = binomial)
  b2 <- glmm(yb ~ 0 + f + x2 + (1 | Subject), d, family = binomial)
  g3 <- glmm(yb ~ 0 + f + Days + (1 | Subject), d, family = binomial)
  expect_equal(as.numeric(logLik(a2)), as.numeric(logLik(g3)), tolerance = 1e-8)
  expect_equal(unname(fixef(a2)["x2"]) * 1e-6, unname(fixef(g3)["Days"]), tolerance = 1e-5)
  expect_true(all(is.finite(sqrt(diag(vcov(a2))))))
  column_order_same(a2, b2, 1e-6, 1e-4)
})

test_that("0 + x + f on simulated data: the fit on the covariate near zero", {
  skip_if_not_installed("lme4")
  set.seed(31)
  n_id <- 40
  d <- data.frame(id = factor(rep(seq_len(n_id), each = 6)), t = rep(0:5, n_id))
  d$f <- factor(sample(c("p", "q", "r", "s"), nrow(d), replace = TRUE))
  u <- stats::rnorm(n_id, sd = 0.8)[d$id]
  eta <- -0.5 + 0.3 * d$t + c(p = 0, q = 0.4, r = -0.3, s = 0.8)[as.character(d$f)] + u
  d$y <- stats::rbinom(nrow(d), 1, stats::plogis(eta))
  d$yg <- eta + stats::rnorm(nrow(d))
  d$x <- d$t * 1e-6 - 5
  a <- glmm(y ~ 0 + x + f + (1 | id), d, family = binomial, nAGQ = 1)
  # glmmTMB (Laplace) as the peer: glmer's default search stops 1.6e-4
  # below the optimum on these data.
  if (requireNamespace("glmmTMB", quietly = TRUE)) {
    g0 <- glmmTMB::glmmTMB(y ~ 0 + t + f + (1 | id), d, family = binomial)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(g0)), tolerance = 1e-8)
    expect_equal(unname(fixef(a)["x"]) * 1e-6, unname(glmmTMB::fixef(g0)$cond["t"]), tolerance = 1e-6)
  }
  b <- glmm(y ~ 0 + f + t + (1 | id), d, family = binomial, nAGQ = 1)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-10)
  expect_equal(unname(fixef(a)["x"]) * 1e-6, unname(fixef(b)["t"]), tolerance = 1e-7)
  a <- glmm(yg ~ 0 + x + f + (1 | id), d)
  l0 <- lme4::lmer(yg ~ 0 + t + f + (1 | id), d, REML = FALSE)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(unname(fixef(a)["x"]) * 1e-6, unname(lme4::fixef(l0)["t"]), tolerance = 1e-6)
})

# gee() gave geepack's fit here on the base build already (its own route for
# a design without an intercept); kept so that the order stays immaterial.
test_that("0 + x + f, x far from zero: gee() is geepack's fit on Days", {
  skip_if_not_installed("geepack")
  d <- column_order_sleep()
  e <- gee(Reaction ~ 0 + x + f, data = d, id = Subject, corstr = "exchangeable")
  e0 <- geepack::geeglm(Reaction ~ 0 + Days + f, data = d, id = Subject, corstr = "exchangeable")
  expect_equal(unname(coef(e)["x"]), unname(coef(e0)["Days"]), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(e)))[1]), unname(sqrt(diag(vcov(e0)))[1]), tolerance = 1e-5)
  e2 <- gee(yb ~ 0 + x2 + f, data = d, id = Subject, family = binomial, corstr = "exchangeable")
  e3 <- geepack::geeglm(yb ~ 0 + Days + f, data = d, id = Subject, family = binomial,
                        corstr = "exchangeable")
  expect_equal(unname(coef(e2)["x2"]) * 1e-6, unname(coef(e3)["Days"]), tolerance = 1e-5)
})

test_that("(0 + x + f | g), x far from zero: lmer's fit on Days, as (0 + f + x | g)", {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b"), length.out = nrow(d)))
  d$x <- d$Days * 1e-6 - 5
  # Before: 21.2 below the optimum (-896.64 against -875.41), no SEs.
  a <- suppressWarnings(glmm(Reaction ~ Days + (0 + x + f | Subject), d))
  b <- suppressWarnings(glmm(Reaction ~ Days + (0 + f + x | Subject), d))
  l0 <- suppressMessages(lme4::lmer(Reaction ~ Days + (0 + f + Days | Subject), d, REML = FALSE))
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-10)
  expect_equal(fixef(a), fixef(b), tolerance = 1e-6)
})
