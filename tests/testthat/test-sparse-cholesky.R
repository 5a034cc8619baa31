# The sparse Cholesky factorization of the several-term engines
# (src/util/polled-llt.h): where the elimination ends in a dense block (the
# levels of the smaller of two crossed factors), that block's Schur
# complement is factored, and its part of the selected inverse taken, by
# dense kernels. Both paths must give the same factor, log determinant,
# solves and selected inverse, and fits on such designs must agree with lme4.

# M = Lambda'Z'Z Lambda + I for random intercepts of two crossed factors with
# `a` and `b` levels, each row meeting one level of each at random.
crossed_precision <- function(seed, n, a, b, sa = 1.3, sb = 0.8) {
  set.seed(seed)
  Za <- Matrix::sparseMatrix(i = seq_len(n), j = sample.int(a, n, TRUE), x = 1, dims = c(n, a))
  Zb <- Matrix::sparseMatrix(i = seq_len(n), j = sample.int(b, n, TRUE), x = 1, dims = c(n, b))
  Z <- cbind(Za * sa, Zb * sb)
  M <- Matrix::crossprod(Z) + Matrix::Diagonal(a + b)
  as(as(M, "CsparseMatrix"), "generalMatrix")
}

test_that("the dense block gives the scalar path's factor, determinant, solves and inverse", {
  M <- crossed_precision(1, 6000, 500, 260)
  b <- rnorm(ncol(M))
  scalar <- glmmgee:::cpp_sparse_chol_check(M, b, .Machine$integer.max)
  dense <- glmmgee:::cpp_sparse_chol_check(M, b, 200L)
  expect_equal(scalar$dense_start, ncol(M))
  # the last columns of the factor fill in: at least the smaller factor's levels
  expect_lte(dense$dense_start, ncol(M) - 200L)
  expect_equal(dense$L, scalar$L, tolerance = 1e-11)
  expect_equal(dense$inverse, scalar$inverse, tolerance = 1e-10)
  expect_equal(dense$logdet, scalar$logdet, tolerance = 1e-12)
  Md <- as.matrix(M)
  expect_equal(dense$logdet, as.numeric(determinant(Md)$modulus), tolerance = 1e-12)
  expect_equal(dense$x, solve(Md, b), tolerance = 1e-10)
  # the inverse's diagonal is the diagonal entry of each column of the factor
  # (stored first); its sum is the trace of M^{-1}, whatever the ordering
  inv_diag <- dense$inverse[head(dense$colptr, -1L) + 1L]
  expect_equal(sum(inv_diag), sum(diag(solve(Md))), tolerance = 1e-10)
  expect_equal(sort(inv_diag), sort(diag(solve(Md))), tolerance = 1e-10)
})

test_that("dense blocks of every size and block boundary agree with the scalar path", {
  # block sizes around the kernels' block width (128) and with the whole
  # matrix dense
  for (case in list(c(400, 60, 40), c(3000, 300, 129), c(3000, 300, 256), c(1500, 20, 15))) {
    M <- crossed_precision(case[[1]], case[[1]], case[[2]], case[[3]])
    b <- rnorm(ncol(M))
    scalar <- glmmgee:::cpp_sparse_chol_check(M, b, .Machine$integer.max)
    dense <- glmmgee:::cpp_sparse_chol_check(M, b, 1L)
    lab <- paste(case, collapse = " x ")
    expect_lt(dense$dense_start, ncol(M))
    expect_equal(dense$L, scalar$L, tolerance = 1e-11, label = lab)
    expect_equal(dense$inverse, scalar$inverse, tolerance = 1e-10, label = lab)
    expect_equal(dense$x, scalar$x, tolerance = 1e-10, label = lab)
  }
})

test_that("a matrix that is not positive definite in its dense block is refused by both paths", {
  M <- crossed_precision(2, 3000, 300, 220)
  k <- ncol(M)
  M[k, k] <- -5
  for (m in c(.Machine$integer.max, 200L))
    expect_error(glmmgee:::cpp_sparse_chol_check(M, rep(1, k), m), "not positive definite")
})

