# print(), summary() and the summary's print() of every GLMM fit but the
# ordinal ones: one driver that reads from the fit's fields which layout and
# which blocks to print (glmm_layout(), glmm_blocks()).

# The approximation to the likelihood a fit maximized, as fits are compared
# by it (anova(), AIC()); with `detail`, as print() shows it (an
# importance-sampling fit's Monte Carlo standard error added).
approximation_label <- function(object, detail = FALSE) {
  if (!is.null(object$ranef_dist)) return(dist_label(object))
  if (isTRUE(object$REML)) return("REML (exact restricted likelihood)")
  if (!is.null(.subset2(object, "second_order")))
    return("Second-order Laplace approximation")
  if (!is.null(imp <- .subset2(object, "importance")))
    return(sprintf("Importance sampling, %d draws%s", imp$draws,
                   if (detail) sprintf(" (Monte Carlo SE of the log-likelihood %.2g)", imp$loglik_se)
                   else ""))
  if (object$nAGQ > 1L)
    return(sprintf("Adaptive Gauss-Hermite quadrature, nAGQ = %d", object$nAGQ))
  if (object$family$family == "gaussian" && object$family$link == "identity")
    "Laplace approximation (exact for the gaussian family)"
  else if (is.null(object$call$nAGQ) && !inherits(object, "glmmgee_glmm_sparse") &&
           length(object$cnames) > 4L)
    sprintf(paste0("Laplace approximation (the default for %d random effects per cluster, ",
                   "where a quadrature grid would need nAGQ^%d points; set nAGQ for quadrature)"),
            length(object$cnames), length(object$cnames))
  else "Laplace approximation"
}

fit_criteria <- function(object) {
  ll <- logLik(object)
  c(logLik = as.numeric(ll), AIC = stats::AIC(ll), BIC = stats::BIC(ll),
    deviance = -2 * as.numeric(ll), df = attr(ll, "df"))
}

print_header <- function(object) {
  cat(if (isTRUE(object$REML)) "Linear mixed model fit by REML\n"
      else if (!is.null(object$penalty))
        "Generalized linear mixed model fit by penalized maximum likelihood (Student-t prior on the fixed effects)\n"
      else "Generalized linear mixed model fit by maximum likelihood\n")
  cat(" Approximation:", approximation_label(object, detail = TRUE), "\n")
  cat(" Family:", object$family$family, "(", object$family$link, ")\n")
  cat(" Formula:", paste(deparse(object$formula, width.cutoff = 500L), collapse = " "), "\n")
  if (!is.null(object$call$data))
    cat("    Data:", paste(deparse(object$call$data), collapse = " "), "\n")
}

# "g, 15" for one grouping factor; "a, 30; b, 12" for several (one per
# random-effect term, duplicates of `||` terms dropped).
clusters_text <- function(x) {
  txt <- unique(sprintf("%s, %d", x$group_name, as.integer(x$ngroups)))
  paste(txt, collapse = "; ")
}

print_notes <- function(warnings) {
  if (!length(warnings)) return(invisible())
  cat("\nNote", if (length(warnings) > 1L) "s", ":\n", sep = "")
  for (w in warnings) cat(" * ", w, "\n", sep = "")
  invisible()
}

