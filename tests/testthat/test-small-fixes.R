# AIC()/BIC() across approximations, group-specific variances, the
# plot_views() legend.

test_that("AIC() and BIC() warn when the approximations differ and can refit alike", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  f1 <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 1)
  f2 <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial, nAGQ = 11)
  expect_warning(a <- AIC(f1, f2), "different approximations")
  expect_equal(a$AIC, c(-2 * as.numeric(logLik(f1)) + 2 * 4, -2 * as.numeric(logLik(f2)) + 2 * 5))
  expect_equal(rownames(a), c("f1", "f2"))
  expect_warning(BIC(f1, f2), "different approximations")
  expect_no_warning(a11 <- AIC(f1, f2, nAGQ = 11))
  f1b <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, nAGQ = 11)
  expect_equal(a11$AIC[1], AIC(f1b))
  expect_equal(BIC(f1), -2 * as.numeric(logLik(f1)) + log(nobs(f1)) * 4)
  expect_no_warning(AIC(f2, f1b))
})

test_that("(0 + gA + gB || id) gives group-specific variances, as lme4", {
  skip_if_not_installed("lme4")
  set.seed(3)
  M <- 60; ni <- 8
  id <- rep(seq_len(M), each = ni)
  grp <- rep(rep(c("A", "B"), each = ni / 2), M)
  b <- cbind(rnorm(M, 0, 0.5), rnorm(M, 0, 1.5))
  y <- 1 + (grp == "B") + ifelse(grp == "A", b[id, 1], b[id, 2]) + rnorm(M * ni)
  d <- data.frame(y, id, grp, gA = as.numeric(grp == "A"), gB = as.numeric(grp == "B"))
  fit <- glmm(y ~ grp + (0 + gA + gB || id), data = d)
  ref <- lme4::lmer(y ~ grp + (0 + gA + gB || id), data = d, REML = FALSE)
  vc <- as.data.frame(VarCorr(fit))
  vr <- as.data.frame(lme4::VarCorr(ref))
  expect_equal(vc$sdcor[vc$var1 %in% c("gA", "gB") & is.na(vc$var2)],
               vr$sdcor[vr$var1 %in% c("gA", "gB")], tolerance = 1e-4)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-7)
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
