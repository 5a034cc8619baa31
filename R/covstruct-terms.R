# Random-effect terms with covariance structures on one grouping factor:
# glmmTMB's syntax, e.g. y ~ x + ar1(0 + time_f | g) + (1 | g). Terms
# without a structure are unstructured, us(). Parsed by reformulas
# (splitForm, the parser glmmTMB uses).

# Whether a formula names a structure other than the unstructured default.
has_covstruct <- function(formula) {
  isTRUE(reformulas::anySpecial(formula, setdiff(covstruct_kinds, "us")))
}

# The formula the model frame is built from: structures replaced by
# parentheses, then the bars by '+'.
covstruct_frame_formula <- function(formula) {
  f <- reformulas::sub_specials(formula, specials = setdiff(covstruct_kinds, "us"))
  reformulas::subbars(f)
}

# The terms: per term its structure (covstruct()), design columns and
# names; all on one grouping factor (the structured route has no sparse
# engine yet).
covstruct_terms <- function(formula, mf, env) {
  sp <- reformulas::splitForm(formula, specials = covstruct_kinds)
  bars <- sp$reTrmFormulas
  kinds <- sp$reTrmClasses
  gnames <- vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), "")
  if (length(unique(gnames)) > 1L)
    stop(sprintf(paste0("covariance structures (%s) are available for one grouping factor; ",
                        "the formula has %s"),
                 paste(unique(kinds), collapse = ", "), paste(unique(gnames), collapse = " and ")),
         call. = FALSE)
  g <- tryCatch(used_factor(eval_grouping(bars[[1L]][[3L]], mf, env)),
                error = function(e) stop(sprintf("grouping factor '%s': %s", gnames[1L],
                                                 conditionMessage(e)), call. = FALSE))
  if (anyNA(g))
    stop(sprintf("grouping factor '%s' contains missing values", gnames[1L]), call. = FALSE)
  if (nlevels(g) < 2L)
    stop(sprintf("grouping factor '%s' has only %d level; a random effect needs at least two groups",
                 gnames[1L], nlevels(g)), call. = FALSE)
  terms <- lapply(seq_along(bars), function(k) {
    lhs <- stats::as.formula(call("~", bars[[k]][[2L]]), env = env)
    Zb <- stats::model.matrix(lhs, mf)
    q <- ncol(Zb)
    label <- sprintf("%s(%s)", kinds[k], paste(deparse(bars[[k]]), collapse = ""))
    if (q == 0L) stop(sprintf("the random-effects term %s has no columns", label), call. = FALSE)
    if (kinds[k] %in% c("ar1", "cs") && q < 2L)
      stop(sprintf("%s needs at least two columns (e.g. ar1(0 + f | g) with a factor f of two or more levels); it has one",
                   label), call. = FALSE)
    list(kind = kinds[k], label = label, Z = Zb, cnames = colnames(Zb), q = q,
         struct = covstruct(kinds[k], q))
  })
  cn <- unlist(lapply(terms, `[[`, "cnames"))
  if (anyDuplicated(cn))
    stop(sprintf("random-effects terms on '%s' repeat a column (%s)", gnames[1L],
                 paste(unique(cn[duplicated(cn)]), collapse = ", ")), call. = FALSE)
  Z <- do.call(cbind, lapply(terms, `[[`, "Z"))
  sizes <- vapply(terms, `[[`, 1L, "q")
  pat <- block_pattern(sizes)
  for (k in seq_along(terms)) terms[[k]]$Z <- NULL
  list(terms = terms, Z = unname(Z), cnames = cn, group = g, group_name = gnames[1L],
       lam_row = pat$row, lam_col = pat$col, block_sizes = sizes,
       fixed = sp$fixedFormula)
}
