# Side-by-side benchmark: structured random-effect covariances against
# glmmTMB, same data, same R session.
#   1. glmmTMB's covstruct vignette: gaussian AR(1) over 6 time points,
#      y ~ ar1(times + 0 | group), M groups.
#   2. Poisson with AR(1) random effects over 4 time points and a covariate,
#      y ~ x + ar1(0 + times | group), Laplace (glmmTMB's approximation).
#   3. The same with cs() (heterogeneous compound symmetry).
#   4. Poisson with toep() (Toeplitz: a correlation per lag, a standard
#      deviation per time) over 6 time points.
#   5. The same with homtoep() (one standard deviation); glmmTMB fits it
#      as its toep() with the standard deviations mapped equal (`map`).
# Several terms (sparse Laplace engine), the same data with a site factor
# crossed with the groups (M / 20 sites), y ~ ... + (1 | site):
#   6. the gaussian AR(1) vignette model + (1 | site);
#   7. Poisson ar1(0 + times | group) + (1 | site);
#   8. Poisson cs(0 + times | group) + (1 | site);
#   9. Poisson toep(0 + times | group) + (1 | site), 6 times.
# Two-part models (zero-inflated Poisson, 5 time points, so 5,000 rows at
# M = 1000), structures beside and inside the zero part:
#  10. ar1(0 + times | group) with ziformula = ~ x;
#  11. the same with ziformula = ~ x + (1 | group);
#  12. (1 | group) with ziformula = ~ x + ar1(0 + times | group).
# Times are medians of `reps` fits: elapsed seconds and, because the
# machine may be shared, CPU seconds (user + system) as well; ratio =
# glmmTMB / glmmgee. dlogLik = ours minus glmmTMB's (both complete).
#
# Usage: Rscript bench/bench-covstruct.R [M] [reps] [part]   (default 1000 3 all;
#   part "one" runs cases 1-5 only, "several" cases 6-9 only, "two-part"
#   cases 10-12 only)
suppressPackageStartupMessages(library(glmmgee))
`%||%` <- function(a, b) if (is.null(a)) b else a
if (!requireNamespace("glmmTMB", quietly = TRUE)) stop("glmmTMB is needed for this benchmark")
args <- commandArgs(TRUE)
M <- if (length(args) >= 1L) as.integer(args[1L]) else 1000L
reps <- if (length(args) >= 2L) as.integer(args[2L]) else 3L
part <- if (length(args) >= 3L) args[3L] else "all"
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d")))

# timeit_median(): bench-common.R beside this script (or in bench/ of the
# working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# S > 0: a site factor crossed with the groups, intercept sd 0.5.
# `R` a correlation matrix over the n times instead of phi's AR(1).
sim <- function(M, n, phi, family, sd, S = 0L, R = phi^abs(outer(seq_len(n), seq_len(n), "-"))) {
  b <- matrix(stats::rnorm(M * n), M) %*% chol(R) * sd
  d <- data.frame(times = factor(rep(seq_len(n), M)), group = factor(rep(seq_len(M), each = n)),
                  x = stats::rnorm(M * n))
  eta <- as.vector(t(b))
  if (S > 0L) {
    d$site <- factor(sample(S, M * n, replace = TRUE))
    eta <- eta + stats::rnorm(S, 0, 0.5)[d$site]
  }
  d$y <- if (family == "gaussian") eta + stats::rnorm(M * n)
         else stats::rpois(M * n, exp(0.3 + 0.2 * d$x + eta))
  d
}

# A Toeplitz correlation that is not AR(1): lag correlations 0.6, 0.45,
# 0.3, 0.2, 0.1.
toep6 <- stats::toeplitz(c(1, 0.6, 0.45, 0.3, 0.2, 0.1))
set.seed(20261122)
cases <- list(
  list(name = "gaussian ar1, 6 times", data = sim(M, 6, 0.7, "gaussian", 1),
       form = y ~ ar1(times + 0 | group), family = "gaussian"),
  list(name = "poisson ar1, 4 times", data = sim(M, 4, 0.6, "poisson", 0.8),
       form = y ~ x + ar1(0 + times | group), family = "poisson"),
  list(name = "poisson cs, 4 times", data = sim(M, 4, 0.6, "poisson", 0.8),
       form = y ~ x + cs(0 + times | group), family = "poisson"),
  list(name = "poisson toep, 6 times", data = sim(M, 6, 0, "poisson", 0.8, R = toep6),
       form = y ~ x + toep(0 + times | group), family = "poisson"),
  list(name = "poisson homtoep, 6 times", data = sim(M, 6, 0, "poisson", 0.8, R = toep6),
       form = y ~ x + homtoep(0 + times | group), family = "poisson",
       tmb_form = y ~ x + toep(0 + times | group),
       tmb_map = list(theta = factor(c(rep(1, 6), 2:6)))))

