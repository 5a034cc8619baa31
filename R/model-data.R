# The model-data stage shared by glmm() and gee(): model frame, response in
# the family's form, prior weights, offset. Everything here is vectorised;
# the engines receive plain vectors and matrices.

# Builds the model frame from the user's call. `extras` are the arguments
# (weights, offset, id, waves, ...) evaluated in `data` like model.frame's
# own extra variables, so subset and na.action treat them with the rest.
frame_from_call <- function(mc, frame_formula, env, extras, contrasts = NULL,
                            formulas = list(frame_formula)) {
  # Plain columns of 'data' named in the formula: the frame directly
  # (direct_frame()); anything else through model.frame().
  mf <- direct_frame(mc, frame_formula, env, extras)
  direct <- !is.null(mf)
  if (!direct) mf <- model_frame_call(mc, frame_formula, env, extras, formulas)
  # A direct frame whose factors all have two or more levels, all used, and
  # no character column: nothing to drop and no one-level factor (one C++
  # pass, src/util/frame-columns.cpp, in place of two R passes over the columns).
  plain <- direct && cpp_frame_factors_used(mf)
  if (!plain) mf <- drop_unused_levels(mf)
  if (nrow(mf) == 0L)
    stop("'data' has no complete rows: no observations are left after ",
         "'subset' and 'na.action'", call. = FALSE)
  # (a direct frame has no integer64 column: its columns are plain)
  if (!direct) mf <- frame_integer64_groups(mf, formulas)
  if (!plain) check_one_level_factors(mf, mc, env)  # one-level-factors.R
  frame_with_contrasts(mf, contrasts, function() eval(mc$data, env))  # contrasts.R
}

# stats::model.frame() on the call's data, subset, na.action and `extras`,
# its errors said in terms of the call's arguments.
model_frame_call <- function(mc, frame_formula, env, extras, formulas) {
  keep <- c("data", "subset", "na.action", extras)
  args <- as.list(mc)[c(1L, match(keep, names(mc), 0L))]
  args[[1L]] <- quote(stats::model.frame)
  args$formula <- frame_formula
  # Unused factor levels are dropped below (drop_unused_levels()), and the
  # default na.omit is skipped when nothing is missing (na_omit_plain()):
  # the same frame, about a tenth of a small REML fit less.
  args$drop.unused.levels <- FALSE
  if (is.null(args$na.action) && default_na_omit(mc$data, env))
    args$na.action <- na_omit_plain
  tryCatch(eval(as.call(args), env), error = function(e) {
    msg <- conditionMessage(e)
    miss <- regmatches(msg, regexpr("(?<=object ')[^']+(?=' not found)", msg, perl = TRUE))
    if (length(miss))
      stop(sprintf("variable '%s' used in the model is not in 'data' (nor in the formula's environment)",
                   miss), call. = FALSE)
    na_vars <- if (grepl("missing values", msg, fixed = TRUE)) columns_with_na(args, env)
    if (length(na_vars))
      stop(sprintf(paste0("%smissing values in %s, and 'na.action' (%s) does not allow them; ",
                          "remove those rows or use na.action = na.omit"),
                   if (length(na_vars) == 1L) formula_arg_of(na_vars, formulas) else "",
                   paste0("'", na_vars, "'", collapse = ", "),
                   if (is.null(mc$na.action)) format(getOption("na.action"))
                   else paste(deparse(mc$na.action), collapse = "")), call. = FALSE)
    len <- regmatches(msg, regexpr("(?<=found for ')[^']+(?=')", msg, perl = TRUE))
    if (grepl("variable lengths differ", msg, fixed = TRUE) && length(len))
      stop(sprintf("%s'%s' must have one value per row of 'data' (or of the model's variables)",
                   formula_arg_of(len, formulas), frame_var_name(len)), call. = FALSE)
    stop("could not build the model frame: ", msg, call. = FALSE)
  })
}

