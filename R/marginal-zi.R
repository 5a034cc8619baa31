# Means of y in the two-part models (zero-inflated, hurdle), for
# standardize() and marginal_coefs(): over the random effect
# ("marginal") or at b = 0 ("conditional"). When the zero part has no random
# effect, with s the standard deviation of z'b:
#   zero-inflated:  E y = (1 - pi) E_b[mu] = (1 - pi) exp(eta + s^2 / 2),
#   hurdle:         E y = (1 - pi) E_T[h(eta + s T)],  h = mu / (1 - f(0; mu)),
# the latter by the trapezoidal rule of marginal-mean.R. The Jacobian in
# theta (all parameters: fixed effects, Lambda, zero and dispersion
# coefficients) by central differences (difference_jacobian(): along the
# standardized parameters of a fit that kept them, `star`), accurate far
# beyond the sampling error it feeds. Random effects in the zero part: zi_random_marginal_mean()
# (glmm-zi-random.R) on the conditional part's grouping factor, with a joint
# covariance; zi_random_sparse_mean() below for the two-part sparse engine's
# terms.

# The zero and dispersion designs of a zi fit at new data.
zi_aux_designs <- function(fit, data) {
  one <- function(pt) {
    if (is.null(pt) || is.null(pt$terms)) return(NULL)
    mf <- stats::model.frame(pt$terms, data, na.action = stats::na.pass, xlev = pt$xlevels)
    stats::model.matrix(pt$terms, mf, contrasts.arg = pt$contrasts)
  }
  # The parts' offset() terms at the data, as one-column matrices (subset
  # by rows like the designs).
  one_off <- function(pt) {
    if (is.null(pt$offset) || is.null(pt$terms)) return(NULL)
    mf <- stats::model.frame(pt$terms, data, na.action = stats::na.pass, xlev = pt$xlevels)
    matrix(newdata_part_offset(pt, mf), ncol = 1L)
  }
  sparse_zre <- isTRUE(fit$aux$zi$re$sparse)
  if (!sparse_zre && !is.null(fit$aux$zi$re) && identical(fit$family$family, "binomial"))
    stop("'fit': means over the random effects of both parts (standardize(), marginal_coefs()) are not yet available for a zero-inflated binomial model with random effects in the zero part on the conditional part's grouping factor",
         call. = FALSE)
  env <- environment(fit$formula) %||% parent.frame()
  zre <- if (sparse_zre) {
    # The zero part's covariates of each row's levels, as
    # re_structure_sparse()'s Z (columns term by term).
    sparse_design_z(list(reterms = fit$aux$zi$re$terms, model = fit$model), data, env)
  } else if (!is.null(fit$aux$zi$re)) zi_random_design_at(fit, data)
  # (a hurdle's mean depends on the dispersion's random effects too)
  dre <- if (identical(fit$aux$kind, "hurdle") && !is.null(fit$aux$disp$re))
    sparse_design_z(list(reterms = fit$aux$disp$re$terms, model = fit$model), data, env)
  Filter(Negate(is.null), list(zi = one(fit$aux$zi), disp = one(fit$aux$disp), zre = zre,
                               dre = dre, zi_off = one_off(fit$aux$zi),
                               disp_off = one_off(fit$aux$disp)))
}

