# REML for a gaussian identity-link model with one grouping factor, without
# an ML fit first: the profiled restricted criterion and its exact gradient
# come from per-cluster q x q closed forms in C++ (src/engines/lmm/lmm-onefactor.cpp);
# the search is over lme4's relative factor theta (Lambda / sigma, lower
# triangular, diagonal >= 0). The result has the shape of glmm_fit()'s, so
# new_glmm() builds the fitted object as for an ML fit.

# The restricted criterion as a function of theta on the scaled design:
# value and gradient from one C++ call, kept for the gradient call that
# nlminb makes at the same point.
lmm_objective <- function(suff, pat, reml) {
  last <- NULL
  ev <- function(th) {
    if (is.null(last) || !identical(last$th, th))
      last <<- list(th = th, r = cpp_lmm_eval(suff, th, pat$row - 1L, pat$col - 1L, reml, FALSE))
    last$r
  }
  list(fn = function(th) ev(th)$deviance,
       gr = function(th) ev(th)$gradient,
       full = function(th) cpp_lmm_eval(suff, th, pat$row - 1L, pat$col - 1L, reml, TRUE))
}

# Searches from a start by moments (cpp_lmm_moment_start()), or where that
# fails from lme4's start (identity factor on the scaled design): first
# by projected Newton steps in C++ (cpp_lmm_search(), the whole search in
# one call). If that does not converge, or ends with an entry at (or near)
# its bound, also by nlminb with the exact gradient (the route before the
# Newton search), once more from the best point found when nlminb does not
# converge either; the lowest criterion wins. The second search on singular
# fits is there because a variance that reaches zero on the way can hold the
# Newton search on a face of the bounds with a worse criterion (seen with
# both variances of a random slope model at zero: 6 units of deviance
# worse), where nlminb's path went elsewhere. Entries resting at their bound
# are set there exactly (lmer reports a singular variance as exactly zero).
lmm_optimize <- function(obj, pat, suff = NULL, reml = TRUE) {
  lower <- rep(-Inf, length(pat$row))
  lower[pat$row == pat$col] <- 0
  start <- as.numeric(pat$row == pat$col)
  runs <- list()
  r <- NULL
  if (!is.null(suff)) {
    bad <- function(r) r$convergence != 0L || !is.finite(r$objective) ||
      any(is.finite(lower) & r$par < 1e-6)
    # First from the moments' start (cpp_lmm_moment_start()), with the last
    # Newton step taken (`polish`); where that start cannot be made or the
    # search from it does not end cleanly inside the bounds, from the
    # identity as before, on the same path as before.
    # The identity is passed as `alt`: where the criterion is lower there
    # than at the moments' start (a cluster whose few rows barely identify
    # its slope can throw that start far off: sleepstudy with seven of one
    # subject's ten rows at weight 0), the search is the one from the
    # identity, step for step.
    st <- cpp_lmm_moment_start(suff, pat$row - 1L, pat$col - 1L)
    r <- if (length(st))
      cpp_lmm_search(suff, st, is.finite(lower), pat$row - 1L, pat$col - 1L, reml, 100L, 1e-14,
                     TRUE, start)
    if (is.null(r) || bad(r)) {
      spent <- if (is.null(r)) 0L else r$evaluations
      r <- cpp_lmm_search(suff, start, is.finite(lower), pat$row - 1L, pat$col - 1L, reml,
                          100L, 1e-14)
      r$evaluations <- r$evaluations + spent
    }
    r$optimizer <- "Newton (exact gradient, C++)"
    runs <- list(r)
    if (bad(r)) r <- NULL
  }
  if (is.null(r)) {
    run <- function(st) stats::nlminb(st, obj$fn, obj$gr, lower = lower,
                                      control = list(eval.max = 2000L, iter.max = 1000L,
                                                     rel.tol = 1e-11))
    best <- if (length(runs) && is.finite(runs[[1L]]$objective)) runs[[1L]]
    r <- run(start)
    r$optimizer <- "nlminb (exact gradient)"
    runs <- c(runs, list(r))
    if (!is.finite(r$objective) || (r$convergence != 0L && max(abs(obj$gr(r$par))) >= 1e-3)) {
      r2 <- run(pmax(r$par, lower + 1e-3))
      r2$optimizer <- r$optimizer
      runs <- c(runs, list(r2))
      if (is.finite(r2$objective) && r2$objective < r$objective) r <- r2
    }
    if (!is.null(best) && (!is.finite(r$objective) || best$objective < r$objective)) r <- best
  }
  th <- r$par
  at_bound <- is.finite(lower) & th < 1e-6
  if (any(at_bound)) {
    th0 <- th
    th0[at_bound] <- 0
    if (obj$fn(th0) <= r$objective + 1e-10) th <- th0
  }
  # nlminb's relative-function test can end in "singular convergence" at
  # the optimum of a flat criterion; the exact gradient decides.
  on_bound <- is.finite(lower) & th <= 0
  gfree <- (if (identical(th, r$par) && !is.null(r$gradient)) r$gradient else obj$gr(th))[!on_bound]
  ok <- r$convergence == 0L || !length(gfree) || max(abs(gfree)) < 1e-3
  list(theta = th, on_bound = on_bound, runs = runs, optimizer = r$optimizer,
       convergence = if (ok) 0L else r$convergence, message = r$message)
}

