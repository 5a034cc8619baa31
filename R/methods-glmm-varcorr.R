# VarCorr() of glmm() fits: the random effects' covariance blocks, their
# print and data-frame forms.

#' Variance components of a fitted GLMM
#'
#' The covariance matrix \eqn{D} of the random effects, in a list named by
#' the grouping factor (as lme4 does), with attributes `"stddev"` and
#' `"correlation"`. Correlations between terms in different blocks (e.g.
#' `(x || g)`) are structural zeros. For gaussian models the attribute
#' `"sc"` of the list is the residual standard deviation.
#'
#' @param x A fitted model from [glmm()], or the result of `VarCorr()`.
#' @param sigma As lme4's: when given, the standard deviations are those
#'   relative to the residual standard deviation (to 1 for families without
#'   one) multiplied by `sigma`, and the residual's is `sigma`. Left out,
#'   the estimates. Not available (an error) for models whose residual
#'   standard deviation varies with a dispersion formula, nor for
#'   cumulative link models or models with random effects in the zero part
#'   or the dispersion formula.
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
  new_varcorr(stats::setNames(list(D), x$group_name), x, if (!missing(sigma)) sigma)
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

new_varcorr <- function(blocks, fit, sigma = NULL) {
  # A diag() or homdiag() term has no correlations to report: its columns,
  # where a block holds them all with every covariance among them exactly 0
  # (an estimated covariance never is), are printed as independent
  # effects, as `||` terms are, also beside other terms of the factor.
  diag_cols <- lapply(Filter(function(s) isTRUE(s$kind %in% c("diag", "homdiag")),
                             fit$structures %||% list()), `[[`, "columns")
  if (length(diag_cols))
    blocks <- lapply(blocks, function(D) {
      for (cols in diag_cols) {
        at <- match(cols, rownames(D))
        if (length(at) < 2L || anyNA(at)) next
        S <- D[at, at, drop = FALSE]
        if (any(S[lower.tri(S)] != 0)) next
        ids <- attr(D, "blocks")
        ids[at] <- max(ids) + seq_along(at)
        attr(D, "blocks") <- ids
      }
      D
    })
  # No residual row where a dispersion formula makes sigma differ by row
  # (fit$aux$disp$X: its design; NULL for one dispersion).
  useSc <- fit$family$family == "gaussian" && is.null(fit$aux$disp$X)
  sc <- if (useSc) fit$sigma else 1
  if (!is.null(sigma)) {
    # lme4's VarCorr(sigma = ): the components relative to the residual
    # standard deviation (to 1 where the family has none) times `sigma`
    if (!is.numeric(sigma) || length(sigma) != 1L || !is.finite(sigma) || sigma <= 0)
      stop("'sigma' must be one positive number", call. = FALSE)
    if (fit$family$family == "gaussian" && !useSc)
      stop("VarCorr(sigma = ): the residual standard deviation of this fit varies with its dispersion formula; there is no one sigma to rescale by",
           call. = FALSE)
    if (!(sc > 0))
      stop("VarCorr(sigma = ): the residual standard deviation is estimated at zero; the components have no scale relative to it",
           call. = FALSE)
    f <- sigma / sc
    blocks <- lapply(blocks, function(D) {
      sd <- attr(D, "stddev")
      D <- D * f^2
      attr(D, "stddev") <- sd * f
      D
    })
    sc <- if (useSc) sigma else 1
  }
  structure(blocks, sc = sc, useSc = useSc,
            family_par = fit$family_par, class = "VarCorr.glmmgee_glmm")
}

# The VarCorr() methods whose result is not new_varcorr()'s refuse a
# given sigma rather than ignore it.
refuse_varcorr_sigma <- function(given, what) {
  if (given)
    stop(sprintf("VarCorr(sigma = ): rescaling is not available for %s; leave 'sigma' out", what),
         call. = FALSE)
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
