# Interrupt latency of each engine: a child Rscript starts a long fit, the
# parent sends SIGINT a few seconds into it and times how long the child
# takes to stop (the child's handler writes the time it saw the interrupt,
# and the parent waits for the process to finish). Run: Rscript bench/bench-interrupt.R
if (.Platform$OS.type == "windows") stop("needs POSIX signals")
rscript <- file.path(R.home("bin"), "Rscript")

cases <- list(
  gee_mdep = c(
    "set.seed(1); M <- 2000; m <- 500",
    "d <- data.frame(id = rep(seq_len(M), each = m), x = rnorm(M * m))",
    "d$y <- d$x + rep(rnorm(M), each = m) + rnorm(M * m)",
    "fit <- function() gee(y ~ x, data = d, id = id, corstr = 'mdep', Mv = 3)"),
  gee_fij = c(
    "set.seed(1); M <- 3000; m <- 20",
    "d <- data.frame(id = rep(seq_len(M), each = m), x = rnorm(M * m))",
    "d$y <- d$x + rep(rnorm(M), each = m) + rnorm(M * m)",
    "fit <- function() gee(y ~ x, data = d, id = id, corstr = 'exchangeable', std.err = 'fij')"),
  sparse_crossed = c(
    "set.seed(1); n <- 60000",
    "d <- data.frame(a = factor(sample(4000, n, TRUE)), b = factor(sample(4000, n, TRUE)))",
    "d$x <- rnorm(n)",
    "d$y <- rbinom(n, 1, plogis(d$x + rnorm(4000)[d$a] + rnorm(4000)[d$b]))",
    "fit <- function() glmm(y ~ x + (1 | a) + (1 | b), data = d, family = binomial)"),
  agq = c(
    "set.seed(1); M <- 20000; m <- 20",
    "d <- data.frame(g = rep(seq_len(M), each = m), x = rnorm(M * m))",
    "d$y <- rbinom(M * m, 1, plogis(d$x + rep(rnorm(M), each = m) + rep(rnorm(M), each = m) * d$x))",
    "fit <- function() glmm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 25)"))

latency <- function(code, wait = 4) {
  dir <- tempfile(); dir.create(dir)
  f <- function(x) file.path(dir, x)
  writeLines(c(
    "suppressPackageStartupMessages(library(glmmgee))", code,
    sprintf("writeLines(as.character(Sys.getpid()), '%s')", f("pid")),
    sprintf("t0 <- Sys.time(); writeLines('started', '%s')", f("started")),
    "r <- tryCatch({ fit(); 'finished' }, interrupt = function(e) 'interrupted')",
    sprintf("writeLines(c(r, format(as.numeric(Sys.time()), digits = 15), format(as.numeric(Sys.time() - t0, units = 'secs'))), '%s')", f("done"))),
    f("run.R"))
  system2(rscript, c("--vanilla", f("run.R")), wait = FALSE, stdout = FALSE, stderr = FALSE)
  while (!file.exists(f("started"))) Sys.sleep(0.05)
  Sys.sleep(wait)
  pid <- as.integer(readLines(f("pid")))
  t_sig <- as.numeric(Sys.time())
  tools::pskill(pid, tools::SIGINT)
  while (!file.exists(f("done")) || length(readLines(f("done"))) < 3L) {
    Sys.sleep(0.01)
    if (as.numeric(Sys.time()) - t_sig > 600) { tools::pskill(pid, tools::SIGKILL); break }
  }
  r <- readLines(f("done"))
  data.frame(outcome = r[1], latency_s = round(as.numeric(r[2]) - t_sig, 3),
             ran_s = round(as.numeric(r[3]), 2))
}

res <- do.call(rbind, lapply(names(cases), function(nm) cbind(case = nm, latency(cases[[nm]]))))
print(res, row.names = FALSE)

# gee cost against cluster size, same number of rows (independence,
# exchangeable, ar1): was quadratic in the cluster size. Best of 3.
set.seed(2)
tm <- function(M, m, cs) {
  d <- data.frame(id = rep(seq_len(M), each = m), x = rnorm(M * m))
  d$y <- d$x + rnorm(M * m)
  suppressPackageStartupMessages(library(glmmgee))
  min(replicate(3, unname(system.time(gee(y ~ x, data = d, id = id, corstr = cs))[3])))
}
sz <- do.call(rbind, lapply(c("independence", "exchangeable", "ar1"), function(cs)
  data.frame(corstr = cs, s_100x3000 = tm(100, 3000, cs), s_3000x100 = tm(3000, 100, cs))))
sz$ratio <- round(sz$s_100x3000 / sz$s_3000x100, 2)
print(sz, row.names = FALSE)
