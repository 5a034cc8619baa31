# The optimizer behind glmm_sparse_fit(): the same strategy as the one
# grouping factor engine's (optimize-glmm.R), since one evaluation of the
# sparse engine (PIRLS to the modes, a sparse Cholesky factorization, the
# selected inverse for the exact gradient) is the expensive unit:
#  1. the curvature at the start by forward differences of the exact
#     gradient (P + 1 evaluations), made positive definite where the start
#     is far from the optimum (eigenvalues replaced by their absolute
#     values, bounded below), so that the first steps go uphill;
#  2. quasi-Newton steps whose matrix is updated by BFGS (Nocedal & Wright
#     2006, sec. 6.1) after each step, with an interpolating line search
#     (quasi_newton_sparse()), to a Newton decrement below rel.tol (not
#     rel.tol / 100 as for one factor: the finishing stage's Newton step
#     with the accurate Hessian, finish_sparse_fit(), takes it the rest of
#     the way); the engine warm-starts PIRLS from the previous modes;
#  3. nlminb, scaled by the same curvature, takes over when these steps do
#     not converge (a variance running into its bound, a poor start).
# Boundary optima are then checked by verify_boundary() (fit-sparse.R).
#
# `evalf(theta)` returns list(loglik, gradient); `boundary(theta)` the
# parameters held at their bound. Returns theta, opt (convergence,
# message), stages (one record per stage) and at (the evaluation at theta).
optimize_sparse <- function(evalf, theta, lower, control, boundary) {
  cache <- new.env()
  ev <- function(th) {
    if (!identical(th, cache$th)) { cache$r <- evalf(th); cache$th <- th }
    cache$r
  }
  P <- length(theta)
  stages <- list()
  cur <- ev(theta)
  H1 <- sparse_hessian(ev, theta, rep(FALSE, P), central = FALSE)
  stages$start <- list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                       message = "curvature at the start")
  qn <- NULL
  Hs <- uphill_hessian(H1)
  if (!is.null(Hs) && is.finite(cur$loglik))
    qn <- quasi_newton_sparse(ev, theta, Hs, boundary(theta), lower, cur,
                              maxit = min(control$iter.max, 50L), tol = control$rel.tol)
  if (!is.null(qn)) {
    stages$newton <- qn$record
    theta <- qn$theta
  }
  if (!is.null(qn) && qn$converged) {
    opt <- list(convergence = 0L, message = qn$record$message)
  } else {
    scale <- sqrt(abs(diag(H1)))
    scale[!is.finite(scale) | scale < 1e-8] <- 1
    obj <- function(th) { v <- -ev(th)$loglik; if (is.finite(v)) v else Inf }
    gr <- function(th) { g <- -ev(th)$gradient; g[!is.finite(g)] <- 0; g }
    opt <- stats::nlminb(theta, obj, gr, lower = lower, scale = scale / max(scale),
                         control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                        eval.max = control$eval.max, trace = control$trace))
    stages$nlminb <- stage_record(opt)
    theta <- opt$par
  }
  list(theta = theta, opt = opt, stages = stages, at = ev(theta))
}

# Quasi-Newton steps on the log-likelihood from the Hessian H (negative
# definite over the free parameters), BFGS-updated after each accepted
# step. A step that lowers the log-likelihood is shortened to the maximum
# of the quadratic through the start (value and slope) and the trial's
# value, within [0.1, 0.5] of the trial. Parameters on a boundary stay
# fixed; a step that would cross a bound goes half of the way to it (a
# standard deviation approaches zero geometrically), and more than
# `max_hits` such steps in a row hand over to nlminb. Converged: Newton
# decrement below tol * max(1, |loglik|).
quasi_newton_sparse <- function(ev, theta, H, on_boundary, lower, cur, maxit, tol,
                                max_hits = 5L) {
  free <- which(!on_boundary)
  rec <- list(iterations = 0L, evaluations = 0L, convergence = 1L, message = "")
  B <- -H[free, free, drop = FALSE]
  converged <- FALSE
  hits <- 0L
  for (it in seq_len(maxit)) {
    gf <- cur$gradient[free]
    step <- tryCatch(solve(B, gf), error = function(e) NULL)
    if (is.null(step)) break
    dec <- sum(step * gf)
    if (!is.finite(dec)) break
    if (dec < tol * max(1, abs(cur$loglik)) || max(abs(step)) < 1e-10) {
      converged <- TRUE
      break
    }
    t <- 1
    out <- (theta[free] + step) < lower[free]
    if (any(out)) {
      t <- min(1, 0.5 * min((lower[free][out] - theta[free][out]) / step[out]))
      hits <- hits + 1L
    } else {
      hits <- 0L
    }
    if (!is.finite(t) || t <= 0 || hits > max_hits) break
    d0 <- sum(gf * step)
    ok <- FALSE
    for (k in 1:12) {
      th <- theta
      th[free] <- th[free] + t * step
      nxt <- ev(th)
      rec$evaluations <- rec$evaluations + 1L
      if (is.finite(nxt$loglik) && nxt$loglik >= cur$loglik - 1e-10 * abs(cur$loglik)) {
        ok <- TRUE
        break
      }
      # The maximum of the quadratic through the start (value, slope d0)
      # and the trial's value, kept within [0.1, 0.5] of the trial step.
      ft <- nxt$loglik - cur$loglik
      tq <- if (is.finite(ft)) d0 * t^2 / (2 * (d0 * t - ft)) else t / 2
      t <- min(max(tq, 0.1 * t), 0.5 * t)
    }
    if (!ok) break
    s <- th[free] - theta[free]
    yv <- gf - nxt$gradient[free]
    sy <- sum(s * yv)
    Bs <- drop(B %*% s)
    if (all(is.finite(yv)) && is.finite(sy) && sy > 1e-12 * sqrt(sum(s^2) * sum(yv^2))) {
      B1 <- B - tcrossprod(Bs) / sum(s * Bs) + tcrossprod(yv) / sy
      if (!is.null(tryCatch(chol(B1), error = function(e) NULL))) B <- B1
    }
    theta <- th
    cur <- nxt
    rec$iterations <- rec$iterations + 1L
  }
  rec$convergence <- if (converged) 0L else 1L
  rec$message <- if (converged) "Newton decrement below tolerance" else "quasi-Newton steps did not converge"
  list(theta = theta, converged = converged, record = rec, at = cur)
}

# A negative definite stand-in for a Hessian that is not (a start far from
# the optimum): the eigenvalues of the information replaced by their
# absolute values, none below 1e-6 of the largest. NULL if not finite.
uphill_hessian <- function(H) {
  if (!all(is.finite(H))) return(NULL)
  e <- eigen(-(H + t(H)) / 2, symmetric = TRUE)
  v <- abs(e$values)
  if (max(v) <= 0) return(NULL)
  if (all(e$values > 1e-6 * max(v))) return(H)
  v <- pmax(v, 1e-6 * max(v))
  -(e$vectors %*% (v * t(e$vectors)))
}

# "Newton/BFGS", with ", nlminb" when nlminb had to take over in the
# search that gave the optimum.
sparse_optimizer_name <- function(stages) {
  if (any(grepl("nlminb", names(stages), fixed = TRUE))) "Newton/BFGS, nlminb" else "Newton/BFGS"
}
