# nbinom2() and Gamma(log) on the sparse Laplace engine (several
# random-effect terms): the estimated dispersion is reported as for one
# grouping factor (sigma(), family_par, the fitted family), and the fits
# agree with glmmTMB on crossed data.

sim_crossed_counts <- function() {
  cached("sim_crossed_counts", {
    set.seed(31)
    n <- 600
    d <- data.frame(a = factor(sample(1:20, n, TRUE)), b = factor(sample(1:15, n, TRUE)),
                    x = rnorm(n))
    eta <- 0.5 + 0.4 * d$x + rnorm(20, 0, 0.6)[d$a] + rnorm(15, 0, 0.4)[d$b]
    d$y <- rnbinom(n, mu = exp(eta), size = 2)
    d$yg <- rgamma(n, shape = 3, rate = 3 / exp(eta))
    d
  })
}

test_that("crossed negative binomial: theta reported with its SE and matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_crossed_counts()
  ours <- glmm(y ~ x + (1 | a) + (1 | b), data = d, family = nbinom2())
  expect_s3_class(ours, "glmmgee_glmm_sparse")
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | a) + (1 | b), data = d, family = glmmTMB::nbinom2())
  expect_as_glmmtmb(ours, tmb, sd_tol = 1e-3)
  th <- unname(exp(ours$theta[["log(theta)"]]))
  expect_equal(sigma(ours), th)
  expect_identical(family(ours)$theta, sigma(ours))
  expect_equal(ours$family_par$estimate, th)
  se_log_tmb <- sqrt(vcov(tmb, full = TRUE)[tmb_disp_label("(Intercept)"), tmb_disp_label("(Intercept)")])
  expect_equal(ours$family_par$se_log, unname(se_log_tmb), tolerance = 2e-3)
  expect_equal(ours$family_par$se, th * ours$family_par$se_log)
  expect_output(print(ours), "Negative binomial dispersion theta: .*\\(SE ")
  expect_output(print(summary(ours)), "theta: .*\\(SE ")
  mu <- fitted(ours)
  expect_equal(unname(residuals(ours, "pearson")),
               unname((d$y - mu) / sqrt(mu + mu^2 / th)))
})

test_that("crossed Gamma(log): shape reported, sigma() is 1/sqrt(shape), matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_crossed_counts()
  ours <- glmm(yg ~ x + (1 | a) + (1 | b), data = d, family = Gamma(link = "log"))
  tmb <- glmmTMB::glmmTMB(yg ~ x + (1 | a) + (1 | b), data = d, family = Gamma(link = "log"))
  expect_as_glmmtmb(ours, tmb, sd_tol = 1e-3)
  shape <- unname(exp(ours$theta[["log(shape)"]]))
  expect_equal(ours$family_par$name, "shape")
  expect_equal(ours$family_par$estimate, shape)
  expect_equal(sigma(ours), 1 / sqrt(shape))
  expect_output(print(ours), "Gamma shape: .*\\(SE ")
})

test_that("negative binomial on glmmTMB::Salamanders with (1 | site) + (1 | mined:spp) matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  f <- count ~ mined + spp + (1 | site) + (1 | mined:spp)
  ours <- glmm(f, data = e$Salamanders, family = nbinom2())
  tmb <- glmmTMB::glmmTMB(f, data = e$Salamanders, family = glmmTMB::nbinom2())
  expect_as_glmmtmb(ours, tmb, sd_tol = 1e-3)
  expect_true(is.finite(ours$family_par$se))
})

test_that("one grouping factor by the sparse route gives the AGQ engine's Laplace fit", {
  # a known covariance K = I sends (1 | a) to the sparse engine
  d <- sim_crossed_counts()
  K <- diag(nlevels(d$a)); rownames(K) <- levels(d$a)
  sp <- glmm(y ~ x + (1 | a), data = d, family = nbinom2(), covariance = list(a = K))
  one <- glmm(y ~ x + (1 | a), data = d, family = nbinom2(), nAGQ = 1)
  expect_s3_class(sp, "glmmgee_glmm_sparse")
  expect_equal(sigma(sp), sigma(one), tolerance = 1e-4)
  expect_equal(sp$family_par$se, one$family_par$se, tolerance = 1e-3)
  expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(one)), tolerance = 1e-7)
})
