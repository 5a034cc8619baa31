# glmm() against lme4::lmer() in one R session, CPU (user + system) per fit,
# for linear mixed models with several terms (the profiled criterion,
# src/lmm-sparse.cpp): Penicillin, Pastes (40 fits a timing) and a
# simulated crossed design with n = 10,000 (3 fits), REML and ML. Each
# ratio is lmer / glmmgee, the median of 5 timings taken alternately.
#   R_LIBS=<lib> Rscript bench/bench-lmm-sparse-ratio.R
suppressPackageStartupMessages({library(glmmgee); library(lme4)})
data(Penicillin, Pastes, package = "lme4")
set.seed(2026); M <- 1000
x <- rnorm(10L * M); na <- M %/% 10L
sim2 <- data.frame(a = factor(sample(na, 10L * M, TRUE)), b = factor(sample(50L, 10L * M, TRUE)), x = x)
sim2$y <- 1 + 0.5 * sim2$x + rnorm(na)[sim2$a] + 0.5 * rnorm(50L)[sim2$b] + rnorm(10L * M)
cases <- list(P = list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, 40),
              Pa = list(strength ~ 1 + (1 | batch/cask), Pastes, 40),
              sim = list(y ~ x + (1 | a) + (1 | b), sim2, 3))
cpu <- function(f, N) { t <- system.time(for (i in 1:N) suppressWarnings(f())); sum(t[1:2]) / N }
for (nm in names(cases)) for (reml in c(TRUE, FALSE)) {
  cs <- cases[[nm]]
  r <- replicate(5, c(cpu(function() glmm(cs[[1]], cs[[2]], REML = reml), cs[[3]]),
                      cpu(function() lmer(cs[[1]], cs[[2]], REML = reml), cs[[3]])))
  cat(sprintf("%-4s REML=%d glmmgee %.2f ms lmer %.2f ms ratio %.2f\n", nm, reml,
              1000 * median(r[1, ]), 1000 * median(r[2, ]), median(r[2, ] / r[1, ])))
}
if (file.exists("/proc/loadavg")) cat("load average:", readLines("/proc/loadavg", warn = FALSE), "\n")
