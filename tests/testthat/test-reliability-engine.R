# Crashes, hangs and unbounded resources of the C++ engines. Each case runs
# in a child process (helper-child.R): a crash or a hang fails the test
# instead of ending the test run.

test_that("gee with one very large cluster fits for the cheap structures and refuses dense ones by size", {
  res <- run_child(c(
    "set.seed(1); n <- 200000",
    "d <- data.frame(id = c(rep(1, n), rep(2:21, each = 5)))",
    "d$x <- rnorm(nrow(d)); d$y <- d$x + rnorm(nrow(d))",
    "for (cs in c('independence', 'exchangeable', 'ar1', 'mdep'))",
    "  child_try(cs, gee(y ~ x, data = d, id = id, corstr = cs))",
    "child_try('md', gee(y ~ x, data = d, id = id, std.err = 'md'))"), timeout = 120)
  expect_child_ok(res, c("independence", "exchangeable", "ar1", "mdep", "md"))
  for (cs in c("independence", "exchangeable", "ar1")) expect_equal(res$reports[[cs]], "OK")
  # A dense n x n working correlation (and the leverages) would need
  # hundreds of GB: an R error that says how much.
  expect_match(res$reports[["mdep"]], "^ERROR: .*working correlation.*200000 rows.*needs [0-9.]+ [GT]B of memory")
  expect_match(res$reports[["md"]], "^ERROR: .*sandwich.*needs [0-9.]+ [GT]B of memory")
})

test_that("gee with waves as day numbers keeps memory to the observed positions", {
  res <- run_child(c(
    "set.seed(2); d <- data.frame(id = rep(1:40, each = 5))",
    "d$day <- as.vector(replicate(40, sort(sample(1:20000, 5))))",
    "d$x <- rnorm(200); d$y <- d$x + rnorm(200)",
    "for (cs in c('ar1', 'exchangeable', 'unstructured', 'mdep')) {",
    "  f <- tryCatch(gee(y ~ x, data = d, id = id, waves = day, corstr = cs), error = function(e) e)",
    "  child_say(cs, if (inherits(f, 'error')) paste('ERROR:', conditionMessage(f)) else",
    "    sprintf('%.0f %d', as.numeric(object.size(f)), nrow(f$working.correlation)))",
    "}"), timeout = 120)
  expect_child_ok(res, c("ar1", "exchangeable", "unstructured", "mdep"))
  for (cs in c("ar1", "exchangeable", "mdep", "unstructured")) {
    v <- as.numeric(strsplit(res$reports[[cs]], " ")[[1]])
    expect_lt(v[1], 20e6)   # bytes: the span (20,000 days) squared would be 3.2 GB
    expect_lte(v[2], 200)   # at most one row per observed day (unstructured:
                            # one parameter per pair of observed days)
  }
})

test_that("unstructured gee with gaps in the waves estimates the pairs that occur", {
  skip_if_not_installed("geepack")
  set.seed(3)
  d <- data.frame(id = rep(1:60, each = 3), wv = rep(c(1, 5, 9), 60))
  d$x <- rnorm(180); d$y <- d$x + rep(rnorm(60), each = 3) + rnorm(180)
  f <- gee(y ~ x, data = d, id = id, waves = wv, corstr = "unstructured")
  expect_equal(names(f$alpha), c("alpha.1:5", "alpha.1:9", "alpha.5:9"))
  expect_equal(dim(f$working.correlation), c(3L, 3L))
  g <- geepack::geeglm(y ~ x, data = d, id = id, waves = match(wv, c(1, 5, 9)),
                       corstr = "unstructured")
  expect_equal(unname(coef(f)), unname(coef(g)), tolerance = 1e-5)
})

test_that("Gamma(log) glmm with degenerate or extreme responses ends in a fit or an R error", {
  res <- run_child(c(
    "set.seed(4); d <- data.frame(g = rep(1:30, each = 6), x = rnorm(180))",
    "ys <- list(constant = rep(5, 180), near_constant = 5 + 1e-13 * rnorm(180),",
    "  dispersed = exp(rnorm(180, sd = 12)), tiny = rep(c(1e-300, 2e-300), 90),",
    "  huge = rep(c(1e300, 1e-300), 90))",
    "for (nm in names(ys)) { d$y <- ys[[nm]]",
    "  for (k in c(1, 5)) child_try(paste0(nm, k), suppressWarnings(",
    "    glmm(y ~ x + (1 | g), data = d, family = Gamma(link = 'log'), nAGQ = k)))",
    "  child_try(paste0(nm, '_sparse'), suppressWarnings(",
    "    glmm(y ~ x + (1 | g) + (1 | x > 0), data = d, family = Gamma(link = 'log'))))",
    "}"), timeout = 240)
  tags <- as.vector(outer(c("constant", "near_constant", "dispersed", "tiny", "huge"),
                          c("1", "5", "_sparse"), paste0))
  expect_child_ok(res, tags)
})

