# The worker side of distributed GEE (fit-gee-sharded.R is the main side):
# shards of whole clusters, each with a GEE engine that maps the shard's
# memory (kept here with it), answering rounds of gee_* operations.

on_worker_gee_op <- function(sh, op, args) {
  switch(op,
    gee_info = cpp_gee_shard_info(sh$gee),
    gee_start = cpp_gee_shard_start(sh$gee, sh$eta_start),
    gee_moments = cpp_gee_shard_moments(sh$gee, args$beta),
    gee_cross = cpp_gee_shard_cross(sh$gee, args$beta, args$alpha, args$phi),
    gee_variance = cpp_gee_shard_variance(sh$gee, args$beta, args$alpha, args$phi, args$flags,
                                          args$H, args$U),
    stop("unknown shard operation ", op, call. = FALSE))
}

# gee_shards() pass 2: each shard's design coded as the combined data's
# would be (levels agreed across shards); back: its R factor, its clusters
# and their sizes, its wave values.
on_worker_gee_design <- function(key, spec) {
  op <- options(contrasts = spec$contrasts_option %||% getOption("contrasts"))
  on.exit(options(op), add = TRUE)
  st <- .dist_state[[key]]
  out <- list()
  for (id in names(st$frames)) {
    mf <- st$frames[[id]]
    mf <- agreed_factors(mf, spec)  # workers-shard-files.R
    X <- stats::model.matrix(spec$fixed_terms, mf, contrasts.arg = spec$contrasts)
    rownames(X) <- NULL
    resp <- model_response(mf, spec$family)
    check_support(resp$y, spec$family)
    idc <- match(as.character(mf[[spec$group]]), spec$group_levels)
    pos <- resp$weights > 0
    wave <- if (!is.null(spec$waves)) mf[[spec$waves]]
    if (!is.null(wave)) {
      if (!is.numeric(wave) || any(!is.finite(wave)) || any(abs(wave - round(wave)) > 1e-8))
        stop("'waves' must hold whole numbers (the time index of each observation within its cluster)",
             call. = FALSE)
      wave <- round(wave)
    }
    st$shards[[id]] <- list(X = X, y = as.numeric(resp$y), weights = as.numeric(resp$weights),
                            offset = as.numeric(model_offset_total(mf)), id = idc,
                            M = length(spec$group_levels), wave_raw = wave,
                            rows = st$kept[[id]], sid = id)
    act <- sort(unique(idc[pos]))
    out[[id]] <- list(R = qr.R(qr(X))[, order(qr(X)$pivot), drop = FALSE], xnames = colnames(X),
                      assign = attr(X, "assign"), contrasts = attr(X, "contrasts"),
                      # For the centring of a design without an intercept
                      # column (gee_shard_transform()).
                      xsum = colSums(X), n = nrow(X), is01 = colSums(X != 0 & X != 1) == 0,
                      # within_centring()'s sums, about this shard's centres.
                      within = within_sums(X, within_ctr(colSums(X^2), colSums(X))),
                      active = act, sizes = tabulate(idc[pos], length(spec$group_levels))[act],
                      wall = if (!is.null(wave)) unique(wave),
                      wact = if (!is.null(wave)) unique(wave[pos]))
  }
  st$frames <- NULL
  st$kept <- NULL
  .dist_state[[key]] <- st
  out
}

# gee_shards() pass 3: wave positions from the global smallest wave (and,
# for unstructured, compacted over the waves that occur), start values and
# the shards' engines.
on_worker_gee_engines <- function(key, spec, wspec) {
  st <- .dist_state[[key]]
  for (id in names(st$shards)) {
    sh <- st$shards[[id]]
    if (!is.null(sh$gee)) next  # built before (a reload adds shards to a worker)
    if (!is.null(sh$wave_raw)) {
      pos <- sh$wave_raw - wspec$wmin + 1
      if (!is.null(wspec$allpos)) pos <- match(pos, wspec$allpos)
      sh$wave <- as.integer(pos)
    } else sh["wave"] <- list(NULL)
    sh$eta_start <- as.numeric(gee_eta_start(wspec$family, sh$y, sh$weights))
    # The engine maps its data's memory: the transformed design (X T^-1)
    # is kept in the shard beside the user's X, which fitted() reads.
    ed <- sh
    if (!is.null(wspec$Ti)) {
      sh$Xs <- sh$X %*% wspec$Ti
      ed$X <- sh$Xs
    }
    sh$gee <- cpp_gee_shard_new(ed, spec)
    st$shards[[id]] <- sh
  }
  .dist_state[[key]] <- st
  names(st$shards)
}
