# Matrix-level fitter for the one-factor engine with auxiliary linear
# predictors: zero-inflation, hurdle (two-part) models and a dispersion
# formula (src/families/families-aux.h). The engine is the Laplace / AGHQ engine of
# glmm_fit(); its parameter vector gains the auxiliary coefficients after
# Lambda's entries:
#   theta = (beta [p], Lambda's free entries, gamma [pz], delta [pd]),
# gamma the logit-scale coefficients of the structural-zero (zi) or zero
# (hurdle) probability, delta those of the log dispersion (log sigma,
# log theta, log shape, as glmmTMB's dispformula). A family with a
# dispersion and no dispersion formula gets delta = one intercept: the
# scalar dispersion of glmm_fit().

# kind: "zi", "hurdle" or "disp" (a dispersion formula only).
# start: optional theta in the user's parameterization (as returned in
# $theta), e.g. to begin on a boundary.
# Xz, Xd: designs of the zi and dispersion predictors (NULL when absent);
# offz, offd their offsets.
glmm_zi_fit <- function(X, y, Z, group, family, kind, Xz = NULL, Xd = NULL,
                        weights = NULL, offset = NULL, offz = NULL, offd = NULL,
                        nAGQ = 1L, cov_blocks = ncol(Z), control = glmm_control(),
                        start = NULL, penalty = NULL) {
  # A gaussian identity-link dispersion model (no zero part, no penalty on
  # the fixed effects, neither of which is equivariant in y) is fitted on
  # y / s (two_part_units()); beta and Lambda are mapped back.
  u <- two_part_units(X, y, weights, offset, offd, family, kind == "disp" && is.null(penalty))
  if (!u$scaled)
    return(glmm_zi_fit_units(X, y, Z, group, family, kind, Xz, Xd, weights, offset, offz,
                             offd, nAGQ, cov_blocks, control, start, penalty))
  nb <- ncol(X) + length(block_pattern(cov_blocks)$row)
  fit <- glmm_zi_fit_units(X, u$y, Z, group, family, kind, Xz, Xd, weights, u$offset, offz,
                           u$offd, nAGQ, cov_blocks, control,
                           scale_two_part_start(start, ncol(X), nb - ncol(X), u$s), penalty)
  P <- length(fit$theta)
  unscale_fit(fit, u$s, weights, fit$group$index,
              mult = c(rep(as.vector(u$s), nb), rep(1, P - nb)), add = rep(0, P))
}

