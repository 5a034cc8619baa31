# CPU time per fit of glmm() beside its peer, in one R session, for the small
# fits whose cost is mostly the formula front end: sleepstudy
# Reaction ~ Days + (Days | Subject) by REML and ML against lme4::lmer(), a
# poisson cbpp random intercept against lme4::glmer() (Laplace) and a
# gaussian exchangeable gee() against geepack::geeglm(). Each timing is
# `inner` fits of one package then of the other, alternated `reps` times;
# the ratio is the peer's CPU (user + system) over ours, the median over the
# repetitions. dLL: our log-likelihood minus the peer's.
# sim_REML / sim_ML: a simulated y ~ x + (x | g), M = 1,000 clusters of 10.
#   Usage: Rscript bench/bench-lmm-ratio.R [reps] [inner] [case,case,...]
suppressPackageStartupMessages({
  library(glmmgee)
  stopifnot(requireNamespace("lme4", quietly = TRUE), requireNamespace("geepack", quietly = TRUE))
})
cargs <- commandArgs(TRUE)
args <- suppressWarnings(as.integer(cargs[1:2]))
reps <- if (!is.na(args[1L])) args[1L] else 7L
inner <- if (!is.na(args[2L])) args[2L] else 200L
only <- if (length(cargs) >= 3L) strsplit(cargs[3L], ",")[[1L]]
data(sleepstudy, cbpp, package = "lme4")
set.seed(2026)
M <- 100L
gd <- data.frame(id = rep(seq_len(M), each = 5L), x = rnorm(5L * M))
gd$y <- 1 + 0.5 * gd$x + rep(rnorm(M), each = 5L) + rnorm(5L * M)
Ms <- 1000L
sd1 <- data.frame(g = rep(seq_len(Ms), each = 10L), x = rnorm(10L * Ms))
sd1$y <- 1 + 0.5 * sd1$x + rep(rnorm(Ms), each = 10L) + rep(rnorm(Ms, 0, 0.5), each = 10L) * sd1$x +
  rnorm(10L * Ms)
cpu <- function(f, k) {
  st <- system.time(for (i in seq_len(k)) suppressWarnings(f()))
  st[["user.self"]] + st[["sys.self"]]
}
cases <- list(
  sleep_REML = list(function() glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE),
                    function() lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy), 1),
  sleep_ML = list(function() glmm(Reaction ~ Days + (Days | Subject), sleepstudy),
                  function() lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy,
                                        REML = FALSE), 1),
  cbpp_poisson = list(function() glmm(incidence ~ period + offset(log(size)) + (1 | herd), cbpp,
                                      family = poisson, nAGQ = 1),
                      function() lme4::glmer(incidence ~ period + offset(log(size)) + (1 | herd),
                                             cbpp, family = poisson), 4),
  gee_exch = list(function() gee(y ~ x, id = id, data = gd, corstr = "exchangeable"),
                  function() geepack::geeglm(y ~ x, id = id, data = gd, corstr = "exchangeable"), 4),
  sim_REML = list(function() glmm(y ~ x + (x | g), sd1, REML = TRUE),
                  function() lme4::lmer(y ~ x + (x | g), sd1), 40),
  sim_ML = list(function() glmm(y ~ x + (x | g), sd1),
                function() lme4::lmer(y ~ x + (x | g), sd1, REML = FALSE), 40))
if (!is.null(only)) cases <- cases[only]
cat(sprintf("glmmgee %s, lme4 %s, geepack %s, R %s; load average %s\n",
            packageVersion("glmmgee"), packageVersion("lme4"), packageVersion("geepack"),
            getRversion(), paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")))
for (nm in names(cases)) {
  cs <- cases[[nm]]
  a <- suppressWarnings(cs[[1]]()); b <- suppressWarnings(cs[[2]]())
  dll <- if (inherits(a, "glmmgee_gee")) NA else as.numeric(logLik(a)) - as.numeric(logLik(b))
  k <- max(1L, inner %/% cs[[3]])
  ours <- peer <- numeric(reps)
  for (r in seq_len(reps)) { ours[r] <- cpu(cs[[1]], k) / k; peer[r] <- cpu(cs[[2]], k) / k }
  cat(sprintf("%-13s ours %6.3f ms  peer %6.3f ms  ratio median %5.2f (range %4.2f-%4.2f)  dLL %.2g\n",
              nm, 1000 * median(ours), 1000 * median(peer), median(peer / ours),
              min(peer / ours), max(peer / ours), dll))
}
