# Methods for fitted "glmmgee_glmm" objects: the extractors that read the
# stored fit. print() and summary() are in print-glmm.R, predictions in
# predict-glmm.R, random-effect predictions in ranef-glmm.R,
# likelihood-ratio and Wald tests in anova-glmm.R. Everything here reads plain data stored by new_glmm(); no
# method needs the engine except ranef(type = "mean") at a new nAGQ.

#' @importFrom nlme fixef ranef VarCorr
#' @importFrom stats sigma family
#' @export
nlme::fixef
#' @export
nlme::ranef
#' @export
nlme::VarCorr

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
#' For a penalized fit (`penalized = TRUE` of [glmm()]) it is the
#' log-likelihood without the prior, at the penalized estimates:
#' GLMMadaptive's `logLik()` includes the log prior, so its value and AIC
#' differ from these (see [AIC()][AIC.glmmgee_glmm]).
#' `model.matrix(type = "random")` gives the sparse n x (M q) random-effects
#' design (M clusters with an observation of positive weight, as `ngroups`
#' and [ranef()]), clusters in the order of the levels, the q terms of each cluster
#' side by side, so that the linear predictor is
#' `X %*% fixef(fit) + Z %*% as.vector(t(ranef(fit)[[1]])) + offset`.
#'
#' `vcov(type = "CR0")` to `"CR3"` give cluster-robust ("sandwich")
#' covariances of the fixed effects instead, which stay valid when the
#' model's covariance of the observations within a cluster is wrong (e.g.
#' a missing random slope or heteroscedastic residuals), as long as clusters
#' are independent. The model's own marginal covariance \eqn{V_i} of each
#' cluster's observations weights the estimating equations
#' (generalized least squares), and the spread of each cluster's residuals
#' \eqn{e_i} replaces the model's \eqn{V_i} in the middle of the sandwich:
#' \eqn{M \sum_i X_i' V_i^{-1} A_i e_i e_i' A_i' V_i^{-1} X_i M} with
#' \eqn{M = (\sum_i X_i' V_i^{-1} X_i)^{-1}}. The types differ in
#' \eqn{A_i}: `"CR0"` the plain sandwich (\eqn{A_i = I}); `"CR1"` the same
#' times \eqn{G/(G-1)} for \eqn{G} clusters; `"CR2"` the bias-reduced
#' linearization of Bell and McCaffrey (2002), whose \eqn{A_i} makes the
#' estimator unbiased when the model's \eqn{V} is right (with the model's
#' \eqn{V} as working and target covariance); `"CR3"` a jackknife-like
#' form, \eqn{A_i = (I - H_{ii})^{-1}} with
#' \eqn{H_{ii} = X_i M X_i' V_i^{-1}}. With few clusters, CR2 is the
#' recommended choice (Pustejovsky and Tipton 2018); CR0 and CR1
#' tend to be too small then. For linear mixed models (gaussian, identity link, exact ML or
#' REML) these are the estimators of the clubSandwich package for lme4 fits
#' (`clubSandwich::vcovCR()`), and like those they treat the variance
#' parameters as known (conditional on their estimates).
#'
#' For other models with one grouping factor (adaptive quadrature or
#' Laplace, also with zero-inflation, hurdle or dispersion parts and random
#' effects in the zero part) the sandwich is built from each cluster's
#' score, the exact gradient of its contribution to the fit's marginal
#' log-likelihood, with the inverse observed information \eqn{A^{-1}} as
#' bread: \eqn{A^{-1} (\sum_i \psi_i \psi_i') A^{-1}} over all free
#' parameters, since in a GLMM the estimation of the variance parameters
#' moves the fixed effects; its fixed-effect block is returned. The
#' small-sample types work in the same space, with \eqn{A_i} the cluster's
#' own information. Fits of one grouping factor by adaptive quadrature or
#' the Laplace approximation (also with zero-inflation, hurdle or
#' dispersion parts and random effects in the zero part), and fits of
#' several terms nested in one (also with zero-inflation or dispersion
#' parts of fixed effects), keep each cluster's
#' score and information (up to about a million numbers: clusters times
#' free parameters squared), taken from the same evaluations as their
#' Hessian (forward differences of the scores), so that every type costs
#' no further evaluation of the engine, for the default clusters or any
#' coarser ones; so do fits with a covariance structure, on one grouping
#' factor or beside other terms nested in one (not gaussian or penalized
#' fits, nor fits mapped after their search: random-effect columns far
#' from unit scale, a two-column `cs()` far from zero). Fits by nested
#' adaptive quadrature keep the informations likewise; their scores cost
#' two evaluations of the log-likelihood (without its gradient) per
#' parameter. A cumulative link random intercept keeps each cluster's
#' exact information from the pass that gave its exact Hessian, and takes
#' the scores from one evaluation; cumulative link fits of several terms
#' nested in one grouping factor keep both, as other fits of nested terms.
#' Other fits (crossed terms, random slopes of a cumulative link model,
#' random effects in the zero part on several terms, known covariances,
#' nonparametric random effects) take the informations by central
#' differences of the scores, two engine evaluations per parameter.
#' `"CR2"` scales each score by
#' \eqn{A^{1/2}(I - L_i)^{-1/2}A^{-1/2}}, \eqn{L_i = A^{-1/2}A_iA^{-1/2}}
#' the cluster's leverage (from the positive part of each cluster's
#' information, since a cluster's log-likelihood need not be concave in the
#' variance parameters), which removes the sandwich's first-order bias when
#' the model is right (the form of Kauermann and Carroll's correction for
#' GEE); `"CR3"` sums \eqn{d_i d_i'} over clusters, \eqn{d_i = (A -
#' A_i)^{-1}\psi_i} the change of the estimates when cluster \eqn{i} is
#' left out, by one Newton step (the form of Mancl and DeRouen's).
#'
#' Models with several random-effect terms (the Laplace approximation, also
#' with random effects in the zero-inflation part, and nested adaptive
#' quadrature with `nAGQ > 1`) get the same sandwich when
#' every random effect lies within one cluster (the default cluster is the
#' grouping factor that nests all the others, as `school` in
#' `(1 | school/class)`): the fit's log-likelihood is then exactly the sum
#' of the clusters' own, and each cluster's score is the gradient of its
#' own (by the Laplace engine's exact gradient; for nested quadrature by
#' central differences). The bridge and nonparametric random-intercept
#' distributions ([ranef-distributions]; the nonparametric sandwich is
#' formed in the mass points and their weights' free parameters, and the
#' intercept, the distribution's mean, follows by the delta method) and the
#' cumulative link model on one grouping factor ([ordinal-glmm]; `vcov()`
#' then covers the thresholds and coefficients) take each cluster's score by
#' central differences of its log-likelihood; cumulative link models with
#' several nested terms are split by cluster as above. Structured covariances
#' (`ar1()`, `cs()`, `diag()`, ..., on one grouping factor or beside other
#' terms) form the sandwich in the structures' own parameters, with each
#' cluster's information taken in the covariance factor's entries and
#' carried by the Jacobian, so that `diag(1 + x | g)` and `(1 + x || g)`
#' give the same result; gaussian identity-link structured fits (ML or
#' REML) get the linear mixed model's estimators above.
#' A known covariance (`covariance =`) that is block diagonal by cluster,
#' such as a kinship matrix clustered by family (`cluster = ~ family`),
#' gets the same estimators: the linear mixed model's for gaussian fits,
#' each cluster's Laplace score otherwise. Crossed random effects, and a
#' known covariance that is not block diagonal (a genomic relationship
#' matrix), link the clusters, and a cluster that shares a random effect
#' with another is an error naming both. Other engines and
#' fits say when they do not provide these ([engine_registry()], column
#' `robust_vcov`).
#'
#' With few clusters, or a few clusters carrying most of the information,
#' a cluster-robust variance is itself uncertain: `summary()`, `confint()`
#' and the ratio tables test and form intervals with the t distribution and
#' Satterthwaite degrees of freedom, the number of clusters the variance is
#' effectively estimated from (Bell and McCaffrey 2002; for linear mixed
#' models those of clubSandwich's `coef_test()`; for other GLMMs the same
#' construction on the clusters' scores and leverages).
#'
#' @param object,x,formula A fitted model from [glmm()].
#' @param full For `vcov()`: the covariance of all optimizer parameters
#'   instead of the fixed effects only.
#' @param type For `vcov()`: `"model"` (the default, the model-based
#'   covariance above) or a cluster-robust type, `"CR0"`, `"CR1"`, `"CR2"`
#'   or `"CR3"` (fixed effects only; not with `full = TRUE`). For
#'   `model.matrix()`: `"fixed"` (X) or `"random"` (Z).
#' @param cluster For `vcov()` with a cluster-robust `type`: the clusters,
#'   as a one-sided formula evaluated in the fit's data (`~ clinic`) or a
#'   vector with one value per observation. Each level of every
#'   random-effect grouping factor must lie within one cluster (e.g.
#'   patients within clinics). The default is the grouping factor that
#'   contains all others (the only one, or `school` in
#'   `(1 | school/class)`); crossed random effects need `cluster`.
#' @param REML For `logLik()`: `NULL` (the default) the fit's own
#'   criterion. On a fit with `REML = TRUE`, `FALSE` gives the ML
#'   log-likelihood at the REML estimates (sigma profiled, as lme4's
#'   `logLik(REML = FALSE)`). On a gaussian ML fit, `TRUE` gives the
#'   restricted log-likelihood at the ML estimates where the route records
#'   it (known covariances) and is an error otherwise; on other families
#'   `TRUE` is an error. A value that cannot be computed is an error, never
#'   the other criterion.
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
#'   vcov(fit, type = "CR2")  # cluster-robust, clusters: Subject
#'   logLik(fit); AIC(fit); BIC(fit); nobs(fit); sigma(fit)
#'   dim(model.matrix(fit, type = "random"))
#' }
#' @references
#' Kauermann, G. and Carroll, R. J. (2001). A note on the efficiency of
#' sandwich covariance matrix estimation. *Journal of the American
#' Statistical Association*, 96(456), 1387-1396.
#'
#' Mancl, L. A. and DeRouen, T. A. (2001). A covariance estimator for GEE
#' with improved small-sample properties. *Biometrics*, 57(1), 126-134.
#'
#' Bell, R. M. and McCaffrey, D. F. (2002). Bias reduction in standard errors
#' for linear regression with multi-stage samples. *Survey Methodology*,
#' 28(2), 169-181.
#'
#' Pustejovsky, J. E. and Tipton, E. (2018). Small-sample methods for
#' cluster-robust variance estimation and hypothesis testing in fixed effects
#' models. *Journal of Business & Economic Statistics*, 36(4), 672-683.
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
vcov.glmmgee_glmm <- function(object, full = FALSE, type = "model", cluster = NULL, ...) {
  check_dots(..., .method = "vcov.glmmgee_glmm", .allow = "complete", .hint = vcov_glmm_types_hint())
  type <- check_vcov_glmm_type(type, full, cluster)
  if (type != "model") return(robust_vcov(object, type, cluster))
  plain_matrix(if (isTRUE(full)) object$cov_theta else object$vcov)
}