# What model_frame_call() returns, built from the columns of 'data' without
# model.frame() (its R code, the evaluation of the variables list and the
# error handler were a sixth of a small several-term REML fit), for the
# commonest call alone: 'data' a data frame named in the call, no 'subset',
# no 'na.action' and the default na.omit in force (default_na_omit()), no
# `.` in the formula, every variable of the formula and every extra
# (weights = w) a name of a column of 'data' (names not repeated), each
# column a plain vector or factor (no other attributes) of a type
# model.frame() takes, with no missing value. Then model.frame() would
# take the same columns (the data come first in its lookup), na.omit() would
# return them as they are, and every variable is its own predvar
# (makepredictcall() changes none of them): the same frame, its row names
# and terms (predvars, dataClasses) set as model.frame() sets them. Nothing
# is evaluated but the data's name and nothing is remembered between calls,
# so functions or variables of the formula's environment cannot be read
# stale: any formula that uses them is not a plain one and goes to
# model.frame(). NULL when the call is not such a call.
direct_frame <- function(mc, frame_formula, env, extras) {
  nm <- names(mc)
  de <- mc[["data"]]
  if ("subset" %in% nm || "na.action" %in% nm || !is.name(de) || !default_na_omit(de, env) ||
      "." %in% all.names(frame_formula))
    return(NULL)
  data <- get0(as.character(de), envir = env)
  n <- .row_names_info(data, 2L)
  if (!is.data.frame(data) || n < 1L) return(NULL)
  ex <- extras[extras %in% nm]
  exv <- lapply(ex, function(a) mc[[a]])
  # A formula terms() refuses goes to model.frame(), whose error handler
  # words the message.
  tt <- plain_terms(frame_formula, quiet = TRUE)
  if (is.null(tt)) return(NULL)
  vars <- as.list(attr(tt, "variables"))[-1L]
  if (!all(vapply(c(vars, exv), is.name, TRUE))) return(NULL)
  dn <- names(data)
  j <- match(vapply(c(vars, exv), as.character, ""), dn)
  if (anyNA(j) || anyDuplicated(dn)) return(NULL)
  out <- .subset(data, j)
  # Each column plain, of length n, of an atomic type model.frame() takes,
  # with no missing value (one C++ pass, src/util/frame-columns.cpp).
  if (!cpp_frame_columns_plain(out, n)) return(NULL)
  names(out) <- c(vapply(vars, as.character, ""), sprintf("(%s)", ex))
  class(out) <- "data.frame"
  rn <- .row_names_info(data, 0L)
  attr(out, "row.names") <- if (length(rn) == n) rn else c(NA_integer_, n)
  attr(tt, "predvars") <- attr(tt, "variables")
  attr(tt, "dataClasses") <- vapply(out, stats::.MFclass, "")
  attr(out, "terms") <- tt
  out
}

# stats::terms() of a formula `f` without `.` (whose terms do not depend on
# the data), remembered for the last few formulas by their expression
# (memo_expr()); the terms carry `f`'s environment, set on each call (the
# remembered copy holds the empty environment, so the cache keeps no data
# alive). terms() cost 11 microseconds, twice per glmm() call (the model
# frame's and the fixed effects' formulas); a hit costs about 2. With
# `quiet`, NULL where terms() stops (remembered as such, apart from the
# others).
plain_terms <- function(f, quiet = FALSE) {
  tt <- memo_expr(if (quiet) "terms_quiet" else "terms", f, function(x) {
    t <- if (quiet) tryCatch(stats::terms(x), error = function(e) NULL) else stats::terms(x)
    if (!is.null(t)) attr(t, ".Environment") <- emptyenv()
    t
  })
  if (is.null(tt)) return(NULL)
  attr(tt, ".Environment") <- attr(f, ".Environment")
  tt
}

