# The `contrasts =` argument of glmm() and gee(): the same estimates as
# glmer(), glmmTMB() and geeglm() given the same coding; the same fitted
# model (log-likelihood, predictions) under every coding on every route;
# the coding reused by the methods that rebuild a design; clear errors.

contr_cbpp <- function() {
  e <- new.env()
  utils::data("cbpp", package = "lme4", envir = e)
  e$cbpp
}

# Simulated clustered data with a four-level factor `a`, a covariate, two
# crossed grouping factors, and gaussian, binary, count and ordinal
# responses with known effects.
contr_sim <- function() {
  set.seed(20261123)
  n <- 300
  g <- factor(sample(1:30, n, TRUE))
  h <- factor(sample(1:10, n, TRUE))
  a <- factor(sample(c("p", "q", "r", "s"), n, TRUE))
  x <- rnorm(n)
  u <- rnorm(30)
  d <- data.frame(g, h, a, x)
  d$y <- 1 + 0.5 * as.numeric(a) + 0.3 * x + u[g] + rnorm(n)
  d$yb <- rbinom(n, 1, plogis(-1.5 + 0.5 * as.numeric(a) + 0.4 * x + u[g]))
  d$cnt <- rpois(n, exp(0.2 * as.numeric(a) + 0.5 * u[g])) * rbinom(n, 1, 0.7)
  d$ord <- cut(d$y, stats::quantile(d$y, 0:4 / 4), include.lowest = TRUE,
               ordered_result = TRUE)
  d
}

codings <- list(treatment = NULL, sum = list(a = "contr.sum"),
                helmert = list(a = contr.helmert), poly = list(a = "contr.poly"),
                matrix = list(a = cbind(c(1, 0, 0, -1), c(0, 1, 0, -1), c(0, 0, 1, -1))))

# Fits `fit_with(contrasts)` under every coding, and under
# options(contrasts =) with no argument: the same log-likelihood, the same
# predictions at new data, and coefficients and their covariance that are
# the treatment-coded ones mapped by the change of coding (X_k A = X_0, so
# beta_k = A beta_0 and V_k = A V_0 A'); the coefficients of `a` named as
# the coding asked. `tol` is relative, for routes whose optimizer stops at
# a looser gradient.
expect_coding_invariant <- function(fit_with, newdata, tol = 1e-6, ll_tol = 1e-7) {
  fits <- lapply(codings, function(ct) suppressWarnings(fit_with(ct)))
  fits$option <- withr::with_options(list(contrasts = c("contr.helmert", "contr.poly")),
                                     suppressWarnings(fit_with(NULL)))
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 0)
  expect_lt(max(abs(ll - ll[["treatment"]])), ll_tol * (1 + abs(ll[["treatment"]])))
  p0 <- predict(fits$treatment, newdata = newdata)
  X0 <- model.matrix(fits$treatment)
  for (k in names(fits)[-1L]) {
    expect_equal(predict(fits[[k]], newdata = newdata), p0, tolerance = tol, info = k)
    A <- qr.solve(model.matrix(fits[[k]]), X0)
    expect_equal(unname(fixef(fits[[k]])), unname(drop(A %*% fixef(fits$treatment))),
                 tolerance = tol, info = k)
    expect_equal(unname(vcov(fits[[k]])), unname(A %*% vcov(fits$treatment) %*% t(A)),
                 tolerance = 100 * tol, info = k)
  }
  # The stored coding is the one asked for, also under options(contrasts =)
  # and with the option changed back before the methods run.
  expect_identical(fits$sum$contrasts$a, "contr.sum")
  expect_identical(fits$option$contrasts$a, "contr.helmert")
  expect_true(all(c("a1", "a2", "a3") %in% names(fixef(fits$sum))))
  expect_false(any(c("aq", "ar", "as") %in% names(fixef(fits$sum))))
  invisible(fits)
}

test_that("glmm(contrasts =) gives glmer()'s estimates on cbpp (sum and Helmert coding)", {
  skip_if_not_installed("lme4")
  d <- contr_cbpp()
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  for (ct in list(list(period = "contr.sum"), list(period = contr.helmert))) {
    ours <- glmm(f, d, binomial, nAGQ = 1, contrasts = ct)
    ref <- lme4::glmer(f, d, binomial, contrasts = ct,
                       control = lme4::glmerControl(optimizer = "bobyqa",
                                                    optCtrl = list(maxfun = 1e5)))
    # glmer stops short of the optimum here (its log-likelihood is 3e-4
    # lower), so the estimates agree to the tolerance of
    # test-glmm-reference.R and ours may only be higher.
    expect_identical(names(fixef(ours)), names(lme4::fixef(ref)))
    expect_equal(fixef(ours), lme4::fixef(ref), tolerance = 1e-3)
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6)
  }
})

