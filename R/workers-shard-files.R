# The worker side of glmm_shards(): shard files read where they are, in
# passes that return only small summaries to the main process (the levels
# of factors, column sums, the R factor of X, distinct covariate patterns),
# before the shards' engines are built (workers-worker.R).

# Reads one shard file (rds: a data frame; csv; parquet through nanoparquet,
# or arrow when only arrow is installed).
read_shard_file <- function(path, format) {
  if (!file.exists(path)) stop(sprintf("shard file '%s' does not exist on this worker", path),
                               call. = FALSE)
  # A damaged file (truncated, another format under the extension) fails
  # inside the reader with a message that names neither the file nor the
  # format ("unknown input format", "error reading from connection").
  df <- tryCatch(switch(format,
    rds = readRDS(path),
    csv = utils::read.csv(path, stringsAsFactors = FALSE),
    parquet = read_parquet_shard(path)),
    error = function(e)
      stop(sprintf("shard file '%s' could not be read as %s: %s (is the file damaged, truncated or in another format?)",
                   path, format, conditionMessage(e)), call. = FALSE))
  if (!is.data.frame(df)) stop(sprintf("shard file '%s' does not hold a data frame (it holds %s)",
                                       path, class(df)[1L]), call. = FALSE)
  if (!nrow(df))
    stop(sprintf("shard file '%s' has no rows: every shard must hold at least one cluster (leave the file out of 'files')",
                 path), call. = FALSE)
  df
}

# nanoparquet first: small and without system dependencies; arrow reads the
# same files where it is what the workers have.
read_parquet_shard <- function(path) {
  df <- if (requireNamespace("nanoparquet", quietly = TRUE)) nanoparquet::read_parquet(path)
        else if (requireNamespace("arrow", quietly = TRUE)) arrow::read_parquet(path)
        else stop("parquet shard files are read with the nanoparquet (or arrow) package, which is not installed on this worker",
                  call. = FALSE)
  # A plain data frame (not a tibble: model.frame() and `[` behave as usual).
  as.data.frame(df, stringsAsFactors = FALSE)
}

# Pass 1: read each shard, keep its model frame (rows with missing values
# dropped, as na.omit does) and report the levels it uses.
on_worker_read <- function(key, files, spec) {
  st <- .dist_state[[key]] %||% list(shards = list(), frames = list())
  st$kept <- st$kept %||% list()
  out <- list()
  for (id in names(files)) {
    df <- read_shard_file(files[[id]], spec$format)
    declared <- lapply(df, function(v) if (is.factor(v)) levels(v))
    args <- list(quote(stats::model.frame), formula = spec$frame_formula, data = quote(df),
                 na.action = quote(stats::na.omit), drop.unused.levels = TRUE)
    if (!is.null(spec$weights)) args$weights <- as.name(spec$weights)
    mf <- eval(as.call(args))
    if (!nrow(mf))
      stop(sprintf("shard file '%s': all its %d rows have a missing value in the model's variables, so no row is left to fit (a shard must keep at least one cluster)",
                   files[[id]], nrow(df)), call. = FALSE)
    # integer64 cluster ids (data.table::fread()'s large ids) by their exact
    # values: without bit64's methods loaded here, as.character() printed
    # their raw bits to 15 digits and merged distinct clusters (18 sleepstudy
    # subjects became 4).
    i64 <- inherits(mf[[spec$group]], "integer64")
    if (i64) mf[[spec$group]] <- integer64_labels(mf[[spec$group]], spec$group)
    kind <- vapply(mf, function(v) if (is.factor(v)) "factor" else if (is.character(v)) "character"
                   else if (is.logical(v)) "logical" else "other", "")
    st$frames[[id]] <- mf
    # Rows of the file the model frame kept (what per-row results line up with).
    st$kept[[id]] <- setdiff(seq_len(nrow(df)), attr(mf, "na.action") %||% integer())
    g <- mf[[spec$group]]
    out[[id]] <- list(rows = nrow(df), kept = nrow(mf), kind = kind,
                      declared = declared[names(mf)],
                      data_dependent = data_dependent_terms(mf),
                      ordered = names(mf)[vapply(mf, is.ordered, TRUE)],
                      used = lapply(mf, function(v) if (is.factor(v)) levels(v)
                                    else if (is.character(v) || is.logical(v)) unique(v)),
                      # For the check of `contrasts =` (contrasts-shards.R).
                      columns = vapply(df, function(v) class(v)[1L], ""),
                      clusters = if (is.factor(g)) levels(g) else unique(g),
                      group_integer64 = i64)
  }
  .dist_state[[key]] <- st
  out
}

# The model frame's variables whose values depend on the rows they are
# computed from (those that makepredictcall() rewrites in the terms'
# "predvars": poly(), scale(), splines::ns(), bs(), ...), as text: each
# shard would compute its own basis or centre.
data_dependent_terms <- function(mf) {
  tt <- attr(mf, "terms")
  vars <- as.list(attr(tt, "variables"))[-1L]
  pv <- as.list(attr(tt, "predvars"))[-1L]
  if (length(pv) != length(vars)) return(character())
  same <- mapply(identical, vars, pv)
  vapply(vars[!same], deparse1, "")
}

# The exact labels of integer64 ids (bit64's as.character()), on a worker
# that may not have bit64 loaded.
integer64_labels <- function(v, name) {
  if (!requireNamespace("bit64", quietly = TRUE))
    stop(sprintf("'%s' is an integer64 vector, but package 'bit64' (whose methods read its values) is not installed on this worker: install it there, or give the ids as character strings",
                 name), call. = FALSE)
  as.character(v)
}

