# The layout of the package's own code: rules a reader relies on.

# R/ of the source tree, when the tests run from it (make test); NULL from an
# installed copy without sources (R CMD check runs them there too).
source_r_dir <- function() {
  d <- file.path(testthat::test_path(), "..", "..", "R")
  if (dir.exists(d) && file.exists(file.path(d, "glmm.R"))) normalizePath(d) else NULL
}

test_that("no function is defined in two files of R/", {
  # Files are sourced in collation order, so a second definition silently
  # replaces the first for every caller.
  dir <- source_r_dir()
  skip_if(is.null(dir), "the package's R/ sources are not beside the tests")
  files <- list.files(dir, pattern = "[.][Rr]$", full.names = TRUE)
  defs <- do.call(rbind, lapply(files, function(f) {
    ex <- parse(f, keep.source = FALSE)
    nm <- vapply(ex, function(e) {
      if (is.call(e) && (identical(e[[1L]], as.name("<-")) || identical(e[[1L]], as.name("="))) &&
          is.name(e[[2L]]) && is.call(e[[3L]]) && identical(e[[3L]][[1L]], as.name("function")))
        as.character(e[[2L]]) else NA_character_
    }, "")
    nm <- nm[!is.na(nm)]
    if (length(nm)) data.frame(file = basename(f), name = nm) else NULL
  }))
  twice <- defs[defs$name %in% defs$name[duplicated(defs$name)], ]
  twice <- twice[order(twice$name), ]
  expect(nrow(twice) == 0L,
         paste("defined in more than one file:",
               paste(sprintf("%s (%s)", twice$name, twice$file), collapse = ", ")))
  # The same name twice within one file is the same defect.
  within <- defs[duplicated(defs[c("file", "name")]), ]
  expect(nrow(within) == 0L,
         paste("defined twice in one file:",
               paste(sprintf("%s (%s)", within$name, within$file), collapse = ", ")))
})

# tools/code-size.R measures the files and functions of R/ (make size); the
# test reads it from the source tree beside R/.
code_size_tool <- function() {
  dir <- source_r_dir()
  tool <- if (!is.null(dir)) file.path(dirname(dir), "tools", "code-size.R")
  if (is.null(tool) || !file.exists(tool)) return(NULL)
  env <- new.env()
  sys.source(tool, envir = env)
  env
}

test_that("every file and function of R/ stays within the layout limits", {
  # No file of R/ over 600 lines, no function over 150 (tools/code-size.R,
  # `make size`).
  tool <- code_size_tool()
  skip_if(is.null(tool), "the package's R/ and tools/ sources are not beside the tests")
  files <- tool$code_size_files(source_r_dir())
  expect_gt(length(files), 100L)
  s <- tool$code_size(files = files)
  expect(nrow(s$long_files) == 0L,
         paste("files over 600 lines:",
               paste(sprintf("%s (%d)", basename(s$long_files$file), s$long_files$lines),
                     collapse = ", ")))
  expect(nrow(s$long_functions) == 0L,
         paste("functions over 150 lines:",
               paste(sprintf("%s (%d)", s$long_functions$name, s$long_functions$lines),
                     collapse = ", ")))
  # The measure itself: a function's lines run from its name to its
  # closing brace, and code lines leave out comments, roxygen and blanks.
  f <- tempfile(fileext = ".R")
  writeLines(c("#' Doc", "#' @export", "g <- function(x) {", "", "  # note", "  x + 1 # one",
               "}", "h <- 2"), f)
  t <- tool$code_size(files = f, limits = c(file = 7L, fun = 4L))
  expect_identical(t$code, 4L)
  expect_identical(t$functions, 1L)
  expect_identical(t$long_functions$lines, 5L)
  expect_identical(t$long_files$lines, 8L)
})

test_that("no test file redefines a function of the test helpers", {
  # testthat loads every helper-*.R before each test file: a test file that
  # defines one of their names again silently replaces the shared one for
  # the rest of that file, and two helpers with one name replace each other.
  top_defs <- function(f) {
    ex <- parse(f, keep.source = FALSE)
    unlist(lapply(ex, function(e) {
      if (is.call(e) && (identical(e[[1L]], as.name("<-")) || identical(e[[1L]], as.name("="))) &&
          is.name(e[[2L]]) && is.call(e[[3L]]) && identical(e[[3L]][[1L]], as.name("function")))
        as.character(e[[2L]])
    }))
  }
  helpers <- list.files(testthat::test_path(), pattern = "^helper.*[.][Rr]$", full.names = TRUE)
  tests <- list.files(testthat::test_path(), pattern = "^test.*[.][Rr]$", full.names = TRUE)
  skip_if(!length(helpers) || !length(tests), "the test files are not at hand")
  hdefs <- lapply(helpers, top_defs)
  hnames <- unlist(hdefs)
  twice <- unique(hnames[duplicated(hnames)])
  expect(!length(twice), paste("defined in more than one helper file:", paste(twice, collapse = ", ")))
  masked <- unlist(lapply(tests, function(f) {
    hit <- intersect(top_defs(f), hnames)
    if (length(hit)) sprintf("%s (%s)", hit, basename(f))
  }))
  expect(!length(masked), paste("test files that redefine a helper's function:",
                                paste(masked, collapse = ", ")))
})

