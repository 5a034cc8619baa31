# Covariances of derived quantities (standardized means, predictions,
# marginal coefficients) by the delta method, G V G'.
#
# V on the user's scale is V = T V* T', with V* the covariance on the
# optimizer's centred and scaled parameters. When a covariate's units or
# location make the intercept and slope nearly collinear (x * 1e-6 - 5:
# correlation 1 - 1e-14), V cannot hold the intercept's variance to the
# digits G V G' needs, and G V G' cancels (1e-4 relative off, 2.5e-3 for a
# gee). Such fits keep T and V* (`fit$cov_star`, `fit$vcov_star` of a gee,
# only for designs that lmm_design_transform() would not use as they are);
# the derived covariance is then (G T) V* (G T)', where G T is the gradient
# with respect to the standardized parameters and has no such cancellation.
# Without them (well-scaled designs) the result is G V G' as before.

# The standardized covariance a fit kept, or NULL: list(T, V, index, P),
# V = T V* T' over the parameters `index` of P (the rest count as known):
# a gee's coefficients, a GLMM's theta.
cov_star_of <- function(fit, type = NULL) {
  if (is_gee(fit)) {
    st <- fit$vcov_star
    if (is.null(st)) return(NULL)
    v <- st$V[[type %||% fit$std.err]]
    if (is.null(v)) return(NULL)
    return(list(T = st$T, V = v, index = st$index, P = st$P))
  }
  theta_cov_star(fit)
}

# The standardized covariance a fit kept, over fit$theta's parameters: a
# cumulative link random-intercept fit keeps it over its own psi =
# (thresholds, beta, log sigma), carried here to theta = (beta, sigma,
# thresholds) (d sigma / d log sigma = sigma).
theta_cov_star <- function(fit) {
  star <- fit$cov_star
  if (is.null(star) || class(fit)[1L] != "glmmgee_glmm_ordinal") return(star)
  k1 <- length(fit$thresholds)
  p <- length(fit$coefficients)
  ord <- c(k1 + seq_len(p), k1 + p + 1L, seq_len(k1))
  if (length(ord) != length(fit$theta) || star$P != length(ord)) return(NULL)
  Tt <- matrix(0, star$P, ncol(star$T))
  Tt[star$index, ] <- star$T
  Tt <- Tt[ord, , drop = FALSE]
  Tt[p + 1L, ] <- Tt[p + 1L, ] * fit$sigma_re
  list(T = Tt, V = star$V, index = seq_along(ord), P = length(ord))
}

# G's columns on star's parameters: G covers the first ncol(G) of them.
# A G from difference_jacobian(star = ) is on them already.
star_gradient <- function(G, star) {
  if (isTRUE(attr(G, "star_basis"))) return(G)
  if (ncol(G) < star$P) G <- cbind(G, matrix(0, nrow(G), star$P - ncol(G)))
  G[, star$index, drop = FALSE] %*% star$T
}

# G V G'.
delta_cov <- function(G, V, star = NULL) {
  if (is.null(star)) return(G %*% V %*% t(G))
  GT <- star_gradient(G, star)
  S <- GT %*% star$V %*% t(GT)
  S <- (S + t(S)) / 2
  dimnames(S) <- list(rownames(G), rownames(G))
  S
}

# diag(G V G').
delta_var <- function(G, V, star = NULL) {
  if (is.null(star)) return(rowSums((G %*% V) * G))
  GT <- star_gradient(G, star)
  rowSums((GT %*% star$V) * GT)
}

# A fitted object's standardized covariance moved from an attribute of its
# cov_theta (star_covariance()) to the field cov_star.
keep_cov_star <- function(obj) {
  st <- attr(obj$cov_theta, "star")
  if (is.null(st)) return(obj)
  attr(obj$cov_theta, "star") <- NULL
  obj$cov_star <- st
  obj
}

# The Jacobian of f (a vector function) at theta by central differences,
# for the delta methods of quantities without an analytic gradient
# (two-part means, cumulative probabilities). Without `star` on theta's own
# coordinates, step 1e-5 * max(1, |theta_k|). With a kept standardized
# covariance, along the columns of its T instead (the standardized
# parameters, step 1e-5 * max(1, |theta*_j|)): that is (G T) directly,
# marked as such for delta_cov(). On the user's coordinates the steps of
# x * 1e-6 - 5's intercept and slope were 15 and 7 (the estimates' 1e-5),
# and G T formed from such a G cancelled: standard errors 1e3 times off.
# f(theta, d) is f at theta + d with each linear predictor formed as
# X theta + X d: X theta is then the same in both evaluations of a step,
# and its rounding (1e-10 for x * 1e-6 - 5's estimates of 1e6) does not
# enter the difference (it gave 3e-6 relative errors).
difference_jacobian <- function(f, theta, star = NULL, h = 1e-5) {
  f0 <- f(theta)
  if (is.null(star)) {
    J <- matrix(0, length(f0), length(theta))
    for (k in seq_along(theta)) {
      hk <- h * max(1, abs(theta[k]))
      tp <- tm <- theta
      tp[k] <- tp[k] + hk
      tm[k] <- tm[k] - hk
      J[, k] <- (f(tp) - f(tm)) / (2 * hk)
    }
    return(J)
  }
  D <- matrix(0, length(theta), ncol(star$T))
  D[star$index, ] <- star$T
  ts <- tryCatch(qr.solve(star$T, theta[star$index]), error = function(e) rep(0, ncol(D)))
  J <- matrix(0, length(f0), ncol(D))
  for (j in seq_len(ncol(D))) {
    hj <- h * max(1, abs(ts[j]))
    J[, j] <- (f(theta, hj * D[, j]) - f(theta, -hj * D[, j])) / (2 * hj)
  }
  attr(J, "star_basis") <- TRUE
  J
}

# G carried through a linear map (rows averaged, a least-squares solve)
# stays on the basis `like` is on.
same_basis <- function(G, like) {
  if (isTRUE(attr(like, "star_basis"))) attr(G, "star_basis") <- TRUE
  G
}

# The fixed effects' map star_covariance() keeps a standardized covariance
# with: Tx where some design of the fit (conditional, zero-inflation,
# dispersion) is not used as it is (well_scaled_x()), else NULL.
star_tx <- function(Tx, ...) {
  ok <- vapply(list(...), function(M) is.null(M) || !ncol(M) || well_scaled_x(M), TRUE)
  if (all(ok)) NULL else Tx
}
