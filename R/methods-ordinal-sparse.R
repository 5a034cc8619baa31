# Methods of cumulative link mixed models with several random-intercept
# terms (class c("glmmgee_glmm_ordinal_sparse", "glmmgee_glmm_ordinal")).
# logLik, nobs, fixef, coef, formula, family, anova, odds_ratios() and
# standardize() are those of one grouping factor (methods-ordinal.R,
# interpret-ordinal.R), which read fields that mean the same here.

#' @export
print.glmmgee_glmm_ordinal_sparse <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_glmm_ordinal_sparse", .allow = print_dots)
  ordinal_print_head(x, "Laplace approximation, sparse engine")
  cat(sprintf("%d observations; %s; %d response categories\n", x$nobs,
              paste(sprintf("%d levels of %s", x$ngroups, x$group_name), collapse = ", "),
              length(x$y_levels)))
  cat("Random intercepts, standard deviations:",
      paste(sprintf("%s %s", x$group_name, format(signif(x$sd_re, digits))), collapse = ", "),
      if (x$singular) "(singular fit)", "\n")
  ordinal_print_coefs(x, digits, "random intercepts")
  cat("Population-averaged (marginal over the sum of the random intercepts): odds_ratios(type = \"marginal\"), predict(type = \"prob_marginal\"), standardize()\n")
  ordinal_print_notes(x)
  invisible(x)
}

#' @export
summary.glmmgee_glmm_ordinal_sparse <- function(object, ...) {
  check_dots(..., .method = "summary.glmmgee_glmm_ordinal_sparse")
  se <- sqrt(diag(object$cov_par))
  k1 <- length(object$thresholds)
  p <- length(object$coefficients)
  tab <- function(idx) ordinal_z_table(object$par[idx], se[idx])
  structure(list(fit = object, coefficients = tab(k1 + seq_len(p)),
                 thresholds = tab(seq_len(k1))[, 1:2, drop = FALSE],
                 sd = cbind(`Std. Dev.` = object$sd_re,
                            `Std. Error` = se[k1 + p + seq_along(object$sd_re)])),
            class = "summary.glmmgee_glmm_ordinal_sparse")
}

#' @export
print.summary.glmmgee_glmm_ordinal_sparse <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.summary.glmmgee_glmm_ordinal_sparse", .allow = print_dots)
  print.glmmgee_glmm_ordinal_sparse(x$fit, digits = digits)
  cat("\nRandom intercepts (independent terms):\n")
  print(signif(x$sd, digits))
  ordinal_print_summary_coefs(x, digits, "for given random intercepts")
  invisible(x)
}

# Wald intervals; a standard deviation's on the log scale (NA on the boundary).
#' @export
confint.glmmgee_glmm_ordinal_sparse <- function(object, parm, level = 0.95, ...) {
  check_dots(..., .method = "confint.glmmgee_glmm_ordinal_sparse", .allow = "method")
  ordinal_confint_method(list(...)$method, object)
  est <- object$par
  se <- sqrt(diag(object$cov_par))
  s <- length(est) - length(object$sd_re) + seq_along(object$sd_re)
  # (log sd +/- z se(sd) / sd, exponentiated)
  sd <- est[s]
  est[s] <- log(sd)
  se[s] <- se[s] / sd
  ci <- ordinal_confint(est, se, level, if (!missing(parm)) parm, expo = s)
  ci
}

#' @export
VarCorr.glmmgee_glmm_ordinal_sparse <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_ordinal_sparse")
  out <- data.frame(grp = x$group_name, var1 = "(Intercept)", vcov = unname(x$sd_re^2),
                    sdcor = unname(x$sd_re), stringsAsFactors = FALSE)
  class(out) <- c("VarCorr.glmmgee_glmm_ordinal", "data.frame")
  out
}

#' @export
ranef.glmmgee_glmm_ordinal_sparse <- function(object, condVar = FALSE, ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_ordinal_sparse", .allow = "newdata")
  refuse_ranef_newdata(list(...), "cumulative link mixed models")
  w <- object$prior.weights
  out <- lapply(object$reterms, function(tm) {
    keep <- active_clusters(tm$index, w, length(tm$levels))
    df <- data.frame(`(Intercept)` = tm$b[keep, 1L], row.names = tm$levels[keep],
                     check.names = FALSE)
    if (isTRUE(condVar)) attr(df, "condVar") <- stats::setNames(tm$condvar[1L, 1L, keep],
                                                                tm$levels[keep])
    df
  })
  stats::setNames(out, object$group_name)
}

