# Importance sampling of the marginal likelihood of several-term models:
# the proposal (shared by loglik_check() and the fit), and maximum
# likelihood of the importance-sampled log-likelihood, glmm(control =
# glmm_control(importance_draws = )), run by the sparse Laplace route
# (glmm_sparse_fit_units()) after its Laplace fit.
#
# With u the spherical random effects (b = Lambda u, u ~ N(0, I)), the
# marginal likelihood is L = E_q[p(y | u) phi(u) / q(u)] for any proposal
# q covering the integrand; with u_k ~ q, k = 1..K, it is estimated by the
# mean of r_k = p(y | u_k) phi(u_k) / q(u_k). The proposal here is the
# Laplace approximation's Gaussian at the conditional modes u^ (precision
# H = I + A'WA, A = Z Lambda, W the working weights at the modes), widened
# to a multivariate t with `df` degrees of freedom.
#
# The fit (Geyer and Thompson 1992; Booth and Hobert 1999, sec. 3; the
# importance-sampling MCML of Knudson's glmm package): the draws u_k are
# made once, from the proposal at the Laplace estimates, and held fixed
# (common random numbers), so that log mean r_k(theta) is a smooth function
# of all parameters with an exact gradient, maximized by the sparse route's
# own search. The proposal is then re-centred at the new estimates and the
# search repeated, until the estimates move by less than a tenth of a
# standard error or within their Monte Carlo error. The covariance of the estimates adds the Monte Carlo
# error to the sampling error: with I the observed information of the
# importance-sampled log-likelihood and V the Monte Carlo covariance of its
# gradient at the optimum, I^-1 + I^-1 V I^-1 (Booth and Hobert 1999, eq. 3.4
# for the Monte Carlo part), reported separately as $importance$mc_cov.

# The proposal at the modes `m` (cpp_sparse_modes()) of the design
# A = Z Lambda (n x q): `draws` draws from the current seed. Returns the
# draws' deviations from the modes, x = u - u^ (q x draws), and log q(u_k)
# up to the constant -q/2 log(2 pi) that log phi(u_k) shares, `lq`.
importance_proposal <- function(A, m, draws, df) {
  nq <- ncol(A)
  H <- Matrix::crossprod(A, A * m$w) + Matrix::Diagonal(nq)
  ch <- Matrix::Cholesky(methods::as(H, "CsparseMatrix"), perm = TRUE, LDL = FALSE)
  logdet <- 2 * as.numeric(Matrix::determinant(ch, sqrt = TRUE, logarithm = TRUE)$modulus)
  # x = P' L^-T z ~ N(0, H^-1) (H = P' L L' P), divided by sqrt(g),
  # g ~ chi2_df / df, for the t; x' H x = |z|^2 / g.
  z <- matrix(stats::rnorm(nq * draws), nq, draws)
  g <- if (is.finite(df)) stats::rchisq(draws, df) / df else rep(1, draws)
  x <- as.matrix(Matrix::solve(ch, Matrix::solve(ch, z, system = "Lt"), system = "Pt"))
  x <- sweep(x, 2L, sqrt(g), "/")
  maha <- colSums(z^2) / g
  lq <- logdet / 2 + if (is.finite(df))
    lgamma((df + nq) / 2) - lgamma(df / 2) - nq / 2 * log(df / 2) - (df + nq) / 2 * log1p(maha / df)
  else -maha / 2
  list(x = x, lq = lq, logdet = logdet)
}

