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
#' covariance structure in either formula, profile intervals are on the
#' structures' parameters (see [covariance-structures]).
#'
#' A zero part with fixed effects may stand beside it: zero inflation
#' (`family = nbinom2(), ziformula = ~ z, dispformula = ~ z + (1 | g)`) or
#' a hurdle (`family = truncated_nbinom2()`, with or without a
#' `ziformula`). The zero part's logit is then a third linear predictor of
#' the same approximation, and `predict(type = "response")` is the
#' mean of y at each row's own dispersion, \eqn{(1 - \pi)\mu} or
#' \eqn{(1 - \pi)\mu / (1 - f(0))}; covariance structures may stand in
#' either formula beside them. [variance_shares()] averages the residual
#' variance over the observations and the dispersion's random effects.
#' `penalized` puts its prior on the mean's coefficients (and with `pen_zi`
#' on a zero part's), as in other fits.
#'
#' The zero part may have random effects of its own too (`ziformula = ~ z +
#' (1 | g)`, any terms, the same or other grouping factors): the three
#' parts' effects, independent of each other, are integrated jointly by the
#' Laplace approximation with its exact gradient (`nAGQ = 1`), covariance
#' structures in any of the three formulas included, or by adaptive
#' quadrature (below) when every part's terms lie on one grouping factor.
#' `VarCorr()` then has
#' blocks `zi~<group>` and `disp~<group>` after the mean's, `ranef()` takes
#' `component = "zi"` too, and `simulate()` draws new effects of all three
#' parts.
#'
#' Adaptive Gauss-Hermite quadrature (`nAGQ > 1`) is available when the
#' mean's and the dispersion's random-effect terms all lie on one grouping
#' factor (the mean may have none), covariance structures included, and with or without a zero part
#' beside them, whose random-effect terms, if any, lie on that factor too:
#' each cluster's effects of all parts are integrated
#' jointly on a product grid centred and scaled at their joint mode, with
#' the exact gradient (\eqn{K^q} points for \eqn{q} effects per cluster:
#' 343 for three intercepts at `nAGQ = 7`). Where the Laplace approximation
#' of a model with random zero and dispersion parts breaks down (the fit
#' says so), quadrature is the remedy. With few rows
#' per cluster the Laplace approximation can be far off (three
#' log-likelihood units for a gaussian model with clusters of six rows,
#' where 15 points per effect come within 0.01 of the exact value). The
#' default stays Laplace, as in glmmTMB; `nAGQ = 7` or more checks it.
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
#' @param sigma Not available here (an error when given; see [VarCorr.glmmgee_glmm()]).
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
                                   zkind = "disp", penalty = NULL) {
  # A gaussian identity-link location-scale model (no zero part, no
  # penalty) is fitted on y / s (two_part_units()) and mapped back: with y
  # in units 1e6 times larger the search had ended 31 log-likelihood units
  # short.
  u <- two_part_units(X, y, weights, offset, offd, family, zkind == "disp" && is.null(penalty))
  if (!u$scaled)
    return(glmm_sparse_dispre_fit_units(X, y, rc, rd, family, Xd, weights, offset, control,
                                        offd, start, Xz, offz, zkind, penalty))
  fit <- glmm_sparse_dispre_fit_units(X, u$y, rc, rd, family, Xd, weights, u$offset, control,
                                      u$offd, scale_two_part_start(start, ncol(X), rc$ntheta, u$s),
                                      Xz, offz, zkind, penalty)
  # The fixed effects and the mean's covariance parameters times s, the
  # dispersion's unchanged (they act on log sigma, which the offset carried).
  P <- length(fit$theta)
  nm <- ncol(X) + rc$ntheta
  fit <- unscale_fit(fit, u$s, weights, rep(1L, length(fit$modes$eta)),
                     mult = c(rep(as.vector(u$s), nm), rep(1, P - nm)), add = rep(0, P))
  fit$lambda <- unname(fit$theta[ncol(X) + seq_along(fit$lambda)])
  unscale_two_part_modes(fit, u$s, X, weights, Qc = ncol(rc$Z), disp_link = "dlink")
}

