# broom's tidy(), glance() and augment() for glmm and gee fits, so that
# tables built on them (modelsummary, texreg, gtsummary) work. The column
# names and effect labels are broom.mixed's for GLMMs and broom's geeglm
# ones for GEE, so code written for lme4/glmmTMB/geepack fits runs unchanged.

#' @importFrom generics tidy glance augment
#' @export
generics::tidy
#' @export
generics::glance
#' @export
generics::augment

#' Tidy summaries of glmm and gee fits (broom)
#'
#' `tidy()` gives one row per parameter, `glance()` one row per model and
#' `augment()` one row per observation, following broom.mixed's conventions
#' for GLMMs and broom's for `geeglm`.
#'
#' For a [glmm()] fit, `effects` chooses the rows: `"fixed"` (the
#' conditional fixed effects with Wald z statistics), `"ran_pars"` (the
#' random-effect standard deviations `sd__term` and correlations
#' `cor__term1.term2` by grouping factor, and the residual standard deviation
#' `sd__Observation` of a gaussian model) and `"ran_vals"` (the predicted
#' random effects, posterior modes, with their conditional standard
#' deviations; columns `group` (the grouping factor), `level`, `term`).
#' Standard errors of the variance parameters are delta-method standard
#' errors from the inverse observed information of all parameters; their
#' intervals are Wald intervals on the log scale for standard deviations and
#' on the Fisher-z scale for correlations, so they stay in range (a standard
#' deviation estimated at zero gets none).
#'
#' For a [gee()] fit, as broom does for `geepack::geeglm`, `statistic` is
#' the Wald chi-square on one degree of freedom (the square of the z
#' statistic), and the standard errors are those of `std.err` (by default the
#' fit's own).
#'
#' With `exponentiate = TRUE` the fixed effects, their limits and their
#' standard errors (delta method, `estimate * std.error`) are on the
#' exponentiated scale: odds ratios for logit links, rate ratios for log links.
#'
#' @param x A fit from [glmm()] or [gee()].
#' @param effects For a glmm: any of `"fixed"`, `"ran_pars"`, `"ran_vals"`.
#' @param conf.int Add Wald confidence limits `conf.low`, `conf.high`?
#' @param conf.level Confidence level.
#' @param exponentiate Exponentiate the fixed effects?
#' @param conf.method,scales broom.mixed's arguments, at the values `tidy()`
#'   reports: `"Wald"` limits, and `"sdcor"` (standard deviations and
#'   correlations) for the random effects; other values are an error
#'   ([confint()] gives profile and bootstrap intervals, [VarCorr()] the
#'   variances).
#' @param std.err For a gee: the variance estimator (see [gee()]); also given as
#'   `type`, the name [vcov()] and [summary()] use.
#' @param data For `augment()`: the data to add columns to; by default the
#'   model frame.
#' @param newdata For `augment()`: new data to predict for (no residuals).
#' @param type.predict For `augment()`: `"link"` or `"response"`.
#' @param type.residuals For `augment()`: the residual type, as
#'   `residuals()`; zero-inflated, hurdle and dispersion-formula fits take
#'   `"response"` (their default) or `"pearson"`.
#' @param ... For a gee, `type` (see `std.err`). Other arguments are
#'   ignored: packages that build tables on `tidy()` pass their own.
#' @return A data frame. `tidy()`: columns `effect`, `group`, `term`,
#'   `estimate`, `std.error`, `statistic`, `p.value` (and `conf.low`,
#'   `conf.high`; for `ran_vals` also `level`); for a gee `term`, `estimate`,
#'   `std.error`, `statistic`, `p.value`. `glance()` for a glmm: `nobs`,
#'   `sigma`, `logLik`, `AIC`, `BIC`, `deviance` (when defined),
#'   `df.residual`; for a gee: `df.residual`, `n.clusters`,
#'   `max.cluster.size`, `alpha` (a single correlation parameter, else `NA`),
#'   `gamma` (the scale), `nobs`. `augment()`: `data` with `.fitted`,
#'   `.resid` and, for a glmm, `.fixed` (the linear predictor with the random
#'   effects at zero) and `.mu` (the conditional mean).
#' @seealso [odds_ratios()] and [marginal_coefs()] for population-averaged
#'   effects of a glmm, which `tidy()` does not report.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   tidy(fit, conf.int = TRUE)
#'   tidy(fit, effects = "fixed", exponentiate = TRUE, conf.int = TRUE)
#'   head(tidy(fit, effects = "ran_vals"))
#'   glance(fit)
#'   head(augment(fit, type.predict = "response"))
#' }
#' @name glmmgee-broom
NULL

