# Methods of cumulative link mixed model fits (class glmmgee_glmm_ordinal,
# which inherits glmmgee_glmm). Where a glmmgee_glmm method assumes a scalar
# mean model (fitted values, residuals, predictions, coef() as the
# per-cluster list) this class has its own; the rest (AIC, BIC, update,
# anova, the ecosystem's model-level methods) read what every GLMM fit has.

# The fields are stored as they are: none is rebuilt on access (the
# glmmgee_glmm `$` would rebuild fitted values through a scalar inverse
# link).
#' @export
`$.glmmgee_glmm_ordinal` <- function(x, name) {
  # A fit saved before ordinal fits carried the documented fields (`sigma`
  # must not match its `sigma_re` partially).
  if (name %in% c("theta", "cov_theta", "sigma", "re_formula") && is.null(.subset2(x, name)))
    return(ordinal_layout_fields(x)[[name]])
  v <- .subset2(x, name, exact = FALSE)
  # A record of an earlier version, read on today's schema (fit-object.R).
  if (identical(name, "optinfo") && !is.null(v) && !"converged" %in% names(v))
    return(upgrade_optinfo(v))
  v
}

# The stop of a glmmgee_glmm method or function (`what`) that has no
# meaning for a cumulative link fit (one mean per row, the random effects'
# layout of the other engines), naming what to use `instead`.
refuse_ordinal <- function(fit, what, instead = NULL) {
  if (inherits(fit, "glmmgee_glmm_ordinal"))
    stop(sprintf("%s is not available for cumulative link (ordinal) fits%s", what,
                 if (is.null(instead)) "" else paste0("; ", instead)), call. = FALSE)
  invisible(fit)
}

# The model, the formula, logLik / AIC / BIC, the clusters and the random
# effects: one factor (a random intercept's standard deviation, or random
# slopes printed by VarCorr()) or several terms (their standard
# deviations); then the coefficients, the thresholds and the notes.
#' @export
print.glmmgee_glmm_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_glmm_ordinal", .allow = print_dots)
  terms <- !is.null(x$sd_re)
  slopes <- !is.null(x$re_cov)
  cat(sprintf("Cumulative link mixed model (%s link), fitted by %smaximum likelihood (%s)\n",
              x$family$link, if (!is.null(x$penalty)) "penalized " else "",
              if (terms) "Laplace approximation, sparse engine"
              else if (x$nAGQ == 1L) "Laplace approximation"
              else sprintf("adaptive Gauss-Hermite quadrature, nAGQ = %d", x$nAGQ)))
  cat("Formula:", paste(deparse(x$formula), collapse = " "), "\n")
  ll <- x$loglik
  cat(sprintf(" logLik %s  AIC %s  BIC %s\n", format(round(ll, 4)),
              format(round(-2 * ll + 2 * x$df, 2)),
              format(round(-2 * ll + log(x$nobs) * x$df, 2))))
  # (the coefficients only; the thresholds are never penalized)
  print_penalty(x$penalty, 4L)
  sing <- if (x$singular) " (singular fit)" else ""
  if (terms) {
    cat(sprintf("%d observations; %s; %d response categories\n", x$nobs,
                paste(sprintf("%d levels of %s", x$ngroups, x$group_name), collapse = ", "),
                length(x$y_levels)))
    cat("Random intercepts, standard deviations:",
        paste(sprintf("%s %s", x$group_name, signif_each(x$sd_re, digits)), collapse = ", "),
        if (x$singular) "(singular fit)", "\n")
  } else {
    cat(sprintf("%d observations, %d clusters (%s); %d response categories\n", x$nobs,
                x$ngroups, x$group_name, length(x$y_levels)))
    if (slopes) {
      cat(sprintf("Random effects on %s%s:\n", x$group_name, sing))
      print(VarCorr(x), digits = digits)
    } else cat(sprintf("Random intercept %s: standard deviation %s%s\n", x$group_name,
                       format(signif(x$sigma_re, digits)), sing))
  }
  cat(sprintf("Coefficients (conditional on the %s):\n",
              if (terms) "random intercepts" else if (slopes) "random effects" else "random intercept"))
  print(signif(x$coefficients, digits))
  cat("Thresholds:\n")
  print(signif(x$thresholds, digits))
  if (terms)
    cat("Population-averaged (marginal over the sum of the random intercepts): odds_ratios(type = \"marginal\"), predict(type = \"prob_marginal\"), standardize()\n")
  if (length(x$optinfo$warnings)) cat(paste0("Note: ", x$optinfo$warnings, "\n"), sep = "")
  invisible(x)
}

