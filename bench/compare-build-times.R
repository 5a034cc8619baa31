# Is one build of glmmgee slower than another? Times the same workloads
# (one per fitting engine, and the methods that refit: profile intervals,
# GEE) with two installed builds, alternating between them in fresh R
# processes, and reports each workload's CPU-time ratio new / old.
#
#   Rscript bench/compare-build-times.R OLD_LIB NEW_LIB [rounds] [workloads]
#
# rounds: how many times each build times each workload (default 5; the
#   builds alternate, old first in odd rounds, new first in even ones);
# workloads: a comma-separated subset of the names below.
# Each timing is the CPU seconds (user + system) per fit of as many fits as
# take about a second, after one untimed fit; the ratio reported is the
# median over rounds of new / old. One thread per fit (OMP_NUM_THREADS=1).
# A ratio above 1.05 is flagged.

args <- commandArgs(TRUE)

# The workloads: `setup` builds the data (not timed), `fit` the timed call.
workloads <- list(
  agq_binomial_slopes = list(
    setup = function() {
      set.seed(1)
      M <- 300; m <- 8
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      b0 <- rnorm(M, 0, 0.8)[g]; b1 <- rnorm(M, 0, 0.4)[g]
      data.frame(g = g, x = x, y = rbinom(M * m, 1, plogis(-0.3 + 0.6 * x + b0 + b1 * x)))
    },
    fit = function(d) glmm(y ~ x + (x | g), data = d, family = binomial, nAGQ = 5)),
  laplace_poisson = list(
    setup = function() {
      set.seed(2)
      M <- 400; m <- 6
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      data.frame(g = g, x = x, y = rpois(M * m, exp(0.4 + 0.3 * x + rnorm(M, 0, 0.6)[g])))
    },
    fit = function(d) glmm(y ~ x + (1 | g), data = d, family = poisson, nAGQ = 1)),
  lmm_one_factor_reml = list(
    setup = function() {
      set.seed(3)
      M <- 200; m <- 10
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      data.frame(g = g, x = x, y = 1 + 0.5 * x + rnorm(M)[g] + 0.3 * rnorm(M)[g] * x + rnorm(M * m))
    },
    fit = function(d) glmm(y ~ x + (x | g), data = d, REML = TRUE)),
  lmm_sparse_crossed = list(
    setup = function() {
      set.seed(4)
      n <- 2000
      d <- data.frame(a = factor(sample(40, n, TRUE)), b = factor(sample(30, n, TRUE)), x = rnorm(n))
      d$y <- 1 + 0.5 * d$x + rnorm(40)[d$a] + 0.7 * rnorm(30)[d$b] + rnorm(n)
      d
    },
    fit = function(d) glmm(y ~ x + (1 | a) + (1 | b), data = d, REML = TRUE)),
  laplace_sparse_binomial = list(
    setup = function() {
      set.seed(5)
      n <- 2000
      d <- data.frame(a = factor(sample(40, n, TRUE)), b = factor(sample(30, n, TRUE)), x = rnorm(n))
      d$y <- rbinom(n, 1, plogis(-0.2 + 0.5 * d$x + rnorm(40, 0, 0.8)[d$a] + rnorm(30, 0, 0.5)[d$b]))
      d
    },
    fit = function(d) glmm(y ~ x + (1 | a) + (1 | b), data = d, family = binomial)),
  nbinom2_zero_inflated = list(
    setup = function() {
      set.seed(6)
      M <- 200; m <- 6
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      mu <- exp(0.8 + 0.4 * x + rnorm(M, 0, 0.5)[g])
      y <- ifelse(runif(M * m) < 0.2, 0, rnbinom(M * m, mu = mu, size = 2))
      data.frame(g = g, x = x, y = y)
    },
    fit = function(d) glmm(y ~ x + (1 | g), data = d, family = nbinom2, ziformula = ~1)),
  zero_part_random_effects = list(
    setup = function() {
      set.seed(7)
      M <- 150; m <- 8
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      p0 <- plogis(-1 + rnorm(M, 0, 0.7)[g])
      y <- ifelse(runif(M * m) < p0, 0, rpois(M * m, exp(0.7 + 0.4 * x + rnorm(M, 0, 0.5)[g])))
      data.frame(g = g, x = x, y = y)
    },
    fit = function(d) glmm(y ~ x + (1 | g), data = d, family = poisson, ziformula = ~ (1 | g))),
  ordinal_one_factor = list(
    setup = function() {
      set.seed(8)
      M <- 200; m <- 6
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      eta <- 0.7 * x + rnorm(M, 0, 0.9)[g]
      y <- cut(eta + rlogis(M * m), c(-Inf, -1, 0, 1.2, Inf), ordered_result = TRUE)
      data.frame(g = g, x = x, y = y)
    },
    fit = function(d) glmm(y ~ x + (1 | g), data = d, family = cumulative())),
  nested_quadrature = list(
    setup = function() {
      set.seed(9)
      A <- 60; B <- 4; m <- 5
      a <- rep(seq_len(A), each = B * m)
      b <- rep(seq_len(A * B), each = m)
      x <- rnorm(A * B * m)
      data.frame(a = factor(a), b = factor(b), x = x,
                 y = rbinom(A * B * m, 1, plogis(0.2 + 0.5 * x + rnorm(A)[a] + 0.6 * rnorm(A * B)[b])))
    },
    fit = function(d) glmm(y ~ x + (1 | a / b), data = d, family = binomial, nAGQ = 5)),
  known_covariance_gaussian = list(
    setup = function() {
      set.seed(10)
      n <- 400
      L <- matrix(rnorm(n * 50), n, 50)
      K <- tcrossprod(L) / 50
      dimnames(K) <- list(seq_len(n), seq_len(n))
      u <- drop(t(chol(K + diag(1e-8, n))) %*% rnorm(n))
      x <- rnorm(n)
      list(d = data.frame(id = factor(seq_len(n)), x = x, y = 1 + 0.5 * x + 0.8 * u + rnorm(n)),
           K = K)
    },
    fit = function(d) glmm(y ~ x + (1 | id), data = d$d, covariance = list(id = d$K))),
  ranef_dist_bridge = list(
    setup = function() {
      set.seed(11)
      M <- 200; m <- 6
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      data.frame(g = g, x = x, y = rbinom(M * m, 1, plogis(0.3 + 0.6 * x + rnorm(M)[g])))
    },
    fit = function(d) glmm(y ~ x + (1 | g), data = d, family = binomial, ranef_dist = "bridge")),
  profile_intervals = list(
    setup = function() {
      set.seed(12)
      M <- 100; m <- 6
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      d <- data.frame(g = g, x = x, y = rbinom(M * m, 1, plogis(-0.2 + 0.5 * x + rnorm(M)[g])))
      glmm(y ~ x + (1 | g), data = d, family = binomial)
    },
    fit = function(fit) confint(fit, method = "profile")),
  gee_exchangeable = list(
    setup = function() {
      set.seed(13)
      M <- 1000; m <- 5
      g <- rep(seq_len(M), each = m)
      x <- rnorm(M * m)
      data.frame(g = g, x = x, y = rbinom(M * m, 1, plogis(-0.2 + 0.5 * x + rnorm(M, 0, 0.7)[g])))
    },
    fit = function(d) gee(y ~ x, id = g, data = d, family = binomial, corstr = "exchangeable")))

