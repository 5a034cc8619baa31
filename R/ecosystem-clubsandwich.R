# clubSandwich's vcovCR() and its tests (coef_test(), Wald_test(),
# conf_int()) on glmm() fits, registered when clubSandwich loads.
#
# For an exact linear mixed model clubSandwich's own computation runs on
# the fit: the methods below give it what its methods for lme4's lmerMod
# read (fixed effects, X, marginal residuals y - X beta, the marginal
# covariance of each cluster's rows on the scale of sigma^2, the bread and
# its scale), so its CR0 ... CR4 and the Satterthwaite and HTZ tests are
# clubSandwich's, and they equal vcov(fit, type = ) and the degrees of
# freedom summary(fit, vcov = ) reports. For other GLMMs (the score
# sandwich of R/vcov-robust-scores.R) there is no working linear model for
# clubSandwich's small-sample tests: vcovCR() returns glmmgee's CR0 ... CR3
# with clubSandwich's class, for the tests that need only the matrix.
# The generics other than vcovCR() are clubSandwich's internal ones.

#' clubSandwich's vcovCR() for glmm fits
#'
#' A method for [clubSandwich::vcovCR()], registered when clubSandwich is
#' loaded, so that `vcovCR()`, `coef_test()`, `Wald_test()` and
#' `conf_int()` work on [glmm()] fits and agree with glmmgee's own
#' `vcov(fit, type = )` and `summary(fit, vcov = )`.
#'
#' * For a Gaussian linear mixed model (the exact LMM engines), clubSandwich
#'   computes on the fit exactly as it does for an `lme4::lmer()` fit: the
#'   generalized-least-squares sandwich with the model's marginal covariance
#'   as working and target covariance, conditional on the variance
#'   parameters. All of clubSandwich's types (`"CR0"` ... `"CR4"`,
#'   `"CR1p"`, `"CR1S"`) and tests (Satterthwaite, HTZ, saddlepoint) are
#'   available, and prior weights are honoured.
#' * For other GLMMs (one grouping factor, fitted by adaptive quadrature or
#'   the Laplace approximation, also with zero-inflation, hurdle or
#'   dispersion parts), `vcovCR()` returns `vcov(fit, type = , cluster = )`
#'   (types `"CR0"` ... `"CR3"`, see [vcov()][glmm-extractors]) with
#'   clubSandwich's class. Tests that need only the matrix work
#'   (`coef_test()` and `conf_int()` with `test = "z"`, `"naive-t"` or
#'   `"naive-tp"`); clubSandwich's Satterthwaite, HTZ and saddlepoint
#'   tests (and `Wald_test()`, which computes their pieces) are built for
#'   linear models and stop with a message.
#'   `summary(fit, vcov = "CR2")` reports glmmgee's Satterthwaite degrees of
#'   freedom for these fits.
#'
#' @param obj a fit from [glmm()].
#' @param cluster the clustering: missing (the grouping factor that nests
#'   every random-effect term), a one-sided formula such as `~ clinic`, or a
#'   vector with one value per observation. It must nest all random-effect
#'   groupings.
#' @param type the estimator, e.g. `"CR2"`.
#' @param target,inverse_var clubSandwich's working-model arguments, for
#'   linear mixed models only (by default the model's marginal covariance,
#'   `inverse_var = TRUE`, as clubSandwich uses for lmer fits).
#' @param form `"sandwich"` (the default), `"meat"` or `"estfun"` for a
#'   linear mixed model, `"sandwich"` otherwise.
#' @param ... not used: an argument given here is an error.
#' @details The methods for `coef_CS()`, `model_matrix()`, `residuals_CS()`,
#'   `targetVariance()`, `weightMatrix()` and `v_scale()` hand clubSandwich's
#'   internal computations the pieces of a linear mixed model (for other
#'   fits they stop with the message above); they are not called directly.
#' @return A matrix of class `"vcovCR"`/`"clubSandwich"` with the attributes
#'   clubSandwich's tests read.
#' @examples
#' if (requireNamespace("clubSandwich", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(sleepstudy, package = "lme4")
#'   fit <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
#'   V <- clubSandwich::vcovCR(fit, type = "CR2")
#'   all.equal(as.matrix(V), vcov(fit, type = "CR2"), check.attributes = FALSE)
#'   clubSandwich::coef_test(fit, vcov = V)
#'   summary(fit, vcov = "CR2")$coefficients
#' }
#' @name clubSandwich-methods
#' @exportS3Method clubSandwich::vcovCR
vcovCR.glmmgee_glmm <- function(obj, cluster, type, target = NULL, inverse_var = NULL,
                                form = "sandwich", ...) {
  check_dots(..., .method = "vcovCR.glmmgee_glmm")
  require_capability(obj, "robust_vcov", "clubSandwich::vcovCR()")
  if (missing(type) || !is.character(type) || length(type) != 1L || is.na(type))
    stop("vcovCR(): 'type' must be given, one of \"CR0\", \"CR1\", \"CR2\", \"CR3\" ",
         "(for linear mixed models also clubSandwich's \"CR1p\", \"CR1S\", \"CR4\")",
         call. = FALSE)
  cl <- resolve_vcov_cluster(obj, if (missing(cluster)) NULL else cluster)
  if (robust_is_lmm(obj)) {
    pos <- cs_positive_rows(obj)
    f <- factor(cl$code[pos], levels = seq_along(cl$levels), labels = cl$levels)
    default <- utils::getS3method("vcovCR", "default", envir = asNamespace("clubSandwich"))
    return(default(obj, cluster = f, type = type, target = target,
                   inverse_var = inverse_var %||% is.null(target), form = form))
  }
  if (!type %in% robust_cr_types)
    stop(sprintf(paste0("vcovCR(): type \"%s\" is not available for this fit (engine %s); its ",
                        "cluster-robust types are \"CR0\", \"CR1\", \"CR2\", \"CR3\""),
                 type, fit_engine(obj)$name), call. = FALSE)
  if (!is.null(target) || !is.null(inverse_var))
    stop("vcovCR(): 'target' and 'inverse_var' describe a working linear model; they are ",
         "for linear mixed models only", call. = FALSE)
  if (!identical(form, "sandwich"))
    stop("vcovCR(): only form = \"sandwich\" is available for this fit; sandwich::estfun() ",
         "and sandwich::bread() give its pieces", call. = FALSE)
  V <- robust_vcov(obj, type, cl)
  pos <- cs_positive_rows(obj)
  n <- length(cl$code)
  structure(unclass(V)[, , drop = FALSE], type = type,
            cluster = factor(cl$code[pos], levels = seq_along(cl$levels), labels = cl$levels),
            bread = robust_bread(obj), v_scale = n, est_mats = NULL, adjustments = NULL,
            target = NULL, inverse_var = NA, ignore_FE = FALSE,
            class = c("vcovCR", "clubSandwich"))
}


