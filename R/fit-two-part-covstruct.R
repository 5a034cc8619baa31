# Two-part GLMMs (zero-inflated, hurdle or dispersion-formula models) whose
# random-effect terms carry covariance structures, in the conditional part,
# the zero part or both: y ~ x + ar1(0 + t | g) with ziformula = ~ z +
# cs(0 + f | g), as glmmTMB writes them. They are fitted by the sparse
# Laplace engines of the unstructured two-part fits: the engine with
# auxiliary predictors (fit-sparse-zi.R) when only the conditional part has
# random effects, the engine with random effects in both parts
# (fit-sparse-zi-random.R) otherwise. Each term's block of Lambda is the
# Cholesky factor of its structure and the engine's exact gradient in
# Lambda's entries is carried to the structures' parameters by its exact
# Jacobian, as for one-part structured fits (covstruct-eval.R); search,
# boundary checks and estimates are theirs too.
#
# Search parameters: (beta*, the structures' parameters of the count part's
# terms, then of the zero part's, zero coefficients*, dispersion
# coefficients*), each part's fixed coefficients on its centred and scaled
# design (design_transform()); the random-effect designs are the user's
# (recentring a structured term's columns does not preserve its structure).
# Engine parameters: the same with Lambda's entries for the structures'
# parameters, the unstructured two-part fits' layout, so that the fitted
# object is theirs with the structures' report added.

# Both parts' terms, each with its structure (sparse_covstruct_terms()):
# list(rc, rz, re), re the two in one (zi_random_combined_re()), rz NULL when
# the second part has no random effects. The second part is the zero part,
# or, when `dispformula` has random-effect terms, the dispersion part; its
# structure labels start with "zi~" or "disp~".
two_part_structure_terms <- function(formula, ziformula, mf, env, dispformula = NULL) {
  rc <- sparse_covstruct_terms(formula, mf, env, empty = TRUE)
  part_terms <- function(f, prefix) {
    if (is.null(f) || !length(find_bars(f))) return(NULL)
    fz <- formula
    fz[[3L]] <- f[[length(f)]]
    r <- sparse_covstruct_terms(fz, mf, env)
    r$terms <- lapply(r$terms, function(t) {
      t$label <- paste0(prefix, t$label)
      t
    })
    r
  }
  rd <- part_terms(dispformula, "disp~")
  rzi <- part_terms(ziformula, "zi~")
  # (random effects in both: the zero part's second, the dispersion's third)
  if (!is.null(rd) && !is.null(rzi))
    return(list(rc = rc, rz = rzi, rd = rd, re = zi_random_combined_re(rc, rzi, "zi~", rd)))
  rz <- rd %||% rzi
  prefix <- if (!is.null(rd)) "disp~" else "zi~"
  list(rc = rc, rz = rz, re = if (is.null(rz)) rc else zi_random_combined_re(rc, rz, prefix))
}

# The number of parameters after the structures' in a structured fit's
# search layout: a two-part fit's zero and dispersion coefficients, else
# the log dispersion when the family has one.
structure_tail_count <- function(fit) {
  aux <- .subset2(fit, "aux")
  if (is.null(aux)) return(as.integer(has_dispersion(fit$family)))
  length(aux$zi_index) + length(aux$disp_index)
}

