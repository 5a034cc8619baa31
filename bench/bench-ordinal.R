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
# A fit of ours on wine or soup takes milliseconds and the CPU clock ticks
# in 10 ms: each package's time is the mean over `rounds` (3) alternating
# blocks of `reps` fits, reps chosen from three timed fits so that a block
# takes about a second (at most 500 fits), so that a burst of load on the
# shared machine falls on both packages. Both links: logit and probit.
#
# Usage: Rscript bench/bench-ordinal.R [M ...]   (default: 300 1500)
#        Rscript bench/bench-ordinal.R --wine  (wine only; links logit,
#        probit and cloglog, nAGQ 1 and 10: the small fit whose ratio
#        depends most on fixed costs and the machine's load)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("ordinal", quietly = TRUE)) stop("the benchmark needs package 'ordinal'")
args <- commandArgs(TRUE)
wine_only <- "--wine" %in% args
args <- setdiff(args, "--wine")
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

compare <- function(label, formula, data, nAGQ, link = "logit") {
  fam <- cumulative(link)
  # One warm-up call each, so that neither side pays for loading code; then
  # three timed calls set the block's size.
  invisible(glmm(formula, data = data, family = fam, nAGQ = nAGQ))
  invisible(ordinal::clmm(formula, data = data, nAGQ = nAGQ, link = link))
  w_ours <- timeit(glmm(formula, data = data, family = fam, nAGQ = nAGQ), 3L)
  w_ref <- timeit(ordinal::clmm(formula, data = data, nAGQ = nAGQ, link = link), 3L)
  block <- function(w) as.integer(min(500, max(1, ceiling(1 / max(w$cpu, 1e-3)))))
  reps <- c(ours = block(w_ours), clmm = block(w_ref))
  rounds <- if (max(reps) > 1L) 3L else 1L
  t_ours <- t_ref <- list(time = 0, cpu = 0)
  add <- function(a, b) list(time = a$time + b$time / rounds, cpu = a$cpu + b$cpu / rounds,
                             value = b$value)
  for (r in seq_len(rounds)) {
    t_ours <- add(t_ours, timeit(glmm(formula, data = data, family = fam, nAGQ = nAGQ),
                                 reps[["ours"]]))
    t_ref <- add(t_ref, timeit(ordinal::clmm(formula, data = data, nAGQ = nAGQ, link = link),
                               reps[["clmm"]]))
  }
  ours <- t_ours
  ref <- t_ref
  tight <- ordinal::clmm(formula, data = data, nAGQ = nAGQ, link = link,
                         control = ordinal::clmm.control(gradTol = 1e-8, innerCtrl = "noWarn"))
  data.frame(data = label, link = link, nAGQ = nAGQ, n = nrow(data),
             reps = paste(reps * rounds, collapse = "/"),
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

# Each row printed as it is done (the whole run takes minutes).
rows <- list()
row <- function(r) {
  print(r, row.names = FALSE)
  rows[[length(rows) + 1L]] <<- r
}
for (link in if (wine_only) c("logit", "probit", "cloglog") else c("logit", "probit"))
  for (K in c(1L, 10L)) {
  row(compare("wine", rating ~ temp + contact + (1 | judge), ordinal::wine, K, link))
  if (wine_only) next
  row(compare("soup", SURENESS ~ PROD + (1 | RESP), ordinal::soup, K, link))
  for (M in Ms)
    row(compare(sprintf("simulated M=%d", M), y ~ x + z + (1 | g), sim(M, 20261122 + M), K, link))
}
print(do.call(rbind, rows), row.names = FALSE)
if (file.exists("/proc/loadavg")) cat("load average:", readLines("/proc/loadavg"), "\n")
