# Matrix-level fitter of the cumulative link mixed model with several
# random-intercept terms (crossed, nested, (1 | a:b)), by the sparse Laplace
# engine (src/engines/laplace/laplace.cpp). The engine's observation model is the cumulative
# link model of src/families/families-cumulative.h, attached as an auxiliary-predictor
# model: its J - 1 thresholds are auxiliary coefficients (one design column
# of ones each) that follow the fixed effects and the standard deviations
# in the engine's parameter vector (beta, sd, thresholds). The front end is
# glmm_ordinal_sparse() (glmm-ordinal-sparse.R).
#
# The search runs on
#   (centred and scaled beta, sd, alpha_1, log increments alpha_2..alpha_{J-1})
# so the thresholds stay ordered and the optimum does not depend on the
# covariates' location and units (the thresholds absorb the centring). The
# result is finished (Hessian, Newton polish) on the user's design in the
# reported parameterization (thresholds, beta, sd).

ordinal_sparse_fit <- function(X, y, J, re, family, weights = NULL, offset = NULL,
                               control = glmm_control(), start = NULL,
                               tnames = paste0("threshold", seq_len(J - 1L)), penalty = NULL) {
  n <- length(y)
  p <- ncol(X)
  k1 <- J - 1L
  nth <- re$ntheta
  weights <- weights %||% rep(1, n)
  offset <- offset %||% rep(0, n)
  ctr <- if (p) colMeans(X) else numeric()
  scl <- if (p) apply(X, 2L, stats::sd) else numeric()
  scl[!is.finite(scl) | scl == 0] <- 1
  Xc <- if (p) sweep(sweep(X, 2L, ctr), 2L, scl, "/") else X
  new_engine <- function(Xm) ordinal_sparse_engine(Xm, y, weights, offset, re, J,
                                                   family$link_code, control$nthreads)
  eng_c <- new_engine(Xc)
  to_theta <- function(a) cumsum(c(a[1L], exp(a[-1L])))
  ib <- seq_len(p); isd <- p + seq_len(nth); ia <- p + nth + seq_len(k1)
  # penalized = TRUE: the log prior of beta* (penalty-ordinal.R).
  pen <- ordinal_penalty(penalty, p, scl)
  # Optimizer scale: (beta*, sd, alpha); the engine's: (beta*, sd, theta).
  eval_star <- function(par) {
    r <- sparse_eval(eng_c, c(par[ib], par[isd], to_theta(par[ia])), TRUE)
    g <- r$gradient
    gth <- g[ia]
    ga <- rev(cumsum(rev(gth)))
    if (k1 > 1L) ga[-1L] <- ga[-1L] * exp(par[ia][-1L])
    g[ia] <- ga
    ok <- is.finite(r$loglik) && all(is.finite(g))
    ordinal_add_penalty(list(loglik = if (ok) r$loglik else -Inf, gradient = g), pen, par[ib], ib)
  }
  par0 <- ordinal_sparse_start(y, weights, J, family, p, nth, start, ctr, scl)
  lower <- c(rep(-Inf, p), re$lower, rep(-Inf, k1))
  diagm <- p + which(re$lower == 0)
  boundary_at <- function(tol) function(th) {
    b <- rep(FALSE, length(th))
    b[diagm] <- abs(th[diagm]) < tol
    b
  }
  star_boundary <- boundary_at(optimizer_boundary_tol(control))
  search <- function(th) {
    r <- optimize_sparse(eval_star, th, lower, control, star_boundary)
    r$loglik <- r$at$loglik
    r
  }
  star_names <- c(colnames(X), re$par_names, paste0("alpha", seq_len(k1)))
  run <- search(par0)
  vb <- verify_boundary(search, run, star_boundary, function(th, b, size, corr) {
    th[b] <- size
    th
  }, star_names, diag = diagm)
  run <- vb$best

  # The finish (Hessian, polish) on the optimizer's centred and scaled
  # design in (thresholds, beta, sd) = psi_star, then mapped to the user's
  # psi = Tm psi_star: g = Tm^-T g_star, H = Tm^-T H_star Tm^-1, covariance
  # Tm H_star^-1 Tm'. On the user's design the difference steps did not fit
  # a coefficient in other units (x * 1e7: a standard error 2.4 times too
  # small, silently) and x + 1e4 made the information singular numerically.
  bs <- run$theta
  jt <- seq_len(k1); jb <- k1 + seq_len(p); js <- k1 + p + seq_len(nth)
  Tm <- ordinal_star_map(k1, p, ctr, scl, extra = nth)
  Ti <- ordinal_star_inverse(Tm, k1, p)
  eng_u <- new_engine(X)
  engine_par <- function(ps) c(ps[jb], ps[js], ps[jt])
  eval_psi <- function(ps) {
    if (any(diff(ps[jt]) <= 0)) return(list(loglik = -Inf, gradient = rep(NaN, length(ps))))
    r <- sparse_eval(eng_c, engine_par(ps), TRUE)
    g <- r$gradient
    ordinal_add_penalty(list(loglik = r$loglik, gradient = c(g[ia], g[ib], g[isd])), pen,
                        ps[jb], jb)
  }
  psi_boundary <- function(ps) {
    b <- rep(FALSE, length(ps))
    b[js[re$lower == 0]] <- abs(ps[js][re$lower == 0]) < optimizer_boundary_tol(control)
    b
  }
  lower_u <- c(rep(-Inf, k1 + p), re$lower)
  # (each cluster's score and information too: cluster-curvature.R; not
  # beside a penalty, a term of no cluster)
  cls <- if (control$hessian && is.null(pen)) sparse_fit_clusters(re, re$Z, weights)
  fin <- finish_search(cached_ev(eval_psi), c(to_theta(bs[ia]), bs[ib], bs[isd]), run$opt,
                       c(run$stages, run$restart_stages), psi_boundary, lower_u, control,
                       rep(1, k1 + p + nth), tol = 1e-12, reevaluate = TRUE,
                       cluster_ev = ordinal_sparse_scores_ev(eng_c, cls, engine_par, jt,
                                                             c(ia, ib, isd)))
  curvature <- ordinal_sparse_curvature(fin$curvature, Ti, k1, p, nth, cls)
  psi <- drop(Tm %*% fin$theta)
  final <- fin$final
  g_star <- final$gradient
  final$gradient <- drop(crossprod(Ti, g_star))
  pnames <- c(tnames, colnames(X), re$par_names)
  names(psi) <- pnames
  on_boundary <- abs(psi[js]) < control$singular_tol & re$lower == 0
  ob <- replace(rep(FALSE, length(psi)), js[on_boundary], TRUE)
  hess_s <- fin$hess
  if (!is.null(hess_s)) dimnames(hess_s) <- list(pnames, pnames)
  hess_s <- na_at_boundary(hess_s, ob)
  cov_s <- invert_information(hess_s, ob, pnames)
  # (and the covariance in its coordinates: with x + 2010 the sandwich
  # formed in the user's ones moved the slope's CR0 by 0.2%)
  if (!is.null(curvature)) curvature$cov <- kept_covariance(cov_s)
  # Tm mixes thresholds and beta only: the sd rows (NA on a boundary) map
  # to themselves, so NA entries are carried over, not multiplied.
  to_user <- function(M, A, B) {
    if (is.null(M)) return(NULL)
    na <- is.na(M)
    out <- A %*% replace(M, na, 0) %*% B
    out[na] <- NA_real_
    dimnames(out) <- dimnames(M)
    out
  }
  hess <- to_user(hess_s, t(Ti), Ti)
  cov_par <- to_user(cov_s, Tm, t(Tm))
  attr(cov_par, "ok") <- attr(cov_s, "ok")
  attr(cov_par, "cond") <- attr(cov_s, "cond")
  grad <- stats::setNames(final$gradient, pnames)
  gmax <- max_free_gradient(grad, ob)
  gmax_star <- max_free_gradient(g_star, ob)
  modes <- cpp_sparse_modes(eng_u, engine_par(psi))
  terms <- sparse_term_summaries(re, psi[js], modes, eng_u, engine_par(psi))
  nstep <- newton_decrement(g_star, hess_s, ob)
  warn <- fit_warnings(fin$opt, nstep, gmax_star, any(ob), hess_s, cov_par, control,
                       boundary_check = vb$record)
  stages <- fin$stages
  list(theta = psi[jt], beta = psi[jb], sd = psi[js], par = psi, cov_par = cov_par,
       # par = Tm par_star and par_star's covariance, where X loses digits
       # (new_glmm_ordinal_sparse() maps them to psi's cov_star).
       par_star = if (!well_scaled_x(X) && !is.null(cov_s) && isTRUE(attr(cov_s, "ok")))
         list(T = Tm, V = cov_s),
       hessian = hess, loglik = final$loglik - final$penalty,
       penalty = ordinal_penalty_record(pen, final$loglik - final$penalty, final$penalty),
       gradient = grad, modes = modes, terms = terms, cluster_curvature = curvature,
       singular = any(ob), on_boundary = ob,
       optinfo = sparse_optinfo(stages, fin$opt, "Laplace (sparse)", gmax_star, cov_par, warn,
                      max_grad_user = gmax, grad_basis = grad_basis_of(TRUE),
                      scaled_grad = nstep, nnz_factor = modes$nnz_factor,
                      boundary_check = vb$record))
}

