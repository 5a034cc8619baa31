# Hessians from an exact gradient by finite differences: one function for
# every fit that differentiates its gradient once more.

# The Jacobian of `grad` at `x`, symmetrized: the Hessian of the function
# whose gradient `grad` is.
# - "forward": steps rel * max(|x_j|, 1e-2), one evaluation per coordinate
#   beyond g0 = grad(x) (given, or evaluated first); used where an exact
#   gradient is cheap relative to its error (the known-covariance Laplace
#   engine).
# - "central": steps rel * max(1, |x_j|), two evaluations per coordinate,
#   error O(h^2); the observed information of the bridge and nonparametric
#   random-intercept fits.
gradient_jacobian <- function(grad, x, method = c("forward", "central"), g0 = NULL,
                              rel = 1e-5) {
  method <- match.arg(method)
  k <- length(x)
  H <- matrix(0, k, k)
  if (method == "forward") {
    if (is.null(g0)) g0 <- grad(x)
    h <- rel * pmax(abs(x), 1e-2)
    for (j in seq_len(k)) H[, j] <- (grad(replace(x, j, x[j] + h[j])) - g0) / h[j]
  } else {
    h <- rel * pmax(1, abs(x))
    for (j in seq_len(k))
      H[, j] <- (grad(replace(x, j, x[j] + h[j])) - grad(replace(x, j, x[j] - h[j]))) / (2 * h[j])
  }
  (H + t(H)) / 2
}
