#' How far is the fit's log-likelihood from the exact one?
#'
#' Computes the marginal log-likelihood of a [glmm()] fit at its estimates
#' by a method whose error is known, and sets it beside the value the fit
#' maximized (the Laplace approximation, or adaptive quadrature with the
#' fit's number of nodes).
#'
#' * Several random-effect terms fitted by Laplace (crossed, nested,
#'   slopes): importance sampling of the random effects, with the Laplace
#'   approximation's Gaussian (the conditional modes and the inverse of
#'   their Hessian) as proposal, widened to a multivariate t with `df`
#'   degrees of freedom so that its tails are heavier than the integrand's.
#'   With \eqn{u} the spherical random effects (\eqn{b = \Lambda u},
#'   \eqn{u \sim N(0, I)}) and \eqn{r_k = p(y | u_k) \phi(u_k) / q(u_k)},
#'   \eqn{u_k \sim q}, the estimate is \eqn{\log \bar r} and its Monte
#'   Carlo standard error \eqn{sd(r) / (\bar r \sqrt{N})}. The effective
#'   sample size \eqn{(\sum r)^2 / \sum r^2} says whether the proposal
#'   covers the integrand; below 50 the estimate is flagged.
#' * One grouping factor (also with zero-inflation or dispersion parts and
#'   random effects in the zero part, or in the dispersion formula when the
#'   fit used quadrature), and nested random intercepts fitted
#'   by nested quadrature: adaptive Gauss-Hermite quadrature with `nodes`
#'   points per random effect (exact to many digits for smooth integrands),
#'   beside the fit's own.
#' * Known covariances (binomial and Poisson, Laplace): importance
#'   sampling as for several terms.
#' * Gaussian models with the identity link: the fit's log-likelihood is
#'   exact; the check says so.
#'
#' Not checked (an error says so): structured covariances, penalized and
#' distributed fits, cumulative link models, non-normal random-intercept
#' distributions and several-term fits with zero-inflation or dispersion
#' parts.
#'
#' Whether the error matters for the estimates: one Newton step from them on
#' the accurate log-likelihood (its gradient by the quadrature engine, or for
#' importance sampling by central differences with the same draws at every
#' parameter value, common random numbers, so that it is smooth) says how
#' far, in standard errors, its maximum lies.
#'
#' The difference is the approximation's error in log-likelihood units at
#' these estimates. As a guide, a difference below 0.1 does not move
#' likelihood-ratio tests or information criteria noticeably. A larger one
#' need not move the estimates (an error that is nearly constant in the
#' parameters cancels in the maximization); the Newton step says whether
#' it does (for binary designs with few observations per level, Laplace
#' shrinks the variance components towards zero).
#'
#' @param fit A [glmm()] fit.
#' @param draws Number of importance draws (several-term fits).
#' @param df Degrees of freedom of the t proposal (`Inf` for the Gaussian
#'   proposal itself).
#' @param nodes Quadrature points per random effect for one-factor fits.
#' @param seed Seed for the draws, or `NULL` to use the session's stream;
#'   the session's seed is left as it was either way when `seed` is given.
#' @return An object of class `glmmgee_loglik_check`: a list with
#'   `method`, `fit_loglik`, `loglik` (the accurate value), `se` (its Monte
#'   Carlo standard error; 0 for quadrature and exact values),
#'   `difference` (`loglik - fit_loglik`), `ess` and `draws` (importance
#'   sampling), `approximation` (the fit's) and `shift`: a data frame with,
#'   per parameter, the estimate, one Newton step from it on the accurate
#'   log-likelihood (`one_step`, with the fit's covariance as the inverse
#'   Hessian), that step in standard errors (`shift_se`) and, for importance
#'   sampling, its Monte Carlo standard error in the same units (`mc_se`,
#'   from 10 batches of the draws).
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   cbpp$obs <- factor(seq_len(nrow(cbpp)))
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
#'               data = cbpp, family = binomial)
#'   loglik_check(fit, draws = 2000, seed = 1)
#' }
#' @export
loglik_check <- function(fit, draws = 2000L, df = 20, nodes = 25L, seed = NULL) {
  if (!inherits(fit, "glmmgee_glmm"))
    stop("'fit' must be a glmm() fit", call. = FALSE)
  if (!is.numeric(draws) || length(draws) != 1L || is.na(draws) || draws < 100 || draws != round(draws))
    stop("'draws' must be a whole number of at least 100", call. = FALSE)
  if (!is.numeric(df) || length(df) != 1L || is.na(df) || df <= 0)
    stop("'df' must be a positive number (Inf for a Gaussian proposal)", call. = FALSE)
  if (!is.numeric(nodes) || length(nodes) != 1L || is.na(nodes) || nodes < 2 || nodes > 100 ||
      nodes != round(nodes))
    stop("'nodes' must be a whole number between 2 and 100", call. = FALSE)
  if (!is.null(seed) && (!is.numeric(seed) || length(seed) != 1L || is.na(seed)))
    stop("'seed' must be one number or NULL", call. = FALSE)
  why <- loglik_check_refusal(fit)
  if (!is.null(why))
    stop(sprintf("loglik_check() is not available for %s", why), call. = FALSE)
  eng <- fit_engine(fit)$name
  out <- list(fit_loglik = as.numeric(fit$loglik), approximation = approximation_label(fit), se = 0,
              ess = NA_real_, draws = NA_integer_, shift = NULL)
  if (loglik_is_exact(fit)) {
    out$method <- "exact (gaussian, identity link: the marginal likelihood is in closed form)"
    out$loglik <- out$fit_loglik
  } else if (eng %in% c("agq", "agq_zero_re", "agq_nested")) {
    out$method <- sprintf("%sadaptive Gauss-Hermite quadrature, %d points per random effect",
                          if (eng == "agq_nested") "nested " else "", nodes)
    qd <- loglik_by_quadrature(fit, as.integer(nodes))
    out$loglik <- qd$loglik
    out$shift <- one_step_shift(fit, qd$gradient, NULL)
  } else {
    # The draws come from one seed for every parameter value the gradient
    # visits (common random numbers); the session's stream moves on by one
    # draw (none with `seed`), as if the check had drawn once.
    draw_seed <- function() sample.int(.Machine$integer.max, 1L)
    s0 <- if (is.null(seed)) draw_seed() else with_seed(seed, draw_seed())
    is <- loglik_by_importance(fit, as.integer(draws), df, s0)
    out$method <- sprintf("importance sampling, %d draws from the Laplace Gaussian%s", draws,
                          if (is.finite(df)) sprintf(" widened to t with %g df", df) else "")
    out[c("loglik", "se", "ess")] <- is[c("loglik", "se", "ess")]
    out$draws <- as.integer(draws)
    out$shift <- one_step_shift(fit, is$gradient, is$gradient_se)
  }
  out$difference <- out$loglik - out$fit_loglik
  structure(out, class = "glmmgee_loglik_check")
}

