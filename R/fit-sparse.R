# Fitter for GLMMs with several random-effect terms (nested, crossed, random
# slopes, known covariance) by the sparse Laplace engine (src/engines/laplace/laplace.cpp).
# glmm() routes here when the formula has more than one grouping factor or
# `covariance` is given; one grouping factor without it goes to the AGQ
# engine (fit-glmm.R).
#
# The fitted object has class c("glmmgee_glmm_sparse", "glmmgee_glmm") and the fields of a
# "glmmgee_glmm" fit (call, formula, family, coefficients, vcov, theta, cov_theta,
# sigma, family_par, loglik, df, nobs, n, linear.predictors, eta_fixed, fitted.values, y,
# prior.weights, offset, X, model, terms, xlevels, contrasts, re_formula,
# na.action, nAGQ = 1, singular, gradient, hessian, optinfo) with these
# differences for several terms:
#   group_name  character vector, one grouping factor per term (repeated
#               for `||` terms on the same factor);
#   ngroups     integer vector, levels per term (those in the data);
#   Z           sparse n x Q design of all random effects (dgCMatrix), so
#               that linear.predictors = X beta + Z b + offset;
#   b           the Q predicted random effects (conditional modes) on the
#               scale of the data;
#   reterms     one list per term: group, group_expr, lhs (the term's
#               expression), cnames, levels, index (level of each
#               observation), columns (of Z), par (indices into the
#               covariance parameters), known_cov, Lambda (q x q relative
#               factor; for a known covariance sigma K: the scalar sigma),
#               D (q x q covariance, sigma^2 for a known K), kdiag (known
#               K only: diag(K) over the levels), b (levels x q
#               matrix of modes), condvar (q x q x levels conditional
#               covariances);
#   Lambda, D, cnames, cov_blocks, group, group_levels, ranef: NULL (these
#               describe one grouping factor only).

# One evaluation of the sparse Laplace engine (cpp_sparse_eval()), counted
# by a progress report (progress.R).
sparse_eval <- function(eng, theta, gradient, reuse = FALSE) {
  r <- cpp_sparse_eval(eng, theta, gradient, reuse)
  progress_tick(r$loglik, r)
}

glmm_sparse_fit <- function(X, y, re, family, weights, offset, control, start = NULL) {
  # Gaussian identity link: fitted on y / s and mapped back, so that the
  # optimum found does not depend on the units of y (response-scale.R).
  with_response_scale(glmm_sparse_fit_units, X, y, re, family, weights, offset, control, start)
}

