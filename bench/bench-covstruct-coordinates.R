# Side-by-side benchmark: covariance structures over times and positions,
# and reduced rank, against glmmTMB, same data, same R session.
#   1. ou(): Poisson, 1,200 subjects seen at 5 unequally spaced times
#      (0, 1, 2.5, 3, 5), 6,000 rows.
#   2. exp(), 3. gau(), 4. mat(): a Poisson spatial field, 100 sites in
#      one field, 50 counts per site (5,000 rows).
#   5. rr(0 + sp | site, d = 2): Poisson counts of 10 species at 500
#      sites (5,000 rows).
# Times are medians of `reps` fits: elapsed and CPU seconds (user +
# system); ratio = glmmTMB / glmmgee. dlogLik = ours minus glmmTMB's.
#
# Usage: Rscript bench/bench-covstruct-coordinates.R [reps]   (default 3)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("glmmTMB", quietly = TRUE)) stop("glmmTMB is needed for this benchmark")
args <- commandArgs(TRUE)
reps <- if (length(args) >= 1L) as.integer(args[1L]) else 3L
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), format(Sys.time(), "%Y-%m-%d")))

# timeit_median(): bench-common.R beside this script (or in bench/ of the
# working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

set.seed(20261128)
# 1. uneven times
tt <- c(0, 1, 2.5, 3, 5)
M <- 1200
ou_d <- expand.grid(ti = seq_along(tt), g = factor(seq_len(M)))
ou_d$times <- numFactor(tt[ou_d$ti])
b <- MASS::mvrnorm(M, rep(0, 5), 0.8 * exp(-0.4 * abs(outer(tt, tt, "-"))))
ou_d$x <- stats::rnorm(nrow(ou_d))
ou_d$y <- stats::rpois(nrow(ou_d), exp(0.3 + 0.2 * ou_d$x + b[cbind(as.integer(ou_d$g), ou_d$ti)]))
# 2-4. one spatial field
ns <- 100
xy <- cbind(stats::runif(ns, 0, 10), stats::runif(ns, 0, 10))
u <- drop(t(chol(0.6 * exp(-as.matrix(stats::dist(xy)) / 2))) %*% stats::rnorm(ns))
sp_d <- data.frame(site = rep(seq_len(ns), each = 50))
sp_d$pos <- numFactor(xy[sp_d$site, 1], xy[sp_d$site, 2])
sp_d$field <- factor(1)
sp_d$x <- stats::rnorm(nrow(sp_d))
sp_d$y <- stats::rpois(nrow(sp_d), exp(0.2 + 0.3 * sp_d$x + u[sp_d$site]))
# 5. reduced rank
nsp <- 10
nsite <- 500
rr_d <- expand.grid(sp = factor(paste0("s", seq_len(nsp))), site = factor(seq_len(nsite)))
L <- matrix(stats::rnorm(nsp * 2, sd = 0.5), nsp)
bb <- matrix(stats::rnorm(nsite * 2), nsite) %*% t(L)
rr_d$x <- stats::rnorm(nrow(rr_d))
rr_d$y <- stats::rpois(nrow(rr_d), exp(0.2 + 0.3 * rr_d$x + bb[cbind(as.integer(rr_d$site), as.integer(rr_d$sp))]))

cases <- list(
  list(name = "poisson ou, 5 uneven times", data = ou_d, form = y ~ x + ou(0 + times | g)),
  list(name = "poisson exp, 100 sites", data = sp_d, form = y ~ x + exp(0 + pos | field)),
  list(name = "poisson gau, 100 sites", data = sp_d, form = y ~ x + gau(0 + pos | field)),
  list(name = "poisson mat, 100 sites", data = sp_d, form = y ~ x + mat(0 + pos | field)),
  list(name = "poisson rr d = 2, 10 spp", data = rr_d, form = y ~ x + rr(0 + sp | site, d = 2)))

cat(sprintf("\n== medians of %d fits ==\n", reps))
cat(sprintf("%-28s %6s %9s %9s %8s %9s %9s %8s %10s\n", "model", "rows", "TMB el", "ours el", "ratio",
            "TMB cpu", "ours cpu", "ratio", "dlogLik"))
for (cs in cases) {
  ours <- timeit_median(function() glmm(cs$form, cs$data, family = poisson), reps)
  tmb <- timeit_median(function() glmmTMB::glmmTMB(cs$form, cs$data, family = poisson), reps)
  cat(sprintf("%-28s %6d %9.3f %9.3f %8.1f %9.3f %9.3f %8.1f %10.2g\n", cs$name, nrow(cs$data),
              tmb$elapsed, ours$elapsed, tmb$elapsed / ours$elapsed,
              tmb$cpu, ours$cpu, tmb$cpu / ours$cpu,
              as.numeric(logLik(ours$value)) - as.numeric(logLik(tmb$value))))
}
