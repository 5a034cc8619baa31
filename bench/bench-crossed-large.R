# Large crossed designs: a linear mixed model (REML) and a binary GLMM
# (Laplace) with random intercepts of two crossed factors, fitted by glmm()
# and by lme4 (lmer, glmer) on the same data, in the same run. Rows are
# assigned to levels at random, so each level of the larger factor meets
# a tenth or less of the smaller factor's levels, and the factorization of
# the random effects' cross-product fills a dense block the size of the
# smaller factor.
#
#   Rscript bench/bench-crossed-large.R               # 200,000 rows, 2,000 x 1,000
#   Rscript bench/bench-crossed-large.R 200k 1M       # and 1,000,000 rows, 6,000 x 4,000
#   BENCH_FITS=lmm_glmmgee,lmm_lmer Rscript bench/bench-crossed-large.R 1M
#
# Each fit runs in a fresh R process on one thread (OMP_NUM_THREADS=1), with
# the packages loaded before the clock starts; the fits named *_2threads
# run glmmgee on two (glmm_control(nthreads = 2), OMP_NUM_THREADS=2), beside
# the one-thread figures the ratios are taken from. A fit still running after
# BENCH_TIMEOUT seconds (default 3600) is stopped and reported as such.
# Columns: design, fit, elapsed and CPU seconds, the criterion (REML
# criterion for the LMM, -2 log-likelihood for the GLMM; lower is better),
# the peak resident memory (MB). Then, per design and model, lme4's CPU time
# over glmmgee's and glmmgee's criterion minus lme4's.

designs <- list(`200k` = c(n = 2e5, a = 2000, b = 1000), `1M` = c(n = 1e6, a = 6000, b = 4000))

crossed_data <- function(size) {
  z <- designs[[size]]
  set.seed(20261128)
  n <- z[["n"]]
  d <- data.frame(a = factor(sample.int(z[["a"]], n, TRUE)), b = factor(sample.int(z[["b"]], n, TRUE)),
                  x = rnorm(n))
  ua <- rnorm(z[["a"]])
  ub <- rnorm(z[["b"]], 0, 0.7)
  eta <- 0.5 * d$x + ua[d$a] + ub[d$b]
  d$y <- 1 + eta + rnorm(n)
  d$yb <- rbinom(n, 1, plogis(-0.5 + eta))
  d
}

status_mb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

child <- function(fit_name, size) {
  threads <- if (grepl("_2threads$", fit_name)) 2L else 1L
  label <- fit_name
  fit_name <- sub("_2threads$", "", fit_name)
  pkg <- if (grepl("glmmgee$", fit_name)) "glmmgee" else "lme4"
  suppressMessages(library(pkg, character.only = TRUE))
  invisible(loadNamespace("reformulas"))
  d <- crossed_data(size)
  invisible(gc())
  lmm <- y ~ x + (1 | a) + (1 | b)
  bin <- yb ~ x + (1 | a) + (1 | b)
  t0 <- proc.time()
  crit <- switch(fit_name,
    lmm_glmmgee = -2 * as.numeric(logLik(glmm(lmm, d, family = gaussian, REML = TRUE,
                                              control = glmm_control(nthreads = threads)))),
    lmm_lmer = lme4::REMLcrit(lme4::lmer(lmm, d, REML = TRUE)),
    glmm_glmmgee = -2 * as.numeric(logLik(glmm(bin, d, family = binomial,
                                               control = glmm_control(nthreads = threads)))),
    glmm_glmer = -2 * as.numeric(logLik(lme4::glmer(bin, d, family = binomial))))
  tm <- proc.time() - t0
  cat(sprintf("%s\t%s\t%.2f\t%.2f\t%.6f\t%.0f\n", size, label, tm[["elapsed"]],
              tm[["user.self"]] + tm[["sys.self"]], crit, status_mb("VmHWM")))
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1L && args[[1L]] == "child") {
  child(args[[2L]], args[[3L]])
  quit(save = "no")
}

sizes <- if (length(args)) args else "200k"
bad <- setdiff(sizes, names(designs))
if (length(bad)) stop("unknown design: ", paste(bad, collapse = ", "), "; choose from ",
                      paste(names(designs), collapse = ", "))
fits <- strsplit(Sys.getenv("BENCH_FITS", paste0("lmm_glmmgee,lmm_lmer,glmm_glmmgee,glmm_glmer,",
                                                  "lmm_glmmgee_2threads,glmm_glmmgee_2threads")),
                 ",")[[1L]]
if (!requireNamespace("lme4", quietly = TRUE)) fits <- grep("lmer|glmer", fits, invert = TRUE, value = TRUE)
limit <- as.numeric(Sys.getenv("BENCH_TIMEOUT", "3600"))
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
rscript <- file.path(R.home("bin"), "Rscript")
cat("design\tfit\tseconds\tcpu\tcriterion\tpeak_MB\n")
rows <- list()
for (size in sizes) for (fit in fits) {
  out <- suppressWarnings(system2(rscript, c(self, "child", fit, size), stdout = TRUE,
                                  env = paste0("OMP_NUM_THREADS=", if (grepl("_2threads$", fit)) 2 else 1),
                                  timeout = limit))
  line <- grep(paste0("^", size, "\t"), out, value = TRUE)
  if (!length(line))
    line <- if (identical(attr(out, "status"), 124L)) sprintf("%s\t%s\t>%.0f\tNA\tNA\tNA", size, fit, limit)
            else sprintf("%s\t%s\tfailed\tNA\tNA\tNA", size, fit)
  cat(line, sep = "\n")
  rows[[length(rows) + 1L]] <- strsplit(line, "\t")[[1L]]
}
tab <- as.data.frame(do.call(rbind, rows), stringsAsFactors = FALSE)
names(tab) <- c("design", "fit", "seconds", "cpu", "criterion", "peak_MB")
cat("\ndesign\tmodel\tlme4_over_glmmgee\tcriterion_glmmgee_minus_lme4\n")
for (size in sizes) for (model in c("lmm", "glmm")) {
  ours <- tab[tab$design == size & tab$fit == paste0(model, "_glmmgee"), ]
  peer <- tab[tab$design == size & tab$fit == paste0(model, if (model == "lmm") "_lmer" else "_glmer"), ]
  if (nrow(ours) != 1L || nrow(peer) != 1L || "failed" %in% c(ours$seconds, peer$seconds)) next
  # CPU seconds, the steadier figure on a shared machine; a peer stopped at
  # the time limit gives a lower bound
  ratio <- if (startsWith(peer$seconds, ">")) paste0(">", format(as.numeric(sub(">", "", peer$seconds)) /
                                                            as.numeric(ours$cpu), digits = 3))
           else format(as.numeric(peer$cpu) / as.numeric(ours$cpu), digits = 3)
  cat(sprintf("%s\t%s\t%s\t%.2e\n", size, model, ratio,
              as.numeric(ours$criterion) - as.numeric(peer$criterion)))
}
