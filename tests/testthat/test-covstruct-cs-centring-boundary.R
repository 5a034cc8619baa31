# A far-off two-column cs() whose fit on the centred columns ends on the
# boundary (a zero slope variance or |rho| = 1): that fit was discarded and
# cs() refitted on the columns as given, which stopped below the optimum
# (-366.686 against -366.262 with x * 1e-3 + 50). The boundary fit is now
# mapped back (covstruct-cs-two-columns.R, cs_pair_back_boundary()).

# One grouping factor, a random intercept only (true slope variance zero).
cs_boundary_data <- function(seed, M = 30, n = 8) {
  set.seed(seed)
  a <- factor(rep(seq_len(M), each = n))
  x <- rnorm(M * n)
  data.frame(a = a, x = x, y = 1 + 0.5 * x + rnorm(M)[a] + rnorm(M * n))
}

test_that("a far-off cs(x2 | a) on the boundary reaches the unstructured optimum", {
  skip_if_not_installed("lme4")
  for (seed in c(2, 1)) {
    d <- cs_boundary_data(seed)
    # lme4 on the covariate as given stops short in far units; its fit on
    # x is the same model (any invertible map of the columns).
    l4 <- as.numeric(logLik(suppressMessages(lme4::lmer(y ~ x + (x | a), d, REML = FALSE))))
    for (u in c("small", "far", "plain")) {
      d$x2 <- switch(u, small = d$x * 1e-3 + 50, far = d$x + 1e4, plain = d$x)
      fc <- suppressWarnings(glmm(y ~ x2 + cs(x2 | a), d))
      fu <- suppressWarnings(glmm(y ~ x2 + (x2 | a), d))
      expect_equal(as.numeric(logLik(fc)), as.numeric(logLik(fu)), tolerance = 1e-6 / 400)
      expect_lt(abs(as.numeric(logLik(fc)) - l4), 1e-6)
      # The structure's parameters give the fitted covariance: it is the
      # unstructured fit's.
      D <- unclass(VarCorr(fc))$a[1:2, 1:2]
      Du <- unclass(VarCorr(fu))$a[1:2, 1:2]
      expect_equal(D, Du, tolerance = 1e-4)
      if (seed == 2) {
        expect_false(any(grepl("fitted on the columns as given", fc$optinfo$warnings)))
        expect_true(any(grepl("^singular fit", fc$optinfo$warnings)))
        expect_true(isTRUE(fc$singular) || any(fc$on_boundary))
      }
    }
  }
})

test_that("the same with binomial and Poisson responses (Laplace, nAGQ = 1)", {
  skip_if_not_installed("lme4")
  # Before: binomial 0.41 and 0.25 below (seed 3), Poisson 0.095 (seed 3).
  for (fam in c("binomial", "poisson")) {
    set.seed(3)
    M <- 30
    a <- factor(rep(seq_len(M), each = 8))
    x <- rnorm(M * 8)
    eta <- 0.2 + 0.3 * x + rnorm(M, 0, 0.7)[a]
    d <- data.frame(a = a, x = x, y = if (fam == "poisson") rpois(M * 8, exp(eta))
                                      else rbinom(M * 8, 1, plogis(eta)))
    # glmer on x (the same model); it stops at or below the optimum here.
    l4 <- as.numeric(logLik(suppressMessages(lme4::glmer(y ~ x + (x | a), d, family = fam))))
    for (u in c("small", "far")) {
      d$x2 <- if (u == "small") d$x * 1e-3 + 50 else d$x + 1e4
      fc <- suppressWarnings(glmm(y ~ x2 + cs(x2 | a), d, family = fam, nAGQ = 1))
      fu <- suppressWarnings(glmm(y ~ x2 + (x2 | a), d, family = fam, nAGQ = 1))
      expect_equal(as.numeric(logLik(fc)), as.numeric(logLik(fu)), tolerance = 1e-6 / 400)
      expect_gt(as.numeric(logLik(fc)), l4 - 1e-6)
      expect_false(any(grepl("fitted on the columns as given", fc$optinfo$warnings)))
    }
  }
})

