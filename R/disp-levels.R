# Levels of a dispersion formula whose likelihood is unbounded. When the
# dispersion design gives each group of observations (rows sharing a
# dispersion-design row) its own free dispersion, and the mean model can
# reproduce one group's responses exactly (all equal, say, with that group's
# own intercept, or a group of one observation), that group's residual
# scale can shrink to zero with the mean fitted exactly: a gaussian sigma,
# a Gamma 1 / shape or a beta 1 / precision of zero, and a log-likelihood
# rising without bound. The optimizer then stops anywhere (a logLik of
# 1117 after "false convergence"), and more iterations cannot help. Found
# before fitting, exactly: the group's responses on the link scale lie in
# the span of its rows of the fixed and random-effect designs. Where the
# random-effect design alone spans the group's rows (one effect per row, as
# a structure over time points with one row per time point), only the
# fixed design is checked: the marginal covariance keeps the random
# effects' part as the residual scale shrinks, and the group's scale is
# driven to zero only when the fixed effects reproduce it by themselves.
# For nbinom1 and nbinom2 the limit of a vanishing dispersion is the Poisson
# model, and for betabinomial the binomial: bounded, not checked.

# The groups of a dispersion design (identical rows), when its rank equals
# their number (each group's dispersion free, as with a factor); NULL
# otherwise (a continuous covariate ties the groups together), or above
# `max_groups`.
disp_groups <- function(Xd, max_groups = 200L) {
  if (is.null(Xd) || !ncol(Xd) || !nrow(Xd)) return(NULL)
  id <- design_row_groups(Xd)
  ng <- max(id)
  if (ng > max_groups || ng > ncol(Xd) || qr(Xd[!duplicated(id), , drop = FALSE])$rank < ng)
    return(NULL)
  id
}

# The groups of identical rows of a design X, numbered in order of first
# appearance. Rows compared through two projections with fixed irrational
# weights (exact for equal rows; unequal rows colliding on both has
# probability zero; no draw, so the user's random numbers stay).
design_row_groups <- function(X) {
  key <- paste(drop(X %*% sqrt(seq_len(ncol(X)) + 1)), drop(X %*% log(seq_len(ncol(X)) + 2)))
  match(key, unique(key))
}

# Whether the dispersion design Xd gives each of its groups of rows (rows
# with the same design row) a free dispersion, with the offset and the
# prior weight constant within each group: then a gaussian group's
# residual variance can trade against a random-effect variance that is
# constant over its rows. (Where a continuous covariate, a varying offset
# or varying weights move the residual variance within a group, the split
# is identified.) Any number of groups.
disp_saturated <- function(Xd, offset, weights) {
  pos <- weights > 0
  id <- if (!is.null(Xd)) disp_groups(Xd[pos, , drop = FALSE], Inf)
  if (is.null(id)) return(FALSE)
  constant <- function(v) {
    rng <- vapply(split(v, id), function(o) max(o) - min(o), 0)
    all(rng <= 1e-10 * max(1, abs(v)))
  }
  constant(weights[pos]) && (is.null(offset) || constant(offset[pos]))
}

# dispformula = ~ 0 holds a gaussian residual standard deviation at (nearly)
# zero, so the random effects must reproduce every observation: a model
# only where their design spans every row of positive weight (full row
# rank), as a known covariance over the rows (equalto()), a term with one
# observation per level ((1 | obs), (0 + x | obs)) or a structure over one
# row per time point do. Without that the fit went ahead to a
# log-likelihood of about -5e9 (with an equalto() whose units repeat in
# several rows, -1.2e7). The design is taken times a factor of each
# structure's covariance where that has a rank below its columns by
# construction (covariance_design()): an equalto() of rank 5 over 30 rows
# ran to -1e8 without a warning. `re` as residual_unidentified() reads it
# (one grouping factor: the rows of each group spanned by its columns).
check_zero_residual <- function(re, weights) {
  pos <- weights > 0
  grp <- re[["group", exact = TRUE]]
  Z <- covariance_design(re)
  spanned <- if (is.null(grp)) full_row_rank(Z[pos, , drop = FALSE]) else {
    Z <- as.matrix(Z)
    all(vapply(split(which(pos), grp[pos], drop = TRUE), function(r)
      full_row_rank(Z[r, , drop = FALSE]), TRUE))
  }
  if (spanned) return(invisible())
  stop(paste0("'dispformula': ~ 0 holds the residual standard deviation at zero, but the ",
              "random effects do not span every observation (the rank of their design times ",
              "their covariance's factor is below the number of rows), so the residual has ",
              "nothing to take its place (a known covariance of full rank over the rows such as ",
              "equalto(), or a term with one observation per level such as (1 | obs); a ",
              "reduced-rank rr() term or a known matrix of lower rank cannot); drop 'dispformula' ",
              "to estimate the residual"), call. = FALSE)
}

