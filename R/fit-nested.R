# Fitter for nested random intercepts by multilevel adaptive Gauss-Hermite
# quadrature (src/agq-nested.cpp; Pinheiro and Chao, 2006). glmm() routes
# here for several random-effect terms with nAGQ > 1 (glmm-nested.R).
#
# The parameters are those of the sparse Laplace engine, in its order
# (fixed effects, one standard deviation per term in the formula's order,
# the log dispersion), so the fitted object is a "glmmgee_glmm_sparse" one
# whose methods read it unchanged; the engine takes the standard deviations
# from the outermost level inwards (`map` below).

# The nesting of the terms, found from the data: every term a random
# intercept without a known covariance, and each level of a finer factor
# inside exactly one level of the next coarser one. Returns the terms'
# order from the outermost inwards and, per level, 0-based unit codes over
# the levels that have observations (`used`: their positions in the term's
# levels).
nested_structure <- function(re) {
  tms <- re$terms
  for (tm in tms) {
    what <- if (isTRUE(tm$known_cov)) "has a known covariance"
            else if (!identical(tm$cnames, "(Intercept)")) "has random slopes"
    if (!is.null(what))
      stop(sprintf(paste0("'nAGQ' > 1 with several random-effect terms is available for nested ",
                          "random intercepts such as (1 | a/b); the term (%s | %s) %s. ",
                          "Use nAGQ = 1 (the Laplace approximation)"),
                   paste(deparse(tm$lhs), collapse = ""), tm$group, what), call. = FALSE)
  }
  groups <- vapply(tms, `[[`, "", "group")
  if (anyDuplicated(groups))
    stop(sprintf("'nAGQ' > 1: the grouping factor '%s' appears in two terms; use nAGQ = 1",
                 groups[anyDuplicated(groups)]), call. = FALSE)
  used <- lapply(tms, function(tm) sort(unique(tm$index)))
  codes <- lapply(seq_along(tms), function(k) match(tms[[k]]$index, used[[k]]))
  ord <- order(lengths(used))
  for (j in seq_along(ord)[-1L]) {
    inner <- codes[[ord[j]]]
    outer <- codes[[ord[j - 1L]]]
    pairs <- unique(cbind(inner, outer))
    nparent <- tabulate(pairs[, 1L], length(used[[ord[j]]]))
    if (any(nparent > 1L)) {
      bad <- which(nparent > 1L)[1L]
      lev <- tms[[ord[j]]]$levels[used[[ord[j]]][bad]]
      stop(sprintf(paste0("'nAGQ' > 1 (adaptive quadrature) needs nested grouping factors, ",
                          "but '%s' and '%s' are crossed: level '%s' of '%s' occurs in %d ",
                          "levels of '%s'. Use nAGQ = 1 (the Laplace approximation) for ",
                          "crossed random effects"),
                   groups[ord[j]], groups[ord[j - 1L]], lev, groups[ord[j]], nparent[bad],
                   groups[ord[j - 1L]]), call. = FALSE)
    }
  }
  list(order = ord, used = used[ord], units = lapply(codes[ord], function(cd) cd - 1L))
}

# The nested AGHQ log-likelihood of theta (in the sparse engine's order);
# with its gradient from the engine (adaptive nodes held fixed, see
# optimize-nested.R), mapped back to that order.
nested_objective <- function(eng, map, nAGQ) {
  function(th) nested_eval(eng, th[map], nAGQ)$loglik
}
nested_gradient_objective <- function(eng, map, nAGQ) {
  function(th) {
    r <- nested_eval(eng, th[map], nAGQ, TRUE)
    g <- numeric(length(th))
    g[map] <- r$gradient
    list(loglik = r$loglik, gradient = g)
  }
}
# Central differences of the value, steps `h` per parameter.
fd_gradient <- function(f, th, h) {
  vapply(seq_along(th), function(j) {
    e <- replace(numeric(length(th)), j, h[j])
    (f(th + e) - f(th - e)) / (2 * h[j])
  }, 1)
}

