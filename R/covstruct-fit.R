# The fit of a GLMM whose random-effect terms on one grouping factor have
# covariance structures (covstruct.R): the one-factor engine (AGHQ or
# Laplace) evaluates the likelihood at Lambda = chol(D(par)), and its exact
# gradient in Lambda's entries is carried to the structure's parameters by
# the exact Jacobian of the Cholesky factor (chol_jacobian()).
#
# Parameters: c(beta*, structure parameters term by term, log dispersion).
# The fixed effects are searched on the centred and scaled design
# (design_transform(), beta* = Tx beta), so the search does not depend on
# the covariates' units; Z is used as given, since a structure (diagonal,
# AR(1), ...) is not preserved by recentring its columns.
covstruct_fit <- function(X, y, re, group, family, weights, offset, nAGQ, control,
                          penalty = NULL, start = NULL) {
  p <- ncol(X)
  cl <- cluster_index(group, "group")
  M <- length(cl$levels)
  q <- ncol(re$Z)
  check_support(y, family)
  if (is.null(nAGQ)) nAGQ <- default_nAGQ(q, family)
  nAGQ <- check_nAGQ(nAGQ, q)
  check_full_rank(X)
  disp <- has_dispersion(family)
  tx <- design_transform(X)
  Tx <- tx$T
  # Gaussian identity link: fitted on y / s, estimates mapped back, so that
  # the optimum found does not depend on the units of y (response-scale.R).
  # A penalty on the fixed effects is not equivariant in y: kept as given.
  # A response far from zero is fitted as y - X b0 too (response_shift()).
  # A covariance fixed in y's units (equalto()) is divided by s^2: kept in
  # y's units, a fit with y in units 1e-5 of its spread ended 350 below the
  # optimum with the residual reported at zero.
  s_map <- if (is.null(penalty)) response_scale(X, y, weights, offset, family) else 1
  s <- as.vector(s_map)
  if (s != 1) re$terms <- fixed_covariance_in_units(re$terms, s)
  y <- shifted_response(y, X, s_map)
  offset <- offset / s
  eng <- cpp_agq_new(tx$M, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                     cl$index, M, re$lam_row - 1L, re$lam_col - 1L, family$family_code,
                     family$link_code, nAGQ, control$nthreads)
  on.exit(cpp_agq_free(eng), add = TRUE)
  cpp_agq_check_nagq(eng, nAGQ)
  pat <- list(row = re$lam_row, col = re$lam_col)
  st <- start_values(tx$M, y, weights, offset, family, q, pat, NULL, eng)
  k_re <- structure_blocks(re$terms, p)
  sd0 <- max(st[p + which(pat$row == pat$col)][1L], 0.1)
  user_start <- start
  start <- c(st[seq_len(p)], unlist(lapply(re$terms, function(t) t$struct$start(sd0))),
             if (disp) st[[length(st)]])
  P <- length(start)

  # The objective and its gradient in the structures' parameters
  # (covstruct-eval.R, shared with the several-term fitter).
  # Each evaluation carries the clusters' scores where the fit can keep
  # their curvature (cluster-curvature.R): not beside a penalty (a term of
  # no cluster), nor on the gaussian closed form (no scores).
  keep <- is.null(penalty) && as.double(M) * P^2 <= curvature_max_doubles
  raw_evalf <- structure_evalf(covstruct_engine_eval(eng, tx$M, re, y, weights, offset, family, cl,
                                                     scores = keep),
                               re$terms, k_re, p, disp, Tx, penalty)
  evalf <- sigma_floor_evalf(raw_evalf, family, disp, P)
  if (!is.null(user_start))
    start <- check_structure_start(evalf, structure_search_start(
      user_start, structure_layout(colnames(X), p, re$terms, dispersion_tail(family, disp)),
      re$terms, k_re, Tx, s_map, disp = disp), re$terms, k_re)
  search <- function(par) covstruct_search(evalf, par, control)
  run <- search(start)
  bc <- covstruct_verify(search, run, re$terms, k_re,
                        covstruct_disp_index(family, disp, length(start),
                                             if (!identical(evalf, raw_evalf)) covstruct_sigma_floor))
  run <- bc$best
  if (!identical(evalf, raw_evalf)) run$par[[P]] <- max(run$par[[P]], covstruct_sigma_floor)
  par <- run$par
  final <- run$at %||% evalf(par)
  est <- covstruct_estimates(evalf, run, bc, final, re$terms, k_re, Tx, colnames(X), family,
                             disp, control, penalty,
                             lam_names = sprintf("lambda[%d,%d]", pat$row, pat$col), s = s_map)
  lm <- est$lm
  theta <- est$theta
  cov_theta <- est$cov_theta
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- lm$lambda
  # The engine works on y / s: its Lambda is the search's, which est$lm
  # already is unless the estimates were mapped back to the units of y.
  lm_search <- if (s == 1) lm else structure_lambda(re$terms, k_re, par)
  summ <- cpp_agq_summaries(eng, structure_engine_theta(par, lm_search, p, disp))
  # (kept in the search's units: y's own, A its map d par / d theta)
  curvature <- if (control$hessian && !any(est$on_boundary) && !is.null(run$hessian) &&
                   s == 1 && is.null(response_shift(s_map)))
    structure_curvature(run$curvature, par, re$terms, k_re, p, function(th)
      cpp_agq_eval_scores(eng, th)$scores, est$jacobian, est$theta, est$cov_search)
  npos <- tabulate(cl$index[if (is.null(weights)) TRUE else weights > 0], M)
  summ$loglik <- summ$loglik - npos * log(s)
  bc$record <- shift_boundary_record(bc$record, sum(npos) * log(s))
  if (disp) par[[P]] <- par[[P]] + log(s)
  warn <- fit_warnings(run$opt, est$nstep, est$gmax_star, est$singular, est$hess, cov_theta,
                       control, boundary_check = bc$record)
  list(beta = theta[seq_len(p)], lambda = lm$lambda, Lambda = Lam,
       sigma = sigma_of(family, if (disp) par[[P]]), theta = est$theta_chol,
       loglik = final$loglik - final$penalty - sum(npos) * log(s), penalty = est$penalty,
       gradient = est$grad, hessian = est$hess, cov_theta = est$cov_chol, npar = P,
       modes = summ, nAGQ = nAGQ, family = fitted_family(family, if (disp) par[[P]]),
       group = cl, q = q, pattern = pat, cov_blocks = re$block_sizes, p = p,
       dispersion = disp, family_par = family_parameter(family, theta, cov_theta),
       singular = est$singular, on_boundary = est$on_boundary, cluster_curvature = curvature,
       structures = structure(est$structures, theta = theta, cov_theta = cov_theta),
       optinfo = covstruct_optinfo(run, est, bc, warn, if (nAGQ == 1L) "Laplace" else "AGHQ", nAGQ,
                                   !tx$identity, grad_basis_of(!tx$identity || s != 1),
                                   newton_failures = summ$newton_failures,
                                   nthreads = control$nthreads))
}