# glmm_sparse_fit() in the units of the response it is given.
glmm_sparse_fit_units <- function(X, y, re, family, weights, offset, control, start = NULL) {
  n <- length(y)
  p <- ncol(X)
  check_full_rank(X)
  disp <- has_dispersion(family)
  nth <- re$ntheta
  # The search runs on centred and scaled designs (reparam-glmm.R); the
  # optimum is mapped back and finished on the user's design.
  rp <- sparse_reparam(X, re, p, disp)
  new_engine <- function(Xe, Ze) {
    cpp_sparse_new(Xe, Ze, as.numeric(y), as.numeric(weights), as.numeric(offset),
                   re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, nth,
                   family$family_code, family$link_code)
  }
  if (any(vapply(re$terms, function(tm) isTRUE(tm$known_cov), TRUE)))
    sparse_engine_memory_check(rp$Z, re, p)
  eng <- new_engine(rp$X, rp$Z)
  # The GLM start by the engine's Newton iteration (laplace-start.cpp), not
  # by glm.fit().
  st <- start_values(rp$X, y, weights, offset, family, 1L, list(row = 1L, col = 1L), NULL,
                     eng = function(maxit) cpp_sparse_glm_start(eng, maxit))
  theta <- c(st[seq_len(p)], ifelse(re$lower == 0, st[[p + 1L]], 0), if (disp) st[[p + 2L]])
  if (!is.null(start)) {
    if (!is.numeric(start) || length(start) != length(theta) || anyNA(start))
      stop(sprintf("'start' for a model with several random-effect terms must be a numeric vector of length %d (fixed effects, covariance parameters%s)",
                   length(theta), if (disp) ", log dispersion" else ""), call. = FALSE)
    theta <- rp$to_star(as.numeric(start))
  }
  lower <- c(rep(-Inf, p), re$lower, if (disp) -Inf)
  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)), re$par_names, dispersion_tail(family, disp))
  nthreads <- cpp_sparse_set_threads(eng, control$nthreads)
  diagm <- p + which(re$lower == 0)
  # The optimizer holds a variance at zero below optimizer_boundary_tol();
  # `singular_tol` only decides what is reported as singular.
  boundary_at <- function(typical, tol = optimizer_boundary_tol(control)) function(th) {
    sig <- if (disp && family$family == "gaussian") exp(th[[length(th)]]) else 1
    b <- rep(FALSE, length(th))
    b[diagm] <- abs(th[diagm]) < tol * sig * typical[diagm]
    b
  }
  typical <- rep(1, length(theta))
  search <- function(th) {
    r <- optimize_sparse(function(t) sparse_eval(eng, t, TRUE), th, lower, control,
                         boundary_at(typical))
    r$loglik <- r$at$loglik
    r
  }
  run <- search(theta)
  vb <- verify_boundary(search, run, boundary_at(typical), function(th, b, size, corr)
    sparse_restart_point(re, p, th, b, size, corr), pnames, diag = diagm)
  run <- vb$best
  # As for one grouping factor: finished on the standardized design, the
  # gradient and Hessian mapped to the user's parameterization by the exact
  # Jacobian, the random effects by the inverse transformation.
  star_boundary <- boundary_at(typical)
  # (with each cluster's score and information, for vcov(type = "CR2"))
  cls <- if (control$hessian) sparse_fit_clusters(re, rp$Z, weights)
  fin <- finish_search(cached_ev(function(t) sparse_eval(eng, t, TRUE), run$theta, run$at),
                       run$theta, run$opt, c(run$stages, run$restart_stages), star_boundary,
                       lower, control, typical, tol = 1e-12, reevaluate = TRUE,
                       cluster_ev = sparse_scores_ev(eng, cls))
  # Refinements of the Laplace approximation (glmm_control()), maximized from
  # the Laplace optimum and finished as the Laplace search was.
  imp <- importance_settings(control)
  second <- identical(control$laplace_order, 2L)
  refined <- NULL
  if (!is.null(imp) || second) {
    rf <- sparse_refinement(eng, rp, re, y, weights, offset, family, control, fin, imp,
                            c(run$stages, run$restart_stages), star_boundary, lower, typical)
    fin <- rf$fin
    imp <- rf$imp
    refined <- list(laplace_loglik = rf$laplace_loglik)
  }
  theta_s <- fin$theta
  final <- fin$final
  theta <- rp$from_star(theta_s)
  # A far-off slope's term judged on the standardized scale (sparse_reparam()).
  on_boundary <- rp$boundary(theta, theta_s, boundary_at(rp$typical, control$singular_tol),
                             boundary_at(typical, control$singular_tol))
  J <- rp$jacobian(theta, !on_boundary)
  curvature <- fin$curvature
  if (!is.null(curvature))
    curvature[c("jacobian", "at", "group")] <- list(J, unname(theta), cls$code)
  hess <- to_user_hessian(fin$hess, J, star_boundary(theta_s), on_boundary)
  # The convergence test reads the standardized gradient (as fit-glmm.R):
  # on the user's scale a covariate in units of 1e-7 gave "doubtful
  # convergence" at an optimum equal to the unscaled fit's.
  gmax_star <- max_free_gradient(final$gradient, star_boundary(theta_s))
  # The remaining Newton step and the covariance, also on that scale
  # (star_covariance()).
  dlim <- dispersion_limit(family, disp, theta)
  nstep <- newton_decrement(final$gradient, fin$hess, star_boundary(theta_s) | dlim)
  final$gradient <- drop(crossprod(J, final$gradient))
  names(theta) <- pnames
  grad <- final$gradient
  names(grad) <- pnames
  gmax <- max_free_gradient(grad, on_boundary)
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  hess <- na_at_boundary(hess, on_boundary)
  cov_of <- function(Hs) star_covariance(Hs, J, star_boundary(theta_s) | dlim, on_boundary | dlim,
                                         pnames, hess, Tx = if (!well_scaled_x(X)) rp$Tx)
  cov_theta <- cov_of(fin$hess)
  if (!is.null(imp) && !is.null(fin$hess)) {
    # the Monte Carlo error added (importance_hessian())
    cov_sampling <- cov_theta
    cov_theta <- cov_of(importance_hessian(fin$hess, final$gradient_cov, star_boundary(theta_s) | dlim))
    imp$mc_cov <- cov_theta - cov_sampling
    attributes(imp$mc_cov) <- attributes(cov_sampling)[c("dim", "dimnames")]
  }
  modes <- cpp_sparse_modes(eng, theta_s)
  terms <- rp$terms_to_user(sparse_term_summaries(re, theta_s[p + seq_len(nth)], modes, eng,
                                                  theta_s), unname(theta))

  opt <- fin$opt
  unbounded <- sparse_pure_clusters(re, y, weights, family)
  sd_star <- abs(theta_s[diagm])
  unbounded <- unbounded %||% large_sd_message(sd_star, pnames[diagm], family)
  warn <- fit_warnings(opt, nstep, gmax_star, any(on_boundary), hess, cov_theta, control,
                       after_singular = c(unbounded, if (any(dlim)) dispersion_limit_message(family, theta)),
                       boundary_check = vb$record)
  if (!is.null(imp)) warn <- c(warn, importance_warnings(imp))
  stages <- fin$stages
  # As for one grouping factor (fit-glmm.R): sigma() as glmmTMB defines it,
  # the family carrying its estimated theta, and theta / the shape with its
  # standard error for print() and summary().
  phi <- if (disp) theta[[length(theta)]]
  family <- fitted_family(family, phi)
  list(beta = theta[seq_len(p)], theta = theta, loglik = final$loglik, importance = imp,
       second_order = if (second) refined,
       sigma = sigma_of(family, phi),
       dispersion = if (disp) exp(phi) else NULL,
       family_par = family_parameter(family, theta, cov_theta),
       gradient = grad, hessian = hess, cov_theta = cov_theta, family = family,
       cluster_curvature = curvature,
       modes = modes, terms = terms, singular = any(on_boundary), on_boundary = on_boundary,
       optinfo = sparse_optinfo(stages, opt, if (!is.null(imp)) "importance sampling (sparse)"
                                         else if (second) "second-order Laplace (sparse)"
                                         else "Laplace (sparse)", gmax_star, cov_theta, warn,
                      max_grad_user = gmax, grad_basis = grad_basis_of(!rp$identity),
                      scaled_grad = nstep, nnz_factor = modes$nnz_factor, nthreads = nthreads,
                      boundary_check = vb$record, dispersion_limit = any(dlim),
                      reparameterized = !rp$identity,
                      # as on the LMM routes (lmm_standard_z()): a far-off
                      # slope's term mapped by its LQ factor
                      centred_z = if (rp$far) TRUE))
}