# glmm_zi_fit() in the units of the response it is given.
glmm_zi_fit_units <- function(X, y, Z, group, family, kind, Xz, Xd, weights, offset, offz,
                              offd, nAGQ, cov_blocks, control, start, penalty) {
  n <- nrow(X)
  storage.mode(X) <- "double"; storage.mode(Z) <- "double"
  if (is.null(weights)) weights <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  disp <- has_dispersion(family)
  if (disp && is.null(Xd)) Xd <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  if (!disp && !is.null(Xd))
    stop(sprintf("'dispformula': the %s family has no dispersion parameter", family$family),
         call. = FALSE)
  if (kind != "disp" && is.null(Xz)) Xz <- matrix(0, n, 0L)
  offz <- if (kind == "disp") NULL else offz %||% rep(0, n)
  offd <- if (disp) offd %||% rep(0, n)
  for (M in list(Xz, Xd)) if (!is.null(M) && !all_finite(M))
    stop("the zero-inflation or dispersion model matrix contains NA, NaN or infinite values",
         call. = FALSE)
  cl <- cluster_index(group, "group")
  q <- ncol(Z)
  pat <- block_pattern(cov_blocks)
  nAGQ <- check_nAGQ(nAGQ, q)
  check_full_rank(X)
  check_aux_rank(Xz, Xd)
  p <- ncol(X); pz <- if (is.null(Xz)) 0L else ncol(Xz); pd <- if (is.null(Xd)) 0L else ncol(Xd)
  nl <- length(pat$row)

  nb <- p + nl
  # The search runs on centred and scaled designs, the zero-inflation and
  # dispersion ones included (reparam-zi.R); the optimum is mapped back
  # exactly.
  rp <- aux_reparam(glmm_reparam(X, Z, pat, cov_blocks, p, FALSE), nb, Xz, Xd, X)
  eng <- cpp_agq_new(rp$X, rp$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                     cl$index, length(cl$levels), pat$row - 1L, pat$col - 1L,
                     family$family_code, family$link_code, 1L, control$nthreads)
  on.exit(cpp_agq_free(eng), add = TRUE)
  cpp_agq_check_nagq(eng, nAGQ)
  XA <- cbind(if (pz) rp$Xz, rp$Xd)
  if (is.null(XA)) XA <- matrix(0, n, 0L)
  storage.mode(XA) <- "double"
  zi_pred <- if (kind == "disp") integer() else rep(0L, pz)
  pred <- c(zi_pred, rep(if (kind == "disp") 0L else 1L, pd))
  aoff <- cbind(offz, offd)
  storage.mode(aoff) <- "double"
  code <- aux_kind_code(kind, family)
  P <- cpp_agq_set_aux(eng, code, XA, pred, aoff)

  st <- zi_start_values(eng, rp$X, y, weights, offset, family, kind, rp$Xz, offz, pd, pat,
                        rp$Xd, offd)
  if (!is.null(start))
    st <- zi_search_start(start, P, rp$to_star, function(t) agq_eval(eng, t, FALSE)$loglik)
  pen <- aux_penalty(penalty, p, pz, nb + seq_len(pz), rp$Tx, rp$Tz)
  run_fit <- function(st) zi_engine_fit(
    penalized_engine(eng, pen), st, rp, pat, zi_param_names(X, pat, Xz, Xd),
    nAGQ, control, laplace_stage = TRUE,
    dlim = combine_limits(aux_dispersion_limit(family, Xd, offd, nb + pz + seq_len(pd), P,
                                               rp$Xd, rp$Td, limit_zero_rows(y, kind)),
                          if (pz) aux_zero_limit(Xz, offz, nb + seq_len(pz), P, rp$Xz, rp$Tz)),
    summaries = function(theta, theta_s)
      rotate_summaries(cpp_agq_summaries(eng, theta_s), rp$rotation(theta, theta_s)))
  fit <- run_fit(st)
  # A dispersion at its no-overdispersion limit in some rows is verified,
  # as a variance at zero is: once a level's log dispersion is far out, the
  # likelihood is flat along it (the Poisson plateau of nbinom1, phi -> 0),
  # and a level that belongs inside was left there (glmmTMB's test-disp.R
  # model ended 0.62 log-likelihood units low, both levels at the limit).
  # The search restarts with the dispersion coefficients at 0 (a dispersion
  # of 1 on the search's scale) and the better optimum is kept.
  fit <- verify_dispersion_limit(fit, run_fit, nb + pz + seq_len(pd))
  vanish <- zi_vanishing_message(kind, rp$Xz, fit$theta_s[nb + seq_len(pz)], offz)
  cause <- vanish %||% zi_separation_message(kind, rp$Xz, fit$theta_s[nb + seq_len(pz)], offz)
  res <- zi_fit_result(fit, zi_fit_warnings(fit$warn, cause), kind, cl, pat, cov_blocks,
                       list(penalty = aux_penalty_record(penalty, fit$final)), !is.null(vanish),
                       control)
  res$optinfo <- zi_note_logseries(res$optinfo, kind, family, X, offset, Xd, offd, res$theta,
                                   nb + pz + seq_len(pd))
  res
}

