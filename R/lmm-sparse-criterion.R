# The profiled criterion of the linear mixed model with several random-effect
# terms (lme4's penalized least squares formulation; fit-lmm-sparse.R fits
# it): the engine on Z with unit-scaled columns, the criterion and its exact
# gradient in the relative covariance factor, the log-likelihood with sigma
# free with its gradient and Hessian (for the standard errors), and the
# random effects' modes at the estimates. The C++ side is src/engines/lmm/lmm-sparse*.cpp.

# Scale of each covariance parameter's column of Z (root mean square of the
# term's column over its levels, 1 for intercepts): the search runs on Z with
# unit columns, where lme4's start (identity factor) suits any units.
lmm_sparse_scales <- function(Z, re) {
  dz <- z_dim(Z)
  Q <- dz[[2L]]
  cs <- sqrt(col_sumsq(Z) / dz[[1L]])
  sk <- numeric(re$ntheta)
  for (tm in re$terms) {
    q <- length(tm$cnames)
    nl <- length(tm$columns) %/% q
    if (q == 1L) {
      s <- sqrt(mean(cs[tm$columns]^2))
      sk[tm$par] <- if (is.finite(s) && s > 0) s else 1
      next
    }
    lt <- do.call(cbind, block_pattern(q))
    for (j in seq_len(q)) {
      cols <- tm$columns[j + (seq_len(nl) - 1L) * q]
      s <- sqrt(mean(cs[cols]^2))
      sk[tm$par[lt[, 1L] == j]] <- if (is.finite(s) && s > 0) s else 1
    }
  }
  list(theta = sk, column = sk[re$lam_k[match(seq_len(Q), re$lam_row)]])
}

# The dimensions of a random-effect design Z (a Matrix object or a base
# matrix), for a sparse one from its Dim slot: nrow() and ncol() dispatch to
# Matrix's dim() method, 1.5-2 microseconds a call.
z_dim <- function(Z) if (isS4(Z)) Z@Dim else dim(Z)

# Column sums of squares of a sparse design, from a dgCMatrix's slots (the
# S4 arithmetic of Matrix::colSums(Z^2) costs more than the sums on small
# data), in C++ (src/util/dgc-matrix.cpp; rowsum() on the slots, the same sums in
# the same order, took 34 microseconds on Penicillin).
col_sumsq <- function(Z) {
  if (class(Z)[1L] != "dgCMatrix") return(Matrix::colSums(Z^2))
  cpp_dgc_col_sumsq(Z@p, Z@x)
}

# The profiled criterion (-2 log L, sigma and beta profiled; lmer's
# deviance or REML criterion) from one C++ evaluation.
lmm_sparse_deviance <- function(ev, n, p, logw, reml) {
  if (!isTRUE(ev$ok)) return(Inf)
  d <- if (reml) ev$ldL2 + ev$ldRX2 + (n - p) * (1 + log(2 * pi * ev$pwrss / (n - p))) - logw
       else ev$ldL2 + n * (1 + log(2 * pi * ev$pwrss / n)) - logw
  progress_tick(-d / 2, d)  # progress.R: the (restricted) log-likelihood
}

# Random effects up to which the nlminb search may take the dense exact
# gradient (it forms M^-1 dense: Q x Q doubles and Q triangular solves per
# evaluation); the gradient by selected inversion has no such limit.
lmm_sparse_grad_max_q <- 1500L

# The exact gradient's pieces in theta by selected inversion (M^-1 only on
# M's pattern; lmm-sparse-selinv.cpp): the same gradient as the dense one
# to rounding (5e-11 of 250 on the crossed 100 x 50 design of
# bench/bench-lmm-sparse.R), at 375 against 1420 microseconds there and
# 12.5 against 17.5 on Penicillin. Used after the search (the check of its
# end, the Hessian for the standard errors where M's blocks are too large
# for the exact one), which does not move the
# estimates; the search itself keeps the dense gradient it was tuned with.
lmm_sparse_grad_after <- function(eng, th) cpp_lmmsp_grad_sparse(eng, th)
lmm_sparse_grad_dense <- function(eng, th) cpp_lmmsp_grad(eng, th, lmm_sparse_grad_max_q)

