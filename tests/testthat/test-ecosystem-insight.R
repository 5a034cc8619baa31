# The insight family (insight, parameters, performance, ggeffects, sjPlot)
# and clubSandwich on glmm and gee fits: what they report must be what the
# same call reports on the glmmTMB/geepack fit, or a clear error.

skip_if_not_installed("insight")
skip_if_not_installed("glmmTMB")

test_that("insight sees a glmm as a mixed model with fixed-effect parameters", {
  m <- eco_binomial()
  ff <- insight::find_formula(m$ours)
  ref <- insight::find_formula(m$tmb)
  expect_equal(deparse(ff$conditional), deparse(ref$conditional))
  expect_equal(deparse(ff$random), deparse(ref$random))
  expect_true(insight::is_mixed_model(m$ours))
  g <- eco_gee()
  expect_identical(insight::is_mixed_model(g$ours), insight::is_mixed_model(g$peer))
  expect_identical(insight::find_random(g$ours), insight::find_random(g$peer))
  expect_identical(insight::find_random(m$ours), insight::find_random(m$tmb))
  p <- insight::get_parameters(m$ours)
  pr <- insight::get_parameters(m$tmb)
  expect_identical(p$Parameter, pr$Parameter)
  expect_equal(p$Estimate, pr$Estimate, tolerance = 1e-5)
  expect_identical(insight::find_parameters(m$ours)$conditional,
                   insight::find_parameters(m$tmb)$conditional)
  expect_identical(insight::find_statistic(m$ours), insight::find_statistic(m$tmb))
  st <- insight::get_statistic(m$ours)
  expect_equal(st$Statistic, insight::get_statistic(m$tmb)$Statistic, tolerance = 1e-3)
  expect_true(insight::model_info(m$ours)$is_mixed)
  expect_true(insight::model_info(m$ours)$is_binomial)
  expect_equal(insight::get_varcov(m$ours), vcov(m$ours))
  expect_identical(nrow(insight::get_data(m$ours)), nrow(m$data))
  expect_identical(insight::get_df(m$ours, type = "wald"), Inf)
})

test_that("get_predicted() gives population-level predictions with intervals", {
  m <- eco_binomial()
  nd <- data.frame(period = factor(1:4, levels = 1:4), herd = NA)
  ours <- as.data.frame(insight::get_predicted(m$ours, data = nd))
  # Against glmmTMB's own predict() (insight's get_predicted() on glmmTMB
  # returns zero-width intervals here).
  ref <- lapply(predict(m$tmb, nd, re.form = NA, se.fit = TRUE), unname)
  expect_equal(ours$Predicted, plogis(ref$fit), tolerance = 1e-5)
  expect_equal(ours$CI_low, plogis(ref$fit - qnorm(0.975) * ref$se.fit), tolerance = 1e-3)
  expect_equal(ours$CI_high, plogis(ref$fit + qnorm(0.975) * ref$se.fit), tolerance = 1e-3)
})

test_that("ggeffects::ggpredict() of a glmm equals glmmTMB's; of a gee has Wald limits", {
  skip_if_not_installed("ggeffects")
  m <- eco_binomial()
  ours <- as.data.frame(ggeffects::ggpredict(m$ours, "period"))
  ref <- as.data.frame(ggeffects::ggpredict(m$tmb, "period"))
  expect_equal(ours$predicted, ref$predicted, tolerance = 1e-5)
  expect_equal(ours$conf.low, ref$conf.low, tolerance = 1e-3)
  em <- as.data.frame(ggeffects::ggemmeans(m$ours, "period"))
  expect_equal(em$predicted, ref$predicted, tolerance = 1e-5)
  g <- eco_gee()
  gp <- as.data.frame(ggeffects::ggpredict(g$ours, "trt"))
  nd <- data.frame(lbase = mean(g$data$lbase), lage = mean(g$data$lage), V4 = 0,
                   trt = levels(g$data$trt))
  pr <- predict(g$ours, nd, type = "response", se.fit = TRUE)
  expect_equal(gp$predicted, unname(pr$fit), tolerance = 1e-8)
  se_link <- pr$se.fit / pr$fit
  expect_equal(gp$conf.high, unname(pr$fit * exp(qnorm(0.975) * se_link)), tolerance = 1e-6)
})

test_that("parameters::model_parameters() reports the fixed effects as for glmmTMB", {
  skip_if_not_installed("parameters")
  m <- eco_binomial()
  ours <- as.data.frame(parameters::model_parameters(m$ours))
  ref <- as.data.frame(parameters::model_parameters(m$tmb, effects = "fixed"))
  expect_identical(ours$Parameter, ref$Parameter)
  expect_equal(ours$Coefficient, ref$Coefficient, tolerance = 1e-5)
  expect_equal(ours$SE, ref$SE, tolerance = 1e-3)
  expect_equal(ours$p, ref$p, tolerance = 1e-2)
  g <- eco_gee()
  gp <- as.data.frame(parameters::model_parameters(g$ours))
  expect_equal(gp$SE, unname(sqrt(diag(vcov(g$ours)))), tolerance = 1e-8)
})

test_that("sjPlot tables and plots run on glmm fits", {
  skip_if_not_installed("sjPlot")
  m <- eco_binomial()
  expect_s3_class(sjPlot::tab_model(m$ours), "sjTable")
  expect_s3_class(sjPlot::plot_model(m$ours), "ggplot")
})

test_that("calls that would give wrong numbers stop with a clear message", {
  skip_if_not_installed("clubSandwich")
  skip_if_not_installed("performance")
  g <- eco_gee()
  expect_error(clubSandwich::vcovCR(g$ours, cluster = g$data$subject, type = "CR0"),
               "working correlation")
  expect_error(performance::r2(g$ours), "not available")
})

test_that("get_variance(), icc() and r2() of a gaussian glmm equal lmer's (ML)", {
  skip_if_not_installed("performance")
  skip_if_not_installed("lme4")
  m <- eco_gaussian()
  v <- insight::get_variance(m$ours)
  vr <- insight::get_variance(m$lme4)
  expect_identical(names(v), names(vr))
  expect_equal(unlist(v), unlist(vr), tolerance = 1e-3)
  expect_equal(unlist(performance::icc(m$ours)), unlist(performance::icc(m$lme4)),
               tolerance = 1e-4)
  expect_equal(unlist(performance::r2(m$ours)), unlist(performance::r2(m$lme4)),
               tolerance = 1e-4)
})