# The engine's log-likelihood and gradient at its parameters c(beta*,
# Lambda's entries, log dispersion). A gaussian identity model's marginal
# likelihood is a closed form (the Laplace approximation and AGHQ are exact
# there): cpp_lmm_loglik() evaluates it from per-cluster sums of squares and
# cross-products, the same value and gradient as the one-factor engine's
# without a mode search per cluster; rows of weight 0 add nothing to either.
covstruct_engine_eval <- function(eng, Xs, re, y, weights, offset, family, cl, scores = FALSE) {
  # Given the structures' Jacobian J, the engine returns the gradient in
  # their parameters directly (structure_evalf()): its implicit terms then
  # cost one column per structure parameter instead of one per entry of
  # Lambda (2 against 10 for ar1() on 4 times). With `scores`, each
  # cluster's gradient in the same coordinates comes with it ($scores).
  if (!identical(family$family, "gaussian") || !identical(family$link, "identity"))
    return(structure(function(theta, grad, J = NULL) {
      if (is.null(J) || !grad) cpp_agq_eval(eng, theta, grad)
      else if (scores) cpp_agq_eval_dir_scores(eng, theta, J)
      else cpp_agq_eval_dir(eng, theta, grad, J)
    }, directions = TRUE))
  keep <- weights > 0
  suff <- cpp_lmm_suff(Xs[keep, , drop = FALSE], as.matrix(re$Z)[keep, , drop = FALSE],
                       as.numeric(y - offset)[keep], as.numeric(weights[keep]), cl$index[keep],
                       length(cl$levels))
  prow <- re$lam_row - 1L
  pcol <- re$lam_col - 1L
  function(theta, grad) cpp_lmm_loglik(suff, theta, prow, pcol, grad)
}

