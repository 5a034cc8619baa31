# vcov(type = "CR0" ... "CR3") of glmm() fits: the cluster-robust covariance
# of the fixed effects, by the engine that fitted the model. The exact
# linear mixed models are in vcov-robust-lmm.R.

# The covariance of the fixed effects of `fit` of cluster-robust `type`
# (one of robust_cr_types), clustered by `cluster` (see
# resolve_vcov_cluster()).
robust_vcov <- function(fit, type, cluster = NULL) {
  require_capability(fit, "robust_vcov", method = sprintf("vcov(type = \"%s\")", type))
  eng <- fit_engine(fit)$name
  if (eng %in% c("lmm_one_factor", "lmm_sparse")) return(lmm_cluster_vcov(fit, type, cluster))
  stop(capability_refusal(sprintf("vcov(type = \"%s\")", type), fit_engine(fit), "robust_vcov"),
       call. = FALSE)
}
