# Profile likelihoods of a fitted glmm and the intervals read from them.

#' Profile likelihood of a fitted GLMM
#'
#' For each parameter, the maximum of the log-likelihood over all other
#' parameters with that one held at a grid of values, expressed as the
#' signed square root of the likelihood-ratio statistic,
#' \eqn{\zeta(x) = \mathrm{sign}(x - \hat x)\sqrt{2(\hat\ell - \ell_p(x))}},
#' which is linear in \eqn{x} with slope \eqn{1/\mathrm{SE}} when the
#' likelihood is quadratic (as lme4's `profile()`). The parameters are the
#' fixed effects, the standard deviation of each random effect
#' (correlations are profiled out, not profiled themselves) and, for
#' gaussian models, the residual standard deviation `sigma`.
#'
#' For a random intercept with a non-normal distribution
#' (`glmm(ranef_dist = ...)`), the parameters are the fixed effects and, for
#' the bridge distribution, its standard deviation (profiled through its
#' \eqn{\phi}). The nonparametric distribution's intercept is the mean of its
#' mass points, profiled with the points shifted together; its standard
#' deviation has no profile (the number of mass points is fixed and their
#' labels are exchangeable) and is left out, or is an error if asked for by
#' `which`.
#'
#' For a fit with covariance structures ([covariance-structures]: `ar1()`,
#' `exp()`, `propto()`, ...) the parameters are the fixed effects, each
#' structure's parameters on their natural scales, named after the term
#' (`"ar1(0 + time | id): sd"`, `"ar1(0 + time | id): rho"`,
#' `"exp(0 + pos | field): range"`, a Matern `kappa`, a `propto()` `scale`,
#' an `rr()` or `us()` term's factor entries as they are) and the
#' dispersion (`sigma`); a zero or dispersion part's coefficients are named
#' as in the Wald intervals (`zi.z`, `disp.arm`). Each is traced on the scale the fit searched it on
#' (log standard deviation, log range, the unconstrained transform of a
#' correlation), where the likelihood has no bounds, and reported on the
#' natural one; a profile that stays inside the interval down to a standard
#' deviation or range of practically zero, or to a correlation's limit,
#' reports that limit. A spatial range the data do not bound above has no
#' upper limit (`NA`, with a warning).
#'
#' The likelihood is the one the fit maximized (the same `nAGQ`, or the
#' sparse Laplace approximation for several terms). Each side of each
#' parameter is traced outwards from the estimate with steps adapted to the
#' local slope of \eqn{\zeta} (about 0.6 in \eqn{\zeta} per step), each
#' refit warm-started from the previous one, until \eqn{|\zeta|} exceeds the
#' cutoff \eqn{z_{1-\alpha/2}}; a standard deviation is traced down to
#' zero at most, a correlation to -1 or 1. The crossings of
#' \eqn{\pm z_{(1+l)/2}} for the levels \eqn{l} in `refine` are then found
#' by root finding (regula falsi between the traced points), and
#' [confint()] inverts \eqn{\zeta} by monotone spline interpolation through
#' all points.
#'
#' A side has no limit (`NA` in [confint()], with a warning) where the
#' profile of a parameter with no bound on that side levels off below the cutoff (a step of at least two standard
#' errors that raises \eqn{|\zeta|} by less than 0.001: the data do not bound
#' the parameter there, as a zero-inflation coefficient whose zero part
#' vanishes for one level of a covariate), where the refits reach the region
#' in which the Laplace approximation breaks down (two-part fits with random
#' effects in the zero or dispersion part), or where the profile does not
#' reach the level's quantile within `maxpts` points. A step whose \eqn{|\zeta|} rises far more
#' than the slope before it predicts (or whose refit does not converge past
#' the cutoff) is retried at a quarter of its length, up to seven times, so
#' that a refit that fails after a long step is not read as a crossing; a
#' jump that persists ends the side without a limit. Each warning of a side
#' without a limit names the level up to which that side's limits exist.
#'
#' @param fitted A fitted model from [glmm()].
#' @param which Parameters to profile: names or indices into the list that
#'   `confint(fitted)` reports (fixed effects, then `sd_<effect>|<group>`,
#'   `cor_<effect>.<first>|<group>`, then `sigma`); all by default.
#' @param alpha The profile goes out to \eqn{|\zeta| = z_{1-\alpha/2}}, so
#'   it supports intervals of level up to `1 - alpha`.
#' @param maxpts Maximum number of points on each side of each parameter.
#' @param refine Confidence levels whose limits are then located by root
#'   finding on the profile (a few more refits each) and added to the
#'   points, so that [confint()] at these levels is exact up to the
#'   optimizer's tolerance rather than an interpolation; `NULL` for none.
#' @param criterion For a fit with `REML = TRUE`: `"ML"` (default) profiles
#'   the likelihood of the model refitted by ML, as lme4's `profile()` of a
#'   REML fit does, so the intervals match `confint(lmer fit)`; `"REML"`
#'   profiles the restricted likelihood itself for the covariance parameters
#'   (any random-effect terms; the fixed effects, on which it does not
#'   depend, are left out).
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return A data frame of class `glmmgee_profile` with columns `parameter`
#'   (a factor), `value` and `zeta`, one row per point (the estimate
#'   included), and attributes `estimates` and `alpha`. It has methods
#'   [confint()], `plot()` and `as.data.frame()`.
#' @seealso [confint.glmmgee_glmm()].
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   pr <- profile(fit, which = c("period2", "sd_(Intercept)|herd"))
#'   confint(pr)
#'   plot(pr)
#' }
#' @importFrom stats profile
#' @export
profile.glmmgee_glmm <- function(fitted, which = NULL, alpha = 0.01, maxpts = 20L,
                                 refine = 0.95, criterion = NULL, ...) {
  check_dots(..., .method = "profile.glmmgee_glmm")
  require_capability(fitted, "profile", "profile()",
                     if (has_capability(fitted, "confint_profile"))
                       "confint(fit, method = \"profile\") gives its profile-likelihood intervals"
                     else "use confint(fit, method = \"Wald\")")
  profile_fit(fitted, which, alpha, maxpts, refine, criterion)
}

