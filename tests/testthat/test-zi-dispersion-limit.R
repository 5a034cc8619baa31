# Two-part fits (zero-inflated, hurdle) whose negative binomial dispersion
# runs to its Poisson limit: said in a warning and recorded, left out of the
# convergence test and the covariance (as the one-part routes do), instead
# of a false "doubtful convergence" and missing standard errors.

displim_data <- function(seed, overdispersed = FALSE) {
  set.seed(seed)
  M <- 60; n <- 8
  g <- rep(seq_len(M), each = n)
  x <- rnorm(M * n)
  b <- rnorm(M, 0, 0.4)
  mu <- exp(0.5 + 0.3 * x + b[g])
  y <- if (overdispersed) rnbinom(M * n, mu = mu, size = 1.5) else rpois(M * n, mu)
  y[runif(M * n) < 0.2] <- 0
  data.frame(y = y, x = x, g = factor(g), h = factor(rep(1:10, length.out = M * n)))
}

expect_at_limit <- function(r, ref, what) {
  f <- r$fit
  expect_true(isTRUE(f$optinfo$dispersion_limit), info = what)
  expect_true(any(grepl("estimated at its limit", r$warnings)), info = what)
  expect_false(any(grepl("doubtful convergence", r$warnings)), info = what)
  # The fit is the Poisson model's: same log-likelihood and fixed effects,
  # standard errors present.
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(ref)), tolerance = 1e-6, info = what)
  expect_equal(unname(fixef(f)), unname(fixef(ref)), tolerance = 1e-4, info = what)
  se <- sqrt(diag(vcov(f)))
  expect_true(all(is.finite(se)), info = what)
  expect_equal(unname(se), unname(sqrt(diag(vcov(ref)))), tolerance = 1e-3, info = what)
}

test_that("zero-inflated nbinom2 at its Poisson limit, one factor and several terms", {
  d <- displim_data(3)
  r1 <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1, family = nbinom2())
  p1 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = poisson()))
  expect_at_limit(r1, p1, "one factor")
  r2 <- fit_quiet(y ~ x + (1 | g) + (1 | h), data = d, ziformula = ~1, family = nbinom2())
  p2 <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), data = d, ziformula = ~1,
                              family = poisson()))
  expect_at_limit(r2, p2, "sparse")
})

test_that("nbinom1 hurdle and zero-part random effects at the Poisson limit", {
  d <- displim_data(3)
  r1 <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1, family = truncated_nbinom1())
  p1 <- glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = truncated_poisson())
  expect_at_limit(r1, p1, "hurdle nbinom1")
  r2 <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1 + (1 | h), family = nbinom1())
  p2 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, ziformula = ~1 + (1 | h),
                              family = poisson()))
  expect_at_limit(r2, p2, "two-part sparse engine")
})

test_that("overdispersed counts are not flagged", {
  d <- displim_data(4, overdispersed = TRUE)
  f <- glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = nbinom2())
  expect_false(f$optinfo$dispersion_limit)
  expect_true(all(is.finite(sqrt(diag(f$cov_theta)))))
})

test_that("a dispersion formula whose every row runs to the Poisson limit is flagged", {
  d <- displim_data(3)
  p1 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, ziformula = ~1, family = poisson()))
  for (fam in list(nbinom2(), nbinom1())) {
    r <- fit_quiet(y ~ x + (1 | g), data = d, ziformula = ~1, dispformula = ~x, family = fam)
    expect_at_limit(r, p1, fam$family)
    expect_true(any(grepl("480 of 480 rows", r$warnings)), info = fam$family)
    expect_true(all(is.na(disp_se(r$fit))), info = fam$family)
    # The zero part's and the random effect's standard errors are the
    # Poisson model's too.
    expect_equal(unname(sqrt(diag(r$fit$cov_theta))[3:4]), unname(sqrt(diag(p1$cov_theta))[3:4]),
                 tolerance = 1e-3, info = fam$family)
  }
})

