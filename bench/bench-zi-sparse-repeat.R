# Repeated fits of the two-part sparse engine's Salamanders models (random
# effects in both parts; bench-zi-random.R's "sparse" cases), glmmgee
# against glmmTMB in the same R process, alternated: per round, K fits of
# ours then max(1, K / 5) of glmmTMB's; mean CPU seconds (user + system) per
# fit and the CPU ratio glmmTMB / glmmgee per round, then the median and
# range over the rounds. One fit of 20-60 ms is too coarse a measure on a
# loaded machine.
#
# Usage: Rscript bench/bench-zi-sparse-repeat.R [K] [R] [models]
#   (default 20 3 zip,zinb,hurdle); models: a comma-separated subset of
#   zip, zinb (the hard ZINB), hurdle, crossed.
suppressPackageStartupMessages({library(glmmgee); library(glmmTMB)})
# timeit(), peak_kb(), peak_mb(), zi_crossed_data(): bench-common.R beside
# this script (or in bench/ of the working directory when it is not run by
# Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))
args <- commandArgs(TRUE)
K <- if (length(args) >= 1L) as.integer(args[1]) else 20L
R <- if (length(args) >= 2L) as.integer(args[2]) else 3L
which_m <- if (length(args) >= 3L) strsplit(args[3], ",")[[1]] else c("zip", "zinb", "hurdle")
data("Salamanders", package = "glmmTMB")
crossed <- zi_crossed_data()
models <- list(
  zip = list(f = count ~ spp + mined + (1 | site) + (1 | spp:mined), zi = ~ spp + (1 | site),
             ours = poisson, tmb = poisson, d = Salamanders),
  zinb = list(f = count ~ mined + (1 | site) + (1 | spp), zi = ~ (1 | site),
              ours = nbinom2, tmb = glmmTMB::nbinom2, d = Salamanders),
  hurdle = list(f = count ~ mined + (1 | site), zi = ~ mined + (1 | spp),
                ours = truncated_poisson, tmb = glmmTMB::truncated_poisson, d = Salamanders),
  crossed = list(f = y ~ x + (1 | a) + (1 | b), zi = ~ x + (1 | a) + (1 | cc),
                 ours = poisson, tmb = poisson, d = crossed))
cat(sprintf("glmmgee %s, %s, load average %s\n", packageVersion("glmmgee"),
            format(Sys.time(), "%Y-%m-%d %H:%M"), paste(readLines("/proc/loadavg"), collapse = "")))
per_fit <- function(f, k) {
  gc()
  t <- system.time(for (i in seq_len(k)) f())
  (t[["user.self"]] + t[["sys.self"]]) / k
}
for (nm in which_m) {
  m <- models[[nm]]
  ours <- function() suppressWarnings(glmm(m$f, data = m$d, family = m$ours, ziformula = m$zi))
  tmb <- function() glmmTMB(m$f, ziformula = m$zi, data = m$d, family = m$tmb)
  dl <- as.numeric(logLik(ours())) - as.numeric(logLik(tmb()))
  res <- t(vapply(seq_len(R), function(r) {
    a <- per_fit(ours, K)
    b <- per_fit(tmb, max(1L, K %/% 5L))
    c(ours = a, tmb = b, ratio = b / a)
  }, numeric(3)))
  cat(sprintf("%-8s ours %.4f s [%.4f, %.4f]  glmmTMB %.4f s  CPU ratio median %.1f [%.1f, %.1f]  dlogLik %+.1e\n",
              nm, median(res[, "ours"]), min(res[, "ours"]), max(res[, "ours"]), median(res[, "tmb"]),
              median(res[, "ratio"]), min(res[, "ratio"]), max(res[, "ratio"]), dl))
}
cat("load average at the end:", readLines("/proc/loadavg"), "\n")