# "'ziformula': " when the frame variable `v` (as model.frame() names it)
# comes from that named formula of `formulas` alone (glmm_zi() names
# them), so that an error names the argument; "" otherwise.
formula_arg_of <- function(v, formulas) {
  if (is.null(names(formulas))) return("")
  key <- function(f) {
    if (!inherits(f, "formula")) return(character())
    vapply(as.list(attr(stats::terms(f), "variables"))[-1L],
           function(e) paste(deparse(e, 500L), collapse = " "), "")
  }
  hit <- names(formulas)[vapply(formulas, function(f) v %in% key(f), TRUE)]
  if (length(hit) == 1L && nzchar(hit)) sprintf("'%s': ", hit) else ""
}

# Whether model.frame() would apply na.omit() by default: no `na.action`
# attribute on the data (read only when `data` is a name, so that it is
# not evaluated twice) and options(na.action = "na.omit").
default_na_omit <- function(data_expr, env) {
  if (!identical(getOption("na.action"), "na.omit")) return(FALSE)
  if (is.null(data_expr)) return(TRUE)
  if (!is.name(data_expr)) return(FALSE)
  d <- get0(as.character(data_expr), envir = env)
  is.data.frame(d) && is.null(attr(d, "na.action"))
}

# na.omit() for model.frame(): the frame itself when no column holds a
# missing value and every column is a plain vector or factor, for which
# na.omit()'s copy `object[!omit, , drop = FALSE]` is identical() to it
# (its `[.data.frame` costs about 0.07 ms); otherwise na.omit() itself.
na_omit_plain <- function(object, ...) {
  for (x in object) if (!plain_column(x) || anyNA(x)) return(stats::na.omit(object, ...))
  object
}

# A column with no attributes, or a factor with only its levels and class
# (no contrasts, names or other attributes): what na_omit_plain() may
# return as it is and direct_frame() may take without model.frame().
plain_column <- function(x) {
  at <- attributes(x)
  is.null(at) || (is.factor(x) && length(at) == 2L && all(names(at) %in% c("levels", "class")))
}

# What model.frame(drop.unused.levels = TRUE) does to the frame, with
# tabulate() in place of its unique() per factor (0.04 ms per fit).
drop_unused_levels <- function(mf) {
  unused <- NULL
  for (j in seq_along(mf)) {
    x <- .subset2(mf, j)
    if (is.factor(x) && !all(tabulate(x, nlevels(x)) > 0L)) {
      nm <- names(mf)[j]
      # the response's, for the warning of ordinal_response()
      if (j == 1L && identical(attr(attr(mf, "terms"), "response"), 1L))
        unused <- levels(x)[tabulate(x, nlevels(x)) == 0L]
      ctr <- attr(x, "contrasts")
      mf[[nm]] <- x[, drop = TRUE]
      if (!identical(attr(mf[[nm]], "contrasts"), ctr))
        warning(gettextf("contrasts dropped from factor %s due to missing levels", nm),
                domain = NA, call. = FALSE)
    }
  }
  attr(mf, "unused_response_levels") <- unused
  mf
}

# A model formula given as one character string ("y ~ x + (1 | g)"), as
# lm(), lmer() and glmmTMB() take it: parsed and made a formula whose
# environment is the caller's `env`, so that variables not in 'data' are
# found where the call was made. Anything else is returned as it is, for
# the front end's own checks.
formula_arg <- function(f, arg, env) {
  if (!is.character(f)) return(f)
  bad <- function(why)
    stop(sprintf("'%s' %s: give a formula such as y ~ x, or one character string holding one",
                 arg, why), call. = FALSE)
  if (length(f) != 1L || is.na(f)) bad(sprintf("is a character vector of length %d", length(f)))
  e <- tryCatch(str2lang(f), error = function(e) NULL)
  if (is.null(e)) bad(sprintf("(\"%s\") does not parse", f))
  if (!is.call(e) || !identical(e[[1L]], as.name("~")))
    bad(sprintf("(\"%s\") is not a formula (no ~)", f))
  stats::as.formula(e, env = env)
}