# The fit. `rt`: two_part_structure_terms(); Xz, Xd: the zero and
# dispersion parts' designs (NULL when absent); offz, offd their offsets.
# With kind "disp_re" (random effects in the dispersion formula, the
# second random predictor the log dispersion, fit-dispersion-random.R), Xz
# and offz are the dispersion part's design and offset and Xd is NULL.
# With kind "zi_disp_re" or "hurdle_disp_re" the dispersion formula's
# random effects stand beside a zero part with fixed effects (Xz, offz;
# Xz NULL and offz -Inf for a zero-truncated model) and the dispersion's
# fixed design is Xd (engine kinds 5 and 6: the zero part's coefficients
# before the dispersion's in theta, as in every two-part fit).
two_part_covstruct_fit <- function(X, y, rt, family, kind, Xz, Xd, weights, offset, offz, offd,
                                   control, nAGQ = 1L, reml = FALSE, start = NULL) {
  n <- length(y)
  p <- ncol(X)
  check_full_rank(X)
  re <- rt$re
  both <- !is.null(rt$rz)
  kf <- two_part_kind_flags(kind)
  dre <- kf$dre; zdre <- kf$zdre; three <- kf$three; zkind <- kf$zkind
  disp <- has_dispersion(family) && !dre
  Xd <- if (disp) Xd %||% matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  if (kind == "disp") Xz <- NULL
  pz <- if (is.null(Xz)) 0L else ncol(Xz)
  pd <- if (is.null(Xd)) 0L else ncol(Xd)
  offz <- if (pz || zkind == "hurdle" || dre) offz %||% rep(0, n) else rep(0, n)
  offd <- offd %||% rep(0, n)
  no_offd <- all(offd == 0)
  # Gaussian dispersion models on y / s (a random dispersion: offz), equalto()'s V / s^2
  u <- two_part_units(X, y, weights, offset, if (dre) offz else offd, family,
                      kind == "disp" && !both || dre)
  s_map <- u$s; scaled <- u$scaled; y <- u$y; offset <- u$offset
  if (scaled) re$terms <- fixed_covariance_in_units(re$terms, as.vector(s_map), seq_along(rt$rc$terms))
  if (dre) offz <- u$offd else offd <- u$offd
  if (dre) check_aux_rank(NULL, Xz) else check_aux_rank(Xz, Xd)
  tx <- design_transform(X)
  tz <- design_transform(Xz %||% matrix(0, n, 0L))
  td <- design_transform(Xd %||% matrix(0, n, 0L))
  Xs <- tx$M; Xzs <- tz$M; Xds <- td$M
  storage.mode(Xzs) <- storage.mode(Xds) <- "double"
  nth <- re$ntheta
  agq <- nAGQ > 1L
  se <- two_part_structure_setup(Xs, Xzs, Xds, y, weights, offset, offz, offd, rt, re, family,
                                 kind, nAGQ, control$nthreads, !is.null(Xd))
  if (agq && !both) on.exit(cpp_agq_free(se$eng), add = TRUE)
  eng <- se$eng
  # (random effects in two parts by Laplace: the two-part sparse engine,
  # which refuses points where the joint mode degenerates)
  joint <- both && !agq
  # (REML: the restricted likelihood's term added, reml-dispersion.R)
  engine_eval <- if (reml) reml_engine_eval(se$engine_eval, re, Xs, Xds, weights, offd, tx$T)
                 else se$engine_eval
  # Starts as the unstructured two-part fits', the structures at standard
  # deviations of 0.5.
  beta <- two_part_beta_start(Xs, y, weights, offset, family, zkind)
  aux <- if (dre) zi_aux_start(Xs, y, beta, weights, offset, family, "disp", NULL, NULL, pz, Xzs, offz)
    else zi_aux_start(Xs, y, beta, weights, offset, family, zkind, if (pz) Xzs, offz, pd, Xds, offd)
  ntail <- pz + pd
  k_re <- structure_blocks(re$terms, p)
  user_start <- start
  start <- c(beta, unlist(lapply(re$terms, function(t) t$struct$start(0.5))), aux)
  P <- length(start)
  Ttail <- if (ntail) as.matrix(Matrix::bdiag(tz$T, td$T))
  tail_names <- two_part_tail_names(Xz, Xd, dre)
  # A single log-dispersion coefficient (no dispersion formula) has its limits checked as in
  # one-part fits (not one with random effects: the location-scale fit's limit); a gaussian
  # log sigma without an offset held at its floor, as there (covstruct_sigma_floor).
  one_disp <- !zdre && !three && pd == 1L && all(Xd[, 1L] == 1)
  fl <- if (one_disp && no_offd) covstruct_sigma_floor + u$log_scale
  disp_at <- if (one_disp) covstruct_disp_index(family, TRUE, P, fl)
  floored <- function(ev) sigma_floor_evalf(ev, family, !is.null(fl), P, fl)
  evalf <- floored(structure_evalf(engine_eval, re$terms, k_re, p, ntail, tx$T, NULL))
  # (a user's start in the user's units: the conditional part's terms
  # scaled with y, the tail's coefficients as they stand)
  if (!is.null(user_start))
    start <- check_structure_start(evalf, structure_search_start(
      user_start, structure_layout(colnames(X), p, re$terms, tail_names), re$terms, k_re, tx$T,
      s_map, Ttail, ntail,
      tail_scaled = FALSE, scaled_terms = seq_along(rt$rc$terms)), re$terms, k_re)
  else if (!is.finite(evalf(start, grad = FALSE)$loglik))
    stop("the log-likelihood is not finite at the starting values; check the data", call. = FALSE)
  # The search on the engine evaluation `ee` (the engine's, or one that
  # stops at points the engine refuses).
  searcher <- function(ee) {
    ev <- floored(structure_evalf(ee, re$terms, k_re, p, ntail, tx$T, NULL))
    pre <- logsd_presearch(ee, re$terms, k_re, p, ntail, tx$T, NULL, control, 0.5,
                           profile = "structured_two_part")
    function(par) covstruct_search(ev, par, control, value_first = !joint, pre = pre,
                                   profile = "structured_two_part")
  }
  refused <- if (joint) function() cpp_sparse_two_part_degenerate(eng)$refused
  if (joint) {
    sw <- two_part_structure_search(searcher, engine_eval, refused, start, re, rt$rc, k_re, eng)
    run <- sw$run
    refused_kept <- sw$refused
    # The boundary's restarts are abandoned at their first refused point.
    search <- function(par) {
      g <- refusal_guard(function(t) engine_eval(t, TRUE), refused)
      tryCatch(searcher(function(theta, grad) g$evalf(theta))(par), error = function(e) NULL)
    }
  } else {
    search <- searcher(engine_eval)
    run <- search(start)
  }
  rf <- two_part_structure_refine(run, search, start, re, k_re, p, pz, zkind, disp_at)
  run <- rf$run
  if (!is.null(fl)) run$par[[P]] <- max(run$par[[P]], fl)
  bc <- rf$bc
  final <- run$at %||% evalf(run$par)
  est <- covstruct_estimates(evalf, run, bc, final, re$terms, k_re, tx$T, colnames(X), family,
                             ntail, control, NULL, lam_names = re$par_names, Ttail = Ttail,
                             tail_names = tail_names, s = s_map, tail_scaled = FALSE,
                             scaled_terms = seq_along(rt$rc$terms),
                             reml = if (reml) reml_beta_information(re, k_re, Xs, Xds, weights, offd, ntail))
  # (the engine's Lambda: the search's, which est$lm is unless mapped to y's units)
  lm_search <- if (scaled) structure_lambda(re$terms, k_re, run$par) else est$lm
  theta_s <- structure_engine_theta(run$par, lm_search, p, ntail)
  nb <- p + nth
  md <- if (agq) se$modes(theta_s, lm_search$lambda, Xs, offset)
        else tryCatch(two_part_structure_modes(eng, re, rt, both, lm_search$lambda, theta_s, nb,
                                               if (zdre) 0L else pz, Xzs, offz), error = function(e)
                        two_part_modes_failed(e, family, pd, Xds, offd, theta_s[nb + pz + seq_len(pd)]))
  # (densities of y / s to y's: n log(s) less, n - p for REML's contrasts)
  ls <- if (scaled) log(as.vector(s_map)) else 0
  shift <- (sum(weights > 0) - reml * p) * ls
  if (scaled) {
    md <- unscale_two_part_modes(md, s_map, X, weights,
                                 if (agq) se$index %||% rt$rc$terms[[1L]]$index,
                                 if (dre) ncol(rt$rc$Z) else length(md$modes$b))
    final$loglik <- final$loglik - shift
    bc$record <- shift_boundary_record(bc$record, shift)
  }
  m <- md$m
  if (zdre) md$zre <- offz  # (the zero part beside a random dispersion has fixed effects only)
  check_two_part_end(final$loglik, md$modes)
  zpart <- pz && !dre
  vanish <- if (zpart) zi_vanishing_message(zkind, Xzs, theta_s[nb + seq_len(pz)], md$zre)
  cause <- vanish %||% if (zpart) zi_separation_message(zkind, Xzs, theta_s[nb + seq_len(pz)], md$zre)
  warn <- zi_fit_warnings(fit_warnings(run$opt, est$nstep, est$gmax_star, est$singular, est$hess,
                                       est$cov_theta, control, boundary_check = bc$record),
                          cause)
  deg <- if (joint) two_part_joint_checks(m, eng, refused_kept, warn, dre || zdre, three)
  warn <- c(warn, deg$warning)
  theta <- est$theta_chol
  rn <- two_part_route_names(agq, reml, dre || zdre, both)
  optinfo <- covstruct_optinfo(run, est, bc, warn, rn$method, nAGQ, !tx$identity || !tz$identity || !td$identity,
                               grad_basis_of(!tx$identity), zero_inflation_vanishes = !is.null(vanish),
                               laplace_validity = if (joint) utils::modifyList(deg$record, list(restarts = sw$restarts)))
  list(beta = theta[seq_len(p)], theta = theta, loglik = final$loglik, penalty = NULL,
       loglik_ml = if (reml) reml_ml_loglik(se$engine_eval, theta_s, re, Xs, Xds, y, weights,
                                            offset, offd) - sum(weights > 0) * ls,
       zi = if (zpart) theta[nb + seq_len(pz)],
       disp = if (dre) theta[nb + seq_len(pz)] else if (pd) theta[nb + pz + seq_len(pd)],
       lambda = theta[p + seq_len(nth)], p = p, npar = P,
       gradient = est$grad, hessian = est$hess, cov_theta = est$cov_chol, family = family,
       modes = md$modes, terms = md$terms, zterms = md$zterms, dterms = md$dterms,
       singular = est$singular, on_boundary = est$on_boundary,
       structures = structure(est$structures, theta = est$theta, cov_theta = est$cov_theta),
       optinfo = optinfo, nAGQ = if (agq) as.integer(nAGQ), cluster_loglik = md$cluster_loglik,
       engine = rn$engine)
}

