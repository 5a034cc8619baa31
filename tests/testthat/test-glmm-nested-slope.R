# Reference quadrature for random slopes at the innermost level of a nested
# design, (1 | a) + (1 + x | a:b): checked here against quantities known
# exactly, so that it can serve as the reference of a multilevel adaptive
# quadrature of that model. glmm() with nAGQ > 1 still refuses the model
# (test-glmm-nested.R).

test_that("the brute-force nested quadrature with an inner random slope is exact for a gaussian model", {
  d <- nested_data(31, A = 4, B = 3, m = 4, sds = c(0.7, 0.5), family = "gaussian")
  ib <- interaction(d$a, d$b, drop = TRUE)
  Z <- cbind(1, d$x)
  beta <- c(-0.2, 0.5)
  s_outer <- 0.6
  sigma <- 0.8
  Lambda <- matrix(c(0.5, -0.3, 0, 0.4), 2, 2)  # the inner effects' Cholesky factor
  eta0 <- drop(model.matrix(~ x, d) %*% beta)
  dens <- function(i, eta) dnorm(d$y[i], eta, sigma)
  ll <- brute_nested_slope(eta0, as.integer(d$a), as.integer(ib), Z, s_outer, Lambda, dens,
                           K = 60)
  # The integrand is Gaussian in the effects, so the marginal likelihood is
  # the multivariate normal density with covariance
  # s_outer^2 [same a] + Z_i' Lambda Lambda' Z_j [same a:b] + sigma^2 [i = j].
  same_a <- outer(d$a, d$a, `==`)
  same_b <- outer(ib, ib, `==`)
  V <- s_outer^2 * same_a + same_b * (Z %*% tcrossprod(Lambda) %*% t(Z)) +
    diag(sigma^2, nrow(d))
  C <- chol(V)
  exact <- -0.5 * (nrow(d) * log(2 * pi) + 2 * sum(log(diag(C))) +
                     sum(backsolve(C, d$y - eta0, transpose = TRUE)^2))
  expect_close(ll, exact, 1e-6)
  # Without the slope the inner level is the random intercept of the
  # intercepts-only reference.
  L0 <- diag(c(Lambda[1, 1], 0))
  expect_close(brute_nested_slope(eta0, as.integer(d$a), as.integer(ib), Z, s_outer, L0, dens,
                                  K = 20),
               brute_nested(eta0, list(as.integer(d$a), as.integer(ib)),
                            c(s_outer, Lambda[1, 1]), dens, K = 20), 1e-10)
})
