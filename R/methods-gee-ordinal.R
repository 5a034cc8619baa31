# Methods of the ordinal GEE (gee-ordinal.R fits it): printing, the
# estimates and their covariance, predictions of the categories'
# probabilities, and the cumulative odds ratios.

#' @export
print.glmmgee_gee_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_gee_ordinal", .allow = print_dots)
  cat(sprintf("Ordinal GEE: marginal cumulative link model (%s link), %s\n", x$family$link,
              if (is.null(x$association)) "independence working structure"
              else if (isTRUE(x$association$global)) sprintf("global odds ratios structure \"%s\"", x$corstr)
              else sprintf("local odds ratios structure \"%s\"", x$corstr)))
  cat("Formula:", paste(deparse(x$formula), collapse = " "), "\n")
  cat(sprintf("%d observations, %d clusters; %d response categories\n", x$nobs, x$nclusters,
              length(x$y_levels)))
  cat("Coefficients (population-averaged):\n")
  print(signif(x$coefficients, digits))
  cat("Thresholds:\n")
  print(signif(x$thresholds, digits))
  if (isTRUE(x$association$global)) {
    cat(sprintf("Association (\"%s\", log global odds ratios, estimated jointly):\n", x$corstr))
    print(signif(x$association$parameters, digits))
  } else if (length(x$association$parameters)) {
    cat(sprintf("Association (\"%s\", fixed at its estimate from the pairs' tables):\n", x$corstr))
    print(signif(x$association$parameters, digits))
  } else if (identical(x$corstr, "fixed")) {
    cat("Association: the local odds ratios of the given table(s) 'R'\n")
  }
  if (length(x$warnings)) cat(paste0("Note: ", x$warnings, "\n"), sep = "")
  invisible(x)
}

