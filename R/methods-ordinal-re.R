# Methods of cumulative link mixed models with random slopes (class
# glmmgee_glmm_ordinal_re, which extends glmmgee_glmm_ordinal): where the
# random intercept's sigma is used by the parent's methods, these use the
# q x q covariance Sigma and the random-effect design Z.

ordinal_re_sd_corr <- function(S) {
  sd <- sqrt(diag(S))
  list(sd = sd, corr = S / outer(sd, sd))
}

#' @export
print.glmmgee_glmm_ordinal_re <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat(sprintf("Cumulative link mixed model (%s link), fitted by maximum likelihood (%s)\n",
              x$family$link, ordinal_approx_label(x)))
  cat("Formula:", paste(deparse(x$formula), collapse = " "), "\n")
  ll <- x$loglik
  cat(sprintf(" logLik %s  AIC %s  BIC %s\n", format(round(ll, 4)),
              format(round(-2 * ll + 2 * x$df, 2)),
              format(round(-2 * ll + log(x$nobs) * x$df, 2))))
  cat(sprintf("%d observations, %d clusters (%s); %d response categories\n", x$nobs,
              x$ngroups, x$group_name, length(x$y_levels)))
  cat(sprintf("Random effects on %s%s:\n", x$group_name, if (x$singular) " (singular fit)" else ""))
  print(VarCorr(x), digits = digits)
  cat("Coefficients (conditional on the random effects):\n")
  print(signif(x$coefficients, digits))
  cat("Thresholds:\n")
  print(signif(x$thresholds, digits))
  if (length(x$optinfo$warnings))
    cat(paste0("Note: ", x$optinfo$warnings, "\n"), sep = "")
  invisible(x)
}