# The parameters' names in theta's order: fixed effects, Lambda's free
# entries, zero and dispersion coefficients (Xz, Xd NULL or without
# columns when absent); attribute "sizes" the number of each.
zi_param_names <- function(X, pat, Xz, Xd) {
  pz <- if (is.null(Xz)) 0L else ncol(Xz)
  pd <- if (is.null(Xd)) 0L else ncol(Xd)
  structure(c(colnames(X) %||% paste0("X", seq_len(ncol(X))),
              sprintf("lambda[%d,%d]", pat$row, pat$col),
              if (pz) paste0("zi~", colnames(Xz) %||% seq_len(pz)),
              if (pd) paste0("disp~", colnames(Xd) %||% seq_len(pd))),
            sizes = c(p = ncol(X), nl = length(pat$row), pz = pz, pd = pd))
}

# The search, boundary verification and finish shared by the one-factor
# two-part fits (glmm_zi_fit() on the AGQ engine, glmm_zi_random_fit() on the
# engine with random effects in both parts; agq_eval() and agq_set_nagq()
# dispatch on the engine): st the start and rp the reparameterization of
# the search's scale, pnames the parameters' names and sizes
# (zi_param_names()).
# laplace_stage: a search may begin with a Laplace stage before quadrature
# (restarts never do); summaries(theta, theta_s): the engine's modes and
# posterior moments in the user's parameterization. pilot: the rule of that
# first stage (1 = Laplace); retries: fresh curvatures after a Newton-BFGS
# run that stops short, before nlminb (zi_optimize()).
zi_engine_fit <- function(eng, st, rp, pat, pnames, nAGQ, control, laplace_stage,
                          summaries, pilot = 1L, retries = 0L, dlim = NULL) {
  sizes <- attr(pnames, "sizes")
  pnames <- as.vector(pnames)
  P <- length(st)
  p <- sizes[["p"]]; nl <- sizes[["nl"]]
  lower <- c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), rep(-Inf, P - p - nl))
  at_lam <- p + seq_len(nl)
  is_diag <- pat$row == pat$col
  bound_at <- function(tol, typical = rep(1, P)) function(th) {
    b <- rep(FALSE, P)
    b[at_lam] <- is_diag & abs(th[at_lam]) < tol * typical[at_lam]
    b
  }
  bound <- bound_at(optimizer_boundary_tol(control))
  # Restarts (verify_boundary()) run on quadrature directly: a Laplace stage
  # would lead them back to a Laplace boundary optimum.
  search <- function(th, two_stage = TRUE) {
    ctl <- control
    if (!two_stage || !laplace_stage) ctl$laplace_start <- FALSE
    r <- zi_optimize(eng, th, lower, nAGQ, bound, ctl, at_lam, pilot, retries)
    r$loglik <- if (is.null(r$at)) agq_eval(eng, r$theta, FALSE)$loglik else r$at$loglik
    r
  }
  run <- search(st)
  vb <- verify_boundary(function(th) search(th, two_stage = FALSE), run, bound,
                        function(th, b, size, corr)
                          restart_lambda(th, b, size, corr, pat$row, pat$col, at_lam),
                        pnames, diag = at_lam[is_diag])
  run <- vb$best
  agq_set_nagq(eng, nAGQ)
  # (with each cluster's score from the Hessian's evaluations, kept for
  # vcov()'s cluster-robust types: cluster-curvature.R)
  fin <- finish_search(engine_ev(eng), run$theta, run$opt, c(run$stages, run$restart_stages),
                       bound, lower, control, rep(1, P), control$rel.tol / 100 / 1000,
                       at = run$at, cluster_ev = scores_ev(eng))
  theta_s <- fin$theta
  final <- fin$final
  run$opt <- fin$opt
  run$stages <- fin$stages
  theta <- rp$from_star(theta_s)
  # (rp$boundary: one-factor fits, and two-part random-effect fits with a
  # far slope, zi_random_z_reparam(); zi_random_base_reparam() has none.)
  user_bound <- bound_at(control$singular_tol, rp$typical)
  on_boundary <- if (is.null(rp[["boundary"]])) user_bound(theta)
                 else rp$boundary(theta, theta_s, user_bound, bound_at(control$singular_tol))
  J <- rp$jacobian(theta, !on_boundary)
  curvature <- fin$curvature
  if (!is.null(curvature)) curvature[c("jacobian", "at")] <- list(J, unname(theta))
  # The convergence test reads the gradient on the optimizer's standardized
  # scale, where it does not depend on the covariates' units (on the user's,
  # a covariate in micro-units gave "doubtful convergence" at the optimum).
  gmax_star <- max_free_gradient(final$gradient, bound(theta_s))
  # A dispersion at its no-overdispersion limit (aux_dispersion_limit()) is
  # left out of the Newton step and the covariance, as on the one-part routes.
  dl <- if (is.null(dlim)) rep(FALSE, P) else dlim(theta)
  grad_s <- final$gradient
  final$gradient <- drop(crossprod(J, final$gradient))
  hess <- to_user_hessian(fin$hess, J, bound(theta_s), on_boundary)
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  summ <- summaries(theta, theta_s)
  names(theta) <- pnames
  grad <- stats::setNames(final$gradient, pnames)
  hess <- na_at_boundary(hess, on_boundary)
  # The remaining Newton step and the covariance, also on that scale
  # (star_covariance()).
  lc <- limit_covariance(fin$hess, J, grad_s, bound(theta_s), on_boundary, pnames, hess, dl,
                         Tx = rp$star_tx)
  nstep <- lc$nstep
  cov_theta <- lc$cov
  run$opt <- plateau_verdict(run$opt, dl, nstep, control)
  gmax <- max_free_gradient(grad, on_boundary)
  modes_failed <- if (summ$newton_failures > 0L)
    sprintf("the posterior mode search failed in %d cluster(s)", summ$newton_failures)
  warn <- fit_warnings(run$opt, nstep, gmax_star, any(on_boundary), hess, cov_theta,
                       control, after_singular = c(modes_failed, attr(dl, "message")),
                       boundary_check = vb$record)
  # A penalized engine's (penalty-aux.R) loglik is the penalized objective:
  # the fit reports the log-likelihood, and the objective in `final`.
  list(theta = theta, theta_s = theta_s, loglik = final$loglik - (final$penalty %||% 0),
       final = final, gradient = grad,
       hessian = hess, cov_theta = cov_theta, modes = summ, on_boundary = on_boundary,
       run = run, boundary_check = vb$record, gmax = gmax, gmax_star = gmax_star, nstep = nstep,
       warn = warn,
       sizes = sizes, nAGQ = nAGQ, dispersion_limit = any(dl),
       reparameterized = !rp$identity, cluster_curvature = curvature)
}

