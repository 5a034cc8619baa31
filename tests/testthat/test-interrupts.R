# Ctrl-C during long engine loops: every long loop polls for an interrupt
# (from the main thread) at least about once a second of work, so a fit
# stops within a few seconds of the signal instead of when the pass ends.
# Each fit runs in a child R process that writes its pid and, at the end,
# how it ended; the parent sends SIGINT a few seconds in. A stop within
# 10 s of the signal separates an honoured interrupt from one ignored until
# the pass ends (a minute or more for each case here); latency itself is
# not timed here.

skip_on_os("windows")

# "interrupted", "finished", an error's message, or "no stop" when the
# child is still running 10 s after the signal (it is then killed). With
# `engine` (the name of a function of the package), the signal is sent
# `wait` seconds after the child's first call of it, so that it arrives
# inside the engine and not in the R code before it.
stop_after_sigint <- function(setup, wait = 3, engine = NULL) {
  dir <- tempfile("sigint")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  f <- function(x) file.path(dir, x)
  if (!is.null(engine))
    setup <- c(setup, sprintf(paste0("suppressMessages(trace('%s', where = asNamespace('glmmgee'), ",
                                     "print = FALSE, tracer = quote(file.create('%s'))))"),
                              engine, f("engine")))
  writeLines(c("suppressPackageStartupMessages(library(glmmgee))", setup,
               sprintf("writeLines(as.character(Sys.getpid()), '%s')", f("pid")),
               paste0("r <- tryCatch({ fit(); 'finished' }, interrupt = function(e) 'interrupted', ",
                      "error = function(e) conditionMessage(e))"),
               sprintf("writeLines(r, '%s')", f("done"))), f("run.R"))
  env <- paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep))
  system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", f("run.R")), wait = FALSE,
          stdout = FALSE, stderr = FALSE, env = c(env, "OMP_NUM_THREADS=1"))
  t0 <- Sys.time()
  while (!file.exists(f("pid")) && difftime(Sys.time(), t0, units = "secs") < 60) Sys.sleep(0.05)
  if (!file.exists(f("pid"))) return("no start")
  pid <- as.integer(readLines(f("pid")))
  if (!is.null(engine)) {
    t0 <- Sys.time()
    while (!file.exists(f("engine")) && difftime(Sys.time(), t0, units = "secs") < 120)
      Sys.sleep(0.05)
  }
  Sys.sleep(wait)
  done <- function() file.exists(f("done")) && length(readLines(f("done"), warn = FALSE)) > 0L
  if (done()) return(paste("ended before the signal:", readLines(f("done"))))
  tools::pskill(pid, tools::SIGINT)
  t1 <- Sys.time()
  while (!done() && difftime(Sys.time(), t1, units = "secs") < 10) Sys.sleep(0.05)
  if (!done()) {
    tools::pskill(pid, tools::SIGKILL)
    return("no stop")
  }
  readLines(f("done"))
}

test_that("an interrupt stops the ordinal GEE with global odds ratios on large clusters", {
  # 40 clusters of 600 rows, each its own covariate pattern: one pass is
  # about a minute, each cluster one factorization of a 2400 x 2400 working
  # covariance and 180,000 pairs.
  expect_equal(stop_after_sigint(c(
    "set.seed(1); K <- 40; m <- 600",
    "d <- data.frame(id = rep(seq_len(K), each = m), x = rnorm(K * m))",
    "d$y <- cut(d$x + rep(rnorm(K), each = m) + rlogis(K * m), c(-Inf, -1.5, -0.5, 0.5, 1.5, Inf))",
    "d$y <- ordered(d$y)",
    "fit <- function() gee(y ~ x, data = d, id = id, family = cumulative, corstr = 'global.exchangeable')")),
    "interrupted")
})

test_that("an interrupt stops a cumulative GLMM with three random effects by quadrature", {
  # nAGQ = 46: 97,336 nodes per cluster (just below the limit), 600 rows per
  # cluster; straight to quadrature (no Laplace stage).
  expect_equal(stop_after_sigint(c(
    "set.seed(2); M <- 12; m <- 600",
    "d <- data.frame(g = rep(seq_len(M), each = m), x1 = rnorm(M * m), x2 = rnorm(M * m))",
    "eta <- d$x1 + rep(rnorm(M), each = m) + 0.5 * d$x1 * rep(rnorm(M), each = m) + 0.5 * d$x2 * rep(rnorm(M), each = m)",
    "d$y <- ordered(cut(eta + rlogis(M * m), c(-Inf, -1, 0, 1, Inf)))",
    paste0("fit <- function() glmm(y ~ x1 + x2 + (1 + x1 + x2 || g), data = d, family = cumulative(), ",
           "nAGQ = 46, control = glmm_control(laplace_start = FALSE))")),
    wait = 2, engine = "cpp_agq_eval"), "interrupted")
})

test_that("an interrupt stops the one-factor quadrature engine inside a block of clusters", {
  # Two random effects at nAGQ = 300 (90,000 nodes per cluster), clusters of
  # 100 rows: a block of 64 clusters, between which the engine polled, is
  # about a minute of work.
  expect_equal(stop_after_sigint(c(
    "set.seed(1); M <- 70; m <- 100",
    "d <- data.frame(g = rep(seq_len(M), each = m), x = rnorm(M * m))",
    "d$y <- rbinom(M * m, 1, plogis(d$x + rep(rnorm(M), each = m) + 0.5 * d$x * rep(rnorm(M), each = m)))",
    paste0("fit <- function() glmm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 300, ",
           "control = glmm_control(laplace_start = FALSE))")),
    wait = 2, engine = "cpp_agq_eval"), "interrupted")
})
