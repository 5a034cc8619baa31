# assoc_scan() on gaussian null models with several known-covariance terms
# (sparse and dense Cholesky routes): the exact score statistics, against a
# dense GLS computation with V formed from the fit's variance components,
# and against the refit with the variant added and the variance components
# held at the null estimates (its Wald test).

# Two sparse K on the same cells (families of five; a Wendland covariance
# on a line), `reps` readouts a cell, 40 batches; variants with and without
# an effect.
sim_scan_multi <- function(n = 120, reps = 2, seed = 1) {
  set.seed(seed)
  nm <- paste0("c", seq_len(n))
  f <- (seq_len(n) - 1L) %/% 5L
  K1 <- 0.5 * outer(f, f, "==") + diag(0.5, n)
  pos <- sort(runif(n))
  D <- abs(outer(pos, pos, "-")) / 0.2
  K2 <- ifelse(D < 1, (1 - D)^4 * (1 + 4 * D), 0)
  dimnames(K1) <- dimnames(K2) <- list(nm, nm)
  N <- n * reps
  d <- data.frame(cell = factor(rep(nm, reps), levels = nm), x = rnorm(N),
                  batch = factor(sample(sprintf("b%d", 1:40), N, TRUE)))
  d$space <- d$cell
  G <- matrix(rbinom(N * 12, 2, 0.3), N, 12, dimnames = list(NULL, sprintf("v%02d", 1:12)))
  G[, 12] <- 1  # in the span of the intercept: no test
  ci <- as.integer(d$cell)
  d$y <- 0.3 + 0.5 * d$x + 0.8 * G[, 1] + drop(t(chol(K1)) %*% rnorm(n))[ci] +
    0.8 * drop(t(chol(K2 + diag(1e-9, n))) %*% rnorm(n))[ci] + rnorm(40, sd = 0.6)[d$batch] +
    rnorm(N)
  sp <- function(K) Matrix::forceSymmetric(methods::as(Matrix::Matrix(K, sparse = TRUE),
                                                       "CsparseMatrix"))
  list(d = d, G = G, K1 = K1, K2 = K2, K1s = sp(K1), K2s = sp(K2))
}

# V of a fit formed densely from its estimates: sum s2_j Z_j K_j Z_j' + s2e I.
dense_v <- function(fit, d, Ks) {
  V <- diag(sigma(fit)^2, nrow(d))
  for (g in names(Ks)) {
    Z <- outer(as.character(d[[g]]), rownames(Ks[[g]]), "==") + 0
    V <- V + VarCorr(fit)[[g]][1, 1] * Z %*% Ks[[g]] %*% t(Z)
  }
  V
}

# Per variant: GLS of y on (X, g) with V fixed; the Wald statistic of g.
gls_wald <- function(X, y, V, G) {
  Vi <- solve(V)
  t(apply(G, 2L, function(g) {
    X1 <- cbind(X, g)
    A <- crossprod(X1, Vi %*% X1)
    if (qr(A)$rank < ncol(A)) return(c(NA, NA, NA))
    b <- solve(A, crossprod(X1, Vi %*% y))
    v <- solve(A)[ncol(A), ncol(A)]
    c(b[ncol(A)], sqrt(v), b[ncol(A)]^2 / v)
  }))
}

test_that("the several-term scan equals GLS with V fixed, on the sparse and dense routes", {
  s <- sim_scan_multi()
  f <- y ~ x + (1 | cell) + (1 | space) + (1 | batch)
  for (reml in c(FALSE, TRUE)) {
    sp <- glmm(f, s$d, covariance = list(cell = s$K1s, space = s$K2s), REML = reml)
    de <- glmm(f, s$d, covariance = list(cell = s$K1, space = s$K2), REML = reml)
    expect_match(sp$optinfo$method, "sparse Cholesky, 3 known covariances")
    expect_match(de$optinfo$method, "dense Cholesky, 3 known covariances")
    rs <- assoc_scan(sp, s$G, block_size = 5, progress = FALSE)
    rd <- assoc_scan(de, s$G, progress = FALSE)
    Ib <- diag(nlevels(s$d$batch))
    dimnames(Ib) <- list(levels(s$d$batch), levels(s$d$batch))
    ref <- gls_wald(model.matrix(~ x, s$d), s$d$y,
                    dense_v(sp, s$d, list(cell = s$K1, space = s$K2, batch = Ib)), s$G)
    expect_identical(rs$variant, colnames(s$G))
    expect_equal(rs$estimate, unname(ref[, 1]), tolerance = 1e-7)
    expect_equal(rs$se, unname(ref[, 2]), tolerance = 1e-7)
    expect_equal(rs$statistic, unname(ref[, 3]), tolerance = 1e-7)
    expect_equal(rs$p_value, stats::pchisq(unname(ref[, 3]), 1, lower.tail = FALSE), tolerance = 1e-7)
    expect_true(is.na(rs$statistic[12]))
    expect_equal(rd[, -1], rs[, -1], tolerance = 1e-5)
    # the variant with an effect stands out
    expect_lt(rs$p_value[1], 1e-4)
  }
})

test_that("the scan's estimate is the refit's with the variance components held at the null", {
  s <- sim_scan_multi(n = 100, seed = 2)
  fit <- glmm(y ~ x + (1 | cell) + (1 | space), s$d,
              covariance = list(cell = s$K1s, space = s$K2s))
  rs <- assoc_scan(fit, s$G[, 1:3], progress = FALSE)
  V <- dense_v(fit, s$d, list(cell = s$K1, space = s$K2))
  for (k in 1:3) {
    X1 <- cbind(model.matrix(~ x, s$d), g = s$G[, k])
    # the refit's fixed effects by GLS with V at the null estimates
    R <- chol(V)
    Xt <- backsolve(R, X1, transpose = TRUE)
    yt <- backsolve(R, s$d$y, transpose = TRUE)
    b <- qr.coef(qr(Xt), yt)
    se <- sqrt(diag(chol2inv(qr.R(qr(Xt)))))
    expect_equal(rs$estimate[k], unname(b[3]), tolerance = 1e-7)
    expect_equal(rs$se[k], unname(se[3]), tolerance = 1e-7)
  }
  # a function returning columns gives the same result
  rf <- assoc_scan(fit, function(j) s$G[, j, drop = FALSE], m = 3, block_size = 2,
                   progress = FALSE)
  expect_equal(rf[, -1], rs[, -1])
  expect_identical(rf$variant, 1:3)
})

test_that("a scan on other several-term fits is refused, naming what is supported", {
  s <- sim_scan_multi(n = 60, seed = 3)
  s$d$yb <- rbinom(nrow(s$d), 1, 0.5)
  fb <- suppressWarnings(glmm(yb ~ x + (1 | cell) + (1 | space), s$d, family = binomial,
                              covariance = list(cell = s$K1s, space = s$K2s)))
  expect_error(assoc_scan(fb, s$G, progress = FALSE),
               "gaussian model whose random-effect terms are all random intercepts")
  expect_error(assoc_scan(fb, s$G, progress = FALSE), "binomial \\(logit\\) or Poisson \\(log\\) model with the one term")
})
