# Fitter for nested random intercepts by multilevel adaptive Gauss-Hermite
# quadrature (src/engines/agq/agq-nested.cpp; Pinheiro and Chao, 2006). glmm() routes
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
  refuse <- function(tm, what)
    stop(sprintf(paste0("'nAGQ' > 1 with several random-effect terms is available for nested ",
                        "random intercepts such as (1 | a/b), with random slopes or a covariance ",
                        "structure only at the innermost level; the term (%s | %s) %s. ",
                        "Use nAGQ = 1 (the Laplace approximation)"),
                 paste(deparse(tm$lhs), collapse = ""), tm$group, what), call. = FALSE)
  for (tm in tms) if (isTRUE(tm$known_cov)) refuse(tm, "has a known covariance")
  groups <- vapply(tms, `[[`, "", "group")
  used <- lapply(tms, function(tm) sort(unique(tm$index)))
  codes <- lapply(seq_along(tms), function(k) match(tms[[k]]$index, used[[k]]))
  # One level per grouping factor; only the innermost may have several
  # terms (uncorrelated slopes, `(1 + x || a:b)`), integrated together.
  first <- which(!duplicated(groups))
  ord <- first[order(lengths(used[first]))]
  leaf_group <- groups[ord[length(ord)]]
  dup <- setdiff(groups[duplicated(groups)], leaf_group)
  if (length(dup))
    stop(sprintf("'nAGQ' > 1: the grouping factor '%s' appears in two terms; use nAGQ = 1",
                 dup[1L]), call. = FALSE)
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
  for (k in ord[-length(ord)])
    if (!identical(tms[[k]]$cnames, "(Intercept)")) refuse(tms[[k]], "has random slopes")
  leaf <- which(groups == leaf_group)
  list(order = ord, used = used[ord], units = lapply(codes[ord], function(cd) cd - 1L),
       leaf = leaf, q = sum(vapply(tms[leaf], function(tm) length(tm$cnames), 1L)))
}

# The innermost term's random-effect design, one row per observation (NULL
# for a random intercept): the engine integrates its q effects on a
# product grid (agq-nested.h).
nested_leaf_design <- function(re, ns) {
  if (ns$q == 1L && identical(re$terms[[ns$leaf]]$cnames, "(Intercept)")) return(NULL)
  do.call(cbind, lapply(re$terms[ns$leaf], function(tm) {
    q <- length(tm$cnames)
    Zb <- re$Z[, tm$columns, drop = FALSE]
    n <- nrow(Zb)
    matrix(vapply(seq_len(q), function(k) Zb[cbind(seq_len(n), (tm$index - 1L) * q + k)],
                  numeric(n)), n, q)
  }))
}

# A leaf term whose slope column lies far from zero beside its intercept
# (x * 1e-6 - 5): the engine integrates on the user's columns, where the
# intercept and slope effects are correlated to 1 - 1e-13, and the search
# ended at logLik -Inf after minutes. The criterion is the one-factor AGHQ
# route's (design_transform() on the term's columns, centres_far() at 100
# standard deviations), which centres such a term and maps it back; this
# route does not, so such a fit is refused before any fitting.
nested_refuse_far_slope <- function(re, ns, Zr) {
  if (is.null(Zr)) return(invisible())
  off <- 0L
  for (tm in re$terms[ns$leaf]) {
    q <- length(tm$cnames)
    idx <- off + seq_len(q)
    off <- off + q
    if (q < 2L) next
    tz <- design_transform(Zr[, idx, drop = FALSE], blocks = q)
    if (tz$identity || !centres_far(tz$T)) next
    Tm <- tz$T
    dg <- diag(Tm)
    diag(Tm) <- 0
    j <- which(colSums(abs(Tm) > 100 * rep(dg, each = q)) > 0L)[1L]
    v <- Zr[, idx[j]]
    # (centring gives the same model for an unstructured term; a structure
    # such as diag() is another model on the centred covariate)
    structured <- !is.null(tm$kind) && tm$kind != "us"
    same <- if (structured)
      sprintf("for %s() that is another model, whose structure is on the centred covariate",
              tm$kind)
    else "the same model"
    stop(sprintf(paste0("'nAGQ' > 1 with several random-effect terms: the covariate '%s' of the ",
                        "term (%s | %s) lies far from zero relative to its spread (mean %.4g, ",
                        "standard deviation %.3g), and the nested adaptive quadrature would ",
                        "integrate on it as given, where the search fails. Centre the covariate ",
                        "in the data (%s, e.g. %s - mean(%s)), or use nAGQ = 1 ",
                        "(the Laplace approximation)"),
                 tm$cnames[j], paste(deparse(tm$lhs), collapse = ""), tm$group, mean(v),
                 sqrt(mean((v - mean(v))^2)), same, tm$cnames[j], tm$cnames[j]), call. = FALSE)
  }
  invisible()
}

