# Gaussian identity-link models with several random-effect terms of which
# some carry a covariance structure (ar1(), hetar1(), cs(), homcs(), toep(),
# homtoep(), diag(), homdiag()): the
# profiled criterion of lme4's penalized least squares formulation (Bates et
# al. 2015, J. Stat. Softw. 67(1), section 3; src/engines/lmm/lmm-sparse.cpp), as for
# unstructured terms (fit-lmm-sparse.R), with each structured term's block of
# the relative factor Lambda / sigma = chol(D(par)) / sigma. ML or REML.
#
# Search parameters (phi): per term, its structure's parameters relative to
# sigma: the log standard deviations less log(sigma), correlation parameters
# as they are, an unstructured term's entries divided by sigma. Then
# Lambda / sigma = chol(D(phi)) exactly, and the criterion's exact gradient in
# Lambda's entries (cpp_lmmsp_grad_sparse(), from the selected inverse of
# the sparse factor, for any number of random effects) is carried to phi by the exact Jacobian
# of the Cholesky factor (structure_lambda()). beta and sigma are profiled
# out, as in lmer; the estimates are exact, not a Laplace approximation.

# Per structure parameter: how it moves with log(sigma) when made relative:
# "sd" (a log standard deviation: minus log sigma), "entry" (an unstructured
# entry: divided by sigma) or "free" (a correlation parameter).
lmm_covstruct_roles <- function(terms) {
  unlist(lapply(terms, function(t) {
    s <- t$struct
    r <- rep("free", s$npar)
    if (isTRUE(s$direct)) r[] <- "entry" else r[s$sd_par] <- "sd"
    r
  }))
}

# Relative parameters from parameters in the user's units and log sigma.
lmm_covstruct_relative <- function(par, roles, log_sigma)
  ifelse(roles == "sd", par - log_sigma, ifelse(roles == "entry", par / exp(log_sigma), par))

# The profiled criterion (-2 log L, or the REML criterion) and its exact
# gradient in phi (from the selected inverse, cpp_lmmsp_grad_sparse()), from
# one C++ evaluation remembered for the gradient's call at the same point.
# Returns fn(phi), gr(phi) and theta(phi) (the engine's theta on the scaled
# design).
lmm_covstruct_objective <- function(st, terms, k0, reml) {
  theta_of <- function(phi) {
    lm <- tryCatch(structure_lambda(terms, k0, phi), error = function(e) NULL)
    if (is.null(lm) || !all(is.finite(lm$lambda))) return(NULL)
    list(th = lm$lambda * st$scale, J = lm$J)
  }
  last <- NULL
  ev <- function(phi) {
    if (is.null(last) || !identical(last$phi, phi)) {
      tj <- theta_of(phi)
      r <- if (is.null(tj)) list(ok = FALSE) else cpp_lmmsp_grad_sparse(st$eng, tj$th)
      last <<- list(phi = phi, tj = tj, r = r)
    }
    last
  }
  df <- if (reml) st$n - st$p else st$n
  list(fn = function(phi) lmm_sparse_deviance(ev(phi)$r, st$n, st$p, st$logw, reml),
       gr = function(phi) {
         e <- ev(phi)
         if (!isTRUE(e$r$ok)) return(rep(NA_real_, length(phi)))
         g <- e$r$grad_ldL2 + (if (reml) e$r$grad_ldRX2 else 0) + df / e$r$pwrss * e$r$grad_pwrss
         drop(crossprod(e$tj$J, g * st$scale))
       },
       theta = function(phi) theta_of(phi)$th)
}

