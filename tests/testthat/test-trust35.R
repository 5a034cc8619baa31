# Diagnostics that say what they measure: the largest gradient on the
# parameters the optimizer searched (a far-off cs() term's gradient in the
# user's units was large at a converged fit), the residual standard
# deviation at its zero limit reported as the boundary it is (REML said
# "doubtful convergence"), and odds ratios per a step of the covariate
# other than one unit (odds_ratios(delta = )).

test_that("a far-off cs() term reports the gradient the optimizer searched, and the user's beside it", {
  d <- trust30_data()
  for (k in c(1, 3)) {
    f0 <- glmm(y ~ x + cs(x | a), d, family = poisson, nAGQ = k)
    for (v in c("x_far", "x_small")) {
      f <- expect_no_warning(glmm(as.formula(sprintf("y ~ %s + cs(%s | a)", v, v)), d,
                                  family = poisson, nAGQ = k))
      o <- f$optinfo
      # Before: max_grad 0.151 (x_far) and 2.18 (x_small) at nAGQ = 3, 0.021
      # and 0.215 at nAGQ = 1, at the optimum of the fit on x.
      expect_identical(o$grad_basis, "standardized")
      expect_lt(o$max_grad, 1e-3)
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-8)
      # The user's gradient (what max_grad was) beside it.
      expect_gt(o$max_grad_user, o$max_grad)
      expect_lt(o$scaled_grad, glmm_control()$grad_tol)
      out <- utils::capture.output(summary(f))
      expect_true(any(grepl("max|gradient|", out, fixed = TRUE) &
                        grepl("(standardized parameters)", out, fixed = TRUE)))
    }
  }
})

test_that("the other centred routes report the searched gradient: (x | a), several terms", {
  d <- trust30_data()
  fits <- list(
    glmm(y ~ x_small + (x_small | a), d, family = poisson, nAGQ = 3),
    glmm(yb ~ x_far + (x_far | a), d, family = binomial, nAGQ = 5),
    suppressWarnings(glmm(y ~ x_far + (x_far | a) + (1 | b), d, family = poisson)),
    suppressWarnings(glmm(y ~ x_far + cs(x_far | a) + (1 | b), d, family = poisson)))
  ref <- list(
    glmm(y ~ x + (x | a), d, family = poisson, nAGQ = 3),
    glmm(yb ~ x + (x | a), d, family = binomial, nAGQ = 5),
    suppressWarnings(glmm(y ~ x + (x | a) + (1 | b), d, family = poisson)),
    suppressWarnings(glmm(y ~ x + cs(x | a) + (1 | b), d, family = poisson)))
  for (i in seq_along(fits)) {
    o <- fits[[i]]$optinfo
    expect_identical(o$grad_basis, "standardized", info = i)
    # Before: the cs() term beside (1 | b) reported 0.092.
    expect_lt(o$max_grad, 1e-3)
    expect_true(is.finite(o$max_grad_user), info = i)
    expect_equal(as.numeric(logLik(fits[[i]])), as.numeric(logLik(ref[[i]])), tolerance = 1e-8,
                 info = i)
  }
})

test_that("a far-off cs() fit that has not converged still warns", {
  d <- trust30_data()
  w <- character()
  f <- withCallingHandlers(
    glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = 3,
         control = glmm_control(rel.tol = 1e-2)),
    warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  good <- glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = 3)
  # Stopped short (1.5e-3 below), and says so, with the searched gradient.
  expect_lt(as.numeric(logLik(f)), as.numeric(logLik(good)) - 1e-4)
  expect_true(any(grepl("^doubtful convergence", w)))
  expect_identical(f$optinfo$grad_basis, "standardized")
  expect_gt(f$optinfo$max_grad, 1e-3)
  expect_gt(f$optinfo$scaled_grad, glmm_control()$grad_tol)
})

# cs_data(3) of helper-covstruct-cs.R with a site factor: sigma goes to
# its zero limit (cs_site_fit()).
trust35_sigma_data <- function() {
  d <- cs_data(3)
  d$site <- factor(rep(1:8, length.out = nrow(d)))
  d
}