test_that("glmm(contrasts =) with ziformula gives glmmTMB's estimates on Salamanders (spp, sum coding in both parts)", {
  skip_if_not_installed("glmmTMB")
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  d <- e$Salamanders
  ct <- list(spp = "contr.sum", mined = contr.helmert)
  ours <- glmm(count ~ spp + mined + (1 | site), d, poisson, ziformula = ~ spp + mined, nAGQ = 1,
               contrasts = ct)
  ref <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), d, family = poisson,
                          ziformula = ~ spp + mined, contrasts = ct)
  fx <- glmmTMB::fixef(ref)
  expect_identical(names(fixef(ours)), names(fx$cond))
  expect_equal(unname(fixef(ours)), unname(fx$cond), tolerance = 1e-4)
  expect_equal(unname(ours$aux$zi$coef), unname(fx$zi), tolerance = 1e-4)
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-4)
  expect_identical(ours$aux$zi$contrasts$spp, "contr.sum")
})

test_that("gee(contrasts =) gives geeglm()'s estimates with the same coding (bacteria, Helmert)", {
  skip_if_not_installed("geepack")
  skip_if_not_installed("MASS")
  d <- gee_bacteria_data()
  dh <- d
  contrasts(dh$trt) <- contr.helmert(3)
  for (cs in c("independence", "exchangeable")) {
    g <- geepack::geeglm(yy ~ trt + week, id = ID, waves = wave, data = dh,
                         family = binomial, corstr = cs, control = gee_tight())
    f <- gee(yy ~ trt + week, id = ID, waves = wave, data = shuffle_rows(d, 11),
             family = binomial, corstr = cs, contrasts = list(trt = contr.helmert))
    expect_same_as_geeglm(f, g, info = cs)
  }
})

test_that("the log-likelihood and predictions do not depend on the coding, on every glmm() route", {
  d <- contr_sim()
  nd <- d[c(1:5, 150:155), ]
  K <- crossprod(matrix(stats::rnorm(900), 30)) / 30 + diag(30)
  dimnames(K) <- list(levels(d$g), levels(d$g))
  # one factor: gaussian ML, adaptive quadrature, known covariance, bridge
  expect_coding_invariant(function(ct) glmm(y ~ a + x + (1 | g), d, contrasts = ct), nd)
  expect_coding_invariant(function(ct) glmm(yb ~ a + x + (1 | g), d, binomial, nAGQ = 7,
                                            contrasts = ct), nd)
  expect_coding_invariant(function(ct) glmm(y ~ a + x + (1 | g), d, covariance = list(g = K),
                                            contrasts = ct), nd)
  # (the dense known-covariance Laplace and the bridge routes stop at a
  # gradient of about 1e-4: estimates agree to about 1e-5, not 1e-7)
  expect_coding_invariant(function(ct) glmm(yb ~ a + x + (1 | g), d, binomial,
                                            covariance = list(g = K), contrasts = ct),
                          nd, tol = 1e-4, ll_tol = 1e-8)
  expect_coding_invariant(function(ct) glmm(yb ~ a + x + (1 | g), d, binomial,
                                            ranef_dist = "bridge", contrasts = ct),
                          nd, tol = 1e-4, ll_tol = 1e-8)
  # several terms: sparse Laplace, nested quadrature, structured covariance
  expect_coding_invariant(function(ct) glmm(yb ~ a + x + (1 | g) + (1 | h), d, binomial,
                                            contrasts = ct), nd, tol = 1e-5)
  expect_coding_invariant(function(ct) glmm(yb ~ a + x + (1 | h/g), d, binomial, nAGQ = 5,
                                            contrasts = ct), nd, tol = 2e-5)
  expect_coding_invariant(function(ct) glmm(y ~ a + x + diag(1 + x | g), d, contrasts = ct), nd,
                          tol = 1e-5)
  # zero-inflation (the zero part coded too), dispersion formula, ordinal
  zi <- expect_coding_invariant(function(ct) glmm(cnt ~ a + (1 | g), d, poisson,
                                                  ziformula = ~ a, contrasts = ct), nd)
  expect_identical(zi$sum$aux$zi$contrasts$a, "contr.sum")
  expect_true("zi~a1" %in% names(zi$sum$aux$zi$coef))
  expect_coding_invariant(function(ct) glmm(cnt ~ a + (1 | g) + (1 | h), d, poisson,
                                            ziformula = ~ a, contrasts = ct), nd, tol = 1e-5)
  expect_coding_invariant(function(ct) glmm(y ~ a + (1 | g), d, dispformula = ~ a,
                                            contrasts = ct), nd)
  ord <- lapply(codings[c("treatment", "sum", "helmert")], function(ct)
    glmm(ord ~ a + x + (1 | g), d, cumulative, contrasts = ct))
  ll <- vapply(ord, function(f) as.numeric(logLik(f)), 0)
  expect_lt(max(abs(ll - ll[[1L]])), 1e-7 * abs(ll[[1L]]))
  pr <- lapply(ord, function(f) predict(f, newdata = nd, type = "prob"))
  expect_equal(pr$sum, pr$treatment, tolerance = 1e-6)
  expect_equal(pr$helmert, pr$treatment, tolerance = 1e-6)
})

