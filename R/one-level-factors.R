# A factor (or character variable) with a single value among the
# rows used cannot enter a design: model.matrix() stops with R's
# "contrasts can be applied only to factors with 2 or more levels", which
# names neither the formula nor the variable, and the level count may have
# dropped to one only after 'subset' or the removal of rows with missing
# values. Checked once on the model frame, against each formula argument
# of the call (formula, ziformula, dispformula): the fixed terms and the
# left-hand sides of random-effect terms, not the grouping factors (a
# single group is a different matter, reported by the fitters).
check_one_level_factors <- function(mf, mc, env) {
  # Most frames have no such column: a cheap pass over the columns first
  # (the formula analysis below costs about 0.15 ms, a tenth of a small fit).
  # The frame's factors keep only their used levels (frame_from_call() has
  # run drop_unused_levels()): their levels are counted, not their values.
  single <- vapply(mf, function(x) {
    if (is.factor(x)) nlevels(x) < 2L
    else if (is.character(x)) length(unique(x[!is.na(x)])) < 2L
    else FALSE
  }, TRUE)
  if (!any(single)) return(invisible(NULL))
  for (arg in intersect(c("formula", "ziformula", "dispformula"), names(mc))) {
    f <- tryCatch(eval(mc[[arg]], env), error = function(e) NULL)
    if (!inherits(f, "formula")) next
    for (v in design_variables(f[[length(f)]])) {
      x <- if (v$name %in% names(mf)) mf[[v$name]]
      if (!(is.factor(x) || is.character(x))) next
      vals <- unique(as.character(x[!is.na(x)]))
      if (length(vals) >= 2L) next
      stop(sprintf(paste0("'%s': the variable '%s'%s has a single value (\"%s\") in the rows used ",
                          "(after 'subset' and the removal of rows with missing values); ",
                          "a factor needs two or more levels: drop it from the formula"),
                   arg, v$name, if (is.null(v$term)) "" else sprintf(" in the random-effect term (%s)", v$term),
                   if (length(vals)) vals else "none"), call. = FALSE)
    }
  }
  invisible(NULL)
}

# The variables of a formula's right-hand side `e` that go through
# contrasts, as model-frame column names: the leaves of the operators,
# the left-hand side of each `lhs | group` term (`term` its text), through
# covariance-structure calls such as ar1(time + 0 | g).
design_variables <- function(e, term = NULL) {
  ops <- c("+", "-", "*", ":", "/", "^", "(", "%in%")
  if (is.call(e)) {
    fn <- as.character(e[[1L]])[1L]
    if (fn %in% c("|", "||"))
      return(design_variables(e[[2L]], paste(deparse(e, 500L), collapse = "")))
    if (fn %in% ops || "|" %in% all.names(e) || "||" %in% all.names(e))
      return(do.call(c, lapply(as.list(e)[-1L], design_variables, term = term)))
  }
  if (is.numeric(e)) return(list())
  list(list(name = paste(deparse(e, 500L), collapse = ""), term = term))
}
