# Binomial and Poisson GLMMs with several random-effect terms (the sparse
# Laplace engine) and a random slope far from zero beside its term's
# intercept (x * 1e-6 - 5 in (x | a) + (1 | b)): the same model as on x,
# reparameterized, so the fit must be x's fit mapped back exactly, with no
# false singular fit and its standard errors (sparse_reparam()'s LQ map).
# Then a slope without its term's intercept, (0 + v | g), on every route:
# v's units (1e-6 to 1e9) change nothing but the units of its parameters.

skip_if_not_installed("lme4")

# x2 = a x + c: b0 + b1 x = (b0 - c b1 / a) + (b1 / a) x2.
coef_shift_map <- function(a, c) matrix(c(1, 0, -c / a, 1 / a), 2, 2)

# The same map on all fixed effects: intercept and x at `ix`.
fixef_shift_map <- function(p, ix, a, c) {
  M <- diag(1, p)
  M[c(1L, ix), c(1L, ix)] <- coef_shift_map(a, c)
  M
}

# slope_crossed_sim(): helper-far-slope.R.

# f1 on x, f2 on x2 = a x + c (x the fixed effect at `ix`, the slope of
# term `g`): f2 is f1 mapped. The two searches end within their
# convergence tolerance of the same optimum, so estimates agree to `tol`.
expect_slope_fit_mapped <- function(f1, f2, a, c, g, ix = 2L, tol = 2e-5) {
  Tm <- coef_shift_map(a, c)
  Mx <- fixef_shift_map(length(fixef(f1)), ix, a, c)
  expect_true(isTRUE(f2$optinfo$centred_z))
  expect_null(f1$optinfo$centred_z)
  expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
  expect_identical(f2$singular, f1$singular)
  expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1))), 1e-8)
  expect_equal(unname(fixef(f2)), unname(drop(Mx %*% fixef(f1))), tolerance = tol)
  expect_true(all(is.finite(sqrt(diag(vcov(f2))))))
  expect_equal(unname(vcov(f2)), unname(Mx %*% vcov(f1) %*% t(Mx)), tolerance = tol)
  v1 <- unclass(VarCorr(f1))
  v2 <- unclass(VarCorr(f2))
  expect_equal(unname(v2[[g]][1:2, 1:2]), unname(Tm %*% v1[[g]][1:2, 1:2] %*% t(Tm)),
               tolerance = tol)
  for (o in setdiff(names(v1), g))
    expect_equal(unname(v2[[o]]), unname(v1[[o]]), tolerance = tol)
  # The slope's conditional sd given the intercept at x2 = 0 is small, not 0.
  k <- match(g, names(ranef(f1)))
  expect_gt(f2$reterms[[k]]$Lambda[2, 2], 0)
  r1 <- ranef(f1)
  r2 <- ranef(f2)
  expect_equal(unname(as.matrix(r2[[g]])), unname(as.matrix(r1[[g]]) %*% t(Tm)), tolerance = tol)
  for (o in setdiff(names(r1), g))
    expect_equal(unname(as.matrix(r2[[o]])), unname(as.matrix(r1[[o]])), tolerance = tol)
  c1 <- f1$reterms[[k]]$condvar
  c2 <- f2$reterms[[k]]$condvar
  for (l in c(1L, 2L, dim(c1)[3L]))
    expect_equal(unname(c2[, , l]), unname(Tm %*% c1[, , l] %*% t(Tm)), tolerance = tol)
  expect_equal(unname(fitted(f2)), unname(fitted(f1)), tolerance = tol)
  # The covariance parameters' covariance by the Jacobian of the exact map.
  s1 <- far_slope_sd(f1, g)
  s2 <- far_slope_sd(f2, g)
  expect_equal(s2[["sd"]], s1[["sd"]] / abs(a), tolerance = tol)
  expect_equal(s2[["var"]], s1[["var"]] / a^2, tolerance = 10 * tol)
  # The Hessian's fixed-effects block maps by Mx^-T H Mx^-1 (forward
  # differences: ~1e-5 relative).
  pb <- seq_along(fixef(f1))
  Mi <- solve(Mx)
  expect_equal(unname(f2$hessian[pb, pb]), unname(t(Mi) %*% f1$hessian[pb, pb] %*% Mi),
               tolerance = 1e-4)
  # The gradient in the user's units is that of the map: beta's part
  # Mx^-T g*, small on the standardized scale.
  expect_true(all(is.finite(f2$gradient)))
  expect_lt(f2$optinfo$scaled_grad, 1e-6)
}

