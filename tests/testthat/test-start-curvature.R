# The start of the one-factor search where the curvature there is not
# negative definite (R/start-curvature.R): the Hessian's eigenvalues
# mirrored (negative_definite(), tested in test-search.R), Lambda halved
# while the log-likelihood rises, and the search then finished by
# Newton/BFGS steps instead of nlminb. The optimum must be
# the one a search started at the optimum finds; the number of engine
# evaluations (not a time) is what the change is for.

sim_start <- function(kind, M = 150, seed = 3) {
  set.seed(seed)
  g <- rep(seq_len(M), each = 8L)
  x <- pmax(pmin(rnorm(8L * M), 2.5), -2.5)
  d <- data.frame(g = factor(g), x = x)
  if (kind == "Gamma_inverse") {
    d$y <- rgamma(nrow(d), shape = 3, rate = 3 * (1 + 0.2 * x + rnorm(M, sd = 0.1)[g]))
  } else {
    d$n <- sample(2:12, nrow(d), replace = TRUE)
    d$s <- rbinom(nrow(d), d$n, pcauchy(-0.3 + 0.7 * x + rnorm(M, sd = 0.5)[g]))
  }
  d
}

test_that("a start far from the optimum (Gamma inverse, cauchit) is settled, not handed to nlminb, and the optimum is the same", {
  cases <- list(
    list(d = sim_start("Gamma_inverse"), f = y ~ x + (1 | g), fam = Gamma("inverse"),
         disp = "shape"),
    list(d = sim_start("cauchit"), f = cbind(s, n - s) ~ x + (1 | g),
         fam = binomial("cauchit"), disp = NULL))
  for (cs in cases) {
    fit <- glmm(cs$f, data = cs$d, family = cs$fam, nAGQ = 1)
    P <- length(fit$theta)
    st <- fit$optinfo$stages
    expect_null(st$nlminb)
    # More than the P + 1 evaluations of the curvature: Lambda was halved.
    expect_gt(st$start$evaluations, P + 1L)
    expect_lte(fit$optinfo$evaluations, 40L)
    expect_length(fit$optinfo$warnings, 0L)
    # Started at its own optimum, the search stays there: same maximum.
    start <- list(beta = unname(fit$theta[1:2]), lambda = unname(fit$theta[[3]]))
    if (!is.null(cs$disp)) start[[cs$disp]] <- exp(fit$theta[[4]])
    again <- glmm(cs$f, data = cs$d, family = cs$fam, nAGQ = 1, start = start)
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(again)), tolerance = 1e-9)
    expect_equal(unname(fit$theta), unname(again$theta), tolerance = 1e-5)
  }
})

test_that("the Gamma inverse fit is glmmTMB's optimum or higher", {
  skip_if_not_installed("glmmTMB")
  d <- sim_start("Gamma_inverse")
  fit <- glmm(y ~ x + (1 | g), data = d, family = Gamma("inverse"), nAGQ = 1)
  st <- list(beta = coef(glm(y ~ x, data = d, family = Gamma("inverse"))))
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = Gamma("inverse"),
                                           start = st))
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
})

test_that("structured covariances: Newton/BFGS search, no nlminb, standard errors as glmmTMB's", {
  set.seed(7)
  M <- 120
  R <- 0.6^abs(outer(1:4, 1:4, "-"))
  b <- matrix(rnorm(M * 4), M) %*% chol(R) * 0.8
  d <- data.frame(times = factor(rep(1:4, M)), group = factor(rep(seq_len(M), each = 4)),
                  x = rnorm(M * 4))
  d$y <- rpois(M * 4, exp(0.3 + 0.2 * d$x + as.vector(t(b))))
  fit <- glmm(y ~ x + ar1(0 + times | group), d, family = poisson, nAGQ = 1)
  expect_null(fit$optinfo$stages$nlminb)
  expect_identical(fit$optinfo$convergence, 0L)
  # The standard errors come from the search's last Hessian: those of the
  # fixed effects must be glmmTMB's (its Hessian is by automatic
  # differentiation at its own optimum).
  V <- fit$cov_structure
  expect_true(all(is.finite(diag(V))) && all(diag(V) > 0))
  skip_if_not_installed("glmmTMB")
  tmb <- glmmTMB::glmmTMB(y ~ x + ar1(0 + times | group), d, family = poisson)
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(sqrt(diag(vcov(fit)))), unname(sqrt(diag(vcov(tmb)$cond))),
               tolerance = 1e-3)
})

test_that("a start with no finite log-likelihood (gaussian log) is left to nlminb, as before", {
  # The GLM start puts some means <= 0 out of reach of the log link's
  # likelihood here; settling and mirroring need a finite value to compare.
  set.seed(20261152)
  M <- 30
  g <- rep(seq_len(M), each = 10L)
  x <- pmax(pmin(rnorm(10L * M), 2.5), -2.5)
  d <- data.frame(x = x, g = factor(g))
  d$y <- rnorm(10L * M, exp(1 + 0.3 * x + rnorm(M, sd = 0.5)[g]), 0.5)
  fit <- glmm(y ~ x + (1 | g), data = d, family = gaussian("log"), nAGQ = 1)
  expect_true(is.finite(fit$loglik))
  start <- list(beta = unname(fit$theta[1:2]), lambda = unname(fit$theta[[3]]),
                sigma = exp(fit$theta[[4]]))
  again <- glmm(y ~ x + (1 | g), data = d, family = gaussian("log"), nAGQ = 1, start = start)
  expect_equal(fit$loglik, again$loglik, tolerance = 1e-9)
})
