# Means of y in the two-part models (zero-inflated, hurdle), for
# standardize() and marginal_coefs(): over the random effect
# ("marginal") or at b = 0 ("conditional"). The zero part has no random
# effect, so with s the standard deviation of z'b:
#   zero-inflated:  E y = (1 - pi) E_b[mu] = (1 - pi) exp(eta + s^2 / 2),
#   hurdle:         E y = (1 - pi) E_T[h(eta + s T)],  h = mu / (1 - f(0; mu)),
# the latter by the trapezoidal rule of marginal-mean.R. The Jacobian in
# theta (all parameters: fixed effects, Lambda, zero and dispersion
# coefficients) by central differences, accurate far beyond the sampling
# error it feeds.

# The zero and dispersion designs of a zi fit at new data.
zi_aux_designs <- function(fit, data) {
  one <- function(pt) {
    if (is.null(pt) || is.null(pt$terms)) return(NULL)
    mf <- stats::model.frame(pt$terms, data, na.action = stats::na.pass, xlev = pt$xlevels)
    stats::model.matrix(pt$terms, mf, contrasts.arg = pt$contrasts)
  }
  if (isTRUE(fit$aux$zi$re$sparse))
    stop("'fit': means over the random effects of both parts (standardize(), marginal_coefs()) are available with the zero part's random effects on the conditional part's single grouping factor, not yet with other zero-part terms",
         call. = FALSE)
  if (!is.null(fit$aux$zi$re) && identical(fit$family$family, "binomial"))
    stop("'fit': means over the random effects of both parts (standardize(), marginal_coefs()) are not yet available for a zero-inflated binomial model with random effects in the zero part",
         call. = FALSE)
  zre <- if (!is.null(fit$aux$zi$re)) zire_design_at(fit, data)
  Filter(Negate(is.null), list(zi = one(fit$aux$zi), disp = one(fit$aux$disp), zre = zre))
}

zi_means <- function(re, family, theta, X, Z, offset, aux, re_mode, jacobian) {
  a <- re$aux
  n <- nrow(X)
  p <- re$p
  Xz <- aux$zi %||% a$zi$X
  Xd <- aux$disp %||% a$disp$X
  if (!is.null(a$disp_index) && is.null(Xd)) Xd <- matrix(1, n, 1L)
  mean_at <- function(th) {
    eta <- drop(X %*% th[seq_len(p)]) + offset
    s <- if (re_mode == "conditional") rep(0, n) else re_scale(Z, lambda_of(re, th), re$pattern)$s
    if (!is.null(a$zi$re) && re_mode != "conditional") {
      phi <- if (!is.null(a$disp_index)) drop(Xd %*% th[a$disp_index])
      return(zire_marginal_mean(a, family, th, eta, drop(Xz %*% th[a$zi_index]), phi, p,
                                Z, aux$zre %||% a$zi$re$Z))
    }
    pz <- if (is.null(a$zi_index)) rep(0, n) else stats::plogis(drop(Xz %*% th[a$zi_index]))
    if (a$kind == "zi") return((1 - pz) * exp(eta + s^2 / 2))
    phi <- if (!is.null(a$disp_index)) drop(Xd %*% th[a$disp_index])
    h <- function(E, ph) {
      mu <- exp(E)
      mu / -expm1(log(count_p0(family, mu, ph)))
    }
    g <- normal_grid(max(s))
    E <- eta + outer(s, g$t)
    Ph <- if (is.null(phi)) NULL else matrix(phi, n, length(g$t))
    (1 - pz) * drop(h(E, Ph) %*% g$w)
  }
  m <- mean_at(theta)
  if (!jacobian) return(list(mean = m))
  J <- matrix(0, n, length(theta))
  for (k in seq_along(theta)) {
    hk <- 1e-5 * max(1, abs(theta[k]))
    tp <- tm <- theta
    tp[k] <- tp[k] + hk
    tm[k] <- tm[k] - hk
    J[, k] <- (mean_at(tp) - mean_at(tm)) / (2 * hk)
  }
  list(mean = m, jacobian = J)
}
