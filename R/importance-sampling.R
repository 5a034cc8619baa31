# Importance sampling of the marginal likelihood of several-term models:
# the sampler (shared by loglik_check() and the fit), and maximum likelihood
# of the importance-sampled log-likelihood, glmm(control =
# glmm_control(importance_draws = )), run by the sparse Laplace route
# (glmm_sparse_fit_units()) after its Laplace fit, by refine_laplace()
# (search.R).
#
# With u the spherical random effects (b = Lambda u, u ~ N(0, I)), the
# marginal likelihood is L = E_q[p(y | u) phi(u) / q(u)] for any proposal
# q covering the integrand; with u_k ~ q, k = 1..K, it is estimated by the
# mean of r_k = p(y | u_k) phi(u_k) / q(u_k). The proposal is the Laplace
# approximation's Gaussian at the conditional modes u^(theta) (precision
# H = I + A'WA, A = Z Lambda, W the working weights at the modes), widened
# to a multivariate t with `df` degrees of freedom, made at every parameter
# value from the same standard draws (common random numbers): u_k(theta) =
# u^(theta) + L(theta)^-T z_k / sqrt(g_k). The estimate is then a smooth
# function of the parameters, and the proposal follows them, so that its
# effective sample size does not collapse as they move (draws held fixed
# on either scale, u or b, lose it within a fraction of a standard error
# in a few hundred dimensions: on the spherical scale for well informed
# random effects, on the data's scale for poorly informed ones).
#
# The fit (Monte Carlo maximum likelihood with the importance sampler of
# Skaug and Fournier 2006): the estimate is maximized by the sparse route's
# own search from the Laplace optimum, its gradient by central differences
# with the same draws. The covariance of the estimates adds the Monte Carlo
# error to the sampling error: with I the observed information of the
# importance-sampled log-likelihood and V the Monte Carlo covariance of its
# gradient at the optimum (from 10 batches of the draws),
# I^-1 + I^-1 V I^-1, reported separately as $importance$mc_cov.
#
# Skaug, H. J. and Fournier, D. A. (2006). Automatic approximation of the
# marginal likelihood in non-Gaussian hierarchical models. Computational
# Statistics & Data Analysis 51, 699-709.

# The standard draws of the proposal, made once: z (q x draws) standard
# normal and, for the t, g ~ chi2_df / df.
importance_draws <- function(nq, draws, df) {
  z <- matrix(stats::rnorm(nq * draws), nq, draws)
  g <- if (is.finite(df)) stats::rchisq(draws, df) / df else rep(1, draws)
  # x' H x of the draws x below
  list(z = z, g = g, df = df, maha = colSums(z^2) / g)
}

# The Laplace approximation at theta on a sparse Laplace engine `eng`
# (designs with p coefficient columns and Z, the Lambda map of `re`), on
# the rows `pos` of positive weight (the others add nothing): a function of
# the engine's parameters giving the Laplace log-likelihood, the modes
# (cpp_sparse_modes()), the dispersion parameter (0 without one), the rows
# `pos` of A = Z Lambda and the sparse Cholesky factor of the random
# effects' negative Hessian H = I + A'WA over those rows (so its pattern,
# and the ordering that maps the importance draws, does not depend on the
# others). Shared by the importance sampler and the second-order
# approximation (second-order-laplace.R).
laplace_state <- function(eng, p, Z, re, pos) {
  nq <- ncol(Z)
  Zp <- as_dgc(Z[pos, , drop = FALSE])
  function(th) {
    laplace <- sparse_eval(eng, th, FALSE)$loglik
    m <- cpp_sparse_modes(eng, th)
    Lam <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = th[p + re$lam_k],
                                dims = c(nq, nq))
    A <- as_dgc(Zp %*% Lam)
    H <- Matrix::crossprod(A, A * m$w[pos]) + Matrix::Diagonal(nq)
    list(laplace = laplace, modes = m, A = A,
         phi = if (length(th) > p + re$ntheta) th[p + re$ntheta + 1L] else 0,
         chol = Matrix::Cholesky(methods::as(H, "CsparseMatrix"), perm = TRUE, LDL = FALSE))
  }
}

# The proposal for the Laplace state `st` (laplace_state()), from the
# standard draws `sd` (importance_draws()). Returns the draws' deviations
# from the modes, x = u - u^ (q x draws), and log q(u_k) up to the constant
# -q/2 log(2 pi) that log phi(u_k) shares, `lq`, and log det H.
importance_proposal <- function(st, sd) {
  ch <- st$chol
  nq <- ncol(st$A)
  df <- sd$df
  logdet <- 2 * as.numeric(Matrix::determinant(ch, sqrt = TRUE, logarithm = TRUE)$modulus)
  # x = P' L^-T z ~ N(0, H^-1) (H = P' L L' P), divided by sqrt(g) for the
  # t; x' H x = |z|^2 / g.
  x <- as.matrix(Matrix::solve(ch, Matrix::solve(ch, sd$z, system = "Lt"), system = "Pt"))
  x <- x * rep(1 / sqrt(sd$g), each = nq)
  maha <- sd$maha
  lq <- logdet / 2 + if (is.finite(df))
    lgamma((df + nq) / 2) - lgamma(df / 2) - nq / 2 * log(df / 2) - (df + nq) / 2 * log1p(maha / df)
  else -maha / 2
  list(x = x, lq = lq, logdet = logdet)
}