#' Print and summarize a fitted GLMM
#'
#' `print()` shows the approximation used, the fit criteria, the random-effect
#' standard deviations and correlations, and the fixed effects. `summary()`
#' adds standard errors and Wald z tests, the variance components and the
#' optimizer record. Problems recorded at fitting time (singular fit, doubtful
#' convergence) are printed as notes.
#'
#' What a model has beyond the common layout is shown with it: a
#' zero-inflation, hurdle or dispersion formula gives one table per part
#' (count, zero and dispersion models; `summary()` with standard errors); a
#' bridge or nonparametric random intercept adds its distribution and the
#' comparison with the normal random intercept; covariance structures
#' (`ar1()`, `cs()`, ...) and a prior on the fixed effects add their lines; a
#' fit with a known covariance (`covariance =`) shows its terms and its
#' fixed effects with standard errors; a fit from [glmm_shards()] adds the
#' record of its distributed fitting.
#'
#' The fixed effects are **conditional (subject-specific)** effects: they act
#' on the linear predictor of a given cluster, holding its random effect
#' fixed. For non-identity links they differ from population-averaged
#' effects.
#'
#' @param x,object A fitted model from [glmm()], or its summary.
#' @param digits Number of significant digits.
#' @param signif.stars Show significance stars (as [printCoefmat()]).
#' @param vcov For `summary()`: the covariance of the fixed effects behind
#'   their standard errors, z and p values: `NULL` or `"model"` (the default,
#'   [vcov()] of the fit), a cluster-robust type `"CR0"`, `"CR1"`, `"CR2"` or
#'   `"CR3"` (as `vcov(fit, type = )`, see [vcov.glmmgee_glmm()]; where the
#'   fit's engine provides them) or a p x p covariance matrix of the fixed
#'   effects (e.g. from the sandwich package; its row and column names, if
#'   any, must be the fixed effects'). With a cluster-robust type the table
#'   has t values with Satterthwaite degrees of freedom (column `df`; see
#'   [vcov.glmmgee_glmm()]) instead of z values. The printed summary names the
#'   covariance used when it is not the model-based one. For zero-inflated,
#'   hurdle and dispersion-formula fits a cluster-robust type gives every
#'   part's table from the robust covariance of all parameters (a matrix is
#'   not accepted there); for cumulative link mixed models (random
#'   intercept) a cluster-robust type gives the coefficients' t tests and the
#'   thresholds' robust standard errors; not available for known-covariance
#'   fits.
#' @param cluster For `summary()` with a cluster-robust `vcov`: the
#'   clusters, as `vcov(fit, type = , cluster = )` takes them (`NULL`, the
#'   grouping factor that nests the random effects; a one-sided formula such
#'   as `~ clinic`; or a vector with one value per observation).
#' @param ... For `print()`, the formatting arguments of [print.default()]
#'   (accepted, the layout is fixed); for `summary()` not used: any other
#'   argument is an error.
#' @return `print()` returns `x` invisibly; `summary()` an object of class
#'   `summary.glmmgee_glmm` with components `coefficients` (estimate, standard error,
#'   z value, p-value; t value, df and p-value with a cluster-robust `vcov`), `varcor` ([VarCorr()]), `criteria`, `optinfo` and,
#'   with a `vcov` other than the model-based one, `vcov` (that matrix) and
#'   `vcov_label` (the line printed); for
#'   zero-inflation fits of class `summary.glmmgee_glmm_zi` (`object`, the fit,
#'   and `tables`, one per part: `cond`, `zi`, `disp`, which `coef()` of the
#'   summary returns), for known-covariance fits of class
#'   `summary.glmmgee_glmm_known` (`fit`, `coefficients` and, with a
#'   cluster-robust `vcov`, `vcov_label`).
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   fit
#'   summary(fit)
#'   # standard errors from the cluster-robust (CR2) covariance
#'   summary(fit, vcov = "CR2")
#' }
#' @name print.glmmgee_glmm
#' @export
print.glmmgee_glmm <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_glmm", .allow = print_dots)
  glmm_layout(x)$print(x, digits)
  invisible(x)
}

#' @rdname print.glmmgee_glmm
#' @export
summary.glmmgee_glmm <- function(object, vcov = NULL, cluster = NULL, ...) {
  check_dots(..., .method = "summary.glmmgee_glmm")
  layout <- glmm_layout(object)
  # zero-inflated, hurdle and dispersion-formula fits: every part's table
  # from the robust covariance of all parameters
  if (identical(layout$summary, summary_zi))
    return(summary_zi(object, parameter_vcov_choice(object, vcov, cluster, "summary()")))
  V <- fixef_vcov_choice(object, vcov, cluster, "summary()")
  if (is.null(V)) return(layout$summary(object))
  layout$summary(object, V)
}