bench_rows <- function(cases) {
  cat(sprintf("%-24s %10s %10s %8s %10s %10s %8s %10s\n", "model", "TMB el", "ours el", "ratio",
              "TMB cpu", "ours cpu", "ratio", "dlogLik"))
  for (cs in cases) {
    zi <- cs$zi %||% ~ 0
    ours <- timeit_median(function() glmm(cs$form, cs$data, family = cs$family, nAGQ = 1,
                                          ziformula = zi), reps)
    tmb <- timeit_median(function() glmmTMB::glmmTMB(cs$tmb_form %||% cs$form, cs$data,
                                                     family = cs$family, map = cs$tmb_map,
                                                     ziformula = zi), reps)
    cat(sprintf("%-24s %10.3f %10.3f %8.1f %10.3f %10.3f %8.1f %10.2g\n", cs$name,
                tmb$elapsed, ours$elapsed, tmb$elapsed / ours$elapsed,
                tmb$cpu, ours$cpu, tmb$cpu / ours$cpu,
                as.numeric(logLik(ours$value)) - as.numeric(logLik(tmb$value))))
  }
}
if (part %in% c("all", "one")) {
  cat(sprintf("\n== M = %d groups; medians of %d fits ==\n", M, reps))
  bench_rows(cases)
}

# Several terms: the structured term beside a crossed site intercept.
S <- max(5L, M %/% 20L)
set.seed(20261123)
sparse_cases <- list(
  list(name = "gaussian ar1 + site", data = sim(M, 6, 0.7, "gaussian", 1, S),
       form = y ~ ar1(times + 0 | group) + (1 | site), family = "gaussian"),
  list(name = "poisson ar1 + site", data = sim(M, 4, 0.6, "poisson", 0.8, S),
       form = y ~ x + ar1(0 + times | group) + (1 | site), family = "poisson"),
  list(name = "poisson cs + site", data = sim(M, 4, 0.6, "poisson", 0.8, S),
       form = y ~ x + cs(0 + times | group) + (1 | site), family = "poisson"),
  list(name = "poisson toep + site", data = sim(M, 6, 0, "poisson", 0.8, S, R = toep6),
       form = y ~ x + toep(0 + times | group) + (1 | site), family = "poisson"))
if (part %in% c("all", "several")) {
  cat(sprintf("\n== several terms (sparse engine): M = %d groups, %d crossed sites; medians of %d fits ==\n",
              M, S, reps))
  bench_rows(sparse_cases)
}

# Two-part: structural zeros with probability plogis(-1 + 0.5 x), and with
# `zsd` > 0 a random intercept of the group in that logit, or with `zar1`
# an AR(1) over the times (correlation 0.6, sd zar1).
zero_inflate <- function(d, zsd = 0, zar1 = 0) {
  lp <- -1 + 0.5 * d$x + if (zsd > 0) stats::rnorm(nlevels(d$group), 0, zsd)[d$group] else 0
  if (zar1 > 0) {
    n <- nlevels(d$times)
    b <- matrix(stats::rnorm(nlevels(d$group) * n), ncol = n) %*%
      chol(0.6^abs(outer(seq_len(n), seq_len(n), "-"))) * zar1
    lp <- lp + as.vector(t(b))
  }
  d$y <- d$y * stats::rbinom(nrow(d), 1, 1 - stats::plogis(lp))
  d
}
set.seed(20261128)
two_part_cases <- list(
  list(name = "ZIP ar1, zi ~ x", data = zero_inflate(sim(M, 5, 0.6, "poisson", 0.8)),
       form = y ~ x + ar1(0 + times | group), zi = ~ x, family = "poisson"),
  list(name = "ZIP ar1, zi ~ x + (1|g)", data = zero_inflate(sim(M, 5, 0.6, "poisson", 0.8), 0.7),
       form = y ~ x + ar1(0 + times | group), zi = ~ x + (1 | group), family = "poisson"),
  list(name = "ZIP, zi ~ x + ar1", data = zero_inflate(sim(M, 5, 0.6, "poisson", 0.8), zar1 = 1),
       form = y ~ x + (1 | group), zi = ~ x + ar1(0 + times | group), family = "poisson"))
if (part %in% c("all", "two-part")) {
  cat(sprintf("\n== two-part (zero-inflated Poisson): M = %d groups x 5 times; medians of %d fits ==\n",
              M, reps))
  bench_rows(two_part_cases)
}
