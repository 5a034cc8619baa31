# Side-by-side benchmark: NB1 in two-part GLMMs, glmmgee against glmmTMB
# (Laplace, the same model) in the same R session: the hurdle family
# truncated_nbinom1 (one grouping factor, crossed terms, simulated data)
# and, where the package has them, random effects in the zero part with
# nbinom1 / truncated_nbinom1 counts.
#
# Each case is fitted `reps` times by each package, alternating the two so
# that the machine's load falls on both alike. Prints the median elapsed and
# CPU seconds, the CPU ratio glmmTMB / glmmgee (median and range over the
# reps, each rep's ratio from its own pair of fits), and the logLik
# difference (glmmgee minus glmmTMB), with the load average before and after.
#
# Usage: Rscript bench/bench-nb1x.R [M] [reps] [hurdle | zi_random]
#   M: simulated clusters of 8 (default 300); reps: fits per package and
#   case (default 5); "hurdle" / "zi_random": only those cases.
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("glmmTMB", quietly = TRUE)) stop("bench-nb1x.R needs glmmTMB")
args <- commandArgs(TRUE)
words <- args[args %in% c("hurdle", "zi_random")]
nums <- as.integer(setdiff(args, words))
M <- if (length(nums) >= 1L) nums[1] else 300L
reps <- if (length(nums) >= 2L) nums[2] else 5L
loadavg <- function() paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s, load average %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d %H:%M"),
            loadavg()))

set.seed(20261124)
n <- 8L * M
g <- rep(seq_len(M), each = 8L)
x <- rnorm(n); w <- rbinom(n, 1, 0.5)
mu <- exp(0.6 + 0.5 * x + rnorm(M, 0, 0.5)[g])
phi <- 1.2
yc <- rnbinom(n, size = mu / phi, mu = mu)
while (any(yc == 0)) {
  i <- which(yc == 0)
  yc[i] <- rnbinom(length(i), size = mu[i] / phi, mu = mu[i])
}
bz <- rnorm(M, 0, 0.6)[g]
y0 <- rnbinom(n, size = mu / phi, mu = mu)  # untruncated: zero-inflated NB1
sim <- data.frame(g = factor(g), x = x, w = w,
                  y = ifelse(runif(n) < plogis(-0.7 + 0.9 * w), 0, yc),
                  yz = ifelse(runif(n) < plogis(-0.7 + 0.9 * w + bz), 0, yc),
                  yzi = ifelse(runif(n) < plogis(-0.7 + 0.9 * w + bz), 0, y0))
utils::data("Salamanders", package = "glmmTMB", envir = environment())
sal <- Salamanders
tnb1 <- glmmTMB::truncated_nbinom1()
nb1 <- glmmTMB::nbinom1()

cases <- list(
  list(name = "Salamanders hurdle NB1, spp + mined + (1 | site) | zi ~ spp + mined", kind = "hurdle",
       d = sal, f = count ~ spp + mined + (1 | site), zi = ~ spp + mined,
       ours = truncated_nbinom1, tmb = tnb1),
  list(name = "Salamanders hurdle NB1, mined + (1 | site) + (1 | spp) | zi ~ mined", kind = "hurdle",
       d = sal, f = count ~ mined + (1 | site) + (1 | spp), zi = ~ mined,
       ours = truncated_nbinom1, tmb = tnb1),
  list(name = sprintf("simulated hurdle NB1, M = %d clusters of 8 | zi ~ w", M), kind = "hurdle",
       d = sim, f = y ~ x + (1 | g), zi = ~ w, ours = truncated_nbinom1, tmb = tnb1),
  # (Zero-inflated NB1 with a site intercept in the zero part is
  # degenerate on Salamanders, for glmmTMB too: logLik NA; see
  # test-two-part-nbinom1.R. Simulated instead.)
  list(name = "Salamanders hurdle NB1, spp + mined + (1 | site) | zi ~ mined + (1 | site)",
       kind = "zi_random", d = sal, f = count ~ spp + mined + (1 | site), zi = ~ mined + (1 | site),
       ours = truncated_nbinom1, tmb = tnb1),
  list(name = "Salamanders hurdle NB1, spp + mined + (1 | site) | zi ~ mined + (1 | spp)",
       kind = "zi_random", d = sal, f = count ~ spp + mined + (1 | site), zi = ~ mined + (1 | spp),
       ours = truncated_nbinom1, tmb = tnb1),
  list(name = "Salamanders hurdle NB1, spp + mined + (1 | site) + (1 | sample) | zi ~ mined + (1 | site)",
       kind = "zi_random", d = sal, f = count ~ spp + mined + (1 | site) + (1 | sample),
       zi = ~ mined + (1 | site), ours = truncated_nbinom1, tmb = tnb1),
  list(name = sprintf("simulated ZINB1, M = %d | zi ~ w + (1 | g)", M), kind = "zi_random",
       d = sim, f = yzi ~ x + (1 | g), zi = ~ w + (1 | g), ours = nbinom1, tmb = nb1),
  list(name = sprintf("simulated hurdle NB1, M = %d | zi ~ w + (1 | g)", M), kind = "zi_random",
       d = sim, f = yz ~ x + (1 | g), zi = ~ w + (1 | g), ours = truncated_nbinom1, tmb = tnb1))