glmm_nested_fit <- function(X, y, re, family, weights, offset, nAGQ, control, start = NULL) {
  ns <- nested_structure(re)
  p <- ncol(X)
  disp <- has_dispersion(family)
  # The Laplace fit (the sparse engine, through its R fitter) is the start:
  # close to the AGHQ optimum, and it supplies the curvature that scales
  # the search and the difference steps.
  lap <- glmm_sparse_fit(X, y, re, family, weights, offset, control, start)
  theta0 <- lap$theta
  pnames <- names(theta0)
  P <- length(theta0)
  sd_pos <- p + vapply(re$terms[ns$order], function(tm) tm$par, 1L)
  map <- c(seq_len(p), sd_pos, if (disp) P)
  eng <- nested_engine(X, as.numeric(y), as.numeric(weights), as.numeric(offset),
                       ns$units, family, control)
  if (inherits(eng, "glmmgee_shard_engine")) on.exit(shard_free(eng), add = TRUE)
  # Every engine pass is counted (with or without the gradient, the cost
  # of a pass is about the same): what the optimizer record reports.
  passes <- 0L
  f0 <- nested_objective(eng, map, nAGQ)
  ev0 <- nested_gradient_objective(eng, map, nAGQ)
  f <- function(th) { passes <<- passes + 1L; f0(th) }
  ev <- function(th) { passes <<- passes + 1L; ev0(th) }
  se0 <- suppressWarnings(sqrt(diag(lap$cov_theta)))
  typ <- ifelse(is.finite(se0) & se0 > 0, se0, 0.1 * pmax(abs(unname(theta0)), 1))
  hg <- 1e-4 * typ
  lower <- c(rep(-Inf, p), rep(0, length(sd_pos)), if (disp) -Inf)
  sig <- function(th) if (disp && family$family == "gaussian") exp(th[[P]]) else 1
  boundary <- function(th) lower == 0 & th < optimizer_boundary_tol(control) * sig(th)
  th <- pmax(unname(theta0), lower)
  # A standard deviation the Laplace fit put at zero may be positive under
  # quadrature: the search starts it off the bound (the likelihood is even
  # in it, so its gradient at zero says nothing) and lets it return.
  at0 <- boundary(th)
  th[at0] <- 0.1 * typ[at0]
  H0 <- lap$hessian
  if (!is.null(H0)) H0 <- unname(H0)
  if (any(at0)) H0 <- NULL
  srch <- nested_search(ev, f, hg, th, H0, lower, control, boundary)
  opt <- srch$opt
  theta <- srch$theta
  stages <- srch$stages
  on_boundary <- lower == 0 & theta < control$singular_tol * sig(theta)
  hess <- NULL
  if (control$hessian) {
    # Forward differences of the engine's gradient: P passes, with a
    # relative error far below a standard error's sampling error.
    hess <- sparse_hessian(ev, theta, on_boundary, central = FALSE, typical = typ, step = 1e-5)
    stages$hessian <- list(iterations = 0L, evaluations = sum(!on_boundary) + 1L,
                           convergence = 0L, message = "forward differences of the gradient")
  }
  fin <- nested_finish(f, theta, if (is.null(hess)) srch$H0 else hess, lower, hg,
                       boundary, control$rel.tol / 100)
  stages$finish <- fin$record
  # The search's end is judged by the value's own gradient: a search that
  # stopped on the engine's gradient (nlminb's "false convergence" where it
  # and the value disagree) is converged when these steps are.
  if (fin$converged && opt$convergence != 0L)
    opt <- list(convergence = 0L, message = paste0(
      "search stopped (", opt$message, "); Newton steps with the central-difference gradient converged"))
  theta <- fin$theta
  loglik <- fin$loglik
  grad <- fin$gradient
  on_boundary <- lower == 0 & theta < control$singular_tol * sig(theta)
  names(theta) <- names(grad) <- pnames
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  cov_theta <- invert_information(hess, on_boundary, pnames)
  gmax <- if (any(!on_boundary)) max(abs(grad[!on_boundary])) else 0
  nstep <- newton_decrement(grad, hess, on_boundary)
  warn <- fit_warnings(opt, nstep, gmax, any(on_boundary), hess, cov_theta, control)
  m <- nested_modes(eng, unname(theta)[map])
  if (isTRUE(m$failed))
    warn <- c(warn, "the conditional modes of some units could not be found at the estimates")
  terms <- nested_term_summaries(re, ns, theta, p, m)
  phi <- if (disp) theta[[P]]
  family <- fitted_family(family, phi)
  list(beta = theta[seq_len(p)], theta = theta, loglik = loglik,
       sigma = sigma_of(family, phi), dispersion = if (disp) exp(phi) else NULL,
       family_par = family_parameter(family, theta, cov_theta),
       gradient = grad, hessian = hess, cov_theta = cov_theta, family = family,
       modes = list(eta = m$eta), terms = terms, singular = any(on_boundary),
       on_boundary = on_boundary,
       optinfo = list(optimizer = sparse_optimizer_name(stages),
                      method = sprintf("multilevel adaptive Gauss-Hermite quadrature, nAGQ = %d", nAGQ),
                      nAGQ = nAGQ, stages = c(list(laplace = lap$optinfo$stages), stages),
                      iterations = sum(vapply(stages, function(s) as.integer(s$iterations %||% 0L), 1L)),
                      evaluations = passes,
                      convergence = opt$convergence, message = opt$message,
                      max_grad = gmax, scaled_grad = nstep,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      warnings = warn, nthreads = control$nthreads,
                      laplace = list(loglik = lap$loglik, theta = lap$theta),
                      boundary_check = lap$optinfo$boundary_check, nested_levels =
                        vapply(re$terms[ns$order], `[[`, "", "group")),
       distributed = if (inherits(eng, "glmmgee_shard_engine")) shard_record(eng))
}

