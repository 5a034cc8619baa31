# Penalized fixed effects for separated data: glmm(..., penalized = TRUE)
# adds to the log-likelihood the log density of a multivariate Student-t
# prior on the fixed effects, as GLMMadaptive's mixed_model(penalized =
# TRUE) does (Rizopoulos, GLMMadaptive documentation: location 0, scale 1,
# 3 degrees of freedom by default, the same for every coefficient):
#   pen(beta) = -(df + p) / 2 * log(1 + sum(((beta - mu) / sigma)^2) / df),
# without its normalizing constant. Under separation the log-likelihood
# keeps rising as a coefficient runs to +/-Inf but only towards a finite
# bound, while the penalty falls without bound, so the penalized estimates
# are finite. The penalty acts on the coefficients in the units of the
# model matrix, like any prior: the estimates depend on how covariates are
# scaled, unlike maximum likelihood.

# The prior's parameters from glmm()'s `penalized`: FALSE (NULL), TRUE
# (the defaults), or a list with any of pen_mu, pen_sigma, pen_df
# (GLMMadaptive's names) and, for models with a zero part, pen_zi.
# GLMMadaptive penalizes only the conditional part's coefficients (its
# logLik_mixed() adds the prior of betas alone, also with zi_fixed), and
# so does the default here; pen_zi = TRUE (or a list of its own pen_mu,
# pen_sigma, pen_df) adds an independent prior of the same form on the zero
# part's coefficients (separation there, a level with no zeros or only
# zeros, is the common case). The result's $zi is that prior or NULL.
penalty_prior <- function(penalized) {
  if (isFALSE(penalized)) return(NULL)
  defaults <- list(pen_mu = 0, pen_sigma = 1, pen_df = 3)
  if (isTRUE(penalized)) return(defaults)
  allowed <- c(names(defaults), "pen_zi")
  if (!is.list(penalized) || is.null(names(penalized)) || any(names(penalized) == "") ||
      anyDuplicated(names(penalized)))
    stop("'penalized' must be TRUE, FALSE or a named list with pen_mu, pen_sigma, pen_df and/or pen_zi",
         call. = FALSE)
  bad <- setdiff(names(penalized), allowed)
  if (length(bad))
    stop(sprintf("'penalized' has unknown component(s) %s; allowed: %s",
                 paste(sQuote(bad, FALSE), collapse = ", "), paste(allowed, collapse = ", ")),
         call. = FALSE)
  zi <- penalized$pen_zi
  penalized$pen_zi <- NULL
  out <- check_prior(utils::modifyList(defaults, penalized), "penalized")
  out$zi <- if (is.null(zi) || isFALSE(zi)) NULL
    else if (isTRUE(zi)) {
      if (length(out$pen_mu) > 1L || length(out$pen_sigma) > 1L)
        stop("'penalized$pen_zi' = TRUE takes the conditional part's pen_mu and pen_sigma, which must then be single numbers; give pen_zi a list of its own (pen_mu, pen_sigma, pen_df)",
             call. = FALSE)
      out[names(defaults)]
    } else if (is.list(zi) && !is.null(names(zi)) && all(names(zi) %in% names(defaults)) &&
               !anyDuplicated(names(zi))) {
      check_prior(utils::modifyList(defaults, zi), "penalized$pen_zi")
    } else {
      stop("'penalized$pen_zi' must be TRUE, FALSE or a named list with pen_mu, pen_sigma and/or pen_df",
           call. = FALSE)
    }
  out
}

check_prior <- function(out, arg) {
  if (!is.numeric(out$pen_mu) || !length(out$pen_mu) || any(!is.finite(out$pen_mu)))
    stop(sprintf("'%s$pen_mu' must be finite numbers", arg), call. = FALSE)
  if (!is.numeric(out$pen_sigma) || !length(out$pen_sigma) || any(!is.finite(out$pen_sigma)) ||
      any(out$pen_sigma <= 0))
    stop(sprintf("'%s$pen_sigma' must be positive finite numbers", arg), call. = FALSE)
  if (!is.numeric(out$pen_df) || length(out$pen_df) != 1L || !is.finite(out$pen_df) ||
      out$pen_df <= 0)
    stop(sprintf("'%s$pen_df' must be one positive finite number", arg), call. = FALSE)
  out
}

# The penalty and its gradient at beta (length p); mu and sigma recycled.
penalty_value <- function(prior, beta) {
  p <- length(beta)
  mu <- rep(prior$pen_mu, length.out = p)
  s2 <- rep(prior$pen_sigma, length.out = p)^2
  df <- prior$pen_df
  r <- beta - mu
  quad <- sum(r^2 / s2) / df
  list(value = -0.5 * (df + p) * log1p(quad),
       gradient = -(df + p) / df * (r / s2) / (1 + quad))
}

print_penalty <- function(pen, digits) {
  if (is.null(pen)) return(invisible())
  describe <- function(pr)
    sprintf("multivariate Student-t prior (location %s, scale %s, df %s)",
            paste(format(unique(pr$pen_mu), digits = digits), collapse = ","),
            paste(format(unique(pr$pen_sigma), digits = digits), collapse = ","),
            format(pr$pen_df, digits = digits))
  cat(sprintf("Fixed effects are penalized: %s%s; log-likelihood %s, penalized %s\n",
              describe(pen$prior),
              if (!is.null(pen$prior$zi)) paste0("; zero part: ", describe(pen$prior$zi)) else "",
              format(pen$loglik, digits = digits + 3L),
              format(pen$objective, digits = digits + 3L)))
}

# The objective of a penalized fit: the engine's evaluation `r` (loglik,
# gradient in the search's parameters) with the log prior added. The prior
# acts on beta = Tx^-1 beta*, so its gradient in beta* is Tx^-T times its
# gradient in beta. `r$penalty` records the log prior (0 without one).
penalize <- function(r, prior, beta_star, Tx, grad = TRUE) {
  r$penalty <- 0
  if (is.null(prior)) return(r)
  p <- length(beta_star)
  pv <- penalty_value(prior, backsolve(Tx, beta_star))
  r$penalty <- pv$value
  r$loglik <- r$loglik + pv$value
  if (grad) r$gradient[seq_len(p)] <- r$gradient[seq_len(p)] + forwardsolve(t(Tx), pv$gradient)
  r
}

# The separation check's message for a penalized fit: the estimates are
# finite, but set largely by the prior.
penalized_separation <- function(sep, prior) {
  if (is.null(prior) || !isTRUE(sep$separated)) return(sep)
  sep$message <- paste0(sub(", so the maximum likelihood estimate.*$", "", sep$message),
                        ": the maximum likelihood estimate does not exist; the fit is penalized ",
                        "(penalized = TRUE), so these coefficients are finite but set largely ",
                        "by the prior (posterior mode), not by the data")
  sep
}

# The penalty's Hessian in beta (penalty_value()'s derivative), for the
# curvature a search starts from.
penalty_hessian <- function(prior, beta) {
  p <- length(beta)
  s2 <- rep(prior$pen_sigma, length.out = p)^2
  df <- prior$pen_df
  r <- (beta - rep(prior$pen_mu, length.out = p)) / s2
  den <- 1 + sum(r^2 * s2) / df
  -(df + p) / df * (diag(1 / s2, p) / den - 2 / df * tcrossprod(r) / den^2)
}