# The profile of a fit (profile.glmmgee_glmm() and confint(method =
# "profile")); bridge and nonparametric random intercepts on their own
# engine (profile-ranef-dist.R).
profile_fit <- function(fitted, which = NULL, alpha = 0.01, maxpts = 20L, refine = 0.95,
                        criterion = NULL, ...) {
  check_dots(..., .method = "profile.glmmgee_glmm")
  reml <- isTRUE(fitted$REML)
  if (!reml && !is.null(criterion) && !identical(criterion, "ML"))
    stop("'criterion = \"REML\"' needs a fit with REML = TRUE", call. = FALSE)
  if (reml && reml_profile_criterion(criterion) == "ML") {
    out <- profile_fit(reml_ml_refit(fitted), which = which, alpha = alpha, maxpts = maxpts,
                       refine = refine)
    attr(out, "criterion") <- "ML (refit of the REML fit, as lme4)"
    return(out)
  }
  if (!is.numeric(alpha) || length(alpha) != 1L || !is.finite(alpha) || alpha <= 0 || alpha >= 1)
    stop("'alpha' must be one number between 0 and 1 (the profile supports intervals up to level 1 - alpha)",
         call. = FALSE)
  if (!is.numeric(maxpts) || length(maxpts) != 1L || !is.finite(maxpts) || maxpts < 2)
    stop("'maxpts' must be a whole number >= 2", call. = FALSE)
  if (!is.null(refine)) {
    if (!is.numeric(refine) || anyNA(refine) || any(refine <= 0 | refine >= 1))
      stop("'refine' must be confidence levels between 0 and 1 (or NULL)", call. = FALSE)
    refine <- refine[refine <= 1 - alpha]
  }
  if (inherits(fitted, "glmmgee_glmm_covstruct")) {
    if (reml)
      stop("profile(criterion = \"REML\"): the profile of a fit with covariance structures, equalto() terms or a dispersion formula is that of the ML refit (criterion = \"ML\")",
           call. = FALSE)
    return(covstruct_profile(fitted, which, alpha, maxpts, refine))
  }
  # A gaussian response far from zero (y + 1e9): profiled on y - X b0 as it
  # was fitted (response_shift()), the fixed effects' values shifted back by
  # b0; on y itself the engines' sums of squares lost their digits and the
  # intervals moved by 1e-3 (sleepstudy, Days).
  b0 <- profile_shift(fitted)
  if (!is.null(b0)) {
    ip <- seq_along(b0)
    fitted$y <- fitted$y - drop(fitted$X %*% b0)
    fitted$theta[ip] <- fitted$theta[ip] - b0
    fitted$coefficients <- fitted$coefficients - b0
  }
  targets <- profile_targets(fitted)
  targets <- targets[select_parameters(which, names(targets), "which")]
  dist <- is_dist_fit(fitted)
  if (dist) {
    keep <- dist_profiled(fitted, targets)
    if (!is.null(which) && !all(keep))
      stop(sprintf("'which': %s of the %s random intercept has no profile (its mass points and weights are not profiled)",
                   paste(sQuote(names(targets)[!keep], FALSE), collapse = ", "),
                   fitted$ranef_dist$type), call. = FALSE)
    targets <- targets[keep]
  }
  if (reml) targets <- reml_profile_targets(targets, if (!is.null(which)) "which")
  if (is.null(attr(fitted$cov_theta, "ok")) && !isTRUE(fitted$singular))
    warning("profile(): the fit has no valid Hessian; steps are chosen without standard errors",
            call. = FALSE)
  # Random-effect blocks far from zero or unit scale: each target on its
  # own basis of the block (profile-z-basis.R).
  # A face block (a correlation at +/-1 on well-scaled columns) serves
  # only its own standard deviations and correlations.
  zb_all <- if (!reml) profile_z_blocks(fitted)
  zfar <- far_z_blocks(zb_all)
  eng <- if (reml) reml_profile_engine(fitted)
         else if (dist) dist_profile_engine(fitted)
         else if (!is.null(zfar)) profile_basis_engine(fitted, zfar) else profile_engine(fitted)
  if (isTRUE(eng$rotated))
    stop("profile(): this fit integrated its random effects by quadrature in a rotated basis (a random slope lies far from zero), where the profile's refits meet singular covariance factors; centre the covariate (e.g. x - mean(x)) and refit, or use confint(method = \"Wald\")",
         call. = FALSE)
  on.exit(eng$free(), add = TRUE)
  th_hat <- eng$hat %||% unname(fitted$theta)
  ptargets <- if (dist) dist_profile_targets(targets, eng) else targets
  # The restricted likelihood does not depend on the fixed effects, which
  # stay among the free parameters of each search: held at 0, not at the
  # estimates. At the estimates of x * 1e-6 - 5 (3.8e6 and 7.7e5) nlminb's
  # relative step test, on the whole vector, ended each search at its
  # start: the several-term profile of an SD was 3e-5 in the
  # log-likelihood off, its limits 6e-6 relative off the fit on x's.
  if (reml) th_hat[seq_along(fitted$coefficients)] <- 0
  ll_hat <- fitted$loglik
  cutoff <- stats::qnorm(1 - alpha / 2)
  scale <- if (fitted$family$family == "gaussian") fitted$sigma else 1
  # (`typical`: the size below which a free parameter is not rescaled in
  # the refits' searches, profile_point(); y's residual scale where y is
  # in small units)
  control <- list(rel.tol = 1e-10, typical = if (isTRUE(scale > 0)) min(1, scale) else 1)
  rows <- list()
  for (tg in ptargets) {
    ev <- eng$eval
    zb <- if (in_face_block(zb_all, tg)) zb_all else zfar
    if (is.null(zb)) {
      map <- tg$map %||% target_map(tg, eng$lower, eng$upper)
      if (!is.null(eng$Tx)) map <- star_target_map(map, tg, eng$Tx, eng$lower)
    } else {
      st <- profile_basis_setup(fitted, zb, tg, eng,
                                eng$Tx %||% diag(1, length(fitted$coefficients)))
      ev <- st$eval
      map <- st$map
    }
    pts <- trace_profile(ev, map, tg, th_hat, ll_hat, cutoff, maxpts, refine, control, scale)
    if (!is.null(zb)) st$free()
    rows[[tg$name]] <- data.frame(parameter = tg$name, value = pts$value, zeta = pts$zeta)
  }
  out <- do.call(rbind, rows)
  est <- vapply(ptargets, `[[`, 1, "estimate")
  if (!is.null(b0)) for (j in ip) {
    nm <- names(fitted$coefficients)[j]
    out$value[out$parameter == nm] <- out$value[out$parameter == nm] + b0[j]
    if (nm %in% names(est)) est[[nm]] <- est[[nm]] + b0[j]
  }
  out$parameter <- factor(out$parameter, levels = names(targets))
  rownames(out) <- NULL
  structure(out, estimates = est, alpha = alpha,
            criterion = if (reml) "REML",
            bounds = lapply(ptargets, `[[`, "closed"),
            class = c("glmmgee_profile", "data.frame"))
}

