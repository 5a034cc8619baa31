# Side-by-side benchmark: more covariance structures, and random effects in
# the dispersion formula, against glmmTMB (1.1.15 or later for hetar1(),
# homcs(), homdiag(), propto(), equalto() and dispformula random effects),
# same data, same R session. Every case has at least 5,000 rows; all fits
# by the Laplace approximation (glmmgee nAGQ = 1, as glmmTMB):
#   1. hetar1(): Poisson, 1,000 groups x 5 times, y ~ x + hetar1(0 + times
#      | group), SDs 0.5, 0.7, 0.9, 0.7, 0.5, correlation 0.6 per lag.
#   2. homcs(): the same design, one SD 0.8, common correlation 0.4.
#   3. homdiag(): the same design, independent effects of SD 0.7.
#   4. diag(): the same design, SDs 0.4, 0.6, 0.8, 1.0, 0.5.
#   5. propto(0 + unit | g, K): Poisson, 50 units with a known
#      kinship-like K (the correlation matrix of a random tree's shared
#      branch lengths), 100 rows per unit (5,000 rows), one level of g (as
#      glmmTMB's propto example); D = 0.5 K.
#   6. equalto(0 + unit | g, V): the same design, D = V = 0.4 x an AR-like
#      correlation (0.7^|i-j| + 0.2 I, rescaled), nothing estimated for
#      the term.
#   7. nbinom2 y ~ x + (1 | g), dispformula = ~ x + (1 | g): 500 groups x
#      10 rows; log mean 0.5 + 0.4 x + N(0, 0.7^2), log theta 0.3 + 0.4 x
#      + N(0, 0.5^2) by group.
#   8. the same for gaussian (log sigma 0.3 + 0.4 x + N(0, 0.5^2)).
# Times are medians of `reps` fits: elapsed and CPU seconds (user +
# system); ratio = glmmTMB / glmmgee (read the CPU one on a shared
# machine). dlogLik = ours minus glmmTMB's (both complete log-likelihoods).
# "conv" says whether each fit converged without warnings (TMB: pdHess and
# no R warning; ours: no $optinfo$warnings and no R warning), TMB/ours. A
# case whose first glmmTMB fit takes more than 2 minutes is timed once.
#
# Usage: Rscript bench/bench-covstruct-more.R [reps]   (default 3)
suppressPackageStartupMessages(library(glmmgee))
`%||%` <- function(a, b) if (is.null(a)) b else a
if (!requireNamespace("glmmTMB", quietly = TRUE) || packageVersion("glmmTMB") < "1.1.15")
  stop("glmmTMB 1.1.15 or later is needed for this benchmark")
args <- commandArgs(TRUE)
reps <- if (length(args) >= 1L) as.integer(args[1L]) else 3L
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d")))

# timeit(), timeit_median(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# fn() with its R warnings collected (and muffled): list(value, warnings).
with_warnings <- function(fn) {
  w <- character()
  val <- withCallingHandlers(fn(), warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = unique(w))
}

# timeit_median() of fn() over `reps` runs after a first, untimed-in-the-
# median run (which also loads what the first fit loads); when that first
# run takes over `cap` elapsed seconds it is the only one.
timeit_capped <- function(fn, reps, cap = 120) {
  first <- timeit(fn())
  if (first$time > cap)
    return(list(elapsed = first$time, cpu = first$cpu, value = first$value, reps = 1L))
  c(timeit_median(fn, reps), reps = reps)
}

set.seed(20261201)
# 1-4. groups x times, effects b with covariance diag(s) R diag(s)
sim_times <- function(M, s, R) {
  n <- length(s)
  b <- matrix(stats::rnorm(M * n), M) %*% chol(R) %*% diag(s)
  d <- data.frame(times = factor(rep(seq_len(n), M)), group = factor(rep(seq_len(M), each = n)),
                  x = stats::rnorm(M * n))
  d$y <- stats::rpois(M * n, exp(0.3 + 0.2 * d$x + as.vector(t(b))))
  d
}
nt <- 5L
lag <- abs(outer(seq_len(nt), seq_len(nt), "-"))
het_d <- sim_times(1000, c(0.5, 0.7, 0.9, 0.7, 0.5), 0.6^lag)
homcs_d <- sim_times(1000, rep(0.8, nt), matrix(0.4, nt, nt) + diag(0.6, nt))
homdiag_d <- sim_times(1000, rep(0.7, nt), diag(nt))
diag_d <- sim_times(1000, c(0.4, 0.6, 0.8, 1.0, 0.5), diag(nt))

# 5-6. 50 units with a known matrix, one group. A random tree: the 50 tips
# split recursively at random points, each branch of length U(0.1, 1);
# K[i, j] is the length the paths of tips i and j share from the root, as a
# correlation. glmmTMB needs the dimnames of the matrix to be the levels.
tree_cov <- function(n) {
  K <- matrix(0, n, n)
  split <- function(tips) {
    bl <- stats::runif(1, 0.1, 1)
    K[tips, tips] <<- K[tips, tips] + bl
    if (length(tips) > 1L) {
      k <- sample(length(tips) - 1L, 1L)
      split(tips[seq_len(k)])
      split(tips[-seq_len(k)])
    }
  }
  split(seq_len(n))
  stats::cov2cor(K)
}
nu <- 50L
units <- sprintf("u%02d", seq_len(nu))
K <- tree_cov(nu)
V <- 0.4 * stats::cov2cor(0.7^abs(outer(seq_len(nu), seq_len(nu), "-")) + diag(0.2, nu))
dimnames(K) <- dimnames(V) <- list(units, units)
sim_units <- function(D) {
  d <- data.frame(unit = factor(rep(units, each = 100L), levels = units), g = factor(1))
  d$x <- stats::rnorm(nrow(d))
  b <- drop(t(chol(D)) %*% stats::rnorm(nu))
  d$y <- stats::rpois(nrow(d), exp(0.2 + 0.3 * d$x + b[as.integer(d$unit)]))
  d
}
propto_d <- sim_units(0.5 * K)
equalto_d <- sim_units(V)

