# Criteria for choosing the working correlation (and the mean model) of a
# GEE, one table for one or several fits: QIC, QICu, CIC (QIC()), the
# Rotnitzky-Jewell criterion, Gosho-Hamada-Yoshimura, Pardo-Alonso, and the
# penalized Gaussian pseudo-likelihood criteria of Carey and Wang.

#' Criteria for the working correlation of GEE fits
#'
#' One row per fit of the criteria proposed for choosing the working
#' correlation of a GEE (smaller is better for all of them), with QIC's:
#' * `QIC`, `QICu`, `CIC`: as [QIC()] (Pan, 2001; Hin and Wang, 2009).
#' * `RJC`: Rotnitzky-Jewell criterion \eqn{\sqrt{(1 - \mathrm{tr}(C)/p)^2
#'   + (1 - \mathrm{tr}(C^2)/p)^2}}, \eqn{C = V_M^{-1} V_R} (model-based and
#'   robust variances; Hin, Carey and Wang, 2007).
#' * `GHYC`: Gosho-Hamada-Yoshimura criterion \eqn{\mathrm{tr}\{(\hat\Sigma
#'   \bar V^{-1} - I)^2\}}, \eqn{\hat\Sigma} the mean of the residual
#'   cross-products \eqn{e_i e_i'} and \eqn{\bar V} the mean of the working
#'   covariances \eqn{\phi V_i}, both by pair of wave positions over the
#'   clusters observed at both (Gosho, Hamada and Yoshimura, 2011).
#' * `PAC`: Pardo-Alonso criterion \eqn{|\det\hat\Sigma / \det\bar V - 1|}
#'   (Pardo and Alonso, 2019).
#' * `GPL`: the Gaussian pseudo-likelihood \eqn{\sum_i [n_i \log 2\pi + e_i'
#'   (\phi V_i)^{-1} e_i + \log\det(\phi V_i)]}; `AGPC` \eqn{= GPL + k(p +
#'   q)} and `SGPC` \eqn{= GPL + \log(K)(p + q)} (Carey and Wang, 2011),
#'   \eqn{q} the number of correlation parameters, \eqn{K} the clusters.
#' * `params`: \eqn{p + q}.
#'
#' The definitions are those of glmtoolbox's `QIC()`, `CIC()`, `RJC()`,
#' `GHYC()`, `PAC()`, `AGPC()` and `SGPC()`, and the values agree with them
#' for fits with the same estimates (`scale = "estimated"`). By default
#' (`scale = "family"`) binomial and poisson fits take the scale as 1 in QIC
#' and CIC (Pan's definition, as [QIC()]), where glmtoolbox divides the
#' quasi-likelihood and the independence information by the moment estimate
#' of the scale. The estimates themselves can differ slightly between the
#' packages: glmtoolbox's moment estimators of the scale and of some
#' correlations use other degrees-of-freedom corrections than geepack's,
#' which [gee()] follows. GHYC and
#' PAC need the wave positions to be comparable across clusters (balanced
#' designs, or `waves`).
#'
#' @param object a fit from [gee()] or [gee_fit()].
#' @param ... further fits.
#' @param k penalty per parameter of AGPC.
#' @param scale the scale dividing QIC's quasi-likelihood and independence
#'   information: `"family"` (1 for binomial and poisson, Pan's definition,
#'   as [QIC()]) or `"estimated"` (the fit's scale for every family, as
#'   glmtoolbox).
#' @return A matrix with a row per fit and columns `QIC`, `QICu`, `CIC`,
#'   `RJC`, `GHYC`, `PAC`, `GPL`, `AGPC`, `SGPC`, `params`.
#' @references
#' Carey, V. J. and Wang, Y.-G. (2011). Working covariance model selection
#' for generalized estimating equations. *Statistics in Medicine* 30,
#' 3117--3124.
#'
#' Gosho, M., Hamada, C. and Yoshimura, I. (2011). Criterion for the
#' selection of a working correlation structure in the generalized
#' estimating equation approach for longitudinal balanced data.
#' *Communications in Statistics - Theory and Methods* 40, 3839--3856.
#'
#' Hin, L.-Y., Carey, V. J. and Wang, Y.-G. (2007). Criteria for
#' working-correlation-structure selection in GEE: assessment via
#' simulation. *The American Statistician* 61, 360--364.
#'
#' Pardo, M. C. and Alonso, R. (2019). Working correlation structure
#' selection in GEE analysis. *Statistical Papers* 60, 1447--1467.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   f_ind <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'                family = poisson, corstr = "independence")
#'   f_exc <- update(f_ind, corstr = "exchangeable")
#'   f_ar1 <- update(f_ind, corstr = "ar1")
#'   gee_criteria(f_ind, f_exc, f_ar1)
#' }
#' @export
gee_criteria <- function(object, ..., k = 2, scale = c("family", "estimated")) {
  check_dots_fits(..., .method = "gee_criteria")
  if (!is.numeric(k) || length(k) != 1L || !is.finite(k) || k < 0)
    stop("'k' must be one non-negative number", call. = FALSE)
  scale <- match.arg(scale)
  fits <- c(list(object), list(...))
  if (!all(vapply(fits, inherits, logical(1), "glmmgee_gee")) ||
      any(vapply(fits, inherits, logical(1), "glmmgee_gee_ordinal")))
    stop("gee_criteria(): every model must be a fit from gee() or gee_fit() (not ordinal)",
         call. = FALSE)
  out <- t(vapply(fits, gee_criteria_one, numeric(10), k = k, scale = scale))
  rownames(out) <- fit_labels(c(list(substitute(object)),
                                as.list(match.call(expand.dots = FALSE)$...)))
  if (length(fits) > 1L && any(vapply(fits, nobs, 1L) != nobs(fits[[1L]])))
    warning("gee_criteria(): the fits do not use the same number of observations", call. = FALSE)
  out
}

