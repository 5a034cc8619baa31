# Covariance structures on nested grouping factors by multilevel adaptive
# quadrature, (1 | a) + ar1(0 + time | a:b) with nAGQ > 1
# (fit-nested-covstruct.R): the value against brute-force quadrature, the
# structure against the unstructured term it equals, invariance, methods
# and refusals.

# A outer units, B inner units in each, `times` occasions per inner unit
# (a factor), m binomial rows per occasion; the inner units' effects over
# the occasions are AR(1) with standard deviation `sd` and correlation rho.
structure_nested_data <- function(seed, A = 12, B = 3, times = 3, m = 3, s_outer = 0.7,
                                  sd = 0.9, rho = 0.6) {
  set.seed(seed)
  d <- expand.grid(obs = seq_len(m), time = seq_len(times), b = seq_len(B), a = seq_len(A))
  d$x <- rnorm(nrow(d))
  ib <- (d$a - 1) * B + d$b
  D <- sd^2 * rho^abs(outer(seq_len(times), seq_len(times), "-"))
  U <- matrix(rnorm(A * B * times), A * B) %*% chol(D)
  eta <- -0.3 + 0.8 * d$x + s_outer * rnorm(A)[d$a] + U[cbind(ib, d$time)]
  d$y <- rbinom(nrow(d), 1, plogis(eta))
  d$a <- factor(d$a)
  d$b <- factor(d$b)
  d$time <- factor(d$time)
  d
}

test_that("a structured nested fit's log-likelihood is the quadrature of its integral", {
  d <- structure_nested_data(3, A = 10, B = 3, times = 2, m = 4)
  fit <- glmm(y ~ x + (1 | a) + ar1(0 + time | a:b), data = d, family = binomial, nAGQ = 7)
  expect_identical(fit$engine$name, "agq_nested")
  expect_identical(fit$nAGQ, 7L)
  expect_true(fit$optinfo$converged)
  vc <- VarCorr(fit)
  D <- vc[["a:b"]]
  s_outer <- attr(vc[["a"]], "stddev")
  beta <- unname(fixef(fit))
  eta0 <- drop(model.matrix(~ x, d) %*% beta)
  ib <- interaction(d$a, d$b, drop = TRUE)
  dens <- function(i, eta) dbinom(d$y[i], 1, plogis(eta))
  # Non-adaptive Gauss-Hermite with 40 nodes per dimension (a rule that
  # does not depend on the engine's modes, map or Cholesky factor).
  ref <- brute_nested_slope(eta0, as.integer(d$a), as.integer(ib), model.matrix(~ 0 + time, d),
                            unname(s_outer), t(chol(unname(D))), dens, K = 40)
  expect_close(as.numeric(logLik(fit)), ref, 1e-3)
  # The engine on the structure's terms at the estimates: with one node the
  # sparse engine's Laplace approximation, with 15 the integral.
  re <- glmmgee:::sparse_covstruct_terms(fit$formula, fit$model)
  X <- model.matrix(~ x, d)
  n <- nrow(d)
  at_rule <- function(K)
    glmmgee:::nested_structure_engine(X, d$y, rep(1, n), rep(0, n), re, fit$family, K,
                                      list(nthreads = 1L))$eval(unname(fit$theta), FALSE)$loglik
  se <- glmmgee:::cpp_sparse_new(X, re$Z, as.numeric(d$y), rep(1, n), rep(0, n), re$lam_row - 1L,
                                 re$lam_col - 1L, re$lam_k - 1L, re$ntheta, 1L, 1L)
  expect_close(at_rule(1L), glmmgee:::sparse_eval(se, unname(fit$theta), FALSE)$loglik, 1e-8)
  expect_close(at_rule(15L), ref, 1e-5)
  expect_close(at_rule(7L), as.numeric(logLik(fit)), 1e-8)
  # The Laplace fit of the same model is another approximation.
  lap <- quiet_singular(glmm(y ~ x + (1 | a) + ar1(0 + time | a:b), data = d,
                             family = binomial))
  expect_identical(lap$engine$name, "laplace_sparse")
  expect_false(isTRUE(all.equal(as.numeric(logLik(fit)), as.numeric(logLik(lap)),
                                tolerance = 1e-6)))
})

