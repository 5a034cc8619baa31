# Matrix-level GLMM fitter: the engine without formulas.

#' Fit a GLMM with one grouping factor from matrices
#'
#' The matrix-level fitter behind [glmm()]: maximizes the marginal
#' log-likelihood, with the random effects integrated out by the Laplace
#' approximation (`nAGQ = 1`) or adaptive Gauss-Hermite quadrature
#' (`nAGQ > 1`), with the engine's exact analytic gradient: Newton steps
#' from the curvature at the start, updated by BFGS (the Laplace
#' approximation first when quadrature follows), with [stats::nlminb()] as
#' the fallback when they do not converge.
#'
#' The random effects of cluster \eqn{i} are \eqn{b_i = \Lambda u_i} with
#' \eqn{u_i \sim N(0, I)}, so their covariance is \eqn{D = \Lambda\Lambda'};
#' \eqn{\Lambda} is lower triangular, block-diagonal by `cov_blocks`, with its
#' diagonal bounded below by zero (a variance of exactly zero is a "singular
#' fit").
#'
#' @param X Fixed-effects model matrix (n x p).
#' @param y Response on the mean scale (a proportion for binomial).
#' @param Z Random-effects covariates (n x q): the columns that vary by cluster.
#'   `NULL` is a random intercept (a column of ones, which is then not built).
#' @param group Cluster membership: a factor, or anything [factor()] accepts.
#'   Rows need not be sorted by cluster.
#' @param family A family object, function or name: gaussian (identity),
#'   gaussian (log), binomial (logit, probit, cloglog, cauchit), poisson
#'   (log), [nbinom2()] (log), Gamma (log, inverse, identity), [nbinom1()],
#'   [beta_family()] or [betabinomial()].
#' @param weights Prior weights; for binomial, the number of trials.
#' @param offset Offset added to the linear predictor.
#' @param nAGQ Number of quadrature points per random effect; 1 is Laplace.
#'   `NULL` chooses [default_nAGQ()].
#' @param cov_blocks Sizes of the diagonal blocks of the covariance: `ncol(Z)`
#'   (one unstructured block) or `rep(1, ncol(Z))` (diagonal).
#' @param control [glmm_control()] settings.
#' @param start Optional starting values, a list with `beta`, `lambda`
#'   (the free entries of \eqn{\Lambda} column by column) and the dispersion:
#'   `sigma` for gaussian, `theta` for [nbinom2()], `shape` for Gamma, `phi`
#'   for [nbinom1()], [beta_family()] and [betabinomial()].
#' @return A list with the estimates, their covariance, the log-likelihood and
#'   a record of the optimization (`optinfo`); [glmm()] turns it into a fitted
#'   model object.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   X <- model.matrix(~ period, cbpp)
#'   f <- glmm_fit(X, cbpp$incidence / cbpp$size, matrix(1, nrow(cbpp)),
#'                 cbpp$herd, binomial, weights = cbpp$size, nAGQ = 9)
#'   f$beta
#'   f$loglik
#' }
#' @export
glmm_fit <- function(X, y, Z, group, family = gaussian(), weights = NULL,
                     offset = NULL, nAGQ = NULL, cov_blocks = if (is.null(Z)) 1L else ncol(Z),
                     control = glmm_control(), start = NULL) {
  family <- resolve_family(family)
  owner <- progress_begin(control$progress, "glmm_fit")  # progress.R (inside glmm(): its report)
  if (owner) {
    on.exit(progress_end(owner))
    progress_stage("fitting by the agq engine")
  }
  # Gaussian identity link: fitted on y / s and mapped back, so that the
  # optimum found does not depend on the units of y (response-scale.R).
  s <- response_scale(if (is.matrix(X)) X else as.matrix(X), y, weights, offset, family)
  # Gamma with the identity or inverse link: likewise (response-scale.R).
  gs <- gamma_response_scale(y, weights, family)
  if (!is.null(gs)) {
    k <- gs$eta_mult
    fit <- glmm_fit_units(X, y / gs$s, Z, group, family, weights,
                          if (!is.null(offset)) offset / k, nAGQ, cov_blocks,
                          control, gamma_scale_start(start, gs))
    map <- gamma_response_map(length(fit$theta), gs)
    fit <- unscale_fit(fit, gs$s, weights, fit$group$index, map$mult, map$add,
                       eta_mult = k, sigma_mult = 1,
                       jac_w = if (is.null(weights)) rep(1, length(y)) else weights)
    return(progress_done(fit, owner))
  }
  if (s == 1)
    return(progress_done(glmm_fit_units(X, y, Z, group, family, weights, offset, nAGQ,
                                        cov_blocks, control, start), owner))
  fit <- glmm_fit_units(X, shifted_response(y, X, s), Z, group, family, weights,
                        if (!is.null(offset)) offset / as.vector(s), nAGQ, cov_blocks,
                        control, scale_start(start, s))
  progress_done(unscale_fit(fit, s, weights, fit$group$index), owner)
}

