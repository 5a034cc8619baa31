# Side-by-side benchmark: zero-inflated and hurdle GLMMs and a dispersion
# formula with a random intercept, glmmgee against glmmTMB (Laplace) and
# GLMMadaptive (adaptive quadrature, nAGQ = 11) in the same R session.
# Two data sets: glmmTMB's Salamanders (644 rows, 23 sites; the models of
# its vignette) and simulated data with M clusters of 10. Prints elapsed
# seconds, the time ratio peer / glmmgee for the same approximation, and
# the logLik difference (glmmgee minus the peer; full log-likelihoods).
#
# Usage: Rscript bench/bench-zi.R [M]   (default M = 2000)
suppressPackageStartupMessages(library(glmmgee))
have_tmb <- requireNamespace("glmmTMB", quietly = TRUE)
have_ga <- requireNamespace("GLMMadaptive", quietly = TRUE)
args <- commandArgs(TRUE)
M <- if (length(args)) as.integer(args[1]) else 2000L
cat(sprintf("glmmgee %s, R %s, %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d")))

# Elapsed and CPU (user + system) seconds: on a shared machine the CPU
# ratio is the steadier figure (elapsed time includes waiting for a core).
# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

set.seed(20261122)
g <- rep(seq_len(M), each = 10L)
x <- rnorm(10L * M)
w <- rbinom(10L * M, 1, 0.5)
mu <- exp(0.5 + 0.4 * x + rnorm(M, sd = 0.6)[g])
zero <- runif(10L * M) < plogis(-1 + w)
sim <- data.frame(g = factor(g), x = x, w = w,
                  yp = ifelse(zero, 0, rpois(10L * M, mu)),
                  ynb = ifelse(zero, 0, rnbinom(10L * M, size = exp(0.3 + 0.5 * w), mu = mu)),
                  yg = log(mu) + rnorm(10L * M, sd = exp(-0.3 + 0.6 * w)))
if (have_tmb) utils::data("Salamanders", package = "glmmTMB", envir = environment())

cases <- list(
  list(name = "Salamanders ZIP (spp * mined | zi ~ spp * mined)", data = "sal",
       f = count ~ spp * mined + (1 | site), zi = ~ spp * mined, disp = NULL,
       ours = poisson, tmb = "poisson", ga = "zi.poisson", ga_zi = ~ spp * mined),
  list(name = "Salamanders hurdle NB2 (spp * mined | zi ~ spp * mined)", data = "sal",
       f = count ~ spp * mined + (1 | site), zi = ~ spp * mined, disp = NULL,
       ours = truncated_nbinom2, tmb = "truncated_nbinom2", ga = NULL),
  list(name = "Salamanders ZINB (spp + mined | zi ~ spp + mined)", data = "sal",
       f = count ~ spp + mined + (1 | site), zi = ~ spp + mined, disp = NULL,
       ours = nbinom2, tmb = "nbinom2", ga = "zi.negative.binomial", ga_zi = ~ spp + mined),
  list(name = sprintf("simulated ZIP, M = %d clusters of 10", M), data = "sim",
       f = yp ~ x + (1 | g), zi = ~ w, disp = NULL, ours = poisson, tmb = "poisson",
       ga = "zi.poisson", ga_zi = ~ w),
  list(name = sprintf("simulated hurdle Poisson, M = %d", M), data = "sim",
       f = yp ~ x + (1 | g), zi = ~ w, disp = NULL, ours = truncated_poisson,
       tmb = "truncated_poisson", ga = "hurdle.poisson", ga_zi = ~ w),
  list(name = sprintf("simulated ZINB with dispformula ~ w, M = %d", M), data = "sim",
       f = ynb ~ x + (1 | g), zi = ~ w, disp = ~ w, ours = nbinom2, tmb = "nbinom2", ga = NULL),
  list(name = sprintf("simulated gaussian with dispformula ~ w, M = %d", M), data = "sim",
       f = yg ~ x + (1 | g), zi = NULL, disp = ~ w, ours = gaussian, tmb = "gaussian", ga = NULL))