#' @export
summary.glmmgee_glmm_ordinal_re <- function(object, ...) {
  se <- sqrt(diag(object$cov_psi))
  k1 <- length(object$thresholds)
  p <- length(object$coefficients)
  est <- object$psi[k1 + seq_len(p)]
  z <- est / se[k1 + seq_len(p)]
  tab <- cbind(Estimate = est, `Std. Error` = se[k1 + seq_len(p)], `z value` = z,
               `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  th <- cbind(Estimate = object$psi[seq_len(k1)], `Std. Error` = se[seq_len(k1)])
  structure(list(fit = object, coefficients = tab, thresholds = th),
            class = "summary.glmmgee_glmm_ordinal_re")
}

#' @export
print.summary.glmmgee_glmm_ordinal_re <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print.glmmgee_glmm_ordinal_re(x$fit, digits = digits)
  cat("\nCoefficients (conditional: for a given cluster, its random effects fixed):\n")
  stats::printCoefmat(x$coefficients, digits = digits)
  cat("\nThresholds (P(Y <= j) = F(threshold_j - eta)):\n")
  print(signif(x$thresholds, digits))
  invisible(x)
}

#' @export
vcov.glmmgee_glmm_ordinal_re <- function(object, full = FALSE, ...) {
  k <- length(object$thresholds) + length(object$coefficients)
  if (full) object$cov_psi else object$cov_psi[seq_len(k), seq_len(k), drop = FALSE]
}

#' @export
confint.glmmgee_glmm_ordinal_re <- function(object, parm, level = 0.95, ...) {
  check_level(level)
  k <- length(object$thresholds) + length(object$coefficients)
  est <- object$psi[seq_len(k)]
  se <- sqrt(diag(object$cov_psi))[seq_len(k)]
  z <- stats::qnorm(1 - (1 - level) / 2)
  ci <- cbind(est - z * se, est + z * se)
  pct <- paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE), "%")
  dimnames(ci) <- list(names(est), pct)
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @export
VarCorr.glmmgee_glmm_ordinal_re <- function(x, sigma = 1, ...) {
  sc <- ordinal_re_sd_corr(x$re_cov)
  structure(list(group = x$group_name, cov = x$re_cov, sd = sc$sd, corr = sc$corr),
            class = "VarCorr.glmmgee_glmm_ordinal_re")
}

#' @export
print.VarCorr.glmmgee_glmm_ordinal_re <- function(x, digits = max(3L, getOption("digits") - 2L), ...) {
  tab <- data.frame(Groups = c(x$group, rep("", length(x$sd) - 1L)), Name = names(x$sd),
                    Variance = signif(diag(x$cov), digits), Std.Dev. = signif(x$sd, digits),
                    check.names = FALSE)
  if (length(x$sd) > 1L) {
    cr <- format(round(x$corr, 3L))
    cr[upper.tri(cr, diag = TRUE)] <- ""
    tab <- cbind(tab, Corr = cr[, -ncol(cr), drop = FALSE])
    names(tab)[-(1:4)] <- rep("Corr", ncol(cr) - 1L)
  }
  print(tab, row.names = FALSE)
  invisible(x)
}

# ranef(): modes (or posterior means) of b = Lambda u, one row per cluster;
# condVar = TRUE attaches their conditional covariances as a q x q x M array
# (at the mode: the inverse curvature of the Laplace approximation; for
# type = "mean": the quadrature's posterior covariance).
#' @export
ranef.glmmgee_glmm_ordinal_re <- function(object, condVar = FALSE, type = c("mode", "mean"), ...) {
  refuse_ranef_newdata(list(...), "cumulative link mixed models")
  type <- match.arg(type)
  r <- object$ranef
  est <- if (type == "mode") r$mode else r$mean
  v <- if (type == "mode") r$mode_var else r$var
  q <- ncol(est)
  df <- as.data.frame(est, optional = TRUE)
  names(df) <- object$re_cnames
  rownames(df) <- object$group_levels
  if (condVar)
    attr(df, "postVar") <- attr(df, "condVar") <-
      array(t(v), c(q, q, nrow(est)), list(object$re_cnames, object$re_cnames, object$group_levels))
  stats::setNames(list(df), object$group_name)
}

# The random-effect design of newdata (or of the fitted data).
ordinal_re_design <- function(object, newdata) {
  if (is.null(newdata)) return(object$Z)
  Zs <- lapply(object$re_lhs, function(lhs)
    stats::model.matrix(stats::as.formula(call("~", lhs)), newdata))
  Z <- do.call(cbind, Zs)
  Z[, object$re_cnames, drop = FALSE]
}

#' @export
predict.glmmgee_glmm_ordinal_re <- function(object, newdata = NULL,
                                            type = c("prob", "prob_marginal", "class", "linear"),
                                            re.form = NA, nAGQ = 30L, ...) {
  type <- match.arg(type)
  nd <- ordinal_newdata(object, newdata)
  eta <- drop(nd$X %*% object$coefficients) + nd$offset
  Z <- if (type == "prob_marginal" || is.null(re.form)) ordinal_re_design(object, newdata)
  if (type != "prob_marginal" && is.null(re.form)) {
    if (is.null(nd$group))
      stop(sprintf("'newdata' needs the grouping variable '%s' for re.form = NULL",
                   object$group_name), call. = FALSE)
    B <- object$ranef$mode[nd$group, , drop = FALSE]
    B[is.na(B)] <- 0  # new clusters: a typical one
    eta <- eta + rowSums(Z * B)
  } else if (!is.null(re.form) && !(length(re.form) == 1L && is.na(re.form)))
    stop("'re.form' must be NA (random effects 0) or NULL (the fitted clusters' modes)",
         call. = FALSE)
  if (type == "linear") return(eta)
  if (type == "prob_marginal") {
    # z'b ~ N(0, z' Sigma z): one integral per row.
    s <- sqrt(pmax(rowSums((Z %*% object$re_cov) * Z), 0))
    return(ordinal_marginal_probs(object$family, object$thresholds, eta, s, nAGQ,
                                  object$y_levels))
  }
  P <- category_probs(object$family, object$thresholds, eta, object$y_levels)
  if (type == "prob") return(P)
  factor(object$y_levels[max.col(P, ties.method = "first")], levels = object$y_levels,
         ordered = TRUE)
}

#' @export
simulate.glmmgee_glmm_ordinal_re <- function(object, nsim = 1, seed = NULL,
                                             re = c("new", "fitted"), ...) {
  re <- match.arg(re)
  if (!is.null(seed)) set.seed(seed)
  eta0 <- drop(object$X %*% object$coefficients) + (object$offset %||% 0)
  M <- length(object$group_levels)
  q <- ncol(object$Z)
  # Sigma may be singular (a variance at zero): its symmetric square root.
  ev <- eigen(object$re_cov, symmetric = TRUE)
  root <- ev$vectors %*% diag(sqrt(pmax(ev$values, 0)), q) %*% t(ev$vectors)
  out <- lapply(seq_len(nsim), function(s) {
    B <- if (re == "new") matrix(stats::rnorm(M * q), M, q) %*% root else object$ranef$mode
    eta <- eta0 + rowSums(object$Z * B[object$group, , drop = FALSE])
    P <- category_probs(object$family, object$thresholds, eta)
    u <- stats::runif(nrow(P))
    k <- rowSums(u > t(apply(P, 1L, cumsum))) + 1L
    k <- pmin(k, ncol(P))
    factor(object$y_levels[k], levels = object$y_levels, ordered = TRUE)
  })
  names(out) <- paste0("sim_", seq_len(nsim))
  as.data.frame(out)
}
