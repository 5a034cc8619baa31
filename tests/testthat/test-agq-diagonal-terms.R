# AGHQ with two terms on one grouping factor, (1 | hw) + (0 + xf | hw), the
# slope's covariate far from zero (xf = x * 1e-6 - 5): a diagonal 2-D random
# effect on the one-factor engine. Its nAGQ = 3 and 5 fits differ by about
# 2e-3 in logLik. That is quadrature error: at fixed parameters the AGHQ value
# matches GLMMadaptive's at every nAGQ and converges geometrically to a
# brute-force 2-D integral (nested integrate()), as fast as the same
# likelihood written on the centred covariate. These tests keep it so.

diagonal_terms_data <- function() {
  d <- nested_shifted_slope_data()  # helper-nested-centring-data.R
  hw <- interaction(d$hospital, d$ward)
  d$hw <- hw
  set.seed(7)
  d$yp <- rpois(nrow(d), exp(0.2 + 0.4 * d$x + rnorm(15, 0, 0.5)[hw] + rnorm(15, 0, 0.3)[hw] * d$x))
  d
}

# The marginal log-likelihood of y | b ~ family(eta + b0 + b1 z), b0 ~ N(0, s0^2),
# b1 ~ N(0, s1^2) independent, cluster by cluster as a nested integrate() over
# +/- 10 prior SDs (the binary and small-count likelihoods are bounded, so no
# rescaling is needed). s1 = 0 gives the 1-D integral.
diagonal_terms_brute <- function(y, eta, z, g, s0, s1, family = "binomial") {
  lik <- function(yi, e) {
    if (family == "binomial") colSums(yi * e - log1p(exp(e)))
    else colSums(yi * e - exp(e) - lgamma(yi + 1))
  }
  total <- 0
  for (lev in unique(g)) {
    i <- g == lev
    yi <- y[i]; ei <- eta[i]; zi <- z[i]
    inner <- function(b1) vapply(b1, function(bb) {
      integrate(function(b0) exp(lik(yi, outer(ei + bb * zi, b0, "+"))) * dnorm(b0, 0, s0),
                -10 * s0, 10 * s0, rel.tol = 1e-12, abs.tol = 0, subdivisions = 500L)$value
    }, 0)
    val <- if (s1 == 0) inner(0) else
      integrate(function(b1) inner(b1) * dnorm(b1, 0, s1), -10 * s1, 10 * s1,
                rel.tol = 1e-12, abs.tol = 0, subdivisions = 500L)$value
    total <- total + log(val)
  }
  total
}

diagonal_terms_fit <- function(d, k, form = y ~ x + (1 | hw) + (0 + xf | hw), family = binomial) {
  # A near-flat ridge (the far slope's effect is almost the intercept's):
  # doubtful-convergence warnings are expected and not the subject here.
  suppressWarnings(glmm(form, data = d, family = family, nAGQ = k))
}

test_that("AGHQ at fixed parameters converges in nAGQ to the brute-force integral", {
  d <- diagonal_terms_data()
  f <- diagonal_terms_fit(d, 15)
  th <- f$theta
  bf <- diagonal_terms_brute(d$y, drop(cbind(1, d$x) %*% th[1:2]), d$xf, d$hw, th[3], th[4])
  ks <- c(1, 3, 5, 7, 9, 11, 15)
  err <- vapply(ks, function(k) abs(glmmgee:::loglik_at_theta(f, th, nAGQ = k) - bf), 0)
  # Measured: 0.113, 2.1e-3, 2.9e-5, 4.5e-7, 7.3e-9, 1.3e-10, 2e-12.
  expect_true(all(diff(err[ks <= 11]) < 0))
  expect_lt(err[ks == 3], 5e-3)
  expect_lt(err[ks == 5], 1e-4)
  expect_lt(err[ks == 7], 2e-6)
  expect_lt(err[ks == 11], 2e-9)
  expect_lt(err[ks == 15], 1e-9)

  # The same likelihood written on the centred covariate, (1 + xc | hw) with
  # the covariance mapped to it: the same limit, at a similar rate (measured
  # 5.2e-3, 1.9e-4, 6.6e-6 at nAGQ 3, 5, 7).
  m <- mean(d$xf)
  d$xc <- d$xf - m
  fc <- diagonal_terms_fit(d, 3, y ~ x + (1 + xc | hw))
  S <- matrix(c(th[3]^2 + m^2 * th[4]^2, m * th[4]^2, m * th[4]^2, th[4]^2), 2)
  L <- t(chol(S))
  thc <- c(th[1:2], L[1, 1], L[2, 1], L[2, 2])
  errc <- vapply(ks, function(k) abs(glmmgee:::loglik_at_theta(fc, thc, nAGQ = k) - bf), 0)
  expect_true(all(diff(errc[ks <= 11]) < 0))
  expect_lt(errc[ks == 3], 1e-2)
  expect_lt(errc[ks == 15], 1e-9)
})

