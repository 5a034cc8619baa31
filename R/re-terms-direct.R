# Random-effect terms read directly from the factor codes, for
# sparse_re_terms(): intercepts (1 | f), (1 | a:b), (1 | a/b) and terms
# whose left side is a sum of variables of the frame, such as
# (0 + times | g) or (1 + x | g). The grouping factors as
# reformulas::mkReTrms() forms them (each variable made a factor, `a:b` the
# observed combinations in the order of a's levels, then b's; unused levels
# dropped), so that the fit, the names of the random effects and their order
# are the same by either route. Each term's design is built from the codes
# (and the left side's model matrix) instead of by mkReTrms()' Khatri-Rao
# product, which was a fifth of a crossed fit and 15% of a Poisson
# ar1(0 + times | g) + (1 | site) fit. Any other term (expressions that are
# not variables of the frame, functions on the left side) leaves everything
# to mkReTrms().

# The parts of mkReTrms()' result that sparse_re_terms() reads (cnms and
# flist with its "assign" attribute) and Zlist, each term's n x (levels x q)
# design, or NULL when a term cannot be read directly.
direct_re_trms <- function(bars, mf) {
  ok <- vapply(bars, function(b) is_interaction(b[[3L]]) &&
                 all(all.vars(b[[3L]]) %in% names(mf)) && direct_lhs(b, mf), TRUE)
  if (!all(ok)) return(NULL)
  gnames <- bar_term_names(bars)
  ufn <- unique(gnames)
  flist <- vector("list", length(ufn))
  for (k in seq_along(ufn)) {
    f <- grouping_codes(bars[[match(ufn[k], gnames)]][[3L]], mf)
    if (is.null(f)) return(NULL)
    flist[[k]] <- f
  }
  names(flist) <- ufn
  attr(flist, "assign") <- match(gnames, ufn)
  rows <- row.names(mf)
  cnms <- vector("list", length(bars))
  Zlist <- vector("list", length(bars))
  for (t in seq_along(bars)) {
    fac <- flist[[attr(flist, "assign")[t]]]
    if (identical(bars[[t]][[2L]], 1)) {
      cnms[[t]] <- "(Intercept)"
      Zlist[[t]] <- indicator_columns(fac, rows)
    } else {
      # The left side's model matrix as mkReTrms() makes it (on the same
      # frame: its grouping variables are not among the left side's).
      mm <- stats::model.matrix(eval(substitute(~foo, list(foo = bars[[t]][[2L]])),
                                     baseenv()), mf)
      if (!ncol(mm)) return(NULL)
      cnms[[t]] <- colnames(mm)
      Zlist[[t]] <- term_columns(fac, mm, rows)
    }
  }
  names(cnms) <- gnames
  list(cnms = cnms, flist = flist, Zlist = Zlist)
}

# The terms' names as mkReTrms() names them (its grouping expressions
# deparsed), for direct_re_trms() and intercept_re_terms(); remembered for
# the last few lists of bars (memo_expr(): a deparse() per term on every
# fit).
bar_term_names <- function(bars)
  memo_expr("term_names", bars, function(bs)
    vapply(bs, function(b) paste(deparse(b[[3L]], 500L), collapse = " "), ""))

# Whether a term's left side can be read directly: 1, or a formula of
# variables of the frame (atomic columns, none a grouping variable of the
# term) joined by +, -, :, * and parentheses, with the constants 0 and 1;
# and no column of the frame carries contrasts of its own (mkReTrms() then
# may take sparse.model.matrix()).
direct_lhs <- function(bar, mf) {
  lhs <- bar[[2L]]
  if (identical(lhs, 1)) return(TRUE)
  simple <- function(e) {
    if (is.name(e)) return(TRUE)
    if (is.numeric(e)) return(length(e) == 1L && e %in% c(0, 1))
    is.call(e) && as.character(e[[1L]]) %in% c("+", "-", ":", "*", "(") &&
      all(vapply(as.list(e)[-1L], simple, TRUE))
  }
  v <- all.vars(lhs)
  simple(lhs) && all(v %in% names(mf)) && !any(v %in% all.vars(bar[[3L]])) &&
    all(vapply(v, function(nm) is.atomic(mf[[nm]]) && is.null(dim(mf[[nm]])), TRUE)) &&
    !any(vapply(mf, function(col) !is.null(attr(col, "contrasts")), TRUE))
}