# The (restricted) log-likelihood with sigma free at par = c(structure
# parameters in the user's units, log sigma), beta profiled (ML) or
# integrated out (REML), and its exact gradient (chain rule through the
# relative parameters; sigma enters directly and through them).
lmm_covstruct_loglik <- function(st, terms, k0, roles, reml, par, grad = TRUE) {
  k <- length(par)
  ls <- par[[k]]
  s <- exp(ls)
  phi <- lmm_covstruct_relative(par[-k], roles, ls)
  lm <- tryCatch(structure_lambda(terms, k0, phi), error = function(e) NULL)
  bad <- list(loglik = -Inf, gradient = rep(NA_real_, k))
  if (is.null(lm)) return(bad)
  th <- lm$lambda * st$scale
  e <- if (grad) cpp_lmmsp_grad_sparse(st$eng, th)
       else cpp_lmmsp_eval(st$eng, th, FALSE)
  if (!isTRUE(e$ok)) return(bad)
  df <- if (reml) st$n - st$p else st$n
  ll <- -0.5 * (e$ldL2 + (if (reml) e$ldRX2 else 0) + df * log(2 * pi * s^2) +
                e$pwrss / s^2 - st$logw)
  if (!grad) return(list(loglik = ll))
  gth <- -0.5 * (e$grad_ldL2 + (if (reml) e$grad_ldRX2 else 0) + e$grad_pwrss / s^2)
  gphi <- drop(crossprod(lm$J, gth * st$scale))
  dphi_dpar <- ifelse(roles == "entry", 1 / s, 1)
  dphi_dls <- ifelse(roles == "sd", -1, ifelse(roles == "entry", -phi, 0))
  list(loglik = ll, gradient = c(gphi * dphi_dpar, -df + e$pwrss / s^2 + sum(gphi * dphi_dls)))
}

# Whether a structured search converged: the optimizer's verdict and the
# remaining Newton step at its last Hessian below the gradient tolerance.
lmm_covstruct_converged <- function(run, control) {
  if (run$opt$convergence != 0L || is.null(run$hessian)) return(FALSE)
  nstep <- newton_decrement(run$at$gradient, run$hessian, rep(FALSE, length(run$par)))
  is.finite(nstep) && nstep <= control$grad_tol
}

# A restart point: relative standard deviations 0.3, correlation parameters
# 1.5 below (sgn = -1) or above (sgn = 1) their start, unstructured entries
# at the start.
lmm_covstruct_restart <- function(phi0, terms, k0, sgn) {
  for (k in seq_along(terms)) {
    s <- terms[[k]]$struct
    if (isTRUE(s$direct)) next
    idx <- k0[[k]]
    st <- s$start(1)
    phi0[idx[s$sd_par]] <- log(0.3)
    if (length(s$rho_par)) phi0[idx[s$rho_par]] <- st[s$rho_par] + sgn * 1.5
  }
  phi0
}