# The fitter's result from zi_engine_fit()'s: the parameters split by
# part, the optimization record; `extra` fields follow `kind`.
zi_fit_result <- function(fit, warn, kind, cl, pat, cov_blocks, extra, vanishes, control) {
  # A log-likelihood of -Inf is no estimate (the Salamanders fit with a
  # dispersion offset of -10 and zero-part random effects, before its start
  # took the offset into account, reported one with estimates beside it).
  if (!is.finite(fit$loglik))
    stop(sprintf("the two-part fit ended where the log-likelihood is %s, so it has no estimates: give 'start' values, or refit with nAGQ > 1 (adaptive quadrature) or without the zero part's random effects",
                 format(fit$loglik)), call. = FALSE)
  theta <- fit$theta
  p <- fit$sizes[["p"]]; nl <- fit$sizes[["nl"]]; pz <- fit$sizes[["pz"]]; pd <- fit$sizes[["pd"]]
  nAGQ <- fit$nAGQ
  q <- sum(cov_blocks)
  at_lam <- p + seq_len(nl)
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- theta[at_lam]
  run <- fit$run
  stages <- run$stages
  on_boundary <- fit$on_boundary
  c(list(beta = theta[seq_len(p)], lambda = theta[at_lam], Lambda = Lam,
         zi = if (pz) theta[p + nl + seq_len(pz)], disp = if (pd) theta[p + nl + pz + seq_len(pd)],
         theta = theta, loglik = fit$loglik, gradient = fit$gradient, hessian = fit$hessian,
         cov_theta = fit$cov_theta, modes = fit$modes, nAGQ = nAGQ, group = cl, q = q,
         pattern = pat, cov_blocks = cov_blocks, p = p, kind = kind,
         cluster_curvature = fit$cluster_curvature),
    extra,
    list(singular = any(on_boundary), on_boundary = on_boundary,
         optinfo = agq_optinfo(stages, nAGQ, run$opt, fit$gmax_star, fit$gmax,
                               fit$reparameterized, fit$nstep, fit$cov_theta,
                               fit$modes$newton_failures, warn, fit$boundary_check,
                               isTRUE(fit$dispersion_limit), control$nthreads,
                               zero_inflation_vanishes = vanishes)))
}

