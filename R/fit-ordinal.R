# Matrix-level fitter of the cumulative link mixed model with a random
# intercept on one grouping factor (engine: src/engines/ordinal/ordinal.cpp). Plain inputs,
# a plain list out; the formula front end is glmm_ordinal() (glmm-ordinal.R).
#
# The optimizer works on
#   (alpha_1, log increments alpha_2..alpha_{J-1}, centred/scaled beta, log sigma):
# thresholds are ordered by construction, and the centring and scaling of
# the columns of X (the thresholds absorb the centring) keep the optimum
# independent of the covariates' location and units. Everything reported is
# mapped back to (thresholds, beta, log sigma) on the user's X, where the
# Hessian is the exact one of the approximation (the engine's).

ordinal_glmm_fit <- function(X, y, J, group, family, weights = NULL, offset = NULL,
                             nAGQ = 1L, control = glmm_control(), start = NULL,
                             penalty = NULL) {
  n <- length(y)
  p <- ncol(X)
  weights <- weights %||% rep(1, n)
  offset <- offset %||% rep(0, n)
  # order() on the integer codes: on a factor it goes through xtfrm(),
  # ~20 us of a 2 ms fit on 72 rows (wine); the same stable order.
  gi <- as.integer(group)
  o <- order(gi)
  M <- nlevels(group)
  starts <- c(0L, cumsum(tabulate(gi, M)))
  ys <- as.integer(y[o]); ws <- as.numeric(weights[o]); os <- as.numeric(offset[o])
  Xs <- X[o, , drop = FALSE]
  ctr <- if (p) colMeans(Xs) else numeric()
  Xd <- Xs - rep(ctr, each = n)
  scl <- if (p) sqrt(colSums(Xd^2) / (n - 1)) else numeric()
  scl[!is.finite(scl) | scl == 0] <- 1
  Xc <- if (p) Xd / rep(scl, each = n) else Xs
  link <- family$link_code
  k1 <- J - 1L
  # penalized = TRUE: the log prior of beta (penalty-ordinal.R), on the
  # search's scale that of beta* (positions k1 + 1..p).
  pen <- ordinal_penalty(penalty, p, scl)
  ib <- k1 + seq_len(p)
  # Each evaluation starts the clusters' Newton iterations at the previous
  # evaluation's modes (the same quantities whether X is centred or not).
  last_modes <- NULL
  engine <- function(Xm, theta, beta, tau, grad, K = nAGQ, hess = 0L, clusters = FALSE) {
    r <- cpp_ordinal_loglik(ys, Xm, os, ws, starts, J, theta, beta, tau, K, link, grad,
                            last_modes, TRUE, hess, clusters)
    if (all(is.finite(r$mode))) last_modes <<- r$mode
    r
  }

  to_theta <- function(a) cumsum(c(a[1L], exp(a[-1L])))
  unpack <- function(par) list(theta = to_theta(par[seq_len(k1)]),
                               beta = par[k1 + seq_len(p)], tau = par[k1 + p + 1L])
  # The log-likelihood and its gradient on the optimizer's scale, with K
  # quadrature nodes, for nlminb where the search does not converge; the
  # last evaluation is cached (nlminb asks for the value and the gradient
  # separately).
  cache <- new.env(parent = emptyenv())
  eval_at <- function(par, K = nAGQ) {
    if (!identical(cache$par, par) || !identical(cache$K, K)) {
      u <- unpack(par)
      r <- engine(Xc, u$theta, u$beta, u$tau, TRUE, K)
      g <- r$gradient
      # d theta_j / d alpha_m: 1 for m = 1, exp(alpha_m) for 2 <= m <= j.
      gth <- g[seq_len(k1)]
      ga <- rev(cumsum(rev(gth)))
      if (k1 > 1L) ga[-1L] <- ga[-1L] * exp(par[2:k1])
      cache$par <- par
      cache$K <- K
      # A category probability underflowing to 0 far from the optimum: an
      # infinite objective makes the line search shorten its step.
      ok <- is.finite(r$loglik) && all(is.finite(g))
      cache$val <- ordinal_add_penalty(
        list(loglik = if (ok) r$loglik else -Inf,
             gradient = if (ok) c(ga, g[k1 + seq_len(p + 1L)]) else rep(NA_real_, length(par))),
        pen, par[ib], ib)
    }
    cache$val
  }
  par0 <- ordinal_start(ys, ws, J, family, p, start, ctr, scl)
  P <- length(par0)
  lower <- c(rep(-Inf, k1 + p), log(1e-6))
  # The search (as optimize_glmm()): the exact curvature at the start
  # (ordinal_exact_hessian() in the engine), then Newton steps with BFGS updates
  # (newton_search()'s steps, taken in C++ by cpp_ordinal_search(): one
  # call from R instead of one per evaluation); for nAGQ > 1 first on the
  # Laplace approximation, several times cheaper, and from its optimum on
  # quadrature with its Hessian. nlminb, scaled by that curvature, takes over
  # where the steps do not converge (sigma running to zero, a poor start).
  tight <- control$rel.tol / 100
  # Engine evaluations (of the value and gradient; a Hessian's columns
  # included) and the calls from R that made them.
  evals <- calls <- 0L
  search <- function(par, K, H = NULL) {
    if (!is.null(pen)) return(penalized_search(par, K, H))
    calls <<- calls + 1L
    r <- cpp_ordinal_search(ys, Xc, os, ws, starts, J, par, K, link, last_modes, H, lower,
                            min(control$iter.max, 50L), tight)
    evals <<- evals + r$evaluations
    if (all(is.finite(r$mode))) last_modes <<- r$mode
    if (r$converged) {
      return(list(par = r$par, H = r$hessian, convergence = 0L, message = r$message,
                  iterations = r$iterations, optimizer = "Newton/BFGS"))
    }
    ev <- function(th) {
      calls <<- calls + 1L
      evals <<- evals + 1L
      eval_at(th, K)
    }
    Hs <- if (all(is.finite(r$hessian0))) r$hessian0 else diag(P)
    opt <- nlminb_fallback(ev, r$par, lower, Hs, control)
    list(par = opt$par, H = NULL, convergence = opt$convergence, message = opt$message,
         iterations = opt$iterations, optimizer = "Newton/BFGS, then nlminb")
  }
  # The penalized search: the same Newton/BFGS steps (newton_search(), of
  # which cpp_ordinal_search() is the C++ copy) on the objective with the
  # log prior, from the forward-difference curvature of its exact gradient
  # made negative definite (negative_definite(), fit-glmm-zi.R: modified
  # Newton, as ordinal_glmm_fit_re()).
  penalized_search <- function(par, K, H) {
    ev <- function(th) {
      calls <<- calls + 1L
      evals <<- evals + 1L
      eval_at(th, K)
    }
    cur <- ev(par)
    if (is.null(H)) H <- negative_definite(ordinal_hessian(ev, par, cur$gradient))
    ordinal_newton_nlminb(ev, par, cur, H, lower, control, tight)
  }
  if (nAGQ > 1L && control$laplace_start) {
    s1 <- search(par0, 1L)
    opt <- search(s1$par, nAGQ, s1$H)
  } else {
    opt <- search(par0, nAGQ)
  }
  # (an exact Hessian counted as one evaluation)
  gfun <- function(ps, hess = 0L, clusters = FALSE) {
    calls <<- calls + 1L
    evals <<- evals + 1L + (hess > 0L)
    r <- engine(Xc, ps[seq_len(k1)], ps[k1 + seq_len(p)], ps[k1 + p + 1L], TRUE, hess = hess,
                clusters = clusters)
    ordinal_add_penalty(r, pen, ps[ib], ib)
  }
  u <- unpack(opt$par)
  ordinal_fit_finish(c(u$theta, u$beta, u$tau), opt, gfun, X, ctr, scl, k1, pen, nAGQ, control,
                     counts = function() c(evals = evals, calls = calls))
}

