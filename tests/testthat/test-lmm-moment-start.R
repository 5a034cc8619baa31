# The one-factor LMM search from the moment start, the column moments in C++
# and the response scale by .lm.fit().

sim_xg <- function(seed, M = 300L, m = 8L, sd2 = 0.5) {
  set.seed(seed)
  d <- data.frame(g = rep(seq_len(M), each = m), x = rnorm(m * M))
  d$y <- 1 + 0.5 * d$x + rep(rnorm(M), each = m) + rep(rnorm(M, 0, sd2), each = m) * d$x +
    rnorm(m * M)
  d
}

test_that("the moment start is near the optimum and the search ends at lmer's", {
  skip_if_not_installed("lme4")
  d <- sim_xg(11)
  X <- cbind(1, d$x)
  cl <- glmmgee:::cluster_index(d$g, "group")
  pat <- glmmgee:::block_pattern(2L)
  sc <- glmmgee:::lmm_scaled_suff(X, d$y, X, rep(1, nrow(d)), rep(0, nrow(d)), cl$index,
                                  length(cl$levels), rep(TRUE, nrow(d)))
  st <- glmmgee:::cpp_lmm_moment_start(sc$suff, pat$row - 1L, pat$col - 1L)
  expect_length(st, 3L)
  for (reml in c(TRUE, FALSE)) {
    m <- lme4::lmer(y ~ x + (x | g), d, REML = reml)
    # lmer's theta on Z's columns divided by their root mean squares `sz`.
    th <- lme4::getME(m, "theta") * sc$sz[pat$row]
    expect_lt(max(abs(st - th)), 0.15)
    bd <- pat$row == pat$col
    r1 <- glmmgee:::cpp_lmm_search(sc$suff, st, bd, pat$row - 1L, pat$col - 1L, reml, 100L,
                                   1e-14, TRUE)
    r0 <- glmmgee:::cpp_lmm_search(sc$suff, as.numeric(bd), bd, pat$row - 1L, pat$col - 1L,
                                   reml, 100L, 1e-14)
    expect_equal(r1$convergence, 0L)
    expect_lt(r1$evaluations[[1L]], r0$evaluations[[1L]])
    # The same optimum: the criterion to its rounding, theta to the
    # identity start's tolerance, and no larger gradient than 1e-6.
    expect_equal(r1$objective, r0$objective, tolerance = 1e-12)
    expect_equal(r1$par, r0$par, tolerance = 1e-5)
    expect_lt(max(abs(r1$gradient)), 1e-6)
    crit <- if (reml) lme4::REMLcrit(m) else deviance(m)
    expect_lte(r1$objective, crit + 1e-7)
    f <- glmm(y ~ x + (x | g), d, REML = reml)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(m)), tolerance = 1e-9)
    expect_equal(unname(fixef(f)), unname(lme4::fixef(m)), tolerance = 1e-6)
    # lmer's own search (bobyqa) stops about 1e-5 (relative) short in D
    # here, at a criterion no lower than ours (checked above).
    expect_equal(as.vector(f$D), as.vector(lme4::VarCorr(m)$g), tolerance = 1e-4)
    expect_match(f$optinfo$optimizer, "Newton")
  }
})

test_that("no moment start where clusters cannot give one: the identity start's path", {
  # One observation per cluster and q = 2: every S_i is singular.
  set.seed(3)
  X <- cbind(1, rnorm(40))
  suff <- glmmgee:::cpp_lmm_suff(X, X, rnorm(40), rep(1, 40), seq_len(40), 40L)
  pat <- glmmgee:::block_pattern(2L)
  expect_length(glmmgee:::cpp_lmm_moment_start(suff, pat$row - 1L, pat$col - 1L), 0L)
  # Without between-cluster variation beyond the residual's: D is not
  # positive, no start either.
  set.seed(4)
  g <- rep(1:50, each = 6)
  x <- rnorm(300)
  X <- cbind(1, x)
  suff <- glmmgee:::cpp_lmm_suff(X, X, 1 + x + rnorm(300), rep(1, 300), g, 50L)
  st <- glmmgee:::cpp_lmm_moment_start(suff, pat$row - 1L, pat$col - 1L)
  # Either no start, or one whose diagonal is clear of the bound.
  expect_true(length(st) == 0L || all(st[pat$row == pat$col] > 1e-3))
  # The pattern must be a lower triangle.
  expect_error(glmmgee:::cpp_lmm_moment_start(suff, 0L, 1L), "lower triangle")
})

