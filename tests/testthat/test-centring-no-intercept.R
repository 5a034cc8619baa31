# Several covariates far from zero beside a factor whose indicators span
# the constant, without an intercept column (0 + x1 + x2 + f, in any
# order): the fit on the covariates near zero. And distributed fits of such
# designs, known to the lead by their moments: the in-memory fit.

sleep_no_intercept_data <- function() {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$D2 <- d$Days^2
  d$x1 <- d$Days + 1e8
  d$x2 <- d$D2 * 1e-6 - 5
  d$yb <- as.integer(d$Reaction > stats::median(d$Reaction))
  d
}

# The fit `a` on x1 = Days + 1e8, x2 = D2 * 1e-6 - 5 against the reference
# `r` on Days, D2 (coefficients `nm`): log-likelihood, the two slopes in
# the reference's units, fitted values.
expect_shifted_fit_mapped <- function(a, r, ll_r, b_r, fit_r, tol_ll = 1e-8, tol_b = 1e-6) {
  expect_equal(as.numeric(logLik(a)), ll_r, tolerance = tol_ll)
  expect_equal(unname(c(fixef(a)["x1"], fixef(a)["x2"] * 1e-6)), unname(b_r), tolerance = tol_b)
  expect_equal(unname(fitted(a)), unname(fit_r), tolerance = tol_b)
}

test_that("0 + x1 + x2 + f in any order, x1 = Days + 1e8, x2 = Days^2 * 1e-6 - 5: lmer's fit on Days, Days^2", {
  d <- sleep_no_intercept_data()
  l0 <- lme4::lmer(Reaction ~ 0 + Days + D2 + f + (1 | Subject), d, REML = FALSE)
  # Before: refused as rank deficient whenever a far covariate came before
  # the factor, or fitted without standard errors (0 + x2 + f + x1).
  for (rhs in c("0 + x1 + x2 + f", "0 + x2 + x1 + f", "0 + x1 + f + x2", "0 + x2 + f + x1",
                "0 + f + x1 + x2")) {
    a <- glmm(stats::as.formula(paste("Reaction ~", rhs, "+ (1 | Subject)")), d)
    expect_shifted_fit_mapped(a, r = l0, as.numeric(logLik(l0)), lme4::fixef(l0)[c("Days", "D2")],
                        fitted(l0))
    expect_equal(unname(sqrt(c(vcov(a)["x1", "x1"], vcov(a)["x2", "x2"] * 1e-12))),
                 unname(sqrt(diag(as.matrix(vcov(l0)))[c("Days", "D2")])), tolerance = 1e-5,
                 info = rhs)
  }
  # REML: the restricted likelihood differs by log|det| of the columns' map
  # only; the estimates are lmer's.
  a <- glmm(Reaction ~ 0 + x1 + x2 + f + (1 | Subject), d, REML = TRUE)
  l1 <- lme4::lmer(Reaction ~ 0 + Days + D2 + f + (1 | Subject), d)
  expect_equal(unname(c(fixef(a)["x1"], fixef(a)["x2"] * 1e-6)),
               unname(lme4::fixef(l1)[c("Days", "D2")]), tolerance = 1e-6)
  expect_equal(sigma(a), sigma(l1), tolerance = 1e-6)
})

test_that("0 + x1 + x2 + f, random slopes and another factor: lmer's fit", {
  d <- sleep_no_intercept_data()
  d$G <- factor(as.integer(d$Subject) %% 4)
  a <- glmm(Reaction ~ 0 + x1 + x2 + f + G + (Days | Subject), d)
  l0 <- lme4::lmer(Reaction ~ 0 + Days + D2 + f + G + (Days | Subject), d, REML = FALSE)
  expect_shifted_fit_mapped(a, l0, as.numeric(logLik(l0)), lme4::fixef(l0)[c("Days", "D2")], fitted(l0),
                      tol_b = 1e-5)
  # Three far covariates before the factor (Gram-Schmidt of the centred
  # columns past the first).
  d$x3 <- d$Days^3 * 1e3 + 2e9
  a <- glmm(Reaction ~ 0 + x2 + x3 + x1 + f + (1 | Subject), d)
  l0 <- lme4::lmer(Reaction ~ 0 + D2 + I(Days^3) + Days + f + (1 | Subject), d, REML = FALSE)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(unname(fixef(a)["x3"] * 1e3), unname(lme4::fixef(l0)["I(Days^3)"]), tolerance = 1e-5)
  expect_equal(unname(fitted(a)), unname(fitted(l0)), tolerance = 1e-6)
})