# Pass 2: with the levels agreed across shards, each shard's design is
# coded as the combined data's would be; returns what the main process
# needs to check rank, separation and build the centring.
on_worker_design <- function(key, spec) {
  op <- options(contrasts = spec$contrasts_option %||% getOption("contrasts"))
  on.exit(options(op), add = TRUE)
  st <- .dist_state[[key]]
  out <- list()
  for (id in names(st$frames)) {
    mf <- st$frames[[id]]
    st$frames[[id]] <- list(NULL)
    mf <- agreed_factors(mf, spec)
    X <- stats::model.matrix(spec$fixed_terms, mf, contrasts.arg = spec$contrasts)
    rownames(X) <- NULL
    Z <- do.call(cbind, lapply(spec$re_lhs, function(f) stats::model.matrix(f, mf)))
    resp <- model_response(mf, spec$family)
    off <- model_offset_total(mf)
    gl <- as.character(mf[[spec$group]])
    # The shard's clusters in the fit's order, as the in-memory engine
    # visits them (the same order of summation).
    loc <- unique(gl)
    loc <- loc[order(match(loc, spec$group_levels))]
    qx <- qr(X)
    pos <- resp$weights > 0
    sgn <- if (spec$family$family == "binomial") (resp$y >= 1) - (resp$y <= 0) else -(resp$y <= 0)
    pat <- distinct_patterns(cbind(X[pos, , drop = FALSE], sgn[pos]), spec$max_patterns)
    st$shards[[id]] <- list(X = X, Z = unname(Z), y = as.numeric(resp$y),
                            w = as.numeric(resp$weights), off = off,
                            index = match(gl, loc), M = length(loc),
                            clusters = match(loc, spec$group_levels),
                            rows = st$kept[[id]], sid = id)
    out[[id]] <- list(n = nrow(X), nobs = as.integer(sum(pos)), xsum = colSums(X), zsum = colSums(Z),
                      R = qr.R(qx)[, order(qx$pivot), drop = FALSE],
                      active = match(unique(gl[pos]), spec$group_levels),
                      patterns = pat,
                      contrasts = attr(X, "contrasts"), xnames = colnames(X),
                      znames = colnames(Z), proto = mf[0L, , drop = FALSE])
  }
  st$frames <- NULL
  st$kept <- NULL
  .dist_state[[key]] <- st
  out
}

# A shard's model frame with the factors the combined data would have: the
# levels agreed across shards, ordered where every shard's is (as rbind()
# combines them), so that an ordered factor keeps its polynomial contrasts.
# The designs are then coded with the main process's options("contrasts")
# (`spec$contrasts_option`), as glmm() and gee() code the combined data.
agreed_factors <- function(mf, spec) {
  for (v in names(spec$levels))
    mf[[v]] <- factor(as.character(mf[[v]]), levels = spec$levels[[v]],
                      ordered = v %in% spec$ordered)
  mf
}

# Pass 3: sums of squares about the global column means (the centring and
# scaling of reparam-glmm.R), of X and Z; and what spanned_centring() needs
# where a block has no constant column (0 + f + x): which columns hold only
# 0s and 1s, the cross-products and the cross-products about the means.
on_worker_moments <- function(key, mx, mz, ctrx = NULL) {
  span <- function(M, m) {
    Mc <- sweep(M, 2L, m)
    list(is01 = colSums(M != 0 & M != 1) == 0, xx = crossprod(M), cov = crossprod(Mc),
         sum = colSums(M))
  }
  lapply(.dist_state[[key]]$shards, function(sh)
    list(x = colSums(sweep(sh$X, 2L, mx)^2), x2 = colSums(sh$X^2),
         z = colSums(sweep(sh$Z, 2L, mz)^2), z2 = colSums(sh$Z^2),
         xspan = span(sh$X, mx), zspan = span(sh$Z, mz),
         xwithin = if (!is.null(ctrx)) within_sums(sh$X, ctrx)))
}

# Pass 4: the optimizer's centred and scaled designs and the engines, for
# the shards that have none yet. After a worker dies its shards are read
# again on a live worker, which then runs this pass for them only: the
# shards it already held are centred and have their engines (a second pass
# over them centred their designs twice, and the fit went on with another
# model on those shards).
on_worker_engines <- function(key, Txi, Tzi, spec) {
  st <- .dist_state[[key]]
  for (id in names(st$shards)) {
    sh <- st$shards[[id]]
    if (!is.null(sh$engine)) next
    sh$X <- sh$X %*% Txi
    sh$Z <- sh$Z %*% Tzi
    sh$engine <- cpp_agq_new(sh$X, sh$Z, sh$y, sh$w, sh$off, sh$index, sh$M,
                             spec$lam_row, spec$lam_col, spec$family_code, spec$link_code,
                             spec$nAGQ, spec$nthreads)
    st$shards[[id]] <- sh
  }
  .dist_state[[key]] <- st
  names(st$shards)
}

# The distinct rows of P, or NULL when there are more than `cap`: column
# codes combined into one number per row (no strings), given up as soon as
# the count of combinations can exceed the cap, so a continuous covariate
# costs one pass over its column.
distinct_patterns <- function(P, cap) {
  key <- numeric(nrow(P))
  combos <- 1
  for (j in seq_len(ncol(P))) {
    u <- unique(P[, j])
    combos <- combos * length(u)
    if (length(u) > cap) return(NULL)
    key <- key * length(u) + (match(P[, j], u) - 1)
    if (combos > 2^50) key <- match(key, unique(key)) - 1
  }
  keep <- !duplicated(key)
  if (sum(keep) > cap) return(NULL)
  P[keep, , drop = FALSE]
}