test_that("fits do not depend on the response's units, and agree with lmer with weights and offsets", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  ss <- sleepstudy
  set.seed(5)
  ss$w <- runif(180, 0.5, 2)
  ss$o <- rnorm(180, 0, 5)
  for (reml in c(FALSE, TRUE)) {
    f1 <- glmm(Reaction ~ Days + (Days | Subject), ss, REML = reml)
    f2 <- glmm(I(Reaction * 1e6) ~ Days + (Days | Subject), ss, REML = reml)
    expect_equal(unname(fixef(f2)) / 1e6, unname(fixef(f1)), tolerance = 1e-10)
    expect_equal(sigma(f2) / 1e6, sigma(f1), tolerance = 1e-8)
    expect_equal(unname(f2$D) / 1e12, unname(f1$D), tolerance = 1e-7)
    fw <- glmm(Reaction ~ Days + (Days | Subject), ss, weights = w, offset = o, REML = reml)
    mw <- lme4::lmer(Reaction ~ Days + (Days | Subject), ss, weights = w, offset = o, REML = reml)
    expect_gte(as.numeric(logLik(fw)), as.numeric(logLik(mw)) - 1e-8)
    expect_equal(unname(fixef(fw)), unname(lme4::fixef(mw)), tolerance = 1e-6)
  }
})

test_that("column moments are bitwise R's colMeans() and mean() expressions", {
  set.seed(6)
  ref <- function(M) {
    mn <- colMeans(M)
    Xc <- M - rep(mn, each = nrow(M))
    list(mean = mn, sd_cm = sqrt(colMeans(Xc * Xc)),
         sd_mean = vapply(seq_len(ncol(M)), function(j) sqrt(mean((M[, j] - mn[j])^2)), 1),
         rms = vapply(seq_len(ncol(M)), function(j) sqrt(mean(M[, j]^2)), 1))
  }
  for (i in 1:60) {
    n <- sample(c(2:12, 180, 5000), 1)
    k <- sample(1:3, 1)
    M <- cbind(1, matrix(rnorm(n * k) * 10^runif(1, -8, 8) + sample(c(0, -5, 1e4), 1), n, k))
    cm <- glmmgee:::cpp_col_moments(M)
    expect_identical(cm[c("mean", "sd_cm", "sd_mean", "rms")], ref(M))
    expect_true(cm$finite)
  }
  # Overflowing squares: the R expressions, the same values.
  M <- cbind(1, c(1e200, -1e200, 3))
  expect_identical(glmmgee:::col_moments(M)[c("mean", "sd_cm", "sd_mean", "rms")], ref(M))
  # The design scales design_transform() takes from them, as from Z itself.
  Z <- cbind(1, rnorm(50) * 3 + 2, runif(50))
  expect_identical(glmmgee:::design_transform(NULL, blocks = 3L, scale_only = TRUE,
                                              mom = glmmgee:::z_moments(Z))$scale,
                   glmmgee:::design_transform(Z, blocks = 3L, scale_only = TRUE)$scale)
  expect_identical(glmmgee:::design_transform(NULL, blocks = c(1L, 2L), scale_only = TRUE,
                                              mom = glmmgee:::z_moments(Z))$scale,
                   glmmgee:::design_transform(Z, blocks = c(1L, 2L), scale_only = TRUE)$scale)
})