# glmm_sparse_dispre_fit() in the units of the response it is given.
glmm_sparse_dispre_fit_units <- function(X, y, rc, rd, family, Xd, weights, offset, control,
                                         offd = NULL, start = NULL, Xz = NULL, offz = NULL,
                                         zkind = "disp", penalty = NULL) {
  n <- length(y)
  offd <- offd %||% rep(0, n)
  offz <- offz %||% rep(0, n)
  p <- ncol(X)
  check_full_rank(X)
  zi <- zkind %in% c("zi", "hurdle")
  se <- if (zi) zi_random_sparse_engine(X, y, rc, rd, family, paste0(zkind, "_disp_re"), Xz, Xd,
                                   weights, offset, offz, offd)
        else zi_random_sparse_engine(X, y, rc, rd, family, "disp_re", Xd, NULL, weights, offset, offd,
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
  # (`penalized`: the prior on the conditional part's coefficients and,
  # with pen_zi, the zero part's)
  evalf <- penalized_evalf(sparse_two_part_evaluator(eng),
                           aux_penalty(penalty, p, pz, nb + seq_len(pz), rp$Tx, rp$Tz))
  refused <- function() cpp_sparse_two_part_degenerate(eng)$refused
  if (!is.null(start))
    theta <- zi_search_start(start, P, rp$to_star, function(t) evalf(t)$loglik, function()
      if (refused() > 0) " (the joint mode of the mean's and the dispersion's random effects is nearly degenerate there)" else "")
  fixed <- c(seq_len(p), nb + seq_len(pz + pd))
  # (not with a penalty: its prior's curvature would be missing)
  fixed_curv <- if (is.null(penalty)) function(th) {
    H <- cpp_sparse_two_part_fixed_curvature(eng, th)
    if (is.null(H)) NULL else list(idx = fixed, H = H)
  }
  search <- function(th, ev) {
    r <- sparse_zi_search(ev, th, re, p, pz, pd, P, X, Xz, Xd, control, fixed_curv = fixed_curv)
    r$run$warm <- cpp_sparse_two_part_warm(eng)
    r
  }
  # The joint objective of (u, v) is not concave in general (a gaussian
  # row's Hessian in (eta, log sigma) has determinant -2 r^2 / sigma^4), so
  # the search starts guarded as the zero part's: abandoned next to points
  # where the joint mode degenerates and restarted from smaller dispersion
  # standard deviations (zi_random_first_search()).
  sr <- zi_random_first_search(search, evalf, refused, theta, is.null(start), cpp_sparse_two_part_state(eng),
                          function(w) cpp_sparse_two_part_set_state(eng, w), re, p, rc$ntheta,
                          near = 50 * cpp_sparse_two_part_degenerate(eng)$bound)
  fs <- zi_random_finish(sr, eng, evalf, re, p, P, control, refused, fixed_curv)
  sr <- fs$sr
  fin <- fs$fin
  m <- fs$m
  tl <- sparse_zi_tail(fin, rp, sr, control, zkind, Xzs, if (zi) offz, nb, pz,
                       "Laplace (sparse, mean and dispersion)")
  tl$optinfo$gradient <- "exact"
  theta <- tl$theta
  deg <- two_part_joint_checks(m, eng, fs$refused_kept, tl$optinfo$warnings, TRUE,
                               start_ok = TRUE, quadrature_ok = on_one_factor(rc, rd))
  warn <- c(tl$optinfo$warnings, deg$warning)
  tms <- zi_random_term_summaries(rp, re, m, fin$theta, theta, p, rc$ntheta)
  tl$optinfo$warnings <- warn
  tl$optinfo$laplace_validity <- deg$record
  tl$optinfo$zero_variance_check <- sr$zero_variance
  tl$optinfo$laplace_validity$restarts <- sr$refused_restarts
  list(beta = theta[seq_len(p)], theta = theta,
       loglik = fin$final$loglik - (fin$final$penalty %||% 0),
       penalty = aux_penalty_record(penalty, fin$final),
       zi = if (pz) theta[nb + seq_len(pz)], disp = theta[nb + pz + seq_len(pd)],
       lambda = theta[p + seq_len(nth)], p = p,
       gradient = tl$gradient, hessian = tl$hessian, cov_theta = tl$cov_theta, family = family,
       modes = list(eta = m$eta, dlink = m$a, u = m$u, b = m$b), terms = tms$terms,
       zterms = tms$second, singular = any(tl$on_boundary), on_boundary = tl$on_boundary,
       optinfo = tl$optinfo, engine = "laplace_sparse_zero_re")
}

# A location-scale model whose mean's and dispersion's random-effect terms
# all lie on one grouping factor, by adaptive Gauss-Hermite quadrature
# (nAGQ > 1) over each cluster's effects of both parts jointly: the
# one-factor two-part engine (src/engines/agq/agq-zero-re.h) with the log
# dispersion as its second predictor (engine kind 4; with a zero part,
# `zkind` "zi" or "hurdle", kinds 5 and 6, whose third predictor is the
# zero part's logit, design `Xz` and offset `offz`). Arguments as
# glmm_sparse_dispre_fit()'s; the fit is returned in its layout (the same
# theta, term summaries by part), so the object and its methods are the
# same, with the engine agq_zero_re and the rule `nAGQ`. With `rzero`, the
# zero part's random-effect terms (on the same factor), the three parts'
# effects are integrated jointly (engine kinds 7 and 8, the order of theta
# and of glmm_sparse_zi_random_fit(rd =)'s fit).
glmm_dispre_agq_fit <- function(X, y, rc, rd, family, Xd, weights, offset, control, offd,
                                start, nAGQ, penalty = NULL, Xz = NULL, offz = NULL,
                                zkind = "disp", rzero = NULL) {
  n <- length(y)
  grp <- dispre_group_term(rc, rd)
  lev <- grp$levels
  p <- ncol(X)
  three <- !is.null(rzero)
  nth <- length(rc$par_names) + length(rd$par_names) + length(rzero$par_names)
  pz <- if (zkind == "disp" || is.null(Xz)) 0L else ncol(Xz)
  pd <- ncol(Xd)
  # theta's order (zero part, then dispersion) and the engine's
  # (dispersion, then zero part): engine = theta[to_engine]; with three
  # random parts the same order
  to_engine <- if (three) seq_len(p + nth + pz + pd) else dispre_engine_order(p + nth, pz, pd)
  r <- if (three)
    glmm_zi_random_fit(X, y, mean_re_covariates(rc, n), row_re_covariates(rzero), grp$index, family,
                  paste0(zkind, "_both_re"), Xz, Xd, weights, offset, offz = offz, offd = offd,
                  nAGQ = nAGQ, cov_blocks_c = term_sizes(rc), cov_blocks_z = term_sizes(rzero),
                  control = control, start = start, penalty = penalty,
                  Zd = row_re_covariates(rd), cov_blocks_d = term_sizes(rd))
  else
    glmm_zi_random_fit(X, y, mean_re_covariates(rc, n), row_re_covariates(rd), grp$index, family,
                  if (zkind == "disp") "disp_re" else paste0(zkind, "_disp_re"), Xd,
                  if (pz) Xz, weights, offset, offz = offd %||% rep(0, n),
                  offd = if (zkind != "disp") offz, nAGQ = nAGQ,
                  cov_blocks_c = term_sizes(rc), cov_blocks_z = term_sizes(rd),
                  control = control, start = if (!is.null(start)) start[to_engine],
                  penalty = penalty)
  if (pz && !three) {
    # (the matrices keep their attributes: whether the covariance is valid,
    # its condition number)
    back <- order(to_engine)
    r$theta <- r$theta[back]
    r$gradient <- r$gradient[back]
    r$on_boundary <- r$on_boundary[back]
    permute <- function(M) {
      out <- M[back, back, drop = FALSE]
      a <- attributes(M)
      attributes(out) <- c(attributes(out), a[setdiff(names(a), c("dim", "dimnames"))])
      out
    }
    r$cov_theta <- permute(r$cov_theta)
    r$hessian <- permute(r$hessian)
  }
  disp_names <- if (pd) paste0("disp~", colnames(Xd))
  theta <- stats::setNames(unname(r$theta),
                           c(colnames(X), rc$par_names,
                             if (three) paste0("zi~", rzero$par_names),
                             paste0("disp~", rd$par_names),
                             if (pz) paste0("zi~", colnames(Xz)), disp_names))
  dimnames(r$cov_theta) <- dimnames(r$hessian) <- list(names(theta), names(theta))
  names(r$gradient) <- names(r$on_boundary) <- names(theta)
  # The engine's clusters are the levels present (cluster_index() of the
  # codes); their rows of the modes in the terms' level order.
  at <- match(seq_along(lev), as.integer(r$group$levels))
  terms <- agq_term_summaries(rc, 0L, r$Lambda, r$modes, at)
  qz <- if (three) sum(term_sizes(rzero)) else 0L
  zterms <- if (three) agq_term_summaries(rzero, sum(term_sizes(rc)), r$Lambda, r$modes, at)
  dterms <- agq_term_summaries(rd, sum(term_sizes(rc)) + qz, r$Lambda, r$modes, at)
  b <- function(re, tms) term_modes(tms, ncol(re$Z))
  bc <- b(rc, terms)
  beta <- theta[seq_len(p)]
  list(beta = beta, theta = theta, loglik = r$loglik, penalty = r$penalty,
       zi = if (pz) theta[p + nth + seq_len(pz)], disp = theta[p + nth + pz + seq_len(pd)],
       lambda = theta[p + seq_len(nth)], p = p,
       gradient = r$gradient, hessian = r$hessian, cov_theta = r$cov_theta, family = family,
       modes = list(eta = drop(X %*% beta) + offset + as.numeric(rc$Z %*% bc),
                    dlink = NULL, b = c(bc, if (three) b(rzero, zterms), b(rd, dterms))),
       terms = terms, zterms = if (three) zterms else dterms, dterms = if (three) dterms,
       singular = r$singular, on_boundary = r$on_boundary,
       optinfo = r$optinfo, engine = "agq_zero_re", nAGQ = r$nAGQ,
       cluster_loglik = stats::setNames(r$modes$loglik[at], lev))
}

# The summaries of the terms of `re` (sparse_re_terms()'s, all on one
# grouping factor; their effects from column `first` + 1 of the engine's)
# in the layout of sparse_term_summaries(), from a one-factor engine's
# per-cluster summaries `s` (modes and posterior means of u, with their
# covariances, one row per cluster) and its Lambda; `at`: the rows of `s`
# of the terms' levels.
agq_term_summaries <- function(re, first, Lambda, s, at) {
  q <- ncol(Lambda)
  starts <- first + cumsum(c(0L, term_sizes(re)))
  lapply(seq_along(re$terms), function(k) {
    tm <- re$terms[[k]]
    j <- starts[k] + seq_along(tm$cnames)
    Lam <- Lambda[j, j, drop = FALSE]
    dimnames(Lam) <- list(tm$cnames, tm$cnames)
    # (the engine's modes, posterior means and their covariances are u's;
    # b = Lambda u)
    to_b <- function(M) {
      B <- M[at, j, drop = FALSE] %*% t(Lam)
      dimnames(B) <- list(tm$levels, tm$cnames)
      B
    }
    to_bvar <- function(V) {
      cv <- vapply(at, function(i) Lam %*% matrix(V[i, ], q, q)[j, j] %*% t(Lam),
                   numeric(length(j)^2))
      array(cv, c(length(j), length(j), length(at)),
            dimnames = list(tm$cnames, tm$cnames, tm$levels))
    }
    tm$kfactor <- NULL
    c(tm, list(Lambda = Lam, D = Lam %*% t(Lam), b = to_b(s$mode),
               condvar = to_bvar(s$mode_var), b_mean = to_b(s$post_mean),
               condvar_mean = to_bvar(s$post_var)))
  })
}

# The positions, in a location-scale fit's theta (nb fixed effects and
# covariance parameters, pz zero-part and pd dispersion coefficients), of
# the one-factor engine's parameters, which put the dispersion's
# coefficients before the zero part's (glmm_zi_random_fit()).
dispre_engine_order <- function(nb, pz, pd) c(seq_len(nb), nb + pz + seq_len(pd), nb + seq_len(pz))

# The mean's random-effect covariates of each row (row_re_covariates()),
# none when the mean has no random effect.
mean_re_covariates <- function(rc, n)
  if (length(rc$terms)) row_re_covariates(rc) else matrix(0, n, 0L)

# The random-effect covariates of each row, one column per effect of each
# term in order (a term's columns of Z read at the row's level): the
# per-cluster design of the one-factor engines, from sparse_re_terms()'s
# structure.
row_re_covariates <- function(re)
  do.call(cbind, lapply(re$terms, function(tm) term_row_covariates(re$Z, tm)))

# The number of effects of each term of a sparse_re_terms() structure.
term_sizes <- function(re) vapply(re$terms, function(tm) length(tm$cnames), 1L)

# The term whose grouping factor the one-factor engine integrates over:
# the mean's first (the mean may have no random effect: the dispersion's
# first then).
dispre_group_term <- function(rc, rd) (if (length(rc$terms)) rc else rd)$terms[[1L]]

# The engine of such a fit rebuilt for profile_engine(), exactly as the fit
# built it (zi_random_engine_setup() on the user's designs, so on the same basis
# of the random effects, which a finite rule depends on), with the fit's
# rule: `rc`, `rd` the parts' terms, `ax` profile_aux_inputs(), whose `Tx`
# defines the parameters theta* = (Tx beta, ...) the profile evaluates at.
# Returns its evaluation in theta* and its clusters' scores summed into the
# user's clusters (vcov(type = "CR*"), whose clusters nest the grouping
# factor). `rzero`: the zero part's terms where it has random effects too.
dispre_agq_engine <- function(fit, rc, rd, y, w, ax, fam, rzero = NULL) {
  a <- fit$aux
  n <- length(y)
  # A zero part beside it (kinds 5 and 6): its design in the engine's third
  # slot, none for a zero-truncated model (offset -Inf); with random
  # effects of its own (kinds 7 and 8) in the second, the dispersion third.
  zero <- a$kind %in% c("zi", "hurdle")
  three <- !is.null(rzero)
  Xz <- if (!is.null(a$zi)) a$zi$X
  offz <- if (is.null(a$zi)) rep(-Inf, n) else a$zi$offset %||% rep(0, n)
  offd <- a$disp$offset %||% rep(0, n)
  off <- as.numeric(fit$offset %||% rep(0, n))
  Zc <- mean_re_covariates(rc, n)
  group <- dispre_group_term(rc, rd)$index
  su <- if (three)
    zi_random_engine_setup(fit$X, y, Zc, row_re_covariates(rzero), group, fam,
                      paste0(a$kind, "_both_re"), Xz %||% matrix(0, n, 0L), a$disp$X, w, off,
                      offz, offd, term_sizes(rc), term_sizes(rzero), FALSE, 1L,
                      row_re_covariates(rd), term_sizes(rd))
  else
    zi_random_engine_setup(fit$X, y, Zc, row_re_covariates(rd), group, fam,
                      if (zero) paste0(a$kind, "_disp_re") else "disp_re", a$disp$X,
                      if (zero) Xz %||% matrix(0, n, 0L), w, off, offd,
                      if (zero) offz else rep(0, n), term_sizes(rc), term_sizes(rd), FALSE, 1L)
  eng <- su$eng
  cpp_two_part_set_nagq(eng, as.integer(fit$nAGQ))
  Tx <- ax$Tx
  ip <- if (!is.null(Tx)) star_positions(Tx)
  pz <- if (is.null(Xz)) 0L else ncol(Xz)
  to_engine <- if (three) seq_along(fit$theta)
               else dispre_engine_order(length(fit$theta) - pz - ncol(a$disp$X), pz,
                                        ncol(a$disp$X))
  # theta* -> the user's theta -> the engine's; gradients back by the
  # chain rule (rows of a matrix: the clusters' scores).
  user <- function(th) {
    if (!is.null(Tx)) th[ip] <- solve(Tx, th[ip])
    th[to_engine]
  }
  back <- function(G, th) {
    G <- (G %*% su$rp$jacobian(th))[, order(to_engine), drop = FALSE]
    if (!is.null(Tx)) G[, ip] <- t(solve(t(Tx), t(G[, ip, drop = FALSE])))
    G
  }
  # (a rotated basis has no Jacobian where Lambda is singular: no value
  # there, as at points the engine refuses)
  eval <- function(th) {
    tu <- user(th)
    r <- tryCatch({
      r <- cpp_two_part_eval(eng, su$rp$to_star(tu), TRUE)
      r$gradient <- drop(back(matrix(r$gradient, 1L), tu))
      r
    }, error = function(e) NULL)
    if (is.null(r) || !all(is.finite(r$gradient)))
      return(list(loglik = if (is.null(r)) -Inf else r$loglik,
                  gradient = rep(NA_real_, length(th))))
    r
  }
  split <- one_factor_score_split(su$cl$index, length(su$cl$levels), w, function(th) {
    tu <- user(th)
    back(cpp_two_part_scores(eng, su$rp$to_star(tu)), tu)
  })
  list(eval = eval, split = split, rotated = !is.null(su$rz))
}
