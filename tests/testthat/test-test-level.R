# The test levels of helper-test-level.R: GLMMGEE_TEST_LEVEL read by name or
# number, skip_unless_level() skipping below its level, a wrong value an error.

skips <- function(expr) {
  tryCatch({ expr; FALSE }, skip = function(e) TRUE)
}

test_that("GLMMGEE_TEST_LEVEL is read by name, by number and as the default when unset", {
  withr::local_envvar(GLMMGEE_TEST_LEVEL = NA)
  expect_identical(test_level_name(), "default")
  expect_identical(test_level(), 1L)
  for (lv in c("smoke", "default", "long")) {
    withr::local_envvar(GLMMGEE_TEST_LEVEL = lv)
    expect_identical(test_level_name(), lv)
  }
  withr::local_envvar(GLMMGEE_TEST_LEVEL = "")
  expect_identical(test_level_name(), "default")
  withr::local_envvar(GLMMGEE_TEST_LEVEL = "2")
  expect_identical(test_level_name(), "long")
  expect_identical(test_level(), 2L)
  withr::local_envvar(GLMMGEE_TEST_LEVEL = "0")
  expect_identical(test_level_name(), "smoke")
  withr::local_envvar(GLMMGEE_TEST_LEVEL = "fast")
  expect_error(test_level_name(), "GLMMGEE_TEST_LEVEL must be 'smoke', 'default' or 'long'")
})

test_that("skip_unless_level() skips below its level and runs at or above it", {
  withr::local_envvar(GLMMGEE_TEST_LEVEL = NA)
  expect_true(skips(skip_unless_level("long")))
  expect_false(skips(skip_unless_level("default")))
  withr::local_envvar(GLMMGEE_TEST_LEVEL = "long")
  expect_false(skips(skip_unless_level("long")))
  expect_false(skips(skip_unless_level("default")))
  withr::local_envvar(GLMMGEE_TEST_LEVEL = "smoke")
  expect_true(skips(skip_unless_level("default")))
  expect_true(skips(skip_unless_level("long")))
  expect_error(skip_unless_level("fast"))
})
