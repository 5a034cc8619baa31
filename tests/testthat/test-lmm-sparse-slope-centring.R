# A random slope far from zero (x * 1e-6 - 5 beside its term's intercept) on
# the several-term sparse LMM route: the same model as on x,
# reparameterized, so the fit must be the well-scaled one mapped back
# exactly (lmm_sparse_centring(), lmm_sparse_standard_z()).

# The well-scaled fit's quantities in the units of x2 = x * a + c
# (x = (x2 - c) / a): b0' = b0 - c b1 / a, b1' = b1 / a.
sparse_slope_centring_map <- function(a, c) matrix(c(1, 0, -c / a, 1 / a), 2, 2)

# f1 on x, f2 on x2 = x * a + c; `g` the slope's term, the other terms'
# intercepts unchanged. The criterion of this route is flat at the optimum:
# the well-scaled fits on x and on x - mean(x) end with a log-likelihood
# equal to 1e-12 but sigma and the variances apart by 1e-7 to 1e-6 relative
# (nlminb's rel.tol 1e-12 on the criterion), so the estimates are compared
# to `tol` = 1e-5 and the log-likelihood to 1e-10.
sparse_slope_centring_check <- function(f1, f2, a, c, reml, g, tol = 1e-5) {
  Tm <- sparse_slope_centring_map(a, c)
  expect_true(isTRUE(f2$optinfo$centred_z))
  expect_identical(f2$optinfo$convergence, 0L)
  # The same warnings as the well-scaled fit: no false singular or
  # convergence warning.
  expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
  expect_identical(isTRUE(f2$singular), isTRUE(f1$singular))
  # REML: log|X'V^-1X| on x2 differs by the constant 2 log|a|.
  shift <- if (reml) -log(abs(a)) else 0
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)) + shift, tolerance = 1e-10)
  expect_equal(unname(fixef(f2)), unname(drop(Tm %*% fixef(f1))), tolerance = tol)
  expect_equal(unname(vcov(f2)), unname(Tm %*% vcov(f1) %*% t(Tm)), tolerance = tol)
  v1 <- unclass(VarCorr(f1))
  v2 <- unclass(VarCorr(f2))
  expect_equal(unname(v2[[g]][1:2, 1:2]), unname(Tm %*% v1[[g]][1:2, 1:2] %*% t(Tm)),
               tolerance = tol)
  for (o in setdiff(names(v1), g))
    expect_equal(unname(v2[[o]][1, 1]), unname(v1[[o]][1, 1]), tolerance = tol)
  expect_equal(sigma(f2), sigma(f1), tolerance = tol)
  r1 <- ranef(f1)
  r2 <- ranef(f2)
  expect_equal(unname(as.matrix(r2[[g]])), unname(as.matrix(r1[[g]]) %*% t(Tm)), tolerance = tol)
  for (o in setdiff(names(r1), g))
    expect_equal(unname(as.matrix(r2[[o]])), unname(as.matrix(r1[[o]])), tolerance = tol)
  # Conditional covariances of b: Tm C Tm' level by level; the other
  # terms' unchanged.
  k <- match(g, names(r1))
  c1 <- f1$reterms[[k]]$condvar
  c2 <- f2$reterms[[k]]$condvar
  for (l in c(1L, 2L, dim(c1)[3L]))
    expect_equal(unname(c2[, , l]), unname(Tm %*% c1[, , l] %*% t(Tm)), tolerance = tol)
  for (j in seq_along(f1$reterms)[-k])
    expect_equal(f2$reterms[[j]]$condvar, f1$reterms[[j]]$condvar, tolerance = tol)
  # X b + Z b on x2 cancels terms |c / a| = 5e6 times the result's size.
  expect_equal(unname(fitted(f2)), unname(fitted(f1)), tolerance = tol)
  # The covariance of the parameters maps by the Jacobian of the exact map.
  s1 <- far_slope_sd(f1, g)
  s2 <- far_slope_sd(f2, g)
  expect_equal(s2[["sd"]], s1[["sd"]] / abs(a), tolerance = tol)
  expect_equal(s2[["var"]], s1[["var"]] / a^2, tolerance = 10 * tol)
  expect_equal(f2$cov_theta["log(sigma)", "log(sigma)"],
               f1$cov_theta["log(sigma)", "log(sigma)"], tolerance = tol)
}

