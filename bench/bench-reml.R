# Side-by-side benchmark: REML fits of linear mixed models, glmmgee against
# lme4::lmer (REML = TRUE, its default) and glmmTMB (REML = TRUE), in one R
# session with the same data.
#   sleepstudy:  Reaction ~ Days + (Days | Subject)          (one factor)
#   Penicillin:  diameter ~ 1 + (1 | plate) + (1 | sample)   (crossed, sparse)
#   simulated:   y ~ x + (x | g), M clusters of 10           (one factor)
#   simulated:   y ~ x + (1 | a) + (1 | b), crossed           (sparse)
# Times are medians over repeated fits (elapsed seconds of the whole formula
# call); ratio = peer seconds / glmmgee seconds; dREML = our restricted
# log-likelihood minus lmer's (positive: ours is higher). For the one-factor
# cases `core_share` is the share of glmm()'s time spent in the REML fit
# proper (lmm_reml_fit on the prepared matrices); the rest is the formula
# front end (model frame, designs, checks, the fitted object).
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

timeit <- function(f, reps) {
  times <- numeric(reps)
  for (r in seq_len(reps)) {
    gc()
    times[r] <- system.time(val <- suppressWarnings(suppressMessages(f())))[["elapsed"]]
  }
  list(time = stats::median(times), value = val)
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
data(sleepstudy, Penicillin, package = "lme4")
cases <- list(
  list("sleepstudy", Reaction ~ Days + (Days | Subject), sleepstudy, 9L),
  list("Penicillin", diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, 9L),
  list(sprintf("sim (x | g), M = %d", M), y ~ x + (x | g), sim1, 3L),
  list(sprintf("sim crossed, n = %d", 10L * M), y ~ x + (1 | a) + (1 | b), sim2, 3L))
# The REML fit proper of a one-factor model, on matrices built beforehand.
core_time <- function(formula, data, reps) {
  mf <- stats::model.frame(reformulas::subbars(formula), data)
  X <- stats::model.matrix(reformulas::nobars(formula), mf)
  bar <- reformulas::findbars(formula)[[1L]]
  Z <- stats::model.matrix(stats::as.formula(call("~", bar[[2L]])), mf)
  g <- mf[[deparse(bar[[3L]])]]
  y <- stats::model.response(mf)
  timeit(function() glmmgee:::lmm_reml_fit(X, y, Z, g, rep(1, length(y)), rep(0, length(y)),
                                           ncol(Z)), reps)$time
}
rows <- lapply(cases, function(cs) {
  ours <- timeit(function() glmm(cs[[2]], cs[[3]], REML = TRUE), cs[[4]])
  peer <- timeit(function() lme4::lmer(cs[[2]], cs[[3]], REML = TRUE), cs[[4]])
  tmb <- timeit(function() glmmTMB::glmmTMB(cs[[2]], cs[[3]], REML = TRUE), cs[[4]])
  one <- length(reformulas::findbars(cs[[2]])) == 1L
  data.frame(case = cs[[1]], lmer_s = peer$time, glmmTMB_s = tmb$time, glmmgee_s = ours$time,
             vs_lmer = round(peer$time / ours$time, 2), vs_glmmTMB = round(tmb$time / ours$time, 2),
             core_share = if (one) round(core_time(cs[[2]], cs[[3]], cs[[4]]) / ours$time, 2)
                          else NA_real_,
             dREML = signif(as.numeric(logLik(ours$value)) - as.numeric(logLik(peer$value)), 2),
             dREML_TMB = signif(as.numeric(logLik(ours$value)) - as.numeric(logLik(tmb$value)), 2))
})
print(do.call(rbind, rows), row.names = FALSE)
