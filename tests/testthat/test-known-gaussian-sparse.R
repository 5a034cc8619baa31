# A sparse known covariance (Matrix::dsCMatrix) on the gaussian route,
# factored by a sparse Cholesky per evaluation and never densified
# (fit-known-gaussian.R, known_gaussian_rotation_sparse()): against the same K given densely
# (tridiagonal or factor route), lme4 with Z L, and assoc_scan() on both.

# A compactly supported (Wendland) spatial covariance: sparse and
# positive definite in two dimensions.
sim_sparse_k <- function(n = 160, reps = 1, r = 0.18, seed = 11) {
  set.seed(seed)
  pos <- cbind(runif(n), runif(n))
  D <- as.matrix(stats::dist(pos))
  Kd <- ifelse(D < r, (1 - D / r)^4 * (1 + 4 * D / r), 0)
  nm <- paste0("s", seq_len(n))
  dimnames(Kd) <- list(nm, nm)
  Ks <- methods::as(Matrix::Matrix(Kd, sparse = TRUE), "CsparseMatrix")
  g <- drop(t(chol(Kd)) %*% rnorm(n))
  d <- data.frame(id = factor(rep(nm, reps), levels = nm), x = rnorm(n * reps))
  d$y <- 1 + 0.5 * d$x + 1.3 * g[as.integer(d$id)] + rnorm(n * reps)
  list(d = d, Kd = Kd, Ks = Ks)
}

test_that("a sparse K gives the dense route's fit, ML and REML, one and several observations per level", {
  for (reps in 1:2) {
    s <- sim_sparse_k(reps = reps, seed = 10 + reps)
    expect_s4_class(s$Ks, "dsCMatrix")
    for (reml in c(FALSE, TRUE)) {
      sp <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = s$Ks), REML = reml)
      de <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = s$Kd), REML = reml)
      expect_match(sp$optinfo$method, "sparse Cholesky")
      expect_false(grepl("sparse", de$optinfo$method))
      expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(de)), tolerance = 1e-8)
      expect_equal(fixef(sp), fixef(de), tolerance = 1e-6)
      expect_equal(c(VarCorr(sp)$id[1, 1], sigma(sp)), c(VarCorr(de)$id[1, 1], sigma(de)),
                   tolerance = 1e-6)
      expect_equal(vcov(sp), vcov(de), tolerance = 1e-6)
      expect_equal(ranef(sp)$id, ranef(de)$id, tolerance = 1e-6)
      expect_equal(sp$cov_theta, de$cov_theta, tolerance = 1e-4)
    }
  }
  # what the fit keeps is sparse: A = Z K Z' and its Cholesky factor, no
  # n x n dense matrix
  rt <- sp$rotation
  expect_s4_class(rt$sparse$A, "dsCMatrix")
  expect_s4_class(rt$sparse$L0, "CHMfactor")
  expect_true(isTRUE(rt$basis$identity))
  n <- nrow(s$d)
  dense_nn <- vapply(rt, function(x) is.matrix(x) && nrow(x) == n && ncol(x) == n, TRUE)
  expect_false(any(dense_nn))
})

test_that("a sparse K equals lme4's Z L fit", {
  skip_if_not_installed("lme4")
  s <- sim_sparse_k(n = 120, seed = 5)
  Lk <- t(chol(s$Kd))
  for (reml in c(FALSE, TRUE)) {
    lf <- lme4::lFormula(y ~ x + (1 | id), s$d, REML = reml,
                         control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                     check.nobs.vs.nRE = "ignore"))
    Zt <- t(Lk) %*% as.matrix(lf$reTrms$Zt)
    lf$reTrms$Zt <- methods::as(methods::as(Matrix::Matrix(Zt, sparse = TRUE), "generalMatrix"),
                                "CsparseMatrix")
    lf$reTrms$Ztlist[[1L]] <- lf$reTrms$Zt
    dev <- do.call(lme4::mkLmerDevfun, lf)
    ref <- lme4::mkMerMod(environment(dev), lme4::optimizeLmer(dev), lf$reTrms, fr = lf$fr)
    ours <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = s$Ks), REML = reml)
    expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-8)
    expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 1e-5)
    vc <- as.data.frame(lme4::VarCorr(ref))$vcov
    expect_equal(c(VarCorr(ours)$id[1, 1], sigma(ours)^2), vc, tolerance = 1e-5)
    expect_equal(ranef(ours)$id[[1L]], unname(drop(Lk %*% lme4::ranef(ref)$id[[1L]])),
                 tolerance = 1e-5)
  }
})

test_that("assoc_scan() on a sparse-K null equals the dense computation", {
  s <- sim_sparse_k(n = 150, seed = 8)
  set.seed(9)
  snps <- matrix(rbinom(150 * 15, 2, 0.3), 150, 15)
  fit <- glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = s$Ks))
  res <- assoc_scan(fit, snps, block_size = 4, progress = FALSE)
  X <- fit$X
  V <- VarCorr(fit)$id[1, 1] * s$Kd + sigma(fit)^2 * diag(150)
  Vi <- solve(V)
  P <- Vi - Vi %*% X %*% solve(crossprod(X, Vi %*% X), crossprod(X, Vi))
  xPy <- drop(crossprod(snps, P %*% fit$y))
  xPx <- colSums(snps * (P %*% snps))
  expect_equal(res$statistic, xPy^2 / xPx, tolerance = 1e-7)
  expect_equal(res$estimate, xPy / xPx, tolerance = 1e-7)
})

test_that("a sparse K that is not symmetric or not positive semidefinite is refused", {
  s <- sim_sparse_k(n = 60, seed = 2)
  Ka <- methods::as(methods::as(s$Ks, "generalMatrix"), "CsparseMatrix")
  Ka[1, 2] <- Ka[1, 2] + 0.5
  expect_error(glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = Ka)), "symmetric")
  Kn <- s$Ks
  Kn[1, 1] <- -1
  expect_error(glmm(y ~ x + (1 | id), data = s$d, covariance = list(id = Kn)),
               "'covariance\\$id' has negative variances on its diagonal \\(e.g. level 's1': -1\\)")
})
