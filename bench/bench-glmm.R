# Side-by-side benchmark: random-intercept logistic GLMM, M clusters of 10,
#   y ~ x + (1 | g),  logit P(y = 1) = -0.5 + 0.8 x + b_g,  b_g ~ N(0, 1).
# In the same R session, with the same data:
#   glmmgee nAGQ = 10  vs  lme4::glmer nAGQ = 10
#   glmmgee nAGQ = 11  vs  GLMMadaptive::mixed_model nAGQ = 11
#   glmmgee Laplace    vs  lme4::glmer nAGQ = 1, glmmTMB (Laplace)
# Every package runs on one thread (glmmTMB with parallel = 1; lme4 and
# GLMMadaptive are single-threaded); an extra row shows glmmgee on two.
# Times are medians over repeated fits (elapsed seconds); ratio = peer time /
# glmmgee time for the same rule. dlogLik = our maximized log-likelihood
# minus the peer's, both complete (all constants); for glmer nAGQ = 10 the
# peer's value is our engine's at glmer's estimates (lme4 drops constants
# for nAGQ > 1), so it compares optima of the same function.
# The headline: glmmgee at nAGQ >= 10 against the fastest peer of all
# (whatever its rule).
#
# Usage: Rscript bench/bench-glmm.R [M ...]   (default: 2000 20000)
suppressPackageStartupMessages({
  library(glmmgee)
  have <- vapply(c("lme4", "glmmTMB", "GLMMadaptive"), requireNamespace, TRUE, quietly = TRUE)
})
args <- commandArgs(TRUE)
Ms <- if (length(args)) as.integer(args) else c(2000L, 20000L)
cat(sprintf("glmmgee %s, R %s, %d core(s) detected, %s\n", packageVersion("glmmgee"),
            getRversion(), parallel::detectCores(), format(Sys.time(), "%Y-%m-%d")))
for (p in names(have)[have])
  cat(sprintf("  %s %s\n", p, packageVersion(p)))

# Median elapsed time over `reps` runs; returns the last value.
timeit <- function(expr_fn, reps) {
  times <- numeric(reps)
  for (r in seq_len(reps)) {
    gc()
    times[r] <- system.time(val <- expr_fn())[["elapsed"]]
  }
  list(time = stats::median(times), value = val)
}

# Our engine's complete log-likelihood at another package's estimates.
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
  reps_ours <- if (M <= 5000L) 9L else 3L
  reps_peer <- if (M <= 5000L) 3L else 1L
  cat(sprintf("\n== M = %d clusters of 10 (n = %d); medians of %d (glmmgee) and %d (peers) fits ==\n",
              M, nrow(d), reps_ours, reps_peer))
  ours_fit <- function(K, threads = 1L)
    timeit(function() glmm(y ~ x + (1 | g), d, binomial, nAGQ = K,
                           control = glmm_control(nthreads = threads)), reps_ours)
  ours <- list(`10` = ours_fit(10L), `11` = ours_fit(11L), `1` = ours_fit(1L))
  ours2 <- ours_fit(10L, 2L)
  rows <- list()
  add <- function(peer, rule, t, ll, K) {
    o <- ours[[as.character(K)]]
    rows[[length(rows) + 1L]] <<- data.frame(
      peer = peer, rule = rule, peer_s = round(t, 3), glmmgee_s = round(o$time, 4),
      ratio = round(t / o$time, 1), dlogLik = signif(o$value$loglik - ll, 3))
  }
  if (have[["lme4"]]) {
    r <- timeit(function() lme4::glmer(y ~ x + (1 | g), d, binomial, nAGQ = 10), reps_peer)
    sd <- sqrt(lme4::VarCorr(r$value)$g[1])
    add("lme4::glmer", "AGHQ 10", r$time,
        ll_at(X, as.numeric(y), g, M, lme4::fixef(r$value), sd, 10L), 10L)
  }
  if (have[["GLMMadaptive"]]) {
    r <- timeit(function() GLMMadaptive::mixed_model(y ~ x, ~ 1 | g, d, family = binomial(),
                                                     nAGQ = 11), reps_peer)
    add("GLMMadaptive", "AGHQ 11", r$time, as.numeric(logLik(r$value)), 11L)
  }
  if (have[["lme4"]]) {
    r <- timeit(function() lme4::glmer(y ~ x + (1 | g), d, binomial, nAGQ = 1), reps_peer)
    add("lme4::glmer", "Laplace", r$time, as.numeric(logLik(r$value)), 1L)
  }
  if (have[["glmmTMB"]]) {
    r <- timeit(function() glmmTMB::glmmTMB(y ~ x + (1 | g), d, family = binomial,
                                            control = glmmTMB::glmmTMBControl(parallel = 1L)),
                reps_peer)
    add("glmmTMB", "Laplace", r$time, as.numeric(logLik(r$value)), 1L)
  }
  tab <- do.call(rbind, rows)
  print(tab, row.names = FALSE)
  cat(sprintf("glmmgee nAGQ=10 on 2 threads: %.4f s (1 thread: %.4f s)\n",
              ours2$time, ours[["10"]]$time))
  if (!is.null(tab)) {
    fast <- which.min(tab$peer_s)
    for (K in c(10L, 11L))
      cat(sprintf("headline, 1 thread each: glmmgee nAGQ=%d %.4f s; fastest peer %s (%s) %.3f s; %.1fx\n",
                  K, ours[[as.character(K)]]$time, tab$peer[fast], tab$rule[fast],
                  tab$peer_s[fast], tab$peer_s[fast] / ours[[as.character(K)]]$time))
  }
  cat(sprintf("memory: the engine holds X, Z, y, weights, offset (O(n)) and per-cluster modes (O(M)); fitted object %.1f MB\n",
              as.numeric(object.size(ours[["10"]]$value)) / 2^20))
}
