# A random slope far from zero (x * 1e-6 - 5 beside its intercept) on the
# one-factor LMM routes: the same model as on x, reparameterized, so the fit
# must be the well-scaled one mapped back exactly.

# The well-scaled fit's quantities in the units of x2 = x * a + c
# (x = (x2 - c) / a): b0' = b0 - c b1 / a, b1' = b1 / a.
slope_centring_map <- function(a, c) matrix(c(1, 0, -c / a, 1 / a), 2, 2)

# sd of the slope's random effect and its delta-method variance from
# cov_theta (lambda[1,1], lambda[2,1], lambda[2,2]).
slope_centring_slope_sd <- function(fit) {
  lam <- fit$theta[grep("^lambda", names(fit$theta))]
  V <- fit$cov_theta[names(lam), names(lam)]
  s <- sqrt(lam[2]^2 + lam[3]^2)
  g <- c(0, lam[2], lam[3]) / s
  c(sd = unname(s), var = drop(t(g) %*% V %*% g))
}

slope_centring_check <- function(f1, f2, a, c, reml) {
  Tm <- slope_centring_map(a, c)
  expect_true(f2$optinfo$convergence == 0L)
  expect_length(f2$optinfo$warnings, 0L)
  expect_false(isTRUE(f2$singular))
  # REML: log|X'V^-1X| on x2 differs by the constant 2 log|a|.
  shift <- if (reml) -log(abs(a)) else 0
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)) + shift, tolerance = 1e-10)
  expect_equal(unname(fixef(f2)), unname(drop(Tm %*% fixef(f1))), tolerance = 1e-8)
  expect_equal(unname(vcov(f2)), unname(Tm %*% vcov(f1) %*% t(Tm)), tolerance = 1e-6)
  D1 <- unclass(VarCorr(f1))[[1L]]
  D2 <- unclass(VarCorr(f2))[[1L]]
  expect_equal(unname(D2[1:2, 1:2]), unname(Tm %*% D1[1:2, 1:2] %*% t(Tm)), tolerance = 1e-7)
  expect_equal(sigma(f2), sigma(f1), tolerance = 1e-9)
  r1 <- as.matrix(ranef(f1)[[1L]])
  r2 <- as.matrix(ranef(f2)[[1L]])
  expect_equal(unname(r2), unname(r1 %*% t(Tm)), tolerance = 1e-6)
  # Conditional covariances of b: Tm C Tm' cluster by cluster.
  v1 <- f1$ranef$mode_var
  v2 <- f2$ranef$mode_var
  for (l in c(1L, dim(v1)[3L]))
    expect_equal(unname(v2[, , l]), unname(Tm %*% v1[, , l] %*% t(Tm)), tolerance = 1e-8)
  # X b + Z b on x2 cancels terms |c / a| = 5e6 times the result's size:
  # about 7 digits of the last 16 are lost to the user's units themselves.
  expect_equal(unname(fitted(f2)), unname(fitted(f1)), tolerance = 1e-7)
  # The covariance of the parameters maps by the Jacobian of the exact map.
  s1 <- slope_centring_slope_sd(f1)
  s2 <- slope_centring_slope_sd(f2)
  expect_equal(s2[["sd"]], s1[["sd"]] / abs(a), tolerance = 1e-7)
  expect_equal(s2[["var"]], s1[["var"]] / a^2, tolerance = 1e-5)
  expect_equal(f2$cov_theta["log(sigma)", "log(sigma)"],
               f1$cov_theta["log(sigma)", "log(sigma)"], tolerance = 1e-6)
  # About as many evaluations as the well-scaled search (413 before).
  expect_lt(f2$optinfo$evaluations, 3 * f1$optinfo$evaluations + 10)
}

test_that("sleepstudy with Days * 1e-6 - 5 in the random part: REML and ML are Days' fits mapped back", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  d <- sleepstudy
  d$Days2 <- d$Days * 1e-6 - 5
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(Reaction ~ Days + (Days | Subject), d, REML = reml)
    f2 <- glmm(Reaction ~ Days2 + (Days2 | Subject), d, REML = reml)
    slope_centring_check(f1, f2, 1e-6, -5, reml)
    # lmer on the well-scaled design (it does not converge on Days2).
    l1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), d, REML = reml)
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(l1)) + if (reml) log(1e6) else 0,
                 tolerance = 1e-8)
  }
})

test_that("1000 simulated clusters with x * 1e-6 - 5 in the random part converge to x's fit", {
  set.seed(2611)
  M <- 1000L
  n <- 5L
  g <- rep(seq_len(M), each = n)
  x <- rnorm(M * n)
  b0 <- rnorm(M, sd = 1)
  b1 <- 0.6 * b0 + rnorm(M, sd = 0.5)
  d <- data.frame(g = factor(g), x = x, y = 1 + 0.5 * x + b0[g] + b1[g] * x + rnorm(M * n))
  d$x2 <- d$x * 1e-6 - 5
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(y ~ x + (x | g), d, REML = reml)
    f2 <- glmm(y ~ x2 + (x2 | g), d, REML = reml)
    slope_centring_check(f1, f2, 1e-6, -5, reml)
  }
})

test_that("rows at weight zero: the centring uses the kept rows and the fit stays Days' mapped back", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  d <- sleepstudy
  d$Days2 <- d$Days * 1e-6 - 5
  w <- rep(1, nrow(d))
  w[1:7] <- 0
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(Reaction ~ Days + (Days | Subject), d, weights = w, REML = reml)
    f2 <- glmm(Reaction ~ Days2 + (Days2 | Subject), d, weights = w, REML = reml)
    slope_centring_check(f1, f2, 1e-6, -5, reml)
  }
})