# One target's profile: both sides traced outwards from the estimate, then
# the crossings of the `refine` levels located between the traced points
# (each with its free parameters, for warm starts); all points as
# data.frame(value, zeta), ordered by value.
trace_profile <- function(ev, map, tg, th_hat, ll_hat, cutoff, maxpts, refine, control, scale) {
  z_hat <- map$free(th_hat)
  pts <- data.frame(value = tg$estimate, zeta = 0)
  zfree <- list(z_hat)
  # An engine whose inner searches keep a warm start (the two-part sparse
  # engine) is put back to its state at the estimates before each side and
  # before the refinements (sparse_two_part_profile_reset()).
  reset <- attr(ev, "reset") %||% function() NULL
  for (dir in c(-1, 1)) {
    reset()
    side <- profile_side(ev, map, tg, z_hat, ll_hat, dir, cutoff, as.integer(maxpts),
                         control, scale)
    pts <- rbind(pts, side$points)
    zfree <- c(zfree, side$z)
  }
  o <- order(pts$value)
  pts <- pts[o, ]
  zfree <- zfree[o]
  extra <- lapply(c(-1, 1) %o% stats::qnorm(1 - (1 - refine) / 2), function(t) {
    reset()
    refine_crossing(ev, map, tg, ll_hat, pts, zfree, t, control)
  })
  pts <- do.call(rbind, c(list(pts), extra))
  pts[order(pts$value), ]
}