# A structured two-part fit's method (as $optinfo records it) and engine:
# by quadrature or Laplace, REML, with a random dispersion (`disp_re`) or
# random effects in two parts (`both`).
two_part_route_names <- function(agq, reml, disp_re, both) {
  list(method = if (agq) "AGHQ" else if (reml) "REML (exact restricted likelihood)"
                else if (disp_re) "Laplace (sparse, mean and dispersion)"
                else if (both) "Laplace (sparse, both parts)" else "Laplace (sparse)",
       engine = if (agq && both) "agq_zero_re" else if (agq) "agq"
                else if (both) "laplace_sparse_zero_re" else "laplace_sparse")
}

# The engine of two_part_covstruct_fit() on the centred and scaled designs
# (its arguments; `re` the terms in the engine's units, `disp_part`: whether
# the dispersion predictor exists, as two_part_aux_inputs()'s): with nAGQ > 1 (every part's terms on one
# grouping factor) a one-factor engine (fit-two-part-covstruct-quadrature.R),
# otherwise the sparse one; kinds 5 and 6 put the dispersion in the engine's
# second, random predictor and the zero part in its third. Returns the
# engine and its evaluation, with modes() and the group's index by
# quadrature.
two_part_structure_setup <- function(Xs, Xzs, Xds, y, weights, offset, offz, offd, rt, re,
                                     family, kind, nAGQ, nthreads, disp_part) {
  both <- !is.null(rt$rz)
  if (nAGQ > 1L && both)
    return(two_part_structure_zi_random_agq(Xs, Xzs, Xds, y, weights, offset, offz, offd, rt, family,
                                       kind, nAGQ, nthreads))
  if (nAGQ > 1L)
    return(two_part_structure_agq(Xs, Xzs, Xds, y, weights, offset, offz, offd, rt$rc, family,
                                  kind, nAGQ, nthreads, disp_part))
  if (two_part_kind_flags(kind)$zdre)
    return(two_part_structure_engine(Xs, Xds, Xzs, y, weights, offset, offd, offz, re, family,
                                     kind, both))
  two_part_structure_engine(Xs, Xzs, Xds, y, weights, offset, offz, offd, re, family, kind, both,
                            disp_part)
}

