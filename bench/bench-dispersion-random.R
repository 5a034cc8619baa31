# Side-by-side benchmark: random effects in the dispersion formula
# (location-scale mixed models) against glmmTMB, same data, same R session.
# M clusters of 12 rows (6,000 rows at M = 500), a covariate x in the mean,
# an arm z in both parts, independent random intercepts of the cluster in
# the mean (SD 0.7) and in the log dispersion (SD 0.5):
#   1. gaussian (log sigma);
#   2. nbinom2 (log theta);
#   3. Gamma, log link (log shape);
#   4. beta (log precision);
#   5. gaussian with a second, crossed factor in the dispersion
#      (M / 10 sites): dispformula = ~ z + (1 | g) + (1 | site);
#   6. gaussian with an AR(1) structure in the mean over each cluster's
#      four time points (three rows each; SD 0.5, correlation 0.6):
#      y ~ x + z + ar1(0 + tf | g), dispformula = ~ z + (1 | g);
#   7. zero-inflated nbinom2 (a fifth of the counts set to zero),
#      ziformula = ~ z;
#   8. the same data as a hurdle model, truncated_nbinom2, ziformula = ~ z.
# Both by the Laplace approximation. Times are medians of `reps` fits:
# elapsed and CPU seconds (user + system); ratio = glmmTMB / glmmgee.
# dlogLik = ours minus glmmTMB's (both complete log-likelihoods).
# glmmTMB fits random effects in dispformula from version 1.1.10 on.
#
# Usage: Rscript bench/bench-dispersion-random.R [M] [reps]   (default 500 3)
suppressPackageStartupMessages(library(glmmgee))
`%||%` <- function(a, b) if (is.null(a)) b else a
if (!requireNamespace("glmmTMB", quietly = TRUE) || packageVersion("glmmTMB") < "1.1.10")
  stop("glmmTMB 1.1.10 or later is needed for this benchmark (random effects in dispformula)")
args <- commandArgs(TRUE)
M <- if (length(args) >= 1L) as.integer(args[1L]) else 500L
reps <- if (length(args) >= 2L) as.integer(args[2L]) else 3L
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d")))
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

sim <- function(M, family, seed = 1) {
  set.seed(seed)
  k <- 12L
  n <- M * k
  d <- data.frame(g = factor(rep(seq_len(M), each = k)), x = stats::rnorm(n),
                  z = stats::rbinom(n, 1, 0.5))
  d$site <- factor(sample(max(2L, M %/% 10L), n, TRUE))
  d$tf <- factor(rep(rep(1:4, each = 3L), M))
  eta <- 0.5 + 0.4 * d$x + 0.3 * d$z + stats::rnorm(M, 0, 0.7)[d$g]
  if (family == "gaussian_ar1") {
    R <- chol(0.25 * 0.6^abs(outer(1:4, 1:4, "-")))
    u <- matrix(stats::rnorm(4L * M), M) %*% R
    eta <- 0.5 + 0.4 * d$x + 0.3 * d$z + u[cbind(as.integer(d$g), as.integer(d$tf))]
  }
  ld <- 0.3 + 0.4 * d$z + stats::rnorm(M, 0, 0.5)[d$g]
  if (family == "gaussian_crossed")
    ld <- ld + stats::rnorm(nlevels(d$site), 0, 0.3)[d$site]
  d$y <- switch(family,
    gaussian = , gaussian_crossed = , gaussian_ar1 = stats::rnorm(n, eta, exp(ld)),
    nbinom2 = stats::rnbinom(n, size = exp(ld), mu = exp(eta)),
    Gamma = stats::rgamma(n, shape = exp(ld), rate = exp(ld - eta)),
    beta = stats::rbeta(n, stats::plogis(eta) * exp(ld + 1), stats::plogis(-eta) * exp(ld + 1)),
    nbinom2_zero = stats::rnbinom(n, size = exp(ld), mu = exp(eta)) * stats::rbinom(n, 1, 0.8))
  d
}

tmb <- function(f) getExportedValue("glmmTMB", f)
cases <- list(
  list(name = "gaussian", family = gaussian(), tmb_family = gaussian(), disp = ~ z + (1 | g)),
  list(name = "nbinom2", family = nbinom2(), tmb_family = tmb("nbinom2")(), disp = ~ z + (1 | g)),
  list(name = "Gamma (log)", data = "Gamma", family = Gamma("log"), tmb_family = Gamma("log"), disp = ~ z + (1 | g)),
  list(name = "beta", family = beta_family(), tmb_family = tmb("beta_family")(),
       disp = ~ z + (1 | g)),
  list(name = "gaussian, crossed", data = "gaussian_crossed", family = gaussian(),
       tmb_family = gaussian(), disp = ~ z + (1 | g) + (1 | site)),
  list(name = "gaussian, ar1 mean", data = "gaussian_ar1", family = gaussian(),
       tmb_family = gaussian(), form = y ~ x + z + ar1(0 + tf | g), disp = ~ z + (1 | g)),
  list(name = "nbinom2, zero-infl.", data = "nbinom2_zero", family = nbinom2(),
       tmb_family = tmb("nbinom2")(), zi = ~ z, disp = ~ z + (1 | g)),
  list(name = "nbinom2, hurdle", data = "nbinom2_zero", family = truncated_nbinom2(),
       tmb_family = tmb("truncated_nbinom2")(), zi = ~ z, disp = ~ z + (1 | g)))

cat(sprintf("\n== M = %d clusters of 12 (%d rows); medians of %d fits ==\n", M, 12L * M, reps))
cat(sprintf("%-20s %9s %9s %7s %9s %9s %7s %10s\n", "model", "TMB el", "ours el", "ratio",
            "TMB cpu", "ours cpu", "ratio", "dlogLik"))
for (cs in cases) {
  d <- sim(M, cs$data %||% cs$name)
  if (cs$name == "nbinom2") d$y <- round(d$y)
  form <- cs$form %||% (y ~ x + z + (1 | g))
  zi <- cs$zi %||% ~ 0
  ours <- timeit_median(function() glmm(form, d, family = cs$family, dispformula = cs$disp,
                                        ziformula = if (!is.null(cs$zi)) zi), reps)
  peer <- timeit_median(function() glmmTMB::glmmTMB(form, d, family = cs$tmb_family,
                                                    dispformula = cs$disp, ziformula = zi), reps)
  dll <- as.numeric(logLik(ours$value)) - as.numeric(logLik(peer$value))
  cat(sprintf("%-20s %9.3f %9.3f %7.1f %9.3f %9.3f %7.1f %10.2g\n", cs$name, peer$elapsed,
              ours$elapsed, peer$elapsed / ours$elapsed, peer$cpu, ours$cpu, peer$cpu / ours$cpu,
              dll))
}