# A gaussian residual standard deviation at its zero boundary (a structure
# that absorbs the residual variance, as a three-column cs() with one
# observation per group and column can): the likelihood tends to a finite
# limit as log(sigma) -> -Inf, but the engine's Laplace terms (Z'Z /
# sigma^2 beside the structure's inverse) lose digits below log(sigma) of
# about -10 on y / s (13 log-likelihood units too high at -16) and then
# overflow, so the search ran to log(sigma) = -356 and reported a
# log-likelihood of +3.7e295. On y / s (response_scale()) the objective is
# held at log(sigma) = -8 below that point (sigma / s = 3.4e-4), where it
# is within about 1e-6 of the limit (glmmTMB's -364.1126741 at sigma / s =
# 1.8e-4 against -364.1126737 there), with a zero gradient;
# covstruct_verify() then treats it as a boundary (covstruct_disp_index()).
covstruct_sigma_floor <- -8

sigma_floor_evalf <- function(evalf, family, disp, P, floor = covstruct_sigma_floor) {
  if (!disp || !identical(family$family, "gaussian") || !identical(family$link, "identity"))
    return(evalf)
  function(par, ...) {
    below <- par[[P]] < floor
    if (below) par[[P]] <- floor
    r <- evalf(par, ...)
    if (below && !is.null(r$gradient)) r$gradient[[P]] <- 0
    r
  }
}

# A' H A for a symmetric H whose rows and columns `na` are missing (NA):
# the product over the others, NA where a missing one enters.
na_product <- function(H, A, na) {
  H0 <- H
  H0[na, ] <- 0
  H0[, na] <- 0
  out <- crossprod(A, H0 %*% A)
  hit <- colSums(abs(A[na, , drop = FALSE])) > 0
  na_at_boundary(out, hit)
}

# Newton steps from the curvature at the start, updated by BFGS (the one-
# factor engine's steps, newton_search(), through the structure's exact
# Jacobian), nlminb (scaled by that curvature) only when they do not
# converge; then Newton steps with Hessians recomputed from the exact
# gradient (newton_refresh(), search.R, says why), whose last Hessian, at the returned par, is
# kept for the standard errors. Before, nlminb ran every search: 30-35
# evaluations where BFGS from an accurate start matrix needs about 10.
# The search's first step, from the curvature at the start, is at most
# 2 in every parameter (search profile "structured"): a 7-fold change of a standard
# deviation, two units on a correlation's unconstrained scale or of a
# centred and scaled fixed effect. (Poisson AR(1) of bench-covstruct.R: the
# full step was 36 on the correlation's scale, halved back five times.)
#
# With value_first = TRUE (an engine that keeps a value-only evaluation for
# its gradient, cpp_sparse_eval(reuse = TRUE)), trial steps are evaluated
# without the gradient, which a rejected trial never needs; the search and
# its result are the same.
covstruct_search <- function(evalf, par, control, value_first = FALSE, pre = NULL,
                             profile = "structured", cluster_ev = NULL) {
  P <- length(par)
  value <- if (value_first) function(th) evalf(th, grad = FALSE)
  tol <- control$rel.tol / 100
  if (is.null(pre)) {
    qn <- covstruct_first_search(evalf, par, control, tol, value, profile = profile)
    H0 <- qn$H0
    stages <- list(start = qn$start, newton = qn$record)
  } else {
    # A first search on other scales (covstruct-logsd.R): where it stopped,
    # with its evaluation and quasi-Newton matrix carried to these.
    pr <- pre(par)
    H0 <- pr$H
    qn <- newton_search(function(th) evalf(th), pr$par, H0, rep(FALSE, P), rep(-Inf, P),
                        maxit = min(control$iter.max, 50L), tol = tol, at = pr$at,
                        profile = profile, value = value)
    stages <- c(pr$stages, list(newton = qn$record))
  }
  opt <- list(convergence = qn$record$convergence, message = qn$record$message)
  par <- qn$theta
  if (!qn$converged) {
    # The one-factor engine's fallback (scaled by the curvature at the
    # start), with nlminb's gradient call at a point served from the
    # evaluation of its value there.
    opt <- nlminb_fallback(cached_ev(evalf), par, -Inf, H0, control)
    stages$nlminb <- stage_record(opt)
    par <- opt$par
  }
  pol <- covstruct_newton(evalf, par, tol, at = if (qn$converged) qn$at, value = value,
                          maxiter = control$iter.max, cluster_ev = cluster_ev)
  stages$newton_polish <- pol$record
  res <- list(par = pol$par, loglik = pol$at$loglik, stages = stages, at = pol$at,
              hessian = pol$hessian, curvature = pol$curvature,
              opt = if (pol$converged) list(convergence = 0L, message = pol$record$message)
                    else list(convergence = opt$convergence, message = opt$message))
  res
}

