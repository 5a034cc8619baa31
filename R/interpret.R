# Exponentiated coefficients: odds ratios (logit link) and rate ratios (log
# link), with Wald intervals, from glmm, gee or marginal_coefs objects.

#' Odds ratios and rate ratios with confidence intervals
#'
#' Exponentiated coefficients with Wald intervals, \eqn{\exp(\hat\beta \pm
#' z_{1-\alpha/2} SE)}, and Wald p-values for \eqn{\beta = 0} (ratio 1).
#' `odds_ratios()` needs a binomial fit with the logit link; `rate_ratios()`
#' a fit with the log link (for a poisson fit, ratios of rates; for other
#' families, ratios of means).
#'
#' What the ratios mean depends on the fit, and the printout says so:
#' * from [glmm()]: **conditional (subject-specific)** ratios, comparing two
#'   observations in the same cluster (the same random effect); standard
#'   errors from the inverse observed information.
#' * from [gee()]: **marginal (population-averaged)** ratios, comparing the
#'   population of clusters; standard errors from the fit's variance
#'   estimator (`std.err`, by default the robust sandwich).
#' * from [marginal_coefs()]: the marginal ratios implied by a GLMM;
#'   standard errors by the delta method.
#'
#' @param fit A fit from [glmm()] or [gee()], or the result of
#'   [marginal_coefs()].
#' @param level Confidence level.
#' @param parm Coefficients (names or indices); by default all but the
#'   intercept (whose exponential is a baseline odds or rate, not a ratio).
#' @param delta The step of each covariate the ratio compares, in the
#'   covariate's units: one number for every term in `parm` whose column
#'   is not 0/1, or a vector named by coefficients (the others keep 1). A
#'   0/1 column (a factor's level, a logical) is compared at 1 versus 0 and
#'   takes no step: one number leaves it at 1, naming it is an error. The default 1 is the ratio
#'   per one-unit increase, \eqn{\exp(\beta)}; `delta = c(x = 1e-6)` gives
#'   \eqn{\exp(10^{-6}\beta)}, the ratio per 1e-6 of x, with `std.error` that
#'   of \eqn{\delta\beta}. For a covariate in small units, whose ratio per
#'   unit overflows (and prints `Inf`), this reads the ratio on a step that
#'   matters. For population-averaged cumulative odds ratios
#'   (`type = "marginal"`, [ordinal-glmm]) the covariate's column is
#'   increased by `delta` (a 0/1 column is compared at 1 versus 0 and takes
#'   no step); since these are not of proportional-odds form, the ratio at a
#'   step delta is not the per-unit ratio to the power delta.
#' @param vcov For a [glmm()] fit: the covariance of the fixed effects
#'   behind the standard errors, intervals and p-values (on the log scale):
#'   `NULL` or `"model"` (the default, the inverse observed information), a
#'   cluster-robust type `"CR0"`, `"CR1"`, `"CR2"` or `"CR3"` (as
#'   `vcov(fit, type = )`, see [vcov.glmmgee_glmm()], where the fit's engine
#'   provides them) or a p x p covariance matrix of the fixed effects (row
#'   and column names, if any, the fixed effects'). A cluster-robust type
#'   takes t quantiles with its Satterthwaite degrees of freedom. The
#'   printout names the covariance used. For [gee()] fits (whose standard errors `gee(std.err
#'   = )` chooses) and [marginal_coefs()] results an error; for cumulative
#'   link mixed models' population-averaged ratios (`type = "marginal"`)
#'   only `"model"`.
#' @param cluster With a cluster-robust `vcov`: the clusters, as
#'   `vcov(fit, type = , cluster = )` takes them (`NULL`, the grouping
#'   factor that nests the random effects, a one-sided formula or a vector
#'   with one value per observation).
#' @param x A `glmmgee_ratios` object.
#' @param digits Number of significant digits to print.
#' @param ... For a cumulative link mixed model ([ordinal-glmm]): `type =
#'   "conditional"` (the default; \eqn{\exp\beta}, the same at every
#'   threshold) or `"marginal"` (population-averaged, one per threshold, with
#'   a column `threshold`), and `nAGQ` for the integral (30). Otherwise
#'   ignored.
#' @return A data frame of class `glmmgee_ratios` with columns `term`,
#'   `estimate` (the ratio), `std.error` (of the log ratio: the coefficient
#'   times `delta`), `conf.low`, `conf.high` and `p.value`; attributes
#'   `measure`, `view` (`"conditional"` or `"marginal"`), `level` and
#'   `delta` (the step per term).
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial)
#'   odds_ratios(fit)                       # conditional
#'   odds_ratios(fit, vcov = "CR2")         # cluster-robust intervals
#'   pa <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID,
#'             family = binomial, corstr = "exchangeable")
#'   odds_ratios(pa)                        # population-averaged
#'   data(epil, package = "MASS")
#'   rate_ratios(glmm(y ~ trt + lbase + (1 | subject), data = epil,
#'                    family = poisson))
#' }
#' @export
odds_ratios <- function(fit, level = 0.95, parm = NULL, ..., delta = 1, vcov = NULL,
                        cluster = NULL) {
  if (inherits(fit, "glmmgee_glmm_ordinal")) {
    # population-averaged: the delta method over all parameters, so a
    # cluster-robust type (not a matrix of the coefficients alone)
    tp <- list(...)$type
    if (is.character(tp) && length(tp) == 1L && !is.na(pmatch(tp, "marginal"))) {
      robust <- ordinal_parameter_choice(fit, vcov, cluster, "odds_ratios(type = \"marginal\")")
      return(ordinal_odds_ratios(fit, level, parm, ..., delta = delta, robust = robust))
    }
    V <- fixef_vcov_choice(fit, vcov, cluster, "odds_ratios()")
    return(ordinal_odds_ratios(fit, level, parm, ..., delta = delta, vcov = V))
  }
  check_dots(..., .method = "odds_ratios")
  if (inherits(fit, "glmmgee_gee_ordinal")) {
    vcov_glmm_only(fit, vcov, cluster, "odds_ratios")
    return(ordinal_gee_odds_ratios(fit, level, parm, delta = delta))
  }
  est <- estimates_of(fit, "odds_ratios", vcov, cluster)
  fam <- est$family
  if (fam$family != "binomial")
    stop(sprintf("'fit': odds ratios need a binary outcome (binomial family); this fit is %s(%s)%s",
                 fam$family, fam$link,
                 if (fam$link == "log") "; use rate_ratios()" else ""), call. = FALSE)
  if (fam$link != "logit")
    stop(sprintf("'fit': odds ratios need the logit link; with the %s link exp(coefficient) is not an odds ratio",
                 fam$link), call. = FALSE)
  ratio_table(est, level, parm, "odds ratio", delta)
}