# Engine parameter positions in c(theta, 0): fixed effects, each outer
# level's standard deviation from the outermost inwards, the innermost
# level's Lambda by columns (block diagonal over its terms; P + 1, the
# appended zero, between blocks), the log dispersion.
nested_map <- function(re, ns, p, P, disp) {
  outer <- unlist(lapply(re$terms[ns$order[-length(ns$order)]], `[[`, "par"))
  blk <- unlist(lapply(seq_along(ns$leaf), function(j) rep(j, length(re$terms[[ns$leaf[j]]]$cnames))))
  pos <- sequence(tabulate(blk))  # position of each effect within its term
  lt <- which(lower.tri(diag(ns$q), diag = TRUE), arr.ind = TRUE)
  lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
  leaf <- vapply(seq_len(nrow(lt)), function(e) {
    r <- lt[e, 1L]
    k <- lt[e, 2L]
    if (blk[r] != blk[k]) return(P + 1L)
    tm <- re$terms[[ns$leaf[blk[r]]]]
    tl <- which(lower.tri(diag(length(tm$cnames)), diag = TRUE), arr.ind = TRUE)
    tl <- tl[order(tl[, 2L], tl[, 1L]), , drop = FALSE]
    p + tm$par[which(tl[, 1L] == pos[r] & tl[, 2L] == pos[k])]
  }, 1L)
  c(seq_len(p), p + outer, leaf, if (disp) P)
}

# The nested AGHQ log-likelihood of theta (in the sparse engine's order);
# with its gradient from the engine (adaptive nodes held fixed, see
# optimize-nested.R), mapped back to that order.
nested_objective <- function(eng, map, nAGQ) {
  function(th) nested_eval(eng, c(th, 0)[map], nAGQ)$loglik
}
nested_gradient_objective <- function(eng, map, nAGQ) {
  function(th) {
    r <- nested_eval(eng, c(th, 0)[map], nAGQ, TRUE)
    P <- length(th)
    g <- numeric(P)
    g[map[map <= P]] <- r$gradient[map <= P]
    list(loglik = r$loglik, gradient = g)
  }
}

# nested_gradient_objective() with each outermost unit's part of the
# gradient ($scores, units x parameters), for the clusters' curvature kept
# with the fit's Hessian (cluster-curvature.R).
nested_scores_objective <- function(eng, map, nAGQ) {
  function(th) {
    r <- cpp_nested_eval(eng, c(th, 0)[map], nAGQ, TRUE, TRUE)
    P <- length(th)
    k <- map <= P
    g <- numeric(P)
    g[map[k]] <- r$gradient[k]
    S <- matrix(0, nrow(r$unit_gradient), P)
    S[, map[k]] <- r$unit_gradient[, k]
    progress_tick(r$loglik, list(loglik = r$loglik, gradient = g, scores = S))
  }
}

glmm_nested_fit <- function(X, y, re, family, weights, offset, nAGQ, control, start = NULL) {
  # Gaussian identity link: on y / s, mapped back (response-scale.R).
  with_response_scale(function(X, y, re, family, weights, offset, control, start)
    glmm_nested_fit_units(X, y, re, family, weights, offset, nAGQ, control, start),
    X, y, re, family, weights, offset, control, start, shift = TRUE)
}

