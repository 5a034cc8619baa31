# The nested quadrature engine's gradient (src/engines/agq/agq-nested.cpp: the
# quadrature of the integrand's derivative, adaptive nodes held fixed) and
# the search it drives (R/optimize-nested.R). Fixtures in helper-nested.R.

# The engine built on data from nested_data(), the parameters in its order
# (fixed effects, standard deviations from the outermost level, log dispersion).
nested_engine <- function(d, depth, family) {
  fam <- glmmgee:::resolve_family(family)
  glmmgee:::cpp_nested_new(model.matrix(~ x, d), as.numeric(d$y), rep(1, nrow(d)),
                           rep(0, nrow(d)), lapply(nested_groups(d, depth), function(g) g - 1L),
                           fam$family_code, fam$link_code, 1L)
}

expect_gradient_matches <- function(eng, th, K) {
  g <- glmmgee:::cpp_nested_eval(eng, th, K, TRUE)$gradient
  nd <- numDeriv::grad(function(t) glmmgee:::cpp_nested_eval(eng, t, K)$loglik, th)
  expect_lt(max(abs(g - nd)), 1e-6, label = sprintf("max |gradient - numDeriv| = %.3g", max(abs(g - nd))))
}

test_that("the engine's gradient equals numDeriv's (binomial, poisson, gaussian, nbinom2)", {
  skip_if_not_installed("numDeriv")
  cases <- list(list(binomial(), c(-0.2, 0.7, 0.9, 0.6)),
                list(poisson(), c(-0.2, 0.7, 0.6, 0.5)),
                list(gaussian(), c(-0.2, 0.7, 0.9, 0.6, log(0.5))),
                list(nbinom2(), c(-0.2, 0.7, 0.5, 0.4, log(3))))
  fams <- c("binomial", "poisson", "gaussian", "nbinom2")
  for (k in seq_along(cases)) {
    d <- nested_data(20 + k, family = fams[k], sds = c(0.8, 0.6))
    eng <- nested_engine(d, 2L, cases[[k]][[1]])
    expect_gradient_matches(eng, cases[[k]][[2]], 25L)
  }
})

test_that("the engine's gradient equals numDeriv's with three levels", {
  skip_if_not_installed("numDeriv")
  d <- nested_data(30, A = 5, B = 2, C = 2, m = 2)
  eng <- nested_engine(d, 3L, binomial())
  expect_gradient_matches(eng, c(-0.3, 0.8, 0.9, 0.7, 0.5), 21L)
  # At a standard deviation of zero (its derivative there is zero: the
  # likelihood is even in it).
  g0 <- glmmgee:::cpp_nested_eval(eng, c(-0.3, 0.8, 0.9, 0, 0.5), 11L, TRUE)$gradient
  expect_lt(abs(g0[4]), 1e-10)
})

test_that("the engine's gradient does not depend on the number of threads", {
  d <- nested_data(31, A = 12)
  fam <- glmmgee:::resolve_family(binomial())
  mk <- function(nt) glmmgee:::cpp_nested_new(model.matrix(~ x, d), as.numeric(d$y), rep(1, nrow(d)),
                                              rep(0, nrow(d)), lapply(nested_groups(d, 2L), function(g) g - 1L),
                                              fam$family_code, fam$link_code, nt)
  th <- c(-0.2, 0.7, 0.9, 0.6)
  expect_identical(glmmgee:::cpp_nested_eval(mk(2L), th, 7L, TRUE),
                   glmmgee:::cpp_nested_eval(mk(1L), th, 7L, TRUE))
})

test_that("the search with the engine's gradient reaches the quadrature optimum in few passes", {
  # nAGQ = 3: the coarsest rule, where the held-fixed nodes leave the
  # largest rule-error term in the gradient; the optimum is checked
  # against a derivative-free search of the same value.
  for (fam in c("binomial", "poisson")) {
    d <- nested_data(32, A = 12, family = fam, sds = c(0.8, 0.7))
    fit <- quiet_singular(glmm(y ~ x + (1 | a/b), data = d, family = get(fam)(), nAGQ = 3))
    expect_identical(fit$optinfo$convergence, 0L)
    # Engine passes after the Laplace start, each stage included (the
    # central-difference search took about 100 on such data): nAGQ = 3
    # needs the most finishing steps, nAGQ = 7 few.
    expect_lte(fit$optinfo$evaluations, 60L)
    f7 <- quiet_singular(glmm(y ~ x + (1 | a/b), data = d, family = get(fam)(), nAGQ = 7))
    expect_lte(f7$optinfo$evaluations, 30L)
    eng <- nested_engine(d, 2L, get(fam)())
    th <- unname(c(fixef(fit), sds_outer_first(fit)))
    nm <- stats::optim(th * c(1.05, 0.95, 1.1, 0.9), function(t)
      -glmmgee:::cpp_nested_eval(eng, c(t[1:2], abs(t[3:4])), 3L)$loglik,
      control = list(reltol = 1e-14, maxit = 5000))
    expect_gte(as.numeric(logLik(fit)), -nm$value - 1e-7)
    expect_lt(max(abs(fit$gradient)), 1e-3)
  }
})

test_that("ranef() of each level: the joint modes and the posterior SDs of the Gaussian approximation there", {
  # Checked against the joint problem written out here: at the modes the
  # gradient of log p(y | u) - |u|^2 / 2 is zero, and the conditional
  # variances are s^2 diag(H^-1), H = I + Lambda Z' W Z Lambda.
  d <- nested_data(33, A = 10, sds = c(1, 0.9))
  fit <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 7)
  re <- ranef(fit)
  s <- sqrt(vapply(VarCorr(fit), function(v) v[1, 1], 1))
  ab <- interaction(d$b, d$a, sep = ":", drop = TRUE)
  Z <- cbind(model.matrix(~ 0 + ab), model.matrix(~ 0 + a, d))
  lam <- c(rep(s[["b:a"]], nlevels(ab)), rep(s[["a"]], nlevels(d$a)))
  b <- c(re[["b:a"]][levels(ab), 1], re$a[levels(d$a), 1])
  eta <- drop(model.matrix(~ x, d) %*% fixef(fit) + Z %*% b)
  expect_equal(unname(predict(fit)), unname(eta), tolerance = 1e-10)
  mu <- plogis(eta)
  u <- b / lam
  score <- lam * drop(crossprod(Z, d$y - mu)) - u
  expect_lt(max(abs(score)), 1e-6)
  H <- diag(length(u)) + crossprod(Z * lam[col(Z)] * sqrt(mu * (1 - mu)))
  pv <- lam^2 * diag(solve(H))
  got <- c(attr(re[["b:a"]], "postVar")[1, 1, match(levels(ab), rownames(re[["b:a"]]))],
           attr(re$a, "postVar")[1, 1, match(levels(d$a), rownames(re$a))])
  expect_equal(unname(got), unname(pv), tolerance = 1e-8)
  expect_equal(unname(predict(fit, re.form = NA)),
               unname(drop(model.matrix(~ x, d) %*% fixef(fit))), tolerance = 1e-12)
  # New data: population level, and conditional on known hospitals and wards.
  nd <- d[c(1, 40, 70), ]
  expect_equal(unname(predict(fit, newdata = nd, re.form = NA)),
               unname(drop(model.matrix(~ x, nd) %*% fixef(fit))), tolerance = 1e-12)
  expect_equal(unname(predict(fit, newdata = nd)), unname(predict(fit)[c(1, 40, 70)]),
               tolerance = 1e-10)
})