# The criterion and its exact gradient in theta from one C++ evaluation
# (src/engines/lmm/lmm-sparse.h), remembered for nlminb's gradient call at the same point;
# `grad` computes the pieces (the dense formula by default).
lmm_sparse_objective <- function(eng, n, p, logw, reml, grad = lmm_sparse_grad_dense) {
  last <- NULL
  ev <- function(th) {
    if (is.null(last) || !identical(last$th, th))
      last <<- list(th = th, r = grad(eng, th))
    last$r
  }
  df <- if (reml) n - p else n
  list(fn = function(th) lmm_sparse_deviance(ev(th), n, p, logw, reml),
       gr = function(th) {
         e <- ev(th)
         if (!isTRUE(e$ok)) return(rep(NA_real_, length(th)))
         e$grad_ldL2 + (if (reml) e$grad_ldRX2 else 0) + df / e$pwrss * e$grad_pwrss
       })
}

# The criterion's engine on the rows of positive weight, Z's columns scaled
# (lmm_sparse_scales()), with what the criteria need besides.
# With every weight positive the weights are used without subsetting, and
# where they are all 1 (the default) their log sum is 0 without n logs: the
# same numbers (log(1) is 0 exactly), 20 of the 70 microseconds of R here
# on the crossed 2,000-row bench. `yo` (y - offset) and `all_rows` (every
# weight positive) when the caller has them.
lmm_sparse_setup <- function(X, y, re, weights, offset, yo = y - offset,
                             all_rows = n_positive(weights) == length(weights)) {
  keep <- if (!all_rows) weights > 0
  wk <- if (all_rows) weights else weights[keep]
  Zk <- if (all_rows) re$Z else re$Z[keep, , drop = FALSE]
  sc <- lmm_sparse_scales(Zk, re)
  list(eng = cpp_lmmsp_new(if (all_rows) X else X[keep, , drop = FALSE], Zk,
                           if (all_rows) yo else yo[keep],
                           sqrt(wk), sc$column, re$lam_row - 1L, re$lam_col - 1L,
                           re$lam_k - 1L, re$ntheta),
       scale = sc$theta, column = sc$column, n = length(wk), p = ncol(X),
       logw = if (length(wk) && identical(min(wk), 1) && identical(max(wk), 1)) 0
              else sum(log(wk)))
}

# The (restricted) log-likelihood with sigma free at par = (Lambda's
# entries on the user's scale, log sigma): beta profiled (ML) or integrated
# out (REML).
lmm_sparse_loglik <- function(st, par, reml) {
  k <- length(par)
  s <- exp(par[[k]])
  e <- cpp_lmmsp_eval(st$eng, par[-k] * st$scale / s, FALSE)
  if (!isTRUE(e$ok)) return(-Inf)
  df <- if (reml) st$n - st$p else st$n
  -0.5 * (e$ldL2 + (if (reml) e$ldRX2 else 0) + df * log(2 * pi * s^2) + e$pwrss / s^2 - st$logw)
}

# Its exact gradient in par: with theta = lambda * scale / sigma,
# d/dtheta = -(d log|M| [+ d log|RX'RX|] + d pwrss / sigma^2) / 2, mapped by
# the chain rule (sigma enters directly and through theta).
lmm_sparse_loglik_grad <- function(st, par, reml) {
  k <- length(par)
  s <- exp(par[[k]])
  th <- par[-k] * st$scale / s
  e <- lmm_sparse_grad_after(st$eng, th)
  if (!isTRUE(e$ok)) return(rep(NA_real_, k))
  df <- if (reml) st$n - st$p else st$n
  gth <- -0.5 * (e$grad_ldL2 + (if (reml) e$grad_ldRX2 else 0) + e$grad_pwrss / s^2)
  c(gth * st$scale / s, -df + e$pwrss / s^2 - sum(gth * th))
}

