# Answers that depended on a covariate's units or location: a far-off
# two-column cs() under adaptive quadrature, a covariate far from zero
# beside a factor that spans the constant (no intercept column), and the
# variance parameters' standard errors where sigma is at its zero limit.

# The covariance of (intercept, slope) in x2 = s x + m units from that in x.
trust30_map <- function(D, s, m) {
  Mm <- matrix(c(1, 0, -m / s, 1 / s), 2, 2)
  Mm %*% D %*% t(Mm)
}

test_that("a far-off cs(x2 | a) under adaptive quadrature is the fit on the centred covariate", {
  d <- trust30_data()
  for (fam in c("poisson", "binomial")) {
    resp <- if (fam == "poisson") "y" else "yb"
    for (k in c(1, 3, 7)) {
      f0 <- glmm(as.formula(sprintf("%s ~ x + cs(x | a)", resp)), d, family = fam, nAGQ = k)
      D0 <- unclass(VarCorr(f0))$a[1:2, 1:2]
      for (v in c("x_far", "x_small")) {
        # Before (nAGQ > 1): fitted on the columns as given, with a warning;
        # Poisson at nAGQ = 7 ended 10.3 below (-627.414 against -617.133).
        f <- expect_no_warning(glmm(as.formula(sprintf("%s ~ %s + cs(%s | a)", resp, v, v)), d,
                                    family = fam, nAGQ = k))
        expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-8)
        s <- if (v == "x_far") 1 else 1e-3
        m <- if (v == "x_far") 1e3 else 50
        # The slope (near zero here) to 1e-4 of its standard error.
        se0 <- sqrt(diag(vcov(f0)))[[2]]
        expect_lt(abs(unname(fixef(f))[2] * s - unname(fixef(f0))[2]) / se0, 1e-4)
        expect_equal(sqrt(diag(vcov(f)))[[2]] * s, se0, tolerance = 1e-4)
        D <- unclass(VarCorr(f))$a[1:2, 1:2]
        expect_equal(unname(D), unname(trust30_map(D0, s, m)), tolerance = 1e-4)
        st <- f$structures[[1]]
        expect_identical(st$kind, "cs")
        expect_equal(unname(st$sd), sqrt(diag(unname(D))), tolerance = 1e-10)
        expect_true(all(is.finite(st$se)))
        expect_true(all(is.finite(sqrt(diag(vcov(f))))))
        expect_length(f$optinfo$warnings, 0L)
      }
    }
  }
})

test_that("a far-off cs(x2 | a) under adaptive quadrature is the unstructured (x2 | a) fit", {
  d <- trust30_data()
  # x not centred: the unstructured route integrates on the centred and
  # scaled columns in any case, and so does cs() now.
  d$x_far <- d$x_far + 0.7
  for (k in c(3, 7)) {
    f <- glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = k)
    fu <- glmm(y ~ x_far + (x_far | a), d, family = poisson, nAGQ = k)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(fu)), tolerance = 1e-8)
    expect_equal(unname(unclass(VarCorr(f))$a[1:2, 1:2]), unname(unclass(VarCorr(fu))$a[1:2, 1:2]),
                 tolerance = 1e-4)
    # The conditional modes: those of the same model.
    expect_equal(unname(as.matrix(ranef(f)$a)), unname(as.matrix(ranef(fu)$a)), tolerance = 1e-4)
  }
  # Rows of weight 0: centred over all rows, as the unstructured term is.
  d$w <- rep(c(0, 1), c(5, nrow(d) - 5))
  f <- glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = 3, weights = w)
  fu <- glmm(y ~ x_far + (x_far | a), d, family = poisson, nAGQ = 3, weights = w)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(fu)), tolerance = 1e-8)
})

test_that("cs(x | a) on the well-scaled covariate is glmmTMB's cs() (Laplace)", {
  skip_if_not_installed("glmmTMB")
  d <- trust30_data()
  for (fam in c("poisson", "binomial")) {
    resp <- if (fam == "poisson") "y" else "yb"
    fo <- as.formula(sprintf("%s ~ x + cs(x | a)", resp))
    tm <- glmmTMB::glmmTMB(fo, d, family = fam)
    f <- glmm(as.formula(sprintf("%s ~ x_far + cs(x_far | a)", resp)), d, family = fam, nAGQ = 1)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-6)
    se <- sqrt(diag(vcov(tm)$cond))[[2]]
    expect_lt(abs(unname(fixef(f))[2] - unname(glmmTMB::fixef(tm)$cond)[2]) / se, 1e-3)
    expect_equal(sqrt(diag(vcov(f)))[[2]], se, tolerance = 1e-3)
  }
})

