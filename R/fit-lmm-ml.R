# Gaussian ML (identity link, one grouping factor) on the same C++ search
# as REML (fit-lmm-onefactor.R): lmer's profiled ML criterion in lme4's
# relative factor, beta and sigma profiled out, minimized by projected Newton
# steps on per-cluster q x q closed forms (then nlminb, should those stop at
# a bound: lmm_optimize()). What the fitted object holds beside the
# estimates (the log-likelihood and its gradient, the modes and each
# cluster's log-likelihood, in the same form as glmm_fit()'s) and the exact
# Hessian come from the per-cluster sums too (lmm_ml_final(),
# lmm_ml_hessian()); the one-factor engine is not built on this route.
#
# The route takes interior optima only. When the search does not converge
# or a variance ends at (or near) zero, lmm_ml_fit() returns NULL and the
# caller runs glmm_fit(), whose boundary verification by restarts then
# applies; so does any fit the user steers (start, nAGQ > 1, trace, no
# Hessian, workers: see use_lmm_ml()). A fit on workers cannot take it (the
# search needs all clusters' sums in one place), so
# options(glmmgee.lmm_profiled = FALSE) sends in-memory fits to the engine
# too, for a fit to compare a sharded one with bitwise.

# Whether glmm() takes this route for a one-factor model.
use_lmm_ml <- function(family, REML, start, nAGQ, control) {
  isTRUE(getOption("glmmgee.lmm_profiled", TRUE)) &&
    identical(family$family, "gaussian") && identical(family$link, "identity") &&
    !REML && is.null(start) &&
    (is.null(nAGQ) || (is.numeric(nAGQ) && length(nAGQ) == 1L && isTRUE(nAGQ == 1))) &&
    is.null(control$workers) && isTRUE(control$hessian) && control$trace == 0L
}

# As glmm_fit(), on y / s and mapped back (response-scale.R), or NULL.
# `family`: gaussian() as resolve_family() gives it.
lmm_ml_fit <- function(X, y, Z, group, weights, offset, cov_blocks, control, family) {
  s <- response_scale(X, y, weights, offset, family, rank = TRUE)
  # Its least-squares fit, when on X itself, has already checked X's rank.
  rank_checked <- isTRUE(attr(s, "full_rank"))
  # The condition number of the information on y / s is replaced by that of
  # the Hessian in y's units (unscale_fit()) whenever s != 1.
  fit <- lmm_ml_fit_units(X, shifted_response(y, X, s), Z, group, weights,
                          offset / as.vector(s), cov_blocks, control, family,
                          cond = as.vector(s) == 1, rank_checked = rank_checked)
  if (is.null(fit)) return(NULL)
  unscale_fit(fit, s, weights, fit$group$index)
}

