# The search: one Newton/BFGS loop on a log-likelihood for every engine,
# its options kept together as a named profile, the curvature repair it
# starts from, Newton rounds with refreshed Hessians, and nlminb as the
# fallback. Each engine evaluation is the expensive unit, so the loop takes
# as few as it can.
#
# An evaluator `ev(theta)` returns list(loglik, gradient); `value(theta)`
# (optional) list(loglik) alone, cheaper: trials are then made by it and
# only an accepted one's gradient by ev(), which an engine can take from
# that trial's evaluation.

# The options of the loop (newton_search()):
# - bfgs: update the matrix from each accepted step's change in gradient
#   (Nocedal & Wright 2006, sec. 6.1), else keep the Hessian given;
# - shrink: a step that would cross a bound is shortened to this fraction
#   of the way to it (0.5: a standard deviation approaches zero
#   geometrically; 0.99: nearly to the bound); max_hits: more such steps in
#   a row hand over to the caller (its fallback);
# - interpolate: a step that lowers the log-likelihood is shortened to the
#   maximum of the quadratic through the start (value and slope) and the
#   trial's value, kept within [0.1, 0.5] of the trial; FALSE: halved;
# - accept: a trial is accepted when its log-likelihood is at least the
#   current one minus accept * |current|; min_step: the line search gives up
#   below this fraction of the step;
# - max_first: a first step longer than this in any parameter is shortened
#   to it (same direction): from a start whose curvature says little about
#   the way to the optimum (a correlation's scale at 0) the full step can be
#   ten times too long, and each halving back costs an evaluation. Later
#   steps are not capped: a search drifting to a boundary at infinity (a
#   correlation to 1) must be free to take long steps. max_step: the same
#   cap on every step (a trust region), for searches where a long step can
#   land where the approximation breaks down (two-part fits with structured
#   terms: a zero part's standard deviation that jumped from 0.26 to 1e27,
#   where the Laplace value rose 16 units through the approximation alone).
# - gradient_accept: a full step whose gain the value cannot show (below
#   its rounding noise) is taken when the gradient says it was right
#   (gradient_verified_step()).
# The stopping rule is the Newton decrement below tol * max(1, |loglik|) (or
# a step below 1e-10 in every parameter).
# Profiles: "default"; "agq": the one-factor engines' BFGS (halving, whose
# optima, also those of the sharded engine, are compared to the last bits in
# the tests; a second step in a row held at a bound hands over to nlminb);
# "agq_newton": the same with a fixed Hessian (the finishing steps);
# "sparse": the sparse engines' BFGS (interpolating, half way to a bound,
# five bound steps before handing over); "structured": "agq" with the first
# step capped at 2 (covariance structures' parameters); "structured_two_part":
# "structured" with every step capped at 3; "known_laplace":
# BFGS without bounds, accepting only a value not below the current one to
# 1e-12 (the known-covariance Laplace engine's chord search); "refresh": a
# plain Newton step for newton_refresh(), halved down to 1e-6, accepted when
# the value does not fall or, below its noise, when the gradient confirms it.
search_profiles <- list(
  default = list(bfgs = FALSE, shrink = 0.99, max_hits = Inf, interpolate = TRUE,
                 accept = 1e-10, min_step = 1e-4, max_first = Inf, max_step = Inf,
                 gradient_accept = FALSE),
  agq = list(bfgs = TRUE, max_hits = 1, interpolate = FALSE),
  agq_newton = list(interpolate = FALSE),
  sparse = list(bfgs = TRUE, shrink = 0.5, max_hits = 5),
  structured = list(bfgs = TRUE, max_hits = 1, interpolate = FALSE, max_first = 2),
  structured_two_part = list(bfgs = TRUE, max_hits = 1, interpolate = FALSE, max_first = 2,
                             max_step = 3),
  known_laplace = list(bfgs = TRUE, interpolate = FALSE, accept = 1e-12),
  refresh = list(interpolate = FALSE, accept = 0, min_step = 1e-6, gradient_accept = TRUE)
)

