# Helpers shared by the bench scripts, which source() this file from their
# own directory (bench_source() in each): the timing and memory readings
# every side-by-side benchmark needs, written once.

# Elapsed and CPU (user + system) seconds of evaluating `expr`, after a
# gc(): on a shared machine the CPU figure is the steadier one (elapsed
# time includes waiting for a core).
timeit <- function(expr) {
  gc()
  tm <- system.time(val <- force(expr))
  list(time = tm[["elapsed"]], cpu = tm[["user.self"]] + tm[["sys.self"]], value = val)
}

# The medians of `reps` runs of fn(): elapsed and CPU seconds, and the
# last run's value.
timeit_median <- function(fn, reps) {
  runs <- lapply(seq_len(reps), function(r) timeit(fn()))
  list(elapsed = stats::median(vapply(runs, `[[`, 1, "time")),
       cpu = stats::median(vapply(runs, `[[`, 1, "cpu")), value = runs[[reps]]$value)
}

# A field of /proc/self/status in kB: "VmHWM" the peak resident memory,
# "VmRSS" the current one (Linux).
peak_kb <- function(field = "VmHWM") {
  st <- readLines("/proc/self/status")
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", st[startsWith(st, paste0(field, ":"))]))
}

peak_mb <- function(field = "VmHWM") peak_kb(field) / 1024

# The simulated crossed two-part data of the two-part sparse engine's
# benchmarks (bench-zi-random.R, bench-zi-sparse-repeat.R): 1,500 rows, a
# count part on factors a and b and a zero part on a and cc, known truth.
# Sets the seed (7) itself, as both scripts did.
zi_crossed_data <- function() {
  set.seed(7)
  nc <- 1500L
  ia <- sample(40, nc, TRUE); ib <- sample(30, nc, TRUE); ic <- sample(25, nc, TRUE)
  xc <- rnorm(nc)
  ua <- rnorm(40, 0, 0.5); ub <- rnorm(30, 0, 0.4); va <- rnorm(40, 0, 0.7); vc <- rnorm(25, 0, 0.6)
  data.frame(a = factor(ia), b = factor(ib), cc = factor(ic), x = xc,
             y = ifelse(runif(nc) < plogis(-0.8 + 0.7 * xc + va[ia] + vc[ic]), 0,
                        rpois(nc, exp(0.8 + 0.5 * xc + ua[ia] + ub[ib]))))
}

# The several-term LMM benches' simulated sets (bench-lmm-multi.R,
# bench-lmm-front.R): a crossed design (2,000 rows, factors of 40 and 30
# levels) and a nested one (50 groups x 8 subgroups).
sim_crossed <- function(seed, n = 2000) {
  set.seed(seed)
  d <- data.frame(a = factor(sample(40, n, TRUE)), b = factor(sample(30, n, TRUE)), x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(40)[d$a] + 0.7 * rnorm(30)[d$b] + rnorm(n)
  d
}
sim_nested <- function(seed, n = 2000) {
  set.seed(seed)
  d <- data.frame(a = factor(sample(50, n, TRUE)), b = factor(sample(8, n, TRUE)), x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(50)[d$a] +
    0.6 * rnorm(400)[(as.integer(d$a) - 1) * 8 + as.integer(d$b)] + rnorm(n)
  d
}

# The distributed benches' workers (bench-shards.R, bench-shards-gee.R): two
# local PSOCK workers with TCP no-delay on both ends of every connection
# (parallelly's option; base R 4.2's makePSOCKcluster() has no setting for
# it). The caller stops them.
bench_workers <- function() {
  if (requireNamespace("parallelly", quietly = TRUE))
    parallelly::makeClusterPSOCK(2L, socketOptions = "no-delay", verbose = FALSE) else
    parallel::makePSOCKcluster(2L)
}

# Shard s of the distributed benches' binary panel, written by a worker to
# files[s]: clusters ((s-1) M/S + 1) .. (s M/S), whole clusters of csize
# rows, seeded with s; logit P(y = 1) = -0.5 + 0.6 x1 - 0.4 x2 + b_g,
# b_g ~ N(0, 0.8^2). With `waves`, a column t of positions 1..csize.
write_binary_shard <- function(s, files, M, S, csize, waves) {
  set.seed(s)
  g <- rep(seq(floor((s - 1) * M / S) + 1, floor(s * M / S)), each = csize)
  n <- length(g)
  b <- stats::rnorm(length(unique(g)), sd = 0.8)[g - g[1L] + 1L]
  x1 <- stats::rnorm(n)
  x2 <- stats::rbinom(n, 1, 0.4)
  y <- stats::rbinom(n, 1, stats::plogis(-0.5 + 0.6 * x1 - 0.4 * x2 + b))
  d <- if (waves) data.frame(y = y, x1 = x1, x2 = x2, g = g, t = rep(seq_len(csize), length.out = n))
       else data.frame(y = y, x1 = x1, x2 = x2, g = g)
  saveRDS(d, files[s])
  NULL
}

# The S shard files of that panel (M clusters), written by the workers cl
# themselves into a new temporary folder, so the data never pass through
# this process; then glmmgee loaded on the workers (part of starting them,
# not of a fit). Returns the files.
write_binary_shards <- function(cl, M, S, csize, waves = FALSE) {
  dir <- tempfile("shards")
  dir.create(dir)
  files <- file.path(dir, sprintf("shard%03d.rds", seq_len(S)))
  invisible(parallel::clusterApply(cl, seq_len(S), write_binary_shard, files = files, M = M,
                                   S = S, csize = csize, waves = waves))
  invisible(parallel::clusterEvalQ(cl, suppressMessages(library(glmmgee))))
  files
}

# The folder of the running bench script (bench/ of the working directory
# when it is not run by Rscript), and a file of the tests' fixtures in
# tests/testthat beside it, sourced so a bench simulates as the tests do.
bench_dir <- function()
  dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
            "bench/.")[1L])
source_test_helper <- function(name)
  source(file.path(bench_dir(), "..", "tests", "testthat", name))