test_that("the response scale is lm.wfit()'s residual standard deviation, bitwise", {
  set.seed(7)
  n <- 200
  X <- cbind(1, rnorm(n), runif(n))
  y <- drop(X %*% c(1, 2, 3)) + rnorm(n) * 4
  w <- runif(n, 0.2, 3)
  w0 <- w
  w0[1:10] <- 0
  o <- rnorm(n)
  ref <- function(w, o) {
    ww <- if (is.null(w)) rep(1, n) else w
    pos <- ww > 0
    yo <- if (is.null(o)) y else y - o
    fit <- stats::lm.wfit(X[pos, , drop = FALSE], yo[pos], ww[pos])
    signif(sqrt(sum(ww[pos] * fit$residuals^2) / (sum(pos) - fit$rank)), 10)
  }
  for (ww in list(NULL, rep(1, n), w, w0)) for (oo in list(NULL, o)) {
    s <- glmmgee:::response_scale(X, y, ww, oo, gaussian(), rank = TRUE)
    expect_identical(as.vector(s), ref(ww, oo))
    # The rank is passed on only for a QR of X itself.
    expect_identical(isTRUE(attr(s, "full_rank")), is.null(ww) || all(ww == 1))
  }
  # A rank-deficient X: no rank passed on, and glmm() says which column.
  Xd <- cbind(X, X[, 2] * 2)
  expect_false(isTRUE(attr(glmmgee:::response_scale(Xd, y, NULL, NULL, gaussian(), rank = TRUE),
                           "full_rank")))
  d <- data.frame(y = y, x1 = X[, 2], x2 = 2 * X[, 2], g = rep(1:20, each = 10))
  expect_error(glmm(y ~ x1 + x2 + (1 | g), d), "rank deficient")
})

test_that("bad weights and offsets still give the same errors", {
  data(sleepstudy, package = "lme4")
  ss <- sleepstudy
  ss$w <- 1
  ss$w[3] <- -1
  expect_error(glmm(Reaction ~ Days + (1 | Subject), ss, weights = w), "non-negative")
  ss$w[3] <- Inf
  expect_error(glmm(Reaction ~ Days + (1 | Subject), ss, weights = w), "infinite")
  ss$w[3] <- 1
  ss$o <- 0
  ss$o[4] <- Inf
  expect_error(glmm(Reaction ~ Days + (1 | Subject), ss, offset = o), "infinite")
  ss$R <- ss$Reaction
  ss$R[5] <- Inf
  expect_error(glmm(R ~ Days + (1 | Subject), ss), "infinite")
})

test_that("a moment start worse than the identity gives way to it: the identity's search step for step", {
  data(sleepstudy, package = "lme4")
  set.seed(11)
  w <- runif(180, 0.5, 2)
  w[1:7] <- 0   # subject 308 keeps days 7-9 only: its slope barely identified
  X <- cbind(1, sleepstudy$Days)
  cl <- glmmgee:::cluster_index(sleepstudy$Subject, "group")
  pat <- glmmgee:::block_pattern(2L)
  sc <- glmmgee:::lmm_scaled_suff(X, sleepstudy$Reaction / 50, X, w, rep(0, 180), cl$index, 18L,
                                  w > 0)
  st <- glmmgee:::cpp_lmm_moment_start(sc$suff, pat$row - 1L, pat$col - 1L)
  id <- c(1, 0, 1)
  bd <- pat$row == pat$col
  for (reml in c(FALSE, TRUE)) {
    ev <- function(th) glmmgee:::cpp_lmm_eval(sc$suff, th, pat$row - 1L, pat$col - 1L, reml,
                                              FALSE)$deviance
    expect_gt(ev(st), ev(id))
    r <- glmmgee:::cpp_lmm_search(sc$suff, st, bd, pat$row - 1L, pat$col - 1L, reml, 100L, 1e-14,
                                  TRUE, id)
    r0 <- glmmgee:::cpp_lmm_search(sc$suff, id, bd, pat$row - 1L, pat$col - 1L, reml, 100L, 1e-14)
    expect_identical(r$par, r0$par)
    expect_identical(r$objective, r0$objective)
    expect_identical(r$evaluations, r0$evaluations + 1L)
  }
  expect_error(glmmgee:::cpp_lmm_search(sc$suff, st, bd, pat$row - 1L, pat$col - 1L, TRUE, 100L,
                                        1e-14, TRUE, c(1, 0)), "'alt'")
})
