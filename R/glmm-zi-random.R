# glmm() with random effects in the zero part: ziformula = ~ x + (1 | g)
# on the conditional part's grouping factor. Fitted by glmm_zi_random_fit()
# (fit-glmm-zi-random.R) with both parts' random effects in one vector per
# cluster. The fitted object is a glmmgee_glmm_zi whose conditional-part
# fields (Lambda, D, ranef, cnames) describe the count part alone, as for a
# fixed zero part, and whose aux$zi$re holds the zero part's random effects
# and the joint covariance (class glmmgee_glmm_zire in front).

# The fixed part of a ziformula with bar terms (~ 1 when only bars).
zi_fixed_formula <- function(f) {
  fx <- reformulas::nobars(f)
  if (is.null(fx) || length(fx) == 1L) fx <- stats::as.formula("~ 1", env = environment(f))
  if (length(fx) == 3L) fx <- fx[-2L]
  environment(fx) <- environment(f)
  fx
}

zi_bars_formula <- function(bars) {
  rhs <- Reduce(function(a, b) call("+", a, b), lapply(bars, function(b) call("(", b)))
  stats::as.formula(call("~", rhs))
}

# TRUE when the zero part's random effects need the two-part sparse engine:
# several terms in either part, or a zero-part grouping factor other than
# the conditional part's single one.
zi_random_needs_sparse <- function(formula, zi_bars, sparse) {
  if (sparse || length(zi_bars) > 1L) return(TRUE)
  gz <- paste(deparse(zi_bars[[1L]][[3L]]), collapse = "")
  gc <- vapply(find_bars(formula), function(b) paste(deparse(b[[3L]]), collapse = ""), "")
  !identical(gz, gc)
}

# The zero part's random-effect design; its grouping factor is the
# conditional part's (checked above), so its codes are re$group's. Terms
# identical to the conditional part's (`(1 | g)` in both, the usual case)
# have its design as it stands, without a second model matrix.
zi_random_terms <- function(zi_bars, mf, env, re, bars_c = NULL) {
  zr <- if (identical(zi_bars, bars_c)) re else re_terms(zi_bars_formula(zi_bars), mf, env)
  if (!identical(as.integer(zr$group), as.integer(re$group)))
    stop("'ziformula': the zero part's grouping factor differs from the conditional part's",
         call. = FALSE)
  zr$re_formula <- lapply(zi_bars, function(b) b[[2L]])
  zr
}

# The fitted object: the conditional part as new_glmm() builds it, with the
# count part's block of the joint covariance; the zero part's random effects
# and the joint covariance in $zi_random (moved to aux$zi$re by glmm_zi()).
zi_random_object <- function(fit, X, y, weights, offset, re, zre, mf, mt, call, formula) {
  qc <- fit$qc; qz <- fit$qz; q <- qc + qz
  ic <- seq_len(qc); iz <- qc + seq_len(qz)
  zn <- paste0("zi~", zre$cnames)
  full <- re
  full$cnames <- c(re$cnames, zn)
  obj <- new_glmm(fit, X = X, Z = cbind(re$Z, zre$Z), y = y, weights = weights,
                  offset = offset, re = full, mf = mf, mt = mt, call = call, formula = formula)
  D <- obj$D
  rf <- obj$ranef
  sub_re <- function(idx) list(mode = rf$mode[, idx, drop = FALSE],
                               mode_var = rf$mode_var[idx, idx, , drop = FALSE],
                               mean = rf$mean[, idx, drop = FALSE],
                               var = rf$var[idx, idx, , drop = FALSE])
  zpart <- list(cnames = zre$cnames, Z = zre$Z, re_formula = zre$re_formula,
                D_full = D, Lambda_full = obj$Lambda, correlated = fit$correlated,
                D = D[iz, iz, drop = FALSE], ranef = sub_re(iz), pattern_full = fit$pattern,
                qc = qc)
  Dc <- D[ic, ic, drop = FALSE]
  Lc <- tryCatch(t(chol(Dc)), error = function(e) {
    ev <- eigen(Dc, symmetric = TRUE)
    ev$vectors %*% diag(sqrt(pmax(ev$values, 0)), qc)
  })
  dimnames(Lc) <- dimnames(Dc)
  obj$D <- Dc
  obj$Lambda <- Lc
  obj$cnames <- re$cnames
  obj$cov_blocks <- re$block_sizes
  obj$pattern <- block_pattern(re$block_sizes)
  obj$ranef <- sub_re(ic)
  obj$Z <- if (!identical(re$cnames, "(Intercept)")) re$Z
  obj$re_formula <- lapply(find_bars(formula), function(b) b[[2L]])
  obj$zi_random <- zpart
  obj
}

