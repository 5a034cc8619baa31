# Several sparse known covariances on the same cells (families of five and
# a banded one-dimensional spatial covariance), kept sparse end to end:
# gaussian by the sparse Cholesky of V (fit-known-gaussian-multi.R)
# against the dense route and lme4's Z L fit; binomial by the sparse Laplace
# engine with sparse factors of K (covariance_factor()); the memory check
# before each allocation.

# Families of `fam` cells (1 on the diagonal, 0.5 within a family) and a
# compactly supported (Wendland) covariance of positions on a line: both
# sparse and positive definite. Truth: s1 = 1.2, s2 = 0.9, sigma = 1.
sim_two_sparse <- function(n = 200, reps = 1, fam = 5, range = 0.15, seed = 1,
                           binary = FALSE) {
  set.seed(seed)
  nm <- paste0("c", seq_len(n))
  f <- (seq_len(n) - 1L) %/% fam
  K1 <- 0.5 * outer(f, f, "==") + diag(0.5, n)
  pos <- sort(runif(n))
  D <- abs(outer(pos, pos, "-")) / range
  K2 <- ifelse(D < 1, (1 - D)^4 * (1 + 4 * D), 0)
  dimnames(K1) <- dimnames(K2) <- list(nm, nm)
  sp <- function(K) Matrix::forceSymmetric(methods::as(Matrix::Matrix(K, sparse = TRUE),
                                                       "CsparseMatrix"))
  g1 <- drop(t(chol(K1)) %*% rnorm(n))
  g2 <- drop(t(chol(K2 + diag(1e-9, n))) %*% rnorm(n))
  d <- data.frame(cell = factor(rep(nm, reps), levels = nm), x = rnorm(n * reps))
  d$space <- d$cell
  eta <- 0.3 + 0.5 * d$x + 1.2 * g1[as.integer(d$cell)] + 0.9 * g2[as.integer(d$cell)]
  d$y <- if (binary) rbinom(n * reps, 1, stats::plogis(eta)) else eta + rnorm(n * reps)
  list(d = d, K1 = K1, K2 = K2, K1s = sp(K1), K2s = sp(K2))
}

f2 <- y ~ x + (1 | cell) + (1 | space)

# Muffles the warnings these designs are expected to give (one 0/1 readout
# a cell; a component absent from the data), and only those.
expected_warnings <- function(expr) {
  withCallingHandlers(expr, warning = function(w) {
    if (grepl("barely identifiable|singular fit", conditionMessage(w)))
      invokeRestart("muffleWarning")
  })
}

test_that("two sparse K: the sparse route gives the dense route's fit, ML and REML", {
  for (reps in 1:2) {
    s <- sim_two_sparse(n = 150, reps = reps, seed = 11 + reps)
    for (reml in c(FALSE, TRUE)) {
      sp <- glmm(f2, s$d, covariance = list(cell = s$K1s, space = s$K2s), REML = reml)
      de <- glmm(f2, s$d, covariance = list(cell = s$K1, space = s$K2), REML = reml)
      expect_match(sp$optinfo$method, "sparse Cholesky, 2 known covariances")
      expect_match(de$optinfo$method, "dense Cholesky")
      expect_length(sp$optinfo$warnings, 0L)
      # same optimum; ours (sparse) may be higher, never lower by more than 1e-6
      expect_gt(as.numeric(logLik(sp)) - as.numeric(logLik(de)), -1e-6)
      expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(de)), tolerance = 1e-6)
      expect_equal(fixef(sp), fixef(de), tolerance = 1e-5)
      expect_equal(c(VarCorr(sp)$cell[1, 1], VarCorr(sp)$space[1, 1], sigma(sp)),
                   c(VarCorr(de)$cell[1, 1], VarCorr(de)$space[1, 1], sigma(de)),
                   tolerance = 1e-4)
      expect_equal(vcov(sp), vcov(de), tolerance = 1e-4)
      expect_equal(ranef(sp)$cell, ranef(de)$cell, tolerance = 1e-4)
      expect_equal(ranef(sp)$space, ranef(de)$space, tolerance = 1e-4)
      expect_equal(sp$cov_theta, de$cov_theta, tolerance = 1e-3)
    }
  }
})

