# Formula front end of the cumulative link mixed model: glmm() routes here
# when family = cumulative(...). Random effects on one grouping factor (an
# intercept, or slopes), by the Laplace approximation or adaptive
# Gauss-Hermite quadrature.

#' Cumulative link mixed models
#'
#' `glmm(y ~ x + (1 | g), data, family = cumulative("logit"))` fits the
#' cumulative link mixed model of `ordinal::clmm()`:
#' \deqn{P(Y_{ij} \le k \mid b_i) = F(\theta_k - x_{ij}'\beta - b_i), \quad
#' b_i \sim N(0, \sigma^2),}
#' with thresholds \eqn{\theta_1 < \dots < \theta_{J-1}} in place of an
#' intercept (see [cumulative()]). The random intercept is integrated out by
#' the Laplace approximation (`nAGQ = 1`) or adaptive Gauss-Hermite
#' quadrature (`nAGQ > 1`, as clmm's `nAGQ > 1`), centred at each cluster's
#' mode and scaled by its curvature. The log-likelihood is the full one and
#' equals clmm's at the same parameters and `nAGQ`. The gradient is exact
#' (that of the approximation, with the modes and curvatures moving with the
#' parameters); standard errors come from the Hessian of the log-likelihood
#' in (thresholds, \eqn{\beta}, \eqn{\log\sigma}). The thresholds are kept
#' ordered by optimizing the first and the logarithms of the increments.
#'
#' **What is supported.** Random effects on one grouping factor: a random
#' intercept `(1 | g)`, or random slopes `(1 + x | g)` (unstructured
#' covariance) and `(x || g)` (independent effects); prior weights (which
#' multiply each observation's log-likelihood, as in clmm) and offsets.
#' `nobs()` counts the rows of positive weight, as lme4 does for any
#' family; clmm counts the sum of the weights, so with frequency weights
#' BIC differs from clmm's.
#' With \eqn{q} random effects the quadrature is the product rule of
#' `nAGQ^q` nodes, centred at each cluster's mode and scaled by the Cholesky
#' factor of its curvature; their covariance is estimated through its
#' Cholesky factor (diagonal on the log scale). clmm fits random intercepts
#' only. The gradient is exact for slopes too (the modes and the Cholesky
#' factors of their curvatures moving with the parameters); the standard
#' errors come from forward differences of it. The product grid turns with
#' the random effects' coordinates, so with `nAGQ > 1` it is laid on the
#' standardized design (each term's columns centred and scaled, mapped
#' back exactly): the fit, its log-likelihood included, is then the same
#' whatever the covariates' location and units (by `nAGQ = 3`, wine's
#' `(1 + temp | judge)` on the columns as given differed by 4e-5 from the
#' same model with `temp` coded `1e-6` and shifted). Random intercepts on several
#' grouping factors are fitted by the sparse Laplace engine, see
#' [ordinal-glmm-several-terms]; known covariances are refused with an
#' error. Scale and nominal effects
#' (clmm's `scale =`, `nominal =`) are not available. Separated data
#' (a covariate that orders the responses perfectly, so that a coefficient
#' or a distance between thresholds runs off to infinity) are named in a
#' warning and in `$separation`, see "Checks on the data" in [glmm()].
#'
#' **Penalized coefficients.** `penalized = TRUE` (or a list of `pen_mu`,
#' `pen_sigma`, `pen_df`, see [glmm()]) adds the log density of the
#' multivariate Student-t prior of the binary and count fits to the
#' log-likelihood, on the coefficients \eqn{\beta} only: the thresholds are
#' never penalized (they play the intercept's part, and each observed
#' category keeps them finite). Every separating direction moves
#' \eqn{\beta}, so the penalized estimates (the posterior mode) are finite
#' under separation, on one grouping factor (Laplace or AGHQ, random
#' intercepts or slopes) and on several (sparse Laplace). Standard errors
#' come from the Hessian of the penalized log-likelihood; `logLik()` is the
#' log-likelihood without the prior, `$penalty` holds the prior, the log
#' prior and the penalized objective. The prior acts on the coefficients as
#' coded: the estimates do not depend on a covariate's location (centring
#' moves only the thresholds) but do depend on its units and on the
#' contrast coding, as for the binary fits (a prior scale `pen_sigma` per
#' coefficient restores a rescaled covariate's fit).
#'
#' **Cluster-robust inference.** `vcov(fit, type = "CR2")` (also `"CR0"`,
#' `"CR1"`, `"CR3"`; `cluster =` as for the other fits, see
#' [vcov.glmmgee_glmm()]) is the sandwich of the thresholds and
#' coefficients, from each cluster's score: by central differences of its
#' log-likelihood with one grouping factor (random intercept or slopes), by
#' the sparse engine's exact gradient with several nested terms (clustered
#' by the grouping that nests the others). `summary()`, `confint()`,
#' `odds_ratios()` and `standardize()` take it as `vcov = "CR2"`, with t
#' tests and intervals on Satterthwaite degrees of freedom (the
#' population-averaged odds ratios and standardized probabilities by the
#' delta method over all parameters).
#'
#' **Conditional and marginal.** \eqn{\beta} are conditional effects: the
#' cumulative log odds ratios (logit link) for a given cluster, holding its
#' random intercept fixed; [odds_ratios()] reports them. Averaged over the
#' random intercept the cumulative probabilities
#' \eqn{P(Y \le k) = \int F(\theta_k - \eta - b)\,dN(b; 0, \sigma^2)} no
#' longer follow a proportional-odds model: the population-averaged
#' cumulative odds ratio differs from threshold to threshold, and
#' `odds_ratios(fit, type = "marginal")` reports one per threshold.
#' `predict(fit, type = "prob", re.form = NA)` (or `~ 0`) gives category probabilities
#' for a typical cluster (\eqn{b = 0}), `re.form = NULL` those of the
#' fitted clusters (the default, as for the other [glmm()] fits and as
#' `fitted()`: at their modes; a cluster of `newdata` not in the fit
#' is an error unless `allow.new.levels = TRUE`, which gives it
#' \eqn{b = 0}), and `type = "prob_marginal"` the population-averaged ones
#' (by `nAGQ` Gauss-Hermite nodes, 10 to 200, default 30).
#' With random slopes, `predict()` (both views; the population average
#' integrates \eqn{z'b \sim N(0, z'\Sigma z)} row by row), `ranef()` (an
#' M x q table; `condVar = TRUE` attaches q x q x M conditional covariances),
#' `VarCorr()` (standard deviations and correlations) and `simulate()` work;
#' the population-averaged `odds_ratios(type = "marginal")` and
#' `standardize()` are available for a random intercept only.
#'
#' @section Methods:
#' The fit has class `glmmgee_glmm_ordinal` (with random slopes also
#' `glmmgee_glmm_ordinal_re` before it), which inherits `glmmgee_glmm`:
#' `print`, `summary` (thresholds and coefficients with standard errors),
#' `logLik`, `AIC`, `BIC`, `nobs`, `fixef` (\eqn{\beta}), `coef` (thresholds
#' and \eqn{\beta}), `vcov` (of thresholds and \eqn{\beta}; `full = TRUE` adds
#' \eqn{\log\sigma}), `confint` (Wald; `sigma` by the log scale), `VarCorr`,
#' `ranef` (modes, with `condVar = TRUE` their conditional variances),
#' `predict` (`type = "prob"` or its synonym `"response"`, `"prob_marginal"`,
#' `"class"`, `"linear"` or its synonym `"link"`;
#' with `se.fit = TRUE`, delta-method standard errors: of `"linear"` and
#' `"prob"` over the thresholds and \eqn{\beta}; of `"prob_marginal"` also
#' over the random-effect parameters, differentiating the Gauss-Hermite
#' average over the random effect under the integral; with `re.form = NULL`
#' conditional on the clusters' modes, whose own uncertainty is not
#' included, as in lme4's and glmmTMB's `predict()`),
#' `fitted` (the fitted probability of each observed category, as clmm's),
#' `simulate` (`re = "new"` or `"fitted"` random effects, also as
#' `re.form = NA` or `NULL`), `anova` (likelihood-ratio tests between nested fits),
#' [odds_ratios()], [standardize()] (category probabilities
#' averaged over the data, population-averaged), `update`, broom's `tidy()`
#' and `glance()` ([ordinal-broom]) and emmeans with clmm's modes
#' ([ordinal-emmeans]).
#'
#' @section Fitted object:
#' The fields every GLMM fit carries ([glmmgee_glmm]) mean here: `theta`,
#' the coefficients \eqn{\beta}, then the random effects' parameters as on
#' the other engines (one grouping factor: the entries `lambda[i,j]` of the
#' Cholesky factor of their covariance, for a random intercept its standard
#' deviation; several terms: each term's standard deviation, named
#' `group.(Intercept)`), then the thresholds; `cov_theta` their covariance
#' (delta method from the log scale on which the standard deviations are
#' searched); `sigma` 1, the fixed scale of the latent variable; `family_par`
#' `NULL` (the thresholds are in `theta` and `$thresholds`); `re_formula` the
#' left-hand sides of the random-effect terms.
#'
#' @name ordinal-glmm
#' @references
#' Christensen, R. H. B. (2019). Cumulative link models for ordinal
#' regression with the R package ordinal. R package vignette.
#'
#' Hedeker, D. and Gibbons, R. D. (1994). A random-effects ordinal regression
#' model for multilevel analysis. *Biometrics* 50, 933-944.
#'
#' Randall, J. H. (1989). The analysis of sensory data by generalised linear
#' model. *Biometrical Journal* 31, 781-793 (the wine data).
#' @examples
#' if (requireNamespace("ordinal", quietly = TRUE)) {
#'   fit <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
#'               family = cumulative("logit"), nAGQ = 10)
#'   print(summary(fit))
#'   print(odds_ratios(fit))                     # conditional, proportional odds
#'   print(odds_ratios(fit, type = "marginal"))  # population-averaged, per threshold
#'   print(standardize(fit, "temp"))             # category probabilities
#'   head(predict(fit, type = "prob", re.form = NA))
#'   # a random slope of temperature by judge (clmm cannot fit it)
#'   fs <- glmm(rating ~ temp + contact + (1 + temp | judge), data = ordinal::wine,
#'              family = cumulative("logit"), nAGQ = 1)
#'   print(VarCorr(fs))
#'   head(ranef(fs)$judge)
#' }
NULL

