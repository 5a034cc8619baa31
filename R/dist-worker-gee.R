# The worker side of distributed GEE (fit-gee-sharded.R is the main side):
# shards of whole clusters, each with a GEE engine that maps the shard's
# memory (kept here with it), answering rounds of gee_* operations.

# Stores shards (named by shard id; each the engine's data list with global
# cluster codes, so the engine's messages name the clusters as gee() does)
# and builds their engines.
dist_w_gee_load <- function(key, shards, spec) {
  st <- .dist_state[[key]] %||% list(shards = list())
  for (id in names(shards)) {
    sh <- shards[[id]]
    sh$gee <- cpp_gee_shard_new(sh, spec)
    st$shards[[id]] <- sh
  }
  .dist_state[[key]] <- st
  names(shards)
}

dist_w_gee_op <- function(sh, op, args) {
  switch(op,
    gee_info = cpp_gee_shard_info(sh$gee),
    gee_start = cpp_gee_shard_start(sh$gee, sh$eta_start),
    gee_moments = cpp_gee_shard_moments(sh$gee, args$beta),
    gee_cross = cpp_gee_shard_cross(sh$gee, args$beta, args$alpha, args$phi),
    gee_variance = cpp_gee_shard_variance(sh$gee, args$beta, args$alpha, args$phi, args$flags,
                                          args$H, args$U),
    stop("unknown shard operation ", op, call. = FALSE))
}