# integer64 (bit64) columns that only identify groups: a grouping factor of
# random-effect terms (a variable on the right of `|` and nowhere else in
# the model's formulas `formulas`) and gee()'s `id` become factors of their
# values, labelled by bit64's as.character() (exact beyond 2^53, where
# as.numeric() merges neighbouring ids and the raw bits, read as doubles,
# print alike to 15 digits); gee()'s `waves` become doubles when they are
# exact ones. data.table::fread() reads large ids as integer64. Any other
# integer64 column (a covariate) is left for check_frame_finite() to refuse.
frame_integer64_groups <- function(mf, formulas) {
  i64 <- which(vapply(mf, inherits, TRUE, what = "integer64"))
  i64 <- i64[i64 > 1L]
  if (!length(i64)) return(mf)
  nm <- names(mf)
  group <- character()
  covariate <- character()
  for (f in formulas) {
    if (is.null(f)) next
    rhs <- f[[length(f)]]
    covariate <- c(covariate, all.vars(no_bars(rhs)))
    for (b in reformulas::findbars(rhs)) {
      covariate <- c(covariate, all.vars(b[[2L]]))
      group <- c(group, all.vars(b[[3L]]))
    }
  }
  ids <- i64[nm[i64] == "(id)" | (nm[i64] %in% group & !nm[i64] %in% covariate)]
  waves <- i64[nm[i64] == "(waves)"]
  if (!length(ids) && !length(waves)) return(mf)
  if (!requireNamespace("bit64", quietly = TRUE))
    stop(sprintf("%s %s an integer64 vector, but package 'bit64' (whose methods read its values) is not installed: install it, or give the ids as character strings",
                 paste0("'", frame_var_name(nm[c(ids, waves)]), "'", collapse = ", "),
                 if (length(c(ids, waves)) > 1L) "are" else "is"), call. = FALSE)
  # Levels sorted by bit64's sort(): factor() orders them by xtfrm(), which
  # for integer64 is the raw bits (negative ids would come unsorted).
  for (j in ids) {
    u <- sort(unique(mf[[j]]))
    lev <- as.character(u[!is.na(u)])
    mf[[j]] <- factor(as.character(mf[[j]]), levels = lev)
  }
  for (j in waves) {
    w <- mf[[j]]
    if (!anyNA(w) && max(abs(w)) > bit64::as.integer64("9007199254740992"))
      stop("'waves' holds integer64 values beyond 2^53, which doubles cannot hold exactly: subtract the smallest wave first (only positions within a cluster matter)",
           call. = FALSE)
    mf[[j]] <- as.numeric(w)
  }
  mf
}

# Which variables of the model frame hold missing values: the frame built
# again with na.pass, so an error from na.fail (or a similar na.action) can
# name them. Extras such as weights appear as "(weights)".
columns_with_na <- function(args, env) {
  args$na.action <- quote(stats::na.pass)
  mf <- tryCatch(eval(as.call(args), env), error = function(e) NULL)
  if (is.null(mf)) return(character())
  has_na <- vapply(mf, function(v) anyNA(v), TRUE)
  frame_var_name(names(mf)[has_na])
}