#' @rdname glmmgee-broom
#' @method tidy glmmgee_glmm
#' @export
tidy.glmmgee_glmm <- function(x, effects = c("ran_pars", "fixed"), conf.int = FALSE,
                              conf.level = 0.95, exponentiate = FALSE, conf.method = "Wald",
                              scales = NULL, ...) {
  check_tidy_scales(conf.method, scales)
  effects <- check_effects(effects)
  check_flag(conf.int, "conf.int")
  check_flag(exponentiate, "exponentiate")
  check_level(conf.level)
  z <- stats::qnorm(1 - (1 - conf.level) / 2)
  out <- list()
  if ("fixed" %in% effects) {
    tab <- coef_table(fixef(x), vcov(x))
    fx <- data.frame(effect = "fixed", group = NA_character_, tab, stringsAsFactors = FALSE)
    if (conf.int) fx <- wald_limits(fx, z)
    if (exponentiate) fx <- exponentiate_rows(fx)
    out$fixed <- fx
  }
  if ("ran_pars" %in% effects) out$ran_pars <- tidy_ran_pars(x, conf.int, z)
  if ("ran_vals" %in% effects) out$ran_vals <- ran_vals_table(ranef(x, condVar = TRUE), z, conf.int)
  bind_tidy(out)
}

# tidy()'s ran_vals rows from a ranef() result `re`: each effect's mode and
# conditional standard deviation by grouping factor and level.
ran_vals_table <- function(re, z, conf.int) {
  rv <- as.data.frame(re)
  rv <- data.frame(effect = "ran_vals", group = as.character(rv$grpvar),
                   level = as.character(rv$grp), term = as.character(rv$term),
                   estimate = rv$condval, std.error = rv$condsd, stringsAsFactors = FALSE)
  if (conf.int) rv <- wald_limits(rv, z)
  rv
}

#' @rdname glmmgee-broom
#' @method tidy glmmgee_gee
#' @export
tidy.glmmgee_gee <- function(x, conf.int = FALSE, conf.level = 0.95, exponentiate = FALSE,
                             std.err = x$std.err, ...) {
  # `type`, as vcov(), summary(), confint() and anova() name the variance
  # (it fell into `...` and the default was used)
  type <- list(...)$type
  if (!is.null(type)) {
    if (!missing(std.err)) stop("give 'type' or 'std.err', not both", call. = FALSE)
    std.err <- type
  }
  check_flag(conf.int, "conf.int")
  check_flag(exponentiate, "exponentiate")
  check_level(conf.level)
  out <- coef_table(coef(x), vcov(x, type = std.err))
  out$statistic <- out$statistic^2
  if (conf.int) out <- wald_limits(out, stats::qnorm(1 - (1 - conf.level) / 2))
  if (exponentiate) out <- exponentiate_rows(out)
  rownames(out) <- NULL
  out
}

#' @rdname glmmgee-broom
#' @method glance glmmgee_glmm
#' @export
glance.glmmgee_glmm <- function(x, ...) {
  ll <- logLik(x)
  dev <- tryCatch(stats::deviance(x), error = function(e) NULL)
  dfr <- tryCatch(stats::df.residual(x), error = function(e) NULL)
  # A dispersion formula has no one sigma (sigma() stops): NA, as the
  # fit's other missing summaries.
  sg <- tryCatch(sigma(x), error = function(e) NA_real_)
  out <- data.frame(nobs = nobs(x), sigma = sg, logLik = as.numeric(ll),
                    AIC = stats::AIC(ll), BIC = stats::BIC(ll))
  if (is.numeric(dev) && length(dev) == 1L) out$deviance <- dev
  out$df.residual <- if (is.numeric(dfr) && length(dfr) == 1L) dfr
                     else nobs(x) - attr(ll, "df")
  out
}

#' @rdname glmmgee-broom
#' @method glance glmmgee_gee
#' @export
glance.glmmgee_gee <- function(x, ...) {
  a <- x$alpha
  data.frame(df.residual = x$nobs - length(x$coefficients), n.clusters = x$nclusters,
             max.cluster.size = max(x$cluster.sizes),
             alpha = if (length(a) == 1L) unname(a) else NA_real_,
             gamma = x$scale, nobs = x$nobs)
}

