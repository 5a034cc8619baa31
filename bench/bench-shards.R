# Distributed fitting from shard files (glmm_shards()) against the
# in-memory fit (glmm()) of the same data, side by side in one run:
# wall time, the main process's peak memory, rounds and bytes sent per
# round; then a projection to 1e9 rows on 10 and 100 workers from the
# measured per-row cost and per-round latency.
#
#   Rscript bench/bench-shards.R [rows] [cluster size] [shards]
#
# Defaults: 1e6 rows in 1e5 clusters (10 rows each), 16 shards, 2 local
# PSOCK workers. The workers write the shard files themselves, so the data
# never pass through this process until the in-memory fit reads them.
suppressMessages(library(glmmgee))
args <- commandArgs(TRUE)
N <- as.numeric(if (length(args) >= 1L) args[1L] else 1e6)
csize <- as.integer(if (length(args) >= 2L) args[2L] else 10L)
S <- as.integer(if (length(args) >= 3L) args[3L] else 16L)
M <- N / csize

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# bench_workers(), write_binary_shards(): bench-common.R.
cl <- bench_workers()
on.exit(parallel::stopCluster(cl), add = TRUE)
files <- write_binary_shards(cl, M, S, csize)

# Per-round latency: a round trip carrying nothing, to both workers.
lat <- system.time(for (i in 1:200) parallel::clusterCall(cl, function() NULL))[["elapsed"]] / 200

base <- peak_mb()
t_dist <- system.time(fd <- glmm_shards(y ~ x1 + x2 + (1 | g), files, binomial, nAGQ = 1,
                                        workers = cl))[["elapsed"]]
peak_dist <- peak_mb()
rss_dist <- peak_mb("VmRSS")
d <- fd$distributed

# The same fit in memory (this process reads every shard).
data <- do.call(rbind, lapply(files, readRDS))
t_mem <- system.time(fm <- glmm(y ~ x1 + x2 + (1 | g), data, binomial, nAGQ = 1))[["elapsed"]]
peak_mem <- peak_mb()

cat(sprintf("rows %.3g, clusters %.3g, shards %d, workers 2 (machine: 2 cores shared with other jobs)\n",
            N, M, S))
cat(sprintf("max |difference| of estimates: %.2g; of logLik: %.2g\n",
            max(abs(fd$theta - fm$theta)), abs(fd$loglik - fm$loglik)))
cat(sprintf("time: distributed %.1f s, in memory %.1f s (ratio %.2f)\n", t_dist, t_mem,
            t_dist / t_mem))
cat(sprintf("main process peak RSS: at start %.0f MB; after the distributed fit %.0f MB (RSS then %.0f MB); after reading the data and the in-memory fit %.0f MB\n",
            base, peak_dist, rss_dist, peak_mem))
cat(sprintf("rounds %d; sent %.0f bytes per round (%.0f to each worker), received %.0f bytes per round\n",
            d$rounds, d$bytes_sent / d$rounds, d$bytes_sent / d$rounds / 2,
            d$bytes_received / d$rounds))
ev <- d$traffic["eval", ]
cat(sprintf("evaluation rounds %d: %.0f bytes sent (to 2 workers) and %.0f received per round\n",
            ev[["rounds"]], ev[["sent"]] / ev[["rounds"]], ev[["received"]] / ev[["rounds"]]))
cat(sprintf("empty round trip to 2 workers: %.2f ms\n", 1000 * lat))

# Projection: a round costs the latency (the main process sends to and
# receives from each worker in turn: per-worker latency lat / 2) plus the
# slowest worker's share of the rows at the per-row cost of one evaluation,
# measured on the in-memory fit (one core). The reading and checking passes
# (a few rounds, dominated by reading the files) are not projected.
per_row <- t_mem / fm$optinfo$evaluations / N
evals <- fd$optinfo$evaluations
cat(sprintf("per-row cost of one evaluation %.3g us; distributed fit: %d evaluations in %d rounds\n",
            1e6 * per_row, evals, d$rounds))
for (W in c(10, 100)) {
  t_round <- W * lat / 2 + 1e9 / W * per_row
  cat(sprintf("projection, 1e9 rows on %3d workers: %.2f s per round, %.1f min for %d rounds (latency %.1f%% of a round)\n",
              W, t_round, t_round * d$rounds / 60, d$rounds, 100 * (W * lat / 2) / t_round))
}
