# Binomial (logit) and Poisson (log) models with one known-covariance random
# intercept (1 | id), Var(b) = s^2 K, by the Laplace approximation at the
# joint mode (no PQL). The engine works in the space of a factor K = L L'
# (L levels x r: given by kfactor(), or the Cholesky / eigen factor of a
# dense K): b = s L u with u ~ N(0, I_r), so K is never formed and the
# penalized Hessian M = I + s^2 L' W L is r x r (the Woodbury form of
# K^{-1}/s^2 + W). The kernels forming L'WL and diag(L M^{-1} L') are in
# src/known-laplace.cpp; the rest is O(n + r^2) per evaluation. The
# log-likelihood is the Laplace one, l(eta) - u'u/2 - log det(M)/2, the
# value glmer() reports for the same model written with the design Z L.
# Its gradient in (beta, log s) is exact, including the dependence of
# log det(M) on the modes (as in Rasmussen and Williams 2006, sec. 5.5.1).

# The canonical-link pieces the engine needs: log density, score, weight and
# the derivative of the weight in eta (observed = expected information).
known_laplace_family <- function(family) {
  log1pexp <- function(x) pmax(x, 0) + log1p(exp(-abs(x)))
  switch(paste(family$family, family$link),
    "binomial logit" = list(
      ll = function(eta, y, m) sum(m * y * eta - m * log1pexp(eta) + lchoose(m, round(m * y))),
      d = function(eta, y, m) {
        mu <- stats::plogis(eta)
        w <- m * mu * (1 - mu)
        list(r = m * (y - mu), w = w, w3 = w * (1 - 2 * mu))
      }),
    "poisson log" = list(
      ll = function(eta, y, m) sum(y * eta - exp(eta) - lgamma(y + 1)),
      d = function(eta, y, m) {
        mu <- exp(eta)
        list(r = y - mu, w = mu, w3 = mu)
      }),
    NULL)
}

# Per-level sums of an observation vector (levels without observations: 0).
# With one observation per level in level order (the usual GWAS layout)
# the sums are the vector itself; otherwise a sparse product, which avoids
# rowsum()'s character row names (a third of the engine's R time at
# n = 20,000).
level_sums <- function(v, index, nl) {
  if (length(index) == nl && !is.unsorted(index, strictly = TRUE)) return(v)
  as.vector(Matrix::crossprod(Matrix::sparseMatrix(i = seq_along(index), j = index, x = 1,
                                                   dims = c(length(index), nl)), v))
}

