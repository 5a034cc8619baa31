# cs() terms that take up the residual variance (one observation per group
# and column): the residual variance's non-identification detected, flagged
# and recorded, and the optimum against glmmTMB.

test_that("a three-column cs() that absorbs the residual variance: the residual SD at its zero boundary, glmmTMB's optimum", {
  # One observation per id and time: the maximum is at sigma -> 0, where
  # the likelihood has a finite limit. The search ran on to log(sigma) =
  # -356, where the engine's terms overflow, and reported a log-likelihood
  # of +3.7e295 without standard errors.
  d <- cs_data(3)
  msg <- "residual standard deviation is estimated at 0"
  fits <- lapply(c("time", "time2"), function(tv) {
    w <- character()
    f <- withCallingHandlers(glmm(as.formula(sprintf("y ~ x + cs(0 + %s | id)", tv)), d),
                             warning = function(e) {
                               w <<- c(w, conditionMessage(e))
                               invokeRestart("muffleWarning")
                             })
    expect_length(w, 1L)
    expect_match(w, msg)
    expect_match(w, "verified")
    expect_true(f$optinfo$dispersion_limit)
    expect_lt(sigma(f), 1e-3)
    expect_true(all(is.finite(sqrt(diag(vcov(f))))))
    expect_true(all(is.finite(f$structures[[1]]$se)))
    f
  })
  # The same optimum in both orders of the levels.
  expect_equal(as.numeric(logLik(fits[[2]])), as.numeric(logLik(fits[[1]])), tolerance = 1e-9)
  expect_equal(sqrt(diag(vcov(fits[[2]]))), sqrt(diag(vcov(fits[[1]]))), tolerance = 1e-4)
  expect_equal(unname(fits[[2]]$structures[[1]]$sd[3:1]), unname(fits[[1]]$structures[[1]]$sd),
               tolerance = 1e-4)
  skip_if_not_installed("glmmTMB")
  tm <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id), d)
  expect_lt(sigma(tm), 1e-3)
  expect_equal(as.numeric(logLik(fits[[1]])), as.numeric(logLik(tm)), tolerance = 1e-8)
  expect_equal(unname(fixef(fits[[1]])), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(fits[[1]])))), unname(sqrt(diag(vcov(tm)$cond))),
               tolerance = 1e-4)
  expect_equal(unname(fits[[1]]$structures[[1]]$sd),
               unname(attr(glmmTMB::VarCorr(tm)$cond$id, "stddev")), tolerance = 1e-4)
  # The log-SD standard errors (glmmTMB's theta[1:3], the same scale).
  se_tm <- sqrt(diag(vcov(tm, full = TRUE)))
  se_th <- unname(se_tm[grep("^theta", names(se_tm))][1:3])
  expect_equal(unname(fits[[1]]$structures[[1]]$se[1:3]), se_th, tolerance = 1e-3)
})

