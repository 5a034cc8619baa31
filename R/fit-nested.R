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

# The nested AGHQ log-likelihood of theta (in the sparse engine's order) and
# its gradient by central differences, steps `h` per parameter.
nested_objective <- function(eng, map, nAGQ) {
  function(th) cpp_nested_eval(eng, th[map], nAGQ)$loglik
}
fd_gradient <- function(f, th, h) {
  vapply(seq_along(th), function(j) {
    e <- replace(numeric(length(th)), j, h[j])
    (f(th + e) - f(th - e)) / (2 * h[j])
  }, 1)
}
# Hessian by central second differences of the function over the free
# parameters (NA on the boundary, as for the other engines).
fd_hessian <- function(f, th, h, free) {
  P <- length(th)
  H <- matrix(NA_real_, P, P)
  f0 <- f(th)
  e <- function(j) replace(numeric(P), j, h[j])
  for (a in which(free)) {
    H[a, a] <- (f(th + e(a)) - 2 * f0 + f(th - e(a))) / h[a]^2
    for (b in which(free)) {
      if (b >= a) next
      H[a, b] <- H[b, a] <- (f(th + e(a) + e(b)) - f(th + e(a) - e(b)) -
                               f(th - e(a) + e(b)) + f(th - e(a) - e(b))) / (4 * h[a] * h[b])
    }
  }
  H
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
  eng <- cpp_nested_new(X, as.numeric(y), as.numeric(weights), as.numeric(offset),
                        ns$units, family$family_code, family$link_code, control$nthreads)
  f <- nested_objective(eng, map, nAGQ)
  se0 <- suppressWarnings(sqrt(diag(lap$cov_theta)))
  typ <- ifelse(is.finite(se0) & se0 > 0, se0, 0.1 * pmax(abs(unname(theta0)), 1))
  hg <- 1e-4 * typ
  lower <- c(rep(-Inf, p), rep(0, length(sd_pos)), if (disp) -Inf)
  obj <- function(th) { v <- -f(th); if (is.finite(v)) v else Inf }
  gr <- function(th) {
    # At a standard deviation of zero the central difference straddles the
    # bound; the likelihood is even in it, so the one-sided slope is used.
    g <- -fd_gradient(f, th, hg)
    at0 <- th <= hg & lower == 0
    for (j in which(at0)) {
      e <- replace(numeric(length(th)), j, hg[j])
      g[j] <- -(f(th + e) - f(th)) / hg[j]
    }
    g[!is.finite(g)] <- 0
    g
  }
  th <- pmax(unname(theta0), lower)
  opt <- stats::nlminb(th, obj, gr, lower = lower, scale = 1 / typ,
                       control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                      eval.max = control$eval.max, trace = control$trace))
  theta <- opt$par
  loglik <- f(theta)
  on_boundary <- lower == 0 & theta < control$singular_tol *
    (if (disp && family$family == "gaussian") exp(theta[P]) else 1)
  grad <- -gr(theta)
  names(theta) <- names(grad) <- pnames
  hess <- NULL
  if (control$hessian) {
    hess <- fd_hessian(f, unname(theta), 1e-2 * typ, !on_boundary)
    dimnames(hess) <- list(pnames, pnames)
  }
  cov_theta <- invert_information(hess, on_boundary, pnames)
  gmax <- if (any(!on_boundary)) max(abs(grad[!on_boundary])) else 0
  nstep <- newton_decrement(grad, hess, on_boundary)
  warn <- fit_warnings(opt, nstep, gmax, any(on_boundary), hess, cov_theta, control)
  m <- cpp_nested_modes(eng, unname(theta)[map])
  if (isTRUE(m$failed))
    warn <- c(warn, "the conditional modes of some units could not be found at the estimates")
  terms <- nested_term_summaries(re, ns, theta, p, m)
  phi <- if (disp) theta[[P]]
  family <- fitted_family(family, phi)
  stage <- stage_record(opt)
  list(beta = theta[seq_len(p)], theta = theta, loglik = loglik,
       sigma = sigma_of(family, phi), dispersion = if (disp) exp(phi) else NULL,
       family_par = family_parameter(family, theta, cov_theta),
       gradient = grad, hessian = hess, cov_theta = cov_theta, family = family,
       modes = list(eta = m$eta), terms = terms, singular = any(on_boundary),
       on_boundary = on_boundary,
       optinfo = list(optimizer = "nlminb (central-difference gradient)",
                      method = sprintf("multilevel adaptive Gauss-Hermite quadrature, nAGQ = %d", nAGQ),
                      nAGQ = nAGQ, stages = list(laplace = lap$optinfo$stages, nlminb = stage),
                      iterations = stage$iterations, evaluations = stage$evaluations,
                      convergence = opt$convergence, message = opt$message,
                      max_grad = gmax, scaled_grad = nstep,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      warnings = warn, nthreads = control$nthreads,
                      laplace = list(loglik = lap$loglik, theta = lap$theta),
                      boundary_check = lap$optinfo$boundary_check, nested_levels =
                        vapply(re$terms[ns$order], `[[`, "", "group")))
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
