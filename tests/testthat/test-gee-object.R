# The fitted gee object stores no linear predictors or fitted means: `$`
# rebuilds them from the engine's X, offset and the coefficients. These tests
# pin the rebuilt values to an independent computation, and check partial
# names, saveRDS() and objects that still store the fields.

test_that("linear predictors and fitted means are rebuilt as X beta + offset", {
  set.seed(11)
  n <- 300
  d <- data.frame(id = sample(rep(1:60, each = 5)), x = rnorm(n), off = runif(n) / 5)
  d$y <- rpois(n, exp(0.2 + 0.5 * d$x + d$off))
  fit <- gee(y ~ x + offset(off), data = d, id = id, family = poisson,
             corstr = "exchangeable")
  stored <- unclass(fit)
  expect_null(stored[["linear.predictors"]])
  expect_null(stored[["fitted.values"]])
  eta <- drop(cbind(1, d$x) %*% coef(fit)) + d$off
  expect_equal(fit$linear.predictors, unname(eta), tolerance = 1e-13)
  expect_equal(fit$fitted.values, exp(unname(eta)), tolerance = 1e-13)
  expect_identical(fit$fitted, fit$fitted.values)   # partial names, as on a list
  expect_identical(fit$linear, fit$linear.predictors)
  expect_null(fit$no_such_field)
  expect_equal(unname(fitted(fit)), exp(unname(eta)), tolerance = 1e-13)
  expect_equal(unname(residuals(fit, "response")), d$y - exp(unname(eta)), tolerance = 1e-12)
})

test_that("the rebuilt values survive saveRDS(); stored fields are returned as stored", {
  set.seed(12)
  n <- 200
  d <- data.frame(id = rep(1:40, each = 5), x = rnorm(n))
  d$y <- rbinom(n, 1, plogis(d$x))
  fit <- gee(y ~ x, data = d, id = id, family = binomial, corstr = "ar1")
  f <- tempfile(fileext = ".rds")
  saveRDS(fit, f)
  back <- readRDS(f)
  unlink(f)
  expect_identical(back$fitted.values, fit$fitted.values)
  expect_identical(residuals(back, "pearson"), residuals(fit, "pearson"))
  expect_identical(predict(back, type = "response"), predict(fit, type = "response"))
  old <- fit
  old$fitted.values <- rep(0.5, n)
  expect_identical(old$fitted.values, rep(0.5, n))
})

test_that("numeric cluster ids are coded as factor() codes them, without strings", {
  uf <- glmmgee:::used_factor
  set.seed(13)
  cases <- list(sample(1:50, 500, TRUE), c(3, 1, 2, 1), c(1.5, -0, 0, 2, Inf, -Inf),
                c(2.5, NaN, 1), c(3L, NA, 1L), sample(c(1e10, 1e-20, 3.25), 30, TRUE),
                c(0.1 + 0.2, 0.3), c(1e15 + 0.3, 1e15 + 0.2), c(a = 2, b = 1),
                letters[5:1], c(TRUE, FALSE), factor(c("b", "a"), levels = c("a", "b", "c")),
                ordered(c("lo", "hi"), levels = c("lo", "hi", "mid")), factor(c(1, NA)),
                as.Date("2020-01-01") + 3:0, integer(),
                # whole numbers (labels distinct without a check), 1..M as their own codes
                sample(1:40), as.numeric(sample(1:40)), rep(1:5, each = 3), c(1, 2, 4, 4),
                c(-3, 0, 7, -3), c(1e15 - 1, 2, 1e15 - 1), c(2e15, 1e16, 2e15), c(1, 2, 2.5),
                c(2L, 1L, 3L, 3L))
  for (x in cases) expect_identical(uf(x), factor(x), info = paste(format(x), collapse = " "))
  # cluster_index(): factor()'s codes and levels, for numeric ids and factors
  # (integer ids 1..M and factors with every level used are their own codes)
  for (x in list(sample(1:40), c(5, 3, 5, 9), c(0.1 + 0.2, 0.3, 7), factor(c("b", "a", "b")),
                 rep(1:5, each = 3), c(1L, 3L, 3L), c(2L, 1L, 3L, 3L),
                 factor(c("b", "a"), levels = c("a", "b", "c")), ordered(c("lo", "hi", "lo")),
                 factor(rep(1:4, 2)))) {
    f <- factor(x)
    expect_identical(glmmgee:::cluster_index(x, "id"), list(index = as.integer(f), levels = levels(f)))
  }
  expect_error(glmmgee:::cluster_index(factor(c("a", NA)), "id"), "'id' contains missing values")
  # A factor with an NA level (factor(exclude = NULL)): not the fast path.
  fna <- factor(c("a", NA, "a"), exclude = NULL)
  expect_identical(glmmgee:::cluster_index(fna, "id"),
                   list(index = as.integer(factor(fna)), levels = levels(factor(fna))))
})

test_that("a factor's codes and levels are read without expanding deferred levels", {
  # The levels of integer ids are as.character(seq_len(M)), a deferred string
  # vector: as.integer() of the factor and anyNA() of its levels wrote out M
  # strings. The plain copy of the codes and the NA check give the same values.
  f <- glmmgee:::used_factor(rep(1:50, 3))
  expect_identical(glmmgee:::cpp_plain_codes(f), as.integer(f))
  expect_identical(glmmgee:::cpp_plain_codes(integer()), integer())
  expect_error(glmmgee:::cpp_plain_codes(c(1, 2)), "not integer codes")
  for (l in list(as.character(seq_len(30)), c("a", "b"), character(), c("a", NA), NA_character_))
    expect_identical(glmmgee:::cpp_strings_no_na(l), !anyNA(l), info = paste(l, collapse = " "))
  expect_false(glmmgee:::cpp_strings_no_na(1:3))
  expect_identical(glmmgee:::cluster_index(f, "id"), list(index = rep(1:50, 3), levels = levels(f)))
})

test_that("id runs and constant columns are found as their R expressions find them", {
  set.seed(17)
  for (r in 1:50) {
    n <- sample(1:40, 1)
    idx <- sample(1:4, n, TRUE)
    if (r %% 2 == 0) idx <- sort(idx)
    ref <- if (n == 1L) 1L else c(1L, which(idx[-1L] != idx[-n]) + 1L)
    expect_identical(glmmgee:::cpp_run_starts(idx), ref, info = r)
    X <- cbind(1, rnorm(n), rep(2.5, n), rbinom(n, 1, 0.5))
    expect_identical(glmmgee:::cpp_constant_columns(X),
                     vapply(1:4, function(j) all(X[, j] == X[1L, j]), TRUE), info = r)
  }
  expect_identical(glmmgee:::cpp_run_starts(integer()), integer())
  expect_identical(glmmgee:::cpp_constant_columns(matrix(c(NaN, NaN, 1, 1), 2)), c(FALSE, TRUE))
})