# glmm_nested_fit() in the units of the response it is given.
glmm_nested_fit_units <- function(X, y, re, family, weights, offset, nAGQ, control,
                                  start = NULL) {
  # On a centred and scaled X where the user's loses digits (the rule of
  # lmm_design_transform()), mapped back by lmm_standard_x(): the search
  # and its difference steps are in the user's parameters, and with
  # x + 1e4 it stopped at the Laplace start ("doubtful convergence",
  # log-likelihood 0.002 short), with x * 1e-6 - 5 without standard errors.
  tx <- lmm_design_transform(X)
  if (!isTRUE(tx$identity)) {
    if (!is.null(start) && is.numeric(start) && length(start) >= ncol(X))
      start[seq_len(ncol(X))] <- drop(tx$T %*% start[seq_len(ncol(X))])
    fit <- glmm_nested_fit_units(tx$M, y, re, family, weights, offset, nAGQ, control, start)
    fit$optinfo$laplace$theta[seq_len(ncol(X))] <-
      drop(backsolve(tx$T, diag(1, ncol(X))) %*% fit$optinfo$laplace$theta[seq_len(ncol(X))])
    return(lmm_standard_x(fit, tx, FALSE))
  }
  ns <- nested_structure(re)
  Zr <- nested_leaf_design(re, ns)
  nested_refuse_far_slope(re, ns, Zr)
  p <- ncol(X)
  disp <- has_dispersion(family)
  # The Laplace fit (the sparse engine, through its R fitter) is the start:
  # close to the AGHQ optimum, and it supplies the curvature that scales
  # the search and the difference steps.
  lap <- glmm_sparse_fit_units(X, y, re, family, weights, offset, control, start)
  theta0 <- lap$theta
  pnames <- names(theta0)
  P <- length(theta0)
  map <- nested_map(re, ns, p, P, disp)
  if (!is.null(Zr) && !is.null(control$workers))
    stop("glmm_control(workers = ): random slopes at the innermost level of a nested design are not ",
         "fitted on workers; fit them in memory (no 'workers') or keep random intercepts", call. = FALSE)
  eng <- if (is.null(Zr)) nested_engine(X, as.numeric(y), as.numeric(weights), as.numeric(offset),
                                        ns$units, family, control)
         else cpp_nested_new(X, as.numeric(y), as.numeric(weights), as.numeric(offset),
                             ns$units, family$family_code, family$link_code, control$nthreads, Zr)
  if (inherits(eng, "glmmgee_shard_engine")) on.exit(shard_free(eng), add = TRUE)
  # Every engine pass is counted (with or without the gradient, the cost
  # of a pass is about the same): what the optimizer record reports.
  passes <- 0L
  f0 <- nested_objective(eng, map, nAGQ)
  ev0 <- nested_gradient_objective(eng, map, nAGQ)
  f <- function(th) { passes <<- passes + 1L; f0(th) }
  ev <- function(th) { passes <<- passes + 1L; ev0(th) }
  # in memory, the same passes with each outermost unit's gradient: the
  # Hessian's differences of them are the units' informations, kept for
  # vcov(type = "CR2") (cluster-curvature.R)
  cluster_ev <- if (!inherits(eng, "glmmgee_shard_engine")) {
    ev_units <- nested_scores_objective(eng, map, nAGQ)
    function(th) { passes <<- passes + 1L; ev_units(th) }
  }
  se0 <- suppressWarnings(sqrt(diag(lap$cov_theta)))
  typ <- ifelse(is.finite(se0) & se0 > 0, se0, 0.1 * pmax(abs(unname(theta0)), 1))
  hg <- 1e-4 * typ
  lower <- c(rep(-Inf, p), re$lower, if (disp) -Inf)
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
  search <- function(th, H0) {
    srch <- nested_search(ev, f, hg, th, H0, lower, control, boundary)
    stages <- srch$stages
    on_boundary <- lower == 0 & srch$theta < control$singular_tol * sig(srch$theta)
    hess <- curv <- NULL
    if (control$hessian) {
      # Forward differences of the engine's gradient: P passes, with a
      # relative error far below a standard error's sampling error.
      ch <- if (is.null(cluster_ev))
        list(hess = fd_hessian(gradient_of(ev), srch$theta, floor = 0.1 * typ,
                               on_boundary = on_boundary))
        else clusters_hessian(cluster_ev, srch$theta, on_boundary, typ)
      hess <- ch$hess
      curv <- ch$curvature
      stages$hessian <- list(iterations = 0L, evaluations = sum(!on_boundary) + 1L,
                             convergence = 0L, message = "forward differences of the gradient")
    }
    fin <- nested_finish(f, srch$theta, if (is.null(hess)) srch$H0 else hess, lower, hg,
                         boundary, control$rel.tol / 100)
    list(srch = srch, stages = stages, hess = hess, fin = fin, curvature = curv)
  }
  sharded <- inherits(eng, "glmmgee_shard_engine")
  moves <- if (sharded) length(eng$moved) else 0L
  r <- search(th, H0)
  # On workers, a worker that died mid-search had its shards rebuilt
  # afresh on the others (their modes' warm starts lost): values before and
  # after the move may differ at the mode search's tolerance, enough to stop
  # a line search or spoil a difference Hessian across it. The search then
  # runs again from the last point reached (as the one-factor engine's,
  # glmm_fit_shards()).
  while (sharded && length(eng$moved) > moves) {
    moves <- length(eng$moved)
    from <- if (all(is.finite(r$fin$theta))) pmax(unname(r$fin$theta), lower) else th
    r <- search(from, H0)
    eng$moved[moves] <- paste0(eng$moved[moves],
                               "; the search then ran again from the last point it had reached")
  }
  srch <- r$srch
  opt <- srch$opt
  stages <- r$stages
  hess <- r$hess
  fin <- r$fin
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
  # The units' informations, at the Hessian's point as the Hessian is. Their
  # scores there are the engine's (adaptive nodes held fixed), not the
  # value's: vcov() takes the scores by differences of the value at the
  # estimates.
  curvature <- if (!is.null(r$curvature))
    c(r$curvature[c("free", "informations")],
      list(jacobian = diag(1, P), at = unname(theta), group = ns$units[[1L]] + 1L))
  cov_theta <- invert_information(hess, on_boundary, pnames)
  gmax <- max_free_gradient(grad, on_boundary)
  nstep <- newton_decrement(grad, hess, on_boundary)
  warn <- fit_warnings(opt, nstep, gmax, any(on_boundary), hess, cov_theta, control)
  if (sharded) warn <- c(warn, eng$moved)
  mt <- nested_fit_modes(eng, map, re, ns, theta, p, Zr, X, y, weights, offset, family)
  m <- mt$modes
  terms <- mt$terms
  warn <- c(warn, mt$warning)
  phi <- if (disp) theta[[P]]
  family <- fitted_family(family, phi)
  list(beta = theta[seq_len(p)], theta = theta, loglik = loglik,
       sigma = sigma_of(family, phi), dispersion = if (disp) exp(phi) else NULL,
       family_par = family_parameter(family, theta, cov_theta),
       gradient = grad, hessian = hess, cov_theta = cov_theta, family = family,
       modes = list(eta = m$eta), terms = terms, singular = any(on_boundary),
       on_boundary = on_boundary, cluster_curvature = curvature,
       engine = "agq_nested",
       optinfo = nested_optinfo(stages, lap, opt, passes, gmax, nstep, cov_theta, warn, nAGQ,
                                control, vapply(re$terms[ns$order], `[[`, "", "group")),
       distributed = if (inherits(eng, "glmmgee_shard_engine")) shard_record(eng))
}