# The refined fit of glmm_control(importance_draws = ) (importance-sampling.R)
# or glmm_control(laplace_order = 2) (second-order-laplace.R): searched from
# the Laplace finish `fin` and finished as the Laplace search was. Returns the
# new finish, the importance settings with their Monte Carlo figures, and the
# Laplace log-likelihood it started from.
sparse_refinement <- function(eng, rp, re, y, weights, offset, family, control, fin, imp,
                              stages, star_boundary, lower, typical) {
  second <- is.null(imp)
  what <- if (second) "glmm_control(laplace_order = 2)" else "glmm_control(importance_draws = )"
  make_ev <- if (second) function(se)
    second_order_evaluator(eng, rp, re, y, weights, offset, family, se, control)
  else function(se)
    importance_evaluator(eng, rp, re, y, weights, offset, family, fin$theta, se, imp, control)
  rf <- refine_laplace(make_ev, fin$theta, lower, control, star_boundary(fin$theta), fin$hess, what)
  laplace_loglik <- fin$final$loglik
  prefix <- if (second) "second_order_" else "importance_"
  fin <- finish_search(cached_ev(rf$ev), rf$theta, rf$opt,
                       c(stages, stats::setNames(rf$stages, paste0(prefix, names(rf$stages)))),
                       star_boundary, lower, control, typical, tol = 1e-12)
  if (!second) {
    imp[c("loglik_se", "ess")] <- fin$final[c("se", "ess")]
    imp$laplace_loglik <- laplace_loglik
  }
  list(fin = fin, imp = imp, laplace_loglik = laplace_loglik)
}