# The importance-sampled log-likelihood with fixed draws `U` (q x K, the
# spherical random effects) and their weights' parts free of the parameters
# `base` (log phi(u_k) - log q(u_k), up to a shared constant), as a function
# of the engine's parameters theta* (coefficients on the design X, the
# entries of Lambda, the log dispersion): the value, its exact gradient,
# the Monte Carlo standard error of the value, the effective sample size
# and the Monte Carlo covariance of the gradient (the delta method for the
# ratio sum_k r_k d_k / sum_k r_k, d_k = d log r_k / d theta). Rows of zero
# weight are left out; the draws are taken in blocks so that no q x K
# product beyond U itself is formed at once.
importance_evaluator <- function(X, Z, y, w, off, re, family, U, base, nthreads) {
  pos <- w > 0
  X <- X[pos, , drop = FALSE]
  storage.mode(X) <- "double"
  Z <- as_dgc(Z[pos, , drop = FALSE])
  y <- as.numeric(y[pos])
  w <- as.numeric(w[pos])
  off <- as.numeric(off[pos])
  p <- ncol(X)
  nq <- ncol(Z)
  K <- ncol(U)
  nth <- re$ntheta
  P <- p + nth + has_dispersion(family)
  block <- max(16L, min(K, floor(4e6 / (nq + length(re$lam_row)))))
  starts <- seq(1L, K, by = block)
  function(th) {
    Lam <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = th[p + re$lam_k],
                                dims = c(nq, nq))
    eta0 <- drop(X %*% th[seq_len(p)]) + off
    phi <- if (P > p + nth) th[[P]] else 0
    ll <- numeric(K)
    D <- matrix(0, P, K)
    for (s in starts) {
      k <- s:min(K, s + block - 1L)
      Uk <- U[, k, drop = FALSE]
      r <- cpp_family_score_draws(family$family_code, family$link_code, y, w, eta0, Z,
                                  as.matrix(Lam %*% Uk), X, phi, nthreads)
      ll[k] <- r$loglik
      D[seq_len(p), k] <- r$gX
      # d eta / d Lambda[i, j] = Z[, i] u_j: entry by entry, added over the
      # entries of each parameter
      D[p + seq_len(nth), k] <- rowsum(r$gZ[re$lam_row, , drop = FALSE] *
                                         Uk[re$lam_col, , drop = FALSE],
                                       re$lam_k, reorder = TRUE)
      if (P > p + nth) D[P, k] <- r$gphi
    }
    logr <- ll + base
    if (!all(is.finite(logr))) return(list(loglik = -Inf, gradient = rep(NA_real_, P)))
    top <- max(logr)
    r <- exp(logr - top)
    wk <- r / sum(r)
    g <- drop(D %*% wk)
    Dc <- (D - g) * rep(wk, each = P)
    list(loglik = top + log(mean(r)), gradient = g,
         se = stats::sd(r) / (mean(r) * sqrt(K)), ess = 1 / sum(wk^2),
         gradient_cov = tcrossprod(Dc))
  }
}