# Warm-up, untimed: each package fits one small model first, so that no
# timed fit pays for loading a namespace or the formula parser.
local({
  d <- sim[seq_len(200L), ]
  invisible(glmm(yp ~ x + (1 | g), d, poisson, nAGQ = 1, ziformula = ~ w))
  if (have_tmb) invisible(glmmTMB::glmmTMB(yp ~ x + (1 | g), d, family = poisson(), ziformula = ~ w))
  if (have_ga) invisible(GLMMadaptive::mixed_model(yp ~ x, random = ~ 1 | g, data = d,
                                                   family = GLMMadaptive::zi.poisson(),
                                                   zi_fixed = ~ w, nAGQ = 11))
})
for (cs in cases) {
  if (cs$data == "sal" && !have_tmb) next
  d <- if (cs$data == "sal") Salamanders else sim
  cat(sprintf("\n== %s (n = %d) ==\n", cs$name, nrow(d)))
  lap <- timeit(glmm(cs$f, d, cs$ours, nAGQ = 1, ziformula = cs$zi, dispformula = cs$disp))
  rows <- list(data.frame(fit = "glmmgee Laplace", seconds = lap$time, cpu = lap$cpu, ratio = 1,
                          ratio_cpu = 1, dlogLik = 0))
  if (have_tmb) {
    tf <- if (cs$tmb == "gaussian") gaussian() else if (cs$tmb == "poisson") poisson()
          else getExportedValue("glmmTMB", cs$tmb)()
    r <- timeit(glmmTMB::glmmTMB(cs$f, d, family = tf, ziformula = if (is.null(cs$zi)) ~ 0 else cs$zi,
                                 dispformula = if (is.null(cs$disp)) ~ 1 else cs$disp))
    rows[[length(rows) + 1L]] <- data.frame(
      fit = "glmmTMB (Laplace)", seconds = r$time, cpu = r$cpu, ratio = round(r$time / lap$time, 1),
      ratio_cpu = round(r$cpu / lap$cpu, 1),
      dlogLik = signif(lap$value$loglik - as.numeric(logLik(r$value)), 3))
  }
  if (have_ga && !is.null(cs$ga)) {
    agq <- timeit(glmm(cs$f, d, cs$ours, nAGQ = 11, ziformula = cs$zi, dispformula = cs$disp))
    rows[[length(rows) + 1L]] <- data.frame(fit = "glmmgee nAGQ=11", seconds = agq$time,
                                            cpu = agq$cpu, ratio = 1, ratio_cpu = 1, dlogLik = 0)
    fixed <- stats::as.formula(call("~", cs$f[[2L]], reformulas::nobars(cs$f[[3L]])))
    gid <- all.vars(reformulas::findbars(cs$f)[[1L]][[3L]])
    r <- timeit(GLMMadaptive::mixed_model(fixed, random = stats::as.formula(paste("~ 1 |", gid)),
                                          data = d,
                                          family = getExportedValue("GLMMadaptive", cs$ga)(),
                                          zi_fixed = cs$ga_zi, nAGQ = 11))
    rows[[length(rows) + 1L]] <- data.frame(
      fit = "GLMMadaptive (nAGQ=11)", seconds = r$time, cpu = r$cpu,
      ratio = round(r$time / agq$time, 1), ratio_cpu = round(r$cpu / agq$cpu, 1),
      dlogLik = signif(agq$value$loglik - as.numeric(logLik(r$value)), 3))
  }
  print(do.call(rbind, rows), row.names = FALSE)
}
cat("\nratio: peer seconds / glmmgee seconds with the same approximation (glmmTMB against",
    "glmmgee Laplace, GLMMadaptive against glmmgee nAGQ = 11); dlogLik: glmmgee minus the peer\n")