# Per-term results as sparse_term_summaries() gives them: the standard
# deviation as a 1 x 1 Lambda, the modes b = s u per level and their
# conditional variances s^2 var(u) (levels without observations keep the
# prior: b = 0, variance s^2).
nested_term_summaries <- function(re, ns, theta, p, m) {
  lapply(seq_along(re$terms), function(k) {
    tm <- re$terms[[k]]
    pos <- which(ns$order == k)
    s <- unname(theta[p + tm$par])
    nl <- length(tm$levels)
    u <- numeric(nl)
    v <- rep(1, nl)
    u[ns$used[[pos]]] <- m$u[[pos]]
    v[ns$used[[pos]]] <- m$var[[pos]]
    Lam <- matrix(s, 1, 1, dimnames = list(tm$cnames, tm$cnames))
    c(tm[setdiff(names(tm), "kfactor")],
      list(Lambda = Lam, D = Lam^2,
           b = matrix(s * u, nl, 1L, dimnames = list(tm$levels, tm$cnames)),
           condvar = array(s^2 * v, c(1L, 1L, nl), dimnames = list(tm$cnames, tm$cnames, tm$levels))))
  })
}

# The likelihood surface of a nested AGHQ fit for profile() and confint():
# the same engine, rebuilt from the stored data, at the fit's nAGQ; the
# gradient by central differences as in the fit.
nested_profile_engine <- function(fit) {
  re <- sparse_re_terms(fit$formula, fit$model, NULL)
  ns <- nested_structure(re)
  p <- length(fit$coefficients)
  fam <- fit$family
  disp <- has_dispersion(fam)
  P <- length(fit$theta)
  map <- c(seq_len(p), p + vapply(re$terms[ns$order], function(tm) tm$par, 1L), if (disp) P)
  eng <- cpp_nested_new(fit$X, as.numeric(fit$y), as.numeric(fit$prior.weights),
                        as.numeric(fit$offset), ns$units, fam$family_code, fam$link_code,
                        fit$optinfo$nthreads %||% 1L)
  f <- nested_objective(eng, map, as.integer(fit$nAGQ))
  se <- suppressWarnings(sqrt(diag(fit$cov_theta)))
  th <- unname(fit$theta)
  h <- 1e-4 * ifelse(is.finite(se) & se > 0, se, 0.1 * pmax(abs(th), 1))
  list(eval = function(t) list(loglik = f(t), gradient = fd_gradient(f, t, h)),
       lower = c(rep(-Inf, p), rep(0, length(ns$order)), if (disp) -Inf),
       free = function() NULL)
}
