# Multilevel adaptive quadrature with random slopes at the innermost level,
# (1 | a) + (1 + x | a:b): a brute-force reference quadrature (itself
# checked against the exact gaussian likelihood), the engine against it,
# and the fits through glmm().

test_that("the brute-force nested quadrature with an inner random slope is exact for a gaussian model", {
  d <- nested_data(31, A = 4, B = 3, m = 4, sds = c(0.7, 0.5), family = "gaussian")
  ib <- interaction(d$a, d$b, drop = TRUE)
  Z <- cbind(1, d$x)
  beta <- c(-0.2, 0.5)
  s_outer <- 0.6
  sigma <- 0.8
  Lambda <- matrix(c(0.5, -0.3, 0, 0.4), 2, 2)  # the inner effects' Cholesky factor
  eta0 <- drop(model.matrix(~ x, d) %*% beta)
  dens <- function(i, eta) dnorm(d$y[i], eta, sigma)
  ll <- brute_nested_slope(eta0, as.integer(d$a), as.integer(ib), Z, s_outer, Lambda, dens,
                           K = 60)
  # The integrand is Gaussian in the effects, so the marginal likelihood is
  # the multivariate normal density with covariance
  # s_outer^2 [same a] + Z_i' Lambda Lambda' Z_j [same a:b] + sigma^2 [i = j].
  same_a <- outer(d$a, d$a, `==`)
  same_b <- outer(ib, ib, `==`)
  V <- s_outer^2 * same_a + same_b * (Z %*% tcrossprod(Lambda) %*% t(Z)) +
    diag(sigma^2, nrow(d))
  C <- chol(V)
  exact <- -0.5 * (nrow(d) * log(2 * pi) + 2 * sum(log(diag(C))) +
                     sum(backsolve(C, d$y - eta0, transpose = TRUE)^2))
  expect_close(ll, exact, 1e-6)
  # Without the slope the inner level is the random intercept of the
  # intercepts-only reference.
  L0 <- diag(c(Lambda[1, 1], 0))
  expect_close(brute_nested_slope(eta0, as.integer(d$a), as.integer(ib), Z, s_outer, L0, dens,
                                  K = 20),
               brute_nested(eta0, list(as.integer(d$a), as.integer(ib)),
                            c(s_outer, Lambda[1, 1]), dens, K = 20), 1e-10)
})

# 4 outer units x 3 inner units x 4 rows, binomial, a random slope of x at
# the inner level; the engine built with the inner level's design Z.
slope_engine_data <- function() {
  d <- nested_data(41, A = 4, B = 3, m = 4)
  ib <- interaction(d$a, d$b, drop = TRUE)
  set.seed(2)
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.8 * d$x + 0.8 * rnorm(4)[d$a] +
                                     rnorm(12)[ib] * (0.6 + 0.7 * d$x)))
  list(d = d, ib = ib, X = model.matrix(~ x, d), Z = cbind(1, d$x),
       units = list(as.integer(d$a) - 1L, as.integer(ib) - 1L))
}
slope_engine <- function(s, Z = s$Z)
  glmmgee:::cpp_nested_new(s$X, as.numeric(s$d$y), rep(1, nrow(s$d)), rep(0, nrow(s$d)),
                           s$units, 1L, 1L, 1L, Z)

test_that("the nested engine with an inner random slope equals brute-force quadrature", {
  s <- slope_engine_data()
  eng <- slope_engine(s)
  beta <- c(-0.2, 0.7)
  Lambda <- matrix(c(0.6, 0.3, 0, 0.5), 2, 2)
  th <- c(beta, 0.7, Lambda[lower.tri(Lambda, diag = TRUE)])
  dens <- function(i, eta) dbinom(s$d$y[i], 1, plogis(eta))
  ref <- brute_nested_slope(drop(s$X %*% beta), as.integer(s$d$a), as.integer(s$ib), s$Z, 0.7,
                            Lambda, dens, K = 40)
  expect_close(glmmgee:::cpp_nested_eval(eng, th, 15L)$loglik, ref, 1e-6)
  # The Laplace approximation (one node) is not that value: the test can fail.
  expect_gt(abs(glmmgee:::cpp_nested_eval(eng, th, 1L)$loglik - ref), 1e-2)
  # The gradient (nodes held fixed) is the value's derivative once the rule
  # is accurate.
  g <- glmmgee:::cpp_nested_eval(eng, th, 15L, TRUE)$gradient
  skip_if_not_installed("numDeriv")
  nd <- numDeriv::grad(function(t) glmmgee:::cpp_nested_eval(eng, t, 15L)$loglik, th)
  expect_equal(g, nd, tolerance = 1e-6)
})