# The end of ordinal_glmm_fit() from the search's optimum psi (thresholds,
# beta, log sigma on the centred and scaled design): the exact Hessian and
# a Newton polish, the map to the user's coordinates, the warnings and the
# fit's record. `gfun(psi, hess)` evaluates the engine (with the log prior
# of a penalized fit) and `counts()` gives the evaluations and calls made.
ordinal_fit_finish <- function(psi, opt, gfun, X, ctr, scl, k1, pen, nAGQ, control, counts) {
  p <- ncol(X)
  # The Hessian, the Newton polish and the gradient test work in the
  # optimizer's coordinates (thresholds of the centred design, beta of the
  # scaled one), psi_star = (u$theta, u$beta, tau), mapped to the user's
  # psi = Tm psi_star afterwards: the engine's difference steps are then
  # of the parameters' natural size whatever the covariates' units (on
  # the user's scale x * 1e7 gave standard errors 38 times too large, and
  # x + 1e4 none at all).
  Tm <- ordinal_star_map(k1, p, ctr, scl)
  tau <- psi[[length(psi)]]
  want_h <- control$hessian && exp(tau) > 1e-3
  # (with each cluster's gradient and Hessian from the same pass, kept for
  # vcov()'s cluster-robust types: not with a prior, which belongs to no
  # cluster)
  keep <- want_h && is.null(pen)
  final <- gfun(psi, if (want_h) 3L else 0L, clusters = keep)
  exact <- final
  # The Hessian in (thresholds, beta, log sigma), for the standard errors,
  # exact (ordinal_exact_hessian() in the engine: one pass over the data
  # with the fourth derivatives of log p at the modes, where the central
  # differences of the gradient took 2P evaluations); a Newton step or two with
  # it takes the optimum to the gradient's precision when the search
  # stopped short. A step is kept only when it raises the log-likelihood
  # and leaves the thresholds ordered. The one eigendecomposition of -H
  # (ordinal_information()) gives both the covariance and these steps,
  # solve(-H, g) = cov g, without a second factorization of H.
  H <- info <- NULL
  if (want_h) {
    H <- final$hessian
    info <- ordinal_information(H)
    for (it in 1:4) {
      if (max(abs(final$gradient)) < 1e-8 || is.null(info$cov)) break
      step <- drop(info$cov %*% final$gradient)
      if (any(!is.finite(step))) break
      cand <- psi + step
      if (any(diff(cand[seq_len(k1)]) <= 0)) break
      r <- gfun(cand)
      if (!is.finite(r$loglik) || r$loglik < final$loglik - 1e-10) break
      psi <- cand
      final <- r
    }
  }
  if (control$hessian && is.null(H)) H <- gfun(psi, 3L)$hessian
  gnorm <- max(abs(final$gradient[if (exp(psi[[length(psi)]]) < max(control$singular_tol, 1e-3))
                                    -length(psi) else TRUE]))
  # To the user's coordinates: g = Tm^-T g_star, H = Tm^-T H_star Tm^-1,
  # and the covariance Tm H_star^-1 Tm' (inverted where it is well
  # conditioned: with x + 1e4 the user's H is not, numerically).
  Ti <- ordinal_star_inverse(Tm, k1, p)
  psi <- drop(Tm %*% psi)
  final$gradient <- drop(crossprod(Ti, final$gradient))
  if (control$hessian && is.null(info)) info <- ordinal_information(H)
  cov_s <- info$cov
  if (!is.null(info$cov)) info$cov <- Tm %*% info$cov %*% t(Tm)
  if (!is.null(H)) H <- crossprod(Ti, H %*% Ti)
  curvature <- if (keep) ordinal_kept_curvature(exact, Ti, tau, p, k1)
  theta <- psi[seq_len(k1)]; beta <- psi[k1 + seq_len(p)]; tau <- psi[k1 + p + 1L]
  warnings <- character()
  sigma <- exp(tau)
  singular <- sigma < max(control$singular_tol, 1e-3)
  if (singular)
    warnings <- c(warnings, sprintf(paste0("the random-intercept standard deviation is at ",
                                           "(or near) zero (%.3g): a singular fit"), sigma))
  if (opt$convergence != 0L)
    warnings <- c(warnings, paste0("the optimizer did not report convergence: ", opt$message))
  if (is.finite(gnorm) && gnorm > control$grad_tol)
    warnings <- c(warnings, sprintf("the largest gradient component at the optimum is %.2g (> grad_tol = %g)",
                                    gnorm, control$grad_tol))
  cov_psi <- matrix(NA_real_, length(psi), length(psi))
  if (control$hessian) {
    cov_psi <- info$cov
    if (is.null(cov_psi) || any(!is.finite(diag(cov_psi))) || any(diag(cov_psi) < 0)) {
      warnings <- c(warnings, "the Hessian of the log-likelihood is not negative definite: no standard errors")
      cov_psi <- matrix(NA_real_, length(psi), length(psi))
    }
  }
  # psi = Tm psi_star with its covariance on that scale, for the delta
  # methods (delta_cov(), difference_jacobian()) where X loses digits.
  cov_star <- if (!anyNA(cov_psi) && !well_scaled_x(X) && all(is.finite(cov_s)))
    list(T = Tm, V = cov_s, index = seq_along(psi), P = length(psi))
  # Per-cluster results back in the clusters' own order.
  # A penalized fit's objective, gradient and Hessian include the log prior
  # (standard errors from the penalized Hessian, as the other penalized
  # fits); its log-likelihood does not.
  list(theta = theta, beta = beta, log_sigma = tau, sigma = sigma, psi = psi,
       cov_psi = cov_psi, cov_star = cov_star, hessian = H, cluster_curvature = curvature,
       loglik = final$loglik - final$penalty,
       penalty = ordinal_penalty_record(pen, final$loglik - final$penalty, final$penalty),
       gradient = final$gradient,
       modes = list(mode = final$mode, scale = final$scale, post_mean = final$post_mean,
                    post_var = final$post_var, loglik = final$cluster_loglik),
       nAGQ = nAGQ, singular = singular,
       optinfo = new_optinfo(method = if (nAGQ == 1L) "Laplace" else sprintf("AGHQ (nAGQ = %d)", nAGQ),
                      optimizer = opt$optimizer, nAGQ = nAGQ, iterations = opt$iterations,
                      evaluations = counts()[["evals"]], engine_calls = counts()[["calls"]], convergence = opt$convergence,
                      message = opt$message, max_grad = gnorm,
                      hessian_cond = info$condition,
                      warnings = warnings))
}