test_that("every capability of the engine registry is one that code checks", {
  # A capability no method asks for would be a promise of the registry that
  # nothing keeps (engine-registry.R): each is named in a
  # require_capability() or has_capability() call, or (workers) read from
  # the engine's capabilities where the engine is chosen. cluster_loglik is
  # a field, not a method: test-fitted-object.R checks it over the fixtures.
  dir <- source_r_dir()
  skip_if(is.null(dir), "the package's R/ sources are not beside the tests")
  src <- unlist(lapply(list.files(dir, pattern = "[.][Rr]$", full.names = TRUE), readLines))
  calls <- regmatches(src, gregexpr("(require|has)_capability\\([^,]+, \"[a-z_]+\"", src))
  asked <- sub(".*\"([a-z_]+)\"$", "\\1", unlist(calls))
  asked <- c(asked, sub(".*capabilities\\[\\[\"([a-z_]+)\"\\]\\].*", "\\1",
                        grep("capabilities\\[\\[\"[a-z_]+\"\\]\\]", src, value = TRUE)))
  missing <- setdiff(names(glmmgee:::engine_capabilities), c(asked, "cluster_loglik"))
  expect(!length(missing), paste("capabilities no code checks:", paste(missing, collapse = ", ")))
})

test_that("every OpenMP region of src/ is a call of parallel_for(), the region scaffold", {
  # util/parallel.h is the one place that opens a parallel region: there each
  # iteration runs inside a RegionGuard and the interrupt poll, so a region
  # written by hand elsewhere would be one that can let an exception escape
  # (terminating R) or ignore Ctrl-C.
  src <- file.path(testthat::test_path(), "..", "..", "src")
  skip_if_not(file.exists(file.path(src, "Makevars")), "the package's src/ is not beside the tests")
  files <- list.files(src, pattern = "\\.(cpp|h)$", recursive = TRUE)
  pragmas <- unlist(lapply(files, function(f) {
    hit <- grep("^[[:space:]]*#[[:space:]]*pragma[[:space:]]+omp", readLines(file.path(src, f)))
    if (length(hit)) sprintf("%s:%d", f, hit)
  }))
  expect_true("util/parallel.h" %in% files)
  expect(all(startsWith(pragmas, "util/parallel.h:")),
         paste("OpenMP pragmas outside util/parallel.h:",
               paste(pragmas[!startsWith(pragmas, "util/parallel.h:")], collapse = ", ")))
  expect_length(pragmas, 1L)
})

test_that("no name in R/ or the tests carries a work-round number", {
  # A name says what it holds (zi_slope_fit, not a round label such as
  # zire and 27): <word><two digits>_... or <word><two digits>() tells a
  # reader only when it was written. Digits that mean something (log10,
  # 01 for binary, bit64's integer64) are not of that form.
  dir <- source_r_dir()
  skip_if(is.null(dir), "the package's R/ sources are not beside the tests")
  files <- c(list.files(dir, pattern = "[.][Rr]$", full.names = TRUE),
             list.files(testthat::test_path(), pattern = "[.][Rr]$", full.names = TRUE))
  pattern <- "\\b(?!integer64)([a-z]{2,}[2-9][0-9]_[a-z]|[a-z_]{3,}[2-9][0-9]\\()"
  hits <- unlist(lapply(files, function(f) {
    src <- readLines(f, warn = FALSE)
    m <- regmatches(src, gregexpr(pattern, src, perl = TRUE))
    at <- which(lengths(m) > 0L)
    if (length(at)) sprintf("%s:%d %s", basename(f), at, vapply(m[at], `[`, "", 1L))
  }))
  expect(!length(hits), paste("names with a work-round number:", paste(hits, collapse = ", ")))
  # The rule itself.
  expect_true(grepl(pattern, paste0("zire", "27_fit <- 1"), perl = TRUE))
  expect_true(grepl(pattern, paste0("w <- wine", "35()"), perl = TRUE))
  expect_false(grepl(pattern, "column_is01(x); log10(y); fz25 <- integer64(1)", perl = TRUE))
})
