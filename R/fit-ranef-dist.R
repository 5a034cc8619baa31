# Matrix-level fitter for a random intercept on one grouping factor whose
# distribution is not normal: the bridge distribution (Wang and Louis, 2003)
# or a discrete distribution on estimated mass points (nonparametric maximum
# likelihood, Aitkin 1999). The engine is src/engines/agq/agq-ranef-dist.cpp; this file
# optimizes, computes the covariance of the estimates and packs the result.

# Step of the trapezoidal rule in the sinh-mapped variable: the engine's
# log-likelihood is within about 1e-12 of the exact integral at this step
# (the error falls like exp(-c / step); at step 0.2 it is about 1e-8).
dist_quad_step <- 0.125

# Variance of the bridge distribution: (pi^2 / 3) (1 / phi^2 - 1).
bridge_variance <- function(phi) pi^2 / 3 * (1 / phi^2 - 1)

# Draws from the bridge distribution by inverting its distribution function,
# F(b) = 1/2 + atan(tan(phi pi / 2) tanh(phi b / 2)) / (phi pi).
rbridge <- function(n, phi) {
  u <- stats::runif(n)
  2 / phi * atanh(tan(phi * pi * (u - 0.5)) / tan(phi * pi / 2))
}

dbridge <- function(b, phi) sin(phi * pi) / (2 * pi * (cosh(phi * b) + cos(phi * pi)))

# The engine bound to one data set, rows sorted by cluster once.
dist_engine <- function(X, y, weights, offset, cl, family) {
  o <- order(cl$index)
  Xs <- X[o, , drop = FALSE]
  ys <- as.numeric(y[o]); ws <- as.numeric(weights[o]); os <- as.numeric(offset[o])
  sizes <- tabulate(cl$index, length(cl$levels))
  start <- c(0L, cumsum(sizes))
  # The optimizer asks for the objective and then the gradient at the same
  # point; one engine call gives both, so the last result is reused.
  last <- NULL
  function(beta, dist, prior) {
    key <- c(beta, dist, prior)
    if (!is.null(last) && identical(key, last$key)) return(last$value)
    v <- cpp_dist_eval(Xs, ys, ws, os, as.integer(start), family$family_code, family$link_code,
                       as.numeric(beta), dist, as.numeric(prior), dist_quad_step)
    last <<- list(key = key, value = v)
    v
  }
}

# Fits the bridge or nonparametric random-intercept GLMM. `normal` is the
# normal-intercept fit on the same data (glmm_fit()), used for starting
# values and kept for the likelihood comparison.
glmm_dist_fit <- function(X, y, cl, family, weights, offset, dist, k, control, normal) {
  p <- ncol(X)
  eng <- dist_engine(X, y, weights, offset, cl, family)
  sd0 <- normal$Lambda[1L, 1L]
  if (dist == "bridge") {
    # phi from the normal fit's variance, matched to the bridge variance.
    phi0 <- min(0.95, 1 / sqrt(1 + 3 * sd0^2 / pi^2))
    par0 <- c(normal$beta, phi0)
    fn <- function(par) -eng(par[seq_len(p)], 0L, par[p + 1L])$loglik
    gr <- function(par) -eng(par[seq_len(p)], 0L, par[p + 1L])$gradient
    lower <- c(rep(-Inf, p), 1e-3); upper <- c(rep(Inf, p), 0.999)
  } else {
    int <- match("(Intercept)", colnames(X))
    if (is.na(int))
      stop("a nonparametric random intercept needs a model with an intercept: the mass points are intercepts",
           call. = FALSE)
    Xn <- X[, -int, drop = FALSE]
    eng <- dist_engine(Xn, y, weights, offset, cl, family)
    # Mass points started on a Gauss-Hermite grid of the normal fit, as in
    # Aitkin (1999), the grid's spread scaled by each of `spreads` (the
    # likelihood has local maxima; the best of the starts is kept); the
    # weights are softmax(alpha) with alpha_1 = 0.
    gh <- gh_nodes(k)
    al0 <- log(pmax(gh$w, 1e-8))[-1L] - log(max(gh$w[1L], 1e-8))
    spreads <- c(1, 0.5, 1.5, 2, 3)
    grid_start <- function(f, alpha)
      c(normal$beta[-int], normal$beta[[int]] + f * max(sd0, 0.1) * gh$x, alpha)
    # Also equal weights on evenly spaced points, which reach the tails.
    even <- seq(-2, 2, length.out = k)
    par0 <- c(lapply(spreads, grid_start, alpha = al0),
              lapply(spreads, function(f)
                c(normal$beta[-int], normal$beta[[int]] + f * max(sd0, 0.1) * even,
                  rep(0, k - 1L))))
    unpack <- function(par) list(beta = par[seq_len(p - 1L)], a = par[p - 1L + seq_len(k)],
                                 alpha = c(0, par[p - 1L + k + seq_len(k - 1L)]))
    fn <- function(par) { u <- unpack(par); -eng(u$beta, 1L, c(u$a, u$alpha))$loglik }
    gr <- function(par) {
      u <- unpack(par)
      g <- eng(u$beta, 1L, c(u$a, u$alpha))$gradient
      -g[-(p - 1L + k + 1L)]
    }
    lower <- c(rep(-Inf, p - 1L + k), rep(-30, k - 1L))
    upper <- c(rep(Inf, p - 1L + k), rep(30, k - 1L))
  }
  if (!is.list(par0)) par0 <- list(par0)
  runs <- lapply(par0, function(st)
    stats::nlminb(st, fn, gr, lower = lower, upper = upper,
                  control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                 eval.max = control$eval.max, trace = control$trace)))
  opt <- runs[[which.min(vapply(runs, function(r) r$objective, 1))]]
  opt$starts <- length(runs)
  if (dist == "nonparametric") {
    opt <- npml_scan(opt, fn, gr, p - 1L, lower, upper, control)
    opt <- npml_exchange(opt, eng, fn, gr, unpack, p - 1L, k, lower, upper, control)
  }
  par <- opt$par
  hess <- if (control$hessian) -fd_hessian(gr, par, "central", floor = 1)
  grad <- -gr(par)
  if (dist == "bridge")
    return(dist_result_bridge(eng, par, opt, grad, hess, X, control, family, cl, normal))
  dist_result_npml(eng, par, opt, grad, hess, X, int, k, control, family, cl, normal)
}

