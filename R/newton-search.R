# Newton steps on the log-likelihood, shared by the one-factor optimizer
# (optimize-glmm.R) and the sparse one (optimize-sparse.R): each engine
# evaluation is the expensive unit, so the loop takes as few as it can.
#
# From the Hessian H (negative definite over the free parameters): Newton
# steps, with bfgs = TRUE the matrix updated from each accepted step's change
# in gradient (Nocedal & Wright 2006, sec. 6.1). A step that lowers the
# log-likelihood is shortened until it improves or falls below 1e-4: to the
# maximum of the quadratic through the start (value and slope) and the
# trial's value, kept within [0.1, 0.5] of the trial, or with
# interpolate = FALSE halved (the one-factor optimizer's, whose optima, also
# those of the sharded engine, are compared to the last bits in the tests).
# Parameters on a boundary stay fixed; a step that would cross a bound is
# shortened to `shrink` of the way to it (0.5: a standard deviation
# approaches zero geometrically; 0.99: nearly to the bound), and more than
# `max_hits` such steps in a row hand over to the caller (nlminb).
# Converged: Newton decrement below tol * max(1, |loglik|). With a finite
# `max_first`, a first step longer than that in any parameter is shortened
# to it (same direction) before it is tried: from a start whose curvature
# says little about the way to the optimum (a correlation's scale at 0),
# the full step can be ten times too long, and each halving back costs an
# evaluation. Later steps are not capped: a search drifting to a boundary
# at infinity (a correlation to 1) must be free to take long steps.
#
# `ev(theta)` returns list(loglik, gradient); `at` is an evaluation already
# made at theta (or NULL). With `value(theta)` (list(loglik), cheaper: no
# gradient), trials are made by it and only an accepted one's gradient by
# ev(), which an engine can take from that trial's evaluation. Returns theta, converged, record (iterations,
# evaluations, convergence, message), at (the evaluation at theta) and
# hessian (H with the updated matrix on the free parameters).
newton_search <- function(ev, theta, H, on_boundary, lower, maxit, tol, at = NULL,
                          bfgs = FALSE, shrink = 0.99, max_hits = Inf, interpolate = TRUE,
                          max_first = Inf, value = NULL, stop_at = NULL) {
  free <- which(!on_boundary)
  rec <- list(iterations = 0L, evaluations = 0L, convergence = 1L, message = "")
  B <- -H[free, free, drop = FALSE]  # information: positive definite
  ch <- if (anyNA(B)) NULL else tryCatch(chol(B), error = function(e) NULL)
  if (is.null(ch)) {
    rec$message <- "Hessian not negative definite"
    return(list(theta = theta, converged = FALSE, record = rec, at = at, hessian = NULL))
  }
  cur <- at
  if (is.null(cur)) {
    cur <- ev(theta)
    rec$evaluations <- 1L
  }
  converged <- FALSE
  hits <- 0L
  for (it in seq_len(maxit)) {
    gf <- cur$gradient[free]
    step <- backsolve(ch, forwardsolve(t(ch), gf))
    dec <- sum(step * gf)
    if (!is.finite(dec)) break
    if (dec < tol * max(1, abs(cur$loglik)) || max(abs(step)) < 1e-10) {
      converged <- TRUE
      break
    }
    long <- max(abs(step))
    if (it == 1L && long > max_first) step <- step * (max_first / long)
    t <- 1
    out <- (theta[free] + step) < lower[free]
    if (any(out)) {
      t <- min(1, shrink * min((lower[free][out] - theta[free][out]) / step[out]))
      hits <- hits + 1L
    } else {
      hits <- 0L
    }
    if (!is.finite(t) || t <= 0 || hits > max_hits) break
    ok <- FALSE
    repeat {
      th <- theta
      th[free] <- th[free] + t * step
      nxt <- if (is.null(value)) ev(th) else value(th)
      rec$evaluations <- rec$evaluations + 1L
      if (is.finite(nxt$loglik) && nxt$loglik >= cur$loglik - 1e-10 * abs(cur$loglik)) {
        ok <- t >= 1e-4
        break
      }
      if (interpolate) {
        ft <- nxt$loglik - cur$loglik
        tq <- if (is.finite(ft)) dec * t^2 / (2 * (dec * t - ft)) else t / 2
        t <- min(max(tq, 0.1 * t), 0.5 * t)
      } else {
        t <- t / 2
      }
      if (t < 1e-4) break
    }
    if (!ok) break
    if (!is.null(value)) nxt <- ev(th)  # the accepted trial's gradient
    if (bfgs) {
      # yv: the change in the gradient of -loglik
      up <- bfgs_update(B, th[free] - theta[free], gf - nxt$gradient[free])
      if (!is.null(up)) { B <- up$B; ch <- up$ch }
    }
    theta <- th
    cur <- nxt
    rec$iterations <- it
    if (!is.null(stop_at) && stop_at(theta)) break
  }
  rec$convergence <- if (converged) 0L else 1L
  rec$message <- if (converged) "Newton decrement below tolerance" else "Newton steps did not converge"
  Hout <- H
  Hout[free, free] <- -B
  list(theta = theta, converged = converged, record = rec, at = cur, hessian = Hout)
}

# The BFGS update of the information B (-Hessian, positive definite) from
# a step s and the change yv in the gradient of -loglik (Nocedal & Wright
# 2006, eq. 6.19). NULL where the curvature condition s'yv > 0 fails (to
# rounding) or the update is not positive definite; else the updated
# matrix and its Cholesky factor. Used by every quasi-Newton search here.
bfgs_update <- function(B, s, yv) {
  sy <- sum(s * yv)
  if (!all(is.finite(yv)) || !is.finite(sy) || !(sy > 1e-12 * sqrt(sum(s^2) * sum(yv^2))))
    return(NULL)
  Bs <- drop(B %*% s)
  B1 <- B - tcrossprod(Bs) / sum(s * Bs) + tcrossprod(yv) / sy
  ch1 <- tryCatch(chol(B1), error = function(e) NULL)
  if (is.null(ch1)) NULL else list(B = B1, ch = ch1)
}

# nlminb's scale from a curvature H: each parameter by the square root of
# its curvature (H's diagonal), so that nlminb sees a well-conditioned
# problem whatever the parameters' units (fixed effects and standard
# deviations on very different scales); 1 without H.
curvature_scale <- function(H) {
  if (is.null(H)) return(1)
  scale <- sqrt(abs(diag(H)))
  scale[!is.finite(scale) | scale < 1e-8] <- 1
  scale / max(scale)
}

# nlminb on -loglik where the Newton/BFGS steps did not converge: `ev(theta)`
# gives the log-likelihood and its gradient (a point outside the family's
# domain, a non-finite log-likelihood, is refused; nlminb still asks for its
# gradient, whose non-finite entries would stop it); scaled by the
# curvature H (curvature_scale()).
nlminb_fallback <- function(ev, theta, lower, H, control) {
  obj <- function(th) { v <- -ev(th)$loglik; if (is.finite(v)) v else Inf }
  gr <- function(th) { g <- -ev(th)$gradient; g[!is.finite(g)] <- 0; g }
  stats::nlminb(theta, obj, gr, lower = lower, scale = curvature_scale(H),
                control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                               eval.max = control$eval.max, trace = control$trace))
}
