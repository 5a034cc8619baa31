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
