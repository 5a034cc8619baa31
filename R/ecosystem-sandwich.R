# The sandwich package's estfun() and bread() for gee fits, registered when
# sandwich is loaded, so that its cluster-robust covariances (vcovCL(),
# vcovBS() with its estfun-based types) work on them.

#' Estimating functions and bread of a GEE for the sandwich package
#'
#' Methods for [sandwich::estfun()] and [sandwich::bread()], registered when
#' sandwich is loaded. `estfun()` has a row per observation (the fit's data
#' rows): row \eqn{j} of cluster \eqn{i} is \eqn{d_{ij} (V_i^{-1} e_i)_j},
#' \eqn{d_{ij}} the row of \eqn{D_i = \partial\mu_i/\partial\beta'},
#' \eqn{V_i = A_i^{1/2} R_i A_i^{1/2}} the working covariance without the
#' scale and \eqn{e_i = y_i - \mu_i}, so that the rows of a cluster sum to
#' its estimating function \eqn{D_i'V_i^{-1}e_i} (rows with zero weight are
#' zero). `bread()` is \eqn{n H^{-1}}, \eqn{H = \sum_i D_i'V_i^{-1}D_i} and
#' \eqn{n} the number of rows, sandwich's convention. Then
#' `sandwich::vcovCL(fit, cluster = id, type = "HC0", cadjust = FALSE)` is
#' the robust variance `vcov(fit, type = "san.se")`; vcovCL's default
#' `cadjust = TRUE` multiplies it by \eqn{K/(K-1)} (K clusters), and
#' `type = "HC1"` further by \eqn{(n-1)/(n-p)}.
#'
#' @param x a fit from [gee()] or [gee_fit()].
#' @param ... not used: an argument given here is an error.
#' @return `estfun()`: an n x p matrix. `bread()`: a p x p matrix.
#' @examples
#' if (requireNamespace("sandwich", quietly = TRUE) &&
#'     requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'              family = poisson, corstr = "exchangeable")
#'   V <- sandwich::vcovCL(fit, cluster = epil$subject, type = "HC0",
#'                         cadjust = FALSE)
#'   all.equal(V, vcov(fit, type = "san.se"))
#' }
#' if (requireNamespace("sandwich", quietly = TRUE) &&
#'     requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   gfit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'                data = cbpp, family = binomial)
#'   V0 <- sandwich::vcovCL(gfit, cluster = cbpp$herd, type = "HC0", cadjust = FALSE)
#'   all.equal(V0, vcov(gfit, type = "CR0"))
#' }
#' @name sandwich-methods
#' @exportS3Method sandwich::estfun
estfun.glmmgee_gee <- function(x, ...) {
  check_dots(..., .method = "estfun.glmmgee_gee")
  cb <- gee_cluster_blocks(x, "estfun()")
  ef <- matrix(0, cb$n, cb$p, dimnames = list(rownames(x$engine$data$X),
                                                names(x$coefficients)))
  for (b in cb$blocks) ef[b$rows, ] <- b$D * drop(b$Vinv %*% b$e)
  ef
}

#' @rdname sandwich-methods
#' @exportS3Method sandwich::bread
bread.glmmgee_gee <- function(x, ...) {
  check_dots(..., .method = "bread.glmmgee_gee")
  cb <- gee_cluster_blocks(x, "bread()")
  cb$n * cb$Hinv
}

#' @rdname sandwich-methods
#' @details For a [glmm()] fit, `estfun()` has a row per observation too, but
#'   the marginal likelihood of a GLMM does not split within a cluster of its
#'   random effects: the score of each cluster of the top-level grouping
#'   factor (for a Gaussian linear mixed model \eqn{X_i'V_i^{-1}e_i}, the
#'   variance parameters held at their estimates; otherwise the gradient of
#'   the cluster's marginal log-likelihood with the estimation of the variance
#'   parameters projected out) stands on the cluster's first row, and its
#'   other rows are zero. `bread()` is \eqn{n} (rows) times the covariance
#'   of the fixed effects that the sandwich is built on (the model-based
#'   one; for a linear mixed model its generalized-least-squares form). Then `sandwich::sandwich(fit)` and
#'   `sandwich::vcovCL(fit, cluster = ~ g, type = "HC0", cadjust = FALSE)`
#'   (`g` the grouping factor, or any factor that nests it) are
#'   `vcov(fit, type = "CR0", cluster = ~ g)`, and vcovCL's default
#'   `cadjust = TRUE` gives `type = "CR1"`. `vcovCL()` without `cluster`,
#'   or with one that splits a cluster of the random effects, is an error:
#'   its rows would not add up to whole clusters. The small-sample types `"CR2"`
#'   and `"CR3"` are in [vcov()][glmm-extractors] and clubSandwich's
#'   [vcovCR()][clubSandwich-methods].
#' @exportS3Method sandwich::estfun
estfun.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "estfun.glmmgee_glmm")
  check_sandwich_cluster(x, sys.function(sys.parent()), parent.frame())
  robust_estfun(x)
}

# The rows of estfun() add up to whole clusters only under a clustering
# that nests the random effects' grouping: sandwich::vcovCL() by another
# factor summed the scores of parts of clusters to about 0 (standard
# errors of 1e-12), and without `cluster` it took each row as its own
# (G = n in its adjustment). vcovCL() passes its `cluster` to meatCL(),
# which calls estfun() without it; `caller` and `env` are the function
# and frame that called estfun(): when that is meatCL(), its `cluster` is
# checked as vcov(type = "CR0", cluster = ) checks it. (A fit from shard
# files has one estfun() row per cluster: each row is a whole cluster.)
check_sandwich_cluster <- function(fit, caller, env) {
  if (inherits(fit, "glmmgee_glmm_sharded")) return(invisible())
  meat_cl <- if (isNamespaceLoaded("sandwich"))
    get0("meatCL", envir = asNamespace("sandwich"), inherits = FALSE)
  if (is.null(meat_cl) || !identical(caller, meat_cl)) return(invisible())
  cluster <- get0("cluster", envir = env, inherits = FALSE)
  if (is.null(cluster)) {
    groupings <- vcov_re_groupings(fit)
    k <- nesting_grouping(groupings)
    stop(sprintf(paste0("sandwich::vcovCL() on a glmm() fit needs 'cluster =' %s: the scores of a ",
                        "mixed model are those of whole clusters, not of rows"),
                 if (is.na(k)) "(a factor that nests every random-effect grouping)"
                 else sprintf("(the grouping ~ %s, or a factor that nests it)", groupings[[k]]$name)),
         call. = FALSE)
  }
  resolve_vcov_cluster(fit, cluster)
  invisible()
}

#' @rdname sandwich-methods
#' @exportS3Method sandwich::bread
bread.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "bread.glmmgee_glmm")
  robust_bread(x)
}