test_that("the AGQ scratch is bounded by memory, not only by the number of points", {
  res <- run_child(c(
    "set.seed(5); n <- 200000",
    "d <- data.frame(g = c(rep(1, n), rep(2:40, each = 4)))",
    "d$x <- rnorm(nrow(d)); d$y <- rbinom(nrow(d), 1, 0.5)",
    # 250^2 = 62,500 points per cluster times the 200,000-row cluster.
    "child_try('big', glmm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 250))"),
    timeout = 120)
  expect_child_ok(res, "big")
  expect_match(res$reports[["big"]], "^ERROR: .*nAGQ = 250.*needs [0-9.]+ [GT]B of memory")
})

test_that("thread counts: NA, Inf and non-whole numbers are errors, huge ones are capped", {
  for (bad in list(NA, Inf, -1, 0, 2.5, "2", c(1, 2))) {
    expect_error(glmm_control(nthreads = bad), "'nthreads' must be one positive whole number")
    expect_error(gee_control(threads = bad), "'threads' must be one positive whole number")
  }
  expect_message(ctl <- glmm_control(nthreads = 1e5), "'nthreads' = 1e\\+05 is more than")
  expect_lte(ctl$nthreads, parallel::detectCores())
  expect_message(ctl <- gee_control(threads = 1e5), "using")
  expect_true(is.integer(ctl$threads) && ctl$threads >= 1L)
  expect_silent(glmm_control(nthreads = 1L))
  res <- run_child(c(
    "data(bacteria, package = 'MASS')",
    "child_try('glmm', suppressMessages(glmm(y ~ trt + (1 | ID), data = bacteria,",
    "  family = binomial, nAGQ = 5, control = glmm_control(nthreads = 1e5))))",
    "child_try('gee', suppressMessages(gee(y ~ trt, data = bacteria, id = ID,",
    "  family = binomial, corstr = 'exchangeable', control = gee_control(threads = 1e5))))"),
    timeout = 60)
  expect_child_ok(res, c("glmm", "gee"))
  expect_equal(unname(res$reports), c("OK", "OK"))
})

test_that("forked children run one thread and do not deadlock after a multi-threaded fit", {
  skip_on_os("windows")
  res <- run_child(c(
    "data(bacteria, package = 'MASS')",
    "nt <- max(2L, parallel::detectCores())",
    # The parent starts OpenMP teams first: this is what made children hang.
    "f0 <- suppressMessages(glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial,",
    "  nAGQ = 5, control = glmm_control(nthreads = nt)))",
    "g0 <- suppressMessages(gee(y ~ trt, data = bacteria, id = ID, family = binomial,",
    "  corstr = 'exchangeable', control = gee_control(threads = nt)))",
    "r <- parallel::mclapply(1:2, function(i) list(",
    "  info = glmmgee:::cpp_thread_info(8L),",
    "  glmm = coef(suppressMessages(glmm(y ~ trt + (1 | ID), data = bacteria,",
    "    family = binomial, nAGQ = 5, control = glmm_control(nthreads = nt)))),",
    "  gee = coef(suppressMessages(gee(y ~ trt, data = bacteria, id = ID, family = binomial,",
    "    corstr = 'exchangeable', control = gee_control(threads = nt))))), mc.cores = 2)",
    "child_say('forked', paste(vapply(r, function(x) x$info$forked_child, NA), collapse = ' '))",
    "child_say('usable', paste(vapply(r, function(x) x$info$usable, 1L), collapse = ' '))",
    "child_say('parent', paste(glmmgee:::cpp_thread_info(8L)$forked_child))",
    "child_say('same', all.equal(r[[1]]$glmm, coef(f0)) && all.equal(r[[2]]$gee, coef(g0)))"),
    timeout = 90)
  expect_child_ok(res, c("forked", "usable", "parent", "same"))
  expect_equal(res$reports[["forked"]], "TRUE TRUE")
  expect_equal(res$reports[["usable"]], "1 1")
  expect_equal(res$reports[["parent"]], "FALSE")
  expect_equal(res$reports[["same"]], "TRUE")
})

