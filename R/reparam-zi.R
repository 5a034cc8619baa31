# The well-conditioned parameterization (reparam-glmm.R) for fits with
# auxiliary linear predictors (fit-glmm-zi.R, fit-sparse-zi.R):
#   theta = (beta, covariance parameters, gamma [pz], delta [pd]).
# The zero-inflation and dispersion designs are centred and scaled like X,
#   Xz = Xz* Tz (gamma* = Tz gamma),  Xd = Xd* Td (delta* = Td delta),
# their intercepts absorbing the centres. Both maps are linear, so they
# join the map of (beta, covariance parameters) as exact diagonal blocks of
# the Jacobian; the optimum does not depend on the units or coding of the
# covariates of any of the three formulas.

# base: glmm_reparam() or sparse_reparam() built with disp = FALSE, so that
# it maps the first `nb` parameters (beta and the covariance parameters).
# X: the conditional part's design, for `star_tx` (star_tx(): the map with
# which the fit keeps its standardized covariance, NULL when all three
# designs are used as they are).
aux_reparam <- function(base, nb, Xz, Xd, X) {
  tz <- design_transform(Xz %||% matrix(0, 0L, 0L))
  td <- design_transform(Xd %||% matrix(0, 0L, 0L))
  pz <- ncol(tz$T); pd <- ncol(td$T)
  iz <- nb + seq_len(pz)
  id <- nb + pz + seq_len(pd)
  identity <- base$identity && tz$identity && td$identity
  inv <- function(T) if (ncol(T)) backsolve(T, diag(1, ncol(T))) else T
  Tzi <- inv(tz$T)
  Tdi <- inv(td$T)
  map <- function(theta, to) {
    out <- theta
    out[seq_len(nb)] <- if (to) base$to_star(theta[seq_len(nb)]) else base$from_star(theta[seq_len(nb)])
    if (pz) out[iz] <- drop((if (to) tz$T else Tzi) %*% theta[iz])
    if (pd) out[id] <- drop((if (to) td$T else Tdi) %*% theta[id])
    out
  }
  jacobian <- function(theta, free = rep(TRUE, length(theta))) {
    P <- length(theta)
    if (identity) return(diag(1, P))
    J <- matrix(0, P, P)
    J[seq_len(nb), seq_len(nb)] <- base$jacobian(theta[seq_len(nb)], free[seq_len(nb)])
    if (pz) J[iz, iz] <- tz$T
    if (pd) J[id, id] <- td$T
    J[, !free] <- 0
    J
  }
  out <- base
  out$identity <- identity
  out$Xz <- if (!is.null(Xz)) tz$M
  out$Xd <- if (!is.null(Xd)) td$M
  out$Tz <- tz$T
  out$Td <- td$T
  out$star_tx <- star_tx(base$Tx, X, Xz, Xd)
  out$to_star <- function(theta) if (identity) theta else map(theta, TRUE)
  out$from_star <- function(theta) if (identity) theta else map(theta, FALSE)
  out$jacobian <- jacobian
  out$typical <- c(base$typical[seq_len(nb)], 1 / tz$scale, 1 / td$scale)
  if (!is.null(base$rotation))
    out$rotation <- function(theta, theta_s) base$rotation(theta[seq_len(nb)], theta_s[seq_len(nb)])
  out
}