# The interior point where verify_boundary() restarts, term by term.
sparse_restart_point <- function(re, p, theta, on_boundary, size, corr) {
  for (tm in re$terms) {
    at <- p + tm$par
    if (!any(on_boundary[at])) next
    if (tm$known_cov) {
      theta[at] <- size
      next
    }
    q <- length(tm$cnames)
    lt <- do.call(cbind, block_pattern(q))
    theta <- restart_lambda(theta, on_boundary, size, corr, lt[, 1L], lt[, 2L], at)
  }
  theta
}

# The modes of the terms `terms` (their summaries' `b`, levels by rows)
# laid out as the `Q` columns of their Z (a term of one column: its modes
# in level order as they are, without t()'s method lookup).
term_modes <- function(terms, Q) {
  b <- numeric(Q)
  for (tm in terms)
    b[tm$columns] <- if (length(tm$cnames) == 1L) as.vector(tm$b) else as.vector(t(tm$b))
  b
}

# Per-term results on the scale of the data: Lambda, D, the modes b per
# level and their conditional covariances Lambda H^{-1} Lambda' (for a
# known covariance, sigma^2 L_K [H^{-1}]_KK L_K' from solves with the factor).
sparse_term_summaries <- function(re, lam, modes, eng, theta) {
  Q <- z_dim(re$Z)[[2L]]
  # Entries of the symmetric H^{-1} on its stored pattern, looked up by one
  # match() of (row, column) keys per term: indexing a sparse Matrix by a
  # two-column index, q^2 times per term, was a sixth of a fit with 6
  # correlated effects per level. Entries off the pattern are 0.
  # (The keys of the stored entries are made on first use: a model whose
  # terms all have one column per level needs only the diagonal.)
  sym_key <- function(i, j) pmin(i, j) + (pmax(i, j) - 1) * Q
  inv_key <- NULL
  hinv_at <- function(i, j) {
    if (is.null(inv_key)) inv_key <<- sym_key(modes$inv_i, modes$inv_j)
    k <- match(sym_key(i, j), inv_key)
    ifelse(is.na(k), 0, modes$inv_x[k])
  }
  # The diagonal of H^{-1} (always stored), for terms with one column per
  # level: their blocks are 1 x 1, so no keys are matched.
  hdiag <- NULL
  hinv_diag <- function(cols) {
    if (is.null(hdiag)) {
      on <- modes$inv_i == modes$inv_j
      hdiag <<- numeric(Q)
      hdiag[modes$inv_i[on]] <<- modes$inv_x[on]
    }
    hdiag[cols]
  }
  lapply(re$terms, function(tm) {
    q <- length(tm$cnames)
    nl <- length(tm$levels)
    cols <- tm$columns
    if (tm$known_cov) {
      s <- lam[tm$par]
      b <- s * as.numeric(tm$kfactor %*% modes$u[cols])
      cv <- s^2 * known_term_condvar(tm$kfactor, cols, tm$index, hinv_at, eng, theta, Q)
      Lam <- matrix(s, 1, 1, dimnames = list(tm$cnames, tm$cnames))
      B <- matrix(b, nl, 1L, dimnames = list(tm$levels, tm$cnames))
      return(c(tm[setdiff(names(tm), "kfactor")],
               list(Lambda = Lam, D = Lam^2, b = B,
                    kdiag = Matrix::rowSums(tm$kfactor^2),
                    condvar = array(cv, c(1L, 1L, nl), dimnames = list(tm$cnames, tm$cnames, tm$levels)))))
    }
    Lam <- matrix(0, q, q, dimnames = list(tm$cnames, tm$cnames))
    if (q == 1L) Lam[1L] <- lam[tm$par]
    else Lam[do.call(cbind, block_pattern(q))] <- lam[tm$par]
    B <- matrix(modes$b[cols], nl, q, byrow = TRUE, dimnames = list(tm$levels, tm$cnames))
    # H^{-1} blocks of each level, q x q, column-major in the rows of Vu.
    first <- cols[1L] + (seq_len(nl) - 1L) * q
    Vu <- if (q == 1L) matrix(hinv_diag(first), nl, 1L) else {
      # (a, c) over the q x q block, column-major (a varies fastest).
      ac_a <- rep(seq_len(q), q)
      ac_c <- rep(seq_len(q), each = q)
      matrix(hinv_at(rep(first, q * q) + rep(ac_a - 1L, each = nl),
                     rep(first, q * q) + rep(ac_c - 1L, each = nl)), nl, q * q)
    }
    # One column per level: Lambda H^-1 Lambda' is the scalar product
    # lambda^2 h per level, the same rounded products as the matrix route
    # (an n x 1 by 1 x 1 product is one multiplication per entry), without
    # kronecker()'s and t()'s calls (half of this function on Penicillin).
    cv <- if (q == 1L) Vu * (Lam[1L] * Lam[1L]) else t(sandwich_rows(Vu, Lam))
    tm$kfactor <- NULL
    # (one column: Lambda Lambda' is the 1 x 1 product lambda^2 with
    # Lambda's dimnames, as Lam * Lam gives it without t()'s method lookup
    # and the matrix product's call)
    c(tm,
      list(Lambda = Lam, D = if (q == 1L) Lam * Lam else Lam %*% t(Lam), b = B,
           condvar = array(cv, c(q, q, nl), dimnames = list(tm$cnames, tm$cnames, tm$levels))))
  })
}

