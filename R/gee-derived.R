# Fields of a gee object that are not stored but rebuilt when asked for.
#
# The linear predictors and fitted means are 8 MB each at a million
# observations, and the object already keeps what they are computed from
# (the engine's X and offset, the coefficients). `fit$linear.predictors` and
# `fit$fitted.values` (and partial names such as `fit$fitted`) recompute
# them with the engine's own loop, so the values are the ones the fit
# returned, bit for bit; objects that store them (older versions) return
# the stored values.

gee_derived_fields <- c("linear.predictors", "fitted.values")

#' @export
`$.glmmgee_gee` <- function(x, name) {
  v <- .subset2(x, name, exact = FALSE)
  if (!is.null(v) || is.null(.subset2(x, "engine"))) return(v)
  k <- pmatch(name, gee_derived_fields)
  if (is.na(k)) return(v)
  eng <- .subset2(x, "engine")
  f <- cpp_gee_fitted(eng$data, eng$spec, unname(.subset2(x, "coefficients")))
  if (k == 1L) f$eta else f$mu
}
