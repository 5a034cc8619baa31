# Side-by-side benchmark: REML fits of linear mixed models, glmmgee against
# lme4::lmer (REML = TRUE, its default) and glmmTMB (REML = TRUE), in one R
# session with the same data.
#   sleepstudy:  Reaction ~ Days + (Days | Subject)          (one factor)
#   Penicillin:  diameter ~ 1 + (1 | plate) + (1 | sample)   (crossed, sparse)
#   Pastes:      strength ~ 1 + (1 | batch/cask)              (nested, sparse)
#   simulated:   y ~ x + (x | g), M clusters of 10           (one factor)
#   simulated:   y ~ x + (1 | a) + (1 | b), crossed           (sparse)
# Times are medians over repeated timings (elapsed seconds per fit of the
# whole formula call; the real data sets 10 fits per timing); vs_* = peer
# seconds / glmmgee seconds; dREML = our restricted log-likelihood minus
# lmer's (positive: ours is higher); cpu_vs_* the same ratios of CPU seconds
# (user + system). For the one-factor cases `core_share` is the share of
# glmm()'s CPU time spent in the REML fit proper (lmm_reml_fit on the
# prepared matrices); the rest is the formula front end (model frame,
# designs, checks, the fitted object).
#
# Usage: Rscript bench/bench-reml.R [M]   (default M: 2000)
suppressPackageStartupMessages({
  library(glmmgee)
  stopifnot(requireNamespace("lme4", quietly = TRUE), requireNamespace("glmmTMB", quietly = TRUE))
})
args <- commandArgs(TRUE)
M <- if (length(args)) as.integer(args[1L]) else 2000L
cat(sprintf("glmmgee %s, lme4 %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("lme4"), packageVersion("glmmTMB"), getRversion(),
            format(Sys.time(), "%Y-%m-%d")))

# Elapsed and CPU (user + system) medians: on a loaded machine the elapsed
# time of a short fit is mostly waiting for a core, the CPU time is not.
# `inner` fits per timing: a small fit takes a few ms, near the clock's
# resolution.
timeit <- function(f, reps, inner = 1L) {
  times <- cpu <- numeric(reps)
  for (r in seq_len(reps)) {
    gc()
    tt <- system.time(for (k in seq_len(inner))
      val <- suppressWarnings(suppressMessages(f()))) / inner
    times[r] <- tt[["elapsed"]]
    cpu[r] <- tt[["user.self"]] + tt[["sys.self"]]
  }
  list(time = stats::median(times), cpu = stats::median(cpu), value = val)
}

set.seed(2026)
g <- factor(rep(seq_len(M), each = 10L))
x <- rnorm(10L * M)
b <- MASS::mvrnorm(M, c(0, 0), matrix(c(1, 0.3, 0.3, 0.5), 2))
sim1 <- data.frame(g = g, x = x, y = 1 + 0.5 * x + b[g, 1] + b[g, 2] * x + rnorm(10L * M))
na <- M %/% 10L
sim2 <- data.frame(a = factor(sample(na, 10L * M, TRUE)), b = factor(sample(50L, 10L * M, TRUE)),
                   x = x)
sim2$y <- 1 + 0.5 * sim2$x + rnorm(na)[sim2$a] + 0.5 * rnorm(50L)[sim2$b] + rnorm(10L * M)
data(sleepstudy, Penicillin, Pastes, package = "lme4")
cases <- list(
  list("sleepstudy", Reaction ~ Days + (Days | Subject), sleepstudy, 9L, 10L),
  list("Penicillin", diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, 9L, 10L),
  list("Pastes", strength ~ 1 + (1 | batch/cask), Pastes, 9L, 10L),
  list(sprintf("sim (x | g), M = %d", M), y ~ x + (x | g), sim1, 3L),
  list(sprintf("sim crossed, n = %d", 10L * M), y ~ x + (1 | a) + (1 | b), sim2, 3L))
# The REML fit proper of a one-factor model, on matrices built beforehand.
core_time <- function(formula, data, reps, inner) {
  mf <- stats::model.frame(reformulas::subbars(formula), data)
  X <- stats::model.matrix(reformulas::nobars(formula), mf)
  bar <- reformulas::findbars(formula)[[1L]]
  Z <- stats::model.matrix(stats::as.formula(call("~", bar[[2L]])), mf)
  g <- mf[[deparse(bar[[3L]])]]
  y <- stats::model.response(mf)
  timeit(function() glmmgee:::lmm_reml_fit(X, y, Z, g, rep(1, length(y)), rep(0, length(y)),
                                           ncol(Z)), reps, inner)$cpu
}
rows <- lapply(cases, function(cs) {
  inner <- if (length(cs) > 4L) cs[[5]] else 1L
  ours <- timeit(function() glmm(cs[[2]], cs[[3]], REML = TRUE), cs[[4]], inner)
  peer <- timeit(function() lme4::lmer(cs[[2]], cs[[3]], REML = TRUE), cs[[4]], inner)
  tmb <- timeit(function() glmmTMB::glmmTMB(cs[[2]], cs[[3]], REML = TRUE), cs[[4]],
                max(1L, inner %/% 5L))
  one <- length(reformulas::findbars(cs[[2]])) == 1L
  data.frame(case = cs[[1]], lmer_s = peer$time, glmmTMB_s = tmb$time, glmmgee_s = ours$time,
             vs_lmer = round(peer$time / ours$time, 2), vs_glmmTMB = round(tmb$time / ours$time, 2),
             core_share = if (one) round(core_time(cs[[2]], cs[[3]], cs[[4]], inner) / ours$cpu, 2)
                          else NA_real_,
             dREML = signif(as.numeric(logLik(ours$value)) - as.numeric(logLik(peer$value)), 2),
             dREML_TMB = signif(as.numeric(logLik(ours$value)) - as.numeric(logLik(tmb$value)), 2),
             cpu_vs_lmer = round(peer$cpu / ours$cpu, 2), cpu_vs_glmmTMB = round(tmb$cpu / ours$cpu, 2))
})
print(do.call(rbind, rows), row.names = FALSE)

# Maximum likelihood (REML = FALSE): the same profiled criteria (one
# factor: the C++ search, then the engine's Hessian; several terms: the
# sparse profiled criterion), against lmer(REML = FALSE); dML = our
# log-likelihood minus lmer's.
ml <- lapply(cases, function(cs) {
  inner <- if (length(cs) > 4L) cs[[5]] else 1L
  ours <- timeit(function() glmm(cs[[2]], cs[[3]]), cs[[4]], inner)
  peer <- timeit(function() lme4::lmer(cs[[2]], cs[[3]], REML = FALSE), cs[[4]], inner)
  data.frame(case = cs[[1]], lmer_s = peer$time, glmmgee_s = ours$time,
             vs_lmer = round(peer$time / ours$time, 2),
             dML = signif(as.numeric(logLik(ours$value)) - as.numeric(logLik(peer$value)), 2),
             cpu_vs_lmer = round(peer$cpu / ours$cpu, 2))
})
cat("\nML (REML = FALSE)\n")
print(do.call(rbind, ml), row.names = FALSE)
if (file.exists("/proc/loadavg")) cat("load average:", readLines("/proc/loadavg", warn = FALSE), "\n")
