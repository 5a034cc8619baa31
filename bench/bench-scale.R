# Scale: time and peak memory of one fit against the size of the data.
# A random-intercept logistic model, y ~ x + trt + (1 | g), 10 observations
# per cluster, fitted by glmm() (Laplace and the default 11-point AGHQ) and
# the same mean model by gee() with an exchangeable working correlation.
# Each fit runs in a fresh R process, so its peak resident memory (VmHWM
# from /proc/self/status, Linux only) belongs to that fit alone.
#
#   Rscript bench/bench-scale.R            # 1e5 and 1e6 observations
#   Rscript bench/bench-scale.R 1e6 1e7    # chosen sizes
#   BENCH_MODELS=gee_exch Rscript bench/bench-scale.R 1e7   # chosen fits
#
# Columns: n, clusters, the data frame's size (MB), the R process before the
# data (MB, package and the namespaces its first fit loads already loaded,
# as after any earlier fit in a session), peak after the fit (MB),
# (peak - base) / data (the data frame counted in), (peak - base - data) /
# data (the fit's own memory beside the data it was given), and the
# elapsed time of the fit (s). The GLMM fits
# run on one thread (nthreads = 1) and again on two (rows *_2threads);
# gee() has one.

status_mb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

child <- function(model, n) {
  suppressMessages(library(glmmgee))
  # The random-effect formula tools (reformulas, Matrix), which a session's
  # first glmm() loads: about 1.5 s once per session, not part of a fit.
  invisible(loadNamespace("reformulas"))
  threads <- if (grepl("_2threads$", model)) 2L else 1L
  ctrl <- glmm_control(nthreads = threads)
  model <- sub("_2threads$", "", model)
  base <- status_mb("VmRSS")
  set.seed(1)
  M <- n / 10
  g <- rep(seq_len(M), each = 10)
  x <- rnorm(n)
  trt <- rep(rbinom(M, 1, 0.5), each = 10)
  y <- rbinom(n, 1, plogis(-0.5 + 0.5 * x + 0.5 * trt + rnorm(M)[g]))
  d <- data.frame(y = y, x = x, trt = trt, g = g)
  rm(g, x, trt, y)
  invisible(gc())
  data_mb <- as.numeric(utils::object.size(d)) / 2^20
  tm <- system.time(fit <- switch(model,
    glmm_laplace = glmm(y ~ x + trt + (1 | g), d, family = binomial, nAGQ = 1, control = ctrl),
    glmm_agq11 = glmm(y ~ x + trt + (1 | g), d, family = binomial, control = ctrl),
    gee_exch = gee(y ~ x + trt, data = d, id = g, family = binomial,
                   corstr = "exchangeable")))[["elapsed"]]
  peak <- status_mb("VmHWM")
  if (threads > 1L) model <- paste0(model, "_2threads")
  cat(sprintf("%s\t%d\t%d\t%.1f\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\n", model, as.integer(n),
              as.integer(M), data_mb, base, peak, (peak - base) / data_mb,
              (peak - base - data_mb) / data_mb, tm))
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1L && args[[1L]] == "child") {
  child(args[[2L]], as.numeric(args[[3L]]))
  quit(save = "no")
}

sizes <- if (length(args)) as.numeric(args) else c(1e5, 1e6)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
rscript <- file.path(R.home("bin"), "Rscript")
cat("model\tn\tclusters\tdata_MB\tbase_MB\tpeak_MB\tpeak_over_data\tfit_over_data\tseconds\n")
models <- strsplit(Sys.getenv("BENCH_MODELS", "glmm_laplace,glmm_agq11,gee_exch,glmm_laplace_2threads,glmm_agq11_2threads"), ",")[[1L]]
for (n in sizes) for (model in models) {
  out <- system2(rscript, c(self, "child", model, format(n, scientific = FALSE)),
                 stdout = TRUE,
                 env = if (grepl("_2threads$", model)) "OMP_NUM_THREADS=2" else "OMP_NUM_THREADS=1")
  cat(out, sep = "\n")
}
