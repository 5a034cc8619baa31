# Binomial (logit) and Poisson (log) models with one known-covariance random
# intercept (1 | id), Var(b) = s^2 K, by the Laplace approximation at the
# joint mode (no PQL). The engine works in the space of a factor K = L L'
# (L levels x r: given by kfactor(), or the Cholesky / eigen factor of a
# dense K): b = s L u with u ~ N(0, I_r), so K is never formed and the
# penalized Hessian M = I + s^2 L' W L is r x r (the Woodbury form of
# K^{-1}/s^2 + W). The modes, the factor of M, the leverages
# diag(L M^{-1} L') and the gradient's pieces are computed by the C++ engine
# (src/engines/known/known-laplace.cpp); R keeps the optimizer and X'v. The
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
      code = 0L,
      ll = function(eta, y, m) sum(m * y * eta - m * log1pexp(eta) + lchoose(m, round(m * y))),
      d = function(eta, y, m) {
        mu <- stats::plogis(eta)
        w <- m * mu * (1 - mu)
        list(r = m * (y - mu), w = w, w3 = w * (1 - 2 * mu))
      }),
    "poisson log" = list(
      code = 1L,
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
# rowsum()'s character row names.
level_sums <- function(v, index, nl) {
  if (length(index) == nl && !is.unsorted(index, strictly = TRUE)) return(v)
  as.vector(Matrix::crossprod(Matrix::sparseMatrix(i = seq_along(index), j = index, x = 1,
                                                   dims = c(length(index), nl)), v))
}

# The engine for one model: an evaluator of the Laplace log-likelihood and
# its gradient at par = (beta, log s). The modes, the factor of M and every
# product with L are computed by the C++ engine (src/engines/known/known-laplace.cpp),
# which keeps the modes and the factor of the previous evaluation as the
# start of the next one; this closure keeps L alive beside the engine's
# pointer (the engine maps L without copying it).
known_laplace_engine <- function(X, y, m, offset, index, L, fam, threads) {
  if (!is.double(L)) storage.mode(L) <- "double"
  ptr <- cpp_kl_engine(L, as.integer(index), as.double(y), as.double(m), fam$code,
                       as.integer(threads))
  p <- ncol(X)
  state <- NULL
  fail <- function(par) list(par = par, value = -Inf, gradient = rep(NA_real_, p + 1L))
  # The value at par, and with gradient = TRUE its gradient, whose
  # leverages cost a second O(levels r^2) product (the optimizer's line
  # searches need values only). The engine holds the factor of the last
  # evaluation: a gradient asked for where the value was taken reuses it.
  eval <- function(par, gradient = TRUE) {
    if (!is.null(state) && identical(state$par, par)) {
      if (!gradient || !is.null(state$gradient)) return(state)
    } else {
      state <<- NULL  # stays NULL if the engine stops (an interrupt) or fails
      s <- exp(par[p + 1L])
      if (!is.finite(s) || s <= 0 || anyNA(par)) return(fail(par))  # log s beyond +-709
      e <- cpp_kl_eval(ptr, drop(X %*% par[seq_len(p)]) + offset, s)
      if (!isTRUE(e$ok)) return(fail(par))
      state <<- list(par = par, value = e$value, gradient = NULL,
                     modes = list(u = e$u, eta = e$eta), factor = NULL)
      progress_tick(e$value)  # progress.R
      if (!gradient) return(state)
    }
    g <- cpp_kl_gradient(ptr)
    state$gradient <<- c(drop(crossprod(X, g$v)), g$dlogs)
    state$factor <<- list(lev = g$lev)
    state
  }
  # The exact Hessian in (beta, s) at par (cpp_kl_hessian(): the engine's
  # factor and modes must be those of par, so par is evaluated first unless
  # it was the last point). NULL where the value is not finite.
  hessian <- function(par) {
    at <- eval(par, gradient = FALSE)
    if (!is.finite(at$value)) return(NULL)
    cpp_kl_hessian(ptr, X)
  }
  list(eval = eval, hessian = hessian, reset = function() { state <<- NULL; cpp_kl_reset(ptr) },
       nl = nrow(L), r = ncol(L))
}

# Fits the model: nlminb over (beta, log s) from the glm fit, the boundary
# s = 0 (where the Laplace log-likelihood is the glm one) compared, and the
# covariance of (beta, s) from the exact Hessian (known_laplace_cov()).
known_laplace_fit <- function(X, y, m, offset, index, L, family, control, g) {
  fam <- known_laplace_family(family)
  p <- ncol(X)
  check_full_rank(X)
  g0 <- suppressWarnings(stats::glm.fit(X, y, weights = m, offset = offset, family = family))
  ll0 <- fam$ll(drop(X %*% g0$coefficients) + offset, y, m)
  eng <- known_laplace_engine(X, y, m, offset, index, L, fam, control$nthreads)
  # the search when the quasi-Newton one is not taken, and the restart below
  nlminb_from <- function(par)
    known_laplace_nlminb(eng, par, list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                        eval.max = control$eval.max, trace = control$trace))
  kdiag <- cpp_row_sumsq(L)  # diag(K), without the temporary L^2
  s0 <- 0.5 / sqrt(mean(kdiag))
  start <- known_laplace_start(X, y, m, offset, index, L, fam, control,
                               c(g0$coefficients, log(s0)), sum(kdiag), g0, kdiag, eng)
  opt <- if (!is.null(attr(start, "hessian")))
    known_laplace_qn(eng, c(start), attr(start, "hessian"), control$rel.tol,
                     from = attr(start, "from"))
  if (is.null(opt)) opt <- nlminb_from(c(start))
  # the start's evaluation of the full model (its curvature in log s)
  if (!is.null(attr(start, "evaluations")))
    opt$evaluations[1L] <- opt$evaluations[1L] + attr(start, "evaluations")
  # A search that ends near s = 0 may have drifted down the flat direction
  # of log s from a poor start (the reduced-rank start of a dense K's
  # Cholesky factor was one: binary n = 800, sd 0.002 where the profile
  # log-likelihood still rose to sd 0.6). Such an end is checked by a
  # search from the plain start (glm coefficients, s0); the higher end
  # point is kept, and the comparison with the glm at s = 0 follows.
  if (all(is.finite(opt$par)) && opt$par[p + 1L] < log(0.1 * s0)) {
    opt2 <- tryCatch(nlminb_from(c(g0$coefficients, log(s0))), error = function(e) NULL)
    if (!is.null(opt2) && is.finite(opt2$objective) && -opt2$objective > eng$eval(opt$par, gradient = FALSE)$value) {
      opt2$optimizer <- "nlminb (restarted from the glm fit: the first search ended near s = 0)"
      opt <- opt2
    }
  }
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
  cov_theta <- known_laplace_cov(eng, opt$par, singular, control$hessian)
  if (singular) {  # at s = 0 the model is the glm: its information for beta
    cov_theta[seq_len(p), seq_len(p)] <- solve(crossprod(X * sqrt(g0$weights)))
  } else {
    # The gain the optimizer left, g' C g / 2 (C = -H^{-1}), is invariant to
    # the scale of the data, unlike the raw gradient, which grows with n.
    gs <- at$gradient
    gs[p + 1L] <- gs[p + 1L] / s
    gain <- if (!anyNA(cov_theta)) 0.5 * sum(gs * drop(cov_theta %*% gs)) else max(abs(gs))
    if (!is.finite(gain) || gain > control$grad_tol)
      warn <- c(warn, sprintf("the search stopped short of the optimum: the gradient predicts a further gain of %.2g in log-likelihood",
                              gain))
    if (anyNA(cov_theta[seq_len(p), seq_len(p)]))
      warn <- c(warn, "the Hessian of the Laplace log-likelihood is not negative definite: standard errors are not available")
  }
  list(beta = beta, s = s, loglik = loglik, b = s * drop(L %*% u), condvar = s^2 * lev, kdiag = kdiag,
       eta = eta, cov_theta = cov_theta, singular = singular,
       gradient = if (!singular) at$gradient,
       optinfo = new_optinfo(optimizer = opt$optimizer %||% "nlminb", method = "Laplace (known covariance, dense factor)",
                      nAGQ = 1L,
                      convergence = opt$convergence, message = opt$message,
                      iterations = opt$iterations, evaluations = opt$evaluations,
                      rank = eng$r, warnings = warn))
}