# Starting values: the count GLM's fixed effects (the engine's Newton
# iteration; for a hurdle on the positive counts' scale this is close
# enough), random-effect scale 1/2, and for the zero part a logistic GLM of
# y == 0 (hurdle: that is its maximum-likelihood fit) or a small constant
# zero-inflation probability (zi).
zi_start_values <- function(eng, X, y, weights, offset, family, kind, Xz, offz, pd, pat,
                            Xd = NULL, offd = NULL) {
  beta <- if (kind == "disp") cpp_agq_glm_start(eng, 20L)
          else if (binomial_response(family)) zi_binomial_start(X, y, weights, offset, family)
          else count_start(X, y, weights, offset)
  c(beta, ifelse(pat$row == pat$col, 0.5, 0),
    zi_aux_start(X, y, beta, weights, offset, family, kind, Xz, offz, pd, Xd, offd))
}

# The zero part's and the dispersion part's starts, given the count part's
# beta (every two-part route): for a hurdle the logistic GLM of y == 0,
# for zero inflation a small constant probability; the dispersion's log 0,
# or the residual SD's log for gaussian models; each intercept at its
# part's mean offset (zi_start_intercept()).
zi_aux_start <- function(X, y, beta, weights, offset, family, kind, Xz, offz, pd, Xd, offd) {
  pz <- if (is.null(Xz)) 0L else ncol(Xz)
  gam <- numeric(pz)
  if (pz && kind == "hurdle") {
    g <- suppressWarnings(stats::glm.fit(Xz, as.numeric(y == 0), weights = weights,
                                         offset = offz, family = stats::binomial()))
    if (all(is.finite(g$coefficients))) gam <- unname(g$coefficients)
  } else if (pz) {
    gam[1L] <- zi_start_intercept(Xz, offz, weights)
  }
  del <- numeric(pd)
  if (pd && identical(family$family, "gaussian"))
    del[1L] <- log(max(stats::sd(y - drop(X %*% beta) - offset), 1e-3))
  if (pd) del[1L] <- zi_start_intercept(Xd, offd, weights, del[1L])
  c(gam, del)
}

# The start of a zero or dispersion part's first coefficient: the linear
# predictor `at` (zero inflation: -1, a probability of plogis(-1); the
# dispersion's log: 0, or the residual SD's log) at the part's mean offset,
# where the first column is the intercept (constant). Without the offset's
# mean, a constant offset of 10 in `ziformula` started every zero-inflation
# probability at 1 - 2e-5 and the search ended 178 log-likelihood units
# below the optimum, saying the data needed no structural zeros
# (Salamanders, `~ spp + offset(oz)`); nbinom2 with `dispformula = ~ mined +
# offset(od)`, od = -10, ended 240 units below.
zi_start_intercept <- function(Xz, offz, weights, at = -1) {
  if (is.null(offz) || !length(offz) || is.null(Xz) || !ncol(Xz)) return(at)
  pos <- if (is.null(weights)) rep(TRUE, length(offz)) else weights > 0
  m <- mean(offz[pos])
  x1 <- Xz[pos, 1L]
  if (!is.finite(m) || m == 0 || !length(x1) || any(x1 != x1[1L]) || x1[1L] == 0) return(at)
  (at - m) / x1[1L]
}

