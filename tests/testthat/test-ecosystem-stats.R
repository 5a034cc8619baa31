# Base generics on glmm and gee fits: weights(), df.residual(), deviance(),
# extractAIC(), drop1(), step(), predict(se.fit = TRUE), and the
# extractors update(), nobs(), terms(), model.frame() they rely on; each
# against lme4, glmmTMB or stats::glm on the same model.

cbpp_noise <- function() {
  cached("eco_cbpp_noise", {
    data("cbpp", package = "lme4", envir = environment())
    set.seed(5)
    cbpp$noise <- rnorm(nrow(cbpp))
    cbpp
  })
}

test_that("weights, df.residual, deviance and extractAIC of a glmm match lme4's definitions", {
  skip_if_not_installed("lme4")
  d <- cbpp_noise()
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d,
              family = binomial, nAGQ = 1)
  g <- glmer_ref(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d,
                   family = binomial)
  expect_equal(unname(weights(fit)), unname(weights(g)))
  expect_equal(df.residual(fit), df.residual(g))
  expect_equal(deviance(fit), -2 * as.numeric(logLik(fit)))
  # lme4 stops about 5e-4 short of the maximum (ours is the higher one).
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(g)) - 1e-8)
  expect_equal(deviance(fit), -2 * as.numeric(logLik(g)), tolerance = 1e-5)
  expect_equal(extractAIC(fit), extractAIC(g), tolerance = 1e-5)
  expect_equal(extractAIC(fit, k = log(nobs(fit)))[2], BIC(fit))
  expect_error(extractAIC(fit, k = -1), "'k' must be one non-negative number")
})

test_that("drop1() gives lme4's AIC and likelihood-ratio tests", {
  skip_if_not_installed("lme4")
  d <- cbpp_noise()
  fit <- glmm(cbind(incidence, size - incidence) ~ period + noise + (1 | herd), data = d,
              family = binomial, nAGQ = 1)
  g <- glmer_ref(cbind(incidence, size - incidence) ~ period + noise + (1 | herd), data = d,
                   family = binomial)
  ours <- drop1(fit, test = "Chisq")
  theirs <- drop1(g, test = "Chisq")
  expect_identical(rownames(ours), rownames(theirs))
  expect_equal(ours$Df[-1], theirs$npar[-1])
  expect_equal(ours$AIC, theirs$AIC, tolerance = 1e-5)
  expect_equal(ours$LRT[-1], theirs$LRT[-1], tolerance = 1e-4)
  expect_equal(ours[["Pr(>Chi)"]][-1], theirs[["Pr(Chi)"]][-1], tolerance = 1e-4)
})

test_that("drop1() stops when the data its call names are no longer the fit's", {
  # drop1() refits through update(): with the data set replaced under the
  # same name since, x's LRT was 0.108 (p = 0.74) where the fit's own data
  # give 97.4, and nothing said so (lme4's drop1() has the same flaw).
  sim <- function(slope) {
    d <- data.frame(g = factor(rep(1:10, each = 10)), x = rnorm(100), z = rnorm(100))
    d$y <- rpois(100, exp(0.2 + slope * d$x + rnorm(10, 0, 0.3)[d$g]))
    d
  }
  set.seed(1)
  d <- sim(0.8)
  fit <- glmm(y ~ x + z + (1 | g), data = d, family = poisson)
  ok <- drop1(fit, test = "Chisq")
  expect_gt(ok["x", "LRT"], 50)
  d <- sim(0)
  expect_error(drop1(fit, test = "Chisq"),
               "drop1\\(\\) refits the model with update\\(\\), and the data its call names are no longer")
})

test_that("drop1() on a REML fit refits by ML first, as lme4's and anova() do", {
  # (it compared REML criteria of models with different fixed effects:
  # AIC 1794.5 and LRT 117.86 where lme4 gives 1802.1 and 116.46)
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4", envir = environment())
  sleepstudy$t <- factor(sleepstudy$Days)
  fit <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)
  expect_message(ours <- drop1(fit, test = "Chisq"), "refitting model\\(s\\) with ML")
  theirs <- drop1(m, test = "Chisq")
  expect_equal(ours$AIC, theirs$AIC, tolerance = 1e-6)
  expect_equal(ours$LRT[-1], theirs$LRT[-1], tolerance = 1e-5)
  # the same test as anova()'s, and on a structured REML fit
  f0 <- update(fit, . ~ . - Days)
  a <- suppressMessages(anova(f0, fit))
  expect_equal(ours$LRT[2], a$Chisq[2], tolerance = 1e-6)
  fs <- glmm(Reaction ~ Days + ar1(0 + t | Subject), sleepstudy, REML = TRUE)
  ds <- suppressMessages(drop1(fs, test = "Chisq"))
  ml <- glmm(Reaction ~ Days + ar1(0 + t | Subject), sleepstudy)
  expect_equal(ds$AIC[1], AIC(ml), tolerance = 1e-6)
})

