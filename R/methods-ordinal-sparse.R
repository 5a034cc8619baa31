# Methods of cumulative link mixed models with several random-intercept
# terms (class c("glmmgee_glmm_ordinal_sparse", "glmmgee_glmm_ordinal")).
# print, summary, confint, logLik, coef, VarCorr, predict, fitted,
# simulate, anova, odds_ratios() and standardize() are those of one grouping
# factor (methods-ordinal.R, interpret-ordinal.R), which read the fields of
# several terms where they differ.

#' @export
ranef.glmmgee_glmm_ordinal_sparse <- function(object, condVar = FALSE, ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_ordinal_sparse", .allow = "newdata")
  refuse_ranef_newdata(list(...), "cumulative link mixed models")
  check_flag(condVar, "condVar")
  w <- object$prior.weights
  out <- lapply(object$reterms, function(tm) {
    keep <- active_clusters(tm$index, w, length(tm$levels))
    df <- data.frame(`(Intercept)` = tm$b[keep, 1L], row.names = tm$levels[keep],
                     check.names = FALSE)
    if (condVar) attr(df, "condVar") <- stats::setNames(tm$condvar[1L, 1L, keep],
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