glmm_ordinal <- function(formula, mf, family, nAGQ, control, start, covariance, mc, fenv,
                         penalty = NULL) {
  bars <- find_bars(formula)
  gnames <- unique(vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), ""))
  if (length(gnames) > 1L)  # several grouping factors: glmm-ordinal-sparse.R
    return(glmm_ordinal_sparse(formula, mf, family, nAGQ, control, start, mc, fenv, penalty))
  # A random intercept (1 | g) needs only its grouping factor: re_terms()
  # also builds a design column of ones (a model.matrix() call) that this
  # engine never reads, about 0.2 ms of a 4 ms fit on 72 rows (wine).
  re <- if (length(bars) == 1L && identical(bars[[1L]][[2L]], 1))
    list(cnames = "(Intercept)", group = checked_grouping(bars[[1L]][[3L]], gnames, mf, fenv),
         group_name = gnames)
  else re_terms(formula, mf, fenv, bars)
  # Random slopes, e.g. (1 + x | g) or (x || g): q random effects,
  # integrated on a product grid (ordinal_glmm_fit_re()).
  slopes <- !identical(re$cnames, "(Intercept)")
  # The same rule as the other engines (check_nAGQ()): at most 1e5 nodes
  # per cluster, nAGQ^q for q random effects (at nAGQ = 100 and q = 3, a
  # million, took minutes per pass); one effect's rule has at most 100 nodes.
  nAGQ <- check_nAGQ(nAGQ %||% 1L, length(re$cnames))
  if (nAGQ > 100L)
    stop("'nAGQ' must be a whole number between 1 (Laplace) and 100", call. = FALSE)
  check_frame_finite(mf)
  fx <- ordinal_fixed_design(formula, mf, fenv)  # glmm-ordinal-sparse.R
  X <- fx$X
  rname <- deparse(formula[[2L]])
  resp <- ordinal_response(stats::model.response(mf), rname, attr(mf, "unused_response_levels"))
  w <- stats::model.weights(mf) %||% rep(1, nrow(mf))
  if (!is.numeric(w) || any(!is.finite(w)) || any(w < 0))
    stop("'weights' must be finite and non-negative", call. = FALSE)
  if (all(w == 0)) stop("'weights' are all zero", call. = FALSE)
  off <- model_offset_total(mf)
  J <- length(resp$levels)
  if (slopes && !is.null(start))
    stop("'start' is not available for cumulative link models with random slopes", call. = FALSE)
  # Under separation the engine may fail outright: then the separation
  # check (separation-ordinal.R) names the reason.
  if (!is.null(penalty)) check_prior_length(penalty, ncol(X), "penalized")
  fit <- ordinal_fit_or_separation(function() {
    if (slopes)
      ordinal_glmm_fit_re(X, re$Z, resp$code, J, re$group, family, re$lam_row, re$lam_col,
                          weights = w, offset = off, nAGQ = as.integer(nAGQ), control = control,
                          penalty = penalty)
    else
      ordinal_glmm_fit(X, resp$code, J, re$group, family, weights = w, offset = off,
                       nAGQ = as.integer(nAGQ), control = control, start = start,
                       penalty = penalty)
  }, X, resp, w, "glmm")
  obj <- if (slopes) new_glmm_ordinal_re(fit, X, resp, re, w, off, family, mf, fx$mt, mc, formula,
                                         bars)
         else new_glmm_ordinal(fit, X, resp, re, w, off, family, mf, fx$mt, mc, formula)
  # The linear predictors at the random effects' modes, for the check's
  # certificate of existence.
  b <- obj$ranef$mode
  eta <- drop(X %*% obj$coefficients) + off +
    if (slopes) rowSums(re$Z * b[obj$group, , drop = FALSE]) else b[obj$group]
  obj$penalty <- fit$penalty
  finish_ordinal_separation(obj, X, resp, w, "glmm", eta)
}

