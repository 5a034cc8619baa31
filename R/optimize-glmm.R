# The optimizer behind glmm_fit(): maximizes the engine's log-likelihood
# with as few engine evaluations as it can, since each one is a pass over all
# clusters (quadrature nodes times observations).
#
# Strategy (P parameters, L = a Laplace evaluation, A = a quadrature one):
#  1. Curvature at the start by forward differences of the exact gradient
#     (P + 1 evaluations). From there, Newton steps whose Hessian is updated
#     by BFGS (Nocedal & Wright 2006, sec. 6.1) along the way: an accurate
#     start matrix plus secant updates converges in a handful of steps.
#     nlminb, scaled by the same curvature, takes over whenever these steps
#     do not converge (a variance running into its bound, a poor start).
#  2. For nAGQ > 1 this runs on the Laplace approximation, which is several
#     times cheaper, to a loose tolerance; then the engine switches to
#     quadrature (keeping the modes as warm starts) and the Newton/BFGS
#     steps continue from the Laplace optimum with the Laplace Hessian.
#  3. (finish_search(), in the user's parameterization after the
#     optimum is mapped back; see reparam-glmm.R) The Hessian at the
#     optimum, for the standard errors, by forward
#     differences of the exact gradient (P evaluations; relative accuracy
#     ~1e-5, far below the sampling error of a standard error), reusing the
#     gradient of the last step. A final Newton step with it is taken only
#     when the Newton decrement is not already negligible.
optimize_glmm <- function(eng, theta, lower, nAGQ, p, pat, disp, control) {
  stages <- list()
  boundary <- function(th) boundary_mask(th, p, pat, disp, optimizer_boundary_tol(control))
  two_stage <- control$laplace_start && nAGQ > 1L
  # A search begins on the Laplace approximation when it has two stages, on
  # quadrature otherwise (restarts by verify_boundary(): where the Laplace
  # optimum is on a boundary and the quadrature one is not, a Laplace stage
  # would lead every restart back to the boundary).
  agq_set_nagq(eng, if (two_stage) 1L else nAGQ)
  P <- length(theta)
  cur <- agq_eval(eng, theta, TRUE)
  H1 <- numeric_hessian(eng, theta, rep(FALSE, P), g0 = cur$gradient)
  stages$start <- list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                       message = "curvature at the start")
  tight <- control$rel.tol / 100
  ss <- settle_start(eng, theta, cur, H1, p + seq_along(pat$row), boundary(theta))
  theta <- ss$theta; cur <- ss$at; H1 <- ss$hessian
  stages$start$evaluations <- stages$start$evaluations + ss$evaluations
  ev <- engine_ev(eng)
  qn <- newton_search(ev, theta, ss$curvature, boundary(theta), lower, profile = "agq", at = cur,
                      maxit = min(control$iter.max, 50L), tol = if (two_stage) 1e-8 else tight)
  stages$newton <- qn$record
  theta <- qn$theta
  cur <- qn$at
  Hq <- qn$hessian
  opt <- list(convergence = qn$record$convergence, message = qn$record$message)
  if (!qn$converged) {
    # Scaled by the curvature at the start (curvature_scale()).
    opt <- optimize_engine(eng, theta, lower, control, H = H1)
    stages$nlminb <- stage_record(opt)
    theta <- opt$par
    cur <- NULL
    Hq <- NULL
    if (opt$convergence != 0L) {
      pol <- newton_polish(eng, theta, boundary, lower, if (two_stage) 1e-8 else tight,
                           control$iter.max)
      stages$newton_polish <- pol$record
      theta <- pol$theta
      cur <- pol$at
      if (pol$converged) opt <- list(convergence = 0L, message = pol$record$message)
    }
  }
  if (two_stage) {
    if (is.null(Hq)) {
      Hq <- numeric_hessian(eng, theta, boundary(theta))
      stages$hessian_laplace <- list(iterations = 0L, evaluations = 2L * sum(!boundary(theta)),
                                     convergence = 0L, message = "central differences")
    }
    agq_set_nagq(eng, nAGQ)
    check_agq_domain(eng, theta, nAGQ)
    nt <- newton_search(ev, theta, Hq, boundary(theta), lower, profile = "agq", maxit = 20L,
                        tol = tight)
    stages$newton_agq <- nt$record
    if (nt$converged) {
      theta <- nt$theta
      cur <- nt$at
      opt <- list(convergence = 0L, message = nt$record$message)
    } else {
      opt <- optimize_engine(eng, theta, lower, control)
      stages$nlminb_agq <- stage_record(opt)
      theta <- opt$par
      cur <- NULL
      if (opt$convergence != 0L) {
        pol <- newton_polish(eng, theta, boundary, lower, tight, control$iter.max)
        stages$newton_polish_agq <- pol$record
        theta <- pol$theta
        cur <- pol$at
        if (pol$converged) opt <- list(convergence = 0L, message = pol$record$message)
      }
    }
  }
  list(theta = theta, opt = opt, stages = stages, at = cur)
}

