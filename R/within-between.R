# wb(x, g): a covariate split into its cluster mean and the deviation from
# it (the hybrid or Mundlak model), as one formula term.

#' Within- and between-cluster effects of a covariate
#'
#' `wb(x, g)` in a model formula of [glmm()] or [gee()] replaces `x` by two
#' columns: `between`, the mean of `x` in the observation's cluster `g`, and
#' `within`, the deviation of `x` from that mean. Their coefficients are
#' the between-cluster and within-cluster effects of `x` (the "hybrid"
#' model; Neuhaus and Kalbfleisch, 1998; Allison, 2009); the within effect
#' minus the between effect is the Mundlak (1978) contrast, whose Wald test
#' (see the example) tests whether the naive single coefficient of `x` is
#' confounded by cluster-level characteristics.
#'
#' **When the naive effect is confounded.** A random intercept assumes the
#' cluster effect is unrelated to the covariates. When clusters with larger
#' `x` also have larger (or smaller) unobserved cluster effects, as when
#' hospitals that treat more patients also differ in case mix, the
#' coefficient of `x` in `y ~ x + (1 | g)` mixes the within-cluster
#' comparison with that cluster-level association and is biased. The
#' within coefficient uses only comparisons inside clusters: for a linear
#' model it equals the fixed-effects (cluster dummies) estimate exactly; for
#' a logistic model it is close to the conditional-logit estimate.
#'
#' The cluster means are those of the data the model is fitted to: they are
#' kept in the fitted model's terms, so [predict()] with new data uses them
#' for the clusters seen in fitting (a new row of a known cluster gets that
#' cluster's fitted mean, not a mean of the new rows). Clusters not seen
#' in fitting get the mean of their rows in the new data. The means are
#' taken over the rows `wb()` sees, before `subset` and the removal of
#' missing values; subset the data first if that matters.
#'
#' @param x A numeric covariate.
#' @param g The clusters: a factor or anything [factor()] accepts, usually
#'   the grouping factor of the random effects or the `id` of a GEE.
#' @param means Cluster means to use (named by cluster); set by the fitted
#'   model when predicting, not by users.
#' @return A two-column matrix (`between`, `within`) of class
#'   `glmmgee_within_between`.
#' @references
#' Allison, P. D. (2009). *Fixed Effects Regression Models*. Sage.
#'
#' Mundlak, Y. (1978). On the pooling of time series and cross section
#' data. *Econometrica* 46, 69-85.
#'
#' Neuhaus, J. M. and Kalbfleisch, J. D. (1998). Between- and
#' within-cluster covariate effects in the analysis of clustered data.
#' *Biometrics* 54, 638-645.
#' @examples
#' set.seed(1)
#' g <- rep(1:40, each = 5)
#' u <- rnorm(40)
#' x <- u[g] + rnorm(200)                 # x is larger where u is larger
#' y <- 1 + 0.5 * x + 2 * u[g] + rnorm(200)
#' d <- data.frame(y, x, g)
#' fixef(glmm(y ~ x + (1 | g), data = d))          # naive: confounded
#' fit <- glmm(y ~ wb(x, g) + (1 | g), data = d)
#' fixef(fit)                                      # within effect near 0.5
#' # Mundlak test: within = between?
#' b <- fixef(fit)[2:3]; V <- vcov(fit)[2:3, 2:3]; k <- c(-1, 1)
#' pchisq(sum(k * b)^2 / drop(t(k) %*% V %*% k), 1, lower.tail = FALSE)
#' predict(fit, newdata = d[1:3, ])                # uses the fitted means
#' @export
wb <- function(x, g, means = NULL) {
  if (!is.numeric(x))
    stop("'x' in wb(x, g) must be numeric (a factor has no cluster mean; use its dummies)",
         call. = FALSE)
  if (length(g) != length(x))
    stop("'g' in wb(x, g) must have one value per value of 'x'", call. = FALSE)
  key <- as.character(g)
  if (is.null(means)) {
    ok <- !is.na(x) & !is.na(key)
    means <- vapply(split(x[ok], key[ok]), mean, 1)
  }
  mb <- unname(means[key])
  fresh <- is.na(mb) & !is.na(key)
  if (any(fresh)) mb[fresh] <- stats::ave(x[fresh], key[fresh], FUN = function(v) mean(v, na.rm = TRUE))
  out <- cbind(between = mb, within = x - mb)
  structure(out, means = means, class = c("glmmgee_within_between", "matrix", "array"))
}

# Keeps the fitting data's cluster means in the terms' predvars, so
# model.frame() on new data computes the same columns.
#' @importFrom stats makepredictcall
#' @export
makepredictcall.glmmgee_within_between <- function(var, call) {
  if (paste(deparse(call[[1L]]), collapse = "") %in% c("wb", "glmmgee::wb"))
    call$means <- attr(var, "means")
  call
}