cs_positive_rows <- function(obj) {
  w <- obj$prior.weights
  n <- .subset2(obj, "n") %||% NROW(obj$y)
  if (is.null(w)) rep(TRUE, n) else w > 0
}

# The pieces clubSandwich's linear machinery reads; for other fits its
# small-sample tests have no working linear model.
cs_lmm_pieces <- function(obj, cluster = NULL) {
  if (!robust_is_lmm(obj))
    stop(paste0("clubSandwich's Satterthwaite, HTZ and saddlepoint tests are built for linear ",
                "models; for this GLMM use coef_test() or conf_int() with test = \"z\", ",
                "\"naive-t\" or \"naive-tp\", or summary(fit, vcov = \"CR2\"), which reports glmmgee's ",
                "Satterthwaite degrees of freedom"), call. = FALSE)
  lmm_cluster_pieces(obj, cluster)
}

#' @rdname clubSandwich-methods
#' @exportS3Method clubSandwich::coef_CS
coef_CS.glmmgee_glmm <- function(obj) {
  b <- fixef(obj)
  b[colnames(obj$vcov) %||% names(b)]
}

#' @rdname clubSandwich-methods
#' @exportS3Method clubSandwich::model_matrix
model_matrix.glmmgee_glmm <- function(obj) {
  pc <- cs_lmm_pieces(obj)
  obj$X[cs_positive_rows(obj), pc$names, drop = FALSE]
}

#' @rdname clubSandwich-methods
#' @exportS3Method clubSandwich::residuals_CS
residuals_CS.glmmgee_glmm <- function(obj) {
  pc <- cs_lmm_pieces(obj)
  pos <- cs_positive_rows(obj)
  off <- obj$offset %||% 0
  e <- obj$y - off - c(obj$X[, pc$names, drop = FALSE] %*% coef_CS.glmmgee_glmm(obj))
  e[pos]
}

# clubSandwich passes `cluster` as a factor over the rows of positive
# weight, in the order of model_matrix(); the blocks come in the order of
# its levels, as split() gives them.
#' @rdname clubSandwich-methods
#' @exportS3Method clubSandwich::targetVariance
targetVariance.glmmgee_glmm <- function(obj, cluster) {
  lapply(unname(cs_lmm_pieces(obj, cluster)$blocks), `[[`, "V")
}

#' @rdname clubSandwich-methods
#' @exportS3Method clubSandwich::weightMatrix
weightMatrix.glmmgee_glmm <- function(obj, cluster) {
  lapply(unname(cs_lmm_pieces(obj, cluster)$blocks), function(b) chol2inv(b$R))
}

# sandwich::bread() of the fit is n times the GLS covariance; clubSandwich
# divides it by v_scale to get the inverse of sum X_i' W_i X_i with W_i on
# the scale of sigma^2.
#' @rdname clubSandwich-methods
#' @exportS3Method clubSandwich::v_scale
v_scale.glmmgee_glmm <- function(obj) {
  pc <- cs_lmm_pieces(obj)
  length(pc$cluster$code) * pc$scale
}
