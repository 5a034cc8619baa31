# Cost of the non-normal random-intercept engine (src/engines/agq/agq-ranef-dist.cpp) beside
# the normal AGHQ engine, in one R session: the same binary data, M clusters
# of 10, fitted with a normal intercept (nAGQ = 11), a bridge intercept and
# a nonparametric one (3 mass points, ten starts). The bridge and
# nonparametric fits include the normal fit they start from. No peer package
# fits these distributions, so the comparison is internal; `ratio` = seconds
# / seconds of the normal fit. Medians of `reps` fits.
suppressMessages(library(glmmgee))
Sys.setenv(OMP_NUM_THREADS = "1")
one_size <- function(M, reps) {
  set.seed(1)
  g <- rep(seq_len(M), each = 10)
  x <- rnorm(M * 10)
  b <- glmmgee:::rbridge(M, 0.6)
  d <- data.frame(y = rbinom(M * 10, 1, plogis(-0.5 + 0.8 * x + b[g])), x = x, g = g)
  time <- function(...) median(vapply(seq_len(reps), function(i)
    system.time(suppressWarnings(glmm(y ~ x + (1 | g), data = d, family = binomial, ...)))[["elapsed"]], 1))
  t_norm <- time(nAGQ = 11)
  t_br <- time(ranef_dist = "bridge")
  t_np <- time(ranef_dist = list("nonparametric", k = 3))
  data.frame(M = M, n = M * 10, fit = c("normal, AGHQ 11", "bridge", "nonparametric, k = 3"),
             seconds = c(t_norm, t_br, t_np), ratio = c(t_norm, t_br, t_np) / t_norm)
}
res <- rbind(one_size(500, 3), one_size(2000, 3))
print(res, digits = 3, row.names = FALSE)