# The least-squares shift b0 of a gaussian identity-link fit's response
# (response_scale()'s rule), or NULL (other fits, two-part fits).
profile_shift <- function(fit) {
  # (a known-covariance fit's profile runs on the fit's own rotation of
  # y - offset: known_profile_engine())
  if (!is.null(fit$aux) || is.null(fit$X) || is.null(fit$y) || uses_known_profile(fit) ||
      is_dist_fit(fit) ||
      !identical(fit$family$family, "gaussian") || !identical(fit$family$link, "identity"))
    return(NULL)
  response_shift(response_scale(fit$X, as.numeric(fit$y), fit$prior.weights, fit$offset,
                                fit$family))
}

# One side of one parameter: points until |zeta| passes the cutoff, the
# parameter's bound (0 for a standard deviation) or maxpts, or until the
# profile levels off below the cutoff.
#
# Levelling off: a step of at least two standard errors (`unit`) that
# changes |zeta| by less than 0.001, at a slope below a thousandth of the
# mean slope from the estimate (|zeta| / |x - x_hat|). At that slope the
# cutoff is thousands of standard errors away, so the log-likelihood tends
# to a limit above the cutoff's: the data do not bound the parameter on
# that side (a zero part whose probability vanishes for one level of a
# covariate; a separated coefficient), and the side has no limit. Going
# on only reaches values where the constrained refits fail: their
# log-likelihood drops, zeta jumps past the cutoff at a step, and that
# step was read as a finite limit (-34.2 for a zero-inflation intercept
# whose profile levels off at |zeta| 1.24, test-profile-zi-sparse.R). The mean slope keeps
# the rule from firing where the profile has not risen at all: a standard
# error far too small for the parameter's scale (a random slope's SD on
# x + 1e6) makes the first steps flat, and the steps then grow fourfold.
# A side with a closed bound (a standard deviation's log going to -Inf,
# a correlation to its limit) is traced to that bound instead, which is
# its limit when the profile stays inside the interval down to it.
profile_side <- function(eval, map, tg, z_hat, ll_hat, dir, cutoff, maxpts, control, scale) {
  x_hat <- tg$estimate
  bound <- if (dir < 0) tg$closed[1L] else tg$closed[2L]
  if (!is.na(bound) && (x_hat - bound) * dir >= 0) return(NULL)
  se_ok <- is.finite(tg$se) && tg$se > 0
  h <- if (se_ok) 0.5 * tg$se else 0.25 * max(abs(x_hat), 0.1 * scale)
  unit <- 2 * h
  if (tg$log && dir < 0) h <- min(h, 0.5 * x_hat)
  xs <- zs <- numeric()
  zfree <- list()
  x_prev <- x_hat; z_prev <- 0
  z <- z_hat
  better <- edge <- flat <- jump <- FALSE
  # (the first step's slope from the standard error)
  slope <- if (se_ok) 1 / tg$se else NA_real_
  for (i in seq_len(maxpts)) {
    # A step whose |zeta| rises far more than the last step's slope
    # predicts (3 times, plus 1), or whose refit did not converge and would
    # end the side, is taken again at a quarter of its length, up to seven
    # times: a refit that fails after a long step on a levelling profile
    # gives such a jump (or a first step of half a standard error that is
    # itself absurd, 17,000 for a diverged zero-inflation intercept), and
    # a profile that truly steepens is traced by the shorter steps. A jump
    # that stays at 1/16384 of the step is no profile value (a profile
    # likelihood is continuous; the held refits fall into another basin
    # there, as a zero part vanishing for every row where it could follow
    # a covariate's coefficient): the side ends without a limit beyond the
    # points before it.
    jump <- FALSE
    for (retry in 0:7) {
      x <- x_prev + dir * h
      at_bound <- FALSE
      # A standard deviation stops at zero, a correlation at -1 or 1; sigma
      # is kept positive.
      if (!is.na(bound) && (x - bound) * dir >= 0) { x <- bound; at_bound <- TRUE }
      if (tg$log && x <= 0) x <- x_prev / 4
      pt <- profile_point(eval, map, x, z, control, x_prev)
      dev <- 2 * (ll_hat - pt$loglik)
      zabs <- sqrt(max(dev, 0))
      failed <- !is.null(pt$convergence) && pt$convergence != 0L && zabs >= cutoff
      if (isTRUE(pt$edge) || !is.finite(dev) || at_bound ||
          (!failed && (!is.finite(slope) ||
                         zabs - abs(z_prev) <= 3 * slope * abs(x - x_prev) + 1)))
        break
      if (retry == 7L) jump <- TRUE
      h <- h / 4
    }
    if (jump) {
      warning(sprintf(paste0("profile(): the refits with '%s' held jump to a far lower log-likelihood on ",
                             "the %s side (the profile is not continuous there: the refits %s); ",
                             "no limit there%s"),
                      tg$name, if (dir < 0) "lower" else "upper",
                      if (failed) "do not converge" else "end in another optimum",
                      open_beyond(zs)), call. = FALSE)
      break
    }
    edge <- isTRUE(pt$edge)
    if (edge)
      warning(sprintf("profile(): the profile of '%s' reached parameters where %s on the %s side; no limit there%s",
                      tg$name, attr(attr(eval, "edge"), "why") %||%
                        "the Laplace approximation breaks down (the joint mode of the random effects nearly degenerate)",
                      if (dir < 0) "lower" else "upper", open_beyond(zs)), call. = FALSE)
    if (!is.finite(dev)) break
    if (dev < -1e-6 * max(1, abs(ll_hat))) better <- TRUE
    zeta <- sign(x - x_hat) * zabs
    xs <- c(xs, x); zs <- c(zs, zeta)
    z <- pt$z
    zfree[[length(zfree) + 1L]] <- z
    if (abs(zeta) >= cutoff || at_bound) break
    rise <- abs(abs(zeta) - abs(z_prev))
    if (is.na(bound) && abs(x - x_prev) >= 2 * unit && rise < 1e-3 &&
        rise / abs(x - x_prev) < 1e-3 * abs(zeta) / abs(x - x_hat)) {
      flat <- TRUE
      warning(sprintf(paste0("profile(): the profile of '%s' levels off below the cutoff on the %s side ",
                             "(|zeta| %.3f, changing by less than 0.001 over %.1f standard errors): ",
                             "the data do not bound it there; no limit on that side%s"),
                      tg$name, if (dir < 0) "lower" else "upper", abs(zeta),
                      abs(x - x_prev) / unit, open_beyond(zs)), call. = FALSE)
      break
    }
    # Next step: about 0.6 in zeta at the local slope, at most 4 times the
    # last step (flat profiles) and at least a quarter of it.
    slope <- abs(zeta - z_prev) / abs(x - x_prev)
    h_new <- if (is.finite(slope) && slope > 0) 0.6 / slope else 4 * h
    h <- min(max(h_new, h / 4), 4 * h)
    x_prev <- x; z_prev <- zeta
  }
  if (better)
    warning(sprintf("profile(): a higher log-likelihood than the fit's was found while profiling '%s'; the fit may not be at its maximum",
                    tg$name), call. = FALSE)
  if (!edge && !flat && !jump && length(xs) && abs(zs[length(zs)]) < cutoff &&
      !identical(xs[length(xs)], bound))
    warning(sprintf("profile(): the profile of '%s' did not reach the cutoff on the %s side within %d points; no limit there%s",
                    tg$name, if (dir < 0) "lower" else "upper", maxpts, open_beyond(zs)),
            call. = FALSE)
  list(points = data.frame(value = xs, zeta = zs), z = zfree)
}