test_that("three structured effects per inner unit: the engine is the adaptive rule written on D", {
  # Poisson counts, toep() over three occasions: each inner unit's integral
  # is three-dimensional. The reference integrates the same adaptive rule
  # on b = Lambda u with D itself (helper-nested.R), and the outer
  # integral by a fine trapezoid rule.
  set.seed(8)
  d <- structure_nested_data(8, A = 12, B = 3, times = 3, m = 2)
  D0 <- 0.5 * matrix(c(1, 0.6, 0.2, 0.6, 1, 0.6, 0.2, 0.6, 1), 3)
  ib <- interaction(d$a, d$b, drop = TRUE)
  U <- matrix(rnorm(nlevels(ib) * 3), ncol = 3) %*% chol(D0)
  eta <- 0.3 + 0.5 * d$x + 0.5 * rnorm(12)[d$a] + U[cbind(as.integer(ib), as.integer(d$time))]
  d$count <- rpois(nrow(d), exp(eta))
  fit <- glmm(count ~ x + (1 | a) + toep(0 + time | a:b), data = d, family = poisson, nAGQ = 5)
  expect_true(fit$optinfo$converged)
  vc <- VarCorr(fit)
  eta0 <- drop(model.matrix(~ x, d) %*% fixef(fit))
  ref <- function(K) adaptive_nested_poisson(d$count, eta0, as.integer(d$a), as.integer(ib),
                                             as.integer(d$time), unname(attr(vc[["a"]], "stddev")),
                                             unname(vc[["a:b"]]), K)
  # (the same inner rule; the outer integral is the engine's five adaptive
  # nodes against the trapezoid's 141, which differ by about 2e-6 here)
  expect_close(as.numeric(logLik(fit)), ref(5L), 1e-5)
  # and the rule converges: nAGQ = 5 within 0.05 of the 11-node value
  expect_close(as.numeric(logLik(fit)), ref(11L), 0.05)
})

test_that("diag() by nested quadrature equals the uncorrelated unstructured term", {
  d <- nested_data(17, A = 10, B = 3, m = 5)
  d$y <- rbinom(nrow(d), 1, plogis(-0.2 + 0.6 * d$x + rnorm(10)[d$a] * 0.6 +
                                     rnorm(30)[interaction(d$a, d$b)] * (0.7 + 0.5 * d$x)))
  f1 <- quiet_singular(glmm(y ~ x + (1 | a) + diag(1 + x | a:b), data = d, family = binomial,
                            nAGQ = 5))
  f2 <- quiet_singular(glmm(y ~ x + (1 | a) + (1 + x || a:b), data = d, family = binomial,
                            nAGQ = 5))
  expect_identical(f1$engine$name, "agq_nested")
  expect_close(as.numeric(logLik(f1)), as.numeric(logLik(f2)), 1e-6)
  expect_equal(fixef(f1), fixef(f2), tolerance = 1e-4)
  # (theta: the intercept's and the slope's standard deviations at 4 and 6
  # in the structured fit's Lambda, 4 and 5 in the two terms')
  expect_lt(abs(abs(f1$theta[[4]]) - abs(f2$theta[[4]])), 1e-3)
  expect_lt(abs(abs(f1$theta[[6]]) - abs(f2$theta[[5]])), 1e-3)
  expect_true(f1$optinfo$converged)
})

test_that("a gaussian structured nested fit by quadrature is the exact likelihood", {
  d <- structure_nested_data(9, A = 10, B = 3, times = 3, m = 2)
  # (an inner unit's effect shared by its occasions, and one per occasion:
  # compound symmetry with correlation 0.6)
  d$cont <- 1 + 0.5 * d$x + rnorm(10)[d$a] * 0.7 + rnorm(30)[interaction(d$a, d$b)] * 0.8 +
    rnorm(90)[interaction(d$a, d$b, d$time)] * 0.65 + rnorm(nrow(d)) * 0.5
  f3 <- glmm(cont ~ x + (1 | a) + cs(0 + time | a:b), data = d, nAGQ = 3)
  f1 <- glmm(cont ~ x + (1 | a) + cs(0 + time | a:b), data = d)
  expect_identical(f3$engine$name, "agq_nested")
  expect_close(as.numeric(logLik(f3)), as.numeric(logLik(f1)), 1e-6)
  expect_equal(fixef(f3), fixef(f1), tolerance = 1e-5)
  expect_equal(sigma(f3), sigma(f1), tolerance = 1e-4)
})