# Conditional variances of the random effects b = s F u of a known-covariance
# term, over s^2: diag(F H^{-1}_cc F') for F = `kfactor` (levels x levels,
# sparse) and c its columns `cols` of H. Level i's entry is the sum of
# f_ij f_ik (H^{-1})_jk over the pairs (j, k) of non-zeros of row i of F;
# for a level with an observation those pairs are pairs of non-zeros of a
# row of the design Z F, so (j, k) lies on the pattern of H, where the
# selected inverse (hinv_at()) has the entry. O(sum of squared row counts
# of F), in chunks of rows, never a dense levels x levels matrix (the
# dense products it replaces took 2 x 8e9 multiply-adds at 2,000 levels and
# were skipped above 3,000). Levels without observations (predicted through
# K only): by solves with the factor of H, at most 3,000 of them (NA beyond).
known_term_condvar <- function(Fk, cols, index, hinv_at, eng, theta, Q, chunk = 2e5) {
  nl <- nrow(Fk)
  Fr <- methods::as(methods::as(Fk, "generalMatrix"), "RsparseMatrix")
  m <- diff(Fr@p)
  cv <- numeric(nl)
  observed <- tabulate(index, nl) > 0L
  # rows in chunks of about `chunk` pairs
  cum <- cumsum(as.numeric(m)^2)
  ends <- if (cum[nl] > chunk) unique(c(findInterval(seq(chunk, cum[nl], by = chunk), cum), nl))
          else nl
  lo <- 1L
  for (hi in ends) {
    if (hi < lo) next
    rows <- lo:hi
    mr <- m[rows]
    if (sum(mr) > 0) {
      pos <- Fr@p[lo] + seq_len(sum(mr))  # the rows' entries, contiguous
      row_of <- rep(rows, mr)
      mp <- mr[row_of - lo + 1L]         # entries in the row of each entry
      a <- rep(pos, mp)
      b <- Fr@p[rep(row_of, mp)] + sequence(mp)
      terms <- Fr@x[a] * Fr@x[b] * hinv_at(cols[Fr@j[a] + 1L], cols[Fr@j[b] + 1L])
      cv[rows[mr > 0L]] <- rowsum(terms, rep(row_of, mp), reorder = TRUE)[, 1L]
    }
    lo <- hi + 1L
  }
  miss <- which(!observed)
  if (length(miss)) {
    cv[miss] <- NA_real_
    if (length(miss) <= 3000L) {
      E <- matrix(0, Q, length(miss))
      E[cols, ] <- as.matrix(Matrix::t(Fk[miss, , drop = FALSE]))
      cv[miss] <- colSums(E * cpp_sparse_solve(eng, theta, E))
    }
  }
  cv
}

