# Two random-effect terms with the same design (unstructured, structured,
# zero-part, nested quadrature with a:b = a) are reported, not split
# silently.

test_that("two random-effect terms with the same design are reported, not split silently", {
  # (1 | a) + (1 | b) with b a relabelling of a: the likelihood depends only
  # on the sum of the two variances. The fit reported SDs 0.814 and 0.814
  # with standard errors and no word (lmer: 1.126 and 0.242 with a
  # degenerate-Hessian warning), REML and ML, binomial alike.
  set.seed(2)
  d <- data.frame(a = factor(rep(1:10, each = 6)), x = stats::rnorm(60))
  d$b <- factor(letters[as.integer(d$a)])
  d$y <- stats::rnorm(60) + stats::rnorm(10)[d$a]
  d$z <- stats::rbinom(60, 1, stats::plogis(d$y))
  d$f <- factor(rep(1:10, each = 6))
  msg <- "terms \\(1 \\| a\\) and \\(1 \\| b\\) have the same design.*only the sum of their variances"
  for (reml in c(TRUE, FALSE)) {
    expect_warning(f <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = reml), msg)
    expect_true(any(grepl("same design", f$optinfo$warnings)))
    # The likelihood is that of the single term.
    one <- glmm(y ~ x + (1 | a), d, REML = reml)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(one)), tolerance = 1e-6)
  }
  expect_warning(glmm(z ~ x + (1 | a) + (1 | b), d, family = binomial), msg)
  # A nesting with one inner level per outer level.
  expect_warning(glmm(y ~ x + (1 | a / f), d, REML = TRUE), "\\(1 \\| f:a\\) and \\(1 \\| a\\) have the same design")
  # Crossed or properly nested factors are not this.
  data("Pastes", package = "lme4", envir = environment())
  expect_no_warning(glmm(strength ~ 1 + (1 | batch / cask), Pastes, REML = TRUE))
  d$e <- factor(rep(1:3, 20))
  w <- character()
  withCallingHandlers(glmm(y ~ x + (1 | a) + (1 | e), d, REML = TRUE),
                      warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("same design", w)))
})

warnings_of <- function(expr) {
  w <- character()
  withCallingHandlers(expr, warning = function(c) {
    w <<- c(w, conditionMessage(c))
    invokeRestart("muffleWarning")
  })
  w
}

test_that("two zero-inflated or zero-part terms with the same design are reported", {
  skip_if_not_installed("lme4")
  set.seed(4)
  d <- data.frame(a = factor(rep(1:12, each = 8)), e = factor(rep(1:4, 24)), x = stats::rnorm(96))
  d$b <- factor(letters[as.integer(d$a)])
  d$y <- stats::rpois(96, exp(0.5 + 0.3 * d$x + stats::rnorm(12, 0, 0.5)[d$a])) *
    stats::rbinom(96, 1, 0.7)
  msg <- "terms \\(1 \\| a\\) and \\(1 \\| b\\) have the same design"
  expect_warning(f <- glmm(y ~ x + (1 | a) + (1 | b), d, family = poisson, ziformula = ~ 1), msg)
  expect_true(any(grepl("same design", f$optinfo$warnings)))
  w <- warnings_of(glmm(y ~ x + (1 | a), d, family = poisson, ziformula = ~ 1 + (1 | a) + (1 | b)))
  expect_true(any(grepl(paste("zero part's random-effect", msg), w)))
  w <- warnings_of(glmm(y ~ x + (1 | a) + (1 | e), d, family = poisson, ziformula = ~ 1))
  expect_false(any(grepl("same design", w)))
})

test_that("two structured terms of the same design, and (1 | a/b) by quadrature with a:b = a, are named", {
  set.seed(2)
  d <- data.frame(a = factor(rep(1:30, each = 8)), b = factor(1), time = factor(rep(1:8, 30)))
  d$a2 <- factor(paste0("k", d$a))
  d$x <- rnorm(nrow(d))
  d$y <- rbinom(nrow(d), 1, plogis(0.3 + d$x + rnorm(30)[d$a]))
  d$yg <- 1 + d$x + rnorm(30)[d$a] + rnorm(nrow(d))
  msg <- "have the same design.*only the sum of their variances is identified"
  # (The fits also warn that their Hessian is singular: that is the split.)
  warnings_of <- function(expr) {
    w <- character()
    withCallingHandlers(expr, warning = function(e) {
      w <<- c(w, conditionMessage(e))
      invokeRestart("muffleWarning")
    })
    w
  }
  expect_match(warnings_of(glmm(y ~ x + (1 | a/b), d, family = binomial, nAGQ = 5)), msg,
               all = FALSE)
  expect_match(warnings_of(glmm(yg ~ x + diag(0 + time | a) + diag(0 + time | a2), d)),
               "diag\\(0 \\+ time \\| a\\) and diag\\(0 \\+ time \\| a2\\) have the same design",
               all = FALSE)
  expect_match(warnings_of(glmm(yg ~ x + homdiag(0 + time | a) + diag(0 + time | a2), d, REML = TRUE)),
               msg, all = FALSE)
  # Two AR(1) terms are identified (their sum is not an AR(1)): no such warning.
  w <- warnings_of(try(glmm(yg ~ x + ar1(0 + time | a) + ar1(0 + time | a2), d), silent = TRUE))
  expect_false(any(grepl("same design", w)))
})
