# Structured random-effect terms (diag(), homdiag(), ...) beside other
# terms, with a covariate in units far from 1: the sparse Laplace and
# profiled LMM routes fit them on rescaled columns and map back exactly
# (covstruct-scale-z.R). diag() is closed under a per-column scale, so the
# fit on Days * a is the fit on Days with log(sd(slope)) shifted by -log(a);
# homdiag() only under one scale for all its columns.

column_scale_data <- function() {
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  d$h <- factor(rep(1:5, length.out = nrow(d)))
  d
}

# The structure's parameters of fit `f` on Days * a against glmmTMB's
# theta on Days (log standard deviations), with their standard errors where
# glmmTMB gives them (from 1.1.10 on none where its Hessian is not
# positive definite: here (1 | h)'s variance is at 0).
column_scale_vs_tmb <- function(f, t1, shift, tol = 2e-5) {
  ps <- f$structures[[1]]$parameters
  expect_equal(unname(ps), unname(glmmTMB::getME(t1, "theta")[seq_along(ps)]) + shift,
               tolerance = tol)
  se_t <- suppressWarnings(sqrt(diag(vcov(t1, full = TRUE))))
  se_t <- se_t[grep("^theta_", names(se_t))][seq_along(ps)]
  if (all(is.finite(se_t))) expect_equal(unname(f$structures[[1]]$se), unname(se_t), tolerance = 1e-4)
  else expect_true(all(is.finite(f$structures[[1]]$se)))
}

test_that("diag(Days * a | Subject) + (1 | h): REML and ML equal glmmTMB on Days for any a", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  d <- column_scale_data()
  for (reml in c(TRUE, FALSE)) {
    t1 <- suppressWarnings(glmmTMB::glmmTMB(Reaction ~ Days + diag(Days | Subject) + (1 | h), d,
                                            REML = reml))
    fits <- list()
    # Days * 50 and Days * 1e-6 stopped 21 below the REML optimum (the
    # slope's variance at its boundary, "singular fit"); ML with Days * 1e3
    # 21 below, and with Days * 1e-6 it warned "doubtful convergence".
    for (a in c(50, 1e3, 1e-6)) {
      d$Dx <- d$Days * a
      f <- suppressWarnings(glmm(Reaction ~ Dx + diag(Dx | Subject) + (1 | h), d, REML = reml))
      expect_false(is.null(f$optinfo$scaled_z))
      expect_false(any(grepl("convergence|Hessian", f$optinfo$warnings)))
      shift <- if (reml) -log(a) else 0
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(t1)) + shift, tolerance = 1e-8)
      column_scale_vs_tmb(f, t1, c(0, -log(a)))
      expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(t1)$cond) * c(1, 1 / a),
                   tolerance = 1e-5)
      se_t1 <- suppressWarnings(unname(sqrt(diag(vcov(t1)$cond))))
      if (all(is.finite(se_t1)))
        expect_equal(unname(sqrt(diag(vcov(f)))), se_t1 * c(1, 1 / a), tolerance = 1e-4)
      # Lambda's entries, D and the random effects in the units of Dx.
      vc <- VarCorr(f)$Subject
      expect_equal(sqrt(diag(unclass(vc)))[[2L]],
                   attr(glmmTMB::VarCorr(t1)$cond$Subject, "stddev")[[2L]] / a, tolerance = 2e-5)
      re <- glmmTMB::ranef(t1)$cond$Subject
      expect_equal(unname(as.matrix(ranef(f)$Subject)),
                   unname(as.matrix(re)) %*% diag(c(1, 1 / a)), tolerance = 1e-4)
      fits[[length(fits) + 1L]] <- f
    }
    # The rescaled design is the same for every a: the fits agree to
    # rounding, mapped.
    expect_equal(fits[[3L]]$structures[[1]]$parameters + c(0, log(1e-6)),
                 fits[[2L]]$structures[[1]]$parameters + c(0, log(1e3)), tolerance = 1e-9)
    expect_identical(fits[[3L]]$optinfo$warnings, fits[[2L]]$optinfo$warnings)
  }
})

