# The exact Hessian of the several-term LMM's profiled criterion
# (src/engines/lmm/lmm-sparse-hessian.cpp): against numDeriv's Richardson extrapolation,
# in the Newton search and for the standard errors of the covariance
# parameters, and the fits against lmer and glmmTMB.

sparse_hessian_data <- function() {
  set.seed(35)
  n <- 600
  d <- data.frame(a = factor(sample(25, n, TRUE)), b = factor(sample(12, n, TRUE)),
                  g = factor(sample(30, n, TRUE)), s = factor(sample(4, n, TRUE)),
                  x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(25)[d$a] + 0.7 * rnorm(12)[d$b] +
    0.6 * rnorm(30)[d$g] + 0.8 * rnorm(120)[(as.integer(d$g) - 1) * 4 + as.integer(d$s)] +
    0.3 * d$x * rnorm(25)[d$a] + rnorm(n)
  d$w <- runif(n, 0.5, 2)
  d$o <- 0.3 * sin(seq_len(n))
  d
}

# The criterion's engine for a formula on d (lmm_sparse_setup()), with
# weights and an offset when given.
sparse_hessian_setup <- function(fo, d, w = NULL, off = NULL) {
  mf <- model.frame(reformulas::subbars(fo), d)
  re <- glmmgee:::sparse_re_terms(fo, mf, NULL)
  X <- model.matrix(reformulas::nobars(fo), d)
  w <- if (is.null(w)) rep(1, nrow(d)) else w
  off <- if (is.null(off)) rep(0, nrow(d)) else off
  list(st = glmmgee:::lmm_sparse_setup(X, d$y - 0, re, w, off), re = re)
}

test_that("the exact Hessian of the criterion's pieces is numDeriv's, crossed, nested, slopes, weights", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("reformulas")
  d <- sparse_hessian_data()
  cases <- list(crossed = list(y ~ x + (1 | a) + (1 | b), c(0.9, 0.6)),
                nested = list(y ~ x + (1 | g/s), c(0.7, 1.1)),
                slopes = list(y ~ x + (x | a) + (1 | b), c(0.9, 0.2, 0.3, 0.6)),
                three = list(y ~ x + (1 | a) + (1 | b) + (1 | g), c(0.9, 0.6, 0.4)))
  for (nm in names(cases)) for (wt in c(FALSE, TRUE)) {
    cs <- cases[[nm]]
    s <- sparse_hessian_setup(cs[[1]], d, if (wt) d$w, if (wt) d$o)
    th <- cs[[2]]
    for (reml in c(FALSE, TRUE)) {
      piece <- function(t, j) {
        e <- glmmgee:::cpp_lmmsp_eval(s$st$eng, t, FALSE)
        c(e$ldL2 + if (reml) e$ldRX2 else 0, e$pwrss)[[j]]
      }
      eh <- glmmgee:::cpp_lmmsp_hessian(s$st$eng, th, reml, 1e9)
      expect_false(is.null(eh))
      for (j in 1:2) {
        H <- numDeriv::hessian(piece, th, j = j)
        g <- numDeriv::grad(piece, th, j = j)
        expect_equal(if (j == 1) eh$h_ld else eh$h_q, H, tolerance = 1e-7,
                     info = paste(nm, wt, reml, j))
        expect_equal(drop(if (j == 1) eh$g_ld else eh$g_q), g, tolerance = 1e-7,
                     info = paste(nm, wt, reml, j))
      }
      # the gradient is the selected-inverse one the search uses
      gs <- glmmgee:::cpp_lmmsp_grad_sparse(s$st$eng, th)
      expect_equal(drop(eh$g_ld), gs$grad_ldL2 + if (reml) gs$grad_ldRX2 else 0,
                   tolerance = 1e-10)
      expect_equal(drop(eh$g_q), gs$grad_pwrss, tolerance = 1e-10)
    }
  }
  # blocks larger than the bound give no Hessian (the caller differences)
  s <- sparse_hessian_setup(y ~ x + (1 | a) + (1 | b), d)
  expect_null(glmmgee:::cpp_lmmsp_hessian(s$st$eng, c(1, 1), TRUE, 100))
  expect_error(glmmgee:::cpp_lmmsp_hessian(s$st$eng, c(1, 1, 1), TRUE, 1e9), "theta has length 3")
})