# A q x d matrix whose every min(q, d) rows or columns are linearly
# independent (a Vandermonde matrix on distinct nodes), standing for rr(d)'s
# loadings in a rank test: generic loadings have the rank it gives.
rr_loadings_stand_in <- function(q, d) outer(seq_len(q) / q, seq_len(min(d, q)) - 1L, `^`)

# The random effects' design Z times a factor F of their covariance, block
# by block (F F' = D; Z F has the rank of Z D Z'), where a structure's rank
# may be below its columns whatever its parameters: a given matrix
# (propto(), equalto(): its factor) and rr(d) (rr_loadings_stand_in()).
# Other structures are of full rank away from their boundaries, and their
# terms are kept as they are. `re`: a term list whose terms carry
# `struct`, and on the sparse engine `columns` (each term's columns in Z,
# level by level); without structures, Z itself.
covariance_design <- function(re) {
  terms <- re$terms
  reduced <- vapply(terms, function(t)
    !is.null(t$struct) && t$struct$kind %in% c("rr", covstruct_matrix_kinds), TRUE)
  if (!any(reduced)) return(re$Z)
  blocks <- lapply(seq_along(terms), function(k) {
    t <- terms[[k]]
    q <- t$q %||% length(t$cnames)
    nl <- if (is.null(t$columns)) 1L else length(t$columns) %/% q
    F <- if (!reduced[k]) diag(1, q)
         else if (t$struct$kind == "rr") rr_loadings_stand_in(q, t$struct$rank)
         else {
           L <- matrix(0, q, q)
           L[lower.tri(L, diag = TRUE)] <- t$struct$factor_entries(t$struct$start(1))$lambda
           L
         }
    if (nl == 1L) F else Matrix::kronecker(Matrix::Diagonal(nl), F)
  })
  re$Z %*% Matrix::bdiag(blocks)
}

# Whether the rows of Z (dense, or a sparse Matrix) are linearly
# independent: rank(Z) = nrow(Z).
full_row_rank <- function(Z) {
  n <- nrow(Z)
  if (ncol(Z) < n) return(FALSE)
  if (as.numeric(n) * ncol(Z) <= 4e6) return(qr(as.matrix(Z))$rank == n)
  R <- Matrix::qrR(Matrix::qr(Matrix::t(methods::as(Z, "CsparseMatrix"))), backPermute = FALSE)
  d <- abs(Matrix::diag(R))
  sum(d > 1e-9 * max(d)) == n
}

# The random-effect design of `rows`, dense, from a one-factor term list
# (Z, group) or a sparse one (Z an n x Q Matrix); NULL above `max_cells`.
re_design_rows <- function(re, rows, max_cells) {
  if (is.null(re)) return(matrix(0, length(rows), 0L))
  Z <- re$Z
  if (inherits(Z, "Matrix") || inherits(Z, "dgCMatrix")) {
    Zb <- Z[rows, , drop = FALSE]
    keep <- Matrix::colSums(abs(Zb)) > 0
    if (length(rows) * sum(keep) > max_cells) return(NULL)
    return(as.matrix(Zb[, keep, drop = FALSE]))
  }
  if (is.null(re$group)) return(NULL)
  g <- factor(re$group[rows])
  Z <- as.matrix(Z)[rows, , drop = FALSE]
  if (length(rows) * ncol(Z) * nlevels(g) > max_cells) return(NULL)
  ind <- outer(as.integer(g), seq_len(nlevels(g)), "==") * 1
  do.call(cbind, lapply(seq_len(ncol(Z)), function(j) ind * Z[, j]))
}

