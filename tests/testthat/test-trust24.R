# Linear mixed models: fixed effects estimated on a centred and scaled X and
# mapped back (lmm_standard_x()), so standard errors do not depend on the
# covariates' units and location on the profiled routes.

trust24_data <- function() {
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

trust24_se_x <- function(f, d, ...) {
  fits <- lapply(c("x", "x2", "x3"), function(v)
    glmm(stats::as.formula(sprintf(f, v)), data = d, family = gaussian(), ...))
  list(fits = fits, se = vapply(fits, function(m) sqrt(diag(vcov(m)))[[2L]], 1))
}

test_that("profiled LMM standard errors do not depend on the covariate's units or location", {
  d <- trust24_data()
  for (reml in c(FALSE, TRUE)) {
    for (f in c("y ~ %s + (1|a) + (1|b)", "y ~ %s + (1|a)")) {
      r <- trust24_se_x(f, d, REML = reml)
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
  d <- trust24_data()
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
  d <- trust24_data()
  m1 <- glmm(y ~ x + (1|a), data = d, family = gaussian())
  m2 <- glmm(y ~ x2 + (1|a), data = d, family = gaussian())
  expect_identical(m1$optinfo$method, m2$optinfo$method)
  # beta_x2 = beta_x * 1e6: its covariances with lambda and log(sigma)
  # scale by 1e6, whatever the location.
  expect_equal(m2$cov_theta[3:4, 2] * 1e-6, m1$cov_theta[3:4, 2], tolerance = 1e-6)
  expect_equal(m2$cov_theta[3:4, 3:4], m1$cov_theta[3:4, 3:4], tolerance = 1e-8)
})

# Structured covariances: the nbinom2 theta and the betabinomial phi at
# their no-overdispersion limit (Inf) are verified, said and recorded as
# nbinom1's phi -> 0 was, and as dispersion_limit() does for unstructured
# terms: left out of the convergence test and the covariance.
trust24_ar1_data <- function(under) {
  set.seed(2)
  G <- 40; Tn <- 4; R <- 3
  d <- data.frame(g = factor(rep(1:G, each = Tn * R)), t = factor(rep(rep(1:Tn, each = R), G)))
  d$x <- rnorm(nrow(d))
  b <- matrix(rnorm(G * Tn), G, Tn)
  for (j in 2:Tn) b[, j] <- 0.6 * b[, j - 1] + sqrt(1 - 0.36) * b[, j]
  eta <- 0.5 * b[cbind(as.integer(d$g), as.integer(d$t))]
  d$y <- rpois(nrow(d), exp(0.5 + 0.3 * d$x + eta))
  # Counts with less variance than Poisson: nbinom2's theta runs to Inf.
  if (under) d$yu <- rbinom(nrow(d), 30, exp(0.5 + 0.3 * d$x + eta) / 30)
  d$n <- 10
  d$k <- rbinom(nrow(d), 10, plogis(-0.3 + 0.3 * d$x + eta))
  d
}

test_that("nbinom2 with a structured covariance at theta -> Inf: the Poisson fit, said and recorded", {
  d <- trust24_ar1_data(TRUE)
  for (st in c("ar1", "cs", "homdiag", "diag")) {
    f <- stats::as.formula(sprintf("yu ~ x + %s(t + 0 | g)", st))
    p <- glmm(f, data = d, family = poisson())
    expect_warning(nb <- glmm(f, data = d, family = nbinom2()),
                   "nbinom2 dispersion theta is estimated at Inf.*Poisson limit.*verified")
    expect_true(nb$optinfo$dispersion_limit, info = st)
    expect_false(any(grepl("doubtful convergence|not negative definite", nb$optinfo$warnings)), info = st)
    expect_equal(as.numeric(logLik(nb)), as.numeric(logLik(p)), tolerance = 1e-7, info = st)
    expect_equal(fixef(nb), fixef(p), tolerance = 1e-4, info = st)
    expect_equal(sqrt(diag(vcov(nb))), sqrt(diag(vcov(p))), tolerance = 1e-4, info = st)
    expect_true(is.na(diag(nb$cov_theta))[[length(nb$theta)]], info = st)
  }
})

test_that("betabinomial with ar1() at phi -> Inf: the binomial fit, said and recorded", {
  d <- trust24_ar1_data(FALSE)
  f <- cbind(k, n - k) ~ x + ar1(t + 0 | g)
  b <- glmm(f, data = d, family = binomial())
  expect_warning(bb <- glmm(f, data = d, family = betabinomial()),
                 "betabinomial dispersion phi is estimated at Inf.*binomial limit")
  expect_true(bb$optinfo$dispersion_limit)
  expect_false(any(grepl("doubtful convergence|not negative definite", bb$optinfo$warnings)))
  expect_equal(as.numeric(logLik(bb)), as.numeric(logLik(b)), tolerance = 1e-7)
  expect_equal(sqrt(diag(vcov(bb))), sqrt(diag(vcov(b))), tolerance = 1e-4)
})

test_that("nbinom2 with ar1() and overdispersed counts: no limit reported", {
  d <- trust24_ar1_data(FALSE)
  d$yo <- rnbinom(nrow(d), mu = exp(0.5 + 0.3 * d$x), size = 2)
  nb <- glmm(yo ~ x + ar1(t + 0 | g), data = d, family = nbinom2())
  expect_false(nb$optinfo$dispersion_limit)
  expect_true(is.finite(sqrt(diag(nb$cov_theta))[[length(nb$theta)]]))
})

test_that("predict(newdata) with a level not in the fit: the package's error naming variable, part and level", {
  set.seed(5)
  n <- 400
  d <- data.frame(g = factor(rep(1:20, each = 20)), f = factor(sample(c("a", "b", "c"), n, TRUE)),
                  h = factor(sample(c("u", "v"), n, TRUE)), x = rnorm(n))
  d$y <- ifelse(runif(n) < plogis(-1 + (d$f == "b")), 0,
                rpois(n, exp(0.5 + 0.3 * d$x + rnorm(20, 0, 0.4)[d$g])))
  m <- glmm(y ~ x + h + (1 | g), ziformula = ~ f, data = d, family = poisson())
  nd <- d[1:3, ]
  expect_equal(unname(predict(m, nd)), unname(predict(m)[1:3]), tolerance = 1e-10)
  nd$f <- factor(c("a", "zz", "b"))
  expect_error(predict(m, nd), "level\\(s\\) of the factor 'f' \\(ziformula\\) not in the fit: 'zz'")
  nd <- d[1:3, ]
  nd$h <- c("u", "w", "v")
  expect_error(predict(m, nd), "factor 'h' \\(fixed effects of the conditional part\\) not in the fit: 'w'")
  md <- glmm(y ~ x + (1 | g), dispformula = ~ f, data = d, family = nbinom2())
  nd <- d[1:3, ]
  nd$f <- c("a", "b", "q")
  expect_error(predict(md, nd), "factor 'f' \\(dispformula\\) not in the fit: 'q'")
})

test_that("truncated_nbinom2 at its log-series limit (mu, theta -> 0) says so and records it", {
  set.seed(3)
  n <- 300
  d <- data.frame(g = factor(rep(1:30, each = 10)), x = rnorm(n))
  d$y <- ifelse(runif(n) < 0.8, 1, sample(2:4, n, TRUE))
  w <- character()
  m <- withCallingHandlers(glmm(y ~ x + (1 | g), data = d, family = truncated_nbinom2()),
                           warning = function(w0) {
                             w <<- c(w, conditionMessage(w0)); invokeRestart("muffleWarning")
                           })
  expect_true(m$optinfo$logseries_limit)
  expect_true(any(grepl("not negative definite.*cause: the zero-truncated nbinom2 runs to its log-series limit", w)))
  # Ordinary zero-truncated negative binomial counts: no such limit.
  mu <- exp(1 + 0.3 * d$x + rnorm(30, 0, 0.3)[d$g])
  y <- rnbinom(5 * n, mu = rep(mu, 5), size = 1.5)
  d2 <- data.frame(g = rep(d$g, 5), x = rep(d$x, 5), y = y)[y > 0, ][1:n, ]
  m2 <- glmm(y ~ x + (1 | g), data = d2, family = truncated_nbinom2())
  expect_false(m2$optinfo$logseries_limit)
  expect_false(any(grepl("log-series", m2$optinfo$warnings)))
})

test_that("truncated_nbinom2 at its log-series limit with several random-effect terms", {
  set.seed(3)
  n <- 300
  d <- data.frame(g = factor(rep(1:30, each = 10)), h = factor(rep(1:10, 30)), x = rnorm(n))
  d$y <- ifelse(runif(n) < 0.8, 1, sample(2:4, n, TRUE))
  m <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), data = d, family = truncated_nbinom2()))
  expect_true(m$optinfo$logseries_limit)
  expect_true(any(grepl("log-series limit", m$optinfo$warnings)))
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