test_that("0 + x1 + x2 + f, binomial (Laplace, AGHQ) and Poisson: the fit on the covariates near zero", {
  d <- sleep_no_intercept_data()
  r <- glmm(yb ~ 0 + Days + D2 + f + (1 | Subject), d, family = binomial, nAGQ = 1)
  if (requireNamespace("glmmTMB", quietly = TRUE)) {
    g0 <- glmmTMB::glmmTMB(yb ~ 0 + Days + D2 + f + (1 | Subject), d, family = binomial)
    expect_equal(as.numeric(logLik(r)), as.numeric(logLik(g0)), tolerance = 1e-8)
  }
  for (rhs in c("0 + x1 + x2 + f", "0 + x2 + f + x1")) {
    a <- glmm(stats::as.formula(paste("yb ~", rhs, "+ (1 | Subject)")), d, family = binomial, nAGQ = 1)
    expect_shifted_fit_mapped(a, r, as.numeric(logLik(r)), fixef(r)[c("Days", "D2")], fitted(r),
                        tol_b = 1e-5)
    expect_true(all(is.finite(sqrt(diag(vcov(a))))), info = rhs)
  }
  # Adaptive quadrature (the default for one scalar effect).
  r7 <- glmm(yb ~ 0 + Days + D2 + f + (1 | Subject), d, family = binomial, nAGQ = 7)
  a7 <- glmm(yb ~ 0 + x1 + x2 + f + (1 | Subject), d, family = binomial, nAGQ = 7)
  expect_shifted_fit_mapped(a7, r7, as.numeric(logLik(r7)), fixef(r7)[c("Days", "D2")], fitted(r7),
                      tol_b = 1e-5)
  # Poisson on simulated data, the covariates before and between.
  set.seed(35)
  n_id <- 30
  s <- data.frame(id = factor(rep(seq_len(n_id), each = 8)))
  s$z1 <- stats::rnorm(nrow(s))
  s$z2 <- stats::runif(nrow(s))
  s$f <- factor(sample(c("p", "q", "r"), nrow(s), replace = TRUE))
  eta <- 0.5 + 0.3 * s$z1 - 0.6 * s$z2 + c(p = 0, q = 0.4, r = -0.3)[as.character(s$f)] +
    stats::rnorm(n_id, sd = 0.5)[s$id]
  s$y <- stats::rpois(nrow(s), exp(eta))
  s$x1 <- s$z1 * 1e-6 + 3
  s$x2 <- s$z2 + 1e7
  rp <- glmm(y ~ 0 + z1 + z2 + f + (1 | id), s, family = poisson, nAGQ = 1)
  if (requireNamespace("glmmTMB", quietly = TRUE)) {
    g0 <- glmmTMB::glmmTMB(y ~ 0 + z1 + z2 + f + (1 | id), s, family = poisson)
    expect_equal(as.numeric(logLik(rp)), as.numeric(logLik(g0)), tolerance = 1e-8)
  }
  for (rhs in c("0 + x1 + x2 + f", "0 + x2 + f + x1")) {
    a <- glmm(stats::as.formula(paste("y ~", rhs, "+ (1 | id)")), s, family = poisson, nAGQ = 1)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(rp)), tolerance = 1e-8, info = rhs)
    expect_equal(unname(c(fixef(a)["x1"] * 1e-6, fixef(a)["x2"])), unname(fixef(rp)[c("z1", "z2")]),
                 tolerance = 1e-5, info = rhs)
    expect_equal(unname(fitted(a)), unname(fitted(rp)), tolerance = 1e-6, info = rhs)
  }
})

test_that("0 + x1 + x2 + period, cbpp: glmmTMB's fit on the covariates near zero", {
  skip_if_not_installed("lme4")
  d <- lme4::cbpp
  set.seed(351)
  d$z1 <- stats::rnorm(nrow(d))
  d$z2 <- stats::rnorm(nrow(d))
  d$x1 <- d$z1 + 1e8
  d$x2 <- d$z2 * 1e-6 - 5
  r <- glmm(cbind(incidence, size - incidence) ~ 0 + z1 + z2 + period + (1 | herd), d,
            family = binomial, nAGQ = 1)
  # glmmTMB as the peer: glmer (bobyqa) stops 2e-4 below the optimum here.
  if (requireNamespace("glmmTMB", quietly = TRUE)) {
    g0 <- glmmTMB::glmmTMB(cbind(incidence, size - incidence) ~ 0 + z1 + z2 + period + (1 | herd), d,
                           family = binomial)
    expect_equal(as.numeric(logLik(r)), as.numeric(logLik(g0)), tolerance = 1e-8)
    expect_equal(unname(fixef(r)[c("z1", "z2")]), unname(glmmTMB::fixef(g0)$cond[c("z1", "z2")]),
                 tolerance = 1e-5)
  }
  for (rhs in c("0 + x1 + x2 + period", "0 + x2 + period + x1")) {
    a <- glmm(stats::as.formula(paste("cbind(incidence, size - incidence) ~", rhs, "+ (1 | herd)")), d,
              family = binomial, nAGQ = 1)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(r)), tolerance = 1e-8, info = rhs)
    expect_equal(unname(c(fixef(a)["x1"], fixef(a)["x2"] * 1e-6)), unname(fixef(r)[c("z1", "z2")]),
                 tolerance = 1e-6, info = rhs)
    expect_equal(unname(fitted(a)), unname(fitted(r)), tolerance = 1e-6, info = rhs)
  }
})