#' @rdname glmmgee-broom
#' @method augment glmmgee_glmm
#' @export
augment.glmmgee_glmm <- function(x, data = NULL, newdata = NULL,
                                 type.predict = c("link", "response"),
                                 type.residuals = c("deviance", "pearson", "response", "working"),
                                 ...) {
  refuse_ordinal(x, "broom::augment()", paste("predict(fit, type = \"response\") gives every category's",
                                              "probability and fitted(fit) the observed category's"))
  type.predict <- match.arg(type.predict)
  # Zero-inflated, hurdle and dispersion-formula fits have response and
  # Pearson residuals only: their default is residuals()'s own
  # ("response"); the deviance default stopped augment() on every such fit.
  zi <- inherits(x, "glmmgee_glmm_zi")
  type.residuals <- if (zi && missing(type.residuals)) "response" else match.arg(type.residuals)
  if (zi && !type.residuals %in% c("response", "pearson"))
    stop(sprintf(paste0("'type.residuals': zero-inflated, hurdle and dispersion-formula fits have ",
                        "\"response\" and \"pearson\" residuals, not \"%s\""), type.residuals),
         call. = FALSE)
  # .fixed is X beta + offset, on the link scale whatever predict()'s
  # default type (a two-part fit's is "response").
  if (!is.null(newdata)) {
    out <- as.data.frame(newdata)
    out$.fitted <- unname(predict(x, newdata, type = type.predict))
    out$.fixed <- unname(predict(x, newdata, re.form = NA, type = "link"))
    return(out)
  }
  out <- augment_base(x, data)
  out$.fitted <- unname(predict(x, type = type.predict))
  out$.resid <- unname(residuals(x, type = type.residuals))
  out$.fixed <- unname(predict(x, re.form = NA, type = "link"))
  out$.mu <- unname(fitted(x))
  out
}

#' @rdname glmmgee-broom
#' @method augment glmmgee_gee
#' @export
augment.glmmgee_gee <- function(x, data = NULL, newdata = NULL,
                                type.predict = c("link", "response"),
                                type.residuals = c("pearson", "response", "working"), ...) {
  type.predict <- match.arg(type.predict)
  type.residuals <- match.arg(type.residuals)
  if (!is.null(newdata)) {
    out <- as.data.frame(newdata)
    out$.fitted <- unname(predict(x, newdata, type = type.predict))
    return(out)
  }
  out <- augment_base(x, data)
  out$.fitted <- unname(predict(x, type = type.predict))
  out$.resid <- unname(residuals(x, type = type.residuals))
  out
}

# ---- helpers ------------------------------------------------------------------

# broom.mixed's `conf.method` and `scales`, which tidy() of a glmm takes
# at the values it reports only: Wald limits, and the random effects'
# standard deviations and correlations (they were swallowed by `...`).
check_tidy_scales <- function(conf.method, scales) {
  if (!identical(conf.method, "Wald"))
    stop(sprintf(paste0("'conf.method' = %s: tidy() gives Wald limits (\"Wald\"); ",
                        "confint(fit, method = ) gives the fit's other intervals"),
                 paste(deparse(conf.method), collapse = "")), call. = FALSE)
  if (!is.null(scales) && !(is.character(scales) && all(scales == "sdcor")))
    stop(paste0("'scales': tidy() reports the random effects' standard deviations and ",
                "correlations (\"sdcor\"); VarCorr() gives their variances and covariances"),
         call. = FALSE)
  invisible(NULL)
}

check_effects <- function(effects) {
  ok <- c("fixed", "ran_pars", "ran_vals")
  if (!is.character(effects) || !length(effects) || !all(effects %in% ok))
    stop(sprintf("'effects' must be one or more of %s", paste(sprintf("\"%s\"", ok), collapse = ", ")),
         call. = FALSE)
  effects
}

coef_table <- function(beta, V) {
  se <- sqrt(pmax(diag(V), 0))
  data.frame(term = names(beta), estimate = unname(beta), std.error = unname(se),
             statistic = unname(beta / se), p.value = unname(2 * stats::pnorm(-abs(beta / se))),
             stringsAsFactors = FALSE)
}

wald_limits <- function(d, z) {
  d$conf.low <- d$estimate - z * d$std.error
  d$conf.high <- d$estimate + z * d$std.error
  d
}

exponentiate_rows <- function(d) {
  d$estimate <- exp(d$estimate)
  d$std.error <- d$std.error * d$estimate
  for (v in intersect(c("conf.low", "conf.high"), names(d))) d[[v]] <- exp(d[[v]])
  d
}

# Row-binds the parts, filling the columns one part lacks with NA, in
# broom.mixed's column order.
bind_tidy <- function(parts) {
  cols <- c("effect", "group", "level", "term", "estimate", "std.error", "statistic",
            "p.value", "conf.low", "conf.high")
  have <- unique(unlist(lapply(parts, names)))
  cols <- cols[cols %in% have]
  parts <- lapply(parts, function(d) {
    for (v in setdiff(cols, names(d))) d[[v]] <- if (v %in% c("group", "level")) NA_character_ else NA_real_
    d[cols]
  })
  out <- do.call(rbind, unname(parts))
  rownames(out) <- NULL
  out
}