# Where a side ends without a limit, the intervals that still have one
# there: those whose quantile the traced |zeta| values `zs` reached (" beyond
# the 97.1% level"; "" when they reached no level of interest), so that a
# warning of no limit beside a finite 95% limit says which levels it means.
open_beyond <- function(zs) {
  z <- if (length(zs)) max(abs(zs)) else 0
  lev <- 2 * stats::pnorm(z) - 1
  # (rounded down, so that the level named is one that has its limit)
  if (lev < 0.5) "" else sprintf(" beyond the %.1f%% level", floor(1000 * lev) / 10)
}

# The point where the profile crosses zeta = t, by regula falsi (Illinois
# variant) between the two traced points around it, each refit
# warm-started from the nearer end: the traced grid is coarse (steps of
# about 0.6 in zeta) and interpolating it can miss a curved profile's
# crossing by a visible amount. Returns the points evaluated (none when the
# profile does not cross t).
refine_crossing <- function(eval, map, tg, ll_hat, pts, zfree, t, control) {
  f <- pts$zeta - t
  i <- which(f[-length(f)] < 0 & f[-1L] >= 0)
  if (length(i) != 1L) return(NULL)
  xa <- pts$value[i]; fa <- f[i]; za <- zfree[[i]]
  xb <- pts$value[i + 1L]; fb <- f[i + 1L]; zb <- zfree[[i + 1L]]
  if (abs(fb) < 1e-7) return(NULL)
  xs <- zs <- numeric()
  side <- 0L
  for (it in seq_len(12L)) {
    x <- xa - fa * (xb - xa) / (fb - fa)
    near_a <- abs(x - xa) < abs(x - xb)
    pt <- profile_point(eval, map, x, if (near_a) za else zb, control, if (near_a) xa else xb)
    # (no value there: the crossing stays the traced grid's)
    if (isTRUE(pt$edge) || !is.finite(pt$loglik)) break
    zeta <- sign(x - tg$estimate) * sqrt(max(2 * (ll_hat - pt$loglik), 0))
    xs <- c(xs, x); zs <- c(zs, zeta)
    fx <- zeta - t
    if (abs(fx) < 1e-7 || abs(xb - xa) < 1e-10 * max(1, abs(x))) break
    if (fx < 0) {
      xa <- x; fa <- fx; za <- pt$z
      if (side == -1L) fb <- fb / 2
      side <- -1L
    } else {
      xb <- x; fb <- fx; zb <- pt$z
      if (side == 1L) fa <- fa / 2
      side <- 1L
    }
  }
  data.frame(value = xs, zeta = zs)
}

