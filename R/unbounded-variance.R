# A random-effect variance with no finite maximum.
#
# When every cluster of binomial data is all 0 or all 1, the log-likelihood
# keeps rising as the random-intercept variance grows: a larger variance
# makes each cluster's common outcome more certain, and in the limit the
# marginal likelihood is that of a binomial model for the clusters' outcomes
# alone. The optimizer then stops wherever its tolerance or the log-likelihood's
# flatness lets it; the estimate, its standard error and the fixed effects
# mean nothing. The same happens, less visibly, whenever the random effects
# separate the data; a standard deviation that the optimizer drives to a
# very large value on the link scale (after centring and scaling the
# random-effect covariates) is the sign of it.

# The pattern in the data: every cluster (observations with positive
# weight) all 0 or all 1, some with more than one trial. `index` is the cluster of each observation
# (1-based). Returns the warning text or NULL.
pure_clusters_message <- function(y, weights, index, family, gname = NULL) {
  if (family$family != "binomial") return(NULL)
  # NULL weights: all 1 (the C++ check takes them as an empty vector).
  if (!is.null(weights) && (!length(weights) || !(max(weights) > 0))) return(NULL)
  if (!cpp_clusters_all_pure(as.numeric(y), as.numeric(weights), as.integer(index),
                             max(index, 0L))) return(NULL)
  if (is.null(weights)) weights <- rep(1, length(y))
  keep <- weights > 0
  g <- index[keep]
  # Clusters of one binary observation are trivially all 0 or all 1 and say
  # nothing about the variance (check_cluster_sizes() warns about those): the
  # argument needs some cluster with more than one trial.
  trials <- rowsum(weights[keep], g, reorder = TRUE)
  if (!any(trials > 1)) return(NULL)
  sprintf(paste0("the random-effect variance%s has no finite maximum: every cluster is ",
                 "all 0 or all 1, so the log-likelihood keeps rising as the variance grows. ",
                 "Its estimate (where the optimizer stopped), its standard error and the fixed ",
                 "effects are meaningless; the data cannot tell within- from between-cluster variation"),
          if (is.null(gname)) "" else sprintf(" of '%s'", gname))
}

# The sign in the fit: a random-effect standard deviation above `limit` on
# the link scale, `sd` measured on the optimizer's centred and scaled design.
large_sd_message <- function(sd, names, family, limit = 15) {
  if (family$family == "gaussian" || !any(sd > limit, na.rm = TRUE)) return(NULL)
  big <- which(sd > limit)
  sprintf(paste0("a random-effect standard deviation%s is estimated at %.3g on the link scale ",
                 "(per standard deviation of its covariate): the variance probably has no finite ",
                 "maximum (clusters whose outcomes the random effects predict perfectly, a form of ",
                 "separation); its estimate and standard error are unreliable"),
          if (is.null(names)) "" else sprintf(" (%s)", paste(names[big], collapse = ", ")),
          max(sd[big]))
}