#' @rdname odds_ratios
#' @export
rate_ratios <- function(fit, level = 0.95, parm = NULL, delta = 1, vcov = NULL, cluster = NULL) {
  est <- estimates_of(fit, "rate_ratios", vcov, cluster)
  fam <- est$family
  if (fam$link != "log")
    stop(sprintf("'fit': rate ratios need the log link; with the %s link exp(coefficient) is not a ratio of means%s",
                 fam$link, if (fam$link == "logit") " (use odds_ratios())" else ""),
         call. = FALSE)
  measure <- if (fam$family == "poisson" || grepl("^Negative Binomial|^nbinom", fam$family))
    "rate ratio" else if (fam$family == "binomial") "risk ratio" else "ratio of means"
  ratio_table(est, level, parm, measure, delta)
}

# Coefficients, covariance, family and view of anything the ratio functions
# accept; for glmm() fits the covariance that `vcov` and `cluster` choose
# (fixef_vcov_choice()).
estimates_of <- function(fit, caller, vcov = NULL, cluster = NULL) {
  vcov_glmm_only(fit, vcov, cluster, caller)
  if (inherits(fit, "glmmgee_marginal_coefs")) {
    if (is.null(fit$vcov))
      stop(sprintf("'fit': %s() needs marginal_coefs(std_errors = TRUE)", caller), call. = FALSE)
    return(list(coef = fit$coefficients, vcov = structure(fit$vcov, df = fit$df),
                family = fit$family, view = "marginal",
                source = paste0("implied by a GLMM (marginal_coefs)",
                                if (!is.null(fit$df)) "; cluster-robust standard errors")))
  }
  check_fit(fit, sprintf("%s() reads its coefficients", caller))
  if (is_glmm(fit)) {
    V <- fixef_vcov_choice(fit, vcov, cluster, sprintf("%s()", caller))
    list(coef = fit$coefficients, vcov = V %||% fit$vcov, family = fit$family,
         view = "conditional",
         source = if (is.null(V)) "GLMM" else paste0("GLMM; standard errors: ", attr(V, "label")),
         separation = fit$separation, penalized = !is.null(.subset2(fit, "penalty")),
         binary = binary_columns(fit), far = far_zero_partners(fit))
  } else
    list(coef = fit$coefficients, vcov = gee_vcov_quiet(fit), family = fit$family,
         view = "marginal", source = sprintf("GEE, %s standard errors", se_label(fit$std.err)),
         separation = fit$separation, binary = binary_columns(fit), far = far_zero_partners(fit))
}