# Whether `t` lies in the column span of cbind(X, Zb) (Zb NULL, or NULL
# from re_design_rows() above its size limit: X alone), to rounding: the
# residuals within 1e-8 of t's spread about its mean, or of 1, and the
# rounding of a QR at t's size. (Relative to t's size alone, a response
# shifted by 1e9 let residuals of 10 count as an exact fit, and an
# ordinary dispersion level was refused.)
in_span <- function(t, X, Zb = NULL) {
  M <- if (is.null(Zb)) X else cbind(X, Zb[, colSums(abs(Zb)) > 0, drop = FALSE])
  max(abs(qr.resid(qr(M), t))) <= 1e-8 * max(1, abs(t - mean(t))) + 1e-12 * max(abs(t))
}

# Stops, naming the level, when a dispersion-formula group is fitted
# exactly (see above). `mf`: the model frame, for the level's label;
# `dispformula`: its formula. With `reml`, the restricted likelihood: the
# fixed effects are integrated out, and a group fitted exactly makes it
# unbounded only when it has more rows than the rank of its rows of the
# design that fits it (a level of one observation leaves it bounded, as
# nlme's varIdent() fits show: -1/2 log det V and -1/2 log det X'V^-1X
# rise and fall together as its sigma shrinks).
check_disp_levels <- function(y, weights, X, re, Xd, mf, dispformula, family,
                              max_cells = 4e6, reml = FALSE) {
  if (!family$family %in% c("gaussian", "Gamma", "beta")) return(invisible())
  id <- disp_groups(Xd)
  if (is.null(id)) return(invisible())
  for (k in seq_len(max(id))) {
    rows <- which(id == k & weights > 0)
    if (!length(rows)) next
    t <- suppressWarnings(family$linkfun(y[rows]))
    if (!all(is.finite(t))) next
    # Screened on the group's first rows: a group fitted exactly is fitted
    # exactly on any of its rows, and the screen costs a small QR where the
    # whole group's (thousands of rows by one column per cluster) cost a
    # second or more.
    if (length(rows) > 60L && !in_span(t[1:60], X[rows[1:60], , drop = FALSE],
                                       re_design_rows(re, rows[1:60], max_cells))) next
    Zb <- re_design_rows(re, rows, max_cells)
    if (is.null(Zb) || length(rows) * ncol(X) > max_cells) next
    spans <- ncol(Zb) >= length(rows) && qr(Zb)$rank == length(rows)
    if (!in_span(t, X[rows, , drop = FALSE], if (!spans) Zb)) next
    if (reml && length(rows) <= qr(cbind(X[rows, , drop = FALSE], if (!spans) Zb))$rank) next
    stop(sprintf(paste0("'dispformula': the %d observation(s) of %s are fitted exactly by the model ",
                        "for the mean (%s), so their %s can shrink to zero and the likelihood has ",
                        "no maximum (it rises without bound); merge or drop that level, or leave ",
                        "it out of the dispersion formula"),
                 length(rows), disp_level_label(mf, dispformula, rows),
                 if (max(y[rows]) == min(y[rows])) sprintf("their responses are all %s", format(y[rows[1L]]))
                 else "their responses lie on the fitted predictor",
                 switch(family$family, gaussian = "residual standard deviation",
                        Gamma = "coefficient of variation (1 / shape)",
                        beta = "variance (1 / precision)")),
         call. = FALSE)
  }
  invisible()
}

# "the dispersion level grp = B": the values of the dispersion formula's
# variables at the group's first row (or its row numbers).
disp_level_label <- function(mf, dispformula, rows) {
  vars <- intersect(all.vars(dispformula), names(mf))
  if (!length(vars))
    return(sprintf("rows %s of the dispersion formula", paste(utils::head(rows, 10L), collapse = ", ")))
  vals <- vapply(vars, function(v) format(mf[[v]][rows[1L]]), "")
  sprintf("the dispersion level %s", paste(sprintf("%s = %s", vars, vals), collapse = ", "))
}
