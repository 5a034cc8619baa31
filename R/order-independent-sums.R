# Order-independent sums over shards (see src/util/dd-sum.h): each shard returns
# its sums as high and low parts; adding them as unevaluated pairs and
# rounding once gives the in-memory engine's sums bitwise (almost always),
# whatever the grouping of clusters into shards.

# Adds x (numeric, elementwise) to the pair acc = list(hi, lo) (TwoSum).
dd_add <- function(acc, x) {
  s <- acc$hi + x
  bb <- s - acc$hi
  list(hi = s, lo = acc$lo + ((acc$hi - (s - bb)) + (x - bb)))
}

# The rounded sum of pairs list(hi, lo), taken in the order given.
dd_total <- function(pairs) {
  acc <- list(hi = 0 * pairs[[1L]]$hi, lo = 0 * pairs[[1L]]$hi)
  for (pr in pairs) {
    acc <- dd_add(acc, pr$hi)
    acc <- dd_add(acc, pr$lo)
  }
  acc$hi + acc$lo
}
