# Methods of fits from glmm_shards(), whose rows stayed on the workers.
# Everything computed from the estimates, their covariance and the
# cluster-level predictions works as for any glmm fit; what reads the rows
# runs on the workers (methods-sharded-post.R); any other access to the
# rows' fields is refused by name.

sharded_row_fields <- c("X", "Z", "eta_fixed", "linear.predictors", "fitted.values", "y",
                        "model", "residuals")

#' @export
`$.glmmgee_glmm_sharded` <- function(x, name) {
  k <- pmatch(name, sharded_row_fields)
  if (!is.na(k) && is.null(.subset2(x, name)))
    stop(sprintf(paste0("'%s' needs the data rows, which stayed on the workers of this distributed fit ",
                        "(glmm_shards()). fitted(fit), residuals(fit) and predict(fit) write their per-row results ",
                        "beside each shard file; marginal_coefs(fit) is computed on the workers; ",
                        "standardize(fit, ...) too; predict(fit, newdata = ) predicts given rows. ",
                        "simulate() and update() are not available for it"),
                 sharded_row_fields[[k]]), call. = FALSE)
  .subset2(x, name, exact = FALSE)
}

# The block print() of such a fit adds (glmm_blocks()).
print_distributed <- function(x) {
  d <- .subset2(x, "distributed")
  cat(sprintf("Distributed: %d shards on %d workers, %d rounds, %.3g kB sent and %.3g kB received\n",
              d$shards, d$workers, d$rounds, d$bytes_sent / 1024, d$bytes_received / 1024))
}

#' @export
confint.glmmgee_glmm_sharded <- function(object, parm, level = 0.95, method = "Wald", ...) {
  check_dots(..., .method = "confint.glmmgee_glmm_sharded")
  if (!identical(method, "Wald"))
    stop("confint() of a distributed fit (glmm_shards()) gives Wald intervals (method = \"Wald\"); profile intervals refit the model many times and need its rows",
         call. = FALSE)
  wald_confint(.subset2(object, "coefficients"), function() stats::vcov(object), parm, level)
}
