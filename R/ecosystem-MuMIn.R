# MuMIn's r.squaredGLMM() on glmm fits, registered when MuMIn is loaded.
# MuMIn's own methods read a model through lme4's accessors (the model
# matrix of the random-effect terms, VarCorr()'s layout, the call to refit
# the null model), which a glmm fit does not have; this method computes the
# same statistic from the package's variance decomposition.

#' Nakagawa's R2 in MuMIn's layout
#'
#' A method for `MuMIn::r.squaredGLMM()` on [glmm()] fits, registered when
#' MuMIn is loaded: the marginal (`R2m`) and conditional (`R2c`)
#' \eqn{R^2} of Nakagawa, Johnson and Schielzeth (2017), one row per way of
#' approximating the distribution-specific variance, as MuMIn gives them
#' for lme4 and glmmTMB fits:
#' * gaussian: one row, the residual variance;
#' * binomial: `theoretical` (the latent variance, \eqn{\pi^2/3}, 1 or
#'   \eqn{\pi^2/6} by link) and `delta` (from the mean probability of the
#'   null model, by the approximation of Nakagawa et al., 2017);
#' * poisson, [nbinom2()] and Gamma (log link): `delta`, `lognormal` and
#'   `trigamma`, with \eqn{\lambda} the mean of the null model (intercept and
#'   the same random effects, refitted; for nbinom2 at the full model's
#'   random-effect variance, as MuMIn does) and the shape of the Gamma.
#'
#' The variance of the fixed effects is that of \eqn{X\hat\beta}; the
#' random-effect variance sums every term's variance averaged over the
#' observations (random slopes at the observed covariates; structured and
#' known covariances as [variance_shares()] computes them). Other families,
#' zero-inflated and hurdle fits stop with a message.
#'
#' @param object A fit from [glmm()].
#' @param null Not supported: the null model is refitted by glmm().
#' @param ... Must be empty.
#' @return A matrix with columns `R2m` and `R2c`.
#' @references Nakagawa, S., Johnson, P. C. D. and Schielzeth, H. (2017).
#'   The coefficient of determination R2 and intra-class correlation
#'   coefficient from generalized linear mixed-effects models revisited and
#'   expanded. *Journal of the Royal Society Interface* 14, 20170213.
#' @examples
#' if (requireNamespace("MuMIn", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   MuMIn::r.squaredGLMM(fit)
#' }
#' @name glmmgee-MuMIn
#' @exportS3Method MuMIn::r.squaredGLMM
r.squaredGLMM.glmmgee_glmm <- function(object, null, ...) {
  if (!missing(null))
    stop("r.squaredGLMM(): 'null' is not supported for glmm fits; the null model (intercept and the same random effects) is refitted",
         call. = FALSE)
  check_no_dots(list(...), "r.squaredGLMM")
  refuse_two_part_shares(object, "r.squaredGLMM")
  fam <- object$family
  key <- paste(fam$family, fam$link, sep = ".")
  ok <- c("gaussian.identity", "binomial.logit", "binomial.probit", "binomial.cloglog",
          "poisson.log", "nbinom2.log", "Gamma.log")
  if (!key %in% ok)
    stop(sprintf("r.squaredGLMM(): not available for the %s family with the %s link (available: %s)",
                 fam$family, fam$link, paste(ok, collapse = ", ")), call. = FALSE)
  parts <- fixed_random_variance(object)
  vfe <- parts$fixed
  vre <- parts$random
  theta <- unname(object$theta)
  # E d_i^k of each observation's dispersion (variance_shares()'s)
  dm <- dispersion_moments(object, re_structure(object, "r.squaredGLMM"))
  mean_obs <- function(v) rowMeans(vapply(v, count_obs_variance, numeric(3L)))
  vol <- switch(fam$family,
    gaussian = c(mean(dm(theta, 2))),
    binomial = {
      nul <- null_fixed_random(object)
      b0 <- nul$b0
      vt <- nul$random
      # The mean probability of the null model (Nakagawa et al. 2017,
      # their approximation of E{h(b0 + b)} for the logit).
      pm <- fam$linkinv(b0 - 0.5 * vt * tanh(b0 * (1 + 2 * exp(-0.5 * vt)) / 6))
      c(theoretical = switch(fam$link, logit = pi^2 / 3, probit = 1, cloglog = pi^2 / 6),
        delta = switch(fam$link, logit = 1 / (pm * (1 - pm)),
                       probit = 2 * pi * pm * (1 - pm) * exp(stats::qnorm(pm)^2),
                       cloglog = pm / (log1p(-pm)^2 * (1 - pm))))
    },
    poisson = {
      nul <- null_fixed_random(object)
      count_obs_variance(1 / exp(nul$b0 + 0.5 * nul$random))
    },
    nbinom2 = {
      nul <- null_fixed_random(object)
      lambda <- exp(nul$b0 + 0.5 * vre)
      mean_obs(1 / lambda + dm(theta, -1))
    },
    Gamma = mean_obs(dm(theta, -1)))
  tot <- vfe + vre
  out <- cbind(R2m = vfe / (tot + vol), R2c = tot / (tot + vol))
  rownames(out) <- names(vol)
  out
}

