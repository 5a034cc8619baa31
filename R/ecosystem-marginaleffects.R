# marginaleffects support: the four methods its "Extensions" vignette asks
# for, registered when marginaleffects is loaded, and a prediction type of
# our own for glmm fits.
#
# marginaleffects takes standard errors by the delta method, perturbing the
# coefficients with set_coef() and predicting again. For a glmm the
# "coefficients" it sees are all optimizer parameters (fixed effects, the
# entries of the Cholesky factor Lambda, the log dispersion), with their
# covariance from the inverse observed information: the conditional
# predictions do not move with Lambda, so their standard errors are those of
# the fixed effects alone, while the population-averaged ones (type = "pa")
# get the variance components' uncertainty too.

#' marginaleffects support for glmm and gee fits
#'
#' Methods that let [marginaleffects::predictions()],
#' [marginaleffects::comparisons()], [marginaleffects::slopes()] and their
#' `avg_` forms work on [glmm()] and [gee()] fits. They are registered when
#' marginaleffects is loaded (glmmgee also adds its classes to the option
#' `marginaleffects_model_classes`, the way marginaleffects documents for
#' new models).
#'
#' Prediction types of a glmm:
#' * `"response"` (default) and `"link"`: conditional on the predicted
#'   random effects of each row's cluster (as [predict()] with
#'   `re.form = NULL`; pass `re.form = NA` for a typical cluster, b = 0);
#'   clusters not in the fit get b = 0.
#' * `"pa"`: population-averaged means, each row's mean integrated over the
#'   random-effect distribution, \eqn{E_b\{h(x'\beta + z'b)\}}, exactly
#'   (the one-dimensional integral of [marginal_coefs()] and
#'   [standardize()]). Their standard errors use the covariance of the fixed
#'   effects and the variance parameters. `avg_predictions(fit, type = "pa",
#'   variables = "trt")` gives [standardize()]'s means and
#'   `avg_comparisons(fit, type = "pa", variables = "trt")` its marginal
#'   risk difference, with the population taken as fixed (as
#'   `standardize(newdata = )` does).
#'
#' For a gee: `"response"` and `"link"`, with the covariance of the fit's
#' `std.err`; `vcov = "md"` (or another type of [gee()]) chooses another.
#'
#' @param model A fit from [glmm()] or [gee()].
#' @param coefs Named parameter vector (as `get_coef()` returns).
#' @param newdata Data frame to predict for.
#' @param type Prediction type (see Details).
#' @param vcov `NULL`/`TRUE` (the fit's covariance), `FALSE`, a matrix, or
#'   for a gee the name of a variance estimator.
#' @param ... Passed to [predict()] (e.g. `re.form`).
#' @return `get_coef()` a named vector; `set_coef()` the model with new
#'   parameters; `get_vcov()` a matrix; `get_predict()` a data frame with
#'   columns `rowid` and `estimate`.
#' @examples
#' if (requireNamespace("marginaleffects", quietly = TRUE) &&
#'     exists("%||%", baseenv()) && requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial, nAGQ = 1)
#'   marginaleffects::avg_comparisons(fit, variables = "trt")
#'   marginaleffects::avg_predictions(fit, variables = "trt", type = "pa")
#' }
#' @name glmmgee-marginaleffects
NULL

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_coef
get_coef.glmmgee_glmm <- function(model, ...) model$theta

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::set_coef
set_coef.glmmgee_glmm <- function(model, coefs, ...) {
  theta <- model$theta
  theta[names(coefs)] <- coefs
  p <- length(model$coefficients)
  model$theta <- theta
  model$coefficients[] <- theta[seq_len(p)]
  # Fields computed from the coefficients must not keep the old values.
  for (f in c("eta_fixed", "linear.predictors", "fitted.values")) model[[f]] <- NULL
  model
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_vcov
get_vcov.glmmgee_glmm <- function(model, vcov = NULL, ...) {
  if (isFALSE(vcov)) return(NULL)
  nm <- names(model$theta)
  if (is.matrix(vcov)) {
    if (!identical(dim(vcov), rep(length(nm), 2L)))
      stop(sprintf("'vcov' must be a %d x %d matrix over all parameters of the fit (%s)",
                   length(nm), length(nm), paste(nm, collapse = ", ")), call. = FALSE)
    return(vcov)
  }
  if (!is.null(vcov) && !isTRUE(vcov))
    stop("'vcov' for a glmm fit must be TRUE, FALSE, NULL or a matrix", call. = FALSE)
  V <- fit_parameters(model)$vcov
  dimnames(V) <- list(nm, nm)
  V
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_predict
get_predict.glmmgee_glmm <- function(model, newdata = NULL, type = "response", ...) {
  if (is.null(newdata)) newdata <- fit_data(model)
  type <- type %||% "response"
  if (!type %in% c("response", "link", "pa"))
    stop("'type' for a glmm fit must be \"response\", \"link\" or \"pa\" (population-averaged)",
         call. = FALSE)
  nd <- as.data.frame(newdata)
  est <- if (type == "pa") pa_means(model, nd)
         else predict_args(model, nd, type, list(...))
  me_frame(est, newdata)
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_vcov
get_vcov.glmmgee_gee <- function(model, vcov = NULL, ...) {
  if (isFALSE(vcov)) return(NULL)
  if (is.matrix(vcov)) return(vcov)
  if (is.null(vcov) || isTRUE(vcov)) return(stats::vcov(model))
  if (is.character(vcov) && length(vcov) == 1L)
    return(stats::vcov(model, type = match_std_err(vcov, "vcov")))
  stop("'vcov' for a gee fit must be TRUE, FALSE, NULL, a matrix or a variance type of gee()",
       call. = FALSE)
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_predict
get_predict.glmmgee_gee <- function(model, newdata = NULL, type = "response", ...) {
  type <- type %||% "response"
  if (!type %in% c("response", "link"))
    stop("'type' for a gee fit must be \"response\" or \"link\"", call. = FALSE)
  est <- predict(model, newdata = as.data.frame(newdata), type = type)
  me_frame(est, newdata)
}

# predict() with the arguments marginaleffects passes through that
# predict.glmmgee_glmm understands (re.form, allow.new.levels).
predict_args <- function(model, nd, type, dots) {
  keep <- dots[intersect(names(dots), c("re.form", "allow.new.levels"))]
  unname(do.call(predict, c(list(model, newdata = nd, type = type), keep)))
}

# Population-averaged means of each row of `nd` at the model's parameters.
pa_means <- function(model, nd) {
  re <- re_structure(model, "get_predict")
  des <- design_at(model, nd)
  glmm_means(re, model$family, model$theta, des$X, des$Z, des$offset, "marginal")$mean
}

me_frame <- function(est, newdata) {
  out <- data.frame(estimate = as.numeric(est))
  rid <- if (is.data.frame(newdata) && "rowid" %in% names(newdata)) newdata$rowid
         else seq_len(nrow(out))
  out$rowid <- rid
  out[c("rowid", "estimate")]
}

# marginaleffects refuses classes it does not list unless they are in this
# option; adding ours when glmmgee loads keeps the user's own entries.
register_marginaleffects_classes <- function() {
  cl <- getOption("marginaleffects_model_classes")
  options(marginaleffects_model_classes = union(cl, c("glmmgee_glmm", "glmmgee_gee",
                                                      "glmmgee_glmm_ordinal",
                                                      "glmmgee_gee_ordinal")))
}

# Cumulative link fits (glmm() and gee() with cumulative()). Without these
# marginaleffects' defaults perturbed coef() (thresholds and coefficients)
# through a set_coef() that did not know where the thresholds live, and
# predicted with whatever predict() returns. As marginaleffects does for
# ordinal::clm fits, the predictions are the category probabilities, one
# row per observation and category (column `group`), or the linear
# predictor x'beta; the parameters are the thresholds and coefficients.

#' @rdname glmmgee-marginaleffects
#' @details For cumulative link fits ([cumulative()]) the parameters are the
#'   thresholds and the coefficients (`vcov(model)`), and the prediction
#'   types are `"prob"` (the default; also `"response"`): the probability
#'   of each category, with a column `group` naming it, as marginaleffects
#'   gives for `ordinal::clm()` fits; and `"linear"` (also `"link"`):
#'   \eqn{x'\beta}. For a mixed model they are those of a typical cluster
#'   (random effects zero; `re.form = NULL` uses the clusters' predicted
#'   ones).
#' @exportS3Method marginaleffects::get_coef
get_coef.glmmgee_glmm_ordinal <- function(model, ...) c(model$thresholds, model$coefficients)

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_coef
get_coef.glmmgee_gee_ordinal <- get_coef.glmmgee_glmm_ordinal

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::set_coef
set_coef.glmmgee_glmm_ordinal <- function(model, coefs, ...) {
  th <- intersect(names(coefs), names(model$thresholds))
  b <- intersect(names(coefs), names(model$coefficients))
  model$thresholds[th] <- coefs[th]
  model$coefficients[b] <- coefs[b]
  if (!is.null(model$psi)) model$psi[c(th, b)] <- coefs[c(th, b)]
  model
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::set_coef
set_coef.glmmgee_gee_ordinal <- set_coef.glmmgee_glmm_ordinal

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_vcov
get_vcov.glmmgee_glmm_ordinal <- function(model, vcov = NULL, ...) {
  if (isFALSE(vcov)) return(NULL)
  nm <- names(get_coef.glmmgee_glmm_ordinal(model))
  V <- if (is.matrix(vcov)) vcov
       else if (is.null(vcov) || isTRUE(vcov)) stats::vcov(model)
       else if (is.character(vcov) && length(vcov) == 1L && inherits(model, "glmmgee_gee_ordinal"))
         stats::vcov(model, type = match_choice(vcov, c("robust", "naive"), "vcov"))
       else stop("'vcov' for a cumulative link fit must be TRUE, FALSE, NULL, a matrix or (for a gee) \"robust\"/\"naive\"",
                 call. = FALSE)
  if (nrow(V) < length(nm) || ncol(V) < length(nm))
    stop(sprintf("'vcov' must be a %d x %d matrix over the thresholds and coefficients",
                 length(nm), length(nm)), call. = FALSE)
  V <- V[seq_along(nm), seq_along(nm), drop = FALSE]
  dimnames(V) <- list(nm, nm)
  V
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_vcov
get_vcov.glmmgee_gee_ordinal <- get_vcov.glmmgee_glmm_ordinal

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_predict
get_predict.glmmgee_glmm_ordinal <- function(model, newdata = NULL, type = "prob", ...) {
  type <- type %||% "prob"
  if (!type %in% c("prob", "response", "linear", "link"))
    stop("'type' for a cumulative link fit must be \"prob\" (category probabilities) or \"linear\"",
         call. = FALSE)
  nd <- if (is.null(newdata)) NULL else as.data.frame(newdata)
  dots <- list(...)
  keep <- if (inherits(model, "glmmgee_glmm_ordinal"))
    dots[intersect(names(dots), c("re.form", "allow.new.levels"))] else list()
  linear <- type %in% c("linear", "link")
  p <- do.call(predict, c(list(model, newdata = nd, type = if (linear) "linear" else "prob"), keep))
  rid <- if (!is.null(nd) && "rowid" %in% names(nd)) nd$rowid else seq_len(NROW(p))
  if (linear) return(data.frame(rowid = rid, estimate = as.numeric(p)))
  p <- as.matrix(p)
  data.frame(rowid = rep(rid, ncol(p)),
             group = factor(rep(colnames(p) %||% model$y_levels, each = nrow(p)),
                            levels = colnames(p) %||% model$y_levels),
             estimate = as.vector(p))
}

#' @rdname glmmgee-marginaleffects
#' @exportS3Method marginaleffects::get_predict
get_predict.glmmgee_gee_ordinal <- get_predict.glmmgee_glmm_ordinal