# The table of estimates, standard errors, z values and p values.
ordinal_z_table <- function(est, se) {
  z <- est / se
  cbind(Estimate = est, `Std. Error` = se, `z value` = z, `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
}

# The last part of print(summary()): the coefficients (conditional: `given`)
# and the thresholds with their standard errors.
ordinal_print_summary_coefs <- function(x, digits, given) {
  cat(sprintf("\nCoefficients (conditional: %s):\n", given))
  stats::printCoefmat(x$coefficients, digits = digits)
  cat("\nThresholds (P(Y <= j) = F(threshold_j - eta)):\n")
  print(signif(x$thresholds, digits))
}

# The tables of every cumulative link mixed model; the random effects'
# standard deviations with their standard errors for random intercepts (one
# factor: sigma and the standard error of log sigma; several terms: sd).
#' @export
summary.glmmgee_glmm_ordinal <- function(object, vcov = NULL, cluster = NULL, ...) {
  check_dots(..., .method = "summary.glmmgee_glmm_ordinal")
  est <- object$par %||% object$psi  # several terms: par
  se <- sqrt(diag(object$cov_par %||% object$cov_psi))
  tab <- function(idx) ordinal_z_table(est[idx], se[idx])
  k1 <- length(object$thresholds)
  p <- length(object$coefficients)
  out <- list(fit = object, coefficients = tab(k1 + seq_len(p)),
              thresholds = tab(seq_len(k1))[, 1:2, drop = FALSE])
  rob <- ordinal_vcov_choice(object, vcov, cluster, "summary()")
  if (!is.null(rob)) {
    # cluster-robust: t tests with Satterthwaite df for the coefficients,
    # robust standard errors for the thresholds
    se_r <- sqrt(pmax(diag(rob$V), 0))
    ib <- k1 + seq_len(p)
    out$coefficients <- coef_t_table(object$coefficients, se_r[ib], rob$df[ib])
    out$thresholds[, "Std. Error"] <- se_r[seq_len(k1)]
    out$vcov_label <- satterthwaite_label(rob$label, "tests")
  }
  if (!is.null(object$sd_re))
    out$sd <- cbind(`Std. Dev.` = object$sd_re, `Std. Error` = se[k1 + p + seq_along(object$sd_re)])
  else if (is.null(object$re_cov))
    out[c("sigma", "se_log_sigma")] <- list(object$sigma_re, se[k1 + p + 1L])
  structure(out, class = unique(c(paste0("summary.", class(object)[1L]),
                                  "summary.glmmgee_glmm_ordinal")))
}

#' @export
print.summary.glmmgee_glmm_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.summary.glmmgee_glmm_ordinal", .allow = print_dots)
  f <- x$fit
  print(f, digits = digits)
  if (!is.null(x$sd)) {
    cat("\nRandom intercepts (independent terms):\n")
    print(signif(x$sd, digits))
  } else if (!is.null(x$sigma))
    cat(sprintf("\nRandom effects:\n %s (Intercept): variance %s, std. dev. %s (SE of log sd %s)\n",
                f$group_name, format(signif(x$sigma^2, digits)), format(signif(x$sigma, digits)),
                format(signif(x$se_log_sigma, digits))))
  if (!is.null(x$vcov_label)) cat(sprintf("\nStandard errors: %s\n", x$vcov_label))
  ordinal_print_summary_coefs(x, digits, if (!is.null(x$sd)) "for given random intercepts"
    else sprintf("for a given cluster, its random %s fixed",
                 if (is.null(x$sigma)) "effects" else "intercept"))
  invisible(x)
}

#' @export
logLik.glmmgee_glmm_ordinal <- function(object, ...) {
  # REML = FALSE, which code written for lme4 fits passes, is this fit's
  # own (maximum likelihood) log-likelihood.
  check_dots(..., .method = "logLik.glmmgee_glmm_ordinal", .allow = "REML")
  if (isTRUE(list(...)$REML))
    stop("logLik(REML = TRUE): a cumulative link mixed model is fitted by maximum likelihood only",
         call. = FALSE)
  structure(object$loglik, df = object$df, nobs = object$nobs, class = "logLik")
}

#' @export
coef.glmmgee_glmm_ordinal <- function(object, ...) {
  check_dots(..., .method = "coef.glmmgee_glmm_ordinal", .allow = "complete")
  c(object$thresholds, object$coefficients)
}

#' @export
vcov.glmmgee_glmm_ordinal <- function(object, full = FALSE, type = "model", cluster = NULL, ...) {
  check_dots(..., .method = "vcov.glmmgee_glmm_ordinal", .allow = "complete",
             .hint = vcov_glmm_types_hint())
  type <- check_vcov_glmm_type(type, full, cluster)
  if (type != "model") return(ordinal_robust_vcov(object, type, cluster))
  V <- object$cov_par %||% object$cov_psi  # several terms: cov_par
  k <- length(object$thresholds) + length(object$coefficients)
  if (full) V else V[seq_len(k), seq_len(k), drop = FALSE]
}

# The cluster-robust covariance of a cumulative link mixed model's
# thresholds and coefficients (the model-based vcov()'s layout), the block of
# the sandwich of all parameters, of `type` clustered by `cluster`; with
# `df`, also each one's Satterthwaite degrees of freedom and the label the
# printed results show. `method`: the user's call, for the messages.
ordinal_robust_vcov <- function(fit, type, cluster, df = FALSE, method = sprintf("vcov(type = \"%s\")", type)) {
  require_capability(fit, "robust_vcov", method)
  cl <- resolve_vcov_cluster(fit, cluster)
  s <- score_cluster_sandwich(fit, type, cl, df)
  p <- length(fit$coefficients)
  k1 <- length(fit$thresholds)
  nre <- length(fit$theta) - p - k1
  idx <- c(p + nre + seq_len(k1), seq_len(p))
  nm <- c(names(fit$thresholds), names(fit$coefficients))
  V <- matrix(s$V[idx, idx], length(nm), length(nm), dimnames = list(nm, nm))
  if (!df) return(V)
  C <- matrix(0, length(idx), length(fit$theta))
  C[cbind(seq_along(idx), idx)] <- 1
  list(V = V, df = stats::setNames(s$df(C), nm), label = robust_label(type, cl))
}

# The cluster-robust choice of summary() and confint() of a cumulative link
# mixed model: NULL for the model-based covariance, else
# ordinal_robust_vcov() with df (a matrix is refused: the thresholds'
# intervals need their covariance too).
ordinal_vcov_choice <- function(fit, vcov, cluster, method) {
  type <- ordinal_vcov_type(vcov, cluster, method)
  if (is.null(type)) return(NULL)
  ordinal_robust_vcov(fit, type, cluster, df = TRUE,
                      method = sprintf("%s with vcov = \"%s\"", method, type))
}

# The cluster-robust type a cumulative link fit's method is asked for, or
# NULL for the model-based covariance (with no 'cluster').
ordinal_vcov_type <- function(vcov, cluster, method) {
  if (model_vcov_asked(vcov, cluster, method)) return(NULL)
  types <- c("model", robust_cr_types)
  if (!is.character(vcov) || length(vcov) != 1L || is.na(vcov) || !vcov %in% types)
    stop(sprintf(paste0("%s of a cumulative link mixed model: 'vcov' must be one of %s ",
                        "(not a matrix: the thresholds need their covariance too)"),
                 method, paste(dQuote(types, FALSE), collapse = ", ")), call. = FALSE)
  vcov
}

# The cluster-robust covariance of all of a cumulative link fit's
# parameters (fit$theta's order) for the delta method: NULL for the
# model-based one, else list(V, df (a function of a Jacobian K x
# length(theta) giving each row's Satterthwaite df), label).
ordinal_parameter_choice <- function(fit, vcov, cluster, method) {
  type <- ordinal_vcov_type(vcov, cluster, method)
  if (is.null(type)) return(NULL)
  require_capability(fit, "robust_vcov", sprintf("%s with vcov = \"%s\"", method, type))
  cl <- resolve_vcov_cluster(fit, cluster)
  s <- score_cluster_sandwich(fit, type, cl, df = TRUE)
  list(V = s$V, df = s$df, label = robust_label(type, cl))
}

# Wald intervals of the thresholds and coefficients, and of the random
# intercepts' standard deviations on the log scale (exponentiated; NA on
# the boundary); with random slopes, of the thresholds and coefficients.
#' @export
confint.glmmgee_glmm_ordinal <- function(object, parm, level = 0.95, ..., vcov = NULL,
                                         cluster = NULL) {
  check_dots(..., .method = "confint.glmmgee_glmm_ordinal", .allow = "method")
  ordinal_confint_method(list(...)$method, object)
  rob <- ordinal_vcov_choice(object, vcov, cluster, "confint()")
  if (!is.null(rob)) {
    # the thresholds and coefficients, t with Satterthwaite df
    nm <- rownames(rob$V)
    sel <- if (missing(parm)) nm else parm
    bad <- setdiff(sel, nm)
    if (length(bad))
      stop(sprintf(paste0("confint(vcov = ): 'parm' selects %s; a 'vcov' other than \"model\" ",
                          "gives intervals of the thresholds and coefficients only"),
                   paste(sQuote(bad, FALSE), collapse = ", ")), call. = FALSE)
    return(wald_confint(c(object$thresholds, object$coefficients), rob$V, sel, level, rob$df))
  }
  est <- object$par %||% object$psi  # several terms: par, the sds themselves
  se <- sqrt(diag(object$cov_par %||% object$cov_psi))
  k <- length(object$thresholds) + length(object$coefficients)
  s <- seq_along(est)[-seq_len(k)]
  if (!is.null(object$re_cov)) {
    est <- est[seq_len(k)]
    se <- se[seq_len(k)]
    s <- integer()
  } else if (!is.null(object$sd_re)) {
    # (log sd +/- z se(sd) / sd, exponentiated)
    se[s] <- se[s] / est[s]
    est[s] <- log(est[s])
  } else names(est)[s] <- "sigma"
  ordinal_confint(est, se, level, if (!missing(parm)) parm, expo = s)
}

# The cumulative link mixed models have no bootstrap intervals: a `method =
# "boot"` that fell into `...` would give Wald intervals without a word.
ordinal_confint_method <- function(method, object) {
  if (identical(method, "boot")) check_boot_fit(object)
  if (!is.null(method) && !identical(method, "Wald"))
    stop("confint() of a cumulative link mixed model gives Wald intervals only (method = \"Wald\")",
         call. = FALSE)
  invisible(NULL)
}

# Wald intervals est +/- z se of the cumulative link mixed models; the rows
# `expo` are on the log scale and reported exponentiated.
ordinal_confint <- function(est, se, level, parm = NULL, expo = integer()) {
  check_level(level)
  z <- stats::qnorm(1 - (1 - level) / 2)
  ci <- cbind(est - z * se, est + z * se)
  ci[expo, ] <- exp(ci[expo, ])
  pct <- paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE), "%")
  dimnames(ci) <- list(names(est), pct)
  if (!is.null(parm)) ci <- ci[select_parameters(parm, rownames(ci)), , drop = FALSE]
  ci
}