# The finish's evaluator with each cluster's score (sparse_scores_ev()) on
# the search's psi_star = (thresholds, beta*, sd): the engine's parameters
# `engine_par(ps)`, its gradient and scores permuted by `o` as eval_psi's;
# NULL without the fit's clusters `cls` (sparse_fit_clusters()).
ordinal_sparse_scores_ev <- function(eng, cls, engine_par, jt, o) {
  if (is.null(cls)) return(NULL)
  scores_ev <- sparse_scores_ev(eng, cls)
  function(ps) {
    if (any(diff(ps[jt]) <= 0)) return(list(loglik = -Inf, gradient = rep(NaN, length(ps))))
    r <- scores_ev(engine_par(ps))
    list(loglik = r$loglik, gradient = r$gradient[o], scores = r$scores[, o, drop = FALSE])
  }
}

# The finish's clusters' curvature `curv` kept in psi_star with the map
# from the fit's theta = (beta, sd, thresholds): psi_star = Ti psi, psi
# theta's entries reordered; the clusters `cls`.
ordinal_sparse_curvature <- function(curv, Ti, k1, p, nth, cls) {
  if (is.null(curv)) return(NULL)
  K <- k1 + p + nth
  curv$jacobian <- Ti %*% diag(1, K)[c(p + nth + seq_len(k1), seq_len(p), p + seq_len(nth)), ]
  curv$group <- cls$code
  curv
}