test_that("fits at increasing nAGQ converge to the brute-force maximum", {
  d <- diagonal_terms_data()
  ks <- c(1, 3, 5, 7, 11, 15)
  fits <- lapply(ks, function(k) diagonal_terms_fit(d, k))
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 0)
  # The far slope's effect is the intercept's up to 1e-6 x: the likelihood is
  # flat along s0^2 + 25 s1^2 to 2e-7 and highest at s1 = 0, the random
  # intercept model. The truth at the optimum is the larger of the brute-force
  # values at our nAGQ = 15 estimate and at the random intercept fit.
  th <- fits[[6]]$theta
  bf2 <- diagonal_terms_brute(d$y, drop(cbind(1, d$x) %*% th[1:2]), d$xf, d$hw, th[3], th[4])
  ri <- diagonal_terms_fit(d, 15, y ~ x + (1 | hw))
  bf1 <- diagonal_terms_brute(d$y, drop(cbind(1, d$x) %*% ri$theta[1:2]), d$xf, d$hw,
                      ri$theta[3], 0)
  truth <- max(bf1, bf2)
  err <- abs(ll - truth)
  # Measured: 0.107, 1.8e-3, 1.6e-5, 5.5e-7, 1.6e-7, 1.6e-7 (the last two the
  # ridge's shortfall, reported by a doubtful-convergence warning).
  expect_true(all(diff(err[ks <= 7]) < 0))
  expect_lt(err[ks == 3], 3e-3)
  expect_lt(err[ks == 5], 1e-4)
  expect_lt(abs(ll[ks == 3] - ll[ks == 5]), 3e-3)
  expect_lt(err[ks == 7], 2e-6)
  expect_lt(err[ks == 11], 1e-6)
  expect_lt(err[ks == 15], 1e-6)
  # The estimate's brute-force value matches the reported logLik.
  expect_lt(abs(bf2 - ll[ks == 15]), 1e-9)
})

test_that("rescaling the far covariate or writing (1 + xf || hw) changes nothing", {
  d <- diagonal_terms_data()
  d$xs <- d$xf * 3
  for (k in c(3, 5, 11)) {
    a <- diagonal_terms_fit(d, k)
    b <- diagonal_terms_fit(d, k, y ~ x + (1 | hw) + (0 + xs | hw))
    cc <- diagonal_terms_fit(d, k, y ~ xf + (1 + xf || hw))
    expect_lt(abs(as.numeric(logLik(a)) - as.numeric(logLik(b))), 1e-8)
    expect_lt(abs(as.numeric(logLik(a)) - as.numeric(logLik(cc))), 1e-6)
  }
})

test_that("AGHQ matches GLMMadaptive's at equal nAGQ at the same parameters", {
  skip_if_not_installed("GLMMadaptive")
  d <- diagonal_terms_data()
  at <- function(fixed, random, family, betas, D, k) {
    g <- suppressWarnings(GLMMadaptive::mixed_model(
      fixed = fixed, random = random, data = d, family = family, nAGQ = k,
      initial_values = list(betas = betas, D = D),
      control = list(iter_EM = 0, iter_qN_outer = 0)))
    # Evaluated at the given values, not refitted.
    expect_equal(unname(GLMMadaptive::fixef(g)), unname(betas), tolerance = 1e-12)
    as.numeric(logLik(g))
  }
  # Binomial, 2-D diagonal; measured differences <= 7e-9 from nAGQ = 3.
  f <- diagonal_terms_fit(d, 15)
  th <- f$theta
  for (k in c(3, 5, 7, 11, 15)) {
    ours <- glmmgee:::loglik_at_theta(f, th, nAGQ = k)
    ga <- at(y ~ x, ~ xf || hw, binomial(), th[1:2], th[3:4]^2, k)
    expect_lt(abs(ours - ga), 1e-7)
  }
  # Poisson, a real slope; the nAGQ = 15 value also against brute force.
  fp <- diagonal_terms_fit(d, 15, yp ~ x + (1 | hw) + (0 + xf | hw), poisson)
  tp <- fp$theta
  for (k in c(3, 5, 7, 11, 15)) {
    ours <- glmmgee:::loglik_at_theta(fp, tp, nAGQ = k)
    ga <- at(yp ~ x, ~ xf || hw, poisson(), tp[1:2], tp[3:4]^2, k)
    expect_lt(abs(ours - ga), 1e-6)
  }
  bfp <- diagonal_terms_brute(d$yp, drop(cbind(1, d$x) %*% tp[1:2]), d$xf, d$hw, tp[3], tp[4],
                      family = "poisson")
  expect_lt(abs(as.numeric(logLik(fp)) - bfp), 1e-8)
})