test_that("a Poisson diag() term with Days * 1e3 is the fit on Days (sparse Laplace)", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  d <- column_scale_data()
  set.seed(2727)
  d$y <- rpois(nrow(d), exp(1 + 0.1 * d$Days + rnorm(18, sd = 0.3)[d$Subject] +
                             rnorm(18, sd = 0.05)[d$Subject] * d$Days + rnorm(5, sd = 0.2)[d$h]))
  t1 <- glmmTMB::glmmTMB(y ~ Days + diag(Days | Subject) + (1 | h), d, family = poisson)
  for (a in c(1e3, 1e-6)) {
    # It ended 5.2 below the optimum ("singular fit"; with 1e-6 "doubtful
    # convergence" and no standard errors).
    d$Dx <- d$Days * a
    f <- glmm(y ~ Dx + diag(Dx | Subject) + (1 | h), d, family = poisson)
    expect_length(f$optinfo$warnings, 0L)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(t1)), tolerance = 1e-7)
    column_scale_vs_tmb(f, t1, c(0, -log(a)), tol = 1e-4)
    expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(t1)$cond))) * c(1, 1 / a),
                 tolerance = 1e-3)
  }
})

test_that("homdiag() with both columns in the same far units: one scale, the fit on the originals", {
  # glmmTMB 1.1.5 has no homdiag(): the reference is the fit on a and b
  # (root mean square near 1, run on the user's Z).
  set.seed(2728)
  d <- expand.grid(g = factor(1:40), r = 1:6)
  d$h <- factor(sample(8, nrow(d), replace = TRUE))
  d$a <- rnorm(nrow(d))
  d$b <- rnorm(nrow(d))
  d$y <- 1 + d$a + rnorm(40, sd = 0.6)[d$g] * d$a + rnorm(40, sd = 0.6)[d$g] * d$b +
    rnorm(8, sd = 0.5)[d$h] + rnorm(nrow(d))
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(y ~ a + homdiag(0 + a + b | g) + (1 | h), d, REML = reml)
    expect_null(f1$optinfo$scaled_z)
    for (k in c(1e4, 1e-5)) {
      d$a2 <- d$a * k
      d$b2 <- d$b * k
      f <- glmm(y ~ a2 + homdiag(0 + a2 + b2 | g) + (1 | h), d, REML = reml)
      expect_false(is.null(f$optinfo$scaled_z))
      expect_identical(f$optinfo$warnings, f1$optinfo$warnings)
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f1)) - if (reml) log(k) else 0,
                   tolerance = 1e-9)
      expect_equal(f$structures[[1]]$parameters, f1$structures[[1]]$parameters - log(k),
                   tolerance = 1e-5)
      expect_equal(f$structures[[1]]$se, f1$structures[[1]]$se, tolerance = 1e-4)
      expect_equal(unname(as.matrix(ranef(f)$g)), unname(as.matrix(ranef(f1)$g)) / k,
                   tolerance = 1e-4)
      expect_equal(sigma(f), sigma(f1), tolerance = 1e-6)
    }
  }
})

test_that("structured terms in units near 1 run on the user's Z", {
  d <- column_scale_data()
  f <- suppressWarnings(glmm(Reaction ~ Days + diag(Days | Subject) + (1 | h), d, REML = TRUE))
  expect_null(f$optinfo$scaled_z)
  d$Dx <- d$Days * 10
  f <- suppressWarnings(glmm(Reaction ~ Dx + diag(Dx | Subject) + (1 | h), d, REML = TRUE))
  expect_null(f$optinfo$scaled_z)
})

