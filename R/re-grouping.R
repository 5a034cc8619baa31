# The grouping factor of the random-effect terms on one factor, evaluated in
# the model frame and checked: a factor of the levels that occur, without
# missing values, with at least two levels (`min_levels`: one for terms
# whose structure over coordinates is identified within one group, a
# spatial field). `gname` is the term's grouping
# expression as the user wrote it, for the messages. Shared by re_terms(),
# covstruct_terms() and the ordinal random-intercept route, which needs
# only this factor (not a design of random-effect columns).
checked_grouping <- function(gexpr, gname, mf, env, min_levels = 2L) {
  # A factor column of the frame, the usual case, cannot fail: no handler.
  v <- if (is.name(gexpr) && is.data.frame(mf) && !anyDuplicated(names(mf)))
         .subset2(mf, as.character(gexpr))
  g <- if (is.factor(v)) used_factor(v)
       else tryCatch(used_factor(eval_grouping(gexpr, mf, env)),
                     error = function(e) stop(sprintf("grouping factor '%s': %s", gname,
                                                      conditionMessage(e)), call. = FALSE))
  if (anyNA(g))
    stop(sprintf("grouping factor '%s' contains missing values", gname), call. = FALSE)
  check_group_levels(gname, nlevels(g), min_levels)
  g
}

# A grouping factor `gname` with `nl` levels: at least two (`min_levels`).
check_group_levels <- function(gname, nl, min_levels = 2L) {
  if (nl < min_levels)
    stop(sprintf("grouping factor '%s' has only %d level; a random effect needs at least two groups",
                 gname, nl), call. = FALSE)
}
