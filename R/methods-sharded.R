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
confint.glmmgee_glmm_sharded <- function(object, parm, level = 0.95, method = "Wald", vcov = NULL,
                                         cluster = NULL, ...) {
  check_dots(..., .method = "confint.glmmgee_glmm_sharded")
  if (!identical(method, "Wald"))
    stop("confint() of a distributed fit (glmm_shards()) gives Wald intervals (method = \"Wald\"); profile intervals refit the model many times and need its rows",
         call. = FALSE)
  V <- fixef_vcov_choice(object, vcov, cluster, "confint()")
  if (!is.null(V))
    return(confint_fixef_vcov(object, if (!missing(parm)) parm, level, V,
                              names(.subset2(object, "coefficients"))))
  wald_confint(.subset2(object, "coefficients"), function() stats::vcov(object), parm, level)
}

#' @rdname glmm_shards
#' @param full,cluster As in [vcov.glmmgee_glmm()]. The cluster-robust types
#'   (`type = "CR0"` ... `"CR3"`) are clustered by the fit's grouping
#'   factor, whose clusters each lie within one shard: the workers read the
#'   shards again and send back each cluster's score (one round per engine
#'   evaluation; clusters x parameters numbers each), so `cluster` can only
#'   be that factor.
#' @export
vcov.glmmgee_glmm_sharded <- function(object, full = FALSE, type = "model", cluster = NULL,
                                      workers = NULL, ...) {
  check_dots(..., .method = "vcov.glmmgee_glmm_sharded", .hint = vcov_glmm_types_hint())
  if (!is.null(workers)) {
    if (identical(type, "model"))
      stop("vcov(): 'workers' is for the cluster-robust types (type = \"CR0\" ... \"CR3\"), which read the shards again",
           call. = FALSE)
    object <- sharded_use_workers(object, workers, "vcov")
  }
  vcov.glmmgee_glmm(object, full = full, type = type, cluster = cluster)
}

# anova() between glmm_shards() fits, whose rows stayed on the workers: the
# same data is checked by what the fits keep (the same shard files, the
# same response and weights column; nobs() is compared before), not by the
# rows. A fit in memory cannot be matched with one whose rows are on the
# workers.
sharded_same_data <- function(fits) {
  sh <- vapply(fits, inherits, TRUE, what = "glmmgee_glmm_sharded")
  if (!all(sh))
    stop(paste0("anova(): a glmm_shards() fit cannot be compared with a fit of data in memory: ",
                "whether both were fitted to the same rows cannot be checked, since the shard fit's ",
                "rows stayed on the workers; fit both models by glmm_shards() on the same files"),
         call. = FALSE)
  key <- function(f) {
    src <- .subset2(f, "shard_source")
    list(files = src$files, weights = src$read_spec$weights,
         response = paste(deparse(.subset2(f, "formula")[[2L]]), collapse = ""))
  }
  ref <- key(fits[[1L]])
  for (f in fits[-1L]) {
    k <- key(f)
    what <- c(files = !identical(k$files, ref$files), weights = !identical(k$weights, ref$weights),
              response = !identical(k$response, ref$response))
    if (any(what))
      stop(sprintf(paste0("anova(): the glmm_shards() fits differ in their %s; a likelihood-ratio test ",
                          "needs the same data: the same shard files, response and weights column"),
                   paste(c(files = "shard files", weights = "weights column",
                           response = "response")[what], collapse = " and ")), call. = FALSE)
  }
  invisible(TRUE)
}

# Why `small` is not nested in `big` when either is a glmm_shards() fit
# (NULL when it is; the families were compared before). Their designs
# stayed on the workers, so the fixed effects are compared by their
# columns (both fits read the same files: a column of the same name and
# the same contrasts is the same column), the random effects by their
# terms.
sharded_nesting_problem <- function(small, big) {
  cs <- names(.subset2(small, "coefficients"))
  cb <- names(.subset2(big, "coefficients"))
  out <- setdiff(cs, cb)
  if (length(out))
    return(sprintf(paste0("fixed effect(s) %s are not columns of the larger model; the designs of ",
                          "glmm_shards() fits stayed on the workers, so nesting is checked by the ",
                          "columns' names"), paste(sQuote(out, FALSE), collapse = ", ")))
  ks <- .subset2(small, "contrasts")
  kb <- .subset2(big, "contrasts")
  diff <- Filter(function(v) !identical(ks[[v]], kb[[v]]), intersect(names(ks), names(kb)))
  if (length(diff))
    return(sprintf("the models code factor(s) %s by different contrasts",
                   paste(sQuote(diff, FALSE), collapse = ", ")))
  extra <- setdiff(re_keys(small), re_keys(big))
  if (length(extra))
    return(sprintf("random effect(s) %s are not in the larger model",
                   paste(sQuote(extra, FALSE), collapse = ", ")))
  NULL
}