# The glmmgee_glmm methods of these generics assume one scalar mean per
# row (residuals()), weights stored for every row (weights()) or a design
# with an intercept column the coefficients do not multiply
# (model.matrix()). nobs, fixef, formula, family, model.frame,
# df.residual, deviance and sigma are glmmgee_glmm's.
#' @export
model.matrix.glmmgee_glmm_ordinal <- function(object, ...) {
  check_dots(..., .method = "model.matrix.glmmgee_glmm_ordinal")
  cumulative_model_matrix(object)
}

#' @export
residuals.glmmgee_glmm_ordinal <- function(object, ...) {
  check_dots(..., .method = "residuals.glmmgee_glmm_ordinal")
  stop("residuals() of a cumulative link mixed model are not defined (the response is a category); ",
       "fitted(fit) gives the fitted probability of each observed category and ",
       "predict(fit, type = \"prob\") those of every category", call. = FALSE)
}

#' @export
weights.glmmgee_glmm_ordinal <- function(object, ...) {
  check_dots(..., .method = "weights.glmmgee_glmm_ordinal")
  stats::naresid(object$na.action, object$prior.weights %||% rep(1, length(object$y)))
}

#' @export
VarCorr.glmmgee_glmm_ordinal <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_ordinal")
  refuse_varcorr_sigma(!missing(sigma), "cumulative link models")
  # one random intercept, or one per term (several terms: sd_re)
  sd <- unname(x$sd_re %||% x$sigma_re)
  out <- data.frame(grp = x$group_name, var1 = "(Intercept)", vcov = sd^2, sdcor = sd,
                    stringsAsFactors = FALSE)
  class(out) <- c("VarCorr.glmmgee_glmm_ordinal", "data.frame")
  out
}