# Response and prior weights in the form the engines use: y on the mean scale
# (a proportion for binomial) and wt = prior weight (x trials for binomial),
# checked against the family's support.
model_response <- function(mf, family, unit_null = FALSE) {
  # A response column that is a plain double vector is model.response()'s
  # value less the row names it adds, which are dropped below: taken as it
  # is (model.response()'s R code and names were 12 microseconds).
  # An integer or logical column likewise: as.numeric() below makes its one
  # double copy (model.response() and names<- each copied it before).
  y1 <- if (is.list(mf) && length(mf)) .subset2(mf, 1L)
  y <- if ((is.double(y1) || is.integer(y1) || is.logical(y1)) && is.null(attributes(y1)) &&
           isTRUE(attr(attr(mf, "terms"), "response") == 1L)) y1
       else stats::model.response(mf, "any")
  w <- stats::model.weights(mf)
  n <- nrow(mf)
  # The checks by all_finite() and min(): no n-length logical temporaries
  # (the same conditions); none for the default unit weights, which stay
  # NULL where the caller takes NULL as all 1 (`unit_null`; not for a
  # binomial cbind() response, whose weights are its totals).
  if (is.null(w)) {
    if (!unit_null || is.matrix(y)) w <- rep(1, n)
  } else {
    if (!is.numeric(w) || length(w) != n)
      stop("'weights' must be a numeric vector with one value per observation", call. = FALSE)
    if (!all_finite(w)) stop("'weights' contains NA, NaN or infinite values", call. = FALSE)
    if (length(w) && min(w) < 0) stop("'weights' must be non-negative", call. = FALSE)
  }
  fam <- family$family
  if (binomial_response(family)) {
    if (is.matrix(y)) {
      if (ncol(y) != 2L)
        stop("a binomial matrix response must have two columns: cbind(successes, failures)",
             call. = FALSE)
      s <- y[, 1L]; f <- y[, 2L]
      if (any(!is.finite(s)) || any(!is.finite(f)) || any(s < 0) || any(f < 0))
        stop("binomial response cbind(successes, failures) must hold non-negative finite counts",
             call. = FALSE)
      m <- s + f
      y <- ifelse(m > 0, s / pmax(m, 1e-300), 0)
      w <- w * m
    } else {
      if (is.factor(y)) {
        if (nlevels(y) != 2L)
          stop(sprintf("a factor response for binomial must have two levels; it has %d",
                       nlevels(y)), call. = FALSE)
        y <- as.numeric(y != levels(y)[1L])
      } else if (is.logical(y)) {
        y <- as.numeric(y)
      }
      if (!is.numeric(y)) stop("binomial response must be numeric, logical, a factor or cbind(successes, failures)", call. = FALSE)
      # min() and max(): no n-length temporaries in the usual case. Not
      # range(), which copies y through c() and so expands the lazy names
      # model.response() gives it (a million strings at a million rows).
      r <- if (anyNA(y)) NA_real_ else c(min(y), max(y))
      if (!all(is.finite(r)))
        stop("the response contains NaN or infinite values", call. = FALSE)
      check_support(y, family)
    }
    # Whole-number y with no weights (all 1) has whole-number successes.
    if (!(is.integer(y) && is.null(stats::model.weights(mf)))) {
      succ <- if (is.null(w)) y else y * w
      if (any(abs(succ - round(succ)) > 1e-7))
        warning("non-integer number of successes in a binomial model", call. = FALSE)
    }
  } else {
    # A logical response is a 0/1 count, as glm() and glmer() read it.
    if (is.logical(y) && !is.matrix(y)) y <- as.numeric(y)
    if (is.matrix(y) || !is.numeric(y))
      stop(sprintf("the response for family %s must be a numeric vector", fam), call. = FALSE)
    if (!all_finite(y)) stop("the response contains NaN or infinite values", call. = FALSE)
    check_support(y, family)
  }
  # Without model.response()'s names first: as.numeric() would copy them,
  # turning the frame's lazy row names into n strings (1 ms at 10,000 rows).
  if (!is.null(names(y))) names(y) <- NULL
  list(y = as.numeric(y), weights = if (!is.null(w)) as.numeric(w))
}

# Offset from offset() terms in the formula plus the 'offset' argument;
# NULL for none where the caller takes NULL as all 0 (`zero_null`).
model_offset_total <- function(mf, zero_null = FALSE) {
  off <- stats::model.offset(mf)
  n <- nrow(mf)
  if (is.null(off)) return(if (!zero_null) rep(0, n))
  off <- as.numeric(off)
  if (length(off) != n) stop("'offset' must have one value per observation", call. = FALSE)
  if (!all_finite(off)) stop("'offset' contains NA, NaN or infinite values", call. = FALSE)
  off
}

