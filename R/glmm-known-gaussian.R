# glmm() for a gaussian model whose only random-effect term is a
# known-covariance random intercept: the formula front end of the spectral
# rotation engine (fit-known-gaussian.R), and the methods whose answer
# differs from those of the other engines.

# Does the known-covariance gaussian engine fit this model? Gaussian with the
# identity link, one random-effect term (1 | g), g given a covariance.
use_known_gaussian <- function(formula, family, covariance) {
  if (!length(covariance) || family$family != "gaussian" || family$link != "identity")
    return(FALSE)
  bars <- reformulas::findbars(formula)
  if (length(bars) != 1L) return(FALSE)
  g <- paste(deparse(bars[[1L]][[3L]]), collapse = "")
  identical(bars[[1L]][[2L]], 1) && g %in% names(covariance) && length(covariance) == 1L
}

glmm_known_gaussian <- function(formula, mf, family, nAGQ, control, start, covariance,
                                REML, mc, fenv) {
  if (!is.null(nAGQ) && !identical(as.numeric(nAGQ), 1))
    stop("'nAGQ' does not apply to a gaussian model with a known covariance (its likelihood is exact)",
         call. = FALSE)
  if (!is.null(start))
    stop("'start' is not used for a gaussian model with a known covariance (the variance ratio is searched over its whole range)",
         call. = FALSE)
  bar <- reformulas::findbars(formula)[[1L]]
  g <- paste(deparse(bar[[3L]]), collapse = "")
  cv <- covariance[[g]]
  kf <- if (inherits(cv, "glmmgee_kfactor")) cv
  K <- if (is.null(kf)) check_covariance_arg(covariance, g, list("(Intercept)"))[[g]]
  fac <- mf[[g]]
  if (is.null(fac))
    stop(sprintf("the grouping factor '%s' must be a variable of 'data'", g), call. = FALSE)
  lev <- if (is.null(kf)) rownames(K) else rownames(kf$L)
  index <- match(as.character(fac), lev)
  if (anyNA(index)) {
    miss <- unique(as.character(fac)[is.na(index)])
    stop(sprintf("'covariance$%s': its row names do not match the levels of '%s' (%d level(s) missing, e.g. %s)",
                 g, g, length(miss), paste(miss[seq_len(min(3L, length(miss)))], collapse = ", ")),
         call. = FALSE)
  }
  fx <- fixed_design(formula, mf, fenv)
  X <- fx$X
  rc <- checked_response(mf, X, family, formula)
  resp <- rc$resp
  if (any(resp$weights != 1))
    stop("'weights' are not available for a gaussian model with a known covariance", call. = FALSE)
  n <- length(resp$y)
  if (is.null(kf) && max(tabulate(index, length(lev))) <= 1L && is_scaled_identity(K))
    stop(sprintf(paste0("grouping factor '%s' has as many levels as observations (%d) and its ",
                        "known covariance is the identity: its random effect is not identifiable ",
                        "(it is confounded with the residual of the gaussian family); remove the term"),
                 g, n), call. = FALSE)
  fit <- known_gaussian_fit(X, resp$y - rc$offset, index, K, kf, g, isTRUE(REML))
  new_glmm_known(fit, X, resp$y, rc$offset, index, lev, g, mf, fx$mt, mc, formula, family,
                 isTRUE(REML))
}

# A (dense or sparse) K equal to c I.
is_scaled_identity <- function(K) {
  dg <- as.numeric(Matrix::diag(K))
  off <- sum(abs(K)) - sum(abs(dg))
  off == 0 && max(dg) - min(dg) <= 1e-12 * max(abs(dg))
}

