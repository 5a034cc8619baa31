# Side-by-side benchmark: cumulative link mixed models (random intercept),
# glmmgee against ordinal::clmm in the same R session, by the Laplace
# approximation and by adaptive quadrature (nAGQ = 10 in both). Data: the
# peers' wine and soup data, and simulated data with M clusters of 10 and
# four categories. Prints elapsed seconds, the time ratio clmm / glmmgee and
# the log-likelihood difference (ours minus clmm's; both full
# log-likelihoods of the same approximation), also against clmm with its
# random-effect modes solved to max |gradient| < 1e-8 (dlogLik_tight;
# untimed): clmm's default stops them at 1e-4, and its Laplace value then
# differs from the approximation at its estimates by ~1e-6-1e-4.
# On data with fewer than 500 rows (wine) a fit takes milliseconds, below
# the CPU clock's resolution, so the times there are the mean of `reps`
# fits (50) of each package.
#
# Usage: Rscript bench/bench-ordinal.R [M ...]   (default: 300 1500)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("ordinal", quietly = TRUE)) stop("the benchmark needs package 'ordinal'")
args <- commandArgs(TRUE)
Ms <- if (length(args)) as.integer(args) else c(300L, 1500L)
cat(sprintf("glmmgee %s, ordinal %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("ordinal"), getRversion(), format(Sys.time(), "%Y-%m-%d")))

# Elapsed and CPU (user + system) seconds: on a shared machine the CPU
# ratio is the steadier figure (elapsed time includes waiting for a core).
timeit <- function(expr, reps = 1L) {
  gc()
  e <- substitute(expr)
  pf <- parent.frame()
  tm <- system.time(for (i in seq_len(reps)) val <- eval(e, pf))
  list(time = tm[["elapsed"]] / reps, cpu = (tm[["user.self"]] + tm[["sys.self"]]) / reps,
       value = val)
}

compare <- function(label, formula, data, nAGQ) {
  reps <- if (nrow(data) < 500L) 50L else 1L
  # One warm-up call each, so that neither side pays for loading code.
  invisible(glmm(formula, data = data, family = cumulative("logit"), nAGQ = nAGQ))
  ours <- timeit(glmm(formula, data = data, family = cumulative("logit"), nAGQ = nAGQ), reps)
  invisible(ordinal::clmm(formula, data = data, nAGQ = nAGQ))
  ref <- timeit(ordinal::clmm(formula, data = data, nAGQ = nAGQ), reps)
  tight <- ordinal::clmm(formula, data = data, nAGQ = nAGQ,
                         control = ordinal::clmm.control(gradTol = 1e-8, innerCtrl = "noWarn"))
  data.frame(data = label, nAGQ = nAGQ, n = nrow(data), reps = reps,
             glmmgee_s = signif(ours$time, 3), clmm_s = signif(ref$time, 3),
             ratio = round(ref$time / max(ours$time, 1e-4), 1),
             glmmgee_cpu = signif(ours$cpu, 3), clmm_cpu = signif(ref$cpu, 3),
             ratio_cpu = round(ref$cpu / max(ours$cpu, 1e-4), 1),
             dlogLik = signif(ours$value$loglik - ref$value$logLik, 3),
             dlogLik_tight = signif(ours$value$loglik - tight$logLik, 3),
             max_dcoef = signif(max(abs(coef(ours$value) - coef(ref$value))), 3))
}

sim <- function(M, seed) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = 10L)), x = rnorm(10L * M),
                  z = rbinom(10L * M, 1, 0.5))
  eta <- 0.8 * d$x - 0.5 * d$z + rnorm(M)[d$g]
  d$y <- ordered(findInterval(eta + rlogis(10L * M), c(-1, 0.5, 2)) + 1L)
  d
}

rows <- list()
for (K in c(1L, 10L)) {
  rows[[length(rows) + 1L]] <- compare("wine", rating ~ temp + contact + (1 | judge),
                                       ordinal::wine, K)
  rows[[length(rows) + 1L]] <- compare("soup", SURENESS ~ PROD + (1 | RESP), ordinal::soup, K)
  for (M in Ms)
    rows[[length(rows) + 1L]] <- compare(sprintf("simulated M=%d", M), y ~ x + z + (1 | g),
                                         sim(M, 20261122 + M), K)
}
print(do.call(rbind, rows), row.names = FALSE)
if (file.exists("/proc/loadavg")) cat("load average:", readLines("/proc/loadavg"), "\n")