# What a two-part structured fit's `kind` says: `dre` random effects in the
# dispersion formula alone ("disp_re"), `zdre` beside a zero part with
# fixed effects ("zi_disp_re", "hurdle_disp_re"), `three` beside a zero
# part with random effects ("zi_both_re", "hurdle_both_re": engine kinds 7
# and 8), and `zkind` the zero part's kind ("zi", "hurdle", or "disp"
# without one).
two_part_kind_flags <- function(kind) {
  dre <- identical(kind, "disp_re")
  zdre <- kind %in% c("zi_disp_re", "hurdle_disp_re")
  three <- kind %in% c("zi_both_re", "hurdle_both_re")
  list(dre = dre, zdre = zdre, three = three,
       zkind = if (zdre || three) sub("_(disp|both)_re$", "", kind) else if (dre) "disp" else kind)
}

# The checks of a fit with random effects in two parts (the structured
# fits' and the sparse two-part fits', fit-sparse-zi-random.R and
# fit-dispersion-random.R): joint modes not found at the optimum
# (`m$failed`) and the Laplace approximation's validity
# (zi_random_degenerate(), `start_ok` as there); the warnings so far `warn`,
# `disp`: the second part is the dispersion, `three`: the zero and the
# dispersion parts both have random effects; `quadrature_ok`: whether
# adaptive quadrature is available for the model (zi_random_degenerate()).
# Returns zi_random_degenerate()'s record and its `warning` with the modes' own
# before it.
two_part_joint_checks <- function(m, eng, refused_kept, warn, disp, three = FALSE,
                                  start_ok = FALSE, quadrature_ok = FALSE) {
  failed <- if (isTRUE(m$failed)) {
    if (disp) "the joint modes of the mean's and the dispersion's random effects were not found at the optimum"
    else sprintf("the joint modes of %s parts' random effects were not found at the optimum",
                 if (three) "the three" else "both")
  }
  deg <- zi_random_degenerate(cpp_sparse_two_part_degenerate(eng), refused_kept, m$hmin, c(warn, failed),
                         start_ok = start_ok,
                         part = if (three) "both" else if (disp) "dispersion" else "zero",
                         quadrature_ok = quadrature_ok)
  deg$warning <- c(failed, deg$warning)
  deg
}

