# Gaussian models that mix known-covariance random intercepts with plain
# ones: a plain (1 | g) is the known-covariance term with K = I over g's
# levels, so the model keeps the exact sparse (or dense) Cholesky route;
# a random slope beside them goes to the sparse Laplace engine, exact for
# the gaussian family. References: lme4 on the design Z F (F a factor of
# K), built with its modular functions.

# Families of five cells (1 on the diagonal, 0.5 within a family; sparse),
# `reps` readouts a cell, each in one of `nb` batches. Truth: sd 1.2 (cell),
# 0.7 (batch), 0.5 (batch slope on x when `slope`), residual 1.
sim_cell_batch <- function(n = 150, reps = 1, seed = 1, slope = FALSE, nb = 40) {
  set.seed(seed)
  nm <- paste0("c", seq_len(n))
  f <- (seq_len(n) - 1L) %/% 5L
  K <- 0.5 * outer(f, f, "==") + diag(0.5, n)
  dimnames(K) <- list(nm, nm)
  Ks <- Matrix::forceSymmetric(methods::as(Matrix::Matrix(K, sparse = TRUE), "CsparseMatrix"))
  g <- drop(t(chol(K)) %*% rnorm(n))
  N <- n * reps
  d <- data.frame(cell = factor(rep(nm, reps), levels = nm), x = rnorm(N),
                  batch = factor(sample(sprintf("b%d", seq_len(nb)), N, TRUE)))
  d$y <- 0.3 + 0.5 * d$x + 1.2 * g[as.integer(d$cell)] + rnorm(nb, sd = 0.7)[d$batch] +
    (if (slope) rnorm(nb, sd = 0.5)[d$batch] * d$x else 0) + rnorm(N)
  list(d = d, K = K, Ks = Ks)
}

# lme4 on Z F: lmer_zf_terms() (helper-lmer-zf.R), the K term being `cell`.
lmer_zf <- function(formula, d, K, reml) lmer_zf_terms(formula, d, list(cell = K), reml)

test_that("a sparse K beside a plain (1 | batch) is fitted exactly: lme4's Z F fit and the dense route", {
  skip_if_not_installed("lme4")
  f <- y ~ x + (1 | cell) + (1 | batch)
  for (reps in 1:2) {
    s <- sim_cell_batch(n = 150, reps = reps, seed = 20 + reps)
    for (reml in c(FALSE, TRUE)) {
      sp <- glmm(f, s$d, covariance = list(cell = s$Ks), REML = reml)
      de <- glmm(f, s$d, covariance = list(cell = s$K), REML = reml)
      ref <- lmer_zf(f, s$d, s$K, reml)
      expect_match(sp$optinfo$method, "sparse Cholesky, 2 known covariances")
      expect_match(de$optinfo$method, "dense Cholesky, 2 known covariances")
      expect_identical(sp$REML, reml)
      # ours equal to lme4's optimum or higher, never lower by more than 1e-6
      expect_gt(as.numeric(logLik(sp)) - as.numeric(logLik(ref)), -1e-6)
      expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(ref)), tolerance = 1e-6)
      expect_equal(as.numeric(logLik(de)), as.numeric(logLik(sp)), tolerance = 1e-6)
      expect_equal(unname(fixef(sp)), unname(lme4::fixef(ref)), tolerance = 1e-4)
      vr <- as.data.frame(lme4::VarCorr(ref))
      expect_equal(c(VarCorr(sp)$cell[1, 1], VarCorr(sp)$batch[1, 1], sigma(sp)^2),
                   vr$vcov[match(c("cell", "batch", "Residual"), vr$grp)], tolerance = 1e-3)
      expect_equal(ranef(sp)$batch[[1L]], ranef(de)$batch[[1L]], tolerance = 1e-4)
      # the plain term's predictions are lme4's (F' b = ranef for K = I)
      expect_equal(ranef(sp)$batch[[1L]], unname(lme4::ranef(ref)$batch[[1L]]), tolerance = 1e-3)
    }
  }
})

test_that("a plain term on an interaction is read as the sparse engine reads it", {
  s <- sim_cell_batch(n = 150, reps = 2, seed = 31)
  s$d$site <- factor(rep(c("s1", "s2"), length.out = nrow(s$d)))
  f <- y ~ x + (1 | cell) + (1 | batch:site)
  kn <- glmm(f, s$d, covariance = list(cell = s$Ks))
  expect_match(kn$optinfo$method, "sparse Cholesky")
  # the same model with the identity given explicitly over the combinations
  s$d$bs <- interaction(s$d$batch, s$d$site, sep = ":", drop = TRUE)
  I <- Matrix::Diagonal(nlevels(s$d$bs))
  dimnames(I) <- list(levels(s$d$bs), levels(s$d$bs))
  ex <- glmm(y ~ x + (1 | cell) + (1 | bs), s$d, covariance = list(cell = s$Ks, bs = I))
  expect_equal(as.numeric(logLik(kn)), as.numeric(logLik(ex)), tolerance = 1e-8)
  expect_equal(sort(rownames(ranef(kn)$`batch:site`)), sort(levels(s$d$bs)))
})