# Grouping/id variable as consecutive integer codes 1..M (no sorting needed).
# The one rule for cluster ids, shared by glmm() (both routes: reformulas
# uses factor() too) and gee(): ids are the same cluster when their labels
# are, and a numeric id's label is as.character()'s, 15 significant digits,
# so ids differing only by floating-point noise (0.1 + 0.2 and 0.3) are one
# cluster, as in factor() and lme4.
cluster_index <- function(g, arg) {
  # A factor whose levels are all used, without missing codes (the grouping
  # factor of a glmm() term): its codes, by one copy and one pass. Its
  # levels looked at without expanding those of integer ids (anyNA() would
  # write out M strings).
  if (is.factor(g) && typeof(g) == "integer" && cpp_strings_no_na(levels(g))) {
    codes <- cpp_plain_codes(g)
    if (cpp_n_distinct_codes(codes, nlevels(g)) == nlevels(g))
      return(list(index = codes, levels = levels(g)))
  }
  # A factor's codes looked at directly: anyNA() of a factor goes through
  # is.na(), a logical copy of the n values.
  if (if (is.factor(g)) anyNA(unclass(g)) else anyNA(g)) stop(sprintf("'%s' contains missing values", arg), call. = FALSE)
  nc <- numeric_codes(g)
  if (!is.null(nc)) return(list(index = nc$codes, levels = nc$levels))
  f <- used_factor(g)
  list(index = as.integer(f), levels = levels(f))
}

# factor(g), the same codes and levels, without converting the n values to
# strings: factor() runs as.character() on the whole vector (a million
# strings at a million rows, and ~7 ms for 20,000 rows, a tenth of a whole
# quadrature fit of that size). A factor whose levels are all used (and not
# NA) is returned as it is; numeric ids are matched against their sorted
# distinct values, whose labels are the only strings made. Anything else
# goes to factor().
used_factor <- function(g) {
  if (is.factor(g)) {
    if (!anyNA(levels(g)) && all(tabulate(g, nlevels(g)) > 0L)) return(g)
    return(factor(g))
  }
  nc <- numeric_codes(g)
  if (!is.null(nc)) return(structure(nc$codes, levels = nc$levels, class = "factor"))
  factor(g)
}

# numeric_codes() of whole numbers within a range of at most 2n values
# (ids 1..M, or numbered from some base): the distinct values, sorted, from
# a count per value instead of a hash table, and the codes by lookup.
dense_integer_codes <- function(g) {
  n <- length(g)
  if (!n) return(NULL)
  lo <- min(g)
  hi <- max(g)
  if (!(hi - lo < 2 * n && hi - lo < .Machine$integer.max && abs(lo) < 1e15 && abs(hi) < 1e15))
    return(NULL)
  if (is.double(g) && !all(g == trunc(g))) return(NULL)
  # Integer ids 1..M, every one used: the ids are their own codes (no copy).
  if (is.integer(g) && lo == 1L && cpp_n_distinct_codes(g, hi) == hi)
    return(list(codes = g, levels = as.character(seq_len(hi))))
  at <- as.integer(g - (lo - 1))
  seen <- which(tabulate(at, hi - lo + 1) > 0L)
  u <- seen + (lo - 1)
  codes <- if (length(u) == hi - lo + 1 && lo == 1) as.integer(g) else {
    map <- integer(hi - lo + 1)
    map[seen] <- seq_along(seen)
    map[at]
  }
  list(codes = codes, levels = as.character(if (is.integer(g)) as.integer(u) else u))
}

# factor()'s codes and levels of numeric ids without NA (NULL for other
# ids, and where two distinct values share a label).
numeric_codes <- function(g) {
  if (!((is.integer(g) || is.double(g)) && is.null(attributes(g)) && !anyNA(g))) return(NULL)
  dense <- dense_integer_codes(g)
  if (!is.null(dense)) return(dense)
  u <- sort(unique(g))
  lev <- as.character(u)
  # Distinct doubles printing alike (15 significant digits) share a level
  # in factor(): that is the rule (see cluster_index()), left to it.
  # Whole numbers below 1e15 print distinctly, so their labels need no
  # check (hashing a million new strings cost more than the rest). (Ids
  # 1..M never get here: their range is dense.)
  whole <- is.integer(u) || (all(abs(u) < 1e15) && all(u == trunc(u)))
  if (!whole && anyDuplicated(lev)) return(NULL)
  list(codes = match(g, u), levels = lev)
}