# The clusters' informations a cumulative link random-intercept fit keeps
# (cluster-curvature.R), in its theta = (beta, sigma, thresholds), from the
# exact pass `r` at the optimum in the search's psi* (psi = Tm psi*, `Ti`
# = Tm^-1; `tau` its log sigma): list(free, informations, jacobian (the
# identity: kept in theta's own coordinates)); the fit adds `at`. NULL
# beyond curvature_max_doubles.
ordinal_kept_curvature <- function(r, Ti, tau, p, k1) {
  P <- ncol(Ti)
  M <- nrow(r$cluster_gradient)
  if (is.null(r$cluster_hessian) || as.double(M) * P^2 > curvature_max_doubles) return(NULL)
  # Ti' H_i Ti for each cluster's Hessian H_i (symmetric)
  Y <- array(crossprod(Ti, matrix(r$cluster_hessian, P, P * M)), c(P, P, M))
  H <- array(crossprod(Ti, matrix(aperm(Y, c(2L, 1L, 3L)), P, P * M)), c(P, P, M))
  cv <- ordinal_cluster_curvature(list(cluster_gradient = r$cluster_gradient %*% Ti,
                                       cluster_hessian = (H + aperm(H, c(2L, 1L, 3L))) / 2),
                                  exp(tau), p, k1)
  list(free = seq_len(P), informations = cv$informations, jacobian = diag(P))
}