# The conditional part's start on the sparse two-part routes: with a
# dispersion formula alone, the gaussian or Poisson GLM; otherwise as
# zi_binomial_start() or count_start().
two_part_beta_start <- function(X, y, weights, offset, family, kind) {
  if (kind != "disp") {
    if (binomial_response(family)) return(zi_binomial_start(X, y, weights, offset, family))
    return(count_start(X, y, weights, offset))
  }
  g <- suppressWarnings(stats::glm.fit(X, y, weights = weights, offset = offset,
                                       family = if (family$family == "gaussian") stats::gaussian()
                                                else stats::poisson()))
  b <- unname(g$coefficients)
  b[!is.finite(b)] <- 0
  b
}

# The count part's start: a Poisson GLM of the positive counts. With all
# rows, cells of structural zeros would drive a coefficient to -Inf (and
# the iteration to its limit); the positive counts overstate the mean by
# the zero-truncation only, which the optimizer corrects in a few steps.
count_start <- function(X, y, weights, offset) {
  pos <- y > 0 & weights > 0
  if (sum(pos) <= ncol(X)) return(numeric(ncol(X)))
  Xp <- X[pos, , drop = FALSE]
  b <- poisson_irls(Xp, y[pos], weights[pos], offset[pos], maxit = 10L)
  if (is.null(b)) {
    g <- suppressWarnings(tryCatch(
      stats::glm.fit(Xp, y[pos], weights = weights[pos], offset = offset[pos],
                     family = stats::poisson(), control = stats::glm.control(maxit = 10L)),
      error = function(e) NULL))
    b <- if (is.null(g)) numeric(ncol(X)) else unname(g$coefficients)
  }
  b[!is.finite(b) | abs(b) > 10] <- 0
  b
}

# The iteration of glm.fit() for a poisson log-linear model (start mu = y +
# 0.1, convergence when the deviance changes by less than 1e-8 relative),
# without its checks and family objects, which cost several times the
# iteration on a small design (Salamanders: 2.3 -> 0.4 ms). NULL when the
# weighted design is rank deficient or the iteration leaves the finite
# numbers; the caller then uses glm.fit().
poisson_irls <- function(X, y, w, off, maxit) {
  eta <- log(y + 0.1)
  dev_old <- Inf
  b <- NULL
  for (it in seq_len(maxit)) {
    mu <- exp(eta)
    sw <- sqrt(w * mu)
    f <- stats::.lm.fit(X * sw, (eta - off + (y - mu) / mu) * sw)
    if (f$rank < ncol(X) || !all(is.finite(f$coefficients))) return(NULL)
    b <- f$coefficients
    eta <- c(X %*% b) + off
    mu <- exp(eta)
    if (!all(is.finite(mu))) return(NULL)
    dev <- 2 * sum(w * (ifelse(y > 0, y * log(y / mu), 0) - (y - mu)))
    if (abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8) break
    dev_old <- dev
  }
  unname(b)
}

