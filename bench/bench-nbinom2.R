# Side-by-side benchmark: negative binomial (NB2) and Gamma(log) GLMMs with a
# random intercept, M clusters of 10, glmmgee (Laplace and AGHQ nAGQ = 11)
# against glmmTMB (Laplace) in the same R session. Prints elapsed seconds,
# the time ratio glmmTMB / glmmgee-Laplace, the logLik difference (ours
# minus glmmTMB's; both full log-likelihoods) and the dispersion estimates.
#
# Usage: Rscript bench/bench-nbinom2.R [M ...]   (default: 2000 20000)
suppressPackageStartupMessages(library(glmmgee))
have_tmb <- requireNamespace("glmmTMB", quietly = TRUE)
args <- commandArgs(TRUE)
Ms <- if (length(args)) as.integer(args) else c(2000L, 20000L)
cat(sprintf("glmmgee %s, R %s, %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d")))

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

for (M in Ms) for (fam in c("nbinom2", "Gamma")) {
  set.seed(20261121 + M)
  g <- rep(seq_len(M), each = 10L)
  x <- rnorm(10L * M)
  eta <- 0.5 + 0.4 * x + rnorm(M, sd = 0.6)[g]
  y <- if (fam == "nbinom2") rnbinom(10L * M, size = 2, mu = exp(eta))
       else rgamma(10L * M, shape = 3, rate = 3 / exp(eta))
  d <- data.frame(y = y, x = x, g = factor(g))
  ours_fam <- if (fam == "nbinom2") nbinom2() else Gamma(link = "log")
  cat(sprintf("\n== %s, M = %d clusters of 10 (n = %d) ==\n", fam, M, nrow(d)))
  lap <- timeit(glmm(y ~ x + (1 | g), d, ours_fam, nAGQ = 1))
  agq <- timeit(glmm(y ~ x + (1 | g), d, ours_fam, nAGQ = 11))
  rows <- list(
    data.frame(fit = "glmmgee Laplace", seconds = lap$time, ratio = 1,
               dlogLik = 0, dispersion = sigma(lap$value)),
    data.frame(fit = "glmmgee nAGQ=11", seconds = agq$time,
               ratio = round(agq$time / lap$time, 2),
               dlogLik = signif(agq$value$loglik - lap$value$loglik, 3),
               dispersion = sigma(agq$value)))
  if (have_tmb) {
    tf <- if (fam == "nbinom2") glmmTMB::nbinom2() else Gamma(link = "log")
    r <- timeit(glmmTMB::glmmTMB(y ~ x + (1 | g), d, family = tf))
    rows[[3]] <- data.frame(fit = "glmmTMB (Laplace)", seconds = r$time,
                            ratio = round(r$time / lap$time, 1),
                            dlogLik = signif(lap$value$loglik - as.numeric(logLik(r$value)), 3),
                            dispersion = sigma(r$value))
  }
  print(do.call(rbind, rows), row.names = FALSE)
}
cat("\nratio: seconds / glmmgee Laplace seconds; dlogLik: glmmgee Laplace minus",
    "that fit (AGHQ row: AGHQ minus Laplace); dispersion: sigma() (theta for nbinom2,",
    "1/sqrt(shape) for Gamma)\n")
