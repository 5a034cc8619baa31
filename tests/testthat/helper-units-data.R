# Simulated data with known truth for the gaussian routes of
# test-response-scale.R (known covariances: spectral rotation, a factor,
# sparse K, several terms; nested quadrature; the several-term profiled
# (RE)ML routes; the sparse Laplace engine beside a known covariance; gee())
# and test-lmm-sparse-converged.R: y around 300, `g` with 40 levels and a
# dense covariance `K` (also sparse `Ks` and a factor `Lf`), `a` with 8.
units_data <- function() {
  set.seed(11)
  ng <- 40
  n <- 400
  lev <- sprintf("L%02d", seq_len(ng))
  g <- factor(sample(lev, n, TRUE), levels = lev)
  a <- factor(sample(1:8, n, TRUE))
  x <- rnorm(n)
  K <- crossprod(matrix(rnorm(ng * ng), ng)) / ng + diag(ng)
  dimnames(K) <- list(lev, lev)
  u <- drop(t(chol(K)) %*% rnorm(ng))
  d <- data.frame(g, a, x)
  b <- interaction(a, g)
  d$y0 <- 300 + 10 * x + 30 * u[as.integer(g)] + 20 * rnorm(8)[a] +
    15 * rnorm(nlevels(b))[b] + 25 * rnorm(n)
  Ks <- Matrix::Matrix(diag(ng) + 0.3 * (abs(outer(1:ng, 1:ng, "-")) == 1), sparse = TRUE)
  dimnames(Ks) <- dimnames(K)
  Lf <- t(chol(K))
  rownames(Lf) <- lev
  list(d = d, K = K, Ks = Ks, Lf = Lf)
}
