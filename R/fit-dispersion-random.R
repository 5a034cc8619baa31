# GLMMs whose dispersion formula has random-effect terms (location-scale
# mixed models, Hedeker et al. 2008; glmmTMB's `dispformula = ~ x + (1 | g)`):
# the log dispersion of row i (log sigma for gaussian, log theta for
# nbinom2, log phi for nbinom1, log shape for Gamma, log precision for beta
# and beta-binomial) is
#   Xd_i delta + Zd_i v + offset,  v ~ N(0, Sigma_d),
# with v independent of the conditional part's random effects u. The fit
# is the two-part sparse Laplace engine (src/engines/laplace/laplace-zero-re.h)
# with the log dispersion as its second random predictor (DispersionRE,
# families-aux-re.h: each family's derivatives up to third order in the
# mean's and the dispersion's linear predictors), so the joint mode of
# (u, v), the Laplace approximation and its exact gradient are that
# engine's. Parameters:
#   theta = (beta, covariance parameters of the conditional part's terms,
#            then of the dispersion part's terms, dispersion coefficients).

#' Random effects in the dispersion formula (location-scale models)
#'
#' A `dispformula` of [glmm()] may hold random-effect terms beside its fixed
#' ones, as glmmTMB's does: `dispformula = ~ arm + (1 | clinic)` lets each
#' clinic have its own residual spread around its own mean, a mixed-effects
#' location-scale model (Hedeker, Mermelstein and Demirtas 2008; Rigby and
#' Stasinopoulos 2005 for the GAMLSS family of such models). The log
#' dispersion of row \eqn{i} is
#' \deqn{\log\phi_i = x_{d,i}'\delta + z_{d,i}'v + \mathrm{offset},\quad
#' v \sim N(0, \Sigma_d),}{log phi_i = x_di' delta + z_di' v + offset, v ~ N(0, Sigma_d),}
#' with \eqn{\phi} the family's dispersion as for a fixed `dispformula`:
#' the residual standard deviation for gaussian, theta for [nbinom2()], phi
#' for [nbinom1()], the shape for Gamma, the precision for [beta_family()]
#' and [betabinomial()]. The dispersion's random effects \eqn{v} are
#' independent of the mean's, and any terms the conditional formula takes
#' are allowed: several terms, random slopes, crossed and nested grouping
#' factors, the same or other factors as the mean's, and covariance
#' structures ([covariance-structures]) in either formula, such as an AR(1) mean over
#' time points beside each subject's own residual spread,
#' `glmm(y ~ arm + ar1(0 + time | id), dispformula = ~ arm + (1 | id))`.
#'
#' The model is fitted by the Laplace approximation over both parts' random
#' effects jointly (the two-part sparse engine, `laplace_sparse_zero_re` in
#' [engine_registry()]), with the exact gradient of the approximation; each
#' family's log density is differentiated to third order in the mean's and
#' the dispersion's linear predictors. The joint log density is not concave
#' in general (for a gaussian row the Hessian in the mean and the log
#' standard deviation has a negative determinant wherever the residual is
#' not zero), so the inner search is damped, and where the joint mode
#' degenerates the fit says that the approximation breaks down.
#'
#' What the fit offers: `VarCorr()` (blocks `disp~<group>` after the
#' mean's), `ranef(component = "disp")`, `predict(type = "disp")` (the
#' dispersion at the random effects' modes; `re.form = NA` at zero; new
#' levels with `allow.new.levels = TRUE`), `simulate()` (new effects of both
#' parts), Wald and profile intervals ([confint.glmmgee_glmm()], rows
#' `sd_disp.<effect>|<group>`, `disp.<term>`), `vcov(full = TRUE)`,
#' cluster-robust covariances (`vcov(fit, type = "CR2")`, with
#' sandwich's `estfun()` and `bread()`), `anova()`, `update()`,
#' broom.mixed's `tidy()` and emmeans. The mean does not depend on the
#' dispersion, so `predict(type = "response")`, [marginal_coefs()] and
#' [standardize()] concern the mean's random effects only. With a
#' covariance structure in either formula, profile intervals are not
#' available (Wald intervals and cluster-robust covariances are).
#'
#' A zero part with fixed effects may stand beside it: zero inflation
#' (`family = nbinom2(), ziformula = ~ z, dispformula = ~ z + (1 | g)`) or
#' a hurdle (`family = truncated_nbinom2()`, with or without a
#' `ziformula`). The zero part's logit is then a third linear predictor of
#' the same Laplace approximation, and `predict(type = "response")` is the
#' mean of y at each row's own dispersion, \eqn{(1 - \pi)\mu} or
#' \eqn{(1 - \pi)\mu / (1 - f(0))}. Not yet available: [variance_shares()]
#' (the residual variance differs by cluster), `penalized`, adaptive
#' quadrature (`nAGQ > 1`), random effects in `ziformula` beside it, and
#' covariance structures beside both a zero part and it.
#'
#' The mean may have no random effect (`y ~ arm`, `dispformula = ~ arm +
#' (1 | clinic)`): only the spread then varies by clinic, and `ranef()`
#' gives the dispersion formula's modes by default.
#'
#' @references Hedeker, D., Mermelstein, R. J. and Demirtas, H. (2008). An
#'   application of a mixed-effects location scale model for analysis of
#'   ecological momentary assessment (EMA) data. *Biometrics* 64, 627-634.
#'
#'   Rigby, R. A. and Stasinopoulos, D. M. (2005). Generalized additive
#'   models for location, scale and shape. *Journal of the Royal Statistical
#'   Society C* 54, 507-554.
#' @examples
#' # Clinics differ in their mean and in their residual spread.
#' set.seed(1)
#' d <- data.frame(clinic = factor(rep(1:40, each = 10)), arm = rbinom(400, 1, 0.5))
#' u <- rnorm(40, sd = 0.8)
#' v <- rnorm(40, sd = 0.5)
#' d$y <- rnorm(400, 10 + 0.5 * d$arm + u[d$clinic],
#'              exp(0.2 + 0.3 * d$arm + v[d$clinic]))
#' fit <- glmm(y ~ arm + (1 | clinic), data = d,
#'             dispformula = ~ arm + (1 | clinic))
#' fit
#' VarCorr(fit)
#' head(ranef(fit, component = "disp")$clinic)
#' # Each clinic's residual standard deviation, by arm:
#' head(predict(fit, type = "disp"))
#' # Against a common spread for all clinics:
#' anova(update(fit, dispformula = ~ arm), fit)
#' @param x,object A model fitted with random effects in `dispformula`.
#' @param sigma Unused (as in [VarCorr.glmmgee_glmm()]).
#' @param ... Not used: an argument given here is an error.
#' @param type,condVar As in [ranef.glmmgee_glmm()].
#' @name glmm-dispersion-random
NULL