# Summaries of zero-inflation and known-covariance fits keep their own
# classes (without summary.glmmgee_glmm): this method prints them too.
#' @rawNamespace S3method(print, summary.glmmgee_glmm_zi, print.summary.glmmgee_glmm)
#' @rawNamespace S3method(print, summary.glmmgee_glmm_known, print.summary.glmmgee_glmm)
#' @rdname print.glmmgee_glmm
#' @export
print.summary.glmmgee_glmm <- function(x, digits = max(3L, getOption("digits") - 3L),
                                       signif.stars = getOption("show.signif.stars"), ...) {
  check_dots(..., .method = "print.summary.glmmgee_glmm", .allow = print_dots)
  # A two-part summary holds its fit as `object`, a known-covariance one as `fit`.
  fit <- x[["object"]] %||% x[["fit"]]
  if (is.null(fit)) print_common_summary(x, digits, signif.stars, ...)
  else glmm_layout(fit)$print_summary(x, digits)
  invisible(x)
}

# How a GLMM fit prints, read from its fields: the layout of the whole fit
# (print, summary and the summary's print), and for the common layout the
# blocks of the parts present, each printed after it (glmm_blocks()).
glmm_layout <- function(x) {
  # zero-inflation, hurdle and dispersion-formula fits: one table per part
  if (!is.null(x$aux))
    return(list(print = print_zi, summary = summary_zi, print_summary = print_summary_zi))
  if (fit_engine(x)$name %in% c("known_gaussian", "known_laplace"))
    return(list(print = print_known, summary = summary_known, print_summary = print_summary_known))
  list(print = function(x, digits) {
    print_common(x, digits)
    for (b in glmm_blocks(x)) b$show(x, digits)
  }, summary = summary_common)
}

# The blocks that parts of a fit add after the common layout, for the fit
# or (`show`) its summary: `keep` gives the fields the summary carries for
# the block and the class it adds.
glmm_blocks <- function(x) {
  blocks <- list(
    # a bridge or nonparametric random intercept (methods-ranef-dist.R)
    list(present = !is.null(x$ranef_dist), summary_class = "summary.glmmgee_glmm_dist",
         keep = function(fit) list(ranef_dist = fit$ranef_dist, normal = fit$normal, dist_fit = fit),
         show = function(x, digits) print_ranef_dist(x[["dist_fit"]] %||% x, digits)),
    # covariance structures and the fixed-effect prior (covstruct-verify.R)
    list(present = !is.null(x$structures), summary_class = "summary.glmmgee_glmm_covstruct",
         keep = function(fit) list(structures = fit$structures, penalty = fit$penalty),
         show = function(x, digits) print_covstructs(x$structures, digits, x$penalty)),
    # a fit from shard files, whose rows stayed on the workers (methods-sharded.R)
    list(present = !is.null(x$distributed$rows_read), show = function(x, digits) print_distributed(x)))
  Filter(function(b) b$present, blocks)
}

print_common <- function(x, digits) {
  print_header(x)
  crit <- fit_criteria(x)
  # Not signif() first: that rounds each value alone and print() then pads
  # it with zeros to the common decimals (AIC 147.1215 shown as 147.1220).
  print(crit[c("logLik", "AIC", "BIC")], digits = digits + 2L)
  cat("Random effects:\n")
  print(VarCorr(x), digits = digits, comp = "Std.Dev.")
  print_family_par(x$family_par, digits)
  cat(sprintf("Number of obs: %d, clusters: %s\n", x$nobs, clusters_text(x)))
  cat("Fixed effects (conditional):\n")
  print.default(format(fixef(x), digits = digits), print.gap = 2L, quote = FALSE)
  print_notes(x$optinfo$warnings)
}