test_that("the standard errors' Hessian by the chain rule is numDeriv's of the log-likelihood", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("reformulas")
  d <- sparse_hessian_data()
  for (fo in list(y ~ x + (1 | a) + (1 | b), y ~ x + (1 | g/s), y ~ x + (x | a) + (1 | b)))
    for (wt in c(FALSE, TRUE)) for (reml in c(FALSE, TRUE)) {
      fit <- if (wt) glmm(fo, d, weights = w, offset = o, REML = reml) else glmm(fo, d, REML = reml)
      s <- sparse_hessian_setup(fo, d, if (wt) d$w, if (wt) d$o)
      k <- length(fit$theta)
      idx <- (k - s$re$ntheta):k
      # the log-likelihood with sigma free, beta profiled (ML) or integrated
      # out (REML), in the fit's parameters (Lambda's entries, log sigma)
      H <- numDeriv::hessian(function(x) glmmgee:::lmm_sparse_loglik(s$st, x, reml),
                             unname(fit$theta[idx]))
      expect_true(all(fit$theta[idx] != 0))
      expect_equal(unname(fit$hessian[idx, idx]), H, tolerance = 1e-7,
                   info = paste(deparse(fo), wt, reml))
      # closer than the central differences it replaces came (1.1e-9 to
      # 2.3e-9 of the largest entry on these fits; now at most 2e-10)
      expect_lt(max(abs(fit$hessian[idx, idx] - H)) / max(abs(H)), 5e-10)
    }
})

test_that("the Newton search with the exact Hessian takes fewer evaluations and reaches lmer's optimum", {
  skip_if_not_installed("lme4")
  d <- sparse_hessian_data()
  for (fo in list(y ~ x + (1 | a) + (1 | b), y ~ x + (1 | g/s), y ~ x + (1 | a) + (1 | b) + (1 | g)))
    for (wt in c(FALSE, TRUE)) for (reml in c(FALSE, TRUE)) {
      fit <- if (wt) glmm(fo, d, weights = w, offset = o, REML = reml) else glmm(fo, d, REML = reml)
      ref <- if (wt) lme4::lmer(fo, d, weights = w, offset = o, REML = reml)
             else lme4::lmer(fo, d, REML = reml)
      expect_match(fit$optinfo$optimizer, "Newton")
      # 1 + one per iteration but the last, whose step below 1e-7 is not
      # taken (the differences took 1 + (k + 1) per iteration)
      expect_equal(fit$optinfo$evaluations, fit$optinfo$iterations)
      expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-10)
      expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(ref)) - 1e-9)
      expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-6)
      # lmer's SDs to its optimizer's accuracy (bobyqa stops ~1e-5 short)
      vc <- as.data.frame(lme4::VarCorr(ref))
      expect_equal(sort(unname(fit$theta[grep("\\.\\(Intercept\\)$", names(fit$theta))])),
                   sort(vc$sdcor[is.na(vc$var2) & vc$grp != "Residual"]), tolerance = 1e-4)
      # the same optimum as the search on the differences' Hessian
      s <- sparse_hessian_setup(fo, d, if (wt) d$w, if (wt) d$o)
      st <- s$st
      ms <- glmmgee:::lmm_sparse_moment_start(fit$X, fit$y - fit$offset, s$re,
                                              if (wt) d$w else rep(1, nrow(d)), 0 * d$o,
                                              st$scale, reml = reml)
      ctl <- glmm_control()
      a <- glmmgee:::lmm_sparse_newton(st$eng, st$n, st$p, st$logw, reml, s$re$lower, ms,
                                       1e-3 * st$scale, ctl, hess_max_work = 0)
      b <- glmmgee:::lmm_sparse_newton(st$eng, st$n, st$p, st$logw, reml, s$re$lower, ms,
                                       1e-3 * st$scale, ctl)
      expect_lt(b$runs[[1L]]$evaluations[[1L]], a$runs[[1L]]$evaluations[[1L]])
      # the exact search ends before its last Newton step (below 1e-7 on the
      # search's scale), the differences' search after it: they differ by
      # about that step, which the result reports
      expect_lt(b$verification$nstep, 1e-7)
      expect_lt(max(abs(b$theta - a$theta)), 1.01 * b$verification$nstep + 1e-10)
      expect_equal(b$objective, a$objective, tolerance = 1e-12)
      expect_identical(is.null(b$hessian), is.null(b$final))
    }
})

