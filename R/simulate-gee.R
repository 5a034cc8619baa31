# simulate() for gee fits: responses drawn from the fitted marginal model,
# each cluster's draws joined by the estimated working correlation.

#' Simulate responses from a GEE fit
#'
#' A GEE specifies the marginal means, the variance function and a working
#' correlation, not a joint distribution; `simulate()` completes it as
#' follows, for the fitted rows (rows with zero weight get `NA`):
#' * `gaussian` (identity or other link): multivariate normal draws per
#'   cluster with the fitted means and covariance \eqn{\phi A_i^{1/2} R_i
#'   A_i^{1/2}}, \eqn{A_i} the diagonal of \eqn{1/w} (prior weights),
#'   \eqn{R_i} the estimated working correlation at the cluster's wave
#'   positions: the working model taken as the truth.
#' * `binomial`, `poisson`, `Gamma`, and the negative binomial `nbinom2()`:
#'   draws from the family's distribution with the fitted mean (binomial:
#'   the prior weights as numbers of trials, which must be whole numbers,
#'   the proportion returned as the response is; Gamma: shape \eqn{1/\phi}; nbinom2: the fitted
#'   \eqn{\theta}), joined within a cluster by a Gaussian copula (NORTA)
#'   whose correlation matrix is the working correlation: a normal vector
#'   \eqn{z \sim N(0, R_i)} is mapped to \eqn{F^{-1}(\Phi(z))}. The
#'   correlation of the draws is then close to but smaller in magnitude than
#'   the working correlation (the discreteness of binary and count data
#'   caps it), and for binomial and poisson the scale is ignored (the draws
#'   have the family's variance, not \eqn{\phi} times it). With an
#'   independence working correlation the draws are independent.
#' Other families are refused.
#'
#' @param object a fit from [gee()] or [gee_fit()].
#' @param nsim number of simulated responses.
#' @param seed as in [stats::simulate()].
#' @param ... not used: an argument given here is an error.
#' @return A data frame with `nsim` columns `sim_1`, ..., one row per row
#'   of the fit's data, and the attribute `"seed"`.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'              family = poisson, corstr = "exchangeable")
#'   s <- simulate(fit, nsim = 2, seed = 1)
#'   head(s)
#' }
#' @importFrom stats simulate
#' @export
simulate.glmmgee_gee <- function(object, nsim = 1, seed = NULL, ...) {
  check_dots(..., .method = "simulate.glmmgee_gee")
  check_nsim(nsim)
  fam <- object$family$family
  if (!(fam %in% c("gaussian", "binomial", "poisson", "Gamma", "nbinom2")))
    stop(sprintf("simulate() of a gee fit draws gaussian, binomial, poisson, Gamma or nbinom2 responses; the family %s implies no distribution to draw from",
                 dQuote(fam, FALSE)), call. = FALSE)
  cb <- gee_cluster_blocks(object, "simulate()")
  w <- object$engine$data$weights
  mu <- cb$mu
  phi <- object$scale
  # Each cluster's Cholesky factor of its working correlation, once.
  chols <- lapply(cb$blocks, function(b) chol(b$R))
  rs <- simulate_seed(seed)
  if (!is.null(rs$old)) on.exit(assign(".Random.seed", rs$old, envir = globalenv()))
  n <- length(mu)
  draw_one <- function() {
    z <- rep(NA_real_, n)
    for (k in seq_along(cb$blocks)) {
      r <- cb$blocks[[k]]$rows
      z[r] <- drop(stats::rnorm(length(r)) %*% chols[[k]])
    }
    keep <- !is.na(z)
    y <- rep(NA_real_, n)
    m <- mu[keep]
    u <- stats::pnorm(z[keep])
    y[keep] <- switch(fam,
      gaussian = m + sqrt(phi / w[keep]) * z[keep],
      binomial = stats::qbinom(u, size = round(w[keep]), prob = m) / round(w[keep]),
      poisson = stats::qpois(u, m),
      Gamma = stats::qgamma(u, shape = 1 / phi, rate = 1 / (phi * m)),
      nbinom2 = stats::qnbinom(u, size = object$nb_theta$theta, mu = m))
    y
  }
  if (fam == "binomial") check_whole_trials(w)
  sims <- lapply(seq_len(nsim), function(k) draw_one())
  names(sims) <- paste0("sim_", seq_len(nsim))
  rn <- rownames(object$engine$data$X) %||% as.character(seq_len(n))
  structure(sims, class = "data.frame", row.names = rn, seed = rs$rng)
}