test_that("two sparse K equal lme4's Z L fit and recover the simulated truth", {
  skip_if_not_installed("lme4")
  # two readouts a cell: with one, this draw's residual variance is at its
  # boundary (zero), which lme4 does not reach exactly
  # (test-known-gaussian-boundary.R tests that case)
  s <- sim_two_sparse(n = 150, reps = 2, seed = 7)
  mk <- function(Z) methods::as(methods::as(Matrix::Matrix(Z, sparse = TRUE), "generalMatrix"),
                                "CsparseMatrix")
  for (reml in c(FALSE, TRUE)) {
    ours <- glmm(f2, s$d, covariance = list(cell = s$K1s, space = s$K2s), REML = reml)
    lf <- lme4::lFormula(f2, s$d, REML = reml,
                         control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                     check.nobs.vs.nRE = "ignore"))
    R2 <- chol(s$K2 + diag(1e-12, nrow(s$K2)))
    Z1 <- chol(s$K1) %*% as.matrix(lf$reTrms$Ztlist[[1L]])
    Z2 <- R2 %*% as.matrix(lf$reTrms$Ztlist[[2L]])
    lf$reTrms$Ztlist <- list(mk(Z1), mk(Z2))
    lf$reTrms$Zt <- mk(rbind(Z1, Z2))
    dev <- do.call(lme4::mkLmerDevfun, lf)
    ref <- lme4::mkMerMod(environment(dev), lme4::optimizeLmer(dev), lf$reTrms, fr = lf$fr)
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6)
    expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-6)
    expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 1e-4)
    expect_equal(c(VarCorr(ours)$cell[1, 1], VarCorr(ours)$space[1, 1], sigma(ours)^2),
                 as.data.frame(lme4::VarCorr(ref))$vcov, tolerance = 1e-3)
  }
  # the truth (variances 1.44, 0.81, 1) within a generous sampling margin
  big <- sim_two_sparse(n = 3000, seed = 8)
  fit <- glmm(f2, big$d, covariance = list(cell = big$K1s, space = big$K2s))
  expect_equal(c(VarCorr(fit)$cell[1, 1], VarCorr(fit)$space[1, 1], sigma(fit)^2),
               c(1.44, 0.81, 1), tolerance = 0.35)
  expect_equal(unname(fixef(fit)), c(0.3, 0.5), tolerance = 0.2)
})

test_that("identity K on two crossed factors reproduces the plain (1 | id) + (1 | site) fit", {
  set.seed(12)
  d <- expand.grid(id = factor(sprintf("i%02d", 1:30)), site = factor(sprintf("s%d", 1:8)))
  d$x <- rnorm(nrow(d))
  d$y <- 1 + 0.4 * d$x + rnorm(30, sd = 0.8)[d$id] + rnorm(8, sd = 0.6)[d$site] + rnorm(nrow(d))
  d <- d[sample(nrow(d), 180), ]
  I1 <- Matrix::Diagonal(30)
  I2 <- Matrix::Diagonal(8)
  dimnames(I1) <- list(levels(d$id), levels(d$id))
  dimnames(I2) <- list(levels(d$site), levels(d$site))
  for (reml in c(FALSE, TRUE)) {
    kn <- glmm(y ~ x + (1 | id) + (1 | site), d, covariance = list(id = I1, site = I2),
               REML = reml)
    pl <- glmm(y ~ x + (1 | id) + (1 | site), d, REML = reml)
    expect_match(kn$optinfo$method, "sparse Cholesky")
    expect_equal(as.numeric(logLik(kn)), as.numeric(logLik(pl)), tolerance = 1e-6)
    expect_equal(fixef(kn), fixef(pl), tolerance = 1e-5)
    expect_equal(unname(c(VarCorr(kn)$id[1, 1], VarCorr(kn)$site[1, 1])),
                 unname(c(VarCorr(pl)$id[1, 1], VarCorr(pl)$site[1, 1])), tolerance = 1e-4)
    expect_equal(ranef(kn)$id[[1L]], ranef(pl)$id[[1L]], tolerance = 1e-4)
  }
})

test_that("variance shares of the two terms agree across the sparse and dense routes", {
  s <- sim_two_sparse(n = 150, seed = 9)
  sp <- glmm(f2, s$d, covariance = list(cell = s$K1s, space = s$K2s))
  de <- glmm(f2, s$d, covariance = list(cell = s$K1, space = s$K2))
  vs <- variance_shares(sp)
  vd <- variance_shares(de)
  expect_equal(vs$component, vd$component)
  expect_equal(vs$estimate, vd$estimate, tolerance = 1e-4)
  expect_equal(vs$conf.low, vd$conf.low, tolerance = 1e-3)
  # a term's variance is sigma_t^2 times the mean of diag(K) over the cells
  v <- vs$estimate[vs$quantity == "variance"]
  names(v) <- vs$component[vs$quantity == "variance"]
  expect_equal(unname(v["cell"]), VarCorr(sp)$cell[1, 1] * mean(diag(s$K1)), tolerance = 1e-8)
})