# `vcov` and `cluster` of odds_ratios() and rate_ratios() choose among the
# covariances of a glmm() fit: for other objects an error naming them.
vcov_glmm_only <- function(fit, vcov, cluster, caller) {
  if ((is.null(vcov) && is.null(cluster)) || (is_glmm(fit) && !inherits(fit, "glmmgee_marginal_coefs")))
    return(invisible())
  stop(sprintf(paste0("%s(): 'vcov' and 'cluster' are for glmm() fits; a gee() fit's standard errors are ",
                      "chosen by gee(std.err = ), a marginal_coefs() result's by the delta method"), caller),
       call. = FALSE)
}

# Per coefficient, the covariates it interacts with whose observed values
# lie far from zero (zero further from the data than their range is wide):
# the coefficient compares at that covariate's zero, an extrapolation (a
# factor's main effect in y ~ f * x with x = Days * 1e-6 - 5). A named list
# of c(covariate, min, max) character vectors; empty without a model matrix.
far_zero_partners <- function(fit) {
  X <- tryCatch(stats::model.matrix(fit), error = function(e) NULL)
  if (is.null(X) || !is.matrix(X) || is.null(colnames(X)) || !nrow(X)) return(list())
  cn <- colnames(X)
  parts <- strsplit(cn, ":", fixed = TRUE)
  rng <- apply(X, 2L, function(v) range(v[is.finite(v)]))
  far <- cn[vapply(seq_along(cn), function(j) length(parts[[j]]) == 1L &&
                     all(is.finite(rng[, j])) && !all(X[, j] == 0 | X[, j] == 1) &&
                     min(abs(rng[, j])) > diff(rng[, j]) && prod(rng[, j]) > 0, TRUE)]
  out <- list()
  for (j in seq_along(cn)) {
    hit <- far[vapply(far, function(cv) cv != cn[j] && !(cv %in% parts[[j]]) &&
                        any(vapply(parts, function(pp) length(pp) == length(parts[[j]]) + 1L &&
                                     setequal(pp, c(parts[[j]], cv)), TRUE)), TRUE)]
    if (length(hit))
      out[[cn[j]]] <- c(hit[1L], format(rng[, hit[1L]], digits = 6))
  }
  out
}

# The coefficients whose model-matrix columns hold only 0 and 1 (a factor's
# indicators, a logical): compared at 1 versus 0, they take no step
# `delta`. Empty where the fit keeps no model matrix (sharded fits).
binary_columns <- function(fit) {
  X <- tryCatch(stats::model.matrix(fit), error = function(e) NULL)
  if (is.null(X) || !is.matrix(X) || is.null(colnames(X))) return(character())
  colnames(X)[vapply(seq_len(ncol(X)), function(j) all(X[, j] == 0 | X[, j] == 1) &&
                       any(X[, j] == 0), TRUE)]
}

# The step per term of `parm` (odds_ratios(delta = )): one finite,
# non-zero number for all, or a vector named by coefficients among `parm`
# (the others 1). `binary`: terms whose columns are 0/1 (a factor's
# indicators), compared at 1 versus 0: one number leaves them at 1 (before,
# odds_ratios(fit, delta = 1e-6) printed exp(1e-6 beta) for a factor's
# levels, a ratio of nothing), a name among them is an error, as for the
# population-averaged ordinal ratios.
ratio_delta <- function(delta, parm, binary = character()) {
  if (!is.numeric(delta) || !length(delta) || anyNA(delta) || any(!is.finite(delta) | delta == 0))
    stop("'delta' must be finite, non-zero numbers: the step of each covariate the ratio compares",
         call. = FALSE)
  nm <- names(delta)
  if (is.null(nm)) {
    if (length(delta) != 1L)
      stop(sprintf("'delta': one number, or a vector named by coefficients (%s)",
                   paste(parm, collapse = ", ")), call. = FALSE)
    return(stats::setNames(ifelse(parm %in% binary, 1, as.numeric(delta)), parm))
  }
  if (anyDuplicated(nm))
    stop(sprintf("'delta': %s named more than once",
                 paste(sQuote(unique(nm[duplicated(nm)]), FALSE), collapse = ", ")), call. = FALSE)
  bad <- setdiff(nm, parm)
  if (length(bad) || any(nm == ""))
    stop(sprintf("'delta': %s not among the terms reported (%s)",
                 paste(sQuote(if (length(bad)) bad else nm[nm == ""], FALSE), collapse = ", "),
                 paste(parm, collapse = ", ")), call. = FALSE)
  stepped <- nm[nm %in% binary & delta != 1]
  if (length(stepped))
    stop(sprintf("'delta': %s is a 0/1 column, compared at 1 versus 0; it takes no step",
                 paste(sQuote(stepped, FALSE), collapse = ", ")), call. = FALSE)
  out <- stats::setNames(rep(1, length(parm)), parm)
  out[nm] <- as.numeric(delta)
  out
}

