# Progress reports of long fits (R/progress.R; glmm_control(progress = ),
# gee_control(progress = )): what is printed, when, and that it never
# changes a fit.

progress_lines <- function(expr) {
  out <- character(0)
  value <- withCallingHandlers(expr, message = function(m) {
    out <<- c(out, sub("\n$", "", conditionMessage(m)))
    invokeRestart("muffleMessage")
  })
  list(value = value, lines = out)
}

progress_data <- local({
  set.seed(11)
  M <- 60L
  g <- rep(seq_len(M), each = 8L)
  x <- rnorm(length(g))
  u <- rnorm(M)
  a <- sample.int(30L, length(g), TRUE)
  data.frame(y = rbinom(length(g), 1, plogis(-0.3 + 0.6 * x + u[g])), x = x, g = g,
             a = factor(a), z = rnorm(length(g)) + rnorm(M)[g] + rnorm(30)[a])
})

test_that("'progress' is validated by both control constructors", {
  for (bad in list("yes", NA, -1, Inf, c(TRUE, FALSE), list(1))) {
    expect_error(glmm_control(progress = bad), "glmm_control\\(\\): 'progress' must be")
    expect_error(gee_control(progress = bad), "gee_control\\(\\): 'progress' must be")
  }
  expect_null(glmm_control()$progress)
  expect_true(glmm_control(progress = TRUE)$progress)
  expect_identical(glmm_control(progress = 5L)$progress, 5)
  expect_false(gee_control(progress = FALSE)$progress)
  expect_identical(gee_control(progress = 0)$progress, 0)
})

test_that("a fit reports nothing unless asked (non-interactive session, no option)", {
  withr::local_options(glmmgee.progress = NULL)
  skip_if(interactive())
  r <- progress_lines(glmm(y ~ x + (1 | g), progress_data, binomial))
  expect_identical(r$lines, character(0))
  r <- progress_lines(gee(y ~ x, data = progress_data, id = g, family = binomial))
  expect_identical(r$lines, character(0))
})

test_that("the one-factor engine's evaluations are counted and the fit is unchanged", {
  quiet <- glmm(y ~ x + (1 | g), progress_data, binomial, nAGQ = 5)
  r <- progress_lines(glmm(y ~ x + (1 | g), progress_data, binomial, nAGQ = 5,
                           control = glmm_control(progress = 0)))
  expect_identical(coef(r$value), coef(quiet))
  expect_identical(logLik(r$value), logLik(quiet))
  expect_identical(r$value$theta, quiet$theta)
  lines <- r$lines
  expect_true(all(startsWith(lines, "glmm: ")))
  expect_match(lines[1L], "building the model frame")
  expect_match(lines[2L], sprintf("model frame of %d rows; fitting by the agq engine",
                                  nrow(progress_data)), fixed = TRUE)
  ticks <- grep("fitting by the agq engine: [0-9]+ evaluations?", lines, value = TRUE)
  expect_gt(length(ticks), 2L)
  counts <- as.integer(sub(".*: ([0-9]+) evaluations?.*", "\\1", ticks))
  expect_identical(counts, seq_along(counts))  # after = 0: every evaluation
  # the last evaluation is at the optimum
  ll <- as.numeric(gsub(",", "", sub(".*log-likelihood ", "", ticks[length(ticks)])))
  expect_equal(ll, as.numeric(logLik(quiet)), tolerance = 1e-6)
  expect_match(lines[length(lines)], sprintf("done after %d evaluations", max(counts)),
               fixed = TRUE)
  times <- as.numeric(sub("^glmm: ([0-9.]+) s,.*", "\\1", lines))
  expect_false(is.unsorted(times))
})

test_that("the C++ Newton search of several-term LMMs reports its evaluations", {
  quiet <- glmm(z ~ x + (1 | g) + (1 | a), progress_data, REML = TRUE)
  r <- progress_lines(glmm(z ~ x + (1 | g) + (1 | a), progress_data, REML = TRUE,
                           control = glmm_control(progress = 0)))
  expect_identical(coef(r$value), coef(quiet))
  expect_identical(r$value$theta, quiet$theta)
  ticks <- grep("fitting by the lmm_sparse engine: [0-9]+ evaluations?, log-likelihood",
                r$lines, value = TRUE)
  expect_gt(length(ticks), 2L)
  # the (restricted) log-likelihood: minus half the REML criterion
  ll <- as.numeric(gsub(",", "", sub(".*log-likelihood ", "", ticks[length(ticks)])))
  expect_equal(ll, as.numeric(logLik(quiet)), tolerance = 1e-6)
  expect_length(grep("done after", r$lines), 1L)
})