# The grouping factor of `expr` (a variable or an interaction a:b:...) with
# only the levels observed, or NULL where this reading could differ from
# mkReTrms()' (missing values; two combinations pasted into the same label,
# which mkReTrms() would merge).
grouping_codes <- function(expr, mf) {
  if (is.name(expr)) {
    x <- .subset2(mf, as.character(expr))
    # A plain factor without missing values whose levels are all used is
    # its own result (the usual grouping column; the steps below would
    # rebuild the same object). Its codes counted in one C++ pass
    # (cpp_n_distinct_codes() on the codes without attributes: as many
    # distinct codes as levels, none missing or out of range), its levels
    # read by attr() (what levels() and nlevels() return for a factor with
    # no other attributes, without their method lookup): 4 microseconds on
    # 2,000 rows, where anyNA(unclass()), levels(), nlevels() and
    # tabulate()'s R code took 15. Where that count is not made (-1: more
    # levels than it takes), anyNA() of the codes and tabulate() as before.
    if (is.factor(x) && length(attributes(x)) == 2L && identical(class(x), "factor")) {
      lev <- attr(x, "levels")
      nl <- length(lev)
      if (!anyNA(lev)) {
        k <- cpp_n_distinct_codes(as.integer(unclass(x)), nl)
        if (k == nl || (k < 0L && !anyNA(unclass(x)) && all(tabulate(x, nl) > 0L))) return(x)
      }
    }
    if (!is.factor(x)) x <- factor(x)
    code <- as.integer(x)
    lev <- levels(x)
    if (anyNA(code) || anyNA(lev)) return(NULL)
    used <- tabulate(code, length(lev)) > 0L
    if (!all(used)) {
      code <- cumsum(used)[code]
      lev <- lev[used]
    }
  } else {
    a <- grouping_codes(expr[[2L]], mf)
    b <- grouping_codes(expr[[3L]], mf)
    if (is.null(a) || is.null(b)) return(NULL)
    # a and b are factors with levels and class alone (as made here): their
    # levels by attr() and their codes by unclass(), without the method
    # lookups of levels(), nlevels() and as.integer() on a factor (2-3.5
    # microseconds each).
    la <- attr(a, "levels")
    lb <- attr(b, "levels")
    ca <- as.integer(unclass(a))
    cb <- as.integer(unclass(b))
    nb <- length(lb)
    M <- nb * as.numeric(length(la))
    # The combination's code in integers where every code fits (the same
    # whole numbers as in doubles, without the double copy of a's codes and
    # tabulate()'s integer copy of the result).
    code <- if (M <= .Machine$integer.max) (ca - 1L) * nb + cb
            else (as.numeric(ca) - 1) * nb + cb
    # The combinations observed, in increasing order of their code: by a
    # count over all combinations when there are not many more of them than
    # rows (sort(unique()) and match() were a tenth of the terms' time on
    # Pastes), otherwise by sorting. Both give the same integer codes, each
    # combination observed (no level left unused to drop).
    if (M <= max(4 * length(code), 1e5)) {
      seen <- tabulate(code, M) > 0L
      u <- which(seen)
      code <- cumsum(seen)[code]
    } else {
      u <- sort(unique(code))
      code <- match(code, u)
    }
    lev <- paste(la[(u - 1) %/% nb + 1], lb[(u - 1) %% nb + 1], sep = ":")
    if (anyDuplicated(lev) || anyNA(code) || anyNA(lev)) return(NULL)
  }
  # structure()'s attributes in its order, without its R code (9 of the
  # 90 microseconds of an a:b of 400 combinations)
  attr(code, "levels") <- lev
  class(code) <- "factor"
  code
}

# The n x nlevels(f) indicator matrix of a factor without missing values,
# rows of each column in increasing order (the canonical dgCMatrix), named
# as mkReTrms() names it (rows: `rows`, the frame's row names; columns: levels).
indicator_columns <- function(f, rows) {
  # Made in C++ by a counting sort (cpp_indicator_dgc(), src/util/dgc-matrix.cpp):
  # new()'s validity check, then the checks of five `@<-`, then order() and
  # tabulate() were most of the time of this function on small data.
  cpp_indicator_dgc(list(as.integer(f)), nlevels(f), list(rows, levels(f)))
}

# The n x (nlevels(f) q) design of a term with model matrix mm (n x q):
# level l's columns (l - 1) q + 1..q hold mm's row of each observation of
# that level, zeros not stored, rows in increasing order within a column;
# as mkReTrms()' t(KhatriRao(fac2sparse(f), t(mm))) with its names (rows:
# `rows`; columns: each level repeated q times).
term_columns <- function(f, mm, rows) {
  nl <- nlevels(f)
  q <- ncol(mm)
  n <- nrow(mm)
  code <- as.integer(f)
  x <- as.vector(mm)
  col <- rep((code - 1L) * q, q) + rep(seq_len(q), each = n)
  keep <- x != 0
  x <- x[keep]
  col <- col[keep]
  row <- rep(seq_len(n), q)[keep]
  # radix order is stable: within a column, rows stay increasing
  o <- order(col, method = "radix")
  cpp_new_dgc(row[o] - 1L, c(0L, cumsum(tabulate(col, nl * q))), x[o], c(n, nl * q),
              list(rows, rep(levels(f), each = q)))
}