# The structured search from its start: an unstructured term at the plain
# route's start (the identity relative factor on the scaled design, diagonal
# 1 / scale); a structure at relative standard deviations 1 (lme4's start on
# the design as given: the scales of per-level columns such as
# ar1(0 + time | subj)'s are tiny, and 1 / scale started the search 60 times
# too wide), correlations at the structure's default. `st` the criterion's
# engine (lmm_sparse_setup()), `obj` its objective
# (lmm_covstruct_objective()), `lower` the relative factor's bounds, `df`
# the residual degrees of freedom, `sdy` y's standard deviation. Returns the
# search's end `run`, the boundary check's `bc` and the evaluation `ev` at
# the end (the engine's factor is that point's).
lmm_covstruct_search <- function(st, obj, terms, k0, roles, lower, df, sdy, control,
                                 user_phi = NULL) {
  nl <- vapply(terms, function(t) t$q * (t$q + 1L) / 2L, 1)
  off_l <- c(0, cumsum(nl))
  phi0 <- numeric(length(unlist(k0)))
  for (k in seq_along(terms)) {
    t <- terms[[k]]
    il <- off_l[k] + seq_len(nl[k])
    if (isTRUE(t$struct$direct)) {
      phi0[k0[[k]]] <- (ifelse(lower[il] == 0, 1, 0) / st$scale[il])[t$struct$lambda_index]
    } else {
      phi0[k0[[k]]] <- t$struct$start(1)
    }
  }
  # The profiled criterion as a log-likelihood in phi for the structured
  # search (covstruct_search(): quasi-Newton, then Newton steps with
  # recomputed Hessians, which leave the flat stretches where nlminb alone
  # stops in "singular convergence" below the optimum) and for
  # covstruct_verify()'s restarts from the interior when a parameter ends on
  # a boundary, as the sparse Laplace route does.
  evalf <- function(ph) {
    v <- obj$fn(ph)
    if (!is.finite(v)) return(list(loglik = -Inf, gradient = rep(NA_real_, length(ph))))
    list(loglik = -v / 2, gradient = -obj$gr(ph) / 2)
  }
  search <- function(par) covstruct_search(evalf, par, control)
  # (a user's start: its restarts below are from the default start)
  run <- search(if (is.null(user_phi)) phi0 else check_structure_start(evalf, user_phi))
  # A search that ends without converging can sit on a flat ridge where a
  # structure's variance has taken the residual's part (AR(1) at rho near 0
  # beside sigma near 0) while the optimum lies elsewhere (rho at -1 with
  # sigma free): then once more from smaller relative standard deviations
  # with each correlation parameter on either side of its start.
  restarts <- 0L
  if (!lmm_covstruct_converged(run, control)) {
    for (sgn in c(-1, 1)) {
      res <- tryCatch(search(lmm_covstruct_restart(phi0, terms, k0, sgn)), error = function(e) NULL)
      restarts <- restarts + 1L
      if (!is.null(res) && is.finite(res$loglik) && res$loglik > run$loglik + 1e-6) run <- res
    }
  }
  bc <- covstruct_verify(search, run, terms, k0)
  bc$record$ridge_restarts <- restarts
  run <- bc$best
  # sigma of an evaluation, and at a point
  ev_sigma <- function(e) if (isTRUE(e$ok)) sqrt(e$pwrss / df) else NA_real_
  sigma_at <- function(ph) ev_sigma(cpp_lmmsp_eval(st$eng, obj$theta(ph), FALSE))
  # The evaluation at the search's end gives the ray its sigma; it is made
  # again only where the ray evaluated other points (the engine's factor
  # is then theirs).
  ev <- cpp_lmmsp_eval(st$eng, obj$theta(run$par), TRUE)
  ray <- lmm_covstruct_ray(run, evalf, search, sigma_at, roles, sdy, ev_sigma(ev))
  run <- ray$run
  bc$record$sigma_ray <- ray$record
  if (isTRUE(ray$record$tried)) ev <- cpp_lmmsp_eval(st$eng, obj$theta(run$par), TRUE)
  back <- lmm_covstruct_retreat(run, evalf, sigma_at, roles, sdy, ev_sigma(ev))
  bc$record$sigma_retreat <- back$record
  if (isTRUE(back$record$moved)) {
    run <- back$run
    ev <- cpp_lmmsp_eval(st$eng, obj$theta(run$par), TRUE)
  }
  zs <- lmm_covstruct_zero_sds(run, evalf, sigma_at, terms, k0, control, ev_sigma(ev), sdy)
  if (isTRUE(zs$record$kept)) {
    run <- zs$run
    ev <- cpp_lmmsp_eval(st$eng, obj$theta(run$par), TRUE)
  }
  bc$record$zero_sds <- zs$record
  list(run = run, bc = bc, ev = ev)
}

