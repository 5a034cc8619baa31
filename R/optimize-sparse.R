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
#     (newton_search(), profile "sparse", search.R: a step that would cross
#     a bound goes half of the way to it, and more than five such steps in a
#     row hand over to nlminb), to a Newton decrement below rel.tol (not
#     rel.tol / 100 as for one factor: the finishing stage's Newton step
#     with the accurate Hessian, finish_search(), takes it the rest of
#     the way); the engine warm-starts PIRLS from the previous modes;
#  3. nlminb, scaled by the same curvature, takes over when these steps do
#     not converge (a variance running into its bound, a poor start).
# Boundary optima are then checked by verify_boundary() (fit-sparse.R).
#
# `evalf(theta)` returns list(loglik, gradient); `boundary(theta)` the
# parameters held at their bound. `H0`: a curvature to start from instead
# of step 1 (a P x P matrix on the same scale, e.g. the quasi-Newton matrix
# at the end of an earlier search of the same model, for a restart next to
# it; P + 1 evaluations fewer); it is used only if finite and negative
# definite over the free parameters. `fixed_curv`: where the engine gives
# the coefficients' block of the start curvature from one pass
# (start_curvature_fixed()), else NULL; `at`: evalf(theta) if the caller
# has just made it (the engine's last evaluation), else NULL. Returns theta, opt (convergence,
# message), stages (one record per stage), at (the evaluation at theta)
# and curvature (the quasi-Newton matrix at theta where the Newton/BFGS
# steps converged, else NULL; for `H0` of a later search).
optimize_sparse <- function(evalf, theta, lower, control, boundary, H0 = NULL,
                            fixed_curv = NULL, at = NULL) {
  ev <- cached_ev(evalf, theta, at)
  P <- length(theta)
  stages <- list()
  cur <- ev(theta)
  H1 <- given_curvature(H0, P, boundary(theta))
  if (!is.null(H1)) {
    stages$start <- list(iterations = 0L, evaluations = 1L, convergence = 0L,
                         message = "curvature from the previous search")
    Hs <- H1
  } else {
    if (!is.null(fixed_curv) && is.finite(cur$loglik))
      H1 <- start_curvature_fixed(ev, theta, fixed_curv)
    if (!is.null(H1)) {
      stages$start <- list(iterations = 0L, evaluations = attr(H1, "evaluations"),
                           convergence = 0L,
                           message = "curvature at the start (coefficients at the modes)")
      attr(H1, "evaluations") <- NULL
    } else {
      H1 <- fd_hessian(gradient_of(ev), theta, step = 1e-4, floor = 0.1)
      stages$start <- list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                           message = "curvature at the start")
    }
    Hs <- negative_definite(H1, rep(FALSE, P), floor = 1e-6, accept = 1e-6)
  }
  qn <- NULL
  if (!is.null(Hs) && is.finite(cur$loglik))
    qn <- newton_search(ev, theta, Hs, boundary(theta), lower,
                        maxit = min(control$iter.max, 50L), tol = control$rel.tol, at = cur,
                        bfgs = TRUE, shrink = 0.5, max_hits = 5L)
  if (!is.null(qn)) {
    stages$newton <- qn$record
    theta <- qn$theta
  }
  curvature <- NULL
  if (!is.null(qn) && qn$converged) {
    opt <- list(convergence = 0L, message = qn$record$message)
    curvature <- qn$hessian
  } else {
    opt <- nlminb_fallback(ev, theta, lower, H1, control)
    stages$nlminb <- stage_record(opt)
    theta <- opt$par
  }
  list(theta = theta, opt = opt, stages = stages, at = ev(theta), curvature = curvature)
}

# The start curvature with the block of the coefficients (fixed, zero and
# dispersion) from one pass at the modes, `fixed_curv(theta)`: list(idx,
# H) or NULL (then NULL here, and the caller takes differences of every
# column); the other columns (Lambda's entries) by forward differences of
# the exact gradient (fd_hessian(); zi_start_hessian() for one
# grouping factor does the same). One evaluation per column of Lambda
# instead of one per parameter; it only guides the first steps (BFGS
# corrects it), the optimum does not depend on it. Attribute
# "evaluations": the engine evaluations it took besides the one at theta.
start_curvature_fixed <- function(ev, theta, fixed_curv) {
  fc <- fixed_curv(theta)
  if (is.null(fc) || !all(is.finite(fc$H))) return(NULL)
  lam <- setdiff(seq_along(theta), fc$idx)
  H <- block_curvature(gradient_of(ev), theta, NULL, fc$idx, fc$H, lam, 1e-4)
  if (!all(is.finite(H))) return(NULL)
  structure(H, evaluations = 1L + length(lam))
}

# optimize_sparse()'s `H0` if it can start a search: P x P, finite and
# negative definite over the parameters not on their bound (`on_boundary`);
# else NULL.
given_curvature <- function(H0, P, on_boundary) {
  if (is.null(H0) || !is.matrix(H0) || !identical(dim(H0), c(P, P)) || !all(is.finite(H0)))
    return(NULL)
  free <- which(!on_boundary)
  ch <- tryCatch(chol(-H0[free, free, drop = FALSE]), error = function(e) NULL)
  if (is.null(ch)) NULL else H0
}


# "Newton/BFGS", with ", nlminb" when nlminb had to take over in the
# search that gave the optimum.
sparse_optimizer_name <- function(stages) {
  if (any(grepl("nlminb", names(stages), fixed = TRUE))) "Newton/BFGS, nlminb" else "Newton/BFGS"
}