# No estimates without the log-likelihood and the modes there (binary
# responses with zero inflation and zero-part random effects, whose zero
# part is barely identified, can end so).
check_two_part_end <- function(loglik, modes) {
  if (is.finite(loglik) && length(modes$eta)) return(invisible())
  stop(sprintf(paste("the two-part fit ended where %s, so it has no estimates: the zero part's",
                     "random effects are not identified by these data; refit without them or",
                     "with a simpler structure"),
               if (!is.finite(loglik)) sprintf("the log-likelihood is %s", format(loglik))
               else "the joint modes of both parts' random effects cannot be found"),
       call. = FALSE)
}

# The search's end `run` (from `start`, by `search(par)`) checked further
# and verified: a zero part run far out searched again, small standard
# deviations restarted, the boundary verified (covstruct_verify(); `disp_at`
# the log dispersion's index when it has a limit), a correlation at its
# limit pushed on. The engine sees y / s where y is gaussian, so the
# standard deviations' thresholds and restarts are in units of y's spread.
# Returns the run and the boundary check.
two_part_structure_refine <- function(run, search, start, re, k_re, p, pz, kind, disp_at) {
  # A zero part whose coefficients ran far out (quasi-separation, or a
  # zero-inflation probability vanishing) may be a ridge the search drifted
  # onto rather than the optimum: searched again from where it stopped with
  # the zero part's coefficients at their start, the higher kept.
  # (Salamanders, count ~ spp + mined + ar1(0 + occ | site), zi ~ mined,
  # nbinom2: the first search ended at -822.465 with zi~minedno at -23.6;
  # from its start again at -822.418, zi~minedno -3.48, where glmmTMB ends.)
  iz <- p + length(unlist(k_re)) + seq_len(pz)
  if (pz && !kind %in% c("disp", "disp_re") && any(abs(run$par[iz]) > 10)) {
    th <- run$par
    th[iz] <- start[iz]
    r2 <- tryCatch(search(th), error = function(e) NULL)
    if (!is.null(r2) && isTRUE(r2$loglik > run$loglik + 1e-6)) run <- r2
  }
  sdp <- structure_sd_positions(re$terms, k_re)
  # A standard deviation searched on the log scale that is small but above
  # the boundary's threshold sits where the log-likelihood is flat in it
  # (like sd^2), and the search may stop there on its way to zero although
  # the optimum is elsewhere; and with several standard deviations going to
  # zero, which of them do depends on the start. So a fit with any standard
  # deviation below 0.01 is searched again from the small ones at 1 and
  # 0.3, and from the start with every standard deviation at 1, the highest
  # kept (betabinomial, diag(0 + tf | g), dispformula ~ z: sd(tf4) stopped
  # at 0.0013, 0.065 below the optimum; from sd 1 at the optimum, where
  # glmmTMB ends, sd(tf1) 0.18 rather than 0 and 0.0033 higher).
  small <- intersect(covstruct_boundary(run$par, re$terms, k_re, sd_tol = 0.01), sdp)
  restarts <- if (length(small))
    list(covstruct_restart_point(run$par, re$terms, k_re, small, 1),
         covstruct_restart_point(run$par, re$terms, k_re, small, 0.3),
         covstruct_restart_point(start, re$terms, k_re, sdp, 1))
  for (th in restarts) {
    r2 <- tryCatch(search(th), error = function(e) NULL)
    if (!is.null(r2) && isTRUE(r2$loglik > run$loglik + 1e-6)) run <- r2
  }
  bc <- covstruct_verify(search, run, re$terms, k_re, disp_at)
  run <- bc$best
  # A correlation at its limit (rho -> 1) is approached ever more slowly on
  # its unconstrained scale, and the search stops short of the limit's
  # log-likelihood: Salamanders, count ~ spp + mined + ar1(0 + occ | site),
  # zi ~ mined, stopped at t = 170 (1 - rho = 1.7e-5), 1.7e-4 below the
  # value at t = 17,000. Searched again from there, the higher kept, with
  # its boundary parameters.
  lim <- setdiff(bc$record$boundary_index, c(sdp, disp_at))
  if (length(lim)) {
    th <- run$par
    th[lim] <- th[lim] * 100
    r2 <- tryCatch(search(th), error = function(e) NULL)
    if (!is.null(r2) && isTRUE(r2$loglik > run$loglik)) {
      run <- r2
      bc$record$boundary_index <- covstruct_boundary_index(run$par, re$terms, k_re, disp_at)
    }
  }
  list(run = run, bc = bc)
}