new_glmm_ordinal <- function(fit, X, resp, re, w, off, family, mf, mt, call, formula) {
  lev <- levels(re$group)
  tn <- threshold_names(resp$levels)
  bn <- colnames(X)
  pn <- c(tn, bn, "log(sigma)")
  names(fit$psi) <- pn
  dimnames(fit$cov_psi) <- list(pn, pn)
  if (!is.null(fit$hessian)) dimnames(fit$hessian) <- list(pn, pn)
  s <- fit$sigma
  m <- fit$modes
  obj <- with_ordinal_layout(structure(c(list(
    call = call, formula = formula, family = family,
    thresholds = stats::setNames(fit$theta, tn), coefficients = stats::setNames(fit$beta, bn),
    vcov = beta_block(fit$cov_psi, length(tn), bn),
    sigma_re = unname(s), log_sigma = unname(fit$log_sigma), psi = fit$psi, cov_psi = fit$cov_psi,
    cov_star = fit$cov_star, hessian = fit$hessian, loglik = fit$loglik, df = length(fit$psi),
    gradient = stats::setNames(fit$gradient, pn)),
    ordinal_data_fields(resp, re, w, off, X, lev),
    list(ranef = list(mode = s * m$mode, mode_var = (s * m$scale)^2,
                      mean = s * m$post_mean, var = s^2 * m$post_var)),
    ordinal_frame_fields(fit, X, mf, mt, lev)),
    class = c("glmmgee_glmm_ordinal", "glmmgee_glmm")))
  # the clusters' informations at the estimates (cluster-curvature.R)
  if (!is.null(fit$cluster_curvature))
    obj$cluster_curvature <- c(fit$cluster_curvature, list(at = as.numeric(obj$theta)))
  obj
}

