# Hostile tests, round 28: transformations of the data that must not move
# the optimum, and the messages of refused input.

# sleepstudy with the response shifted by a constant: the intercept absorbs
# it, every other estimate and the log-likelihood stay. Before the response
# was fitted as y - X b0 (response_shift()), the one-factor gaussian routes
# summed squares of y itself and lost their digits: with y + 1e9, REML
# reported logLik +57497.8 (lmer: -871.81), ML with a random intercept
# -1035.66 (lmer: -897.04), a cs() structure +2.5e8, nested quadrature -Inf.
shifted_sleep <- function(shift) {
  data(sleepstudy, package = "lme4", envir = environment())
  sleepstudy$Reaction <- sleepstudy$Reaction + shift
  sleepstudy$f <- factor(sleepstudy$Days %/% 3)
  sleepstudy$g <- sleepstudy$Days > 4
  sleepstudy$h <- factor(rep_len(c("a", "b", "c", "d", "e", "f"), 180)[c(1:90 * 2, 1:90 * 2 - 1)])
  sleepstudy
}

test_that("a response shifted by 1e9: one-factor REML and ML equal lmer's fits", {
  skip_if_not_installed("lme4")
  base <- shifted_sleep(0)
  d <- shifted_sleep(1e9)
  for (reml in c(TRUE, FALSE)) for (fo in list(Reaction ~ Days + (Days | Subject),
                                               Reaction ~ Days + (1 | Subject))) {
    ref <- lme4::lmer(fo, d, REML = reml)
    fit <- glmm(fo, d, REML = reml)
    fit0 <- glmm(fo, base, REML = reml)
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-9)
    expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-7)
    expect_equal(unname(sqrt(diag(vcov(fit)))), unname(sqrt(diag(as.matrix(vcov(ref))))),
                 tolerance = 1e-4)
    expect_equal(sigma(fit), sigma(ref), tolerance = 1e-5)
    # The same fit as on the unshifted response, to the rounding of y + 1e9
    # (1.2e-7 per observation).
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(fit0)), tolerance = 1e-10)
    expect_equal(sigma(fit), sigma(fit0), tolerance = 1e-8)
    expect_equal(unname(sqrt(diag(vcov(fit)))), unname(sqrt(diag(vcov(fit0)))), tolerance = 1e-8)
    expect_equal(fixef(fit)[[2L]], fixef(fit0)[[2L]], tolerance = 1e-9)
    expect_length(fit$optinfo$warnings, 0L)
  }
})

test_that("a response shifted by 1e9: structured, dispersion, quadrature and nested fits do not move", {
  base <- shifted_sleep(0)
  d <- shifted_sleep(1e9)
  fits <- list(
    cs = function(x) glmm(Reaction ~ Days + cs(0 + f | Subject), x),
    diag = function(x) glmm(Reaction ~ Days + diag(Days | Subject), x),
    disp = function(x) glmm(Reaction ~ Days + (1 | Subject), x, dispformula = ~ g),
    agq = function(x) glmm(Reaction ~ Days + (1 | Subject), x, nAGQ = 5),
    nested = function(x) glmm(Reaction ~ Days + (1 | Subject/h), x, nAGQ = 3))
  for (nm in names(fits)) {
    # Warnings (a singular fit) are compared in the fits' records.
    a <- suppressWarnings(fits[[nm]](base))
    b <- suppressWarnings(fits[[nm]](d))
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-9, label = nm)
    expect_equal(fixef(b)[["Days"]], fixef(a)[["Days"]], tolerance = 1e-7, label = nm)
    expect_equal(fixef(b)[[1L]] - 1e9, fixef(a)[[1L]], tolerance = 1e-6, label = nm)
    expect_equal(unname(fitted(b)) - 1e9, unname(fitted(a)), tolerance = 1e-8, label = nm)
    expect_equal(unname(sqrt(diag(vcov(b)))), unname(sqrt(diag(vcov(a)))), tolerance = 1e-4,
                 label = nm)
    expect_equal(b$optinfo$warnings, a$optinfo$warnings, label = nm)
  }
})

