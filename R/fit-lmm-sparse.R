# Linear mixed models with several random-effect terms (crossed, nested,
# random slopes), by REML or ML, without the sparse Laplace engine's
# iterations: the profiled criterion of lme4's penalized least squares
# formulation (Bates et al. 2015, J. Stat. Softw. 67(1), section 3) is
# computed in C++ (src/lmm-sparse.cpp: one fill-reducing ordering and
# symbolic factorization, one numeric sparse Cholesky factorization per
# evaluation) and minimized over the relative covariance factor alone (lme4's
# theta; beta and sigma profiled out). The result has the shape of
# glmm_sparse_fit()'s, so new_glmm_sparse() builds the fitted object.

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
# data), in C++ (src/front-dgc.cpp; rowsum() on the slots, the same sums in
# the same order, took 34 microseconds on Penicillin).
col_sumsq <- function(Z) {
  if (class(Z)[1L] != "dgCMatrix") return(Matrix::colSums(Z^2))
  cpp_dgc_col_sumsq(Z@p, Z@x)
}

# The profiled criterion (-2 log L, sigma and beta profiled; lmer's
# deviance or REML criterion) from one C++ evaluation.
lmm_sparse_deviance <- function(ev, n, p, logw, reml) {
  if (!isTRUE(ev$ok)) return(Inf)
  if (reml) ev$ldL2 + ev$ldRX2 + (n - p) * (1 + log(2 * pi * ev$pwrss / (n - p))) - logw
  else ev$ldL2 + n * (1 + log(2 * pi * ev$pwrss / n)) - logw
}

# Random effects up to which the exact gradient is used (it forms M^-1
# dense: Q x Q doubles and Q triangular solves per evaluation); above, the
# search differences the criterion.
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
# (src/lmm-sparse.h), remembered for nlminb's gradient call at the same point;
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

# Minimizes the criterion from lme4's start by nlminb (with the exact
# gradient `gr` when given, else nlminb's finite differences); when it stops on the
# boundary or without converging, once more from the best point moved
# inside. Entries resting at their bound are set there exactly (lmer reports
# a singular variance as exactly zero). nlminb's budget is the user's
# glmm_control(iter.max, eval.max); `vgr` is the gradient that verifies the
# end (lmm_sparse_verify()). `ridge`: pairs of parameters whose end is
# searched again along their ridge (lmm_ridge_search()).
lmm_sparse_optimize <- function(f, lower, start, gr = NULL, control = glmm_control(),
                                vgr = gr, ridge = NULL) {
  run <- function(st) stats::nlminb(st, f, gr, lower = lower,
                                    control = list(eval.max = control$eval.max,
                                                   iter.max = control$iter.max,
                                                   rel.tol = 1e-12))
  r <- run(start)
  runs <- list(r)
  if (!is.finite(r$objective) || r$convergence != 0L ||
      any(is.finite(lower) & r$par <= lower + 1e-6)) {
    r2 <- run(pmax(r$par, lower + 0.1))
    runs <- c(runs, list(r2))
    if (is.finite(r2$objective) && r2$objective < r$objective) r <- r2
  }
  r <- lmm_sparse_leave_bound(f, lower, r, function(st) {
    rr <- run(st)
    runs[[length(runs) + 1L]] <<- rr
    rr
  })
  if (!is.null(ridge) && is.finite(r$objective) && !is.null(vgr)) {
    rr <- lmm_ridge_search(f, vgr, lower, r$par, ridge, control)
    if (!is.null(rr)) {
      runs[[length(runs) + 1L]] <- rr
      if (is.finite(rr$objective) && rr$objective <= r$objective) r <- rr
    }
  }
  th <- r$par
  at_bound <- is.finite(lower) & th < 1e-6
  if (any(at_bound)) {
    th0 <- th
    th0[at_bound] <- lower[at_bound]
    if (f(th0) <= r$objective + 1e-10) th <- th0
  }
  # nlminb's codes other than 0 are no verdict on the point (see
  # lmm_sparse_verify()): the remaining Newton step decides.
  vf <- if (r$convergence != 0L)
    lmm_sparse_verify(f, vgr, th, which(!(is.finite(lower) & th <= lower)), control$grad_tol)
  ok <- r$convergence == 0L || vf$converged
  list(theta = th, objective = f(th), runs = runs,
       convergence = if (ok) 0L else r$convergence,
       message = if (r$convergence != 0L && ok)
         sprintf("nlminb stopped early (%s); verified: the criterion's Hessian is positive definite and the remaining Newton step is %.2g",
                 r$message, vf$nstep)
       else r$message,
       verification = vf)
}