# In a child process: time one workload with the build on the library path.
if (length(args) >= 1L && args[1L] == "--child") {
  suppressPackageStartupMessages(library(glmmgee))
  w <- workloads[[args[2L]]]
  reps <- as.integer(args[3L])
  d <- w$setup()
  invisible(suppressWarnings(w$fit(d)))
  if (reps == 0L) {
    # (the first call: how many fits take about a second)
    t <- system.time(suppressWarnings(w$fit(d)))
    reps <- max(1L, ceiling(1 / max(t[["user.self"]] + t[["sys.self"]], 1e-3)))
  }
  gc()
  t <- system.time(for (i in seq_len(reps)) suppressWarnings(w$fit(d)))
  cat(reps, (t[["user.self"]] + t[["sys.self"]]) / reps, "\n")
  quit(save = "no")
}

if (length(args) < 2L)
  stop("usage: compare-build-times.R OLD_LIB NEW_LIB [rounds] [workloads]", call. = FALSE)
libs <- c(old = normalizePath(args[1L]), new = normalizePath(args[2L]))
rounds <- if (length(args) >= 3L) as.integer(args[3L]) else 5L
names_run <- if (length(args) >= 4L) strsplit(args[4L], ",")[[1L]] else names(workloads)
unknown <- setdiff(names_run, names(workloads))
if (length(unknown))
  stop("unknown workloads: ", paste(unknown, collapse = ", "), call. = FALSE)
self <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1L]))

child <- function(lib, name, reps) {
  out <- system2(file.path(R.home("bin"), "Rscript"), c(shQuote(self), "--child", name, reps),
                 stdout = TRUE, stderr = FALSE,
                 env = c(sprintf("R_LIBS=%s", lib), "OMP_NUM_THREADS=1"))
  v <- as.numeric(strsplit(trimws(out[length(out)]), " +")[[1L]])
  if (length(v) != 2L || anyNA(v)) stop("workload ", name, " failed with ", lib, call. = FALSE)
  v
}

cat(sprintf("%-28s %9s %9s %7s   (CPU seconds per fit, medians of %d rounds)\n",
            "workload", "old", "new", "ratio", rounds))
flag <- character()
for (nm in names_run) {
  reps <- child(libs[["old"]], nm, 0L)[1L]
  tm <- matrix(NA_real_, rounds, 2L, dimnames = list(NULL, names(libs)))
  for (r in seq_len(rounds)) {
    ord <- if (r %% 2L == 1L) c("old", "new") else c("new", "old")
    for (b in ord) tm[r, b] <- child(libs[[b]], nm, reps)[2L]
  }
  ratio <- stats::median(tm[, "new"] / tm[, "old"])
  if (ratio > 1.05) flag <- c(flag, nm)
  cat(sprintf("%-28s %9.4f %9.4f %7.3f%s\n", nm, stats::median(tm[, "old"]),
              stats::median(tm[, "new"]), ratio, if (ratio > 1.05) "  slower" else ""))
}
if (length(flag)) cat("\nslower by more than 5%:", paste(flag, collapse = ", "), "\n")