# The sampler on a sparse Laplace engine `eng` (on designs X, Z, with the
# Lambda map of `re`): a function of the engine's parameters giving the
# Laplace log-likelihood and the draws' log importance ratios log r_k minus
# that value (`draws` draws of seed `seed`, the same at every theta); with
# `check`, the Laplace value rebuilt here must be the engine's.
importance_sampler <- function(eng, X, Z, y, w, off, re, family, draws, df, seed, nthreads = 1L) {
  nq <- ncol(Z)
  pos <- w > 0
  state <- laplace_state(eng, ncol(X), Z, re, pos)
  yp <- as.numeric(y[pos])
  wp <- as.numeric(w[pos])
  # sum_i l(y_i | eta0_i + (A x_k)_i) for each column x_k of x
  cond <- function(eta0, A, x, phi)
    cpp_family_loglik_draws(family$family_code, family$link_code, yp, wp, eta0, A, x, phi, nthreads)
  sd <- with_seed(seed, importance_draws(nq, draws, df), kind = importance_rng_kind)
  function(th, check = FALSE) {
    st <- state(th)
    m <- st$modes
    eta0 <- m$eta[pos]
    l0 <- cond(eta0, st$A, matrix(0, nq, 1L), st$phi)
    prop <- importance_proposal(st, sd)
    if (check) {
      lap_r <- l0 - sum(m$u^2) / 2 - prop$logdet / 2
      if (!is.finite(lap_r) || abs(lap_r - st$laplace) > 1e-6 * max(1, abs(st$laplace)))
        stop("importance sampling: the Laplace approximation rebuilt from the fit does not reproduce its ",
             "log-likelihood; importance sampling is not available for this fit", call. = FALSE)
    }
    u <- prop$x + m$u
    logr <- cond(eta0, st$A, prop$x, st$phi) - l0 - (colSums(u^2) - sum(m$u^2)) / 2 -
      (prop$lq - prop$logdet / 2)
    if (!all(is.finite(logr)))
      stop("importance sampling: some importance weights are not finite", call. = FALSE)
    list(laplace = st$laplace, logr = logr)
  }
}

log_mean_exp <- function(l) {
  top <- max(l)
  top + log(mean(exp(l - top)))
}

# The importance-sampled log-likelihood at theta from `sampler` (its value
# `at` there if already made): the value, its Monte Carlo standard error
# sd(r) / (mean(r) sqrt(K)) and the effective sample size; with steps `h`
# (NA: a parameter held, gradient 0), also the gradient by central
# differences with the same draws, its Monte Carlo covariance from 10
# batches of the draws (cov of the batch gradients / 10) and the batch
# standard errors.
importance_value <- function(sampler, th, h = NULL, at = NULL) {
  at <- at %||% sampler(th)
  K <- length(at$logr)
  top <- max(at$logr)
  r <- exp(at$logr - top)
  out <- list(loglik = at$laplace + top + log(mean(r)), se = stats::sd(r) / (mean(r) * sqrt(K)),
              ess = sum(r)^2 / sum(r^2))
  if (is.null(h)) return(out)
  batch <- rep(seq_len(10L), length.out = K)
  batch_ll <- function(a) vapply(split(a$logr, batch), function(l) a$laplace + log_mean_exp(l), 1)
  P <- length(th)
  g <- numeric(P)
  Gb <- matrix(0, 10L, P)
  for (k in which(is.finite(h))) {
    up <- sampler(replace(th, k, th[k] + h[k]))
    dn <- sampler(replace(th, k, th[k] - h[k]))
    g[k] <- (up$laplace + log_mean_exp(up$logr) - dn$laplace - log_mean_exp(dn$logr)) / (2 * h[k])
    Gb[, k] <- (batch_ll(up) - batch_ll(dn)) / (2 * h[k])
  }
  out$gradient <- g
  out$gradient_cov <- stats::cov(Gb) / 10
  out$gradient_se <- ifelse(is.finite(h), sqrt(diag(out$gradient_cov)), NA_real_)
  out
}

# The evaluator of the importance-sampled log-likelihood on the route's
# engine `eng` (designs rp$X, rp$Z), for refine_laplace() (search.R): its
# value and gradient (central differences with the same draws, steps of a
# hundredth of the Laplace standard error `se`; parameters with NA steps
# held), with the Monte Carlo quantities of importance_value().
importance_evaluator <- function(eng, rp, re, y, weights, offset, family, theta_s, se, imp,
                                 control) {
  sampler <- importance_sampler(eng, rp$X, as_dgc(rp$Z), y, weights, offset, re, family,
                                imp$draws, imp$df, imp$seed, control$nthreads)
  sampler(theta_s, check = TRUE)
  h <- 1e-2 * se
  function(th) importance_value(sampler, th, h)
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

# The generators of the draws: R's defaults, whatever the session's
# RNGkind(), so that the recorded seed alone reproduces a fit (a session
# with another normal.kind had drawn other proposals from the same seed).
importance_rng_kind <- c("Mersenne-Twister", "Inversion", "Rejection")

# The importance-sampling settings of glmm_control(), or NULL for the
# Laplace fit; the seed drawn from the session's stream when not given (and
# recorded in the fit with the generators, so that the same draws can be
# made again).
importance_settings <- function(control) {
  draws <- control$importance_draws %||% 0L
  if (draws == 0L) return(NULL)
  seed <- control$importance_seed %||% sample.int(.Machine$integer.max, 1L)
  list(draws = draws, df = control$importance_df, seed = seed, rng_kind = importance_rng_kind)
}

# The fit's warning when the sampler has too few effective draws.
importance_warnings <- function(imp) {
  if (is.finite(imp$ess) && imp$ess < 50)
    sprintf("importance sampling: effective sample size %.0f of %d draws (below 50): the proposal covers the integrand poorly and the Monte Carlo standard errors may understate the error; raise glmm_control(importance_draws = )",
            imp$ess, imp$draws)
}