test_that("a cs() term with one observation per group and column: the residual variance's non-identification is detected alike in every coding", {
  # With two columns cs() is unstructured, and its covariance plus c I is
  # another: only the sum with the residual variance is identified. The fit
  # stopped somewhere on that ridge, with log-sd standard errors of 20 to
  # 100 that changed with the order of the factor's levels, silently.
  d <- cs_data(2)
  msg <- "residual variance is not identifiable.*cs\\(0 \\+ time2? \\| id\\)"
  fits <- lapply(c("time", "time2"), function(tv) {
    f <- NULL
    expect_warning(f <- glmm(as.formula(sprintf("y ~ x + cs(0 + %s | id)", tv)), d), msg)
    f
  })
  for (f in fits) {
    expect_true(f$optinfo$residual_unidentified)
    expect_true(all(is.na(diag(f$cov_theta)[-(1:2)])))
    expect_true(all(is.na(f$structures[[1]]$se)))
    expect_true(any(grepl("not identifiable", f$optinfo$warnings)))
  }
  expect_equal(as.numeric(logLik(fits[[2]])), as.numeric(logLik(fits[[1]])), tolerance = 1e-8)
  expect_equal(sqrt(diag(vcov(fits[[2]]))), sqrt(diag(vcov(fits[[1]]))), tolerance = 1e-6)
  # Beside another term (the sparse engine's route) as well.
  d$site <- factor(as.integer(d$id) %% 8)
  fs <- NULL
  expect_warning(fs <- glmm(y ~ x + cs(0 + time | id) + (1 | site), d), msg)
  expect_true(fs$optinfo$residual_unidentified)
  expect_true(all(is.na(diag(fs$cov_theta)[-(1:2)])))
  # Three or more columns with heterogeneous variances are identified: no
  # warning, standard errors as glmmTMB's.
  d4 <- cs_data(4)
  f4 <- expect_silent(glmm(y ~ x + cs(0 + time | id), d4))
  expect_null(f4$optinfo$residual_unidentified)
  skip_if_not_installed("glmmTMB")
  tm <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | id), d))
  # glmmTMB: the same fixed effects and standard errors, NaN for the rest.
  expect_equal(unname(sqrt(diag(vcov(fits[[1]])))), unname(sqrt(diag(vcov(tm)$cond))), tolerance = 1e-5)
  expect_true(all(is.nan(suppressWarnings(sqrt(diag(vcov(tm, full = TRUE))))[-(1:2)])))
  tm4 <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id), d4)
  expect_equal(as.numeric(logLik(f4)), as.numeric(logLik(tm4)), tolerance = 1e-7)
  expect_equal(unname(sqrt(diag(vcov(f4)))), unname(sqrt(diag(vcov(tm4)$cond))), tolerance = 1e-4)
})

one_per_time_data <- function() {
  set.seed(4)
  d <- expand.grid(time = factor(1:4), id = factor(1:50))
  d$site <- factor(sample(1:6, 50, TRUE))[d$id]
  d$x <- rnorm(nrow(d))
  b <- matrix(rnorm(200), 50) %*% chol(0.5 + 0.5 * diag(4))
  d$y <- 1 + 0.5 * d$x + b[cbind(as.integer(d$id), as.integer(d$time))] +
    rnorm(nrow(d), sd = 0.7)
  d
}

test_that("(0 + time | id) with one observation per id and time: residual not identified, flagged and recorded", {
  # Fitted with no warning before (lme4 refuses the model: observations
  # <= random effects).
  d <- one_per_time_data()
  for (fm in list(y ~ x + (0 + time | id), y ~ x + (0 + time | id) + (1 | site))) {
    w <- character()
    f <- withCallingHandlers(glmm(fm, d), warning = function(e) {
      w <<- c(w, conditionMessage(e))
      invokeRestart("muffleWarning")
    })
    expect_true(any(grepl("the residual variance is not identifiable", w, fixed = TRUE)))
    expect_true(any(grepl("(0 + time | id)", w, fixed = TRUE)))
    expect_true(isTRUE(f$optinfo$residual_unidentified))
    expect_true(any(grepl("residual variance is not identifiable", f$optinfo$warnings)))
    p <- length(fixef(f))
    expect_true(all(is.na(f$cov_theta[-seq_len(p), ])))
    expect_true(all(is.finite(sqrt(diag(vcov(f))))))
    skip_if_not_installed("glmmTMB")
    tm <- suppressWarnings(glmmTMB::glmmTMB(fm, d))
    # The identified part: the likelihood (glmmTMB's logLik() is NA with
    # its non-positive-definite Hessian: its objective at the optimum), the
    # fixed effects, and each time's variance plus the residual's.
    expect_equal(as.numeric(logLik(f)), -tm$fit$objective, tolerance = 1e-6)
    expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-4)
    D <- VarCorr(f)$id
    Dt <- glmmTMB::VarCorr(tm)$cond$id
    expect_equal(unname(diag(as.matrix(D))) + sigma(f)^2, unname(diag(Dt)) + sigma(tm)^2,
                 tolerance = 1e-4)
  }
  # The same term with an intercept, (1 + time | id): its columns an
  # invertible recoding of the indicators, the same model (it was not
  # flagged, and had no standard errors).
  w <- character()
  f0 <- suppressWarnings(glmm(y ~ x + (0 + time | id), d))
  f1 <- withCallingHandlers(glmm(y ~ x + (1 + time | id), d), warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  expect_true(any(grepl("(1 + time | id)", w, fixed = TRUE)))
  expect_false(any(grepl("Hessian", w)))
  expect_true(isTRUE(f1$optinfo$residual_unidentified))
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f0)), tolerance = 1e-8)
  expect_equal(unname(vcov(f1)), unname(vcov(f0)), tolerance = 1e-4)
  # Not flagged: two observations in one cell, or a random intercept.
  d2 <- rbind(d, transform(d[1, ], y = d$y[1] + 0.3))
  expect_null(suppressWarnings(glmm(y ~ x + (0 + time | id), d2))$optinfo$residual_unidentified)
  expect_null(glmm(y ~ x + (1 | id), d)$optinfo$residual_unidentified)
})