# glmm_fit() in the units of the response it is given.
glmm_fit_units <- function(X, y, Z, group, family, weights, offset, nAGQ, cov_blocks,
                           control, start) {
  if (!inherits(control, "glmmgee_glmm_control"))
    stop("'control' must come from glmm_control()", call. = FALSE)
  X <- as.matrix(X)
  n <- nrow(X)
  # Z = NULL: a random intercept, whose column of ones is not built (the
  # engine reads 1; 80 MB at ten million rows). Workers get the column.
  if (is.null(Z) && !is.null(control$workers))
    Z <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  unit_z <- is.null(Z)
  # Only where needed: storage.mode<- on a matrix the caller also holds
  # copies it even when it is already double.
  if (!is.double(X)) storage.mode(X) <- "double"
  if (!unit_z) {
    Z <- as.matrix(Z)
    if (!is.double(Z)) storage.mode(Z) <- "double"
    if (nrow(Z) != n) stop("'Z' must have as many rows as 'X'", call. = FALSE)
    if (!all_finite(Z)) stop("'Z' contains NA, NaN or infinite values", call. = FALSE)
  }
  znames <- if (unit_z) "(Intercept)" else colnames(Z)
  if (length(y) != n) stop("'y' must have one value per row of 'X'", call. = FALSE)
  if (length(group) != n) stop("'group' must have one value per row of 'X'", call. = FALSE)
  if (!all_finite(X)) stop("'X' contains NA, NaN or infinite values", call. = FALSE)
  # NULL weights (all 1) and offset (all 0) stay NULL: the engine takes them
  # as empty vectors and holds no n-vector for them.
  if (!is.null(weights) && length(weights) != n || !is.null(offset) && length(offset) != n)
    stop("'weights' and 'offset' must have one value per row of 'X'", call. = FALSE)
  # all_finite(), min() and max(): the same conditions without n-length
  # logical temporaries.
  if (!is.numeric(y) || !all_finite(y)) stop("'y' must be numeric and finite (no NA, NaN or Inf)", call. = FALSE)
  check_support(y, family)
  if (!is.null(weights) && (!is.numeric(weights) || !all_finite(weights) || (n && min(weights) < 0)))
    stop("'weights' must be non-negative finite numbers", call. = FALSE)
  if (!n || !is.null(weights) && max(weights) <= 0)
    stop("all 'weights' are zero: there is nothing to fit", call. = FALSE)
  if (!is.null(offset) && (!is.numeric(offset) || !all_finite(offset)))
    stop("'offset' must be finite numbers", call. = FALSE)
  cl <- cluster_index(group, "group")
  M <- length(cl$levels)
  if (M < 2L) stop("'group' has only one level; a random effect needs at least two groups",
                   call. = FALSE)
  q <- if (unit_z) 1L else ncol(Z)
  if (q < 1L) stop("'Z' needs at least one column", call. = FALSE)
  if (sum(cov_blocks) != q || any(cov_blocks < 1))
    stop("'cov_blocks' must be positive block sizes adding up to ncol(Z)", call. = FALSE)
  pat <- block_pattern(cov_blocks)
  nAGQ_default <- is.null(nAGQ)
  if (nAGQ_default) nAGQ <- default_nAGQ(q, family)
  nAGQ <- check_nAGQ(nAGQ, q)
  check_full_rank(X)
  p <- ncol(X)
  disp <- has_dispersion(family)

  lower <- c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), if (disp) -Inf)
  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)),
              sprintf("lambda[%d,%d]", pat$row, pat$col), dispersion_tail(family, disp))
  # The engine works on centred and scaled designs (reparam-glmm.R); the
  # optimum is mapped back to the user's parameterization exactly.
  rp <- glmm_reparam(X, Z, pat, cov_blocks, p, disp,
                     copy_x = !is.null(control$workers) || length(X) < design_map_entries())
  if (!is.null(control$workers))
    return(glmm_fit_workers(list(rp = rp, pat = pat, cov_blocks = cov_blocks, p = p, q = q,
                                 disp = disp, family = family, nAGQ = nAGQ, lower = lower,
                                 pnames = pnames, znames = znames, M = M, n = n),
                            y, weights %||% rep(1, n), offset %||% rep(0, n), cl, control, start))
  xmap <- is.null(rp$X)
  ptr <- cpp_agq_new(if (xmap) X else rp$X, rp$Z %||% matrix(0, 0L, 1L), as.numeric(y),
                     as.numeric(weights),
                     as.numeric(offset), cl$index, M, pat$row - 1L, pat$col - 1L,
                     family$family_code, family$link_code,
                     if (control$laplace_start) 1L else nAGQ, control$nthreads)
  on.exit(cpp_agq_free(ptr), add = TRUE)
  cpp_agq_check_nagq(ptr, nAGQ)  # refuse quadrature scratch beyond memory before any fitting
  eng <- if (xmap) xmap_engine(ptr, rp$Tx, rp$Txi) else ptr  # design-map-engine.R
  st <- start_values(rp$X %||% X, y, weights, offset, family, q, pat, NULL, eng)
  if (!is.null(start))
    st <- rp$to_star(start_values(X, y, weights, offset, family, q, pat, start))
  domain <- NULL
  sv <- tryCatch(search_verified(eng, st, lower, nAGQ, p, pat, disp, control, pnames),
                 glmmgee_agq_domain = function(e) {
                   if (!nAGQ_default) stop(e)
                   domain <<- paste0(conditionMessage(e), "; fitted by Laplace (nAGQ = 1) instead")
                   NULL
                 })
  if (!is.null(domain)) {
    nAGQ <- 1L
    agq_set_nagq(eng, 1L)
    sv <- search_verified(eng, st, lower, nAGQ, p, pat, disp, control, pnames)
  }
  m <- glmm_map_optimum(eng, sv, rp, p, pat, disp, family, lower, control, pnames,
                        Tx = if (!well_scaled_x(X)) rp$Tx)
  summ <- if (xmap) xmap_summaries(eng, m$theta_s) else cpp_agq_summaries(eng, m$theta_s)
  # The engine's memory (its n-vector of linear predictors among it) let go
  # before the fit object is built, not at exit: at ten million rows it
  # would add 80 MB to the fit's peak.
  cpp_agq_free(ptr)
  summ <- rotate_summaries(summ, rp$rotation(m$theta, m$theta_s))
  unbounded <- pure_clusters_message(y, weights, cl$index, m$family) %||%
    large_sd_message(m$sd_star, znames, m$family)
  glmm_fit_object(m, summ, nAGQ, q, pat, cov_blocks, p, disp, sv$verification, rp, control,
                  unbounded, domain, group = cl)
}

