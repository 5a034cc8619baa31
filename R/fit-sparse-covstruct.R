# The fit of a GLMM with several random-effect terms of which some carry a
# covariance structure (ar1(), hetar1(), cs(), homcs(), toep(), homtoep(),
# diag(), homdiag()), or with penalized fixed effects, by the sparse Laplace
# engine (src/engines/laplace/laplace.cpp): each term's
# block of Lambda is chol(D_t(par_t)) of its structure (for an unstructured
# term, its entries), and the engine's exact gradient in Lambda's entries is
# carried to the structures' parameters by the exact Jacobian of the
# Cholesky factor; search, boundary checks and estimates are the one-factor
# structured fit's (covstruct-eval.R, covstruct-fit.R, covstruct-verify.R).
# As there, only the fixed-effects design is centred and scaled for the
# search: a structure is not preserved by recentring its columns.
sparse_covstruct_fit <- function(X, y, re, family, weights, offset, control, penalty = NULL,
                                 start = NULL, nAGQ = 1L) {
  p <- ncol(X)
  check_full_rank(X)
  disp <- has_dispersion(family)
  tx <- design_transform(X)
  # nAGQ > 1: the nested engine continues from the Laplace optimum
  # (fit-nested-covstruct.R); built first, so that a design it cannot
  # integrate is refused before any fitting.
  ne <- if (nAGQ > 1L) nested_structure_engine(tx$M, y, weights, offset, re, family, nAGQ, control)
  eng <- cpp_sparse_new(tx$M, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                        re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                        family$family_code, family$link_code)
  nthreads <- cpp_sparse_set_threads(eng, control$nthreads)
  st <- start_values(tx$M, y, weights, offset, family, 1L, list(row = 1L, col = 1L), NULL,
                     eng = function(maxit) cpp_sparse_glm_start(eng, maxit))
  k_re <- structure_blocks(re$terms, p)
  sd0 <- max(st[[p + 1L]], 0.1)
  user_start <- start
  start <- c(st[seq_len(p)], unlist(lapply(re$terms, function(t) t$struct$start(sd0))),
             if (disp) st[[p + 2L]])
  # A gradient right after a value-only evaluation at the same point is
  # taken from it (the line searches' accepted trials).
  engine_eval <- function(theta, grad) sparse_eval(eng, theta, grad, reuse = TRUE)
  evalf <- structure_evalf(engine_eval, re$terms, k_re, p, disp, tx$T, penalty)
  if (!is.null(user_start))
    start <- check_structure_start(evalf, structure_search_start(
      user_start, structure_layout(colnames(X), p, re$terms, dispersion_tail(family, disp)),
      re$terms, k_re, tx$T, disp = disp), re$terms, k_re)
  # Single-column unstructured terms are searched as log(sd) first
  # (covstruct-logsd.R). Not for the gaussian identity link: there the
  # route's convergence check in the user's units (the scaled gradient) is
  # at the mercy of rounding when a covariate is far from zero (x + 1e4:
  # 0.006 against 1e-3 after this search, below on main's path, with the
  # same optimum), and a warning hands the fit to the profiled route
  # (glmm_sparse_covstruct()), whose standard errors differ by 3e-3.
  gauss <- identical(family$family, "gaussian") && identical(family$link, "identity")
  pre <- if (!gauss)
    logsd_presearch(engine_eval, re$terms, k_re, p, disp, tx$T, penalty, control, sd0)
  # The Hessians of the search's last steps also give each cluster's
  # information (cluster-curvature.R) where one grouping nests every term:
  # not beside a penalty (a term of no cluster), nor for the gaussian
  # identity link (its robust types are the linear mixed model's).
  cls <- if (control$hessian && is.null(penalty) && !gauss && is.null(ne))
    sparse_fit_clusters(re, re$Z, weights)
  scores_ev <- sparse_scores_ev(eng, cls)
  cluster_ev <- if (!is.null(cls) && as.double(cls$G) * length(start)^2 <= curvature_max_doubles)
    structure_evalf(function(theta, grad) scores_ev(theta), re$terms, k_re, p, disp, tx$T, NULL)
  search <- function(par) covstruct_search(evalf, par, control, value_first = TRUE, pre = pre,
                                           cluster_ev = cluster_ev)
  run <- search(start)
  # The fit is in y's units (gaussian ML fits of structures come here, and
  # penalized ones, with equalto() too): the standard deviations' boundary
  # is relative to y's residual scale.
  unit <- if (gauss) as.vector(response_scale(tx$M, y, weights, offset, family)) else 1
  disp_at <- covstruct_disp_index(family, disp, length(start))
  bc <- covstruct_verify(search, run, re$terms, k_re, disp_at, unit)
  run <- bc$best
  if (!is.null(ne)) {
    quad <- nested_covstruct_quadrature(ne, run, re$terms, k_re, p, disp, tx$T, control,
                                        disp_at, unit)
    run <- quad$run
    bc <- quad$bc
    evalf <- quad$evalf
  }
  final <- run$at %||% evalf(run$par)
  est <- covstruct_estimates(evalf, run, bc, final, re$terms, k_re, tx$T, colnames(X), family,
                             disp, control, penalty, lam_names = re$par_names)
  theta_s <- structure_engine_theta(run$par, est$lm, p, disp)
  modes <- cpp_sparse_modes(eng, theta_s)
  terms <- sparse_term_summaries(re, est$lm$lambda, modes, eng, theta_s)
  curvature <- if (control$hessian && !any(est$on_boundary) && !is.null(run$hessian))
    structure_curvature(run$curvature, run$par, re$terms, k_re, p,
                        function(th) scores_ev(th)$scores, est$jacobian, est$theta,
                        est$cov_search)
  if (!is.null(curvature)) curvature$group <- cls$code
  # (a covariate's per root mean square of its column, as the unstructured
  # routes judge them on their standardized design: a slope in 0.01 units
  # at 0.69 per unit of its covariate was "estimated at 69")
  sds <- unlist(lapply(seq_along(est$structures), function(k)
    est$structures[[k]]$sd * term_column_rms(re$Z, re$terms[[k]], weights > 0, TRUE)))
  names(sds) <- unlist(lapply(est$structures, function(s) names(s$sd)))
  unbounded <- sparse_pure_clusters(re, y, weights, family) %||%
    large_sd_message(sds, names(sds), family)
  warn <- fit_warnings(run$opt, est$nstep, est$gmax_star, est$singular, est$hess, est$cov_theta,
                       control, after_singular = unbounded, boundary_check = bc$record)
  theta <- est$theta
  P <- length(theta)
  phi <- if (disp) theta[[P]]
  family <- fitted_family(family, phi)
  list(beta = theta[seq_len(p)], theta = est$theta_chol,
       loglik = final$loglik - final$penalty, penalty = est$penalty,
       sigma = sigma_of(family, phi), dispersion = if (disp) exp(phi),
       family_par = family_parameter(family, theta, est$cov_theta),
       gradient = est$grad, hessian = est$hess, cov_theta = est$cov_chol, npar = P,
       family = family, modes = modes, terms = terms, singular = est$singular,
       on_boundary = est$on_boundary, cluster_curvature = curvature,
       structures = structure(est$structures, theta = theta, cov_theta = est$cov_theta),
       engine = if (!is.null(ne)) "agq_nested",
       optinfo = covstruct_optinfo(run, est, bc, warn,
                                   if (is.null(ne)) "Laplace (sparse)"
                                   else sprintf("multilevel adaptive Gauss-Hermite quadrature, nAGQ = %d", nAGQ),
                                   nAGQ, !tx$identity,
                                   grad_basis_of(!tx$identity), nnz_factor = modes$nnz_factor,
                                   nthreads = nthreads, evaluations = run$passes,
                                   nested_levels = if (!is.null(ne))
                                     vapply(re$terms[ne$ns$order], `[[`, "", "group")))
}
