# The cumulative link mixed model routes on wine (one random intercept, a
# random slope, two crossed intercepts) with an offset: given as glmm()'s
# `offset =` argument (the column `off`), or with `as_term = TRUE` as an
# offset() term of the formula; the two fit the same model. `wine`: the
# data with `off` (wine_with_offset()).
wine_offset_fits <- function(wine, as_term = FALSE) {
  re <- c(one = "(1 | judge)", slope = "(1 + temp | judge)",
          crossed = "(1 | judge) + (1 | bottle)")
  lapply(re, function(r) suppressWarnings(
    if (as_term)
      glmm(stats::as.formula(paste("rating ~ temp + contact + offset(off) +", r)), data = wine,
           family = cumulative(), nAGQ = 1)
    else
      glmm(stats::as.formula(paste("rating ~ temp + contact +", r)), offset = off, data = wine,
           family = cumulative(), nAGQ = 1)))
}

# ordinal::wine with an offset column `off` of values from 0 to 1.
wine_with_offset <- function() {
  wine <- ordinal::wine
  wine$off <- 0.5 + 0.5 * cos(seq_len(nrow(wine)))
  wine
}