# One Newton step from the fit's estimates on the accurate log-likelihood,
# theta + V g (V the fit's covariance of its parameters, g the accurate
# log-likelihood's gradient at the estimates; parameters on a boundary are
# held): how far the accurate maximum lies, per parameter, in standard
# errors. `gradient_se`: the Monte Carlo standard errors of g, carried to
# the shifts (or NULL).
one_step_shift <- function(fit, g, gradient_se) {
  th <- as.numeric(fit$theta)
  V <- fit$cov_theta
  free <- which(!is.na(diag(V)))
  if (is.null(g) || !length(free)) return(NULL)
  Vf <- V[free, free, drop = FALSE]
  step <- numeric(length(th))
  step[free] <- drop(Vf %*% g[free])
  se <- rep(NA_real_, length(th))
  se[free] <- sqrt(pmax(diag(Vf), 0))
  mc <- if (!is.null(gradient_se)) {
    m <- rep(NA_real_, length(th))
    m[free] <- sqrt(drop((Vf^2) %*% gradient_se[free]^2))
    m / se
  }
  data.frame(parameter = names(fit$theta) %||% paste0("theta", seq_along(th)),
             estimate = th, one_step = th + step, shift_se = step / se,
             mc_se = if (is.null(mc)) NA_real_ else mc, row.names = NULL)
}

