# Means over the random-effect distribution, E_b[ h(eta + z'b) ] with
# b ~ N(0, D) and h the inverse link.
#
# z'b is normal with variance s^2 = z'Dz, so the q-dimensional integral is a
# one-dimensional one for every observation: E[h(eta + s T)], T ~ N(0, 1),
# exactly (no approximation in the reduction). That integral is computed by
# the trapezoidal rule on the real line, which converges geometrically for
# integrands analytic in a strip around the real axis (Trefethen and
# Weideman, 2014, SIAM Review 56, 385-458): with step h the error is of
# order exp(-2 pi a / h), a the half-width of the strip. For the inverse
# logit the strip is |Im t| < pi / s; the normal density needs h below about
# 0.8. A step of min(0.5, 0.5 / s) therefore gives about 1e-15 for every
# link the package supports (inverse logit, normal CDF, inverse cloglog and
# exp are analytic in such strips), where a fixed Gauss-Hermite rule loses
# accuracy fast as s grows (at s = 5, 200 nodes give only 1e-8).
# The range [-(9 + s), 9 + s] covers the normal tail below 1e-18 even for
# the log link, whose integrand peaks at t = s.

# Nodes and weights for E[f(T)], T ~ N(0, 1), adequate for scales up to
# smax.
normal_grid <- function(smax) {
  smax <- max(smax, 0)
  h <- min(0.5, 0.5 / max(smax, 1e-8))
  L <- 9 + smax
  t <- seq(0, L + h, by = h)
  t <- c(-rev(t[-1L]), t)
  w <- h * stats::dnorm(t)
  list(t = t, w = w / sum(w))
}

# For eta (n) and s (n): the marginal mean E[h(eta + sT)] and, when
# derivs = TRUE, its derivatives in eta, E[h'(eta + sT)], and in s,
# E[T h'(eta + sT)]. Vectorised over observations, in chunks that bound the
# n x K matrices at about two million entries.
marginal_mean <- function(eta, s, family, derivs = FALSE, chunk = 2^21) {
  n <- length(eta)
  if (length(s) != n) stop("internal: eta and s differ in length", call. = FALSE)
  mean <- d_eta <- d_s <- numeric(n)
  zero <- s <= 0
  if (any(zero)) {
    mean[zero] <- family$linkinv(eta[zero])
    if (derivs) d_eta[zero] <- family$mu.eta(eta[zero])
  }
  idx <- which(!zero)
  if (!length(idx)) return(list(mean = mean, d_eta = d_eta, d_s = d_s))
  g <- normal_grid(max(s[idx]))
  check_link_pole(family, eta[idx], s[idx], max(g$t))
  K <- length(g$t)
  step <- max(1L, floor(chunk / K))
  for (start in seq(1L, length(idx), by = step)) {
    r <- idx[start:min(length(idx), start + step - 1L)]
    E <- eta[r] + outer(s[r], g$t)
    # Some families return plain vectors (gaussian's mu.eta): keep the shape.
    as_grid <- function(v) if (is.matrix(v)) v else matrix(v, nrow(E), ncol(E))
    mean[r] <- drop(as_grid(family$linkinv(E)) %*% g$w)
    if (derivs) {
      D <- as_grid(family$mu.eta(E))
      d_eta[r] <- drop(D %*% g$w)
      d_s[r] <- drop(D %*% (g$w * g$t))
    }
  }
  list(mean = mean, d_eta = d_eta, d_s = d_s)
}

# The inverse and 1/mu^2 links have their pole at eta = 0 (mu = 1 / eta,
# 1 / sqrt(eta)): E[h(eta + s T)] diverges (or is undefined) whenever the
# normal random effect reaches it, and the rule above, which assumes an
# integrand analytic near the real line, returned finite values there.
# Refused, as the binomial log link's marginal means of 0 are
# (marginal_coefs()), when the pole lies within the rule's range (`L`
# standard deviations: beyond, the mass is below 1e-18).
check_link_pole <- function(family, eta, s, L) {
  if (!isTRUE(family$link %in% c("inverse", "1/mu^2"))) return(invisible())
  far <- abs(eta) / s
  if (all(far > L)) return(invisible())
  stop(sprintf(paste0("the marginal means of this %s(\"%s\") model are not defined: the normal random effect ",
                      "puts probability %.2g on the far side of eta = 0, where the inverse link has its pole, ",
                      "so E[h(eta + b)] diverges; use a link without a pole (e.g. \"log\") for marginal quantities"),
               family$family, family$link, stats::pnorm(-min(far))), call. = FALSE)
}

# Standard deviation of z'b for each row of Z, and its derivatives in the
# free entries of Lambda: s^2 = |Lambda' z|^2, so
# ds / dLambda[r, c] = z_r (Lambda' z)_c / s (zero where s = 0).
re_scale <- function(Z, Lambda, pattern, derivs = FALSE) {
  A <- Z %*% Lambda
  s <- sqrt(rowSums(A^2))
  if (!derivs) return(list(s = s))
  inv <- ifelse(s > 0, 1 / s, 0)
  J <- Z[, pattern$row, drop = FALSE] * A[, pattern$col, drop = FALSE] * inv
  list(s = s, ds = J)
}

# Means of a glmm at design (X, Z, offset) and parameters theta, either
# integrated over the random effects ("marginal") or with b = 0
# ("conditional"), with the Jacobian of the means in theta when asked.
# `star`: the fit's standardized covariance (cov_star_of()), along whose
# parameters a numerical Jacobian is taken (difference_jacobian()).
glmm_means <- function(re, family, theta, X, Z, offset, re_mode, jacobian = FALSE,
                       aux = NULL, star = NULL) {
  # Two-part models: the mean of y involves the zero part (marginal-zi.R).
  if (!is.null(re$aux) && re$aux$kind != "disp")
    return(zi_means(re, family, theta, X, Z, offset, aux, re_mode, jacobian, star))
  p <- re$p
  eta <- drop(X %*% theta[seq_len(p)]) + offset
  if (re_mode == "conditional") {
    mu <- family$linkinv(eta)
    if (!jacobian) return(list(mean = mu))
    J <- matrix(0, length(eta), re$ntheta)
    J[, seq_len(p)] <- X * family$mu.eta(eta)
    return(list(mean = mu, jacobian = J))
  }
  if (!is.null(re$dist)) return(dist_means(re$dist, family, theta, X, offset, jacobian))
  sc <- re_scale(Z, lambda_of(re, theta), re$pattern, derivs = jacobian)
  m <- marginal_mean(eta, sc$s, family, derivs = jacobian)
  if (!jacobian) return(list(mean = m$mean))
  J <- matrix(0, length(eta), re$ntheta)
  J[, seq_len(p)] <- X * m$d_eta
  J[, re$lambda_index] <- sc$ds * m$d_s
  list(mean = m$mean, jacobian = J)
}
