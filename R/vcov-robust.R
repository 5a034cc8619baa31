# vcov(type = "CR0" ... "CR3") of glmm() fits: the cluster-robust covariance
# of the fixed effects, by the engine that fitted the model. The exact
# linear mixed models are in vcov-robust-lmm.R.

# The covariance of the fixed effects of `fit` of cluster-robust `type`
# (one of robust_cr_types), clustered by `cluster` (see
# resolve_vcov_cluster()).
robust_vcov <- function(fit, type, cluster = NULL) {
  require_capability(fit, "robust_vcov", method = sprintf("vcov(type = \"%s\")", type))
  eng <- fit_engine(fit)$name
  if (eng %in% c("lmm_one_factor", "lmm_sparse")) lmm_cluster_vcov(fit, type, cluster)
  else score_cluster_vcov(fit, type, cluster)
}

# sandwich::estfun() of a glmm() fit: one row per observation, each
# cluster's score (lmm_cluster_estfun(), score_cluster_estfun()) on the
# cluster's first row of positive weight, zeros elsewhere, so that the
# sandwich package's clustering by any factor that nests the grouping adds
# up whole clusters.
robust_estfun <- function(fit) {
  require_capability(fit, "robust_vcov", "estfun()")
  cl <- resolve_vcov_cluster(fit, NULL)
  ef <- if (fit_engine(fit)$name %in% c("lmm_one_factor", "lmm_sparse"))
    lmm_cluster_estfun(fit, NULL) else score_cluster_estfun(fit, NULL)
  w <- fit$prior.weights
  rows <- if (is.null(w)) seq_along(cl$code) else which(w > 0)
  first <- rows[match(seq_along(cl$levels), cl$code[rows])]
  out <- matrix(0, length(cl$code), ncol(ef), dimnames = list(NULL, colnames(ef)))
  out[first, ] <- ef
  out
}

# sandwich::bread() of a glmm() fit: n times the covariance of the fixed
# effects that the cluster-robust types use as bread (for linear mixed
# models the GLS one, lmm_cluster_estfun()'s attribute).
robust_bread <- function(fit) {
  require_capability(fit, "robust_vcov", "bread()")
  B <- if (fit_engine(fit)$name %in% c("lmm_one_factor", "lmm_sparse"))
    attr(lmm_cluster_estfun(fit, NULL), "bread") else plain_matrix(fit$vcov)
  length(resolve_vcov_cluster(fit, NULL)$code) * B
}
