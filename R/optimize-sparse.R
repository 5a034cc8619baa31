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
#     (newton_search(), newton-search.R: a step that would cross a bound goes
#     half of the way to it, and more than five such steps in a row hand over
#     to nlminb), to a Newton decrement below rel.tol (not
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
    qn <- newton_search(ev, theta, Hs, boundary(theta), lower,
                        maxit = min(control$iter.max, 50L), tol = control$rel.tol, at = cur,
                        bfgs = TRUE, shrink = 0.5, max_hits = 5L)
  if (!is.null(qn)) {
    stages$newton <- qn$record
    theta <- qn$theta
  }
  if (!is.null(qn) && qn$converged) {
    opt <- list(convergence = 0L, message = qn$record$message)
  } else {
    opt <- nlminb_fallback(ev, theta, lower, H1, control)
    stages$nlminb <- stage_record(opt)
    theta <- opt$par
  }
  list(theta = theta, opt = opt, stages = stages, at = ev(theta))
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