# The zero part's random-effect contribution to logit(pi) at the fit's data
# or at newdata (0 for levels not in the fit when allow.new.levels = TRUE).
zi_random_zlink_re <- function(object, newdata, allow.new.levels) {
  zr <- object$aux$zi$re
  B <- zr$ranef$mode
  if (is.null(newdata)) {
    return(rowSums(zr$Z * B[object$group, , drop = FALSE]))
  }
  Zn <- do.call(cbind, lapply(zr$re_formula, function(lhs) {
    tt <- stats::delete.response(stats::terms(stats::as.formula(call("~", lhs))))
    stats::model.matrix(tt, stats::model.frame(tt, newdata, na.action = stats::na.pass))
  }))
  gexpr <- str2lang(object$group_name)
  g <- as.character(eval(gexpr, newdata, environment(object$formula)))
  idx <- match_levels(g, object$group_levels, object$group_name, allow.new.levels, "zero part")
  Bn <- B[ifelse(is.na(idx), 1L, idx), , drop = FALSE]
  Bn[is.na(idx), ] <- 0
  rowSums(Zn * Bn)
}

#' Random effects in the zero part of zero-inflated and hurdle GLMMs
#'
#' [glmm()] with a `ziformula` holding random-effect terms, e.g.
#' `ziformula = ~ x + (1 | g)`, on the conditional part's grouping factor
#' (poisson, [nbinom2()] or [nbinom1()] counts, zero-inflated or hurdle
#' with [truncated_poisson()] / [truncated_nbinom2()] /
#' [truncated_nbinom1()]): the logit of the zero
#' probability is \eqn{x_z'\gamma + z_z'b_z}, the log mean of the count
#' part \eqn{x'\beta + z'b}, and the cluster's random effects \eqn{(b,
#' b_z)} are integrated jointly by the Laplace approximation (`nAGQ = 1`)
#' or adaptive Gauss-Hermite quadrature (`nAGQ` > 1, `nAGQ` points per
#' random effect), with the exact gradient of the approximation. With
#' `zi_correlated = FALSE` (default) \eqn{b} and \eqn{b_z} are independent,
#' each with its own covariance: glmmTMB's model for `ziformula = ~ x + (1
#' | g)`, by default fitted as glmmTMB fits it, by Laplace. With
#' `zi_correlated = TRUE` they share one unstructured covariance:
#' GLMMadaptive's model for `mixed_model(..., zi_random = ~ 1 | g)`. The two
#' are different models (the correlated one has one parameter more and a
#' logLik at least as high).
#'
#' The correlated model needs quadrature (`nAGQ` > 1; by default 7 points
#' per effect for two random intercepts, [glmm()]'s default rule for two
#' random effects; `nAGQ = 1` is refused). The two-part likelihood is not
#' concave in (log mean, logit zero probability): in a cluster of zeros it
#' is flat or convex along the direction where both rise together (a
#' larger count mean offset by a larger zero probability), and the
#' curvature of the Laplace approximation, \eqn{I + \Lambda' W \Lambda},
#' can nearly vanish there. A correlation free to align both parts' effects
#' with that direction makes a cluster's approximate probability exceed one
#' and the approximate likelihood unbounded: in a simulation of 60 clusters
#' of 6 (correlation 0.5), a cluster of six zeros reached approximate
#' probabilities above one (up to 590) where the integral is 0.02, and the
#' search stopped with false convergence. With independent parts this is
#' rarer (none in 18 simulated fits); such a Laplace fit records a warning
#' with the number of clusters and the advice to refit with `nAGQ` > 1.
#'
#' Confidence intervals ([confint.glmmgee_glmm()]) cover both parts: the
#' zero part's coefficients `zi.<term>`, its standard deviations
#' `sd_zi.<effect>|<group>` and, when correlated,
#' `cor_zi.<effect>.<first>|<group>`; Wald or profile (the engine of both
#' parts rebuilt at the fit's rule). [variance_shares()] refuses these
#' models (two linear predictors, no single scale for the shares).
#'
#' The search for the optimum with quadrature has no Laplace stage: the
#' two-part likelihood is not concave, and in clusters of zeros the Laplace
#' approximation can be poor. With `nAGQ` > 3 it first maximizes a coarse
#' quadrature rule (3 points per random effect) and refines on the full
#' rule from there; the coarse optimum is used only where the full rule
#' finds it better than the start (`glmm_control(laplace_start = FALSE)`
#' starts on the full rule directly).
#' `VarCorr()` shows both parts (names `zi~...` for the zero part),
#' `ranef(component = "zi")` gives the zero part's random effects,
#' `predict()` adds both parts' random effects (`re.form = NA` drops both),
#' `simulate(re.form = NA)` draws both jointly; `standardize()` and
#' `marginal_coefs()` (`re = "marginal"`) integrate the mean of y over both
#' parts' random effects jointly.
#'
#' Any other random-effect terms in `ziformula` (several terms, random
#' slopes, crossed or nested factors, a factor other than the conditional
#' part's, or several terms in the conditional part) are fitted by the
#' two-part sparse Laplace engine, independent of the count part's
#' effects as in glmmTMB: both parts' effects of all levels form one
#' vector, their joint mode is found by Newton's method (damped where the
#' two-part likelihood is not concave) and the Laplace approximation uses
#' the sparse Cholesky factor of their joint curvature. Only `nAGQ = 1`;
#' `zi_correlated = TRUE` is refused there. The engine gives the
#' log-likelihood and its exact gradient (implicit differentiation of the
#' joint mode); the Hessian for standard errors is taken by differences of
#' that gradient. `VarCorr()` lists the zero part's terms as
#' `zi~<group>`, `ranef(component = "zi")` gives their modes,
#' `predict()` (`type = "zprob"`, `"zlink"`, `"response"`, new data and new
#' levels as for the count part) and `simulate()` (new effects of both
#' parts drawn independently) include them, and so do [standardize()],
#' [marginal_coefs()], Wald and profile intervals and the cluster-robust
#' covariances (whose default cluster must nest the grouping factors of
#' both parts). Random effects in `dispformula` are described in
#' [glmm-dispersion-random].
#'
#' The conditional formula may have no random-effect term at all, as in
#' glmmTMB: `y ~ x` with `ziformula = ~ z + (1 | g)` lets the probability
#' of a structural zero vary by `g` and nothing else. The two-part sparse
#' engine fits it; `ranef()` then gives the zero part's modes by default.
#'
#' @name glmm-zi-random
#' @param x,object A model fitted with random effects in `ziformula`.
#' @param sigma Not available here (an error when given; see [VarCorr.glmmgee_glmm()]).
#' @param ... Not used: an argument given here is an error.
#' @return `VarCorr()`: as [VarCorr.glmmgee_glmm()], one block over both
#'   parts; `ranef()`: as [ranef.glmmgee_glmm()] (a list of two for
#'   `component = "both"`).
#' @examples
#' if (requireNamespace("glmmTMB", quietly = TRUE)) {
#'   data(Salamanders, package = "glmmTMB")
#'   fit <- glmm(count ~ mined + (1 | site), data = Salamanders, family = poisson,
#'               ziformula = ~ mined + (1 | site))
#'   fit
#'   VarCorr(fit)
#'   head(ranef(fit, component = "zi")$site)
#'   head(predict(fit, type = "zprob"))
#'   # A zero part on another grouping factor beside two conditional terms.
#'   fit2 <- glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders,
#'                family = poisson, ziformula = ~ mined + (1 | site))
#'   VarCorr(fit2)
#'   # Random effects in the zero part only.
#'   fit3 <- glmm(count ~ spp + mined, data = Salamanders, family = poisson,
#'                ziformula = ~ mined + (1 | site))
#'   VarCorr(fit3)
#' }
NULL