#' @export
print.VarCorr.glmmgee_glmm_ordinal <- function(x, digits = max(3L, getOption("digits") - 2L), ...) {
  check_dots(..., .method = "print.VarCorr.glmmgee_glmm_ordinal", .allow = print_dots)
  cat(sprintf(" Groups %s, (Intercept): variance %s, std. dev. %s\n", x$grp,
              format(signif(x$vcov, digits)), format(signif(x$sdcor, digits))))
  invisible(x)
}

#' @export
ranef.glmmgee_glmm_ordinal <- function(object, condVar = FALSE, type = c("mode", "mean"), ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_ordinal", .allow = "newdata")
  refuse_ranef_newdata(list(...), "cumulative link mixed models")
  check_flag(condVar, "condVar")
  type <- match.arg(type)
  r <- object$ranef
  est <- if (type == "mode") r$mode else r$mean
  v <- if (type == "mode") r$mode_var else r$var
  if (is.null(object$re_cov)) {
    df <- data.frame(`(Intercept)` = est, row.names = object$group_levels, check.names = FALSE)
    if (condVar) attr(df, "condVar") <- stats::setNames(v, object$group_levels)
  } else {
    # Random slopes: one row per cluster of b = Lambda u; condVar as a
    # q x q x M array (at the mode: the inverse curvature of the Laplace
    # approximation; for type = "mean": the quadrature's posterior covariance).
    q <- ncol(est)
    df <- as.data.frame(est, optional = TRUE)
    names(df) <- object$re_cnames
    rownames(df) <- object$group_levels
    if (condVar)
      attr(df, "postVar") <- attr(df, "condVar") <-
        array(t(v), c(q, q, nrow(est)), list(object$re_cnames, object$re_cnames, object$group_levels))
  }
  stats::setNames(list(df), object$group_name)
}