test_that("crossed fits with a dense block agree with lme4", {
  skip_if_not_installed("lme4")
  set.seed(3)
  n <- 12000
  d <- data.frame(a = factor(sample.int(600, n, TRUE)), b = factor(sample.int(250, n, TRUE)),
                  x = rnorm(n))
  eta <- 0.5 * d$x + rnorm(600)[d$a] + rnorm(250, 0, 0.7)[d$b]
  d$y <- 1 + eta + rnorm(n)
  d$yb <- rbinom(n, 1, plogis(-0.3 + eta))
  f <- glmm(y ~ x + (1 | a) + (1 | b), d, family = gaussian, REML = TRUE)
  m <- lme4::lmer(y ~ x + (1 | a) + (1 | b), d, REML = TRUE)
  expect_equal(-2 * as.numeric(logLik(f)), lme4::REMLcrit(m), tolerance = 1e-8)
  expect_gte(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-6)
  expect_equal(unname(fixef(f)), unname(lme4::fixef(m)), tolerance = 1e-5)
  # conditional variances of the random effects come from the selected inverse
  pv <- attr(lme4::ranef(m, condVar = TRUE)$b, "postVar")
  ours <- ranef(f, condVar = TRUE)$b
  expect_equal(as.numeric(attr(ours, "postVar")), as.numeric(pv), tolerance = 1e-4)
  g <- glmm(yb ~ x + (1 | a) + (1 | b), d, family = binomial)
  g2 <- glmm(yb ~ x + (1 | a) + (1 | b), d, family = binomial,
             control = glmm_control(nthreads = 2))
  expect_identical(coef(g2), coef(g))
  expect_identical(logLik(g2), logLik(g))
  mg <- lme4::glmer(yb ~ x + (1 | a) + (1 | b), d, family = binomial)
  expect_gte(as.numeric(logLik(g)), as.numeric(logLik(mg)) - 1e-6)
  expect_equal(unname(fixef(g)), unname(lme4::fixef(mg)), tolerance = 1e-3)
})

test_that("the dense block is refused before it is allocated when memory would not hold it", {
  M <- crossed_precision(4, 3000, 300, 220)
  b <- rnorm(ncol(M))
  ok <- glmmgee:::cpp_sparse_chol_check(M, b, 200L)
  m <- ncol(M) - ok$dense_start
  expect_gte(m, 200L)
  # three blocks of m x m doubles: the Schur complement and the inverse's two
  need <- 3 * 8 * m^2
  withr::local_options(glmmgee.memory_limit = need / 2)
  expect_error(glmmgee:::cpp_sparse_chol_check(M, b, 200L),
               sprintf("dense block of the random effects' Cholesky factor \\(%d x %d\\) needs .* more than the limit of options\\(glmmgee.memory_limit\\)",
                       m, m))
  # the scalar path holds no dense block
  expect_equal(glmmgee:::cpp_sparse_chol_check(M, b, .Machine$integer.max)$logdet, ok$logdet,
               tolerance = 1e-12)
  withr::local_options(glmmgee.memory_limit = need * 2)
  expect_identical(glmmgee:::cpp_sparse_chol_check(M, b, 200L)$logdet, ok$logdet)
  # a fit whose factor has such a block stops with the same message
  set.seed(5)
  n <- 6000
  d <- data.frame(a = factor(sample.int(500, n, TRUE)), b = factor(sample.int(250, n, TRUE)),
                  x = rnorm(n))
  d$y <- d$x + rnorm(500)[d$a] + rnorm(250)[d$b] + rnorm(n)
  withr::local_options(glmmgee.memory_limit = 1e5)
  expect_error(glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE),
               "dense block of the random effects' Cholesky factor .*options\\(glmmgee.memory_limit\\)")
})
