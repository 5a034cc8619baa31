# Methods of cumulative link mixed models with random slopes (class
# glmmgee_glmm_ordinal_re, which extends glmmgee_glmm_ordinal): where the
# random intercept's sigma is used by the parent's methods, these use the
# q x q covariance Sigma. print, summary, confint, vcov, ranef, predict and
# simulate are the parent's (methods-ordinal.R), which read re_cov and Z
# when present.

ordinal_re_sd_corr <- function(S) {
  sd <- sqrt(diag(S))
  list(sd = sd, corr = S / outer(sd, sd))
}

#' @export
VarCorr.glmmgee_glmm_ordinal_re <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_ordinal_re")
  refuse_varcorr_sigma(!missing(sigma), "cumulative link models")
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

# The random-effect design of newdata (or of the fitted data), coded as the
# fit's (newdata_re_term_design(), predict-glmm.R): model.matrix(~ lhs,
# newdata) recomputed scale(x) on the new rows, failed on a factor with one
# level or another order, and dropped a row with a missing value.
ordinal_re_design <- function(object, newdata) {
  if (is.null(newdata)) return(object$Z)
  env <- environment(object$formula) %||% parent.frame()
  Zs <- lapply(object$re_lhs, newdata_re_term_design, group = object$group_name,
               frame = object$model, data = newdata, env = env)
  Z <- do.call(cbind, Zs)
  if (!all(object$re_cnames %in% colnames(Z)))
    stop("'newdata' does not give the random-effects columns of the fit (",
         paste(object$re_cnames, collapse = ", "), ")", call. = FALSE)
  Z[, object$re_cnames, drop = FALSE]
}