# The search's optimum (on the standardized design) finished and mapped to
# the user's parameterization, for glmm_fit() and glmm_fit_shards(). The
# approximation is the one on the standardized design (for quadrature with
# several random effects the product rule, and so the value, depends on how
# u is rotated; there, the standardized design makes it the same whatever
# the coding of the covariates). The user's parameterization is a map of it:
# gradient and Hessian by its exact Jacobian (the Hessian's second-derivative
# term vanishes at a maximum).
glmm_map_optimum <- function(eng, sv, rp, p, pat, disp, family, lower, control, pnames, Tx) {
  run <- sv$run
  star_boundary <- sv$star_boundary
  # With the exact-gradient Hessian in hand a Newton step costs one
  # evaluation, so the finish asks for a decrement 1000 times below the
  # search's (rel.tol / 100): a BFGS search can meet its own test in a flat
  # direction (a variance-covariance of random slopes) while the estimates
  # are still 1e-6 from the maximum. The Hessian's differences start from
  # an evaluation at the optimum, where an in-memory engine also takes its
  # clusters' scores; a sharded one makes it too, so that both fits keep
  # the same last bits (the engines' modes start from the last point).
  fin <- finish_search(engine_ev(eng), run$theta, run$opt, sv$stages, star_boundary, lower,
                       control, rep(1, length(run$theta)), control$rel.tol / 100 / 1000,
                       at = if (!inherits(eng, "glmmgee_shard_engine")) run$at,
                       cluster_ev = scores_ev(eng))
  theta_s <- fin$theta
  final <- fin$final
  theta <- rp$from_star(theta_s)
  typical <- rp$typical
  user_boundary <- function(th) boundary_mask(th, p, pat, disp, control$singular_tol,
                                              typical = typical)
  on_boundary <- rp$boundary(theta, theta_s, user_boundary, function(th)
    boundary_mask(th, p, pat, disp, control$singular_tol))
  J <- rp$jacobian(theta, !on_boundary)
  curvature <- fin$curvature
  if (!is.null(curvature)) curvature[c("jacobian", "at")] <- list(J, unname(theta))
  grad <- drop(crossprod(J, final$gradient))
  hess <- to_user_hessian(fin$hess, J, star_boundary(theta_s), on_boundary)
  names(theta) <- pnames
  names(grad) <- pnames
  gmax <- max_free_gradient(grad, on_boundary)
  # Judged on the optimizer's standardized scale, where it does not depend
  # on the units of the covariates.
  gmax_star <- max_free_gradient(final$gradient, star_boundary(theta_s))
  if (!is.null(hess) && any(on_boundary & !is.na(diag(hess)))) {
    hess[on_boundary, ] <- NA_real_
    hess[, on_boundary] <- NA_real_
  }
  sigma <- sigma_of(family, if (disp) theta[[length(theta)]])
  family <- fitted_family(family, if (disp) theta[[length(theta)]])
  dlim <- dispersion_limit(family, disp, theta)
  cov_theta <- star_covariance(fin$hess, J, star_boundary(theta_s) | dlim, on_boundary | dlim,
                               pnames, hess, Tx = Tx)
  # The remaining Newton step, scaled by the information, on the
  # standardized scale (in the user's units it grows with them).
  nstep <- newton_decrement(final$gradient, fin$hess, star_boundary(theta_s) | dlim)
  opt <- plateau_verdict(fin$opt, dlim, nstep, control)
  # The random effects' standard deviations on the optimizer's scale, where
  # a standard deviation of 15 means the same whatever the units of the
  # covariates.
  Ls <- matrix(0, max(pat$row), max(pat$row))
  Ls[cbind(pat$row, pat$col)] <- theta_s[p + seq_along(pat$row)]
  list(theta_s = theta_s, theta = theta, opt = opt, stages = fin$stages, final = final,
       on_boundary = on_boundary, grad = grad, hess = hess, gmax = gmax, gmax_star = gmax_star,
       dlim = dlim, cov_theta = cov_theta, nstep = nstep, sd_star = sqrt(rowSums(Ls^2)),
       family = family, sigma = sigma, cluster_curvature = curvature)
}