test_that("under adaptive quadrature (nAGQ = 3) too, with the covariance and modes of the unstructured fit", {
  # One-factor route (cs_pair_uncentre_one()). Before: binomial 0.42 below
  # (seed 3), Poisson 0.013 off the fit on the centred columns.
  for (fam in c("binomial", "poisson")) {
    set.seed(3)
    M <- 30
    a <- factor(rep(seq_len(M), each = 8))
    x <- rnorm(M * 8)
    eta <- 0.2 + 0.3 * x + rnorm(M, 0, 0.7)[a]
    d <- data.frame(a = a, x = x, y = if (fam == "poisson") rpois(M * 8, exp(eta))
                                      else rbinom(M * 8, 1, plogis(eta)))
    d$x2 <- d$x * 1e-3 + 50
    fc <- suppressWarnings(glmm(y ~ x2 + cs(x2 | a), d, family = fam, nAGQ = 3))
    fu <- suppressWarnings(glmm(y ~ x2 + (x2 | a), d, family = fam, nAGQ = 3))
    expect_equal(as.numeric(logLik(fc)), as.numeric(logLik(fu)), tolerance = 1e-6 / 400)
    expect_false(any(grepl("fitted on the columns as given", fc$optinfo$warnings)))
    expect_equal(unname(fixef(fc)), unname(fixef(fu)), tolerance = 1e-4)
    expect_equal(unclass(VarCorr(fc))$a[1:2, 1:2], unclass(VarCorr(fu))$a[1:2, 1:2], tolerance = 1e-3)
    expect_equal(unname(as.matrix(ranef(fc)$a)), unname(as.matrix(ranef(fu)$a)), tolerance = 1e-3)
  }
})

test_that("beside a second grouping factor, by ML and REML", {
  skip_if_not_installed("lme4")
  # Before: ML 0.42 below lmer's optimum on x (seed 3), REML likewise.
  set.seed(3)
  M <- 30
  a <- factor(rep(seq_len(M), each = 8))
  x <- rnorm(M * 8)
  b <- factor(sample(1:6, M * 8, TRUE))
  d <- data.frame(a = a, b = b, x = x,
                  y = 1 + 0.5 * x + rnorm(M)[a] + rnorm(6, 0, 0.5)[b] + rnorm(M * 8))
  d$x2 <- d$x * 1e-3 + 50
  for (reml in c(FALSE, TRUE)) {
    fc <- suppressWarnings(glmm(y ~ x2 + cs(x2 | a) + (1 | b), d, REML = reml))
    l4 <- as.numeric(logLik(suppressMessages(lme4::lmer(y ~ x + (x | a) + (1 | b), d, REML = reml))))
    # REML's criterion carries log|X'V^-1 X|, which x2 = x / 1000 + 50
    # raises by log(1000); ML's is invariant.
    expect_lt(abs(as.numeric(logLik(fc)) - l4 - if (reml) log(1000) else 0), 1e-6)
    expect_false(any(grepl("fitted on the columns as given", fc$optinfo$warnings)))
  }
})


test_that("a far-off cs() mapped back on the boundary keeps the fixed effects' standard errors (binomial)", {
  # The centred fit ends at a correlation of -1; the term's parameters get NA
  # rows in their covariance, which reached every entry of the mapped-back
  # covariance: the fixed effects lost their standard errors (all NA,
  # without a warning) where cs(x | g) on the centred covariate gives them.
  set.seed(4)
  n <- 200
  d <- data.frame(g = factor(rep(1:20, each = 10)), x = rnorm(n))
  d$x2 <- d$x + 1000
  d$yb <- rbinom(n, 1, plogis(0.2 * d$x))
  far <- suppressWarnings(glmm(yb ~ x2 + cs(x2 | g), data = d, family = binomial))
  near <- suppressWarnings(glmm(yb ~ x + cs(x | g), data = d, family = binomial))
  us <- suppressWarnings(glmm(yb ~ x2 + (x2 | g), data = d, family = binomial))
  expect_equal(as.numeric(logLik(far)), as.numeric(logLik(near)), tolerance = 1e-6)
  se_far <- sqrt(diag(vcov(far)))
  expect_true(all(is.finite(se_far)))
  # the slope's SE does not depend on the covariate's origin
  expect_equal(unname(se_far["x2"]), unname(sqrt(diag(vcov(near)))["x"]), tolerance = 1e-4)
  expect_equal(se_far, sqrt(diag(vcov(us))), tolerance = 1e-4)
})