# The quasi-Newton search from `par` with the curvature there (made
# negative definite) as its first matrix: its result (newton_search()),
# with H0, that curvature, and `start`, the record of its evaluations.
covstruct_first_search <- function(evalf, par, control, tol, value, stop_at = NULL,
                                   what = "curvature at the start", profile = "structured") {
  P <- length(par)
  free <- rep(FALSE, P)
  cur <- evalf(par)
  if (!is.finite(cur$loglik)) stop("the log-likelihood is not finite at the start", call. = FALSE)
  H0 <- fd_hessian(gradient_of(evalf), par, g0 = cur$gradient, floor = 0.1, on_boundary = free)
  qn <- newton_search(function(th) evalf(th), par, negative_definite(H0, free, accept = 1e-3) %||% H0,
                      free, rep(-Inf, P), maxit = min(control$iter.max, 50L), tol = tol, at = cur,
                      profile = profile, value = value, stop_at = stop_at)
  c(qn, list(H0 = H0, start = list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                                   message = what)))
}

# Newton steps, the Hessian recomputed each round (one step a round) and
# shifted to be negative definite where it is not (newton_refresh()); trials
# by `value` when given. Its hessian: the last Hessian where it is at par.
# At most `maxiter` Newton steps (glmm_control(iter.max)), so that a fit
# asked to stop early does, and says it has not converged.
# Where evalf's evaluations carry each cluster's score ($scores, as
# covstruct_engine_eval(scores = TRUE) gives them), or the Hessians are
# taken by `cluster_ev` (evalf with them, for an engine whose searches
# evaluate without: the sparse one's), the same differences give the
# clusters' informations (clusters_hessian()): its curvature is theirs at
# par, with the last Hessian (cluster-curvature.R).
covstruct_newton <- function(evalf, par, tol, at = NULL, value = NULL, maxiter = Inf,
                             cluster_ev = NULL) {
  P <- length(par)
  kept <- NULL
  hessian <- function(th, b, cur) {
    if (is.null(cur$scores) && is.null(cluster_ev))
      return(fd_hessian(gradient_of(evalf), th, g0 = cur$gradient, floor = 0.1))
    ch <- clusters_hessian(cluster_ev %||% evalf, th, b, 1,
                           at = if (!is.null(cur$scores)) cur)
    kept <<- ch$curvature
    ch$hess
  }
  r <- newton_refresh(evalf, par, hessian, function(th) rep(FALSE, P), rep(-Inf, P), tol,
                      at = at, rounds = 20L, steps = 1L, maxiter = maxiter, profile = "refresh",
                      value = value)
  curvature <- if (!is.null(r$hessian) && identical(kept$theta, r$theta)) kept
  list(par = r$theta, at = r$at, converged = r$converged, record = r$record, hessian = r$hessian,
       curvature = curvature)
}