# The engine for one model: an environment-backed evaluator of the Laplace
# log-likelihood and its gradient at (beta, log s), warm-starting the
# Newton iterations for the modes from the previous evaluation.
known_laplace_engine <- function(X, y, m, offset, index, L, fam, threads) {
  nl <- nrow(L)
  r <- ncol(L)
  u <- numeric(r)
  Msolve <- function(U, v) backsolve(U, backsolve(U, v, transpose = TRUE))
  state <- NULL
  # The factor of M from the previous evaluation (at its modes): the inner
  # iterations first use it as a fixed approximation of the Hessian (the
  # chord method, O(n r) per iteration instead of O(n r^2)); consecutive
  # evaluations of the optimizer are close, so they converge in a few steps.
  # Up to 60 chord steps (each O(n r)), then Newton with a fresh factor per iteration.
  Uprev <- NULL
  # Modes at (beta, s) with step halving; they stop when the decrement
  # g' M^{-1} g is below 1e-10 (chord: 1e-14, as its convergence is linear),
  # taking that last step, so that the modes are accurate to ~1e-10, which
  # the exact gradient needs. The factor with the leverages is then computed
  # at the modes by eval().
  modes <- function(beta, s) {
    eta0 <- drop(X %*% beta) + offset
    eta_at <- function(v) eta0 + s * drop(L %*% v)[index]
    # With refresh = FALSE the factor U is kept throughout (the chord
    # method); with refresh = TRUE it is recomputed at the current modes
    # only when the last step shrank the decrement by less than a factor 10
    # (lazy Newton: a factor costs O(n r^2), a step O(n r)).
    ascend <- function(uu, U, maxit, refresh) {
      eta <- eta_at(uu)
      h <- fam$ll(eta, y, m) - 0.5 * sum(uu^2)
      dec_old <- Inf
      for (it in seq_len(maxit)) {
        dv <- fam$d(eta, y, m)
        g <- s * drop(crossprod(L, level_sums(dv$r, index, nl))) - uu
        fresh <- FALSE
        if (refresh && (is.null(U) || sum(g * Msolve(U, g)) > 0.1 * dec_old)) {
          f <- cpp_known_laplace_factor(L, level_sums(dv$w, index, nl), s^2, FALSE, threads)
          if (!isTRUE(f$ok)) return(NULL)
          U <- f$U
          fresh <- TRUE
        }
        delta <- Msolve(U, g)
        dec_old <- sum(g * delta)
        if (dec_old < if (fresh) 1e-10 else 1e-14) {
          uu <- uu + delta
          eta <- eta_at(uu)
          return(list(u = uu, eta = eta, h = fam$ll(eta, y, m) - 0.5 * sum(uu^2),
                      dv = fam$d(eta, y, m)))
        }
        step <- 1
        repeat {
          un <- uu + step * delta
          en <- eta_at(un)
          hn <- fam$ll(en, y, m) - 0.5 * sum(un^2)
          if (is.finite(hn) && hn >= h - 1e-12 * abs(h)) break
          step <- step / 2
          if (step < 1e-10) return(NULL)
        }
        uu <- un
        eta <- en
        h <- hn
      }
      NULL
    }
    out <- if (!is.null(Uprev)) ascend(u, Uprev, 60L, FALSE)
    if (is.null(out)) out <- ascend(u, NULL, 200L, TRUE)
    out
  }
  # The value at par = (beta, log s), and with gradient = TRUE its gradient,
  # whose leverages cost a second O(n r^2) product (the optimizer's line
  # searches need values only).
  eval <- function(par, gradient = TRUE) {
    p <- ncol(X)
    beta <- par[seq_len(p)]
    s <- exp(par[p + 1L])
    if (!is.null(state) && identical(state$par, par)) {
      if (!gradient || !is.null(state$gradient)) return(state)
      # the optimizer asks for the gradient where it took the value: the
      # modes and the factor are kept, only the leverages are added
      md <- state$modes
      f <- c(state$factor, cpp_known_laplace_leverages(L, state$factor$U, threads))
      value <- state$value
    } else {
      md <- modes(beta, s)
      if (is.null(md)) return(list(par = par, value = -Inf, gradient = rep(NA_real_, p + 1L)))
      u <<- md$u
      wl <- level_sums(md$dv$w, index, nl)
      f <- cpp_known_laplace_factor(L, wl, s^2, gradient, threads)
      if (!isTRUE(f$ok)) return(list(par = par, value = -Inf, gradient = rep(NA_real_, p + 1L)))
      Uprev <<- f$U
      value <- md$h - 0.5 * f$logdet
      if (!gradient) {
        state <<- list(par = par, value = value, gradient = NULL, modes = md, factor = f)
        return(state)
      }
    }
    dv <- md$dv
    cobs <- -0.5 * dv$w3 * s^2 * f$lev[index]
    cl <- level_sums(cobs, index, nl)
    q <- drop(L %*% Msolve(f$U, drop(crossprod(L, cl))))
    gbeta <- drop(crossprod(X, dv$r + cobs - s^2 * dv$w * q[index]))
    Lu <- drop(L %*% md$u)
    du <- (2 * Msolve(f$U, md$u) - md$u) / s
    gs <- sum(level_sums(dv$r, index, nl) * Lu) - (r - f$trace_inv) / s +
      sum(cl * (Lu + s * drop(L %*% du)))
    state <<- list(par = par, value = value, gradient = c(gbeta, s * gs), modes = md, factor = f)
    state
  }
  list(eval = eval, reset = function() { u <<- numeric(r); Uprev <<- NULL }, nl = nl, r = r)
}