test_that("nothing n x n is dense in the sparse route, and the factor's size is counted first", {
  s <- sim_two_sparse(n = 150, seed = 4)
  fit <- glmm(f2, s$d, covariance = list(cell = s$K1s, space = s$K2s))
  n <- nrow(s$d)
  dense_nn <- function(x) {
    if (is.list(x)) return(any(vapply(x, dense_nn, TRUE)))
    is.matrix(x) && nrow(x) == n && ncol(x) == n
  }
  expect_false(dense_nn(unclass(fit)))
  expect_gt(fit$optinfo$nnz_factor, n)
  expect_lt(fit$optinfo$nnz_factor, n * (n + 1) / 2)
  # the symbolic count is exact where the fill is known: no fill for
  # tridiagonal and block-diagonal patterns, all of it for a dense one
  tri <- Matrix::bandSparse(100, k = -1:1, diagonals = list(rep(-1, 99), rep(2, 100), rep(-1, 99)))
  expect_equal(glmmgee:::cpp_chol_factor_nnz(glmmgee:::as_dgc(tri)), 199)
  blk <- Matrix::bdiag(rep(list(matrix(1, 5, 5) + diag(5)), 20))
  expect_equal(glmmgee:::cpp_chol_factor_nnz(glmmgee:::as_dgc(blk)), 20 * 15)
  den <- methods::as(Matrix::Matrix(diag(30) + 1, sparse = TRUE), "generalMatrix")
  expect_equal(glmmgee:::cpp_chol_factor_nnz(glmmgee:::as_dgc(den)), 30 * 31 / 2)
})

test_that("a request beyond the memory limit is refused at once, naming its size", {
  s <- sim_two_sparse(n = 150, seed = 4)
  old <- options(glmmgee.memory_limit = 1e5)
  on.exit(options(old))
  # dense route: n x n matrices, refused before any is made
  expect_error(glmm(f2, s$d, covariance = list(cell = s$K1, space = s$K2)),
               "2 known covariances over 150 observations \\(dense 150 x 150 matrices\\) needs about [0-9.e-]+ GB of memory; [0-9.e-]+ GB are available")
  # sparse route: refused from the counts of nonzeros, before Z K Z' is
  # formed, and a sparse factor of K from its symbolic count
  expect_error(glmm(f2, s$d, covariance = list(cell = s$K1s, space = s$K2s)),
               "2 sparse known covariances over 150 observations \\([0-9.e+]+ nonzeros in Z K Z'\\) needs about")
  options(glmmgee.memory_limit = 1e3)
  expect_error(glmmgee:::covariance_factor(s$K2s, "space"),
               "the sparse factor of 'covariance\\$space' \\(150 x 150, [0-9.e+]+ nonzeros\\) needs about")
  options(glmmgee.memory_limit = -1)
  expect_error(glmm(f2, s$d, covariance = list(cell = s$K1s, space = s$K2s)),
               "glmmgee.memory_limit")
})

test_that("binomial with two sparse K: sparse factors, the dense factors' fit", {
  s <- sim_two_sparse(n = 200, seed = 5, binary = TRUE)
  sp <- expected_warnings(glmm(f2, s$d, family = binomial, covariance = list(cell = s$K1s, space = s$K2s)))
  de <- expected_warnings(glmm(f2, s$d, family = binomial, covariance = list(cell = s$K1, space = s$K2)))
  # the Laplace approximation does not depend on which factor of K is used
  expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(de)), tolerance = 1e-6)
  expect_equal(fixef(sp), fixef(de), tolerance = 1e-4)
  expect_equal(unname(c(VarCorr(sp)$cell[1, 1], VarCorr(sp)$space[1, 1])),
               unname(c(VarCorr(de)$cell[1, 1], VarCorr(de)$space[1, 1])), tolerance = 1e-3)
  expect_equal(ranef(sp)$space, ranef(de)$space, tolerance = 1e-3)
  # the factors are sparse: those of the families have the blocks' nonzeros
  F1 <- glmmgee:::covariance_factor(s$K1s, "cell")
  expect_s4_class(F1, "CsparseMatrix")
  expect_equal(Matrix::nnzero(F1), 40 * 15)
  expect_equal(as.matrix(Matrix::tcrossprod(F1)), s$K1, tolerance = 1e-10, ignore_attr = TRUE)
  F2 <- glmmgee:::covariance_factor(s$K2s, "space")
  expect_lt(Matrix::nnzero(F2), 0.5 * 200^2)
  expect_equal(as.matrix(Matrix::tcrossprod(F2)), s$K2, tolerance = 1e-8, ignore_attr = TRUE)
})

