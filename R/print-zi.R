# The coefficient tables, summary and print of a two-part fit (glmm()
# with a zero or dispersion part: methods-zi.R).

# Coefficient table of one part: estimate, standard error, z and p.
zi_coef_table <- function(object, idx, robust = NULL) {
  est <- object$theta[idx]
  if (!is.null(robust)) {
    se <- sqrt(pmax(diag(robust$vcov)[idx], 0))
    C <- matrix(0, length(idx), length(object$theta))
    C[cbind(seq_along(idx), idx)] <- 1
    return(coef_t_table(est, se, robust$df(C)))
  }
  se <- sqrt(pmax(cov_diag(object$cov_theta)[idx], 0))
  z <- est / se
  cbind(Estimate = est, `Std. Error` = se, `z value` = z,
        `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
}

# print(), summary() and the summary's print() of a two-part fit
# (print.glmmgee_glmm() chooses them by the fit's $aux). `robust`: a
# cluster-robust covariance of all parameters (parameter_vcov_choice()),
# whose standard errors and t tests with Satterthwaite degrees of freedom
# the tables then show.
summary_zi <- function(object, robust = NULL) {
  p <- length(object$coefficients)
  a <- object$aux
  tabs <- list(cond = zi_coef_table(object, seq_len(p), robust))
  if (!is.null(a$zi_index)) tabs$zi <- zi_coef_table(object, a$zi_index, robust)
  if (!is.null(a$disp_index)) tabs$disp <- zi_coef_table(object, a$disp_index, robust)
  for (k in names(tabs)) rownames(tabs[[k]]) <- sub("^(zi|disp)~", "", rownames(tabs[[k]]))
  # (coef() of the summary gives the tables as glmmTMB's does: cond, zi
  # and disp, NULL for a part the model does not have)
  structure(list(object = object, tables = tabs,
                 coefficients = list(cond = tabs$cond, zi = tabs$zi, disp = tabs$disp),
                 vcov_label = if (!is.null(robust))
                   satterthwaite_label(robust$label, "tests")),
            class = "summary.glmmgee_glmm_zi")
}

print_summary_zi <- function(x, digits) {
  print_zi_head(x$object, digits)
  zi_tables(x$tables, x$object, digits, full = TRUE)
  if (!is.null(x$vcov_label)) cat("\nStandard errors: ", x$vcov_label, "\n", sep = "")
  for (b in glmm_blocks(x$object)) b$show(x$object, digits)
}

# (the blocks of the parts present: covariance structures of either part)
print_zi <- function(x, digits) {
  print_zi_head(x, digits)
  zi_tables(summary_zi(x)$tables, x, digits, full = FALSE)
  for (b in glmm_blocks(x)) b$show(x, digits)
}

print_zi_head <- function(x, digits) {
  a <- x$aux
  cat(sprintf("GLMM (%s, %s link) fitted by %s%s%s\n", a$family_name, x$family$link,
              if (!is.null(x$penalty)) "penalized maximum likelihood, " else "",
              sub("^AGHQ$", "adaptive Gauss-Hermite quadrature", x$optinfo$method %||% "Laplace"),
              if (x$nAGQ > 1L) sprintf(" (nAGQ = %d)", x$nAGQ) else ""))
  cat("Formula:", paste(deparse(x$formula), collapse = " "), "\n")
  if (!is.null(a$zi)) cat(if (a$kind == "hurdle") "Zero (hurdle) formula:" else "Zero-inflation formula:",
                          paste(deparse(a$zi$formula), collapse = " "), "\n")
  if (!is.null(a$disp$zero_log_sd))
    cat(sprintf("Dispersion formula: ~ 0 (no residual variance: its standard deviation held at %s)\n",
                format(exp(a$disp$zero_log_sd), digits = digits)))
  else if (!is.null(a$disp) && (length(a$disp$coef) != 1L || !is.null(a$disp$re) ||
                                  !is.null(a$disp$offset)))
    cat("Dispersion formula:", paste(deparse(a$disp$formula), collapse = " "), "\n")
  # (the groups of the conditional part's terms, else of the other parts')
  second <- c(a$zi$re$terms, a$disp$re$terms)
  groups <- if (length(x$group_name)) sprintf("%d %s", x$ngroups, x$group_name)
            else unique(vapply(second, function(tm) sprintf("%d %s", length(tm$levels), tm$group), ""))
  cat(sprintf("%s = %s  (df = %d, %d observations, %s)\n",
              if (isTRUE(x$REML)) "REML criterion (restricted logLik)" else "logLik",
              format(x$loglik, digits = digits + 3L), x$df, x$nobs,
              paste(groups, collapse = ", ")))
  print_penalty(x$penalty, digits)
  terms <- if (isTRUE(a$sparse)) x$reterms
           else list(list(group = x$group_name, D = x$D))
  if (isTRUE(a$zi$re$sparse))
    terms <- c(terms, lapply(a$zi$re$terms, function(tm)
      list(group = paste(tm$group, "(zero part)"), D = tm$D)))
  if (!is.null(a$disp$re))
    terms <- c(terms, lapply(a$disp$re$terms, function(tm)
      list(group = paste(tm$group, "(dispersion, log scale)"), D = tm$D)))
  if (!is.null(a$zi$re) && !isTRUE(a$zi$re$sparse))
    terms <- c(terms, list(list(group = paste(x$group_name, "(zero part)"), D = a$zi$re$D)))
  for (tm in terms) {
    sds <- sqrt(diag(tm$D))
    cat("Random effects (", tm$group, "), standard deviations: ",
        paste(sprintf("%s %s", rownames(tm$D) %||% names(sds), format(sds, digits = digits)),
              collapse = ", "), "\n", sep = "")
  }
  for (w in x$optinfo$warnings) cat("Warning:", w, "\n")
}

zi_tables <- function(tabs, x, digits, full) {
  a <- x$aux
  show <- function(title, tab, none = "(no fixed effect)") {
    cat("\n", title, "\n", sep = "")
    if (!NROW(tab)) return(cat(none, "\n", sep = ""))
    if (full) stats::printCoefmat(tab, digits = digits)
    else print(stats::setNames(tab[, 1L], rownames(tab)), digits = digits)
  }
  grp <- paste(unique(x$group_name), collapse = " and ")
  scale <- if (x$family$family %in% c("poisson", "nbinom2", "nbinom1")) "log mean of the count part"
           else paste(x$family$link, "link of the mean")
  show(if (nzchar(grp)) sprintf("Conditional model (%s, given the random effects of %s):", scale, grp)
       else sprintf("Conditional model (%s; no random effect):", scale), tabs$cond)
  if (isTRUE(a$zi$re$sparse)) grp <- paste(unique(a$zi$re$group_name), collapse = " and ")
  if (!is.null(tabs$zi))
    show(sprintf(if (is.null(a$zi$re) && !nzchar(grp)) "%s (logit; no random effect):%s"
                 else if (is.null(a$zi$re)) "%s (logit; no random effect, the same in every %s):"
                 else "%s (logit, given the random effects of %s):",
                 if (a$kind == "hurdle") "Zero (hurdle) model, P(y = 0)"
                 else "Zero-inflation model, P(structural zero)", grp), tabs$zi)
  if (!is.null(tabs$disp)) {
    nm <- switch(x$family$family, gaussian = "sigma", nbinom2 = "theta", Gamma = "shape",
                 "phi")
    show(if (is.null(a$disp$re)) sprintf("Dispersion model (log %s; no random effect):", nm)
         else sprintf("Dispersion model (log %s, given the random effects of %s):", nm,
                      paste(unique(a$disp$re$group_name), collapse = " and ")), tabs$disp,
         if (!is.null(a$disp$zero_log_sd)) "(none: dispformula = ~ 0)"
         else if (!is.null(a$disp$offset)) "(no coefficient: the offset gives each row's value)"
         else "(no fixed effect)")
  }
}
