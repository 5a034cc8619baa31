# The start of the one-factor search (optimize_glmm()): where the Hessian at
# the start (the GLM's coefficients, a unit standard deviation on the link
# scale) is not negative definite, the start is often far from the optimum
# for links whose scale is not the logit's or the log's (Gamma inverse and
# identity, cauchit) and for families with an auxiliary parameter (beta):
# there the log-likelihood is convex along the standard deviation. Before
# the repair of that curvature (negative_definite(), search.R), the Newton
# steps gave up at once, handing a search of 40-70 evaluations to nlminb.
# The maximum the steps converge to is judged by the same Newton decrement,
# so the optimum does not depend on the start's curvature.
#
# Where the Hessian at the start is not negative definite, the start's
# standard deviations are usually far too large for the link's scale (a
# unit SD on the inverse or identity scale of a Gamma mean near 1 takes
# many clusters' means out of the link's domain). Halving all of Lambda
# while the log-likelihood rises (one evaluation each, at most `max_halve`)
# brings the start into the concave region at the cost of a few
# evaluations, instead of an nlminb search of dozens. Lambda's entries are
# theta[lam]. Returns the (possibly) moved theta, its evaluation with the
# gradient, its Hessian and the number of evaluations spent; theta
# unchanged when the Hessian is already negative definite or halving does
# not help; `curvature` is the matrix the Newton/BFGS steps start from (the
# Hessian made negative definite by negative_definite() where the
# log-likelihood there is finite).
settle_start <- function(eng, theta, cur, H, lam, on_boundary, max_halve = 6L) {
  out <- list(theta = theta, at = cur, hessian = H, curvature = H, evaluations = 0L)
  # A start outside the family's domain (gaussian log with a mean <= 0) has
  # no finite log-likelihood to compare with or step from: the Hessian is
  # left as it is, and nlminb's fallback handles the search.
  if (!is.finite(cur$loglik)) return(out)
  Hs <- negative_definite(H, on_boundary, accept = 1e-3)
  out$curvature <- Hs %||% H
  if (is.null(Hs) || identical(Hs, H) || !length(lam)) return(out)
  best <- cur$loglik
  best_theta <- theta
  th <- theta
  for (k in seq_len(max_halve)) {
    th[lam] <- th[lam] / 2
    v <- agq_eval(eng, th, FALSE)$loglik
    out$evaluations <- out$evaluations + 1L
    if (!is.finite(v) || v <= best) break
    best <- v
    best_theta <- th
  }
  if (identical(best_theta, theta)) return(out)
  at <- agq_eval(eng, best_theta, TRUE)
  b <- on_boundary
  H <- numeric_hessian(eng, best_theta, b, g0 = at$gradient)
  list(theta = best_theta, at = at, hessian = H,
       curvature = if (is.finite(at$loglik)) negative_definite(H, b, accept = 1e-3) %||% H else H,
       evaluations = out$evaluations + 1L + sum(!b))
}

# A start curvature whose block of the coefficients (`fixed`) comes from one
# pass over the observations at the modes (`Hfixed`: the conditional
# information, without the log|H| terms) and whose columns `lam` (Lambda's
# entries) from forward differences of the exact gradient `grad` (from g0,
# steps `step` relative, fd_hessian()). One evaluation per column of Lambda
# instead of one per parameter; it only guides the first steps (BFGS
# corrects it), so the optimum does not depend on it. Other entries NA.
block_curvature <- function(grad, theta, g0, fixed, Hfixed, lam, step) {
  P <- length(theta)
  H <- matrix(NA_real_, P, P)
  H[fixed, fixed] <- Hfixed
  if (length(lam)) {
    D <- fd_hessian(grad, theta, g0 = g0, step = step, floor = 0.1,
                    on_boundary = !(seq_len(P) %in% lam))
    H[, lam] <- D[, lam]
    H[lam, fixed] <- t(D[fixed, lam, drop = FALSE])
  }
  H
}
