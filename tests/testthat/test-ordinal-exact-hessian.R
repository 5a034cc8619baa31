# The exact Hessian of the random-intercept cumulative link model's
# approximated log-likelihood (ordinal_exact_hessian() in src/engines/ordinal/ordinal.cpp):
# against numDeriv's Richardson differences of the exact gradient, every
# link, the Laplace approximation and adaptive quadrature, at random
# parameter values (with weights and offsets, tails included) and at fitted
# optima; and the fits' standard errors against the observed information.

exact_hessian_data <- function(seed = 23, n = 240, M = 30, J = 5) {
  set.seed(seed)
  g <- sort(sample(M, n, replace = TRUE))
  g[seq_len(M)] <- seq_len(M)
  g <- sort(g)
  X <- cbind(rnorm(n), rbinom(n, 1, 0.4))
  y <- sample(seq_len(J), n, replace = TRUE)
  y[seq_len(J)] <- seq_len(J)
  list(y = y, X = X, off = rnorm(n, 0, 0.3), wt = runif(n, 0.5, 2),
       st = c(0L, cumsum(tabulate(g, M))), J = J)
}

# numDeriv's Richardson extrapolation of the exact gradient (itself checked
# against numDeriv::grad in test-ordinal-glmm.R): ~1e-10 relative.
test_that("the exact Hessian is numDeriv's at random parameter values, every link and nAGQ", {
  skip_if_not_installed("numDeriv")
  d <- exact_hessian_data()
  k1 <- d$J - 1L
  set.seed(4)
  for (lk in 0:2) for (K in c(1L, 4L, 10L)) for (rep in 1:2) {
    th <- sort(rnorm(k1, 0, 1.5))
    par <- c(th, rnorm(2, 0, 0.7), log(runif(1, 0.2, 2.5)))
    unit <- rep == 1
    wt <- if (unit) rep(1, length(d$y)) else d$wt
    off <- if (unit) rep(0, length(d$y)) else d$off
    f <- function(p, h = 0L)
      glmmgee:::cpp_ordinal_loglik(d$y, d$X, off, wt, d$st, d$J, p[seq_len(k1)], p[k1 + 1:2],
                                   p[k1 + 3L], K, lk, TRUE, NULL, TRUE, h)
    r <- f(par, 3L)
    ref <- num_hessian(function(p) f(p)$gradient, par)
    lab <- sprintf("link %d, nAGQ %d, %s", lk, K, if (unit) "unit weights" else "weights, offset")
    expect_true(isSymmetric(r$hessian), label = lab)
    expect_lt(max(abs(r$hessian - ref)), 1e-7 * max(abs(ref)), label = lab)
    # the gradient by the Hessian's formulas (on the scale v = sigma u) is
    # the engine's (on u)
    expect_lt(max(abs(r$hessian_gradient - r$gradient)), 1e-9 * max(1, abs(r$gradient)),
              label = lab)
  }
})

test_that("the exact Hessian holds in the tails and with a large or small sigma", {
  skip_if_not_installed("numDeriv")
  d <- exact_hessian_data(seed = 7, n = 150, M = 15, J = 4)
  pars <- list(c(-6, -1, 7, 1.5, -2, log(4)),    # far tails, large sigma
               c(-0.3, 0.2, 0.9, 0.3, -0.2, log(0.05)),  # sigma near the boundary
               c(-2, 2.5, 2.6, 0.8, 0.4, log(1)))        # two thresholds close together
  for (par in pars) for (lk in 0:2) for (K in c(1L, 7L)) {
    f <- function(p, h = 0L)
      glmmgee:::cpp_ordinal_loglik(d$y, d$X, d$off, d$wt, d$st, 4L, p[1:3], p[4:5], p[6], K, lk,
                                   TRUE, NULL, TRUE, h)
    r <- f(par, 3L)
    ref <- num_hessian(function(p) f(p)$gradient, par)
    lab <- sprintf("link %d, nAGQ %d, sigma %g", lk, K, exp(par[6]))
    expect_lt(max(abs(r$hessian - ref)), 1e-6 * max(abs(ref)), label = lab)
  }
})

test_that("at the optimum: the fits' standard errors are the observed information's", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("ordinal")
  w <- ordinal::wine[order(ordinal::wine$judge), ]
  Xw <- model.matrix(~ temp + contact, w)[, -1]
  stw <- c(0L, cumsum(tabulate(as.integer(w$judge))))
  for (link in c("logit", "probit", "cloglog")) for (K in c(1L, 10L)) {
    fit <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
                family = cumulative(link), nAGQ = K)
    lk <- fit$family$link_code
    f <- function(p, h = 0L)
      glmmgee:::cpp_ordinal_loglik(as.integer(w$rating), Xw, rep(0, 72), rep(1, 72), stw, 5L,
                                   p[1:4], p[5:6], p[7], K, lk, TRUE, NULL, TRUE, h)
    psi <- unname(fit$psi)
    ref <- num_hessian(function(p) f(p)$gradient, psi)
    lab <- sprintf("wine, %s, nAGQ %d", link, K)
    expect_lt(max(abs(f(psi, 3L)$hessian - ref)), 1e-7 * max(abs(ref)), label = lab)
    # The fit's Hessian is taken where the search stopped, before the
    # polishing Newton step (which moves psi by ~1e-6 here): equal to the
    # observed information at the reported psi to ~1e-6.
    expect_equal(unname(fit$hessian), ref, tolerance = 1e-5, label = lab)
    expect_equal(unname(sqrt(diag(fit$cov_psi))), sqrt(diag(solve(-ref))), tolerance = 1e-5,
                 label = lab)
    expect_lt(max(abs(fit$gradient)), 1e-6, label = lab)
  }
})
