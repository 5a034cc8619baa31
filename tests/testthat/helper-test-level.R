# Test levels, from the environment variable GLMMGEE_TEST_LEVEL:
#   "smoke"    a fast subset of files, one or two per concept (the files are
#              chosen in tools/run-tests.R, which skips the others);
#   "default"  (unset or empty) everything `make test` and CI run;
#   "long"     the default level plus the optional extra grids, the tests
#              that call skip_unless_level("long").
# The numbers 0, 1 and 2 are accepted for the three levels (2 was the
# level of the full optimum and peer grids before the names existed).
test_level_name <- function() {
  lv <- Sys.getenv("GLMMGEE_TEST_LEVEL", "")
  if (!nzchar(lv)) return("default")
  names <- c("smoke", "default", "long")
  if (lv %in% names) return(lv)
  num <- suppressWarnings(as.integer(lv))
  if (!is.na(num) && num %in% 0:2) return(names[num + 1L])
  stop("GLMMGEE_TEST_LEVEL must be 'smoke', 'default' or 'long' (or unset), not '",
       lv, "'", call. = FALSE)
}

# The level as a number: 0 smoke, 1 default, 2 long.
test_level <- function() {
  match(test_level_name(), c("smoke", "default", "long")) - 1L
}

# Skips the calling test unless the level is at least `level`.
skip_unless_level <- function(level = c("default", "long")) {
  level <- match.arg(level)
  need <- match(level, c("smoke", "default", "long")) - 1L
  if (test_level() < need) {
    testthat::skip(sprintf("runs at GLMMGEE_TEST_LEVEL=%s (now %s)", level, test_level_name()))
  }
  invisible(TRUE)
}
