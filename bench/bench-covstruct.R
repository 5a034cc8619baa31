# Side-by-side benchmark: structured random-effect covariances against
# glmmTMB, same data, same R session.
#   1. glmmTMB's covstruct vignette: gaussian AR(1) over 6 time points,
#      y ~ ar1(times + 0 | group), M groups.
#   2. Poisson with AR(1) random effects over 4 time points and a covariate,
#      y ~ x + ar1(0 + times | group), Laplace (glmmTMB's approximation).
#   3. The same with cs() (heterogeneous compound symmetry).
# Times are medians of `reps` fits: elapsed seconds and, because the
# machine may be shared, CPU seconds (user + system) as well; ratio =
# glmmTMB / glmmgee. dlogLik = ours minus glmmTMB's (both complete).
#
# Usage: Rscript bench/bench-covstruct.R [M] [reps]   (default 1000 3)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("glmmTMB", quietly = TRUE)) stop("glmmTMB is needed for this benchmark")
args <- commandArgs(TRUE)
M <- if (length(args) >= 1L) as.integer(args[1L]) else 1000L
reps <- if (length(args) >= 2L) as.integer(args[2L]) else 3L
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d")))

timeit <- function(fn) {
  el <- cpu <- numeric(reps)
  for (r in seq_len(reps)) {
    gc()
    tm <- system.time(val <- fn())
    el[r] <- tm[["elapsed"]]
    cpu[r] <- tm[["user.self"]] + tm[["sys.self"]]
  }
  list(elapsed = stats::median(el), cpu = stats::median(cpu), value = val)
}

sim <- function(M, n, phi, family, sd) {
  R <- phi^abs(outer(seq_len(n), seq_len(n), "-"))
  b <- matrix(stats::rnorm(M * n), M) %*% chol(R) * sd
  d <- data.frame(times = factor(rep(seq_len(n), M)), group = factor(rep(seq_len(M), each = n)),
                  x = stats::rnorm(M * n))
  eta <- as.vector(t(b))
  d$y <- if (family == "gaussian") eta + stats::rnorm(M * n)
         else stats::rpois(M * n, exp(0.3 + 0.2 * d$x + eta))
  d
}

set.seed(20261122)
cases <- list(
  list(name = "gaussian ar1, 6 times", data = sim(M, 6, 0.7, "gaussian", 1),
       form = y ~ ar1(times + 0 | group), family = "gaussian"),
  list(name = "poisson ar1, 4 times", data = sim(M, 4, 0.6, "poisson", 0.8),
       form = y ~ x + ar1(0 + times | group), family = "poisson"),
  list(name = "poisson cs, 4 times", data = sim(M, 4, 0.6, "poisson", 0.8),
       form = y ~ x + cs(0 + times | group), family = "poisson"))

cat(sprintf("\n== M = %d groups; medians of %d fits ==\n", M, reps))
cat(sprintf("%-24s %10s %10s %8s %10s %10s %8s %10s\n", "model", "TMB el", "ours el", "ratio",
            "TMB cpu", "ours cpu", "ratio", "dlogLik"))
for (cs in cases) {
  ours <- timeit(function() glmm(cs$form, cs$data, family = cs$family, nAGQ = 1))
  tmb <- timeit(function() glmmTMB::glmmTMB(cs$form, cs$data, family = cs$family))
  cat(sprintf("%-24s %10.3f %10.3f %8.1f %10.3f %10.3f %8.1f %10.2g\n", cs$name,
              tmb$elapsed, ours$elapsed, tmb$elapsed / ours$elapsed,
              tmb$cpu, ours$cpu, tmb$cpu / ours$cpu,
              as.numeric(logLik(ours$value)) - as.numeric(logLik(tmb$value))))
}
