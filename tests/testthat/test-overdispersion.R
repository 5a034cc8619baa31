# Observation-level random effects for overdispersed counts: with one level
# per row the one-factor engine fits the Poisson-lognormal model; checked
# against lme4::glmer (Laplace, canonical link: the same approximation) and
# against AGHQ; AIC from the full likelihood, comparable with nbinom2's.

test_that("Poisson with (1 | obs) matches glmer's Laplace fit", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("MASS")
  d <- MASS::epil
  d$obs <- factor(seq_len(nrow(d)))
  f <- y ~ trt + log(base / 4) + V4 + (1 | obs)
  ours <- glmm(f, data = d, family = poisson, nAGQ = 1)
  ref <- glmer_ref(f, data = d, family = poisson,
                     control = lme4::glmerControl(optimizer = "bobyqa",
                                                  optCtrl = list(rhobeg = 0.2, rhoend = 1e-10)))
  expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 1e-4)
  expect_equal(unname(attr(VarCorr(ours)$obs, "stddev")),
               unname(attr(lme4::VarCorr(ref)$obs, "stddev")), tolerance = 1e-4)
  d_ll <- as.numeric(logLik(ours)) - as.numeric(logLik(ref))
  expect_gt(d_ll, -1e-4)
  expect_lt(abs(d_ll), 1e-3)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(as.matrix(vcov(ref))))),
               tolerance = 2e-3)
  expect_identical(ours$ngroups, nrow(d))
  expect_length(ours$optinfo$warnings, 0)
})

test_that("OLRE on simulated Poisson-lognormal counts: truth, AGHQ, full-likelihood AIC", {
  set.seed(31)
  n <- 600
  x <- rnorm(n)
  sd_true <- 0.7
  y <- rpois(n, exp(0.3 + 0.5 * x + rnorm(n, 0, sd_true)))
  d <- data.frame(y = y, x = x, obs = factor(seq_len(n)))
  lap <- glmm(y ~ x + (1 | obs), data = d, family = poisson, nAGQ = 1)
  agq <- glmm(y ~ x + (1 | obs), data = d, family = poisson, nAGQ = 15)
  se <- sqrt(diag(vcov(agq, full = TRUE)))
  expect_lt(max(abs(fixef(agq) - c(0.3, 0.5)) / se[1:2]), 4)
  expect_lt(abs(attr(VarCorr(agq)$obs, "stddev") - sd_true) / se[3], 4)
  # Laplace is close to AGHQ but not equal: one count per "cluster"
  expect_lt(abs(as.numeric(logLik(lap)) - as.numeric(logLik(agq))), 5)
  expect_equal(AIC(agq), -2 * as.numeric(logLik(agq)) + 2 * 3)
})

test_that("AIC prefers the negative binomial on overdispersed clustered counts", {
  set.seed(12)
  M <- 80; ni <- 5
  g <- factor(rep(seq_len(M), each = ni))
  x <- rnorm(M * ni)
  y <- rnbinom(M * ni, size = 1.2, mu = exp(0.6 + 0.3 * x + rnorm(M, 0, 0.5)[g]))
  d <- data.frame(y = y, x = x, g = g)
  pois <- glmm(y ~ x + (1 | g), data = d, family = poisson, nAGQ = 1)
  nb <- update(pois, family = nbinom2)
  a <- AIC(pois, nb)
  expect_identical(a$df, c(3, 4))
  expect_lt(a["nb", "AIC"], a["pois", "AIC"] - 50)
  expect_lt(abs(log(sigma(nb)) - log(1.2)), 4 * nb$family_par$se_log)
})