# The nonparametric likelihood has many local maxima, also in the fixed
# effects: on epil (k = 3) two maxima 0.03 apart in log-likelihood give a
# treatment effect of -0.15 and -0.05, and the ten starts of
# glmm_dist_fit() reach the lower one. Two searches leave such a maximum.
# npml_scan() fixes each fixed effect in turn at 1.5 and 3 standard errors
# either side of its estimate, maximizes over the other parameters, then
# frees it; npml_exchange() moves mass points (below). Both keep a refit
# only when it raises the log-likelihood and repeat while one does.
npml_refit <- function(st, fn, gr, lower, upper, control)
  stats::nlminb(st, fn, gr, lower = lower, upper = upper,
                control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                               eval.max = control$eval.max))

npml_better <- function(runs, opt) {
  best <- runs[[which.min(vapply(runs, function(r) r$objective, 1))]]
  if (best$objective < opt$objective - 1e-8) best
}

npml_scan <- function(opt, fn, gr, q, lower, upper, control, rounds = 3L) {
  for (r in seq_len(if (q > 0L) rounds else 0L)) {
    H <- fd_hessian(gr, opt$par, "central", floor = 1)
    V <- tryCatch(solve(H), error = function(e) NULL)
    se <- if (!is.null(V)) sqrt(pmax(diag(V)[seq_len(q)], 0))
    if (is.null(se) || !all(is.finite(se))) break
    runs <- unlist(lapply(seq_len(q), function(j) lapply(c(-3, -1.5, 1.5, 3), function(m) {
      st <- opt$par
      st[j] <- st[j] + m * se[j]
      lo <- lower; up <- upper
      lo[j] <- up[j] <- st[j]
      npml_refit(npml_refit(st, fn, gr, lo, up, control)$par, fn, gr, lower, upper, control)
    })), recursive = FALSE)
    better <- npml_better(runs, opt)
    if (is.null(better)) break
    opt <- c(better, opt[setdiff(names(opt), names(better))])
  }
  opt
}

