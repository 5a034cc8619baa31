# assoc_scan() for gaussian null models with one known covariance: the
# rotated score test against a dense computation with V = s2g K + s2e I
# at the null estimates, for both rotations (eigen of K, factor of K).

dense_score <- function(fit, K, G) {
  X <- fit$X
  n <- nrow(X)
  V <- VarCorr(fit)[[1L]][1, 1] * K + sigma(fit)^2 * diag(n)
  Vi <- solve(V)
  P <- Vi - Vi %*% X %*% solve(crossprod(X, Vi %*% X), crossprod(X, Vi))
  xPy <- drop(crossprod(G, P %*% fit$y))
  xPx <- colSums(G * (P %*% G))
  data.frame(estimate = xPy / xPx, se = sqrt(1 / xPx), statistic = xPy^2 / xPx)
}

sim_scan <- function(n = 150, m = 30, nv = 25, seed = 31) {
  set.seed(seed)
  Gk <- matrix(rbinom(n * m, 2, 0.3), n, m)
  L <- scale(Gk) / sqrt(m)
  rownames(L) <- paste0("p", seq_len(n))
  d <- data.frame(id = factor(rownames(L), levels = rownames(L)), x = rnorm(n))
  snps <- matrix(rbinom(n * nv, 2, 0.25), n, nv, dimnames = list(NULL, paste0("v", seq_len(nv))))
  d$y <- 1 + 0.4 * d$x + 1.0 * snps[, 1] + drop(L %*% rnorm(m)) + rnorm(n)
  list(d = d, L = L, K = tcrossprod(L), snps = snps)
}

test_that("the rotated score test equals the dense computation (factor and eigen routes, ML and REML)", {
  s <- sim_scan()
  Kd <- s$K + diag(0.05, nrow(s$K))
  for (reml in c(FALSE, TRUE)) {
    for (cv in list(list(cov = kfactor(s$L), K = s$K), list(cov = Kd, K = Kd))) {
      fit <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = cv$cov), REML = reml)
      res <- assoc_scan(fit, s$snps, block_size = 7, progress = FALSE)
      ref <- dense_score(fit, cv$K, s$snps)
      expect_identical(res$variant, colnames(s$snps))
      expect_equal(res$estimate, ref$estimate, tolerance = 1e-7)
      expect_equal(res$se, ref$se, tolerance = 1e-7)
      expect_equal(res$statistic, ref$statistic, tolerance = 1e-7)
      expect_equal(res$p_value, pchisq(ref$statistic, 1, lower.tail = FALSE), tolerance = 1e-7)
    }
  }
  # the causal variant stands out
  expect_lt(res$p_value[1], 1e-4)
})

test_that("variants read in blocks by a function give the same table; a monomorphic variant has no test", {
  s <- sim_scan(nv = 12)
  s$snps[, 5] <- 1
  fit <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = kfactor(s$L)))
  whole <- assoc_scan(fit, s$snps, progress = FALSE)
  calls <- 0L
  byfun <- assoc_scan(fit, function(j) { calls <<- calls + 1L; s$snps[, j, drop = FALSE] },
                      m = 12, block_size = 5, progress = FALSE)
  expect_equal(calls, 3L)
  expect_equal(byfun[, -1], whole[, -1])
  expect_true(is.na(whole$statistic[5]))
})

test_that("bad input to assoc_scan() is refused with the argument named", {
  s <- sim_scan(nv = 4)
  fit <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = kfactor(s$L)))
  expect_error(assoc_scan(fit, s$snps[-1, ]), "one row per observation")
  expect_error(assoc_scan(fit, as.data.frame(s$snps)), "numeric matrix")
  expect_error(assoc_scan(fit, function(j) s$snps[, j]), "'m'")
  expect_error(assoc_scan(fit, s$snps, block_size = 0), "'block_size'")
  s$d$grp <- factor(rep(1:10, length.out = nrow(s$d)))
  plain <- glmm(y ~ x + (1 | grp), data = s$d)
  expect_error(assoc_scan(plain, s$snps), "must be a glmm\\(\\) fit with known-covariance terms")
})

test_that("score statistics agree with gaston's association.test (lmm, score) at the same REML null", {
  skip_if_not_installed("gaston")
  s <- sim_scan(n = 200, nv = 30, seed = 41)
  K <- s$K + diag(0.05, nrow(s$K))
  fit <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = K), REML = TRUE)
  ours <- assoc_scan(fit, s$snps, progress = FALSE)
  storage.mode(s$snps) <- "integer"
  bed <- suppressMessages(gaston::as.bed.matrix(s$snps))
  ref <- suppressMessages(gaston::association.test(bed, Y = s$d$y, X = cbind(1, s$d$x),
                                                   method = "lmm", response = "quantitative",
                                                   test = "score", K = K, verbose = FALSE))
  expect_equal(ours$statistic, ref$score, tolerance = 1e-4)
  expect_equal(ours$p_value, ref$p, tolerance = 1e-4)
})
