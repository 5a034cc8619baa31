# Side-by-side benchmark of the sparse Laplace engine on three binary GLMMs
# with several grouping factors: lme4's VerbAgg crossed model, a simulated
# crossed (1 | subject) + (1 | item) design and a nested (1 | hospital/ward)
# one, fitted by glmmgee::glmm, lme4::glmer (Laplace) and glmmTMB in the
# same R session. Prints elapsed seconds (median of `reps` fits), the ratio
# peer / glmmgee, logLik differences (ours minus theirs; lme4 and glmmTMB
# report the full Laplace log-likelihood for these models, as we do) and
# glmmgee's engine evaluations; then the glmmgee and glmmTMB fits again with
# two threads.
#
# Usage: Rscript bench/bench-sparse.R [subjects items hospitals wards/hospital reps]
#        (default: 1000 50 100 20 3)
# Run with OMP_NUM_THREADS=1, so that no library starts threads of its own.
suppressPackageStartupMessages({
  library(glmmgee)
  have <- vapply(c("lme4", "glmmTMB"), requireNamespace, TRUE, quietly = TRUE)
})
args <- as.integer(commandArgs(TRUE))
if (length(args) < 5L) args <- c(1000L, 50L, 100L, 20L, 3L)
reps <- args[5]
loadavg <- function()
  tryCatch(paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " "),
           error = function(e) "?")
cat(sprintf("glmmgee %s, R %s, %d core(s), load average %s, %s\n", packageVersion("glmmgee"),
            getRversion(), parallel::detectCores(), loadavg(), format(Sys.time(), "%Y-%m-%d %H:%M")))

# Median elapsed time of `reps` evaluations of expr (after a garbage collection).
timeit <- function(expr, reps) {
  e <- substitute(expr)
  pf <- parent.frame()
  val <- NULL
  t <- vapply(seq_len(reps), function(i) {
    gc()
    system.time(val <<- eval(e, pf))[["elapsed"]]
  }, 1)
  list(time = stats::median(t), value = val)
}

fitters <- function(threads) {
  list(
    glmmgee = function(f, d) glmm(f, d, family = binomial,
                                  control = glmm_control(nthreads = threads)),
    glmer = if (have[["lme4"]] && threads == 1L)
      function(f, d) lme4::glmer(f, d, family = binomial),
    glmmTMB = if (have[["glmmTMB"]])
      function(f, d) glmmTMB::glmmTMB(f, d, family = binomial,
                                      control = glmmTMB::glmmTMBControl(parallel = threads)))
}

run <- function(label, f, d, threads) {
  fs <- Filter(Negate(is.null), fitters(threads))
  fits <- lapply(fs, function(fit) timeit(fit(f, d), reps))
  ours <- fits$glmmgee
  tab <- data.frame(
    package = names(fits),
    seconds = vapply(fits, `[[`, 1, "time"),
    ratio = vapply(fits, function(r) r$time / ours$time, 1),
    logLik = vapply(fits, function(r) as.numeric(logLik(r$value)), 1))
  tab$dlogLik <- as.numeric(logLik(ours$value)) - tab$logLik
  cat(sprintf("\n%s: n = %d, %d thread(s); glmmgee: %d evaluations (%d in the search), %s\n",
              label, nrow(d), threads, ours$value$optinfo$evaluations,
              sum(vapply(ours$value$optinfo$stages[c("start", "newton", "nlminb")],
                         function(s) as.integer(s$evaluations %||% 0L), 1L)),
              ours$value$optinfo$optimizer))
  print(tab, row.names = FALSE, digits = 6)
  cat(sprintf("load average after this model: %s\n", loadavg()))
  invisible(tab)
}
`%||%` <- function(a, b) if (is.null(a)) b else a

data(VerbAgg, package = "lme4")
# Crossed: every subject answers every item.
set.seed(20261121)
S <- args[1]; I <- args[2]
d1 <- expand.grid(subject = factor(seq_len(S)), item = factor(seq_len(I)))
d1$x <- rnorm(nrow(d1))
eta <- -0.3 + 0.5 * d1$x + rnorm(S, sd = 1)[d1$subject] + rnorm(I, sd = 0.7)[d1$item]
d1$y <- rbinom(nrow(d1), 1, plogis(eta))
# Nested: wards within hospitals, 10 patients per ward.
H <- args[3]; Wd <- args[4]
d2 <- data.frame(hospital = factor(rep(seq_len(H), each = Wd * 10L)),
                 ward = factor(rep(seq_len(Wd), each = 10L, times = H)))
d2$x <- rnorm(nrow(d2))
hw <- interaction(d2$hospital, d2$ward)
eta <- -0.5 + 0.6 * d2$x + rnorm(H, sd = 0.8)[d2$hospital] + rnorm(nlevels(hw), sd = 0.5)[hw]
d2$y <- rbinom(nrow(d2), 1, plogis(eta))

models <- list(
  list("VerbAgg r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
       r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), VerbAgg),
  list(sprintf("crossed (1 | subject) + (1 | item), %d x %d", S, I),
       y ~ x + (1 | subject) + (1 | item), d1),
  list(sprintf("nested (1 | hospital/ward), %d hospitals x %d wards", H, Wd),
       y ~ x + (1 | hospital/ward), d2))

# Warm-up: the first call of each package loads namespaces and compiles
# methods; no one pays that per fit.
small <- d2[d2$hospital %in% levels(d2$hospital)[1:10], ]
invisible(lapply(Filter(Negate(is.null), fitters(1L)), function(fit)
  suppressWarnings(fit(y ~ x + (1 | hospital/ward), small))))

for (threads in 1:2)
  for (m in models) run(m[[1]], m[[2]], m[[3]], threads)
