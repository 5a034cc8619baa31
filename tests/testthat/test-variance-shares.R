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

test_that("variance_shares(approximation = ) of a family whose variance is not approximated is an error", {
  # it was ignored for binomial fits
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  fit <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial)
  expect_error(variance_shares(fit, approximation = "trigamma"),
               "variance_shares\\(\\) of a binomial fit: 'approximation' is for poisson, negative binomial and Gamma fits")
  expect_error(variance_shares(fit, approximation = "lognormal"), "'approximation' is for poisson")
  expect_s3_class(variance_shares(fit), "glmmgee_variance_shares")
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

test_that("links without a defined decomposition are refused by name; nbinom1 follows Nakagawa et al.", {
  set.seed(7)
  M <- 30; ni <- 8
  d <- data.frame(g = factor(rep(seq_len(M), each = ni)), x = runif(M * ni))
  u <- rnorm(M, 0, 0.3)[d$g]
  d$yg <- rgamma(nrow(d), shape = 4, rate = 4 / exp(0.3 + 0.5 * d$x + u))
  d$yb <- rbinom(nrow(d), 1, exp(-1.6 + 0.5 * d$x + u))
  for (lk in c("inverse", "identity")) {
    fit <- suppressWarnings(glmm(yg ~ x + (1 | g), data = d, family = Gamma(lk)))
    expect_error(variance_shares(fit),
                 sprintf("not available for Gamma\\(link = \"%s\"\\).*mix scales", lk))
    expect_error(glmmgee:::variance_estimates(fit), "get_variance\\(\\): not available for Gamma")
  }
  fl <- glmm(yb ~ x + (1 | g), data = d, family = binomial("log"))
  expect_error(variance_shares(fl), "not available for binomial\\(link = \"log\"\\).*no latent-variable scale")
  fc <- glmm(yb ~ x + (1 | g), data = d, family = binomial("cauchit"))
  expect_error(variance_shares(fc), "binomial\\(link = \"cauchit\"\\).*Cauchy distribution, which has no variance")
  # gaussian(log): sigma^2 is on the data scale, the predictor on the log scale.
  fgl <- suppressWarnings(glmm(yg ~ x + (1 | g), data = d, family = gaussian("log")))
  expect_error(variance_shares(fgl), "gaussian\\(link = \"log\"\\).*mix scales")
  # Gamma(log) still works, with its lognormal residual variance log(1 + 1/shape).
  fg <- glmm(yg ~ x + (1 | g), data = d, family = Gamma("log"))
  vs <- variance_shares(fg)
  expect_equal(shares_of(vs, "variance")[["residual"]], log1p(1 / exp(fg$theta[[length(fg$theta)]])),
               tolerance = 1e-10)
  # nbinom1: omega = 1 + phi over lambda (quasi-Poisson in Table 1).
  d$yc <- rnbinom(nrow(d), mu = exp(1 + 0.5 * d$x + u), size = exp(1 + 0.5 * d$x + u) / 1.5)
  fn <- glmm(yc ~ x + (1 | g), data = d, family = nbinom1())
  vn <- variance_shares(fn)
  lam <- attr(vn, "lambda")
  phi <- sigma(fn)
  expect_equal(shares_of(vn, "variance")[["residual"]], log1p((1 + phi) / lam), tolerance = 1e-10)
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("performance")
  tn <- glmmTMB::glmmTMB(yc ~ x + (1 | g), data = d, family = glmmTMB::nbinom1())
  # insight (performance's engine) takes lambda from the full model's
  # intercept, which moves with the coding of x, so its residual variance
  # differs from the null-model lambda of Nakagawa et al.; the random-effect
  # variance of the same model agrees.
  skip_if_not_installed("insight")
  gv <- suppressWarnings(insight::get_variance(tn))
  expect_equal(unname(gv$var.random), shares_of(vn, "variance")[["g"]], tolerance = 0.02)
})

test_that("a dispersion formula: the residual variance is the observations' mean, over its random effects", {
  # sigma_i = exp(0.2 + 0.3 arm + b), b ~ N(0, 0.4^2): the mean residual
  # variance is mean_i exp(2 (0.2 + 0.3 arm_i) + 2 * 0.4^2)
  M <- 120; m <- 12; g <- rep(seq_len(M), each = m)
  covered <- 0
  for (seed in 1:5) {
    set.seed(seed)
    d <- data.frame(g = g, x = rnorm(M * m), arm = rep(0:1, length.out = M)[g])
    d$y <- 1 + 0.5 * d$x + rnorm(M)[g] +
      rnorm(M * m) * exp(0.2 + 0.3 * d$arm + rnorm(M, 0, 0.4)[g])
    truth <- mean(exp(2 * (0.2 + 0.3 * d$arm) + 2 * 0.4^2))
    fr <- glmm(y ~ x + (1 | g), dispformula = ~ arm + (1 | g), data = d)
    vr <- variance_shares(fr)
    res <- vr[vr$quantity == "variance" & vr$component == "residual", ]
    eta <- drop(fr$aux$disp$X %*% fr$aux$disp$coef)
    sd_d <- attr(VarCorr(fr)[["disp~g"]], "stddev")[[1L]]
    expect_equal(res$estimate, mean(exp(2 * eta + 2 * sd_d^2)), tolerance = 1e-8)
    covered <- covered + (res$conf.low < truth && truth < res$conf.high)
  }
  # 95% intervals: at least 4 of 5 cover the truth (probability 0.977)
  expect_gte(covered, 4)
  # without random effects in it: the mean of sigma_i^2 (theta's last entry,
  # the dispersion formula's arm coefficient, was read as log sigma before)
  ff <- glmm(y ~ x + (1 | g), dispformula = ~ arm, data = d)
  vf <- variance_shares(ff)
  expect_equal(shares_of(vf, "variance")[["residual"]],
               mean(exp(2 * drop(ff$aux$disp$X %*% ff$aux$disp$coef))), tolerance = 1e-10)
  expect_gt(shares_of(vf, "variance")[["residual"]], 2)
  # a count family: each observation's 1 / theta_i in the lognormal term
  d$yc <- rnbinom(nrow(d), mu = exp(0.5 + 0.4 * d$x + rnorm(M, 0, 0.5)[g]),
                  size = exp(0.5 + 0.8 * d$arm))
  fn <- glmm(yc ~ x + (1 | g), dispformula = ~ arm, data = d, family = nbinom2())
  vn <- variance_shares(fn)
  lam <- attr(vn, "lambda")
  th <- exp(drop(fn$aux$disp$X %*% fn$aux$disp$coef))
  expect_equal(shares_of(vn, "variance")[["residual"]], mean(log1p(1 / lam + 1 / th)),
               tolerance = 1e-10)
  # the null model behind lambda keeps the dispersion formula
  nul <- glmm(yc ~ 1 + (1 | g), dispformula = ~ arm, data = d, family = nbinom2())
  expect_equal(lam, exp(nul$coefficients[[1L]] + nul$D[1L, 1L] / 2), tolerance = 1e-6)
})

test_that("rows of weight 0 enter no variance: the shares are those of the data without them", {
  set.seed(2)
  M <- 40; m <- 10; g <- rep(seq_len(M), each = m)
  d <- data.frame(g = g, x = rnorm(M * m), arm = factor(sample(c("a", "b", "c"), M * m, TRUE)))
  d$y <- 1 + d$x + rnorm(M, 0, 0.5)[g] + rnorm(M * m) * exp(0.2 * (d$arm == "b") +
                                                           rnorm(M, 0, 0.4)[g])
  w <- rep(1, nrow(d))
  w[d$arm == "c" & d$g <= 20] <- 0
  w[1:3] <- 0
  for (disp in list(NULL, ~ arm, ~ arm + (1 | g))) {
    f0 <- glmm(y ~ x + (1 | g), data = d, weights = w, dispformula = disp)
    f1 <- glmm(y ~ x + (1 | g), data = d[w > 0, ], dispformula = disp)
    expect_equal(variance_shares(f0)$estimate, variance_shares(f1)$estimate, tolerance = 1e-6)
  }
})

test_that("the null model keeps the fit's prior weights, offset() terms and offset argument", {
  skip_if_not_installed("lme4")
  cbpp <- lme4::cbpp
  cbpp$prop <- cbpp$incidence / cbpp$size
  f1 <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
             family = binomial)
  f2 <- glmm(prop ~ period + (1 | herd), weights = size, data = cbpp, family = binomial)
  # the same model: a proportion with weights = trials was refitted as one
  # trial per row (data-scale ICC 6e-12 for 0.077)
  expect_equal(variance_shares(f2)$estimate, variance_shares(f1)$estimate, tolerance = 1e-6)
  icc <- function(vs) vs$estimate[vs$quantity == "ICC (data scale)"]
  expect_equal(icc(variance_shares(f2)), 0.0774, tolerance = 1e-3)
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("performance")
  data(Owls, package = "glmmTMB", envir = environment())
  fo <- SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(log(BroodSize)) + (1 | Nest)
  ours <- glmm(fo, data = Owls, family = poisson, nAGQ = 1)
  arg <- glmm(SiblingNegotiation ~ FoodTreatment + ArrivalTime + (1 | Nest), data = Owls,
              offset = log(BroodSize), family = poisson, nAGQ = 1)
  vs <- variance_shares(ours)
  expect_equal(variance_shares(arg)$estimate, vs$estimate, tolerance = 1e-8)
  # lambda of the null model with the offset (the mean per brood member),
  # as performance's icc() and r2_nakagawa() on glmmTMB's fit (the null
  # model without the offset gave a residual variance of 0.146 for 0.480)
  nul <- glmm(SiblingNegotiation ~ 1 + offset(log(BroodSize)) + (1 | Nest), data = Owls,
              family = poisson, nAGQ = 1)
  expect_equal(attr(vs, "lambda"), exp(fixef(nul)[[1]] + nul$D[1, 1] / 2), tolerance = 1e-10)
  tmb <- glmmTMB::glmmTMB(fo, data = Owls, family = poisson)
  gv <- suppressWarnings(insight::get_variance(tmb))
  expect_equal(shares_of(vs, "variance")[["residual"]], gv$var.distribution, tolerance = 1e-4)
  expect_equal(shares_of(vs, "ICC")[["Nest"]], performance::icc(tmb)$ICC_adjusted,
               tolerance = 1e-4)
  r2 <- performance::r2_nakagawa(tmb)
  expect_equal(shares_of(vs, "R2")[["conditional"]], unname(r2$R2_conditional), tolerance = 1e-4)
})
