# REML for gaussian identity-link models against lme4::lmer (REML = TRUE).

reml_vs_lmer <- function(f, m) {
  expect_true(isREML(f))
  expect_equal(unname(fixef(f)), unname(lme4::fixef(m)), tolerance = 1e-4)
  expect_equal(sigma(f), sigma(m), tolerance = 1e-4)
  # Our restricted log-likelihood is lmer's, and not lower than lmer's.
  expect_gt(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-6)
  expect_lt(abs(as.numeric(logLik(f)) - as.numeric(logLik(m))), 1e-4)
  expect_equal(sqrt(diag(vcov(f))), sqrt(diag(as.matrix(vcov(m)))), tolerance = 1e-4,
               ignore_attr = TRUE)
  vm <- as.data.frame(lme4::VarCorr(m))
  vf <- as.data.frame(VarCorr(f))
  expect_equal(sort(vf$sdcor), sort(vm$sdcor), tolerance = 1e-4)
  expect_equal(as.numeric(logLik(f, REML = FALSE)), as.numeric(logLik(m, REML = FALSE)),
               tolerance = 1e-4)
}

test_that("REML matches lmer: sleepstudy, random slopes (one-factor engine)", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  f <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
  reml_vs_lmer(f, m)
  expect_false(inherits(f, "glmmgee_glmm_sparse"))
  expect_equal(unname(as.matrix(ranef(f)$Subject)), unname(as.matrix(lme4::ranef(m)$Subject)),
               tolerance = 1e-3)
  out <- capture.output(print(f))
  expect_true(any(grepl("fit by REML", out)))
  expect_true(any(grepl("fit by REML", capture.output(print(summary(f))))))
  expect_false(isREML(glmm(Reaction ~ Days + (Days | Subject), sleepstudy)))
})

test_that("REML matches lmer: Penicillin, crossed factors (sparse engine)", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  m <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
  expect_s3_class(f, "glmmgee_glmm_sparse")
  reml_vs_lmer(f, m)
})

test_that("REML matches lmer: Dyestuff and the singular Dyestuff2", {
  skip_if_not_installed("lme4")
  data(Dyestuff, Dyestuff2, package = "lme4")
  f <- glmm(Yield ~ 1 + (1 | Batch), Dyestuff, REML = TRUE)
  reml_vs_lmer(f, lme4::lmer(Yield ~ 1 + (1 | Batch), Dyestuff))
  expect_warning(f2 <- glmm(Yield ~ 1 + (1 | Batch), Dyestuff2, REML = TRUE), "by REML")
  m2 <- lme4::lmer(Yield ~ 1 + (1 | Batch), Dyestuff2)
  expect_true(lme4::isSingular(m2))
  expect_true(f2$singular)
  reml_vs_lmer(f2, m2)
})

test_that("REML optimum and value do not depend on the scaling of X", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  d <- transform(sleepstudy, Hours = 24 * Days + 1000)
  f1 <- glmm(Reaction ~ Days + (Days | Subject), d, REML = TRUE)
  f2 <- glmm(Reaction ~ Hours + (Days | Subject), d, REML = TRUE)
  m2 <- lme4::lmer(Reaction ~ Hours + (Days | Subject), d)
  expect_equal(sigma(f1), sigma(f2), tolerance = 1e-6)
  expect_equal(f1$D, f2$D, tolerance = 1e-5)
  # The criterion moves by log(24) (the Jacobian of the rescaled slope) and
  # is lmer's for the user's X.
  expect_equal(as.numeric(logLik(f2) - logLik(f1)), -log(24), tolerance = 1e-6)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(m2)), tolerance = 1e-6)
})

test_that("anova refits REML fits by ML; AIC says REML", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  f0 <- glmm(Reaction ~ 1 + (Days | Subject), sleepstudy, REML = TRUE)
  f1 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  expect_message(a <- anova(f0, f1), "refitting model\\(s\\) with ML")
  m0 <- lme4::lmer(Reaction ~ 1 + (Days | Subject), sleepstudy, REML = FALSE)
  m1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
  expect_equal(a$logLik, c(as.numeric(logLik(m0)), as.numeric(logLik(m1))), tolerance = 1e-6)
  g1 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy)
  expect_warning(AIC(f1, g1), "REML")
})

test_that("REML = TRUE is refused outside linear mixed models", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  expect_error(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp,
                    family = binomial, REML = TRUE), "REML is defined for linear mixed models")
  data(sleepstudy, package = "lme4")
  expect_error(glmm(Reaction ~ Days + (1 | Subject), sleepstudy,
                    family = gaussian(link = "log"), REML = TRUE), "gaussian\\(link")
  f <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)
  expect_error(profile(f), "REML")
  expect_equal(dim(confint(f)), c(4L, 2L))
})

test_that("REML matches lmer with weights, an offset, || terms and slopes on two factors", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(11)
  d <- sleepstudy
  d$w <- runif(nrow(d), 0.5, 2)
  d$o <- rnorm(nrow(d))
  d$x2 <- rnorm(nrow(d))
  d$g2 <- factor(sample(1:10, nrow(d), TRUE))
  reml_vs_lmer(glmm(Reaction ~ Days + (Days | Subject), d, weights = w, offset = o, REML = TRUE),
               lme4::lmer(Reaction ~ Days + (Days | Subject), d, weights = w, offset = o))
  f <- glmm(Reaction ~ Days + (Days || Subject), d, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days || Subject), d)
  reml_vs_lmer(f, m)
  expect_equal(unname(as.matrix(ranef(f)$Subject)), unname(as.matrix(lme4::ranef(m)$Subject)),
               tolerance = 1e-3)
  m <- lme4::lmer(Reaction ~ Days + x2 + (Days | Subject) + (1 | g2), d)
  expect_true(lme4::isSingular(m))
  expect_warning(f <- glmm(Reaction ~ Days + x2 + (Days | Subject) + (1 | g2), d, REML = TRUE),
                 "singular fit.*by REML")
  expect_s3_class(f, "glmmgee_glmm_sparse")
  reml_vs_lmer(f, m)
  expect_equal(unname(fitted(f)), unname(fitted(m)), tolerance = 1e-5)
  # Conditional variances of the modes, as lmer's condVar.
  pv <- attr(lme4::ranef(m, condVar = TRUE)$g2, "postVar")
  expect_equal(as.vector(attr(ranef(f)$g2, "postVar")), as.vector(pv), tolerance = 1e-3)
})
