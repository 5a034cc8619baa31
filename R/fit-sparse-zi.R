# Two-part and dispersion-formula models with several random-effect terms:
# the sparse Laplace engine (src/engines/laplace/laplace.cpp) with the auxiliary predictors
# of src/families/families-aux.h. Parameters as in fit-glmm-zi.R:
#   theta = (beta, covariance parameters, zero coefficients, dispersion
#            coefficients).
# As for glmm_sparse_fit(): the search runs on centred and scaled designs,
# the zero and dispersion designs included (reparam-zi.R), with the sparse
# engine's Newton/BFGS search (optimize-sparse.R); a boundary optimum is verified by
# restarts from the interior; Newton steps with the Hessian finish it, and
# the optimum is mapped back exactly.

glmm_sparse_zi_fit <- function(X, y, re, family, kind, Xz, Xd, weights, offset, offz,
                               control, start = NULL, penalty = NULL, offd = NULL) {
  # A gaussian identity-link dispersion model (no zero part, no penalty) is
  # fitted on y / s (two_part_units()), and beta, Lambda and the modes
  # mapped back: with y in units 1e6 times larger the search had ended 76
  # log-likelihood units short, reporting convergence.
  u <- two_part_units(X, y, weights, offset, offd, family, kind == "disp" && is.null(penalty))
  if (!u$scaled)
    return(glmm_sparse_zi_fit_units(X, y, re, family, kind, Xz, Xd, weights, offset, offz,
                                    control, start, penalty, offd))
  nb <- ncol(X) + re$ntheta
  fit <- glmm_sparse_zi_fit_units(X, u$y, re, family, kind, Xz, Xd, weights, u$offset, offz,
                                  control, scale_two_part_start(start, ncol(X), re$ntheta, u$s),
                                  penalty, u$offd)
  P <- length(fit$theta)
  unscale_terms_fit(fit, u$s, weights, length(y), X,
                    mult = c(rep(as.vector(u$s), nb), rep(1, P - nb)), add = rep(0, P))
}

