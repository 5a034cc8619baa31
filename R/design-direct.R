# Design matrices of an intercept and plain numeric columns, built without
# model.matrix(): for `y ~ x` or the `x` of `(x | g)` model.matrix() works
# through terms, a variables list and its C code to give what cbind(1, x)
# gives, a tenth of a small REML fit (sleepstudy) for the fixed design and
# as much again for the random-effect design. Anything else (factors,
# interactions, functions of variables, matrix columns, non-syntactic
# names, columns carrying attributes) returns NULL and goes to
# model.matrix(), so the result is always model.matrix()'s, attributes
# included.

# model.matrix()'s matrix for `labels` (term labels, each a variable of the
# frame `mf`) after an intercept when `intercept`, with row names `rows`
# (NULL for none) and the "assign" attribute; NULL when a label is not a
# plain numeric column.
numeric_design <- function(labels, intercept, mf, rows) {
  n <- nrow(mf)
  cols <- vector("list", length(labels))
  for (k in seq_along(labels)) {
    v <- .subset2(mf, labels[k])
    if (is.null(v) || !is.null(attributes(v)) || !(is.double(v) || is.integer(v)) ||
        length(v) != n || !identical(make.names(labels[k]), labels[k]))
      return(NULL)
    cols[[k]] <- v
  }
  p <- length(labels) + intercept
  if (p == 0L) return(NULL)
  # The matrix made once in C++ and filled column by column (integers as
  # doubles, as as.double() gives them): the same doubles as cbind(1, ...).
  X <- cpp_numeric_design(cols, intercept, n)
  dimnames(X) <- list(rows, c(if (intercept) "(Intercept)", labels))
  attr(X, "assign") <- c(if (intercept) 0L, seq_along(labels))
  X
}

# The design of terms `mt` on frame `mf` when numeric_design() can build it:
# every term a variable of order one, no offset among the variables that
# model.matrix() would skip differently, no response column needed.
terms_numeric_design <- function(mt, mf, rows) {
  labels <- attr(mt, "term.labels")
  if (any(attr(mt, "order") != 1L)) return(NULL)
  numeric_design(labels, attr(mt, "intercept") == 1L, mf, rows)
}

# The design of a random-effect term's left side `lhs` when it is `x`,
# `1 + x` or `0 + x` (also `x + 0`, `x - 1`) for a plain numeric column x
# of `mf`; no row names (re_terms() drops them). NULL otherwise.
lhs_numeric_design <- function(lhs, mf) {
  is_const <- function(e, v) is.numeric(e) && length(e) == 1L && e == v
  if (is.name(lhs)) return(numeric_design(as.character(lhs), TRUE, mf, NULL))
  if (!is.call(lhs) || length(lhs) != 3L) return(NULL)
  op <- lhs[[1L]]
  a <- lhs[[2L]]
  b <- lhs[[3L]]
  if (identical(op, as.name("+"))) {
    if (is_const(a, 1) && is.name(b)) return(numeric_design(as.character(b), TRUE, mf, NULL))
    if (is_const(a, 0) && is.name(b)) return(numeric_design(as.character(b), FALSE, mf, NULL))
    if (is.name(a) && is_const(b, 0)) return(numeric_design(as.character(a), FALSE, mf, NULL))
  } else if (identical(op, as.name("-")) && is.name(a) && is_const(b, 1)) {
    return(numeric_design(as.character(a), FALSE, mf, NULL))
  }
  NULL
}