# `family`: gaussian() as resolve_family() gives it, when the caller has it
# (making one costs about 2% of a small fit).
# `centre`: whether a slope far from zero sends the fit to the centred
# design (lmm_z_centring(), lmm_standard_z()).
# A response far from zero beside its residuals (y + 1e6) is fitted as
# y - X b0 (response_shift()), b0 added back to the fixed effects: the sums
# of squares of y cancelled (logLik +5.7e4 for -871.8 with y + 1e9).
lmm_reml_fit <- function(X, y, Z, group, weights, offset, cov_blocks, family = NULL,
                         centre = TRUE) {
  b0 <- if (is.numeric(y) && is.matrix(X))
    response_shift(response_scale(X, y, weights, offset, family %||% gaussian()))
  if (is.null(b0))
    return(lmm_reml_fit_units(X, y, Z, group, weights, offset, cov_blocks, family, centre))
  fit <- lmm_reml_fit_units(X, y - drop(X %*% b0), Z, group, weights, offset, cov_blocks,
                            family, centre)
  ip <- seq_along(b0)
  fit$beta[ip] <- fit$beta[ip] + b0
  fit$theta[ip] <- fit$theta[ip] + b0
  fit
}

lmm_reml_fit_units <- function(X, y, Z, group, weights, offset, cov_blocks, family = NULL,
                               centre = TRUE) {
  X <- as.matrix(X); Z <- as.matrix(Z)
  storage.mode(X) <- "double"; storage.mode(Z) <- "double"
  n <- nrow(X)
  if (is.null(weights)) weights <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  if (!all_finite(X)) stop("'X' contains NA, NaN or infinite values", call. = FALSE)
  if (!all_finite(Z)) stop("'Z' contains NA, NaN or infinite values", call. = FALSE)
  cl <- cluster_index(group, "group")
  M <- length(cl$levels)
  if (M < 2L) stop("'group' has only one level; a random effect needs at least two groups",
                   call. = FALSE)
  check_full_rank(X)
  p <- ncol(X)
  q <- ncol(Z)
  keep <- weights > 0
  if (sum(keep) <= p) stop("REML needs more observations than fixed effects", call. = FALSE)
  Tz <- if (centre) lmm_z_centring(Z, keep, cov_blocks)
  if (!is.null(Tz)) {
    fc <- lmm_reml_fit_units(X, y, Z %*% backsolve(Tz, diag(1, q)), group, weights, offset,
                             cov_blocks, family, centre = FALSE)
    # An interior optimum maps back; otherwise the fit as before.
    if (fc$optinfo$convergence == 0L && !any(fc$on_boundary))
      return(lmm_standard_z(fc, Tz, TRUE))
  }
  # Fixed effects on a centred and scaled X, mapped back (lmm_standard_x()).
  tx <- lmm_design_transform(X)
  X <- tx$M
  pat <- block_pattern(cov_blocks)
  sc <- lmm_scaled_suff(X, y, Z, weights, offset, cl$index, M, keep)
  suff <- sc$suff
  sz <- sc$sz
  obj <- lmm_objective(suff, pat, TRUE)
  opt <- lmm_optimize(obj, pat, suff, TRUE)
  ev <- obj$full(opt$theta)
  if (!is.finite(ev$deviance)) stop("REML: the criterion is not finite at the optimum", call. = FALSE)
  nobs <- sum(keep)
  sigma2 <- ev$pwrss / (nobs - p)
  sigma <- sqrt(sigma2)
  # Lambda (absolute, the engine's parameters) on the user's Z.
  lam <- sigma * opt$theta / sz[pat$row]
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- lam
  beta <- stats::setNames(drop(ev$beta), colnames(X) %||% paste0("X", seq_len(p)))
  pnames <- c(names(beta), sprintf("lambda[%d,%d]", pat$row, pat$col), "log(sigma)")
  theta <- stats::setNames(c(beta, lam, log(sigma)), pnames)
  k <- length(theta)
  cov_idx <- p + seq_len(length(pat$row) + 1L)
  on_boundary <- rep(FALSE, k)
  on_boundary[p + seq_along(pat$row)] <- opt$on_bound
  info <- cpp_lmm_reml_info(suff, unname(theta[cov_idx]), sz, pat$row - 1L, pat$col - 1L)
  hess <- lmm_reml_hessian(info, ev, nobs - p, p, on_boundary, pnames)
  cov_theta <- invert_information(hess, on_boundary, pnames)
  vc <- sigma2 * solve(ev$C)
  cov_theta[seq_len(p), seq_len(p)] <- vc
  # Modes on the engine's scale u (b = Lambda u): u = m / sigma, Var(u | y, beta) = A^-1.
  um <- t(ev$modes) / sigma
  uv <- t(ev$Ainv)
  modes <- list(mode = um, mode_var = uv, post_mean = um, post_var = uv,
                loglik = rep(NA_real_, M), newton_failures = 0L)
  family <- fitted_family(family %||% resolve_family(gaussian()), log(sigma))
  singular <- any(on_boundary)
  warn <- c(if (opt$convergence != 0L)
              sprintf("REML optimizer did not report convergence: %s", opt$message),
            if (singular) reml_singular_message)
  ldf <- ev$ldA - suff$logw
  # The restricted log-likelihood's gradient at the optimum: nil in beta
  # (generalized least squares given the variances), the exact one in the
  # covariance parameters (sigma free, beta integrated out).
  grad <- stats::setNames(c(rep(0, p), info$gradient), pnames)
  nevals <- sum(vapply(opt$runs, function(r) r$evaluations[[1L]], 1))
  lmm_standard_x(list(beta = beta, lambda = lam, Lambda = Lam, sigma = sigma, theta = theta,
       loglik = -ev$deviance / 2, gradient = grad,
       hessian = hess, cov_theta = cov_theta, modes = modes, nAGQ = 1L, family = family,
       group = cl, q = q, pattern = pat, cov_blocks = cov_blocks, p = p, dispersion = TRUE,
       family_par = NULL, singular = singular, on_boundary = on_boundary,
       loglik_ml = -(ldf + nobs * (1 + log(2 * pi * ev$pwrss / nobs))) / 2,
       engine = "lmm_one_factor",
       optinfo = new_optinfo(optimizer = opt$optimizer, method = "REML",
                      nAGQ = 1L, iterations = sum(vapply(opt$runs, `[[`, 1L, "iterations")),
                      evaluations = nevals,
                      convergence = opt$convergence, message = opt$message,
                      max_grad = max(abs(grad[!on_boundary]), 0), warnings = warn, reparameterized = FALSE,
                      reml = list(criterion = ev$deviance, theta = opt$theta / sz[pat$row],
                                  convergence = vapply(opt$runs, `[[`, 1L, "convergence"),
                                  evaluations = nevals))),
                 tx, TRUE)
}