# The nested quadrature fit's optimizer record: its stages after the
# Laplace fit `lap`'s, `passes` engine passes, the search's end `opt`,
# the gradient's largest entry and Newton decrement, the grouping factors
# from the outermost in.
nested_optinfo <- function(stages, lap, opt, passes, gmax, nstep, cov_theta, warn, nAGQ, control,
                           levels) {
  new_optinfo(optimizer = sparse_optimizer_name(stages),
              method = sprintf("multilevel adaptive Gauss-Hermite quadrature, nAGQ = %d", nAGQ),
              nAGQ = nAGQ, stages = c(list(laplace = lap$optinfo$stages), stages),
              iterations = sum(vapply(stages, function(s) as.integer(s$iterations %||% 0L), 1L)),
              evaluations = passes, convergence = opt$convergence, message = opt$message,
              max_grad = gmax, scaled_grad = nstep,
              hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
              warnings = warn, nthreads = control$nthreads,
              laplace = list(loglik = lap$loglik, theta = lap$theta),
              boundary_check = lap$optinfo$boundary_check, nested_levels = levels)
}

# The random effects' modes at the estimates `theta` and the per-term
# summaries: from the nested engine `eng` (its parameters by `map`), or with
# random slopes at the innermost level (`Zr`) from the sparse engine on the
# data's own design. A warning where some units' modes were not found.
nested_fit_modes <- function(eng, map, re, ns, theta, p, Zr, X, y, weights, offset, family) {
  if (is.null(Zr)) {
    m <- nested_modes(eng, unname(theta)[map])
    warn <- if (isTRUE(m$failed))
      "the conditional modes of some units could not be found at the estimates"
    terms <- nested_term_summaries(re, ns, theta, p, m)
  } else {
    # With random slopes, the joint modes and their conditional covariances
    # (the same Gaussian approximation at the estimates) from the sparse
    # engine on the data's own design.
    se <- cpp_sparse_new(X, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                         re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                         family$family_code, family$link_code)
    m <- cpp_sparse_modes(se, unname(theta))
    warn <- NULL
    terms <- sparse_term_summaries(re, unname(theta)[p + seq_len(re$ntheta)], m, se,
                                   unname(theta))
  }
  list(modes = m, terms = terms, warning = warn)
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
# the same engine, rebuilt from the stored data, at the fit's nAGQ (or
# another, for loglik_check()); the gradient by central differences as in
# the fit.
nested_profile_engine <- function(fit, nAGQ = as.integer(fit$nAGQ)) {
  re <- sparse_re_terms(fit$formula, fit$model, NULL)
  ns <- nested_structure(re)
  p <- length(fit$coefficients)
  fam <- fit$family
  disp <- has_dispersion(fam)
  P <- length(fit$theta)
  map <- nested_map(re, ns, p, P, disp)
  # On the centred and scaled X* = X T^-1 where the user's X loses digits
  # (beta* = T beta; the profile's maps then work on that scale,
  # star_target_map()): on the user's X the searches for the other
  # parameters at each point did not find their optimum with x * 1e-6 - 5,
  # and the slope's interval came out 1e-5 of its width.
  xd <- profile_design(fit)
  eng <- cpp_nested_new(xd$X, as.numeric(fit$y), as.numeric(fit$prior.weights),
                        as.numeric(fit$offset), ns$units, fam$family_code, fam$link_code,
                        fit$optinfo$nthreads %||% 1L, nested_leaf_design(re, ns))
  f <- nested_objective(eng, map, nAGQ)
  V <- fit$cov_theta
  th <- theta_star(unname(fit$theta), xd$Tx)
  if (!is.null(xd$Tx)) {
    ip <- seq_len(p)
    V[ip, ] <- xd$Tx %*% V[ip, , drop = FALSE]
    V[, ip] <- V[, ip, drop = FALSE] %*% t(xd$Tx)
  }
  se <- suppressWarnings(sqrt(diag(V)))
  h <- 1e-4 * ifelse(is.finite(se) & se > 0, se, 0.1 * pmax(abs(th), 1))
  list(eval = function(t) list(loglik = f(t), gradient = fd_gradient(f, t, h)),
       lower = c(rep(-Inf, p), re$lower, if (disp) -Inf),
       free = function() NULL, Tx = xd$Tx,
       split = nested_cluster_split(eng, ns$units[[1L]], as.numeric(fit$prior.weights), map, nAGQ))
}