# The fit: same shape as sparse_covstruct_fit()'s, so new_glmm_sparse() and
# covstruct_object() build the fitted object.
lmm_sparse_covstruct_fit <- function(X, y, re, weights, offset, reml, control, start = NULL) {
  p <- ncol(X)
  check_full_rank(X)
  n <- sum(weights > 0)
  if (n <= p) stop(sprintf("%s needs more observations than fixed effects",
                           if (reml) "REML" else "The model"), call. = FALSE)
  # On a centred and scaled X where the user's loses digits, as the
  # unstructured profiled route (lmm_design_transform(), lmm_standard_x()):
  # with x * 1e-6 - 5 beside ar1() + (1 | site) the REML search stopped in
  # false convergence 0.012 below the optimum, the slope 2% off.
  tx <- lmm_design_transform(X)
  X <- tx$M
  terms <- re$terms
  st <- lmm_sparse_setup(X, y, re, weights, offset)
  k0 <- structure_blocks(terms)
  roles <- lmm_covstruct_roles(terms)
  # The exact gradient from the selected inverse (no dense Q x Q work).
  obj <- lmm_covstruct_objective(st, terms, k0, reml)
  df <- if (reml) n - p else n
  sdy <- stats::sd(y[weights > 0])
  # A `start` (beta, the structures' parameters, log sigma in the user's
  # units): its structures' parameters relative to its sigma (beta and
  # sigma are profiled out).
  user_phi <- if (!is.null(start)) {
    u <- structure_search_start(start, structure_layout(colnames(X), p, terms, "log(sigma)"),
                                terms, k0, diag(1, p))
    lmm_covstruct_relative(u[p + seq_along(roles)], roles, u[[length(u)]])
  }
  found <- lmm_covstruct_search(st, obj, terms, k0, roles, re$lower, df, sdy, control, user_phi)
  run <- found$run
  bc <- found$bc
  ev <- found$ev
  phi <- run$par
  opt <- list(objective = -2 * run$loglik, convergence = run$opt$convergence,
              message = run$opt$message, stages = run$stages)
  if (!isTRUE(ev$ok)) stop("the LMM criterion is not finite at the optimum", call. = FALSE)
  sigma <- sqrt(ev$pwrss / df)
  ls <- log(sigma)
  # Back to the user's units: standard deviations times sigma.
  par_u <- ifelse(roles == "sd", phi + ls, ifelse(roles == "entry", phi * sigma, phi))
  beta <- stats::setNames(drop(ev$beta), colnames(X) %||% paste0("X", seq_len(p)))
  pnames <- structure_layout(names(beta), p, terms, "log(sigma)")
  theta <- stats::setNames(c(beta, par_u, ls), pnames)
  P <- length(theta)
  cov_idx <- p + seq_len(length(unlist(k0)) + 1L)
  # Boundaries as the other structured routes test them
  # (covstruct_boundary(): a standard deviation, relative to sigma, below
  # 1e-4, a correlation within 1e-4 of its limit).
  on_boundary <- rep(FALSE, P)
  on_boundary[p + covstruct_boundary(phi, terms, k0)] <- TRUE
  ll_cov <- function(x, grad = TRUE) lmm_covstruct_loglik(st, terms, k0, roles, reml, x, grad)
  hess <- matrix(0, P, P, dimnames = list(pnames, pnames))
  hess[seq_len(p), seq_len(p)] <- -ev$RXtRX / sigma^2
  free <- cov_idx[!on_boundary[cov_idx]]
  x0 <- theta[cov_idx]
  sub <- !on_boundary[cov_idx]
  if (control$hessian && reml) {
    # REML: central differences of the exact gradient of the restricted
    # log-likelihood (beta integrated out, orthogonal to the covariance
    # parameters).
    hess[free, free] <- fd_hessian(function(x) ll_cov(x)$gradient, x0, "central", step = 1e-4,
                                   on_boundary = !sub)[sub, sub]
  } else if (!control$hessian) {
    hess[free, free] <- NA_real_
  }
  hess <- na_at_boundary(hess, on_boundary)
  family <- resolve_family(stats::gaussian())
  le <- cpp_sparse_new(X, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                       re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                       family$family_code, family$link_code)
  if (!reml && control$hessian) {
    # ML: the observed information of all parameters jointly (the sparse
    # Laplace engine's log-likelihood, exact for this model, and its exact
    # gradient), as the Laplace route and glmmTMB report it; the fixed
    # effects' block then includes their correlation with the covariance
    # parameters' estimates (lmer's X'V^-1X leaves it out).
    k_re <- lapply(k0, `+`, p)
    evalf <- structure_evalf(function(th, grad) sparse_eval(le, th, grad), terms, k_re, p,
                             TRUE, diag(1, p), NULL)
    g0 <- evalf(unname(theta))$gradient
    H <- fd_hessian(gradient_of(evalf), unname(theta), g0 = g0, floor = 0.1,
                    on_boundary = on_boundary)
    hess <- na_product(H, diag(1, P), on_boundary)
    dimnames(hess) <- list(pnames, pnames)
  }
  cov_theta <- invert_information(hess, on_boundary, pnames)
  if (reml || !control$hessian) cov_theta[seq_len(p), seq_len(p)] <- sigma^2 * solve(ev$RXtRX)
  grad <- stats::setNames(rep(0, P), pnames)
  grad[cov_idx] <- ll_cov(x0)$gradient
  ch <- lmm_covstruct_chol(terms, k0, phi, roles, sigma, beta, re$par_names, cov_theta,
                           on_boundary, reml || !control$hessian)
  structures <- structure(covstruct_report(terms, lapply(k0, `+`, p), unname(theta), cov_theta),
                          theta = theta, cov_theta = cov_theta)
  # Modes, fitted values and conditional covariances from the sparse
  # engine at the estimates (for a gaussian model its mode given beta is
  # the penalized least squares solution).
  modes <- cpp_sparse_modes(le, unname(ch$theta))
  modes$nnz_factor <- ev$nnz_factor
  terms_out <- sparse_term_summaries(re, ch$lm$lambda, modes, le, unname(ch$theta))
  singular <- any(on_boundary)
  crit <- opt$objective
  loglik_ml <- if (reml) -(ev$ldL2 + n * (1 + log(2 * pi * ev$pwrss / n)) - st$logw) / 2
  steps <- lmm_covstruct_steps(grad[cov_idx], hess[cov_idx, cov_idx, drop = FALSE],
                               on_boundary[cov_idx], roles, sigma, sdy, reml, control, ll_cov, x0)
  gmax <- max(abs(grad[cov_idx][sub]), 0)
  warn <- fit_warnings(opt, steps$nstep, gmax, singular, if (control$hessian) hess, cov_theta, control,
                       boundary_check = bc$record)
  evals <- sum(vapply(opt$stages, function(s) as.integer(s$evaluations), 1L))
  out <- list(beta = beta, theta = ch$theta, loglik = -crit / 2, penalty = NULL, sigma = sigma,
       dispersion = sigma, family_par = NULL, gradient = grad, hessian = hess,
       cov_theta = ch$cov, npar = P, family = fitted_family(family, ls), modes = modes,
       terms = terms_out, singular = singular, on_boundary = on_boundary,
       structures = structures, loglik_ml = loglik_ml,
       engine = "lmm_sparse",
       optinfo = new_optinfo(optimizer = "Newton-BFGS on the profiled criterion (exact gradient), then Newton steps with recomputed Hessians",
                      method = if (reml) "REML" else "ML (profiled, sparse Cholesky)",
                      nAGQ = 1L,
                      stages = opt$stages,
                      evaluations = evals, convergence = opt$convergence,
                      message = opt$message,
                      max_grad = gmax, scaled_grad = steps$nstep, boundary_check = bc$record,
                      scaled_grad_sigma_held = steps$nstep_held,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      nnz_factor = ev$nnz_factor, warnings = warn, nthreads = 1L,
                      reparameterized = FALSE,
                      reml = if (reml) list(criterion = crit, theta = phi,
                                            convergence = opt$convergence, evaluations = evals,
                                            scaled_grad_sigma_held = steps$nstep_held,
                                            curv_log_sigma = steps$curv_ls)))
  lmm_covstruct_standard_x(out, tx, reml)
}