new_glmm_known <- function(fit, X, y, offset, index, lev, g, mf, mt, call, formula, family, reml) {
  p <- length(fit$beta)
  names(fit$b) <- lev
  eta <- drop(X %*% fit$beta) + offset + fit$b[index]
  obj <- structure(list(
    call = call, formula = formula, family = family,
    coefficients = fit$beta, vcov = fit$vcov, cov_theta = fit$vcov,
    theta = c(fit$beta, stats::setNames(sqrt(fit$s2g), paste0(g, ".(Intercept)")),
              "log(sigma)" = 0.5 * log(fit$s2e)),
    sigma = sqrt(fit$s2e), s2g = fit$s2g, lambda = fit$lambda, REML = reml,
    loglik = fit$loglik, df = p + 2L, nobs = length(y), n = length(y),
    group_name = g, ngroups = length(unique(index)), group_levels = lev, group = index,
    b = fit$b, linear.predictors = eta, fitted.values = eta, y = y,
    offset = if (any(offset != 0)) offset, X = X, model = mf, terms = mt,
    xlevels = stats::.getXlevels(mt, mf), contrasts = attr(X, "contrasts"),
    na.action = attr(mf, "na.action"), nAGQ = 1L, singular = fit$singular,
    optinfo = fit$optinfo),
    class = c("glmmgee_glmm_known", "glmmgee_glmm"))
  for (w in obj$optinfo$warnings) warning(w, call. = FALSE)
  obj
}

#' @export
print.glmmgee_glmm_known <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat(sprintf("Linear mixed model with a known covariance, fit by %s\n", x$optinfo$method))
  cat("Formula: ", paste(deparse(x$formula), collapse = " "), "\n", sep = "")
  cat(sprintf("%s: %s\n", if (x$REML) "REML log-likelihood" else "logLik",
              format(x$loglik, digits = digits + 3L)))
  cat("Random effects:\n")
  print(VarCorr(x), digits = digits)
  cat(sprintf("Number of obs: %d, levels of %s: %d\n", x$nobs, x$group_name, x$ngroups))
  cat("Fixed effects:\n")
  print.default(format(x$coefficients, digits = digits), print.gap = 2L, quote = FALSE)
  if (x$singular) cat("Note: singular fit (the known-covariance variance is estimated at zero)\n")
  print_notes(x$optinfo$warnings)
  invisible(x)
}

#' @export
summary.glmmgee_glmm_known <- function(object, ...) {
  se <- sqrt(diag(object$vcov))
  tab <- cbind(Estimate = object$coefficients, `Std. Error` = se,
               `t value` = object$coefficients / se)
  structure(list(fit = object, coefficients = tab), class = "summary.glmmgee_glmm_known")
}

#' @export
print.summary.glmmgee_glmm_known <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print(x$fit, digits = digits)
  cat("\nFixed effects with standard errors:\n")
  print(x$coefficients, digits = digits)
  invisible(x)
}

#' @export
VarCorr.glmmgee_glmm_known <- function(x, sigma = 1, ...) {
  out <- data.frame(group = c(x$group_name, "Residual"),
                    variance = c(x$s2g, x$sigma^2),
                    sd = sqrt(c(x$s2g, x$sigma^2)))
  class(out) <- c("VarCorr.glmmgee_glmm_known", "data.frame")
  out
}

#' @export
print.VarCorr.glmmgee_glmm_known <- function(x, digits = max(3L, getOption("digits") - 2L), ...) {
  y <- as.data.frame(unclass(x))
  names(y) <- c("Group", "Variance", "Std.Dev.")
  y$Group[1L] <- paste0(y$Group[1L], " (known K)")
  print(y, digits = digits, row.names = FALSE)
  invisible(x)
}

#' @export
ranef.glmmgee_glmm_known <- function(object, ...) {
  out <- list(data.frame(`(Intercept)` = object$b, row.names = object$group_levels,
                         check.names = FALSE))
  names(out) <- object$group_name
  out
}

#' @export
fitted.glmmgee_glmm_known <- function(object, ...) object$fitted.values

#' @export
residuals.glmmgee_glmm_known <- function(object, ...) object$y - object$fitted.values