# Newton steps updated by BFGS from the curvature at the start
# (zi_start_hessian(), refreshed every few steps where it is cheap), nlminb when
# they do not converge; for quadrature the Laplace optimum first (the same
# strategy as optimize_glmm(), whose boundary mask knows only one
# dispersion parameter). The quadrature stage starts from the Laplace
# stage's final BFGS matrix instead of a new curvature by differences: the
# two optima are close, BFGS corrects the matrix in a few steps, and the
# P quadrature evaluations saved cost 4-5 times a Laplace one each
# (Salamanders ZINB, nAGQ = 11: 41 quadrature evaluations before, 25 after).
# pilot: the rule of the first stage (1, the Laplace approximation, unless
# the caller asks for a coarse quadrature rule). retries: a Newton-BFGS
# run that does not start from a cheap curvature refreshed every few steps
# (a stage handed the previous stage's BFGS matrix, or an engine without
# cheap_curvature()) and stops short (a step held at a bound twice in a
# row, a failed line search) gets up to `retries` fresh curvatures at its
# last point before nlminb takes over: from a start far off, the curvature
# there misleads the first steps, and nlminb then needs 40-60 evaluations
# where Newton from a fresh curvature needs about 10.
zi_optimize <- function(eng, theta, lower, nAGQ, bound, control, at_lam, pilot = 1L,
                        retries = 0L) {
  stages <- list()
  cheap <- cheap_curvature(eng)
  tight <- control$rel.tol / 100
  # cur: an evaluation at theta already made on this stage's rule.
  one_stage <- function(theta, tol, H1 = NULL, cur = NULL) {
    if (is.null(cur)) cur <- agq_eval(eng, theta, TRUE)
    if (!is.finite(cur$loglik))
      stop("the log-likelihood is not finite at the starting values; give 'start' or check the data",
           call. = FALSE)
    # Where the curvature costs about two evaluations (zi_start_hessian()),
    # it is refreshed after every few steps: far from the start the BFGS
    # matrix is still learning what the new curvature already knows
    # (simulated ZINB with a dispersion formula: 68 evaluations a fit
    # instead of 43; Salamanders ZINB 55 instead of 40). A quadrature stage
    # that starts from the Laplace stage's BFGS matrix keeps it: that matrix
    # already holds the log|H| terms the refreshed curvature leaves out.
    refresh <- cheap && is.null(H1)
    rounds <- if (refresh) 3L else 1L + retries
    rec <- list(iterations = 0L, evaluations = 0L)
    curv <- list(iterations = 0L, evaluations = 0L, convergence = 0L,
                 message = "curvature at the start (and refreshed)")
    left <- min(control$iter.max, 50L)
    for (r in seq_len(rounds)) {
      if (r > 1L || is.null(H1) || !identical(is.na(diag(H1)), bound(theta))) {
        H1 <- zi_start_hessian(eng, theta, bound(theta), cur$gradient, at_lam)
        curv$evaluations <- curv$evaluations + attr(H1, "evaluations")
      }
      qn <- newton_search(engine_ev(eng), theta, negative_definite(H1), bound(theta), lower,
                          profile = "agq", at = cur, tol = tol,
                          maxit = if (refresh && r < rounds) min(4L, left) else left)
      rec$iterations <- rec$iterations + qn$record$iterations
      rec$evaluations <- rec$evaluations + qn$record$evaluations
      left <- left - qn$record$iterations
      theta <- qn$theta
      cur <- qn$at
      if (qn$converged || left < 1L) break
      if (!cheap && qn$record$iterations == 0L) break  # no progress: nlminb
    }
    qn$record$iterations <- rec$iterations
    qn$record$evaluations <- rec$evaluations
    st <- list(curvature = curv, newton = qn$record)
    opt <- list(convergence = qn$record$convergence, message = qn$record$message)
    if (!qn$converged) {
      opt <- optimize_engine(eng, theta, lower, control, H = H1)
      st$nlminb <- stage_record(opt)
      theta <- opt$par
    }
    # at: the evaluation at the converged theta (on this stage's rule), which
    # the search's log-likelihood and the finish reuse.
    list(theta = theta, opt = opt, stages = st,
         hessian = if (qn$converged) qn$hessian, at = if (qn$converged) cur)
  }
  H_lap <- NULL
  at1 <- NULL
  if (nAGQ > 1L && control$laplace_start) {
    agq_set_nagq(eng, pilot)
    r1 <- one_stage(theta, 1e-8)
    nm <- if (pilot == 1L) "laplace" else "pilot"
    stages[[paste0("curvature_", nm)]] <- r1$stages$curvature
    stages[[nm]] <- r1$stages$newton
    if (!is.null(r1$stages$nlminb)) stages[[paste0("nlminb_", nm)]] <- r1$stages$nlminb
    agq_set_nagq(eng, nAGQ)
    # A coarse rule's optimum is kept only where the full rule agrees that
    # it is better than the start (the full stage's first evaluation and
    # one value at the start).
    at1 <- if (pilot > 1L) agq_eval(eng, r1$theta, TRUE)
    if (pilot == 1L || isTRUE(at1$loglik >= agq_eval(eng, theta, FALSE)$loglik)) {
      theta <- r1$theta
      H_lap <- r1$hessian
    } else {
      at1 <- NULL
    }
  }
  agq_set_nagq(eng, nAGQ)
  r <- one_stage(theta, tight, H_lap, at1)
  r$stages <- c(stages, r$stages)
  r
}

