# Methods for fitted "glmmgee_glmm" objects: printing, summaries and the extractors
# that read the stored fit. Predictions are in predict-glmm.R, random-effect
# predictions in ranef-glmm.R, likelihood-ratio and Wald tests in
# anova-glmm.R. Everything here reads plain data stored by new_glmm(); no
# method needs the engine except ranef(type = "mean") at a new nAGQ.

#' @importFrom nlme fixef ranef VarCorr
#' @importFrom stats sigma family
#' @export
nlme::fixef
#' @export
nlme::ranef
#' @export
nlme::VarCorr

# ---- printing ---------------------------------------------------------------

approximation_label <- function(object) {
  if (!is.null(object$ranef_dist)) return(dist_label(object))
  if (isTRUE(object$REML)) return("REML (exact restricted likelihood)")
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
  cat(" Approximation:", approximation_label(object), "\n")
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
#' @param ... For `print()`, the formatting arguments of [print.default()]
#'   (accepted, the layout is fixed); for `summary()` not used: any other
#'   argument is an error.
#' @return `print()` returns `x` invisibly; `summary()` an object of class
#'   `summary.glmmgee_glmm` with components `coefficients` (estimate, standard error,
#'   z value, p-value), `varcor` ([VarCorr()]), `criteria`, `optinfo`; for
#'   zero-inflation fits of class `summary.glmmgee_glmm_zi` (`object`, the fit,
#'   and `tables`, one per part), for known-covariance fits of class
#'   `summary.glmmgee_glmm_known` (`fit` and `coefficients`).
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   fit
#'   summary(fit)
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
summary.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "summary.glmmgee_glmm")
  glmm_layout(object)$summary(object)
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
  print(signif(crit[c("logLik", "AIC", "BIC")], digits + 2L), digits = digits + 2L)
  cat("Random effects:\n")
  print(VarCorr(x), digits = digits, comp = "Std.Dev.")
  print_family_par(x$family_par, digits)
  cat(sprintf("Number of obs: %d, clusters: %s\n", x$nobs, clusters_text(x)))
  cat("Fixed effects (conditional):\n")
  print.default(format(fixef(x), digits = digits), print.gap = 2L, quote = FALSE)
  print_notes(x$optinfo$warnings)
}