# The three approximations of the distribution-specific variance from the
# squared coefficient of variation v (Nakagawa et al. 2017, Table 1).
count_obs_variance <- function(v) c(delta = v, lognormal = log1p(v), trigamma = trigamma(1 / v))

# The variance of the fixed-effect predictions and the summed variance of
# the random-effect terms at the fit's estimates.
fixed_random_variance <- function(fit) {
  est <- variance_components(fit, lambda = 1, approximation = "delta")(unname(fit$theta))
  v <- est[attr(est, "kind") == "variance"]
  k <- length(v)
  list(fixed = unname(v[[1L]]), random = sum(v[-c(1L, k)]))
}

# The intercept and summed random-effect variance of the null model.
null_fixed_random <- function(fit) {
  nul <- null_model(fit)
  list(b0 = unname(nul$coefficients[[1L]]), random = fixed_random_variance(nul)$random)
}

#' @rdname glmmgee-MuMIn
#' @details For cumulative link mixed models ([glmm()] with [cumulative()])
#'   the one row, `theoretical`, is on the latent scale of
#'   [variance_shares()] (\eqn{\pi^2/3} logit, 1 probit, \eqn{\pi^2/6}
#'   cloglog); MuMIn has no method for `ordinal::clmm()` fits to compare.
#' @exportS3Method MuMIn::r.squaredGLMM
r.squaredGLMM.glmmgee_glmm_ordinal <- function(object, null, ...) {
  if (!missing(null))
    stop("r.squaredGLMM(): 'null' is not supported for glmm fits", call. = FALSE)
  check_no_dots(list(...), "r.squaredGLMM")
  v <- cumulative_variance_estimates(object)
  k <- length(v)
  tot <- sum(v)
  out <- cbind(R2m = v[[1L]] / tot, R2c = sum(v[-k]) / tot)
  rownames(out) <- "theoretical"
  out
}

# MuMIn's dredge() refits the global model with each subset of its fixed
# terms through the generic makeArgs() (MuMIn's, not exported), whose
# default drops the random-effect terms: every submodel then lacked them
# and glmm() refused it ("result is empty"). This method keeps them, as
# MuMIn's own methods do for lme4 fits: the submodel's fixed terms, then
# the global model's random-effect terms (opt$random, ". ~ . + (1 | g)").

#' @rdname glmmgee-MuMIn
#' @param obj,termNames,opt For MuMIn's internal `makeArgs()`: the global
#'   model, the fixed terms of one submodel and dredge()'s options.
#' @details `MuMIn::dredge()` works on glmm fits (fitted with `na.action =
#'   na.fail`, as dredge requires): each submodel has a subset of the fixed
#'   terms and all the random-effect terms of the global model, and the
#'   table (log-likelihood, AICc, weights) is that of the same models fitted
#'   by glmmTMB or lme4.
#' @exportS3Method MuMIn::makeArgs
makeArgs.glmmgee_glmm <- function(obj, termNames, opt, ...) {
  tn <- termNames
  tn[tn %in% opt$interceptLabel] <- "1"
  rhs <- c(if (!isTRUE(as.logical(opt$intercept))) "0" else if (!length(tn)) "1", tn)
  f <- stats::reformulate(rhs, response = opt$response)
  if (!is.null(opt$random)) f <- stats::update.formula(f, opt$random)
  environment(f) <- opt$gmFormulaEnv
  problems <- if (!is.null(opt$gmCall$start))
    "'start' of the global model cannot be subset for a submodel: fit it without 'start'"
  structure(list(formula = f), problems = as.character(problems))
}

# dredge() names the global model's coefficients by coeffs(), whose default
# reads coef(), a glmm's per-cluster list: the fixed effects instead.
# coefTable(): estimates and standard errors with df NA (z inference, as
# MuMIn gives for glmmTMB fits), for dredge()'s columns and model.avg().

#' @rdname glmmgee-MuMIn
#' @param model A fit from [glmm()], for `MuMIn::coeffs()` and
#'   `MuMIn::coefTable()`: the fixed effects (with their standard errors).
#' @exportS3Method MuMIn::coeffs
coeffs.glmmgee_glmm <- function(model) fixef(model)

#' @rdname glmmgee-MuMIn
#' @exportS3Method MuMIn::coefTable
coefTable.glmmgee_glmm <- function(model, ...) {
  check_no_dots(list(...), "coefTable")
  b <- fixef(model)
  out <- cbind(Estimate = b, `Std. Error` = sqrt(diag(vcov(model))), df = NA_real_)
  rownames(out) <- names(b)
  class(out) <- c("coefTable", "matrix")
  out
}
