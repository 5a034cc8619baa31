# Simulated two-part counts with correlated random intercepts in the count
# and zero parts (truth: beta = (0.6, 0.4), gamma = (-0.7, 0.8), SDs 0.6
# and 0.8, correlation rho), for test-zi-random*.R.
zi_random_sim <- function(M = 80, ni = 8, seed = 1, rho = 0.5, nb = FALSE, hurdle = FALSE) {
  set.seed(seed)
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  w <- rbinom(M * ni, 1, 0.5)
  S <- matrix(c(0.6^2, rho * 0.6 * 0.8, rho * 0.6 * 0.8, 0.8^2), 2)
  B <- matrix(rnorm(2 * M), M) %*% chol(S)
  mu <- exp(0.6 + 0.4 * x + B[g, 1])
  pz <- plogis(-0.7 + 0.8 * w + B[g, 2])
  yc <- if (nb) rnbinom(M * ni, size = 2, mu = mu) else rpois(M * ni, mu)
  if (hurdle) {
    # Zero-truncated draws by inversion above the zero's probability.
    p0 <- if (nb) dnbinom(0, size = 2, mu = mu) else dpois(0, mu)
    u <- runif(M * ni, p0, 1)
    yc <- pmax(1, if (nb) qnbinom(u, size = 2, mu = mu) else qpois(u, mu))
  }
  data.frame(g = factor(g), x = x, w = w, y = ifelse(runif(M * ni) < pz, 0, yc))
}

# The two-part sparse engine's validity guard (H's smallest eigenvalue at
# the joint mode at least its bound) neither refused a point of the search
# nor sits near the bound at the optimum of a regular model.
expect_laplace_valid <- function(fit) {
  v <- fit$optinfo$laplace_validity
  testthat::expect_false(is.null(v))
  testthat::expect_equal(v$refused, 0)
  testthat::expect_false(v$breaks_down)
  testthat::expect_gt(v$hmin, 0.5)
}