collect_warnings <- function(expr) {
  w <- character()
  val <- withCallingHandlers(expr, warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}

test_that("REML with sigma at its zero limit: a boundary, reported as one, not doubtful convergence", {
  skip_if_not_installed("glmmTMB")
  d <- trust35_sigma_data()
  r <- collect_warnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  f <- r$value
  # Before: "doubtful convergence: scaled gradient 0.36".
  expect_false(any(grepl("doubtful convergence", r$warnings)))
  expect_false(any(grepl("doubtful convergence", f$optinfo$warnings)))
  lead <- "^singular fit: the residual standard deviation is at its zero limit"
  expect_true(any(grepl(lead, r$warnings)))
  expect_true(any(grepl("over-parametrized", r$warnings) &
                    grepl("cs(0 + time | id)", r$warnings, fixed = TRUE)))
  expect_true(isTRUE(f$optinfo$residual_zero))
  expect_true(isTRUE(f$singular))
  expect_lt(f$optinfo$scaled_grad, glmm_control()$grad_tol)
  # glmmTMB's REML fit: the same restricted log-likelihood, sigma near 0.
  tm <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE))
  expect_equal(as.numeric(logLik(f)), -tm$fit$objective, tolerance = 1e-6)
  expect_lt(f$sigma, 1e-3 * stats::sd(d$y))
  expect_lt(glmmTMB::sigma(tm), 1e-3 * stats::sd(d$y))
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-5)
})

test_that("ML with sigma at its zero limit: the same warning and record, glmmTMB's log-likelihood", {
  skip_if_not_installed("glmmTMB")
  cf <- cs_site_fit()
  f <- cf$fit
  w <- cf$warnings
  expect_true(any(grepl("^singular fit: the residual standard deviation is at its zero limit", w)))
  expect_false(any(grepl("doubtful convergence", w)))
  expect_true(isTRUE(f$optinfo$residual_zero))
  tm <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), cf$data)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-6)
})

test_that("a REML fit at sigma's zero limit that has not converged still warns", {
  d <- trust35_sigma_data()
  r <- collect_warnings(glmm(y ~ x + cs(0 + time | id) + (1 | site), d, REML = TRUE,
                             control = glmm_control(iter.max = 1L)))
  expect_true(any(grepl("^the optimizer did not converge|^doubtful convergence", r$warnings)))
  expect_true(any(grepl("^the optimizer did not converge|^doubtful convergence",
                        r$value$optinfo$warnings)))
})

wine35 <- function() {
  skip_if_not_installed("ordinal")
  w <- as.data.frame(ordinal::wine)
  set.seed(31)
  w$x <- as.numeric(w$temp == "warm") + stats::rnorm(nrow(w), 0, 0.3)
  w$x2 <- w$x * 1e-6 - 5
  w
}

# The logit of the data-averaged P(Y > j) of a logit cumulative link
# model, by integrate() over the random intercept, row by row.
marginal_logit_integrate <- function(f, Xm) {
  b <- f$coefficients
  s <- f$sigma_re
  eta <- drop(Xm %*% b)
  avg <- function(th, upper) mean(vapply(eta, function(e) stats::integrate(function(z)
    stats::plogis(if (upper) e + s * z - th else th - e - s * z) * stats::dnorm(z),
    -Inf, Inf, rel.tol = 1e-12)$value, numeric(1)))
  vapply(f$thresholds, function(th) log(avg(th, TRUE)) - log(avg(th, FALSE)), numeric(1))
}