# The engine's parameterization (beta, Lambda's entries in the user's
# units, log sigma), which the methods shared with unstructured fits read,
# with the covariance `cov_theta` of the structures' parameters pushed
# forward by the Cholesky factor's Jacobian. Returns `lm` (Lambda and its
# Jacobian), `theta` and `cov`.
lmm_covstruct_chol <- function(terms, k0, phi, roles, sigma, beta, par_names, cov_theta,
                               on_boundary, profiled_beta) {
  p <- length(beta)
  # Lambda = sigma * chol(D(phi)) from the relative factor the search
  # evaluated: refactorising D in the user's units fails where a
  # correlation sits at its limit (cs at rho = -1 / (q - 1)). In the user's
  # units at fixed log sigma, d phi / d par is 1 (1 / sigma for an
  # unstructured entry), and Lambda does not move with log sigma.
  lm <- structure_lambda(terms, k0, phi)
  lm$lambda <- sigma * lm$lambda
  lm$J <- sigma * sweep(lm$J, 2L, ifelse(roles == "entry", 1 / sigma, 1), `*`)
  B <- structure_push_jacobian(p, lm$J, TRUE)
  cnames <- c(names(beta), par_names, "log(sigma)")
  theta_chol <- stats::setNames(c(beta, lm$lambda, log(sigma)), cnames)
  cov_chol <- pushed_covariance(cov_theta, B, on_boundary, cnames, max_dense = Inf)
  # `profiled_beta` (REML, and a fit without a Hessian): the fixed effects'
  # block is sigma^2 (RX'RX)^-1 whatever the covariance parameters' block
  # holds (NA where their information is not negative definite, which
  # fit_warnings() reports; na_product() would carry those NA through B's
  # zeros).
  if (profiled_beta)
    cov_chol[seq_len(p), seq_len(p)] <- cov_theta[seq_len(p), seq_len(p)]
  list(lm = lm, theta = theta_chol, cov = cov_chol)
}

