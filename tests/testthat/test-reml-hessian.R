# The exact Hessian of the one-factor restricted log-likelihood
# (src/engines/lmm/lmm-onefactor-reml-info.cpp, via cpp_lmm_reml_info()) that gives the
# standard errors of the variance parameters of one-factor gaussian REML fits.

# -2 times the restricted log-likelihood with sigma free, from dense n x n
# matrices (V, its inverse and X'V^-1X): a reference independent of the
# per-cluster algebra. par = c(Lambda's entries at pat, log sigma) on Z.
dense_reml <- function(par, X, y, Z, g, pat, w) {
  k <- length(pat$row)
  q <- ncol(Z)
  L <- matrix(0, q, q)
  L[cbind(pat$row, pat$col)] <- par[seq_len(k)]
  s2 <- exp(2 * par[k + 1])
  ids <- split(seq_along(y), g)
  V <- matrix(0, length(y), length(y))
  for (ix in ids) {
    Zi <- Z[ix, , drop = FALSE]
    V[ix, ix] <- Zi %*% L %*% t(L) %*% t(Zi)
  }
  V <- V + diag(s2 / w, length(y))
  Vi <- solve(V)
  XVX <- crossprod(X, Vi %*% X)
  b <- solve(XVX, crossprod(X, Vi %*% y))
  r <- y - X %*% b
  c(determinant(V)$modulus) + c(determinant(XVX)$modulus) + drop(crossprod(r, Vi %*% r)) +
    (length(y) - ncol(X)) * log(2 * pi)
}

test_that("the restricted log-likelihood's exact Hessian equals numerical derivatives (1e-6)", {
  skip_if_not_installed("numDeriv")
  sim <- lmm_hessian_sim(25, 40, 3:8, z2_sd = 0.3)
  M <- sim$M; g <- sim$g; n <- sim$n; X <- sim$X; y <- sim$y; w <- sim$w; off <- sim$off
  checked_dense <- FALSE
  for (cs in lmm_hessian_cases(sim)) for (wt in list(rep(1, n), w)) for (sz in list(NULL, "scaled")) {
    q <- ncol(cs$Z)
    pat <- glmmgee:::block_pattern(cs$sizes)
    k <- length(pat$row)
    # Columns of Z scaled as lmm_scaled_suff() scales them, or not.
    s <- if (is.null(sz)) rep(1, q) else c(2.5, 0.4, 1.7)[seq_len(q)]
    suff <- glmmgee:::cpp_lmm_suff(X, cs$Z / rep(s, each = n), y - off, wt, g, M)
    # Away from the optimum, with non-zero correlations.
    par <- c(ifelse(pat$row == pat$col, 0.8, 0.3) + 0.07 * seq_len(k), log(0.9))
    info <- glmmgee:::cpp_lmm_reml_info(suff, par, s, pat$row - 1L, pat$col - 1L)
    H <- info$hessian
    expect_identical(H, t(H))
    ll <- function(x) glmmgee:::lmm_reml_loglik(suff, pat, x, s, ncol(X))
    Hn <- numDeriv::hessian(function(x) ll(x)$loglik, par)
    expect_lt(max(abs(H - Hn)) / max(abs(Hn)), 1e-6)
    Hj <- numDeriv::jacobian(function(x) ll(x)$gradient, par, method.args = list(r = 6))
    expect_lt(max(abs(H - Hj)) / max(abs(Hj)), 1e-8)
    expect_equal(info$gradient, ll(par)$gradient, tolerance = 1e-10)
    if (!checked_dense && identical(cs$sizes, 3L) && !all(wt == 1) && is.null(sz)) {
      # The criterion the derivatives are taken of, against dense algebra.
      expect_equal(-2 * ll(par)$loglik, dense_reml(par, X, y - off, cs$Z, g, pat, wt),
                   tolerance = 1e-10)
      Hd <- numDeriv::hessian(function(x) -dense_reml(x, X, y - off, cs$Z, g, pat, wt) / 2, par)
      expect_lt(max(abs(H - Hd)) / max(abs(Hd)), 1e-6)
      checked_dense <- TRUE
    }
  }
  expect_true(checked_dense)
})

