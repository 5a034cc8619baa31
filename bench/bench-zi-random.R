# Side-by-side benchmark: zero-inflated and hurdle GLMMs with a random
# intercept in both parts. glmmgee against glmmTMB (independent terms,
# Laplace: ziformula = ~ x + (1 | g)) and GLMMadaptive (one covariance over
# both parts, zi_random = ~ 1 | g, nAGQ = 11, its default control) in the
# same R session. Prints elapsed and CPU seconds, the ratios peer / glmmgee
# and the logLik difference (glmmgee minus the peer).
#
# The last four cases have several terms or another grouping factor in the
# zero part (the two-part sparse engine) and are run against glmmTMB only.
#
# Usage: Rscript bench/bench-zi-random.R [M] [reps] [one-factor | sparse]
#   M: simulated clusters of 8 (default 500); reps: fits per row (default 1;
#   with more, the median elapsed and CPU seconds of the reps); "one-factor":
#   only the first three cases (the one-factor engine); "sparse": only the
#   two-part sparse engine's four cases. The words may stand anywhere after M
#   (Rscript bench/bench-zi-random.R 100 sparse; ... 100 3 one-factor).
suppressPackageStartupMessages(library(glmmgee))
# timeit(), peak_kb(), peak_mb(), zi_crossed_data(): bench-common.R beside
# this script (or in bench/ of the working directory when it is not run by
# Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))
have_tmb <- requireNamespace("glmmTMB", quietly = TRUE)
have_ga <- requireNamespace("GLMMadaptive", quietly = TRUE)
args <- commandArgs(TRUE)
M <- if (length(args)) as.integer(args[1]) else 500L
# The words select cases; the numbers after M are the repetitions.
words <- args[-1][args[-1] %in% c("sparse", "one-factor")]
nums <- setdiff(args[-1], words)
sparse_only <- "sparse" %in% words
one_factor <- "one-factor" %in% words
reps <- if (length(nums)) as.integer(nums[1]) else 1L
if (is.na(reps) || reps < 1L) stop("bench-zi-random.R: reps must be a positive integer")
cat(sprintf("glmmgee %s, R %s, %s, load average %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d %H:%M"),
            paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")))
timeit <- function(expr) {
  ex <- substitute(expr)
  pf <- parent.frame()
  val <- NULL
  tms <- vapply(seq_len(reps), function(i) {
    gc()
    tm <- system.time(val <<- eval(ex, pf))
    c(tm[["elapsed"]], tm[["user.self"]] + tm[["sys.self"]])
  }, numeric(2))
  list(time = stats::median(tms[1L, ]), cpu = stats::median(tms[2L, ]), value = val)
}
set.seed(20261123)
g <- rep(seq_len(M), each = 8L)
x <- rnorm(8L * M); w <- rbinom(8L * M, 1, 0.5)
B <- matrix(rnorm(2 * M), M) %*% chol(matrix(c(0.36, 0.24, 0.24, 0.64), 2))
mu <- exp(0.6 + 0.4 * x + B[g, 1])
sim <- data.frame(g = factor(g), x = x, w = w,
                  y = ifelse(runif(8L * M) < plogis(-0.7 + 0.8 * w + B[g, 2]), 0, rpois(8L * M, mu)))
crossed <- zi_crossed_data()
utils::data("Salamanders", package = "glmmTMB", envir = environment())
sal <- Salamanders

cases <- list(
  list(name = "Salamanders ZIP, mined | zi ~ mined + (1 | site)", d = sal,
       f = count ~ mined + (1 | site), zi = ~ mined + (1 | site), ours = poisson,
       tmb = poisson, ga = "zi.poisson", gf = count ~ mined, gr = ~ 1 | site, gz = ~ mined),
  list(name = "Salamanders hurdle Poisson, mined | zi ~ mined + (1 | site)", d = sal,
       f = count ~ mined + (1 | site), zi = ~ mined + (1 | site), ours = truncated_poisson,
       tmb = "truncated_poisson", ga = "hurdle.poisson", gf = count ~ mined, gr = ~ 1 | site,
       gz = ~ mined),
  list(name = sprintf("simulated ZIP, M = %d clusters of 8", M), d = sim,
       f = y ~ x + (1 | g), zi = ~ w + (1 | g), ours = poisson, tmb = poisson,
       ga = "zi.poisson", gf = y ~ x, gr = ~ 1 | g, gz = ~ w),
  # Several terms or another grouping factor in the zero part: the
  # two-part sparse engine, against glmmTMB only (GLMMadaptive has one
  # grouping factor).
  list(name = "Salamanders ZIP, spp + mined + (1 | site) + (1 | spp:mined) | zi ~ spp + (1 | site)",
       d = sal, f = count ~ spp + mined + (1 | site) + (1 | spp:mined), zi = ~ spp + (1 | site),
       ours = poisson, tmb = poisson),
  list(name = "Salamanders ZINB, mined + (1 | site) + (1 | spp) | zi ~ (1 | site)",
       d = sal, f = count ~ mined + (1 | site) + (1 | spp), zi = ~ (1 | site),
       ours = nbinom2, tmb = "nbinom2"),
  list(name = "Salamanders hurdle Poisson, mined + (1 | site) | zi ~ mined + (1 | spp)",
       d = sal, f = count ~ mined + (1 | site), zi = ~ mined + (1 | spp),
       ours = truncated_poisson, tmb = "truncated_poisson"),
  list(name = "simulated crossed ZIP, n = 1,500, (1 | a) + (1 | b) | zi ~ x + (1 | a) + (1 | c)",
       d = crossed, f = y ~ x + (1 | a) + (1 | b), zi = ~ x + (1 | a) + (1 | cc),
       ours = poisson, tmb = poisson))
if (one_factor) cases <- cases[1:3]

if (sparse_only) cases <- Filter(function(cs) is.null(cs$ga), cases)

# Warm-up, untimed.
invisible(glmm(count ~ mined + (1 | site), data = sal, family = poisson,
               ziformula = ~ mined + (1 | site)))
if (have_tmb) invisible(glmmTMB::glmmTMB(count ~ mined + (1 | site), zi = ~ mined, data = sal,
                                         family = poisson))
rows <- list()
row <- function(case, peer, tp, to, dl) {
  rows[[length(rows) + 1L]] <<- data.frame(
    model = case, peer = peer, peer_s = sprintf("%.3f (%.3f)", tp$time, tp$cpu),
    glmmgee_s = sprintf("%.3f (%.3f)", to$time, to$cpu),
    ratio = sprintf("%.1f (%.1f)", tp$time / to$time, tp$cpu / to$cpu),
    dlogLik = sprintf("%+.1e", dl))
}
for (cs in cases) {
  fam_tmb <- if (is.character(cs$tmb)) getExportedValue("glmmTMB", cs$tmb) else cs$tmb
  if (have_tmb) {
    to <- timeit(glmm(cs$f, data = cs$d, family = cs$ours, ziformula = cs$zi, nAGQ = 1))
    tp <- timeit(glmmTMB::glmmTMB(cs$f, zi = cs$zi, data = cs$d, family = fam_tmb))
    row(cs$name, "glmmTMB (independent, Laplace)", tp, to,
        as.numeric(logLik(to$value)) - as.numeric(logLik(tp$value)))
  }
  if (have_ga && !is.null(cs$ga)) {
    to <- timeit(glmm(cs$f, data = cs$d, family = cs$ours, ziformula = cs$zi,
                      zi_correlated = TRUE, nAGQ = 11))
    tp <- timeit(GLMMadaptive::mixed_model(cs$gf, random = cs$gr, data = cs$d,
                                           family = getExportedValue("GLMMadaptive", cs$ga)(),
                                           zi_fixed = cs$gz, zi_random = cs$gr, nAGQ = 11))
    row(cs$name, "GLMMadaptive (correlated, nAGQ 11)", tp, to,
        as.numeric(logLik(to$value)) - as.numeric(logLik(tp$value)))
  }
}
out <- do.call(rbind, rows)
names(out) <- c("model", "peer", "peer s (CPU)", "glmmgee s (CPU)", "ratio (CPU)", "dlogLik")
print(out, row.names = FALSE, right = FALSE)
cat("load average at the end:", readLines("/proc/loadavg", warn = FALSE), "\n")
