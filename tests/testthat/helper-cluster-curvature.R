# A fit without the clusters' curvature it kept (R/cluster-curvature.R):
# vcov()'s cluster-robust types then take the clusters' informations by
# central differences of a rebuilt engine's scores.
without_curvature <- function(fit) {
  fit$cluster_curvature <- NULL
  fit
}

# Each cluster's information in the coordinates of cluster_score_parts()'s
# sandwich (P x P x G): kept informations come in the fit's own coordinates
# with their map (parts$hessian_map), A_i = map' H_i map.
sandwich_informations <- function(parts) {
  H <- parts$hessians
  D <- parts$hessian_map
  if (is.null(D)) return(H)
  array(apply(H, 3L, function(h) crossprod(D, h %*% D)), c(ncol(D), ncol(D), dim(H)[3L]))
}