# Whether the fit's log-likelihood is exact: linear mixed models (gaussian,
# identity link, no dispersion formula), whose marginal likelihood is in
# closed form.
loglik_is_exact <- function(fit) {
  fam <- fit$family
  fit_engine(fit)$name %in% c("lmm_one_factor", "lmm_sparse", "known_gaussian") ||
    (identical(fam$family, "gaussian") && identical(fam$link, "identity") &&
       is.null(.subset2(fit, "aux")))
}

# Why a fit cannot be checked, or NULL.
loglik_check_refusal <- function(fit) {
  if (loglik_is_exact(fit)) return(NULL)
  eng <- fit_engine(fit)$name
  if (!is.null(.subset2(fit, "penalty"))) return("penalized fits")
  if (inherits(fit, "glmmgee_glmm_sharded")) return("distributed fits (glmm_shards())")
  if (inherits(fit, "glmmgee_glmm_covstruct"))
    return("structured-covariance fits (ar1(), cs(), ...)")
  if (eng == "laplace_sparse" && !is.null(.subset2(fit, "aux")))
    return("zero-inflated, hurdle or dispersion-formula fits with several random-effect terms")
  if (!eng %in% c("agq", "agq_zero_re", "agq_nested", "laplace_sparse", "known_laplace"))
    return(sprintf("fits of the %s engine (%s)", eng, fit_engine(fit)$fits))
  NULL
}

# The log-likelihood of a one-factor (or nested quadrature) fit at its
# estimates by adaptive quadrature with `nodes` points, and its gradient
# (the fit's engine, rebuilt on the basis of its quadrature,
# fit_basis_engine(); for nested quadrature by central differences, as the
# fit takes it).
loglik_by_quadrature <- function(fit, nodes) {
  nested <- fit_engine(fit)$name == "agq_nested"
  pe <- if (nested) nested_profile_engine(fit, nodes) else fit_basis_engine(fit, "loglik_check()")
  on.exit(pe$free(), add = TRUE)
  th <- as.numeric(fit$theta)
  if (!is.null(pe$to_engine)) th <- pe$to_engine(th)
  th <- theta_star(th, pe$Tx)
  if (!nested) {
    # (a location-scale fit by quadrature keeps the several-term layout:
    # its effects per cluster are both parts' terms' columns)
    dre <- fit$aux$disp$re
    q <- if (!is.null(dre)) sum(lengths(lapply(c(fit$reterms, dre$terms), `[[`, "cnames")))
         else ncol(as.matrix(fit$Z %||% matrix(1, 1, 1))) + NCOL(.subset2(fit$aux$zi$re, "Z"))
    if (nodes^q > 1e6)
      stop(sprintf("loglik_check(): %d nodes for %d random effects per cluster make %.3g points; use fewer 'nodes'",
                   nodes, q, nodes^q), call. = FALSE)
    eng <- environment(pe$eval)$eng
    if (inherits(eng, "glmmgee_two_part_engine")) cpp_two_part_set_nagq(eng, nodes)
    else cpp_agq_set_nagq(eng, nodes)
  }
  r <- pe$eval(th)
  g <- gradient_unstar(r$gradient, pe$Tx)
  if (!is.null(pe$jac)) g <- drop(crossprod(pe$jac(as.numeric(fit$theta)), g))
  list(loglik = r$loglik, gradient = g)
}

