# Confidence intervals for the parameters of a fitted glmm: Wald, profile
# likelihood or parametric bootstrap (confint-boot.R).

#' Confidence intervals for a fitted GLMM
#'
#' Intervals for the fixed effects, the standard deviation of each random
#' effect (`sd_<effect>|<group>`, lme4's names with `oldNames = FALSE`), the
#' correlations of the first effect of each covariance block with the
#' others (`cor_<effect>.<first>|<group>`) and, for gaussian models, the
#' residual standard deviation `sigma`.
#'
#' Zero-inflated, hurdle and dispersion-formula fits (`ziformula`,
#' `dispformula`, [truncated_poisson()]): also the zero part's coefficients
#' (logit scale) with glmmTMB's prefix, `zi.<term>`, and the dispersion
#' coefficients (log scale), `disp.<term>`. With random effects in the zero
#' part (`ziformula = ~ x + (1 | g)`) its standard deviations are
#' `sd_zi.<effect>|<group>` (glmmTMB's `zi.Std.Dev.<effect>|<group>`) and,
#' with `zi_correlated = TRUE`, the correlation with the conditional part's
#' first effect `cor_zi.<effect>.<first>|<group>`. Profiles of these fits
#' rebuild the fit's engine from the stored designs: the one-factor engine
#' at the fit's rule, or with several random-effect terms the sparse
#' Laplace engine (the two-part one when the zero part has random effects),
#' so the zero part's coefficients and standard deviations profile on
#' every route. With the two-part sparse engine, a profile that runs into
#' parameters where that engine's Laplace approximation breaks down (points
#' it refuses, see [glmm()]) stops there with a warning and gives no limit
#' on that side.
#'
#' `method = "Wald"` (the default): estimate \eqn{\pm z} standard errors
#' from [vcov()] for the fixed effects; for the standard deviations, on the
#' log scale (so the limits stay positive) with the standard error from the
#' delta method over `vcov(fit, full = TRUE)`, and for the correlations on
#' Fisher's z scale; `NA`, with a warning naming the parameter, for a
#' variance estimated at zero or a correlation at -1 or 1 (no Wald interval
#' exists on the boundary; the profile interval does). A correlation that a
#' `diag()` or `homdiag()` term fixes at 0 is not a parameter and has no
#' row.
#'
#' `method = "profile"`: profile-likelihood intervals, the values where the
#' signed root of the likelihood-ratio statistic crosses \eqn{\pm z} (see
#' [profile.glmmgee_glmm()]); they need not be symmetric and are preferable
#' for variance components and for small samples. A standard deviation whose
#' profile stays inside the interval down to zero has lower limit 0, a
#' correlation whose profile stays inside up to -1 or 1 has that limit. At
#' `nAGQ = 1` with canonical links (logit, log) and for gaussian models they
#' agree with lme4's `confint(method = "profile")` on the same model
#' (`lmer(REML = FALSE)` for gaussian), up to lme4's interpolation error
#' (ours are located by root finding at the requested level). For a fit with
#' `REML = TRUE` the profile is, as lme4's, that of the model refitted by ML,
#' so it matches `confint(lmer fit)`; `criterion = "REML"` (passed on to
#' [profile.glmmgee_glmm()]) profiles the restricted likelihood instead, for
#' the covariance parameters only.
#'
#' `method = "boot"`: the parametric bootstrap of lme4's
#' `confint(method = "boot")` ([lme4::bootMer()]): `nsim` responses are
#' drawn from the fitted model by [simulate()] (new random effects), the
#' model is refitted to each by its own call (same formula, family, `nAGQ`,
#' `REML`, weights and offset), and the intervals are [boot::boot.ci()]'s
#' of the refits' estimates of the same parameters. A refit that fails is
#' dropped, and the number dropped is given in a warning and in the
#' attribute `boot.fail`; refits that warn are kept and counted in
#' `boot.warn`. Available for fits with normal random effects, one grouping
#' factor or several terms; zero-inflated, hurdle, dispersion-formula,
#' ordinal, structured- and known-covariance, non-normal random-effect,
#' penalized and distributed fits are refused. The refits run in R's main
#' loop, so an interrupt stops them.
#'
#' @param object A fitted model from [glmm()].
#' @param parm Parameters: names or indices into the list above (fixed
#'   effects first); all by default. `"beta_"` selects the fixed effects
#'   (both parts of a two-part fit), `"theta_"` the standard deviations,
#'   correlations, `sigma` and dispersion coefficients, as in lme4. For a
#'   fit with covariance structures the profile is on the structures'
#'   parameters (see [profile.glmmgee_glmm()]); it also takes the Wald name
#'   of a row that is one of them (`"sd_x|id"` for
#'   `"diag(1 + x | id): sd(x)"`) and reports it under that name.
#' @param level Confidence level, one number in (0, 1).
#' @param method `"Wald"`, `"profile"` or `"boot"`.
#' @param nsim For `method = "boot"`: the number of bootstrap samples (500 by
#'   default, as lme4).
#' @param boot.type For `method = "boot"`: `"perc"` (percentile, the
#'   default), `"basic"` or `"norm"` intervals, as [boot::boot.ci()] computes
#'   them.
#' @param seed For `method = "boot"`: `NULL` or an integer passed to
#'   [set.seed()] before the responses are drawn (the random-number state is
#'   restored afterwards).
#' @param parallel,ncpus For `method = "boot"`: refit on `ncpus` forked
#'   (`"multicore"`) or socket (`"snow"`) workers. The responses are drawn
#'   before any refit, so the intervals do not depend on the workers.
#'   With another method, `nsim`, `boot.type`, `seed`, `parallel` and
#'   `ncpus` are errors (they were ignored).
#' @param vcov For `method = "Wald"`: the covariance of the fixed effects
#'   behind their intervals: `NULL` or `"model"` (the default, [vcov()] of
#'   the fit), a cluster-robust type `"CR0"`, `"CR1"`, `"CR2"` or `"CR3"`
#'   (as `vcov(fit, type = )`, see [vcov.glmmgee_glmm()], where the fit's
#'   engine provides them) or a p x p covariance matrix of the fixed effects
#'   (row and column names, if any, the fixed effects'). A cluster-robust
#'   type takes the t quantile with its Satterthwaite degrees of freedom
#'   (see [vcov.glmmgee_glmm()]), the others the normal quantile. Any other than the
#'   model-based one gives intervals of the fixed effects only (all of them
#'   when `parm` is not given); it is an error with `method = "profile"` or
#'   `"boot"` or with `parm` selecting variance parameters.
#' @param cluster With a cluster-robust `vcov`: the clusters, as
#'   `vcov(fit, type = , cluster = )` takes them (`NULL`, the grouping
#'   factor that nests the random effects, a one-sided formula or a vector
#'   with one value per observation).
#' @param ... Passed to [profile.glmmgee_glmm()] for `method = "profile"`
#'   (e.g. `maxpts`).
#' @return A matrix with one row per parameter and the lower and upper
#'   limits as columns (labelled in percent, as [stats::confint()]). For
#'   `method = "boot"` with the attributes `boot.fail` (refits that failed,
#'   dropped) and `boot.warn` (refits that raised a warning, kept).
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   confint(fit)
#'   confint(fit, parm = "sd_(Intercept)|herd", method = "profile")
#'   # Wald intervals of the fixed effects from the cluster-robust covariance
#'   confint(fit, vcov = "CR2")
#'   # parametric bootstrap (use nsim = 500 or more in practice)
#'   confint(fit, parm = "sd_(Intercept)|herd", method = "boot", nsim = 20, seed = 1)
#' }
#' @export
confint.glmmgee_glmm <- function(object, parm = NULL, level = 0.95,
                                 method = c("Wald", "profile", "boot"), nsim = 500,
                                 boot.type = c("perc", "basic", "norm"), seed = NULL,
                                 parallel = c("no", "multicore", "snow"),
                                 ncpus = getOption("boot.ncpus", 1L), vcov = NULL,
                                 cluster = NULL, ...) {
  check_level(level)
  method <- match.arg(method)
  if (method != "Wald" && (!is.null(vcov) || !is.null(cluster)))
    stop(sprintf(paste0("confint(method = \"%s\"): 'vcov' and 'cluster' are for Wald intervals ",
                        "(method = \"Wald\"); the %s intervals do not use a covariance matrix"),
                 method, if (method == "boot") "bootstrap" else "profile"), call. = FALSE)
  if (method != "boot")
    refuse_unused(c(nsim = !missing(nsim), boot.type = !missing(boot.type), seed = !missing(seed),
                    parallel = !missing(parallel), ncpus = !missing(ncpus)),
                  sprintf("confint(method = \"%s\")", method),
                  "the parametric bootstrap (method = \"boot\")")
  V <- fixef_vcov_choice(object, vcov, cluster, "confint()")
  # `...` goes to profile() (which checks it) with method = "profile" only.
  if (method != "profile") check_dots(..., .method = "confint.glmmgee_glmm")
  if (method == "boot") check_boot_fit(object)
  if (method == "profile")
    require_capability(object, "confint_profile", "confint(method = \"profile\")",
                       "use confint(fit, method = \"Wald\")")
  # A structured fit's profile reports its structures' parameters
  # (profile-covstruct.R).
  structured <- method == "profile" && inherits(object, "glmmgee_glmm_covstruct")
  targets <- if (structured) covstruct_profile_targets(object) else profile_targets(object)
  # (the profile of a structured fit has its own list of parameters: an
  # index would name another row than the same index of the Wald intervals)
  if (structured && is.numeric(parm))
    stop(sprintf(paste0("confint(method = \"profile\"): give 'parm' by name for a fit with ",
                        "covariance structures, whose profile is on the structures' parameters ",
                        "(%s), not the rows of the Wald intervals"),
                 paste(sQuote(names(targets), FALSE), collapse = ", ")), call. = FALSE)
  if (!is.null(V)) return(confint_fixef_vcov(object, parm, level, V, names(targets)))
  parm <- lme4_keywords(parm, targets)
  # (a structured fit's profile takes the Wald rows that are a structure's
  # parameter, "sd_x|id", and reports them under the name asked for)
  asked <- if (structured && is.character(parm)) parm
  if (structured) parm <- covstruct_parm(parm, object, targets, "parm")
  idx <- select_parameters(parm, names(targets))
  if (method == "boot")
    return(confint_boot(object, idx, level, nsim, boot.type, seed, parallel, ncpus))
  a <- (1 - level) / 2
  if (method == "profile") {
    # The restricted profile has no fixed effects: named in 'parm' they are
    # an error (as 'parm' = "Days" alone is), by default left out.
    if (isTRUE(object$REML) && identical(list(...)$criterion, "REML")) {
      fixed <- reml_fixed_targets(targets[idx])
      if (is.null(parm) && !all(fixed)) idx <- idx[!fixed]
      else if (!is.null(parm)) reml_profile_targets(targets[idx], "parm")
    }
    keep <- if (is_dist_fit(object)) dist_profiled(object, targets[idx]) else rep(TRUE, length(idx))
    ci <- if (any(keep))
      confint(profile_fit(object, which = idx[keep], alpha = min(0.01, (1 - level) / 2),
                          refine = level, ...), level = level)
    if (!is.null(asked)) {
      ci <- ci[names(targets)[idx], , drop = FALSE]
      rownames(ci) <- asked
    }
    if (!all(keep)) {
      # (the nonparametric standard deviation: NA in its place)
      full <- matrix(NA_real_, length(idx), 2L,
                     dimnames = list(names(targets)[idx], percent_labels(c(a, 1 - a))))
      if (!is.null(ci)) full[rownames(ci), ] <- ci
      ci <- full
      warning(sprintf("confint(method = \"profile\"): no profile interval for %s of the %s random intercept (its mass points and weights are not profiled); NA",
                      paste(sQuote(rownames(ci)[!keep], FALSE), collapse = ", "),
                      object$ranef_dist$type), call. = FALSE)
    }
    far_cor_note(object, targets[idx], ci)
    return(ci)
  }
  z <- stats::qnorm(1 - a)
  ci <- t(vapply(targets[idx], function(tg) {
    if (tg$kind == "coef" && !tg$log) return(tg$estimate + c(-z, z) * tg$se)
    if (!is.finite(tg$se)) return(c(NA_real_, NA_real_))
    if (tg$kind == "cor") {
      if (abs(tg$estimate) >= 1) return(c(NA_real_, NA_real_))
      return(tanh(atanh(tg$estimate) + c(-z, z) * tg$se / (1 - tg$estimate^2)))
    }
    if (!(tg$estimate > 0)) return(c(NA_real_, NA_real_))
    tg$estimate * exp(c(-z, z) * tg$se / tg$estimate)
  }, numeric(2)))
  dimnames(ci) <- list(names(targets)[idx], percent_labels(c(a, 1 - a)))
  wald_na_warning(object, targets[idx], ci)
  ci
}

