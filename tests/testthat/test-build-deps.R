# src/Makevars makes every object depend on every header, because R's make
# tracks no header dependencies: a header left out would let a rebuild of a
# source tree link objects compiled against its old version. Runs where
# the sources are beside the tests (make test); an installed package's
# tests have no src/.
test_that("src/Makevars lists every header as a dependency of the objects", {
  src <- file.path("..", "..", "src")
  skip_if_not(file.exists(file.path(src, "Makevars")), "no package sources beside the tests")
  mk <- paste(readLines(file.path(src, "Makevars")), collapse = "\n")
  rule <- sub("^.*\\$\\(OBJECTS\\):", "", gsub("\\\\\n", " ", mk))
  rule <- sub("\n.*$", "", rule)
  listed <- strsplit(trimws(rule), "[[:space:]]+")[[1L]]
  headers <- list.files(src, pattern = "\\.h$")
  expect_true(length(headers) > 0L)
  expect_setequal(listed, headers)
})
