# Side-by-side benchmark: penalized (Student-t prior on the conditional
# coefficients) zero-inflated and hurdle GLMMs with a random intercept,
# glmmgee against GLMMadaptive's mixed_model(penalized = TRUE, zi_fixed =)
# by adaptive quadrature (nAGQ = 11) in the same R session. GLMMadaptive
# runs with its default control (EM then quasi-Newton) and with the
# quasi-Newton phase alone at tight tolerances (the tests' setting). Data:
# glmmTMB's Salamanders and simulated counts with M clusters of 8 whose
# count part is separated (no counts where x > 1.2). Prints CPU seconds
# (user + system), the ratio peer / glmmgee, and the penalized objective's
# difference (glmmgee minus the peer; both without the prior's constant).
#
# Usage: Rscript bench/bench-penalized-zi.R [M] [reps]   (default 200, 3)
suppressPackageStartupMessages({library(glmmgee); library(GLMMadaptive)})
args <- commandArgs(TRUE)
M <- if (length(args)) as.integer(args[1]) else 200L
reps <- if (length(args) > 1L) as.integer(args[2]) else 3L
cat(sprintf("glmmgee %s, R %s, %s, load %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d"), paste(readLines("/proc/loadavg", 1L), collapse = "")))

cpu <- function(expr_fn) {
  best <- Inf
  for (r in seq_len(reps)) {
    gc()
    tm <- system.time(val <- suppressWarnings(expr_fn()))
    best <- min(best, tm[["user.self"]] + tm[["sys.self"]])
  }
  list(cpu = best, value = val)
}

set.seed(20261123)
N <- 8L * M
sim <- data.frame(g = factor(rep(seq_len(M), each = 8L)), x = rnorm(N), w = rbinom(N, 1, 0.5))
mu <- exp(0.8 + 0.4 * sim$x + rnorm(M, sd = 0.6)[sim$g])
sim$y <- ifelse(runif(N) < plogis(-1 + 0.5 * sim$w), 0, rpois(N, mu))
sim$sep <- as.numeric(sim$x > 1.2)
sim$y[sim$sep == 1] <- 0
utils::data("Salamanders", package = "glmmTMB", envir = environment())
sal <- Salamanders
sal$g <- sal$site

tight <- list(iter_EM = 0, max_coef_value = 1000, optimizer = "nlminb", tol1 = 1e-8,
              tol2 = 1e-8, tol3 = 1e-12)
cases <- list(
  list(name = "simulated ZIP, separated count part", d = sim, f = y ~ x + sep, zi = ~ w,
       ours = poisson, ga = zi.poisson()),
  list(name = "simulated hurdle Poisson, separated", d = sim, f = y ~ x + sep, zi = ~ w,
       ours = truncated_poisson, ga = hurdle.poisson()),
  list(name = "Salamanders ZINB (mined + cover | zi ~ mined)", d = sal, f = count ~ mined + cover,
       zi = ~ mined, ours = nbinom2, ga = zi.negative.binomial()))
for (cs in cases) {
  fo <- stats::update(cs$f, . ~ . + (1 | g))
  o <- cpu(function() glmm(fo, cs$d, family = cs$ours, ziformula = cs$zi, nAGQ = 11,
                           penalized = TRUE))
  for (ctl in list(default = list(), tight = tight)) {
    # GLMMadaptive's default control stops with an error on separated data
    # (a large coefficient in its EM phase).
    p <- tryCatch(cpu(function() mixed_model(cs$f, ~ 1 | g, cs$d, family = cs$ga, zi_fixed = cs$zi,
                                             penalized = TRUE, nAGQ = 11, control = ctl)),
                  error = function(e) conditionMessage(e))
    if (is.character(p)) {
      cat(sprintf("%-48s GLMMadaptive(%s): glmmgee %.3f s, peer failed: %s\n", cs$name,
                  if (length(ctl)) "tight" else "default", o$cpu, sub("\n.*", "", p)))
      next
    }
    cat(sprintf("%-48s GLMMadaptive(%s): glmmgee %.3f s, peer %.3f s, ratio %.1f, d objective %+.2e\n",
                cs$name, if (length(ctl)) "tight" else "default", o$cpu, p$cpu, p$cpu / o$cpu,
                o$value$penalty$objective - as.numeric(logLik(p$value))))
  }
}