# A full Newton step to `th` (its evaluation `nxt`, value only where
# `value` is given) that lowered the log-likelihood from `ll`, where the
# step's predicted gain (the Newton decrement `dec` over 2) is below the
# value's rounding noise, taken as 1e-7 * max(1, |ll|): there the value
# cannot verify the step, and near the optimum the exact gradient can. The
# step is taken when the value fell by no more than that noise and the
# Newton decrement at `th` (with the same factor `ch` of the information
# over `free`) is below a quarter of `dec`, as a Newton step converging to
# the maximum gives. (A one-stage meta-analysis with equalto() and
# dispformula = ~ 0 has a value whose log-determinant loses about 1e-8 per
# study; the searches ended with "false convergence" at estimates 1e-5
# from the exact ones, whose remaining step the gradient gave.) Returns the
# evaluation at `th` with its gradient, or NULL, and the evaluations made.
gradient_verified_step <- function(ev, th, nxt, value, ll, dec, ch, free) {
  noise <- 1e-7 * max(1, abs(ll))
  if (!(dec < noise) || !is.finite(nxt$loglik) || nxt$loglik < ll - noise)
    return(list(at = NULL, evaluations = 0L))
  at <- if (is.null(value)) nxt else ev(th)
  g <- at$gradient[free]
  dec2 <- sum(g * backsolve(ch, forwardsolve(t(ch), g)))
  list(at = if (is.finite(dec2) && dec2 < dec / 4) at, evaluations = if (is.null(value)) 0L else 1L)
}

# Each profile with every option (the default's where it sets none).
search_profiles_full <- lapply(search_profiles, function(p)
  utils::modifyList(search_profiles$default, p))

# The options of profile `name`, with single options overridden by `...`.
search_profile <- function(name = "default", ...) {
  if (is.list(name)) return(name)
  if (!is.character(name) || length(name) != 1L || !(name %in% names(search_profiles)))
    stop(sprintf("unknown search profile '%s'", paste(format(name), collapse = " ")),
         call. = FALSE)
  if (...length() == 0L) return(search_profiles_full[[name]])
  over <- list(...)
  bad <- setdiff(names(over), names(search_profiles$default))
  if (length(bad) || is.null(names(over)))
    stop(sprintf("unknown search option(s): %s", paste(bad, collapse = ", ")), call. = FALSE)
  utils::modifyList(search_profiles_full[[name]], over)
}