lmm_ml_fit_units <- function(X, y, Z, group, weights, offset, cov_blocks, control, family0,
                             cond = TRUE, rank_checked = FALSE, centre = TRUE) {
  X <- as.matrix(X); Z <- as.matrix(Z)
  storage.mode(X) <- "double"; storage.mode(Z) <- "double"
  if (!all_finite(X) || !all_finite(Z) || !all_finite(y)) return(NULL)
  cl <- cluster_index(group, "group")
  M <- length(cl$levels)
  p <- ncol(X)
  q <- ncol(Z)
  keep <- weights > 0
  if (M < 2L || sum(keep) <= p) return(NULL)
  if (!rank_checked) check_full_rank(X)
  # A slope far from zero: the fit on the centred design, mapped back
  # (lmm_standard_z()); NULL there sends the fit to glmm_fit() as before.
  Tz <- if (centre) lmm_z_centring(Z, keep, cov_blocks)
  if (!is.null(Tz)) {
    fc <- lmm_ml_fit_units(X, y, Z %*% backsolve(Tz, diag(1, q)), group, weights, offset,
                           cov_blocks, control, family0, cond = cond, rank_checked = TRUE,
                           centre = FALSE)
    return(if (!is.null(fc)) lmm_standard_z(fc, Tz, FALSE))
  }
  # Fixed effects on a centred and scaled X, mapped back (lmm_standard_x()).
  tx <- lmm_design_transform(X)
  X <- tx$M
  pat <- block_pattern(cov_blocks)
  bounded <- pat$row == pat$col
  sc <- lmm_scaled_suff(X, y, Z, weights, offset, cl$index, M, keep)
  suff <- sc$suff
  sz <- sc$sz
  # Newton in C++, and nlminb when that stops at a bound (lmm_optimize()).
  obj <- lmm_objective(suff, pat, FALSE)
  opt <- lmm_optimize(obj, pat, suff, FALSE)
  if (opt$convergence != 0L || any(bounded & opt$theta < 1e-6)) return(NULL)
  if (length(opt$runs) > 1L) {
    # nlminb's relative test can stop 1e-7 short of the optimum along a flat
    # direction; Newton steps from its interior point finish the search.
    r <- cpp_lmm_search(suff, opt$theta, bounded, pat$row - 1L, pat$col - 1L, FALSE, 100L, 1e-14)
    if (r$convergence == 0L && all(r$par[bounded] >= 1e-6) && r$objective <= obj$fn(opt$theta)) {
      opt$theta <- r$par
      opt$runs <- c(opt$runs, list(r))
      opt$optimizer <- "nlminb, then Newton (exact gradient, C++)"
      opt$message <- r$message
    }
  }
  ev <- cpp_lmm_eval(suff, opt$theta, pat$row - 1L, pat$col - 1L, FALSE, TRUE)
  if (!is.finite(ev$deviance)) return(NULL)
  sigma <- sqrt(ev$pwrss / sum(keep))
  disp <- has_dispersion(family0)
  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)),
              sprintf("lambda[%d,%d]", pat$row, pat$col), "log(sigma)")
  theta <- stats::setNames(c(drop(ev$beta), sigma * opt$theta / sz[pat$row], log(sigma)), pnames)
  # The singular-fit rule of glmm_fit(), with its typical parameter sizes
  # (the rule reads those of Lambda's entries only; the scales alone,
  # without the transformed design).
  # design_transform()'s scales from Z's column moments (col_moments(),
  # bitwise its own colMeans() and mean()s), without its column copies.
  typical <- c(rep(1, p),
               1 / design_transform(NULL, blocks = cov_blocks, scale_only = TRUE,
                                    mom = z_moments(Z))$scale[pat$row], 1)
  if (any(boundary_mask(theta, p, pat, disp, control$singular_tol, typical = typical)))
    return(NULL)
  on_boundary <- rep(FALSE, length(theta))
  family <- fitted_family(family0, log(sigma))
  # The log-likelihood, its gradient, the modes and the clusters'
  # log-likelihoods at the estimates from the sums (lmm_ml_final()), the
  # Hessian from them too.
  J <- c(rep(1, p), sz[pat$row], 1)
  final <- lmm_ml_final(suff, theta, J, pat, X, y - offset, weights, cl$index)
  if (is.null(final)) return(NULL)
  hess <- lmm_ml_hessian(suff, theta, sz, pat, p)
  summ <- final$modes
  grad <- stats::setNames(final$gradient, pnames)
  cov_theta <- invert_information(hess, on_boundary, pnames, cond)
  # The remaining Newton step on the standardized scale when Z's columns are
  # far from unit scale: in Lambda's user units it grows with them, and with
  # x * 1e9 in (0 + x | g) the information there was numerically singular,
  # no step, a false "doubtful convergence". Within a factor 100 of unit
  # scale, in the user's units as before (bitwise).
  nstep <- if (any(typical > 100 | typical < 0.01))
    newton_decrement(grad * typical, hess * outer(typical, typical), on_boundary)
  else newton_decrement(grad, hess, on_boundary)
  Lam <- matrix(0, q, q)
  lam <- theta[p + seq_along(pat$row)]
  Lam[cbind(pat$row, pat$col)] <- lam
  its <- sum(vapply(opt$runs, function(r) as.integer(r$iterations), 1L))
  evals <- sum(vapply(opt$runs, function(r) as.integer(r$evaluations[[1L]]), 1L))
  msg <- opt$message %||% "converged"
  stages <- list(search = list(iterations = its, evaluations = evals, convergence = 0L,
                               message = msg),
                 hessian = list(iterations = 0L, evaluations = 1L, convergence = 0L,
                                message = "analytic"))
  record <- boundary_record(final$loglik)  # verify-boundary.R
  modes_failed <- if (summ$newton_failures > 0L)
    sprintf("the posterior mode search failed in %d cluster(s)", summ$newton_failures)
  warn <- fit_warnings(list(convergence = 0L, message = msg), nstep, max(abs(grad)), FALSE, hess,
                       cov_theta, control, after_singular = modes_failed, boundary_check = record)
  lmm_standard_x(list(beta = theta[seq_len(p)], lambda = lam, Lambda = Lam, sigma = sigma, theta = theta,
       loglik = final$loglik, gradient = grad, hessian = hess, cov_theta = cov_theta,
       modes = summ, nAGQ = 1L, family = family, group = cl, q = q,
       pattern = pat, cov_blocks = cov_blocks, p = p, dispersion = disp,
       family_par = family_parameter(family, theta, cov_theta),
       singular = FALSE, on_boundary = on_boundary,
       engine = "lmm_one_factor",
       optinfo = new_optinfo(optimizer = opt$optimizer,
                      method = "Laplace", nAGQ = 1L, stages = stages,
                      iterations = its, evaluations = evals + 1L,
                      convergence = 0L, message = msg, newton_steps = 0L,
                      max_grad = max(abs(grad)), scaled_grad = nstep,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      newton_failures = summ$newton_failures, warnings = warn,
                      boundary_check = record, reparameterized = FALSE,
                      nthreads = control$nthreads)),
                 tx, FALSE)
}