# sleepstudy with a three-level factor f and Days + 1e8: in 0 + f + x the
# indicators of f span the constant, although no column is one.
trust30_sleep <- function() {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$x <- d$Days + 1e8
  d$yb <- as.integer(d$Reaction > stats::median(d$Reaction))
  d
}

test_that("0 + f + x, x far from zero: the factor's constant centres x (gaussian and binomial GLMM)", {
  d <- trust30_sleep()
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
  d <- trust30_sleep()
  e <- gee(Reaction ~ 0 + f + x, data = d, id = Subject, corstr = "exchangeable")
  e0 <- gee(Reaction ~ 0 + f + Days, data = d, id = Subject, corstr = "exchangeable")
  expect_equal(unname(coef(e)["x"]), unname(coef(e0)["Days"]), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(e)))[4]), unname(sqrt(diag(vcov(e0)))[4]), tolerance = 1e-5)
  lm0 <- stats::lm(Reaction ~ 0 + f + Days, d)
  ei <- gee(Reaction ~ 0 + f + x, data = d, id = Subject, corstr = "independence")
  expect_equal(unname(coef(ei)["x"]), unname(coef(lm0)["Days"]), tolerance = 1e-6)
})

test_that("sigma at its zero limit beside a boundary variance: SEs with log(sigma) held, glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  cf <- cs_site_fit()
  d <- cf$data
  f <- cf$fit
  w <- cf$warnings
  # Before: every variance parameter's standard error NA.
  tm <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d)
  se_tm <- sqrt(diag(vcov(tm, full = TRUE)))
  # glmmTMB's are on the same scales (log standard deviations, cs()'s
  # correlation parameter), with its sigma near the limit (1.7e-4).
  expect_equal(unname(f$structures[[1]]$se), unname(se_tm[grep("^theta_0\\+time", names(se_tm))]),
               tolerance = 1e-5)
  expect_identical(f$optinfo$sigma_fixed_se, names(f$theta_structure)[3:6])
  expect_true(any(grepl("variance parameters' are computed with log(sigma) held at its estimate", w,
                        fixed = TRUE)))
  # The site variance at zero: flagged as a singular fit, no standard error
  # (glmmTMB's is 1e6), and no Wald interval for its standard deviation.
  expect_true(any(grepl("^singular fit", w)))
  expect_true(is.na(f$structures[[2]]$se))
  ci <- confint(f)
  expect_true(all(is.na(ci["sd_(Intercept)|site", ])))
  expect_true(all(is.finite(ci[c("sd_time1|id", "sd_time2|id", "sd_time3|id", "cor_time2.time1|id"), ])))
  # The intervals for the standard deviations: exp(log sd +/- z se).
  z <- stats::qnorm(0.975)
  expect_equal(unname(ci["sd_time1|id", ]),
               exp(unname(f$structures[[1]]$parameters[1]) + c(-z, z) * f$structures[[1]]$se[[1]]),
               tolerance = 1e-3)
})

test_that("REML at sigma's zero limit: the variance parameters' SEs with log(sigma) held, glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  d <- cs_data(3)
  d$site <- factor(rep(1:8, length.out = nrow(d)))
  f <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  # Before: NA, with "not negative definite".
  tm <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  se_tm <- sqrt(diag(vcov(tm, full = TRUE)))
  expect_equal(unname(f$structures[[1]]$se), unname(se_tm[grep("^theta_0\\+time", names(se_tm))]),
               tolerance = 1e-5)
  expect_true(isTRUE(f$optinfo$residual_unidentified))
  expect_false(any(grepl("not negative definite", f$optinfo$warnings)))
  expect_true(any(grepl("restricted log-likelihood has no curvature in log(sigma)", f$optinfo$warnings,
                        fixed = TRUE)))
  # The fixed effects' covariance is REML's as before (sigma^2 (X' V^-1 X)^-1).
  expect_true(all(is.finite(vcov(f))))
})
