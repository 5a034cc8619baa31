# A covariate far from zero in an interaction with a factor coded by
# contr.sum, contr.helmert or contr.poly, units far beyond 1e8, zero
# weights over a whole level: each against the same model on the covariate
# near zero.


test_that("f * x far from zero under contr.sum, contr.helmert, contr.poly: the fit on Days (glmm, gee)", {
  d <- sleep_far_covariates()
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
  d <- sleep_far_covariates()
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
  d <- sleep_far_covariates()
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