# The fixed-effects part of a mixed-model formula and its design matrix.
# nobars() on the right-hand side only: on the whole formula it returns the
# bare response when that is a call (cbind(s, f) ~ (1 | g)). With
# drop_rownames, X loses model.matrix's lazy row names before anything can
# expand them into n strings (drop(), as.vector()); objects that rebuild X
# on access add them back.
fixed_design <- function(formula, mf, fenv, drop_rownames = FALSE) {
  fixed <- formula
  fixed[[3L]] <- no_bars(formula[[3L]]) %||% 1
  environment(fixed) <- fenv
  mt <- with_predvars(if ("." %in% all.names(fixed)) stats::terms(fixed, data = mf)
                     else plain_terms(fixed), mf)
  ca <- frame_contrasts(mf, mt)
  # An intercept and numeric columns directly (design-direct.R).
  X <- if (is.null(ca)) terms_numeric_design(mt, mf, if (!drop_rownames) row.names(mf))
  if (is.null(X)) {
    X <- stats::model.matrix(mt, mf, contrasts.arg = ca)
    if (drop_rownames) rownames(X) <- NULL
  }
  list(mt = mt, X = X)
}

# The response and the total offset, after the data checks every front end
# (glmm, its sparse route, gee) runs before fitting (checks.R).
# `offset`: the offset when the caller has it (glmm_zi(), whose frame holds
# the zero and dispersion parts' offset() terms too).
checked_response <- function(mf, X, family, formula, offset = NULL, label = family$family,
                             unit_null = FALSE) {
  check_frame_finite(mf)
  resp <- model_response(mf, family, unit_null)
  off <- offset %||% model_offset_total(mf, unit_null)
  check_model_frame(mf, resp, family, formula, label)
  check_fixed_df(X, resp$weights, family)
  check_weighted_rank(X, resp$weights)
  # One trial each: the beta-binomial likelihood is the Bernoulli one
  # whatever phi, and the fit ended in "doubtful convergence" and a
  # singular Hessian instead of saying so.
  if (identical(family$family, "betabinomial") && positive_weights_one(resp$weights))
    stop("'family': betabinomial() with one trial per observation (a binary response) does not identify the overdispersion phi; use binomial()",
         call. = FALSE)
  list(resp = resp, offset = off)
}

# The fixed-effects design (fixed_design() of `fixed`, the formula itself
# or, on the covariance-structure route, the formula without its
# structures) with the checked response and offset (checked_response()):
# the lines every glmm() route ran before its own checks.
design_and_response <- function(formula, mf, fenv, family, fixed = formula) {
  fx <- fixed_design(fixed, mf, fenv)
  rc <- checked_response(mf, fx$X, family, formula)
  list(mt = fx$mt, X = fx$X, resp = rc$resp, offset = rc$offset)
}

# design_and_response() and the checks every several-term glmm() route
# makes before fitting: effects with one observation per level (of the
# factors `flist`; the sparse Laplace route leaves out those with a known
# covariance), terms confounded with each other (warnings to record) and
# the separation check.
several_term_checks <- function(formula, mf, fenv, family, re, flist = re$flist,
                                fixed = formula) {
  d <- design_and_response(formula, mf, fenv, family, fixed)
  d$extra_warn <- c(check_obs_level_effects(flist, family, d$resp$weights),
                    check_confounded_terms(re))
  d$sep <- separation_record(d$X, d$resp$y, d$resp$weights, family, "glmm")
  d
}

