# Methods of cumulative link mixed models with several random-intercept
# terms (class c("glmmgee_glmm_ordinal_sparse", "glmmgee_glmm_ordinal")).
# logLik, nobs, fixef, coef, formula, family, anova, odds_ratios() and
# standardize() are those of one grouping factor (methods-ordinal.R,
# interpret-ordinal.R), which read fields that mean the same here.

#' @export
print.glmmgee_glmm_ordinal_sparse <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat(sprintf("Cumulative link mixed model (%s link), fitted by maximum likelihood (Laplace approximation, sparse engine)\n",
              x$family$link))
  cat("Formula:", paste(deparse(x$formula), collapse = " "), "\n")
  ll <- x$loglik
  cat(sprintf(" logLik %s  AIC %s  BIC %s\n", format(round(ll, 4)),
              format(round(-2 * ll + 2 * x$df, 2)),
              format(round(-2 * ll + log(x$nobs) * x$df, 2))))
  cat(sprintf("%d observations; %s; %d response categories\n", x$nobs,
              paste(sprintf("%d levels of %s", x$ngroups, x$group_name), collapse = ", "),
              length(x$y_levels)))
  cat("Random intercepts, standard deviations:",
      paste(sprintf("%s %s", x$group_name, format(signif(x$sd_re, digits))), collapse = ", "),
      if (x$singular) "(singular fit)", "\n")
  cat("Coefficients (conditional on the random intercepts):\n")
  print(signif(x$coefficients, digits))
  cat("Thresholds:\n")
  print(signif(x$thresholds, digits))
  cat("Population-averaged (marginal over the sum of the random intercepts): odds_ratios(type = \"marginal\"), predict(type = \"prob_marginal\"), standardize()\n")
  if (length(x$optinfo$warnings))
    cat(paste0("Note: ", x$optinfo$warnings, "\n"), sep = "")
  invisible(x)
}

#' @export
summary.glmmgee_glmm_ordinal_sparse <- function(object, ...) {
  se <- sqrt(diag(object$cov_par))
  k1 <- length(object$thresholds)
  p <- length(object$coefficients)
  tab <- function(idx) {
    est <- object$par[idx]
    z <- est / se[idx]
    cbind(Estimate = est, `Std. Error` = se[idx], `z value` = z,
          `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  }
  structure(list(fit = object, coefficients = tab(k1 + seq_len(p)),
                 thresholds = tab(seq_len(k1))[, 1:2, drop = FALSE],
                 sd = cbind(`Std. Dev.` = object$sd_re,
                            `Std. Error` = se[k1 + p + seq_along(object$sd_re)])),
            class = "summary.glmmgee_glmm_ordinal_sparse")
}

#' @export
print.summary.glmmgee_glmm_ordinal_sparse <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print.glmmgee_glmm_ordinal_sparse(x$fit, digits = digits)
  cat("\nRandom intercepts (independent terms):\n")
  print(signif(x$sd, digits))
  cat("\nCoefficients (conditional: for given random intercepts):\n")
  stats::printCoefmat(x$coefficients, digits = digits)
  cat("\nThresholds (P(Y <= j) = F(threshold_j - eta)):\n")
  print(signif(x$thresholds, digits))
  invisible(x)
}

#' @export
vcov.glmmgee_glmm_ordinal_sparse <- function(object, full = FALSE, ...) {
  k <- length(object$thresholds) + length(object$coefficients)
  if (full) object$cov_par else object$cov_par[seq_len(k), seq_len(k), drop = FALSE]
}

# Wald intervals; a standard deviation's on the log scale (NA on the boundary).
#' @export
confint.glmmgee_glmm_ordinal_sparse <- function(object, parm, level = 0.95, ...) {
  check_level(level)
  est <- object$par
  se <- sqrt(diag(object$cov_par))
  z <- stats::qnorm(1 - (1 - level) / 2)
  ci <- cbind(est - z * se, est + z * se)
  s <- length(est) - length(object$sd_re) + seq_along(object$sd_re)
  ci[s, ] <- exp(log(est[s]) + outer(se[s] / est[s], c(-z, z)))
  pct <- paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE), "%")
  dimnames(ci) <- list(names(est), pct)
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @export
VarCorr.glmmgee_glmm_ordinal_sparse <- function(x, sigma = 1, ...) {
  out <- data.frame(grp = x$group_name, var1 = "(Intercept)", vcov = unname(x$sd_re^2),
                    sdcor = unname(x$sd_re), stringsAsFactors = FALSE)
  class(out) <- c("VarCorr.glmmgee_glmm_ordinal", "data.frame")
  out
}

#' @export
ranef.glmmgee_glmm_ordinal_sparse <- function(object, condVar = FALSE, ...) {
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
ordinal_sparse_eta <- function(object, newdata, re.form) {
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
    b <- unname(tm$b[match(g, tm$levels), 1L])
    b[is.na(b)] <- 0  # a level not in the fit: a typical one
    eta <- eta + b
  }
  eta
}

ordinal_newdata_fixed <- function(object, newdata) {
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  tt <- stats::delete.response(object$terms)
  mf <- stats::model.frame(tt, newdata, xlev = object$xlevels, na.action = stats::na.pass)
  X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
  list(X = X[, colnames(object$X), drop = FALSE],
       offset = stats::model.offset(mf) %||% rep(0, nrow(X)))
}

#' @export
predict.glmmgee_glmm_ordinal_sparse <- function(object, newdata = NULL,
                                                type = c("prob", "prob_marginal", "class", "linear"),
                                                re.form = NA, nAGQ = 30L, ...) {
  type <- match.arg(type)
  if (type == "prob_marginal") {
    eta <- ordinal_sparse_eta(object, newdata, NA)
    return(ordinal_marginal_probs(object$family, object$thresholds, eta, object$sigma_re,
                                  nAGQ, object$y_levels))
  }
  eta <- ordinal_sparse_eta(object, newdata, re.form)
  if (type == "linear") return(eta)
  P <- category_probs(object$family, object$thresholds, eta, object$y_levels)
  if (type == "prob") return(P)
  factor(object$y_levels[max.col(P, ties.method = "first")], levels = object$y_levels,
         ordered = TRUE)
}

#' @export
fitted.glmmgee_glmm_ordinal_sparse <- function(object, ...) {
  P <- predict(object, type = "prob", re.form = NULL)
  P[cbind(seq_len(nrow(P)), object$y)]
}

#' @export
simulate.glmmgee_glmm_ordinal_sparse <- function(object, nsim = 1, seed = NULL,
                                                 re = c("new", "fitted"), ...) {
  re <- match.arg(re)
  if (!is.null(seed)) set.seed(seed)
  eta0 <- drop(object$X %*% object$coefficients) + (object$offset %||% 0)
  out <- lapply(seq_len(nsim), function(s) {
    eta <- eta0
    for (k in seq_along(object$reterms)) {
      tm <- object$reterms[[k]]
      b <- if (re == "new") stats::rnorm(length(tm$levels), 0, object$sd_re[[k]]) else tm$b[, 1L]
      eta <- eta + b[tm$index]
    }
    P <- category_probs(object$family, object$thresholds, eta)
    k <- rowSums(stats::runif(nrow(P)) > t(apply(P, 1L, cumsum))) + 1L
    k <- pmin(k, ncol(P))
    factor(object$y_levels[k], levels = object$y_levels, ordered = TRUE)
  })
  names(out) <- paste0("sim_", seq_len(nsim))
  as.data.frame(out)
}
