# Matrix-level fitter of the cumulative link mixed model with q random
# effects on one grouping factor, e.g. (1 + x | g) or (x || g), on the
# adaptive quadrature engine (src/engines/agq/agq.cpp: the product
# Gauss-Hermite grid centred at each cluster's mode and turned by the
# Cholesky factor of its curvature; one node is the Laplace approximation)
# with the cumulative link observation model of
# src/families/families-cumulative.h attached as auxiliary predictors, as
# the several-term route does on the sparse engine (fit-ordinal-sparse.R).
# The random intercept alone goes to ordinal_glmm_fit() (its closed-form
# logit kernel); here the engine gives the value and its exact gradient
# (the modes and the Cholesky factors of their curvatures moving with the
# parameters).
#
# Parameters: thresholds, beta, and the lower-triangular factor Lambda of the
# random effects' covariance Sigma = Lambda Lambda', its entries
# (lam_row, lam_col) with the diagonal on the log scale (so Lambda's
# diagonal stays positive and the factor is unique). The optimizer works on
# (alpha_1, log increments, centred/scaled beta, lambda): the thresholds
# absorb the centring of X. An unstructured Sigma makes the optimum
# invariant to the location and units of a slope's covariate (Sigma maps
# linearly); diagonal blocks (||) only to its units, as in lme4.
ordinal_glmm_fit_re <- function(X, Z, y, J, group, family, lam_row, lam_col, weights = NULL,
                                offset = NULL, nAGQ = 1L, control = glmm_control(),
                                penalty = NULL) {
  n <- length(y)
  p <- ncol(X)
  q <- ncol(Z)
  weights <- weights %||% rep(1, n)
  offset <- offset %||% rep(0, n)
  o <- order(group)
  M <- nlevels(group)
  ys <- as.integer(y[o]); ws <- as.numeric(weights[o]); os <- as.numeric(offset[o])
  Xs <- X[o, , drop = FALSE]
  Zs <- Z[o, , drop = FALSE]
  # A slope in units far from 1, or far from zero beside its intercept
  # (x * 1e-6, x * 1e-6 - 5): its start (sd 0.3) and bound (1e-6) are in
  # the column's units, and the search ended 2 to 75 log-likelihood units
  # below the optimum, or in a false singular fit. Such a Z is fitted on
  # design_transform()'s Z* = Z Tz^-1 (standardized) and Lambda mapped back
  # by its LQ factor (lq_blocks(), lq_jacobian()), as glmm_reparam() does.
  # Columns within a factor 100 of unit scale and not far off: as before,
  # by the Laplace approximation. Adaptive quadrature (nAGQ > 1) always
  # runs on Z*: then x, x * 1e-6 and x * 1e-6 - 5 are one search on one
  # design. On the user's Z the search of (z || g) stopped in a false
  # singular fit 0.010 below the optimum that z * 1e-6 (standardized) found
  # (the Laplace stage, whose optimum is singular there, leaves the slope's
  # log standard deviation at -9, where its gradient has vanished).
  last <- vapply(seq_len(q), function(j) max(lam_row[lam_col == j], j), 1L)
  cov_blocks <- diff(c(0L, which(cummax(last) == seq_len(q))))
  tz <- design_transform(Zs, blocks = cov_blocks, within = FALSE)
  std <- !tz$identity &&
    (nAGQ > 1L || centres_far(tz$T) || any(tz$scale > 100 | tz$scale < 0.01))
  if (std) {
    Zs <- tz$M
    Tzi <- backsolve(tz$T, diag(1, q))
  }
  ctr <- if (p) colMeans(Xs) else numeric()
  scl <- if (p) apply(Xs, 2L, stats::sd) else numeric()
  scl[!is.finite(scl) | scl == 0] <- 1
  Xc <- if (p) sweep(sweep(Xs, 2L, ctr), 2L, scl, "/") else Xs
  k1 <- J - 1L
  nl <- length(lam_row)
  diag_l <- lam_row == lam_col
  P <- k1 + p + nl
  link <- family$link_code
  # penalized = TRUE: the log prior of beta* (penalty-ordinal.R).
  pen <- ordinal_penalty(penalty, p, scl)
  ib <- k1 + seq_len(p)
  lambda_mat <- function(l) {
    L <- matrix(0, q, q)
    L[cbind(lam_row, lam_col)] <- ifelse(diag_l, exp(l), l)
    L
  }
  # One engine on the centred and scaled design; it keeps each cluster's
  # last mode as the next evaluation's start.
  eng <- ordinal_agq_engine(Xc, Zs, ys, ws, os, as.integer(group)[o], M, lam_row, lam_col, J,
                            link, nAGQ, control$nthreads)
  on.exit(cpp_agq_free(eng$ptr), add = TRUE)
  evals <- 0L
  engine <- function(theta, beta, l, K = nAGQ, summaries = FALSE) {
    evals <<- evals + 1L
    eng$eval(theta, beta, l, K, summaries)
  }
  to_theta <- function(a) cumsum(c(a[1L], exp(a[-1L])))
  # The value and its exact gradient on the optimizer's scale.
  eval_at <- function(par, K) {
    r <- engine(to_theta(par[seq_len(k1)]), par[k1 + seq_len(p)], par[k1 + p + seq_len(nl)], K)
    g <- r$gradient
    if (!is.finite(r$loglik) || !all(is.finite(g)))
      return(list(loglik = -Inf, gradient = rep(NA_real_, P)))
    # d theta_j / d alpha_m: 1 for m = 1, exp(alpha_m) for 2 <= m <= j.
    ga <- rev(cumsum(rev(g[seq_len(k1)])))
    if (k1 > 1L) ga[-1L] <- ga[-1L] * exp(par[2:k1])
    ordinal_add_penalty(list(loglik = r$loglik, gradient = c(ga, g[k1 + seq_len(p + nl)])),
                        pen, par[ib], ib)
  }
  # Start: the random intercept's thresholds and beta = 0 (ordinal_start()),
  # sd 1 for the intercept, a small one for the slopes, no correlation.
  ones <- apply(Zs == 1, 2L, all)
  l0 <- ifelse(diag_l, ifelse(ones[lam_row], 0, log(0.3)), 0)
  par0 <- c(ordinal_start(ys, ws, J, family, p, NULL, ctr, scl)[seq_len(k1 + p)], l0)
  lower <- c(rep(-Inf, k1 + p), ifelse(diag_l, log(1e-6), -Inf))
  tight <- control$rel.tol / 100
  search <- function(par, K, H = NULL) {
    ev <- function(th) eval_at(th, K)
    cur <- ev(par)
    if (is.null(H)) {
      # Away from the optimum the curvature in a variance parameter can be
      # positive: the eigenvalues' absolute values make it a Newton start
      # (modified Newton; Nocedal & Wright 2006, sec. 3.4).
      H <- ordinal_hessian(ev, par, cur$gradient)
      if (all(is.finite(H))) {
        e <- eigen(H, symmetric = TRUE)
        lam <- pmax(abs(e$values), 1e-3 * max(abs(e$values)))
        H <- -e$vectors %*% (lam * t(e$vectors))
      }
    }
    ordinal_newton_nlminb(ev, par, cur, H, lower, control, tight)
  }
  opt <- if (nAGQ > 1L && control$laplace_start) {
    s1 <- search(par0, 1L)
    search(s1$par, nAGQ, s1$H)
  } else {
    search(par0, nAGQ)
  }
  gfun <- function(ps, summaries = FALSE) {
    r <- engine(ps[seq_len(k1)], ps[k1 + seq_len(p)], ps[k1 + p + seq_len(nl)],
                summaries = summaries)
    ordinal_add_penalty(list(loglik = if (is.finite(r$loglik)) r$loglik else -Inf,
                             gradient = r$gradient, r = r), pen, ps[ib], ib)
  }
  re <- list(q = q, lam_row = lam_row, lam_col = lam_col, diag_l = diag_l, mat = lambda_mat,
             std = std, Tzi = if (std) Tzi, cov_blocks = cov_blocks)
  ordinal_re_finish(opt, gfun, re, k1, p, ctr, scl, pen, nAGQ, control, counts = function() evals)
}