test_that("REML: the variance estimates do not depend on the coding, and the criterion moves as lmer's", {
  skip_if_not_installed("lme4")
  d <- contr_sim()
  set.seed(7)
  d$h2 <- factor(sample(1:12, nrow(d), TRUE))
  d$y2 <- d$y + stats::rnorm(12)[d$h2]
  for (f in list(y ~ a + x + (1 | g), y2 ~ a + x + (1 | g) + (1 | h2))) {
    o0 <- glmm(f, d, REML = TRUE)
    o1 <- glmm(f, d, REML = TRUE, contrasts = list(a = "contr.sum"))
    r0 <- lme4::lmer(f, d)
    r1 <- lme4::lmer(f, d, contrasts = list(a = "contr.sum"))
    vc <- function(o) unlist(lapply(VarCorr(o), function(v) attr(v, "stddev")))
    expect_equal(vc(o1), vc(o0), tolerance = 1e-6)
    expect_equal(sigma(o1), sigma(o0), tolerance = 1e-6)
    # The restricted likelihood has log det(X'V^-1 X), which a change of
    # coding shifts by a constant, 2 log|det A|: the same shift as lmer's.
    expect_equal(as.numeric(logLik(o1)) - as.numeric(logLik(o0)),
                 as.numeric(logLik(r1)) - as.numeric(logLik(r0)), tolerance = 1e-6)
    expect_gt(as.numeric(logLik(o1)) - as.numeric(logLik(r1)), -1e-6)
    expect_equal(fixef(o1), lme4::fixef(r1), tolerance = 1e-4)
  }
})

test_that("gee(contrasts =): fitted values and predictions do not depend on the coding", {
  d <- contr_sim()
  nd <- d[1:8, ]
  fits <- lapply(codings, function(ct) gee(yb ~ a + x, data = d, id = g, family = binomial,
                                            corstr = "exchangeable", contrasts = ct))
  for (k in names(fits)[-1L]) {
    expect_equal(fitted(fits[[k]]), fitted(fits$treatment), tolerance = 1e-7, info = k)
    expect_equal(predict(fits[[k]], newdata = nd), predict(fits$treatment, newdata = nd),
                 tolerance = 1e-7, info = k)
  }
  expect_true("a1" %in% names(coef(fits$sum)))
  o <- lapply(codings[c("treatment", "helmert")], function(ct)
    gee(ord ~ a + x, data = d, id = g, family = cumulative, contrasts = ct))
  expect_equal(fitted(o$helmert), fitted(o$treatment), tolerance = 1e-7)
  expect_false(isTRUE(all.equal(coef(o$helmert), coef(o$treatment))))
})

