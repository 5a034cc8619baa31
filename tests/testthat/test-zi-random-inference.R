# Inference for random effects in the zero part (ziformula = ~ x + (1 | g)):
# Wald and profile intervals over both parts against glmmTMB and against
# constrained refits, the correlated model's refusal of the Laplace rule
# (its approximation is unbounded) with valid probabilities at its default
# quadrature, and clear refusals (variance shares, zero-inflated binomial).

test_that("Wald intervals cover the zero part's coefficients and standard deviation as glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ mined + (1 | site), data = d, family = poisson,
              ziformula = ~ mined + (1 | site))
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), data = d, family = poisson,
                          ziformula = ~ mined + (1 | site))
  ci <- confint(fit)
  ref <- confint(tmb)[, 1:2]
  ours <- c("(Intercept)", "minedno", "zi.(Intercept)", "zi.minedno", "sd_(Intercept)|site",
            "sd_zi.(Intercept)|site")
  theirs <- c("cond.(Intercept)", "cond.minedno", "zi.(Intercept)", "zi.minedno",
              "cond.Std.Dev.(Intercept)|site", "zi.Std.Dev.(Intercept)|site")
  expect_identical(rownames(ci), ours)
  # Same model and estimates to 1e-5: limits agree to the optimizers' and
  # the Hessians' differences.
  expect_equal(unname(ci), unname(ref[theirs, ]), tolerance = 1e-4)
  expect_identical(rownames(confint(fit, parm = "theta_")), ours[5:6])
  expect_identical(rownames(confint(fit, parm = "beta_")), ours[1:4])
  expect_error(confint(fit, parm = "zi.nothing"), "zi.nothing")
})

test_that("profile intervals of both parts: at the limits the constrained maximum is the cutoff", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ mined + (1 | site), data = d, family = poisson,
              ziformula = ~ mined + (1 | site))
  ci <- confint(fit, parm = c("minedno", "zi.minedno", "sd_zi.(Intercept)|site"),
                method = "profile")
  expect_true(all(is.finite(ci)))
  # The count part's coefficient held at each limit by an offset: the
  # refit's logLik is the fit's minus qchisq(0.95, 1) / 2.
  d$no <- as.numeric(d$mined == "no")
  for (lim in ci["minedno", ]) {
    r <- glmm(count ~ 1 + offset(lim * no) + (1 | site), data = d, family = poisson,
              ziformula = ~ mined + (1 | site))
    expect_equal(as.numeric(logLik(fit)) - as.numeric(logLik(r)), qchisq(0.95, 1) / 2,
                 tolerance = 1e-5)
  }
  # glmmTMB's profile of the zero part's coefficient (spline-interpolated).
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), data = d, family = poisson,
                          ziformula = ~ mined + (1 | site))
  ref <- confint(tmb, method = "profile", parm = 4)
  expect_equal(unname(ci["zi.minedno", ]), unname(ref[1, 1:2]), tolerance = 1e-3)
  # A fixed zero part (zero-inflated nbinom2) profiles too, with its
  # dispersion coefficient.
  f0 <- glmm(count ~ mined + (1 | site), data = d, family = nbinom2, ziformula = ~ mined)
  p0 <- confint(f0, parm = c("zi.(Intercept)", "disp.(Intercept)"), method = "profile")
  w0 <- confint(f0, parm = c("zi.(Intercept)", "disp.(Intercept)"))
  expect_true(all(is.finite(p0)))
  expect_lt(max(abs(p0 - w0)), 0.5)
  expect_identical(rownames(confint(f0, parm = "theta_")),
                   c("sd_(Intercept)|site", "disp.(Intercept)"))
})

