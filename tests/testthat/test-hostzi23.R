# Reproducers from hostile testing of the issue-15 families against glmmTMB
# and GLMMadaptive (round 23): each failed before its fix.

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

test_that("covariance structures with a zero part, a dispersion formula or a hurdle family are refused with the reason", {
  # Before: "could not build the model frame: could not find function \"ar1\"".
  set.seed(11)
  d <- data.frame(site = factor(rep(1:20, each = 5)), time = factor(rep(1:5, 20)), x = stats::rnorm(100))
  d$y <- stats::rpois(100, 2)
  expect_error(glmm(y ~ x + ar1(time + 0 | site), ziformula = ~ x, data = d, family = truncated_nbinom2()),
               "'formula': covariance structures .* cannot be combined with a hurdle family or 'ziformula'; use unstructured terms")
  expect_error(glmm(y ~ x + cs(time + 0 | site), dispformula = ~ x, data = d, family = nbinom2()),
               "'formula': covariance structures .* cannot be combined with 'dispformula'")
  expect_error(glmm(y ~ x + us(time + 0 | site), ziformula = ~ 1, data = d, family = poisson),
               "cannot be combined with 'ziformula'")
  expect_error(glmm(y ~ x + (1 | site), ziformula = ~ x + homdiag(1 | site), data = d, family = poisson),
               "'ziformula': covariance structures .* are not available there")
  # The unstructured equivalents fit.
  # (Poisson data: the zero part vanishes, and says so.)
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + (time + 0 || site), ziformula = ~ 1, data = d[d$time %in% 1:2, ],
                                family = poisson),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("zero-inflation intercept runs to -Inf", w)))
  expect_true(is.finite(logLik(f)))
})

test_that("a dispersion at its no-overdispersion limit is said, not 'doubtful convergence' (unstructured terms)", {
  # Before: "doubtful convergence: scaled gradient 0.19-0.63" at optima equal
  # to the Poisson / binomial fits', and for betabinomial no standard
  # errors at all. (Round 22 did this for nbinom1 with structured terms.)
  set.seed(3)
  d <- data.frame(g = factor(rep(1:30, each = 6)), h = factor(rep(1:6, 30)), x = stats::rnorm(180), n = 10)
  d$yp <- stats::rpois(180, exp(0.5 + 0.3 * d$x + stats::rnorm(30, 0, 0.5)[d$g]))
  d$yb <- stats::rbinom(180, 10, stats::plogis(-0.5 + 0.3 * d$x + stats::rnorm(30, 0, 0.5)[d$g]))
  for (re in c("(1 | g)", "(1 | g) + (1 | h)")) {
    for (case in list(list("yp", nbinom2(), poisson(), "nbinom2 dispersion theta .* limit Inf"),
                      list("yp", nbinom1(), poisson(), "nbinom1 dispersion phi .* limit 0"),
                      list("cbind(yb, n - yb)", betabinomial(), binomial(), "betabinomial dispersion phi .* limit Inf"))) {
      fml <- stats::as.formula(paste(case[[1]], "~ x +", re))
      w <- character()
      f <- withCallingHandlers(glmm(fml, data = d, family = case[[2]], nAGQ = 1),
                               warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
      info <- paste(case[[2]]$family, re)
      expect_false(any(grepl("doubtful|did not converge|Hessian", w)), info = paste(info, w))
      expect_true(any(grepl(case[[4]], w)), info = info)
      expect_true(f$optinfo$dispersion_limit, info = info)
      lim <- suppressWarnings(glmm(fml, data = d, family = case[[3]], nAGQ = 1))
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(lim)), tolerance = 1e-7, info = info)
      expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(lim)))), tolerance = 1e-3, info = info)
    }
  }
  # Overdispersed counts: an interior dispersion, not flagged.
  d$y2 <- stats::rnbinom(180, mu = exp(1 + stats::rnorm(30, 0, 0.5)[d$g]), size = 2)
  f <- glmm(y2 ~ x + (1 | g), data = d, family = nbinom2())
  expect_false(f$optinfo$dispersion_limit)
})