# The end of ordinal_glmm_fit_re() from the search's optimum: Lambda back
# from the standardized Z* (re$std), the map to the user's coordinates,
# the Hessian by differences of the exact gradient, the warnings, the
# random effects on the b scale and the fit's record. `re` holds the
# random-effect pattern (q, lam_row, lam_col, diag_l), Lambda from its
# entries (mat) and the standardization (std, Tzi, cov_blocks);
# `gfun(psi)` evaluates the engine (with the log prior of a penalized
# fit) and `counts()` gives the evaluations made.
ordinal_re_finish <- function(opt, gfun, re, k1, p, ctr, scl, pen, nAGQ, control, counts) {
  q <- re$q
  lam_row <- re$lam_row
  lam_col <- re$lam_col
  diag_l <- re$diag_l
  lambda_mat <- re$mat
  std <- re$std
  Tzi <- re$Tzi
  cov_blocks <- re$cov_blocks
  nl <- length(lam_row)
  P <- k1 + p + nl
  to_theta <- function(a) cumsum(c(a[1L], exp(a[-1L])))
  par <- opt$par
  lam <- lam_s <- par[k1 + p + seq_len(nl)]
  if (std) {
    # Lambda L W' = Tz^-1 Lambda*, and d lambda / d lambda* by lq_jacobian()
    # on Lambda's entries, through the log of the diagonal ones.
    lt <- cbind(lam_row, lam_col)
    Ls <- lambda_mat(lam_s)
    lq <- lq_blocks(Tzi %*% Ls, cov_blocks)
    # The log of the diagonal entries only: log() of a negative off-diagonal
    # entry, discarded by ifelse(), had leaked the warning "NaNs produced".
    lam <- lq$L[lt]
    lam[diag_l] <- log(lam[diag_l])
    Jl <- lq_jacobian(Ls, lq$L, lq$W, lt) *
      outer(ifelse(diag_l, 1 / lq$L[lt], 1), ifelse(diag_l, Ls[lt], 1))
  }
  # Reported on the user's X: (thresholds, beta, lambda) = Tm psi_star. The
  # Hessian (forward differences of the exact gradient) and the gradient
  # test are taken on the optimizer's centred and scaled design, where the
  # difference steps fit the parameters whatever the covariates' units,
  # and mapped: g = Tm^-T g_star, H = Tm^-T H_star Tm^-1.
  Tm <- ordinal_star_map(k1, p, ctr, scl, extra = nl)
  if (std) Tm[k1 + p + seq_len(nl), k1 + p + seq_len(nl)] <- Jl
  Ti <- ordinal_star_inverse(Tm, k1, p)
  psi_s <- c(to_theta(par[seq_len(k1)]), par[k1 + seq_len(p)], lam_s)
  psi <- drop(Tm %*% psi_s)
  if (std) psi[k1 + p + seq_len(nl)] <- lam
  theta <- psi[seq_len(k1)]
  beta <- psi[k1 + seq_len(p)]
  final <- gfun(psi_s, summaries = TRUE)
  g_star <- final$gradient
  final$gradient <- drop(crossprod(Ti, g_star))
  fin <- final$r
  L <- lambda_mat(lam)
  Sigma <- L %*% t(L)
  warnings <- character()
  sds <- sqrt(diag(Sigma))
  # Judged on the search's scale (the user's unless `std`).
  singular <- any(exp(lam_s[diag_l]) < max(control$singular_tol, 1e-3))
  if (singular)
    warnings <- c(warnings, "a random-effect standard deviation (Cholesky factor's diagonal) is at (or near) zero: a singular fit")
  gnorm <- max(abs(g_star[if (singular) seq_len(k1 + p) else TRUE]))
  if (opt$convergence != 0L)
    warnings <- c(warnings, paste0("the optimizer did not report convergence: ", opt$message))
  if (is.finite(gnorm) && gnorm > control$grad_tol)
    warnings <- c(warnings, sprintf("the largest gradient component at the optimum is %.2g (> grad_tol = %g)",
                                    gnorm, control$grad_tol))
  cov_psi <- matrix(NA_real_, P, P)
  H <- NULL
  if (control$hessian) {
    # Forward differences of the gradient, exact to rounding with the
    # engine's polished modes (ordinal_agq_engine()), by steps of 1e-6: an
    # error of about 1e-6 in the standard errors, where steps of 1e-5 left
    # 1e-5.
    Hs <- fd_hessian(gradient_of(gfun), psi_s, g0 = g_star, step = 1e-6, floor = 1)
    H <- crossprod(Ti, Hs %*% Ti)
    cv <- tryCatch(Tm %*% solve(-Hs) %*% t(Tm), error = function(e) NULL)
    if (is.null(cv) || any(!is.finite(diag(cv))) || any(diag(cv) < 0)) {
      if (!singular)
        warnings <- c(warnings, "the Hessian of the log-likelihood is not negative definite: no standard errors")
    } else {
      cov_psi <- cv
    }
  }
  # Random effects on the b = Lambda u scale, per cluster (b = Tz^-1 b* on Z*).
  Lb <- if (std) Tzi %*% lambda_mat(lam_s) else L
  to_b <- function(U) U %*% t(Lb)
  to_bvar <- function(V) t(apply(V, 1L, function(v) Lb %*% matrix(v, q, q) %*% t(Lb)))
  list(theta = theta, beta = beta, lambda = lam, Lambda = L, Sigma = Sigma, psi = psi,
       cov_psi = cov_psi, hessian = H, loglik = fin$loglik, gradient = final$gradient,
       # (fin: the engine's evaluation, without the log prior)
       penalty = ordinal_penalty_record(pen, fin$loglik, final$penalty),
       modes = list(mode = to_b(fin$mode), mode_var = to_bvar(fin$mode_var),
                    post_mean = to_b(fin$post_mean), post_var = to_bvar(fin$post_var),
                    loglik = fin$cluster_loglik),
       nAGQ = nAGQ, singular = singular,
       optinfo = new_optinfo(method = if (nAGQ == 1L) "Laplace" else sprintf("AGHQ (nAGQ = %d, %d^%d nodes)", nAGQ, nAGQ, q),
                      optimizer = opt$optimizer, nAGQ = nAGQ, iterations = opt$iterations,
                      evaluations = counts(), convergence = opt$convergence,
                      message = opt$message, max_grad = gnorm,
                      warnings = warnings, centred_z = if (std) TRUE))
}