# nlminb on the engine's minus log-likelihood and its gradient.
known_laplace_nlminb <- function(eng, par, control) {
  stats::nlminb(par, function(th) -eng$eval(th, gradient = FALSE)$value,
                function(th) -eng$eval(th)$gradient, control = control)
}

# Covariance of (beta, s): the inverse of minus the Hessian of the Laplace
# log-likelihood in (beta, s), computed exactly by the engine
# (KlEngine::hessian(): the modes' derivatives by implicit differentiation,
# the log-determinant's second derivatives from the leverages and p + 1
# weighted Gram matrices of L M^{-1/2}), about the cost of one gradient and
# a half instead of the p + 1 further value + gradient pairs of forward
# differences. `par`: (beta, log s), the optimum as the search left it (so
# that the engine's last evaluation is reused). At the boundary s = 0 only
# beta's block, from the glm information.
#
# The exact Hessian holds 2 (p + 1) dense r x r Gram matrices: when the
# engine refuses them (its memory check) the Hessian is taken by forward
# differences of the exact gradient instead (p + 1 further evaluations,
# O(threads x block x r) memory), so a fit whose search has finished still
# returns with standard errors.
known_laplace_cov <- function(eng, par, singular, hessian) {
  out <- matrix(NA_real_, length(par), length(par))
  if (!hessian || singular) return(out)
  H <- tryCatch(eng$hessian(par), error = function(e) NULL)
  if (is.null(H)) H <- known_laplace_hessian_fd(eng, par)
  if (is.null(H) || anyNA(H)) out else known_neg_inverse(H)
}

