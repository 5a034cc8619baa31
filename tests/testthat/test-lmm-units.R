# Linear mixed models: fixed effects estimated on a centred and scaled X
# and mapped back, so standard errors do not depend on the covariates'
# units and location on the profiled routes, with lme4's fits on shifted
# designs.

lmm_units_data <- function() {
  set.seed(1)
  n <- 300
  a <- factor(sample(1:15, n, TRUE)); b <- factor(sample(1:10, n, TRUE))
  x <- rnorm(n, 3, 2)
  y <- 1 + 0.5 * x + rnorm(15)[a] + rnorm(10)[b] + rnorm(n)
  d <- data.frame(y, x, a, b)
  d$x2 <- x * 1e-6 - 5
  d$x3 <- x + 1e4
  d
}

lmm_se_of_x <- function(f, d, ...) {
  fits <- lapply(c("x", "x2", "x3"), function(v)
    glmm(stats::as.formula(sprintf(f, v)), data = d, family = gaussian(), ...))
  list(fits = fits, se = vapply(fits, function(m) sqrt(diag(vcov(m)))[[2L]], 1))
}

test_that("profiled LMM standard errors do not depend on the covariate's units or location", {
  d <- lmm_units_data()
  for (reml in c(FALSE, TRUE)) {
    for (f in c("y ~ %s + (1|a) + (1|b)", "y ~ %s + (1|a)")) {
      r <- lmm_se_of_x(f, d, REML = reml)
      info <- sprintf("%s, REML = %s", f, reml)
      # Before: 4.7e-3 (several terms, ML), 3.8e-3 (REML), 6.4e-3 and a
      # non-converged search (one factor, REML), 1.3e-8 (one factor, ML).
      expect_equal(r$se[[2L]] * 1e-6, r$se[[1L]], tolerance = 1e-9, info = info)
      expect_equal(r$se[[3L]], r$se[[1L]], tolerance = 1e-9, info = info)
      expect_true(all(vapply(r$fits, function(m) m$optinfo$convergence == 0L, TRUE)), info = info)
      expect_equal(unname(fixef(r$fits[[2L]])[[2L]]) * 1e-6, unname(fixef(r$fits[[1L]])[[2L]]),
                   tolerance = 1e-8, info = info)
      ll <- vapply(r$fits, function(m) as.numeric(logLik(m)), 1)
      # The REML criterion's log|X'V^-1X| moves by -2 log(1e-6) with x2; the
      # ML log-likelihood does not move.
      expect_equal(ll[[2L]], ll[[1L]] - if (reml) log(1e-6) else 0, tolerance = 1e-10, info = info)
      expect_equal(ll[[3L]], ll[[1L]], tolerance = 1e-10, info = info)
    }
  }
})

test_that("profiled LMM fits on shifted designs agree with lme4", {
  skip_if_not_installed("lme4")
  d <- lmm_units_data()
  for (reml in c(FALSE, TRUE)) {
    m <- glmm(y ~ x3 + (1|a) + (1|b), data = d, family = gaussian(), REML = reml)
    l <- lme4::lmer(y ~ x + (1|a) + (1|b), data = d, REML = reml)
    expect_equal(sqrt(diag(vcov(m))[[2L]]), sqrt(diag(as.matrix(vcov(l))))[[2L]],
                 tolerance = 1e-5)
    expect_equal(as.numeric(logLik(m)), as.numeric(logLik(l)), tolerance = 1e-7)
  }
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  s$Days2 <- s$Days * 1e-6 - 5
  m <- glmm(Reaction ~ Days2 + (1|Subject), data = s, family = gaussian(), REML = TRUE)
  l <- lme4::lmer(Reaction ~ Days + (1|Subject), data = s, REML = TRUE)
  expect_equal(sqrt(diag(vcov(m)))[[2L]] * 1e-6, sqrt(diag(as.matrix(vcov(l))))[[2L]],
               tolerance = 1e-6)
})

test_that("one-factor ML: the fixed effects' covariances with the other parameters map too", {
  d <- lmm_units_data()
  m1 <- glmm(y ~ x + (1|a), data = d, family = gaussian())
  m2 <- glmm(y ~ x2 + (1|a), data = d, family = gaussian())
  expect_identical(m1$optinfo$method, m2$optinfo$method)
  # beta_x2 = beta_x * 1e6: its covariances with lambda and log(sigma)
  # scale by 1e6, whatever the location.
  expect_equal(m2$cov_theta[3:4, 2] * 1e-6, m1$cov_theta[3:4, 2], tolerance = 1e-6)
  expect_equal(m2$cov_theta[3:4, 3:4], m1$cov_theta[3:4, 3:4], tolerance = 1e-8)
})

test_that("the LMM routes transform X only where its columns lose digits, with the same fit either way", {
  skip_if_not_installed("lme4")
  ldt <- glmmgee:::lmm_design_transform
  X <- cbind(1, Days = lme4::sleepstudy$Days)
  expect_true(ldt(X)$identity)
  # Far from centred, or with a tiny or huge spread: transformed. The
  # one-pass variance would cancel to 0 on the first and skip it.
  expect_false(ldt(cbind(1, X[, 2] * 1e-6 - 5))$identity)
  expect_false(ldt(cbind(1, X[, 2] + 1e4))$identity)
  expect_false(ldt(cbind(1, X[, 2] * 1e3))$identity)
  # The fits that skip it equal those that take it (units mapped back).
  s <- lme4::sleepstudy
  s$D2 <- s$Days * 1e-6 - 5
  for (reml in c(TRUE, FALSE)) {
    a <- glmm(Reaction ~ Days + (Days | Subject), s, REML = reml)
    b <- glmm(Reaction ~ D2 + (Days | Subject), s, REML = reml)
    expect_equal(unname(fixef(a)[2]), unname(fixef(b)[2]) * 1e-6, tolerance = 1e-9)
    expect_equal(unname(sqrt(diag(vcov(a)))[2]), unname(sqrt(diag(vcov(b)))[2]) * 1e-6,
                 tolerance = 1e-8)
  }
})
