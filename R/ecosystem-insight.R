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
#' }
#' @name glmmgee-insight
NULL

#' @rdname glmmgee-insight
#' @exportS3Method insight::find_formula
find_formula.glmmgee_glmm <- function(x, verbose = TRUE, ...) {
  f <- formula(x)
  cond <- reformulas::nobars(f)
  environment(cond) <- environment(f)
  bars <- reformulas::findbars(f)
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
  se_eta <- sqrt(pmax(rowSums((X %*% V) * X), 0))
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
#' @details `get_variance()` (the variance decomposition of Nakagawa et al.
#'   2017 that `performance::icc()` and `performance::r2()` use) is given for
#'   gaussian glmm fits: the variance of the fixed-effect predictions, the
#'   random-effect variance averaged over the observations (Johnson 2014,
#'   so random slopes count at the observed covariate values), and the
#'   residual variance. For other families the distribution-specific
#'   variance needs approximations that these fits do not provide: the
#'   result is `NULL` with a warning (so `performance::icc()` gives `NA`).
#' @exportS3Method insight::get_variance
get_variance.glmmgee_glmm <- function(x, component = "all", verbose = TRUE, ...) {
  # NULL with a warning, as insight's own default does for models it cannot
  # decompose: sjPlot's tables call this and carry on without the ICC.
  if (x$family$family != "gaussian" || x$family$link != "identity") {
    if (!isFALSE(verbose))
      warning("the variance decomposition (performance::icc(), r2()) is available for ",
              "gaussian glmm fits only; for ", x$family$family, "(", x$family$link,
              ") report VarCorr(fit) instead", call. = FALSE)
    return(NULL)
  }
  re <- re_structure(x, "get_variance")
  D <- re$Lambda %*% t(re$Lambda)
  Z <- as.matrix(re$Z)
  out <- list(var.fixed = stats::var(drop(x$X %*% fixef(x))),
              var.random = mean(rowSums((Z %*% D) * Z)),
              var.residual = sigma(x)^2, var.distribution = sigma(x)^2,
              var.dispersion = 0)
  vc <- VarCorr(x)
  icpt <- slope <- rho <- numeric()
  for (g in names(vc)) {
    Dg <- vc[[g]]
    nm <- rownames(Dg)
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
