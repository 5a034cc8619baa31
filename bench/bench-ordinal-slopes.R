# Cumulative link mixed models with random slopes on one grouping factor,
# (1 + x | g) and (x || g). No peer fits them (ordinal::clmm fits random
# intercepts only), so this script prints our own CPU and elapsed seconds,
# the number of engine evaluations and the log-likelihood, to compare
# builds run one after the other (e.g. before and after a change of the
# engine's gradient). Data: simulated, M clusters of 8, four categories,
# a correlated random intercept and slope of x.
#
# Usage: Rscript bench/bench-ordinal-slopes.R
suppressPackageStartupMessages(library(glmmgee))
cat(sprintf("glmmgee %s, R %s, %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d %H:%M")))

sim <- function(M, seed) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = 8L)), x = rnorm(8L * M),
                  z = rbinom(8L * M, 1, 0.5))
  U <- matrix(rnorm(2L * M), M)
  b0 <- U[, 1]
  b1 <- 0.6 * (0.3 * U[, 1] + sqrt(1 - 0.09) * U[, 2])
  eta <- d$x - 0.5 * d$z + b0[d$g] + b1[d$g] * d$x
  d$y <- ordered(findInterval(eta + rlogis(8L * M), c(-1, 0.5, 2)) + 1L)
  d
}

one <- function(label, formula, data, nAGQ) {
  invisible(glmm(formula, data = data, family = cumulative("logit"), nAGQ = nAGQ))  # warm-up
  gc()
  tm <- system.time(fit <- glmm(formula, data = data, family = cumulative("logit"), nAGQ = nAGQ))
  data.frame(model = label, nAGQ = nAGQ, n = nrow(data), elapsed_s = tm[["elapsed"]],
             cpu_s = tm[["user.self"]] + tm[["sys.self"]],
             evaluations = fit$optinfo$evaluations, logLik = sprintf("%.10f", fit$loglik))
}

d120 <- sim(120L, 2L)
d100 <- sim(100L, 3L)
rows <- list(
  one("120 x 8, (1 + x | g)", y ~ x + z + (1 + x | g), d120, 1L),
  one("120 x 8, (1 + x | g)", y ~ x + z + (1 + x | g), d120, 5L),
  one("100 x 8, (x || g)", y ~ x + z + (x || g), d100, 3L))
print(do.call(rbind, rows), row.names = FALSE)
cat(sprintf("load average: %s\n", paste(readLines("/proc/loadavg"), collapse = " ")))
