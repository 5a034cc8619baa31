# The front end of glmm() on several-term gaussian LMMs: CPU per fit of
# everything before the fitter (argument checks, formula, model frame, X,
# the random-effect design Z and the data checks), measured by replacing
# lmm_sparse_fit() in the namespace with a function that signals at once,
# beside the CPU of the whole fit, alternately in this one session (5
# timings each; Penicillin and Pastes 400 fits a timing, the 2,000-row
# crossed and nested sets of bench-lmm-multi.R 60). REML; "share" is
# front / full. To compare two builds, run it alternately with each:
#   R_LIBS=<lib> Rscript bench/bench-lmm-front.R
suppressPackageStartupMessages(library(glmmgee))
ns <- asNamespace("glmmgee")
data(Penicillin, Pastes, package = "lme4")
# sim_crossed(), sim_nested(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))
dc <- sim_crossed(1); dn <- sim_nested(1)
cases <- list(Pen = function() glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE),
              Pastes = function() glmm(strength ~ 1 + (1 | batch/cask), Pastes, REML = TRUE),
              crossed = function() glmm(y ~ x + (1 | a) + (1 | b), dc, REML = TRUE),
              nested = function() glmm(y ~ x + (1 | a/b), dn, REML = TRUE))
real <- ns$lmm_sparse_fit
stub <- function(...) stop(structure(class = c("stubbed", "condition"), list(message = "", call = NULL)))
cpu <- function(f, n) { for (i in 1:20) f(); t <- system.time(for (i in seq_len(n)) f()); sum(t[1:2]) / n * 1e6 }
front <- function(f) function() tryCatch(f(), stubbed = function(e) NULL)
for (nm in names(cases)) {
  n <- if (nm %in% c("Pen", "Pastes")) 400 else 60
  fr <- numeric(); fu <- numeric()
  for (r in 1:5) {
    unlockBinding("lmm_sparse_fit", ns); assign("lmm_sparse_fit", stub, ns)
    fr <- c(fr, cpu(front(cases[[nm]]), n))
    assign("lmm_sparse_fit", real, ns); lockBinding("lmm_sparse_fit", ns)
    fu <- c(fu, cpu(cases[[nm]], n))
  }
  cat(sprintf("%-8s front %7.0f us (%.0f-%.0f)  full %7.0f us (%.0f-%.0f)  share %.2f\n", nm,
      median(fr), min(fr), max(fr), median(fu), min(fu), max(fu), median(fr) / median(fu)))
}
if (file.exists("/proc/loadavg")) cat("load average:", readLines("/proc/loadavg"), "\n")
