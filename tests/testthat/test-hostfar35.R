# Hostile checks of round 35's centring: a covariate far from zero in an
# interaction with a factor coded by contr.sum, contr.helmert or contr.poly
# (x c_k(f), not zero outside one level), units far beyond 1e8, zero
# weights over a whole level. Each against the same model on the
# covariate near zero, mapped back by hand.

hostfar35_sleep <- function() {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$yb <- as.integer(d$Reaction > stats::median(d$Reaction))
  d$x1 <- d$Days + 1e8
  d$x3 <- d$Days * 1e-6 - 5
  d
}

test_that("f * x far from zero under contr.sum, contr.helmert, contr.poly: the fit on Days (glmm, gee)", {
  d <- hostfar35_sleep()
  for (ct in c("contr.sum", "contr.helmert", "contr.poly")) {
    s <- d
    stats::contrasts(s$f) <- get(ct)(3)
    # lmer's fit on Days, in the same coding.
    l0 <- lme4::lmer(Reaction ~ f * Days + (1 | Subject), s, REML = FALSE)
    # Before: refused as rank deficient (f1:x1, f2:x1).
    a <- glmm(Reaction ~ f * x1 + (1 | Subject), s)
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8, info = ct)
    expect_equal(unname(fixef(a)[4:6]), unname(lme4::fixef(l0)[4:6]), tolerance = 1e-6, info = ct)
    expect_equal(unname(fitted(a)), unname(fitted(l0)), tolerance = 1e-6, info = ct)
    # Binomial: before, no standard errors (or "doubtful convergence").
    r <- glmm(yb ~ f * Days + (1 | Subject), s, family = binomial)
    a <- expect_silent(glmm(yb ~ f * x3 + (1 | Subject), s, family = binomial))
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(r)), tolerance = 1e-8, info = ct)
    expect_equal(unname(fixef(a)[4:6] * 1e-6), unname(fixef(r)[4:6]), tolerance = 1e-6, info = ct)
    expect_equal(unname(sqrt(diag(vcov(a)))[4:6] * 1e-6), unname(sqrt(diag(vcov(r)))[4:6]),
                 tolerance = 1e-5, info = ct)
    # gee(): before, "'f1:x1', 'f2:x1' are linearly dependent".
    e <- gee(Reaction ~ f * x1, data = s, id = Subject, corstr = "exchangeable")
    e0 <- gee(Reaction ~ f * Days, data = s, id = Subject, corstr = "exchangeable")
    expect_equal(unname(coef(e)[4:6]), unname(coef(e0)[4:6]), tolerance = 1e-6, info = ct)
    expect_equal(unname(fitted(e)), unname(fitted(e0)), tolerance = 1e-6, info = ct)
  }
  # f1:f2:x so coded (the column is x times an earlier column f1:f2).
  s <- d
  s$g <- factor(rep(c("u", "v"), length.out = nrow(s))[order(s$Days, s$Subject)])
  stats::contrasts(s$f) <- stats::contr.sum(3)
  stats::contrasts(s$g) <- stats::contr.sum(2)
  l0 <- lme4::lmer(Reaction ~ f * g * Days + (1 | Subject), s, REML = FALSE)
  a <- glmm(Reaction ~ f * g * x1 + (1 | Subject), s)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
  expect_equal(unname(fitted(a)), unname(fitted(l0)), tolerance = 1e-6)
})

test_that("x + 1e12: the centred column is formed without cancellation (the fit on x)", {
  d <- hostfar35_sleep()
  d$x12 <- d$Days + 1e12
  l0 <- lme4::lmer(Reaction ~ Days + (1 | Subject), d, REML = FALSE)
  # Before: 4.3e-5 below the optimum, slope 5.5e-5 off (M T^-1 by the
  # product carried mean / sd = 3.5e11 times the rounding unit).
  a <- glmm(Reaction ~ x12 + (1 | Subject), d)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-10)
  expect_equal(unname(fixef(a)[2]), unname(lme4::fixef(l0)[2]), tolerance = 1e-8)
  l1 <- lme4::lmer(Reaction ~ f * Days + (1 | Subject), d, REML = FALSE)
  a <- glmm(Reaction ~ f * x12 + (1 | Subject), d)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l1)), tolerance = 1e-10)
  expect_equal(unname(fixef(a)[4:6]), unname(lme4::fixef(l1)[4:6]), tolerance = 1e-7)
  r <- glmm(yb ~ f * Days + (1 | Subject), d, family = binomial)
  a <- glmm(yb ~ f * x12 + (1 | Subject), d, family = binomial)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(r)), tolerance = 1e-10)
  expect_equal(unname(fixef(a)[4:6]), unname(fixef(r)[4:6]), tolerance = 1e-7)
})