test_that("one level of a dispersion factor at the limit: flagged, other standard errors kept, invariant to its coding", {
  d <- displim_mixed(2)
  cases <- list(
    list(y ~ z + (1 | g), ~1, nbinom2()),
    list(y ~ z + (1 | g), ~1, nbinom1()),
    list(y ~ z + (1 | g), ~1, truncated_nbinom2()),
    list(y ~ z + (1 | g) + (1 | h), ~1, nbinom2()),
    list(y ~ z + (1 | g), ~1 + (1 | h), nbinom1()))
  for (cs in cases) {
    what <- paste(deparse(cs[[1]]), deparse(cs[[2]]), cs[[3]]$family)
    tr <- fit_quiet(cs[[1]], data = d, ziformula = cs[[2]], dispformula = ~f, family = cs[[3]])
    cl <- fit_quiet(cs[[1]], data = d, ziformula = cs[[2]], dispformula = ~0 + f, family = cs[[3]])
    for (r in list(tr, cl)) {
      expect_true(isTRUE(r$fit$optinfo$dispersion_limit), info = what)
      expect_true(any(grepl("240 of 480 rows", r$warnings)), info = what)
      expect_false(any(grepl("doubtful convergence|not negative definite", r$warnings)), info = what)
    }
    expect_equal(as.numeric(logLik(tr$fit)), as.numeric(logLik(cl$fit)), tolerance = 1e-7, info = what)
    # Treatment coding: the level at the limit is the intercept, so both
    # coefficients move along the divergent direction (NA); level coding:
    # only fa, and fb (the overdispersed level's log dispersion) keeps its
    # standard error.
    expect_true(all(is.na(disp_se(tr$fit))), info = what)
    expect_true(is.na(disp_se(cl$fit)[[1]]) && is.finite(disp_se(cl$fit)[[2]]), info = what)
    expect_equal(unname(tr$fit$theta[tr$fit$aux$disp_index][1] + tr$fit$theta[tr$fit$aux$disp_index][2]),
                 unname(cl$fit$theta[cl$fit$aux$disp_index][2]), tolerance = 1e-3, info = what)
    # The other parameters' standard errors do not depend on the coding
    # (the divergent direction left out by rotation in one fit, as a
    # coordinate in the other).
    k <- seq_len(min(tr$fit$aux$disp_index) - 1L)
    se_t <- sqrt(diag(tr$fit$cov_theta))[k]
    se_c <- sqrt(diag(cl$fit$cov_theta))[k]
    ok <- is.finite(se_t)
    expect_true(sum(ok) >= 3L, info = what)
    expect_equal(unname(se_t[ok]), unname(se_c[ok]), tolerance = 1e-4, info = what)
  }
})

test_that("the dispersion-region fit agrees with glmmTMB holding the level at its limit", {
  skip_if_not_installed("glmmTMB")
  d <- displim_mixed(2)
  r <- fit_quiet(y ~ z + (1 | g) + (1 | h), data = d, ziformula = ~1, dispformula = ~f,
                 family = nbinom2())
  # glmmTMB's free fit stops with "false convergence" and NaN standard
  # errors; with level a's log theta held at 20 (a Poisson level) it is the
  # model our fit reaches, and its standard errors hold that direction fixed.
  m <- suppressWarnings(glmmTMB::glmmTMB(y ~ z + (1 | g), data = d, ziformula = ~1,
                                         dispformula = ~0 + f, family = glmmTMB::nbinom2(),
                                         start = stats::setNames(list(c(20, 0)), tmb_betadisp()),
                                         map = stats::setNames(list(factor(c(NA, 1))),
                                                               tmb_betadisp())))
  f <- r$fit
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(m)), tolerance = 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(m)$cond))), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(f$cov_theta))[["zi~(Intercept)"]]),
               unname(sqrt(diag(vcov(m)$zi))), tolerance = 1e-4)
  expect_equal(sum(f$theta[f$aux$disp_index]), unname(glmmTMB::fixef(m)$disp[[2]]),
               tolerance = 1e-4)
})

test_that("dispersion formulas not at the limit are not flagged", {
  d0 <- displim_data(4, overdispersed = TRUE)
  f <- glmm(y ~ x + (1 | g), data = d0, ziformula = ~1, dispformula = ~x, family = nbinom2())
  expect_false(f$optinfo$dispersion_limit)
  expect_true(all(is.finite(sqrt(diag(f$cov_theta)))))
  # A finite optimum whose log-linear dispersion only extrapolates beyond
  # the threshold in a few rows (large x): the other rows identify both
  # coefficients, so nothing diverges.
  d <- displim_mixed(1, stats::rexp, mixed = FALSE)
  f <- glmm(y ~ z + (1 | g), data = d, ziformula = ~1, dispformula = ~x, family = nbinom2())
  ld <- drop(cbind(1, d$x) %*% f$theta[f$aux$disp_index])
  expect_true(any(ld > log(1e6)) && mean(ld > log(1e6)) < 0.1)
  expect_false(f$optinfo$dispersion_limit)
  expect_true(all(is.finite(disp_se(f))))
})