# The formula front end of glmm() for structured covariances and for
# penalized fixed effects (penalty.R): the same checks and object as the
# unstructured one-factor route, with the structures' estimates in
# $structures and the prior in $penalty (class glmmgee_glmm_covstruct).
# The structured_one route of glmm_one_factor() (glmm.R): one grouping
# factor (several: glmm_sparse_covstruct(), glmm-sparse-covstruct.R), with
# its terms `re` (covstruct_terms()), fixed design `fx` and checks `ck`.
glmm_covstruct <- function(s, mf, re, fx, ck) {
  formula <- s$formula
  family <- s$family
  nAGQ <- s$nAGQ
  penalty <- s$penalty
  control <- s$control
  X <- fx$X
  resp <- ck$resp
  extra_warn <- ck$extra_warn
  sep <- ck$sep
  # A two-column cs() with a column far from zero is the unstructured term,
  # which the sparse route centres and maps back (covstruct-cs-two-columns.R). Where
  # that route's Laplace approximation is this route's likelihood (gaussian
  # identity, exact; or nAGQ = 1) the fit goes there; otherwise it is
  # centred here (cs_pair_centring_one()), and warns only where that fit ended
  # on the boundary.
  cs_pair <- cs_pair_far_terms(re, resp$weights > 0, one = TRUE)
  if (length(cs_pair) && (identical(as.numeric(nAGQ), 1) || is.null(nAGQ) &&
                       identical(family$family, "gaussian") && identical(family$link, "identity")))
    return(glmm_sparse_covstruct(formula, mf, family, control, s$call, s$fenv, penalty,
                                 start = s$start))
  # A structured term in units far from 1: fitted on its rescaled columns
  # and mapped back (covstruct-scale-z.R), a `start` mapped there.
  fit_one <- function(re_x) {
    zs <- covstruct_z_scaling(re_x, resp$weights > 0, one = TRUE)
    fit <- covstruct_fit(X, resp$y, zs$re %||% re_x, re$group, family, resp$weights, ck$offset,
                         nAGQ, control, penalty = penalty,
                         start = covstruct_scaled_start(s$start, zs, re_x$terms, ncol(X)))
    if (!is.null(zs)) fit <- covstruct_unscale_one(fit, zs, re_x)
    fit
  }
  # Otherwise (adaptive quadrature) such a cs() is integrated on its
  # centred columns and mapped back, on the boundary too (cs_pair_centring_one()).
  # A `start` is in cs()'s parameters, not the centred term's: the fit on
  # the user's columns from it ended 0.107 below the fit without one.
  if (length(cs_pair) && !is.null(s$start))
    stop(sprintf(paste0("'start' is not available for %s: a two-column cs() term with a column ",
                        "far from zero is integrated by quadrature on its centred columns, whose ",
                        "parameters are not cs()'s; leave 'start' out, or centre the covariate"),
                 re$terms[[cs_pair[[1L]]]]$label), call. = FALSE)
  cen <- if (length(cs_pair)) cs_pair_centring_one(re, cs_pair)
  fit <- if (!is.null(cen)) tryCatch(cs_pair_uncentre_one(fit_one(cen$re), cen, re), error = function(e) NULL)
  if (!is.null(fit)) cs_pair <- integer()
  fit <- fit %||% fit_one(re)
  sep <- penalized_separation(sep, penalty)
  obj <- new_glmm(fit, X = X, Z = re$Z, y = resp$y, weights = resp$weights,
                  offset = ck$offset, re = re, mf = mf, mt = fx$mt, call = s$call,
                  formula = formula)
  obj <- covstruct_object(obj, fit)
  unid <- residual_unidentified(re, family, resp$weights, obj$structures)
  if (!is.null(unid)) obj <- mark_residual_unidentified(obj, unid)
  if (length(cs_pair)) extra_warn <- c(extra_warn, cs_pair_far_warning(re, cs_pair))
  finish_glmm(obj, sep, c(extra_warn, unid))
}

