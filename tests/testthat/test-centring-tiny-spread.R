# A covariate whose spread is tiny beside its mean (Days * 1e-6 + 100, Days
# + 1e8) spans the same model as Days with the intercept: it is fitted on
# every route, with the slope scaled, the intercept shifted and the same
# log-likelihood; genuinely collinear columns are still refused.


far_days <- function() {
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  d$x1 <- d$Days * 1e-6 + 100
  d$x2 <- d$Days + 1e8
  d$f2 <- factor(d$Days %% 2)
  d$g2 <- factor(rep_len(1:4, nrow(d)))
  d$ord <- cut(d$Reaction, c(0, 250, 300, 350, Inf), ordered_result = TRUE)
  set.seed(28)
  d$cnt <- rnbinom(nrow(d), mu = exp(1 + 0.1 * d$Days), size = 2)
  d$cnt[sample(nrow(d), 40)] <- 0L
  d$bin <- as.integer(d$Reaction > 300)
  d
}

# The fit on Days, and on x1 and x2 in its place (`rhs`: the formula's
# right-hand side with `X` for the covariate): same log-likelihood, slope
# mapped (x1: divided by 1e6), intercept shifted by -1e8 times Days' slope.
expect_far_days_mapped <- function(d, lhs, rhs, ..., icpt = TRUE) {
  fo <- function(x) stats::as.formula(paste(lhs, "~", gsub("X", x, rhs, fixed = TRUE)))
  f0 <- glmm(fo("Days"), d, ...)
  for (x in c("x1", "x2")) {
    f <- glmm(fo(x), d, ...)
    # REML's criterion holds -log det(X'V^-1 X) / 2, which rises by
    # log(1e6) with Days' column divided by 1e6 (none with the shift).
    reml <- isTRUE(list(...)$REML)
    expect_equal(as.numeric(logLik(f)),
                 as.numeric(logLik(f0)) + if (reml && x == "x1") log(1e6) else 0, tolerance = 1e-8)
    b0 <- fixef(f0)
    b <- fixef(f)
    slope <- b[[x]] * if (x == "x1") 1e-6 else 1
    expect_equal(slope, b0[["Days"]], tolerance = 1e-6)
    if (icpt) expect_equal(b[["(Intercept)"]], b0[["(Intercept)"]] - 1e8 * b0[["Days"]], tolerance = 1e-6)
  }
  invisible(f0)
}

test_that("a covariate far from zero beside its spread is fitted on the one-factor routes", {
  skip_if_not_installed("lme4")
  d <- far_days()
  # REML and ML, a random intercept and a random slope (the response-scale
  # and centred LMM routes), and lmer's fit on Days as the reference.
  for (reml in c(TRUE, FALSE)) {
    f0 <- expect_far_days_mapped(d, "Reaction", "X + (Days | Subject)", REML = reml)
    ref <- lme4::lmer(Reaction ~ Days + (Days | Subject), d, REML = reml)
    expect_equal(as.numeric(logLik(f0)), as.numeric(logLik(ref)), tolerance = 1e-8)
  }
  expect_far_days_mapped(d, "Reaction", "X + (1 | Subject)", REML = FALSE)
  suppressWarnings({
    # Laplace, adaptive quadrature
    expect_far_days_mapped(d, "cnt", "X + (1 | Subject)", family = poisson())
    expect_far_days_mapped(d, "bin", "X + (1 | Subject)", family = binomial(), nAGQ = 5)
    # zero inflation and a dispersion formula
    expect_far_days_mapped(d, "cnt", "X + (1 | Subject)", family = nbinom2(), ziformula = ~ 1)
    expect_far_days_mapped(d, "cnt", "X + (1 | Subject)", family = nbinom2(), dispformula = ~ Days)
  })
})

test_that("a covariate far from zero is fitted on the several-term, nested, structured and two-part routes", {
  d <- far_days()
  suppressWarnings({
    expect_far_days_mapped(d, "cnt", "X + (1 | Subject) + (1 | g2)", family = poisson())
    expect_far_days_mapped(d, "Reaction", "X + (1 | Subject) + (1 | g2)")
    expect_far_days_mapped(d, "cnt", "X + (1 | Subject/g2)", family = poisson())
    expect_far_days_mapped(d, "Reaction", "X + cs(0 + f2 | Subject)")
    expect_far_days_mapped(d, "cnt", "X + ar1(0 + f2 | Subject)", family = poisson())
    expect_far_days_mapped(d, "cnt", "X + (1 | Subject)", family = poisson(),
                           ziformula = ~ 1 + (1 | Subject))
  })
})

test_that("a covariate far from zero is fitted in cumulative link mixed models", {
  d <- far_days()
  # The thresholds take the intercept's place: logLik and slope only. With
  # Days + 1e8 solve() also refused the map of the optimizer's coordinates
  # to the user's as "computationally singular".
  for (rhs in c("X + (1 | Subject)", "X + (Days | Subject)"))
    expect_far_days_mapped(d, "ord", rhs, family = cumulative(), icpt = FALSE)
})

test_that("a far covariate in the zero-inflation and dispersion formulas is fitted", {
  d <- far_days()
  fit_zd <- function(zf, df) suppressWarnings(
    glmm(cnt ~ Days + (1 | Subject), d, family = nbinom2(), ziformula = zf, dispformula = df))
  for (part in c("zi", "disp")) {
    f0 <- if (part == "zi") fit_zd(~ Days, ~ 1) else fit_zd(~ 0, ~ Days)
    for (x in c("x1", "x2")) {
      fo <- stats::as.formula(paste("~", x))
      f <- if (part == "zi") fit_zd(fo, ~ 1) else fit_zd(~ 0, fo)
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-8)
    }
  }
})

test_that("genuinely collinear columns are still refused, naming them", {
  d <- far_days()
  d$x3 <- 2 * d$Days + 1
  d$x4 <- 2 * d$x2 + 5
  for (fam in list(gaussian(), poisson()))
    expect_error(glmm(cnt ~ Days + x3 + (1 | Subject), d, family = fam),
                 "fixed-effects model matrix is rank deficient \\(aliased or collinear columns: x3\\)")
  # collinear with each other, both far from zero
  expect_error(glmm(cnt ~ x2 + x4 + (1 | Subject), d, family = poisson()),
               "rank deficient \\(aliased or collinear columns: x4\\)")
  expect_error(glmm(cnt ~ Days + x3 + (1 | Subject) + (1 | g2), d, family = poisson()),
               "rank deficient \\(aliased or collinear columns: x3\\)")
  expect_error(glmm(ord ~ Days + x3 + (1 | Subject), d, family = cumulative()),
               "rank deficient \\(aliased or collinear columns: x3\\)")
  expect_error(glmm(cnt ~ Days + (1 | Subject), d, family = nbinom2(), dispformula = ~ Days + x3),
               "'dispformula': the dispersion model matrix is rank deficient \\(aliased or collinear columns: x3\\)")
  expect_error(glmm(cnt ~ Days + (1 | Subject), d, family = poisson(), ziformula = ~ x2 + x4),
               "'ziformula': the zero part's model matrix is rank deficient \\(aliased or collinear columns: x4\\)")
})