# A start for the search on the scaled parameters (theta_k = s_k / sigma
# times the term's column scale) from the variances s_k^2, sigma^2 that
# solve Henderson's method-1 moment equations on the residuals of the fixed
# effects' least squares fit (cpp_lmm_term_moments(), src/lmm-term-moments.cpp;
# weights are not used: it is only a start). Only for random intercepts
# (one column per level); NULL where the equations fail. A variance that
# comes out below 1e-2 sigma^2 (or negative: the optimum may be small, or on
# the boundary) starts at 1e-2 sigma^2; the search gives up where it heads
# for 0. `resid`: those residuals when the caller has them (all rows kept);
# `yo` (y - offset) and `all_rows` (every weight positive) likewise.
lmm_sparse_moment_start <- function(X, y, re, weights, offset, scale, resid = NULL,
                                    reml = TRUE, yo = y - offset,
                                    all_rows = n_positive(weights) == length(weights)) {
  # The terms' codes, level counts and parameters in one loop (in place of
  # four vapply() and lapply() calls with a closure each); random
  # intercepts alone.
  K <- length(re$terms)
  codes <- vector("list", K)
  nl <- par <- integer(K)
  for (t in seq_len(K)) {
    tm <- re$terms[[t]]
    if (!identical(tm$cnames, "(Intercept)") || tm$known_cov) return(NULL)
    codes[[t]] <- tm$index
    nl[t] <- length(tm$levels)
    par[t] <- tm$par
  }
  keep <- if (!all_rows) weights > 0
  r <- if (all_rows && !is.null(resid)) resid
       else stats::.lm.fit(if (all_rows) X else X[keep, , drop = FALSE],
                           if (all_rows) yo else yo[keep])$residuals
  if (!all_rows) codes <- lapply(codes, function(cd) cd[keep])
  eq <- cpp_lmm_term_moments(codes, nl, r, ncol(X))
  # solve(eq$A, eq$b), NULL where it stops (cpp_la_solve(): its LAPACK
  # calls, the same numbers)
  v <- cpp_la_solve(eq$A, eq$b)$x
  if (is.null(v) || !all(is.finite(v)) || v[[K + 1L]] <= 0) return(NULL)
  if (!reml) v <- lmm_ml_moments(eq$A, eq$b, v, codes, length(r))
  th <- numeric(re$ntheta)
  th[par] <- sqrt(pmax(v[seq_len(K)] / v[[K + 1L]], 1e-2)) * scale[par]
  th
}

# The moment start moved towards ML's optimum (REML = FALSE). On a balanced
# design the moment solution v is REML's: each stratum's sum of squares
# SS_s (the part of r' P_k r that term k adds to the coarser terms it is
# nested in; the residual row adds the error stratum) equals d_s lambda_s,
# its degrees of freedom times its expected mean square. ML keeps the grand
# mean's stratum (expectation lambda_1 = s2 + sum_j c_j s2_j, the sum of
# squares 0 at the fitted mean) in the likelihood, so its score equations
# are M' ((d lambda - SS) / lambda^2) = -m1 / lambda_1 (M the strata's
# coefficients of the variances, m1 = (c, 1) the grand mean's). With the
# lambdas held at the current point this is linear: the residuals
# e_s = -lambda_s^2 z_s / lambda_1, z = M'^-1 m1, and the Henderson rows
# are solved again with b + (their sums of the e_s). Repeated to a fixed
# point (at most 20 rounds of a (K + 1)-square product), ML's optimum on a
# balanced one-way, crossed or nested design; elsewhere a start nearer it
# than REML's. Returns v unchanged where a round fails.
lmm_ml_moments <- function(A, b, v, codes, n) {
  K <- length(codes)
  Tm <- diag(K + 1L)
  Tm[K + 1L, ] <- 1
  for (k in seq_len(K)) for (l in seq_len(K)) if (l != k) {
    ck <- codes[[k]]
    cl <- codes[[l]]
    fl <- cl[match(seq_len(max(ck)), ck)]
    if (!anyNA(fl) && all(cl == fl[ck])) Tm[k, l] <- 1
  }
  # the rounds in C++ (cpp_lmm_ml_moments(), src/info-inverse.cpp): in R
  # they cost more than the evaluations they save
  cpp_lmm_ml_moments(A, b, v, Tm, n, 20L, 1e-7)
}

# The exact Hessian of the criterion's pieces in theta
# (src/lmm-sparse-hessian.cpp) forms C = Z'V^-1 Z dense on each connected
# block of M (one block for crossed factors, one per top-level group for
# nested ones): used while the blocks hold at most this many entries in all
# (the sum of their squared sizes; a single block of 600 levels), beyond
# which the differences of the exact gradient cost less and the dense blocks'
# memory (a few Q x Q matrices per parameter) grows. The engine also keeps
# the differences where its 3 K work matrices of Q x p would exceed 1.25e7
# doubles (K covariance parameters, p fixed effects; about 0.5 GB for a
# nested design of 3.6e5 small blocks, p = 20, K = 3, before).
lmm_sparse_hess_max_work <- 3.6e5