test_that("a response shifted by 1e9: glmm_fit() and start values in the user's units", {
  skip_if_not_installed("lme4")
  d <- shifted_sleep(1e9)
  X <- cbind(1, d$Days)
  fit <- glmm_fit(X, d$Reaction, matrix(1, nrow(d)), d$Subject)
  ref <- lme4::lmer(Reaction ~ Days + (1 | Subject), d, REML = FALSE)
  expect_equal(fit$loglik, as.numeric(logLik(ref)), tolerance = 1e-9)
  expect_equal(unname(fit$beta), unname(lme4::fixef(ref)), tolerance = 1e-8)
  st <- glmm_fit(X, d$Reaction, matrix(1, nrow(d)), d$Subject,
                 start = list(beta = fit$beta, lambda = fit$lambda, sigma = fit$sigma))
  expect_equal(st$loglik, fit$loglik, tolerance = 1e-10)
})

test_that("cs() or ar1() on one column is refused with an example of its own structure", {
  data(sleepstudy, package = "lme4", envir = environment())
  expect_error(glmm(Reaction ~ Days + cs(1 | Subject), sleepstudy),
               "cs\\(1 \\| Subject\\) needs at least two columns \\(e.g. cs\\(0 \\+ f \\| g\\)")
  sleepstudy$h <- factor(rep_len(1:5, 180))
  expect_error(glmm(Reaction ~ Days + cs(1 | Subject) + (1 | h), sleepstudy),
               "needs at least two columns \\(e.g. cs\\(0 \\+ f \\| g\\)")
  expect_error(glmm(Reaction ~ ar1(0 + Days | Subject), sleepstudy),
               "needs at least two columns \\(e.g. ar1\\(0 \\+ f \\| g\\)")
})

test_that("an ordinal random slope on a far-off covariate fits without a stray 'NaNs produced' warning", {
  data(wine, package = "ordinal", envir = environment())
  wine$x <- as.numeric(wine$temp == "warm")
  far <- wine
  far$x <- far$x * 1e6 + 1e7
  a <- glmm(rating ~ x + contact + (x | judge), wine, family = cumulative())
  # The slope's column is far from zero beside the intercept: fitted on the
  # standardized Z and mapped back, where log() met the negative
  # off-diagonal entry of the factor.
  expect_no_warning(b <- glmm(rating ~ x + contact + (x | judge), far, family = cumulative()))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(fixef(b)[["x"]] * 1e6, fixef(a)[["x"]], tolerance = 1e-5)
})

test_that("a constant offset in ziformula or dispformula is absorbed by that part's intercept", {
  data(Salamanders, package = "glmmTMB", envir = environment())
  # The parts' starts ignored the offsets: a zero-inflation probability of
  # 1 - 2e-5 at the start (offset 10) ended 178 log-likelihood units low with
  # "the data need no structural zeros"; a dispersion offset of -10 ended at
  # the Poisson-less limit, 240 units low.
  fits <- list(
    zi_one = function(d) glmm(count ~ mined + (1 | site), d, family = poisson,
                              ziformula = ~ spp + offset(oz), nAGQ = 1),
    zi_sparse = function(d) glmm(count ~ mined + (1 | site) + (1 | spp), d, family = poisson,
                                 ziformula = ~ mined + offset(oz)),
    disp_one = function(d) glmm(count ~ mined + (1 | site), d, family = nbinom2(),
                                dispformula = ~ mined + offset(oz), nAGQ = 1),
    disp_sparse = function(d) glmm(count ~ mined + (1 | site) + (1 | spp), d, family = nbinom2(),
                                   dispformula = ~ mined + offset(oz)))
  for (nm in names(fits)) {
    d <- Salamanders
    d$oz <- 0
    ref <- fits[[nm]](d)
    part <- if (startsWith(nm, "zi")) "zi" else "disp"
    for (oz in c(10, -10)) {
      d$oz <- oz
      fit <- fits[[nm]](d)
      expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8,
                   label = paste(nm, oz))
      expect_equal(fixef(fit), fixef(ref), tolerance = 1e-5, label = paste(nm, oz))
      int <- paste0(part, "~(Intercept)")
      expect_equal(fit$theta[[int]] + oz, ref$theta[[int]], tolerance = 1e-5,
                   label = paste(nm, oz))
      expect_equal(fit$optinfo$warnings, ref$optinfo$warnings, label = paste(nm, oz))
    }
  }
})
