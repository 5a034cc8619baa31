# The residual variance's boundary in the known-covariance gaussian routes:
# with one observation per level and K positive definite, s2e = 0 is a
# legitimate optimum. Draws whose truth has s2e = 0, against lme4 on the
# design Z F (F' = chol(K); helper-lmer-zf.R), which stops just short of the boundary: ours
# equal or higher, and the boundary recorded as a singular fit.

# n cells, one readout each: families of five (sparse, 1 and 0.5) and a
# Wendland covariance of positions on a line (plus `nugget` I); no
# residual noise in y.
sim_no_residual <- function(n = 150, seed = 5, two = TRUE, nugget = 0) {
  set.seed(seed)
  nm <- paste0("c", seq_len(n))
  f <- (seq_len(n) - 1L) %/% 5L
  K1 <- 0.5 * outer(f, f, "==") + diag(0.5, n)
  pos <- sort(runif(n))
  D <- abs(outer(pos, pos, "-")) / 0.15
  K2 <- ifelse(D < 1, (1 - D)^4 * (1 + 4 * D), 0) + diag(nugget, n)
  dimnames(K1) <- dimnames(K2) <- list(nm, nm)
  d <- data.frame(cell = factor(nm, levels = nm), x = rnorm(n))
  d$space <- d$cell
  d$y <- 0.3 + 0.5 * d$x + if (two) {
    1.2 * drop(t(chol(K1)) %*% rnorm(n)) + 0.9 * drop(t(chol(K2 + diag(1e-9, n))) %*% rnorm(n))
  } else {
    1.2 * drop(t(chol(K2)) %*% rnorm(n))
  }
  sp <- function(K) Matrix::forceSymmetric(methods::as(Matrix::Matrix(K, sparse = TRUE),
                                                       "CsparseMatrix"))
  list(d = d, K1 = K1, K2 = K2, K1s = sp(K1), K2s = sp(K2))
}

boundary_warning <- "singular fit: the residual variance is estimated at zero"

test_that("two sparse K, no residual noise: s2e = 0 is reached, at or above lme4's Z F fit", {
  skip_if_not_installed("lme4")
  s <- sim_no_residual()
  f <- y ~ x + (1 | cell) + (1 | space)
  for (reml in c(FALSE, TRUE)) {
    expect_warning(sp <- glmm(f, s$d, covariance = list(cell = s$K1s, space = s$K2s), REML = reml),
                   boundary_warning)
    expect_warning(de <- glmm(f, s$d, covariance = list(cell = s$K1, space = s$K2), REML = reml),
                   boundary_warning)
    ref <- lmer_zf_terms(f, s$d, list(cell = s$K1, space = s$K2), reml)
    for (fit in list(sp, de)) {
      expect_true(fit$optinfo$residual_zero)
      expect_true(fit$singular)
      expect_identical(sigma(fit), 0)
      expect_true(any(grepl(boundary_warning, fit$optinfo$warnings)))
      # lme4 stops short of the boundary: ours is higher (never lower by
      # more than 1e-6), and close
      expect_gt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), -1e-6)
      expect_lt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), 1e-3)
      expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-3)
      vr <- as.data.frame(lme4::VarCorr(ref))
      expect_equal(c(VarCorr(fit)$cell[1, 1], VarCorr(fit)$space[1, 1]),
                   vr$vcov[1:2], tolerance = 1e-2)
      # the residual's row of the parameters' covariance is undefined there
      vp <- c("cell.(Intercept)", "space.(Intercept)", "log(sigma)")
      expect_true(all(is.na(fit$cov_theta["log(sigma)", vp])))
      expect_true(all(is.finite(diag(fit$cov_theta)[c("cell.(Intercept)", "space.(Intercept)")])))
    }
    expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(de)), tolerance = 1e-8)
    expect_equal(ranef(sp)$space, ranef(de)$space, tolerance = 1e-5)
  }
})