# 7-8. random intercepts of g in the mean and in the log dispersion
sim_disp <- function(M, family, k = 10L) {
  n <- M * k
  d <- data.frame(g = factor(rep(seq_len(M), each = k)), x = stats::rnorm(n))
  eta <- 0.5 + 0.4 * d$x + stats::rnorm(M, 0, 0.7)[d$g]
  ld <- 0.3 + 0.4 * d$x + stats::rnorm(M, 0, 0.5)[d$g]
  d$y <- if (family == "nbinom2") stats::rnbinom(n, size = exp(ld), mu = exp(eta))
         else stats::rnorm(n, eta, exp(ld))
  d
}
nb_d <- sim_disp(500, "nbinom2")
gs_d <- sim_disp(500, "gaussian")

cases <- list(
  list(name = "poisson hetar1, 5 times", data = het_d, family = "poisson",
       form = y ~ x + hetar1(0 + times | group)),
  list(name = "poisson homcs, 5 times", data = homcs_d, family = "poisson",
       form = y ~ x + homcs(0 + times | group)),
  list(name = "poisson homdiag, 5 times", data = homdiag_d, family = "poisson",
       form = y ~ x + homdiag(0 + times | group)),
  list(name = "poisson diag, 5 times", data = diag_d, family = "poisson",
       form = y ~ x + diag(0 + times | group)),
  list(name = "poisson propto, 50 units", data = propto_d, family = "poisson",
       form = y ~ x + propto(0 + unit | g, K)),
  list(name = "poisson equalto, 50 units", data = equalto_d, family = "poisson",
       form = y ~ x + equalto(0 + unit | g, V)),
  list(name = "nbinom2, disp ~ x + (1|g)", data = nb_d, family = "nbinom2",
       form = y ~ x + (1 | g), disp = ~ x + (1 | g)),
  list(name = "gaussian, disp ~ x + (1|g)", data = gs_d, family = "gaussian",
       form = y ~ x + (1 | g), disp = ~ x + (1 | g)))

fit_ours <- function(cs) with_warnings(function()
  glmm(cs$form, cs$data, family = cs$family, nAGQ = 1, dispformula = cs$disp))
fit_tmb <- function(cs) with_warnings(function()
  glmmTMB::glmmTMB(cs$form, cs$data, family = cs$family, dispformula = cs$disp %||% ~ 1))

cat(sprintf("\n== medians of %d fits (OMP_NUM_THREADS = %s) ==\n", reps, Sys.getenv("OMP_NUM_THREADS", "unset")))
cat(sprintf("%-27s %5s %8s %8s %6s %8s %8s %6s %10s %8s\n", "model", "rows", "TMB el", "ours el",
            "ratio", "TMB cpu", "ours cpu", "ratio", "dlogLik", "conv"))
results <- list()
notes <- character()
for (cs in cases) {
  ours <- timeit_capped(function() fit_ours(cs), reps)
  tmb <- timeit_capped(function() fit_tmb(cs), reps)
  fo <- ours$value$value
  ft <- tmb$value$value
  ok_t <- isTRUE(ft$sdr$pdHess) && length(tmb$value$warnings) == 0L
  ok_o <- length(fo$optinfo$warnings) == 0L && length(ours$value$warnings) == 0L
  dll <- as.numeric(logLik(fo)) - as.numeric(logLik(ft))
  cat(sprintf("%-27s %5d %8.3f %8.3f %6.1f %8.3f %8.3f %6.1f %10.2g %8s%s\n", cs$name, nrow(cs$data),
              tmb$elapsed, ours$elapsed, tmb$elapsed / ours$elapsed,
              tmb$cpu, ours$cpu, tmb$cpu / ours$cpu, dll,
              paste(c("no", "ok")[1L + c(ok_t, ok_o)], collapse = "/"),
              if (tmb$reps < reps) sprintf("  (TMB timed %d x)", tmb$reps) else ""))
  if (!ok_t) notes <- c(notes, sprintf("%s: glmmTMB pdHess %s; warnings: %s", cs$name,
                                       ft$sdr$pdHess, paste(tmb$value$warnings, collapse = " | ")))
  if (!ok_o) notes <- c(notes, sprintf("%s: glmmgee warnings: %s", cs$name,
                                       paste(c(fo$optinfo$warnings, ours$value$warnings), collapse = " | ")))
  results[[cs$name]] <- list(ours = fo, tmb = ft, dlogLik = dll)
}
if (length(notes)) cat("\n", paste(notes, collapse = "\n"), "\n", sep = "")
# The last fits of each case, for a look afterwards.
if (nzchar(Sys.getenv("BENCH_SAVE"))) saveRDS(results, Sys.getenv("BENCH_SAVE"))