# The starting point: with a wide factor (r > 200) a quasi-Newton search
# from a moment estimate of s (known_laplace_moment_start()), its Hessian
# (attribute "hessian", which seeds the search: known_laplace_qn())
# taken from a cheaper model of the same data: 100 evenly spaced columns of
# L, rescaled to the same total sum of squares (the same mean of diag(K)),
# at 1 / (r / 100)^2 of the cost per evaluation. That model, fitted to a
# loose tolerance, gives its own optimum as the start only when the moment
# estimate is not available: where the spectrum of K is flat (independent
# variants) its rank-100 K explains much less of the data and its s was a
# third of the full model's (binary, n = 20,000, r = 1,000: 0.21 against
# 0.77; the moment estimate 0.74). The start moves only the start, never
# the optimum. Otherwise (r <= 200) the glm fit with s = s0.
#
# From the moment start the Hessian is taken at that start, not at the
# rank-100 model's optimum (which is then not computed): for a dense K's
# Cholesky factor that optimum lies near s = 0, where the curvature in
# log s is nearly zero, and the search seeded with it gave up (binary,
# n = 3,000: nlminb took over, 30 evaluations). Its beta block comes from
# the rank-100 model at the start; its log s row and column, when the full
# model's engine `full` is given, from a forward difference of the full
# model's exact gradient (known_laplace_logs_column(): one further
# evaluation, whose value and gradient at the start the search reuses).
known_laplace_start <- function(X, y, m, offset, index, L, fam, control, start, ssq,
                                g0 = NULL, kdiag = NULL, full = NULL) {
  r <- ncol(L)
  if (r <= 200L) return(start)
  idx <- unique(round(seq(1, r, length.out = 100L)))
  Ls <- L[, idx, drop = FALSE]
  Ls <- Ls * sqrt(ssq / sum(Ls^2))
  eng <- known_laplace_engine(X, y, m, offset, index, Ls, fam, control$nthreads)
  mom <- if (!is.null(g0)) known_laplace_moment_start(X, y, m, offset, index, L, fam, g0, kdiag)
  if (!is.null(mom)) {
    H <- known_laplace_hessian_par(eng, mom)
    if (!is.null(full)) H <- known_laplace_logs_column(full, mom, H)
    return(structure(mom, hessian = H, from = "a moment estimate of s",
                     evaluations = if (!is.null(full)) 1L))
  }
  opt <- tryCatch(known_laplace_nlminb(eng, start, list(rel.tol = 1e-8, iter.max = 100L,
                                                       eval.max = 200L)),
                  error = function(e) NULL)
  p <- ncol(X)
  if (is.null(opt) || !all(is.finite(opt$par)) || opt$par[p + 1L] < start[p + 1L] - log(1e3))
    return(start)
  structure(opt$par, hessian = known_laplace_hessian_par(eng, opt$par),
            from = "a reduced-rank start")
}

# The starting Hessian H in (beta, log s) with its log s row and column
# replaced by the full model's: a forward difference of the exact gradient
# in log s at par (step 1e-3: the start needs the curvature's size, not its
# last digits, and the larger step keeps the modes' tolerance out of it).
# The point par is evaluated last, so the engine's cache holds it for the
# search's first step. Where the result is not negative definite, the
# cross terms are dropped; where even the full curvature in log s is not
# negative, H is returned unchanged.
known_laplace_logs_column <- function(eng, par, H) {
  k <- length(par)
  h <- 1e-3
  g1 <- eng$eval(replace(par, k, par[k] + h))$gradient
  g0 <- eng$eval(par)$gradient
  col <- (g1 - g0) / h
  if (anyNA(col) || !(col[k] < 0)) return(H)
  pd <- function(A) !is.null(tryCatch(chol(-A), error = function(e) NULL))
  H1 <- H
  H1[, k] <- col
  H1[k, ] <- col
  if (pd(H1)) return(H1)
  H1[k, -k] <- H1[-k, k] <- 0
  H1[-k, -k] <- H[-k, -k]
  if (pd(H1)) H1 else H
}

