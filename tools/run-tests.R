# Runs the installed package's test suite and ends with one plain summary line
# ("N passed, N failed, N skipped") so any reader of the log sees the outcome.
# Exits non-zero when a test fails or errors.
#
# The test files run in parallel worker processes (testthat's parallel mode:
# each worker loads the installed package and the helper files once, then
# takes the next file from the queue), one worker per core up to
# GLMMGEE_TEST_JOBS (default 2, the machines this project is built on).
# GLMMGEE_TEST_JOBS=1 runs them in this process, one after the other.
suppressMessages(library(testthat))
library(glmmgee)
jobs <- suppressWarnings(as.integer(Sys.getenv("GLMMGEE_TEST_JOBS", "2")))
if (is.na(jobs) || jobs < 1L) stop("GLMMGEE_TEST_JOBS must be a positive whole number")
jobs <- min(jobs, max(1L, parallel::detectCores(logical = TRUE), na.rm = TRUE))
if (jobs > 1L) {
  Sys.setenv(TESTTHAT_PARALLEL = "TRUE", TESTTHAT_CPUS = jobs)
} else {
  Sys.setenv(TESTTHAT_PARALLEL = "FALSE")
}
res <- as.data.frame(testthat::test_dir("tests/testthat", package = "glmmgee",
                                        load_package = "installed",
                                        reporter = "summary", stop_on_failure = FALSE))
failed <- sum(res$failed) + sum(res$error)
cat(sprintf("\n%d passed, %d failed, %d skipped\n",
            sum(res$passed), failed, sum(res$skipped)))
quit(status = if (failed > 0 || nrow(res) == 0) 1 else 0)