# Newton (or BFGS) steps from the Hessian H (negative definite over the
# free parameters; NULL or not: nothing is done) on ev's log-likelihood,
# with the options of `profile` (search_profile(); `...` overrides single
# options). Parameters on a boundary (on_boundary) stay fixed; `lower` the
# bounds. `at`: an evaluation already made at theta (or NULL). `stop_at
# (theta)`: TRUE ends the steps early. Returns theta, converged, record
# (iterations, evaluations, convergence, message), at (the evaluation at
# theta) and hessian (H with the updated matrix on the free parameters).
newton_search <- function(ev, theta, H, on_boundary, lower, maxit, tol, at = NULL,
                          profile = "default", value = NULL, stop_at = NULL, ...) {
  o <- search_profile(profile, ...)
  free <- which(!on_boundary)
  rec <- list(iterations = 0L, evaluations = 0L, convergence = 1L, message = "")
  B <- if (!is.null(H)) -H[free, free, drop = FALSE]  # information: positive definite
  ch <- if (is.null(B) || anyNA(B)) NULL else tryCatch(chol(B), error = function(e) NULL)
  if (is.null(ch)) {
    rec$message <- "Hessian not negative definite"
    return(list(theta = theta, converged = FALSE, record = rec, at = at, hessian = NULL))
  }
  cur <- at
  if (is.null(cur)) {
    cur <- ev(theta)
    rec$evaluations <- 1L
  }
  converged <- verified <- FALSE
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
    cap <- if (it == 1L) min(o$max_first, o$max_step) else o$max_step
    if (long > cap) step <- step * (cap / long)
    t <- 1
    out <- (theta[free] + step) < lower[free]
    if (any(out)) {
      t <- min(1, o$shrink * min((lower[free][out] - theta[free][out]) / step[out]))
      hits <- hits + 1L
    } else {
      hits <- 0L
    }
    if (!is.finite(t) || t <= 0 || hits > o$max_hits) break
    ok <- full <- FALSE
    repeat {
      th <- theta
      th[free] <- th[free] + t * step
      nxt <- if (is.null(value)) ev(th) else value(th)
      rec$evaluations <- rec$evaluations + 1L
      if (is.finite(nxt$loglik) && nxt$loglik >= cur$loglik - o$accept * abs(cur$loglik)) {
        ok <- t >= o$min_step
        break
      }
      if (o$gradient_accept && t == 1) {
        g <- gradient_verified_step(ev, th, nxt, value, cur$loglik, dec, ch, free)
        rec$evaluations <- rec$evaluations + g$evaluations
        if (!is.null(g$at)) {
          nxt <- g$at
          ok <- full <- verified <- TRUE
          break
        }
      }
      if (o$interpolate) {
        ft <- nxt$loglik - cur$loglik
        tq <- if (is.finite(ft)) dec * t^2 / (2 * (dec * t - ft)) else t / 2
        t <- min(max(tq, 0.1 * t), 0.5 * t)
      } else {
        t <- t / 2
      }
      if (t < o$min_step) break
    }
    if (!ok) break
    if (!is.null(value) && !full) nxt <- ev(th)  # the accepted trial's gradient
    if (o$bfgs) {
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
  list(theta = theta, converged = converged, record = rec, at = cur, hessian = Hout,
       gradient_verified = verified)
}

# The last stage of a fit, in the user's parameterization: the Hessian for
# the standard errors (forward differences of the exact gradient from the
# one at the optimum, each step relative to the parameter's typical size
# `typical`, so that standard errors do not depend on the units of the
# covariates; relative accuracy ~1e-5, far below the sampling error of a
# standard error) and, with it, up to three Newton steps to the decrement
# `tol`. `at` is an evaluation already made at theta (or NULL).
# `reevaluate`: TRUE asks `ev` again at theta after the Hessian and at the
# end rather than reusing the evaluation in hand (the sparse engines, whose
# cached evaluator, cached_ev(), answers from its last point). Returns
# theta, opt, stages (with `hessian` and `polish`), final (the evaluation at
# theta), hess and curvature. With `cluster_ev` (scores_ev()), the Hessian's
# evaluations also give each cluster's score and information, kept as
# `curvature` (cluster-curvature.R); this costs one evaluation more, two
# where the polish moves the parameters.
finish_search <- function(ev, theta, opt, stages, boundary, lower, control, typical, tol,
                          at = NULL, reevaluate = FALSE, cluster_ev = NULL) {
  cur <- at
  hess <- curv <- NULL
  if (control$hessian) {
    b <- boundary(theta)
    fresh <- !is.null(cluster_ev) || is.null(cur)
    if (!is.null(cluster_ev)) {
      ch <- clusters_hessian(cluster_ev, theta, b, typical)
      cur <- ch$at
      hess <- ch$hess
      curv <- ch$curvature
    } else {
      if (is.null(cur)) cur <- ev(theta)
      hess <- fd_hessian(gradient_of(ev), theta, g0 = cur$gradient, floor = 0.1 * typical,
                         on_boundary = b)
    }
    stages$hessian <- list(iterations = 0L, evaluations = sum(!b) + fresh,
                           convergence = 0L, message = "forward differences")
    if (reevaluate) cur <- ev(theta)
    pol <- newton_search(ev, theta, hess, b, lower, profile = "agq_newton", at = cur,
                         maxit = 3L, tol = tol)
    stages$polish <- pol$record
    theta <- pol$theta
    cur <- if (reevaluate) NULL else pol$at %||% cur
    if (opt$convergence != 0L && pol$converged)
      opt <- list(convergence = 0L,
                  message = paste0("nlminb stopped early (", opt$message,
                                   "); Newton steps with the Hessian then converged"))
  }
  final <- if (is.null(cur) || reevaluate) ev(theta) else cur
  list(theta = theta, opt = opt, stages = stages, final = final, hess = hess,
       curvature = curvature_at_final(curv, cluster_ev, theta))
}

# The one-factor engine's evaluator: `eng` an engine (agq_eval()), or
# already a function of theta returning the evaluation with its gradient.
engine_ev <- function(eng) if (is.function(eng)) eng else function(th) agq_eval(eng, th, TRUE)

# An evaluator that remembers its last point (`at`: the evaluation at
# theta, if already made): nlminb asks for the value and the gradient at a
# point separately, and a caller asks again for the search's last point.
cached_ev <- function(evalf, theta = NULL, at = NULL) {
  cache <- new.env()
  if (!is.null(at)) { cache$r <- at; cache$th <- theta }
  function(th) {
    if (!identical(th, cache$th)) { cache$r <- evalf(th); cache$th <- th }
    cache$r
  }
}

# The BFGS update of the information B (-Hessian, positive definite) from
# a step s and the change yv in the gradient of -loglik (Nocedal & Wright
# 2006, eq. 6.19). NULL where the curvature condition s'yv > 0 fails (to
# rounding) or the update is not positive definite; else the updated
# matrix and its Cholesky factor.
bfgs_update <- function(B, s, yv) {
  sy <- sum(s * yv)
  if (!all(is.finite(yv)) || !is.finite(sy) || !(sy > 1e-12 * sqrt(sum(s^2) * sum(yv^2))))
    return(NULL)
  Bs <- drop(B %*% s)
  B1 <- B - tcrossprod(Bs) / sum(s * Bs) + tcrossprod(yv) / sy
  ch1 <- tryCatch(chol(B1), error = function(e) NULL)
  if (is.null(ch1)) NULL else list(B = B1, ch = ch1)
}

# Rounds of Newton steps, each from a Hessian recomputed at the current
# point (`hessian(theta, on_boundary, at)`, whose evaluations the record
# counts as one per free parameter) and made negative definite by the
# Levenberg-Marquardt shift where it is not: a saddle or the edge of a flat
# valley gives an ascent direction instead of stopping. At most `steps`
# steps a round (profile "agq": BFGS-updated between refreshes; "refresh":
# one plain Newton step), `rounds` rounds, `maxiter` steps in all (the
# user's iteration limit). Stops when the Newton decrement is below
# tol * max(1, |loglik|) or a round makes no progress. Returns theta, at,
# converged, record, limit (the iteration limit was reached) and hessian
# (the unshifted Hessian at theta where the last round converged there).
#
# Why: near a rank-deficient covariance matrix (a standard deviation close
# to zero, or two random effects nearly collinear) the log-likelihood has a
# long, flat, curved valley in Lambda's Cholesky entries. nlminb's secant
# model of the curvature degrades along it and the search crawls to its
# iteration limit, stopping at a point that depends on rounding (a rescaled
# coding of the same data stops elsewhere, 1e-5 log-likelihood units apart).
# A Hessian from differences of the exact gradient is accurate there;
# Newton steps with it converge quadratically to the same maximum from any
# of those points.
newton_refresh <- function(ev, theta, hessian, boundary, lower, tol, at = NULL, rounds = 8L,
                           steps = 6L, maxiter = Inf, profile = "agq", value = NULL) {
  cur <- at %||% ev(theta)
  rec <- list(iterations = 0L, evaluations = if (is.null(at)) 1L else 0L, convergence = 1L,
              message = "")
  converged <- limit <- FALSE
  Hkeep <- NULL
  for (r in seq_len(rounds)) {
    left <- maxiter - rec$iterations
    if (left < 1) { limit <- TRUE; break }
    b <- boundary(theta)
    if (all(b)) { converged <- TRUE; break }
    Hkeep <- hessian(theta, b, cur)
    rec$evaluations <- rec$evaluations + sum(!b)
    H <- negative_definite(Hkeep, b, how = "shift")
    if (is.null(H)) break
    nt <- newton_search(ev, theta, H, b, lower, maxit = min(steps, left), tol = tol, at = cur,
                        profile = profile, value = value)
    rec$iterations <- rec$iterations + nt$record$iterations
    rec$evaluations <- rec$evaluations + nt$record$evaluations
    progress <- nt$at$loglik - cur$loglik
    theta <- nt$theta
    cur <- nt$at
    if (nt$record$iterations > 0L) Hkeep <- NULL  # taken at a point left since
    if (nt$converged) { converged <- TRUE; break }
    # No step was accepted: another Hessian at the same point gives nothing
    # new (nor after a step that lowered the value, unless within its noise
    # the gradient confirmed it: gradient_verified_step()).
    if (nt$record$iterations == 0L || !(progress > 0 || nt$gradient_verified)) break
  }
  rec$convergence <- if (converged) 0L else 1L
  rec$message <- if (converged) {
    sprintf("Newton steps with recomputed Hessians converged (%d round(s))", r)
  } else if (limit) {
    "Newton steps with recomputed Hessians did not converge: iteration limit (iter.max) reached"
  } else {
    "Newton steps with recomputed Hessians did not converge"
  }
  list(theta = theta, at = cur, converged = converged, record = rec, hessian = Hkeep)
}

# A curvature the Newton/BFGS steps can start from: H (P x P, NA outside
# the free parameters) made negative definite over the free parameters
# (not on_boundary). Returns H unchanged where it already is (its least
# curvature above `accept` times the largest), NULL where it has missing or
# infinite values or no curvature at all.
# - how = "mirror": each eigenvalue of the information -H replaced by its
#   absolute value, floored at `floor` times the largest (the "saddle-free"
#   Newton modification; Nocedal & Wright 2006, sec. 3.4): the step is an
#   ascent direction of about the right length in every direction, and
#   BFGS updates learn the true curvature on the way. Far from the optimum
#   (a start whose standard deviations are too large for the link's scale,
#   a zero-inflation start off by several logits) the curvature need not be
#   negative definite, and the search would otherwise hand over to nlminb
#   at once.
# - how = "shift": H shifted by -mu * I (Levenberg-Marquardt), mu just
#   enough to make it negative definite with a margin of `floor` times its
#   largest curvature; accepted unchanged above 1e-10 * max(1, largest).
negative_definite <- function(H, on_boundary = is.na(diag(H)), how = c("mirror", "shift"),
                              floor = 1e-3, accept = 0) {
  how <- match.arg(how)
  free <- which(!on_boundary)
  if (!length(free)) return(H)
  Hf <- H[free, free, drop = FALSE]
  if (!all(is.finite(Hf))) return(NULL)
  e <- eigen(-Hf, symmetric = TRUE)
  big <- max(abs(e$values))
  if (how == "shift") {
    if (min(e$values) > 1e-10 * max(1, big)) return(H)
    H[free, free] <- Hf - diag(floor * big - min(e$values), length(free))
    return(H)
  }
  if (!(big > 0)) return(NULL)
  if (min(e$values) > accept * big) return(H)
  v <- pmax(abs(e$values), floor * big)
  H[free, free] <- -(e$vectors %*% (v * t(e$vectors)))
  H
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

# The fallback: nlminb on -loglik where the Newton/BFGS steps did not
# converge: `ev(theta)` gives the log-likelihood and its gradient (a point
# outside the family's domain, a non-finite log-likelihood, is refused;
# nlminb still asks for its gradient, whose non-finite entries would stop
# it); scaled by the curvature H (curvature_scale()).
nlminb_fallback <- function(ev, theta, lower, H, control) {
  obj <- function(th) { v <- -ev(th)$loglik; if (is.finite(v)) v else Inf }
  gr <- function(th) { g <- -ev(th)$gradient; g[!is.finite(g)] <- 0; g }
  stats::nlminb(theta, obj, gr, lower = lower, scale = curvature_scale(H),
                control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                               eval.max = control$eval.max, trace = control$trace))
}

# Refinements of a sparse Laplace fit (importance sampling, the second-order
# Laplace approximation; glmm_control()): the maximum of the refined
# log-likelihood `make_ev(se)`, a function of the engine's parameters
# giving list(loglik, gradient), searched from the Laplace optimum theta_s
# with the Laplace Hessian H0 as first curvature. Parameters on a boundary
# there (`held`) stay there. `se`, passed to make_ev() to scale its
# difference steps: the Laplace standard errors of the free parameters (NA
# for the held ones).
refine_laplace <- function(make_ev, theta_s, lower, control, held, H0, what) {
  free <- which(!held)
  se <- rep(NA_real_, length(theta_s))
  Vf <- if (!is.null(H0)) tryCatch(solve(-H0[free, free, drop = FALSE]), error = function(e) NULL)
  if (!is.null(Vf)) se[free] <- sqrt(pmax(diag(Vf), 0))
  if (anyNA(se[free]) || any(se[free] == 0))
    stop(sprintf("%s: the Laplace fit has no standard errors to scale the search by (see its warnings)",
                 what), call. = FALSE)
  ev <- make_ev(se)
  run <- optimize_sparse(ev, theta_s, lower, control, function(th) held, H0 = H0)
  list(theta = run$theta, opt = run$opt, stages = run$stages, ev = ev)
}
