# The several-term gaussian LMM's search (R/fit-lmm-sparse.R) for random
# intercepts: Newton's method on the profiled criterion's exact gradient,
# from Henderson's method-1 moment equations (cpp_lmm_term_moments()).

moment_start_crossed <- function(seed, n = 600, sb = 0.7) {
  set.seed(seed)
  d <- data.frame(a = factor(sample(25, n, TRUE)), b = factor(sample(15, n, TRUE)), x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(25)[d$a] + sb * rnorm(15)[d$b] + rnorm(n)
  d
}

test_that("the moment equations are the quadratic forms' expectations about the mean", {
  d <- moment_start_crossed(1, n = 200)
  d$c <- factor(sample(7, nrow(d), TRUE))
  codes <- list(as.integer(d$a), as.integer(d$b), as.integer(d$c))
  nl <- vapply(codes, max, 1L)
  r <- rnorm(nrow(d))
  eq <- glmmgee:::cpp_lmm_term_moments(codes, nl, r, 2L)
  n <- nrow(d)
  Z <- lapply(seq_along(codes), function(k) outer(codes[[k]], seq_len(nl[k]), `==`) + 0)
  P <- lapply(Z, function(z) z %*% solve(crossprod(z)) %*% t(z))
  C <- diag(n) - matrix(1 / n, n, n)
  K <- length(codes)
  A <- matrix(0, K + 1L, K + 1L)
  for (k in seq_len(K)) {
    for (j in seq_len(K)) A[k, j] <- sum((P[[k]] %*% C %*% Z[[j]])^2)
    A[k, K + 1L] <- sum(diag(C %*% P[[k]] %*% C))
  }
  A[K + 1L, ] <- c(vapply(Z, function(z) sum((C %*% z)^2), 1), n - 2)
  expect_equal(eq$A, A, tolerance = 1e-10)
  expect_equal(eq$b, c(vapply(P, function(p) drop(r %*% p %*% r), 1), sum(r^2)), tolerance = 1e-10)
  expect_error(glmmgee:::cpp_lmm_term_moments(codes, nl[1:2], r, 2L), "one entry per term")
  expect_error(glmmgee:::cpp_lmm_term_moments(list(codes[[1]] + 100L), nl[1], r, 2L), "out of range")
})

test_that("on balanced Penicillin the moment start is lmer's REML optimum", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- diameter ~ 1 + (1 | plate) + (1 | sample)
  ours <- glmm(f, Penicillin, REML = TRUE)
  ref <- lme4::lmer(f, Penicillin, REML = TRUE, control = lme4::lmerControl(
    optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10)))
  expect_match(ours$optinfo$optimizer, "^Newton")
  # A start at the optimum: one Hessian and one confirming step. (lmer to
  # a tight tolerance: at its default, its SDs are 3e-5 relative off.)
  expect_lte(ours$optinfo$evaluations, 4L)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-10)
  expect_equal(as.data.frame(VarCorr(ours))$sdcor, as.data.frame(lme4::VarCorr(ref))$sdcor,
               tolerance = 1e-6)
})

test_that("crossed and nested random intercepts: lmer's optimum in few evaluations", {
  skip_if_not_installed("lme4")
  for (seed in 1:3) for (reml in c(TRUE, FALSE)) {
    info <- sprintf("seed %d, REML = %s", seed, reml)
    d <- moment_start_crossed(seed)
    d$g <- factor(sample(30, nrow(d), TRUE))
    d$h <- factor(sample(6, nrow(d), TRUE))
    d$y2 <- 1 + 0.5 * d$x + rnorm(30)[d$g] +
      0.6 * rnorm(30 * 6)[(as.integer(d$g) - 1) * 6 + as.integer(d$h)] + rnorm(nrow(d))
    for (f in list(y ~ x + (1 | a) + (1 | b), y2 ~ x + (1 | g/h))) {
      ours <- expect_silent(glmm(f, d, REML = reml))
      ref <- lme4::lmer(f, d, REML = reml, control = lme4::lmerControl(
        optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10)))
      expect_match(ours$optinfo$optimizer, "^Newton", info = info)
      expect_lte(ours$optinfo$evaluations, 25L)
      expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-9, label = info)
      expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-8, info = info)
      expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 1e-6, info = info)
      vf <- ours$optinfo$verification
      expect_true(vf$converged && vf$hessian_pd, info = info)
      expect_lt(vf$nstep, 1e-7)
      expect_identical(ours$optinfo$convergence, 0L)
      # the standard errors agree with lmer's
      expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(as.matrix(vcov(ref))))),
                   tolerance = 1e-5, info = info)
    }
  }
})

test_that("a variance at zero, a given start, slopes: nlminb's search as before", {
  skip_if_not_installed("lme4")
  singular <- 0L
  for (seed in 1:6) {
    d <- moment_start_crossed(seed, n = 400, sb = 0)
    for (reml in c(TRUE, FALSE)) {
      ours <- suppressWarnings(glmm(y ~ x + (1 | a) + (1 | b), d, REML = reml))
      ref <- suppressMessages(lme4::lmer(y ~ x + (1 | a) + (1 | b), d, REML = reml))
      expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6)
      if (ours$singular) {
        singular <- singular + 1L
        expect_match(ours$optinfo$optimizer, "^nlminb")
        expect_true(any(grepl("singular", ours$optinfo$warnings)))
      }
    }
  }
  expect_gt(singular, 0L)
  d <- moment_start_crossed(4)
  fit0 <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE)
  fit1 <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE, start = unname(fit0$theta))
  expect_match(fit1$optinfo$optimizer, "^nlminb")
  expect_equal(as.numeric(logLik(fit1)), as.numeric(logLik(fit0)), tolerance = 1e-10)
  d$y <- d$y + d$x * rnorm(25)[d$a]
  expect_match(glmm(y ~ x + (x | a) + (1 | b), d)$optinfo$optimizer, "^nlminb")
})

test_that("the Newton search keeps to eval.max", {
  d <- moment_start_crossed(5)
  fit <- suppressWarnings(glmm(y ~ x + (1 | a) + (1 | b), d, control = glmm_control(eval.max = 5)))
  expect_match(fit$optinfo$optimizer, "^nlminb")
})
