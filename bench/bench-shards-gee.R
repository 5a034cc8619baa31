# Distributed GEE from shard files (gee_shards()) against the in-memory
# gee() of the same data, side by side in one run: wall time, the main
# process's peak memory, rounds and bytes per round, and the largest
# difference of the estimates and sandwich SEs.
#
#   Rscript bench/bench-shards-gee.R [rows] [cluster size] [shards] [corstr]
#
# Defaults: 1e6 rows in 1e5 clusters, 16 shards, "exchangeable", 2 local
# PSOCK workers (parallelly, TCP no-delay). The workers write the shard files
# themselves and gee_shards() has them read the files, so the data never
# pass through this process until the in-memory fit reads every shard.
suppressMessages(library(glmmgee))
args <- commandArgs(TRUE)
N <- as.numeric(if (length(args) >= 1L) args[1L] else 1e6)
csize <- as.integer(if (length(args) >= 2L) args[2L] else 10L)
S <- as.integer(if (length(args) >= 3L) args[3L] else 16L)
corstr <- if (length(args) >= 4L) args[4L] else "exchangeable"
M <- N / csize

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# bench_workers(), write_binary_shards(): bench-common.R.
cl <- bench_workers()
on.exit(parallel::stopCluster(cl), add = TRUE)
files <- write_binary_shards(cl, M, S, csize, waves = TRUE)

lat <- system.time(for (i in 1:200) parallel::clusterCall(cl, function() NULL))[["elapsed"]] / 200
base <- peak_mb()
t_dist <- system.time(fd <- gee_shards(y ~ x1 + x2, files, id = "g", waves = "t",
                                       family = binomial, corstr = corstr,
                                       workers = cl))[["elapsed"]]
peak_dist <- peak_mb()
dd <- fd$distributed

data <- do.call(rbind, lapply(files, readRDS))
t_mem <- system.time(fm <- gee(y ~ x1 + x2, data = data, id = g, waves = t, family = binomial,
                               corstr = corstr))[["elapsed"]]
peak_mem <- peak_mb()

cat(sprintf("rows %.3g, clusters %.3g, corstr %s, shards %d, workers 2 (machine: 2 cores shared with other jobs)\n",
            N, M, corstr, S))
cat(sprintf("max |difference|: coefficients %.2g, alpha %.2g, sandwich SEs %.2g\n",
            max(abs(coef(fd) - coef(fm))), max(abs(fd$alpha - fm$alpha), 0),
            max(abs(sqrt(diag(fd$vcov$san.se)) - sqrt(diag(fm$vcov$san.se))))))
cat(sprintf("time: from shard files %.1f s, in memory %.1f s (ratio %.2f); %d scoring iterations\n",
            t_dist, t_mem, t_dist / t_mem, fd$iter))
cat(sprintf("main process peak RSS: at start %.0f MB; after gee_shards() %.0f MB; after reading the data and gee() in memory %.0f MB\n",
            base, peak_dist, peak_mem))
cat(sprintf("rounds %d; sent %.0f bytes per round (to 2 workers), received %.0f bytes per round\n",
            dd$rounds, dd$bytes_sent / dd$rounds, dd$bytes_received / dd$rounds))
tr_all <- dd$traffic
for (op in if (is.matrix(tr_all)) rownames(tr_all) else names(tr_all)) {
  tr <- if (is.matrix(tr_all)) tr_all[op, ] else tr_all[[op]]
  cat(sprintf("  %-13s %3d rounds, %6.0f bytes sent, %6.0f received per round\n", op,
              tr[["rounds"]], tr[["sent"]] / tr[["rounds"]], tr[["received"]] / tr[["rounds"]]))
}
cat(sprintf("empty round trip to 2 workers: %.2f ms\n", 1000 * lat))
