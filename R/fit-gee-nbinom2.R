# GEE with the negative binomial variance function V(mu) = mu + mu^2/theta.
# theta is estimated by the moment equation of nb_theta_moment() (Pearson's
# statistic equal to the residual degrees of freedom; Breslow 1984),
# alternated with the estimating equations for beta and the working
# correlation at fixed theta until theta settles; the scale is held at 1,
# since theta already carries the overdispersion. This is the alternation
# of Liang and Zeger (1986, section 4) with theta in the role of the
# dispersion parameter.

# Runs the engine once, or for nbinom2 alternates it with the theta moment
# step. Returns the engine result, the specification it used (with theta,
# so later variance requests see the same variance function) and the
# family (with theta for nbinom2).
gee_run <- function(data, spec, family, control) {
  if (!identical(family$family, "nbinom2"))
    return(list(res = cpp_gee_fit(data, spec), spec = spec, family = family))
  use <- if (is.null(data$weights)) TRUE else data$weights > 0
  y <- data$y[use]; w <- data$weights[use] %||% rep(1, length(y))
  df <- length(y) - ncol(data$X)
  if (df < 1)
    stop("nbinom2: theta cannot be estimated with as many coefficients as observations",
         call. = FALSE)
  # Start near the Poisson model, whose fit gives the first moment estimate.
  theta <- 1e8
  inner <- spec
  inner$vflags <- 0L
  converged <- FALSE
  it <- 0L
  while (it < control$maxit) {
    it <- it + 1L
    inner$family_phi <- log(theta)
    res <- cpp_gee_fit(data, inner)
    if (is.null(res$beta) || (!is.null(res$error) && nzchar(res$error))) break
    data$beta_start <- res$beta
    th <- nb_theta_moment(y, cpp_gee_fitted(data, inner, res$beta)$mu[use], w, df)
    if (is.na(th))
      stop(paste0("gee fit failed: the iterations diverged: the fitted means of the nbinom2(log) ",
                  "model overflow, so theta's moment equation has no value. Check the scale of ",
                  "the response and the covariates, or try a simpler 'corstr'"), call. = FALSE)
    change <- abs(log(th) - log(theta))
    theta <- th
    if (control$trace) cat(sprintf("theta step %d: theta %.6g\n", it, theta))
    if (change <= control$epsilon) { converged <- TRUE; break }
  }
  spec$family_phi <- log(theta)
  if (!is.null(res$beta) && (is.null(res$error) || !nzchar(res$error)))
    res <- cpp_gee_fit(data, spec)
  res$nb_theta <- list(theta = theta, iterations = it, converged = converged,
                    at_limit = theta >= 1e8)
  list(res = res, spec = spec, family = fitted_family(family, log(theta)))
}