# Indices of the parameters named (or indexed) by `parm`, checked by the
# same rule as every other `parm` argument (match_parm(), interpret.R).
select_parameters <- function(parm, available, arg = "parm") {
  if (!is.null(parm) && !length(parm))
    stop(sprintf("'%s' must be parameter names or indices", arg), call. = FALSE)
  match(match_parm(parm, available, available, arg), available)
}

#' @rdname profile.glmmgee_glmm
#' @param object A `glmmgee_profile` object.
#' @param parm Parameters (names or indices) for the intervals; all
#'   profiled ones by default.
#' @param level Confidence level, at most `1 - alpha` of the profile.
#' @export
confint.glmmgee_profile <- function(object, parm = NULL, level = 0.95, ...) {
  check_dots(..., .method = "confint.glmmgee_profile")
  check_level(level)
  alpha <- attr(object, "alpha")
  if (level > 1 - alpha + 1e-12)
    stop(sprintf("'level' = %g needs a profile with alpha <= %g; this one has alpha = %g",
                 level, 1 - level, alpha), call. = FALSE)
  pars <- levels(object$parameter)
  pars <- pars[select_parameters(parm, pars)]
  z <- stats::qnorm(1 - (1 - level) / 2)
  bounds <- attr(object, "bounds")
  ci <- t(vapply(pars, function(nm) {
    d <- object[object$parameter == nm, ]
    b <- bounds[[nm]] %||% c(NA_real_, NA_real_)
    c(invert_zeta(d$value, d$zeta, -z, b[1L]), invert_zeta(d$value, d$zeta, z, b[2L]))
  }, numeric(2)))
  a <- (1 - level) / 2
  dimnames(ci) <- list(pars, percent_labels(c(a, 1 - a)))
  ci
}