# The two-part sparse engine of a structured fit on the centred and scaled
# designs Xs, Xzs, Xds and the user's random-effect design (`re`, both
# parts' terms): the engine with random effects in both parts when `both`,
# else the one-part sparse engine with the auxiliary predictors. Returns
# the engine and its evaluation engine_eval(theta, grad).
two_part_structure_engine <- function(Xs, Xzs, Xds, y, weights, offset, offz, offd, re, family,
                                      kind, both, disp_part = ncol(Xds) > 0L) {
  n <- length(y)
  nth <- re$ntheta
  pz <- ncol(Xzs)
  pd <- ncol(Xds)
  if (both) {
    z <- zi_random_split_z(re)
    eng <- cpp_sparse_two_part_new(Xs, Xzs, Xds, z$Zc, z$Zz, as.numeric(y), as.numeric(weights),
                          cbind(as.numeric(offset), as.numeric(offz), as.numeric(offd)),
                          re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, nth,
                          family$family_code, family$link_code, aux_kind_code(kind, family),
                          z$nsecond)
    ev <- sparse_two_part_evaluator(eng)
    engine_eval <- function(theta, grad) {
      r <- ev(theta)
      progress_tick(r$loglik, r)
    }
  } else {
    eng <- cpp_sparse_new(Xs, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                          re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, nth,
                          family$family_code, family$link_code)
    ai <- two_part_aux_inputs(Xzs, Xds, offz, offd, kind, n, disp_part)
    cpp_sparse_set_aux(eng, aux_kind_code(kind, family), ai$XA, ai$pred, ai$aoff)
    engine_eval <- function(theta, grad) sparse_eval(eng, theta, grad, reuse = TRUE)
  }
  list(eng = eng, engine_eval = engine_eval)
}

