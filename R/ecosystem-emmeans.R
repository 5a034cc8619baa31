# emmeans support: the two methods its "adding support for new models"
# vignette asks for, registered only when emmeans is loaded (delayed S3
# registration through the NAMESPACE), so emmeans stays a suggestion.
#
# A glmm's basis is its fixed effects with their covariance: the estimated
# marginal means are those of a typical cluster (random effects zero), on
# the link scale, and regrid()/type = "response" back-transforms them.
# Population-averaged means of a glmm are standardize()'s and
# marginaleffects' type = "pa". A gee's basis uses the covariance of the
# fit's `std.err`, or another estimator by `std.err =` in the emmeans call.

#' emmeans support for glmm and gee fits
#'
#' Methods that let [emmeans::emmeans()], [emmeans::ref_grid()],
#' [emmeans::regrid()] and the rest of emmeans work on [glmm()] and [gee()]
#' fits. They are registered when emmeans is loaded; call emmeans as usual.
#'
#' For a glmm the estimated marginal means are on the scale of the linear
#' predictor of a typical cluster (random effects set to zero); with
#' `type = "response"` or `regrid()` they are back-transformed, so they are
#' conditional, not population-averaged, means (see [standardize()] for
#' those). Degrees of freedom are infinite (z tests), as emmeans uses for
#' glmer fits. Offsets in the formula (`offset(log(t))`) and in the `offset`
#' argument of the call are used; set them with emmeans' `offset` argument.
#' For a zero-inflated, hurdle or dispersion-formula fit they are the
#' conditional part's; `component = "zi"` or `"disp"` (glmmTMB's) is an
#' error pointing to [predict()]'s `type = "zprob"` and `"disp"`.
#' For a gee the covariance is the one of the fit's `std.err`; pass
#' `std.err = "md"` (or any type of [gee()]) to `emmeans()` for another, or
#' `vcov.` as emmeans allows for any model.
#'
#' @param object A fit from [glmm()] or [gee()].
#' @param trms,xlev,grid As emmeans passes them.
#' @param std.err For a gee: the variance estimator.
#' @param ... Passed on by emmeans (e.g. `vcov.`).
#' @return `recover_data()` the data of the fit; `emm_basis()` the list
#'   emmeans documents (`X`, `bhat`, `nbasis`, `V`, `dffun`, `dfargs`,
#'   `misc`).
#' @examples
#' if (requireNamespace("emmeans", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   emm <- emmeans::emmeans(fit, ~ period)
#'   emm                                             # logit scale
#'   emmeans::regrid(emm)                            # probabilities
#'   emmeans::contrast(emmeans::regrid(emm), "trt.vs.ctrl")  # risk differences
#' }
#' @name glmmgee-emmeans
NULL

#' @rdname glmmgee-emmeans
#' @exportS3Method emmeans::recover_data
recover_data.glmmgee_glmm <- function(object, ...) {
  # (glmmTMB users pass component = "zi" or "disp"; the grid here is the
  # conditional part's, and such a call gave its means under that name)
  cmp <- list(...)$component
  if (!is.null(cmp) && !identical(cmp, "cond"))
    return(sprintf(paste0("'component = \"%s\"': emmeans() of glmmgee fits covers the conditional ",
                          "part only; the zero part's probabilities and the dispersion are ",
                          "predict(type = \"zprob\") and predict(type = \"disp\")"),
                   paste(cmp, collapse = " ")))
  emm_recover(object, ...)
}

#' @rdname glmmgee-emmeans
#' @exportS3Method emmeans::recover_data
recover_data.glmmgee_gee <- function(object, ...) {
  if (is.null(object$terms))
    return("this gee fit came from gee_fit() (a model matrix): emmeans needs a formula fit")
  emm_recover(object, ...)
}

#' @rdname glmmgee-emmeans
#' @exportS3Method emmeans::emm_basis
emm_basis.glmmgee_glmm <- function(object, trms, xlev, grid, ...) {
  V <- if (has_vcov_arg(...)) emmeans::.my.vcov(object, ...) else vcov(object)
  emm_basis_of(object, trms, xlev, grid, fixef(object), V)
}

#' @rdname glmmgee-emmeans
#' @exportS3Method emmeans::emm_basis
emm_basis.glmmgee_gee <- function(object, trms, xlev, grid, std.err = object$std.err, ...) {
  std.err <- match_std_err(std.err)
  user <- has_vcov_arg(...)
  V <- if (user) emmeans::.my.vcov(object, ...) else vcov(object, type = std.err)
  out <- emm_basis_of(object, trms, xlev, grid, coef(object), V)
  out$misc$initMesg <- sprintf("Covariance: %s", if (user) gee_vcov_label(object, V, std.err)
                                                   else se_label(std.err))
  out
}

has_vcov_arg <- function(...) "vcov." %in% names(list(...))

# The name of the estimator a user's `vcov.` matrix is, so that the heading
# emmeans prints names the matrix it used: the fit's own types are tried
# (the sandwich, model-based and bias-corrected ones are cheap; the
# jackknives, which refit, only if the fit holds them already); a matrix
# that is none of them is "user-supplied".
gee_vcov_label <- function(object, V, std.err = object$std.err, label = se_label) {
  V <- as.matrix(V)
  cheap <- c("san.se", "model", "md", "kc")
  held <- names(object$vcov)[vapply(object$vcov, Negate(is.null), TRUE)]
  for (type in unique(c(std.err, cheap, held))) {
    W <- tryCatch(suppressWarnings(as.matrix(vcov(object, type = type))), error = function(e) NULL)
    if (!is.null(W) && identical(dim(W), dim(V)) &&
        isTRUE(all.equal(unname(W), unname(V), tolerance = 1e-10)))
      return(label(type))
  }
  "user-supplied (vcov.)"
}

# The fixed-effect terms, with the call's `offset =` expression added as an
# offset() term so that emmeans sees every offset the fit used (also for
# the cumulative link fits, ecosystem-emmeans-ordinal.R). `na.action`: the
# fit's record of the rows it dropped.
emm_recover <- function(object, ..., na.action = object$na.action) {
  trms <- stats::delete.response(object$terms)
  if (!is.null(object$call$offset)) {
    f <- stats::formula(trms)
    f <- stats::as.formula(call("~", call("+", f[[2L]], call("offset", object$call$offset))),
                           env = environment(f))
    trms <- stats::terms(f)
  }
  # The data of the call first: with the model frame emmeans would average
  # an offset's value (mean log exposure) rather than set its variables at
  # their means (log mean exposure) as it does for glm and glmmTMB fits.
  # emmeans stops (rather than returning its message) when a subset with
  # an operator meets missing values ("missing value where TRUE/FALSE
  # needed"): the model frame then too.
  out <- tryCatch(emmeans::recover_data(object$call, trms, na.action, ...),
                  error = function(e) conditionMessage(e))
  if (is.character(out) && !is.null(object$model))
    out <- emmeans::recover_data(object$call, trms, na.action, frame = object$model, ...)
  out
}

emm_basis_of <- function(object, trms, xlev, grid, bhat, V) {
  m <- stats::model.frame(trms, grid, na.action = stats::na.pass, xlev = xlev)
  X <- stats::model.matrix(trms, m, contrasts.arg = object$contrasts)
  # matrix(NA) is estimability's "all estimable" (all.estble): the fits
  # drop aliased columns, so every linear function of bhat is estimable.
  list(X = X, bhat = bhat, nbasis = matrix(NA), V = V,
       dffun = function(k, dfargs) Inf, dfargs = list(),
       misc = emmeans::.std.link.labels(object$family, list()))
}