test_that("crossed binomial and poisson with x * 1e-6 - 5 in (x2 | a) + (1 | b) are x's fits mapped back", {
  d <- slope_crossed_sim()
  f1 <- glmm(yb ~ x + (x | a) + (1 | b), data = d, family = binomial)
  f2 <- glmm(yb ~ x2 + (x2 | a) + (1 | b), data = d, family = binomial)
  expect_false(f1$singular)
  expect_slope_fit_mapped(f1, f2, 1e-6, -5, "a")
  p1 <- glmm(yp ~ x + (x | a) + (1 | b), data = d, family = poisson)
  p2 <- glmm(yp ~ x2 + (x2 | a) + (1 | b), data = d, family = poisson)
  expect_false(p1$singular)
  expect_slope_fit_mapped(p1, p2, 1e-6, -5, "a")
})

test_that("the far fits agree with glmer and glmmTMB on the well-scaled x", {
  d <- slope_crossed_sim()
  Tm <- coef_shift_map(1e-6, -5)
  for (fam in c("binomial", "poisson")) {
    y <- if (fam == "binomial") "yb" else "yp"
    f2 <- glmm(stats::as.formula(paste(y, "~ x2 + (x2 | a) + (1 | b)")), data = d,
               family = fam)
    # glmer's search on this design sometimes stops in "Downdated VtV is not
    # positive definite" (a failure of its own); then only glmmTMB is asked.
    g <- tryCatch(suppressWarnings(lme4::glmer(
      stats::as.formula(paste(y, "~ x + (x | a) + (1 | b)")), data = d, family = fam)),
      error = function(e) NULL)
    Ti <- solve(Tm)
    if (!is.null(g)) {
      # glmer's optimum is no higher; its variance components and standard
      # errors (from its own search's end and Hessian) are 1e-3 to 1e-2
      # apart here, so those are compared with glmmTMB's below.
      expect_gt(as.numeric(logLik(f2)), as.numeric(logLik(g)) - 1e-6)
      expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(g)), tolerance = 1e-6)
      expect_equal(unname(solve(Tm, fixef(f2))), unname(lme4::fixef(g)), tolerance = 1e-4)
    }
    skip_if_not_installed("glmmTMB")
    tmb <- glmmTMB::glmmTMB(stats::as.formula(paste(y, "~ x + (x | a) + (1 | b)")), data = d,
                            family = fam)
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(tmb)), tolerance = 1e-6)
    expect_equal(unname(solve(Tm, fixef(f2))), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
    expect_equal(sqrt(diag(Ti %*% vcov(f2) %*% t(Ti))),
                 unname(sqrt(diag(vcov(tmb)$cond))), tolerance = 2e-3)
    # The variances: glmmTMB stops (gradient 1e-4) where the log-likelihood
    # equals ours to 1e-12 but the binomial intercept variance is 2.6e-3
    # relative apart (a flat direction), so they agree to 5e-3 and our
    # optimum is no lower.
    expect_gt(as.numeric(logLik(f2)), as.numeric(logLik(tmb)) - 1e-8)
    vt <- glmmTMB::VarCorr(tmb)$cond
    expect_equal(unname(Ti %*% unclass(VarCorr(f2))$a[1:2, 1:2] %*% t(Ti)),
                 unname(vt$a[1:2, 1:2]), tolerance = 5e-3)
    expect_equal(unname(unclass(VarCorr(f2))$b[1, 1]), unname(vt$b[1, 1]), tolerance = 5e-3)
  }
})