# The Hessian of lmm_sparse_loglik() in par = (Lambda's entries on the
# user's scale, log sigma) at theta (the search's relative factor) and
# sigma, by the chain rule from the exact derivatives `eh` in theta of
# ld = log|M| [+ log|RX'RX|] and q = pwrss (cpp_lmmsp_hessian()): with
# E = sigma^-2, theta_i = lambda_i c_i / sigma (c the columns' scales) and
# loglik = -(ld + 2 df log sigma + q E) / 2 + const, A = ld + q E,
#   d2/dlambda_i dlambda_j = -A_ij c_i c_j E / 2,
#   d2/dlambda_i dlog sigma = c_i (sum_j A_ij theta_j + 2 q_i E + A_i) / (2 sigma),
#   d2/dlog sigma^2 = -theta'A''theta / 2 - A'theta / 2 - 2 E q'theta - 2 q E.
# Central differences of the gradient (what it replaces) agreed to ~1e-8
# relative; numDeriv's Richardson extrapolation to ~1e-9 (test-lmm-sparse-hessian.R).
lmm_sparse_loglik_hessian <- function(eh, theta, scale, sigma, df) {
  E <- 1 / sigma^2
  A1 <- drop(eh$g_ld) + drop(eh$g_q) * E
  A2 <- eh$h_ld + eh$h_q * E
  q1 <- drop(eh$g_q)
  k <- length(theta)
  H <- matrix(0, k + 1L, k + 1L)
  # (tcrossprod(): the products scale_i scale_j as outer() gives them,
  # without its R code)
  H[seq_len(k), seq_len(k)] <- -0.5 * A2 * tcrossprod(scale) * E
  H[seq_len(k), k + 1L] <- H[k + 1L, seq_len(k)] <-
    scale * (drop(A2 %*% theta) + 2 * q1 * E + A1) / (2 * sigma)
  H[k + 1L, k + 1L] <- -0.5 * sum(theta * drop(A2 %*% theta)) - 0.5 * sum(A1 * theta) -
    2 * E * sum(q1 * theta) - 2 * eh$pwrss * E
  H
}

# The modes and conditional covariances of the random effects at the
# estimates, from the criterion's own factor (cpp_lmmsp_final()): for a
# gaussian model the mode given beta is the penalized least squares solution
# u, and the sparse Laplace engine's H = Lambda'Z'WZ Lambda + I (W = w /
# sigma^2, Lambda on the response's scale, sigma times the relative factor)
# is M itself, so its inverse on M's pattern is what sparse_term_summaries()
# reads. Building that engine besides took 9 + 4.6 of the 30 ms of an
# n = 10,000 crossed REML fit. The engine's spherical modes are u / sigma;
# b = diag(1 / column scales) Lambda_s u on the unscaled design. `m`: the
# pieces at the estimates (cpp_lmmsp_final(), which evaluates the criterion
# there once for these and for the fit's beta, sigma and RX'RX). Z b is taken
# from Z's slots in C++ (cpp_dgc_times(): the same sums in the same order as
# Matrix's `%*%`, without its S4 dispatch).
lmm_sparse_modes <- function(st, m, X, Z, offset, sigma) {
  b <- m$b_scaled / st$column
  Zb <- if (class(Z)[1L] == "dgCMatrix") cpp_dgc_times(Z@p, Z@i, Z@x, b, Z@Dim[[1L]])
        else as.vector(Z %*% b)
  list(u = m$u / sigma, b = b,
       eta = drop(X %*% m$beta) + Zb + offset,
       inv_i = m$inv_i, inv_j = m$inv_j, inv_x = m$inv_x)
}