# The same test on a fit with lme4's terms only (unstructured or diagonal
# blocks, which hold their covariance plus any multiple of the identity):
# (0 + time | id) with one observation per id and time was fitted with no
# warning, the split between the term's variances and the residual's one
# arbitrary point of a ridge (lme4 refuses the model: observations <=
# random effects). One grouping factor: each covariance block a term;
# several: each term. NULL, or the message.
plain_residual_unidentified <- function(obj) {
  # Fields a fit may not have by .subset2() ($ partially matched as `$`
  # does): `$.glmmgee_glmm` looks an absent field up among the derived
  # ones (none of these), 13 us each on a 2,000-row fit. The family and
  # optinfo, which every fit has, likewise (without the method's call).
  field <- function(nm) .subset2(obj, nm, exact = FALSE)
  # A several-term fit with no term of several columns (random intercepts,
  # the commonest) has nothing to test, whatever the rest: said first, in
  # 2 of the 10 microseconds the whole test took.
  sparse <- inherits(obj, "glmmgee_glmm_sparse")
  if (sparse) {
    tms <- field("reterms")
    wide <- logical(length(tms))
    for (k in seq_along(tms))
      wide[k] <- length(tms[[k]]$cnames) > 1L && !isTRUE(tms[[k]]$known_cov)
    if (!any(wide)) return(NULL)
  }
  fam <- field("family")
  if (!identical(fam$family, "gaussian") || !identical(fam$link, "identity") ||
      !is.null(field("structures")) || !is.null(field("aux")) ||
      isTRUE(field("optinfo")$residual_unidentified) ||
      inherits(obj, "glmmgee_glmm_nested") || !is.null(field("ranef_dist")) &&
      !identical(field("ranef_dist"), "normal")) return(NULL)
  w <- obj$prior.weights %||% rep(1, obj$n)
  npos <- n_positive(w)
  if (sparse) {
    # Only where a term of several columns (`wide`, above) has as many
    # random effects as observations of positive weight.
    if (!any(vapply(tms[wide], function(tm) length(tm$columns) >= npos, TRUE))) return(NULL)
    return(residual_unidentified(list(Z = obj$Z, terms = unstructured_terms(tms)), fam, w))
  }
  sizes <- obj$cov_blocks %||% length(obj$cnames)
  if (!any(sizes > 1L & sizes * length(obj$group_levels) >= npos)) return(NULL)
  residual_unidentified(one_factor_terms(obj$Z, obj$cnames, sizes, obj$group, obj$group_name,
                                         obj$re_formula), fam, w)
}

# Unstructured random-effect terms as residual_unidentified() reads them:
# each with kind "us" and its label, the term as written where its
# left-hand side is known (`lhs`), else its columns. Several grouping
# factors: the sparse design's terms `tms` (each with its columns of Z);
# one: the columns `cnames` of Z in covariance blocks of `sizes`.
unstructured_terms <- function(tms)
  lapply(tms, function(tm)
    c(tm, list(kind = "us", label = re_term_label(tm$cnames, tm$group, tm$lhs))))

one_factor_terms <- function(Z, cnames, sizes, group, group_name, lhs = NULL) {
  off <- c(0L, cumsum(sizes))
  if (length(lhs) != length(sizes)) lhs <- NULL
  tms <- lapply(seq_along(sizes), function(k) {
    cn <- cnames[off[k] + seq_len(sizes[k])]
    list(cnames = cn, kind = "us", label = re_term_label(cn, group_name, lhs[[k]]))
  })
  list(Z = Z, group = group, group_name = group_name, terms = tms)
}

re_term_label <- function(cn, g, lhs = NULL) {
  if (!is.null(lhs)) return(sprintf("(%s | %s)", paste(deparse(lhs), collapse = ""), g))
  int <- cn == "(Intercept)"
  sprintf("(%s | %s)", paste(c(if (any(int)) "1" else "0", cn[!int]), collapse = " + "), g)
}