# The suggestion in the warnings on a ratio per unit that overflows: a
# step whose log ratio is about 1 (a power of ten).
delta_hint <- function(terms, b) {
  st <- 10^round(-log10(abs(b)))
  sprintf("delta = c(%s)", paste(sprintf("%s = %s", ifelse(make.names(terms) == terms, terms,
                                                           sprintf("`%s`", terms)),
                                         format(st, digits = 1)), collapse = ", "))
}

ratio_table <- function(est, level, parm, measure, delta = 1) {
  check_level(level)
  cf <- est$coef
  default <- setdiff(names(cf), "(Intercept)")
  if (!length(default)) default <- names(cf)
  parm <- match_parm(parm, names(cf), default)
  dl <- ratio_delta(delta, parm, est$binary %||% character())
  se <- sqrt(diag(est$vcov))[parm] * abs(dl)
  b <- cf[parm] * dl
  df <- attr(est$vcov, "df")
  if (!is.null(df)) df <- unname(df[parm])
  z <- wald_quantile(1 - (1 - level) / 2, df)
  p <- wald_p_value(b / se, df)
  out <- data.frame(term = parm, estimate = unname(exp(b)), std.error = unname(se),
                    conf.low = unname(exp(b - z * se)), conf.high = unname(exp(b + z * se)),
                    p.value = unname(p),
                    stringsAsFactors = FALSE)
  # A penalized fit's separated coefficients are finite, set by the prior:
  # said once, and not called unbounded.
  pen_sep <- if (isTRUE(est$penalized) && isTRUE(est$separation$separated))
    intersect(parm, est$separation$terms) else character()
  bad <- setdiff(unbounded_terms(b, se, if (!isTRUE(est$penalized)) est$separation), pen_sep)
  # A finite, well-determined coefficient (|z| > 2, no separation) whose
  # exp() overflows or that the drift heuristic caught only by its size is
  # a covariate in small units (x * 1e-6: one unit is a step of 1e6 on the
  # log scale), not a fit on its way to infinity: said so.
  sep <- if (isTRUE(est$separation$separated)) est$separation$terms else character()
  units <- bad[!bad %in% sep & is.finite(b[bad]) & !is.na(se[bad]) & is.finite(se[bad]) &
                 abs(b[bad] / se[bad]) > 2]
  # A finite coefficient (the separation check ran and found none) that
  # interacts with a covariate far from zero compares at that covariate's
  # zero: its ratio overflows as an extrapolation, not by separation.
  clean <- isTRUE(est$separation$checked) && !isTRUE(est$separation$separated)
  fin <- bad[is.finite(b[bad]) & !is.na(se[bad]) & is.finite(se[bad])]
  far <- if (clean) intersect(fin, names(est$far)) else character()
  bad <- setdiff(bad, c(units, far))
  if (clean) {
    # no separation, so the estimate is finite: a covariate in small units
    units <- c(units, intersect(fin, bad))
    bad <- setdiff(bad, units)
  }
  for (tm in far) {
    fz <- est$far[[tm]]
    warning(sprintf(paste0("%s for %s: the coefficient is finite (%s; no separation was found) but it ",
                           "compares at %s = 0, far from the data (%s from %s to %s), so the ratio is an ",
                           "extrapolation that overflows; centre the covariate (e.g. %s - mean(%s)) to ",
                           "compare within the data"),
                    measure, sQuote(tm, FALSE), format(signif(b[tm], 3)), fz[1L], fz[1L], fz[2L], fz[3L],
                    fz[1L], fz[1L]), call. = FALSE)
  }
  if (length(units))
    warning(sprintf(paste0("%s for %s: %s of the covariate is a step of %s on the log scale, ",
                           "so the ratio per %s overflows or is not informative; give a smaller ",
                           "step (e.g. %s) or rescale the covariate (e.g. x / sd(x)) to read it"),
                    measure, paste(sQuote(units, FALSE), collapse = ", "),
                    if (all(dl[units] == 1)) "one unit" else "the step 'delta'",
                    paste(format(signif(b[units], 3)), collapse = ", "),
                    if (all(dl[units] == 1)) "unit" else "step",
                    delta_hint(units, b[units] / dl[units])), call. = FALSE)
  if (length(pen_sep))
    warning(sprintf(paste0("%s for %s: the data are separated, but the fit is penalized (penalized = ",
                           "TRUE), so the coefficients are finite but set largely by the prior ",
                           "(posterior mode), not by the data: the ratio and its interval reflect ",
                           "the prior"), measure, paste(sQuote(pen_sep, FALSE), collapse = ", ")),
            call. = FALSE)
  if (length(bad))
    warning(sprintf(paste0("%s for %s: no finite estimate (the fit is separated or the coefficient ",
                           "is on its way to +/-Inf), so the ratio, its interval and p-value are ",
                           "meaningless"), measure, paste(sQuote(bad, FALSE), collapse = ", ")),
            call. = FALSE)
  nose <- setdiff(parm[is.na(se)], bad)
  if (length(nose))
    warning(sprintf("%s for %s: the fit gives no standard error (see its warnings), so no interval or p-value",
                    measure, paste(sQuote(nose, FALSE), collapse = ", ")), call. = FALSE)
  structure(out, class = c("glmmgee_ratios", "data.frame"), measure = measure,
            view = est$view, source = est$source, level = level, delta = dl)
}