test_that("0 + x1 + x2 + f with crossed random effects (several-term route): lmer's fit", {
  skip_if_not_installed("lme4")
  set.seed(352)
  s <- expand.grid(a = factor(1:12), b = factor(1:8), rep = 1:2)
  s$z1 <- stats::rnorm(nrow(s))
  s$z2 <- stats::rnorm(nrow(s))
  s$f <- factor(sample(c("u", "v", "w"), nrow(s), replace = TRUE))
  s$y <- 1 + 0.5 * s$z1 - 0.4 * s$z2 + c(u = 0, v = 1, w = -1)[as.character(s$f)] +
    stats::rnorm(12)[s$a] + stats::rnorm(8, sd = 0.7)[s$b] + stats::rnorm(nrow(s))
  s$x1 <- s$z1 + 1e8
  s$x2 <- s$z2 * 1e-6 - 5
  l0 <- lme4::lmer(y ~ 0 + z1 + z2 + f + (1 | a) + (1 | b), s, REML = FALSE)
  # Fitted values (with the predicted effects) against the fit on z1, z2:
  # lmer's search stops within 1e-6 of the variances, which moves them.
  r <- glmm(y ~ 0 + z1 + z2 + f + (1 | a) + (1 | b), s)
  for (rhs in c("0 + x1 + x2 + f", "0 + x2 + f + x1")) {
    m <- glmm(stats::as.formula(paste("y ~", rhs, "+ (1 | a) + (1 | b)")), s)
    expect_equal(as.numeric(logLik(m)), as.numeric(logLik(l0)), tolerance = 1e-8, info = rhs)
    expect_equal(unname(c(fixef(m)["x1"], fixef(m)["x2"] * 1e-6)), unname(lme4::fixef(l0)[c("z1", "z2")]),
                 tolerance = 1e-6, info = rhs)
    expect_equal(unname(fitted(m)), unname(fitted(r)), tolerance = 1e-6, info = rhs)
  }
})

# gee() gave geepack's fit here on the base build already (its own route,
# gee_constant_span()); kept so that the order and count stay immaterial.
test_that("gee(): 0 + x1 + x2 + f in any order is geepack's fit on Days, Days^2", {
  skip_if_not_installed("geepack")
  d <- sleep_no_intercept_data()
  e0 <- geepack::geeglm(Reaction ~ 0 + Days + D2 + f, data = d, id = Subject, corstr = "exchangeable")
  for (rhs in c("0 + x1 + x2 + f", "0 + x2 + f + x1")) {
    e <- gee(stats::as.formula(paste("Reaction ~", rhs)), data = d, id = Subject, corstr = "exchangeable")
    expect_equal(unname(c(coef(e)["x1"], coef(e)["x2"] * 1e-6)), unname(coef(e0)[c("Days", "D2")]),
                 tolerance = 1e-6, info = rhs)
    expect_equal(unname(sqrt(c(vcov(e)["x1", "x1"], vcov(e)["x2", "x2"] * 1e-12))),
                 unname(sqrt(diag(vcov(e0)))[1:2]), tolerance = 1e-5, info = rhs)
  }
})