# eta = X beta + offset (+ the fitted random intercepts of the terms in
# re.form, zero for levels not in the fit), for the fitted rows or newdata.
ordinal_sparse_eta <- function(object, newdata, re.form, allow.new.levels = FALSE) {
  bars <- selected_bars(object, re.form)
  if (is.null(newdata)) {
    eta <- drop(object$X %*% object$coefficients) + (object$offset %||% 0)
    for (tm in object$reterms[bars]) eta <- eta + unname(tm$b[tm$index, 1L])
    return(eta)
  }
  nd <- ordinal_newdata_fixed(object, newdata)
  eta <- drop(nd$X %*% object$coefficients) + nd$offset
  env <- environment(object$formula) %||% parent.frame()
  for (tm in object$reterms[bars]) {
    if (!all(all.vars(tm$group_expr) %in% names(newdata)))
      stop(sprintf("'newdata' needs the grouping variable(s) of '%s' for its random intercepts (or re.form = NA)",
                   tm$group), call. = FALSE)
    g <- as.character(eval_grouping(tm$group_expr, newdata, env))
    # A level not in the fit is an error unless allow.new.levels (then a
    # typical one, b = 0), as for the other glmm fits.
    b <- unname(tm$b[match_levels(g, tm$levels, tm$group, allow.new.levels), 1L])
    b[is.na(b)] <- 0
    eta <- eta + b
  }
  eta
}

#' @export
predict.glmmgee_glmm_ordinal_sparse <- function(object, newdata = NULL,
                                                type = c("prob", "prob_marginal", "class", "linear",
                                                  "response", "link"),
                                                re.form = NA, nAGQ = 30L, se.fit = FALSE,
                                                allow.new.levels = FALSE, ...) {
  if (!is.null(newdata)) require_capability(object, "predict_newdata", "predict(newdata = )")
  check_dots(..., .method = "predict.glmmgee_glmm_ordinal_sparse")
  type <- ordinal_predict_type(type)
  check_flag(se.fit, "se.fit")
  if (se.fit && type == "class") ordinal_refuse_class_se()
  eta <- ordinal_sparse_eta(object, newdata, if (type == "prob_marginal") NA else re.form,
                            allow.new.levels)
  fit <- ordinal_predict_eta(object, eta, type, object$sigma_re, nAGQ)
  if (!se.fit) return(fit)
  # The one-factor delta methods (methods-ordinal.R); with re.form = NULL
  # (or a selection of terms) eta holds the modes, taken as known.
  X <- if (is.null(newdata)) object$X else ordinal_newdata_fixed(object, newdata)$X
  list(fit = fit, se.fit = if (type == "prob_marginal") ordinal_marginal_se(object, X, eta, NULL, nAGQ)
                          else ordinal_predict_se(object, X, eta, type))
}

# fitted(): fitted.glmmgee_glmm_ordinal() (methods-ordinal.R), the class
# it inherits, on this class's predict().

#' @export
simulate.glmmgee_glmm_ordinal_sparse <- function(object, nsim = 1, seed = NULL,
                                                 re = c("new", "fitted"), ...) {
  check_dots(..., .method = "simulate.glmmgee_glmm_ordinal_sparse", .allow = c("newdata", "re.form", "use.u", "na.action"))
  simulate_refuse_newdata(object, list(...))
  re <- ordinal_simulate_re(re, list(...))
  if (!is.null(seed)) set.seed(seed)
  eta0 <- drop(object$X %*% object$coefficients) + (object$offset %||% 0)
  ordinal_simulate(object, nsim, function() {
    eta <- eta0
    for (k in seq_along(object$reterms)) {
      tm <- object$reterms[[k]]
      b <- if (re == "new") stats::rnorm(length(tm$levels), 0, object$sd_re[[k]]) else tm$b[, 1L]
      eta <- eta + b[tm$index]
    }
    eta
  })
}
