# marginaleffects on glmm and gee fits: the conditional predictions,
# comparisons and slopes against the same calls on glmmTMB/geeglm fits, and
# the population-averaged type ("pa") against standardize() and
# marginal_coefs().

skip_if_not_installed("marginaleffects")
skip_if_not_installed("glmmTMB")

me_df <- function(x) as.data.frame(x)
test_that("predictions, avg_comparisons and avg_slopes equal glmmTMB's (binomial)", {
  m <- eco_binomial()
  p <- me_df(suppressWarnings(marginaleffects::avg_predictions(m$ours, variables = "period")))
  pr <- me_df(suppressWarnings(marginaleffects::avg_predictions(m$tmb, variables = "period")))
  # These include each cluster's predicted random effect, which the two
  # optimizers agree on to about 1e-5.
  expect_equal(p$estimate, pr$estimate, tolerance = 1e-4)
  expect_equal(p$std.error, pr$std.error, tolerance = 1e-3)
  cmp <- me_df(suppressWarnings(marginaleffects::avg_comparisons(m$ours, variables = "period")))
  cr <- me_df(suppressWarnings(marginaleffects::avg_comparisons(m$tmb, variables = "period")))
  expect_identical(cmp$contrast, cr$contrast)
  expect_equal(cmp$estimate, cr$estimate, tolerance = 1e-4)
  expect_equal(cmp$std.error, cr$std.error, tolerance = 1e-3)
  # A typical cluster (b = 0) at chosen rows.
  nd <- data.frame(period = factor(1:4), herd = "1")
  a <- me_df(suppressWarnings(marginaleffects::predictions(m$ours, newdata = nd, re.form = NA)))
  b <- me_df(suppressWarnings(marginaleffects::predictions(m$tmb, newdata = nd, re.form = NA)))
  expect_equal(a$estimate, b$estimate, tolerance = 1e-5)
  expect_equal(a$conf.low, b$conf.low, tolerance = 1e-3)
  expect_equal(a$estimate, unname(predict(m$ours, nd, re.form = NA, type = "response")))
})

test_that("avg_slopes of a continuous covariate equal glmmTMB's (gaussian and poisson)", {
  m <- eco_gaussian()
  s <- me_df(suppressWarnings(marginaleffects::avg_slopes(m$ours, variables = "Days")))
  sr <- me_df(suppressWarnings(marginaleffects::avg_slopes(m$tmb, variables = "Days")))
  expect_equal(s$estimate, sr$estimate, tolerance = 1e-5)
  expect_equal(s$std.error, sr$std.error, tolerance = 1e-3)
  expect_equal(s$estimate, unname(fixef(m$ours)["Days"]), tolerance = 1e-6)
  pm <- eco_poisson()
  s <- me_df(suppressWarnings(marginaleffects::avg_slopes(pm$ours, variables = "x")))
  sr <- me_df(suppressWarnings(marginaleffects::avg_slopes(pm$tmb, variables = "x")))
  expect_equal(s$estimate, sr$estimate, tolerance = 1e-4)
  expect_equal(s$std.error, sr$std.error, tolerance = 2e-3)
})

test_that("type = 'pa' gives standardize()'s means and risk differences", {
  m <- eco_binomial()
  d <- m$data
  st <- standardize(m$ours, "period", newdata = d)
  mean_rows <- st[st$quantity == "mean", ]
  diff_rows <- st[st$quantity == "difference", ]
  pa <- me_df(marginaleffects::avg_predictions(m$ours, variables = "period", type = "pa"))
  expect_equal(pa$estimate, mean_rows$estimate, tolerance = 1e-8)
  # marginaleffects differentiates numerically, standardize() analytically.
  expect_equal(pa$std.error, mean_rows$std.error, tolerance = 1e-4)
  rd <- me_df(marginaleffects::avg_comparisons(m$ours, variables = "period", type = "pa"))
  expect_equal(rd$estimate, diff_rows$estimate, tolerance = 1e-8)
  expect_equal(rd$std.error, diff_rows$std.error, tolerance = 1e-4)
  # The variance parameter enters the PA standard errors, and only those.
  V <- marginaleffects::get_vcov(m$ours)
  V[5, ] <- V[, 5] <- 0
  fixed_only <- me_df(marginaleffects::avg_predictions(m$ours, variables = "period",
                                                       type = "pa", vcov = V))
  expect_true(all(abs(fixed_only$std.error / pa$std.error - 1) > 1e-3))
  cond <- function(V) me_df(suppressWarnings(marginaleffects::avg_predictions(
    m$ours, variables = "period", vcov = V)))$std.error
  expect_equal(cond(V), cond(marginaleffects::get_vcov(m$ours)))
})

test_that("type = 'pa' of a probit random intercept is pnorm(eta / sqrt(1 + s^2))", {
  d <- bacteria_data()
  fit <- glmm(y ~ trt + late + (1 | ID), data = d, family = binomial(link = "probit"))
  nd <- data.frame(trt = levels(d$trt), late = TRUE, ID = "new")
  pa <- me_df(marginaleffects::predictions(fit, newdata = nd, type = "pa"))
  s2 <- VarCorr(fit)[[1]][1, 1]
  eta <- predict(fit, nd, re.form = NA)
  expect_equal(pa$estimate, unname(pnorm(eta / sqrt(1 + s2))), tolerance = 1e-12)
  # And the marginal coefficients are the slopes of the PA linear predictor.
  mc <- marginal_coefs(fit)
  expect_equal(unname(qnorm(pa$estimate)), unname(eta / sqrt(1 + s2)), tolerance = 1e-10)
  expect_equal(unname(coef(mc)), unname(fixef(fit) / sqrt(1 + s2)), tolerance = 1e-8)
})