# The fit's Hessian in its covariance parameters against numerical
# derivatives of the restricted log-likelihood on the user's design.
fit_reml_hessian_check <- function(fit, y, w = NULL, off = NULL) {
  n <- length(y)
  p <- length(fit$coefficients)
  w <- w %||% rep(1, n)
  off <- off %||% rep(0, n)
  keep <- w > 0
  Z <- as.matrix(fit$Z %||% matrix(1, n, 1L))
  suff <- glmmgee:::cpp_lmm_suff(fit$X[keep, , drop = FALSE], Z[keep, , drop = FALSE],
                                 (y - off)[keep], w[keep], fit$group[keep],
                                 length(fit$group_levels))
  idx <- p + seq_len(length(fit$pattern$row) + 1L)
  par <- unname(fit$theta[idx])
  sz <- rep(1, ncol(Z))
  # Richardson-extrapolated differences of the exact gradient (those of the
  # log-likelihood itself lose digits to its size at M = 1,000).
  gr <- function(x) glmmgee:::lmm_reml_loglik(suff, fit$pattern, x, sz, p)$gradient
  Hn <- numDeriv::jacobian(gr, par, method.args = list(r = 6))
  H <- unname(fit$hessian[idx, idx])
  expect_lt(max(abs(H - Hn)) / max(abs(Hn)), 1e-6)
  # The beta block is X'V^-1X, unchanged; the fixed effects' covariance its inverse.
  expect_true(all(fit$hessian[-idx, idx] == 0))
}

test_that("REML fits: sleepstudy, (x || g), weights and offsets; fixed-effect SEs are lmer's", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  for (form in list(Reaction ~ Days + (Days | Subject), Reaction ~ Days + (1 | Subject),
                    Reaction ~ Days + (Days || Subject))) {
    fit <- glmm(form, sleepstudy, REML = TRUE)
    fit_reml_hessian_check(fit, sleepstudy$Reaction)
    ref <- lme4::lmer(form, sleepstudy, REML = TRUE)
    expect_equal(unname(sqrt(diag(vcov(fit))[1:2])), unname(sqrt(diag(as.matrix(vcov(ref))))),
                 tolerance = 1e-5)
    expect_true(all(is.finite(sqrt(diag(vcov(fit))))))
  }
  d <- lmm_weighted_sim(125, 60, 7L, c(4, 90))
  d$y <- 1e3 * d$y
  fit <- glmm(y ~ x + (x | g), d, weights = w, offset = o, REML = TRUE)
  fit_reml_hessian_check(fit, d$y, d$w, d$o)
  # lmer's criterion is -Inf with zero weights: its fit on the other rows.
  ref <- lme4::lmer(y ~ x + (x | g), d[d$w > 0, ], weights = w, offset = o, REML = TRUE)
  expect_equal(unname(sqrt(diag(vcov(fit))[1:2])), unname(sqrt(diag(as.matrix(vcov(ref))))),
               tolerance = 1e-5)
})

test_that("the simulated design of the benchmark (M = 1,000): exact Hessian, SEs against the truth's scale", {
  skip_if_not_installed("numDeriv")
  set.seed(2026)
  Ms <- 1000L
  d <- data.frame(g = rep(seq_len(Ms), each = 10L), x = rnorm(10L * Ms))
  d$y <- 1 + 0.5 * d$x + rep(rnorm(Ms), each = 10L) + rep(rnorm(Ms, 0, 0.5), each = 10L) * d$x +
    rnorm(10L * Ms)
  fit <- glmm(y ~ x + (x | g), d, REML = TRUE)
  fit_reml_hessian_check(fit, d$y)
  # Known truth: Lambda = diag(1, 0.5), sigma = 1, within a few standard errors.
  se <- sqrt(diag(vcov(fit)))
  est <- fit$theta
  truth <- c(1, 0.5, 1, 0, 0.5, 0)
  expect_true(all(abs(est - truth) < 4 * se))
})

test_that("a failing factor gives an NA Hessian, not a crash", {
  set.seed(1)
  M <- 5
  g <- rep(seq_len(M), each = 4)
  X <- cbind(1, rnorm(20))
  suff <- glmmgee:::cpp_lmm_suff(X, X, rnorm(20), rep(1, 20), g, M)
  pat <- glmmgee:::block_pattern(2L)
  info <- glmmgee:::cpp_lmm_reml_info(suff, c(1, 0.2, 0.5, -Inf), c(1, 1), pat$row - 1L, pat$col - 1L)
  expect_true(all(is.na(info$hessian)))
})
