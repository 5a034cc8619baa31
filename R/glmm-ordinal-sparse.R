# Formula front end of the cumulative link mixed model with several
# random-intercept terms: glmm_ordinal() (glmm-ordinal.R) routes here when
# the formula has more than one random-effect term. Fitter in
# fit-ordinal-sparse.R, methods in methods-ordinal-sparse.R.

#' Cumulative link mixed models with several random intercepts
#'
#' `glmm(y ~ x + (1 | a) + (1 | b), data, family = cumulative("logit"))`
#' fits the cumulative link mixed model of `ordinal::clmm()` with several
#' random-intercept terms — crossed `(1 | judge) + (1 | bottle)`, nested
#' `(1 | school/class)` (expanded to `(1 | school) + (1 | class:school)`),
#' interactions `(1 | RESP:PROD)`:
#' \deqn{P(Y_i \le k \mid b) = F(\theta_k - x_i'\beta - \textstyle\sum_t
#' b_{t, g_t(i)}), \quad b_{t, l} \sim N(0, \sigma_t^2)}{P(Y <= k | b) =
#' F(theta_k - x'beta - sum_t b_t)}
#' independently, by the Laplace approximation with the sparse engine of
#' [glmm-several-terms]: the conditional modes of all random effects by
#' penalized Newton iterations, a sparse Cholesky factorization of their
#' Hessian, and the exact gradient of the approximation. The thresholds are
#' extra parameters of the engine's cumulative observation model; the
#' log-likelihood is the full one and equals clmm's Laplace value
#' (`nAGQ = 1`, clmm's default) at the same parameters.
#'
#' **What is supported.** Random intercepts only, on any number of grouping
#' factors (clmm fits no random slopes); the Laplace approximation only
#' (`nAGQ = 1`; clmm's quadrature is also for one grouping factor only);
#' prior weights and offsets; the logit, probit and cloglog links. A
#' grouping factor with one level, or with one observation per level (its
#' variance is not identifiable from one ordinal observation per level),
#' is refused with an error.
#'
#' **Conditional and marginal.** \eqn{\beta} are conditional effects (for
#' given random intercepts); [odds_ratios()] reports them. The sum of the
#' independent normal intercepts is a normal intercept with variance
#' \eqn{\sum_t \sigma_t^2}, so the population-averaged quantities —
#' `predict(type = "prob_marginal")`, `odds_ratios(type = "marginal")`
#' (one per threshold) and [standardize()] — integrate each cumulative
#' probability over that one normal, as for one grouping factor
#' ([ordinal-glmm]).
#'
#' @section Methods:
#' `print` and `summary` (thresholds, coefficients, one standard deviation
#' per term), `logLik`, `AIC`, `BIC`, `nobs`, `fixef`, `coef`, `vcov`
#' (thresholds and \eqn{\beta}; `full = TRUE` adds the standard
#' deviations), `confint` (Wald), `VarCorr`, `ranef` (conditional modes, one
#' data frame per grouping factor, `condVar = TRUE` with their conditional
#' variances), `predict` (`type = "prob"`, `"prob_marginal"`, `"class"`,
#' `"linear"`; `re.form = NA` for random intercepts of zero, `NULL` for
#' the fitted ones of every term; `se.fit = TRUE` as with one grouping factor,
#' `"prob_marginal"` over the total standard deviation),
#' `fitted`, `simulate`, `anova`,
#' [odds_ratios()], [standardize()].
#'
#' @name ordinal-glmm-several-terms
#' @references
#' Christensen, R. H. B. (2019). Cumulative link models for ordinal
#' regression with the R package ordinal. R package vignette.
#' @examples
#' if (requireNamespace("ordinal", quietly = TRUE)) {
#'   fit <- glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle),
#'               data = ordinal::wine, family = cumulative("logit"))
#'   print(summary(fit))
#'   VarCorr(fit)
#'   head(ranef(fit)$judge)
#'   print(odds_ratios(fit))                     # conditional
#'   print(odds_ratios(fit, type = "marginal"))  # population-averaged, per threshold
#'   head(predict(fit, type = "prob", re.form = NA))
#' }
NULL

