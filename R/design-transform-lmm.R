# The linear mixed models' design map: the fixed effects are estimated on a
# centred and scaled X where the user's X would lose digits, and the fit is
# mapped back exactly (estimates, covariance, Hessian and gradient). The
# centring rules themselves (design_transform() and its centrings) are in
# design-transform.R.

# The linear mixed model's fixed effects are estimated on X* = X T^-1
# (design_transform(): the non-constant columns centred and scaled), and
# mapped back exactly: beta = T^-1 beta*, Var(beta) = T^-1 Var(beta*) T^-T,
# the information T' I* T (their cross blocks likewise). On the user's X the criterion's X'V^-1X is formed
# as X'X - RZX'RZX, which loses as many digits as its condition number has:
# with a covariate given as x * 1e-6 - 5 beside the intercept (condition
# ~1e13) the standard error of x was 5e-3 relative off and the one-factor
# REML search stopped without converging. The REML criterion's
# log|X'V^-1X| differs on X* by the constant 2 log|det T|, added back so the
# restricted log-likelihood stays the user's design's.
# The transform is only worth its cost (about 0.3 ms of a 1.2 ms sleepstudy
# REML fit: the transformed design, the remapping, a second condition
# number) where the user's X loses digits: some non-constant column with a
# standard deviation outside [0.1, 10] or a mean beyond 10 of them. Within
# those bounds X'X / n has a condition number below about 1e6 whatever the
# columns' correlation, so the estimates and standard errors on X and on X*
# agree to about 1e-10; outside them design_transform() runs as before.
# A column far from zero only within one level's rows (f + f:x2) passes
# those bounds over all rows, so it is looked for as well (within_far()).
lmm_design_transform <- function(X) {
  k <- ncol(X)
  fx <- col_facts(X)
  if (well_scaled_x(X, fx) && !within_far(X, fx))
    return(list(M = X, T = diag(1, k), scale = rep(1, k), identity = TRUE))
  design_transform(X)
}

# Whether some column of X is zero outside an earlier 0/1 column's rows and
# far from zero within them (within_centring()'s columns). `fx`: X's
# col_facts() when the caller has them.
within_far <- function(X, fx = NULL) {
  if (!is.matrix(X) || ncol(X) < 2L || nrow(X) < 2L) return(FALSE)
  k <- ncol(X)
  const <- fx$const %||% vapply(seq_len(ncol(X)), function(j) all(X[, j] == X[1L, j]), TRUE)
  # A column that is an earlier one times a far covariate (x:f under
  # contr.sum and the like: ratio_centring()). Fewer than two non-constant
  # columns (y ~ x) have no such pair: ratio_centring() returns its map
  # as it is, so it is not called (nor the identity matrices made).
  if (length(seq_len(k)[!const]) >= 2L &&
      !identical(ratio_centring(X, diag(1, k), seq_len(k), const), diag(1, k)))
    return(TRUE)
  # No 0/1 column that is not constant: nothing to look for.
  n1 <- fx$n1 %||% colSums(X == 1)
  n01 <- (fx$n0 %||% colSums(X == 0)) + n1
  if (!any(n01 == nrow(X) & n1 < nrow(X))) return(FALSE)
  wi <- within_moments(X, seq_len(ncol(X)), const, n01)
  if (is.null(wi)) return(FALSE)
  !identical(within_centring(diag(1, k), seq_len(k), const, wi), diag(1, k))
}

# The fit's Hessian and gradient in other parameters at positions `idx`,
# old = new A there: H[idx, idx] -> A' H A (symmetrized), g[idx] -> A' g;
# then the user's largest gradient (the searched one stays $optinfo's
# max_grad: remap_grad_record()) and the condition number reported with the
# covariance, which stays the user's information's. A NULL Hessian
# (glmm_control(hessian = FALSE) on the nested route) or gradient is left.
remap_curvature <- function(fit, idx, A) {
  if (!is.null(fit$hessian)) {
    H <- fit$hessian
    H[idx, ] <- crossprod(A, H[idx, , drop = FALSE])
    H[, idx] <- H[, idx, drop = FALSE] %*% A
    H[idx, idx] <- (H[idx, idx] + t(H[idx, idx])) / 2
    fit$hessian[] <- H
  }
  if (!is.null(fit$gradient)) {
    fit$gradient[idx] <- drop(crossprod(A, fit$gradient[idx]))
    fit <- remap_grad_record(fit)
  }
  if (!is.null(attr(fit$cov_theta, "cond"))) {
    free <- !fit$on_boundary
    info <- -fit$hessian[free, free, drop = FALSE]
    attr(fit$cov_theta, "cond") <- if (anyNA(info)) NA_real_ else raw_condition(info)
    if (!is.null(fit$optinfo$hessian_cond)) fit$optinfo$hessian_cond <- attr(fit$cov_theta, "cond")
  }
  fit
}