#' @export
summary.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "summary.glmmgee_gee_ordinal")
  se <- sqrt(diag(object$vcov$robust))
  z <- object$psi / se
  tab <- cbind(Estimate = object$psi, `Robust SE` = se, `Naive SE` = sqrt(diag(object$vcov$naive)),
               `z value` = z, `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  atab <- NULL
  if (isTRUE(object$association$global)) {
    a <- object$association
    ase <- sqrt(diag(a$vcov$robust))
    az <- a$parameters / ase
    atab <- cbind(Estimate = a$parameters, `Robust SE` = ase, `Naive SE` = sqrt(diag(a$vcov$naive)),
                  `z value` = az, `Pr(>|z|)` = 2 * stats::pnorm(-abs(az)))
  }
  structure(list(fit = object, table = tab, association = atab), class = "summary.glmmgee_gee_ordinal")
}

#' @export
print.summary.glmmgee_gee_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.summary.glmmgee_gee_ordinal", .allow = print_dots)
  print.glmmgee_gee_ordinal(x$fit, digits = digits)
  cat("\nEstimates with robust (sandwich) standard errors:\n")
  stats::printCoefmat(x$table, digits = digits, has.Pvalue = TRUE, P.values = TRUE)
  if (!is.null(x$association)) {
    cat("\nLog global odds ratios with robust (sandwich) standard errors:\n")
    stats::printCoefmat(x$association, digits = digits, has.Pvalue = TRUE, P.values = TRUE)
  }
  invisible(x)
}

#' @export
coef.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "coef.glmmgee_gee_ordinal", .allow = "complete")
  object$psi
}

#' @export
vcov.glmmgee_gee_ordinal <- function(object, type = c("robust", "naive"), ...) {
  check_dots(..., .method = "vcov.glmmgee_gee_ordinal", .allow = "complete")
  # A bare match.arg() error named neither the argument's value nor why;
  # abbreviations ("rob", "n") are taken, as match.arg() and gee's vcov() do.
  choices <- c("robust", "naive")
  hit <- if (identical(type, choices)) 1L
         else if (is.character(type) && length(type) == 1L && !is.na(type) && nzchar(type))
           pmatch(type, choices)
         else NA_integer_
  if (is.na(hit))
    stop(sprintf(paste0("'type' = %s: an ordinal GEE offers type = \"robust\" (the sandwich) or ",
                        "\"naive\" (model-based); the small-sample and jackknife variances (\"md\", ",
                        "\"kc\", \"jack\", ...) are for gee() fits of other families"),
                 if (is.character(type) && length(type) == 1L) dQuote(type, FALSE)
                 else paste(deparse(type), collapse = "")), call. = FALSE)
  object$vcov[[choices[hit]]]
}

#' @export
confint.glmmgee_gee_ordinal <- function(object, parm, level = 0.95, ...) {
  check_dots(..., .method = "confint.glmmgee_gee_ordinal")
  check_level(level)
  est <- object$psi
  se <- sqrt(diag(object$vcov$robust))
  z <- stats::qnorm(1 - (1 - level) / 2)
  ci <- cbind(est - z * se, est + z * se)
  dimnames(ci) <- list(names(est), paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2),
                                                trim = TRUE), "%"))
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @export
nobs.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "nobs.glmmgee_gee_ordinal", .allow = "use.fallback")
  object$nobs
}

# As multgee's fits: the fitted marginal probabilities of the categories,
# one row per observation, padded with NA rows under na.exclude. (The
# default method returned NULL.)
#' @export
fitted.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "fitted.glmmgee_gee_ordinal")
  predict(object, type = "prob")
}

# A category has no residual; the default method returned NULL.
#' @export
residuals.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "residuals.glmmgee_gee_ordinal")
  stop("residuals() of an ordinal GEE are not defined (the response is a category); ",
       "fitted(fit) gives the fitted probabilities of the categories", call. = FALSE)
}

#' @export
formula.glmmgee_gee_ordinal <- function(x, ...) {
  # `env` (from as.formula()) ignored as by formula.glmmgee_glmm()
  check_dots(..., .method = "formula.glmmgee_gee_ordinal", .allow = "env")
  x$formula
}

# The default methods of these generics failed or returned NULL on an
# ordinal GEE: model.matrix() stopped with "object 'rating' not found",
# family() had no method, weights() and df.residual() gave NULL and sigma()
# numeric(0).
#' @export
family.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "family.glmmgee_gee_ordinal")
  object$family
}

#' @export
model.frame.glmmgee_gee_ordinal <- function(formula, ...) {
  check_dots(..., .method = "model.frame.glmmgee_gee_ordinal")
  formula$model
}

#' @export
model.matrix.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "model.matrix.glmmgee_gee_ordinal")
  cumulative_model_matrix(object)
}

#' @export
weights.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "weights.glmmgee_gee_ordinal")
  stats::naresid(attr(object$model, "na.action"), object$prior.weights %||% rep(1, nrow(object$X)))
}

#' @export
df.residual.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "df.residual.glmmgee_gee_ordinal")
  object$nobs - length(object$psi)
}

# The latent variable's scale is fixed at 1, as in the cumulative link
# mixed models.
#' @export
sigma.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "sigma.glmmgee_gee_ordinal")
  1
}

#' @export
deviance.glmmgee_gee_ordinal <- function(object, ...) {
  check_dots(..., .method = "deviance.glmmgee_gee_ordinal")
  stop("deviance() of an ordinal GEE is not defined (a GEE has no likelihood); ",
       "with corstr = \"independence\" its estimates are those of ordinal::clm()", call. = FALSE)
}

#' @export
predict.glmmgee_gee_ordinal <- function(object, newdata = NULL, type = c("prob", "class", "linear"),
                                        se.fit = FALSE, ...) {
  check_dots(..., .method = "predict.glmmgee_gee_ordinal")
  type <- match.arg(type)
  check_flag(se.fit, "se.fit")
  if (se.fit && type == "class")
    stop("'se.fit': standard errors are available for type = \"linear\" and \"prob\", not for \"class\"",
         call. = FALSE)
  nd <- ordinal_newdata(object, newdata)
  # Without newdata, padded to the data's rows under na.exclude, as fitted()
  # and plain gee's predict() (it gave the fitted rows only: 888 of 906).
  pad <- function(v) if (is.null(newdata)) stats::napredict(attr(object$model, "na.action"), v) else v
  eta <- drop(nd$X %*% object$coefficients) + nd$offset
  fit <- if (type == "linear") eta
         else category_probs(object$family, object$thresholds, eta, object$y_levels)
  if (type == "class")
    return(pad(factor(object$y_levels[max.col(fit, ties.method = "first")], levels = object$y_levels,
                      ordered = TRUE)))
  if (!se.fit) return(pad(fit))
  # se.fit was swallowed by '...' and the prediction returned without
  # standard errors. The delta method of the mixed models (methods-ordinal.R)
  # over the thresholds and coefficients, with the robust variance.
  list(fit = pad(fit), se.fit = pad(ordinal_predict_se(list(thresholds = object$thresholds,
                                                            cov_psi = object$vcov$robust,
                                                            family = object$family,
                                                            y_levels = object$y_levels),
                                                       nd$X, eta, type)))
}

ordinal_gee_odds_ratios <- function(fit, level = 0.95, parm = NULL, delta = 1, ...) {
  if (fit$family$link != "logit")
    stop(sprintf("'fit': cumulative odds ratios need the logit link, not %s", fit$family$link),
         call. = FALSE)
  bn <- names(fit$coefficients)
  est <- list(coef = fit$coefficients, vcov = fit$vcov$robust[bn, bn, drop = FALSE],
              family = fit$family, view = "marginal", separation = fit$separation,
              source = sprintf("ordinal GEE (%s), robust standard errors; odds of a higher category, P(Y > j)",
                               fit$corstr),
              binary = binary_columns(fit))
  ratio_table(est, level, match_parm(parm, bn, bn), "cumulative odds ratio", delta)
}