test_that("grouseticks (poisson) with HEIGHT in odd units: (h2 | LOCATION) + (1 | INDEX)", {
  data(grouseticks, package = "lme4", envir = environment())
  g <- grouseticks
  g$h <- (g$HEIGHT - 462) / 50
  g$h2 <- g$h * 1e-6 - 5
  f1 <- glmm(TICKS ~ YEAR + h + (h | LOCATION) + (1 | INDEX), data = g, family = poisson)
  f2 <- glmm(TICKS ~ YEAR + h2 + (h2 | LOCATION) + (1 | INDEX), data = g, family = poisson)
  expect_false(f1$singular)
  expect_slope_fit_mapped(f1, f2, 1e-6, -5, "LOCATION", ix = 4L)
  # (glmer stops there in "Downdated VtV is not positive definite".)
  skip_if_not_installed("glmmTMB")
  tmb <- glmmTMB::glmmTMB(TICKS ~ YEAR + h + (h | LOCATION) + (1 | INDEX), data = g,
                          family = poisson)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(tmb)), tolerance = 1e-6)
  Mi <- solve(fixef_shift_map(4L, 4L, 1e-6, -5))
  expect_equal(unname(drop(Mi %*% fixef(f2))), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_equal(sqrt(diag(Mi %*% vcov(f2) %*% t(Mi))), unname(sqrt(diag(vcov(tmb)$cond))),
               tolerance = 2e-3)
})

# x * 1e-4 - 5 here: the item slopes' sd is small (0.07), and the delta-
# method variance of its estimate reacts to the rounding of x in the data
# themselves (x * 1e-6 - 5 keeps x to 4e-9 relative): against ra's fit it
# is 2.4e-4 off at 1e-6 but 1e-6 off at 1e-4 and 1e-9 at 1e-2, so the map is
# exact and the loss is the data's.
test_that("VerbAgg (binomial) with Anger in odd units: (a2 | item) + (1 | id)", {
  data(VerbAgg, package = "lme4", envir = environment())
  v <- VerbAgg
  v$ra <- (v$Anger - 20) / 5
  v$a2 <- v$ra * 1e-4 - 5
  f1 <- glmm(r2 ~ ra + Gender + btype + (ra | item) + (1 | id), data = v, family = binomial)
  f2 <- glmm(r2 ~ a2 + Gender + btype + (a2 | item) + (1 | id), data = v, family = binomial)
  expect_false(f1$singular)
  expect_slope_fit_mapped(f1, f2, 1e-4, -5, "item")
})

test_that("a truly singular fit with a far slope is still singular, with x's log-likelihood", {
  d <- slope_crossed_sim(2711)
  expect_warning(f1 <- glmm(yb ~ x + (x | a) + (1 | b), data = d, family = binomial),
                 "singular fit")
  expect_warning(f2 <- glmm(yb ~ x2 + (x2 | a) + (1 | b), data = d, family = binomial),
                 "singular fit")
  expect_true(f2$singular)
  expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1))), 1e-8)
  Tm <- coef_shift_map(1e-6, -5)
  expect_equal(unname(sqrt(diag(vcov(f2)))), sqrt(diag(Tm %*% vcov(f1) %*% t(Tm))),
               tolerance = 1e-6)
  # A third column at zero variance in the far term, (x2 + w | a): only w's
  # entry is on the boundary (judged on the standardized scale), not also
  # x2's small one, so the standard errors stay.
  d <- slope_crossed_sim()
  d$w <- rnorm(nrow(d))
  expect_warning(g1 <- glmm(yb ~ x + (x + w | a) + (1 | b), data = d, family = binomial),
                 "singular fit")
  expect_warning(g2 <- glmm(yb ~ x2 + (x2 + w | a) + (1 | b), data = d, family = binomial),
                 "singular fit")
  expect_identical(g2$optinfo$warnings, g1$optinfo$warnings)
  expect_lt(abs(as.numeric(logLik(g2)) - as.numeric(logLik(g1))), 1e-8)
  expect_equal(unname(sqrt(diag(vcov(g2)))), sqrt(diag(Tm %*% vcov(g1) %*% t(Tm))),
               tolerance = 1e-6)
  expect_equal(unname(unclass(VarCorr(g2))$a[3, 3]), unname(unclass(VarCorr(g1))$a[3, 3]),
               tolerance = 1e-5)
  # The same on one grouping factor (glmm_reparam()), Laplace and AGHQ. At
  # the boundary the Jacobian of the map is differenced (the LQ map's exact
  # one needs Lambda* invertible), so the SEs agree to ~2e-5.
  for (K in c(1L, 3L)) {
    expect_warning(h1 <- glmm(yb ~ x + (x + w | a), data = d, family = binomial, nAGQ = K),
                   "singular fit")
    expect_warning(h2 <- glmm(yb ~ x2 + (x2 + w | a), data = d, family = binomial, nAGQ = K),
                   "singular fit")
    expect_identical(h2$optinfo$warnings, h1$optinfo$warnings)
    expect_true(all(is.finite(sqrt(diag(vcov(h2))))))
    expect_equal(unname(sqrt(diag(vcov(h2)))), sqrt(diag(Tm %*% vcov(h1) %*% t(Tm))),
                 tolerance = 1e-4)
  }
})