# Maximum likelihood of the importance-sampled log-likelihood from the
# Laplace optimum theta_s of the sparse engine `eng` (on the route's
# designs rp$X, rp$Z): `imp` the settings (draws, df, seed), `lower`,
# `boundary`, `H0` the Laplace Hessian there (the first search's
# curvature). Returns theta (the engine's scale), the search record (opt,
# stages), the evaluator at the final proposal and the settings used.
importance_search <- function(eng, rp, re, y, weights, offset, family, theta_s, lower, control,
                              boundary, H0, imp) {
  p <- ncol(rp$X)
  nq <- ncol(rp$Z)
  Z <- as_dgc(rp$Z)
  # the Laplace standard errors (engine scale), the unit of the moves
  free <- which(!boundary(theta_s))
  se <- rep(NA_real_, length(theta_s))
  Vf <- tryCatch(solve(-H0[free, free, drop = FALSE]), error = function(e) NULL)
  if (!is.null(Vf)) se[free] <- sqrt(pmax(diag(Vf), 0))
  th <- theta_s
  rounds <- list()
  for (round in seq_len(imp$max_rounds)) {
    m <- cpp_sparse_modes(eng, th)
    Lam <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = th[p + re$lam_k],
                                dims = c(nq, nq))
    A <- methods::as(Z %*% Lam, "CsparseMatrix")
    prop <- with_seed(imp$seed, importance_proposal(A, m, imp$draws, imp$df))
    U <- prop$x + m$u
    ev <- importance_evaluator(rp$X, Z, y, weights, offset, re, family, U,
                               -colSums(U^2) / 2 - prop$lq, control$nthreads)
    run <- optimize_sparse(ev, th, lower, control, boundary, H0 = H0)
    # The move in Laplace standard errors, and in Monte Carlo standard
    # errors of the estimates (the search's curvature and the gradient's
    # Monte Carlo covariance): the proposal has settled when the estimates
    # move by less than a tenth of a standard error, or by no more than
    # their Monte Carlo error (more draws then buy precision, more rounds
    # do not).
    H0 <- run$curvature %||% H0
    mc <- rep(NA_real_, length(th))
    Hi <- tryCatch(solve(-H0[free, free, drop = FALSE]), error = function(e) NULL)
    if (!is.null(Hi)) mc[free] <- sqrt(pmax(diag(Hi %*% run$at$gradient_cov[free, free, drop = FALSE] %*% Hi), 0))
    d <- abs(run$theta - th)[free]
    move <- suppressWarnings(max(d / se[free], na.rm = TRUE))
    move_mc <- suppressWarnings(max(d / mc[free], na.rm = TRUE))
    settled <- is.finite(move) && (move < 0.1 || (is.finite(move_mc) && move_mc < 2))
    rounds[[round]] <- list(loglik = run$at$loglik, ess = run$at$ess, move_se = move,
                            move_mc_se = move_mc, stages = run$stages)
    th <- run$theta
    if (settled) break
  }
  list(theta = th, opt = run$opt, stages = run$stages, ev = ev, rounds = rounds,
       converged = settled)
}

# The covariance of the estimates with the Monte Carlo error added, as an
# effective Hessian for star_covariance(): with I = -H the observed
# information and V the Monte Carlo covariance of the gradient, the
# covariance is I^-1 + I^-1 V I^-1 = (I (I + V)^-1 I)^-1. Parameters held
# on a boundary are left as they are (NA).
importance_hessian <- function(H, V, boundary) {
  f <- which(!boundary)
  I <- -H[f, f, drop = FALSE]
  Ieff <- tryCatch(I %*% solve(I + V[f, f, drop = FALSE], I), error = function(e) NULL)
  if (is.null(Ieff)) return(H)
  H[f, f] <- -(Ieff + t(Ieff)) / 2
  H
}

# The importance-sampling settings of glmm_control(), or NULL for the
# Laplace fit; the seed drawn from the session's stream when not given (and
# recorded in the fit, so that the same draws can be made again).
importance_settings <- function(control) {
  draws <- control$importance_draws %||% 0L
  if (draws == 0L) return(NULL)
  seed <- control$importance_seed %||% sample.int(.Machine$integer.max, 1L)
  list(draws = draws, df = control$importance_df, seed = seed, max_rounds = 5L)
}

# The fit's warnings about the sampler: too few effective draws, or
# estimates still moving when the proposal was last re-centred.
importance_warnings <- function(imp) {
  c(if (is.finite(imp$ess) && imp$ess < 50)
      sprintf("importance sampling: effective sample size %.0f of %d draws (below 50): the proposal covers the integrand poorly and the Monte Carlo standard errors may understate the error; raise glmm_control(importance_draws = ) or lower importance_df",
              imp$ess, imp$draws),
    if (!isTRUE(imp$recentred))
      sprintf("importance sampling: the estimates still moved by %.2g standard errors (%.2g Monte Carlo standard errors) when the proposal was re-centred for the %d-th time; the Monte Carlo error may be larger than reported",
              imp$rounds[[length(imp$rounds)]]$move_se, imp$rounds[[length(imp$rounds)]]$move_mc_se,
              length(imp$rounds)))
}