# A moment estimate of (beta, log s) from the glm fit g0 (no random
# effect): linearized at b = 0, the working residuals e = (y - mu) / w of
# different observations have covariance s^2 (Z K Z')_ij (the diagonal
# carries no information for a binary outcome), and s^2 is the weighted
# least-squares fit of the products e_i e_j on (Z K Z')_ij over the pairs
# i != j with weights w_i w_j (the Haseman-Elston regression on the working
# scale): s^2 = (|L' Z' r|^2 - sum_i r_i^2 k_i) /
# (|L' W_l L|_F^2 - sum_i w_i^2 k_i^2), with r = y - mu, k_i = diag(K) of
# i's level and W_l the per-level sums of w. The Frobenius norm is
# estimated from 8 fixed sign vectors z (E |A z|^2 = |A|_F^2 for
# independent random signs; Hutchinson 1989), 16 passes over L. For the
# logit link the glm coefficients and s are those of the marginal model
# and are scaled up by sqrt(1 + c^2 s^2 mean(k)), c = 16 sqrt(3) / (15 pi)
# (Zeger, Liang and Albert 1988). NULL when the estimate is not positive.
known_laplace_moment_start <- function(X, y, m, offset, index, L, fam, g0, kdiag, probes = 8L) {
  nl <- nrow(L)
  eta <- drop(X %*% g0$coefficients) + offset
  d <- fam$d(eta, y, m)
  k <- kdiag[index]
  wl <- level_sums(d$w, index, nl)
  num <- sum(crossprod(L, level_sums(d$r, index, nl))^2) - sum(d$r^2 * k)
  r <- ncol(L)
  fro <- 0
  for (j in seq_len(probes)) {
    # fixed signs from a hash of (column, probe): the user's random
    # number stream is not touched
    # (Knuth's multiplicative hash; exact in doubles for r < 3e6)
    h <- (seq_len(r) * 2654435761 + j * 40503) %% 4294967296
    z <- 2 * ((h %/% 65536) %% 2) - 1
    fro <- fro + sum(crossprod(L, wl * (L %*% z))^2)
  }
  den <- fro / probes - sum(d$w^2 * k^2)
  s2 <- num / den
  if (!is.finite(s2) || s2 <= 0) return(NULL)
  a <- if (fam$code == 0L) sqrt(1 + (16 * sqrt(3) / (15 * pi))^2 * s2 * mean(kdiag)) else 1
  c(g0$coefficients * a, log(sqrt(s2) * a))
}

# Minus the information in (beta, s) by forward differences of the engine's
# exact gradient (given in (beta, log s)); `par` = (beta, log s).
known_laplace_hessian_fd <- function(eng, par) {
  p1 <- length(par)
  grad_s <- function(th) {
    g <- eng$eval(c(th[-p1], log(th[p1])))$gradient
    g[p1] <- g[p1] / th[p1]
    g
  }
  th <- c(par[-p1], exp(par[p1]))
  g0 <- grad_s(th)
  fd_hessian(grad_s, th, g0 = g0)
}

# The search of the known-covariance Laplace engine (fit-known-laplace.R)
# when a good start and Hessian are at hand: quasi-Newton (BFGS) steps on
# (beta, log s) from the Hessian of a cheaper model of the same data
# (known_laplace_start()). Each step costs one value (modes and factor of
# M) and, when accepted, the leverages for the exact gradient, so a start
# near the optimum ends in a few O(levels r^2) products instead of the
# 20-30 evaluations nlminb needs to build its Hessian from scratch.
# Returns NULL when it cannot proceed (the caller then runs nlminb).
known_laplace_qn <- function(eng, start, H, rel_tol, maxit = 40L,
                             from = "a reduced-rank start") {
  as_ll <- function(e) list(loglik = e$value, gradient = e$gradient, e = e)
  cur <- as_ll(eng$eval(start))
  if (!is.finite(cur$loglik) || anyNA(cur$gradient)) return(NULL)
  qn <- newton_search(function(th) as_ll(eng$eval(th)), start, (H + t(H)) / 2,
                      rep(FALSE, length(start)), rep(-Inf, length(start)), maxit = maxit,
                      tol = 0.01 * rel_tol, at = cur, profile = "known_laplace",
                      value = function(th) as_ll(eng$eval(th, gradient = FALSE)))
  if (!qn$converged || anyNA(qn$at$gradient)) return(NULL)
  list(par = qn$theta, at = qn$at$e, iterations = qn$record$iterations,
       evaluations = 1L + qn$record$evaluations, optimizer = paste("quasi-Newton (BFGS) from", from),
       convergence = 0L, message = "quasi-Newton decrement below rel.tol")
}

# The Hessian of the engine's log-likelihood in (beta, log s) at par, by
# forward differences of its exact gradient (p + 1 further evaluations).
known_laplace_hessian_par <- function(eng, par, g0 = eng$eval(par)$gradient) {
  fd_hessian(function(th) eng$eval(th)$gradient, par, g0 = g0)
}
