# Profile-likelihood intervals of a bridge or nonparametric random-intercept
# fit (glmm(ranef_dist = ...)). Their parameters are not those of the
# normal engines (the bridge's phi, the mass points and their weights), so
# the profile runs on the distribution engine (fit-ranef-dist.R), traced by
# profile()'s driver as every other profile.
#
# Profiled: every fixed effect; for the bridge, phi, reported as the
# standard deviation of the bridge distribution (a decreasing function of
# phi, bridge_variance()). The nonparametric fit's intercept is the mean
# of its mass points, profiled through the mass points shifted together
# (a_k = v + d_k - sum_k w_k d_k); its mass points and weights themselves
# have no interval (their number is fixed, their labels exchangeable).

# The range of the bridge's phi in its profile's searches.
bridge_phi_range <- c(1e-3, 0.999)

# The engine of a dist fit for profile(): eval of its free vector (the
# bridge's (beta, phi); the nonparametric fit's (beta without the
# intercept, mass points, log-weights after the first)), its bounds, its
# value at the estimates (`hat`) and the position of each fixed effect in
# it (`beta_pos`; 0 for the nonparametric intercept).
dist_profile_engine <- function(fit) {
  dist <- fit$ranef_dist
  p <- dist$p
  cl <- if (is.list(fit$group)) fit$group else cluster_index(fit$group, "group")
  X <- fit$X
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights)
  off <- as.numeric(fit$offset)
  th <- unname(fit$theta)
  out <- list(free = function() NULL, Tx = NULL, type = dist$type, p = p)
  # A search with a parameter held that does not converge gives no profile
  # value (and so no limit on that side): on a flat profile (the
  # nonparametric intercept's upper side when clusters' responses are all
  # 1: a mass point moves out at no cost) nlminb ran out of iterations at a
  # value 2.4 below the fit's and the limit came out at 1e4.
  edge <- structure(function(theta, converged) !is.null(theta) && !converged,
                    why = "the search with it held does not converge (a flat profile or a likelihood that does not fall)")
  if (dist$type == "bridge") {
    eng <- dist_engine(X, y, w, off, cl, fit$family)
    return(c(out, list(eval = structure(function(par) eng(par[seq_len(p)], 0L, par[p + 1L]),
                                        edge = edge),
                       lower = c(rep(-Inf, p), bridge_phi_range[1L]),
                       upper = c(rep(Inf, p), bridge_phi_range[2L]),
                       hat = th[seq_len(p + 1L)], beta_pos = seq_len(p))))
  }
  k <- dist$k
  int <- dist$intercept
  eng <- dist_engine(X[, -int, drop = FALSE], y, w, off, cl, fit$family)
  ev <- function(par) {
    r <- eng(par[seq_len(p - 1L)], 1L,
             c(par[p - 1L + seq_len(k)], 0, par[p - 1L + k + seq_len(k - 1L)]))
    r$gradient <- r$gradient[-(p - 1L + k + 1L)]
    r
  }
  attr(ev, "edge") <- edge
  alpha <- th[p + k + seq_len(k)]
  pos <- integer(p)
  pos[-int] <- seq_len(p - 1L)
  c(out, list(eval = ev, lower = c(rep(-Inf, p - 1L + k), rep(-30, k - 1L)),
              upper = c(rep(Inf, p - 1L + k), rep(30, k - 1L)),
              hat = c(th[seq_len(p)][-int], th[p + seq_len(k)], (alpha - alpha[1L])[-1L]),
              beta_pos = pos, k = k))
}

# The targets of a dist fit on its engine's free vector: a fixed effect at
# its position (the bridge's sd is at phi's already, dist_sd_targets());
# the nonparametric intercept, the weighted mean of the mass points, by
# dist_intercept_map().
# The nonparametric standard deviation has no profile (dist_profiled()).
dist_profile_targets <- function(targets, eng) {
  lapply(targets, function(tg) {
    tg$cov <- NULL
    if (tg$kind != "coef" || tg$log) return(tg)
    tg$pos <- eng$beta_pos[tg$pos]
    if (tg$pos > 0L) return(tg)
    tg$map <- dist_intercept_map(eng)
    tg$estimate <- sum(dist_weights(eng$hat, eng) * eng$hat[eng$p - 1L + seq_len(eng$k)])
    tg
  })
}

# Which of the targets of a dist fit have a profile: all but the
# nonparametric standard deviation.
dist_profiled <- function(fit, targets)
  vapply(targets, function(tg) fit$ranef_dist$type == "bridge" || tg$kind != "sd", TRUE)

# The mass points' weights of a nonparametric free vector.
dist_weights <- function(par, eng) {
  al <- c(0, par[eng$p - 1L + eng$k + seq_len(eng$k - 1L)])
  e <- exp(al - max(al))
  e / sum(e)
}

# The nonparametric intercept held at x: the free vector is the whole one,
# its mass points a shifted to a + x - sum(w a) (w the weights of its
# log-weights). The gradient by the chain rule: d/da_i = g_i - w_i S and
# d/dalpha_l = g_alpha_l - S w_l (a_l - sum(w a)), S the sum of the mass
# points' gradient.
dist_intercept_map <- function(eng) {
  ia <- eng$p - 1L + seq_len(eng$k)
  ial <- eng$p - 1L + eng$k + seq_len(eng$k - 1L)
  list(free = function(th) th,
       theta = function(x, z) {
         z[ia] <- x + z[ia] - sum(dist_weights(z, eng) * z[ia])
         z
       },
       grad = function(g, x, z) {
         wk <- dist_weights(z, eng)
         a <- z[ia]
         S <- sum(g[ia])
         g[ial] <- g[ial] - S * (wk * (a - sum(wk * a)))[-1L]
         g[ia] <- g[ia] - wk * S
         g
       },
       lower = eng$lower, upper = eng$upper)
}

# The standard-deviation target of a bridge or nonparametric fit (for
# Wald and bootstrap intervals): the generic one read theta's entry at
# Lambda's position, which is the bridge's phi or the first mass point
# (confint() printed phi's interval as the sd's). The bridge sd is
# (pi / sqrt(3)) sqrt(1 / phi^2 - 1), its standard error by the delta
# method from phi's; the nonparametric sd is that of the mass points, with
# no Wald standard error.
dist_sd_targets <- function(targets, fit, V) {
  dist <- fit$ranef_dist
  for (k in seq_along(targets)) {
    tg <- targets[[k]]
    if (!identical(tg$kind, "sd")) next
    if (dist$type == "bridge") {
      j <- dist$p + 1L
      phi <- unname(fit$theta[[j]])
      sd <- sqrt(bridge_variance(phi))
      dsd <- if (sd > 0) -(pi^2 / 3) / (phi^3 * sd) else NA_real_
      # profiled through phi = (1 + 3 sd^2 / pi^2)^-1/2 (target_map()), to
      # the sds at phi's bounds
      tg <- c(tg[setdiff(names(tg), c("kind", "pos", "closed", "log", "estimate", "se"))],
              list(kind = "coef", pos = j, log = TRUE, estimate = sd,
                   se = abs(dsd) * sqrt(max(V[j, j], 0)),
                   closed = sqrt(bridge_variance(rev(bridge_phi_range))),
                   to_theta = function(x) 1 / sqrt(1 + 3 * x^2 / pi^2)))
    } else {
      tg$estimate <- sqrt(dist$variance)
      tg$se <- NA_real_
    }
    targets[[k]] <- tg
  }
  targets
}