test_that("ordinal marginal odds ratios per a step delta: finite, integrate()'s, the fit on x's", {
  w <- wine35()
  f2 <- glmm(rating ~ x2 + contact + (1 | judge), data = w, family = "cumulative")
  f1 <- glmm(rating ~ x + contact + (1 | judge), data = w, family = "cumulative")
  # Per unit of x2 (a step of ~1e6 on the log-odds scale): Inf, and the
  # warning names the argument.
  expect_warning(m <- odds_ratios(f2, type = "marginal", parm = "x2"), "delta = c\\(x2 = 1e-06\\)")
  expect_true(all(is.infinite(m$estimate)))
  # Default delta = 1: as before.
  expect_identical(suppressWarnings(odds_ratios(f2, type = "marginal", delta = 1)),
                   suppressWarnings(odds_ratios(f2, type = "marginal")))
  md <- expect_no_warning(odds_ratios(f2, type = "marginal", parm = "x2", delta = c(x2 = 1e-6)))
  expect_true(all(is.finite(md$estimate)))
  X1 <- f2$X
  X1[, "x2"] <- X1[, "x2"] + 1e-6
  ref <- marginal_logit_integrate(f2, X1) - marginal_logit_integrate(f2, f2$X)
  expect_equal(log(md$estimate), unname(ref), tolerance = 1e-6)
  # The same model as the fit on x, one unit of x.
  m1 <- odds_ratios(f1, type = "marginal", parm = "x")
  expect_equal(md$estimate, m1$estimate, tolerance = 1e-4)
  expect_equal(md$std.error, m1$std.error, tolerance = 1e-3)
  # A step other than one unit on the fit on x (half a unit), integrate()'s.
  mh <- odds_ratios(f1, type = "marginal", parm = "x", delta = 0.5)
  Xh <- f1$X
  Xh[, "x"] <- Xh[, "x"] + 0.5
  ref_h <- marginal_logit_integrate(f1, Xh) - marginal_logit_integrate(f1, f1$X)
  expect_equal(log(mh$estimate), unname(ref_h), tolerance = 1e-6)
  expect_identical(attr(mh, "delta"), c(x = 0.5))
  # The conditional ratio per step: exp(delta beta).
  cd <- odds_ratios(f2, parm = "x2", delta = c(x2 = 1e-6))
  expect_equal(cd$estimate, exp(1e-6 * unname(f2$coefficients["x2"])))
  expect_equal(cd$std.error, 1e-6 * sqrt(vcov(f2)["x2", "x2"]))
  # A 0/1 column takes no step; a bad step is an error naming the argument.
  expect_error(odds_ratios(f2, type = "marginal", delta = c(contactyes = 2)), "'delta'.*0/1")
  expect_error(odds_ratios(f2, type = "marginal", delta = c(z = 2)), "'delta'")
  expect_error(odds_ratios(f2, delta = 0), "'delta'")
  expect_error(odds_ratios(f2, delta = c(1, 2)), "'delta'")
})

test_that("marginal odds ratios of gee() and marginal_coefs() per a step delta", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  bacteria$wk <- bacteria$week * 1e-6 + 3
  g <- gee(y ~ trt + wk, data = bacteria, id = ID, family = binomial, corstr = "exchangeable")
  g0 <- gee(y ~ trt + week, data = bacteria, id = ID, family = binomial, corstr = "exchangeable")
  # Per unit of wk (a step of -1.2e5 on the log-odds scale): the warning
  # suggests a step whose log odds ratio is about 1.
  expect_warning(odds_ratios(g, parm = "wk"), "delta = c\\(wk = 1e-05\\)")
  o <- expect_no_warning(odds_ratios(g, parm = "wk", delta = c(wk = 1e-6)))
  o0 <- odds_ratios(g0, parm = "week")
  expect_equal(o$estimate, o0$estimate, tolerance = 1e-5)
  expect_equal(o$conf.low, o0$conf.low, tolerance = 1e-5)
  expect_equal(o$p.value, o0$p.value, tolerance = 1e-5)
  # Two weeks: the odds ratio per week squared (a logit-linear model).
  o2 <- odds_ratios(g0, parm = "week", delta = 2)
  expect_equal(o2$estimate, o0$estimate^2)
  fm <- glmm(y ~ trt + wk + (1 | ID), data = bacteria, family = binomial)
  mc <- marginal_coefs(fm)
  om <- expect_no_warning(odds_ratios(mc, parm = "wk", delta = c(wk = 1e-6)))
  expect_equal(log(om$estimate), 1e-6 * unname(mc$coefficients["wk"]))
  data(epil, package = "MASS", envir = environment())
  epil$lb <- epil$lbase * 1e-6
  rr <- rate_ratios(gee(y ~ trt + lb, data = epil, id = subject, family = poisson), parm = "lb",
                    delta = 1e-6)
  rr0 <- rate_ratios(gee(y ~ trt + lbase, data = epil, id = subject, family = poisson), parm = "lbase")
  expect_equal(rr$estimate, rr0$estimate, tolerance = 1e-6)
})