# The one-factor fit object from glmm_map_optimum()'s `m`, the modes' summaries,
# the message on unbounded random effects and a warning to put first (if any);
# `group` is the clusters (NULL on workers).
glmm_fit_object <- function(m, summ, nAGQ, q, pat, cov_blocks, p, disp, vb, rp, control,
                            unbounded, first = NULL, group = NULL) {
  theta <- m$theta
  lam <- theta[p + seq_along(pat$row)]
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- lam
  singular <- any(m$on_boundary)
  family <- m$family
  modes_failed <- if (summ$newton_failures > 0L)
    sprintf("the posterior mode search failed in %d cluster(s)", summ$newton_failures)
  warn <- c(first, fit_warnings(m$opt, m$nstep, m$gmax_star, singular, m$hess, m$cov_theta,
                                control, after_singular = c(modes_failed, unbounded,
                                  if (any(m$dlim)) dispersion_limit_message(family, theta)),
                                boundary_check = vb$record))
  stages <- m$stages
  fit <- list(beta = theta[seq_len(p)], lambda = lam, Lambda = Lam, sigma = m$sigma,
              theta = theta, loglik = m$final$loglik, gradient = m$grad, hessian = m$hess,
              cov_theta = m$cov_theta, modes = summ, nAGQ = nAGQ, family = family)
  fit$group <- group
  fit$cluster_curvature <- m$cluster_curvature
  c(fit, list(q = q,
       pattern = pat, cov_blocks = cov_blocks, p = p, dispersion = disp,
       family_par = family_parameter(family, theta, m$cov_theta),
       singular = singular, on_boundary = m$on_boundary,
       optinfo = agq_optinfo(stages, nAGQ, m$opt, m$gmax_star, m$gmax, !rp$identity, m$nstep,
                             m$cov_theta, summ$newton_failures, warn, vb$record,
                             any(m$dlim), control$nthreads,
                             newton_steps = as.integer(stages$polish$iterations %||% 0L))))
}