test_that("drop1() on crossed random effects (sparse engine) gives lme4's tests", {
  skip_if_not_installed("lme4")
  data("Penicillin", package = "lme4", envir = environment())
  set.seed(2)
  Penicillin$z <- rnorm(nrow(Penicillin))
  fit <- glmm(diameter ~ z + (1 | plate) + (1 | sample), data = Penicillin)
  m <- lme4::lmer(diameter ~ z + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
  ours <- drop1(fit, test = "Chisq")
  theirs <- drop1(m, test = "Chisq")
  expect_equal(ours$AIC, theirs$AIC, tolerance = 1e-6)
  expect_equal(ours$LRT[-1], theirs$LRT[-1], tolerance = 1e-5)
})

test_that("step() drops a noise covariate and keeps the random effects", {
  d <- cbpp_noise()
  fit <- glmm(cbind(incidence, size - incidence) ~ period + noise + (1 | herd), data = d,
              family = binomial, nAGQ = 1)
  s <- step(fit, trace = 0)
  expect_s3_class(s, "glmmgee_glmm")
  expect_identical(attr(terms(s), "term.labels"), "period")
  expect_identical(s$group_name, "herd")
  ref <- update(fit, . ~ . - noise)
  expect_equal(logLik(s), logLik(ref))
  expect_equal(nobs(ref), nobs(fit))
  expect_identical(nrow(model.frame(ref)), nrow(d))
})

test_that("predict(se.fit = TRUE) of a glmm equals glmmTMB's for the fixed-effect part", {
  skip_if_not_installed("glmmTMB")
  d <- cbpp_noise()
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d,
              family = binomial, nAGQ = 1)
  tm <- glmmTMB::glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd),
                         data = d, family = binomial)
  nd <- data.frame(period = factor(1:4), herd = NA)
  for (type in c("link", "response")) {
    a <- predict(fit, nd, re.form = NA, type = type, se.fit = TRUE)
    b <- predict(tm, nd, re.form = NA, type = type, se.fit = TRUE)
    expect_equal(unname(a$fit), unname(b$fit), tolerance = 1e-5, info = type)
    expect_equal(unname(a$se.fit), unname(b$se.fit), tolerance = 1e-4, info = type)
  }
  # On the data of the fit: the same standard errors, the conditional means.
  a <- predict(fit, type = "response", se.fit = TRUE)
  expect_equal(a$fit, fitted(fit))
  X <- model.matrix(fit)
  eta <- predict(fit)
  expect_equal(unname(a$se.fit),
               unname(sqrt(rowSums((X %*% vcov(fit)) * X)) * binomial()$mu.eta(eta)))
  expect_error(predict(fit, se.fit = NA), "'se.fit' must be TRUE or FALSE")
})

test_that("predict(se.fit = TRUE) works with several random-effect terms", {
  skip_if_not_installed("lme4")
  data("Penicillin", package = "lme4", envir = environment())
  fit <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)
  p <- predict(fit, newdata = Penicillin[1:3, ], re.form = NA, se.fit = TRUE)
  expect_equal(unname(p$se.fit), rep(sqrt(vcov(fit)[1, 1]), 3))
  expect_equal(unname(p$fit), rep(unname(fixef(fit)), 3))
})

test_that("weights, df.residual and deviance of a gee; extractAIC refuses", {
  data("bacteria", package = "MASS", envir = environment())
  fit <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID, family = binomial)
  g <- glm(y ~ trt + I(week > 2), data = bacteria, family = binomial)
  expect_equal(unname(weights(fit)), unname(weights(g)))
  expect_equal(df.residual(fit), df.residual(g))
  # Under independence the GEE estimates are the GLM's, so the
  # quasi-deviance is the GLM deviance.
  expect_equal(deviance(fit), deviance(g), tolerance = 1e-6)
  expect_error(extractAIC(fit), "no likelihood.*QIC")
  expect_error(drop1(fit), "no likelihood.*QIC")
  expect_error(confint(fit, method = "profile"), "no likelihood.*Wald")
  # update(), nobs(), terms() and model.frame() as for glm.
  f2 <- update(fit, . ~ . - trt)
  g2 <- update(g, . ~ . - trt)
  expect_equal(coef(f2), coef(g2), tolerance = 1e-6)
  expect_identical(nobs(fit), nobs(g))
  expect_identical(attr(terms(fit), "term.labels"), attr(terms(g), "term.labels"))
  expect_identical(nrow(model.frame(fit)), nrow(model.frame(g)))
})