# The covariance of the coefficients beta (named `bn`), the common field
# `vcov` of GLMM fits, from the parameters' covariance V ordered
# (k thresholds, beta, ...); vcov() gives the thresholds' block besides.
beta_block <- function(V, k, bn) {
  idx <- k + seq_along(bn)
  matrix(V[idx, idx], length(bn), length(bn), dimnames = list(bn, bn))
}

# The fields both one-factor ordinal objects (new_glmm_ordinal() and
# new_glmm_ordinal_re()) take from the data, in their order: counts,
# grouping, response, weights, offset and X.
ordinal_data_fields <- function(resp, re, w, off, X, lev) {
  list(nobs = sum(w > 0), n = length(resp$code),
       ngroups = sum(tabulate(re$group[w > 0], length(lev)) > 0L),
       group_name = re$group_name, group_levels = lev, group = as.integer(re$group),
       y = resp$code, y_levels = resp$levels,
       prior.weights = if (differs_from(w, 1)) w, offset = if (differs_from(off, 0)) off,
       X = X)
}

# The fields after their random effects: each cluster's log-likelihood,
# the model frame and terms, and the fit's record.
ordinal_frame_fields <- function(fit, X, mf, mt, lev) {
  list(cluster_loglik = stats::setNames(fit$modes$loglik, lev),
       model = mf, terms = mt, xlevels = frame_xlevels(mt, mf),
       contrasts = attr(X, "contrasts"), na.action = attr(mf, "na.action"),
       nAGQ = fit$nAGQ, singular = fit$singular, optinfo = fit$optinfo,
       engine = engine_info("ordinal_agq"))
}