#' Default number of quadrature points
#'
#' The number of adaptive Gauss-Hermite points per random effect that
#' [glmm()] uses when `nAGQ` is not given: accurate where it is cheap. The
#' product grid has `nAGQ^q` points per cluster, so the number shrinks as the
#' dimension grows: 11 for one random effect, 7 for two, 5 for three, 3 for
#' four, and the Laplace approximation (1) for five or more, which [glmm()]'s
#' print-out then states. Gaussian models are exact with
#' the Laplace approximation and use 1.
#' @param q Number of random effects per cluster.
#' @param family A family object.
#' @return An integer.
#' @examples
#' default_nAGQ(1, binomial())
#' default_nAGQ(2, poisson())
#' @export
default_nAGQ <- function(q, family) {
  family <- resolve_family(family)
  if (family$family == "gaussian" && family$link == "identity") return(1L)
  # Indexing past the end gives NA, not NULL: the bound is explicit.
  if (q > 4L) return(1L)
  c(11L, 7L, 5L, 3L)[q]
}

# 'nAGQ' a single whole number >= 1 (glmm_spec() checks it on every
# route, check_nAGQ() on the engines').
check_nagq_value <- function(nAGQ) {
  if (!is.numeric(nAGQ) || length(nAGQ) != 1L || is.na(nAGQ) || nAGQ < 1 ||
      nAGQ != round(nAGQ))
    stop("'nAGQ' must be a whole number >= 1 (1 is the Laplace approximation)", call. = FALSE)
  # (Inf and 3e9 passed the test above and became NA as integers)
  if (nAGQ > 1e5)
    stop(sprintf("'nAGQ' = %g: at most 1e5 quadrature points per cluster are used; give a smaller nAGQ",
                 nAGQ), call. = FALSE)
}