# The table of estimates, standard errors and t tests on `df` degrees of
# freedom (a cluster-robust covariance's Satterthwaite df).
coef_t_table <- function(est, se, df) {
  t <- est / se
  cbind(Estimate = est, `Std. Error` = se, `t value` = t, df = df,
        `Pr(>|t|)` = 2 * stats::pt(-abs(t), df))
}

# `V`: the covariance of the fixed effects from summary(vcov = ) (with its
# attribute "label"), NULL for the model-based one.
summary_common <- function(object, V = NULL) {
  beta <- fixef(object)
  se <- sqrt(pmax(diag(V %||% vcov(object)), 0))
  z <- beta / se
  df <- attr(V, "df")
  coefs <- if (is.null(df))
    cbind(Estimate = beta, `Std. Error` = se, `z value` = z, `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  else coef_t_table(beta, se, df)
  rownames(coefs) <- names(beta)
  # A distributed fit's rows stayed on the workers: no residuals.
  res <- if (inherits(object, "glmmgee_glmm_sharded")) NA_real_
         else residuals(object, type = "pearson")
  if (object$family$family %in% c("gaussian", "Gamma")) res <- res / object$sigma
  s <- structure(list(call = object$call, formula = object$formula, family = object$family,
                      approximation = approximation_label(object, detail = TRUE),
                      data = object$call$data,
                      criteria = fit_criteria(object), coefficients = coefs,
                      varcor = VarCorr(object), nobs = object$nobs,
                      ngroups = object$ngroups, group_name = object$group_name,
                      resid_quantiles = stats::quantile(res, na.rm = TRUE, names = FALSE),
                      optinfo = object$optinfo, nAGQ = object$nAGQ,
                      family_par = object$family_par, REML = isTRUE(object$REML),
                      importance = object$importance, second_order = object$second_order),
                 class = "summary.glmmgee_glmm")
  if (!is.null(V)) s[c("vcov", "vcov_label")] <- list(V, attr(V, "label"))
  for (b in glmm_blocks(object)) if (!is.null(b$keep)) {
    kept <- b$keep(object)
    for (nm in names(kept)) s[[nm]] <- kept[[nm]]
    class(s) <- c(b$summary_class, class(s))
  }
  s
}

print_common_summary <- function(x, digits, signif.stars, ...) {
  print_header(x)
  cat("\n")
  print(x$criteria[c("AIC", "BIC", "logLik", "deviance")], digits = digits + 2L)
  if (!anyNA(x$resid_quantiles)) {
    cat("\nScaled Pearson residuals:\n")
    rq <- stats::setNames(x$resid_quantiles, c("Min", "1Q", "Median", "3Q", "Max"))
    print(rq, digits = digits)
  }
  cat("\nRandom effects:\n")
  print(format_varcorr(x$varcor, digits, c("Variance", "Std.Dev.")), quote = FALSE)
  print_family_par(x$family_par, digits)
  cat(sprintf("Number of obs: %d, clusters: %s\n", x$nobs, clusters_text(x)))
  cat("\nFixed effects:\n")
  stats::printCoefmat(x$coefficients, digits = digits, signif.stars = signif.stars,
                      na.print = "NA", ...)
  if (!is.null(x$vcov_label)) cat("Standard errors: ", x$vcov_label, "\n", sep = "")
  cat("Coefficients are conditional (subject-specific) effects: they hold the",
      "cluster's\nrandom effect fixed.\n")
  o <- x$optinfo
  cat(sprintf(paste0("\nOptimizer: %s (%s); %d iterations, %d evaluations; ",
                     "max|gradient| %.2g%s; Hessian condition number %.3g\n"),
              o$optimizer, o$message, as.integer(o$iterations), as.integer(o$evaluations),
              o$max_grad, switch(o$grad_basis %||% "user", standardized = " (standardized parameters)",
                                             profiled = " (profiled criterion)", ""),
              o$hessian_cond))
  print_notes(o$warnings)
  for (b in glmm_blocks(x)) b$show(x, digits)
}