# The Wald rows left NA, named in a warning with the reason: a standard
# deviation at zero or a correlation at -1 or 1, where the log-scale and
# Fisher-z intervals do not exist (the profile's reaches the boundary); a
# parameter next to such a boundary of a singular fit (a standard
# deviation near zero, a correlation of a term whose variance is at zero),
# which has no standard error; otherwise a parameter the fit gives no
# standard error.
wald_na_warning <- function(fit, targets, ci) {
  na <- Filter(function(tg) anyNA(ci[tg$name, ]), targets)
  if (!length(na)) return(invisible(NULL))
  why <- vapply(na, function(tg) {
    if (tg$kind == "sd" && !(tg$estimate > 0)) return("a standard deviation at zero")
    if (tg$kind == "cor" && abs(tg$estimate) >= 1) return("a correlation at -1 or 1")
    if (tg$kind %in% c("sd", "cor") && isTRUE(fit$singular) && !is.finite(tg$se))
      return(if (tg$kind == "cor") "a correlation of a term whose variance is at zero, not identified"
             else "a standard deviation next to the boundary of a singular fit")
    ""
  }, "")
  say <- function(i) paste(sprintf("'%s' (estimate %s; %s)", vapply(na[i], `[[`, "", "name"),
                                   vapply(na[i], function(tg) format(signif(tg$estimate, 3L)), ""),
                                   why[i]), collapse = ", ")
  edge <- nzchar(why)
  if (any(edge))
    warning(sprintf(paste0(
      "confint(): no Wald interval for %s: on or next to the boundary of its range (the fit is ",
      "singular), where the Wald interval does not exist; NA. method = \"profile\" gives the ",
      "intervals of standard deviations and correlations on the boundary, with a limit there"),
      say(which(edge))), call. = FALSE)
  if (!all(edge))
    warning(sprintf(paste0(
      "confint(): no Wald interval for %s: the fit gives no standard error for it (see the ",
      "fit's warnings); NA. method = \"profile\" does not need one"),
      paste(sprintf("'%s' (estimate %s)", vapply(na[!edge], `[[`, "", "name"),
                    vapply(na[!edge], function(tg) format(signif(tg$estimate, 3L)), "")),
            collapse = ", ")), call. = FALSE)
  invisible(NULL)
}

