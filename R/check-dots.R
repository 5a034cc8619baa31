# Arguments that fall into a method's `...` and are not used there. A method
# whose `...` is not passed on calls check_dots() first, so an argument it
# cannot honour (a misspelt name, another package's option, a variance type
# the model does not have) stops with a message naming the method and the
# argument, instead of being swallowed and the default answer returned.
#
#   check_dots(..., .method = "vcov.glmmgee_glmm")
#
# .method  the method's name, generic and class ("vcov.glmmgee_glmm",
#          "print.summary.glmmgee_gee") or an exported function ("odds_ratios").
# .allow   names the method reads from `...` itself, or accepts and ignores
#          by a documented convention (e.g. nobs(use.fallback =), which
#          stats::step() passes).
# .hint    a sentence added to the message (e.g. the variance types available).
check_dots <- function(..., .method, .allow = character(), .hint = NULL) {
  n <- ...length()
  if (n == 0L) return(invisible(NULL))
  nm <- ...names() %||% rep("", n)
  nm[is.na(nm)] <- ""
  bad <- !nzchar(nm) | !(nm %in% .allow)
  if (!any(bad)) return(invisible(NULL))
  fun <- sys.function(-1L)
  known <- setdiff(names(formals(fun)), "...")
  # the names accepted from `...` are listed when they are few (not the
  # formatting arguments of print methods)
  listed <- unique(c(known, if (length(.allow) <= 3L) .allow))
  known <- unique(c(known, .allow))
  what <- dots_method_label(.method)
  unnamed <- sum(!nzchar(nm))
  named <- nm[bad & nzchar(nm)]
  msg <- if (length(named)) {
    guess <- vapply(named, function(a) dots_guess(a, known), "")
    sprintf("%s has no argument %s%s", what,
            paste0("'", named, "'", collapse = ", "),
            paste(guess[nzchar(guess)], collapse = ""))
  } else {
    sprintf("%s takes no further unnamed argument (%d given after the named ones)", what, unnamed)
  }
  if (length(named) && unnamed)
    msg <- sprintf("%s, and no further unnamed argument", msg)
  msg <- sprintf("%s; its arguments are %s", msg,
                 if (length(listed)) paste0("'", listed, "'", collapse = ", ") else "none")
  if (!is.null(.hint)) msg <- paste0(msg, ". ", .hint)
  stop(msg, call. = FALSE)
}

# "vcov() on a glmmgee_glmm fit", "print() on the summary() of a glmmgee_gee fit",
# "odds_ratios()".
dots_method_label <- function(method) {
  method <- sub("\\.default$", "", method)
  m <- regmatches(method, regexec("^(.+?)\\.((summary|VarCorr|ranef|coef)\\.)?(glmmgee_.+)$", method,
                                perl = TRUE))[[1L]]
  if (!length(m)) return(sprintf("%s()", method))
  generic <- m[2L]; of <- m[4L]; cls <- m[5L]
  noun <- if (grepl("^glmmgee_(glmm|gee)", cls)) "fit" else "object"
  article <- if (grepl("^[aeiou]", cls)) "an" else "a"
  if (nzchar(of))
    return(sprintf("%s() on the %s() of %s %s %s", generic, of, article, cls, noun))
  sprintf("%s() on %s %s %s", generic, article, cls, noun)
}

# " (did you mean 'level'?)" for a name within two edits of a known one.
dots_guess <- function(arg, known) {
  if (!length(known)) return("")
  d <- utils::adist(arg, known, ignore.case = TRUE)[1L, ]
  pm <- startsWith(known, arg)
  best <- if (any(pm)) which(pm)[1L] else if (min(d) <= 2L) which.min(d) else 0L
  if (best == 0L) "" else sprintf(" (did you mean '%s'?)", known[best])
}

# The arguments of print.default() and printCoefmat(), which code printing
# any object passes to print(): accepted by the package's print methods,
# which format with their own rules, so that such calls keep working.
print_dots <- c("digits", "quote", "na.print", "print.gap", "right", "max", "width",
                "useSource", "signif.stars", "signif.legend", "dig.tst", "zap.ind",
                "tst.ind", "P.values", "has.Pvalue", "eps.Pvalue", "row.names",
                "zero.print", "justify", "n", "show.signif.stars", "cs.ind")

# What vcov() of a GLMM fit can give: the model-based covariance (the
# inverse of the observed information) and, where the engine provides them,
# cluster-robust covariances of the fixed effects.
vcov_glmm_types_hint <- function() {
  paste0("vcov() of a glmm() fit takes 'type': ", dQuote("model", FALSE), " (the default, the inverse ",
         "observed information; 'full = TRUE' adds the variance parameters) or the cluster-robust ",
         "(sandwich) types ", paste(dQuote(robust_cr_types, FALSE), collapse = ", "),
         " of the fixed effects, with 'cluster =', where the fit's engine provides them ",
         "(engine_registry(), column robust_vcov). gee() fits have vcov(type = ) ",
         paste(dQuote(names(gee_se_types), FALSE), collapse = ", "))
}

# For the methods whose `...` holds further fits (anova(), AIC(), BIC(),
# QIC()): an argument that is not a fitted model, e.g. a misspelt option
# (AIC(f1, f2, K = 3)), is named instead of being treated as a model.
check_dots_fits <- function(..., .method) {
  n <- ...length()
  if (n == 0L) return(invisible(NULL))
  nm <- ...names() %||% rep("", n)
  nm[is.na(nm)] <- ""
  dots <- list(...)
  model <- vapply(dots, function(d)
    (isS4(d) || (is.list(d) && is.object(d))) && !is.data.frame(d), TRUE)
  if (all(model)) return(invisible(NULL))
  fun <- sys.function(-1L)
  known <- setdiff(names(formals(fun)), c("...", "object"))
  bad <- which(!model)
  what <- ifelse(nzchar(nm[bad]), paste0("'", nm[bad], "'"),
                 paste0("the unnamed argument in position ", bad + 1L))
  stop(sprintf("%s: %s %s not a fitted model; the further arguments of %s() are fits to compare%s",
               dots_method_label(.method), paste(what, collapse = ", "),
               if (length(bad) > 1L) "are" else "is",
               sub("\\..*$", "", .method),
               if (length(known)) sprintf(" and the options %s", paste0("'", known, "'", collapse = ", "))
               else ""), call. = FALSE)
}

# Arguments given that the chosen method or setting does not use, named in
# an error with what uses them, as the converse refusals are worded
# ("confint(method = \"boot\"): 'vcov' and 'cluster' are for Wald intervals").
# `given`: a named logical, TRUE for each argument given (!missing(), so one
# given at its default counts); `where`: the call as chosen; `used_by`:
# what the arguments are for.
#
#   refuse_unused(c(nsim = !missing(nsim), seed = !missing(seed)),
#                 "confint(method = \"Wald\")", "the parametric bootstrap (method = \"boot\")")
refuse_unused <- function(given, where, used_by) {
  args <- names(given)[given]
  if (!length(args)) return(invisible(NULL))
  quoted <- paste0("'", args, "'")
  listed <- if (length(args) == 1L) quoted else
    paste(paste(quoted[-length(args)], collapse = ", "), "and", quoted[length(args)])
  stop(sprintf("%s: %s %s for %s", where, listed, if (length(args) == 1L) "is" else "are", used_by),
       call. = FALSE)
}