test_that("type = 'pa' works for several random-effect terms (sparse engine)", {
  m <- eco_binomial()
  st <- standardize(m$obs_level, "period", newdata = m$data, se = "none")
  pa <- me_df(marginaleffects::avg_predictions(m$obs_level, variables = "period", type = "pa"))
  expect_equal(pa$estimate, st$estimate[st$quantity == "mean"], tolerance = 1e-8)
  expect_true(all(pa$std.error > 0))
})

test_that("gee: predictions and comparisons equal geeglm's; vcov chooses the estimator", {
  skip_if_not_installed("geepack")
  skip_if_not_installed("MASS")
  m <- eco_gee()
  a <- me_df(marginaleffects::avg_comparisons(m$ours, variables = "trt"))
  b <- me_df(marginaleffects::avg_comparisons(m$peer, variables = "trt"))
  expect_equal(a$estimate, b$estimate, tolerance = 1e-6)
  expect_equal(a$std.error, b$std.error, tolerance = 1e-4)
  # A slope's SE differentiates a finite-difference slope: one step for both,
  # and central differences in the coefficients. With marginaleffects'
  # default forward differences (a step near 1e-8 over a slope's step of
  # 1e-4) the SEs carry rounding noise of 1e-5 relative, from the last digits
  # of the predictions, and two fits that agree to 1e-9 differed by 1.5e-4.
  nd <- list("fdcenter", eps = 1e-5)
  s <- me_df(marginaleffects::avg_slopes(m$ours, variables = "lbase", eps = 1e-4, numderiv = nd))
  sr <- me_df(marginaleffects::avg_slopes(m$peer, variables = "lbase", eps = 1e-4, numderiv = nd))
  expect_equal(s$estimate, sr$estimate, tolerance = 1e-6)
  expect_equal(s$std.error, sr$std.error, tolerance = 1e-6)
  md <- me_df(marginaleffects::avg_comparisons(m$ours, variables = "trt", vcov = "md"))
  expect_equal(md$estimate, a$estimate)
  expect_false(isTRUE(all.equal(md$std.error, a$std.error)))
  expect_error(marginaleffects::predictions(m$ours, type = "pa"), "\"response\" or \"link\"")
})

test_that("a wrong type or vcov is refused with a clear message", {
  m <- eco_binomial()
  expect_error(marginaleffects::predictions(m$ours, type = "conditional"), "\"pa\"")
  expect_error(marginaleffects::predictions(m$ours, vcov = diag(2)), "5 x 5")
})

# Cumulative link fits: the category probabilities, with standard errors
# from the thresholds and coefficients (before, marginaleffects perturbed
# coef() through a set_coef() that did not know the thresholds).
test_that("marginaleffects on cumulative link fits gives category probabilities with delta-method SEs", {
  skip_if_not_installed("marginaleffects")
  skip_if_not_installed("ordinal")
  for (nm in c("ordinal", "ordinal_gee")) {
    fit <- kinds_fits()[[nm]]
    ap <- marginaleffects::avg_predictions(fit)
    P <- predict(fit, type = "prob")
    expect_equal(ap$estimate, unname(colMeans(P)), tolerance = 1e-8, label = nm)
    expect_equal(as.character(ap$group), colnames(P) %||% fit$y_levels)
    expect_true(all(ap$std.error > 0))
    # the delta method by hand for the first category's mean probability
    # (a glmm's predictions are its clusters', at their modes b, taken as
    # known, as predict()'s default re.form = NULL)
    ordinal_glmm <- inherits(fit, "glmmgee_glmm")
    b <- if (ordinal_glmm) unname(predict(fit, type = "linear") -
                                  predict(fit, type = "linear", re.form = NA)) else 0
    th <- c(fit$thresholds, fit$coefficients)
    f <- function(par) {
      eta <- drop(fit$X %*% par[-seq_along(fit$thresholds)]) + b
      mean(fit$family$linkinv(par[1] - eta))
    }
    g <- numDeriv::grad(f, th)
    se <- sqrt(drop(t(g) %*% vcov(fit)[names(th), names(th)] %*% g))
    expect_equal(ap$std.error[1], se, tolerance = 1e-3, label = nm)
    lin <- marginaleffects::predictions(fit, type = "linear")
    expect_equal(lin$estimate, unname(drop(fit$X %*% fit$coefficients)) + b, tolerance = 1e-8)
    if (ordinal_glmm) {
      # re.form reaches predict(): a typical cluster (b = 0)
      lin0 <- marginaleffects::predictions(fit, type = "linear", re.form = NA)
      expect_equal(lin0$estimate, unname(drop(fit$X %*% fit$coefficients)), tolerance = 1e-8)
      ap0 <- marginaleffects::avg_predictions(fit, re.form = NA)
      expect_equal(ap0$estimate, unname(colMeans(predict(fit, type = "prob", re.form = NA))),
                   tolerance = 1e-8)
      expect_false(isTRUE(all.equal(ap0$estimate, ap$estimate)))
    }
  }
})
