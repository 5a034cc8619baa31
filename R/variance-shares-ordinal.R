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

# The parameters the shares are a function of (with their covariance), and
# that function: the one-factor random intercept (log sd last in psi), the
# random slopes of one factor (the entries of the Cholesky factor, log on
# the diagonal) and several random intercepts (their sds at the end of par).
cumulative_shares_parts <- function(fit) {
  k1 <- length(fit$thresholds)
  p <- length(fit$coefficients)
  X <- fit$X
  ve <- cumulative_latent_variance(fit$family$link)
  if (inherits(fit, "glmmgee_glmm_ordinal_sparse")) {
    par <- fit$par
    V <- fit$cov_par
    nt <- length(fit$sd_re)
    nm <- make.unique(unname(fit$group_name), sep = ".")
    rand <- function(th) stats::setNames(th[k1 + p + seq_len(nt)]^2, nm)
  } else if (inherits(fit, "glmmgee_glmm_ordinal_re")) {
    par <- fit$psi
    V <- fit$cov_psi
    q <- ncol(fit$re_cov)
    Z <- as.matrix(fit$Z)
    diag_entry <- fit$lam_row == fit$lam_col
    rand <- function(th) {
      l <- th[k1 + p + seq_along(fit$lam_row)]
      L <- matrix(0, q, q)
      L[cbind(fit$lam_row, fit$lam_col)] <- ifelse(diag_entry, exp(l), l)
      stats::setNames(mean(rowSums((Z %*% L)^2)), fit$group_name)
    }
  } else {
    par <- fit$psi
    V <- fit$cov_psi
    rand <- function(th) stats::setNames(exp(2 * th[[k1 + p + 1L]]), fit$group_name)
  }
  if (!is.null(V) && anyNA(V)) V <- NULL
  comp <- function(th) {
    eta <- drop(X %*% th[k1 + seq_len(p)])
    shares_vector(if (p > 0L) stats::var(eta) else 0, rand(th), ve)
  }
  list(par = unname(par), vcov = if (!is.null(V)) unname(V), comp = comp)
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