# The approximated log-likelihood of a fitted slope model's data at other
# parameter values psi = (thresholds, beta, lambda) (same nAGQ). A fit
# searched on the standardized Z* (`$optinfo$centred_z`: adaptive
# quadrature, or a slope in odd units) is evaluated there too, at the
# lower-triangular Lambda* with Lambda* W' = Tz Lambda (lq_blocks()): the
# product grid of adaptive quadrature turns with the random effects'
# coordinates, so its value depends on them (wine, (1 + temp | judge),
# nAGQ = 3: 3.9e-5 between Z and Z*; nAGQ = 15: 1e-10); the Laplace value
# does not. With `star`, psi's lambda is Lambda* itself.
ordinal_loglik_at_re <- function(fit, psi, clusters = FALSE, star = FALSE) {
  d <- ordinal_fit_data(fit)
  k1 <- length(fit$thresholds)
  p <- length(fit$coefficients)
  q <- ncol(fit$Z)
  l <- psi[k1 + p + seq_along(fit$lam_row)]
  L <- matrix(0, q, q)
  L[cbind(fit$lam_row, fit$lam_col)] <- ifelse(fit$lam_row == fit$lam_col, exp(l), l)
  bs <- ordinal_re_basis(fit, d)
  if (!is.null(bs$zb) && !star) L <- lq_blocks(bs$T %*% L, bs$cov_blocks)$L
  on <- fit$lam_row == fit$lam_col
  lam <- L[cbind(fit$lam_row, fit$lam_col)]
  lam[on] <- log(lam[on])
  eng <- ordinal_agq_engine(d$X, bs$Z, d$y, d$w, d$offset, sort(fit$group),
                            length(fit$group_levels), fit$lam_row, fit$lam_col, k1 + 1L,
                            fit$family$link_code, fit$nAGQ)
  on.exit(cpp_agq_free(eng$ptr))
  r <- eng$eval(psi[seq_len(k1)], psi[k1 + seq_len(p)], lam, fit$nAGQ, summaries = clusters,
                gradient = FALSE)
  if (clusters) r$cluster_loglik else r$loglik
}