# The linear map from the optimizer's (thresholds, beta, extra) on the
# centred and scaled design to the user's: beta = beta_star / scl and each
# threshold theta = theta_star + sum(ctr * beta); `extra` parameters (log
# sigma, lambda) are unchanged.
# Its inverse. solve() refuses the map of a covariate whose mean is 1e8
# times its spread (Days + 1e8: ctr / scl 3.5e7, "computationally
# singular", though the covariate is fitted); the map is then inverted by
# blocks, the thresholds' and coefficients' block upper triangular
# (backsolve(), exact to rounding) and the random-effect or scale block
# apart. A map solve() inverts is inverted by solve(), as before.
ordinal_star_inverse <- function(Tm, k1, p) {
  Ti <- tryCatch(solve(Tm), error = function(e) NULL)
  if (!is.null(Ti)) return(Ti)
  i <- seq_len(k1 + p)
  j <- setdiff(seq_len(nrow(Tm)), i)
  Ti <- matrix(0, nrow(Tm), ncol(Tm))
  Ti[i, i] <- backsolve(Tm[i, i, drop = FALSE], diag(1, length(i)))
  if (length(j)) Ti[j, j] <- solve(Tm[j, j, drop = FALSE])
  Ti
}

ordinal_star_map <- function(k1, p, ctr, scl, extra = 1L) {
  Tm <- diag(k1 + p + extra)
  if (p) {
    Tm[k1 + seq_len(p), k1 + seq_len(p)] <- diag(1 / scl, p)
    Tm[seq_len(k1), k1 + seq_len(p)] <- matrix(ctr / scl, k1, p, byrow = TRUE)
  }
  Tm
}

