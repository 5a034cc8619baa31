# Shard files of the data frames `parts` (rds, csv, or parquet by
# nanoparquet), in a new directory; their paths in the order of `parts`.
# For the sharded fitters' tests (glmm_shards(), gee_shards()).
shard_files <- function(parts, ext = "rds", dir = tempfile("shards")) {
  dir.create(dir)
  files <- file.path(dir, sprintf("part%02d.%s", seq_along(parts), ext))
  for (i in seq_along(parts)) {
    if (ext == "rds") saveRDS(parts[[i]], files[i])
    else if (ext == "parquet") nanoparquet::write_parquet(parts[[i]], files[i])
    else utils::write.csv(parts[[i]], files[i], row.names = FALSE)
  }
  files
}
