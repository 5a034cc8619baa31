# Random-effects terms: lme4 syntax parsed by reformulas (lme4's own parser),
# turned into the per-observation design Z (n x q), the grouping factor and
# the pattern of free entries of the lower-triangular factor Lambda.

# Reads the bars of `formula` against model frame `mf`; all terms share one
# grouping factor (several go to sparse_re_terms(), re-terms-sparse.R).
# `bars`: find_bars(formula) (reformulas::findbars()), when the caller has it already.
# `unit_z`: a lone random intercept's Z is NULL, its column of ones not
# built (for glmm_fit(), which takes NULL as that column).
re_terms <- function(formula, mf, env = environment(formula), bars = find_bars(formula),
                     unit_z = FALSE) {
  if (!length(bars))
    stop("the formula has no random-effects term such as (1 | group); ",
         "for a model without random effects use glm(), or gee() for ",
         "population-averaged effects", call. = FALSE)
  gnames <- if (missing(bars)) bar_group_names(formula) else group_names_of(bars)
  if (length(unique(gnames)) > 1L)
    stop(sprintf(paste0("internal: re_terms() takes one grouping factor (%s); ",
                        "glmm() sends several to the sparse engine (sparse_re_terms())"),
                 paste(unique(gnames), collapse = ", ")), call. = FALSE)
  g <- checked_grouping(bars[[1L]][[3L]], gnames[1L], mf, env)  # re-grouping.R
  if (unit_z && length(bars) == 1L && intercept_lhs(bars[[1L]]))
    return(list(Z = NULL, cnames = "(Intercept)", group = g, group_name = gnames[1L],
                lam_row = 1L, lam_col = 1L, block_sizes = 1L))
  Zs <- lapply(bars, function(b) {
    # A random intercept's column without model.matrix() (a twentieth of
    # a small fit): what model.matrix(~ 1, mf) gives, as Z keeps it.
    if (intercept_lhs(b))
      return(matrix(1, nrow(mf), 1L, dimnames = list(NULL, "(Intercept)")))
    # `x`, `1 + x`, `0 + x` on a numeric column x: cbind(1, x) or x
    # directly (design-direct.R; Z loses its row names below).
    Zb <- lhs_numeric_design(b[[2L]], mf)
    if (!is.null(Zb)) return(Zb)
    lhs <- stats::as.formula(call("~", b[[2L]]), env = env)
    Zb <- stats::model.matrix(lhs, mf)
    if (ncol(Zb) == 0L) stop("a random-effects term has no columns", call. = FALSE)
    Zb
  })
  sizes <- vapply(Zs, ncol, 1L)
  # One term: its matrix without cbind() (which would keep dim and dimnames
  # only; the names are set and dropped below).
  Z <- if (length(Zs) == 1L) `attributes<-`(Zs[[1L]], list(dim = dim(Zs[[1L]])))
       else do.call(cbind, Zs)
  cn <- unlist(lapply(Zs, colnames))
  if (anyDuplicated(cn))
    stop(sprintf("random-effects terms on '%s' repeat a column (%s)", gnames[1L],
                 paste(unique(cn[duplicated(cn)]), collapse = ", ")), call. = FALSE)
  colnames(Z) <- cn
  pat <- block_pattern(sizes)
  list(Z = unname(Z), cnames = cn, group = g, group_name = gnames[1L],
       lam_row = pat$row, lam_col = pat$col, block_sizes = sizes)
}

# Whether the bar `b` is a random intercept alone, `(1 | g)`.
intercept_lhs <- function(b) identical(b[[2L]], 1) || identical(b[[2L]], 1L)

