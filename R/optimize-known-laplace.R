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
  B <- -H
  ch <- if (anyNA(B)) NULL else tryCatch(chol((B + t(B)) / 2), error = function(e) NULL)
  if (is.null(ch)) return(NULL)
  cur <- eng$eval(start)
  if (!is.finite(cur$value) || anyNA(cur$gradient)) return(NULL)
  par <- start
  evals <- 1L
  for (it in seq_len(maxit)) {
    g <- cur$gradient
    step <- backsolve(ch, forwardsolve(t(ch), g))
    dec <- sum(step * g)
    if (!is.finite(dec)) return(NULL)
    if (dec < 0.01 * rel_tol * max(1, abs(cur$value)))
      return(list(par = par, at = cur, iterations = it - 1L, evaluations = evals,
                  optimizer = paste("quasi-Newton (BFGS) from", from),
                  convergence = 0L, message = "quasi-Newton decrement below rel.tol"))
    t <- 1
    repeat {
      th <- par + t * step
      nv <- eng$eval(th, gradient = FALSE)
      evals <- evals + 1L
      if (is.finite(nv$value) && nv$value >= cur$value - 1e-12 * abs(cur$value)) break
      t <- t / 2
      if (t < 1e-4) return(NULL)
    }
    nxt <- eng$eval(th)
    if (anyNA(nxt$gradient)) return(NULL)
    # yv: the change in the gradient of -loglik
    up <- bfgs_update(B, th - par, g - nxt$gradient)
    if (!is.null(up)) { B <- up$B; ch <- up$ch }
    par <- th
    cur <- nxt
  }
  NULL
}

# The Hessian of the engine's log-likelihood in (beta, log s) at par, by
# forward differences of its exact gradient (p + 1 further evaluations).
known_laplace_hessian_par <- function(eng, par, g0 = eng$eval(par)$gradient) {
  gradient_jacobian(function(th) eng$eval(th)$gradient, par, "forward", g0 = g0)
}
