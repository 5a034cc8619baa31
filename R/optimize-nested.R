# The optimizer behind glmm_nested_fit(): Newton/BFGS steps on the
# multilevel quadrature log-likelihood with the engine's gradient
# (src/engines/agq/agq-nested.cpp), started from the Laplace fit and its Hessian, as
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

# `ev(theta)` gives list(loglik, gradient) with the engine's gradient, `f`
# the value alone and `h` its central-difference steps;
# `H0` a Hessian near theta (the Laplace fit's), or NULL; `boundary(theta)`
# the parameters held at their bound. The search needs only to come close:
# it stops once its steps no longer raise the value measurably (there the
# engine's gradient and the value disagree) and nested_finish() takes over.
nested_search <- function(ev, f, h, theta, H0, lower, control, boundary) {
  P <- length(theta)
  stages <- list()
  cur <- ev(theta)
  if (is.null(H0) || !all(is.finite(H0))) {
    H0 <- fd_hessian(gradient_of(ev), theta, step = 1e-4, floor = 0.1)
    stages$start <- list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                         message = "curvature at the start")
  }
  Hs <- negative_definite(H0, rep(FALSE, P), floor = 1e-6, accept = 1e-6)
  qn <- NULL
  # Where the line search finds no higher value along the engine's
  # gradient (small clusters and a coarse rule: the rule-error term is not
  # small), that term is measured once by central differences of the value
  # and added to the engine's gradient from there on; it changes slowly
  # with theta, so the corrected gradient leads the steps to the maximum.
  corr <- numeric(P)
  evc <- function(th) { r <- ev(th); r$gradient <- r$gradient + corr; r }
  for (round in 1:3) {
    if (is.null(Hs) || !is.finite(cur$loglik)) break
    qn <- nested_bfgs(evc, theta, Hs, boundary(theta), lower, cur,
                      maxit = min(control$iter.max, 50L), tol = control$rel.tol)
    stages[[paste0("newton", if (round > 1L) round)]] <- qn$record
    theta <- qn$theta
    if (qn$converged || !qn$stalled) break
    corr <- nested_fd_gradient(f, theta, h, lower) - ev(theta)$gradient
    stages[[paste0("correction", round)]] <- list(iterations = 0L, evaluations = 2L * P + 1L,
                                                  convergence = 0L,
                                                  message = "rule-error term of the gradient")
    cur <- evc(theta)
  }
  if (!is.null(qn) && qn$converged) {
    opt <- list(convergence = 0L, message = qn$record$message)
  } else {
    opt <- nlminb_fallback(evc, theta, lower, H0, control)
    stages$nlminb <- stage_record(opt)
    theta <- opt$par
  }
  list(theta = theta, opt = opt, stages = stages, H0 = H0)
}

# Quasi-Newton steps (BFGS updates of -H over the free parameters), as
# quasi_newton_sparse() takes them, but with the stopping rule this
# gradient needs: converged when the Newton decrement is below
# tol * max(1, |loglik|), or when it is below 1e-4 and a step raised the
# value by less than 1e-9 * max(1, |loglik|) or the line search found no
# higher value (the remaining distance is the gradient's rule-error term).
nested_bfgs <- function(ev, theta, H, on_boundary, lower, cur, maxit, tol) {
  free <- which(!on_boundary)
  rec <- list(iterations = 0L, evaluations = 0L, convergence = 1L,
              message = "quasi-Newton steps did not converge")
  B <- -H[free, free, drop = FALSE]
  converged <- stalled <- FALSE
  scale <- function(ll) max(1, abs(ll))
  for (it in seq_len(maxit)) {
    gf <- cur$gradient[free]
    step <- tryCatch(solve(B, gf), error = function(e) NULL)
    if (is.null(step)) break
    dec <- sum(step * gf)
    if (!is.finite(dec)) break
    near <- dec < 1e-4
    if (dec < tol * scale(cur$loglik)) { converged <- TRUE; break }
    t <- 1
    out <- (theta[free] + step) < lower[free]
    if (any(out)) {
      # A standard deviation the step takes below zero is tried at zero
      # and, if the value rises, held there (as the one-factor engine
      # holds a variance on its boundary); else the step goes half way.
      th <- theta
      th[free] <- pmax(th[free] + step, lower[free])
      nxt <- ev(th)
      rec$evaluations <- rec$evaluations + 1L
      if (is.finite(nxt$loglik) && nxt$loglik >= cur$loglik) {
        keep <- !out
        B <- B[keep, keep, drop = FALSE]
        free <- free[keep]
        theta <- th
        cur <- nxt
        rec$iterations <- rec$iterations + 1L
        if (!length(free)) { converged <- TRUE; break }
        next
      }
      t <- min(1, 0.5 * min((lower[free][out] - theta[free][out]) / step[out]))
    }
    if (!is.finite(t) || t <= 0) break
    ok <- FALSE
    for (k in 1:6) {
      th <- theta
      th[free] <- th[free] + t * step
      nxt <- ev(th)
      rec$evaluations <- rec$evaluations + 1L
      if (is.finite(nxt$loglik) && nxt$loglik >= cur$loglik) { ok <- TRUE; break }
      if (near) break
      t <- t / 2
    }
    if (!ok) { converged <- near; stalled <- !near; break }
    up <- bfgs_update(B, th[free] - theta[free], gf - nxt$gradient[free])
    if (!is.null(up)) B <- up$B
    gain <- nxt$loglik - cur$loglik
    theta <- th
    cur <- nxt
    rec$iterations <- rec$iterations + 1L
    if (near && gain < 1e-9 * scale(cur$loglik)) { converged <- TRUE; break }
  }
  if (converged) {
    rec$convergence <- 0L
    rec$message <- "Newton decrement of the engine's gradient below tolerance"
  }
  list(theta = theta, converged = converged, stalled = stalled, record = rec, at = cur)
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