# The grouping factor of a random-effect term, as lme4 reads it: `a:b` is
# the interaction of a and b (whatever their type; `:` on numbers would be a
# sequence), and any other expression, such as I(g %% 5), is evaluated in the
# data. In the model frame such an expression is already a column, under
# its deparsed name (the frame holds the expression, not g).
eval_grouping <- function(expr, data, env) {
  # A variable of the data (the usual `(1 | g)`): its column, a character
  # one as a factor, which is what the general path below gives, without
  # deparse() and a pass over every column of the frame.
  if (is.name(expr) && is.data.frame(data) && !anyDuplicated(names(data)) &&
      !is.null(v <- .subset2(data, as.character(expr))))
    return(if (is.character(v)) factor(v) else v)
  key <- paste(deparse(expr, 500L), collapse = "")
  if (!is.name(expr) && key %in% names(data)) return(data[[key]])
  # A grouping variable missing from new data (predict(), standardize()):
  # named, instead of eval()'s "object 'g' not found".
  miss <- setdiff(all.vars(expr), names(data))
  miss <- miss[!vapply(miss, exists, TRUE, envir = env)]
  if (length(miss))
    stop(sprintf("'newdata' lacks the grouping variable%s %s of the random effects: give %s, or predict with re.form = NA (random effects at zero)",
                 if (length(miss) > 1L) "s" else "", paste(sQuote(miss, FALSE), collapse = ", "),
                 if (length(miss) > 1L) "them" else "it"), call. = FALSE)
  if (is_interaction(expr) && !is.name(expr)) {
    vars <- intersect(all.vars(expr), names(data))
    data <- as.list(data)[vars]
    data[] <- lapply(data, function(v) if (is.factor(v)) v else factor(v))
  } else if (is.data.frame(data)) {
    chr <- vapply(data, is.character, TRUE)
    if (any(chr)) data[chr] <- lapply(data[chr], factor)
  }
  eval(expr, data, env)
}

is_interaction <- function(e) {
  is.name(e) || (is.call(e) && identical(e[[1L]], as.name(":")) &&
                   all(vapply(as.list(e)[-1L], is_interaction, TRUE)))
}

# The bars of a formula for reformulas::mkReTrms() on the model frame: a
# grouping expression that is not an interaction of variables (I(g %% 5))
# is a column of the frame under its deparsed name, so it is replaced by
# that name (mkReTrms would look for g, which the frame does not hold).
frame_bars <- function(bars, mf) {
  lapply(bars, function(b) {
    g <- b[[3L]]
    key <- paste(deparse(g, 500L), collapse = "")
    if (!is_interaction(g) && key %in% names(mf)) b[[3L]] <- as.name(key)
    b
  })
}

# reformulas::findbars(), subbars() and nobars() remembered for the last few
# formulas.
# Each is a function of the formula's expression alone: findbars() costs
# about 0.9 ms (it expands grouping variables through terms() and parse())
# and one glmm() call used to run it three to five times on the same formula
# (the route choice, the terms, the fitted object), a third of a small REML
# fit; subbars() and nobars() walk the expression in R, 2-3% of a small REML
# fit each. The key is the expression without attributes, so the cache
# holds no environment (and no data captured by one). Each kind's entry is
# list(keys, values), found by the kind's name alone (two paste0() per
# call for the names of separate entries were half the cost of a hit,
# which a several-term LMM fit takes seven times).
front_cache <- new.env(parent = emptyenv())
memo_expr <- function(kind, x, fun) {
  key <- x
  attributes(key) <- NULL
  slot <- front_cache[[kind]]
  keys <- slot$keys
  for (k in seq_along(keys))
    if (identical(keys[[k]], key)) return(slot$values[[k]])
  val <- fun(x)
  keep <- seq_len(min(length(keys), 7L))
  front_cache[[kind]] <- list(keys = c(list(key), keys[keep]),
                              values = c(list(val), slot$values[keep]))
  val
}

# Returns what reformulas::findbars() returns.
find_bars <- function(formula) memo_expr("bars", formula, reformulas::findbars)

# The grouping expressions of random-effect terms `bars` as text; of
# find_bars(formula), remembered (deparse() per term, 1% of a small fit,
# twice per glmm() call: the route choice and re_terms()).
group_names_of <- function(bars)
  vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), "")
bar_group_names <- function(formula)
  memo_expr("gnames", formula, function(f) group_names_of(find_bars(f)))

# reformulas::subbars(formula): the expression with `|` made `+`, the
# formula's own attributes (class, environment) kept, as subbars() keeps them.
sub_bars <- function(formula) {
  val <- memo_expr("subbars", formula, function(f) {
    out <- reformulas::subbars(f)
    attributes(out) <- NULL
    out
  })
  attributes(val) <- attributes(formula)
  val
}

# reformulas::nobars() of an expression without attributes (a formula's
# right-hand side).
no_bars <- function(expr) memo_expr("nobars", expr, reformulas::nobars)