test_that("zero-inflated poisson with several terms and a far slope: x's fit mapped back", {
  d <- slope_crossed_sim()
  d$yz <- d$yp * rbinom(nrow(d), 1, 0.85)
  f1 <- glmm(yz ~ x + (x | a) + (1 | b), ziformula = ~1, data = d, family = poisson)
  f2 <- glmm(yz ~ x2 + (x2 | a) + (1 | b), ziformula = ~1, data = d, family = poisson)
  expect_false(f1$singular)
  expect_false(f2$singular)
  expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
  expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1))), 1e-8)
  Tm <- coef_shift_map(1e-6, -5)
  expect_equal(unname(fixef(f2)[1:2]), unname(drop(Tm %*% fixef(f1)[1:2])), tolerance = 2e-5)
  expect_equal(unname(sqrt(diag(vcov(f2)[1:2, 1:2]))),
               unname(sqrt(diag(Tm %*% vcov(f1)[1:2, 1:2] %*% t(Tm)))), tolerance = 2e-5)
})

# A random slope without its term's intercept, (0 + v | g): centring would
# change that model, so only the scale of v may not matter. On v * s the
# slope's variance is the one on v over s^2, exactly, on every route.
sleep_slope_no_intercept <- function() {
  d <- get(utils::data("sleepstudy", package = "lme4", envir = environment()))
  d$yb <- as.integer(d$Reaction > 290)
  d$yc <- round((d$Reaction - 150) / 10)
  set.seed(1)
  d$h <- factor(sample(1:6, nrow(d), TRUE))
  d
}

# Fits `form` (in v) on v = Days * s for each s of `scales` and checks them
# against the fit on Days: the log-likelihood (REML: shifted by -log s, the
# constant log|X'V^-1 X| picks up), the parameters in v's units, their
# standard errors and the (absent) warnings.
expect_slope_scale_free <- function(form, d, family, scales, REML = FALSE, tol = 1e-6) {
  d$v <- d$Days
  f1 <- glmm(form, data = d, family = family, REML = REML)
  expect_length(f1$optinfo$warnings, 0L)
  expect_false(f1$singular)
  for (s in scales) {
    d$v <- d$Days * s
    f2 <- glmm(form, data = d, family = family, REML = REML)
    expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
    expect_identical(f2$singular, f1$singular)
    shift <- if (REML) -log(s) else 0
    expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1)) - shift), 1e-8)
    # Every parameter whose name has v is in v's units: its value times s
    # (lambda of v, named lambda[1,1] on one factor, and v's fixed effect)
    # is the one on Days.
    k <- ifelse(grepl("v|^lambda", names(f1$theta)), s, 1)
    expect_equal(unname(f2$theta * k), unname(f1$theta), tolerance = tol)
    expect_equal(unname(sqrt(diag(f2$cov_theta)) * k), unname(sqrt(diag(f1$cov_theta))),
                 tolerance = tol)
    v1 <- unclass(VarCorr(f1))$Subject
    v2 <- unclass(VarCorr(f2))$Subject
    expect_equal(unname(v2[1, 1] * s^2), unname(v1[1, 1]), tolerance = tol)
  }
  f1
}