# The convergence measures of a structured profiled fit: the remaining
# Newton step of the (restricted) log-likelihood in the covariance
# parameters (`g`, `H` their gradient and Hessian; REML: the differenced
# Hessian; ML: the joint observed information; `bnd` those on a boundary),
# the same with log(sigma) held, and REML's curvature in log(sigma) near
# sigma's zero limit (`ll_cov` the log-likelihood at `x0`).
lmm_covstruct_steps <- function(g, H, bnd, roles, sigma, sdy, reml, control, ll_cov, x0) {
  # The remaining Newton step, scaled by the information. The
  # step of an unstructured entry is measured relative to sigma, as the
  # search's parameters are: in the user's units (y * 1e6) it was a step of
  # 15 in an entry of 1e6, and a false "doubtful convergence".
  rel <- c(ifelse(roles == "entry", sigma, 1), 1)
  nstep <- if (control$hessian) newton_decrement(g * rel, H * outer(rel, rel), bnd) else NA_real_
  # The same step with log(sigma) held (its Newton step left out), for
  # glmm_sparse_covstruct() where sigma is at its zero limit
  # (covstruct_sigma_zero()): the (restricted) log-likelihood is flat in
  # log(sigma) there, and the step along that flat direction (0.36 on
  # cs_data(3) beside (1 | site)) is no sign that the other parameters
  # have not converged. Nor is sigma, tending to 0, a scale for the
  # unstructured entries' steps: relative to it the site SD's remaining
  # step of 1.5e-4 (to its zero boundary, glmmTMB's estimate; the
  # log-likelihood 4e-6 below glmmTMB's) read as 1.06. There they are
  # measured relative to y's standard deviation, the scale the other
  # gaussian routes search on (response_scale()), again free of y's units.
  # ML too: its step along log(sigma) (12 on a cs() fit at sigma 1.3e-5 of
  # y's SD) said "doubtful convergence" beside "the fit is on that
  # boundary, not unconverged".
  nstep_held <- if (control$hessian) {
    rel_y <- c(ifelse(roles == "entry", sdy, 1), 1)
    newton_decrement(g * rel_y, H * outer(rel_y, rel_y), replace(bnd, length(g), TRUE))
  } else NA_real_
  # REML's curvature in log(sigma) from the criterion's values, where sigma
  # is below 1e-3 of y's standard deviation (covstruct_sigma_limit_reml()):
  # the second difference over a step of 1 either side. The differenced
  # Hessian's entry there is the noise of the exact gradient, whose terms
  # cancel to relative errors near eps / sigma^2: at sigma = 7e-6 on
  # cs_data(3) beside (1 | site) it read -0.09 where the criterion changes
  # by 1e-8, and the limit went unrecognized.
  curv_ls <- if (reml && sigma < 1e-3 * sdy) {
    k <- length(x0)
    fl <- vapply(c(-1, 0, 1), function(h) ll_cov(replace(x0, k, x0[[k]] + h), FALSE)$loglik, 1)
    fl[1] - 2 * fl[2] + fl[3]
  } else NA_real_
  list(nstep = nstep, nstep_held = nstep_held, curv_ls = curv_ls)
}

# lmm_standard_x() for a structured fit: also the structures' own
# parameter vector and covariance (fixed effects first), which confint()
# and the structures' summaries read.
lmm_covstruct_standard_x <- function(fit, tx, reml) {
  if (isTRUE(tx$identity)) return(fit)
  fit <- lmm_standard_x(fit, tx, reml)
  ip <- seq_len(ncol(tx$T))
  Ti <- backsolve(tx$T, diag(1, length(ip)))
  th <- attr(fit$structures, "theta")
  th[ip] <- fit$beta
  V <- attr(fit$structures, "cov_theta")
  V[ip, ] <- Ti %*% V[ip, , drop = FALSE]
  V[, ip] <- V[, ip, drop = FALSE] %*% t(Ti)
  V[ip, ip] <- (V[ip, ip] + t(V[ip, ip])) / 2
  attr(fit$structures, "theta") <- th
  attr(fit$structures, "cov_theta") <- V
  fit
}

# Whether glmm_sparse_covstruct() takes the profiled criterion for an ML
# fit: only with options(glmmgee.covstruct_profiled = TRUE) (gaussian
# identity link, no penalty). Measured on bench-covstruct.R's gaussian
# AR(1) + site model (6,050 random effects) it took 0.71 CPU s against the
# sparse Laplace route's 0.27 (the selected inverse over the crossed
# site's fill costs more than the Laplace engine's evaluations), so ML
# stays on the Laplace route by default; REML always takes this criterion.
lmm_covstruct_wanted <- function(family, penalty) {
  identical(family$family, "gaussian") && identical(family$link, "identity") &&
    is.null(penalty) && isTRUE(getOption("glmmgee.covstruct_profiled"))
}
