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
  new_glmm_known(fit, X, resp$y, rc$offset, index, lev, g, bar, mf, fx$mt, mc, formula, family,
                 isTRUE(REML))
}

# A (dense or sparse) K equal to c I.
is_scaled_identity <- function(K) {
  dg <- as.numeric(Matrix::diag(K))
  off <- sum(abs(K)) - sum(abs(dg))
  off == 0 && max(dg) - min(dg) <= 1e-12 * max(abs(dg))
}

# The fitted object: the fields of a several-term fit (fit-sparse.R), built
# by the same constructor so that its methods (VarCorr, ranef, coef,
# predict, the interpretation layer) apply, plus REML and the variance
# ratio.
new_glmm_known <- function(fit, X, y, offset, index, lev, g, bar, mf, mt, call, formula,
                           family, reml) {
  p <- length(fit$beta)
  nl <- length(lev)
  n <- length(y)
  sdg <- sqrt(fit$s2g)
  pnames <- c(names(fit$beta), paste0(g, ".(Intercept)"),
              sprintf("log(%s)", dispersion_name(family)))
  theta <- stats::setNames(c(fit$beta, sdg, 0.5 * log(fit$s2e)), pnames)
  cov_theta <- matrix(0, p + 2L, p + 2L, dimnames = list(pnames, pnames))
  cov_theta[seq_len(p), seq_len(p)] <- fit$vcov
  cov_theta[p + 1:2, p + 1:2] <- fit$cov_var
  cn <- "(Intercept)"
  term <- list(group = g, group_expr = bar[[3L]], lhs = bar[[2L]], cnames = cn,
               levels = lev, index = index, columns = seq_len(nl), par = 1L, known_cov = TRUE,
               Lambda = matrix(sdg, 1, 1, dimnames = list(cn, cn)),
               D = matrix(fit$s2g, 1, 1, dimnames = list(cn, cn)),
               b = matrix(fit$b, nl, 1L, dimnames = list(lev, cn)),
               kdiag = fit$kdiag,
               condvar = array(NA_real_, c(1L, 1L, nl), dimnames = list(cn, cn, lev)))
  Z <- Matrix::sparseMatrix(i = seq_len(n), j = index, x = 1, dims = c(n, nl))
  eta <- drop(X %*% fit$beta) + offset + fit$b[index]
  sf <- list(beta = fit$beta, theta = theta, cov_theta = cov_theta, loglik = fit$loglik,
             sigma = sqrt(fit$s2e), dispersion = sqrt(fit$s2e), family_par = NULL,
             family = family, terms = list(term), modes = list(eta = eta),
             singular = fit$singular, gradient = NULL, hessian = NULL,
             optinfo = c(fit$optinfo, list(nAGQ = 1L)))
  obj <- new_glmm_sparse(sf, X = X, y = y, weights = rep(1, n), offset = offset,
                         re = list(Z = Z), mf = mf, mt = mt, call = call, formula = formula)
  obj$REML <- reml
  obj$lambda <- fit$lambda
  class(obj) <- c("glmmgee_glmm_known", class(obj))
  if (fit$singular)
    obj$optinfo$warnings <- c(obj$optinfo$warnings,
                              sprintf("singular fit: the variance of the known-covariance effect of '%s' is estimated at zero", g))
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
  print(VarCorr(x), digits = digits, comp = "Std.Dev.")
  cat(sprintf("Number of obs: %d, levels of %s: %d\n", x$nobs, x$group_name, x$ngroups))
  cat("Fixed effects:\n")
  print.default(format(x$coefficients, digits = digits), print.gap = 2L, quote = FALSE)
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