test_that("an inner design of ones reproduces the nested random-intercept engine", {
  s <- slope_engine_data()
  one <- slope_engine(s, matrix(1, nrow(s$d), 1))
  plain <- slope_engine(s, NULL)
  for (K in c(1L, 5L)) {
    a <- glmmgee:::cpp_nested_eval(one, c(-0.2, 0.7, 0.7, 0.6), K, TRUE)
    b <- glmmgee:::cpp_nested_eval(plain, c(-0.2, 0.7, 0.7, 0.6), K, TRUE)
    expect_equal(a$loglik, b$loglik, tolerance = 1e-12)
    expect_equal(a$gradient, b$gradient, tolerance = 1e-10)
  }
})

# 20 outer units x 4 inner units x 5 rows, binomial, correlated inner
# intercept and slope.
slope_fit_data <- function() {
  d <- nested_data(41, A = 20, B = 4, m = 5)
  ib <- interaction(d$a, d$b, drop = TRUE)
  set.seed(3)
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.8 * d$x + 0.8 * rnorm(20)[d$a] + rnorm(80)[ib] * 0.7 +
                                     rnorm(80)[ib] * 0.6 * d$x))
  d
}

test_that("with one node the engine is the sparse Laplace fit's log-likelihood", {
  d <- slope_fit_data()
  form <- y ~ x + (1 | a) + (1 + x | a:b)
  lap <- quiet_singular(glmm(form, data = d, family = binomial, nAGQ = 1))
  expect_false(inherits(lap, "glmmgee_glmm_nested"))
  mf <- model.frame(lme4::subbars(form), d)
  re <- glmmgee:::sparse_re_terms(form, mf, NULL)
  ns <- glmmgee:::nested_structure(re)
  expect_equal(ns$q, 2L)
  eng <- glmmgee:::cpp_nested_new(model.matrix(~ x, d), as.numeric(d$y), rep(1, nrow(d)),
                                  rep(0, nrow(d)), ns$units, 1L, 1L, 1L,
                                  glmmgee:::nested_leaf_design(re, ns))
  map <- glmmgee:::nested_map(re, ns, 2L, length(lap$theta), FALSE)
  expect_close(glmmgee:::cpp_nested_eval(eng, unname(lap$theta)[map], 1L)$loglik,
               as.numeric(logLik(lap)), 1e-7)
})

test_that("uncorrelated slopes (||) are a block-diagonal Lambda: one node is the Laplace fit", {
  d <- slope_fit_data()
  form <- y ~ x + (1 | a) + (1 + x || a:b)
  lap <- quiet_singular(glmm(form, data = d, family = binomial, nAGQ = 1))
  mf <- model.frame(lme4::subbars(form), d)
  re <- glmmgee:::sparse_re_terms(form, mf, NULL)
  ns <- glmmgee:::nested_structure(re)
  expect_equal(ns$q, 2L)
  P <- length(lap$theta)
  map <- glmmgee:::nested_map(re, ns, 2L, P, FALSE)
  expect_equal(sum(map == P + 1L), 1L)  # the correlation entry
  eng <- glmmgee:::cpp_nested_new(model.matrix(~ x, d), as.numeric(d$y), rep(1, nrow(d)),
                                  rep(0, nrow(d)), ns$units, 1L, 1L, 1L,
                                  glmmgee:::nested_leaf_design(re, ns))
  expect_close(glmmgee:::cpp_nested_eval(eng, c(unname(lap$theta), 0)[map], 1L)$loglik,
               as.numeric(logLik(lap)), 1e-7)
  fit <- glmm(form, data = d, family = binomial, nAGQ = 5)
  expect_s3_class(fit, "glmmgee_glmm_nested")
  expect_equal(fit$optinfo$convergence, 0L)
  # The uncorrelated model is nested in the correlated one: its maximum
  # under the same rule is not higher.
  full <- glmm(y ~ x + (1 | a) + (1 + x | a:b), data = d, family = binomial, nAGQ = 5)
  expect_lte(as.numeric(logLik(fit)), as.numeric(logLik(full)) + 1e-6)
})