test_that("standard errors of the SDs agree with glmmTMB's as well as the differences did", {
  skip_if_not_installed("glmmTMB")
  d <- sparse_hessian_data()
  for (fo in list(y ~ x + (1 | a) + (1 | b), y ~ x + (1 | g/s))) for (reml in c(FALSE, TRUE)) {
    fit <- glmm(fo, d, REML = reml)
    tmb <- glmmTMB::glmmTMB(fo, d, REML = reml)
    k <- length(fit$theta)
    idx <- (k - 2L):k
    # glmmTMB's theta: log SDs of the terms, in its term order; its
    # dispersion parameter log sigma (tmb_gaussian_log_sigma())
    se_tmb <- sqrt(diag(vcov(tmb, full = TRUE)))
    ltheta <- grep("^theta", names(se_tmb))
    ldisp <- grep("^(d|disp)~", names(se_tmb))
    # ours on the log-SD scale by the delta method (SD / its estimate)
    se_ours <- sqrt(diag(fit$cov_theta))[idx]
    sd_ours <- c(fit$theta[idx[1:2]], 1)
    rel <- se_ours / abs(sd_ours)
    est_tmb <- exp(glmmTMB::getME(tmb, "theta"))
    ord <- match(signif(est_tmb, 4), signif(abs(fit$theta[idx[1:2]]), 4))
    expect_false(anyNA(ord))
    expect_equal(unname(rel[ord]), unname(se_tmb[ltheta]), tolerance = 1e-5)
    expect_equal(unname(rel[3]), tmb_gaussian_log_sigma(unname(se_tmb[ldisp])), tolerance = 1e-5)
  }
})

test_that("a variance at zero: the free parameters' exact Hessian, NA for the bound one", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("reformulas")
  # no top-level group effect: its SD is estimated at zero
  set.seed(35)
  n <- 600
  d <- data.frame(a = factor(sample(25, n, TRUE)), b = factor(sample(12, n, TRUE)),
                  g = factor(sample(30, n, TRUE)), s = factor(sample(4, n, TRUE)),
                  x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(25)[d$a] + 0.7 * rnorm(12)[d$b] +
    0.8 * rnorm(120)[(as.integer(d$g) - 1) * 4 + as.integer(d$s)] +
    0.3 * d$x * rnorm(25)[d$a] + rnorm(n)
  fo <- y ~ x + (1 | g/s)
  for (reml in c(FALSE, TRUE)) {
    ref <- suppressMessages(lme4::lmer(fo, d, REML = reml))
    expect_true(lme4::isSingular(ref))
    fit <- suppressWarnings(glmm(fo, d, REML = reml))
    expect_true(fit$singular)
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8)
    k <- length(fit$theta)
    idx <- (k - 2L):k
    ob <- unname(fit$theta[idx] == 0)
    expect_identical(ob, c(FALSE, TRUE, FALSE))
    expect_true(all(is.na(sqrt(diag(fit$cov_theta))[idx][ob])))
    s <- sparse_hessian_setup(fo, d)
    x0 <- unname(fit$theta[idx])
    H <- numDeriv::hessian(function(x) {
      par <- x0
      par[!ob] <- x
      glmmgee:::lmm_sparse_loglik(s$st, par, reml)
    }, x0[!ob])
    expect_equal(unname(fit$hessian[idx, idx][!ob, !ob]), H, tolerance = 1e-7)
  }
})
