# Weighted GEE for dropout at random: gee(dropout = ) against glmtoolbox's
# wglmgee() on the same data, side by side in one run. The data are those of
# the package's dropout simulation (inst/scripts/gee-dropout-simulation.R):
# M subjects planned at 4 visits, binary response, dropout depending on the
# previous response; the dropout model is ~ ylag + x. For each weighting
# level and working correlation it prints the elapsed and CPU seconds of
# both, the ratio (glmtoolbox / gee) and the largest differences of the
# coefficients and of the standard errors (glmtoolbox's B includes a term of
# the first visits that gee()'s does not: see ?gee, "Dropout at random").
# Run from the package root after installing:
#   Rscript bench/bench-gee-dropout.R [M]   (default: 20000)
suppressMessages({
  library(glmmgee)
  library(glmtoolbox)
})
bench_source <- function(f) source(file.path(dirname(sub("^--file=", "", grep("^--file=",
  commandArgs(FALSE), value = TRUE)[1L])), f))
bench_source("bench-common.R")

sim <- new.env()
sys.source(system.file("scripts", "gee-dropout-simulation.R", package = "glmmgee"), envir = sim)
args <- commandArgs(TRUE)
M <- if (length(args)) as.integer(args[1L]) else 20000L
set.seed(45)
d <- sim$sim_dropout_data(K = M)
d$time_f <- factor(d$time)
cat(sprintf("%d subjects, %d planned visits, %d observed, %d subjects drop out\n", M, nrow(d),
            sum(!is.na(d$y)), sum(tapply(is.na(d$y), d$id, any))))

rows <- list()
for (lev in c("observations", "clusters")) {
  for (cs in list(c("Exchangeable", "exchangeable"), c("AR-M-dependent(1)", "AR-M"))) {
    g <- timeit(gee(y ~ time + x, data = d, id = id, family = binomial("probit"),
                    corstr = cs[2], Mv = 1, dropout = ~ ylag + x, dropout.level = lev))
    t <- timeit(suppressWarnings(wglmgee(y ~ time + x | ylag + x, data = d, id = id,
                                         family = binomial("probit"), corstr = cs[1],
                                         level = lev)))
    rows[[length(rows) + 1L]] <- data.frame(
      level = lev, corstr = cs[2], glmtoolbox_s = t$time, gee_s = g$time,
      ratio = t$time / g$time, glmtoolbox_cpu = t$cpu, gee_cpu = g$cpu,
      ratio_cpu = t$cpu / g$cpu,
      max_coef_diff = max(abs(coef(g$value) - drop(t$value$coefficients))),
      max_se_rel_diff = max(abs(sqrt(diag(vcov(g$value))) / sqrt(diag(t$value$R)) - 1)))
  }
}
res <- do.call(rbind, rows)
print(format(res, digits = 3), row.names = FALSE)
cat("\n(glmtoolbox with its default tolerance, 1e-5 relative; gee with its default, 1e-8)\n")