# The auxiliary predictors of an engine with fixed zero and dispersion
# parts (cpp_sparse_set_aux(), cpp_agq_set_aux()): both parts' designs side
# by side, the predictor each column feeds (0 the zero part's, 1 the
# dispersion's; a dispersion formula alone feeds predictor 0) and their
# offsets; `disp_part`: whether the dispersion predictor exists (it may
# have an offset and no column).
two_part_aux_inputs <- function(Xzs, Xds, offz, offd, kind, n, disp_part = ncol(Xds) > 0L) {
  pz <- ncol(Xzs)
  pd <- ncol(Xds)
  XA <- cbind(Xzs, Xds)
  storage.mode(XA) <- "double"
  pred <- c(if (kind == "disp") integer() else rep(0L, pz),
            rep(if (kind == "disp") 0L else 1L, pd))
  aoff <- cbind(if (kind != "disp") offz, if (pd || disp_part) offd)
  if (is.null(aoff)) aoff <- matrix(0, n, 0L)
  storage.mode(aoff) <- "double"
  list(XA = XA, pred = pred, aoff = aoff)
}

# The modes of the random effects at the engine's parameters theta_s
# (Lambda's entries `lambda`) and the terms' summaries (sparse_term_summaries()):
# the conditional part's terms and, with random effects in both parts
# (`both`), the second part's (zterms, their columns counted from that
# part's first) and with three parts the dispersion's (dterms; split_part_terms());
# `zre`: the zero part's linear predictor beyond its fixed
# part (its random effects at their modes, or the offset), which the
# vanishing zero-inflation check reads.
two_part_structure_modes <- function(eng, re, rt, both, lambda, theta_s, nb, pz, Xzs, offz) {
  if (!both) {
    modes <- cpp_sparse_modes(eng, theta_s)
    return(list(modes = modes, terms = sparse_term_summaries(re, lambda, modes, eng, theta_s),
                zterms = NULL, zre = offz, m = NULL))
  }
  m <- cpp_sparse_two_part_modes(eng, theta_s)
  m$inv_i <- m$inv_i + 1L
  m$inv_j <- m$inv_j + 1L
  parts <- split_part_terms(sparse_term_summaries(re, lambda, m, NULL, theta_s), re,
                            rt$rc$ntheta)
  list(modes = list(eta = m$eta, zlink = m$a, dlink = if (isTRUE(re$three)) m$phi, u = m$u,
                    b = m$b), terms = parts$terms, zterms = parts$second, dterms = parts$third,
       m = m,
       zre = if (pz) m$a - drop(Xzs %*% theta_s[nb + seq_len(pz)]) else rep(0, length(m$eta)))
}

# The names of a two-part fit's tail: the zero part's coefficients (a
# random dispersion's, `dre`, in their place), then the dispersion's.
two_part_tail_names <- function(Xz, Xd, dre) {
  pz <- if (is.null(Xz)) 0L else ncol(Xz)
  pd <- if (is.null(Xd)) 0L else ncol(Xd)
  c(if (pz) paste0(if (dre) "disp~" else "zi~", colnames(Xz) %||% seq_len(pz)),
    if (pd) paste0("disp~", colnames(Xd) %||% seq_len(pd)))
}