# The adaptive quadrature engine (cpp_agq_new()) with the cumulative link
# observation model: its J - 1 thresholds are auxiliary coefficients (one
# design column of ones each) after the fixed effects and Lambda's entries
# in the engine's parameters. Data in any row order, `group` the clusters'
# codes 1..M. Returns the engine's pointer (freed by the caller with
# cpp_agq_free()) and eval(theta, beta, l, K, summaries, gradient), the
# log-likelihood with K nodes per effect and its gradient in (thresholds,
# beta, l), l Lambda's entries with the diagonal on the log scale; with
# `summaries` also each cluster's mode, its variance and posterior moments
# (spherical scale u, as the engine keeps them) and log-likelihood; with
# gradient = FALSE the value alone (and with `summaries` each cluster's
# log-likelihood alone, from one pass). The engine's own
# family is a placeholder that the auxiliary model replaces (poisson, as
# ordinal_sparse_engine()).
ordinal_agq_engine <- function(X, Z, y, weights, offset, group, M, lam_row, lam_col, J,
                               link_code, nAGQ, nthreads = 1L) {
  n <- length(y)
  k1 <- J - 1L
  p <- ncol(X)
  base <- resolve_family(stats::poisson())
  ptr <- cpp_agq_new(X, Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                     as.integer(group), as.integer(M), lam_row - 1L, lam_col - 1L,
                     base$family_code, base$link_code, as.integer(nAGQ), nthreads)
  cpp_agq_set_aux(ptr, 4L + link_code, matrix(1, n, k1), seq_len(k1) - 1L, matrix(0, n, k1))
  # Modes exact to rounding, so the gradient is too: the search's start
  # curvature and the standard errors come from its differences (with the
  # engine's usual stop, 1e-10 in the modes, a weakly identified search took
  # another path and stopped 0.4 lower).
  cpp_agq_set_polish(ptr, TRUE)
  on <- lam_row == lam_col
  nl <- length(lam_row)
  K_now <- as.integer(nAGQ)
  eval <- function(theta, beta, l, K, summaries = FALSE, gradient = TRUE) {
    if (K != K_now) {
      cpp_agq_set_nagq(ptr, as.integer(K))
      K_now <<- as.integer(K)
    }
    ent <- ifelse(on, exp(l), l)
    th <- as.numeric(c(beta, ent, theta))
    if (!gradient) {
      # the value alone, or each cluster's from the summaries' one pass
      if (!summaries) return(list(loglik = cpp_agq_eval(ptr, th, FALSE)$loglik))
      cl <- cpp_agq_summaries(ptr, th)$loglik
      return(list(loglik = sum(cl), cluster_loglik = cl))
    }
    r <- cpp_agq_eval(ptr, th, TRUE)
    g <- r$gradient
    out <- list(loglik = r$loglik,
                gradient = c(g[p + nl + seq_len(k1)], g[seq_len(p)],
                             g[p + seq_len(nl)] * ifelse(on, ent, 1)))
    if (summaries) {
      m <- cpp_agq_summaries(ptr, th)
      out <- c(out, list(mode = m$mode, mode_var = m$mode_var, post_mean = m$post_mean,
                         post_var = m$post_var, cluster_loglik = m$loglik))
    }
    out
  }
  list(ptr = ptr, eval = eval)
}

# The basis of the random effects a slope model's search ran on: Z in the
# fit's cluster order (d$o), standardized where `$optinfo$centred_z`, with
# its T (Z* = Z T^-1), covariance blocks and, for basis_theta(), the blocks
# of Lambda's entries at their positions in fit$theta (beta, lambda,
# thresholds); zb is NULL on the user's Z.
ordinal_re_basis <- function(fit, d = ordinal_fit_data(fit)) {
  Zs <- fit$Z[d$o, , drop = FALSE]
  if (!isTRUE(fit$optinfo$centred_z)) return(list(Z = Zs, zb = NULL))
  q <- ncol(Zs)
  last <- vapply(seq_len(q), function(j) max(fit$lam_row[fit$lam_col == j], j), 1L)
  cov_blocks <- diff(c(0L, which(cummax(last) == seq_len(q))))
  tz <- design_transform(Zs, blocks = cov_blocks, within = FALSE)
  zb <- basis_blocks(list(row = fit$lam_row, col = fit$lam_col), cov_blocks, tz$T,
                     length(fit$coefficients) + seq_along(fit$lam_row))
  list(Z = tz$M, T = tz$T, cov_blocks = cov_blocks, zb = zb)
}
