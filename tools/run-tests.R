# Runs the installed package's test suite and ends with one plain summary line
# ("N passed, N failed, N skipped") so any reader of the log sees the outcome.
# Exits non-zero when a test fails or errors.
#
# The test files run in parallel worker processes (testthat's parallel mode:
# each worker loads the installed package and the helper files once, then
# takes the next file from the queue), one worker per core up to
# GLMMGEE_TEST_JOBS (default 2, the machines this project is built on).
# GLMMGEE_TEST_JOBS=1 runs them in this process, one after the other.
#
# GLMMGEE_TEST_LEVEL chooses how much runs (tests/testthat/README.md):
#   smoke    only the files in `smoke_files` below, a brief pass over every
#            concept (`make smoke`, about two minutes);
#   default  (unset) every file: what `make test` and CI run;
#   long     every file, and the optional grids marked
#            skip_unless_level("long") (tests/testthat/helper-test-level.R).
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
level <- Sys.getenv("GLMMGEE_TEST_LEVEL", "")
if (!level %in% c("", "smoke", "default", "long", "0", "1", "2")) {
  stop("GLMMGEE_TEST_LEVEL must be 'smoke', 'default' or 'long' (or unset), not '", level, "'")
}
# The smoke level's files: one or two fast files per concept.
smoke_files <- c(
  "agq-start", "gh-rule", "laplace-engine",         # one grouping factor: Laplace, AGHQ
  "glmm-sparse", "glmm-sparse-input",               # several terms: sparse Laplace
  "lmm-ml", "lmm-units",                            # linear mixed models, ML and REML
  "ordinal-gee", "ordinal-predict",                 # cumulative link models and GEE
  "zi-front-end",                                   # zero inflation, hurdle
  "covstruct-input", "covstruct-units",             # structured covariances
  "known-gaussian-boundary",                        # known covariance
  "gee-object", "gee-equations",                    # GEE
  "glmm-object", "update", "front-end",             # fitted objects and methods
  "ecosystem-stats",                                # ecosystem: stats generics
  "code-layout", "test-level")                      # the code's layout, the test levels
filter <- NULL
if (level %in% c("smoke", "0")) {
  missing <- smoke_files[!file.exists(file.path("tests/testthat", paste0("test-", smoke_files, ".R")))]
  if (length(missing)) stop("smoke test files not found: ", paste(missing, collapse = ", "))
  filter <- paste0("^(", paste(smoke_files, collapse = "|"), ")$")
}
out <- testthat::test_dir("tests/testthat", package = "glmmgee", load_package = "installed",
                          filter = filter, reporter = "summary", stop_on_failure = FALSE)
res <- as.data.frame(out)
failed <- sum(res$failed) + sum(res$error)
# Every failure in one line each (the summary reporter details only the
# first ten), so that the end of a log names them all.
lines <- unlist(lapply(out, function(t) lapply(t$results, function(e) {
  if (!inherits(e, c("expectation_failure", "expectation_error"))) return(NULL)
  sprintf("  %s: %s: %s", t$file, t$test, substr(gsub("[[:space:]]+", " ", conditionMessage(e)), 1L, 400L))
})))
if (length(lines)) cat("\nEvery failure:\n", paste0(lines, "\n"), sep = "")
# The slowest files (elapsed seconds of their tests), so that a log shows
# where the suite's time goes. Only in one process: testthat's parallel
# workers do not report the times of their tests.
if (nrow(res) && jobs == 1L) {
  secs <- sort(tapply(res$real, res$file, sum), decreasing = TRUE)
  cat(sprintf("\nSlowest files (seconds; all %d files: %.0f):\n", length(secs), sum(secs)))
  cat(sprintf("  %7.1f  %s\n", head(secs, 15L), names(head(secs, 15L))), sep = "")
}
cat(sprintf("\n%d passed, %d failed, %d skipped\n",
            sum(res$passed), failed, sum(res$skipped)))
quit(status = if (failed > 0 || nrow(res) == 0) 1 else 0)
