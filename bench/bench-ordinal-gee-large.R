# Ordinal GEE with global odds ratios on a few large clusters: the pairs
# grow with the square of the cluster size and each cluster's working
# covariance, (rows x cut points)^2, is factored once per iteration. Two
# clusters of m rows, 4 categories (a latent logistic response with a
# normal cluster effect), no covariate patterns. Prints CPU seconds per fit
# (one fit each; the larger sizes take seconds) with the estimates, and at
# m = 150 the same fit by geepack::ordgee in the same session (its
# estimates differ for three or more categories: NEWS.md, ?ordinal-gee).
#
# Usage: Rscript bench/bench-ordinal-gee-large.R [m ...]   (default: 150 400 800 1074)
suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
ms <- if (length(args)) as.integer(args) else c(150L, 400L, 800L, 1074L)
cat(sprintf("glmmgee %s, R %s, %s; load average %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d %H:%M"),
            paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))
two_clusters <- function(m, seed = 1) {
  set.seed(seed)
  id <- rep(1:2, each = m)
  x <- rnorm(2 * m)
  y <- cut(0.5 * x + rnorm(2)[id] + rlogis(2 * m), c(-Inf, -1, 0, 1, Inf), labels = FALSE)
  data.frame(id = id, t = rep(seq_len(m), 2), x = x, y = factor(y), yo = ordered(y))
}
cpu <- function(expr) {
  t <- system.time(expr)
  t[[1]] + t[[2]]
}
for (m in ms) {
  d <- two_clusters(m)
  a <- cpu(f <- suppressWarnings(gee(y ~ x, data = d, id = id, waves = t, family = cumulative,
                                     corstr = "global.exchangeable")))
  cat(sprintf("m = %4d (2 x %d pairs): glmmgee %6.2f s CPU; beta %.8f, log OR %.8f\n", m,
              m * (m - 1) / 2, a, f$coefficients[[1]], f$association$parameters[[1]]))
  if (m <= 150 && requireNamespace("geepack", quietly = TRUE)) {
    b <- cpu(g <- geepack::ordgee(yo ~ x, data = d, id = id, waves = t, corstr = "exchangeable"))
    cat(sprintf("           ordgee  %6.2f s CPU (ratio ordgee / glmmgee %.1f); beta %.8f, log OR %.8f\n",
                b, b / a, g$beta[[4]], g$alpha[[1]]))
  }
}
cat(sprintf("load average at the end %s\n", paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))