test_that("the quadrature fit's log-likelihood settles as nAGQ grows and does not depend on x's scale", {
  d <- slope_fit_data()
  fits <- lapply(c(3L, 7L, 11L), function(K)
    glmm(y ~ x + (1 | a) + (1 + x | a:b), data = d, family = binomial, nAGQ = K))
  expect_s3_class(fits[[1]], "glmmgee_glmm_nested")
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 1)
  expect_lt(abs(ll[3] - ll[2]), abs(ll[3] - ll[1]))
  expect_lt(abs(ll[3] - ll[2]), 1e-3)
  # The fit maximizes the quadrature: its value is not below the Laplace
  # start's under the same rule.
  for (f in fits) expect_equal(f$optinfo$convergence, 0L)
  re <- ranef(fits[[3]])[["a:b"]]
  expect_equal(dim(re), c(80L, 2L))
  # Scaling x maps Lambda to Lambda scaled by rows, the same grid: the same
  # optimum. Shifting it rotates the standardized effects, which a product
  # grid does not follow exactly: the same optimum up to the rule's error.
  d$x10 <- 10 * d$x
  d$xs <- d$x + 3
  f10 <- glmm(y ~ x10 + (1 | a) + (1 + x10 | a:b), data = d, family = binomial, nAGQ = 7L)
  expect_close(as.numeric(logLik(f10)), ll[2], 1e-6)
  fs <- lapply(c(7L, 11L), function(K)
    glmm(y ~ xs + (1 | a) + (1 + xs | a:b), data = d, family = binomial, nAGQ = K))
  dev <- abs(vapply(fs, function(f) as.numeric(logLik(f)), 1) - ll[2:3])
  expect_lt(dev[2], dev[1])
  expect_lt(dev[2], 1e-5)
})

test_that("slopes above the innermost level and too many nodes are refused with a clear error", {
  d <- slope_fit_data()
  expect_error(glmm(y ~ x + (1 + x | a) + (1 | a:b), data = d, family = binomial, nAGQ = 5),
               "\\(1 \\+ x \\| a\\) has random slopes.*nAGQ = 1")
  expect_error(glmm(y ~ x + (1 | a) + (1 | a) + (1 | a:b), data = d, family = binomial, nAGQ = 5),
               "'a' appears in two terms; use nAGQ = 1")
  big <- nested_data(5, A = 100, B = 20, m = 1)
  expect_error(glmm(y ~ x + (1 | a) + (1 + x | a:b), data = big, family = binomial, nAGQ = 40),
               "40\\^2 x 2000 units.*above the limit.*nAGQ = 1.*smaller nAGQ")
})

test_that("a gaussian fit with an inner random slope is lmer's maximum likelihood fit", {
  skip_if_not_installed("lme4")
  # The integrand is Gaussian in the effects: adaptive quadrature is exact at
  # any nAGQ, so the fit is the exact maximum likelihood fit.
  d <- nested_data(31, A = 10, B = 3, m = 4, sds = c(0.7, 0.5), family = "gaussian")
  ib <- interaction(d$a, d$b, drop = TRUE)
  set.seed(32)
  d$y <- d$y + 0.5 * rnorm(nlevels(ib))[ib] * d$x
  fit <- glmm(y ~ x + (1 | a) + (1 + x | a:b), data = d, family = gaussian, nAGQ = 3)
  ref <- lme4::lmer(y ~ x + (1 | a) + (1 + x | a:b), data = d, REML = FALSE)
  expect_s3_class(fit, "glmmgee_glmm_nested")
  expect_close(as.numeric(logLik(fit)), as.numeric(logLik(ref)), 1e-6)
  expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-4)
  expect_equal(sigma(fit), sigma(ref), tolerance = 1e-4)
})
