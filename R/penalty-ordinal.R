# Penalized cumulative link mixed models: glmm(..., family = cumulative(),
# penalized = TRUE). The prior is penalty.R's multivariate Student-t on the
# coefficients beta (the binary and count fits' prior), never on the
# thresholds: they take the place of the intercept, and along every
# direction that moves the thresholds alone the log-likelihood falls
# without bound (each observed category pins them), so with beta penalized
# the penalized estimate exists under any separation (ordinal_separation()
# shows that a separating direction has beta != 0, and the log prior falls
# without bound along it while the log-likelihood stays below 0).
#
# The three ordinal fitters search on the centred and scaled design, beta* =
# scl * beta (fit-ordinal.R). The prior's quadratic form sums
# ((beta_j - mu_j) / sigma_j)^2 = ((beta*_j - scl_j mu_j) / (scl_j sigma_j))^2,
# so on that scale it is the same prior with location scl * mu and scale
# scl * sigma: its value, gradient and Hessian in beta* are penalty_value()
# and penalty_hessian() of that prior, with no Jacobian to carry. Centring
# moves only the thresholds, which the prior does not touch: the penalized
# optimum does not depend on a covariate's location. It depends on its units
# and on the contrast coding, as any prior on coefficients as coded does.

# The prior on the search's scale: NULL without a penalty; else the user's
# prior (`prior`) and the one on beta* (`star`).
ordinal_penalty <- function(prior, p, scl) {
  if (is.null(prior)) return(NULL)
  check_prior_length(prior, p, "penalized")
  star <- list(pen_mu = rep(prior$pen_mu, length.out = p) * scl,
               pen_sigma = rep(prior$pen_sigma, length.out = p) * scl,
               pen_df = prior$pen_df)
  list(prior = prior, star = star)
}

# An evaluation `r` (loglik, gradient, optionally hessian) with the log
# prior of beta* (at positions `at` of the parameter vector) added;
# r$penalty records the log prior (0 without one). Non-finite evaluations
# are left as they are.
ordinal_add_penalty <- function(r, pen, bstar, at) {
  r$penalty <- 0
  if (is.null(pen) || !is.finite(r$loglik)) return(r)
  pv <- penalty_value(pen$star, bstar)
  r$penalty <- pv$value
  r$loglik <- r$loglik + pv$value
  if (!is.null(r$gradient) && length(at)) r$gradient[at] <- r$gradient[at] + pv$gradient
  if (!is.null(r$hessian) && length(at))
    r$hessian[at, at] <- r$hessian[at, at] + penalty_hessian(pen$star, bstar)
  r
}

# The fit's record of the penalty (as covstruct_estimates() makes it for
# the other penalized fits): the prior, the log prior at the estimates,
# the log-likelihood without it and the penalized objective.
ordinal_penalty_record <- function(pen, loglik, value) {
  if (is.null(pen)) return(NULL)
  list(prior = pen$prior, value = value, loglik = loglik, objective = loglik + value)
}
