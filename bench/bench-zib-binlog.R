# Side-by-side benchmark: the zero-inflated binomial GLMM and the binomial
# GLMM with the log link (random intercept, Laplace), glmmgee against
# glmmTMB in the same R session, on simulated data with M clusters of 10
# and 6 trials per row. Prints elapsed seconds, the time ratio
# glmmTMB / glmmgee and the logLik difference (glmmgee minus glmmTMB).
# glmmTMB needs a start inside exp(eta) < 1 for the log link (its default,
# eta = 0, has a NaN likelihood); it is given beta = (-1, 0).
#
# Usage: Rscript bench/bench-zib-binlog.R [M]   (default M = 2000)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("glmmTMB", quietly = TRUE)) stop("bench needs glmmTMB")
args <- commandArgs(TRUE)
M <- if (length(args)) as.integer(args[1]) else 2000L
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d")))

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

set.seed(20261122)
n <- 10L * M
d <- data.frame(g = factor(rep(seq_len(M), each = 10L)), x = runif(n), w = rbinom(n, 1, 0.5),
                n = 6)
u <- rnorm(M, sd = 0.3)[d$g]
d$s_zi <- ifelse(runif(n) < plogis(-1 + 1.2 * d$w), 0,
                 rbinom(n, 6, plogis(-0.3 + 0.5 * d$x + 2 * u)))
# The log-link outcome keeps its probabilities below 1 (u is cut at 2 SD).
d$s_log <- rbinom(n, 6, exp(-1.5 + 0.6 * d$x + pmin(u, 0.6)))

cases <- list(
  list(name = "zero-inflated binomial, zi ~ w",
       ours = function() glmm(cbind(s_zi, n - s_zi) ~ x + (1 | g), data = d, ziformula = ~ w,
                              family = binomial, nAGQ = 1),
       tmb = function() glmmTMB::glmmTMB(cbind(s_zi, n - s_zi) ~ x + (1 | g), data = d,
                                         ziformula = ~ w, family = binomial)),
  list(name = "binomial, log link",
       ours = function() glmm(cbind(s_log, n - s_log) ~ x + (1 | g), data = d,
                              family = binomial("log"), nAGQ = 1),
       tmb = function() glmmTMB::glmmTMB(cbind(s_log, n - s_log) ~ x + (1 | g), data = d,
                                         family = binomial("log"),
                                         start = list(beta = c(-1, 0)))))

for (cs in cases) {
  cat(sprintf("\n== %s, M = %d clusters of 10 (n = %d) ==\n", cs$name, M, n))
  a <- timeit(cs$ours())
  b <- timeit(cs$tmb())
  cat(sprintf("glmmgee %.2f s, glmmTMB %.2f s, ratio glmmTMB/glmmgee %.1f, logLik difference %.2g\n",
              a$time, b$time, b$time / a$time,
              as.numeric(logLik(a$value)) - as.numeric(logLik(b$value))))
}
