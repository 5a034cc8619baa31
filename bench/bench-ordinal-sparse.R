# Side-by-side benchmark: cumulative link mixed models with several random
# intercepts (crossed and nested), glmmgee's sparse Laplace engine against
# ordinal::clmm (Laplace, its only method for several terms) in the same R
# session. Data: the peers' wine ((1 | judge) + (1 | bottle)) and soup
# ((1 | RESP) + (1 | RESP:PROD)), and simulated crossed designs of
# A x B cells with two observations each and four categories. Prints
# elapsed and CPU seconds, the ratios clmm / glmmgee and the
# log-likelihood difference (ours minus clmm's; the same full Laplace
# log-likelihood).
#
# Usage: Rscript bench/bench-ordinal-sparse.R [A ...]   (default: 60 150;
# B = 2A/3)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("ordinal", quietly = TRUE)) stop("the benchmark needs package 'ordinal'")
args <- commandArgs(TRUE)
As <- if (length(args)) as.integer(args) else c(60L, 150L)
cat(sprintf("glmmgee %s, ordinal %s, R %s, %s, load average %s\n", packageVersion("glmmgee"),
            packageVersion("ordinal"), getRversion(), format(Sys.time(), "%Y-%m-%d %H:%M"),
            paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

compare <- function(label, formula, data, link) {
  invisible(glmm(formula, data = data, family = cumulative(link)))
  ours <- timeit(glmm(formula, data = data, family = cumulative(link)))
  ref <- timeit(ordinal::clmm(formula, data = data, link = link))
  data.frame(data = label, link = link, n = nrow(data),
             glmmgee_s = ours$time, clmm_s = ref$time,
             ratio = round(ref$time / max(ours$time, 1e-3), 1),
             glmmgee_cpu = ours$cpu, clmm_cpu = ref$cpu,
             ratio_cpu = round(ref$cpu / max(ours$cpu, 1e-3), 1),
             dlogLik = signif(ours$value$loglik - as.numeric(logLik(ref$value)), 3),
             max_dcoef = signif(max(abs(coef(ours$value) - coef(ref$value))), 3))
}

sim <- function(A, seed) {
  set.seed(seed)
  B <- max(2L, round(2 * A / 3))
  d <- expand.grid(a = factor(seq_len(A)), b = factor(seq_len(B)), r = 1:2)
  n <- nrow(d)
  d$x <- rnorm(n)
  d$z <- rbinom(n, 1, 0.5)
  eta <- 0.8 * d$x - 0.5 * d$z + rnorm(A, 0, 0.8)[d$a] + rnorm(B, 0, 0.5)[d$b]
  d$y <- ordered(findInterval(eta + rlogis(n), c(-1, 0.5, 2)) + 1L)
  d
}

rows <- list(
  compare("wine", rating ~ temp + contact + (1 | judge) + (1 | bottle), ordinal::wine, "logit"),
  compare("soup", SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), ordinal::soup, "logit"),
  compare("soup", SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), ordinal::soup, "probit"))
for (A in As)
  rows[[length(rows) + 1L]] <- compare(sprintf("crossed %dx%d", A, max(2L, round(2 * A / 3))),
                                       y ~ x + z + (1 | a) + (1 | b), sim(A, 20261123 + A),
                                       "logit")
print(do.call(rbind, rows), row.names = FALSE)
