# Diagnostics that say what they measure: the largest gradient on the
# parameters the optimizer searched (a far-off cs() term's gradient in the
# user's units was large at a converged fit), the residual standard
# deviation at its zero limit reported as the boundary it is (REML said
# "doubtful convergence").

# trust30_data() of test-trust30.R: Poisson and binomial responses on 40
# groups of 10 with a random intercept and slope in x (centred), x_far =
# x + 1e3 and x_small = x * 1e-3 + 50; and a second factor b.
trust35_data <- function() {
  set.seed(301)
  M <- 40
  n <- 10
  a <- factor(rep(seq_len(M), each = n))
  x <- runif(M * n, 0, 4)
  x <- x - mean(x)
  b0 <- rnorm(M, 0, 0.6)
  b1 <- rnorm(M, 0, 0.4)
  eta <- 0.5 + 0.3 * x + b0[a] + b1[a] * x
  d <- data.frame(a = a, x = x, y = rpois(M * n, exp(eta)),
                  yb = rbinom(M * n, 1, plogis(eta - 0.5)))
  d$x_far <- d$x + 1e3
  d$x_small <- d$x * 1e-3 + 50
  d$b <- factor(rep(1:10, length.out = nrow(d)))
  d
}

test_that("a far-off cs() term reports the gradient the optimizer searched, and the user's beside it", {
  d <- trust35_data()
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
  d <- trust35_data()
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
  d <- trust35_data()
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