#' @rdname glmm-zi-random
#' @export
VarCorr.glmmgee_glmm_zire <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_zire")
  refuse_varcorr_sigma(!missing(sigma), "models with random effects in the zero part")
  zr <- x$aux$zi$re
  cn <- c(x$cnames, paste0("zi~", zr$cnames))
  blocks <- if (zr$correlated) rep(1L, length(cn))
            else rep(1:2, c(length(x$cnames), length(zr$cnames)))
  D <- varcorr_block(zr$D_full, cn, blocks)
  dimnames(D) <- list(cn, cn)
  new_varcorr(stats::setNames(list(D), x$group_name), x)
}

#' @rdname glmm-zi-random
#' @param component `"cond"` (the count part's random effects, default),
#'   `"zi"` (the zero part's), `"disp"` (the dispersion formula's, when it
#'   has random-effect terms too) or `"both"` (a list of every part's). When
#'   the conditional formula has no random-effect term, the default gives the
#'   zero part's.
#' @param type,condVar As in [ranef.glmmgee_glmm()] (the rule of the fit).
#' @export
ranef.glmmgee_glmm_zire <- function(object, type = c("mode", "mean"), condVar = TRUE,
                                    component = c("cond", "zi", "both"), ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_zire", .allow = "newdata")
  refuse_ranef_newdata(list(...), "models with random effects in the zero part")
  type <- match.arg(type)
  component <- match.arg(component)
  zpart <- function() {
    zr <- object$aux$zi$re
    o <- object
    o$ranef <- zr$ranef
    o$cnames <- zr$cnames
    o$nAGQ <- object$nAGQ
    ranef_part(o, type, condVar)
  }
  switch(component, cond = ranef_part(object, type, condVar), zi = zpart(),
         both = list(cond = ranef_part(object, type, condVar), zi = zpart()))
}

