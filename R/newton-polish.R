# Newton iterations with a Hessian recomputed from the exact gradient, to
# finish a search that nlminb left unconverged.
#
# Why: near a rank-deficient covariance matrix (a standard deviation close
# to zero, or two random effects nearly collinear) the log-likelihood has a
# long, flat, curved valley in Lambda's Cholesky entries. nlminb's secant
# model of the curvature degrades along it and the search crawls to its
# iteration limit, stopping at a point that depends on rounding (a
# rescaled coding of the same data stops elsewhere, 1e-5 log-likelihood
# units apart). A Hessian from differences of the exact gradient (P
# evaluations) is accurate there; Newton steps with it, refreshed every few
# BFGS-updated steps, converge quadratically to the same maximum from any
# of those points. Where the Hessian is not negative definite (a saddle
# or the edge of the valley), a Levenberg-Marquardt shift of its spectrum
# gives an ascent direction instead of stopping.
#
# eng: an engine from cpp_agq_new(); boundary(theta): the parameters held
# at their bound; at: an evaluation already made at theta (or NULL).
# maxiter: the user's iteration limit (glmm_control(iter.max)), which the
# Newton steps count against too, so that a limit the user set is honoured.
# Returns theta, the last evaluation (at), whether the Newton decrement fell
# below tol * max(1, |loglik|), and a stage record.
newton_polish <- function(eng, theta, boundary, lower, tol, at = NULL, rounds = 8L,
                          steps = 6L, maxiter = Inf) {
  cur <- at %||% agq_eval(eng, theta, TRUE)
  rec <- list(iterations = 0L, evaluations = if (is.null(at)) 1L else 0L, convergence = 1L,
              message = "")
  converged <- FALSE
  limit <- FALSE
  for (r in seq_len(rounds)) {
    left <- maxiter - rec$iterations
    if (left < 1) { limit <- TRUE; break }
    b <- boundary(theta)
    if (all(b)) { converged <- TRUE; break }
    H <- numeric_hessian(eng, theta, b, g0 = cur$gradient)
    rec$evaluations <- rec$evaluations + sum(!b)
    H <- shift_to_negative_definite(H, b)
    if (is.null(H)) break
    nt <- newton_steps(eng, theta, H, b, maxit = min(steps, left), lower = lower, at = cur,
                       bfgs = TRUE, tol = tol)
    rec$iterations <- rec$iterations + nt$record$iterations
    rec$evaluations <- rec$evaluations + nt$record$evaluations
    progress <- nt$at$loglik - cur$loglik
    theta <- nt$theta
    cur <- nt$at
    if (nt$converged) { converged <- TRUE; break }
    # No step was accepted: another Hessian at the same point gives nothing new.
    if (nt$record$iterations == 0L || !(progress > 0)) break
  }
  rec$convergence <- if (converged) 0L else 1L
  rec$message <- if (converged) {
    sprintf("Newton steps with recomputed Hessians converged (%d round(s))", r)
  } else if (limit) {
    "Newton steps with recomputed Hessians did not converge: iteration limit (iter.max) reached"
  } else {
    "Newton steps with recomputed Hessians did not converge"
  }
  list(theta = theta, at = cur, converged = converged, record = rec)
}

# The Hessian over the free parameters shifted by -mu * I
# (Levenberg-Marquardt), mu just enough to make it negative definite with a
# margin of 1e-3 times its largest curvature. Unchanged when already
# negative definite; NULL when it has missing values.
shift_to_negative_definite <- function(H, on_boundary) {
  free <- which(!on_boundary)
  Hf <- H[free, free, drop = FALSE]
  if (anyNA(Hf) || !all(is.finite(Hf))) return(NULL)
  e <- eigen(-Hf, symmetric = TRUE)
  big <- max(abs(e$values))
  if (min(e$values) > 1e-10 * max(1, big)) return(H)
  H[free, free] <- Hf - diag(1e-3 * big - min(e$values), length(free))
  H
}