summary_common <- function(object) {
  beta <- fixef(object)
  se <- sqrt(pmax(diag(vcov(object)), 0))
  z <- beta / se
  coefs <- cbind(Estimate = beta, `Std. Error` = se, `z value` = z,
                 `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  rownames(coefs) <- names(beta)
  # A distributed fit's rows stayed on the workers: no residuals.
  res <- if (inherits(object, "glmmgee_glmm_sharded")) NA_real_
         else residuals(object, type = "pearson")
  if (object$family$family %in% c("gaussian", "Gamma")) res <- res / object$sigma
  s <- structure(list(call = object$call, formula = object$formula, family = object$family,
                      approximation = approximation_label(object), data = object$call$data,
                      criteria = fit_criteria(object), coefficients = coefs,
                      varcor = VarCorr(object), nobs = object$nobs,
                      ngroups = object$ngroups, group_name = object$group_name,
                      resid_quantiles = stats::quantile(res, na.rm = TRUE, names = FALSE),
                      optinfo = object$optinfo, nAGQ = object$nAGQ,
                      family_par = object$family_par, REML = isTRUE(object$REML)),
                 class = "summary.glmmgee_glmm")
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
  print(signif(x$criteria[c("AIC", "BIC", "logLik", "deviance")], digits + 2L),
        digits = digits + 2L)
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

# ---- extractors -------------------------------------------------------------

#' Extract parts of a fitted GLMM
#'
#' Extractors for [glmm()] fits. `fixef()` gives the fixed effects
#' (conditional, subject-specific). `coef()` gives the cluster-specific
#' coefficients, fixed effects plus each cluster's predicted random effects
#' (posterior modes), one row per cluster. `vcov()` gives the covariance of
#' the fixed effects from the observed information of the marginal
#' log-likelihood; with `full = TRUE`, of all optimizer parameters
#' (fixed effects, the free entries of the Cholesky factor \eqn{\Lambda} of
#' the random-effect covariance, and the log of the dispersion parameter:
#' \eqn{\log\sigma} for gaussian, \eqn{\log\theta} for [nbinom2()],
#' the log shape for Gamma;
#' `NA` for parameters on a boundary). `logLik()` is the full log-likelihood
#' with every normalizing constant, so [AIC()] and [BIC()] are comparable
#' across `nAGQ`, families and packages; its `df` counts all parameters.
#' `model.matrix(type = "random")` gives the sparse n x (M q) random-effects
#' design (M clusters with an observation of positive weight, as `ngroups`
#' and [ranef()]), clusters in the order of the levels, the q terms of each cluster
#' side by side, so that the linear predictor is
#' `X %*% fixef(fit) + Z %*% as.vector(t(ranef(fit)[[1]])) + offset`.
#'
#' @param object,x,formula A fitted model from [glmm()].
#' @param full For `vcov()`: the covariance of all optimizer parameters
#'   instead of the fixed effects only.
#' @param type For `model.matrix()`: `"fixed"` (X) or `"random"` (Z).
#' @param REML For `logLik()` of a fit with `REML = TRUE`: `FALSE` gives the
#'   ML log-likelihood at the REML estimates (sigma profiled, as lme4's
#'   `logLik(REML = FALSE)`); otherwise the restricted log-likelihood.
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return `fixef()` a named vector; `coef()` a list (class `coef.glmmgee_glmm`)
#'   with one data frame named by the grouping factor; `vcov()` a matrix;
#'   `logLik()` an object of class `logLik`; `nobs()` the number of
#'   observations with positive weight; `sigma()` the dispersion parameter
#'   as glmmTMB defines it: the residual standard deviation for gaussian,
#'   \eqn{\theta} for [nbinom2()] (variance \eqn{\mu + \mu^2/\theta}), the
#'   coefficient of variation \eqn{1/\sqrt{\nu}} for Gamma with shape
#'   \eqn{\nu} (its estimate and standard error are in `fit$family_par`), and
#'   1 for families without a dispersion parameter; `formula()`
#'   the model formula; `terms()` the terms of the fixed effects (as
#'   lme4's `terms(fixed.only = TRUE)`), so that [drop1()] and [step()]
#'   drop fixed-effect terms only and keep the random effects;
#'   `model.matrix()` a matrix (sparse for
#'   `type = "random"`); `model.frame()` the model frame; `family()` the family.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(sleepstudy, package = "lme4")
#'   fit <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
#'   fixef(fit)
#'   head(coef(fit)$Subject)
#'   vcov(fit)
#'   logLik(fit); AIC(fit); BIC(fit); nobs(fit); sigma(fit)
#'   dim(model.matrix(fit, type = "random"))
#' }
#' @name glmm-extractors
NULL

#' @rdname glmm-extractors
#' @export
fixef.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "fixef.glmmgee_glmm")
  object$coefficients
}

#' @rdname glmm-extractors
#' @export
coef.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "coef.glmmgee_glmm")
  b <- ranef(object, condVar = FALSE)[[1L]]
  beta <- fixef(object)
  cf <- as.data.frame(matrix(beta, nrow(b), length(beta), byrow = TRUE,
                             dimnames = list(rownames(b), names(beta))),
                      check.names = FALSE)
  for (nm in names(b)) cf[[nm]] <- (if (nm %in% names(cf)) cf[[nm]] else 0) + b[[nm]]
  structure(stats::setNames(list(cf), object$group_name), class = "coef.glmmgee_glmm")
}

#' @export
print.coef.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "print.coef.glmmgee_glmm", .allow = print_dots)
  print(unclass(x), ...)
  invisible(x)
}

plain_matrix <- function(V) {
  matrix(as.numeric(V), nrow(V), ncol(V), dimnames = dimnames(V))
}

#' @rdname glmm-extractors
#' @export
vcov.glmmgee_glmm <- function(object, full = FALSE, ...) {
  check_dots(..., .method = "vcov.glmmgee_glmm", .allow = "complete", .hint = vcov_glmm_types_hint())
  plain_matrix(if (isTRUE(full)) object$cov_theta else object$vcov)
}

#' @rdname glmm-extractors
#' @export
logLik.glmmgee_glmm <- function(object, REML = NULL, ...) {
  check_dots(..., .method = "logLik.glmmgee_glmm")
  # REML = FALSE on a REML fit: the ML log-likelihood at the REML estimates
  # of the covariance parameters, sigma profiled as lme4 does.
  ll <- if (isFALSE(REML) && isTRUE(object$REML) && !is.null(object$loglik_ml))
    object$loglik_ml else object$loglik
  structure(ll, df = object$df, nobs = object$nobs, class = "logLik")
}

#' @rdname glmm-extractors
#' @export
nobs.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "nobs.glmmgee_glmm", .allow = "use.fallback")
  object$nobs
}

#' @rdname glmm-extractors
#' @export
sigma.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "sigma.glmmgee_glmm")
  object$sigma
}

#' @rdname glmm-extractors
#' @export
formula.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "formula.glmmgee_glmm")
  f <- x$formula
  bars <- attr(f, "random_terms")
  if (!inherits(f, "terms") || is.null(bars)) return(f)
  # A formula replaced by terms(fit), as stats::step() does: the fixed
  # part with the random-effect terms that terms() set aside.
  rhs <- Reduce(function(a, b) call("+", a, call("(", b)), bars, stats::formula(f)[[3L]])
  out <- stats::formula(f)
  out[[3L]] <- rhs
  out
}

#' @rdname glmm-extractors
#' @export
terms.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "terms.glmmgee_glmm")
  tt <- x$terms
  # The fixed-effects terms (as lme4's terms(fixed.only = TRUE)), carrying
  # the random-effect terms for formula() (see above).
  attr(tt, "random_terms") <- find_bars(formula(x))
  tt
}

#' @rdname glmm-extractors
#' @export
family.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "family.glmmgee_glmm")
  object$family
}

#' @rdname glmm-extractors
#' @export
model.frame.glmmgee_glmm <- function(formula, ...) {
  check_dots(..., .method = "model.frame.glmmgee_glmm")
  formula$model
}

#' @rdname glmm-extractors
#' @export
model.matrix.glmmgee_glmm <- function(object, type = c("fixed", "random"), ...) {
  check_dots(..., .method = "model.matrix.glmmgee_glmm")
  type <- match.arg(type)
  if (type == "fixed") return(object$X)
  n <- object$n
  q <- length(object$cnames)
  M <- length(object$group_levels)
  rows <- rep(seq_len(n), q)
  cols <- (rep(object$group, q) - 1L) * q + rep(seq_len(q), each = n)
  Zfull <- Matrix::sparseMatrix(i = rows, j = cols, x = as.numeric(object$Z),
                                dims = c(n, M * q))
  colnames(Zfull) <- rep(object$group_levels, each = q)
  # Clusters with only zero weights are not among ranef()'s rows (their
  # random effects are zero): their columns go too, so Z matches ranef().
  active <- active_clusters(object$group, object$prior.weights, M)
  if (!all(active)) Zfull <- Zfull[, rep(active, each = q), drop = FALSE]
  Zfull
}

# ---- variance components ----------------------------------------------------

#' Variance components of a fitted GLMM
#'
#' The covariance matrix \eqn{D} of the random effects, in a list named by
#' the grouping factor (as lme4 does), with attributes `"stddev"` and
#' `"correlation"`. Correlations between terms in different blocks (e.g.
#' `(x || g)`) are structural zeros. For gaussian models the attribute
#' `"sc"` of the list is the residual standard deviation.
#'
#' @param x A fitted model from [glmm()], or the result of `VarCorr()`.
#' @param sigma Ignored (for compatibility with the generic).
#' @param digits Number of significant digits.
#' @param comp Which columns to print: `"Variance"` and/or `"Std.Dev."`.
#' @param row.names,optional Ignored.
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return `VarCorr()` a list of class `VarCorr.glmmgee_glmm`; `as.data.frame()` a
#'   data frame with columns `grp`, `var1`, `var2`, `vcov`, `sdcor` (one row
#'   per variance and per covariance, then the residual for gaussian models).
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(sleepstudy, package = "lme4")
#'   fit <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
#'   VarCorr(fit)
#'   as.data.frame(VarCorr(fit))
#' }
#' @export
VarCorr.glmmgee_glmm <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm")
  D <- varcorr_block(x$D, x$cnames, rep(seq_along(x$cov_blocks), x$cov_blocks))
  new_varcorr(stats::setNames(list(D), x$group_name), x)
}

# One covariance block as VarCorr() reports it: the matrix with its standard
# deviations, correlations (NA where a variance is zero) and the diagonal
# sub-blocks (`||` terms) it is made of.
varcorr_block <- function(D, cnames, blocks) {
  D <- plain_matrix(D)
  sd <- sqrt(pmax(diag(D), 0))
  corr <- D / outer(sd, sd)
  corr[outer(sd, sd) == 0] <- NA_real_
  diag(corr) <- 1
  attr(D, "stddev") <- stats::setNames(sd, cnames)
  attr(D, "correlation") <- corr
  attr(D, "blocks") <- blocks
  D
}

new_varcorr <- function(blocks, fit) {
  useSc <- fit$family$family == "gaussian"
  structure(blocks, sc = if (useSc) fit$sigma else 1, useSc = useSc,
            family_par = fit$family_par, class = "VarCorr.glmmgee_glmm")
}

# Character table of the variance components, one row per random effect
# (and a residual row for gaussian models); numbers formatted column-wise.
format_varcorr <- function(x, digits, comp) {
  grp <- nm <- character()
  vars <- numeric()
  corr_rows <- list()
  for (g in names(x)) {
    D <- x[[g]]
    corr <- attr(D, "correlation")
    blocks <- attr(D, "blocks")
    q <- nrow(D)
    grp <- c(grp, g, rep("", q - 1L))
    nm <- c(nm, rownames(D))
    vars <- c(vars, diag(D))
    cm <- matrix("", q, max(q - 1L, 0L))
    if (q > 1L) for (i in 2:q) for (j in seq_len(i - 1L)) {
      if (blocks[i] == blocks[j])
        cm[i, j] <- if (is.na(corr[i, j])) "NaN" else formatC(corr[i, j], digits = 2L, format = "f")
    }
    corr_rows[[g]] <- cm
  }
  if (isTRUE(attr(x, "useSc"))) {
    grp <- c(grp, "Residual"); nm <- c(nm, ""); vars <- c(vars, attr(x, "sc")^2)
  }
  tab <- cbind(Groups = grp, Name = nm)
  if ("Variance" %in% comp) tab <- cbind(tab, Variance = format(vars, digits = digits))
  if ("Std.Dev." %in% comp) tab <- cbind(tab, Std.Dev. = format(sqrt(pmax(vars, 0)), digits = digits))
  ncorr <- max(vapply(corr_rows, ncol, 1L))
  if (ncorr > 0L && any(nzchar(unlist(corr_rows)))) {
    cm <- do.call(rbind, lapply(corr_rows, function(m) cbind(m, matrix("", nrow(m), ncorr - ncol(m)))))
    if (nrow(cm) < nrow(tab)) cm <- rbind(cm, matrix("", nrow(tab) - nrow(cm), ncorr))
    colnames(cm) <- c("Corr", rep("", ncorr - 1L))
    tab <- cbind(tab, cm)
  }
  rownames(tab) <- rep("", nrow(tab))
  tab
}

#' @rdname VarCorr.glmmgee_glmm
#' @export
print.VarCorr.glmmgee_glmm <- function(x, digits = max(3L, getOption("digits") - 2L),
                               comp = "Std.Dev.", ...) {
  check_dots(..., .method = "print.VarCorr.glmmgee_glmm", .allow = print_dots)
  comp <- match.arg(comp, c("Variance", "Std.Dev."), several.ok = TRUE)
  print(format_varcorr(x, digits, comp), quote = FALSE)
  # The family's own dispersion (theta, shape, phi) sits beside the random
  # effects as the residual does for gaussian models.
  fp <- attr(x, "family_par")
  if (!is.null(fp)) cat(sprintf("%s = %s\n", fp$name, format(signif(fp$estimate, digits))))
  invisible(x)
}

#' @rdname VarCorr.glmmgee_glmm
#' @export
as.data.frame.VarCorr.glmmgee_glmm <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- list()
  for (g in names(x)) {
    D <- x[[g]]
    sd <- attr(D, "stddev")
    corr <- attr(D, "correlation")
    nm <- names(sd)
    q <- length(sd)
    lt <- which(lower.tri(D) & outer(attr(D, "blocks"), attr(D, "blocks"), "=="), arr.ind = TRUE)
    lt <- lt[order(lt[, "col"], lt[, "row"]), , drop = FALSE]
    out[[g]] <- data.frame(grp = g, var1 = c(nm, nm[lt[, "col"]]),
                           var2 = c(rep(NA_character_, q), nm[lt[, "row"]]),
                           vcov = c(diag(D), D[lt]), sdcor = c(sd, corr[lt]),
                           stringsAsFactors = FALSE)
  }
  if (isTRUE(attr(x, "useSc")))
    out$Residual <- data.frame(grp = "Residual", var1 = NA_character_, var2 = NA_character_,
                               vcov = attr(x, "sc")^2, sdcor = attr(x, "sc"),
                               stringsAsFactors = FALSE)
  res <- do.call(rbind, out)
  rownames(res) <- NULL
  res
}

# ---- fitted values and residuals --------------------------------------------

#' Fitted values and residuals of a GLMM
#'
#' Fitted values are on the response scale and conditional on the predicted
#' random effects (posterior modes): \eqn{\hat\mu = g^{-1}(X\hat\beta +
#' Z\hat b + \mathrm{offset})}. Residuals follow [glm()]'s definitions with
#' these conditional fitted values and the prior weights \eqn{w}: response
#' \eqn{y - \hat\mu} (for binomial, \eqn{y} is the observed proportion);
#' Pearson \eqn{(y - \hat\mu)\sqrt{w / V(\hat\mu)}} (not divided by
#' \eqn{\sigma} for gaussian models, as in glm and lme4); deviance
#' \eqn{\mathrm{sign}(y - \hat\mu)\sqrt{d_i}} with \eqn{d_i} the family's unit
#' deviance times \eqn{w}; working \eqn{(y - \hat\mu) / (d\mu/d\eta)}.
#' With `na.action = na.exclude` in the fit, the results are padded with
#' `NA` for the excluded rows.
#'
#' @param object A fitted model from [glmm()].
#' @param type Type of residual.
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return A numeric vector.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   head(fitted(fit))
#'   head(residuals(fit, type = "pearson"))
#' }
#' @export
fitted.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "fitted.glmmgee_glmm")
  stats::napredict(object$na.action, object$fitted.values)
}

#' @rdname fitted.glmmgee_glmm
#' @export
residuals.glmmgee_glmm <- function(object, type = c("deviance", "pearson", "response", "working"),
                           ...) {
  check_dots(..., .method = "residuals.glmmgee_glmm")
  type <- match.arg(type)
  fam <- object$family
  y <- object$y
  mu <- object$fitted.values
  wt <- object$prior.weights
  r <- switch(type,
    response = y - mu,
    pearson = (y - mu) * sqrt(wt) / sqrt(fam$variance(mu)),
    deviance = sign(y - mu) * sqrt(pmax(fam$dev.resids(y, mu, wt), 0)),
    working = (y - mu) / fam$mu.eta(object$linear.predictors))
  names(r) <- names(mu)
  stats::naresid(object$na.action, r)
}