test_that("(0 + v | Subject), LMM by ML and REML: v * 1e-6, 1e6, 1e9 give Days' fit; lmer agrees", {
  d <- sleep_slope_no_intercept()
  for (reml in c(FALSE, TRUE)) {
    f1 <- expect_slope_scale_free(Reaction ~ v + (0 + v | Subject), d, gaussian(),
                           c(1e-6, 1e6, 1e9), REML = reml)
    # x far from zero as well (Days + 100): no intercept to centre it on.
    d2 <- d
    d2$Days <- d$Days + 100
    expect_slope_scale_free(Reaction ~ v + (0 + v | Subject), d2, gaussian(), c(1e-6, 1e6),
                     REML = reml)
    l <- lme4::lmer(Reaction ~ Days + (0 + Days | Subject), data = d, REML = reml)
    expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(l)), tolerance = 1e-8)
    expect_equal(unname(fixef(f1)), unname(lme4::fixef(l)), tolerance = 1e-5)
    expect_equal(unname(sqrt(diag(vcov(f1)))), unname(sqrt(diag(as.matrix(vcov(l))))),
                 tolerance = 1e-5)
    expect_equal(unname(unclass(VarCorr(f1))$Subject[1, 1]),
                 unname(lme4::VarCorr(l)$Subject[1, 1]), tolerance = 1e-5)
  }
})

test_that("(0 + v | Subject) + (1 | h), several-term LMM: the slope's SE does not depend on v's units", {
  d <- sleep_slope_no_intercept()
  for (reml in c(FALSE, TRUE)) {
    f1 <- expect_slope_scale_free(Reaction ~ v + (0 + v | Subject) + (1 | h), d, gaussian(),
                           c(1e-6, 1e6, 1e9), REML = reml)
    d2 <- d
    d2$Days <- d$Days + 100
    expect_slope_scale_free(Reaction ~ v + (0 + v | Subject) + (1 | h), d2, gaussian(), c(1e-6, 1e6),
                     REML = reml)
    l <- lme4::lmer(Reaction ~ Days + (0 + Days | Subject) + (1 | h), data = d, REML = reml)
    expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(l)), tolerance = 1e-8)
    expect_equal(unname(fixef(f1)), unname(lme4::fixef(l)), tolerance = 1e-5)
    expect_equal(unname(sqrt(diag(vcov(f1)))), unname(sqrt(diag(as.matrix(vcov(l))))),
                 tolerance = 1e-5)
  }
})

test_that("(0 + v | Subject) binomial (AGHQ) and poisson (Laplace), one factor and several terms: glmer and glmmTMB agree", {
  d <- sleep_slope_no_intercept()
  b1 <- expect_slope_scale_free(yb ~ v + (0 + v | Subject), d, binomial(), c(1e-6, 1e6))
  p1 <- expect_slope_scale_free(yc ~ v + (0 + v | Subject), d, poisson(), c(1e-6, 1e6))
  s1 <- expect_slope_scale_free(yc ~ v + (0 + v | Subject) + (1 | h), d, poisson(), c(1e-6, 1e6))
  gb <- lme4::glmer(yb ~ Days + (0 + Days | Subject), data = d, family = binomial, nAGQ = 11)
  f11 <- glmm(yb ~ Days + (0 + Days | Subject), data = d, family = binomial, nAGQ = 11)
  expect_equal(unname(fixef(f11)), unname(lme4::fixef(gb)), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(f11)))), unname(sqrt(diag(as.matrix(vcov(gb))))),
               tolerance = 2e-3)
  # glmer's Laplace fit against ours (p1 is AGHQ, nAGQ = 11, by default).
  gp <- lme4::glmer(yc ~ Days + (0 + Days | Subject), data = d, family = poisson)
  pl <- glmm(yc ~ Days + (0 + Days | Subject), data = d, family = poisson, nAGQ = 1)
  expect_equal(as.numeric(logLik(pl)), as.numeric(logLik(gp)), tolerance = 1e-7)
  expect_equal(unname(fixef(pl)), unname(lme4::fixef(gp)), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(pl)))), unname(sqrt(diag(as.matrix(vcov(gp))))),
               tolerance = 2e-3)
  skip_if_not_installed("glmmTMB")
  tmb <- glmmTMB::glmmTMB(yc ~ Days + (0 + Days | Subject) + (1 | h), data = d, family = poisson)
  expect_equal(as.numeric(logLik(s1)), as.numeric(logLik(tmb)), tolerance = 1e-7)
  expect_equal(unname(fixef(s1)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(s1)))), unname(sqrt(diag(vcov(tmb)$cond))), tolerance = 2e-3)
})