# Newton's method on the profiled criterion, for random-intercept models
# from the moment start (nlminb took 150-370 evaluations of the criterion
# on nested and crossed designs of 2,000 rows, differencing it, and 15-50
# with the dense exact gradient on Penicillin, Pastes and three crossed
# factors; lmer's bobyqa 30-40). `eng`: the criterion's engine
# (lmm_sparse_setup()); each evaluation gives the criterion (n rows, p fixed
# effects, sum of log weights `logw`) and its exact gradient by selected
# inversion, as lmm_sparse_objective(..., lmm_sparse_grad_after) has them in
# R. The Hessian is the exact one of the criterion (lmm_sparse_hess_max_work;
# src/lmm-sparse-hessian.cpp), or where M's connected blocks are too large
# for it forward differences of that gradient (k gradients) at every iterate;
# the step is halved until the criterion decreases (Armijo). The search
# ends where the Newton step's largest component is below 1e-7 on the
# search's scale (unit-scaled columns): with the exact Hessian at that
# point, the step not taken (its Hessian and factor serve the standard
# errors and the final list there); with the differences after that step,
# taken. Either way it ends closer to the optimum than nlminb's
# relative-function test (rel.tol 1e-12) does. It
# gives up (NULL: the caller runs nlminb from lme4's start as before)
# where it is not on safe ground: a Hessian that is not positive definite,
# a variance parameter heading for its bound (a singular fit is nlminb's and
# lmm_sparse_leave_bound()'s business), a step that cannot lower the
# criterion before the test passes, a non-finite value, or more than
# `maxit` iterations (or the user's eval.max / iter.max); `hess_max_work`
# 0 takes the differences whatever the blocks' size. `floor`: per
# parameter, the size below which a variance parameter counts as heading for
# its bound (a relative standard deviation of 1e-3 on the search's scale).
lmm_sparse_newton <- function(eng, n, p, logw, reml, lower, start, floor, control,
                              maxit = 30L, hess_max_work = lmm_sparse_hess_max_work) {
  # The loop runs in C++ (cpp_lmmsp_newton(), src/lmm-sparse-newton.cpp):
  # the same steps and arithmetic as the R loop it replaces (chol(),
  # forwardsolve() and backsolve() as the same LAPACK and BLAS calls), so
  # the same points to the bit, without R's cost per evaluation.
  budget <- min(control$eval.max, 10L * control$iter.max)
  r <- cpp_lmmsp_newton(eng, start, lower, floor, n, p, logw, reml,
                        as.integer(min(maxit, control$iter.max)),
                        as.integer(min(budget, .Machine$integer.max)), hess_max_work)
  if (!isTRUE(r$ok)) return(NULL)
  th <- r$theta
  ncall <- r$evaluations
  run <- list(par = th, objective = r$objective, convergence = 0L, iterations = r$iterations,
              evaluations = c("function" = ncall, gradient = ncall),
              message = "Newton step below 1e-7")
  list(theta = th, objective = r$objective, runs = list(run), convergence = 0L,
       message = run$message, final = r$final, hessian = r$hessian,
       verification = list(converged = TRUE, nstep = r$nstep, gmax = r$gmax, hessian_pd = TRUE))
}

# nlminb ends in "singular convergence (7)" or "false convergence (8)" from
# its relative-function tests, which a flat criterion can fail at the
# optimum itself: y ~ x + (x | g) + (1 | a) on the data of
# test-response-scale.R ended so 2e-8 above lmer's optimum, with a largest
# exact gradient of 1.6e-3 but a remaining Newton step of 8e-7 (the
# criterion's curvature there is 360 to 24000). As newton_decrement() and
# fit_warnings() judge the other routes, the point (over the parameters
# `free` of their bound) is a converged optimum when the criterion's Hessian
# is positive definite and the Newton step H^-1 g is below `tol` on the
# search's scale (the relative factor of unit-scaled columns, free of the
# response's and covariates' units). The gradient is `gr`'s when given,
# else central differences of f; the Hessian central differences of that
# gradient (2 gradients per parameter: only run when nlminb did not report
# convergence).
lmm_sparse_verify <- function(f, gr, th, free, tol) {
  if (!length(free)) return(list(converged = TRUE, nstep = 0, gmax = 0, hessian_pd = TRUE))
  step <- function(x, j) 1e-4 * max(abs(x[j]), 1e-2)
  grad <- if (!is.null(gr)) function(x) gr(x)[free] else function(x) vapply(free, function(j) {
    h <- step(x, j)
    (f(replace(x, j, x[j] + h)) - f(replace(x, j, x[j] - h))) / (2 * h)
  }, 1)
  g <- grad(th)
  H <- fd_hessian(function(x) replace(numeric(length(x)), free, grad(x)), th, "central",
                  step = 1e-4, on_boundary = !(seq_along(th) %in% free))[free, free, drop = FALSE]
  R <- if (all(is.finite(g)) && all(is.finite(H))) tryCatch(chol(H), error = function(e) NULL)
  nstep <- if (is.null(R)) NA_real_ else max(abs(backsolve(R, forwardsolve(t(R), g))))
  list(converged = !is.null(R) && nstep < tol, nstep = nstep, gmax = max(abs(g)),
       hessian_pd = !is.null(R))
}