test_that("a residual variance per dispersion group beside a term of one observation per level: flagged, the fixed effects' covariance the identified model's", {
  # Each row's variance is tau^2 + sigma_arm^2: only the sums are
  # identified. Fitted with no warning before (one grouping factor), or
  # with NA standard errors for the fixed effects too (several).
  set.seed(3)
  d <- data.frame(g = factor(rep(1:30, each = 4)), arm = factor(rep(c("a", "b"), 60)),
                  x = rnorm(120))
  d$y <- 1 + 0.5 * d$x + rnorm(30, sd = 0.7)[d$g] + rnorm(120, sd = ifelse(d$arm == "b", 2, 1))
  d$u <- factor(seq_len(120))
  fit <- function(fm, data = d, flagged = TRUE, dispformula) {
    w <- character()
    f <- withCallingHandlers(glmm(fm, data = data, dispformula = dispformula), warning = function(e) {
      w <<- c(w, conditionMessage(e))
      invokeRestart("muffleWarning")
    })
    expect_identical(any(grepl("residual variance is not identifiable: every level of 'u'", w,
                               fixed = TRUE)), flagged)
    expect_identical(isTRUE(f$optinfo$residual_unidentified), flagged)
    f
  }
  f1 <- fit(y ~ x + (1 | u), dispformula = ~ arm)
  f2 <- fit(y ~ x + (1 | g) + (1 | u), dispformula = ~ arm)
  for (f in list(f1, f2)) {
    expect_false(any(grepl("Hessian", f$optinfo$warnings)))
    expect_true(all(is.na(f$cov_theta[-(1:2), ])))
  }
  # The identified model, without (1 | u): the same log-likelihood and the
  # same fixed effects' covariance (the joint inverse, as every ML fit).
  f2b <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f2b)), tolerance = 1e-8)
  expect_equal(unname(fixef(f2)), unname(fixef(f2b)), tolerance = 1e-6)
  expect_equal(unname(vcov(f2)), unname(vcov(f2b)), tolerance = 1e-4)
  skip_if_not_installed("nlme")
  ref <- nlme::lme(y ~ x, random = ~ 1 | g, data = d, method = "ML",
                   weights = nlme::varIdent(form = ~ 1 | arm))
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(ref)), tolerance = 1e-7)
  # Not flagged where a continuous covariate, or prior weights, move the
  # residual variance within the groups: tau^2 + exp(2 (a + b z)) and
  # tau^2 + sigma_arm^2 / w are identified.
  d$z <- rnorm(120)
  fit(y ~ x + (1 | u), dispformula = ~ z, flagged = FALSE)
  d$w <- exp(stats::runif(120, -2, 2))
  fw <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | u), data = d, dispformula = ~ arm, weights = w))
  expect_null(fw$optinfo$residual_unidentified)
  expect_false(any(grepl("not identifiable", fw$optinfo$warnings)))
  # Dispersion groups of any number (a site of 3 rows each, 201 sites).
  ds <- data.frame(site = factor(rep(1:201, each = 3)), x = rnorm(603))
  ds$y <- ds$x + rnorm(603, sd = exp(rnorm(201, 0, 0.3)))[ds$site]
  ds$u <- factor(seq_len(603))
  fit(y ~ x + (1 | u), data = ds, dispformula = ~ site)
  skip_if_not_installed("glmmTMB")
  tm <- glmmTMB::glmmTMB(y ~ x, data = d, dispformula = ~ arm)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(tm)), tolerance = 1e-7)
  expect_equal(unname(vcov(f1)), unname(vcov(tm)$cond), tolerance = 1e-5)
})