# A gaussian model's residual variance is not identified beside a term on
# which every group has at most one observation per column, each row of its
# design one indicator (cs(0 + time | id) with one visit per time), when
# the term's structure holds its covariance plus any multiple of the
# identity: unstructured, diag() and homdiag() terms, and cs() and ar1()
# with two columns (a 2 x 2 cs() is unstructured). Only the sum of the
# residual variance and the term's variances is identified; where the
# fit stopped on that ridge depended on the coding (the order of the
# factor's levels gave other estimates and standard errors of 20 to 100
# for log standard deviations, with no warning). lme4 refuses such terms
# (observations <= random effects); glmmTMB reports a non-positive-definite
# Hessian and NaN standard errors. NULL, or the message.
# One grouping factor (re$group, re$Z with the terms' columns side by side)
# or several (the sparse engine's terms, each with its `columns` of re$Z,
# one per level and column).
# `structures` (the fit's, in the terms' order): a cs() of three or more
# columns whose standard deviations came out equal (to 1e-5 relative) is
# one too, at that point: a common variance s^2 and correlation rho plus
# c I is again compound symmetric (s^2 + c, rho s^2 / (s^2 + c)), so only
# s^2 + sigma^2 is identified there. The same holds for a toep() at equal
# standard deviations (Toeplitz plus c I is Toeplitz), and for every
# homtoep(). On data whose time columns were
# exchangeable the fit reported one arbitrary split (glmmTMB another) with
# standard errors of 7.7 and 46 and no warning.
residual_unidentified <- function(re, family, weights, structures = NULL) {
  if (!identical(family$family, "gaussian") || !identical(family$link, "identity")) return(NULL)
  pos <- weights > 0
  sparse <- is.null(re[["group", exact = TRUE]])
  grp <- if (!sparse) as.integer(re$group)[pos]
  off <- 0L
  for (k in seq_along(re$terms)) {
    t <- re$terms[[k]]
    q <- length(t$cnames)
    cols <- if (sparse) t$columns else off + seq_len(q)
    off <- off + q
    cs_equal <- isTRUE(t$kind %in% c("cs", "toep")) && q > 2L && length(structures) >= k &&
      identical(structures[[k]]$kind, t$kind) && cs_equal_sds(structures[[k]]$sd)
    if (isTRUE(t$known_cov) || is.null(t$kind) ||
        !(t$kind %in% c("us", "diag", "homdiag", "homcs", "homtoep") ||
          (t$kind %in% c("cs", "ar1", "hetar1", "toep") && q == 2L) || cs_equal)) next
    if (!one_per_cell(re$Z, cols, pos, if (!sparse) grp, q, identical(t$kind, "us"))) next
    return(sprintf(paste0("the residual variance is not identifiable: every level of '%s' has at most one ",
                          "observation per column of %s, whose covariance plus any multiple of the identity is ",
                          "another of its kind%s; only the sum of the residual variance and the term's ",
                          "variances is identified, the split reported is arbitrary and the variance ",
                          "parameters have no standard errors (the fixed effects' are unaffected)"),
                   if (sparse) t$group else re$group_name, t$label,
                   if (cs_equal) " at the equal standard deviations estimated" else ""))
  }
  NULL
}

# Whether the columns `cols` of Z (a term of q columns) give each row of
# `pos` one indicator and no two rows the same group and column (`grp`: the
# rows' groups on the one-factor route, where the columns are shared; NULL
# on the sparse route, where each level has its q columns in turn). With
# `recoded`, for an unstructured term: each row's pattern (its q values)
# one of a set of linearly independent patterns, no two rows of a group
# with the same one: the indicators recoded by an invertible matrix T, as
# (1 + t | id) is (0 + t | id), where sigma^2 I is T's image of
# sigma^2 (T'T)^-1, again a covariance.
one_per_cell <- function(Z, cols, pos, grp = NULL, q = 1L, recoded = FALSE) {
  Zt <- methods::as(methods::as(Z[pos, cols, drop = FALSE], "CsparseMatrix"), "TsparseMatrix")
  keep <- Zt@x != 0
  i <- Zt@i[keep] + 1L
  j <- Zt@j[keep] + 1L
  x <- Zt@x[keep]
  npos <- sum(pos)
  if (!recoded || q == 1L) {
    if (length(i) != npos || anyDuplicated(i) || !all(x == 1)) return(FALSE)
    cell <- if (is.null(grp)) j else grp[i] + (j - 1) * (max(grp) + 1)
    return(!anyDuplicated(cell))
  }
  # (the sparse route's column j: level (j - 1) %/% q, position (j - 1) %% q)
  level <- if (is.null(grp)) (j - 1L) %/% q else grp[i]
  at <- if (is.null(grp)) (j - 1L) %% q + 1L else j
  if (length(unique(i)) != npos) return(FALSE)
  row_level <- level[match(seq_len(npos), i)]
  if (any(level != row_level[i])) return(FALSE)
  P <- matrix(0, npos, q)
  P[cbind(i, at)] <- x
  pat <- design_row_groups(P)
  U <- P[!duplicated(pat), , drop = FALSE]
  nrow(U) <= q && qr(U)$rank == nrow(U) &&
    !anyDuplicated(row_level + (pat - 1) * (max(row_level) + 1))
}

# The labels of the terms with one observation per level and column
# (one_per_cell()): the terms that can take up the residual variance. `re`
# as residual_unidentified() reads it (several grouping factors or one).
residual_cell_terms <- function(re, weights) {
  pos <- weights > 0
  grp <- re[["group", exact = TRUE]]
  if (!is.null(grp)) grp <- as.integer(grp)[pos]
  lab <- character()
  off <- 0L
  for (t in re$terms) {
    cols <- t$columns %||% (off + seq_along(t$cnames))
    off <- off + length(t$cnames)
    if (one_per_cell(re$Z, cols, pos, grp, length(t$cnames), identical(t$kind, "us")))
      lab <- c(lab, t$label)
  }
  lab
}

