# Standard errors and convergence free of a covariate's units and location
# (x * 1e-6 - 5) on every family's route, structured covariances included.

# A covariate's standard error in the units of `x`, from a fit on `v`
# (`v = a x + b`).
se_in_x_units <- function(fit, a) {
  V <- vcov(fit, full = TRUE)
  i <- which(rownames(V) %in% c("v", "cond.v", "zi.v", "disp.v"))[1]
  sqrt(V[i, i]) * a
}

refit_units <- function(fml, data, ..., ctl = list()) {
  set.seed(1)
  data$x <- stats::rnorm(nrow(data))
  lapply(list(c(1, 0), c(1e-6, -5), c(1e7, 0), c(1, 1e4)), function(ab) {
    data$v <- data$x * ab[1] + ab[2]
    w <- character()
    f <- withCallingHandlers(glmm(fml, data = data, ...),
                             warning = function(e) {
                               w <<- c(w, conditionMessage(e))
                               invokeRestart("muffleWarning")
                             })
    list(fit = f, a = ab[1], warnings = w)
  })
}

expect_units_free <- function(fits, info) {
  ref <- fits[[1]]
  for (k in 2:4) {
    f <- fits[[k]]
    lab <- paste(info, c("", "x * 1e-6 - 5", "x * 1e7", "x + 1e4")[k])
    expect_equal(as.numeric(logLik(f$fit)), as.numeric(logLik(ref$fit)), tolerance = 1e-8, info = lab)
    expect_false(any(grepl("Hessian|converge", f$warnings)), info = paste(lab, f$warnings))
    expect_equal(se_in_x_units(f$fit, f$a), se_in_x_units(ref$fit, 1), tolerance = 2e-5, info = lab)
  }
}

test_that("standard errors do not depend on a covariate's units and location (x * 1e-6 - 5) in any family's route", {
  # The information was inverted on the user's scale, where with
  # x * 1e-6 - 5 the intercept and x are correlated to 1 - 1e-14: standard
  # errors 1e-4 to 1e-3 relative off, or none ("not negative definite").
  data(cbpp, package = "lme4")
  cb <- cbpp
  # Singular beta-binomial, one grouping factor (0.15658 vs 0.15666 in round
  # 22; here no standard errors at all).
  expect_units_free(refit_units(cbind(incidence, size - incidence) ~ period + v + (1 | herd), cb,
                                family = betabinomial()), "betabinomial")
  data(Salamanders, package = "glmmTMB")
  S <- Salamanders
  expect_units_free(refit_units(count ~ mined + v + (1 | site), S, family = nbinom1()), "nbinom1")
  # Dispersion formula (no standard errors before) and zero part.
  expect_units_free(refit_units(count ~ mined + (1 | site), S, family = nbinom2(),
                                dispformula = ~ v), "dispformula")
  expect_units_free(refit_units(count ~ mined + v + (1 | site) + (1 | spp), S, family = poisson,
                                ziformula = ~ mined), "ZIP two terms")
  set.seed(2)
  gd <- data.frame(g = factor(rep(1:15, each = 6)), h = factor(rep(1:3, 30)))
  gd$y <- stats::rgamma(90, 4, 4 / exp(1 + 0.3 * stats::rnorm(90)))
  expect_units_free(refit_units(y ~ v + (1 | g) + (1 | h), gd, family = Gamma("log")), "Gamma two terms")
})

test_that("structured covariances: a covariate's units and location change neither the standard errors nor the convergence verdict", {
  # Before: "doubtful convergence: scaled gradient 1.2" with x * 1e-6 - 5 and
  # 0.0025 with x + 1e4 (the Newton step in the user's units), standard
  # errors 7e-4 relative off.
  set.seed(11)
  d <- data.frame(site = factor(rep(1:30, each = 6)), time = factor(rep(1:6, 30)))
  d$y <- stats::rpois(180, exp(1 + stats::rnorm(30, 0, 0.5)[d$site] + 0.2 * stats::rnorm(180)))
  expect_units_free(refit_units(y ~ v + ar1(time + 0 | site), d, family = poisson), "ar1")
  expect_units_free(refit_units(y ~ v + cs(time + 0 | site), d, family = poisson), "cs")
  data(sleepstudy, package = "lme4")
  expect_units_free(refit_units(Reaction ~ Days + v + diag(Days | Subject), sleepstudy, REML = FALSE),
                    "diag gaussian")
})
