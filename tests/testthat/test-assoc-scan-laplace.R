# Score scans against binomial and Poisson null models with one known
# covariance (assoc-scan-laplace.R): scores and exact variances against an
# explicit P = V^{-1} - V^{-1} X (X'V^{-1}X)^{-1} X'V^{-1} formed densely
# from the null fit (small n), the variance-ratio approximation against the
# exact variances, and the score statistic against the Wald statistic of
# the model refitted with the variant.

sim_scan <- function(nl = 150, m = 40, reps = 2, seed = 5) {
  set.seed(seed)
  G <- matrix(rbinom(nl * m, 2, 0.3), nl, m)
  L <- scale(G) / sqrt(m)
  rownames(L) <- paste0("id", seq_len(nl))
  d <- data.frame(id = factor(rep(rownames(L), each = reps), levels = rownames(L)),
                  x = rnorm(reps * nl))
  b <- drop(L %*% rnorm(m)) * 0.8
  snps <- matrix(rbinom(nrow(d) * 25, 2, runif(25, 0.1, 0.5)), nrow(d), 25, byrow = TRUE)
  colnames(snps) <- paste0("snp", 1:25)
  d$yb <- rbinom(nrow(d), 1, stats::plogis(-0.2 + 0.5 * d$x + 0.6 * snps[, 1] + b[as.integer(d$id)]))
  d$yp <- rpois(nrow(d), exp(0.1 + 0.3 * d$x + 0.3 * snps[, 1] + b[as.integer(d$id)]))
  list(data = d, L = L, snps = snps)
}

# Score and variance from the explicit working covariance of the null fit.
explicit_scan <- function(fit, snps) {
  kf <- fit$known_factor
  eta <- fit$linear.predictors
  mu <- fit$family$linkinv(eta)
  w <- fit$prior.weights * fit$family$mu.eta(eta)^2 / fit$family$variance(mu)
  Z <- outer(kf$index, seq_len(nrow(kf$L)), "==") * 1
  V <- diag(1 / w) + kf$s^2 * Z %*% tcrossprod(kf$L) %*% t(Z)
  Vi <- solve(V)
  X <- fit$X
  P <- Vi - Vi %*% X %*% solve(t(X) %*% Vi %*% X, t(X) %*% Vi)
  ytil <- eta + (fit$y - mu) / fit$family$mu.eta(eta)
  list(score = drop(crossprod(snps, P %*% ytil)), var = colSums(snps * (P %*% snps)))
}

test_that("scores and exact variances equal the explicit P computation (binomial, Poisson)", {
  s <- sim_scan()
  for (fam in list(binomial(), poisson())) {
    f <- if (fam$family == "binomial") yb ~ x + (1 | id) else yp ~ x + (1 | id)
    null <- glmm(f, s$data, family = fam, covariance = list(id = kfactor(s$L)))
    res <- assoc_scan(null, s$snps, exact_p = 1, block_size = 7, progress = FALSE)
    ref <- explicit_scan(null, s$snps)
    expect_true(all(res$exact))
    expect_equal(res$estimate * res$se^-2, unname(ref$score), tolerance = 1e-8)
    expect_equal(res$se^-2, unname(ref$var), tolerance = 1e-8)
    expect_equal(res$p_value, stats::pchisq(ref$score^2 / ref$var, 1, lower.tail = FALSE),
                 tolerance = 1e-8, ignore_attr = TRUE)
    expect_identical(res$variant, colnames(s$snps))
  }
})

test_that("a dense K gives the same scan as its factor", {
  s <- sim_scan(nl = 80)
  K <- tcrossprod(s$L) + diag(0.05, nrow(s$L))
  Lk <- t(chol(K))
  rownames(Lk) <- rownames(K)
  n1 <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = K))
  n2 <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(Lk)))
  r1 <- assoc_scan(n1, s$snps, exact_p = 1, progress = FALSE)
  r2 <- assoc_scan(n2, s$snps, exact_p = 1, progress = FALSE)
  expect_equal(r1$statistic, r2$statistic, tolerance = 1e-6)
})

test_that("the variance ratio: small p-values are exact, the rest close to exact", {
  s <- sim_scan()
  null <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(s$L)))
  ex <- assoc_scan(null, s$snps, exact_p = 1, progress = FALSE)
  ap <- assoc_scan(null, s$snps, exact_p = 0.05, progress = FALSE)
  expect_true(is.finite(attr(ap, "variance_ratio")))
  # every variant exact under the exact scan with p < 0.05 is exact here too
  expect_true(all(ap$exact[ex$p_value < 0.01]))
  expect_equal(ap$statistic[ap$exact], ex$statistic[ap$exact], tolerance = 1e-10)
  # SAIGE's approximation: the ratio of exact to approximate variances is
  # nearly constant across variants (within 10% here)
  expect_lt(max(abs(ap$se^-2 / ex$se^-2 - 1)), 0.1)
  # the causal variant is found
  expect_lt(ap$p_value[1], 1e-3)
  expect_error(assoc_scan(null, s$snps, exact_p = 2), "'exact_p'")
  mono <- cbind(s$snps[, 1:2], mono = 1)
  expect_true(is.na(assoc_scan(null, mono, exact_p = 1, progress = FALSE)$statistic[3]))
})

test_that("the score test agrees with the Wald test of the model refitted with the variant", {
  s <- sim_scan()
  null <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(s$L)))
  res <- assoc_scan(null, s$snps[, 1:3], exact_p = 1, progress = FALSE)
  for (j in 1:3) {
    d <- s$data
    d$g <- s$snps[, j]
    alt <- suppressWarnings(glmm(yb ~ x + g + (1 | id), d, family = binomial,
                                 covariance = list(id = kfactor(s$L))))
    z2 <- unname(fixef(alt)["g"]^2 / vcov(alt)["g", "g"])
    # score and Wald statistics are asymptotically equivalent: with 300
    # observations they agree to within 10% (of the statistic, or of 1
    # when it is small), and the one-step estimate to within 0.1
    expect_lt(abs(res$statistic[j] - z2), 0.1 * max(1, z2))
    expect_lt(abs(res$estimate[j] - unname(fixef(alt)["g"])), 0.1)
  }
})