# Wald intervals of the fixed effects from the covariance `V` of
# confint(vcov = ) (fixef_vcov_choice()); `all_names`: the names of every
# parameter confint() knows, to say which of `parm` are not fixed effects.
confint_fixef_vcov <- function(object, parm, level, V, all_names) {
  beta <- fixef(object)
  fx <- names(beta)
  sel <- if (is.null(parm)) fx else {
    if (is.character(parm)) parm <- unlist(lapply(parm, function(pm)
      if (pm == "beta_") fx else if (pm == "theta_") setdiff(all_names, fx) else pm))
    all_names[select_parameters(parm, all_names)]
  }
  bad <- setdiff(sel, fx)
  if (length(bad))
    stop(sprintf(paste0("confint(vcov = ): 'parm' selects %s; a 'vcov' other than \"model\" ",
                        "gives intervals of the fixed effects only (parm = \"beta_\" or their names)"),
                 paste(sQuote(bad, FALSE), collapse = ", ")), call. = FALSE)
  a <- (1 - level) / 2
  df <- attr(V, "df")
  z <- wald_quantile(1 - a, if (!is.null(df)) df[sel])
  se <- sqrt(pmax(diag(V)[sel], 0))
  ci <- cbind(beta[sel] - z * se, beta[sel] + z * se)
  dimnames(ci) <- list(sel, percent_labels(c(a, 1 - a)))
  ci
}

