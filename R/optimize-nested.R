# The optimizer behind glmm_nested_fit(): Newton/BFGS steps on the
# multilevel quadrature log-likelihood with the engine's gradient
# (src/agq-nested.cpp), started from the Laplace fit and its Hessian, as
# the one-factor engine continues from its Laplace stage (optimize-glmm.R).
#
# The engine's gradient holds the adaptive nodes fixed (agq-nested.h): it is
# the quadrature of the integrand's derivative, equal to the derivative of
# the quadrature value up to the derivative of the rule's error with respect
# to the nodes, which is small but, for nAGQ of 3-7, not below the
# optimizer's tolerance. So the search runs on it (one engine pass per
# step, instead of 2P + 1 for central differences) and nested_finish()
# checks its end point by central differences of the value itself, taking
# Newton steps with that gradient where it is not yet the maximum.

# `ev(theta)` gives list(loglik, gradient) with the engine's gradient;
# `H0` a Hessian near theta (the Laplace fit's), or NULL; `boundary(theta)`
# the parameters held at their bound. The search's own tolerance is
# rel.tol: closer than that the engine's gradient and the value disagree
# (the line search stalls), and nested_finish() takes over.
nested_search <- function(ev, theta, H0, lower, control, boundary) {
  P <- length(theta)
  stages <- list()
  cur <- ev(theta)
  if (is.null(H0) || !all(is.finite(H0))) {
    H0 <- sparse_hessian(ev, theta, rep(FALSE, P), central = FALSE)
    stages$start <- list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                         message = "curvature at the start")
  }
  Hs <- uphill_hessian(H0)
  qn <- NULL
  if (!is.null(Hs) && is.finite(cur$loglik))
    qn <- quasi_newton_sparse(ev, theta, Hs, boundary(theta), lower, cur,
                              maxit = min(control$iter.max, 50L), tol = control$rel.tol)
  if (!is.null(qn)) {
    stages$newton <- qn$record
    theta <- qn$theta
  }
  if (!is.null(qn) && !qn$converged && stalled_near_optimum(qn$at, Hs, boundary(qn$theta)))
    qn$converged <- TRUE
  if (!is.null(qn) && qn$converged) {
    opt <- list(convergence = 0L, message = qn$record$message)
  } else {
    scale <- sqrt(abs(diag(H0)))
    scale[!is.finite(scale) | scale < 1e-8] <- 1
    obj <- function(th) { v <- -ev(th)$loglik; if (is.finite(v)) v else Inf }
    gr <- function(th) { g <- -ev(th)$gradient; g[!is.finite(g)] <- 0; g }
    opt <- stats::nlminb(theta, obj, gr, lower = lower, scale = scale / max(scale),
                         control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                        eval.max = control$eval.max, trace = control$trace))
    stages$nlminb <- stage_record(opt)
    theta <- opt$par
  }
  list(theta = theta, opt = opt, stages = stages, H0 = H0)
}

# A line search that failed where the Newton decrement of the engine's
# gradient is already below 1e-3 (a log-likelihood change far below any
# inferential meaning, left to nested_finish()).
stalled_near_optimum <- function(at, H, on_boundary) {
  free <- which(!on_boundary)
  if (is.null(at) || !length(free)) return(FALSE)
  g <- at$gradient[free]
  s <- tryCatch(solve(-H[free, free, drop = FALSE], g), error = function(e) NULL)
  !is.null(s) && is.finite(sum(s * g)) && sum(s * g) < 1e-3
}

# Central-difference gradient of the value `f` (steps h), one-sided at a
# standard deviation of zero, where the likelihood is even in it.
nested_fd_gradient <- function(f, th, h, lower) {
  g <- fd_gradient(f, th, h)
  for (j in which(th <= h & lower == 0)) {
    e <- replace(numeric(length(th)), j, h[j])
    g[j] <- (f(th + e) - f(th)) / h[j]
  }
  g[!is.finite(g)] <- 0
  g
}

# The last stage: Newton steps with the gradient of the value itself
# (central differences) and the Hessian H, while the Newton decrement is
# above the tolerance and the step raises the log-likelihood. Returns the
# end point, its value and central-difference gradient, whether the
# decrement ended below the tolerance, and a stage record.
nested_finish <- function(f, theta, H, lower, h, boundary, tol, maxit = 5L) {
  P <- length(theta)
  rec <- list(iterations = 0L, evaluations = 1L, convergence = 0L,
              message = "gradient of the value by central differences")
  val <- f(theta)
  grad <- nested_fd_gradient(f, theta, h, lower)
  rec$evaluations <- rec$evaluations + 2L * P
  converged <- FALSE
  for (it in seq_len(maxit + 1L)) {
    free <- which(!boundary(theta))
    if (!length(free)) { converged <- TRUE; break }
    if (is.null(H) || anyNA(H[free, free])) break
    step <- tryCatch(solve(-H[free, free, drop = FALSE], grad[free]), error = function(e) NULL)
    if (is.null(step) || !all(is.finite(step))) break
    if (sum(step * grad[free]) < tol * max(1, abs(val))) { converged <- TRUE; break }
    if (it > maxit) break
    th <- theta
    th[free] <- pmax(th[free] + step, lower[free])
    v <- f(th)
    rec$evaluations <- rec$evaluations + 1L
    if (!is.finite(v) || v <= val) break
    theta <- th
    val <- v
    grad <- nested_fd_gradient(f, theta, h, lower)
    rec$evaluations <- rec$evaluations + 2L * P
    rec$iterations <- rec$iterations + 1L
  }
  rec$convergence <- if (converged) 0L else 1L
  list(theta = theta, loglik = val, gradient = grad, converged = converged, record = rec)
}
