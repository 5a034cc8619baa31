# A fit without the clusters' curvature it kept (R/cluster-curvature.R):
# vcov()'s cluster-robust types then take the clusters' informations by
# central differences of a rebuilt engine's scores.
without_curvature <- function(fit) {
  fit$cluster_curvature <- NULL
  fit
}
