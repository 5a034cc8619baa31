# The fixed-effect designs' rank: every fitter refuses aliased columns,
# naming them.

# Every fitter refuses aliased fixed effects (they are not dropped, unlike
# glm()), naming the columns (and `what`: the zero and dispersion parts
# name their formula, so the user looks at the right one).
# Rank is a property of the column span, which centring and scaling keep,
# but qr()'s tolerance is not: a covariate whose spread is tiny beside its
# mean (Days * 1e-6 + 100, Days + 1e8) is collinear with the intercept to
# 1e-8 and was refused, though the engines fit it on their centred and
# scaled design (design_transform()). So a design that fails is judged
# again, as gee() does, on those centred and scaled columns (the same span;
# no centring without a constant column), and only a design that fails
# there too is refused, naming the columns aliased there. (Columns that
# span the constant without a constant column, 0 + f + x, are not centred
# by the engines, and such an x stays refused.)
# `Xs`: the transformed design when the caller has it (the distributed
# fits' R factor, whose rows are not observations).
check_full_rank <- function(X, what = "the fixed-effects model matrix", Xs = NULL) {
  if (!gram_full_rank(X) && qr(X)$rank < ncol(X)) {
    if (is.null(Xs)) Xs <- if (all_finite(X)) design_transform(X)$M else X
    if (qr(Xs)$rank < ncol(Xs))
      stop(what, " is rank deficient (aliased or collinear columns: ",
           paste(aliased_columns(Xs), collapse = ", "), ")", call. = FALSE)
  }
  invisible(X)
}

# A sufficient condition for qr(X)$rank == ncol(X), from the cross-product
# alone (a pass over X instead of a factorization of it: a tenth of the
# time at ten million rows): with the columns scaled to unit length, a
# smallest eigenvalue of the cross-product above 1e-6 puts every column at
# least 1e-3 of its length away from the span of the others (the smallest
# singular value bounds that distance), far beyond qr()'s tolerance of 1e-7.
# FALSE says nothing: qr() decides then.
gram_full_rank <- function(X) {
  k <- ncol(X)
  if (!is.matrix(X) || !is.double(X) || nrow(X) < k || k == 0L || nrow(X) < 1000L) return(FALSE)
  ev <- unit_diagonal_eigenvalues(crossprod(X))
  !is.null(ev) && ev[[k]] > near_singular_eigenvalue
}

# The smallest eigenvalue of a cross-product or an information scaled to
# unit diagonal below which it is taken as near-singular: a direction
# within 1e-3 of the span of the others (gram_full_rank()), a standard
# error inflated a thousandfold by it.
near_singular_eigenvalue <- 1e-6

# The eigenvalues (decreasing) of a symmetric positive semi-definite G
# scaled to unit diagonal, S^-1 G S^-1 with S = sqrt(diag G): NULL where G
# is not finite or a diagonal entry is not positive.
unit_diagonal_eigenvalues <- function(G) {
  d <- diag(G)
  if (!all(is.finite(G)) || any(d <= 0)) return(NULL)
  s <- 1 / sqrt(d)
  eigen(G * outer(s, s), symmetric = TRUE, only.values = TRUE)$values
}

# The zero part's and the dispersion part's designs (either may be NULL).
check_aux_rank <- function(Xz, Xd) {
  if (!is.null(Xz) && ncol(Xz)) check_full_rank(Xz, "'ziformula': the zero part's model matrix")
  if (!is.null(Xd) && ncol(Xd)) check_full_rank(Xd, "'dispformula': the dispersion model matrix")
}

aliased_columns <- function(X) {
  qx <- qr(X)
  column_labels(colnames(X), qx$pivot[-seq_len(qx$rank)])
}

# Labels of columns `j` of a design with column names `nm` (NULL, or some
# empty or NA): the name, or "column k" where there is none, so that an
# error never names a column ''.
column_labels <- function(nm, j) {
  lab <- nm[j]
  if (is.null(lab)) lab <- rep(NA_character_, length(j))
  none <- is.na(lab) | !nzchar(lab)
  lab[none] <- paste("column", j[none])
  lab
}

# The GEE fitters' refusal of an aliased design: the columns after the rank
# in the pivoted QR `qx` of its cross-product are the aliased ones.
stop_gee_rank_deficient <- function(qx, xnames) {
  alias <- column_labels(xnames, qx$pivot[(qx$rank + 1L):length(qx$pivot)])
  stop(sprintf("the model matrix is rank deficient: %s %s linearly dependent on the other columns",
               paste(sQuote(alias, FALSE), collapse = ", "),
               if (length(alias) == 1L) "is" else "are"), call. = FALSE)
}