test_that("correlated parts: the correlation's interval, Laplace refused, default quadrature gives valid probabilities", {
  d <- zi_random_sim(M = 60, ni = 6, seed = 1)
  expect_error(glmm(y ~ x + (1 | g), data = d, family = poisson, ziformula = ~ w + (1 | g),
                    zi_correlated = TRUE, nAGQ = 1), "nAGQ")
  fit <- glmm(y ~ x + (1 | g), data = d, family = poisson, ziformula = ~ w + (1 | g),
              zi_correlated = TRUE)
  expect_identical(fit$nAGQ, 7L)
  expect_length(fit$optinfo$warnings, 0L)
  # Every cluster's log-probability at the estimate, by the fit's rule, is
  # that of a probability (at most one).
  a <- fit$aux
  n <- nrow(d)
  pat <- a$zi$re$pattern_full
  fam <- glmmgee:::resolve_family(poisson)
  eng <- glmmgee:::cpp_two_part_new(fit$X, matrix(1, n, 1), a$zi$re$Z, a$zi$X, matrix(0, n, 0),
                                as.numeric(d$y), rep(1, n), matrix(0, n, 3), fit$group,
                                nlevels(d$g), pat$row - 1L, pat$col - 1L, fam$family_code,
                                fam$link_code, 1L, 7L, 1L)
  cl <- glmmgee:::cpp_two_part_summaries(eng, unname(fit$theta))$loglik
  expect_equal(sum(cl), as.numeric(logLik(fit)), tolerance = 1e-10)
  expect_true(all(cl <= 0))
  for (ty in c("zprob", "response", "conditional")) {
    pr <- predict(fit, type = ty)
    expect_true(all(is.finite(pr) & pr >= 0))
    if (ty == "zprob") expect_true(all(pr <= 1))
  }
  ci <- confint(fit)
  nm <- "cor_zi.(Intercept).(Intercept)|g"
  expect_true(nm %in% rownames(ci))
  rho <- attr(VarCorr(fit)$g, "correlation")[2, 1]
  expect_true(ci[nm, 1] < rho && rho < ci[nm, 2] && ci[nm, 1] > -1 && ci[nm, 2] < 1)
  expect_equal(unname(ci["sd_zi.(Intercept)|g", ]) > sqrt(fit$aux$zi$re$D[1, 1]), c(FALSE, TRUE))
})

test_that("variance shares with zero-part random effects are refused clearly", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ mined + (1 | site), data = d, family = poisson,
              ziformula = ~ mined + (1 | site))
  expect_error(variance_shares(fit), "zero-inflated or hurdle.*each with random effects")
  f0 <- glmm(count ~ mined + (1 | site), data = d, family = poisson, ziformula = ~ mined)
  expect_error(variance_shares(f0), "two")
  expect_error(glmm(count ~ mined + (1 | site), data = d, family = Gamma(link = "log"),
                    ziformula = ~ 1 + (1 | site)), "zero-inflation needs a count family")
  expect_error(glmm(count ~ mined + (1 | site), data = d, family = poisson,
                    ziformula = ~ mined + (1 | site), zi_correlated = "yes"), "zi_correlated")
})

test_that("the cause: in a cluster of zeros the correlated Laplace approximation exceeds probability one", {
  # A cluster of six zeros of a simulated data set (60 clusters of 6,
  # correlation 0.5) where the Laplace search of the correlated model
  # stopped (false convergence) before Laplace was refused for it; theta
  # there (beta, Lambda's entries by columns, gamma).
  cl <- data.frame(x = c(0.5939462, 0.3329504, 1.0630998, -0.3041839, 0.3700188, 0.2670988),
                   w = c(0, 1, 0, 1, 0, 0), y = 0)
  th <- c(0.5571254, 0.4511878, 0.5762234, 0.3732816, 0.3625594, -0.7082977, 0.5292304)
  n <- nrow(cl)
  fam <- glmmgee:::resolve_family(poisson)
  eng <- glmmgee:::cpp_two_part_new(cbind(1, cl$x), matrix(1, n, 1), matrix(1, n, 1), cbind(1, cl$w),
                                matrix(0, n, 0), cl$y, rep(1, n), matrix(0, n, 3), rep(1L, n), 1L,
                                c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code, fam$link_code,
                                1L, 1L, 1L)
  laplace <- glmmgee:::cpp_two_part_eval(eng, th, FALSE)$loglik
  # The integral by a fine product rule over u ~ N(0, I_2), b = Lambda u.
  L <- matrix(c(th[3], th[4], 0, th[5]), 2)
  g <- seq(-7, 7, by = 0.02)
  U <- as.matrix(expand.grid(g, g))
  B <- U %*% t(L)
  eta <- outer(B[, 1], th[1] + th[2] * cl$x, "+")
  a <- outer(B[, 2], th[6] + th[7] * cl$w, "+")
  lf <- rowSums(log(plogis(a) + plogis(-a) * exp(-exp(eta))))
  exact <- log(sum(exp(lf) * dnorm(U[, 1]) * dnorm(U[, 2])) * 0.02^2)
  expect_lt(exact, 0)
  expect_gt(laplace, 0)
  expect_gt(laplace - exact, 1)
})