# A standard deviation at its bound 0 is a stationary point of the
# criterion (which is even in it), so nlminb's gradient steps can stop
# there from inside while the criterion is lower nearby: a REML fit with
# two crossed intercepts ended 0.41 log-likelihood units below lmer's,
# its restart from 0.1 stepping back to 0. Points along each such
# coordinate (on the scaled parameters) are tried; the search restarts from
# the lowest if it is lower, and keeps the restart's end only when it is.
lmm_sparse_leave_bound <- function(f, lower, r, run, rounds = 2L) {
  for (round in seq_len(rounds)) {
    bnd <- which(is.finite(lower) & r$par <= lower + 1e-6)
    if (!length(bnd) || !is.finite(r$objective)) break
    best <- NULL
    bval <- r$objective - 1e-8
    for (j in bnd) for (t in c(0.01, 0.03, 0.1, 0.3, 1)) {
      th <- replace(r$par, j, lower[j] + t)
      v <- f(th)
      if (is.finite(v) && v < bval) {
        bval <- v
        best <- th
      }
    }
    if (is.null(best)) break
    r3 <- run(best)
    # nlminb often ends such a restart in "singular convergence" short of
    # the gradient test; once more from its end settles it.
    if (is.finite(r3$objective) && r3$convergence != 0L) {
      r4 <- run(r3$par)
      if (is.finite(r4$objective) && r4$objective <= r3$objective) r3 <- r4
    }
    if (!is.finite(r3$objective) || r3$objective >= r$objective - 1e-8) break
    r <- r3
  }
  r
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

# `start`: NULL (lme4's start, the identity factor on the scaled design) or
# the sparse engine's parameter vector (fixed effects, Lambda's entries,
# log sigma; glmm_sparse_fit()'s `start`), of which only Lambda / sigma is
# used: the criterion profiles beta and sigma out.
# `centre`: whether a random slope far from zero beside its term's intercept
# sends the search to the centred design (lmm_sparse_centring(),
# lmm_sparse_standard_z()).
lmm_sparse_fit <- function(X, y, re, weights, offset, reml, control, start = NULL,
                           centre = TRUE) {
  p <- ncol(X)
  # The fixed effects' least squares fit on all rows, once: its rank is
  # qr(X)$rank (.lm.fit() and qr() both run LINPACK's dqrdc2 with tolerance
  # 1e-7), and its residuals are the moment start's where X is used as it is
  # (a second QR of X took 0.3 ms of a crossed n = 10,000 fit). Where it
  # fails (values not finite), check_full_rank() says what it said before.
  # The rows of positive weight are counted without an n-length logical
  # (n_positive()); the steps that need them as one (centred slopes, the
  # ridge search) are given `weights > 0` unevaluated, and y - offset is
  # formed once for the fit, the moment start and the criterion's engine.
  n <- n_positive(weights)
  all_pos <- n == length(weights)
  yo <- y - offset
  lf <- if (all_pos)
    tryCatch(stats::.lm.fit(X, yo), error = function(e) NULL)
  if (is.null(lf) || lf$rank < p) check_full_rank(X)
  if (n <= p) stop(sprintf("%s needs more observations than fixed effects",
                           if (reml) "REML" else "The model"), call. = FALSE)
  zc <- if (centre) lmm_sparse_centring(re, weights > 0)
  if (!is.null(zc)) {
    fc <- lmm_sparse_fit(X, y, zc$re, weights, offset, reml, control,
                         lmm_sparse_start_star(start, zc, p), centre = FALSE)
    # An optimum interior in the centred terms maps back; otherwise the fit
    # as before.
    il <- ncol(X) + lmm_sparse_centred_index(re, zc)$par
    # Interior, or a two-column term at a correlation of +/-1 (or its
    # slope's variance 0), which keeps its face under the map
    # (lmm_face_map()): mapped. From the user's Z, that boundary fit ended
    # within 1e-4 of lmer's log-likelihood with a false "false convergence"
    # warning.
    if (fc$optinfo$convergence == 0L &&
        (!any(fc$on_boundary[il]) || lmm_face_mappable(fc, zc, re)))
      return(lmm_sparse_standard_z(fc, zc, re))
    # On the boundary in a centred term, the search on the user's Z starts
    # from the centred optimum mapped back (Lambda = L, L W' = Tk^-1 Lambda*).
    if (is.null(start) && all(is.finite(fc$theta)))
      start <- lmm_sparse_start_star(unname(fc$theta), zc, ncol(X), inverse = TRUE)
  }
  # The criterion is evaluated on a centred and scaled X (lmm_standard_x()).
  tx <- lmm_design_transform(X)
  X <- tx$M
  st <- lmm_sparse_setup(X, y, re, weights, offset, yo, all_pos)
  eng <- st$eng
  sc <- list(theta = st$scale)
  logw <- st$logw
  use_grad <- z_dim(re$Z)[[2L]] <= lmm_sparse_grad_max_q
  lower <- re$lower
  # Random-intercept models are searched by Newton's method on the exact
  # gradient (lmm_sparse_newton()) from a moment estimate
  # (lmm_sparse_moment_start()); where none is made or the search gives up,
  # nlminb searches from lme4's start (or the user's) as before.
  ms <- if (is.null(start) && use_grad && re$ntheta <= 4L)
    lmm_sparse_moment_start(X, y, re, weights, offset, st$scale,
                            if (isTRUE(tx$identity)) lf$residuals, reml, yo, all_pos)
  opt <- if (!is.null(ms))
    lmm_sparse_newton(eng, n, p, logw, reml, lower, ms, 1e-3 * st$scale, control)
  newton <- !is.null(opt)
  search_grad <- FALSE
  if (!newton) {
    # The search takes the exact gradient when it costs less than the
    # ntheta evaluations nlminb's differences take (rough operation counts of
    # the factor at lme4's start, plus R's cost of a call, about 1e4 of them;
    # a crossed design with a dense factor, such as 100 x 50 levels, is better
    # off differencing).
    search_grad <- use_grad && {
      cpp_lmmsp_eval(eng, ifelse(re$lower == 0, 1, 0), FALSE)
      co <- cpp_lmmsp_costs(eng)
      co[["grad"]] <= re$ntheta * (co[["eval"]] + 1e4)
    }
    obj <- if (search_grad) lmm_sparse_objective(eng, n, p, logw, reml)
    f <- obj$fn %||% function(th) lmm_sparse_deviance(cpp_lmmsp_eval(eng, th, FALSE), n, p, logw, reml)
    th0 <- ifelse(lower == 0, 1, 0)
    if (!is.null(start)) {
      k <- p + re$ntheta + 1L
      if (!is.numeric(start) || length(start) != k || !all(is.finite(start)))
        stop(sprintf("'start' for a linear mixed model with several random-effect terms must be a finite numeric vector of length %d (fixed effects, covariance parameters, log sigma)",
                     k), call. = FALSE)
      th0 <- pmax(start[p + seq_len(re$ntheta)] / exp(start[[k]]) * st$scale, lower)
    }
    # The check of nlminb's end takes the exact gradient whenever it exists,
    # also where the search differences the criterion.
    vgr <- obj$gr %||% if (use_grad) lmm_sparse_objective(eng, n, p, logw, reml,
                                                          lmm_sparse_grad_after)$gr
    opt <- lmm_sparse_optimize(f, lower, th0, obj$gr, control, vgr,
                               lmm_ridge_pairs(re, weights > 0))
  }
  # The Newton search hands over cpp_lmmsp_final()'s list at its end when
  # its engine's factor is still that point's (the same numbers; one
  # evaluation fewer).
  ev <- opt$final %||% cpp_lmmsp_final(eng, opt$theta)
  if (!isTRUE(ev$ok)) stop("the LMM criterion is not finite at the optimum", call. = FALSE)
  df <- if (reml) n - p else n
  sigma <- sqrt(ev$pwrss / df)
  th_user <- unname(opt$theta / sc$theta)
  beta <- stats::setNames(drop(ev$beta), colnames(X) %||% paste0("X", seq_len(p)))
  pnames <- c(names(beta), re$par_names, "log(sigma)")
  theta <- stats::setNames(c(beta, th_user * sigma, log(sigma)), pnames)
  k <- length(theta)
  cov_idx <- p + seq_len(re$ntheta + 1L)
  on_boundary <- rep(FALSE, k)
  on_boundary[p + seq_len(re$ntheta)] <- is.finite(lower) & opt$theta <= lower
  # Information: the fixed effects' block X'V^-1X (lmer's vcov), the
  # covariance parameters' from the criterion with sigma free (beta profiled,
  # or integrated out for REML); the two blocks are orthogonal in a linear
  # mixed model.
  ll_cov <- function(par) lmm_sparse_loglik(st, par, reml)
  hess <- matrix(0, k, k, dimnames = list(pnames, pnames))
  hess[seq_len(p), seq_len(p)] <- -ev$RXtRX / sigma^2
  free <- cov_idx[!on_boundary[cov_idx]]
  # The differences' smallest steps, relative to the size of Lambda's entries
  # in the user's units (1 / the column's scale): with 1e-2 for all, a slope
  # on x * 1e6 in (0 + x | g) + (1 | h), whose entry is 7e-6, was differenced
  # by 14% of it, and its standard error was 4% off (NA on x * 1e9). Columns
  # within a factor 100 of unit scale keep 1e-2, bitwise as before.
  # (A promise: only the differences below read it.)
  delayedAssign("typ", c(ifelse(st$scale > 100 | st$scale < 0.01, 1 / st$scale, 1), 1))
  # The exact Hessian from the criterion's derivatives in theta (the Newton
  # search's at its end, or one evaluation here), where M's blocks allow it.
  eh <- if (control$hessian && use_grad)
    opt$hessian %||% cpp_lmmsp_hessian(eng, opt$theta, reml, lmm_sparse_hess_max_work)
  if (!is.null(eh)) {
    Hc <- lmm_sparse_loglik_hessian(eh, opt$theta, st$scale, sigma, df)
    hess[free, free] <- Hc[!on_boundary[cov_idx], !on_boundary[cov_idx], drop = FALSE]
  } else if (control$hessian && use_grad) {
    # Central differences of the exact gradient: 2 evaluations per
    # parameter (optimHess' differenced differences took 4 k^2).
    x0 <- theta[cov_idx]
    sub <- !on_boundary[cov_idx]
    h <- 1e-4 * pmax(abs(x0), 1e-2 * typ)
    # Each column (lmm_sparse_loglik_grad(st, x0 + h_j e_j, reml) - the same
    # at x0 - h_j e_j) / (2 h_j), all in one C++ call with R's arithmetic.
    Hc <- cpp_lmmsp_loglik_hessian(eng, x0, h, which(sub), st$scale, st$n, st$p,
                                   reml)[sub, , drop = FALSE]
    hess[free, free] <- (Hc + t(Hc)) / 2
  } else if (control$hessian) {
    Hc <- stats::optimHess(theta[free], function(x) {
      par <- theta[cov_idx]; par[!on_boundary[cov_idx]] <- x; ll_cov(par)
    }, control = if (any(typ != 1)) list(parscale = typ[!on_boundary[cov_idx]]) else list())
    hess[free, free] <- Hc
  } else {
    hess[free, free] <- NA_real_
  }
  if (any(on_boundary)) {
    hess[on_boundary, ] <- NA_real_
    hess[, on_boundary] <- NA_real_
  }
  cov_theta <- invert_information(hess, on_boundary, pnames)
  # solve(ev$RXtRX) by its LAPACK calls (cpp_la_solve()); where it stops,
  # solve() says why.
  vc <- sigma^2 * (cpp_la_solve(ev$RXtRX, NULL)$x %||% solve(ev$RXtRX))
  cov_theta[seq_len(p), seq_len(p)] <- vc
  # The modes, fitted values and conditional covariances of the random
  # effects at the estimates, from the criterion's factor (lmm_sparse_modes()).
  family <- default_gaussian()
  modes <- lmm_sparse_modes(st, ev, X, re$Z, offset, sigma)
  modes$nnz_factor <- ev$nnz_factor
  terms <- sparse_term_summaries(re, unname(theta[p + seq_len(re$ntheta)]), modes, NULL,
                                 unname(theta))
  singular <- any(on_boundary)
  crit <- opt$objective
  loglik_ml <- if (reml) -(ev$ldL2 + n * (1 + log(2 * pi * ev$pwrss / n)) - logw) / 2
  grad <- stats::setNames(rep(0, k), pnames)
  vf <- opt$verification
  warn <- c(if (opt$convergence != 0L)
              sprintf("optimizer did not report convergence: %s; %s%s", opt$message,
                      if (isTRUE(vf$hessian_pd))
                        sprintf("remaining Newton step %.2g (tolerance %.2g)", vf$nstep, control$grad_tol)
                      else "the criterion's Hessian is not positive definite there",
                      if (grepl("limit", opt$message))
                        " (raise glmm_control(iter.max, eval.max); the fit may still be improving)"
                      else ""),
            if (singular && reml) reml_singular_message,
            if (singular && !reml)
              paste0("singular fit: a random-effect variance is estimated at zero (or a correlation at +/-1)",
                     "; verified: a restart from the interior found no higher log-likelihood"))
  evals <- sum(vapply(opt$runs, function(r) r$evaluations[[1L]], 1))
  family <- fitted_family(family, log(sigma))
  lmm_standard_x(list(beta = beta, theta = theta, loglik = -crit / 2, sigma = sigma, dispersion = sigma,
       family_par = NULL, gradient = grad, hessian = hess, cov_theta = cov_theta,
       family = family, modes = modes, terms = terms, singular = singular,
       on_boundary = on_boundary, loglik_ml = loglik_ml,
       engine = "lmm_sparse",
       optinfo = new_optinfo(optimizer = if (newton) "Newton (profiled criterion, exact gradient)"
                                  else if (search_grad) "nlminb (profiled criterion, exact gradient)"
                                  else "nlminb (profiled criterion)",
                      method = if (reml) "REML" else "ML (profiled, sparse Cholesky)",
                      nAGQ = 1L,
                      iterations = sum(vapply(opt$runs, `[[`, 1L, "iterations")),
                      evaluations = evals, convergence = opt$convergence,
                      message = opt$message,
                      # Measured only where nlminb's own test did not
                      # report convergence (lmm_sparse_verify()), on the
                      # profiled criterion's parameters; it was reported as
                      # 0 (the placeholder gradient's) whatever the fit.
                      max_grad = vf$gmax %||% NA_real_, max_grad_user = NA_real_,
                      grad_basis = "profiled", scaled_grad = vf$nstep %||% NA_real_,
                      verification = vf,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      nnz_factor = ev$nnz_factor, warnings = warn, nthreads = 1L,
                      reparameterized = FALSE,
                      reml = if (reml) list(criterion = crit, theta = th_user,
                                            convergence = opt$convergence, evaluations = evals))),
                 tx, reml)
}

# The linear mixed model's fixed effects are estimated on X* = X T^-1
# (design_transform(): the non-constant columns centred and scaled), and
# mapped back exactly: beta = T^-1 beta*, Var(beta) = T^-1 Var(beta*) T^-T,
# the information T' I* T (their cross blocks likewise). On the user's X the criterion's X'V^-1X is formed
# as X'X - RZX'RZX, which loses as many digits as its condition number has:
# with a covariate given as x * 1e-6 - 5 beside the intercept (condition
# ~1e13) the standard error of x was 5e-3 relative off and the one-factor
# REML search stopped without converging. The REML criterion's
# log|X'V^-1X| differs on X* by the constant 2 log|det T|, added back so the
# restricted log-likelihood stays the user's design's.
# The transform is only worth its cost (about 0.3 ms of a 1.2 ms sleepstudy
# REML fit: the transformed design, the remapping, a second condition
# number) where the user's X loses digits: some non-constant column with a
# standard deviation outside [0.1, 10] or a mean beyond 10 of them. Within
# those bounds X'X / n has a condition number below about 1e6 whatever the
# columns' correlation, so the estimates and standard errors on X and on X*
# agree to about 1e-10; outside them design_transform() runs as before.
# A column far from zero only within one level's rows (f + f:x2) passes
# those bounds over all rows, so it is looked for as well (within_far()).
lmm_design_transform <- function(X) {
  k <- ncol(X)
  fx <- col_facts(X)
  if (well_scaled_x(X, fx) && !within_far(X, fx))
    return(list(M = X, T = diag(1, k), scale = rep(1, k), identity = TRUE))
  design_transform(X)
}

# Whether some column of X is zero outside an earlier 0/1 column's rows and
# far from zero within them (within_centring()'s columns). `fx`: X's
# col_facts() when the caller has them.
within_far <- function(X, fx = NULL) {
  if (!is.matrix(X) || ncol(X) < 2L || nrow(X) < 2L) return(FALSE)
  k <- ncol(X)
  const <- fx$const %||% vapply(seq_len(ncol(X)), function(j) all(X[, j] == X[1L, j]), TRUE)
  # A column that is an earlier one times a far covariate (x:f under
  # contr.sum and the like: ratio_centring()). Fewer than two non-constant
  # columns (y ~ x) have no such pair: ratio_centring() returns its map
  # as it is, so it is not called (nor the identity matrices made).
  if (length(seq_len(k)[!const]) >= 2L &&
      !identical(ratio_centring(X, diag(1, k), seq_len(k), const), diag(1, k)))
    return(TRUE)
  # No 0/1 column that is not constant: nothing to look for.
  n1 <- fx$n1 %||% colSums(X == 1)
  if (!any((fx$n0 %||% colSums(X == 0)) + n1 == nrow(X) & n1 < nrow(X))) return(FALSE)
  wi <- within_moments(X, seq_len(ncol(X)), const)
  if (is.null(wi)) return(FALSE)
  !identical(within_centring(diag(1, k), seq_len(k), const, wi), diag(1, k))
}

# The fit's Hessian and gradient in other parameters at positions `idx`,
# old = new A there: H[idx, idx] -> A' H A (symmetrized), g[idx] -> A' g;
# then the user's largest gradient (the searched one stays $optinfo's
# max_grad: remap_grad_record()) and the condition number reported with the
# covariance, which stays the user's information's. A NULL Hessian
# (glmm_control(hessian = FALSE) on the nested route) or gradient is left.
remap_curvature <- function(fit, idx, A) {
  if (!is.null(fit$hessian)) {
    H <- fit$hessian
    H[idx, ] <- crossprod(A, H[idx, , drop = FALSE])
    H[, idx] <- H[, idx, drop = FALSE] %*% A
    H[idx, idx] <- (H[idx, idx] + t(H[idx, idx])) / 2
    fit$hessian[] <- H
  }
  if (!is.null(fit$gradient)) {
    fit$gradient[idx] <- drop(crossprod(A, fit$gradient[idx]))
    fit <- remap_grad_record(fit)
  }
  if (!is.null(attr(fit$cov_theta, "cond"))) {
    free <- !fit$on_boundary
    info <- -fit$hessian[free, free, drop = FALSE]
    attr(fit$cov_theta, "cond") <- if (anyNA(info)) NA_real_ else raw_condition(info)
    if (!is.null(fit$optinfo$hessian_cond)) fit$optinfo$hessian_cond <- attr(fit$cov_theta, "cond")
  }
  fit
}

# Whether X is used as it is (lmm_design_transform()): every non-constant
# column with a standard deviation in [0.1, 10] and a mean within 10 of them.
well_scaled_x <- function(X, fx = col_facts(X)) {
  k <- ncol(X)
  if (!(k > 0L && nrow(X) >= 2L)) return(FALSE)
  # Two passes: mean(x^2) - mean(x)^2 cancels exactly for the columns this
  # is for (x * 1e-6 - 5), which would then pass as constant. colMeans(X)
  # and sqrt(colMeans(Xc * Xc)), Xc = X - rep(mean, each = n), bitwise as R
  # computes them, in one C++ call without the copies (col_facts(), else
  # col_moments()).
  cm <- fx %||% col_moments(X)
  well_scaled_moments(cm$mean, cm$sd_cm)
}

# The columns' facts lmm_design_transform() decides on, from one C++ pass
# (cpp_col_facts(), src/col-moments.cpp): `mean` and `sd_cm` bitwise
# col_moments()'s, `const` (all(x == x[1])), `n0` and `n1` (colSums(X == 0),
# colSums(X == 1)). NULL where X is not a double matrix with rows or some
# entry or moment is not finite: the callers then take the R expressions.
col_facts <- function(X) {
  if (!(is.double(X) && is.matrix(X) && nrow(X) > 0L)) return(NULL)
  fx <- cpp_col_facts(X)
  if (fx$finite) fx
}

# The same rule from the columns' means and (population) standard
# deviations, as glmm_shards() has them from its shards' sums.
well_scaled_moments <- function(mn, sdv) {
  nonconst <- sdv > 1e-12 * pmax(abs(mn), 1e-300)  # design_transform()'s rule
  s <- sdv[nonconst]
  all(s >= 0.1 & s <= 10 & abs(mn[nonconst]) <= 10 * s)
}

# colMeans(M) (`mean`), and per column sqrt(colMeans((x - mean)^2)) (`sd_cm`),
# sqrt(mean((x - mean)^2)) (`sd_mean`) and sqrt(mean(x^2)) (`rms`), bitwise
# R's (cpp_col_moments() sums in long double as colMeans() and mean() do,
# mean() with its second pass); `n` the rows. By the R expressions for a
# matrix that is not double, or where a moment overflows (mean() then
# takes another path).
col_moments <- function(M) {
  cm <- if (is.double(M) && is.matrix(M) && nrow(M) > 0L) cpp_col_moments(M)
  if (!is.null(cm) && cm$finite) return(cm)
  mn <- colMeans(M)
  Xc <- M - rep(mn, each = nrow(M))
  list(mean = mn, sd_cm = sqrt(colMeans(Xc * Xc)),
       sd_mean = vapply(seq_len(ncol(M)), function(j) sqrt(mean((M[, j] - mn[j])^2)), 1),
       rms = vapply(seq_len(ncol(M)), function(j) sqrt(mean(M[, j]^2)), 1), n = nrow(M))
}

lmm_standard_x <- function(fit, tx, reml) {
  if (isTRUE(tx$identity)) return(fit)
  p <- ncol(tx$T)
  ip <- seq_len(p)
  Ti <- backsolve(tx$T, diag(1, p))
  b <- drop(Ti %*% fit$beta)
  fit$beta[] <- b
  fit$theta[ip] <- b
  # Rows, then columns: the fixed effects' cross blocks with the covariance
  # parameters (nil on the profiled routes, not on the one-factor ML one)
  # map too; a boundary parameter's NA row and column stay NA.
  V <- Vs <- fit$cov_theta
  V[ip, ] <- Ti %*% V[ip, , drop = FALSE]
  V[, ip] <- V[, ip, drop = FALSE] %*% t(Ti)
  V[ip, ip] <- (V[ip, ip] + t(V[ip, ip])) / 2
  fit$cov_theta[] <- V
  # The standardized covariance and its map, for the delta methods of
  # derived quantities (delta_cov(); star_covariance() keeps the same).
  if (is.matrix(Vs)) {
    free <- which(!is.na(diag(Vs)))
    if (all(ip %in% free) && !anyNA(Vs[free, free])) {
      Tf <- diag(1, ncol(Vs))
      Tf[ip, ip] <- Ti
      attr(fit$cov_theta, "star") <- list(T = Tf[free, free, drop = FALSE],
                                          V = unname(Vs[free, free, drop = FALSE]),
                                          index = free, P = ncol(Vs))
    }
  }
  fit <- remap_curvature(fit, ip, tx$T)
  if (reml) {
    shift <- sum(log(abs(diag(tx$T))))
    fit$loglik <- fit$loglik - shift
    fit$optinfo$reml$criterion <- fit$optinfo$reml$criterion + 2 * shift
  }
  fit
}
