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
# V = T V* T' over the parameters `index` of P (the rest count as known).
cov_star_of <- function(fit, type = NULL) {
  if (is_gee(fit)) {
    st <- fit$vcov_star
    if (is.null(st)) return(NULL)
    v <- st$V[[type %||% fit$std.err]]
    if (is.null(v)) return(NULL)
    return(list(T = st$T, V = v, index = st$index, P = st$P))
  }
  fit$cov_star
}

# G's columns on star's parameters: G covers the first ncol(G) of them.
star_gradient <- function(G, star) {
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