test_that("a structured nested quadrature fit does not depend on the covariate's origin", {
  d <- structure_nested_data(5, A = 10, B = 2, times = 3, m = 2)
  f1 <- quiet_singular(glmm(y ~ x + (1 | a) + ar1(0 + time | a:b), data = d,
                            family = binomial, nAGQ = 3))
  d$x2 <- d$x + 2010
  f2 <- quiet_singular(glmm(y ~ x2 + (1 | a) + ar1(0 + time | a:b), data = d,
                            family = binomial, nAGQ = 3))
  expect_close(as.numeric(logLik(f1)), as.numeric(logLik(f2)), 1e-7)
  expect_equal(unname(fixef(f1)[2]), unname(fixef(f2)[2]), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(f1)))[2]), unname(sqrt(diag(vcov(f2)))[2]),
               tolerance = 1e-4)
})

test_that("methods serve structured nested quadrature fits", {
  d <- structure_nested_data(11, A = 14, B = 2, times = 3, m = 2)
  fit <- quiet_singular(glmm(y ~ x + (1 | a) + ar1(0 + time | a:b), data = d,
                             family = binomial, nAGQ = 3))
  expect_output(print(summary(fit)), "ar1")
  expect_identical(dim(ranef(fit)[["a:b"]]), c(nlevels(interaction(d$a, d$b, drop = TRUE)), 3L))
  p <- predict(fit, type = "response")
  expect_true(all(p > 0 & p < 1))
  expect_length(simulate(fit, nsim = 2, seed = 1), 2L)
  V <- vcov(fit)
  for (type in c("CR0", "CR2", "CR3")) {
    R <- vcov(fit, type = type)
    expect_true(all(is.finite(R)) && all(diag(R) > 0))
    expect_lt(max(abs(log(diag(R) / diag(V)))), log(3))
  }
  # The profile runs on the nested engine (its rebuilt value is the fit's).
  ci <- confint(fit, parm = "x", method = "profile")
  expect_true(ci[1, 1] < fixef(fit)[["x"]] && fixef(fit)[["x"]] < ci[1, 2])
  w <- confint(fit, parm = "x", method = "Wald")
  expect_equal(unname(ci), unname(w), tolerance = 0.1)
  # nAGQ = 1 is the Laplace fit.
  lap <- quiet_singular(update(fit, nAGQ = 1))
  lap0 <- quiet_singular(glmm(y ~ x + (1 | a) + ar1(0 + time | a:b), data = d,
                              family = binomial))
  expect_identical(as.numeric(logLik(lap)), as.numeric(logLik(lap0)))
})

test_that("structures beside crossed or outer slopes are refused under quadrature", {
  d <- structure_nested_data(7, A = 6, B = 2, times = 2, m = 2)
  expect_error(glmm(y ~ x + (1 | b) + ar1(0 + time | a), data = d, family = binomial, nAGQ = 3),
               "crossed")
  expect_error(glmm(y ~ x + ar1(0 + time | a) + (1 | a:b), data = d, family = binomial,
                    nAGQ = 3),
               "covariance structure only at the innermost level")
})

test_that("a rule-error term that moves fast still ends at the maximum of the value", {
  # three effects per unit and one binary row per effect at nAGQ = 3: the
  # corrected gradient did not settle, and the search ends on the value's
  # own gradient
  fit <- route_model_fits()$nested_agq_structure
  expect_identical(fit$engine$name, "agq_nested")
  expect_true(fit$optinfo$converged)
  expect_length(fit$optinfo$warnings, 0L)
  expect_true(all(eigen(fit$hessian, only.values = TRUE)$values < 0))
  expect_true(any(grepl("_by_value$", names(fit$optinfo$stages))))
})

test_that("a structured slope far from zero is refused in the user's units", {
  d <- nested_data(17, A = 8, B = 3, m = 4)
  d$x2 <- d$x + 2010
  err <- tryCatch(glmm(y ~ x + (1 | a) + diag(1 + x2 | a:b), data = d, family = binomial,
                       nAGQ = 5), error = conditionMessage)
  expect_match(err, "mean 2010", fixed = TRUE)
  expect_match(err, "for diag() that is another model", fixed = TRUE)
  # the unstructured term is the same model when centred
  expect_error(glmm(y ~ x + (1 | a) + (1 + x2 | a:b), data = d, family = binomial, nAGQ = 5),
               "the same model", fixed = TRUE)
  d3 <- structure_nested_data(7, A = 6, B = 2, times = 3, m = 2)
  expect_error(glmm(y ~ x + (1 | a) + ar1(0 + time | a:b), data = d3, family = binomial,
                    nAGQ = 40),
               "3 random effects at the innermost level means 40^4 = 2.56e+06 quadrature points for each row (4 dimensions)",
               fixed = TRUE)
})
