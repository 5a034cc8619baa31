# Input that covariance structures refuse, with the reason: one-column cs()
# or ar1(), structures combined with a zero part, a dispersion formula or a
# hurdle family.

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
