# Structured-covariance linear mixed models: a covariate's units and
# location (x * 1e-6 - 5, x + 1e4) and the response's units do not move the
# fit, its standard errors or its convergence (against glmmTMB).

ar1_site_data <- function() {
  set.seed(1)
  n <- 30
  tt <- 6
  d <- data.frame(id = factor(rep(1:n, each = tt)), time = factor(rep(1:tt, n)),
                  site = factor(rep(1:6, each = 5 * tt)))
  d$x <- rnorm(nrow(d))
  d$y <- 1 + 0.5 * d$x + rnorm(n)[as.integer(d$id)] + 0.7 * rnorm(6)[as.integer(d$site)] +
    as.numeric(stats::arima.sim(list(ar = 0.6), nrow(d)))
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  d$y6 <- d$y * 1e6
  d
}

test_that("structured-covariance REML: x * 1e-6 - 5 and x + 1e4 give the fit on x (and glmmTMB's)", {
  # The profiled structured route formed X'V^-1X on the user's X: with
  # x * 1e-6 - 5 beside ar1() + (1 | site) the REML search stopped in
  # false convergence, the slope 2% off; cs() + (1 | site) likewise.
  d <- ar1_site_data()
  for (st in c("ar1", "cs")) {
    re <- sprintf(" + %s(time + 0 | id) + (1 | site)", st)
    fits <- lapply(c("x", "x2", "x3"), function(v)
      suppressWarnings(glmm(as.formula(paste0("y ~ ", v, re)), d, REML = TRUE)))
    # REML log-likelihood of x * s: log|X'V^-1X| moves by 2 log s.
    ref <- slope_summary(fits[[1]], "x")
    expect_summary(slope_summary(fits[[2]], "x2", 1e-6, log(1e-6)), ref, tolerance = 1e-6)
    expect_summary(slope_summary(fits[[3]], "x3"), ref, tolerance = 1e-6)
    for (f in fits) expect_false(any(grepl("converge", f$optinfo$warnings)))
  }
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + ar1(time + 0 | id) + (1 | site), d, REML = TRUE))
  fx2 <- glmm(y ~ x2 + ar1(time + 0 | id) + (1 | site), d, REML = TRUE)
  # (glmmTMB's REML standard errors integrate beta with the covariance
  # parameters' uncertainty; the ML ones are compared below.)
  expect_equal(unname(fixef(fx2)["x2"]) * 1e-6, unname(glmmTMB::fixef(tmb)$cond["x"]), tolerance = 1e-5)
})

test_that("structured-covariance ML with (1 | site): standard errors do not move with x + 1e4", {
  d <- ar1_site_data()
  a <- suppressWarnings(glmm(y ~ x + cs(time + 0 | id) + (1 | site), d))
  b <- suppressWarnings(glmm(y ~ x3 + cs(time + 0 | id) + (1 | site), d))
  expect_summary(slope_summary(b, "x3"), slope_summary(a, "x"), tolerance = 1e-6)
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + ar1(time + 0 | id) + (1 | site), d))
  f2 <- glmm(y ~ x2 + ar1(time + 0 | id) + (1 | site), d)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(tmb)), tolerance = 1e-7)
  expect_equal(unname(sqrt(vcov(f2)["x2", "x2"])) * 1e-6,
               unname(sqrt(vcov(tmb)$cond["x", "x"])), tolerance = 1e-4)
})

test_that("structured-covariance profiled fits of y * 1e6 do not warn of doubtful convergence", {
  # The remaining Newton step of (1 | site)'s entry was measured in the
  # user's units (an entry of 1e6): a step of 15 there read as not
  # converged, though the log-likelihood equals the fit of y to 1e-9.
  d <- ar1_site_data()
  for (reml in c(FALSE, TRUE)) {
    f6 <- withCallingHandlers(glmm(y6 ~ x + ar1(time + 0 | id) + (1 | site), d, REML = reml),
                              warning = function(w) {
                                expect_false(grepl("converge", conditionMessage(w)))
                                invokeRestart("muffleWarning")
                              })
    f1 <- glmm(y ~ x + ar1(time + 0 | id) + (1 | site), d, REML = reml)
    df <- nrow(d) - if (reml) 2 else 0
    expect_equal(as.numeric(logLik(f6)) + df * log(1e6), as.numeric(logLik(f1)), tolerance = 1e-9)
    expect_equal(unname(fixef(f6)) / 1e6, unname(fixef(f1)), tolerance = 1e-6)
  }
})
