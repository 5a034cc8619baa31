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
  if (qr(X)$rank < ncol(X)) {
    if (is.null(Xs)) Xs <- if (all_finite(X)) design_transform(X)$M else X
    if (qr(Xs)$rank < ncol(Xs))
      stop(what, " is rank deficient (aliased or collinear columns: ",
           paste(aliased_columns(Xs), collapse = ", "), ")", call. = FALSE)
  }
  invisible(X)
}

# The zero part's and the dispersion part's designs (either may be NULL).
check_aux_rank <- function(Xz, Xd) {
  if (!is.null(Xz) && ncol(Xz)) check_full_rank(Xz, "'ziformula': the zero part's model matrix")
  if (!is.null(Xd) && ncol(Xd)) check_full_rank(Xd, "'dispformula': the dispersion model matrix")
}

aliased_columns <- function(X) {
  qx <- qr(X)
  colnames(X)[qx$pivot[-seq_len(qx$rank)]] %||% as.character(qx$pivot[-seq_len(qx$rank)])
}