# Fits the model: nlminb over (beta, log s) from the glm fit, the boundary
# s = 0 (where the Laplace log-likelihood is the glm one) compared, and the
# covariance of (beta, s) from central differences of the exact gradient.
known_laplace_fit <- function(X, y, m, offset, index, L, family, control, g) {
  fam <- known_laplace_family(family)
  p <- ncol(X)
  check_full_rank(X)
  g0 <- suppressWarnings(stats::glm.fit(X, y, weights = m, offset = offset, family = family))
  ll0 <- fam$ll(drop(X %*% g0$coefficients) + offset, y, m)
  eng <- known_laplace_engine(X, y, m, offset, index, L, fam, control$nthreads)
  obj <- function(par) -eng$eval(par, gradient = FALSE)$value
  gr <- function(par) -eng$eval(par)$gradient
  s0 <- 0.5 / sqrt(sum(L^2) / nrow(L))
  start <- known_laplace_start(X, y, m, offset, index, L, fam, control,
                               c(g0$coefficients, log(s0)))
  opt <- if (!is.null(attr(start, "hessian")))
    known_laplace_qn(eng, c(start), attr(start, "hessian"), control$rel.tol)
  if (is.null(opt))
    opt <- stats::nlminb(c(start), obj, gr, control = list(rel.tol = control$rel.tol,
                                                           iter.max = control$iter.max,
                                                           eval.max = control$eval.max,
                                                           trace = control$trace))
  warn <- character()
  at <- eng$eval(opt$par)
  singular <- !is.finite(at$value) || ll0 >= at$value || opt$par[p + 1L] < log(1e-4 * s0)
  if (singular) {
    beta <- g0$coefficients
    s <- 0
    loglik <- ll0
    u <- numeric(eng$r)
    eta <- drop(X %*% beta) + offset
    lev <- numeric(eng$nl)
  } else {
    beta <- opt$par[seq_len(p)]
    s <- exp(opt$par[p + 1L])
    loglik <- at$value
    u <- at$modes$u
    eta <- at$modes$eta
    lev <- at$factor$lev
    if (opt$convergence != 0L)
      warn <- c(warn, sprintf("the optimizer did not report convergence: %s", opt$message))
  }
  names(beta) <- colnames(X)
  cov_theta <- known_laplace_cov(eng, beta, s, singular, control$hessian)
  if (singular)  # at s = 0 the model is the glm: its information for beta
    cov_theta[seq_len(p), seq_len(p)] <- solve(crossprod(X * sqrt(g0$weights)))
  if (!singular) {
    # The gain the optimizer left, g' C g / 2 (C = -H^{-1}), is invariant to
    # the scale of the data, unlike the raw gradient, which grows with n.
    gs <- at$gradient
    gs[p + 1L] <- gs[p + 1L] / s
    gain <- if (!anyNA(cov_theta)) 0.5 * sum(gs * drop(cov_theta %*% gs)) else max(abs(gs))
    if (!is.finite(gain) || gain > control$grad_tol)
      warn <- c(warn, sprintf("the search stopped short of the optimum: the gradient predicts a further gain of %.2g in log-likelihood",
                              gain))
  }
  if (!singular && anyNA(cov_theta[seq_len(p), seq_len(p)]))
    warn <- c(warn, "the Hessian of the Laplace log-likelihood is not negative definite: standard errors are not available")
  list(beta = beta, s = s, loglik = loglik, b = s * drop(L %*% u), condvar = s^2 * lev,
       eta = eta, cov_theta = cov_theta, singular = singular,
       gradient = if (!singular) at$gradient,
       optinfo = list(optimizer = opt$optimizer %||% "nlminb", method = "Laplace (known covariance, dense factor)",
                      convergence = opt$convergence, message = opt$message,
                      iterations = opt$iterations, evaluations = opt$evaluations,
                      rank = eng$r, warnings = warn))
}

# Covariance of (beta, s): the inverse of minus the Hessian of the Laplace
# log-likelihood in (beta, s), by forward differences of the exact gradient
# (accurate to ~1e-8, so forward steps of 1e-5 suffice)
# (in s, from the log s gradient: dl/ds = (dl/dlog s) / s). At the boundary
# s = 0 only beta's block, from the glm information.
known_laplace_cov <- function(eng, beta, s, singular, hessian) {
  p <- length(beta)
  out <- matrix(NA_real_, p + 1L, p + 1L)
  if (!hessian || singular) return(out)
  grad_s <- function(th) {
    e <- eng$eval(c(th[seq_len(p)], log(th[p + 1L])))
    g <- e$gradient
    g[p + 1L] <- g[p + 1L] / th[p + 1L]
    g
  }
  th <- c(beta, s)
  g0 <- grad_s(th)
  h <- 1e-5 * pmax(abs(th), 1e-2)
  H <- matrix(0, p + 1L, p + 1L)
  for (j in seq_len(p + 1L)) {
    e <- replace(numeric(p + 1L), j, h[j])
    H[, j] <- (grad_s(th + e) - g0) / h[j]
  }
  H <- (H + t(H)) / 2
  inv <- tryCatch(solve(-H), error = function(e) NULL)
  if (!is.null(inv) && all(diag(inv) > 0)) out <- inv
  out
}

# The starting point: with a wide factor (r > 200) the optimum of the same
# model with 100 evenly spaced columns of L, rescaled to the same total
# sum of squares (so the same mean of diag(K)), found to a loose tolerance
# at 1 / (r / 100)^2 of the cost per evaluation. Consecutive genotype
# columns give a K close to the full one, so the full search starts near
# its optimum and needs a few evaluations; it only moves the start, never
# the optimum. Its Hessian (attribute "hessian") seeds the quasi-Newton
# search (optimize-known-laplace.R). Otherwise the glm fit with s = s0.
known_laplace_start <- function(X, y, m, offset, index, L, fam, control, start) {
  r <- ncol(L)
  if (r <= 200L) return(start)
  idx <- unique(round(seq(1, r, length.out = 100L)))
  Ls <- L[, idx, drop = FALSE]
  Ls <- Ls * sqrt(sum(L^2) / sum(Ls^2))
  eng <- known_laplace_engine(X, y, m, offset, index, Ls, fam, control$nthreads)
  opt <- tryCatch(stats::nlminb(start, function(par) -eng$eval(par, gradient = FALSE)$value,
                                function(par) -eng$eval(par)$gradient,
                                control = list(rel.tol = 1e-8, iter.max = 100L, eval.max = 200L)),
                  error = function(e) NULL)
  p <- ncol(X)
  if (is.null(opt) || !all(is.finite(opt$par)) || opt$par[p + 1L] < start[p + 1L] - log(1e3))
    return(start)
  structure(opt$par, hessian = known_laplace_hessian_par(eng, opt$par))
}