# Binomial clusters whose outcomes are all 0 or all 1, per grouping factor
# (pure_clusters_message(); once per factor).
sparse_pure_clusters <- function(re, y, weights, family) {
  unlist(lapply(seq_along(re$terms), function(k) {
    tm <- re$terms[[k]]
    if (k > 1L && tm$group %in% vapply(re$terms[seq_len(k - 1L)], `[[`, "", "group")) return(NULL)
    pure_clusters_message(y, weights, tm$index, family, tm$group)
  }))
}

# The fitted object (fields documented at the top of this file).
new_glmm_sparse <- function(fit, X, y, weights, offset, re, mf, mt, call, formula) {
  beta <- fit$beta
  p <- length(beta)
  eta_fixed <- drop(X %*% beta) + offset
  Q <- z_dim(re$Z)[[2L]]
  Zdata <- re$Z
  known <- vapply(fit$terms, function(tm) isTRUE(tm$known_cov), TRUE)
  if (any(known)) {
    in_order <- identical(as.integer(unlist(lapply(fit$terms, `[[`, "columns"))), seq_len(Q))
    if (!in_order) stop("internal: the terms' columns of Z are not in order")
    # Back to the indicator design over the rows of K: eta = Z b. The
    # terms' columns are consecutive blocks in order, so Z is bound from
    # its blocks (a sparse column sub-assignment copied Z per term: 9.5 s
    # of a 20,000-cell fit).
    Zdata <- do.call(cbind, lapply(fit$terms, function(tm) {
      if (!isTRUE(tm$known_cov)) return(re$Z[, tm$columns, drop = FALSE])
      Matrix::sparseMatrix(i = seq_along(tm$index), j = tm$index, x = 1,
                           dims = c(length(tm$index), length(tm$levels)))
    }))
    Zdata <- methods::as(methods::as(Zdata, "CsparseMatrix"), "generalMatrix")
    dimnames(Zdata) <- dimnames(re$Z)
  }
  b <- term_modes(fit$terms, Q)
  eta <- drop(fit$modes$eta)
  # The rows of positive weight counted once, for nobs and for the terms'
  # counts of levels (all weights positive: no weights to look at).
  npos <- n_positive(weights)
  # (the class set by class<-, without structure()'s R code)
  obj <- list(
    call = call, formula = formula, family = fit$family,
    coefficients = beta, vcov = fit$cov_theta[seq_len(p), seq_len(p), drop = FALSE],
    theta = fit$theta, cov_theta = fit$cov_theta, sigma = fit$sigma,
    dispersion = fit$dispersion, family_par = fit$family_par,
    loglik = fit$loglik, df = length(fit$theta),
    nobs = npos, n = length(y),
    group_name = vapply(fit$terms, `[[`, "", "group"),
    ngroups = vapply(fit$terms, n_levels_shown, 1L, if (npos < length(weights)) weights),
    reterms = fit$terms, Z = Zdata, b = b,
    linear.predictors = eta, eta_fixed = eta_fixed,
    fitted.values = fit$family$linkinv(eta),
    y = y, prior.weights = weights, offset = offset, X = X, model = mf, terms = mt,
    xlevels = frame_xlevels(mt, mf, fallback = TRUE), contrasts = attr(X, "contrasts"),
    re_formula = lapply(find_bars(formula), function(bb) bb[[2L]]),
    na.action = attr(mf, "na.action"), nAGQ = 1L, singular = fit$singular,
    gradient = fit$gradient, hessian = fit$hessian, optinfo = fit$optinfo,
    cluster_curvature = fit$cluster_curvature,
    engine = engine_info(fit$engine %||% "laplace_sparse", workers = !is.null(fit$distributed)))
  class(obj) <- c("glmmgee_glmm_sparse", "glmmgee_glmm")
  keep_cov_star(obj)
}