test_that("gee reports its scoring steps, one per iteration", {
  quiet <- gee(y ~ x, data = progress_data, id = g, family = binomial, corstr = "exchangeable")
  r <- progress_lines(gee(y ~ x, data = progress_data, id = g, family = binomial,
                          corstr = "exchangeable", control = gee_control(progress = 0)))
  expect_identical(coef(r$value), coef(quiet))
  expect_identical(vcov(r$value), vcov(quiet))
  expect_true(all(startsWith(r$lines, "gee: ")))
  expect_match(r$lines[length(r$lines)],
               sprintf("done after %d scoring step%s", r$value$iter,
                       if (r$value$iter == 1L) "" else "s"), fixed = TRUE)
  # the option sets the default
  withr::local_options(glmmgee.progress = 0)
  r2 <- progress_lines(gee(y ~ x, data = progress_data, id = g, family = binomial))
  expect_gt(length(r2$lines), 1L)
  expect_identical(progress_lines(suppressMessages(
    gee(y ~ x, data = progress_data, id = g, family = binomial)))$lines, character(0))
})

test_that("a bad value of the option is an error naming it", {
  for (bad in list("yes", NA, -1, c(1, 2), Inf)) {
    withr::local_options(glmmgee.progress = bad)
    expect_error(glmm(y ~ x + (1 | g), progress_data, binomial),
                 "option \"glmmgee.progress\" must be TRUE, FALSE or a number", fixed = TRUE)
    expect_error(gee(y ~ x, data = progress_data, id = g, family = binomial),
                 "option \"glmmgee.progress\"", fixed = TRUE)
  }
  # an explicit control value does not read the option
  withr::local_options(glmmgee.progress = "yes")
  expect_silent(glmm(y ~ x + (1 | g), progress_data, binomial,
                     control = glmm_control(progress = FALSE)))
})

test_that("the first line waits for 'after' seconds", {
  r <- progress_lines(glmm(y ~ x + (1 | g), progress_data, binomial,
                           control = glmm_control(progress = 3600)))
  expect_identical(r$lines, character(0))
})

test_that("a fit that stops says so, and the next fit opens a report of its own", {
  bad <- progress_data
  bad$y[1] <- 2
  r <- progress_lines(try(glmm(y ~ x + (1 | g), bad, binomial,
                               control = glmm_control(progress = 0)), silent = TRUE))
  expect_s3_class(r$value, "try-error")
  expect_match(r$lines[length(r$lines)], "stopped")
  expect_false(glmmgee:::progress_state$active)
  r <- progress_lines(glmm(y ~ x + (1 | g), progress_data, binomial,
                           control = glmm_control(progress = 0)))
  expect_match(r$lines[length(r$lines)], "done after")
  # an error raised by the report itself inside the C++ Newton loop leaves
  # by R's error handling, and the engine fits again afterwards
  stopper <- function(m)
    if (grepl("(engine|scoring): [0-9]+", conditionMessage(m))) stop("stopped by the handler")
  expect_error(withCallingHandlers(
    glmm(z ~ x + (1 | g) + (1 | a), progress_data, REML = TRUE,
         control = glmm_control(progress = 0)), message = stopper), "stopped by the handler")
  expect_false(glmmgee:::progress_state$active)
  expect_error(withCallingHandlers(
    gee(y ~ x, data = progress_data, id = g, family = binomial,
        control = gee_control(progress = 0)), message = stopper), "stopped by the handler")
  expect_false(glmmgee:::progress_state$active)
  fit <- glmm(z ~ x + (1 | g) + (1 | a), progress_data, REML = TRUE)
  expect_true(is.finite(logLik(fit)))
})

test_that("refits inside a method's bootstrap open no report", {
  withr::local_options(glmmgee.progress = 0)
  fit <- suppressMessages(glmm(y ~ x + (1 | g), progress_data, binomial))
  set.seed(3)
  r <- progress_lines(standardize(fit, "x", values = c(0, 1), se = "bootstrap", B = 20,
                                  progress = FALSE))
  expect_identical(grep("^glmm", r$lines, value = TRUE), character(0))
  expect_false(glmmgee:::progress_state$active)
})

test_that("fits from shard files report their stages and evaluations", {
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl))
  files <- shard_files(unname(split(progress_data, progress_data$g > 30)), "rds")
  quiet <- glmm_shards(y ~ x + (1 | g), files, family = binomial, workers = cl)
  r <- progress_lines(glmm_shards(y ~ x + (1 | g), files, family = binomial, workers = cl,
                                  control = glmm_control(progress = 0)))
  expect_identical(coef(r$value), coef(quiet))
  expect_true(all(startsWith(r$lines, "glmm_shards: ")))
  expect_match(r$lines[1L], "reading the shards on the workers", fixed = TRUE)
  expect_true(any(grepl("fitting by the agq engine on the workers: [0-9]+ evaluations?, log-likelihood",
                        r$lines)))
  expect_match(r$lines[length(r$lines)], "done after [0-9]+ evaluations")
  quiet <- gee_shards(y ~ x, files, id = "g", family = binomial, corstr = "exchangeable",
                      workers = cl)
  r <- progress_lines(gee_shards(y ~ x, files, id = "g", family = binomial,
                                 corstr = "exchangeable", workers = cl,
                                 control = gee_control(progress = 0)))
  expect_identical(coef(r$value), coef(quiet))
  expect_match(r$lines[length(r$lines)],
               sprintf("^gee_shards: .* done after %d scoring steps?$", r$value$iter))
})
