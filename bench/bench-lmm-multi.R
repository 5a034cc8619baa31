# glmm() against lme4::lmer() on gaussian LMMs with several random-effect
# terms (the profiled sparse route, R/fit-lmm-sparse.R), REML and ML:
# Penicillin `diameter ~ 1 + (1 | plate) + (1 | sample)`, Pastes
# `strength ~ 1 + (1 | batch/cask)`, a simulated crossed design (2,000 rows,
# factors of 40 and 30 levels) and a simulated nested one (2,000 rows, 50
# groups x 8 subgroups). CPU (user + system) per fit, ours and lmer's
# alternated in this one session, `reps` timings each; the ratio is
# lmer / ours, its median and range. dLL: our log-likelihood minus lmer's.
#   R_LIBS=<lib> Rscript bench/bench-lmm-multi.R [reps] [fits per timing, small data]
# (the 2,000-row designs take an eighth as many; the default 160 gives them
# 20, so that the timer's 1 ms steps move a ratio by about 2%)
suppressPackageStartupMessages({library(glmmgee); library(lme4)})
args <- commandArgs(TRUE)
reps <- if (length(args) >= 1L) as.integer(args[[1L]]) else 5L
N <- if (length(args) >= 2L) as.integer(args[[2L]]) else 160L
data(Penicillin, Pastes, package = "lme4")
# sim_crossed(), sim_nested(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))
cases <- list(Penicillin = list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, N),
              Pastes = list(strength ~ 1 + (1 | batch/cask), Pastes, N),
              crossed = list(y ~ x + (1 | a) + (1 | b), sim_crossed(1), max(N %/% 8L, 3L)),
              nested = list(y ~ x + (1 | a/b), sim_nested(1), max(N %/% 8L, 3L)))
cpu <- function(f, n) { t <- system.time(for (i in seq_len(n)) suppressWarnings(f())); sum(t[1:2]) / n }
load <- function() if (file.exists("/proc/loadavg")) strsplit(readLines("/proc/loadavg"), " ")[[1L]][1L] else NA
cat("load average at start:", load(), "\n")
for (nm in names(cases)) for (reml in c(TRUE, FALSE)) {
  cs <- cases[[nm]]
  g <- function() glmm(cs[[1L]], cs[[2L]], REML = reml)
  l <- function() lmer(cs[[1L]], cs[[2L]], REML = reml)
  r <- replicate(reps, c(cpu(g, cs[[3L]]), cpu(l, cs[[3L]])))
  ratio <- r[2L, ] / r[1L, ]
  dll <- as.numeric(logLik(g())) - as.numeric(logLik(l()))
  cat(sprintf("%-10s %-4s ours %6.2f ms  lmer %6.2f ms  ratio %5.2f (%.2f-%.2f)  dLL %.2g  load %s\n",
              nm, if (reml) "REML" else "ML", 1000 * median(r[1L, ]), 1000 * median(r[2L, ]),
              median(ratio), min(ratio), max(ratio), dll, load()))
}