# The fit of glmm_zi()'s laplace_sparse_zero_re route when the dispersion
# formula has random effects: `rc`, `rd` the conditional and dispersion
# parts' sparse random-effect terms, `Xd` and `offd` the dispersion part's
# fixed design and offset; `start` the user's starting values (fit$theta's
# layout), or NULL; `zkind` "zi" or "hurdle" for a zero part beside it,
# with `Xz`, `offz` its design (fixed effects only; NULL for a
# zero-truncated model, whose offset is -Inf) and offset: its coefficients
# come before the dispersion's in theta, as in every two-part fit.
glmm_sparse_dispre_fit <- function(X, y, rc, rd, family, Xd, weights, offset, control,
                                   offd = NULL, start = NULL, Xz = NULL, offz = NULL,
                                   zkind = "disp") {
  n <- length(y)
  offd <- offd %||% rep(0, n)
  offz <- offz %||% rep(0, n)
  p <- ncol(X)
  check_full_rank(X)
  zi <- zkind %in% c("zi", "hurdle")
  se <- if (zi) zire_sparse_engine(X, y, rc, rd, family, paste0(zkind, "_disp_re"), Xz, Xd,
                                   weights, offset, offz, offd)
        else zire_sparse_engine(X, y, rc, rd, family, "disp_re", Xd, NULL, weights, offset, offd,
                                rep(0, n))
  re <- se$re
  pz <- if (zi) se$pz else 0L
  pd <- if (zi) se$pd else se$pz
  rp <- se$rp
  eng <- se$eng
  Xzs <- if (zi && pz) se$Xzs
  Xds <- if (zi) se$XdS else se$Xzs
  nth <- re$ntheta
  nb <- p + nth
  P <- nb + pz + pd
  Xs <- rp$X
  beta <- two_part_beta_start(Xs, y, weights, offset, family, zkind)
  aux <- zi_aux_start(Xs, y, beta, weights, offset, family, zkind, Xzs, if (zi) offz, pd, Xds,
                      offd)
  theta <- c(beta, ifelse(re$lower == 0, 0.5, 0), aux)
  if (!is.null(start)) theta <- rp$to_star(check_zi_start(start, P))
  evalf <- spzire_evaluator(eng)
  refused <- function() cpp_spzire_degenerate(eng)$refused
  if (!is.null(start) && !is.finite(evalf(theta)$loglik))
    stop(paste0("'start': the log-likelihood is not finite at the starting values",
                if (refused() > 0) " (the joint mode of the mean's and the dispersion's random effects is nearly degenerate there)",
                "; give other starting values, e.g. smaller standard deviations"), call. = FALSE)
  fixed <- c(seq_len(p), nb + seq_len(pz + pd))
  fixed_curv <- function(th) {
    H <- cpp_spzire_fixed_curvature(eng, th)
    if (is.null(H)) NULL else list(idx = fixed, H = H)
  }
  search <- function(th, ev) {
    r <- sparse_zi_search(ev, th, re, p, pz, pd, P, X, Xz, Xd, control, fixed_curv = fixed_curv)
    r$run$warm <- cpp_spzire_warm(eng)
    r
  }
  # The joint objective of (u, v) is not concave in general (a gaussian
  # row's Hessian in (eta, log sigma) has determinant -2 r^2 / sigma^4), so
  # the search starts guarded as the zero part's: abandoned next to points
  # where the joint mode degenerates and restarted from smaller dispersion
  # standard deviations (zire_first_search()).
  sr <- zire_first_search(search, evalf, refused, theta, is.null(start), cpp_spzire_state(eng),
                          function(w) cpp_spzire_set_state(eng, w), re, p, rc$ntheta,
                          near = 50 * cpp_spzire_degenerate(eng)$bound)
  fs <- zire_finish(sr, eng, evalf, re, p, P, control, refused, fixed_curv)
  sr <- fs$sr
  fin <- fs$fin
  m <- fs$m
  tl <- sparse_zi_tail(fin, rp, sr, control, zkind, Xzs, if (zi) offz, nb, pz,
                       "Laplace (sparse, mean and dispersion)")
  tl$optinfo$gradient <- "exact"
  theta <- tl$theta
  warn <- tl$optinfo$warnings
  if (isTRUE(m$failed))
    warn <- c(warn, "the joint modes of the mean's and the dispersion's random effects were not found at the optimum")
  deg <- zire_degenerate(cpp_spzire_degenerate(eng), fs$refused_kept, m$hmin, warn,
                         part = "dispersion")
  warn <- c(warn, deg$warning)
  tms <- zire_term_summaries(rp, re, m, fin$theta, theta, p, rc$ntheta)
  tl$optinfo$warnings <- warn
  tl$optinfo$laplace_validity <- deg$record
  tl$optinfo$zero_variance_check <- sr$zero_variance
  tl$optinfo$laplace_validity$restarts <- sr$refused_restarts
  list(beta = theta[seq_len(p)], theta = theta, loglik = fin$final$loglik,
       zi = if (pz) theta[nb + seq_len(pz)], disp = theta[nb + pz + seq_len(pd)],
       lambda = theta[p + seq_len(nth)], p = p,
       gradient = tl$gradient, hessian = tl$hessian, cov_theta = tl$cov_theta, family = family,
       modes = list(eta = m$eta, dlink = m$a, u = m$u, b = m$b), terms = tms$terms,
       zterms = tms$second, singular = any(tl$on_boundary), on_boundary = tl$on_boundary,
       optinfo = tl$optinfo, engine = "laplace_sparse_zero_re")
}
