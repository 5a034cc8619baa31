# Random-effects terms: lme4 syntax parsed by reformulas (lme4's own parser),
# turned into the per-observation design Z (n x q), the grouping factor and
# the pattern of free entries of the lower-triangular factor Lambda.

# Reads the bars of `formula` against model frame `mf`; all terms share one
# grouping factor (several go to sparse_re_terms(), re-terms-sparse.R).
re_terms <- function(formula, mf, env = environment(formula)) {
  bars <- reformulas::findbars(formula)
  if (!length(bars))
    stop("the formula has no random-effects term such as (1 | group); ",
         "for a model without random effects use glm(), or gee() for ",
         "population-averaged effects", call. = FALSE)
  gnames <- vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), "")
  if (length(unique(gnames)) > 1L)
    stop(sprintf(paste0("internal: re_terms() takes one grouping factor (%s); ",
                        "glmm() sends several to the sparse engine (sparse_re_terms())"),
                 paste(unique(gnames), collapse = ", ")), call. = FALSE)
  gexpr <- bars[[1L]][[3L]]
  g <- tryCatch(used_factor(eval(gexpr, mf, env)),
                error = function(e) stop(sprintf("grouping factor '%s': %s", gnames[1L],
                                                 conditionMessage(e)), call. = FALSE))
  if (anyNA(g))
    stop(sprintf("grouping factor '%s' contains missing values", gnames[1L]), call. = FALSE)
  if (nlevels(g) < 2L)
    stop(sprintf("grouping factor '%s' has only %d level; a random effect needs at least two groups",
                 gnames[1L], nlevels(g)), call. = FALSE)
  Zs <- lapply(bars, function(b) {
    lhs <- stats::as.formula(call("~", b[[2L]]), env = env)
    Zb <- stats::model.matrix(lhs, mf)
    if (ncol(Zb) == 0L) stop("a random-effects term has no columns", call. = FALSE)
    Zb
  })
  sizes <- vapply(Zs, ncol, 1L)
  Z <- do.call(cbind, Zs)
  cn <- unlist(lapply(Zs, colnames))
  if (anyDuplicated(cn))
    stop(sprintf("random-effects terms on '%s' repeat a column (%s)", gnames[1L],
                 paste(unique(cn[duplicated(cn)]), collapse = ", ")), call. = FALSE)
  colnames(Z) <- cn
  pat <- block_pattern(sizes)
  list(Z = unname(Z), cnames = cn, group = g, group_name = gnames[1L],
       lam_row = pat$row, lam_col = pat$col, block_sizes = sizes)
}