# Lindsay's (1983) directional derivative of the log-likelihood towards a
# point mass at a, D(a) = sum_i f_i(a) / f_i(G) - N (f_i the cluster
# likelihoods at mixing distribution G and the current fixed effects), is
# positive where moving mass to a raises the likelihood. Each round
# locates the largest D on a grid spanning the mass points and refits with
# each mass point in turn moved there.
npml_exchange <- function(opt, eng, fn, gr, unpack, q, k, lower, upper, control,
                          rounds = 3L) {
  for (r in seq_len(rounds)) {
    u <- unpack(opt$par)
    cur <- eng(u$beta, 1L, c(u$a, u$alpha))$cluster_loglik
    span <- max(diff(range(u$a)), 0.5)
    grid <- seq(min(u$a) - span, max(u$a) + span, length.out = 61L)
    D <- vapply(grid, function(a)
      sum(exp(eng(u$beta, 1L, c(a, 0))$cluster_loglik - cur)) - length(cur), 1)
    if (!any(is.finite(D)) || max(D, na.rm = TRUE) <= 1e-6) break
    a_star <- grid[which.max(D)]
    runs <- lapply(seq_len(k), function(j) {
      st <- opt$par
      st[q + j] <- a_star
      npml_refit(st, fn, gr, lower, upper, control)
    })
    better <- npml_better(runs, opt)
    if (is.null(better)) break
    opt <- c(better, opt[setdiff(names(opt), names(better))])
  }
  opt
}

# Gauss-Hermite nodes for N(0, 1) and their weights, by the eigenvalue method.
gh_nodes <- function(k) {
  if (k == 1L) return(list(x = 0, w = 1))
  J <- matrix(0, k, k)
  off <- sqrt(seq_len(k - 1L))
  J[cbind(seq_len(k - 1L), 2:k)] <- off
  J[cbind(2:k, seq_len(k - 1L))] <- off
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  list(x = e$values[o], w = e$vectors[1L, o]^2)
}

dist_result_bridge <- function(eng, par, opt, grad, hess, X, control, family, cl, normal) {
  p <- ncol(X)
  pn <- c(colnames(X), "phi")
  names(par) <- names(grad) <- pn
  phi <- par[[p + 1L]]
  on_boundary <- c(rep(FALSE, p), phi >= 0.999 - 1e-6 || phi <= 1e-3 + 1e-6)
  if (!is.null(hess)) dimnames(hess) <- list(pn, pn)
  V <- invert_information(hess, on_boundary, pn)
  ev <- eng(par[seq_len(p)], 0L, phi)
  list(theta = par, cov_theta = V, beta = par[seq_len(p)], loglik = ev$loglik,
       gradient = grad, hessian = hess, on_boundary = on_boundary, opt = opt,
       summ = ev, prior = list(type = "bridge", phi = phi,
                               variance = bridge_variance(phi)),
       df = p + 1L, warn = dist_warnings(opt, grad, hess, V, on_boundary, control, ev,
                                         "phi at its bound: the random-intercept variance is estimated at (or near) zero"))
}

# The nonparametric fit's free parameters `par` = (beta without the
# intercept, mass points a_1..a_k, alpha_2..alpha_k) as the reported theta
# (below), p the number of fixed effects, `int` the intercept's position.
npml_theta <- function(par, p, int, k) {
  a <- par[p - 1L + seq_len(k)]
  alpha <- c(0, par[p - 1L + k + seq_len(k - 1L)])
  w <- exp(alpha - max(alpha))
  w <- w / sum(w)
  beta <- numeric(p)
  beta[int] <- sum(w * a)
  beta[-int] <- par[seq_len(p - 1L)]
  c(beta, a, alpha)
}

# d theta / d par of npml_theta() by central differences.
npml_theta_jacobian <- function(par, p, int, k) {
  vapply(seq_along(par), function(j) {
    h <- 1e-6 * max(1, abs(par[j]))
    up <- par; up[j] <- up[j] + h
    dn <- par; dn[j] <- dn[j] - h
    (npml_theta(up, p, int, k) - npml_theta(dn, p, int, k)) / (2 * h)
  }, numeric(p + 2L * k))
}

# The free parameters' names: the fixed effects without the intercept,
# the mass points, alpha_2..alpha_k.
npml_free_names <- function(xnames, int, k)
  c(xnames[-int], sprintf("mass[%d]", seq_len(k)), sprintf("alpha[%d]", 2:k)[seq_len(k - 1L)])

