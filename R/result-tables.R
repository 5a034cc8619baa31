# The package's table-like results (standardize(), odds_ratios(),
# rate_ratios(), compare_views(), variance_shares(), ranef_new(),
# rank_intervals(), profile(), an ordinal fit's VarCorr()) are data frames
# with a class of their own for printing and attributes that describe them
# (the view, the level, the family). `[.data.frame` keeps the class but
# drops those attributes, so subset(), head() or x[, cols] gave an object
# that its print method could not read. Here `[` keeps the class and the
# attributes when every column is kept (a selection of rows is still the
# same table), and otherwise returns a plain data frame.

table_subset <- function(x, out) {
  if (!is.data.frame(out)) return(out)
  if (identical(names(out), names(x))) {
    keep <- setdiff(names(attributes(x)), c("names", "row.names", "class"))
    for (a in keep) attr(out, a) <- attr(x, a)
    class(out) <- class(x)
    return(out)
  }
  for (a in setdiff(names(attributes(out)), c("names", "row.names", "class")))
    attr(out, a) <- NULL
  class(out) <- "data.frame"
  out
}

#' @export
`[.glmmgee_standardized` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_standardized_ordinal` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_ratios` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_views` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_variance_shares` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_ranef_new` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_rank_intervals` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.glmmgee_profile` <- function(x, ...) table_subset(x, NextMethod())

#' @export
`[.VarCorr.glmmgee_glmm_ordinal` <- function(x, ...) table_subset(x, NextMethod())