# Refuses, before the sparse Laplace engine allocates anything, a model
# whose penalized Hessian H = I + A'WA (A = Z Lambda, Q random effects)
# would not fit in memory: its pattern (the pairs of non-zeros in each row
# of A) and the size of its Cholesky factor under the engine's ordering
# (AMD; cpp_chol_factor_nnz(), the same symbolic count) are computed from
# the stored pattern of Z and Lambda alone. With known covariances A = Z F
# holds their sparse factors, whose rows can overlap widely, so the factor
# of H can be far larger than K. Bytes: A with its recipes and by columns (about 40 a
# non-zero), H and its reordered copy (12 + 12 a stored entry), the pair
# maps (8 a pair), the factor and the selected inverse on its pattern (20
# an entry). Returns the count (nonzeros of the factor), invisibly.
sparse_engine_memory_check <- function(Z, re, p) {
  n <- nrow(Z)
  Q <- ncol(Z)
  lam <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = 1, dims = c(Q, Q))
  Z <- as_dgc(Z)
  Z@x[] <- 1  # the stored pattern, explicit zeros included (as the engine)
  A <- Z %*% lam
  A <- as_dgc(methods::as(A != 0, "dMatrix"))
  m <- as.numeric(diff(methods::as(A, "RsparseMatrix")@p))
  npairs <- sum(m * (m + 1) / 2)
  what <- sprintf("the sparse Laplace engine's penalized Hessian (%d random effects, %d observations)",
                  Q, n)
  # the pattern of H, at most one entry a pair (before it is formed)
  check_memory(40 * length(A@x) + 2 * 12 * (npairs + Q) + 8 * npairs + 8 * n * (p + 6),
               sprintf("%s (%.3g pairs of non-zeros)", what, npairs))
  H <- Matrix::crossprod(A) + Matrix::Diagonal(Q)
  nnzH <- (length(H@x) + Q) / 2
  nnzL <- cpp_chol_factor_nnz(as_dgc(H))
  rm(H)
  check_memory(40 * length(A@x) + 2 * 12 * nnzH + 8 * npairs + 20 * nnzL + 8 * n * (p + 6),
               sprintf("%s and its sparse Cholesky factor (%.3g nonzeros)", what, nnzL))
  invisible(nnzL)
}