# Reported parameters of the nonparametric fit: theta = (beta with the
# intercept set to the mean of the distribution, mass points a_k on the
# linear-predictor scale, alpha_k) with alpha_1 = 0; its covariance by the
# delta method from the free parameters.
dist_result_npml <- function(eng, par, opt, grad, hess, X, int, k, control, family, cl, normal) {
  p <- ncol(X)
  theta <- npml_theta(par, p, int, k)
  pn <- c(colnames(X), sprintf("mass[%d]", seq_len(k)), sprintf("alpha[%d]", seq_len(k)))
  names(theta) <- pn
  fn_names <- npml_free_names(colnames(X), int, k)
  on_free <- rep(FALSE, length(par))
  Vfree <- invert_information(hess, on_free, fn_names)
  warn <- dist_warnings(opt, grad, hess, Vfree, on_free, control, NULL, NULL)
  # Coincident mass points (or one without weight) leave a direction the
  # likelihood does not see: the information is near-singular, though
  # invertible, and its inverse gave standard errors of hundreds.
  if (isTRUE(attr(Vfree, "ok")) && npml_support_overspecified(hess)) {
    warn <- c(warn, sprintf(paste0("mass points coincide or carry almost no weight: the information is ",
                                   "near-singular and standard errors are unavailable; the support is ",
                                   "over-specified: refit with fewer mass points (k below %d)"), k))
    Vfree <- invert_information(NULL, on_free, fn_names)
  }
  G <- npml_theta_jacobian(par, p, int, k)
  V <- if (isTRUE(attr(Vfree, "ok"))) G %*% Vfree %*% t(G) else matrix(NA_real_, length(pn), length(pn))
  dimnames(V) <- list(pn, pn)
  attr(V, "ok") <- attr(Vfree, "ok")
  ev <- eng(par[seq_len(p - 1L)], 1L, theta[p + seq_len(2L * k)])
  w <- exp(theta[p + k + seq_len(k)]); w <- w / sum(w)
  a <- theta[p + seq_len(k)]
  mean_a <- sum(w * a)
  list(theta = theta, cov_theta = V, beta = theta[seq_len(p)], loglik = ev$loglik,
       gradient = stats::setNames(grad, fn_names), hessian = hess,
       on_boundary = rep(FALSE, length(pn)), opt = opt, summ = ev,
       prior = list(type = "nonparametric", k = k, mass = a - mean_a, weights = w,
                    variance = sum(w * (a - mean_a)^2)),
       df = p + 2L * k - 2L,
       warn = c(warn, mode_failures_warning(ev), drifting_mass(a - mean_a, family)))
}

# Whether the nonparametric fit's information (-hess) is near-singular:
# scaled to unit diagonal, its smallest eigenvalue at most
# near_singular_eigenvalue times its largest.
npml_support_overspecified <- function(hess) {
  ev <- unit_diagonal_eigenvalues(-hess)
  !is.null(ev) && ev[[length(ev)]] <= near_singular_eigenvalue * ev[[1L]]
}

dist_warnings <- function(opt, grad, hess, V, on_boundary, control, ev, boundary_msg) {
  warn <- character()
  if (opt$convergence != 0L)
    warn <- c(warn, sprintf("the optimizer did not converge: %s", opt$message))
  nstep <- newton_decrement(grad, hess, on_boundary)
  if (is.finite(nstep) && nstep > control$grad_tol)
    warn <- c(warn, sprintf("doubtful convergence: scaled gradient %.2g (tolerance %.2g)",
                            nstep, control$grad_tol))
  if (any(on_boundary) && !is.null(boundary_msg)) warn <- c(warn, boundary_msg)
  if (control$hessian && !isTRUE(attr(V, "ok")))
    warn <- c(warn, "the Hessian is not negative definite: standard errors are unavailable (mass points that coincide or carry no weight are not identified; try fewer)")
  c(warn, mode_failures_warning(ev))
}

mode_failures_warning <- function(ev) {
  if (!is.null(ev) && ev$mode_failures > 0L)
    sprintf("the posterior mode search failed in %d cluster(s)", ev$mode_failures)
}

# A mass point far out on the linear-predictor scale fits clusters whose
# responses are all at a bound (all 0, all 1, all zero counts) exactly: the
# likelihood keeps rising as the point moves out, so its estimate is not
# finite (a known feature of NPML with sparse binary data).
drifting_mass <- function(mass, family) {
  far <- abs(mass) > 8
  if (!any(far)) return(NULL)
  sprintf("mass point(s) at %s drift towards infinity: they fit clusters whose responses are all at a bound (e.g. all 0 or all 1) exactly, and their location is not finite; use fewer mass points, or read the others only",
          paste(format(mass[far], digits = 3), collapse = ", "))
}