gee_criteria_one <- function(fit, k, scale) {
  q <- gee_qic_one(fit)
  cb <- gee_cluster_blocks(fit, "gee_criteria()")
  phi <- fit$scale
  if (scale == "estimated" && gee_unit_scale(fit)) {  # anova-gee.R
    # glmtoolbox's convention: the quasi-likelihood and the independence
    # information divided by the fit's scale for every family.
    cic <- q[["CIC"]] / phi
    Q <- q[["QuasiLik"]] / phi
    q[c("QIC", "QICu", "CIC")] <- c(-2 * Q + 2 * cic, -2 * Q + 2 * q[["params"]], cic)
  }
  p <- cb$p
  C <- solve(vcov(fit, type = "model"), vcov(fit, type = "san.se"))
  rjc <- sqrt((1 - sum(diag(C)) / p)^2 + (1 - sum(diag(C %*% C)) / p)^2)
  Tn <- max(vapply(cb$blocks, function(b) max(b$pos), 1))
  S <- Vb <- Cn <- matrix(0, Tn, Tn)
  gpl <- 0
  for (b in cb$blocks) {
    S[b$pos, b$pos] <- S[b$pos, b$pos] + tcrossprod(b$e)
    Vb[b$pos, b$pos] <- Vb[b$pos, b$pos] + phi * b$V
    Cn[b$pos, b$pos] <- Cn[b$pos, b$pos] + 1
    ni <- length(b$e)
    gpl <- gpl + ni * log(2 * pi) + sum(b$e * (b$Vinv %*% b$e)) / phi + b$logdet + ni * log(phi)
  }
  occ <- diag(Cn) > 0
  S <- S[occ, occ, drop = FALSE] / Cn[occ, occ, drop = FALSE]
  Vb <- Vb[occ, occ, drop = FALSE] / Cn[occ, occ, drop = FALSE]
  ghyc <- pac <- NA_real_
  if (all(is.finite(S)) && all(is.finite(Vb))) {
    A <- S %*% solve(Vb) - diag(nrow(S))
    ghyc <- sum(diag(A %*% A))
    pac <- abs(det(S) / det(Vb) - 1)
  }
  npar <- p + length(fit$alpha)
  c(QIC = q[["QIC"]], QICu = q[["QICu"]], CIC = q[["CIC"]], RJC = rjc, GHYC = ghyc, PAC = pac,
    GPL = gpl, AGPC = gpl + k * npar, SGPC = gpl + log(cb$K) * npar, params = npar)
}
