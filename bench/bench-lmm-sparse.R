# glmm()'s CPU time per fit for linear mixed models with several terms
# (profiled criterion, src/engines/lmm/lmm-sparse.cpp): Penicillin and Pastes (60 fits
# per timing) and a simulated crossed design with n = 10,000 (4 fits), REML
# and ML. Prints, per fit: the (restricted) log-likelihood, nlminb's
# criterion evaluations, CPU ms (user + system) per fit and the standard
# errors of theta. To compare two builds, run it alternately with each on
# R_LIBS, in separate processes:
#   R_LIBS=<lib A> Rscript bench/bench-lmm-sparse.R; R_LIBS=<lib B> Rscript bench/bench-lmm-sparse.R
suppressPackageStartupMessages(library(glmmgee))
data(Penicillin, Pastes, package = "lme4")
set.seed(2026); M <- 1000
x <- rnorm(10L * M); na <- M %/% 10L
sim2 <- data.frame(a = factor(sample(na, 10L * M, TRUE)), b = factor(sample(50L, 10L * M, TRUE)), x = x)
sim2$y <- 1 + 0.5 * sim2$x + rnorm(na)[sim2$a] + 0.5 * rnorm(50L)[sim2$b] + rnorm(10L * M)
cases <- list(P = list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, 60),
              Pa = list(strength ~ 1 + (1 | batch/cask), Pastes, 60),
              sim = list(y ~ x + (1 | a) + (1 | b), sim2, 4))
# With the argument "lmer": glmm() against lme4::lmer() in this one
# session instead, CPU per fit (40 fits a timing for Penicillin and Pastes,
# 3 for the simulated design), each ratio lmer / glmmgee the median of 5
# timings taken alternately:
#   R_LIBS=<lib> Rscript bench/bench-lmm-sparse.R lmer
if (identical(commandArgs(TRUE), "lmer")) {
  suppressPackageStartupMessages(library(lme4))
  cpu <- function(f, N) { t <- system.time(for (i in 1:N) suppressWarnings(f())); sum(t[1:2]) / N }
  for (nm in names(cases)) for (reml in c(TRUE, FALSE)) {
    cs <- cases[[nm]]
    N <- if (nm == "sim") 3 else 40
    r <- replicate(5, c(cpu(function() glmm(cs[[1]], cs[[2]], REML = reml), N),
                        cpu(function() lmer(cs[[1]], cs[[2]], REML = reml), N)))
    cat(sprintf("%-4s REML=%d glmmgee %.2f ms lmer %.2f ms ratio %.2f\n", nm, reml,
                1000 * median(r[1, ]), 1000 * median(r[2, ]), median(r[2, ] / r[1, ])))
  }
  if (file.exists("/proc/loadavg")) cat("load average:", readLines("/proc/loadavg", warn = FALSE), "\n")
  quit(save = "no")
}
for (nm in names(cases)) for (reml in c(TRUE, FALSE)) {
  cs <- cases[[nm]]
  f <- function() suppressWarnings(glmm(cs[[1]], cs[[2]], REML = reml))
  fit <- f()
  tt <- system.time(for (i in seq_len(cs[[3]])) f())
  cat(sprintf("%s reml=%d ll=%.10f ev=%d cpu=%.2fms se=%s\n", nm, reml, as.numeric(logLik(fit)),
      fit$optinfo$evaluations, 1000 * (tt[[1]] + tt[[2]]) / cs[[3]],
      paste(signif(sqrt(diag(fit$cov_theta)), 7), collapse = ",")))
}