# Starting values on the optimizer's scale: thresholds from the cumulative
# proportions (no covariate effects), beta = 0, sigma = 1; or the user's
# list(theta =, beta =, sigma =) on the reported scale, mapped in.
ordinal_start <- function(y, w, J, family, p, start, ctr, scl) {
  k1 <- J - 1L
  if (is.null(start)) {
    # Unit weights (the usual case): the counts themselves, without a
    # pass over the data per category.
    tw <- if (all(w == 1)) tabulate(y, J) else vapply(seq_len(J), function(k) sum(w[y == k]), 1)
    cp <- cumsum(tw) / sum(w)
    cp <- pmin(pmax(cp[seq_len(k1)], 1e-4), 1 - 1e-4)
    th <- family$linkfun(cp)
    th <- cummax(th + seq_len(k1) * 1e-3)
    return(c(th[1L], log(pmax(diff(th), 1e-3)), rep(0, p), 0))
  }
  if (!is.list(start) || !all(names(start) %in% c("theta", "beta", "sigma")))
    stop("'start' of a cumulative link model must be a list with elements theta, beta, sigma",
         call. = FALSE)
  th <- start$theta
  b <- start$beta %||% rep(0, p)
  s <- start$sigma %||% 1
  if (!is.numeric(th) || length(th) != k1 || anyNA(th) || any(diff(th) <= 0))
    stop(sprintf("'start$theta' must hold %d increasing thresholds", k1), call. = FALSE)
  if (!is.numeric(b) || length(b) != p || anyNA(b))
    stop(sprintf("'start$beta' must hold %d coefficients", p), call. = FALSE)
  if (!is_positive_number(s)) stop("'start$sigma' must be a positive number", call. = FALSE)
  thc <- th - sum(ctr * b)
  c(thc[1L], log(diff(thc)), b * scl, log(s))
}