# Whether X is used as it is (lmm_design_transform()): every non-constant
# column with a standard deviation in [0.1, 10] and a mean within 10 of them.
well_scaled_x <- function(X, fx = col_facts(X)) {
  k <- ncol(X)
  if (!(k > 0L && nrow(X) >= 2L)) return(FALSE)
  # Two passes: mean(x^2) - mean(x)^2 cancels exactly for the columns this
  # is for (x * 1e-6 - 5), which would then pass as constant. colMeans(X)
  # and sqrt(colMeans(Xc * Xc)), Xc = X - rep(mean, each = n), bitwise as R
  # computes them, in one C++ call without the copies (col_facts(), else
  # col_moments()).
  cm <- fx %||% col_moments(X)
  well_scaled_moments(cm$mean, cm$sd_cm)
}

# The columns' facts lmm_design_transform() decides on, from one C++ pass
# (cpp_col_facts(), src/util/col-moments.cpp): `mean` and `sd_cm` bitwise
# col_moments()'s, `const` (all(x == x[1])), `n0` and `n1` (colSums(X == 0),
# colSums(X == 1)). NULL where X is not a double matrix with rows or some
# entry or moment is not finite: the callers then take the R expressions.
col_facts <- function(X) {
  if (!(is.double(X) && is.matrix(X) && nrow(X) > 0L)) return(NULL)
  fx <- cpp_col_facts(X)
  if (fx$finite) fx
}

# The same rule from the columns' means and (population) standard
# deviations, as glmm_shards() has them from its shards' sums.
well_scaled_moments <- function(mn, sdv) {
  nonconst <- sdv > 1e-12 * pmax(abs(mn), 1e-300)  # design_transform()'s rule
  s <- sdv[nonconst]
  all(s >= 0.1 & s <= 10 & abs(mn[nonconst]) <= 10 * s)
}

# colMeans(M) (`mean`), and per column sqrt(colMeans((x - mean)^2)) (`sd_cm`),
# sqrt(mean((x - mean)^2)) (`sd_mean`) and sqrt(mean(x^2)) (`rms`), bitwise
# R's (cpp_col_moments() sums in long double as colMeans() and mean() do,
# mean() with its second pass); `n01` the entries equal to 0 or 1 and
# `amax` the largest absolute entry of each column; `n` the rows. With
# all = FALSE, `sd_cm` and `rms` may be NA (not computed). By the R
# expressions for a matrix that is not double, or where a moment overflows
# (mean() then takes another path).
col_moments <- function(M, all = TRUE) {
  cm <- if (is.double(M) && is.matrix(M) && nrow(M) > 0L) cpp_col_moments(M, all)
  if (!is.null(cm) && cm$finite) return(cm)
  mn <- colMeans(M)
  Xc <- M - rep(mn, each = nrow(M))
  list(mean = mn, sd_cm = sqrt(colMeans(Xc * Xc)),
       sd_mean = vapply(seq_len(ncol(M)), function(j) sqrt(mean((M[, j] - mn[j])^2)), 1),
       rms = vapply(seq_len(ncol(M)), function(j) sqrt(mean(M[, j]^2)), 1),
       n01 = colSums(M == 0 | M == 1), amax = apply(abs(M), 2L, max), n = nrow(M))
}

lmm_standard_x <- function(fit, tx, reml) {
  if (isTRUE(tx$identity)) return(fit)
  p <- ncol(tx$T)
  ip <- seq_len(p)
  Ti <- backsolve(tx$T, diag(1, p))
  b <- drop(Ti %*% fit$beta)
  fit$beta[] <- b
  fit$theta[ip] <- b
  # Rows, then columns: the fixed effects' cross blocks with the covariance
  # parameters (nil on the profiled routes, not on the one-factor ML one)
  # map too; a boundary parameter's NA row and column stay NA.
  V <- Vs <- fit$cov_theta
  V[ip, ] <- Ti %*% V[ip, , drop = FALSE]
  V[, ip] <- V[, ip, drop = FALSE] %*% t(Ti)
  V[ip, ip] <- (V[ip, ip] + t(V[ip, ip])) / 2
  fit$cov_theta[] <- V
  # The standardized covariance and its map, for the delta methods of
  # derived quantities (delta_cov(); star_covariance() keeps the same).
  if (is.matrix(Vs)) {
    free <- which(!is.na(diag(Vs)))
    if (all(ip %in% free) && !anyNA(Vs[free, free])) {
      Tf <- diag(1, ncol(Vs))
      Tf[ip, ip] <- Ti
      attr(fit$cov_theta, "star") <- list(T = Tf[free, free, drop = FALSE],
                                          V = unname(Vs[free, free, drop = FALSE]),
                                          index = free, P = ncol(Vs))
    }
  }
  fit <- remap_curvature(fit, ip, tx$T)
  # the clusters' curvature (cluster-curvature.R) stays in the search's
  # coordinates: its Jacobian gains d beta* / d beta = T
  cc <- fit$cluster_curvature
  if (!is.null(cc)) {
    cc$jacobian[, ip] <- cc$jacobian[, ip, drop = FALSE] %*% tx$T
    cc$at <- unname(fit$theta)
    fit$cluster_curvature <- cc
  }
  if (reml) {
    shift <- sum(log(abs(diag(tx$T))))
    fit$loglik <- fit$loglik - shift
    fit$optinfo$reml$criterion <- fit$optinfo$reml$criterion + 2 * shift
  }
  fit
}