# lme4's parm keywords: "beta_" (fixed effects), "theta_" (variance
# parameters).
lme4_keywords <- function(parm, targets) {
  if (!is.character(parm)) return(parm)
  kinds <- vapply(targets, function(tg)
    tg$keyword %||% if (tg$kind == "coef" && !tg$log) "beta_" else "theta_", "")
  unlist(lapply(parm, function(pm) if (pm %in% c("beta_", "theta_")) names(targets)[kinds == pm] else pm))
}

# Column labels as stats::confint() writes them ("2.5 %", "95 %").
percent_labels <- function(probs) {
  paste(format(100 * probs, trim = TRUE, scientific = FALSE, digits = 3L), "%")
}

# A profile interval of a correlation that prints as [1, 1] (or [-1, -1])
# because the slope's covariate lies far from zero (x * 1e-6 - 5): the
# correlation is the one with the random intercept at x = 0, thousands of
# standard deviations from the data, where the intercept's effect is the
# slope's times nearly a constant; the profile on the block's centred
# basis (profile-z-basis.R) gives it correctly, within 1e-13 of 1. Said in
# a message naming the covariate, its centre and the limits' distance from
# 1, rather than left to look like a degenerate fit.
far_cor_note <- function(fit, targets, ci) {
  cors <- Filter(function(tg) tg$kind == "cor", targets)
  if (!length(cors)) return(invisible(NULL))
  zb <- tryCatch(profile_z_blocks(fit), error = function(e) NULL)
  if (is.null(zb)) return(invisible(NULL))
  eff <- effect_labels(fit)$effect
  for (tg in cors) {
    lim <- ci[tg$name, ]
    if (anyNA(lim) || any(1 - abs(lim) > 1e-6)) next
    ib <- target_block(zb, tg)
    if (!ib) next
    bl <- zb$blocks[[ib]]
    k <- bl$at[match(tg$pos[length(tg$pos)], bl$pos), 1L]
    centre <- bl$T[1L, k]
    far <- abs(centre) / bl$T[k, k]
    if (!(far > lmm_z_centre_sd)) next
    v <- eff[bl$rows[k]]
    message(sprintf(paste0(
      "confint(): '%s' is the correlation with the random intercept at %s = 0, %.3g standard ",
      "deviations of %s from its mean %.6g; there the intercept's effect is nearly the slope's ",
      "times %.3g, so the correlation and its limits lie within %.2g of %g (1 - |limit|: %s) ",
      "and print as %g. Centre %s (e.g. %s %s %.6g) for the correlation where the data lie."),
      tg$name, v, far, v, centre, -centre, max(1 - abs(c(lim, tg$estimate))), sign(lim[[2L]]),
      paste(format(1 - abs(lim), digits = 3), collapse = ", "), sign(lim[[2L]]), v, v,
      if (centre < 0) "+" else "-", abs(centre)))
  }
  invisible(NULL)
}