# glmm_sparse_zi_fit() in the units of the response it is given.
glmm_sparse_zi_fit_units <- function(X, y, re, family, kind, Xz, Xd, weights, offset, offz,
                                     control, start = NULL, penalty = NULL, offd = NULL) {
  n <- length(y)
  p <- ncol(X)
  check_full_rank(X)
  nth <- re$ntheta
  disp <- has_dispersion(family)
  if (disp && is.null(Xd)) Xd <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  if (kind != "disp" && is.null(Xz)) Xz <- matrix(0, n, 0L)
  offz <- if (kind == "disp") NULL else offz %||% rep(0, n)
  offd <- if (disp) offd %||% rep(0, n)
  pz <- if (is.null(Xz)) 0L else ncol(Xz)
  pd <- if (is.null(Xd)) 0L else ncol(Xd)
  check_aux_rank(Xz, Xd)
  nb <- p + nth
  rp <- aux_reparam(sparse_reparam(X, re, p, FALSE), nb, if (kind != "disp") Xz, Xd, X)
  eng <- cpp_sparse_new(rp$X, rp$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                        re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, nth,
                        family$family_code, family$link_code)
  XA <- cbind(if (pz) rp$Xz, rp$Xd)
  if (is.null(XA)) XA <- matrix(0, n, 0L)
  storage.mode(XA) <- "double"
  pred <- c(if (kind == "disp") integer() else rep(0L, pz),
            rep(if (kind == "disp") 0L else 1L, pd))
  aoff <- cbind(offz, offd)
  storage.mode(aoff) <- "double"
  P <- cpp_sparse_set_aux(eng, aux_kind_code(kind, family), XA, pred, aoff)

  Xs <- rp$X
  beta <- two_part_beta_start(Xs, y, weights, offset, family, kind)
  theta <- c(beta, ifelse(re$lower == 0, 0.5, 0),
             zi_aux_start(Xs, y, beta, weights, offset, family, kind, if (pz) rp$Xz, offz, pd,
                          rp$Xd, offd))
  # Penalized fixed effects: the prior added to every evaluation (penalty-aux.R).
  evalf <- penalized_evalf(function(t) sparse_eval(eng, t, TRUE),
                           aux_penalty(penalty, p, pz, nb + seq_len(pz), rp$Tx, rp$Tz))
  if (!is.null(start))
    theta <- zi_search_start(start, P, rp$to_star, function(t) sparse_eval(eng, t, FALSE)$loglik)
  sr <- sparse_zi_search(evalf, theta, re, p, pz, pd, P, X, Xz, Xd, control)
  # (with each cluster's score and information, for vcov()'s cluster-robust
  # types, cluster-curvature.R; not with a penalty, which belongs to no
  # cluster)
  cls <- if (control$hessian && is.null(penalty)) sparse_fit_clusters(re, rp$Z, weights)
  fin <- finish_search(cached_ev(evalf), sr$run$theta, sr$run$opt,
                       c(sr$run$stages, sr$run$restart_stages), sr$star_boundary, sr$lower,
                       control, rep(1, P), tol = 1e-12, reevaluate = TRUE,
                       cluster_ev = sparse_scores_ev(eng, cls))
  tl <- sparse_zi_tail(fin, rp, sr, control, kind, rp$Xz, offz, nb, pz, "Laplace (sparse)",
                       combine_limits(
                         aux_dispersion_limit(family, Xd, offd, nb + pz + seq_len(pd), P,
                                              rp$Xd, rp$Td, limit_zero_rows(y, kind)),
                         if (pz) aux_zero_limit(Xz, offz, nb + seq_len(pz), P, rp$Xz, rp$Tz)))
  theta_s <- fin$theta
  theta <- tl$theta
  curvature <- fin$curvature
  if (!is.null(curvature))
    curvature[c("jacobian", "at", "group")] <- list(tl$jacobian, unname(theta), cls$code)
  tl$optinfo <- zi_note_logseries(tl$optinfo, kind, family, X, offset, Xd, offd, theta,
                                  nb + pz + seq_len(pd))
  modes <- cpp_sparse_modes(eng, theta_s)
  terms <- rp$terms_to_user(sparse_term_summaries(re, theta_s[p + seq_len(nth)], modes, eng,
                                                  theta_s), unname(theta))
  list(beta = theta[seq_len(p)], theta = theta,
       loglik = fin$final$loglik - (fin$final$penalty %||% 0),
       penalty = aux_penalty_record(penalty, fin$final),
       zi = if (pz) theta[p + nth + seq_len(pz)], disp = if (pd) theta[p + nth + pz + seq_len(pd)],
       lambda = theta[p + seq_len(nth)], p = p,
       gradient = tl$gradient, hessian = tl$hessian, cov_theta = tl$cov_theta, family = family,
       modes = modes, terms = terms, singular = any(tl$on_boundary),
       on_boundary = tl$on_boundary, optinfo = tl$optinfo, cluster_curvature = curvature)
}