# The per-cluster sufficient statistics of the observations `keep` (positive
# weight), with Z's columns scaled to unit root mean square (`sz`): the
# search is then as well conditioned whatever the units; theta maps back
# entry by entry.
lmm_scaled_suff <- function(X, y, Z, weights, offset, index, M, keep) {
  # Without the copies of X, y, the weights and the index when every row is
  # kept (0.1 ms at 10,000 rows).
  all_kept <- all(keep)
  Zk <- if (all_kept) Z else Z[keep, , drop = FALSE]
  sz <- sqrt(colMeans(Zk^2))
  sz[!is.finite(sz) | sz == 0] <- 1
  Zs <- Zk / rep(sz, each = nrow(Zk))   # sweep(Zk, 2L, sz, "/") without its checks
  suff <- if (all_kept) cpp_lmm_suff(X, Zs, y - offset, weights, index, M)
          else cpp_lmm_suff(X[keep, , drop = FALSE], Zs, (y - offset)[keep], weights[keep],
                            index[keep], M)
  list(suff = suff, sz = sz)
}

# Information for the covariance parameters (lambda, log sigma): the exact
# Hessian of the restricted log-likelihood with sigma free (beta integrated
# out), in one C++ call (cpp_lmm_reml_info(), src/engines/lmm/lmm-onefactor-reml-info.cpp,
# which also returns that likelihood's gradient at the estimates: `info`).
# The fixed effects' block is X'V^-1X, orthogonal to them in a linear mixed
# model.
lmm_reml_hessian <- function(info, ev, nmp, p, on_boundary, pnames) {
  k <- length(pnames)
  idx <- p + seq_len(nrow(info$hessian))
  Hc <- info$hessian
  hess <- matrix(0, k, k, dimnames = list(pnames, pnames))
  hess[seq_len(p), seq_len(p)] <- -ev$C / (ev$pwrss / nmp)
  free <- idx[!on_boundary[idx]]
  sub <- !on_boundary[idx]
  hess[free, free] <- Hc[sub, sub]
  na_at_boundary(hess, on_boundary)
}

# The REML fields of the fitted object that new_glmm() does not set.
lmm_reml_finish <- function(obj, fit) {
  obj$REML <- TRUE
  obj$loglik_ml <- fit$loglik_ml
  obj$cluster_loglik <- NULL
  obj
}