# Quadrature switched on at the Laplace optimum: its nodes reach further
# out than the mode, and under a link whose mean is bounded only by the
# data (Gamma with the identity or inverse link) they can give a mean <= 0,
# where the log-likelihood is not defined. Nothing then leads the search back,
# so stop with a classed condition that glmm_fit() turns into a Laplace fit
# (default nAGQ) or a clear error (nAGQ given).
check_agq_domain <- function(eng, theta, nAGQ) {
  if (is.finite(agq_eval(eng, theta, FALSE)$loglik)) return(invisible())
  # Where the Laplace value is not finite either (offsets of +/- 1e6: every
  # probability 0 or 1), the nodes are not the cause.
  agq_set_nagq(eng, 1L)
  laplace <- agq_eval(eng, theta, FALSE)$loglik
  agq_set_nagq(eng, nAGQ)
  if (!is.finite(laplace)) return(invisible())
  stop(structure(class = c("glmmgee_agq_domain", "error", "condition"), list(
    message = sprintf(paste0("adaptive quadrature with nAGQ = %d puts nodes where the mean is outside ",
                             "the family's support (e.g. a Gamma mean <= 0 under the identity or ",
                             "inverse link), so the log-likelihood is not defined there; use ",
                             "nAGQ = 1 (Laplace) or a log link"), nAGQ),
    call = NULL)))
}

# A search that nlminb left unconverged finished by Newton rounds with
# Hessians recomputed from the exact gradient (newton_refresh(), search.R),
# counted against the user's iteration limit (glmm_control(iter.max)).
newton_polish <- function(eng, theta, boundary, lower, tol, maxiter) {
  newton_refresh(engine_ev(eng), theta,
                 function(th, b, cur) numeric_hessian(eng, th, b, g0 = cur$gradient),
                 boundary, lower, tol, maxiter = maxiter)
}

# nlminb on the engine's negative log-likelihood (nlminb_fallback()),
# objective and gradient from one engine call (cached, since nlminb asks for
# them separately); scaled by the curvature H when given.
optimize_engine <- function(eng, theta, lower, control, H = NULL) {
  nlminb_fallback(cached_ev(engine_ev(eng)), theta, lower, H, control)
}

# The engine's Hessian by differences of its exact gradient (fd_hessian()):
# forward from g0 (the gradient at theta) when it is given, with a step
# small enough that their O(h) error stays near the level of the gradient's
# own rounding; central differences otherwise.
numeric_hessian <- function(eng, theta, on_boundary, g0 = NULL, typical = 1) {
  fd_hessian(function(th) agq_eval(eng, th, TRUE)$gradient, theta,
             if (is.null(g0)) "central" else "forward", g0 = g0,
             step = if (is.null(g0)) 1e-4 else 1e-5, floor = 0.1 * typical,
             on_boundary = on_boundary)
}

# The search from the start `st` and the verification of a boundary optimum
# by restarts from interior points (verify-boundary.R), on the centred and
# scaled parameters; shared by the in-memory and the sharded fit, since
# agq_eval() and agq_set_nagq() reach either engine. The optimizer holds a
# variance at zero below optimizer_boundary_tol(); `singular_tol` only
# decides what is reported as singular. Returns the best run, its stages
# (restarts included), the boundary mask and the verification record.
search_verified <- function(eng, st, lower, nAGQ, p, pat, disp, control, pnames) {
  star_boundary <- function(th) boundary_mask(th, p, pat, disp, optimizer_boundary_tol(control))
  search <- function(th, two_stage = TRUE) {
    ctl <- control
    if (!two_stage) ctl$laplace_start <- FALSE
    r <- optimize_glmm(eng, th, lower, nAGQ, p, pat, disp, ctl)
    r$loglik <- if (is.null(r$at)) agq_eval(eng, r$theta, FALSE)$loglik else r$at$loglik
    r
  }
  run <- search(st)
  at <- p + seq_along(pat$row)
  vb <- verify_boundary(function(th) search(th, two_stage = FALSE), run, star_boundary,
                        function(th, b, size, corr)
                          restart_lambda(th, b, size, corr, pat$row, pat$col, at),
                        pnames, diag = at[pat$row == pat$col])
  if (control$laplace_start && nAGQ > 1L) agq_set_nagq(eng, nAGQ)
  list(run = vb$best, stages = c(vb$best$stages, vb$best$restart_stages),
       star_boundary = star_boundary, verification = vb)
}