# Importance sampling of the marginal log-likelihood of a several-term
# Laplace fit at its estimates (see loglik_check()), from the draws of seed
# `s0`, and its gradient by central differences with the same draws at each
# parameter value (importance_value(), importance-sampling.R), on a sparse
# engine rebuilt from the fit in the fit's parameterization.
loglik_by_importance <- function(fit, draws, df, s0) {
  fam <- fit$family
  n <- length(fit$y)
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  off <- as.numeric(fit$offset %||% rep(0, n))
  ax <- profile_aux_inputs(fit)
  re <- sparse_re_terms(fit$formula, fit$model, fit_known_covariance(fit, "loglik_check()"))
  eng <- cpp_sparse_new(ax$X, re$Z, y, w, off, re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L,
                        re$ntheta, fam$family_code, fam$link_code)
  sampler <- importance_sampler(eng, ax$X, re$Z, y, w, off, re, fam, draws, df, s0)
  user <- function(theta, check = FALSE) sampler(theta_star(theta, ax$Tx), check)
  th <- as.numeric(fit$theta)
  v <- cov_diag(fit$cov_theta)
  se <- sqrt(pmax(v, 0))
  h <- ifelse(is.na(v) | se == 0, NA_real_, 1e-2 * se)
  iv <- importance_value(user, th, h, at = user(th, check = TRUE))
  iv$gradient[!is.finite(h)] <- NA_real_
  iv
}

#' @export
print.glmmgee_loglik_check <- function(x, digits = 4, ...) {
  check_dots(..., .method = "print.glmmgee_loglik_check")
  cat("Log-likelihood of the fit at its estimates\n")
  cat(sprintf("  fit (%s): %s\n", x$approximation, format(x$fit_loglik, nsmall = 2, digits = 10)))
  cat(sprintf("  %s: %s%s\n", x$method, format(x$loglik, nsmall = 2, digits = 10),
              if (x$se > 0) sprintf(" (Monte Carlo SE %.2g)", x$se) else ""))
  if (!is.na(x$ess))
    cat(sprintf("  effective sample size %.0f of %d draws%s\n", x$ess, x$draws,
                if (x$ess < 50) " (low: the proposal covers the integrand poorly; the SE may understate the error)" else ""))
  d <- x$difference
  verdict <- if (x$se == 0 && abs(d) < 1e-6) "the fit's value is exact to 1e-6" else
    if (abs(d) <= max(3 * x$se, 0.01)) "no error detectable at this precision" else
      if (abs(d) < 0.1) "a small error: likelihood-ratio tests and information criteria are not moved noticeably" else
        "an error that moves likelihood-ratio tests and AIC against fits by another approximation by about this much (whether it moves the estimates: below)"
  cat(sprintf("  difference %s%s: %s\n", formatC(d, digits = digits, format = "g"),
              if (x$se > 0) sprintf(" (%.1f SE)", d / x$se) else "", verdict))
  sh <- x$shift
  if (!is.null(sh) && any(is.finite(sh$shift_se))) {
    cat("\nOne Newton step on the accurate log-likelihood from the fit's estimates\n")
    tab <- data.frame(estimate = sh$estimate, one_step = sh$one_step,
                      `shift (SEs)` = sh$shift_se, check.names = FALSE, row.names = sh$parameter)
    if (any(is.finite(sh$mc_se))) tab[["Monte Carlo SE"]] <- sh$mc_se
    print(tab, digits = digits)
    big <- is.finite(sh$shift_se) & abs(sh$shift_se) > 0.1 &
      (!is.finite(sh$mc_se) | abs(sh$shift_se) > 2 * sh$mc_se)
    cat(if (!any(big)) "  the estimates would move by less than a tenth of a standard error\n" else
      sprintf("  the estimates of %s would move by more than a tenth of a standard error: the approximation matters for them\n",
              paste(sQuote(sh$parameter[big], FALSE), collapse = ", ")))
  }
  invisible(x)
}
