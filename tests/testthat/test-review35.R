# Review of round 35's changes: defects found by reproduction, each test
# failing on the build before its fix.

test_that("jacobian_inverse() gives NULL, not an if (NA) error, for a Jacobian with NaN entries", {
  # solve() refuses a matrix with a NaN below the diagonal; the fallback's
  # triangular test then read NA and stopped the whole standard-error step
  J <- matrix(c(1, NaN, 0, 1), 2)
  expect_null(glmmgee:::jacobian_inverse(J))
  # block-wise: the NaN block's parameters are named singular, the other
  # block keeps its exact inverse
  Jb <- diag(c(2, 1, 1))
  Jb[3, 2] <- NaN
  A <- glmmgee:::jacobian_blocks_inverse(Jb)
  expect_false(is.null(A))
  expect_equal(A[1, 1], 0.5)
  expect_setequal(attr(A, "singular"), 2:3)
})

test_that("confint(method = 'boot') names 'parallel' for an empty or several-valued choice", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  g <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
            family = binomial)
  # before: match.arg()'s "'arg' must be of length 1" / "'arg' should be one of"
  expect_error(confint(g, method = "boot", nsim = 3, parallel = c("multicore", "snow")),
               "'parallel' must be")
  expect_error(confint(g, method = "boot", nsim = 3, parallel = character(0)), "'parallel' must be")
})

test_that("confint(method = 'boot') refuses an infinite 'nsim' or 'ncpus' by name", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  g <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
            family = binomial)
  # before: ncpus = Inf became NA and stopped in "if (NA)"; nsim = Inf was
  # refused by simulate() as "'nsim' must be a whole number >= 1"
  expect_error(confint(g, parm = 1, method = "boot", nsim = 3, ncpus = Inf, parallel = "multicore"),
               "'ncpus' must be")
  expect_error(confint(g, method = "boot", nsim = Inf), "'nsim' must be a whole number of bootstrap")
})

test_that("a far-off cs() mapped back on the boundary keeps the fixed effects' standard errors (binomial)", {
  # The centred fit ends at a correlation of -1; the term's parameters get NA
  # rows in their covariance, which reached every entry of the mapped-back
  # covariance: the fixed effects lost their standard errors (all NA,
  # without a warning) where cs(x | g) on the centred covariate gives them.
  set.seed(4)
  n <- 200
  d <- data.frame(g = factor(rep(1:20, each = 10)), x = rnorm(n))
  d$x2 <- d$x + 1000
  d$yb <- rbinom(n, 1, plogis(0.2 * d$x))
  far <- suppressWarnings(glmm(yb ~ x2 + cs(x2 | g), data = d, family = binomial))
  near <- suppressWarnings(glmm(yb ~ x + cs(x | g), data = d, family = binomial))
  us <- suppressWarnings(glmm(yb ~ x2 + (x2 | g), data = d, family = binomial))
  expect_equal(as.numeric(logLik(far)), as.numeric(logLik(near)), tolerance = 1e-6)
  se_far <- sqrt(diag(vcov(far)))
  expect_true(all(is.finite(se_far)))
  # the slope's SE does not depend on the covariate's origin
  expect_equal(unname(se_far["x2"]), unname(sqrt(diag(vcov(near)))["x"]), tolerance = 1e-4)
  expect_equal(se_far, sqrt(diag(vcov(us))), tolerance = 1e-4)
})
