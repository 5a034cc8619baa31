# src/Makevars lists every object (the sources are in subfolders, which R's
# make does not search) and makes every object depend on every header,
# because R's make tracks no header dependencies: a header left out would
# let a rebuild of a source tree link objects compiled against its old
# version. Runs where the sources are beside the tests (make test); an
# installed package's tests have no src/.
makevars_list <- function(mk, target) {
  rule <- sub(paste0("^.*\n", target), "", gsub("\\\\\n", " ", mk))
  rule <- sub("\n.*$", "", rule)
  strsplit(trimws(rule), "[[:space:]]+")[[1L]]
}

test_that("src/Makevars lists every object and every header of src/ and its subfolders", {
  src <- file.path("..", "..", "src")
  skip_if_not(file.exists(file.path(src, "Makevars")), "no package sources beside the tests")
  mk <- paste(readLines(file.path(src, "Makevars")), collapse = "\n")
  headers <- list.files(src, pattern = "\\.h$", recursive = TRUE)
  sources <- list.files(src, pattern = "\\.cpp$", recursive = TRUE)
  expect_true(length(headers) > 0L)
  expect_true(any(grepl("/", sources)))
  expect_setequal(makevars_list(mk, "\\$\\(OBJECTS\\):"), headers)
  expect_setequal(makevars_list(mk, "OBJECTS ="), sub("\\.cpp$", ".o", sources))
})

test_that("the entry points are at the top level of src/, where compileAttributes() looks", {
  src <- file.path("..", "..", "src")
  skip_if_not(file.exists(file.path(src, "Makevars")), "no package sources beside the tests")
  nested <- list.files(src, pattern = "\\.cpp$", recursive = TRUE)
  nested <- nested[grepl("/", nested)]
  exported <- vapply(file.path(src, nested), function(f) {
    any(grepl("[[Rcpp::export", readLines(f), fixed = TRUE))
  }, logical(1))
  expect_identical(nested[exported], character(0))
})