test_that("one known K, no residual noise: the boundary of the rotation routes, at or above lme4", {
  skip_if_not_installed("lme4")
  s <- sim_no_residual(two = FALSE, nugget = 0.05, seed = 5)
  f <- y ~ x + (1 | space)
  for (reml in c(FALSE, TRUE)) {
    expect_warning(sp <- glmm(f, s$d, covariance = list(space = s$K2s), REML = reml),
                   boundary_warning)
    expect_warning(tr <- glmm(f, s$d, covariance = list(space = s$K2), REML = reml),
                   boundary_warning)
    expect_match(tr$optinfo$method, "tridiagonal")
    ref <- lmer_zf_terms(f, s$d, list(space = s$K2), reml)
    for (fit in list(sp, tr)) {
      expect_true(fit$optinfo$residual_zero)
      expect_identical(sigma(fit), 0)
      expect_gt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), -1e-6)
      expect_lt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), 1e-3)
      expect_equal(VarCorr(fit)$space[1, 1], as.data.frame(lme4::VarCorr(ref))$vcov[1],
                   tolerance = 1e-2)
    }
    expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(tr)), tolerance = 1e-8)
  }
})

test_that("a residual away from zero is not put on the boundary, and a singular G never is", {
  s <- sim_no_residual(seed = 7)
  s$d$y <- s$d$y + rnorm(nrow(s$d))
  fit <- glmm(y ~ x + (1 | cell) + (1 | space), s$d,
              covariance = list(cell = s$K1s, space = s$K2s))
  expect_false(fit$optinfo$residual_zero)
  expect_gt(sigma(fit), 0.5)
  # two readouts a cell with a rank-deficient Z K Z': s2e = 0 is impossible
  s2 <- sim_no_residual(n = 60, seed = 8, two = FALSE)
  d2 <- rbind(s2$d, transform(s2$d, y = y + rnorm(60, sd = 0.01)))
  fit2 <- glmm(y ~ x + (1 | space), d2, covariance = list(space = s2$K2s))
  expect_false(fit2$optinfo$residual_zero)
  expect_gt(sigma(fit2), 0)
})

test_that("a residual far below the known effect's variance, with replicates: the interior optimum past the grid, not its end", {
  skip_if_not_installed("lme4")
  # s2g / s2e about 1e6, three readouts a level: the residual is
  # estimable, and the optimum lies far past 12 units of log(s2g / s2e)
  # from the centre (the search stopped at that end: s2g 0.32 instead of
  # 0.89, logLik 90 below the maximum, a "(near) zero" residual warning).
  set.seed(7)
  n <- 60
  G <- matrix(rbinom(n * 300, 2, 0.3), n, 300)
  K <- tcrossprod(scale(G)) / 300
  ids <- sprintf("id%03d", seq_len(n))
  dimnames(K) <- list(ids, ids)
  u <- drop(t(chol(K + diag(1e-8, n))) %*% rnorm(n))
  d <- data.frame(id = rep(ids, each = 3), x = rnorm(3 * n))
  set.seed(1)
  d$y <- 1 + 0.5 * d$x + u[match(d$id, ids)] + rnorm(3 * n, sd = 1e-3)
  Ks <- methods::as(Matrix::Matrix(K, sparse = TRUE), "CsparseMatrix")
  for (reml in c(FALSE, TRUE)) {
    ref <- lmer_zf_terms(y ~ x + (1 | id), d, list(id = K), reml)
    vr <- as.data.frame(lme4::VarCorr(ref))$vcov
    for (Kg in list(K, Ks)) {
      expect_silent(fit <- glmm(y ~ x + (1 | id), d, covariance = list(id = Kg), REML = reml))
      expect_false(fit$optinfo$residual_zero)
      expect_gt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), -1e-6)
      expect_equal(c(VarCorr(fit)$id[1, 1], sigma(fit)^2), vr, tolerance = 1e-4)
      # the same optimum in other units of y
      for (k in c(1e-3, 1e3)) {
        dk <- transform(d, y = k * y)
        fk <- glmm(y ~ x + (1 | id), dk, covariance = list(id = Kg), REML = reml)
        expect_equal(fixef(fk), k * fixef(fit), tolerance = 1e-6)
        expect_equal(c(VarCorr(fk)$id[1, 1], sigma(fk)^2), k^2 * c(VarCorr(fit)$id[1, 1], sigma(fit)^2),
                     tolerance = 1e-4)
        # (REML: the n - p residual degrees of freedom carry the units)
        expect_equal(as.numeric(logLik(fk)), as.numeric(logLik(fit)) - (3 * n - 2 * reml) * log(k),
                     tolerance = 1e-8)
      }
    }
  }
})
