test_that("odds ratios are exp of the coefficients and of the Wald limits", {
  skip_if_not_installed("MASS")
  fit <- interp_logit_glmm()
  or <- odds_ratios(fit, level = 0.9)
  b <- fixef(fit)[-1]
  se <- sqrt(diag(vcov(fit)))[-1]
  z <- qnorm(0.95)
  expect_equal(or$term, names(b))
  expect_equal(or$estimate, unname(exp(b)), tolerance = 1e-12)
  expect_equal(or$conf.low, unname(exp(b - z * se)), tolerance = 1e-12)
  expect_equal(or$conf.high, unname(exp(b + z * se)), tolerance = 1e-12)
  expect_equal(or$p.value, unname(2 * pnorm(-abs(b / se))), tolerance = 1e-12)
  expect_identical(attr(or, "view"), "conditional")
  expect_output(print(or), "conditional \\(subject-specific")

  pa <- interp_gee()
  org <- odds_ratios(pa, parm = "lateTRUE")
  ci <- confint(pa, "lateTRUE")
  expect_equal(org$estimate, unname(exp(coef(pa)["lateTRUE"])), tolerance = 1e-12)
  expect_equal(c(org$conf.low, org$conf.high), unname(exp(ci[1, ])), tolerance = 1e-12)
  expect_identical(attr(org, "view"), "marginal")
  expect_output(print(org), "marginal \\(population-averaged")
  expect_equal(nrow(odds_ratios(pa, parm = 1:2)), 2L)
})

test_that("rate ratios for log-link fits, from glmm and gee", {
  skip_if_not_installed("MASS")
  d <- MASS::epil
  fit <- glmm(y ~ trt + lbase + (1 | subject), data = d, family = poisson)
  rr <- rate_ratios(fit)
  expect_equal(rr$estimate, unname(exp(fixef(fit)[-1])), tolerance = 1e-12)
  expect_identical(attr(rr, "measure"), "rate ratio")
  pa <- gee(y ~ trt + lbase, data = d, id = subject, family = poisson)
  rr2 <- rate_ratios(pa)
  expect_equal(rr2$conf.high, unname(exp(confint(pa)[-1, 2])), tolerance = 1e-12)
})

test_that("ratios with no meaning are clear errors naming the argument", {
  skip_if_not_installed("MASS")
  d <- MASS::epil
  pois <- gee(y ~ trt, data = d, id = subject, family = poisson)
  expect_error(odds_ratios(pois), "'fit': odds ratios need a binary outcome.*poisson")
  probit <- gee(y ~ late, data = interp_bacteria(), id = ID, family = binomial("probit"))
  expect_error(odds_ratios(probit), "'fit': odds ratios need the logit link.*probit")
  expect_error(rate_ratios(interp_gee()), "'fit': rate ratios need the log link.*logit")
  gau <- gee(y ~ lbase, data = d, id = subject)
  expect_error(rate_ratios(gau), "'fit': rate ratios need the log link.*identity")
  expect_error(odds_ratios(interp_gee(), parm = "nope"), "'parm'.*nope")
  expect_error(odds_ratios(interp_gee(), level = 95), "'level'")
  expect_error(odds_ratios(lm(y ~ lbase, d)), "'fit' must be a fit from glmm\\(\\) or gee\\(\\)")
})