# The fitted object with q random effects (random slopes): the fields of
# new_glmm_ordinal() with the covariance Sigma (re_cov) in place of the
# random intercept's sigma, ranef modes as an M x q matrix and their
# conditional variances as M x q^2 (column-major per cluster), and the
# random-effect design (Z, and the terms to build it for new data).
new_glmm_ordinal_re <- function(fit, X, resp, re, w, off, family, mf, mt, call, formula, bars) {
  lev <- levels(re$group)
  tn <- threshold_names(resp$levels)
  bn <- colnames(X)
  cn <- re$cnames
  ln <- ifelse(re$lam_row == re$lam_col, sprintf("log(L[%s,%s])", cn[re$lam_row], cn[re$lam_col]),
               sprintf("L[%s,%s]", cn[re$lam_row], cn[re$lam_col]))
  pn <- c(tn, bn, ln)
  names(fit$psi) <- pn
  dimnames(fit$cov_psi) <- list(pn, pn)
  if (!is.null(fit$hessian)) dimnames(fit$hessian) <- list(pn, pn)
  dimnames(fit$Sigma) <- list(cn, cn)
  m <- fit$modes
  colnames(m$mode) <- colnames(m$post_mean) <- cn
  rownames(m$mode) <- rownames(m$post_mean) <- lev
  re_terms_lhs <- lapply(bars, function(b) b[[2L]])
  with_ordinal_layout(structure(c(list(
    call = call, formula = formula, family = family,
    thresholds = stats::setNames(fit$theta, tn), coefficients = stats::setNames(fit$beta, bn),
    vcov = beta_block(fit$cov_psi, length(tn), bn),
    re_cov = fit$Sigma, re_cnames = cn, re_lhs = re_terms_lhs, Z = re$Z,
    lam_row = re$lam_row, lam_col = re$lam_col,
    sigma_re = sqrt(diag(fit$Sigma)), psi = fit$psi, cov_psi = fit$cov_psi,
    hessian = fit$hessian, loglik = fit$loglik, df = length(fit$psi),
    gradient = stats::setNames(fit$gradient, pn)),
    ordinal_data_fields(resp, re, w, off, X, lev),
    list(ranef = list(mode = m$mode, mode_var = m$mode_var, mean = m$post_mean, var = m$post_var)),
    ordinal_frame_fields(fit, X, mf, mt, lev)),
    class = c("glmmgee_glmm_ordinal_re", "glmmgee_glmm_ordinal", "glmmgee_glmm")))
}

# An ordinal fit with the fields every GLMM fit carries (?glmmgee_glmm),
# made from its own parameters by ordinal_layout_fields().
with_ordinal_layout <- function(obj) {
  cl <- class(obj)
  obj <- c(unclass(obj), ordinal_layout_fields(obj))
  class(obj) <- cl
  obj
}