# An unstructured term with a random slope far from zero beside a
# structured term: fitted on the centred design and mapped back
# (covstruct_uncentre_z()), as on the unstructured routes.
test_that("(x * 1e-6 - 5 | a) + homdiag(1 | b): REML and ML are lmer's optimum on x, mapped", {
  skip_if_not_installed("lme4")
  d <- far_slope_crossed(2731)
  Tm <- matrix(c(1, 0, 5 / 1e-6, 1 / 1e-6), 2, 2)
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(y ~ x + (x | a) + homdiag(1 | b), d, REML = reml)
    f2 <- glmm(y ~ x2 + (x2 | a) + homdiag(1 | b), d, REML = reml)
    l1 <- lme4::lmer(y ~ x + (x | a) + (1 | b), d, REML = reml)
    expect_null(f1$optinfo$centred_z)
    expect_true(isTRUE(f2$optinfo$centred_z))
    expect_length(f2$optinfo$warnings, 0L)
    expect_identical(f2$optinfo$warnings, f1$optinfo$warnings)
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(l1)) + if (reml) log(1e6) else 0,
                 tolerance = 1e-9)
    # The estimates: the fit on x mapped (this route's criterion is flat at
    # the optimum: lmer's variances are 6e-5 relative from either).
    expect_equal(unname(fixef(f1)), unname(lme4::fixef(l1)), tolerance = 1e-5)
    expect_equal(unname(fixef(f2)), unname(drop(Tm %*% fixef(f1))), tolerance = 1e-5)
    expect_equal(unname(vcov(f2)), unname(Tm %*% vcov(f1) %*% t(Tm)), tolerance = 1e-5)
    Va <- unclass(VarCorr(f2))$a[1:2, 1:2]
    expect_equal(unname(Va), unname(Tm %*% unclass(VarCorr(f1))$a[1:2, 1:2] %*% t(Tm)),
                 tolerance = 1e-5)
    expect_equal(unname(as.matrix(ranef(f2)$a)), unname(as.matrix(ranef(f1)$a) %*% t(Tm)),
                 tolerance = 1e-5)
    expect_equal(unname(fitted(f2)), unname(fitted(f1)), tolerance = 1e-5)
    expect_equal(sigma(f2), sigma(f1), tolerance = 1e-5)
    # The structures' parameters are Lambda's entries: the same numbers.
    k <- grep("^us\\(", names(f2$theta_structure))
    expect_equal(unname(f2$theta_structure[k]), unname(f2$theta[k]))
    # Standard errors of the slope's sd, mapped by the exact Jacobian, against
    # the fit on x (same route).
    sd_of <- function(f, a) {
      lam <- f$theta[k]
      V <- f$cov_theta[k, k]
      s <- sqrt(lam[2]^2 + lam[3]^2)
      g <- c(0, lam[2], lam[3]) / s
      unname(c(s, sqrt(drop(t(g) %*% V %*% g))) / a)
    }
    expect_equal(sd_of(f2, 1), sd_of(f1, 1e-6), tolerance = 1e-4)
  }
})

test_that("a Poisson (x * 1e-6 - 5 | a) + homdiag(1 | b) is the fit on x, mapped (sparse Laplace)", {
  d <- far_slope_crossed(2735, "poisson")
  Tm <- matrix(c(1, 0, 5 / 1e-6, 1 / 1e-6), 2, 2)
  f1 <- glmm(y ~ x + (x | a) + homdiag(1 | b), d, family = poisson)
  f2 <- glmm(y ~ x2 + (x2 | a) + homdiag(1 | b), d, family = poisson)
  expect_false(f1$singular)
  expect_far_slope_mapped(f2, f1, Tm)
  expect_equal(unname(unclass(VarCorr(f2))$a[1:2, 1:2]),
               unname(Tm %*% unclass(VarCorr(f1))$a[1:2, 1:2] %*% t(Tm)), tolerance = 1e-5)
  expect_equal(unname(as.matrix(ranef(f2)$a)), unname(as.matrix(ranef(f1)$a) %*% t(Tm)),
               tolerance = 1e-4)
  expect_equal(f2$structures[[2]]$sd, f1$structures[[2]]$sd, tolerance = 1e-5)
})

