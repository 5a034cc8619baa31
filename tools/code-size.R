# The size of the package's R code, and the files and functions over the
# layout limits (a file of R/ at most 600 lines, a function at most 150).
#
#   Rscript tools/code-size.R                 # report (make size)
#   Rscript tools/code-size.R --check         # also exit non-zero over a limit
#   Rscript tools/code-size.R --check R/a.R R/b.R   # check only these files
#
# Code lines are the lines that hold R code: blank lines, comments and
# roxygen (#') do not count; R/RcppExports.R is generated and not counted.
# A file's length and a function's length count every line (the function from
# the line of its name to its closing brace). Functions are the top-level
# assignments `name <- function(...)` of each file.
#
# Sourced (for example by tests/testthat/test-code-layout.R), it only defines
# the functions below; it reports when it runs as a script.

code_size_limits <- c(file = 600L, fun = 150L)

code_size_files <- function(dir = "R") {
  files <- list.files(dir, pattern = "[.][Rr]$", full.names = TRUE)
  files[basename(files) != "RcppExports.R"]
}

# Per file: all lines, and the lines that hold code (from the parser's tokens,
# so that a `#` inside a string or a multi-line string are counted right).
code_size_file_lines <- function(files) {
  one <- function(f) {
    src <- readLines(f, warn = FALSE)
    pd <- utils::getParseData(parse(f, keep.source = TRUE), includeText = FALSE)
    pd <- pd[pd$terminal & pd$token != "COMMENT", c("line1", "line2")]
    code <- unique(unlist(Map(seq.int, pd$line1, pd$line2), use.names = FALSE))
    c(lines = length(src), code = length(code))
  }
  m <- vapply(files, one, c(lines = 0, code = 0))
  data.frame(file = files, lines = as.integer(m["lines", ]), code = as.integer(m["code", ]),
             row.names = NULL, stringsAsFactors = FALSE)
}

# The top-level function definitions of the files, with their length in lines.
code_size_functions <- function(files) {
  one <- function(f) {
    ex <- parse(f, keep.source = TRUE)
    sr <- attr(ex, "srcref")
    is_def <- vapply(ex, function(e) {
      is.call(e) && (identical(e[[1L]], as.name("<-")) || identical(e[[1L]], as.name("="))) &&
        is.name(e[[2L]]) && is.call(e[[3L]]) && identical(e[[3L]][[1L]], as.name("function"))
    }, NA)
    if (!any(is_def)) return(NULL)
    data.frame(file = f,
               name = vapply(ex[is_def], function(e) as.character(e[[2L]]), ""),
               lines = vapply(sr[is_def], function(r) r[3L] - r[1L] + 1L, 0L),
               stringsAsFactors = FALSE)
  }
  out <- do.call(rbind, lapply(files, one))
  if (is.null(out)) data.frame(file = character(), name = character(), lines = integer()) else out
}

# Everything at once: totals, and what is over the limits.
code_size <- function(dir = "R", files = code_size_files(dir), limits = code_size_limits) {
  fl <- code_size_file_lines(files)
  fn <- code_size_functions(files)
  long_files <- fl[fl$lines > limits[["file"]], c("file", "lines")]
  long_funs <- fn[fn$lines > limits[["fun"]], ]
  list(code = sum(fl$code), lines = sum(fl$lines), files = nrow(fl),
       functions = nrow(fn),
       long_files = long_files[order(-long_files$lines), , drop = FALSE],
       long_functions = long_funs[order(-long_funs$lines), , drop = FALSE],
       limits = limits)
}

code_size_report <- function(s) {
  cat(sprintf("R/ code lines: %d (all lines %d; %d files, %d functions; RcppExports.R not counted)\n",
              s$code, s$lines, s$files, s$functions))
  cat(sprintf("files over %d lines: %d\n", s$limits[["file"]], nrow(s$long_files)))
  for (i in seq_len(nrow(s$long_files)))
    cat(sprintf("  %5d  %s\n", s$long_files$lines[i], s$long_files$file[i]))
  cat(sprintf("functions over %d lines: %d\n", s$limits[["fun"]], nrow(s$long_functions)))
  for (i in seq_len(nrow(s$long_functions)))
    cat(sprintf("  %5d  %s (%s)\n", s$long_functions$lines[i], s$long_functions$name[i],
                s$long_functions$file[i]))
  invisible(s)
}

if (identical(environment(), globalenv()) && !interactive()) {
  args <- commandArgs(TRUE)
  check <- "--check" %in% args
  paths <- setdiff(args, "--check")
  bad <- paths[!file.exists(paths)]
  if (length(bad)) stop("code-size.R: no such file: ", paste(bad, collapse = ", "), call. = FALSE)
  s <- if (length(paths)) code_size(files = paths) else code_size()
  code_size_report(s)
  if (check && (nrow(s$long_files) || nrow(s$long_functions))) {
    cat("over the layout limits\n")
    quit(status = 1L)
  }
}
