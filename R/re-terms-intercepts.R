# Random intercepts (1 | f), (1 | a:b), (1 | a/b) read directly from the
# factor codes, for sparse_re_terms(): the grouping factors as
# reformulas::mkReTrms() forms them (each variable made a factor, `a:b` the
# observed combinations in the order of a's levels, then b's; unused levels
# dropped), so that the fit, the names of the random effects and their order
# are the same by either route. Each term's design is the n x levels
# indicator matrix, built from the codes instead of by mkReTrms()'
# Khatri-Rao product. Any other term (slopes, `0 +`, expressions that are
# not variables of the frame) leaves everything to mkReTrms().

# The parts of mkReTrms()' result that sparse_re_terms() reads (cnms and
# flist with its "assign" attribute; no Ztlist: indicator_columns() makes
# the designs), or NULL when a term is not a plain random intercept.
intercept_re_trms <- function(bars, mf) {
  ok <- vapply(bars, function(b) identical(b[[2L]], 1) && is_interaction(b[[3L]]) &&
                 all(all.vars(b[[3L]]) %in% names(mf)), TRUE)
  if (!all(ok)) return(NULL)
  gnames <- vapply(bars, function(b) paste(deparse(b[[3L]], 500L), collapse = " "), "")
  ufn <- unique(gnames)
  flist <- vector("list", length(ufn))
  for (k in seq_along(ufn)) {
    f <- grouping_codes(bars[[match(ufn[k], gnames)]][[3L]], mf)
    if (is.null(f)) return(NULL)
    flist[[k]] <- f
  }
  names(flist) <- ufn
  attr(flist, "assign") <- match(gnames, ufn)
  cnms <- rep(list("(Intercept)"), length(bars))
  names(cnms) <- gnames
  list(cnms = cnms, flist = flist)
}

# The grouping factor of `expr` (a variable or an interaction a:b:...) with
# only the levels observed, or NULL where this reading could differ from
# mkReTrms()' (missing values; two combinations pasted into the same label,
# which mkReTrms() would merge).
grouping_codes <- function(expr, mf) {
  if (is.name(expr)) {
    x <- mf[[as.character(expr)]]
    if (!is.factor(x)) x <- factor(x)
    code <- as.integer(x)
    lev <- levels(x)
  } else {
    a <- grouping_codes(expr[[2L]], mf)
    b <- grouping_codes(expr[[3L]], mf)
    if (is.null(a) || is.null(b)) return(NULL)
    nb <- nlevels(b)
    code <- (as.numeric(a) - 1) * nb + as.integer(b)
    u <- sort(unique(code))
    code <- match(code, u)
    lev <- paste(levels(a)[(u - 1) %/% nb + 1], levels(b)[(u - 1) %% nb + 1], sep = ":")
    if (anyDuplicated(lev)) return(NULL)
  }
  if (anyNA(code) || anyNA(lev)) return(NULL)
  used <- tabulate(code, length(lev)) > 0L
  if (!all(used)) {
    code <- cumsum(used)[code]
    lev <- lev[used]
  }
  structure(code, levels = lev, class = "factor")
}

# The n x nlevels(f) indicator matrix of a factor without missing values,
# rows of each column in increasing order (the canonical dgCMatrix), named
# as mkReTrms() names it (rows: `rows`, the frame's row names; columns: levels).
indicator_columns <- function(f, rows) {
  nl <- nlevels(f)
  code <- as.integer(f)
  # Slots set one by one: new()'s validity check of the finished matrix was
  # three quarters of the time of this function, and the slots are valid by
  # construction. The empty matrix they are set on is made once (new() of
  # even an empty dgCMatrix costs about 0.15 ms) and copied on modification.
  m <- empty_dgc()
  m@i <- order(code) - 1L
  m@p <- c(0L, cumsum(tabulate(code, nl)))
  m@x <- rep(1, length(code))
  m@Dim <- c(length(code), nl)
  m@Dimnames <- list(rows, levels(f))
  m
}

# An empty dgCMatrix, made on first use and kept.
empty_dgc <- function() {
  if (is.null(front_cache$empty_dgc)) front_cache$empty_dgc <- methods::new("dgCMatrix")
  front_cache$empty_dgc
}
