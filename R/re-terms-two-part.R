# The random-effect terms of a two-part model's parts in one structure, as
# the two-part sparse engine takes them (src/engines/laplace/laplace-zero-re.h):
# the conditional part's terms, then the zero part's (or a dispersion
# formula's alone), then, where both have random effects, the dispersion
# formula's. Shared by the unstructured fits (fit-sparse-zi-random.R,
# fit-dispersion-random.R), the structured ones (fit-two-part-covstruct.R)
# and the engines their methods rebuild.

# One random-effects structure over both parts: the zero part's columns
# after the count part's, its covariance parameters after the count part's;
# `prefix` marks the second part's names ("disp~" for a dispersion part
# with random effects, fit-dispersion-random.R). With `rd`, a dispersion
# part's terms beside the zero part's (engine kinds 7 and 8), after them
# and marked "disp~"; `Qz` and `nterms_z` count the second part's columns
# and terms.
zi_random_combined_re <- function(rc, rz, prefix = "zi~", rd = NULL) {
  parts <- c(list(rc, rz), if (!is.null(rd)) list(rd))
  Q0 <- cumsum(c(0L, vapply(parts, function(r) ncol(r$Z), 1L)))
  n0 <- cumsum(c(0L, vapply(parts, function(r) as.integer(r$ntheta), 1L)))
  shift <- function(k) lapply(parts[[k]]$terms, function(tm) {
    tm$columns <- tm$columns + Q0[[k]]
    tm$par <- tm$par + n0[[k]]
    tm
  })
  pre <- c("", prefix, "disp~")
  cat_parts <- function(f) unlist(lapply(seq_along(parts), function(k) f(parts[[k]], k)))
  list(Z = do.call(cbind, lapply(parts, `[[`, "Z")), Qc = ncol(rc$Z), Qz = ncol(rz$Z),
       lam_row = cat_parts(function(r, k) r$lam_row + Q0[[k]]),
       lam_col = cat_parts(function(r, k) r$lam_col + Q0[[k]]),
       lam_k = cat_parts(function(r, k) r$lam_k + n0[[k]]), ntheta = n0[[length(n0)]],
       lower = cat_parts(function(r, k) r$lower),
       par_names = cat_parts(function(r, k)
         if (length(r$par_names)) paste0(pre[[k]], r$par_names) else character(0)),
       terms = unlist(lapply(seq_along(parts), shift), recursive = FALSE),
       nterms_c = length(rc$terms), nterms_z = length(rz$terms), ntheta_z = rz$ntheta,
       prefix = prefix,
       three = !is.null(rd))
}

# The part each term of a combined structure (zi_random_combined_re()) belongs
# to: 1 the conditional part, 2 the second (the zero part, or a dispersion
# part alone), 3 the dispersion part beside a zero part with random effects.
term_parts <- function(re) {
  n <- length(re$terms)
  nc <- re$nterms_c
  nz <- if (isTRUE(re$three)) re$nterms_z else n - nc
  rep(1:3, c(nc, nz, n - nc - nz))
}

# Term summaries `all` of a combined structure `re` split by part: the
# conditional part's `terms`, the second part's and (three parts) the
# third's, each counted from its own first column and parameter; `nc` the
# conditional part's number of covariance parameters.
split_part_terms <- function(all, re, nc) {
  k <- term_parts(re)
  from <- function(part, q0, n0) lapply(all[k == part], function(tm) {
    tm$columns <- tm$columns - q0
    tm$par <- tm$par - n0
    tm
  })
  list(terms = all[k == 1L], second = from(2L, re$Qc, nc),
       third = if (isTRUE(re$three)) from(3L, re$Qc + re$Qz, nc + re$ntheta_z))
}

# The combined structure's random-effects design split by part (the
# conditional part's first Qc columns, then the zero part's and, with three
# parts, the dispersion part's after them: `nsecond` of Zz's columns are
# the second part's), as the two-part sparse engine takes them.
zi_random_split_z <- function(re) {
  Qc <- re$Qc
  list(Zc = as_dgc(re$Z[, seq_len(Qc), drop = FALSE]),
       Zz = as_dgc(re$Z[, Qc + seq_len(ncol(re$Z) - Qc), drop = FALSE]),
       nsecond = re$Qz %||% (ncol(re$Z) - Qc))
}

# Whether the random-effect terms of the parts `...` (sparse_re_terms()
# structures; a part may have none) all lie on one grouping factor.
on_one_factor <- function(...) {
  groups <- unlist(lapply(list(...), function(r) vapply(r$terms, function(tm) tm$group, "")))
  length(unique(groups)) == 1L
}
