# Profile-likelihood intervals of a bridge or nonparametric random-intercept
# fit (glmm(ranef_dist = ...)). Their parameters are not those of the
# normal engines (the bridge's phi, the mass points and their weights), so
# the profile runs on the distribution engine (fit-ranef-dist.R): for each
# parameter, the log-likelihood maximized over the others with that one
# held, and the interval's ends where twice its fall reaches the chi-square
# quantile (Venzon and Moolgavkar, 1988, by root finding).
#
# Profiled: every fixed effect; for the bridge, phi, reported as the
# standard deviation of the bridge distribution (a decreasing function of
# phi, bridge_variance()). The nonparametric fit's intercept is the mean
# of its mass points, profiled through the mass points shifted together
# (a_k = v + d_k - sum_k w_k d_k); its mass points and weights themselves
# have no interval (their number is fixed, their labels exchangeable).

# The engine and the free parameters of a dist fit: fn/gr of the free
# vector, its bounds and value at the estimates, and the positions of the
# fixed effects in it.
dist_profile_problem <- function(fit) {
  dist <- fit$ranef_dist
  p <- dist$p
  cl <- if (is.list(fit$group)) fit$group else cluster_index(fit$group, "group")
  X <- fit$X
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights)
  off <- as.numeric(fit$offset)
  th <- unname(fit$theta)
  if (dist$type == "bridge") {
    eng <- dist_engine(X, y, w, off, cl, fit$family)
    ll <- function(par) eng(par[seq_len(p)], 0L, par[p + 1L])
    return(list(ll = function(par) ll(par)$loglik, gr = function(par) ll(par)$gradient,
                lower = c(rep(-Inf, p), 1e-3), upper = c(rep(Inf, p), 0.999),
                hat = th[seq_len(p + 1L)], beta_pos = seq_len(p), type = "bridge"))
  }
  k <- dist$k
  int <- dist$intercept
  eng <- dist_engine(X[, -int, drop = FALSE], y, w, off, cl, fit$family)
  unpack <- function(par) list(beta = par[seq_len(p - 1L)], a = par[p - 1L + seq_len(k)],
                               alpha = c(0, par[p - 1L + k + seq_len(k - 1L)]))
  ev <- function(par) { u <- unpack(par); eng(u$beta, 1L, c(u$a, u$alpha)) }
  alpha <- th[p + k + seq_len(k)]
  hat <- c(th[seq_len(p)][-int], th[p + seq_len(k)], (alpha - alpha[1L])[-1L])
  pos <- integer(p)
  pos[-int] <- seq_len(p - 1L)
  list(ll = function(par) ev(par)$loglik,
       gr = function(par) ev(par)$gradient[-(p - 1L + k + 1L)],
       lower = c(rep(-Inf, p - 1L + k), rep(-30, k - 1L)),
       upper = c(rep(Inf, p - 1L + k), rep(30, k - 1L)), hat = hat, beta_pos = pos,
       int = int, k = k, p = p, type = "nonparametric")
}

# The profile log-likelihood of one parameter: `set(v, z)` the free vector
# with the parameter at v and the others z; z searched by nlminb from the
# last point (warm starts along the profile).
dist_profile_fun <- function(pr, set, free0, zlower, zupper) {
  z_last <- free0
  function(v) {
    fn <- function(z) -pr$ll(set(v, z))
    val <- fn(z_last)
    if (!is.finite(val)) z_last <<- free0
    o <- tryCatch(stats::nlminb(z_last, fn, lower = zlower, upper = zupper,
                                control = list(rel.tol = 1e-10, iter.max = 300, eval.max = 600)),
                  error = function(e) NULL)
    if (is.null(o) || !is.finite(o$objective)) return(NA_real_)
    z_last <<- o$par
    -o$objective
  }
}