check_nAGQ <- function(nAGQ, q) {
  check_nagq_value(nAGQ)
  nAGQ <- as.integer(nAGQ)
  if (nAGQ^q > 1e5)
    stop(sprintf("'nAGQ' = %d with %d random effects means %g quadrature points per cluster; use a smaller nAGQ",
                 nAGQ, q, nAGQ^q), call. = FALSE)
  nAGQ
}

# Starting values: the GLM without random effects for beta; a unit standard
# deviation on the link scale for the random effects (lme4's choice), scaled
# to the residual spread for gaussian models. With an engine `eng` and a
# family whose dispersion (if any) is a gaussian scale, the GLM is fitted by
# the engine in C++ (stats::glm.fit's R-level iterations cost more than a
# whole quadrature fit on large data); otherwise by glm.fit with
# start_family().
start_values <- function(X, y, weights, offset, family, q, pat, start, eng = NULL) {
  p <- ncol(X)
  disp <- has_dispersion(family)
  dname <- dispersion_name(family)
  if (!is.null(start)) {
    if (!is.list(start) || is.null(start$beta) || is.null(start$lambda) ||
        length(start$beta) != p || length(start$lambda) != length(pat$row) ||
        (disp && !is_positive_number(start[[dname]])))
      stop("'start' must be a list with 'beta' (length ", p, "), 'lambda' (length ",
           length(pat$row), ")", if (disp) sprintf(" and '%s' (one positive number)", dname),
           call. = FALSE)
    return(c(start$beta, start$lambda, if (disp) log(start[[dname]])))
  }
  xmap <- inherits(eng, "glmmgee_xmap_engine")  # X is the user's, beta the map's
  if (!is.null(eng) && (!disp || isTRUE(attr(disp, "scale"))) && engine_start_ok(family)) {
    # `eng`: the one-factor engine (the same steps on the same order-independent
    # sums as a sharded fit), or a function of maxit (the sparse one's).
    beta <- if (is.function(eng)) eng(25L)
            else if (xmap) glm_newton_start(function(b) xmap_glm_sums(eng, b), p, 25L)
            else glm_newton_start(function(b) cpp_agq_glm_sums(eng, b), p, 25L)
    beta[!is.finite(beta)] <- 0
    # The fitted means only where a dispersion start needs them (n values).
    fitted <- if (disp) {
      Xd <- as.matrix(X)
      if (!is.double(Xd)) storage.mode(Xd) <- "double"
      family$linkinv(cpp_lin_pred(Xd, as.numeric(if (xmap) eng$Txi %*% beta else beta),
                                  as.numeric(offset)))
    }
  } else {
    fit <- start_glm(X, y, weights, offset, family)
    beta <- fit$coefficients
    beta[!is.finite(beta)] <- 0
    if (xmap) beta <- drop(eng$Tx %*% beta)
    fitted <- fit$fitted.values
  }
  scale <- 1
  if (isTRUE(attr(disp, "scale"))) {
    # The residual sum of squares as an order-independent sum, which a
    # sharded fit's start adds up bitwise (shard_start_values()).
    r <- y - fitted
    if (!is.null(weights)) r <- r * sqrt(weights)
    rss <- cpp_dd_sum(r^2)
    scale <- sqrt(max((rss[[1L]] + rss[[2L]]) / max(length(y) - p, 1), 1e-8))
    scale <- scale / sqrt(2)
  }
  lam <- ifelse(pat$row == pat$col, scale, 0)
  phi <- if (disp && !isTRUE(attr(disp, "scale")))
    dispersion_start(family, y, fitted, weights %||% rep(1, length(y)), length(y) - p)
  else if (disp) log(scale)
  round_glm_start(c(beta, lam, phi), disp)
}

# Families whose GLM start is glm.fit's (nbinom2, Gamma) reach it on shards
# by IRLS on shard sums (shard_start_values()), equal to glm.fit's only to
# the last bits; the two fits then end 1e-15 apart and their standard
# errors, from differences of the gradient, 1e-10 apart. Rounded to 10
# significant digits the two starts coincide, and so do the fits.
round_glm_start <- function(start, disp) {
  if (disp && !isTRUE(attr(disp, "scale"))) signif(start, 10) else start
}