test_that("a crossed design with x * 1e-6 - 5 in (x | a) + (1 | b): REML and ML are x's fits mapped back", {
  skip_if_not_installed("lme4")
  set.seed(2611)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  d$y <- 1 + 0.5 * d$x + rnorm(30)[d$a] + (0.4 * rnorm(30))[d$a] * d$x +
    rnorm(12, sd = 0.7)[d$b] + rnorm(nrow(d))
  d$x2 <- d$x * 1e-6 - 5
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(y ~ x + (x | a) + (1 | b), d, REML = reml)
    f2 <- glmm(y ~ x2 + (x2 | a) + (1 | b), d, REML = reml)
    expect_false(f1$singular)
    sparse_slope_centring_check(f1, f2, 1e-6, -5, reml, "a")
    # lmer on the well-scaled design.
    l1 <- lme4::lmer(y ~ x + (x | a) + (1 | b), d, REML = reml)
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(l1)) + if (reml) log(1e6) else 0,
                 tolerance = 1e-8)
    expect_equal(unname(fixef(f1)), unname(lme4::fixef(l1)), tolerance = 1e-5)
  }
})

test_that("sleepstudy with Days * 1e-6 - 5 in (Days2 | Subject) + (1 | h): no false warnings, lmer's optimum", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  d <- sleepstudy
  d$Days2 <- d$Days * 1e-6 - 5
  d$h <- factor(rep(1:5, length.out = nrow(d)))
  for (reml in c(TRUE, FALSE)) {
    # The variance of h is 0 at the optimum (lmer agrees): a true singular
    # fit, in h's term only; the slope's term is interior and maps back.
    f1 <- suppressWarnings(glmm(Reaction ~ Days + (Days | Subject) + (1 | h), d, REML = reml))
    f2 <- suppressWarnings(glmm(Reaction ~ Days2 + (Days2 | Subject) + (1 | h), d, REML = reml))
    sparse_slope_centring_check(f1, f2, 1e-6, -5, reml, "Subject")
    expect_false(any(grepl("did not report convergence", f2$optinfo$warnings)))
    l1 <- suppressMessages(lme4::lmer(Reaction ~ Days + (Days | Subject) + (1 | h), d, REML = reml))
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(l1)) + if (reml) log(1e6) else 0,
                 tolerance = 1e-8)
  }
})

test_that("a nested design with weights and a far-off slope matches the well-scaled fit", {
  set.seed(2612)
  d <- data.frame(g = factor(rep(1:20, each = 12)), s = factor(rep(1:60, each = 4)),
                  x = rnorm(240), w = runif(240, 0.5, 2))
  d$y <- 2 + d$x + rnorm(20)[d$g] + rnorm(60, sd = 0.5)[d$s] + (0.5 * rnorm(20))[d$g] * d$x +
    rnorm(240)
  d$x2 <- d$x * 1e-5 + 3
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(y ~ x + (x | g) + (1 | g:s), d, weights = w, REML = reml)
    f2 <- glmm(y ~ x2 + (x2 | g) + (1 | g:s), d, weights = w, REML = reml)
    expect_false(f1$singular)
    sparse_slope_centring_check(f1, f2, 1e-5, 3, reml, "g")
  }
})

test_that("well-scaled slopes run on the user's Z, uncentred", {
  data(sleepstudy, package = "lme4")
  d <- sleepstudy
  d$h <- factor(rep(1:5, length.out = nrow(d)))
  # Days + 20: 8.5 standard deviations from zero, inside lmm_z_centre_sd.
  d$D3 <- d$Days + 20
  f <- suppressWarnings(glmm(Reaction ~ D3 + (D3 | Subject) + (1 | h), d))
  expect_null(f$optinfo$centred_z)
})

test_that("a far-off slope whose centred optimum is on the boundary maps back on its face", {
  skip_if_not_installed("lme4")
  # No random slope in truth: the correlation is -1 at the optimum (lambda[2,2]
  # = 0), in the centred term too. That face maps onto itself
  # (lmm_face_map()), so the centred fit is mapped back. From the user's Z
  # the search used to end 0.6 below lmer's log-likelihood
  # from lme4's start; from the centred optimum within 1e-4 of it, with a
  # false "false convergence" warning.
  set.seed(5)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  d$y <- 1 + 0.5 * d$x + rnorm(30)[d$a] + rnorm(12, sd = 0.7)[d$b] + rnorm(nrow(d))
  d$x2 <- d$x * 1e-6 - 5
  for (reml in c(TRUE, FALSE)) {
    f2 <- suppressWarnings(glmm(y ~ x2 + (x2 | a) + (1 | b), d, REML = reml))
    expect_true(isTRUE(f2$optinfo$centred_z))
    expect_true(f2$singular)
    expect_false(any(grepl("convergence", f2$optinfo$warnings)))
    l1 <- suppressMessages(lme4::lmer(y ~ x + (x | a) + (1 | b), d, REML = reml))
    expect_gt(as.numeric(logLik(f2)) - (if (reml) log(1e6) else 0), as.numeric(logLik(l1)) - 1e-7)
  }
})