cs_equal_sds <- function(sd) {
  all(is.finite(sd)) && max(sd) > 0 && (max(sd) - min(sd)) <= 1e-5 * max(sd)
}

# The fit of such a model: the variance parameters' covariance NA (as a
# singular information has it), recorded in $optinfo$residual_unidentified.
mark_residual_unidentified <- function(obj, msg) {
  p <- length(obj$coefficients)
  na_rest <- function(V) {
    if (is.null(V) || ncol(V) <= p) return(V)
    V[-seq_len(p), ] <- NA_real_
    V[, -seq_len(p)] <- NA_real_
    V
  }
  obj$cov_theta <- na_rest(obj$cov_theta)
  obj$cov_structure <- na_rest(obj$cov_structure)
  obj$cov_star <- NULL
  obj$structures <- lapply(obj$structures, function(s) { s$se[] <- NA_real_; s })
  obj$optinfo$residual_unidentified <- TRUE
  obj
}

# The fixed effects' covariance of a fit whose joint Hessian is singular
# along the direction that trades the residual variance against a term's
# (the residual variance unidentified): the fixed-effects block of the
# inverse over the identified directions, (A - B C^+ B')^-1, with A, B, C
# the information's blocks (scaled to unit diagonal) and C^+ the inverse of
# the variance parameters' block without its least eigenvalue, that
# direction. It is the covariance the same model written without the
# redundant term reports (the joint inverse, as every ML fit here and
# glmmTMB's), so it does not depend on that term. (The joint inverse gave
# NA standard errors, or a near-singular matrix's.) Parameters on a
# boundary (NA in the Hessian) are left out, as in every inverse. With
# `if_na`, only where the fixed effects' covariance is missing (one-part
# fits, whose routes compute it on their own).
identified_fixed_vcov <- function(obj, if_na = FALSE) {
  p <- length(obj$coefficients)
  H <- obj$hessian
  if (is.null(H) || nrow(H) <= p || if_na && !anyNA(obj$vcov)) return(obj)
  free <- which(!is.na(diag(H)))
  info <- -H[free, free, drop = FALSE]
  if (!all(seq_len(p) %in% free) || !all(is.finite(info)) || any(diag(info) <= 0)) return(obj)
  sc <- 1 / sqrt(diag(info))
  info <- info * tcrossprod(sc)
  b <- seq_len(p)
  v <- setdiff(seq_along(free), b)
  e <- eigen(info[v, v, drop = FALSE], symmetric = TRUE)
  keep <- seq_len(length(v) - 1L)
  keep <- keep[e$values[keep] > 1e-10 * e$values[1L]]
  E <- e$vectors[, keep, drop = FALSE]
  S <- info[b, b, drop = FALSE] - info[b, v, drop = FALSE] %*% E %*%
    (t(E) / e$values[keep]) %*% info[v, b, drop = FALSE]
  Vb <- tryCatch(chol2inv(chol(S)), error = function(e) NULL)
  if (is.null(Vb)) return(obj)
  Vb <- Vb * tcrossprod(sc[b])
  obj$vcov[] <- Vb
  if (!is.null(obj$cov_theta)) obj$cov_theta[b, b] <- Vb
  obj$optinfo$warnings <- setdiff(obj$optinfo$warnings,
                                  grep("^the Hessian of the log-likelihood is not negative definite",
                                       obj$optinfo$warnings, value = TRUE))
  obj
}

# The structures' and the penalty's parts of a fitted object (one grouping
# factor or several): class glmmgee_glmm_covstruct.
covstruct_object <- function(obj, fit) {
  obj$structures <- fit$structures
  obj$penalty <- fit$penalty
  # Parameters counted on the structure's scale (theta holds Lambda's entries).
  obj$df <- fit$npar
  obj$theta_structure <- attr(fit$structures, "theta")
  obj$cov_structure <- attr(fit$structures, "cov_theta")
  attributes(obj$structures) <- NULL
  class(obj) <- c("glmmgee_glmm_covstruct", class(obj))
  obj
}
