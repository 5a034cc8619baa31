# Truncated negative binomial hurdle fits at their log-series limit (mu and
# theta or phi -> 0): said and recorded, on one factor and several
# random-effect terms.

test_that("truncated_nbinom2 at its log-series limit (mu, theta -> 0) says so and records it", {
  set.seed(3)
  n <- 300
  d <- data.frame(g = factor(rep(1:30, each = 10)), x = rnorm(n))
  d$y <- ifelse(runif(n) < 0.8, 1, sample(2:4, n, TRUE))
  w <- character()
  m <- withCallingHandlers(glmm(y ~ x + (1 | g), data = d, family = truncated_nbinom2()),
                           warning = function(w0) {
                             w <<- c(w, conditionMessage(w0)); invokeRestart("muffleWarning")
                           })
  expect_true(m$optinfo$logseries_limit)
  expect_true(any(grepl("not negative definite.*cause: the zero-truncated nbinom2 runs to its log-series limit", w)))
  # Ordinary zero-truncated negative binomial counts: no such limit.
  mu <- exp(1 + 0.3 * d$x + rnorm(30, 0, 0.3)[d$g])
  y <- rnbinom(5 * n, mu = rep(mu, 5), size = 1.5)
  d2 <- data.frame(g = rep(d$g, 5), x = rep(d$x, 5), y = y)[y > 0, ][1:n, ]
  m2 <- glmm(y ~ x + (1 | g), data = d2, family = truncated_nbinom2())
  expect_false(m2$optinfo$logseries_limit)
  expect_false(any(grepl("log-series", m2$optinfo$warnings)))
})

test_that("truncated_nbinom2 at its log-series limit with several random-effect terms", {
  set.seed(3)
  n <- 300
  d <- data.frame(g = factor(rep(1:30, each = 10)), h = factor(rep(1:10, 30)), x = rnorm(n))
  d$y <- ifelse(runif(n) < 0.8, 1, sample(2:4, n, TRUE))
  m <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), data = d, family = truncated_nbinom2()))
  expect_true(m$optinfo$logseries_limit)
  expect_true(any(grepl("log-series limit", m$optinfo$warnings)))
})