#' @export
fitted.glmmgee_glmm_ordinal <- function(object, ...) {
  check_dots(..., .method = "fitted.glmmgee_glmm_ordinal")
  P <- predict(object, type = "prob", re.form = NULL)
  # (the fitted rows of P: na.exclude's rows are NA rows of P, and NA here)
  na <- object$na.action
  rows <- if (inherits(na, "exclude")) seq_len(nrow(P))[-na] else seq_len(nrow(P))
  stats::napredict(na, P[cbind(rows, object$y)])
}

# One grouping factor, or several terms (each term's random intercepts).
#' @export
simulate.glmmgee_glmm_ordinal <- function(object, nsim = 1, seed = NULL,
                                          re = c("new", "fitted"), ...) {
  check_dots(..., .method = "simulate.glmmgee_glmm_ordinal", .allow = c("newdata", "re.form", "use.u", "na.action"))
  simulate_refuse_newdata(object, list(...))
  check_nsim(nsim)
  re <- ordinal_simulate_re(re, list(...))
  if (!is.null(seed)) set.seed(seed)
  eta0 <- drop(object$X %*% object$coefficients) + (object$offset %||% 0)
  if (!is.null(object$reterms))
    return(ordinal_simulate(object, nsim, function() {
      eta <- eta0
      for (k in seq_along(object$reterms)) {
        tm <- object$reterms[[k]]
        b <- if (re == "new") stats::rnorm(length(tm$levels), 0, object$sd_re[[k]]) else tm$b[, 1L]
        eta <- eta + b[tm$index]
      }
      eta
    }))
  M <- length(object$group_levels)
  Z <- ordinal_re_Z(object)
  draw <- if (re == "fitted") {
    function() ordinal_re_modes(object)
  } else if (is.null(object$re_cov)) {
    function() matrix(stats::rnorm(M, 0, object$sigma_re))
  } else {
    # Sigma may be singular (a variance at zero): its symmetric square root.
    q <- ncol(Z)
    ev <- eigen(object$re_cov, symmetric = TRUE)
    root <- ev$vectors %*% diag(sqrt(pmax(ev$values, 0)), q) %*% t(ev$vectors)
    function() matrix(stats::rnorm(M * q), M, q) %*% root
  }
  ordinal_simulate(object, nsim,
                   function() eta0 + rowSums(Z * draw()[object$group, , drop = FALSE]))
}

