# Reproducers from hostile testing of the round-18 features (structured
# gaussian covariances with REML, ordinal GEE with global odds ratios).

ar1_site_data <- function(seed = 1, M = 40) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(1:M, each = 4)), time = factor(rep(1:4, M)), x = rnorm(4 * M))
  b <- t(chol(0.5 * 0.6^abs(outer(1:4, 1:4, "-")))) %*% matrix(rnorm(4 * M), 4)
  d$site <- factor(sample(8, 4 * M, replace = TRUE))
  d$y <- 1 + 0.5 * d$x + as.vector(b) + rnorm(8, sd = 0.5)[d$site] + rnorm(4 * M, sd = 0.5)
  d
}

test_that("standard errors of a structured fit do not depend on where a covariate is centred", {
  # x + 1e4 beside the intercept gave the information a condition number
  # near 1e16: every standard error was lost with a warning, although the
  # optimum and the slope's standard error do not depend on the shift.
  d <- ar1_site_data()
  d$xs <- d$x + 1e4
  for (reml in c(TRUE, FALSE)) {
    a <- glmm(y ~ x + ar1(0 + time | g) + (1 | site), d, REML = reml)
    b <- expect_no_warning(glmm(y ~ xs + ar1(0 + time | g) + (1 | site), d, REML = reml))
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
    expect_equal(unname(fixef(b)["xs"]), unname(fixef(a)["x"]), tolerance = 1e-5)
    se_a <- sqrt(diag(vcov(a)))
    se_b <- sqrt(diag(vcov(b)))
    expect_true(all(is.finite(se_b)))
    expect_equal(unname(se_b["xs"]), unname(se_a["x"]), tolerance = 1e-4)
    # The intercept at x = -1e4 is the intercept at 0 moved along the slope.
    expect_equal(unname(se_b[1L]), sqrt(se_a[1]^2 + 1e8 * se_a[2]^2 - 2e4 * vcov(a)[1, 2]),
                 tolerance = 1e-3, ignore_attr = TRUE)
  }
})

test_that("odds_ratios() of a global odds ratio GEE names its structure", {
  skip_if_not_installed("geepack")
  data(ohio, package = "geepack", envir = environment())
  f <- gee(factor(resp) ~ age + smoke, data = ohio, id = id, waves = age,
           family = cumulative, corstr = "global.exchangeable")
  o <- odds_ratios(f)
  expect_match(attr(o, "source"), "global.exchangeable", fixed = TRUE)
  expect_no_match(attr(o, "source"), "independence", fixed = TRUE)
})

test_that("a gaussian structured ML fit reaches the same optimum with the response in other units", {
  # With y * 1e6 the sparse Laplace route stopped 1.4 below the optimum with
  # only a convergence warning; the profiled criterion now finishes it.
  d <- ar1_site_data()
  n <- nrow(d)
  a <- glmm(y ~ x + ar1(0 + time | g) + (1 | site), d)
  b <- suppressWarnings(glmm(I(y * 1e6) ~ x + ar1(0 + time | g) + (1 | site), d))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)) - n * log(1e6), tolerance = 1e-8)
  expect_equal(unname(fixef(b)), unname(fixef(a)) * 1e6, tolerance = 1e-5)
  expect_equal(unname(b$structures[[1]]$rho), unname(a$structures[[1]]$rho), tolerance = 1e-4)
})

test_that("zero-part random effects on several terms find structural zeros carried by one term", {
  # Zeros kept only at mined sites: glmmTMB's optimum has a zero-part site SD
  # of 11 (logit scale) and a fixed zero intercept near -10. The search
  # stopped 14.5 below it, with the zero part vanishing and the advice to
  # drop 'ziformula'; the nested fit with the site term alone was higher.
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders
  d$count[d$mined == "no" & d$count == 0] <- 1
  both <- expect_no_warning(glmm(count ~ mined + (1 | site), data = d, family = poisson,
                                 ziformula = ~ (1 | spp) + (1 | site)))
  site <- glmm(count ~ mined + (1 | site), data = d, family = poisson, ziformula = ~ (1 | site))
  expect_gte(as.numeric(logLik(both)), as.numeric(logLik(site)) - 1e-6)
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), data = d, family = poisson,
                          ziformula = ~ (1 | spp) + (1 | site))
  expect_gte(as.numeric(logLik(both)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(fixef(both)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
})

test_that("the ordinal GEE refuses a single cluster as gee() does", {
  # One cluster: the sandwich is zero, and the fit reported standard errors
  # of 1e-15 (independence and global odds ratios alike).
  d <- data.frame(i = 1, t = 1:6, y = factor(c(0, 1, 0, 1, 1, 0)), x = c(1, 2, 3, 1, 2, 3))
  for (cs in c("independence", "global.exchangeable"))
    expect_error(gee(y ~ x, data = d, id = i, waves = t, family = cumulative, corstr = cs),
                 "'id' has a single cluster")
  d$i <- rep(1:2, each = 3)
  expect_s3_class(gee(y ~ x, data = d, id = i, waves = t, family = cumulative), "glmmgee_gee_ordinal")
})

test_that("a grouping factor in both parts: the two-part search reaches glmmTMB's optimum, not a lower one", {
  # Site effects in both parts: the mined sites' zeros can be carried by the
  # count part (site SD 0.47, zero intercept -2.2) or by the zero part (zero
  # site SD 2.0, zero intercept -0.66). The search from the default start
  # stopped at the first, 0.049 below glmmTMB's optimum, with no warning.
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  fit <- expect_no_warning(glmm(count ~ mined + (1 | site), data = Salamanders, family = nbinom2(),
                                ziformula = ~ (1 | spp) + (1 | site)))
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), data = Salamanders,
                          family = glmmTMB::nbinom2(), ziformula = ~ (1 | spp) + (1 | site))
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
  expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(tmb)$zi), tolerance = 1e-3)
})