# The documented fields of a GLMM fit from an ordinal fit's parameters
# (also for fits saved before it carried them):
#   theta      (coefficients, the random effects' parameters, thresholds):
#              the random effects as the other engines lay them out, the
#              Cholesky factor's entries lambda[i,j] of one grouping factor
#              (a standard deviation for a random intercept), each term's
#              standard deviation on the sparse engine; the thresholds come
#              last, where other families keep their extra parameter;
#   cov_theta  their covariance, by the delta method from the search's log
#              scale of the standard deviations (Cholesky diagonal);
#   sigma      1: the latent variable's scale is fixed, as for binomial;
#   family_par NULL: the thresholds are intercepts of the linear predictor
#              (in theta and in $thresholds, with vcov(full = TRUE)), not a
#              scalar parameter of the response distribution;
#   re_formula the left-hand sides of the random-effect terms.
ordinal_layout_fields <- function(x) {
  thr <- .subset2(x, "thresholds")
  beta <- .subset2(x, "coefficients")
  k1 <- length(thr)
  p <- length(beta)
  if (!is.null(.subset2(x, "par"))) {
    # several terms: the search's own scale is the standard deviations
    par <- .subset2(x, "par")
    V <- .subset2(x, "cov_par")
    re <- par[-seq_len(k1 + p)]
    re_names <- names(re)
    d <- rep(1, length(re))
  } else {
    psi <- .subset2(x, "psi")
    V <- .subset2(x, "cov_psi")
    re <- psi[-seq_len(k1 + p)]
    rows <- .subset2(x, "lam_row") %||% 1L
    cols <- .subset2(x, "lam_col") %||% 1L
    on_diag <- rows == cols
    re[on_diag] <- exp(re[on_diag])
    re_names <- sprintf("lambda[%d,%d]", rows, cols)
    d <- ifelse(on_diag, re, 1)
  }
  nm <- c(names(beta), re_names, names(thr))
  ord <- c(k1 + seq_len(p), k1 + p + seq_along(re), seq_len(k1))
  d <- c(rep(1, p), d, rep(1, k1))
  cov_theta <- V[ord, ord, drop = FALSE] * outer(d, d)
  dimnames(cov_theta) <- list(nm, nm)
  attr(cov_theta, "ok") <- attr(V, "ok")
  attr(cov_theta, "cond") <- attr(V, "cond")
  list(theta = stats::setNames(unname(c(beta, re, thr)), nm), cov_theta = cov_theta,
       sigma = 1, family_par = NULL,
       re_formula = lapply(find_bars(.subset2(x, "formula")), function(b) b[[2L]]))
}

# The levels of the factor (and character) variables of terms `mt` in the
# model frame `mf`: the value of stats::.getXlevels(mt, mf), for predict()
# on new data. .getXlevels() deparses every variable; a plain name's
# deparse is its string, so only calls (log(x), poly(x, 2)) are deparsed:
# on wine (72 rows) .getXlevels() was ~55 us of a 2 ms fit, this ~15 us.
# `fallback`: a variable missing from the frame goes to .getXlevels() itself
# (its error), for the routes that called it directly.
frame_xlevels <- function(mt, mf, fallback = FALSE) {
  # A loop over the variables' call in place of vapply() and a closure per
  # variable, all() of %in% in place of setdiff() (made only for the
  # message), and the levels taken from the factor and character columns
  # alone: the same list, a third of the time (22 -> 7 microseconds on
  # y ~ x).
  vars <- attr(mt, "variables")
  xvars <- character(length(vars) - 1L)
  for (k in seq_along(xvars)) {
    x <- vars[[k + 1L]]
    xvars[k] <- if (is.symbol(x)) as.character(x)
                else paste(deparse(x, width.cutoff = 500L, backtick = is.language(x)), collapse = " ")
  }
  if ((yvar <- attr(mt, "response")) > 0L) xvars <- xvars[-yvar]
  if (!length(xvars)) return(NULL)
  if (!all(xvars %in% names(mf))) {
    if (fallback) return(stats::.getXlevels(mt, mf))
    stop(sprintf("undefined columns selected: %s", paste(setdiff(xvars, names(mf)), collapse = ", ")),
         call. = FALSE)
  }
  cols <- .subset(mf, xvars)
  keep <- logical(length(cols))
  for (k in seq_along(cols)) {
    x <- .subset2(cols, k)
    lv <- if (is.factor(x)) levels(x) else if (is.character(x)) levels(as.factor(x))
    if (!is.null(lv)) {
      cols[k] <- list(lv)
      keep[k] <- TRUE
    }
  }
  cols[keep]
}