test_that("binomial with two sparse K: the conditional variances are the diagonal of the inverse posterior precision, levels without observations included", {
  s <- sim_two_sparse(n = 200, reps = 2, seed = 5, binary = TRUE)
  d <- s$d[!(s$d$cell %in% paste0("c", 191:200)), ]
  fit <- expected_warnings(glmm(f2, d, family = binomial, covariance = list(cell = s$K1s, space = s$K2s)))
  s2 <- c(VarCorr(fit)$cell[1, 1], VarCorr(fit)$space[1, 1])
  expect_true(all(s2 > 0.1))
  # Laplace: Var(b | y) = (blockdiag(K1^-1 / s1^2, K2^-1 / s2^2) + Z'WZ)^-1
  # at the modes, formed densely here from the fitted means
  mu <- fitted(fit)
  Z1 <- stats::model.matrix(~ 0 + cell, d)
  P <- as.matrix(Matrix::bdiag(solve(s$K1) / s2[1], solve(s$K2) / s2[2])) +
    crossprod(cbind(Z1, Z1) * sqrt(mu * (1 - mu)))
  got <- c(fit$reterms[[1]]$condvar[1, 1, ], fit$reterms[[2]]$condvar[1, 1, ])
  expect_equal(got, diag(solve(P)), tolerance = 1e-7, ignore_attr = TRUE)
})

test_that("binomial with two sparse K: the sparse Laplace engine's factor is counted and checked before it is allocated", {
  s <- sim_two_sparse(n = 150, seed = 4, binary = TRUE)
  fit <- expected_warnings(glmm(f2, s$d, family = binomial, covariance = list(cell = s$K1s, space = s$K2s)))
  # the symbolic count is the engine's factor, exactly
  re <- glmmgee:::sparse_re_terms(f2, s$d, list(cell = s$K1s, space = s$K2s))
  expect_equal(glmmgee:::sparse_engine_memory_check(re$Z, re, 2L), fit$optinfo$nnz_factor)
  # a limit above the factors of K but below the engine's needs
  old <- options(glmmgee.memory_limit = 40 * Matrix::nnzero(re$Z) + 30 * 12 * 150)
  on.exit(options(old))
  expect_error(glmm(f2, s$d, family = binomial, covariance = list(cell = s$K1s, space = s$K2s)),
               "the sparse Laplace engine's penalized Hessian \\(300 random effects, 150 observations\\)( and its sparse Cholesky factor \\([0-9.e+]+ nonzeros\\)| \\([0-9.e+]+ pairs of non-zeros\\)) needs about")
})

test_that("a singular sparse K is factored block by block, or refused when a block is too large", {
  s <- sim_two_sparse(n = 200, seed = 6, binary = TRUE)
  # identical twins: cells 1 and 2 have the same genome (K rows equal)
  K1 <- s$K1
  K1[1, 2] <- K1[2, 1] <- 1
  K1[1, 3:5] <- K1[3:5, 1] <- K1[2, 3:5]
  expect_lt(min(eigen(K1[1:5, 1:5], only.values = TRUE)$values), 1e-10)
  K1s <- Matrix::forceSymmetric(methods::as(Matrix::Matrix(K1, sparse = TRUE), "CsparseMatrix"))
  F1 <- glmmgee:::covariance_factor(K1s, "cell")
  expect_equal(as.matrix(Matrix::tcrossprod(F1)), K1, tolerance = 1e-10, ignore_attr = TRUE)
  expect_lte(Matrix::nnzero(F1), 40 * 25)
  sp <- expected_warnings(glmm(f2, s$d, family = binomial, covariance = list(cell = K1s, space = s$K2s)))
  de <- expected_warnings(glmm(f2, s$d, family = binomial, covariance = list(cell = K1, space = s$K2)))
  expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(de)), tolerance = 1e-6)
  expect_equal(fixef(sp), fixef(de), tolerance = 1e-4)
  expect_error(glmmgee:::sparse_singular_factor(K1s, "cell", max_block = 4L),
               "'covariance\\$cell' is sparse but not positive definite, and one connected block of it has 5 levels")
  # gaussian: the sparse route needs no factor of K, so a singular K is fine
  s$d$y <- s$d$x + rnorm(200)
  g <- expected_warnings(glmm(f2, s$d, covariance = list(cell = K1s, space = s$K2s)))
  gd <- expected_warnings(glmm(f2, s$d, covariance = list(cell = K1, space = s$K2)))
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(gd)), tolerance = 1e-6)
})
