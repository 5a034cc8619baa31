# Input that covariance structures refuse, with the reason: one-column cs()
# or ar1(), structures in a dispersion formula beside a zero part.

test_that("cs() or ar1() on one column is refused with an example of its own structure", {
  data(sleepstudy, package = "lme4", envir = environment())
  expect_error(glmm(Reaction ~ Days + cs(1 | Subject), sleepstudy),
               "cs\\(1 \\| Subject\\) needs at least two columns \\(e.g. cs\\(0 \\+ f \\| g\\)")
  sleepstudy$h <- factor(rep_len(1:5, 180))
  expect_error(glmm(Reaction ~ Days + cs(1 | Subject) + (1 | h), sleepstudy),
               "needs at least two columns \\(e.g. cs\\(0 \\+ f \\| g\\)")
  expect_error(glmm(Reaction ~ ar1(0 + Days | Subject), sleepstudy),
               "needs at least two columns \\(e.g. ar1\\(0 \\+ f \\| g\\)")
})

test_that("structures in a dispersion formula fit, also beside a zero part", {
  # Before: "could not build the model frame: could not find function \"ar1\"";
  # then a refusal; now a location-scale fit (test-dispersion-random.R),
  # with or without a zero part.
  set.seed(11)
  d <- data.frame(site = factor(rep(1:20, each = 5)), time = factor(rep(1:5, 20)), x = stats::rnorm(100))
  d$y <- stats::rpois(100, 2)
  f <- suppressWarnings(glmm(y ~ x + (1 | site), dispformula = ~ x + ar1(time + 0 | site),
                             data = d, family = nbinom2()))
  expect_s3_class(f, "glmmgee_glmm_dispre")
  expect_true(is.finite(logLik(f)))
  fz <- suppressWarnings(glmm(y ~ x + (1 | site), dispformula = ~ x + ar1(time + 0 | site),
                              data = d, ziformula = ~ 1, family = nbinom2()))
  expect_s3_class(fz, "glmmgee_glmm_dispre")
  expect_true(is.finite(logLik(fz)))
  # us() beside a zero part is the unstructured term (the Laplace
  # approximation of both).
  d2 <- d[d$time %in% 1:2, ]
  a <- suppressWarnings(glmm(y ~ x + us(time + 0 | site), ziformula = ~ 1, data = d2,
                             family = poisson))
  b <- suppressWarnings(glmm(y ~ x + (time + 0 | site), ziformula = ~ 1, data = d2,
                             family = poisson, nAGQ = 1))
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-6)
  # The unstructured equivalents fit.
  # (Poisson data: the zero part vanishes, and says so.)
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + (time + 0 || site), ziformula = ~ 1, data = d[d$time %in% 1:2, ],
                                family = poisson),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("zero-inflation intercept runs to -Inf", w)))
  expect_true(is.finite(logLik(f)))
})