# The rows of the data the model was fitted to (the model frame when the
# data cannot be found again), as augment()'s base.
augment_base <- function(x, data) {
  if (!is.null(data)) {
    data <- as.data.frame(data)
    if (nrow(data) != nobs(x) && nrow(data) != length(residuals(x)))
      stop(sprintf("'data' has %d rows; the fit has %d observations", nrow(data), nobs(x)),
           call. = FALSE)
    return(data)
  }
  d <- tryCatch(fit_data(x), error = function(e) NULL)
  if (is.null(d)) d <- as.data.frame(x$model)
  if (!is.null(x$na.action) && inherits(x$na.action, "exclude")) {
    full <- d[rep(NA_integer_, nobs(x) + length(x$na.action)), , drop = FALSE]
    full[-as.integer(x$na.action), ] <- d
    d <- full
  }
  d
}

#' @rdname glmmgee-broom
#' @details For a zero-inflated, hurdle or dispersion-formula fit
#'   ([glmm-zero-inflation]) `tidy()` adds broom.mixed's column `component`
#'   as for glmmTMB fits: `"cond"` (the conditional part), `"zi"` (the zero
#'   part's coefficients, and its random-effect standard deviations and
#'   predicted random effects when the zero part has random effects) and
#'   `"disp"` (a dispersion formula's, likewise); `group` then names the
#'   grouping factor without the `zi~` or `disp~` prefix of [VarCorr()].
#' @method tidy glmmgee_glmm_zi
#' @export
tidy.glmmgee_glmm_zi <- function(x, effects = c("ran_pars", "fixed"), conf.int = FALSE,
                                 conf.level = 0.95, exponentiate = FALSE, conf.method = "Wald",
                                 scales = NULL, ...) {
  out <- tidy.glmmgee_glmm(x, effects = effects, conf.int = conf.int, conf.level = conf.level,
                           exponentiate = exponentiate, conf.method = conf.method, scales = scales)
  effects <- check_effects(effects)
  # The zero part's ("zi~") and a dispersion formula's ("disp~") random
  # effects are components of their own.
  out$component <- rep("cond", nrow(out))
  for (cmp in c("zi", "disp")) {
    mark <- paste0(cmp, "~")
    hit <- !is.na(out$group) & startsWith(out$group, mark) |
      grepl(paste0("^(sd|cor)__", mark), out$term)
    out$component[hit] <- cmp
    out$group <- sub(paste0("^", mark), "", out$group)
    out$term <- sub(paste0("^(sd|cor)__", mark), "\\1__", out$term)
  }
  z <- stats::qnorm(1 - (1 - conf.level) / 2)
  # Each part's predicted random effects, under its component (ranef()
  # without `component` gives the zero or dispersion part's where the
  # conditional part has none; they were all labelled "cond", and the other
  # parts' were left out).
  rvs <- list()
  if ("ran_vals" %in% effects) {
    out <- out[out$effect != "ran_vals", , drop = FALSE]
    other <- c(if (!is.null(x$aux$zi$re)) "zi", if (!is.null(x$aux$disp$re)) "disp")
    for (cmp in c("cond", other)) {
      re <- if (length(other)) ranef(x, condVar = TRUE, component = cmp)
            else ranef(x, condVar = TRUE)
      if (!length(re)) next
      rv <- ran_vals_table(re, z, conf.int)
      rv$component <- rep(cmp, nrow(rv))
      rvs[[cmp]] <- rv
    }
  }
  parts <- c(list(out), unname(rvs))
  if ("fixed" %in% effects) {
    for (cmp in c("zi", "disp")) {
      idx <- x$aux[[paste0(cmp, "_index")]]
      if (!length(idx)) next
      beta <- stats::setNames(x$theta[idx], sub("^(zi|disp)~", "", names(x$theta)[idx]))
      fx <- data.frame(effect = "fixed", component = cmp, group = NA_character_,
                       coef_table(beta, x$cov_theta[idx, idx, drop = FALSE]),
                       stringsAsFactors = FALSE)
      if (conf.int) fx <- wald_limits(fx, z)
      if (exponentiate) fx <- exponentiate_rows(fx)
      parts[[length(parts) + 1L]] <- fx
    }
  }
  cols <- c("effect", "component",
            setdiff(unique(unlist(lapply(parts, names))), c("effect", "component")))
  out <- do.call(rbind, lapply(parts, function(d) {
    for (v in setdiff(cols, names(d))) d[[v]] <- NA
    d[cols]
  }))
  # broom.mixed's order: fixed rows of each part, then the variance rows.
  ord <- order(match(out$effect, c("fixed", "ran_pars", "ran_vals")),
               match(out$component, c("cond", "zi", "disp")))
  out <- out[ord, , drop = FALSE]
  rownames(out) <- NULL
  out
}