test_that("a slope 10 to 100 standard deviations from zero is centred on the LMM routes", {
  skip_if_not_installed("lme4")
  # Main centred from 100: at 80 sd REML stopped 0.57 below the optimum
  # ("did not report convergence", 526 evaluations), at 30-50 ML took
  # 234-451 evaluations.
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  set.seed(3)
  d$h2 <- factor(sample(6, nrow(d), TRUE))
  for (k in c(12, 80)) {
    a <- k * sd(d$Days)
    d$Dc <- d$Days + a
    for (reml in c(TRUE, FALSE)) {
      l1 <- suppressMessages(lme4::lmer(Reaction ~ Days + (Days | Subject) + (1 | h2), d,
                                        REML = reml))
      f2 <- suppressWarnings(glmm(Reaction ~ Dc + (Dc | Subject) + (1 | h2), d, REML = reml))
      expect_true(isTRUE(f2$optinfo$centred_z))
      expect_false(any(grepl("convergence", f2$optinfo$warnings)))
      expect_gt(as.numeric(logLik(f2)), as.numeric(logLik(l1)) - 1e-7)
      expect_lt(f2$optinfo$evaluations, 150)
      f1 <- glmm(Reaction ~ Dc + (Dc | Subject), d, REML = reml)
      l2 <- lme4::lmer(Reaction ~ Days + (Days | Subject), d, REML = reml)
      expect_true(isTRUE(f1$optinfo$centred_z))
      expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(l2)), tolerance = 1e-9)
      Tm <- matrix(c(1, 0, -a, 1), 2, 2)
      expect_equal(unname(unclass(VarCorr(f1))$Subject[1:2, 1:2]),
                   unname(Tm %*% unclass(lme4::VarCorr(l2))$Subject[1:2, 1:2] %*% t(Tm)),
                   tolerance = 1e-4)
    }
  }
})

test_that("a far-off slope at a correlation of -1 is the fit on x mapped, on its face", {
  skip_if_not_installed("lme4")
  set.seed(5)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  d$y <- 1 + 0.5 * d$x + rnorm(30)[d$a] + rnorm(12, sd = 0.7)[d$b] + rnorm(nrow(d))
  for (ac in list(c(1e-6, -5), c(1e3, 4e5))) {
    d$x2 <- d$x * ac[1] + ac[2]
    Tm <- matrix(c(1, 0, -ac[2] / ac[1], 1 / ac[1]), 2, 2)
    for (reml in c(TRUE, FALSE)) {
      f1 <- suppressWarnings(glmm(y ~ x + (x | a) + (1 | b), d, REML = reml))
      f2 <- suppressWarnings(glmm(y ~ x2 + (x2 | a) + (1 | b), d, REML = reml))
      expect_true(f1$singular)
      expect_identical(unname(f2$on_boundary), unname(f1$on_boundary))
      expect_far_slope_mapped(f2, f1, Tm, shift = if (reml) -log(abs(ac[1])) else 0,
                              tol_ll = 1e-10, tol_vcov = 1e-5)
      # At a correlation of -1 the log-likelihood is flat along the far-off
      # slope's SD: a relative change of 1.4e-5 in it moves the value by 2e-10
      # (measured), so the optimum is located to about 1e-5 and the last
      # digits of the arithmetic (Eigen's blocking of products by cache size)
      # move it that much. The value is held to 1e-10 above; the parameters
      # to 1e-4, a small fraction of their standard errors.
      expect_equal(unname(unclass(VarCorr(f2))$a[1:2, 1:2]),
                   unname(Tm %*% unclass(VarCorr(f1))$a[1:2, 1:2] %*% t(Tm)), tolerance = 1e-4)
      expect_equal(unname(as.matrix(ranef(f2)$a)), unname(as.matrix(ranef(f1)$a) %*% t(Tm)),
                   tolerance = 1e-4)
      expect_equal(unname(fitted(f2)), unname(fitted(f1)), tolerance = 1e-6)
      # Standard errors of the free entries: the intercept's sd at x = 0 and
      # sigma.
      expect_equal(f2$cov_theta["log(sigma)", "log(sigma)"],
                   f1$cov_theta["log(sigma)", "log(sigma)"], tolerance = 1e-4)
      k <- grep("^a\\.", names(f2$theta))
      expect_equal(sum(is.na(diag(f2$cov_theta)[k])), sum(is.na(diag(f1$cov_theta)[k])))
      # Lambda's first column maps by Tm (up to its sign), and so does its
      # covariance.
      s <- sign(f2$theta[k[1L]]) * sign(drop(Tm %*% f1$theta[k[1:2]])[1L])
      expect_equal(unname(f2$theta[k[1:2]]), s * unname(drop(Tm %*% f1$theta[k[1:2]])),
                   tolerance = 1e-4)
      expect_equal(unname(f2$cov_theta[k[1:2], k[1:2]]),
                   unname(Tm %*% f1$cov_theta[k[1:2], k[1:2]] %*% t(Tm)), tolerance = 1e-4)
    }
  }
})

