# Methods for insight's generics, which performance, parameters, ggeffects,
# sjPlot and marginaleffects read models through. insight's defaults see a
# glmm as a model without random effects (the bars stay in the conditional
# formula, "herd" becomes a parameter) and find no parameters at all, which
# those packages turn into wrong or empty output; these methods say what the
# model is. Registered when insight is loaded.

#' insight support for glmm and gee fits
#'
#' Methods for the generics of the insight package, so that packages built
#' on it (parameters, performance, ggeffects, sjPlot, marginaleffects) see a
#' [glmm()] fit as a mixed model: fixed-effects formula and random-effect
#' terms apart, fixed effects as the parameters, z statistics, infinite
#' degrees of freedom for Wald inference. Registered when insight is loaded.
#'
#' @param x A fit from [glmm()] or [gee()].
#' @param effects Which parameters: `"fixed"`, `"random"` or (for
#'   `find_parameters()`) `"all"`.
#' @param flatten Return a character vector instead of a list?
#' @param type For `get_df()`: `"residual"` (observations minus
#'   parameters) or `"wald"`/`"normal"` (infinite: z tests).
#' @param verbose Ignored.
#' @param ... Ignored.
#' @return What the insight generics document.
#' @examples
#' if (requireNamespace("insight", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   insight::find_formula(fit)
#'   insight::is_mixed_model(fit)
#'   insight::get_parameters(fit)
#'   insight::get_variance(fit)
#'   if (requireNamespace("performance", quietly = TRUE)) {
#'     performance::icc(fit)
#'     performance::r2(fit)
#'     performance::model_performance(fit)
#'   }
#' }
#' @name glmmgee-insight
NULL

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_formula
find_formula.glmmgee_glmm <- function(x, verbose = TRUE, ...) {
  f <- formula(x)
  cond <- reformulas::nobars(f)
  environment(cond) <- environment(f)
  bars <- find_bars(f)
  random <- lapply(bars, function(b) stats::as.formula(call("~", b), env = environment(f)))
  if (length(random) == 1L) random <- random[[1L]]
  structure(list(conditional = cond, random = random), class = c("insight_formula", "list"))
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_formula
find_formula.glmmgee_gee <- function(x, verbose = TRUE, ...) {
  # insight reports a geeglm's cluster id as its "random" part (the
  # grouping, not random effects); the same here, so that code written for
  # geepack fits sees the same structure.
  out <- list(conditional = formula(x))
  id <- x$call$id
  if (is.name(id))
    out$random <- stats::as.formula(call("~", call("|", 1, id)), env = environment(formula(x)))
  structure(out, class = c("insight_formula", "list"))
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_parameters
find_parameters.glmmgee_glmm <- function(x, effects = c("all", "fixed", "random"),
                                         flatten = FALSE, ...) {
  effects <- match.arg(effects)
  re <- lapply(ranef(x, condVar = FALSE), names)
  out <- switch(effects,
                all = list(conditional = names(fixef(x)), random = re),
                fixed = list(conditional = names(fixef(x))),
                random = list(random = re))
  if (flatten) unique(unlist(out, use.names = FALSE)) else out
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_parameters
get_parameters.glmmgee_glmm <- function(x, effects = c("fixed", "random"), ...) {
  effects <- match.arg(effects)
  if (effects == "random") return(lapply(ranef(x, condVar = FALSE), as.data.frame))
  b <- fixef(x)
  data.frame(Parameter = names(b), Estimate = unname(b), stringsAsFactors = FALSE)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_statistic
get_statistic.glmmgee_glmm <- function(x, ...) {
  b <- fixef(x)
  data.frame(Parameter = names(b), Statistic = unname(b / sqrt(diag(vcov(x)))),
             stringsAsFactors = FALSE)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_statistic
get_statistic.glmmgee_gee <- function(x, ...) {
  b <- coef(x)
  data.frame(Parameter = names(b), Statistic = unname(b / sqrt(diag(vcov(x)))),
             stringsAsFactors = FALSE)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_statistic
find_statistic.glmmgee_glmm <- function(x, ...) "z-statistic"

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_statistic
find_statistic.glmmgee_gee <- function(x, ...) "z-statistic"

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_df
get_df.glmmgee_glmm <- function(x, type = "residual", ...) {
  if (identical(type, "residual")) nobs(x) - attr(logLik(x), "df") else Inf
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_df
get_df.glmmgee_gee <- function(x, type = "residual", ...) {
  if (identical(type, "residual")) nobs(x) - length(coef(x)) else Inf
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::model_info
model_info.glmmgee_glmm <- function(x, ...) {
  info <- NextMethod()
  info$is_mixed <- TRUE
  info
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::is_mixed_model
is_mixed_model.glmmgee_glmm <- function(x) TRUE

#' @rdname glmmgee-insight
#' @param data For `get_predicted()`: data frame to predict for; the data
#'   of the fit by default.
#' @param predict For `get_predicted()`: `"expectation"` (or `"response"`)
#'   for means, `"link"` for the linear predictor.
#' @param ci For `get_predicted()`: confidence level of the Wald intervals
#'   (on the link scale, transformed), or `NULL` for none.
#' @param include_random For `get_predicted()` on a glmm: include the
#'   predicted random effects? By default only for the data of the fit; for
#'   new data (a grid from ggeffects, say) the predictions are for a typical
#'   cluster (random effects zero), as glmmTMB's population-level ones.
#' @exportS3Method insight::get_predicted
get_predicted.glmmgee_glmm <- function(x, data = NULL, predict = "expectation", ci = 0.95,
                                       include_random = "default", ...) {
  refuse_ordinal(x, "insight::get_predicted()",
                 "predict(fit, type = \"response\") gives every category's probability")
  if (identical(include_random, "default")) include_random <- is.null(data)
  if (!is.logical(include_random) || length(include_random) != 1L || is.na(include_random))
    stop("'include_random' must be TRUE, FALSE or \"default\"", call. = FALSE)
  nd <- if (is.null(data)) fit_data(x) else as.data.frame(data)
  eta <- unname(predict(x, nd, re.form = if (include_random) NULL else NA))
  X <- design_at(x, nd)$X
  insight_prediction(x, eta, X, vcov(x), predict, ci, nd)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_predicted
get_predicted.glmmgee_gee <- function(x, data = NULL, predict = "expectation", ci = 0.95, ...) {
  nd <- if (is.null(data)) fit_data(x) else as.data.frame(data)
  eta <- unname(predict(x, nd))
  X <- design_at(x, nd)$X
  insight_prediction(x, eta, X, vcov(x), predict, ci, nd)
}

# insight's "get_predicted" object: the predictions with a `ci_data`
# attribute (SE on the returned scale by the delta method, Wald limits
# computed on the link scale and transformed).
insight_prediction <- function(x, eta, X, V, predict, ci, data) {
  predict <- predict %||% "expectation"
  if (!predict %in% c("expectation", "response", "link"))
    stop("'predict' must be \"expectation\", \"response\" or \"link\"", call. = FALSE)
  fam <- x$family
  link <- predict == "link"
  tr <- if (link) identity else fam$linkinv
  se_eta <- sqrt(pmax(delta_var(X, V, cov_star_of(x)), 0))
  out <- tr(eta)
  ci_data <- NULL
  if (!is.null(ci)) {
    check_level(ci, "ci")
    z <- stats::qnorm(1 - (1 - ci) / 2)
    lo <- tr(eta - z * se_eta)
    hi <- tr(eta + z * se_eta)
    ci_data <- data.frame(SE = if (link) se_eta else se_eta * abs(fam$mu.eta(eta)),
                          CI_low = pmin(lo, hi), CI_high = pmax(lo, hi))
  }
  structure(out, ci_data = ci_data, data = data, ci = ci, predict = predict,
            class = c("get_predicted", "numeric"))
}

#' @rdname glmmgee-insight
#' @param component For `get_variance()`: which component, as insight's
#'   generic (`"all"` by default).
#' @param approximation For `get_variance()` of poisson, [nbinom2()] and
#'   Gamma fits: how the distribution-specific variance is approximated,
#'   `"lognormal"` (the default, as in insight), `"trigamma"` or `"delta"`.
#' @details `get_variance()` (the variance decomposition of Nakagawa et al.
#'   2017 that `performance::icc()` and `performance::r2()` use) is computed
#'   by [variance_shares()] for every family: the variance of the
#'   fixed-effect predictions, the random-effect variance averaged over the
#'   observations (Johnson 2014, so random slopes count at the observed
#'   covariate values), and the distribution-specific variance (gaussian:
#'   \eqn{\sigma^2}; binomial on the latent scale: \eqn{\pi^2/3},
#'   1 or \eqn{\pi^2/6} by link; poisson, negative binomial and Gamma: the
#'   approximation chosen, with \eqn{\lambda} from the refitted null model).
#'   `var.distribution` is that variance; the variance of an
#'   observation-level random intercept (one level per observation, a model
#'   of overdispersion) is `var.dispersion`, not part of `var.random`;
#'   `var.residual` is their sum, as insight reports them for lme4 and
#'   glmmTMB fits. For a binomial response given as `cbind(successes,
#'   failures)` the latent scale is that of one trial (\eqn{\pi^2/3} for
#'   logit), as for the same data given as 0/1 rows; insight 1.7 divides it
#'   by the mean number of trials for such lme4 and glmmTMB fits, so their
#'   `icc()` and `r2()` differ from ours there.
#' @exportS3Method insight::get_variance
get_variance.glmmgee_glmm <- function(x, component = "all", verbose = TRUE,
                                      approximation = "lognormal", ...) {
  if (!is.character(approximation) || length(approximation) != 1L ||
      !approximation %in% c("lognormal", "trigamma", "delta"))
    stop("'approximation' must be \"lognormal\", \"trigamma\" or \"delta\"", call. = FALSE)
  v <- variance_estimates(x, approximation)
  k <- length(v)
  vt <- v[-c(1L, k)]
  # An observation-level random intercept models overdispersion: Nakagawa
  # et al. (2017) and insight count its variance in the residual
  # (additive dispersion), not among the random effects.
  # A term with a known covariance (the genetic term of an animal model,
  # one level per individual) or a structured one is not such an effect,
  # even with one level per observation.
  olre <- if (inherits(x, "glmmgee_glmm_sparse"))
    vapply(x$reterms, function(tm) identical(tm$cnames, "(Intercept)") &&
             NROW(tm$b) == nobs(x) && !isTRUE(tm$known_cov) && is.null(tm$struct), TRUE)
    else FALSE
  out <- list(var.fixed = unname(v[[1L]]), var.random = sum(vt[!olre]),
              var.residual = unname(v[[k]]) + sum(vt[olre]),
              var.distribution = unname(v[[k]]), var.dispersion = sum(vt[olre]))
  vc <- VarCorr(x)
  icpt <- slope <- rho <- numeric()
  for (g in names(vc)) {
    Dg <- vc[[g]]
    nm <- rownames(Dg)
    if (is.null(nm)) next
    if ("(Intercept)" %in% nm) icpt[g] <- Dg["(Intercept)", "(Intercept)"]
    for (s in setdiff(nm, "(Intercept)")) {
      slope[paste(g, s, sep = ".")] <- Dg[s, s]
      if ("(Intercept)" %in% nm && !g %in% names(rho))
        rho[g] <- attr(Dg, "correlation")["(Intercept)", s]
    }
  }
  if (length(icpt)) out$var.intercept <- icpt
  if (length(slope)) out$var.slope <- slope
  if (length(rho)) out$cor.slope_intercept <- rho
  if (identical(component, "all")) return(out)
  key <- paste0("var.", component)
  if (!key %in% names(out) && component %in% c("rho01", "rho00")) key <- "cor.slope_intercept"
  out[[key]]
}

#' @rdname glmmgee-insight
#' @param model For `model_performance()`: a fit from [glmm()].
#' @param metrics For `model_performance()`: `"all"`, `"common"` (AIC, BIC,
#'   R2, ICC, RMSE) or a subset of `"AIC"`, `"AICc"`, `"BIC"`, `"R2"`,
#'   `"ICC"`, `"RMSE"`, `"SIGMA"`, `"LOGLOSS"`, `"SCORE"`.
#' @param estimator For `model_performance()`: `"ML"`, the only one
#'   (glmm() fits have no REML criterion; performance's default for lme4
#'   fits is `"REML"`).
#' @details `performance::model_performance()` gives, as for lme4 and
#'   glmmTMB fits, the information criteria of the (maximum-likelihood) fit,
#'   Nakagawa's R2 and the adjusted ICC from `get_variance()`, the RMSE, the
#'   residual standard deviation and, for binomial and count models, the
#'   log-loss and proper scoring rules. performance does not dispatch to its
#'   mixed-model code for classes it does not know, hence this method.
#' @exportS3Method performance::model_performance
model_performance.glmmgee_glmm <- function(model, metrics = "all", estimator = "ML",
                                          verbose = TRUE, ...) {
  if (!identical(estimator, "ML"))
    stop("'estimator' must be \"ML\": glmm() fits by maximum likelihood (no REML)",
         call. = FALSE)
  all_metrics <- c("AIC", "AICC", "BIC", "R2", "ICC", "RMSE", "SIGMA", "LOGLOSS", "SCORE")
  m <- toupper(metrics)
  m[m == "LOG_LOSS"] <- "LOGLOSS"
  if (identical(m, "ALL")) m <- all_metrics
  if (identical(m, "COMMON")) m <- c("AIC", "BIC", "R2", "ICC", "RMSE")
  bad <- setdiff(m, all_metrics)
  if (length(bad))
    stop(sprintf("'metrics' must be \"all\", \"common\" or among %s; not %s",
                 paste(all_metrics, collapse = ", "), paste(bad, collapse = ", ")), call. = FALSE)
  fam <- model$family$family
  two_part <- !is.null(model$aux$kind) && !identical(model$aux$kind, "disp")
  if (two_part && any(c("R2", "ICC") %in% m)) {
    # variance_shares() refuses these (two linear predictors): no R2 or
    # ICC rather than numbers for the count part alone.
    if (verbose)
      message("model_performance(): no R2 or ICC for a zero-inflated or hurdle fit (two linear predictors; see variance_shares())")
    m <- setdiff(m, c("R2", "ICC"))
  }
  out <- list()
  ll <- logLik(model)
  k <- attr(ll, "df")
  n <- nobs(model)
  if ("AIC" %in% m) out$AIC <- stats::AIC(model)
  if ("AICC" %in% m) out$AICc <- stats::AIC(model) + 2 * k * (k + 1) / (n - k - 1)
  if ("BIC" %in% m) out$BIC <- stats::BIC(model)
  if ("R2" %in% m) out <- c(out, r2.glmmgee_glmm(model))
  if ("ICC" %in% m) out$ICC <- performance::icc(model)$ICC_adjusted
  # An ordinal response has no residuals (get_predicted() refuses it).
  if ("RMSE" %in% m && !inherits(model, "glmmgee_glmm_ordinal")) out$RMSE <- performance::performance_rmse(model, verbose = verbose)
  # (NA where a dispersion formula makes sigma differ by row)
  if ("SIGMA" %in% m) out$Sigma <- if (fam %in% c("binomial", "poisson")) 1
    else if (!is.null(model$aux$disp$X) || !is.null(model$aux$disp$re)) NA_real_
    else sigma(model)
  if ("LOGLOSS" %in% m && fam == "binomial")
    out$Log_loss <- performance::performance_logloss(model, verbose = verbose)
  if ("SCORE" %in% m && fam %in% c("binomial", "poisson", "nbinom2")) {
    sc <- performance::performance_score(model, verbose = verbose)
    if (!is.na(sc$logarithmic)) out$Score_log <- sc$logarithmic
    if (!is.na(sc$spherical)) out$Score_spherical <- sc$spherical
  }
  out <- as.data.frame(out)
  rownames(out) <- NULL
  class(out) <- c("performance_model", class(out))
  out
}

# Cumulative link mixed models (glmm() with cumulative()): the thresholds
# beside the coefficients, and the variance decomposition of
# variance_shares() on the latent scale (performance's icc() and r2() read
# it through get_variance()).

#' @rdname glmmgee-insight
#' @details For cumulative link mixed models ([glmm()] with [cumulative()])
#'   `get_variance()` is the decomposition on the latent scale (see
#'   [variance_shares()]): `var.fixed` the variance of \eqn{x'\beta} (the
#'   thresholds enter none), `var.random` the random-effect variance,
#'   `var.distribution` = `var.residual` the variance of the latent
#'   distribution (\eqn{\pi^2/3} logit, 1 probit, \eqn{\pi^2/6} cloglog), as
#'   for a binomial model with the same link. `get_parameters()` gives the
#'   thresholds (`Component = "intercept"`) and the coefficients
#'   (`"location"`) under their own names, as insight does for
#'   `ordinal::clmm()` fits.
#' @exportS3Method insight::get_variance
get_variance.glmmgee_glmm_ordinal <- function(x, component = "all", verbose = TRUE, ...) {
  v <- cumulative_variance_estimates(x)
  k <- length(v)
  out <- list(var.fixed = unname(v[[1L]]), var.random = sum(v[-c(1L, k)]),
              var.residual = unname(v[[k]]), var.distribution = unname(v[[k]]),
              var.dispersion = 0)
  icpt <- if (inherits(x, "glmmgee_glmm_ordinal_re")) {
    if ("(Intercept)" %in% rownames(x$re_cov))
      stats::setNames(x$re_cov["(Intercept)", "(Intercept)"], x$group_name)
  } else {
    stats::setNames(v[-c(1L, k)], names(v)[-c(1L, k)])
  }
  if (length(icpt)) out$var.intercept <- icpt
  if (identical(component, "all")) return(out)
  out[[paste0("var.", component)]]
}

# (fits saved before the class inherited glmmgee_glmm: icc() saw no random
# effects without it)
#' @rdname glmmgee-insight
#' @exportS3Method insight::is_mixed_model
is_mixed_model.glmmgee_glmm_ordinal <- function(x) TRUE

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_parameters
get_parameters.glmmgee_glmm_ordinal <- function(x, effects = c("fixed", "random"), ...) {
  effects <- match.arg(effects)
  if (effects == "random") return(lapply(ranef(x), as.data.frame))
  cumulative_parameter_frame(x)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_parameters
get_parameters.glmmgee_gee_ordinal <- function(x, ...) cumulative_parameter_frame(x)

cumulative_parameter_frame <- function(x) {
  th <- x$thresholds
  b <- x$coefficients
  data.frame(Parameter = c(names(th), names(b)), Estimate = unname(c(th, b)),
             Component = rep(c("intercept", "location"), c(length(th), length(b))),
             stringsAsFactors = FALSE)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_statistic
get_statistic.glmmgee_glmm_ordinal <- function(x, ...) {
  p <- cumulative_parameter_frame(x)
  se <- sqrt(diag(vcov(x)))[seq_len(nrow(p))]
  data.frame(Parameter = p$Parameter, Statistic = p$Estimate / unname(se),
             stringsAsFactors = FALSE)
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_statistic
get_statistic.glmmgee_gee_ordinal <- get_statistic.glmmgee_glmm_ordinal

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_parameters
find_parameters.glmmgee_glmm_ordinal <- function(x, effects = c("all", "fixed", "random"),
                                                 flatten = FALSE, ...) {
  effects <- match.arg(effects)
  fx <- list(intercept = names(x$thresholds), location = names(x$coefficients))
  re <- lapply(ranef(x), names)
  out <- switch(effects, all = c(fx, list(random = re)), fixed = fx, random = list(random = re))
  if (flatten) unique(unlist(out, use.names = FALSE)) else out
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_parameters
find_parameters.glmmgee_gee_ordinal <- function(x, flatten = FALSE, ...) {
  out <- list(intercept = names(x$thresholds), location = names(x$coefficients))
  if (flatten) unlist(out, use.names = FALSE) else out
}

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_statistic
find_statistic.glmmgee_gee_ordinal <- function(x, ...) "z-statistic"

#' @rdname glmmgee-insight
#' @exportS3Method insight::get_df
get_df.glmmgee_gee_ordinal <- function(x, type = "residual", ...) {
  if (identical(type, "residual")) nobs(x) - length(coef(x)) else Inf
}
