# Runs R code in a fresh Rscript process with glmmgee loaded and a time
# limit, so that a crash (abort, segfault) or a hang fails the test that
# asked for it instead of killing the test runner. The child reports with
# child_say(tag, text) lines; run_child() returns the exit status, whether
# the time limit was hit, and the reports as a named character vector.
run_child <- function(code, timeout = 60) {
  script <- tempfile(fileext = ".R")
  out <- tempfile(fileext = ".txt")
  on.exit(unlink(c(script, out)))
  writeLines(c(
    "suppressPackageStartupMessages(library(glmmgee))",
    "child_say <- function(tag, text) cat(sprintf('@@%s@@%s\\n', tag, gsub('\\n', ' ', text)))",
    # An R error becomes a report; anything that is not an R condition
    # (a crash) ends the process without one.
    "child_try <- function(tag, expr) child_say(tag, tryCatch({ force(expr); 'OK' },",
    "  error = function(e) paste('ERROR:', conditionMessage(e))))",
    code), script)
  env <- paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep))
  status <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"),
                                     c("--vanilla", shQuote(script)), stdout = out,
                                     stderr = out, env = env, timeout = timeout))
  lines <- if (file.exists(out)) readLines(out, warn = FALSE) else character(0)
  rep <- grep("^@@", lines, value = TRUE)
  tags <- sub("^@@([^@]*)@@.*$", "\\1", rep)
  list(status = status, timed_out = identical(as.integer(status), 124L),
       reports = stats::setNames(sub("^@@[^@]*@@", "", rep), tags),
       output = paste(utils::tail(lines, 30L), collapse = "\n"))
}

# The child ended normally and reported every tag.
expect_child_ok <- function(res, tags) {
  expect_false(res$timed_out, info = res$output)
  expect_equal(as.integer(res$status), 0L, info = res$output)
  expect_setequal(names(res$reports), tags)
}
