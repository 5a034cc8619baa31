# QIC() is a generic in geepack as well as here. Whichever package is
# attached last masks the other's QIC; registering our method on geepack's
# generic too (when geepack is loaded) makes QIC(fit) work on gee fits
# either way.

#' @rdname QIC
#' @usage NULL
#' @exportS3Method geepack::QIC glmmgee_gee
qic_for_geepack <- function(object, ..., tol = .Machine$double.eps, env = parent.frame()) {
  mc <- match.call(expand.dots = TRUE)
  mc$tol <- NULL
  mc$env <- NULL
  mc[[1L]] <- QIC.glmmgee_gee
  eval(mc, parent.frame())
}
