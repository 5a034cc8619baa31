# ggplot2::autoplot() on glmm and gee fits: the plotted numbers are the
# fit's (ranef() and its conditional variances, Pearson residuals, Wald
# intervals), and arguments autoplot() cannot use are errors.

test_that("autoplot() of a glmm draws the predicted random effects and the residuals", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("lme4")
  fit <- eco_glmm()
  p <- ggplot2::autoplot(fit)
  expect_s3_class(p, "ggplot")
  b <- ggplot2::ggplot_build(p)
  d <- as.data.frame(ranef(fit, condVar = TRUE), level = 0.95)
  pts <- b$data[[3L]]
  expect_equal(sort(pts$y), sort(d$condval))
  rng <- b$data[[2L]]
  expect_equal(sort(rng$ymax), sort(d$upper))
  r <- ggplot2::autoplot(fit, which = "residuals")
  rb <- ggplot2::ggplot_build(r)$data[[2L]]
  expect_equal(sort(rb$y), sort(as.vector(residuals(fit, type = "pearson"))))
  cf <- ggplot2::ggplot_build(ggplot2::autoplot(fit, which = "coef", level = 0.9))$data[[2L]]
  se <- sqrt(diag(vcov(fit)))[-1]
  expect_equal(sort(cf$xmin), sort(unname(fixef(fit)[-1] - stats::qnorm(0.95) * se)))
  expect_error(ggplot2::autoplot(fit, which = "qq"), "'which'")
  expect_error(ggplot2::autoplot(fit, colour = "red"), "unknown argument")
})

test_that("autoplot() of a gee draws residuals and coefficients; other kinds plot or refuse", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("MASS")
  g <- eco_gee()$ours
  expect_s3_class(ggplot2::autoplot(g), "ggplot")
  cf <- ggplot2::ggplot_build(ggplot2::autoplot(g, which = "coef"))$data[[3L]]
  expect_equal(sort(cf$x), sort(unname(coef(g)[-1])))
  expect_error(ggplot2::autoplot(g, which = "ranef"), "'which'")
  # Cook's distances per cluster, the points of the influence plot
  inf <- ggplot2::ggplot_build(ggplot2::autoplot(g, which = "influence"))$data[[2L]]
  expect_equal(inf$y, unname(cooks.distance(g)))
  fits <- kinds_fits()
  for (k in c("reml", "ar1", "cs", "known", "nested", "zi")) {
    p <- tryCatch(ggplot2::autoplot(fits[[k]]), error = function(e) e)
    if (inherits(p, "error")) {
      expect_match(conditionMessage(p), "autoplot", label = k)
    } else {
      expect_s3_class(p, "ggplot")
      expect_silent(ggplot2::ggplot_build(p))
    }
  }
  skip_if_not_installed("ordinal")
  expect_s3_class(ggplot2::autoplot(fits$ordinal), "ggplot")
  expect_s3_class(ggplot2::autoplot(fits$ordinal_gee), "ggplot")
  expect_error(ggplot2::autoplot(fits$ordinal, which = "residuals"), "'which'")
})
