# Wald confidence intervals shared by the confint() methods, so that every
# method checks `parm` and `level` the same way (an unknown name is an
# error, not an NA row; a level outside (0, 1) is an error, not NaN).

# The checked arguments of a confint() method: `parm` as coefficient names
# (all by default) and the two tail probabilities with their column labels.
confint_args <- function(names, parm, level) {
  parm <- match_parm(if (missing(parm)) NULL else parm, names, default = names)
  check_level(level)
  a <- (1 - level) / 2
  list(parm = parm, tails = c(a, 1 - a),
       labels = paste(format(100 * c(a, 1 - a), trim = TRUE, scientific = FALSE,
                             digits = 3L), "%"))
}

# Wald intervals estimate +/- z se for coefficients `cf` (z the t quantile
# with the degrees of freedom `df` where given). `vc` is the
# covariance or a function returning it, called only once the arguments
# have passed (computing some covariances costs a refit).
wald_confint <- function(cf, vc, parm, level, df = NULL) {
  a <- confint_args(names(cf), parm, level)
  V <- if (is.function(vc)) vc() else vc
  se <- sqrt(diag(V))[a$parm]
  z <- wald_quantile(a$tails[2L], if (!is.null(df)) df[a$parm])
  ci <- cbind(cf[a$parm] - z * se, cf[a$parm] + z * se)
  dimnames(ci) <- list(a$parm, a$labels)
  ci
}
