# Simulated linear mixed-model data shared by the exact-Hessian tests
# (test-lmm-ml-hessian.R, test-reml-hessian.R, test-lmm-ml.R).

# M clusters of sizes drawn from `sizes`, X = (1, x, a three-level factor),
# a random intercept, a random slope in x of SD 0.5 and, with z2_sd > 0, one
# in z2; weights w in (0.3, 2) and an offset 0.2 z2 for the matrix-level
# checks.
lmm_hessian_sim <- function(seed, M, sizes, z2_sd = 0) {
  set.seed(seed)
  g <- rep(seq_len(M), times = sample(sizes, M, TRUE))
  n <- length(g)
  x <- rnorm(n); z2 <- rnorm(n); f <- factor(sample(letters[1:3], n, TRUE))
  X <- cbind(1, x, model.matrix(~ f)[, -1])
  y <- drop(X %*% c(1, 0.5, -0.3, 0.2)) + rnorm(M)[g] + 0.5 * rnorm(M)[g] * x
  if (z2_sd > 0) y <- y + z2_sd * rnorm(M)[g] * z2
  y <- y + rnorm(n)
  list(M = M, g = g, n = n, x = x, z2 = z2, X = X, y = y, w = runif(n, 0.3, 2), off = 0.2 * z2)
}

# The random-effect designs those checks run over: an intercept, a
# correlated and an uncorrelated (x || g) slope, three effects in one block
# and in two.
lmm_hessian_cases <- function(s) {
  list(list(Z = matrix(1, s$n, 1), sizes = 1L),
       list(Z = cbind(1, s$x), sizes = 2L),
       list(Z = cbind(1, s$x), sizes = c(1L, 1L)),
       list(Z = cbind(1, s$x, s$z2), sizes = 3L),
       list(Z = cbind(1, s$x, s$z2), sizes = c(2L, 1L)))
}

# M clusters of ni rows: y = 1 + 0.5 x + a random intercept and a random
# slope of SD 0.4 + noise, weights w in (0.5, 2) with zeros at the rows
# `zero`, an offset o = 0.3 x + 0.1 (as a column for formula fits).
lmm_weighted_sim <- function(seed, M, ni, zero) {
  set.seed(seed)
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(length(g))
  d <- data.frame(g = g, x = x, w = runif(length(g), 0.5, 2), o = 0.3 * x + 0.1,
                  y = 1 + 0.5 * x + rnorm(M)[g] + 0.4 * rnorm(M)[g] * x + rnorm(length(g)))
  d$w[zero] <- 0
  d
}