# Which parameters sit on a boundary: diagonal entries of Lambda below
# `tol` (relative to sigma for gaussian models), i.e. a zero variance.
# `disp` comes from has_dispersion().
boundary_mask <- function(theta, p, pat, disp, tol, typical = NULL) {
  lam <- theta[p + seq_along(pat$row)]
  sig <- if (isTRUE(attr(disp, "scale"))) exp(theta[[length(theta)]]) else 1
  if (!is.null(typical)) sig <- sig * typical[p + seq_along(pat$row)]
  c(rep(FALSE, p), pat$row == pat$col & abs(lam) < tol * sig, if (disp) FALSE)
}

stage_record <- function(opt) {
  list(iterations = opt$iterations, evaluations = opt$evaluations[["function"]],
       convergence = opt$convergence, message = opt$message)
}

newton_decrement <- function(grad, hess, on_boundary) {
  if (is.null(hess)) return(NA_real_)
  free <- which(!on_boundary)
  info <- -hess[free, free, drop = FALSE]
  if (anyNA(info)) return(NA_real_)
  s <- tryCatch(solve(info, grad[free]), error = function(e) NULL)
  if (is.null(s)) return(NA_real_)
  max(abs(s))
}

# Where $optinfo$max_grad is taken: the parameters the optimizer searched,
# which the convergence test (the scaled gradient, fit_warnings()) and the
# warnings read too. `max_grad_user` is the same gradient carried to the
# user's parameters by the map's Jacobian; it grows with a covariate's units
# and with a map far from the identity: a far-off cs(x2 | a), x2 = x + 1e3,
# at nAGQ = 3 is searched on its centred columns, and its correlation in
# x2's units is within rounding of -1, where the user's gradient was 0.15
# at an optimum whose searched gradient is 5e-6 (and equal to the fit on
# the centred x). "standardized": centred and scaled design columns (and
# the response scaled, gaussian); "user": the user's parameters as given;
# "profiled": the several-term LMM's profiled criterion (relative
# covariance parameters, fixed effects and sigma profiled out), measured
# only where nlminb did not report convergence itself (else NA).
grad_basis_of <- function(standardized) if (isTRUE(standardized)) "standardized" else "user"

# Carries $optinfo's gradient record through a map of the fit to other
# parameters (the fit's $gradient already mapped): the user's largest
# gradient is recomputed, the searched one (max_grad) kept.
remap_grad_record <- function(fit) {
  if (is.na(fit$optinfo$max_grad %||% NA) || is.null(fit$gradient) ||
      identical(fit$optinfo$grad_basis, "profiled")) return(fit)
  fit$optinfo$max_grad_user <- max(abs(fit$gradient[!fit$on_boundary]), 0)
  fit$optinfo$grad_basis <- "standardized"
  fit
}

# nlminb's "false convergence (8)" and "singular convergence (7)" say that
# its steps stopped gaining, as they do where the log-likelihood carries
# rounding noise larger than the last steps' gains (a meta-analysis with
# equalto() and dispformula = ~ 0: the log-determinant of I + A'WA with
# w = 1 / sigma0^2 of 1e8 loses about 1e-8 per study). Such an end is an
# optimum when the exact gradient says so: a remaining Newton step `nstep`
# below the tolerance where the Hessian is negative definite (its inverse
# marked "ok"). The several-term LMM route judges them by the same rule
# (lmm_sparse_verify()).
verified_optimum <- function(opt, nstep, hess, cov_theta, control) {
  grepl("false convergence|singular convergence", opt$message %||% "") &&
    is.finite(nstep) && nstep <= control$grad_tol && !is.null(hess) &&
    !is.null(attr(cov_theta, "ok"))
}

