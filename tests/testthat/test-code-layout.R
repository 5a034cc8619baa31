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