test_that("us(x | g), as documented, is the unstructured term", {
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  d$h <- factor(rep(1:5, length.out = nrow(d)))
  # It failed: "could not find function us".
  f1 <- glmm(Reaction ~ Days + us(Days | Subject), d)
  f0 <- glmm(Reaction ~ Days + (Days | Subject), d)
  expect_identical(logLik(f1), logLik(f0))
  expect_identical(coef(f1), coef(f0))
  g1 <- suppressWarnings(glmm(Reaction ~ Days + us(Days | Subject) + homdiag(1 | h), d,
                              REML = TRUE))
  g0 <- suppressWarnings(glmm(Reaction ~ Days + (Days | Subject) + homdiag(1 | h), d,
                              REML = TRUE))
  expect_identical(logLik(g1), logLik(g0))
  expect_identical(g1$theta, g0$theta)
})

test_that("diag(Days * a | Subject) alone (one-factor structured route) is the fit on Days", {
  skip_if_not_installed("glmmTMB")
  d <- column_scale_data()
  t1 <- glmmTMB::glmmTMB(Reaction ~ Days + diag(Days | Subject), d)
  f1 <- glmm(Reaction ~ Days + diag(Days | Subject), d)
  expect_null(f1$optinfo$scaled_z)
  for (a in c(50, 1e-6)) {
    # ML ended 21 below the optimum ("singular fit"; with 1e-6 "doubtful
    # convergence" and no standard errors).
    d$Dx <- d$Days * a
    f <- glmm(Reaction ~ Dx + diag(Dx | Subject), d)
    expect_false(is.null(f$optinfo$scaled_z))
    expect_identical(f$optinfo$warnings, f1$optinfo$warnings)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(t1)), tolerance = 1e-9)
    column_scale_vs_tmb(f, t1, c(0, -log(a)))
    expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(t1)$cond))) * c(1, 1 / a),
                 tolerance = 1e-4)
    expect_equal(unname(as.matrix(ranef(f)$Subject)),
                 unname(as.matrix(ranef(f1)$Subject)) %*% diag(c(1, 1 / a)), tolerance = 1e-4)
    expect_equal(matrix(unclass(VarCorr(f))$Subject, 2L),
                 diag(c(1, 1 / a)) %*% matrix(unclass(VarCorr(f1))$Subject, 2L) %*% diag(c(1, 1 / a)),
                 tolerance = 1e-5)
  }
  # Poisson, by adaptive quadrature.
  set.seed(2729)
  d$y <- rpois(nrow(d), exp(1 + 0.1 * d$Days + rnorm(18, sd = 0.3)[d$Subject] +
                             rnorm(18, sd = 0.05)[d$Subject] * d$Days))
  p1 <- glmm(y ~ Days + diag(Days | Subject), d, family = poisson, nAGQ = 3)
  d$Dx <- d$Days * 1e3
  p2 <- glmm(y ~ Dx + diag(Dx | Subject), d, family = poisson, nAGQ = 3)
  expect_identical(p2$optinfo$warnings, p1$optinfo$warnings)
  expect_equal(as.numeric(logLik(p2)), as.numeric(logLik(p1)), tolerance = 1e-9)
  expect_equal(unname(p2$structures[[1]]$parameters),
               unname(p1$structures[[1]]$parameters) - c(0, log(1e3)), tolerance = 1e-5)
  expect_equal(unname(p2$structures[[1]]$se), unname(p1$structures[[1]]$se), tolerance = 1e-4)
})