# The sparse engine with the cumulative observation model, parameters
# (beta, sd, thresholds). Its own family is a placeholder that set_aux
# replaces (poisson: its constant term is finite at the category codes; the
# constant is then recomputed from the cumulative model, which has none).
ordinal_sparse_engine <- function(X, y, weights, offset, re, J, link_code, nthreads = 1L) {
  n <- length(y)
  k1 <- J - 1L
  base <- resolve_family(stats::poisson())
  eng <- cpp_sparse_new(X, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                        re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                        base$family_code, base$link_code)
  cpp_sparse_set_aux(eng, 4L + link_code, matrix(1, n, k1), seq_len(k1) - 1L,
                     matrix(0, n, k1))
  cpp_sparse_set_threads(eng, nthreads)
  eng
}

# The Laplace log-likelihood of a fitted model's data at other parameter
# values (thresholds, beta, one sd per term), with gradient = TRUE its
# gradient in that order: for comparing optima with other software.
ordinal_sparse_loglik_at <- function(fit, theta, beta, sd, gradient = FALSE) {
  n <- length(fit$y)
  J <- length(fit$y_levels)
  eng <- ordinal_sparse_engine(fit$X, fit$y, fit$prior.weights %||% rep(1, n),
                               fit$offset %||% rep(0, n), c(fit$re_pattern, list(Z = fit$Z)), J,
                               fit$family$link_code)
  p <- length(beta)
  r <- sparse_eval(eng, as.numeric(c(beta, sd, theta)), gradient)
  if (!gradient) return(r$loglik)
  g <- r$gradient
  k <- length(sd)
  c(g[p + k + seq_len(J - 1L)], g[seq_len(p)], g[p + seq_len(k)])
}

# Starting values on the optimizer's scale: thresholds from the cumulative
# proportions, beta = 0, every standard deviation 1 (as for one grouping
# factor, ordinal_start()); or the user's list(theta =, beta =, sd =) on
# the reported scale, mapped in.
ordinal_sparse_start <- function(y, w, J, family, p, nth, start, ctr, scl) {
  k1 <- J - 1L
  if (is.null(start)) {
    s0 <- ordinal_start(y, w, J, family, p, NULL, ctr, scl)
    return(c(rep(0, p), rep(1, nth), s0[seq_len(k1)]))
  }
  if (!is.list(start) || !all(names(start) %in% c("theta", "beta", "sd")))
    stop("'start' of a cumulative link model with several random-effect terms must be a list with elements theta, beta, sd",
         call. = FALSE)
  sd <- start$sd %||% rep(1, nth)
  if (!is.numeric(sd) || length(sd) != nth || anyNA(sd) || any(sd < 0))
    stop(sprintf("'start$sd' must hold %d non-negative standard deviations", nth), call. = FALSE)
  s0 <- ordinal_start(y, w, J, family, p, list(theta = start$theta, beta = start$beta),
                      ctr, scl)
  c(s0[k1 + seq_len(p)], sd, s0[seq_len(k1)])
}
