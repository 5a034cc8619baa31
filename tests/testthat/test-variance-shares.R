# variance_shares(): closed forms and performance::icc / r2_nakagawa on the
# same models fitted by lme4.

shares_of <- function(vs, kind) {
  r <- vs[vs$quantity == kind, ]
  stats::setNames(r$estimate, r$component)
}

test_that("binomial shares equal the latent-scale closed forms, with delta-method intervals", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
  vs <- variance_shares(fit)
  s2 <- fit$D[1, 1]
  vf <- var(drop(fit$X %*% fixef(fit)))
  c0 <- pi^2 / 3
  expect_equal(shares_of(vs, "ICC")[["ID"]], s2 / (s2 + c0), tolerance = 1e-12)
  expect_equal(shares_of(vs, "R2")[["marginal"]], vf / (vf + s2 + c0), tolerance = 1e-12)
  expect_equal(shares_of(vs, "R2")[["conditional"]], (vf + s2) / (vf + s2 + c0), tolerance = 1e-12)
  # Interval of the ICC by hand: lambda = sd of the intercept, logit scale.
  lam <- fit$theta[["lambda[1,1]"]]
  se_lam <- sqrt(fit$cov_theta["lambda[1,1]", "lambda[1,1]"])
  icc <- s2 / (s2 + c0)
  d <- 2 * lam * c0 / (s2 + c0)^2 / (icc * (1 - icc))
  r <- vs[vs$quantity == "ICC", ]
  expect_equal(c(r$conf.low, r$conf.high),
               plogis(qlogis(icc) + c(-1, 1) * qnorm(0.975) * abs(d) * se_lam), tolerance = 1e-6)
  pr <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial("probit"))
  expect_equal(shares_of(variance_shares(pr), "variance")[["residual"]], 1)
})

test_that("ICC and R2 match performance on lme4 fits of the same models", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("performance")
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  data(epil, package = "MASS", envir = environment())
  data(sleepstudy, package = "lme4", envir = environment())
  data(Penicillin, package = "lme4", envir = environment())
  check <- function(ours, theirs, tol) {
    vs <- variance_shares(ours)
    icc <- suppressWarnings(performance::icc(theirs))
    r2 <- suppressWarnings(performance::r2_nakagawa(theirs))
    ic <- vs[vs$quantity == "ICC", ]
    expect_equal(ic$estimate[nrow(ic)], icc$ICC_adjusted, tolerance = tol)
    expect_equal(shares_of(vs, "R2")[["marginal"]], unname(r2$R2_marginal), tolerance = tol)
    expect_equal(shares_of(vs, "R2")[["conditional"]], unname(r2$R2_conditional), tolerance = tol)
  }
  # Laplace fits on both sides; the estimates agree to about 1e-5.
  check(glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial, nAGQ = 1),
        glmer_ref(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial), 1e-4)
  check(glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson, nAGQ = 1),
        glmer_ref(y ~ trt + lbase + (1 | subject), data = epil, family = poisson), 1e-4)
  # Random slopes (Johnson's extension) and crossed terms, gaussian by ML.
  check(glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy),
        lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE), 1e-4)
  check(glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin),
        lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin, REML = FALSE),
        1e-4)
})

test_that("poisson approximations follow Nakagawa et al. (2017) and bad input is named", {
  skip_if_not_installed("MASS")
  data(epil, package = "MASS", envir = environment())
  fit <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson)
  lam <- attr(variance_shares(fit), "lambda")
  nul <- glmm(y ~ 1 + (1 | subject), data = epil, family = poisson)
  expect_equal(lam, exp(fixef(nul)[[1]] + nul$D[1, 1] / 2), tolerance = 1e-10)
  v <- function(a) shares_of(variance_shares(fit, a), "variance")[["residual"]]
  expect_equal(c(v("lognormal"), v("trigamma"), v("delta")),
               c(log1p(1 / lam), trigamma(lam), 1 / lam), tolerance = 1e-10)
  expect_error(variance_shares(lm(y ~ trt, epil)), "'fit' must be a fit from glmm")
  expect_error(variance_shares(fit, level = 2), "level")
  # A bridge intercept enters with its distribution's variance.
  data(bacteria, package = "MASS", envir = environment())
  br <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, ranef_dist = "bridge")
  phi <- br$ranef_dist$phi
  expect_equal(shares_of(variance_shares(br), "variance")[["ID"]],
               pi^2 / 3 * (1 / phi^2 - 1), tolerance = 1e-12)
})

test_that("the data-scale ICC is the correlation of two observations of a cluster", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  data(epil, package = "MASS", envir = environment())
  mc_icc <- function(nul, draw) {
    set.seed(8)
    b <- rnorm(2e5, 0, sqrt(nul$D[1, 1]))
    eta <- fixef(nul)[[1]] + b
    cor(draw(eta), draw(eta))
  }
  fit <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial)
  vs <- variance_shares(fit)
  nul <- glmm(y ~ 1 + (1 | ID), data = bacteria, family = binomial)
  est <- vs$estimate[vs$quantity == "ICC (data scale)"]
  expect_equal(est, mc_icc(nul, function(e) rbinom(length(e), 1, plogis(e))), tolerance = 0.02)
  fp <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson)
  vp <- variance_shares(fp)
  np <- glmm(y ~ 1 + (1 | subject), data = epil, family = poisson)
  est <- vp$estimate[vp$quantity == "ICC (data scale)"]
  expect_equal(est, mc_icc(np, function(e) rpois(length(e), exp(e))), tolerance = 0.02)
  # Latent and data scales differ.
  expect_false(isTRUE(all.equal(est, vp$estimate[vp$quantity == "ICC"])))
})
