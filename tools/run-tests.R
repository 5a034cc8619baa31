# Runs the installed package's test suite and ends with one plain summary line
# ("N passed, N failed, N skipped") so any reader of the log sees the outcome.
# Exits non-zero when a test fails or errors.
suppressMessages(library(testthat))
library(glmmgee)
res <- as.data.frame(testthat::test_dir("tests/testthat", package = "glmmgee",
                                        load_package = "installed",
                                        reporter = "summary", stop_on_failure = FALSE))
failed <- sum(res$failed) + sum(res$error)
cat(sprintf("\n%d passed, %d failed, %d skipped\n",
            sum(res$passed), failed, sum(res$skipped)))
quit(status = if (failed > 0 || nrow(res) == 0) 1 else 0)
