cbpp_fit <- function() {
  cached("interp_cbpp", glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
                             data = lme4::cbpp, family = binomial))
}

test_that("ranef prediction intervals are condval +/- z condsd", {
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  d <- as.data.frame(ranef(fit), level = 0.9)
  expect_equal(d$lower, d$condval - qnorm(0.95) * d$condsd)
  expect_equal(d$upper, d$condval + qnorm(0.95) * d$condsd)
  expect_null(as.data.frame(ranef(fit))$lower)
  expect_error(as.data.frame(ranef(fit), level = 2), "'level'")
})

test_that("caterpillar plot ranks clusters and shows shrinkage of the raw estimates", {
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  pdf(NULL)
  on.exit(dev.off())
  rk <- plot_ranef(fit)
  expect_equal(nrow(rk), fit$ngroups)
  expect_false(is.unsorted(rk$estimate))
  re <- ranef(fit)$herd
  expect_equal(rk$estimate, re[rk$group, "(Intercept)"])
  # raw estimate: the cluster's own glm intercept deviation with the fixed
  # part as an offset
  cb <- lme4::cbpp
  eta_fixed <- drop(fit$X %*% fixef(fit))
  for (h in c("1", "5", "12")) {
    i <- cb$herd == h
    g <- glm(cbind(incidence, size - incidence) ~ 1, offset = eta_fixed[i],
             family = binomial, data = cb[i, ])
    expect_equal(rk$raw[rk$group == h], unname(coef(g)), tolerance = 1e-7)
  }
  # the posterior mode lies between zero and the raw estimate
  fin <- is.finite(rk$raw)
  expect_true(all(abs(rk$estimate[fin]) <= abs(rk$raw[fin]) + 1e-8))
  expect_true(all(sign(rk$estimate[fin]) == sign(rk$raw[fin]) | rk$raw[fin] == 0))
  expect_error(plot_ranef(fit, term = "period2"), "'term'")
})

test_that("two-views plot: marginal curve is the average of the conditional ones, and flatter", {
  skip_if_not_installed("MASS")
  d <- interp_bacteria()
  d$weeks <- d$week
  fit <- glmm(y ~ trt + weeks + (1 | ID), data = d, family = binomial)
  pdf(NULL)
  on.exit(dev.off())
  v <- plot_views(fit, "weeks", n_curves = 4000)
  expect_equal(v$marginal, unname(rowMeans(v$conditional)), tolerance = 1e-3)
  # flatter on the logit scale: the attenuated population-averaged slope
  expect_lt(diff(range(qlogis(v$marginal))), 0.9 * diff(range(qlogis(v$typical))))
  v2 <- plot_views(fit, "weeks", at = list(trt = "drug"), n_curves = 5)
  expect_equal(ncol(v2$conditional), 5L)
  expect_error(plot_views(fit, "trt"), "'variable' 'trt' must be numeric")
  expect_error(plot_views(fit, "dose"), "'variable' must name one variable")
  expect_error(plot_views(fit, "weeks", at = list(trt = "aspirin")), "'at'")
  expect_error(plot_views(interp_gee(), "weeks"), "plot_views\\(\\) needs a fit from glmm")
})


test_that("the plot_views() legend covers no curve", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  bacteria$weeks <- bacteria$week
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  inside <- function(v) {
    r <- v$legend
    pts <- cbind(rep(v$x, 2L + ncol(v$conditional)),
                 c(v$conditional, v$typical, v$marginal))
    any(pts[, 1] >= r$left & pts[, 1] <= r$left + r$w &
          pts[, 2] <= r$top & pts[, 2] >= r$top - r$h)
  }
  for (fam in list(binomial, binomial("probit"))) {
    fit <- glmm(y ~ trt + weeks + (1 | ID), data = bacteria, family = fam)
    expect_false(inside(plot_views(fit, "weeks")))
  }
  # Small panels: the legend is measured, so it still fits above the curves.
  pdf(NULL, width = 7, height = 3.5)
  op <- par(mfrow = c(1, 2))
  expect_false(inside(plot_views(fit, "weeks", n_curves = 15)))
  expect_false(inside(plot_views(fit, "weeks", n_curves = 15, range = c(0, 30))))
  par(op)
  dev.off()
  br <- glmm(y ~ trt + weeks + (1 | ID), data = bacteria, family = binomial,
             ranef_dist = "bridge")
  v <- plot_views(br, "weeks", n_curves = 9)
  expect_false(inside(v))
  # The bridge's marginal curve is exactly logistic in phi * eta.
  X <- cbind(1, 0, 0, v$x)
  expect_equal(unname(v$marginal), plogis(br$ranef_dist$phi * drop(X %*% fixef(br))), tolerance = 1e-12)
})