zi_means <- function(re, family, theta, X, Z, offset, aux, re_mode, jacobian, star = NULL) {
  a <- re$aux
  n <- nrow(X)
  p <- re$p
  Xz <- aux$zi %||% a$zi$X
  Xd <- aux$disp %||% a$disp$X
  if (!is.null(a$disp_index) && is.null(Xd)) Xd <- matrix(1, n, 1L)
  # The parts' offsets: at the given rows (aux, from zi_aux_designs()) or
  # the fit's own (its data).
  oz <- if (is.null(aux$zi)) a$zi$offset %||% 0 else drop(aux$zi_off %||% 0)
  od <- if (is.null(aux$disp)) a$disp$offset %||% 0 else drop(aux$disp_off %||% 0)
  # At th + d (difference_jacobian()), each linear predictor as X th + X d.
  lin <- function(M, th, d, i) {
    v <- drop(M %*% th[i])
    if (is.null(d)) v else v + drop(M %*% d[i])
  }
  mean_at <- function(th, d = NULL) {
    eta <- lin(X, th, d, seq_len(p)) + offset
    alink <- if (!is.null(a$zi_index)) lin(Xz, th, d, a$zi_index) + oz
    phi <- if (!is.null(a$disp_index)) lin(Xd, th, d, a$disp_index) + od
    if (!is.null(d)) th <- th + d
    s <- if (re_mode == "conditional") rep(0, n) else re_scale(Z, lambda_of(re, th), re$pattern)$s
    # (a hurdle's dispersion effects: the SD of each row's z_d'v)
    sd <- if (!is.null(re$dre) && re_mode != "conditional")
      re_scale(aux$dre %||% re$dre$Z, lambda_of(re$dre, th), re$dre$pattern)$s
    if (!is.null(a$zi$re) && re_mode != "conditional") {
      if (isTRUE(a$zi$re$sparse)) {
        Zz <- aux$zre %||% re$zre$Z
        sz <- re_scale(Zz, lambda_of(re$zre, th), re$zre$pattern)$s
        return(zi_random_sparse_mean(a$kind, family, eta, alink, phi, s, sz, sd))
      }
      return(zi_random_marginal_mean(a, family, th, eta, alink, phi, p,
                                Z, aux$zre %||% a$zi$re$Z))
    }
    pz <- if (is.null(a$zi_index)) rep(0, n) else stats::plogis(alink)
    (1 - pz) * count_part_mean(a$kind, family, eta, phi, s, sd)
  }
  m <- mean_at(theta)
  if (!jacobian) return(list(mean = m))
  list(mean = m, jacobian = difference_jacobian(mean_at, theta, star))
}

# E over z'b ~ N(0, s^2) of the count part's mean of y given it is not a
# structural zero: zero-inflated, mu = linkinv(eta + z'b) (exp(eta + s^2/2)
# for the log link; the trapezoidal rule for a binomial's link); hurdle,
# the zero-truncated mean h = mu / (1 - f(0; mu)) by the trapezoidal rule.
# `sd`: the SD of each row's dispersion effects z_d'v (random effects in
# the dispersion formula, independent of b), over which a hurdle's h is
# integrated too, by the same rule in the log dispersion; NULL for none.
count_part_mean <- function(kind, family, eta, phi, s, sd = NULL) {
  if (kind == "zi") {
    if (identical(family$link, "log")) return(exp(eta + s^2 / 2))
    return(marginal_mean(eta, s, family)$mean)
  }
  g <- normal_grid(max(s))
  E <- eta + outer(s, g$t)
  mu <- exp(E)
  h <- function(ph) {
    Ph <- if (is.null(ph)) NULL else matrix(ph, length(eta), length(g$t))
    drop((mu / -expm1(log(count_p0(family, mu, Ph)))) %*% g$w)
  }
  if (is.null(sd) || !any(sd > 0)) return(h(phi))
  gd <- normal_grid(max(sd))
  out <- 0
  for (k in seq_along(gd$t)) out <- out + gd$w[[k]] * h(phi + sd * gd$t[[k]])
  out
}

# E y over the random effects of both parts fitted by the two-part sparse
# engine (glmmTMB's model: the parts' effects independent of each other,
# each term's independent of the others'). Whatever terms touch a row, the
# count part's z'b is normal with variance sc^2 = sum over its terms of
# z_t' D_t z_t, and the zero part's z_z'b_z normal with variance sz^2
# likewise, independent of it; so the integral over all the row's effects
# is exactly a product of two one-dimensional integrals:
#   E y = (1 - E_T[plogis(alink + sz T)]) * E_T[m(eta + sc T)],
# m the count part's mean (zero-truncated for a hurdle model), no
# approximation beyond the trapezoidal rules of marginal-mean.R.
zi_random_sparse_mean <- function(kind, family, eta, alink, phi, sc, sz, sd = NULL) {
  epi <- marginal_mean(alink, sz, stats::binomial())$mean
  (1 - epi) * count_part_mean(kind, family, eta, phi, sc, sd)
}