# Hessian of the log-likelihood by forward differences of the exact
# gradient of `ev(x)` from g0, the gradient at x (fd_hessian(); one
# evaluation per parameter, step 1e-5 relative to max(1, |x|): relative error
# ~1e-5, far below the sampling error of a standard error).
ordinal_hessian <- function(ev, x, g0) fd_hessian(gradient_of(ev), x, g0 = g0, floor = 1)

# The R-side search of the ordinal fits (the penalized one here, the
# random-slope one in fit-ordinal-re.R) from cur = ev(par) with the
# negative definite start curvature H: Newton/BFGS steps (newton_search()),
# where they do not converge (or H is not finite) nlminb scaled by H (or the
# identity), from where they ended.
ordinal_newton_nlminb <- function(ev, par, cur, H, lower, control, tight) {
  P <- length(par)
  nb <- if (all(is.finite(H)))
    newton_search(ev, par, H, rep(FALSE, P), lower, maxit = min(control$iter.max, 50L),
                  tol = tight, at = cur, bfgs = TRUE, shrink = 0.5, max_hits = 1L)
  if (!is.null(nb) && nb$converged)
    return(list(par = nb$theta, H = nb$hessian, convergence = 0L, message = nb$record$message,
                iterations = nb$record$iterations, optimizer = "Newton/BFGS"))
  opt <- nlminb_fallback(ev, if (is.null(nb)) par else nb$theta, lower,
                         if (all(is.finite(H))) H else diag(P), control)
  list(par = opt$par, H = NULL, convergence = opt$convergence, message = opt$message,
       iterations = opt$iterations, optimizer = "Newton/BFGS, then nlminb")
}

# The approximated log-likelihood of a fitted model's data at other
# parameter values (same nAGQ): for comparing optima with other software.
ordinal_loglik_at <- function(fit, theta, beta, sigma) {
  d <- ordinal_fit_data(fit)
  cpp_ordinal_loglik(d$y, d$X, d$offset, d$w, d$starts, length(fit$y_levels), as.numeric(theta),
                     as.numeric(beta), log(sigma), fit$nAGQ, fit$family$link_code, FALSE)$loglik
}

# A one-factor fit's data sorted by cluster, as its engine takes them:
# the order o, the clusters' first rows (starts), y, X, offset, weights.
ordinal_fit_data <- function(fit) {
  o <- order(fit$group)
  n <- length(fit$y)
  list(o = o, starts = c(0L, cumsum(tabulate(fit$group, length(fit$group_levels)))),
       y = as.integer(fit$y[o]), X = fit$X[o, , drop = FALSE],
       offset = as.numeric((fit$offset %||% rep(0, n))[o]),
       w = as.numeric((fit$prior.weights %||% rep(1, n))[o]))
}

# From the symmetric Hessian H (symmetrized by its differencing): the
# covariance solve(-H) and kappa(H, exact = TRUE), the 2-norm condition
# number, by one eigendecomposition of -H (the singular values of H are the
# absolute eigenvalues). On 72 rows (wine) solve() in tryCatch() and svd()
# were each about 1% of a fit. cov is NULL where solve() fails: H not
# finite (condition NA), or singular to working precision, which solve()
# judges by its own estimate of the condition, so an ill-conditioned H
# (beyond 1e10) is left to solve() itself.
ordinal_information <- function(H) {
  if (!all(is.finite(H))) return(list(cov = NULL, condition = NA_real_))
  e <- eigen(-H, symmetric = TRUE)
  a <- abs(e$values)
  condition <- max(a) / min(a)
  cov <- if (is.finite(condition) && condition < 1e10)
    e$vectors %*% (t(e$vectors) / e$values)
  else tryCatch(solve(-H), error = function(err) NULL)
  list(cov = cov, condition = condition)
}