if (length(words)) cases <- Filter(function(cs) cs$kind %in% words, cases)

cpu <- function(expr) {
  gc()
  tm <- system.time(val <- force(expr))
  list(time = tm[["elapsed"]], cpu = tm[["user.self"]] + tm[["sys.self"]], value = val)
}
# Whether this build fits the case at all (the zero part's random effects
# with NB1 are new): a refused case is listed, not timed.
fits <- function(cs) {
  tryCatch({
    suppressWarnings(glmm(cs$f, data = cs$d, family = cs$ours, ziformula = cs$zi, nAGQ = 1))
    TRUE
  }, error = function(e) { cat("  not fitted by this build:", conditionMessage(e), "\n"); FALSE })
}

rows <- list()
for (cs in cases) {
  cat(cs$name, "\n")
  if (!fits(cs)) next
  invisible(glmmTMB::glmmTMB(cs$f, ziformula = cs$zi, data = cs$d, family = cs$tmb))
  T <- matrix(NA_real_, reps, 4L, dimnames = list(NULL, c("ours", "ours_cpu", "tmb", "tmb_cpu")))
  for (r in seq_len(reps)) {
    # Alternate which package goes first.
    run_ours <- function() cpu(glmm(cs$f, data = cs$d, family = cs$ours, ziformula = cs$zi, nAGQ = 1))
    run_tmb <- function() cpu(glmmTMB::glmmTMB(cs$f, ziformula = cs$zi, data = cs$d, family = cs$tmb))
    if (r %% 2L) { o <- run_ours(); p <- run_tmb() } else { p <- run_tmb(); o <- run_ours() }
    T[r, ] <- c(o$time, o$cpu, p$time, p$cpu)
  }
  ratio <- T[, "tmb_cpu"] / pmax(T[, "ours_cpu"], 1e-3)
  rows[[length(rows) + 1L]] <- data.frame(
    model = cs$name,
    glmmTMB_s = sprintf("%.3f (%.3f)", median(T[, "tmb"]), median(T[, "tmb_cpu"])),
    glmmgee_s = sprintf("%.3f (%.3f)", median(T[, "ours"]), median(T[, "ours_cpu"])),
    cpu_ratio = sprintf("%.1f [%.1f, %.1f]", median(ratio), min(ratio), max(ratio)),
    dlogLik = sprintf("%+.1e", as.numeric(logLik(o$value)) - as.numeric(logLik(p$value))))
}
out <- do.call(rbind, rows)
names(out) <- c("model", "glmmTMB s (CPU)", "glmmgee s (CPU)", "CPU ratio median [range]",
                "dlogLik")
print(out, row.names = FALSE, right = FALSE)
cat(sprintf("reps = %d per package and case; load average at the end: %s\n", reps, loadavg()))