# The error where the sparse engine finds no modes at the search's end
# (`e`), naming the likely cause: a gaussian dispersion formula whose
# predictor (coefficients `delta` on Xds, offset offd) sends the residual
# standard deviation to 0 in some rows, where random effects with one
# effect per row fit them exactly (ar1(0 + time | id) with one row per id
# and time, dispformula = ~ x: log sigma -21 at the smallest x).
two_part_modes_failed <- function(e, family, pd, Xds, offd, delta) {
  eta <- if (pd) drop(Xds %*% delta) + offd
  if (!identical(family$family, "gaussian") || !length(eta) || min(eta) > -12) stop(e)
  stop(sprintf(paste0("the fit ended where the random effects' conditional modes cannot be ",
                      "found: the dispersion formula sends the residual standard deviation ",
                      "towards 0 in some rows (log sigma %.3g, relative to y's scale), where ",
                      "the random effects fit the data exactly; the residual variance is ",
                      "not identified there beside this random-effect structure: simplify ",
                      "'dispformula' or the structure"), min(eta)), call. = FALSE)
}

# The first search of a fit with random effects in both parts, guarded as
# the unstructured one is (zi_random_first_search(), fit-sparse-zi-random.R):
# the engine refuses points where the joint mode of both parts' effects is
# nearly degenerate (the Laplace approximation does not hold there), and a
# search that runs into them ends at their edge, which is no maximum. So
# the search from the default start is abandoned as soon as the smallest
# eigenvalue of the mode's negative Hessian falls below 50 times the
# engine's bound, and then restarts with the count part's standard
# deviations at 0.1 and the zero part's at 3, 1, 0.5 (the first that
# converges without a refused point is kept); only when none does is the
# search from the default start run in full. `searcher(ee)` makes a search
# on the engine evaluation `ee`. Returns the run, the number of points the
# engine refused on the way to it and the restarts' record.
two_part_structure_search <- function(searcher, engine_eval, refused, start, re, rc, k_re, eng) {
  warm0 <- cpp_sparse_two_part_state(eng)
  near <- 50 * cpp_sparse_two_part_degenerate(eng)$bound
  guarded <- function(near) {
    g <- refusal_guard(function(t) engine_eval(t, TRUE), refused, near)
    list(guard = g, ee = function(theta, grad) g$evalf(theta))
  }
  g1 <- guarded(near)
  run <- tryCatch(searcher(g1$ee)(start), error = function(e) NULL)
  if (!is.null(run) && !g1$guard$tripped()) return(list(run = run, refused = 0))
  nc <- length(rc$terms)
  at_c <- unlist(k_re[seq_len(nc)])
  at_z <- unlist(k_re[seq_along(k_re) > nc])
  rec <- list(zero_sd = c(3, 1, 0.5), count_sd = 0.1, loglik = numeric(), adopted = NA_real_)
  for (z in rec$zero_sd) {
    cpp_sparse_two_part_set_state(eng, warm0)
    th <- covstruct_restart_point(start, re$terms, k_re, at_c, rec$count_sd)
    th <- covstruct_restart_point(th, re$terms, k_re, at_z, z)
    gz <- guarded(0)
    r <- tryCatch(searcher(gz$ee)(th), error = function(e) NULL)
    ok <- !is.null(r) && is.finite(r$loglik) && identical(as.integer(r$opt$convergence), 0L)
    rec$loglik <- c(rec$loglik, if (ok) r$loglik else NA_real_)
    if (ok) {
      rec$adopted <- z
      return(list(run = r, refused = 0, restarts = rec))
    }
  }
  cpp_sparse_two_part_set_state(eng, warm0)
  before <- refused()
  run <- searcher(engine_eval)(start)
  list(run = run, refused = refused() - before, restarts = rec)
}
