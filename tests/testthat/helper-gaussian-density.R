# The log density of a multivariate normal vector y with mean mu and
# covariance V, by its Cholesky factor: the likelihoods that tests write out
# by hand to check a fit against.
gaussian_log_density <- function(y, mu, V) {
  R <- chol(V)
  z <- backsolve(R, y - mu, transpose = TRUE)
  -0.5 * (length(y) * log(2 * pi) + sum(z^2)) - sum(log(diag(R)))
}
