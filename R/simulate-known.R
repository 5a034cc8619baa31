# New random effects of known-covariance terms for simulate() (simulate-glmm.R):
# b = s F z, z ~ N(0, I_r), with F (levels x r) a factor of the term's K = F F',
# so b ~ N(0, s^2 K) over all rows of K, correlated as K says, whichever engine
# fitted the model (the known-covariance gaussian routes, the dense Laplace
# engine, the sparse Laplace engine).

# The factor F of each known-covariance term of a fit, rows in the term's
# level order (the rows of K); NULL for the other terms. A factor the fit
# keeps is used as it is: the Laplace engine's (`$known_factor$L`), the
# spectral rotation's (`$rotation$basis$L`), both for a fit of one term.
# Otherwise K as fitted (fit_known_covariance()) is factored: a factor given
# by kfactor() as it is, a dense or sparse K by covariance_factor() (Cholesky,
# or for a semidefinite K the eigendecomposition, per connected block when
# sparse). A term without a K (a plain (1 | g) beside known ones in a gaussian
# fit: K = I) has the identity.
known_term_factors <- function(object) {
  tms <- object$reterms
  out <- vector("list", length(tms))
  known <- vapply(tms, function(tm) isTRUE(tm$known_cov), TRUE)
  if (!any(known)) return(out)
  kept <- object$known_factor$L %||% object$rotation$basis$L
  if (length(tms) == 1L && !is.null(kept)) {
    out[[1L]] <- kept
    return(out)
  }
  covs <- fit_known_covariance(object, "simulate()")
  for (k in which(known)) {
    tm <- tms[[k]]
    K <- covs[[tm$group]]
    out[[k]] <- if (is.null(K)) Matrix::Diagonal(length(tm$levels))
                else known_level_factor(K, tm$levels, tm$group)
  }
  out
}

# F with F F' = K over `levels` (the term's rows of K, by name).
known_level_factor <- function(K, levels, g) {
  if (inherits(K, "glmmgee_kfactor")) {
    F <- K$L
  } else {
    if (inherits(K, "Matrix") && !inherits(K, "sparseMatrix")) K <- as.matrix(K)
    if (!identical(rownames(K), levels)) {
      at <- match(levels, rownames(K))
      K <- K[at, at, drop = FALSE]
    }
    return(covariance_factor(K, g))
  }
  if (!identical(rownames(F), levels)) F <- F[match(levels, rownames(F)), , drop = FALSE]
  F
}

# One draw of a known-covariance term's effects over its levels: s F z.
known_term_draw <- function(F, s) s * as.numeric(F %*% stats::rnorm(ncol(F)))