test_that("methods that rebuild a design reuse the fit's contrasts", {
  d <- contr_sim()
  f0 <- glmm(yb ~ a + x + (1 | g), d, binomial, nAGQ = 5)
  f1 <- glmm(yb ~ a + x + (1 | g), d, binomial, nAGQ = 5, contrasts = list(a = "contr.sum"))
  nd <- d[1:10, ]
  # Changing the option after the fit must not change how the methods code `a`.
  withr::with_options(list(contrasts = c("contr.helmert", "contr.poly")), {
    expect_equal(predict(f1, newdata = nd), predict(f0, newdata = nd), tolerance = 1e-6)
    expect_equal(unname(model.matrix(f1) %*% fixef(f1)), unname(model.matrix(f0) %*% fixef(f0)),
                 tolerance = 1e-6)
    s0 <- standardize(f0, "a")
    s1 <- standardize(f1, "a")
    expect_equal(s1$estimate, s0$estimate, tolerance = 1e-5)
    expect_equal(s1$std.error, s0$std.error, tolerance = 1e-4)
    set.seed(3); y0 <- simulate(f0, nsim = 2, re.form = NA)
    set.seed(3); y1 <- simulate(f1, nsim = 2, re.form = NA)
    expect_equal(y1, y0)
  })
  # marginal_coefs() averages the model's own coefficients: same coding out.
  m0 <- marginal_coefs(f0)
  m1 <- marginal_coefs(f1)
  expect_true("a1" %in% names(m1$coefficients))
  X0 <- model.matrix(f0)
  expect_equal(unname(X0 %*% m0$coefficients), unname(model.matrix(f1) %*% m1$coefficients),
               tolerance = 1e-5)
  # update() and drop1/anova keep the argument; a dropped factor's entry is ignored.
  u <- update(f1, . ~ . - x)
  expect_true("a1" %in% names(fixef(u)))
  u2 <- update(f1, . ~ . - a)
  expect_identical(names(fixef(u2)), c("(Intercept)", "x"))
  a0 <- anova(update(f0, . ~ . - a), f0)
  a1 <- anova(u2, f1)
  expect_equal(a1[[ncol(a1)]], a0[[ncol(a0)]], tolerance = 1e-5)
  expect_equal(drop1(f1)$AIC, drop1(f0)$AIC, tolerance = 1e-7)
  # Wald and profile intervals of a coefficient the coding does not touch
  expect_equal(confint(f1, parm = "x", method = "Wald"), confint(f0, parm = "x", method = "Wald"),
               tolerance = 1e-5)
  expect_equal(confint(f1, parm = "x", method = "profile"),
               confint(f0, parm = "x", method = "profile"), tolerance = 1e-5)
})

test_that("emmeans gives the same marginal means under every coding", {
  skip_if_not_installed("emmeans")
  d <- contr_sim()
  f0 <- glmm(y ~ a + x + (1 | g), d)
  f1 <- glmm(y ~ a + x + (1 | g), d, contrasts = list(a = contr.helmert))
  e0 <- as.data.frame(emmeans::emmeans(f0, "a"))
  e1 <- as.data.frame(emmeans::emmeans(f1, "a"))
  expect_equal(e1$emmean, e0$emmean, tolerance = 1e-6)
  expect_equal(e1$SE, e0$SE, tolerance = 1e-5)
})

test_that("bad 'contrasts' values are errors naming the argument", {
  d <- contr_sim()
  fit <- function(ct, ...) glmm(y ~ a + x + (1 | g), d, contrasts = ct, ...)
  expect_error(fit("contr.sum"), "'contrasts' must be a named list")
  expect_error(fit(list("contr.sum")), "'contrasts' must be a named list")
  expect_error(fit(list(zz = "contr.sum")), "'contrasts' names 'zz', which is neither")
  expect_error(fit(list(x = "contr.sum")), "'contrasts' names 'x', which is not a factor")
  expect_error(fit(list(a = 3)), "'contrasts\\$a' must be a contrast function")
  expect_error(fit(list(a = "no_such_contrast_fn")), "'contrasts\\$a' is not a valid contrast")
  expect_error(fit(list(a = matrix(1, 3, 2))), "one row per level \\(4\\)")
  expect_error(fit(list(a = matrix(1, 4, 2))), "not linearly independent")
  expect_error(fit(list(a = "contr.sum", a = "contr.sum")), "names 'a' twice")
  expect_error(gee(y ~ a, data = d, id = g, contrasts = list(x = "contr.sum")),
               "'contrasts' names 'x', which is not a factor")
  # A factor in 'data' that the model does not use is accepted and ignored (update(), drop1()).
  expect_identical(names(fixef(glmm(y ~ x + (1 | g), d, contrasts = list(a = "contr.sum")))),
                   c("(Intercept)", "x"))
})