test_that("ar1 lag sums of large clusters (by FFT) give the moment estimate of the direct sums", {
  set.seed(6)
  # Clusters of 4,000 rows with gaps in the waves take the FFT path; the
  # direct pair sums by lag are formed here in R from the fit's residuals.
  M <- 3; m <- 4000; span <- 6000
  d <- data.frame(id = rep(seq_len(M), each = m))
  d$t <- as.vector(replicate(M, sort(sample(span, m))))
  d$x <- rnorm(M * m)
  e <- unlist(lapply(seq_len(M), function(i)
    as.numeric(stats::arima.sim(list(ar = 0.6), span))[d$t[d$id == i]]))
  d$y <- 1 + 0.5 * d$x + e
  f <- gee(y ~ x, data = d, id = id, waves = t, corstr = "ar1",
           control = gee_control(epsilon = 1e-12))
  r <- d$y - fitted(f)
  phi <- mean(r^2)
  S <- C <- numeric(span)
  for (i in seq_len(M)) {
    k <- d$id == i
    lag <- outer(d$t[k], d$t[k], "-")
    up <- lag > 0
    a <- rowsum(outer(r[k], r[k])[up], lag[up])
    S[as.integer(rownames(a))] <- S[as.integer(rownames(a))] + a
    C <- C + tabulate(lag[up], span)
  }
  # The estimating equation of the ar1 parameter (least squares of the
  # standardized lag products on alpha^lag; see update_assoc in gee.cpp).
  ee <- function(a) { l <- seq_along(S); sum(l * a^(l - 1) * (S / phi - C * a^l)) }
  alpha <- stats::uniroot(ee, c(0.01, 0.99), tol = 1e-14)$root
  expect_equal(f$scale, phi, tolerance = 1e-10)
  expect_equal(unname(f$alpha), alpha, tolerance = 1e-8)
  expect_gt(alpha, 0.5)  # the simulated AR(1) has 0.6
})

test_that("an interrupt stops long gee, AGQ and sparse crossed-factor fits (no hang)", {
  skip_on_os("windows")
  # The child writes its pid, starts the fit, and records how it ended; the
  # parent sends SIGINT three seconds in. Latency is measured in
  # bench/bench-interrupt.R; here a stop within 30 s separates honouring the
  # interrupt from ignoring it until the fit ends (minutes).
  stop_after_sigint <- function(setup) {
    dir <- tempfile(); dir.create(dir); on.exit(unlink(dir, recursive = TRUE))
    f <- function(x) file.path(dir, x)
    writeLines(c("suppressPackageStartupMessages(library(glmmgee))", setup,
                 sprintf("writeLines(as.character(Sys.getpid()), '%s')", f("pid")),
                 "r <- tryCatch({ fit(); 'finished' }, interrupt = function(e) 'interrupted')",
                 sprintf("writeLines(r, '%s')", f("done"))), f("run.R"))
    env <- paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep))
    system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", f("run.R")), wait = FALSE,
            stdout = FALSE, stderr = FALSE, env = env)
    t0 <- Sys.time()
    while (!file.exists(f("pid")) && Sys.time() - t0 < 60) Sys.sleep(0.05)
    pid <- as.integer(readLines(f("pid")))
    Sys.sleep(3)  # past data preparation, into the engine
    tools::pskill(pid, tools::SIGINT)
    t1 <- Sys.time()
    done <- function() file.exists(f("done")) && length(readLines(f("done"), warn = FALSE)) > 0L
    while (!done() && difftime(Sys.time(), t1, units = "secs") < 30) Sys.sleep(0.05)
    if (!done()) { tools::pskill(pid, tools::SIGKILL); return("no stop") }
    readLines(f("done"))
  }
  expect_equal(stop_after_sigint(c(
    "set.seed(1); M <- 1500; m <- 400",
    "d <- data.frame(id = rep(seq_len(M), each = m), x = rnorm(M * m))",
    "d$y <- d$x + rep(rnorm(M), each = m) + rnorm(M * m)",
    "fit <- function() gee(y ~ x, data = d, id = id, corstr = 'mdep', Mv = 3)")), "interrupted")
  expect_equal(stop_after_sigint(c(
    "set.seed(1); M <- 20000; m <- 20",
    "d <- data.frame(g = rep(seq_len(M), each = m), x = rnorm(M * m))",
    "d$y <- rbinom(M * m, 1, plogis(d$x + rep(rnorm(M), each = m)))",
    "fit <- function() glmm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 25)")),
    "interrupted")
  # Crossed factors whose Cholesky factor fills in: one factorization takes
  # about a minute, so the interrupt arrives inside it.
  expect_equal(stop_after_sigint(c(
    "set.seed(1); n <- 60000",
    "d <- data.frame(a = factor(sample(4000, n, TRUE)), b = factor(sample(4000, n, TRUE)))",
    "d$x <- rnorm(n); d$y <- rbinom(n, 1, plogis(d$x + rnorm(4000)[d$a] + rnorm(4000)[d$b]))",
    "fit <- function() glmm(y ~ x + (1 | a) + (1 | b), data = d, family = binomial)")),
    "interrupted")
})