# ranef() of one part from the stored modes or posterior moments (those of
# the fit's own rule; other rules would need both parts' integral again).
ranef_part <- function(object, type, condVar) {
  B <- if (type == "mode") object$ranef$mode else object$ranef$mean
  V <- if (type == "mode") object$ranef$mode_var else object$ranef$var
  ranef_table(object, B, V, condVar, type)
}

# TRUE when re.form asks for no random effects (NA, or a formula without
# bar terms such as ~ 0).
is_no_re <- function(re.form) {
  if (is.null(re.form)) return(FALSE)
  if (length(re.form) == 1L && !is.language(re.form) && is.na(re.form)) return(TRUE)
  inherits(re.form, "formula") && !length(find_bars(re.form))
}

# simulate(): both parts' linear predictors with new random effects drawn
# from the joint covariance, b = Lambda u per level.
zi_random_sampler <- function(object) {
  zr <- object$aux$zi$re
  Lam <- zr$Lambda_full
  q <- ncol(Lam); qc <- length(object$cnames)
  g <- object$group
  M <- length(object$group_levels)
  Zc <- object$Z %||% matrix(1, length(g), 1L)
  eta0 <- object$eta_fixed
  z0 <- aux_fixed_link(object$aux$zi)
  function() {
    B <- matrix(stats::rnorm(M * q), M, q) %*% t(Lam)
    list(eta = eta0 + rowSums(Zc * B[g, seq_len(qc), drop = FALSE]),
         zlink = z0 + rowSums(zr$Z * B[g, qc + seq_len(q - qc), drop = FALSE]))
  }
}

# The zero part's random-effect covariates at new data (standardize()).
zi_random_design_at <- function(fit, data) {
  env <- environment(fit$formula) %||% parent.frame()
  Zs <- lapply(fit$aux$zi$re$re_formula, function(rhs) {
    tz <- re_lhs_terms(rhs, fit$model, env)
    mz <- stats::model.frame(tz, data, na.action = stats::na.pass,
                             xlev = stats::.getXlevels(tz, fit$model))
    stats::model.matrix(tz, mz)
  })
  do.call(cbind, Zs)
}

# E y over both parts' random effects, per row. With s_c, s_z the standard
# deviations of z'b and z_z'b_z and c their covariance (from the joint D):
#   zero-inflated: E y = exp(eta + s_c^2/2) (1 - E_T[plogis(a + c + s_z T)])
# (tilting the normal by exp(s_c T_1) shifts T_2 by its covariance);
#   hurdle: E y = E_T1[h(eta + s_c T1) (1 - E_T2[plogis(a + (c/s_c) T1 + r T2)])],
# r^2 = s_z^2 - c^2/s_c^2, h the zero-truncated mean; trapezoidal rules of
# marginal-mean.R.
zi_random_marginal_mean <- function(a, family, th, eta, alink, phi, p, Zc, Zz) {
  zr <- a$zi$re
  pat <- zr$pattern_full
  qc <- zr$qc
  q <- max(pat$row)
  L <- matrix(0, q, q)
  L[cbind(pat$row, pat$col)] <- th[p + seq_along(pat$row)]
  D <- L %*% t(L)
  ic <- seq_len(qc); iz <- qc + seq_len(q - qc)
  sc2 <- rowSums((Zc %*% D[ic, ic, drop = FALSE]) * Zc)
  sz2 <- rowSums((Zz %*% D[iz, iz, drop = FALSE]) * Zz)
  cz <- rowSums((Zc %*% D[ic, iz, drop = FALSE]) * Zz)
  if (a$kind == "zi") {
    sz <- sqrt(pmax(sz2, 0))
    g <- normal_grid(max(sz))
    epi <- drop(stats::plogis(alink + cz + outer(sz, g$t)) %*% g$w)
    return((1 - epi) * exp(eta + sc2 / 2))
  }
  sc <- sqrt(pmax(sc2, 0))
  k <- ifelse(sc > 0, cz / pmax(sc, 1e-300), 0)
  r <- sqrt(pmax(sz2 - k^2, 0))
  g1 <- normal_grid(max(sc, abs(k)))
  g2 <- normal_grid(max(r))
  out <- numeric(length(eta))
  for (j in seq_along(g1$t)) {
    t1 <- g1$t[j]
    mu <- exp(eta + sc * t1)
    h <- mu / -expm1(log(count_p0(family, mu, phi)))
    epi <- drop(stats::plogis(alink + k * t1 + outer(r, g2$t)) %*% g2$w)
    out <- out + g1$w[j] * h * (1 - epi)
  }
  out
}