# Cumulative link mixed models with random slopes (one factor; the
# ordinal route's own engine): the search ran on the user's Z, and on
# x * 1e-6 it ended 1.9 log-likelihood units below x's optimum ((0 + x | a):
# 75 below), on x * 1e-6 - 5 6 below, on x * 1e6 in a false singular fit.
ordinal_slope_data <- function() {
  d <- slope_crossed_sim()
  set.seed(5)
  d$yo <- factor(cut(d$x + rnorm(nrow(d)) + rnorm(30)[d$a] + 0.5 * rnorm(30)[d$a] * d$x, 3),
                 ordered = TRUE)
  d
}

test_that("ordinal (v | a) and (0 + v | a): v = x * 1e-6, x * 1e-6 - 5, x * 1e6 give x's fit mapped", {
  d <- ordinal_slope_data()
  d$v <- d$x
  f1 <- glmm(yo ~ v + (v | a), data = d, family = cumulative())
  z1 <- glmm(yo ~ v + (0 + v | a), data = d, family = cumulative())
  expect_false(f1$singular)
  expect_false(z1$singular)
  expect_null(f1$optinfo$centred_z)
  for (ac in list(c(1e-6, 0), c(1e-6, -5), c(1e6, 0))) {
    a <- ac[1]
    cc <- ac[2]
    d$v <- d$x * a + cc
    f2 <- glmm(yo ~ v + (v | a), data = d, family = cumulative())
    expect_true(isTRUE(f2$optinfo$centred_z))
    expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
    expect_identical(f2$singular, f1$singular)
    expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1))), 1e-8)
    # eta = theta_j - beta x: on v, beta / a and theta_j + beta c / a.
    M <- diag(c(1, 1, 1 / a))
    M[1:2, 3] <- cc / a
    expect_equal(unname(fixef(f2)), unname(fixef(f1)) / a, tolerance = 1e-6)
    expect_equal(unname(vcov(f2)), unname(M %*% vcov(f1) %*% t(M)), tolerance = 1e-5)
    Tm <- coef_shift_map(a, cc)
    expect_equal(unname(f2$re_cov), unname(Tm %*% f1$re_cov %*% t(Tm)),
                 tolerance = 1e-5)
    expect_equal(unname(as.matrix(ranef(f2)$a)), unname(as.matrix(ranef(f1)$a) %*% t(Tm)),
                 tolerance = 1e-5)
    if (cc == 0) {
      z2 <- glmm(yo ~ v + (0 + v | a), data = d, family = cumulative())
      expect_identical(z2$optinfo$warnings, z1$optinfo$warnings)
      expect_lt(abs(as.numeric(logLik(z2)) - as.numeric(logLik(z1))), 1e-8)
      expect_equal(unname(z2$re_cov[1, 1]) * a^2, unname(z1$re_cov[1, 1]),
                   tolerance = 1e-6)
      expect_equal(unname(sqrt(diag(vcov(z2)))[3]) * a, unname(sqrt(diag(vcov(z1)))[3]),
                   tolerance = 1e-5)
    }
  }
})