# The one-factor engine's final evaluation and summaries for a gaussian
# identity model, from the per-cluster sums in one C++ call
# (cpp_lmm_ml_final(), exact where the engine's Laplace approximation is
# exact too): the log-likelihood and its gradient in theta, and the
# summaries' list (modes of u, their conditional covariances, which are also
# the posterior moments, and each cluster's log-likelihood). The sums hold
# Z's columns divided by their scales, so Lambda's entries there are theta's
# times `J`'s and the gradient maps back by J. NULL where a factor fails.
# Building the engine, evaluating it and its summaries took about a fifth of
# a small ML fit.
lmm_ml_final <- function(suff, theta, J, pat, X, yo, weights, index) {
  r <- cpp_lmm_ml_final(suff, unname(theta) * J, pat$row - 1L, pat$col - 1L, X, yo,
                        as.numeric(weights), index)
  if (!is.finite(r$loglik) || !all(is.finite(r$gradient))) return(NULL)
  list(loglik = r$loglik, gradient = r$gradient * J,
       modes = list(mode = r$mode, mode_var = r$mode_var, post_mean = r$mode,
                    post_var = r$mode_var, loglik = r$loglik_clusters, newton_failures = 0L))
}

# The exact Hessian of the log-likelihood in the engine's parameters theta
# (beta, Lambda's entries on the user's Z, log sigma), from the per-cluster
# sums in one C++ call (src/engines/lmm/lmm-onefactor-ml-info.cpp). The sums hold Z's
# columns divided by `sz`, so Lambda's entries there are theta's times
# sz[row], and the Hessian maps back by that diagonal Jacobian. Central
# differences of the engine's gradient (2P evaluations, a fifth of a small
# ML fit) carried an O(h^2) error in the standard errors' 7th-8th digits.
lmm_ml_hessian <- function(suff, theta, sz, pat, p) {
  J <- c(rep(1, p), sz[pat$row], 1)
  H <- cpp_lmm_ml_hessian(suff, unname(theta) * J, pat$row - 1L, pat$col - 1L)
  H * (J %o% J)
}

# Z's moments in design_transform()'s `mom` form: the column means, the
# standard deviations sqrt(mean((x - mean)^2)) and the root mean squares
# sqrt(mean(x^2)), as its own expressions give them.
z_moments <- function(Z) {
  cm <- col_moments(Z)
  list(mean = cm$mean, sd = cm$sd_mean, rms = cm$rms, n = cm$n)
}
