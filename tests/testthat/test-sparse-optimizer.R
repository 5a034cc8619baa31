# The sparse engine's optimizer (optimize-sparse.R) and its threaded loops
# (laplace-kernels.cpp): few evaluations, the Laplace optimum glmmTMB finds
# (same approximation) or a higher one, results independent of the number
# of threads.

search_evaluations <- function(fit) {
  st <- fit$optinfo$stages[c("start", "newton", "nlminb")]
  sum(vapply(st, function(s) as.integer(s$evaluations %||% 0L), 1L))
}

verbagg_fit <- function(threads = 1L) {
  data(VerbAgg, package = "lme4", envir = environment())
  glmm(r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item), VerbAgg,
       family = binomial, control = glmm_control(nthreads = threads))
}

test_that("VerbAgg's crossed model takes at most 30 evaluations and reaches glmmTMB's optimum", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  f <- verbagg_fit()
  # Before: nlminb, 94 evaluations in the search.
  expect_lte(search_evaluations(f), 30L)
  expect_identical(f$optinfo$optimizer, "Newton/BFGS")
  expect_identical(f$optinfo$convergence, 0L)
  data(VerbAgg, package = "lme4", envir = environment())
  g <- glmmTMB::glmmTMB(r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item),
                        VerbAgg, family = binomial)
  expect_gt(as.numeric(logLik(f)) - as.numeric(logLik(g)), -1e-6)
  expect_equal(unname(f$coefficients), unname(glmmTMB::fixef(g)$cond), tolerance = 1e-4)
})

test_that("fits with one and two threads are identical", {
  skip_if_not_installed("lme4")
  f1 <- verbagg_fit(1L)
  f2 <- verbagg_fit(2L)
  # n = 7,584: two chunks of observations, so a second thread has work.
  expect_identical(f1$theta, f2$theta)
  expect_identical(f1$loglik, f2$loglik)
  expect_identical(f1$vcov, f2$vcov)
  expect_identical(f1$b, f2$b)
  # A family with a dispersion parameter (its gradient has its own loop).
  set.seed(11)
  d <- expand.grid(s = factor(1:250), it = factor(1:20))
  d$x <- rnorm(nrow(d))
  d$y <- rnbinom(nrow(d), mu = exp(0.3 + 0.4 * d$x + rnorm(250, sd = 0.5)[d$s] +
                                     rnorm(20, sd = 0.3)[d$it]), size = 2)
  g1 <- glmm(y ~ x + (1 | s) + (1 | it), d, family = nbinom2(),
             control = glmm_control(nthreads = 1L))
  g2 <- glmm(y ~ x + (1 | s) + (1 | it), d, family = nbinom2(),
             control = glmm_control(nthreads = 2L))
  expect_identical(g1$theta, g2$theta)
  expect_identical(g1$loglik, g2$loglik)
  expect_identical(g1$vcov, g2$vcov)
})

test_that("crossed and nested fits reach glmmTMB's log-likelihood or higher", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  data(grouseticks, package = "lme4", envir = environment())
  data(cbpp, package = "lme4", envir = environment())
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  set.seed(1)
  d <- expand.grid(s = factor(1:40), it = factor(1:6))
  d$x <- rnorm(nrow(d))
  d$y <- rpois(nrow(d), exp(0.2 + 0.3 * d$x + rnorm(40, sd = 0.6)[d$s] +
                              rnorm(6, sd = 0.4)[d$it]))
  dn <- sim_hospital_wards()
  cases <- list(
    list(TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION), grouseticks, poisson),
    list(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs), cbpp, binomial),
    list(y ~ x + (1 | s) + (1 | it), d, poisson),
    list(y ~ x + (1 | hospital/ward), dn, binomial))
  for (cs in cases) {
    f <- glmm(cs[[1]], cs[[2]], family = cs[[3]])
    g <- glmmTMB::glmmTMB(cs[[1]], cs[[2]], family = cs[[3]])
    expect_gt(as.numeric(logLik(f)) - as.numeric(logLik(g)), -1e-6)
    expect_identical(f$optinfo$convergence, 0L)
    expect_lte(search_evaluations(f), 30L)
  }
})

test_that("the optimum does not move with the covariates' origin and units, and a zero variance is verified", {
  dn <- sim_hospital_wards()
  f1 <- glmm(y ~ x + (1 | hospital/ward), dn, family = binomial)
  dn$x2 <- 100 * dn$x + 40
  f2 <- glmm(y ~ x2 + (1 | hospital/ward), dn, family = binomial)
  expect_equal(f1$loglik, f2$loglik, tolerance = 1e-9)
  expect_equal(unname(f1$coefficients[2]), 100 * unname(f2$coefficients[2]), tolerance = 1e-6)
  # No item effect at all: the item variance goes to zero, and restarts
  # from the interior confirm it.
  set.seed(5)
  d <- expand.grid(s = factor(1:150), it = factor(1:8))
  d$x <- rnorm(nrow(d))
  d$y <- rbinom(nrow(d), 1, plogis(0.5 * d$x + rnorm(150)[d$s]))
  f <- suppressWarnings(glmm(y ~ x + (1 | s) + (1 | it), d, family = binomial))
  expect_true(f$singular)
  expect_equal(unname(f$theta[[4]]), 0, tolerance = 1e-6)
  expect_true(f$optinfo$boundary_check$performed)
  expect_true(f$optinfo$boundary_check$verified)
  expect_gt(f$optinfo$boundary_check$restarts, 0L)
})
