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



test_that("odds_ratios(delta =): a factor's 0/1 columns take no step; duplicated names said so", {
  d <- sleep_far_covariates()
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


test_that("odds_ratios() on a factor interacting with a covariate far from zero says extrapolation, not separation", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(1)
  d <- sleepstudy
  d$y <- rbinom(nrow(d), 1, plogis((d$Reaction - 300) / 50))
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$x3 <- d$Days * 1e-6 - 5
  fit <- glmm(y ~ f * x3 + (1 | Subject), data = d, family = binomial)
  expect_false(fit$separation$separated)
  expect_true(all(is.finite(fit$coefficients)))
  w <- character()
  r <- withCallingHandlers(odds_ratios(fit), warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  expect_true(length(w) > 0)
  expect_false(any(grepl("separated", w)))
  expect_match(w, "'fb': .*compares at x3 = 0, far from the data.*centre", all = FALSE)
  # The centred fit reads the same comparison at the data's centre: finite.
  d$x3c <- d$x3 - mean(d$x3)
  fc <- glmm(y ~ f * x3c + (1 | Subject), data = d, family = binomial)
  rc <- suppressWarnings(odds_ratios(fc, parm = c("fb", "fc")))
  expect_true(all(is.finite(rc$estimate)))
})


test_that("odds_ratios() of a well-determined coefficient in tiny units says to rescale, not 'separated'", {
  # With x * 1e-6 - 5 the log odds ratio per unit is 1e6: exp() overflows,
  # and the warning blamed separation on a fit that has none.
  set.seed(12)
  d <- data.frame(g = factor(rep(1:40, each = 6)), x = rnorm(240))
  d$y <- rbinom(240, 1, plogis(-0.3 + d$x + rnorm(40)[d$g]))
  d$x2 <- d$x * 1e-6 - 5
  f2 <- glmm(y ~ x2 + (1 | g), d, binomial)
  f1 <- glmm(y ~ x + (1 | g), d, binomial)
  expect_warning(o2 <- odds_ratios(f2), "'x2': one unit of the covariate is a step of .* rescale")
  # The scale-free parts equal the fit on x.
  o1 <- odds_ratios(f1)
  expect_equal(o2$p.value, o1$p.value, tolerance = 1e-6)
  # A separated fit keeps its warning.
  d$ysep <- as.integer(d$x > 0)
  fs <- suppressWarnings(glmm(ysep ~ x + (1 | g), d, binomial))
  expect_warning(odds_ratios(fs), "no finite estimate \\(the fit is separated")
})

test_that("odds_ratios() of a penalized separated fit says the ratio is set by the prior, not that it is infinite", {
  # The warning called the penalized (finite) odds ratio "no finite
  # estimate ... meaningless", contradicting the fit's own note.
  set.seed(4)
  d <- data.frame(g = factor(rep(1:20, each = 8)), x = rnorm(160),
                  trt = factor(rep(c("A", "B", "C"), length.out = 160)))
  d$y <- rbinom(160, 1, plogis(0.5 * d$x + rnorm(20)[d$g]))
  d$y[d$trt == "C"] <- 0
  fp <- suppressWarnings(glmm(y ~ x + trt + (1 | g), d, binomial, penalized = TRUE))
  w <- character()
  o <- withCallingHandlers(odds_ratios(fp), warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  expect_length(w, 1L)
  expect_match(w, "'trtC'.*penalized.*finite but set largely by the prior")
  expect_false(grepl("no finite estimate|meaningless", w))
  expect_true(all(is.finite(o$estimate)) && all(is.finite(o$conf.low)))
})