#' @rdname odds_ratios
#' @export
print.glmmgee_ratios <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_ratios", .allow = print_dots)
  cat(sprintf("%s%ss, %s\n", toupper(substring(attr(x, "measure"), 1, 1)),
              substring(attr(x, "measure"), 2), view_label(attr(x, "view"))))
  cat(sprintf("From: %s. Wald %g%% intervals; std.error on the log scale.\n",
              attr(x, "source"), 100 * attr(x, "level")))
  dl <- attr(x, "delta")
  if (!is.null(dl) && any(dl != 1))
    cat(sprintf("Per step delta of the covariate: %s.\n",
                paste(sprintf("%s %s", names(dl), format(dl, digits = 3)), collapse = ", ")))
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  d$p.value <- format.pval(d$p.value, digits = 3L)
  print(format(d, digits = digits), row.names = FALSE)
  invisible(x)
}

# Coefficient selection by name or index; unknown ones are an error naming
# the argument.
match_parm <- function(parm, names, default, arg = "parm") {
  if (missing(parm) || is.null(parm)) return(default)
  if (is.numeric(parm)) {
    if (any(is.na(parm) | parm < 1 | parm > length(names) | parm != round(parm)))
      stop(sprintf("'%s': indices must be between 1 and %d", arg, length(names)), call. = FALSE)
    return(names[parm])
  }
  if (!is.character(parm))
    stop(sprintf("'%s' must be coefficient names or indices", arg), call. = FALSE)
  bad <- setdiff(parm, names)
  if (length(bad))
    stop(sprintf("'%s': %s not among the coefficients (%s)", arg,
                 paste(sQuote(bad, FALSE), collapse = ", "),
                 paste(names, collapse = ", ")), call. = FALSE)
  parm
}

check_level <- function(level, arg = "level") {
  if (!is.numeric(level) || length(level) != 1L || is.na(level) || level <= 0 || level >= 1)
    stop(sprintf("'%s' must be one number between 0 and 1, e.g. 0.95", arg), call. = FALSE)
  invisible(level)
}

# Coefficients among `b` (with standard errors `se`) that have no finite
# estimate: named by the fit's separation check, or numerically unbounded
# (exp() overflows, or a standard error so large that the Wald interval
# covers every ratio, the Hauck-Donner signature of a drifting estimate).
unbounded_terms <- function(b, se, separation = NULL) {
  sep <- if (isTRUE(separation$separated)) intersect(names(b), separation$terms) else character()
  # An NA standard error (no covariance of the fit) says nothing about the
  # estimate itself; an infinite one does.
  num <- names(b)[!is.finite(exp(b)) | (!is.na(se) & !is.finite(se)) |
                    (abs(b) > 10 & !is.na(se) & se > 100)]
  unique(c(sep, num))
}