# The checks every one-factor glmm() route makes before fitting: the
# response and offset (checked_response()), the cluster sizes (warnings to
# record) and the separation check. Whether every positive weight is 1 is
# found without keeping a copy of the weights through the fit. With
# `unit_null`, unit weights and a zero offset come back as NULL (for
# glmm_fit(), which holds no n-vector for them).
one_factor_checks <- function(mf, X, family, formula, re, unit_null = FALSE) {
  rc <- checked_response(mf, X, family, formula, unit_null = unit_null)
  resp <- rc$resp
  trials_one <- positive_weights_one(resp$weights)
  gcol <- if (is.data.frame(mf) && isTRUE(re$group_name %in% names(mf))) .subset2(mf, re$group_name)
  cont <- check_grouping_column(gcol, re$group_name, nlevels(re$group), family, trials_one)
  list(resp = resp, offset = rc$offset,
       extra_warn = if (length(cont)) cont
                    else check_cluster_sizes(re$group, resp$weights, family, re$group_name,
                                             trials_one = trials_one),
       sep = separation_record(X, resp$y, resp$weights, family, "glmm"))
}

# Terms `tt` (part of the model) carrying the "predvars" of the model frame
# `mf`, as lm's terms do: evaluating them on new data then reuses the fit's
# data-dependent transformations (poly(), ns(), scale()) instead of
# recomputing them from the new rows. Matched variable by variable, since
# the mixed model's frame also holds the random-effect variables.
with_predvars <- function(tt, mf) {
  ft <- attr(mf, "terms")
  pv <- attr(ft, "predvars")
  if (is.null(pv)) return(tt)
  # No data-dependent transformation in the frame: every variable is its
  # own predvar, which is what the matching below would give.
  if (identical(pv, attr(ft, "variables"))) {
    attr(tt, "predvars") <- attr(tt, "variables")
    return(tt)
  }
  key <- function(v) vapply(as.list(v)[-1L], function(e) paste(deparse(e, 500L), collapse = ""), "")
  m <- match(key(attr(tt, "variables")), key(attr(ft, "variables")))
  # A variable the frame does not list under the same expression (a `.`
  # expanded differently) keeps its own expression: as before predvars.
  own <- as.list(attr(tt, "variables"))[-1L]
  pvl <- as.list(pv)[-1L]
  attr(tt, "predvars") <- as.call(c(list(quote(list)),
                                    ifelse(is.na(m), own, pvl[ifelse(is.na(m), 1L, m)])))
  tt
}

# Terms of a random-effect term's left-hand side (`x` of `(x | g)`) with the
# fit's predvars.
re_lhs_terms <- function(lhs, mf, env) {
  with_predvars(stats::terms(stats::as.formula(call("~", lhs), env = env)), mf)
}

# Ids that occur in several separate runs of rows although the data come in
# blocks of one id (the usual layout: at most half as many runs as rows).
# That is how ids numbered within another grouping look (patients 1, 2, ...
# in each centre): every run with the same id is one cluster here, while
# geepack's geeglm() starts a new cluster at each run. Said in a message,
# since it is also a legitimate layout; returns the number of such ids.
note_split_ids <- function(index, levels, name) {
  n <- length(index)
  if (n < 3L) return(invisible(0L))
  # The first row of each run (C++: no n-long temporaries).
  starts <- cpp_run_starts(as.integer(index))
  if (length(starts) > n / 2) return(invisible(0L))
  runs <- tabulate(index[starts], length(levels))
  k <- sum(runs > 1L)
  if (k > 0L)
    message(sprintf(paste0("'%s': %d of the %d ids occur in separate runs of rows (e.g. %s in %d runs); ",
                           "the rows of an id form one cluster wherever they are (geepack's geeglm() ",
                           "would start a new cluster at each run). If ids are numbered within another ",
                           "grouping (patients within centres), give unique ids such as ",
                           "interaction(centre, %s)"),
                    name, k, length(levels), sQuote(levels[which(runs > 1L)[1L]], FALSE),
                    runs[runs > 1L][1L], name))
  invisible(k)
}
