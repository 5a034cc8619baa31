# Far-off and far-scaled random slopes: evaluations and CPU of one build,
# beside lmer / glmmTMB on the same data in the same process. Run it once
# per build, alternating (R_LIBS selects the build):
#   Rscript bench/bench-farslope.R <reps> <label>
# Prints one line per case: label, case, log-likelihood, evaluations, median
# CPU (ms) of ours and of the peer over `reps` fits, and their ratio.
`%||%` <- function(a, b) if (is.null(a) || is.na(a)) b else a
args <- commandArgs(TRUE)
reps <- as.integer(args[1] %||% 5L)
label <- args[2] %||% "build"
suppressMessages({
  library(glmmgee)
  library(lme4)
  library(glmmTMB)
})
data(sleepstudy, package = "lme4")
s <- sleepstudy
set.seed(3)
s$h2 <- factor(sample(6, nrow(s), TRUE))
s$h <- factor(rep(1:5, length.out = nrow(s)))
cpu <- function(f) {
  t <- vapply(seq_len(reps), function(i) system.time(f())[["elapsed"]], 1)
  1000 * stats::median(t)
}
cases <- list()
# 10-100 sd from zero beside the intercept (the centring bound).
for (k in c(12, 30, 50, 80)) local({
  kk <- k
  cases[[sprintf("sleep_h2_%dsd_REML", kk)]] <<- list(
    ours = function() suppressWarnings(glmm(Reaction ~ Dc + (Dc | Subject) + (1 | h2),
                                            within(s, Dc <- Days + kk * sd(Days)), REML = TRUE)),
    peer = function() suppressMessages(lmer(Reaction ~ Dc + (Dc | Subject) + (1 | h2),
                                            within(s, Dc <- Days + kk * sd(Days)), REML = TRUE)))
  cases[[sprintf("sleep_h2_%dsd_ML", kk)]] <<- list(
    ours = function() suppressWarnings(glmm(Reaction ~ Dc + (Dc | Subject) + (1 | h2),
                                            within(s, Dc <- Days + kk * sd(Days)), REML = FALSE)),
    peer = function() suppressMessages(lmer(Reaction ~ Dc + (Dc | Subject) + (1 | h2),
                                            within(s, Dc <- Days + kk * sd(Days)), REML = FALSE)))
})
# Structured terms in far units (the rescaling).
for (a in c(50, 1e-6)) local({
  aa <- a
  cases[[sprintf("diag_Days_x_%g_REML", aa)]] <<- list(
    ours = function() suppressWarnings(glmm(Reaction ~ Dx + diag(Dx | Subject) + (1 | h),
                                            within(s, Dx <- Days * aa), REML = TRUE)),
    peer = function() suppressWarnings(glmmTMB(Reaction ~ Dx + diag(Dx | Subject) + (1 | h),
                                               within(s, Dx <- Days * aa), REML = TRUE)))
})
for (nm in names(cases)) {
  cs <- cases[[nm]]
  r <- cs$ours()
  p <- cs$peer()
  to <- cpu(cs$ours)
  tp <- cpu(cs$peer)
  cat(sprintf("%s %-24s ll %.7f peer %.7f ev %4d ours %.1f ms peer %.1f ms ratio %.2f\n",
              label, nm, as.numeric(logLik(r)), as.numeric(logLik(p)),
              as.integer(r$optinfo$evaluations), to, tp, tp / to))
}
