# Distributed gee() (gee_control(workers =)) against the in-memory gee() of
# the same data, side by side in one run: wall time, rounds and bytes per
# round, and the largest difference of the estimates and sandwich SEs.
#
#   Rscript bench/bench-dist-gee.R [rows] [cluster size] [shards] [corstr]
#
# Defaults: 1e6 rows in 1e5 clusters, 16 shards, "exchangeable", 2 local
# PSOCK workers. The data are in this process and shipped to the workers
# once (gee_shards() is the entry whose data stay on the workers), so the
# main process's memory is that of the in-memory fit plus one copy of the
# shards while they are sent.
suppressMessages(library(glmmgee))
args <- commandArgs(TRUE)
N <- as.numeric(if (length(args) >= 1L) args[1L] else 1e6)
csize <- as.integer(if (length(args) >= 2L) args[2L] else 10L)
S <- as.integer(if (length(args) >= 3L) args[3L] else 16L)
corstr <- if (length(args) >= 4L) args[4L] else "exchangeable"
M <- N / csize

cl <- if (requireNamespace("parallelly", quietly = TRUE))
  parallelly::makeClusterPSOCK(2L, socketOptions = "no-delay", verbose = FALSE) else
  parallel::makePSOCKcluster(2L)
on.exit(parallel::stopCluster(cl), add = TRUE)
invisible(parallel::clusterEvalQ(cl, suppressMessages(library(glmmgee))))

set.seed(1)
g <- rep(seq_len(M), each = csize)
b <- rnorm(M, sd = 0.8)[g]
d <- data.frame(g = g, t = rep(seq_len(csize), M), x1 = rnorm(N), x2 = rbinom(N, 1, 0.4))
d$y <- rbinom(N, 1, plogis(-0.5 + 0.6 * d$x1 - 0.4 * d$x2 + b))

lat <- system.time(for (i in 1:200) parallel::clusterCall(cl, function() NULL))[["elapsed"]] / 200
t_mem <- system.time(fm <- gee(y ~ x1 + x2, data = d, id = g, waves = t, family = binomial,
                               corstr = corstr))[["elapsed"]]
t_dist <- system.time(fd <- gee(y ~ x1 + x2, data = d, id = g, waves = t, family = binomial,
                                corstr = corstr,
                                control = gee_control(workers = cl, shards = S)))[["elapsed"]]
dd <- fd$distributed
cat(sprintf("rows %.3g, clusters %.3g, corstr %s, shards %d, workers 2 (machine: 2 cores shared with other jobs)\n",
            N, M, corstr, S))
cat(sprintf("max |difference|: coefficients %.2g, alpha %.2g, sandwich SEs %.2g\n",
            max(abs(coef(fd) - coef(fm))), max(abs(fd$alpha - fm$alpha), 0),
            max(abs(sqrt(diag(fd$vcov$san.se)) - sqrt(diag(fm$vcov$san.se))))))
cat(sprintf("time: distributed %.1f s, in memory %.1f s (ratio %.2f); %d scoring iterations\n",
            t_dist, t_mem, t_dist / t_mem, fd$iter))
cat(sprintf("rounds %d; sent %.0f bytes per round (to 2 workers), received %.0f bytes per round\n",
            dd$rounds, dd$bytes_sent / dd$rounds, dd$bytes_received / dd$rounds))
for (op in rownames(do.call(rbind, dd$traffic))) {
  tr <- dd$traffic[[op]]
  cat(sprintf("  %-13s %3d rounds, %6.0f bytes sent, %6.0f received per round\n", op,
              tr[["rounds"]], tr[["sent"]] / tr[["rounds"]], tr[["received"]] / tr[["rounds"]]))
}
cat(sprintf("empty round trip to 2 workers: %.2f ms\n", 1000 * lat))
