# Side-by-side benchmark: random-intercept logistic GLMM, M clusters of 10.
# glmmgee (AGHQ, nAGQ = 10, and Laplace) against lme4::glmer (nAGQ 1 and 10),
# glmmTMB (Laplace) and GLMMadaptive (nAGQ 11), in the same R session.
# Prints elapsed seconds, the ratio peer / glmmgee, and logLik differences
# (ours minus theirs; all log-likelihoods with full constants, evaluated for
# glmer nAGQ = 10 by our engine at glmer's estimates since lme4 drops
# constants for nAGQ > 1).
#
# Usage: Rscript bench/bench-glmm.R [M ...]   (default: 2000 20000)
suppressPackageStartupMessages({
  library(glmmgee)
  have <- vapply(c("lme4", "glmmTMB", "GLMMadaptive"), requireNamespace, TRUE, quietly = TRUE)
})
args <- commandArgs(TRUE)
Ms <- if (length(args)) as.integer(args) else c(2000L, 20000L)
threads <- as.integer(Sys.getenv("GLMMGEE_BENCH_THREADS", "1"))
cat(sprintf("glmmgee %s, R %s, %d core(s) detected, glmmgee threads = %d, %s\n",
            packageVersion("glmmgee"), getRversion(), parallel::detectCores(), threads,
            format(Sys.time(), "%Y-%m-%d")))

timeit <- function(expr) {
  gc()
  t <- system.time(val <- force(expr))[["elapsed"]]
  list(time = t, value = val)
}

# Our engine's full log-likelihood at another package's estimates.
ll_at <- function(X, y, g, M, beta, sd, K) {
  e <- glmmgee:::cpp_agq_new(X, matrix(1, nrow(X)), y, rep(1, nrow(X)), rep(0, nrow(X)),
                             g, M, 0L, 0L, 1L, 1L, K, 1L)
  glmmgee:::cpp_agq_eval(e, c(beta, sd), FALSE)$loglik
}

for (M in Ms) {
  set.seed(20261121 + M)
  g <- rep(seq_len(M), each = 10L)
  x <- rnorm(10L * M)
  b <- rnorm(M, sd = 1)
  y <- rbinom(10L * M, 1, plogis(-0.5 + 0.8 * x + b[g]))
  d <- data.frame(y = y, x = x, g = factor(g))
  X <- cbind(1, x)
  cat(sprintf("\n== M = %d clusters of 10 (n = %d) ==\n", M, nrow(d)))
  ctl <- glmm_control(nthreads = threads)
  ours10 <- timeit(glmm(y ~ x + (1 | g), d, binomial, nAGQ = 10, control = ctl))
  ours1 <- timeit(glmm(y ~ x + (1 | g), d, binomial, nAGQ = 1, control = ctl))
  rows <- list()
  add <- function(name, t, ll, ours) {
    rows[[length(rows) + 1L]] <<- data.frame(fit = name, seconds = round(t, 3),
                                             ratio_vs_ours = round(t / ours$time, 1),
                                             dlogLik_ours_minus = signif(ours$value$loglik - ll, 3))
  }
  rows[[1]] <- data.frame(fit = "glmmgee nAGQ=10", seconds = round(ours10$time, 3),
                          ratio_vs_ours = 1, dlogLik_ours_minus = 0)
  rows[[2]] <- data.frame(fit = "glmmgee Laplace", seconds = round(ours1$time, 3),
                          ratio_vs_ours = round(ours1$time / ours10$time, 2),
                          dlogLik_ours_minus = 0)
  if (have[["lme4"]]) {
    r <- timeit(lme4::glmer(y ~ x + (1 | g), d, binomial, nAGQ = 1))
    add("lme4::glmer nAGQ=1 (vs our Laplace)", r$time, as.numeric(logLik(r$value)), ours1)
    r <- timeit(lme4::glmer(y ~ x + (1 | g), d, binomial, nAGQ = 10))
    sd <- sqrt(lme4::VarCorr(r$value)$g[1])
    add("lme4::glmer nAGQ=10", r$time, ll_at(X, as.numeric(y), g, M, lme4::fixef(r$value), sd, 10L), ours10)
  }
  if (have[["glmmTMB"]]) {
    r <- timeit(glmmTMB::glmmTMB(y ~ x + (1 | g), d, family = binomial))
    add("glmmTMB (Laplace; vs our Laplace)", r$time, as.numeric(logLik(r$value)), ours1)
  }
  if (have[["GLMMadaptive"]]) {
    r <- timeit(GLMMadaptive::mixed_model(y ~ x, ~ 1 | g, d, family = binomial(), nAGQ = 11))
    add("GLMMadaptive nAGQ=11", r$time, as.numeric(logLik(r$value)), ours10)
  }
  tab <- do.call(rbind, rows)
  print(tab, row.names = FALSE)
  peers <- tab[-(1:2), ]
  if (nrow(peers))
    cat(sprintf("fastest peer: %s (%.2f s); glmmgee nAGQ=10 is %.1fx faster\n",
                peers$fit[which.min(peers$seconds)], min(peers$seconds),
                min(peers$seconds) / ours10$time))
  cat(sprintf("memory: X, Z and the engine's sorted copy are O(n); object size %.1f MB for n = %d\n",
              as.numeric(object.size(ours10$value)) / 2^20, nrow(d)))
}
