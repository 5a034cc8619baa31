# Methods of cumulative link mixed models with random slopes (class
# glmmgee_glmm_ordinal_re, which extends glmmgee_glmm_ordinal): where the
# random intercept's sigma is used by the parent's methods, these use the
# q x q covariance Sigma. print, vcov, ranef, predict and simulate are the
# parent's (methods-ordinal.R), which read re_cov and Z when present.

ordinal_re_sd_corr <- function(S) {
  sd <- sqrt(diag(S))
  list(sd = sd, corr = S / outer(sd, sd))
}

#' @export
summary.glmmgee_glmm_ordinal_re <- function(object, ...) {
  check_dots(..., .method = "summary.glmmgee_glmm_ordinal_re")
  se <- sqrt(diag(object$cov_psi))
  k1 <- length(object$thresholds)
  p <- length(object$coefficients)
  tab <- ordinal_z_table(object$psi[k1 + seq_len(p)], se[k1 + seq_len(p)])
  th <- cbind(Estimate = object$psi[seq_len(k1)], `Std. Error` = se[seq_len(k1)])
  structure(list(fit = object, coefficients = tab, thresholds = th),
            class = "summary.glmmgee_glmm_ordinal_re")
}

#' @export
print.summary.glmmgee_glmm_ordinal_re <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.summary.glmmgee_glmm_ordinal_re", .allow = print_dots)
  print.glmmgee_glmm_ordinal(x$fit, digits = digits)
  ordinal_print_summary_coefs(x, digits, "for a given cluster, its random effects fixed")
  invisible(x)
}

#' @export
confint.glmmgee_glmm_ordinal_re <- function(object, parm, level = 0.95, ...) {
  check_dots(..., .method = "confint.glmmgee_glmm_ordinal_re", .allow = "method")
  ordinal_confint_method(list(...)$method, object)
  k <- length(object$thresholds) + length(object$coefficients)
  ordinal_confint(object$psi[seq_len(k)], sqrt(diag(object$cov_psi))[seq_len(k)], level,
                  if (!missing(parm)) parm)
}

#' @export
VarCorr.glmmgee_glmm_ordinal_re <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_ordinal_re")
  sc <- ordinal_re_sd_corr(x$re_cov)
  structure(list(group = x$group_name, cov = x$re_cov, sd = sc$sd, corr = sc$corr),
            class = "VarCorr.glmmgee_glmm_ordinal_re")
}

#' @export
print.VarCorr.glmmgee_glmm_ordinal_re <- function(x, digits = max(3L, getOption("digits") - 2L), ...) {
  check_dots(..., .method = "print.VarCorr.glmmgee_glmm_ordinal_re", .allow = print_dots)
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

# The random-effect design of newdata (or of the fitted data).
ordinal_re_design <- function(object, newdata) {
  if (is.null(newdata)) return(object$Z)
  Zs <- lapply(object$re_lhs, function(lhs)
    stats::model.matrix(stats::as.formula(call("~", lhs)), newdata))
  Z <- do.call(cbind, Zs)
  Z[, object$re_cnames, drop = FALSE]
}