test_that("glmm_shards(): 0 + f + x far from zero, and two far covariates, as the in-memory fit", {
  d <- sleep_no_intercept_data()
  d$id <- d$Subject
  d$x3 <- d$Days * 1e-6 - 5
  files <- shard_files(split(d, as.integer(d$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  # Before: -81.30 where the in-memory fit reaches -75.64 (the design's
  # spanned constant was not known to the lead).
  for (rhs in c("0 + f + x3", "0 + x3 + f", "0 + x1 + x2 + f")) {
    fm <- stats::as.formula(paste("yb ~", rhs, "+ (1 | id)"))
    a <- glmm_shards(fm, files, family = binomial, workers = cl)
    b <- glmm(fm, d, family = binomial)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-8, info = rhs)
    expect_equal(fixef(a), fixef(b), tolerance = 1e-6, info = rhs)
    expect_equal(sqrt(diag(vcov(a))), sqrt(diag(vcov(b))), tolerance = 1e-5, info = rhs)
  }
  fm <- Reaction ~ 0 + x2 + f + x1 + (1 | id)
  a <- glmm_shards(fm, files, workers = cl)
  b <- glmm(fm, d)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-8)
  expect_equal(fixef(a), fixef(b), tolerance = 1e-6)
})

test_that("gee_shards(): 0 + f + x far from zero as gee()", {
  d <- sleep_no_intercept_data()
  d$id <- d$Subject
  d$x3 <- d$Days * 1e-6 - 5
  files <- shard_files(split(d, as.integer(d$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  # Before: refused as rank deficient ("'x3' is linearly dependent").
  for (rhs in c("0 + f + x3", "0 + x3 + f", "0 + x1 + x2 + f")) {
    fm <- stats::as.formula(paste("yb ~", rhs))
    a <- gee_shards(fm, files, id = "id", family = binomial, corstr = "exchangeable", workers = cl)
    b <- gee(fm, data = d, id = id, family = binomial, corstr = "exchangeable")
    expect_equal(coef(a), coef(b), tolerance = 1e-8, info = rhs)
    expect_equal(vcov(a), vcov(b), tolerance = 1e-6, info = rhs)
  }
  a <- gee_shards(Reaction ~ 0 + f + x1, files, id = "id", corstr = "exchangeable", workers = cl)
  b <- gee(Reaction ~ 0 + f + x1, data = d, id = id, corstr = "exchangeable")
  expect_equal(coef(a), coef(b), tolerance = 1e-8)
})

# A covariate far from zero in an interaction with a factor (x:f): each
# level's column is zero outside the level and far from zero within it, and
# was centred by nothing (over all rows it is not far).
test_that("f + f:x, f * x, 0 + f + f:x with x far from zero: the fit on Days (glmm, gee)", {
  d <- sleep_no_intercept_data()
  d$x3 <- d$Days * 1e-6 - 5
  l0 <- lme4::lmer(Reaction ~ 0 + f + f:Days + (1 | Subject), d, REML = FALSE)
  # Before: refused as rank deficient.
  for (rhs in c("0 + f + f:x1", "f + f:x1", "f * x1")) {
    a <- glmm(stats::as.formula(paste("Reaction ~", rhs, "+ (1 | Subject)")), d)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8, info = rhs)
    expect_equal(unname(fitted(a)), unname(fitted(l0)), tolerance = 1e-6, info = rhs)
  }
  a <- glmm(Reaction ~ 0 + f + f:x1 + (1 | Subject), d)
  expect_equal(unname(fixef(a)[c("fa:x1", "fb:x1", "fc:x1")]),
               unname(lme4::fixef(l0)[c("fa:Days", "fb:Days", "fc:Days")]), tolerance = 1e-6)
  # Binomial: before, 5.8 below the optimum without standard errors
  # (-80.898 against -75.069).
  r <- glmm(yb ~ 0 + f + f:Days + (1 | Subject), d, family = binomial)
  if (requireNamespace("glmmTMB", quietly = TRUE)) {
    r1 <- glmm(yb ~ 0 + f + f:Days + (1 | Subject), d, family = binomial, nAGQ = 1)
    g0 <- glmmTMB::glmmTMB(yb ~ 0 + f + f:Days + (1 | Subject), d, family = binomial)
    expect_equal(as.numeric(logLik(r1)), as.numeric(logLik(g0)), tolerance = 1e-8)
  }
  for (rhs in c("0 + f + f:x3", "f + f:x3", "f * x3", "f * x1")) {
    a <- glmm(stats::as.formula(paste("yb ~", rhs, "+ (1 | Subject)")), d, family = binomial)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(r)), tolerance = 1e-8, info = rhs)
    expect_equal(unname(fitted(a)), unname(fitted(r)), tolerance = 1e-6, info = rhs)
    expect_true(all(is.finite(sqrt(diag(vcov(a))))), info = rhs)
  }
  skip_if_not_installed("geepack")
  e0 <- geepack::geeglm(Reaction ~ 0 + f + f:Days, data = d, id = Subject, corstr = "exchangeable")
  e <- gee(Reaction ~ 0 + f + f:x1, data = d, id = Subject, corstr = "exchangeable")
  expect_equal(unname(coef(e)[4:6]), unname(coef(e0)[4:6]), tolerance = 1e-6)
  expect_equal(unname(fitted(e)), as.numeric(fitted(e0)), tolerance = 1e-6)
})

test_that("glmm_shards(), gee_shards(): f + f:x with x far from zero as in memory", {
  d <- sleep_no_intercept_data()
  d$id <- d$Subject
  d$x3 <- d$Days * 1e-6 - 5
  files <- shard_files(split(d, as.integer(d$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  for (rhs in c("f + f:x3", "f * x1", "0 + f + f:x3")) {
    a <- glmm_shards(stats::as.formula(paste("yb ~", rhs, "+ (1 | id)")), files, family = binomial,
                     workers = cl)
    b <- glmm(stats::as.formula(paste("yb ~", rhs, "+ (1 | id)")), d, family = binomial)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-8, info = rhs)
    expect_equal(fixef(a), fixef(b), tolerance = 1e-6, info = rhs)
    fm <- stats::as.formula(paste("yb ~", rhs))
    # Before: refused as rank deficient.
    a <- gee_shards(fm, files, id = "id", family = binomial, corstr = "exchangeable", workers = cl)
    b <- gee(fm, data = d, id = id, family = binomial, corstr = "exchangeable")
    expect_equal(coef(a), coef(b), tolerance = 1e-8, info = rhs)
    expect_equal(vcov(a), vcov(b), tolerance = 1e-6, info = rhs)
  }
})


# sleepstudy with a three-level factor f and Days + 1e8: in 0 + f + x the
# indicators of f span the constant, although no column is one.
sleep_factor_shifted_days <- function() {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$x <- d$Days + 1e8
  d$yb <- as.integer(d$Reaction > stats::median(d$Reaction))
  d
}

test_that("0 + f + x, x far from zero: the factor's constant centres x (gaussian and binomial GLMM)", {
  d <- sleep_factor_shifted_days()
  # Before: refused as rank deficient.
  f <- glmm(Reaction ~ 0 + f + x + (1 | Subject), d)
  l0 <- lme4::lmer(Reaction ~ 0 + f + Days + (1 | Subject), d, REML = FALSE)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(unname(fixef(f)["x"]), unname(lme4::fixef(l0)["Days"]), tolerance = 1e-6)
  expect_equal(unname(sqrt(vcov(f)["x", "x"])), sqrt(as.matrix(vcov(l0))["Days", "Days"]),
               tolerance = 1e-5)
  # The indicators' coefficients are f's levels at x = 0.
  expect_equal(unname(fixef(f)[1:3]), unname(lme4::fixef(l0)[1:3] - 1e8 * lme4::fixef(l0)[["Days"]]),
               tolerance = 1e-6)
  g <- glmm(yb ~ 0 + f + x + (1 | Subject), d, family = binomial, nAGQ = 1)
  g0 <- lme4::glmer(yb ~ 0 + f + Days + (1 | Subject), d, family = binomial)
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(g0)), tolerance = 1e-6)
  expect_equal(unname(fixef(g)["x"]), unname(lme4::fixef(g0)["Days"]), tolerance = 1e-4)
  # Days * 1e-6 - 5 (default quadrature): before, 5.66 below the fit on
  # Days (-81.302 against -75.642) without standard errors.
  d$x2 <- d$Days * 1e-6 - 5
  g2 <- glmm(yb ~ 0 + f + x2 + (1 | Subject), d, family = binomial)
  g3 <- glmm(yb ~ 0 + f + Days + (1 | Subject), d, family = binomial)
  expect_equal(as.numeric(logLik(g2)), as.numeric(logLik(g3)), tolerance = 1e-8)
  expect_equal(unname(fixef(g2)["x2"]) * 1e-6, unname(fixef(g3)["Days"]), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(g2)))["x2"]) * 1e-6, unname(sqrt(diag(vcov(g3)))["Days"]),
               tolerance = 1e-4)
})

test_that("0 + f + x, x far from zero: gee() is the fit on Days", {
  d <- sleep_factor_shifted_days()
  e <- gee(Reaction ~ 0 + f + x, data = d, id = Subject, corstr = "exchangeable")
  e0 <- gee(Reaction ~ 0 + f + Days, data = d, id = Subject, corstr = "exchangeable")
  expect_equal(unname(coef(e)["x"]), unname(coef(e0)["Days"]), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(e)))[4]), unname(sqrt(diag(vcov(e0)))[4]), tolerance = 1e-5)
  lm0 <- stats::lm(Reaction ~ 0 + f + Days, d)
  ei <- gee(Reaction ~ 0 + f + x, data = d, id = Subject, corstr = "independence")
  expect_equal(unname(coef(ei)["x"]), unname(coef(lm0)["Days"]), tolerance = 1e-6)
})