glmm_ordinal_sparse <- function(formula, mf, family, nAGQ, control, start, mc, fenv,
                                penalty = NULL) {
  re <- sparse_re_terms(formula, mf)
  for (tm in re$terms)
    if (!identical(tm$cnames, "(Intercept)"))
      stop(sprintf("cumulative link mixed models with several random-effect terms take random intercepts only, (1 | %s); the term on '%s' has %s",
                   tm$group, tm$group, paste(tm$cnames, collapse = ", ")), call. = FALSE)
  check_frame_finite(mf)
  fx <- ordinal_fixed_design(formula, mf, fenv)
  X <- fx$X
  resp <- ordinal_response(stats::model.response(mf), deparse(formula[[2L]]),
                           attr(mf, "unused_response_levels"))
  w <- stats::model.weights(mf) %||% rep(1, nrow(mf))
  if (!is.numeric(w) || any(!is.finite(w)) || any(w < 0))
    stop("'weights' must be finite and non-negative", call. = FALSE)
  if (all(w == 0)) stop("'weights' are all zero", call. = FALSE)
  npos <- sum(w > 0)
  for (tm in re$terms)
    if (sum(tabulate(tm$index[w > 0], length(tm$levels)) > 0L) >= npos)
      stop(sprintf("grouping factor '%s' has as many levels as observations (%d): the variance of its random intercept is not identifiable from one ordinal observation per level; remove the term",
                   tm$group, npos), call. = FALSE)
  off <- model_offset_total(mf)
  J <- length(resp$levels)
  if (!is.null(penalty)) check_prior_length(penalty, ncol(X), "penalized")
  fit <- ordinal_fit_or_separation(function()
    ordinal_sparse_fit(X, resp$code, J, re, family, weights = w, offset = off,
                       control = control, start = start, tnames = threshold_names(resp$levels),
                       penalty = penalty),
    X, resp, w, "glmm")
  obj <- new_glmm_ordinal_sparse(fit, X, resp, re, w, off, family, mf, fx$mt, mc, formula)
  obj$penalty <- fit$penalty
  finish_ordinal_separation(obj, X, resp, w, "glmm", obj$linear.predictors)
}

# The fixed-effect design of a cumulative link model: the thresholds take
# the place of the intercept, so it is dropped and a constant column is an
# error (aliased with the thresholds).
ordinal_fixed_design <- function(formula, mf, fenv) {
  formula <- ordinal_with_intercept(formula)
  fx <- fixed_design(formula, mf, fenv, drop_rownames = TRUE)
  X <- fx$X
  asgn <- attr(X, "assign")
  contr <- attr(X, "contrasts")
  keep <- colnames(X) != "(Intercept)"
  X <- X[, keep, drop = FALSE]
  attr(X, "assign") <- asgn[keep]
  attr(X, "contrasts") <- contr
  if (ncol(X)) {
    # (one pass over X rather than a column at a time)
    const <- colSums(X != rep(X[1L, ], each = nrow(X))) == 0
    if (any(const))
      stop(sprintf("fixed-effect column(s) %s are constant: they are aliased with the thresholds",
                   paste(colnames(X)[const], collapse = ", ")), call. = FALSE)
    check_full_rank(cbind(1, X))
  }
  list(X = X, mt = fx$mt)
}

# A formula without an intercept (`0 +`, `- 1`) with one: the thresholds
# take the intercept's place, and a factor is coded as beside an intercept
# (with both its indicators, the design was aliased with the thresholds).
# Said in a warning, as clm() does.
ordinal_with_intercept <- function(formula) {
  fixed <- formula
  fixed[[3L]] <- no_bars(formula[[3L]]) %||% 1
  if (!identical(attr(stats::terms(fixed), "intercept"), 0L)) return(formula)
  warning("a cumulative link model has no intercept (its thresholds take that place): ",
          "the formula's '0 +' or '- 1' is ignored", call. = FALSE)
  formula[[3L]] <- call("+", formula[[3L]], 1)
  formula
}