test_that("zero weights over a whole level: rank deficiency named, not an optimizer error", {
  d <- hostfar35_sleep()
  d$w <- ifelse(d$f == "c", 0, 1)
  # Before: "gradient function must return a numeric vector of length 1"
  # (gaussian); binomial returned fc with a standard error of 8.7e4.
  expect_error(glmm(Reaction ~ f * Days + (1 | Subject), d, weights = w),
               "positive weight is rank deficient.*fc")
  expect_error(glmm(Reaction ~ f + (1 | Subject), d, weights = w), "positive weight.*fc")
  expect_error(glmm(yb ~ f + (1 | Subject), d, weights = w, family = binomial),
               "positive weight.*fc")
  # Zero weights that leave every column identified: the fit on the rows
  # that carry weight.
  d$w2 <- rep(c(1, 0, 1, 1), length.out = nrow(d))
  a <- glmm(Reaction ~ f * x1 + (1 | Subject), d, weights = w2)
  l0 <- lme4::lmer(Reaction ~ f * Days + (1 | Subject), d[d$w2 > 0, ], REML = FALSE)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(l0)), tolerance = 1e-8)
})

test_that("odds_ratios(delta =): a factor's 0/1 columns take no step; duplicated names said so", {
  d <- hostfar35_sleep()
  a <- glmm(yb ~ f + x3 + (1 | Subject), d, family = binomial)
  r <- glmm(yb ~ f + Days + (1 | Subject), d, family = binomial)
  # One number: the covariate's step; the factor's levels stay at 1 versus
  # 0 (before: exp(1e-6 beta) for fb and fc, a ratio of nothing).
  o <- odds_ratios(a, delta = 1e-6)
  o0 <- odds_ratios(r)
  expect_equal(o$estimate, o0$estimate, tolerance = 1e-5)
  expect_equal(o$std.error, o0$std.error, tolerance = 1e-4)
  expect_identical(attr(o, "delta"), c(fb = 1, fc = 1, x3 = 1e-6))
  expect_error(odds_ratios(a, delta = c(fb = 2)), "'delta'.*'fb' is a 0/1 column")
  expect_error(odds_ratios(a, delta = c(x3 = 1e-6, x3 = 2e-6)), "'delta'.*'x3' named more than once")
  # gee(): the same rule; a logical covariate's column is 0/1 too.
  d$late <- d$Days > 4
  e <- gee(yb ~ f + late + x3, data = d, id = Subject, family = binomial, corstr = "exchangeable")
  e0 <- gee(yb ~ f + late + Days, data = d, id = Subject, family = binomial, corstr = "exchangeable")
  oe <- odds_ratios(e, delta = 1e-6)
  expect_equal(oe$estimate, odds_ratios(e0)$estimate, tolerance = 1e-5)
  expect_identical(unname(attr(oe, "delta")), c(1, 1, 1, 1e-6))
  expect_error(odds_ratios(e, delta = c(lateTRUE = 3)), "0/1 column")
})

test_that("sigma at its zero limit with a covariate far from zero: reported as with the covariate near zero", {
  skip_if_not_installed("glmmTMB")
  d <- cs_data(3)
  d$site <- factor(rep(1:8, length.out = nrow(d)))
  d$x1 <- d$x + 1e8
  f0 <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d))
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x1 + cs(0 + time | id) + (1 | site), d),
                           warning = function(e) {
                             w <<- c(w, conditionMessage(e))
                             invokeRestart("muffleWarning")
                           })
  # Before: the fixed effects' covariance at that limit was formed in the
  # user's units (singular to rounding), so the fit was reported with "the
  # Hessian ... not negative definite" and no residual_zero record.
  expect_true(isTRUE(f0$optinfo$residual_zero))
  expect_true(isTRUE(f$optinfo$residual_zero))
  expect_true(any(grepl("^singular fit: the residual standard deviation is at its zero limit", w)))
  expect_false(any(grepl("not negative definite", w)))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-9)
  expect_equal(unname(sqrt(vcov(f)["x1", "x1"])), unname(sqrt(vcov(f0)["x", "x"])), tolerance = 1e-5)
  tm <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-8)
  # REML with x3 = x * 1e-6 - 5: the restricted log-likelihood moves by
  # log(1e6) (the columns' map), the record is the one on x. Before: "the
  # optimizer did not converge", no residual_zero, 1.5e-3 below.
  d$x3 <- d$x * 1e-6 - 5
  r0 <- suppressWarnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  r3 <- suppressWarnings(glmm(y ~ x3 + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  expect_true(isTRUE(r0$optinfo$residual_zero))
  expect_true(isTRUE(r3$optinfo$residual_zero))
  expect_false(any(grepl("did not converge", r3$optinfo$warnings)))
  expect_equal(as.numeric(logLik(r3)), as.numeric(logLik(r0)) + log(1e6), tolerance = 1e-8)
})
