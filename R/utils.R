# Small helpers of general use: NULL defaults, finiteness without
# temporaries, index blocks, counting rows of positive weight, and the pattern of a
# block-diagonal lower-triangular factor's free entries.

`%||%` <- function(a, b) if (is.null(a)) b else a

# The positions of consecutive blocks of `sizes` elements, starting after
# position `at`: a list with one integer vector per block.
# A block of size 0 (an equalto() term, which has no parameter) is an empty
# index, not dropped.
index_blocks <- function(sizes, at = 0L)
  split(at + seq_len(sum(sizes)), factor(rep(seq_along(sizes), sizes), levels = seq_along(sizes)))

# No NA, NaN or Inf, without the n x p logical matrices of any(!is.finite(x)),
# nor range()'s copy of x through c() (the extremes of a matrix without NA
# are finite exactly when every entry is).
all_finite <- function(x) !anyNA(x) && (!length(x) || (is.finite(min(x)) && is.finite(max(x))))

# Whether every positive prior weight is 1 (one trial per binomial
# observation): all(w[w > 0] == 1), with min() and max() first so that the
# common case, all weights 1, needs no n-length temporaries.
positive_weights_one <- function(w) {
  if (!length(w)) return(TRUE)
  mx <- max(w)
  mx <= 0 || mx == 1 && (min(w) == 1 || all(w[w > 0] == 1))
}

# sum(w > 0), the number of rows of positive weight, without its n-length
# logical where every weight is positive (unit weights, the usual case),
# which min() finds without a temporary: allocating a vector of 2,000
# is about 5 microseconds, and the several-term LMM route counted these
# rows in seven places. The same integer either way.
n_positive <- function(w) if (length(w) && isTRUE(min(w) > 0)) length(w) else sum(w > 0)

# Whether some value of v differs from a (weights other than 1, an offset
# other than 0), by min() and max(): no n-length logical temporary.
differs_from <- function(v, a) length(v) > 0L && !isTRUE(min(v) == a && max(v) == a)

# The free entries of a block-diagonal lower-triangular factor with blocks
# of `sizes`: row and column of each, block by block, column-major within a
# block (the order of `which(lower.tri(diag(q), diag = TRUE))`). Built by
# rep()/sequence() rather than which(arr.ind = TRUE) and order(), which the
# fitted objects' constructors ran once per term.
block_pattern <- function(sizes) {
  # Remembered for the last few sizes (twice per small fit, 1% each).
  memo_expr("pattern", as.integer(sizes), block_pattern_of)
}
block_pattern_of <- function(sizes) {
  if (!length(sizes)) return(list(row = integer(), col = integer()))
  off <- rep(c(0L, cumsum(sizes)[-length(sizes)]), (sizes * (sizes + 1L)) %/% 2L)
  cc <- unlist(lapply(sizes, function(s) rep(seq_len(s), s:1)), use.names = FALSE)
  rr <- unlist(lapply(sizes, function(s) sequence(s:1, from = seq_len(s))), use.names = FALSE)
  list(row = off + rr, col = off + cc)
}

# Each value rounded to `digits` significant digits and formatted on its
# own: format(signif(x)) formats a vector in common, padding the shorter
# ones with zeros that are not digits of the estimate (0.2713 as 0.27130).
signif_each <- function(x, digits) vapply(signif(x, digits), format, "")