# vcov(type = ) of a GLMM fit: "model" or a cluster-robust type; a robust
# type covers the fixed effects only, and 'cluster' belongs to those.
check_vcov_glmm_type <- function(type, full, cluster) {
  types <- c("model", robust_cr_types)
  if (!is.character(type) || length(type) != 1L || is.na(type) || !type %in% types)
    stop(sprintf("'type' must be one of %s", paste(dQuote(types, FALSE), collapse = ", ")),
         call. = FALSE)
  if (type != "model" && isTRUE(full))
    stop(sprintf("vcov(type = \"%s\"): 'full = TRUE' is not available; cluster-robust types cover the fixed effects only",
                 type), call. = FALSE)
  if (type == "model" && !is.null(cluster))
    stop("vcov(): 'cluster' is for the cluster-robust types (type = \"CR0\" ... \"CR3\"), not type = \"model\"",
         call. = FALSE)
  type
}

#' @rdname glmm-extractors
#' @export
logLik.glmmgee_glmm <- function(object, REML = NULL, ...) {
  check_dots(..., .method = "logLik.glmmgee_glmm")
  if (!is.null(REML) && (!is.logical(REML) || length(REML) != 1L || is.na(REML)))
    stop("'REML' must be TRUE, FALSE or NULL", call. = FALSE)
  reml_fit <- isTRUE(object$REML)
  ll <- object$loglik
  # The other criterion than the fit's, at its estimates, sigma profiled as
  # lme4 does: the ML log-likelihood of a REML fit, the restricted one of
  # an ML fit. A route that did not record it refuses, rather than give
  # the fit's own criterion under the other's name.
  if (isFALSE(REML) && reml_fit) {
    ll <- object$loglik_ml
    if (is.null(ll))
      stop("logLik(REML = FALSE): the ML log-likelihood at the REML estimates is not available for this model; refit with REML = FALSE",
           call. = FALSE)
  } else if (isTRUE(REML) && !reml_fit) {
    fam <- object$family$family %||% ""
    if (!identical(fam, "gaussian"))
      stop(sprintf("logLik(REML = TRUE): the restricted log-likelihood is defined for linear mixed models (gaussian family) only, not for this %s fit",
                   fam), call. = FALSE)
    ll <- object$loglik_reml
    if (is.null(ll))
      stop("logLik(REML = TRUE): the restricted log-likelihood at the ML estimates is not available for this model; refit with REML = TRUE",
           call. = FALSE)
  }
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
  # `env`: as.formula() calls formula(x, env = baseenv()); the fit's formula
  # keeps its own environment, as formula.lm() ignores it
  check_dots(..., .method = "formula.glmmgee_glmm", .allow = "env")
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