# simulate()'s `re`, or lme4's and the other glmm fits' `re.form` (NA: new
# random effects, NULL: the fitted ones), which was swallowed by '...' and
# re.form = NULL simulated new random effects; or lme4's `use.u` (TRUE: the
# fitted ones), kept as an element re.form = NULL (`dots$re.form <- NULL`
# would drop it, and use.u = TRUE drew new random effects).
ordinal_simulate_re <- function(re, dots) {
  if ("use.u" %in% names(dots))
    dots["re.form"] <- list(use_u_re_form(dots$use.u, "re.form" %in% names(dots)))
  if (!"re.form" %in% names(dots)) return(match.arg(re, c("new", "fitted")))
  if (simulate_new_re(dots[["re.form"]])) "new" else "fitted"
}

# nsim responses, each drawn from the category probabilities at the linear
# predictor eta_fun() returns (which draws the random effects).
ordinal_simulate <- function(object, nsim, eta_fun) {
  out <- lapply(seq_len(nsim), function(s) {
    P <- category_probs(object$family, object$thresholds, eta_fun())
    u <- stats::runif(nrow(P))
    k <- rowSums(u > t(apply(P, 1L, cumsum))) + 1L
    k <- pmin(k, ncol(P))
    factor(object$y_levels[k], levels = object$y_levels, ordered = TRUE)
  })
  names(out) <- paste0("sim_", seq_len(nsim))
  as.data.frame(out)
}