# What a fit says about how it went, for both GLMM engines: the optimizer's
# own verdict; the remaining Newton step `nstep`, scaled by the information
# (a gradient that is large only because n is large does not count against
# convergence; without a Hessian, the raw gradient `gmax`); a singular fit,
# then the engine's own messages (`after_singular`); and a Hessian that
# gives no standard errors.
fit_warnings <- function(opt, nstep, gmax, singular, hess, cov_theta, control,
                         after_singular = NULL, boundary_check = NULL) {
  warn <- character()
  if (opt$convergence != 0L && !verified_optimum(opt, nstep, hess, cov_theta, control))
    warn <- c(warn, sprintf("the optimizer did not converge: %s%s", opt$message,
                            if (grepl("limit", opt$message))
                              " (raise glmm_control(iter.max, eval.max); the fit may still be improving)"
                            else ""))
  if (is.finite(nstep) && nstep > control$grad_tol)
    warn <- c(warn, sprintf("doubtful convergence: scaled gradient %.2g (tolerance %.2g); largest absolute gradient %.2g",
                            nstep, control$grad_tol, gmax))
  if (!is.finite(nstep) && is.finite(gmax) && gmax > control$grad_tol)
    warn <- c(warn, sprintf("doubtful convergence: largest absolute gradient %.2g (tolerance %.2g)",
                            gmax, control$grad_tol))
  # A gradient that is NaN or infinite at the end: the likelihood surface is
  # not smooth there (e.g. a dispersion confounded with the random effect),
  # so nothing says the point is an optimum.
  if (!is.finite(gmax))
    warn <- c(warn, "the gradient of the log-likelihood is not finite at the estimates: the fit did not converge and its estimates are not a verified optimum (check the model: is a dispersion or variance identifiable?)")
  if (singular) {
    how <- if (is.null(boundary_check)) ""
           else if (isTRUE(boundary_check$verified))
             "; verified: restarts from the interior found no higher log-likelihood"
           else "; NOT verified: restarts from the interior failed, a higher optimum may exist"
    warn <- c(warn, paste0("singular fit: a random-effect variance is estimated at zero (or a correlation at +/-1)",
                           how))
  }
  if (isTRUE(boundary_check$dispersion_at_zero)) {
    # Structured covariances (covstruct_verify()): nbinom1's phi -> 0,
    # nbinom2's theta and betabinomial's phi -> Inf.
    fam <- boundary_check$dispersion_family %||% "nbinom1"
    nm <- if (identical(fam, "nbinom2")) "theta" else "phi"
    if (identical(fam, "gaussian")) warn <- c(warn, paste0(
      "the residual standard deviation is estimated at 0, its lower boundary: the random-effect ",
      "structure's covariance absorbs the residual variance (the log-likelihood is that limit's, ",
      "held at sigma = 3.4e-4 times y's scale); it is left out of the convergence test and has no standard error; ",
      if (isTRUE(boundary_check$verified))
        "verified: restarts from sigma = 1 and 0.3 (in y's units) found no higher log-likelihood"
      else "NOT verified: restarts from the interior failed, a higher optimum may exist"))
    else warn <- c(warn, paste0(sprintf("the %s dispersion %s is estimated at %s (the %s limit: ", fam, nm,
                                   if (identical(fam, "nbinom1")) "0, its lower boundary"
                                   else "Inf, its upper boundary",
                                   if (identical(fam, "betabinomial")) "binomial" else "Poisson"),
                           "no overdispersion); ",
                           if (isTRUE(boundary_check$verified))
                             sprintf("verified: restarts from %s = 1 and 0.3 found no higher log-likelihood", nm)
                           else "NOT verified: restarts from the interior failed, a higher optimum may exist"))
  }
  warn <- c(warn, after_singular)
  if (!is.null(hess) && is.null(attr(cov_theta, "ok")))
    warn <- c(warn, "the Hessian of the log-likelihood is not negative definite (or numerically singular); standard errors are unavailable")
  warn
}
