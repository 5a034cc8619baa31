# Variance shares of a cumulative link mixed model (glmm() with
# cumulative()), on the scale of the latent variable: the model is
# Y* = x'beta + z'b + e with the categories cut at the thresholds, e of the
# link's distribution, so the decomposition of Nakagawa et al. (2017) is
# the binomial one's: var(x'beta), the random-effect variances (averaged
# over the observations for random slopes) and the variance of e, pi^2/3
# for the logit link (logistic), 1 for probit (normal), pi^2/6 for cloglog
# (the Gumbel distribution of the complementary log-log). The thresholds
# only place the cut points and enter none of the variances.

# The residual (latent) variance of a cumulative link.
cumulative_latent_variance <- function(link) {
  switch(link, logit = pi^2 / 3, probit = 1, cloglog = pi^2 / 6,
         stop(sprintf("variance_shares(): no latent-scale variance for the cumulative %s link",
                      link), call. = FALSE))
}

# The parameters the shares are a function of (theta, with cov_theta), and
# that function: the random effects' variances from theta's random-effect
# parameters after the coefficients, one standard deviation per term
# (several terms), or the Cholesky factor of one grouping factor (the
# variance of z'b averaged over the observations; a random intercept's
# square).
cumulative_shares_parts <- function(fit) {
  p <- length(fit$coefficients)
  X <- fit$X
  ve <- cumulative_latent_variance(fit$family$link)
  rand <- if (!is.null(fit$sd_re)) {
    nm <- make.unique(unname(fit$group_name), sep = ".")
    function(th) stats::setNames(th[p + seq_along(nm)]^2, nm)
  } else {
    rows <- fit$lam_row %||% 1L
    cols <- fit$lam_col %||% 1L
    Z <- as.matrix(fit$Z %||% matrix(1, nrow(X), 1L))
    function(th) {
      L <- matrix(0, ncol(Z), ncol(Z))
      L[cbind(rows, cols)] <- th[p + seq_along(rows)]
      stats::setNames(mean(rowSums((Z %*% L)^2)), fit$group_name)
    }
  }
  V <- fit$cov_theta
  if (!is.null(V) && anyNA(V)) V <- NULL
  comp <- function(th) {
    eta <- drop(X %*% th[seq_len(p)])
    shares_vector(if (p > 0L) stats::var(eta) else 0, rand(th), ve)
  }
  list(par = unname(fit$theta), vcov = if (!is.null(V)) unname(V), comp = comp)
}

cumulative_variance_shares <- function(fit, level) {
  parts <- cumulative_shares_parts(fit)
  rows <- shares_rows(parts$comp, parts$par, parts$vcov, NULL, level)
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  structure(out, class = c("glmmgee_variance_shares", "data.frame"), level = level,
            family = fit$family, approximation = NULL, lambda = NULL)
}

# The variances alone (fixed, one per term, residual), for insight's
# get_variance().
cumulative_variance_estimates <- function(fit) {
  parts <- cumulative_shares_parts(fit)
  est <- parts$comp(parts$par)
  est[attr(est, "kind") == "variance"]
}
