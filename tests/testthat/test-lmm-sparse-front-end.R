# The several-term LMM's front end and assembly without repeated work:
# the same results as the longer routes they replace.

test_that("one-column terms' conditional variances are the matrix route's, bitwise", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  for (tm in f$reterms) {
    L <- tm$Lambda
    # Lambda H^-1 Lambda' per level by the kronecker product, from the
    # conditional variances over lambda^2 (H^-1's diagonal)
    h <- as.vector(tm$condvar) / L[1L]^2
    Vu <- matrix(h, ncol = 1L)
    via_matrix <- as.vector(t(Vu %*% t(kronecker(L, L))))
    expect_equal(as.vector(tm$condvar), via_matrix, tolerance = 1e-15)
  }
  # and against lmer's conditional variances at its (nearly equal) optimum
  l <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  rl <- lme4::ranef(l, condVar = TRUE)
  for (tm in f$reterms)
    expect_equal(as.vector(tm$condvar), as.vector(attr(rl[[tm$group]], "postVar")),
                 tolerance = 1e-5)
})

test_that("remembered term names follow the formula, whatever was fitted before", {
  set.seed(27)
  d <- data.frame(a = factor(sample(8, 200, TRUE)), b = factor(sample(6, 200, TRUE)),
                  x = rnorm(200))
  d$y <- d$x + rnorm(8)[d$a] + rnorm(6)[d$b] + rnorm(200)
  f1 <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE)
  f2 <- glmm(y ~ x + (1 | b) + (1 | a), d, REML = TRUE)
  f3 <- glmm(y ~ x + (1 | a) + (1 | a:b), d, REML = TRUE)
  expect_identical(f1$group_name, c("a", "b"))
  expect_identical(f2$group_name, c("b", "a"))
  expect_identical(f3$group_name, c("a", "a:b"))
  expect_equal(f1$loglik, f2$loglik, tolerance = 1e-10)
  # a grouping expression that is not a variable goes through mkReTrms(),
  # which reads it from the frame's column of that name (frame_bars())
  f4 <- glmm(y ~ x + (1 | a) + (1 | factor(as.integer(b) %% 3)), d, REML = TRUE)
  d$b3 <- factor(as.integer(d$b) %% 3)
  f5 <- glmm(y ~ x + (1 | a) + (1 | b3), d, REML = TRUE)
  expect_equal(f4$loglik, f5$loglik, tolerance = 1e-10)
  expect_equal(unname(f4$theta), unname(f5$theta), tolerance = 1e-8)
})