test_that("a one-column unstructured slope beside a structure is fitted on its rescaled column", {
  # (0 + x2 | g) beside ar1(): with x2 in 1e-4 units the slope's Lambda
  # entry stayed at its start, 14 log-likelihood units short, with only a
  # doubtful-convergence warning. It is now searched on x2's rescaled
  # column and its Lambda entry, covariance, gradient and modes mapped back.
  set.seed(21)
  d <- expand.grid(time = factor(1:4), b = factor(1:3), a = factor(1:12))
  g <- interaction(d$a, d$b, drop = TRUE)
  d$x <- rnorm(nrow(d))
  d$x2 <- rnorm(nrow(d))
  D <- 0.5 * 0.7^abs(outer(1:4, 1:4, "-"))
  U <- matrix(rnorm(36 * 4), 36) %*% chol(D)
  d$y <- rpois(nrow(d), exp(0.3 + 0.5 * d$x + 0.6 * rnorm(12)[d$a] +
                              U[cbind(as.integer(g), as.integer(d$time))] +
                              0.6 * rnorm(36)[g] * d$x2))
  f <- y ~ x + (1 | a) + ar1(0 + time | a:b) + (0 + x2 | a:b)
  f1 <- suppressWarnings(glmm(f, data = d, family = poisson))
  dd <- d
  dd$x2 <- d$x2 * 1e-4
  f2 <- suppressWarnings(glmm(f, data = dd, family = poisson))
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)), tolerance = 1e-8)
  expect_length(f2$optinfo$warnings, length(f1$optinfo$warnings))
  expect_equal(fixef(f2), fixef(f1), tolerance = 1e-6)
  expect_equal(sqrt(diag(vcov(f2))), sqrt(diag(vcov(f1))), tolerance = 1e-5)
  k <- length(f1$theta_structure)
  expect_equal(unname(f2$theta_structure[k]) * 1e-4, unname(f1$theta_structure[k]),
               tolerance = 1e-6)
  expect_equal(f2$cov_structure[k, k] * 1e-8, f1$cov_structure[k, k], tolerance = 1e-4)
  expect_equal(ranef(f2)[["a:b"]][, "x2"] * 1e-4, ranef(f1)[["a:b"]][, "x2"], tolerance = 1e-5)
  # `start` in the user's units, and quadrature on the same rescaled column
  g2 <- suppressWarnings(glmm(f, data = dd, family = poisson, start = f2$theta_structure))
  expect_equal(as.numeric(logLik(g2)), as.numeric(logLik(f1)), tolerance = 1e-8)
  # a slope in 0.01 units is not "estimated at 69": the size is judged per
  # root mean square of the column, as on the unstructured routes
  d3 <- d
  d3$x2 <- d$x2 * 0.01
  w <- character()
  withCallingHandlers(glmm(f, data = d3, family = poisson),
                      warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("no finite", w)))
  q1 <- glmm(f, data = d, family = poisson, nAGQ = 3)
  q2 <- glmm(f, data = dd, family = poisson, nAGQ = 3)
  expect_equal(as.numeric(logLik(q2)), as.numeric(logLik(q1)), tolerance = 1e-8)
  expect_true(q2$optinfo$converged)
})