# The tail shared by the sparse two-part fitters (glmm_sparse_zi_fit(),
# glmm_sparse_zi_random_fit()): the optimum `fin` (finish_search()'s) mapped
# back to the user's scale with its gradient, Hessian and covariance there,
# the fit's warnings and the optimizer record, and the Jacobian `jacobian`
# of the search's parameters in the user's. `sr`: sparse_zi_search()'s
# result; `Xzs`, `offz`: the zero part's design on the search scale and its
# offset; `nb`: the number of fixed and covariance parameters.
sparse_zi_tail <- function(fin, rp, sr, control, kind, Xzs, offz, nb, pz, method, dlim = NULL) {
  theta_s <- fin$theta
  final <- fin$final
  pnames <- sr$pnames
  vb <- sr$verified
  theta <- rp$from_star(theta_s)
  on_boundary <- rp$boundary(theta, theta_s, sr$boundary(control$singular_tol, rp$typical),
                             sr$boundary(control$singular_tol))
  J <- rp$jacobian(theta, !on_boundary)
  grad <- stats::setNames(drop(crossprod(J, final$gradient)), pnames)
  hess <- to_user_hessian(fin$hess, J, sr$star_boundary(theta_s), on_boundary)
  names(theta) <- pnames
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  hess <- na_at_boundary(hess, on_boundary)
  # Both on the standardized scale (star_covariance()), without a dispersion
  # at its no-overdispersion limit (aux_dispersion_limit()).
  dl <- if (is.null(dlim)) rep(FALSE, length(theta)) else dlim(theta)
  lc <- limit_covariance(fin$hess, J, final$gradient, sr$star_boundary(theta_s), on_boundary,
                         pnames, hess, dl, Tx = rp$star_tx)
  cov_theta <- lc$cov
  gmax <- max_free_gradient(grad, on_boundary)
  nstep <- lc$nstep
  vanish <- zi_vanishing_message(kind, Xzs, theta_s[nb + seq_len(pz)], offz)
  cause <- vanish %||% zi_separation_message(kind, Xzs, theta_s[nb + seq_len(pz)], offz)
  warn <- zi_fit_warnings(fit_warnings(fin$opt, nstep, gmax, any(on_boundary), hess, cov_theta,
                                       control, after_singular = attr(dl, "message"),
                                       boundary_check = vb$record), cause)
  stages <- fin$stages
  list(theta = theta, gradient = grad, hessian = hess, cov_theta = cov_theta,
       on_boundary = on_boundary, jacobian = J,
       optinfo = sparse_optinfo(stages, fin$opt, method, gmax, cov_theta, warn,
                      scaled_grad = nstep, nthreads = 1L, boundary_check = vb$record,
                      dispersion_limit = any(dl),
                      zero_inflation_vanishes = !is.null(vanish),
                      reparameterized = !rp$identity))
}

# The search shared by the sparse zero-inflated, hurdle and dispersion
# fitters (glmm_sparse_zi_fit() and, with random effects in the zero part,
# glmm_sparse_zi_random_fit()): bounds (standard deviations at or above 0), the
# parameter names, the search from `theta` on the centred and scaled scale
# by optimize_sparse(), and verify_boundary()'s restarts from the interior
# for parameters that ended at zero. `evalf(theta)` returns the engine's
# list with $loglik. Returns the best run, the verification, the bounds,
# the boundary test (`boundary(tol, typical)` makes one) and the names.
# `H0`: the first search's start curvature (optimize_sparse()), NULL to
# compute it; `fixed_curv`: optimize_sparse()'s.
sparse_zi_search <- function(evalf, theta, re, p, pz, pd, P, X, Xz, Xd, control, H0 = NULL,
                             fixed_curv = NULL) {
  lower <- c(rep(-Inf, p), re$lower, rep(-Inf, pz + pd))
  diagm <- p + which(re$lower == 0)
  boundary <- function(tol, typical = rep(1, P)) function(th) {
    b <- rep(FALSE, length(th))
    b[diagm] <- abs(th[diagm]) < tol * typical[diagm]
    b
  }
  at0 <- evalf(theta)
  if (!is.finite(at0$loglik))
    stop("the log-likelihood is not finite at the starting values; check the data", call. = FALSE)
  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)), re$par_names,
              if (pz) paste0("zi~", colnames(Xz) %||% seq_len(pz)),
              if (pd) paste0("disp~", colnames(Xd) %||% seq_len(pd)))
  star_boundary <- boundary(optimizer_boundary_tol(control))
  search <- function(th, H0 = NULL, at = NULL) {
    r <- optimize_sparse(evalf, th, lower, control, star_boundary, H0, fixed_curv, at)
    r$loglik <- r$at$loglik
    r
  }
  # The first search starts from the evaluation just made at theta.
  vb <- verify_boundary(search, search(theta, H0, at0), star_boundary, function(th, b, size, corr)
    sparse_restart_point(re, p, th, b, size, corr), pnames, diag = diagm)
  list(run = vb$best, verified = vb, lower = lower, boundary = boundary,
       star_boundary = star_boundary, pnames = pnames)
}