# The x at which the profile reaches zeta = target, by a monotone spline
# through the points (zeta, x); NA when the profile does not reach it,
# except when it stops at the parameter's closed bound on that side (a
# standard deviation at 0, a correlation at -1 or 1) short of the target:
# the limit is then the bound.
# The spline's value is kept within the two points around the target (a
# monotone spline through a step of zeta between far-apart values of x
# overshot by eight orders of magnitude).
invert_zeta <- function(x, zeta, target, bound) {
  o <- order(x)
  x <- x[o]; zeta <- zeta[o]
  reached <- !is.na(bound) && any(abs(x - bound) <= 1e-12 * max(1, abs(bound)))
  # (the points above every point before them: zeta strictly increasing,
  # as the spline needs; a dip and a rise back to an earlier value gave
  # splinefun() ties)
  keep <- zeta > c(-Inf, cummax(zeta)[-length(zeta)])
  x <- x[keep]; zeta <- zeta[keep]
  if (target < min(zeta) || target > max(zeta)) return(if (reached) bound else NA_real_)
  if (length(x) < 3L) return(stats::approx(zeta, x, target)$y)
  # (the first point past the target and the one before it)
  i <- max(1L, min(which(zeta > target)[1L] - 1L, length(x) - 1L), na.rm = TRUE)
  v <- stats::splinefun(zeta, x, method = "monoH.FC")(target)
  min(max(v, x[i]), x[i + 1L])
}

#' @rdname profile.glmmgee_glmm
#' @param x A `glmmgee_profile` object.
#' @param levels Confidence levels marked on the plot.
#' @export
plot.glmmgee_profile <- function(x, levels = c(0.5, 0.8, 0.9, 0.95, 0.99), ...) {
  pars <- levels(x$parameter)
  n <- length(pars)
  nc <- ceiling(sqrt(n))
  op <- graphics::par(mfrow = c(ceiling(n / nc), nc), mar = c(4, 4, 1, 1))
  on.exit(graphics::par(op))
  z <- stats::qnorm(1 - (1 - levels[levels <= 1 - attr(x, "alpha")]) / 2)
  for (nm in pars) {
    d <- x[x$parameter == nm, ]
    graphics::plot(d$value, d$zeta, type = "b", pch = 20, xlab = nm,
                   ylab = expression(zeta), ...)
    graphics::abline(h = c(-z, 0, z), lty = c(rep(3, length(z)), 1, rep(3, length(z))),
                     col = "grey50")
    graphics::abline(v = attr(x, "estimates")[[nm]], col = "grey50")
  }
  invisible(x)
}

#' @rdname profile.glmmgee_glmm
#' @param row.names,optional Ignored.
#' @export
as.data.frame.glmmgee_profile <- function(x, row.names = NULL, optional = FALSE, ...) {
  attr(x, "estimates") <- NULL
  attr(x, "alpha") <- NULL
  attr(x, "bounds") <- NULL
  class(x) <- "data.frame"
  x
}