test_that("a dense K beside a plain term takes the dense route only when its n x n matrices fit", {
  s <- sim_cell_batch(n = 120, seed = 32)
  f <- y ~ x + (1 | cell) + (1 | batch)
  old <- options(glmmgee.memory_limit = 1e5)
  on.exit(options(old))
  expect_error(glmm(f, s$d, covariance = list(cell = s$K)),
               "2 known covariances over 120 observations \\(dense 120 x 120 matrices\\) needs about")
  # the sparse K needs far less and is fitted within the same limit
  options(glmmgee.memory_limit = 1e7)
  expect_match(glmm(f, s$d, covariance = list(cell = s$Ks))$optinfo$method, "sparse Cholesky")
})

test_that("a random slope beside a known covariance: the sparse Laplace engine, exact for the gaussian family", {
  skip_if_not_installed("lme4")
  f <- y ~ x + (1 | cell) + (x | batch)
  # one readout a cell: K (not the identity) separates the cell effect from
  # the residual, so the term is not refused as confounded
  s <- sim_cell_batch(n = 150, reps = 1, seed = 34, slope = TRUE, nb = 8)
  sl <- glmm(f, s$d, covariance = list(cell = s$Ks))
  ref <- lmer_zf(f, s$d, s$K, FALSE)
  expect_match(sl$optinfo$method, "Laplace")
  expect_gt(as.numeric(logLik(sl)) - as.numeric(logLik(ref)), -1e-6)
  expect_equal(as.numeric(logLik(sl)), as.numeric(logLik(ref)), tolerance = 1e-6)
  expect_equal(unname(fixef(sl)), unname(lme4::fixef(ref)), tolerance = 1e-4)
  expect_error(glmm(f, s$d, covariance = list(cell = s$Ks), REML = TRUE),
               "'REML = TRUE'.*random slope beside a known covariance is fitted by ML only")
  # an identity K on a factor with one level per observation stays refused
  I <- Matrix::Diagonal(150)
  dimnames(I) <- list(levels(s$d$cell), levels(s$d$cell))
  expect_error(glmm(f, s$d, covariance = list(cell = I)), "as many levels as observations")
})

test_that("a plain term with large levels: ML stays on the sparse Laplace engine, REML takes the exact route", {
  skip_if_not_installed("lme4")
  # 4 batches of ~75: Z Z' has ~22,500 nonzeros for 300 observations, which
  # would make the marginal V's factor dense
  s <- sim_cell_batch(n = 150, reps = 2, seed = 35, nb = 4)
  f <- y ~ x + (1 | cell) + (1 | batch)
  ml <- glmm(f, s$d, covariance = list(cell = s$Ks))
  expect_match(ml$optinfo$method, "Laplace")
  ref <- lmer_zf(f, s$d, s$K, FALSE)
  expect_gt(as.numeric(logLik(ml)) - as.numeric(logLik(ref)), -1e-6)
  expect_equal(as.numeric(logLik(ml)), as.numeric(logLik(ref)), tolerance = 1e-6)
  re <- glmm(f, s$d, covariance = list(cell = s$Ks), REML = TRUE)
  expect_match(re$optinfo$method, "REML \\(sparse Cholesky")
  rref <- lmer_zf(f, s$d, s$K, TRUE)
  expect_gt(as.numeric(logLik(re)) - as.numeric(logLik(rref)), -1e-6)
  expect_equal(as.numeric(logLik(re)), as.numeric(logLik(rref)), tolerance = 1e-6)
})

test_that("with weights or a start beside a plain term, an ML fit keeps the sparse Laplace engine, which takes both", {
  s <- sim_cell_batch(n = 150, reps = 2, seed = 31)
  f <- y ~ x + (1 | cell) + (1 | batch)
  s$d$w <- rep(c(1, 2), length.out = nrow(s$d))
  exact <- glmm(f, s$d, covariance = list(cell = s$Ks))
  expect_match(exact$optinfo$method, "sparse Cholesky")
  wfit <- glmm(f, s$d, covariance = list(cell = s$Ks), weights = w)
  expect_match(wfit$optinfo$method, "Laplace \\(sparse\\)")
  sfit <- glmm(f, s$d, covariance = list(cell = s$Ks), start = wfit$theta)
  expect_match(sfit$optinfo$method, "Laplace \\(sparse\\)")
  # the same model: the same optimum from either route
  expect_equal(as.numeric(logLik(sfit)), as.numeric(logLik(exact)), tolerance = 1e-6)
  # unit weights change nothing: still the exact route
  s$d$w1 <- 1
  expect_match(glmm(f, s$d, covariance = list(cell = s$Ks), weights = w1)$optinfo$method,
               "sparse Cholesky")
})