# The fitted object, class c("glmmgee_glmm_ordinal_sparse",
# "glmmgee_glmm_ordinal"). Fields as for one grouping factor (glmm-ordinal.R)
# where they mean the same, with these for several terms:
#   sd_re        one standard deviation per term (named by the term);
#   par, cov_par (thresholds, beta, standard deviations) and their
#                covariance (NA for a standard deviation on the boundary);
#   psi, cov_psi (thresholds, beta, log of the total standard deviation
#                sqrt(sum sd^2)) and their covariance by the delta method:
#                the population-averaged quantities of interpret-ordinal.R
#                integrate over the sum of the intercepts, one normal;
#   sigma_re     that total standard deviation;
#   group_name, ngroups  one per term; reterms, Z, b as for the sparse
#                engine's fits (fit-sparse.R);
#   re_pattern   the pattern of Lambda, to rebuild the engine with Z
#                (ordinal_sparse_loglik_at()).
new_glmm_ordinal_sparse <- function(fit, X, resp, re, w, off, family, mf, mt, call, formula) {
  k1 <- length(fit$theta)
  p <- length(fit$beta)
  nth <- length(fit$sd)
  sd <- stats::setNames(unname(fit$sd), vapply(fit$terms, `[[`, "", "group"))
  tot <- sqrt(sum(sd^2))
  # Delta method for log(total sd): d/d sd_t = sd_t / total^2.
  G <- cbind(diag(k1 + p), matrix(0, k1 + p, nth))
  G <- rbind(G, c(rep(0, k1 + p), if (tot > 0) unname(fit$sd) / tot^2 else rep(0, nth)))
  V <- fit$cov_par
  V[is.na(V) & (row(V) > k1 + p | col(V) > k1 + p)] <- 0
  cov_psi <- G %*% V %*% t(G)
  pn <- c(names(fit$par)[seq_len(k1 + p)], "log(sigma)")
  dimnames(cov_psi) <- list(pn, pn)
  # Tm mixes thresholds and beta only, so G Tm = T1 G with T1 its
  # (thresholds, beta) block beside a 1: psi's standardized covariance is
  # G V* G' over T1.
  cov_star <- if (!is.null(fit$par_star)) {
    Vs <- fit$par_star$V
    Vs[is.na(Vs) & (row(Vs) > k1 + p | col(Vs) > k1 + p)] <- 0
    T1 <- diag(k1 + p + 1L)
    T1[seq_len(k1 + p), seq_len(k1 + p)] <- fit$par_star$T[seq_len(k1 + p), seq_len(k1 + p)]
    if (!anyNA(Vs)) list(T = T1, V = unname(G %*% Vs %*% t(G)), index = seq_len(k1 + p + 1L),
                         P = k1 + p + 1L)
  }
  b <- term_modes(fit$terms, ncol(re$Z))
  obj <- with_ordinal_layout(structure(list(
    call = call, formula = formula, family = family,
    thresholds = fit$theta, coefficients = fit$beta,
    vcov = beta_block(fit$cov_par, k1, names(fit$beta)), sd_re = sd,
    par = fit$par, cov_par = fit$cov_par,
    psi = stats::setNames(c(fit$theta, fit$beta, log(tot)), pn), cov_psi = cov_psi,
    cov_star = cov_star,
    sigma_re = tot, log_sigma = log(tot),
    hessian = fit$hessian, loglik = fit$loglik, df = length(fit$par),
    gradient = fit$gradient,
    nobs = sum(w > 0), n = length(resp$code),
    group_name = vapply(fit$terms, `[[`, "", "group"),
    ngroups = vapply(fit$terms, function(t) sum(active_clusters(t$index, w, length(t$levels))), 1L),
    reterms = fit$terms, Z = re$Z, b = b,
    re_pattern = re[c("lam_row", "lam_col", "lam_k", "ntheta")],
    linear.predictors = drop(fit$modes$eta),
    y = resp$code, y_levels = resp$levels,
    prior.weights = if (differs_from(w, 1)) w, offset = if (differs_from(off, 0)) off,
    X = X, model = mf, terms = mt, xlevels = frame_xlevels(mt, mf),
    contrasts = attr(X, "contrasts"), na.action = attr(mf, "na.action"),
    nAGQ = 1L, singular = fit$singular, optinfo = fit$optinfo,
    engine = engine_info("laplace_sparse")),
    class = c("glmmgee_glmm_ordinal_sparse", "glmmgee_glmm_ordinal", "glmmgee_glmm")))
  # the clusters' curvature at the estimates (cluster-curvature.R)
  if (!is.null(fit$cluster_curvature))
    obj$cluster_curvature <- c(fit$cluster_curvature, list(at = as.numeric(obj$theta)))
  obj
}