# The curvature the search starts from. Differences of the exact gradient
# cost one evaluation per parameter (29 of a Salamanders ZIP fit's 106);
# on the one-factor engines (also the one with random effects in the zero
# part) the block of the fixed, zero and dispersion coefficients comes
# instead from one pass over the observations at the modes
# (cpp_agq_fixed_curvature(), cpp_two_part_fixed_curvature(): the conditional
# information, without the log|H| terms), and only Lambda's columns from
# differences of the gradient. It only guides the search's steps (BFGS
# corrects it, and the finish recomputes the Hessian for the standard
# errors by differences), so the optimum does not depend on it. The
# sharded stand-in keeps the differences. The attribute "evaluations"
# counts the engine passes it took.
zi_start_hessian <- function(eng, theta, on_boundary, g0, at_lam) {
  if (!cheap_curvature(eng))
    return(structure(numeric_hessian(eng, theta, on_boundary, g0 = g0),
                     evaluations = sum(!on_boundary)))
  fixed <- setdiff(seq_along(theta), at_lam)
  core <- engine_core(eng)
  Hf <- if (inherits(core, "glmmgee_two_part_engine")) cpp_two_part_fixed_curvature(core, theta)
        else cpp_agq_fixed_curvature(core, theta)
  # A penalized fit's search adds the prior's exact curvature (penalty-aux.R).
  if (inherits(eng, "glmmgee_penalized_engine"))
    Hf <- Hf + eng$pen(theta, hessian = TRUE)$hessian[fixed, fixed]
  lam <- at_lam[!on_boundary[at_lam]]
  H <- block_curvature(function(th) agq_eval(eng, th, TRUE)$gradient, theta, g0, fixed, Hf, lam,
                       1e-5)
  H <- na_at_boundary(H, on_boundary)
  # One pass at the modes (about a value-only evaluation) and Lambda's columns.
  structure(H, evaluations = 1L + length(lam))
}

cheap_curvature <- function(eng) {
  eng <- engine_core(eng)
  inherits(eng, "glmmgee_two_part_engine") || (is.null(oldClass(eng)) && typeof(eng) == "externalptr")
}


# A two-part fit's `start` (laid out as its $theta) mapped by `to_star` to
# the search's parameters, where `loglik(theta*)` must be finite; `why()`
# may name the reason where it is not.
zi_search_start <- function(start, P, to_star, loglik, why = function() "") {
  if (!is.numeric(start) || length(start) != P || !all(is.finite(start)))
    stop(sprintf("'start' must be %d finite numbers (fixed effects, Lambda's free entries, zero and dispersion coefficients)",
                 P), call. = FALSE)
  th <- to_star(unname(as.numeric(start)))
  if (!is.finite(loglik(th)))
    stop(paste0("'start': the log-likelihood is not finite at the given starting values", why(),
                "; give other values (such as smaller standard deviations, or coefficients ",
                "nearer 0) or leave 'start' out"), call. = FALSE)
  th
}
