# Repeated fits of glmmTMB's Salamanders ZIP model (Laplace), glmmgee
# against glmmTMB in the same R process: mean CPU seconds (user + system)
# and elapsed seconds per fit, K of ours and K/5 of glmmTMB's per pair,
# R pairs; one fit of 50 ms is too coarse a measure on a loaded machine.
#
# Usage: Rscript bench/bench-zi-repeat.R [K] [R]   (default 20 3)
suppressPackageStartupMessages({library(glmmgee); library(glmmTMB)})
args <- commandArgs(TRUE)
K <- if (length(args) >= 1L) as.integer(args[1]) else 20L
R <- if (length(args) >= 2L) as.integer(args[2]) else 3L
data("Salamanders", package = "glmmTMB")
ours <- function() glmm(count ~ spp * mined + (1 | site), data = Salamanders, family = poisson,
                        ziformula = ~ spp * mined, nAGQ = 1)
tmb <- function() glmmTMB(count ~ spp * mined + (1 | site), data = Salamanders,
                          family = poisson, ziformula = ~ spp * mined)
per_fit <- function(f, k) {
  gc()
  t <- system.time(for (i in seq_len(k)) f())
  c(cpu = (t[["user.self"]] + t[["sys.self"]]) / k, elapsed = t[["elapsed"]] / k)
}
invisible(ours()); invisible(tmb())
res <- NULL
for (r in seq_len(R)) {
  a <- per_fit(ours, K)
  b <- per_fit(tmb, max(1L, K %/% 5L))
  res <- rbind(res, c(ours_cpu = a[["cpu"]], tmb_cpu = b[["cpu"]], ratio_cpu = b[["cpu"]] / a[["cpu"]],
                      ratio_elapsed = b[["elapsed"]] / a[["elapsed"]]))
}
print(round(res, 4))
cat("load average:", readLines("/proc/loadavg"), "\n")
cat("dlogLik (glmmgee - glmmTMB):", sprintf("%.3g", logLik(ours())[1] - logLik(tmb())[1]), "\n")