# The interval of one parameter from its profile `prof`, estimate `est`,
# standard error `se` (a first step) and range [lo, hi]: the points where
# 2 (ll_hat - prof) = qchisq(level, 1), found by stepping out and
# uniroot(); an end of the range is the limit when the profile stays above
# the cut-off up to it.
dist_profile_limits <- function(prof, est, se, lo, hi, ll_hat, level) {
  cut <- stats::qchisq(level, 1) / 2
  dev <- function(v) {
    l <- prof(v)
    if (is.na(l)) NA_real_ else (ll_hat - max(l, -Inf)) - cut
  }
  step0 <- if (is.finite(se) && se > 0) se else 0.1 * max(1, abs(est))
  side <- function(dir) {
    a <- est
    step <- step0
    for (i in seq_len(40L)) {
      b <- a + dir * step
      if (dir < 0 && b <= lo) b <- lo + (a - lo) / 2
      if (dir > 0 && b >= hi) b <- hi - (hi - a) / 2
      db <- dev(b)
      if (is.na(db)) return(NA_real_)
      if (db > 0) {
        r <- tryCatch(stats::uniroot(dev, sort(c(a, b)), tol = 1e-8 * max(1, abs(b)))$root,
                      error = function(e) NA_real_)
        return(r)
      }
      if (abs(b - (if (dir < 0) lo else hi)) < 1e-8 * max(1, abs(b))) return(if (dir < 0) lo else hi)
      a <- b
      step <- step * 2
    }
    if (dir < 0) lo else hi
  }
  c(side(-1), side(1))
}

# confint(method = "profile") of a bridge or nonparametric fit, for the
# targets `names` (profile_targets()' names). A target without a profile
# (the nonparametric mass points) is NA, said in a warning.
confint_profile_dist <- function(fit, names, level) {
  pr <- dist_profile_problem(fit)
  ll_hat <- pr$ll(pr$hat)
  V <- fit$cov_theta
  coefs <- names(fit$coefficients)
  out <- matrix(NA_real_, length(names), 2L)
  none <- character()
  for (i in seq_along(names)) {
    nm <- names[i]
    j <- match(nm, coefs)
    if (!is.na(j) && !(pr$type == "nonparametric" && j == pr$int)) {
      f <- pr$beta_pos[j]
      set <- function(v, z) { par <- numeric(length(pr$hat)); par[-f] <- z; par[f] <- v; par }
      prof <- dist_profile_fun(pr, set, pr$hat[-f], pr$lower[-f], pr$upper[-f])
      out[i, ] <- dist_profile_limits(prof, pr$hat[f], sqrt(max(V[j, j], 0)), -Inf, Inf,
                                      ll_hat, level)
    } else if (!is.na(j)) {
      # The nonparametric intercept: the mass points' weighted mean.
      k <- pr$k; p <- pr$p
      ia <- p - 1L + seq_len(k)
      weights_of <- function(par) {
        al <- c(0, par[p - 1L + k + seq_len(k - 1L)])
        e <- exp(al - max(al)); e / sum(e)
      }
      set <- function(v, z) {
        par <- z
        wk <- weights_of(par)
        par[ia] <- v + z[ia] - sum(wk * z[ia])
        par
      }
      prof <- dist_profile_fun(pr, set, pr$hat, pr$lower, pr$upper)
      est <- sum(weights_of(pr$hat) * pr$hat[ia])
      out[i, ] <- dist_profile_limits(prof, est, sqrt(max(V[j, j], 0)), -Inf, Inf, ll_hat, level)
    } else if (pr$type == "bridge" && startsWith(nm, "sd_")) {
      f <- length(pr$hat)
      set <- function(v, z) c(z, v)
      prof <- dist_profile_fun(pr, set, pr$hat[-f], pr$lower[-f], pr$upper[-f])
      se_phi <- sqrt(max(V[f, f], 0))
      lim <- dist_profile_limits(prof, pr$hat[f], se_phi, pr$lower[f], pr$upper[f], ll_hat, level)
      # sd is decreasing in phi; phi at its upper bound is an sd of 0.
      out[i, ] <- rev(sqrt(bridge_variance(lim)))
    } else {
      none <- c(none, nm)
    }
  }
  lost <- setdiff(names[rowSums(is.na(out)) > 0], none)
  if (length(lost))
    warning(sprintf("confint(method = \"profile\"): the profile of %s did not reach the cut-off on one side (the search failed there); NA",
                    paste(sQuote(lost, FALSE), collapse = ", ")), call. = FALSE)
  if (length(none))
    warning(sprintf("confint(method = \"profile\"): no profile interval for %s of the %s random intercept (its mass points and weights are not profiled); NA",
                    paste(sQuote(none, FALSE), collapse = ", "), fit$ranef_dist$type), call. = FALSE)
  a <- (1 - level) / 2
  dimnames(out) <- list(names, percent_labels(c(a, 1 - a)))
  out
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
      tg$estimate <- sd
      tg$se <- abs(dsd) * sqrt(max(V[j, j], 0))
    } else {
      tg$estimate <- sqrt(dist$variance)
      tg$se <- NA_real_
    }
    targets[[k]] <- tg
  }
  targets
}
