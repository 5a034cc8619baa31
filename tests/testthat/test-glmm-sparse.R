# glmm() with several random-effect terms against lme4 (Laplace; lmer with
# REML = FALSE for gaussian models, where the approximation is exact), on
# data shipped with lme4 and simulated nested data; methods on such fits.

compare_lme4 <- function(ours, theirs, tol_beta = 2e-3, tol_sd = 5e-3) {
  expect_loglik_at_least(logLik(ours), logLik(theirs))
  expect_equal(unname(fixef(ours)), unname(lme4::fixef(theirs)), tolerance = tol_beta)
  vo <- as.data.frame(VarCorr(ours))
  vt <- as.data.frame(lme4::VarCorr(theirs))
  # lme4's data frame writes a:b as a.b and numbers repeated factors (g.1)
  key <- function(v) paste(gsub("[.:]", "", sub("\\.[0-9]+$", "", v$grp)), v$var1, v$var2)
  expect_setequal(key(vo), key(vt))
  expect_equal(vo$sdcor[match(key(vt), key(vo))], vt$sdcor, tolerance = tol_sd)
}

test_that("crossed binomial with an observation-level effect: cbpp", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)
  fit <- glmm(f, cbpp, family = binomial)
  expect_s3_class(fit, "glmmgee_glmm_sparse")
  compare_lme4(fit, glmer_ref(f, cbpp, binomial))
  # obs is nested in herd: adaptive quadrature applies (test-glmm-nested.R).
  expect_s3_class(glmm(f, cbpp, family = binomial, nAGQ = 5), "glmmgee_glmm_nested")
})

test_that("Poisson with three grouping factors: grouseticks", {
  skip_if_not_installed("lme4")
  data(grouseticks, package = "lme4")
  f <- TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)
  fit <- glmm(f, grouseticks, family = poisson)
  compare_lme4(fit, glmer_ref(f, grouseticks, poisson))
})

test_that("gaussian crossed and nested equal lmer(REML = FALSE): Penicillin, Pastes", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  data(Pastes, package = "lme4")
  f1 <- diameter ~ 1 + (1 | plate) + (1 | sample)
  compare_lme4(glmm(f1, Penicillin), lme4::lmer(f1, Penicillin, REML = FALSE),
               tol_beta = 1e-5, tol_sd = 1e-4)
  f2 <- strength ~ 1 + (1 | batch/cask)
  fit2 <- glmm(f2, Pastes)
  l2 <- lme4::lmer(f2, Pastes, REML = FALSE)
  compare_lme4(fit2, l2, tol_beta = 1e-5, tol_sd = 1e-4)
  expect_equal(sigma(fit2), sigma(l2), tolerance = 1e-4)
  expect_equal(names(ranef(fit2)), c("cask:batch", "batch"))
  expect_equal(as.matrix(ranef(fit2)$batch), as.matrix(lme4::ranef(l2)$batch), tolerance = 1e-3,
               ignore_attr = TRUE)
})

test_that("crossed binary items and persons: VerbAgg subset", {
  skip_if_not_installed("lme4")
  data(VerbAgg, package = "lme4")
  d <- droplevels(VerbAgg[as.integer(VerbAgg$id) <= 80, ])
  f <- r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)
  compare_lme4(glmm(f, d, family = binomial), glmer_ref(f, d, binomial))
})

test_that("nested hospitals and wards with a random slope: simulated", {
  skip_if_not_installed("lme4")
  d <- sim_hospital_wards()
  f <- y ~ x + (x | hospital) + (1 | hospital:ward)
  fit <- glmm(f, d, family = binomial)
  g <- glmer_ref(f, d, binomial)
  compare_lme4(fit, g, tol_beta = 5e-3, tol_sd = 2e-2)
  # uncorrelated version by ||: two blocks on the same factor
  f2 <- y ~ x + (x || hospital) + (1 | hospital:ward)
  fit2 <- glmm(f2, d, family = binomial)
  compare_lme4(fit2, glmer_ref(f2, d, binomial), tol_beta = 5e-3, tol_sd = 2e-2)
  expect_equal(names(VarCorr(fit2)), c("hospital", "hospital.1", "hospital:ward"))
  expect_equal(colnames(ranef(fit2)$hospital), c("(Intercept)", "x"))
})

test_that("methods on several-term fits: ranef, coef, predict with re.form, anova, update", {
  skip_if_not_installed("lme4")
  d <- sim_hospital_wards()
  f <- y ~ x + (1 | hospital) + (1 | hospital:ward)
  fit <- glmm(f, d, family = binomial)
  g <- glmer_ref(f, d, binomial)
  re <- ranef(fit)
  expect_named(re, c("hospital", "hospital:ward"))
  expect_equal(dim(attr(re$hospital, "postVar")), c(1L, 1L, 30L))
  rg <- lme4::ranef(g, condVar = TRUE)
  expect_equal(re$hospital[[1]], rg$hospital[[1]], tolerance = 5e-3)
  expect_equal(sqrt(attr(re$hospital, "postVar")[1, 1, ]),
               sqrt(attr(rg$hospital, "postVar")[1, 1, ]), tolerance = 5e-3, ignore_attr = TRUE)
  expect_equal(coef(fit)$hospital$x, rep(fixef(fit)[["x"]], 30))
  for (rf in list(NULL, NA, ~ (1 | hospital))) {
    expect_equal(predict(fit, re.form = rf), predict(g, re.form = rf), tolerance = 5e-3,
                 ignore_attr = TRUE)
    expect_equal(predict(fit, newdata = d[1:40, ], re.form = rf),
                 predict(fit, re.form = rf)[1:40], ignore_attr = TRUE, tolerance = 1e-10)
  }
  expect_equal(fitted(fit), predict(fit, type = "response"))
  eta <- fit$X %*% fixef(fit) + model.matrix(fit, type = "random") %*% fit$b
  expect_equal(as.numeric(eta), unname(predict(fit)), tolerance = 1e-10)
  nd <- data.frame(x = 0, hospital = "new", ward = "1")
  expect_equal(unname(predict(fit, nd, allow.new.levels = TRUE)), unname(fixef(fit)[1]))
  expect_error(predict(fit, nd), "not in the fit")
  f0 <- update(fit, . ~ . - (1 | hospital:ward))
  expect_false(inherits(f0, "glmmgee_glmm_sparse"))
  # f0 has one term (default nAGQ 11), fit two (Laplace): said in a warning
  expect_warning(a <- anova(f0, fit), "different approximations")
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(fit)) - as.numeric(logLik(f0))))
  expect_output(print(fit), "hospital, 30; hospital:ward, 180")
  expect_output(print(summary(fit)), "Random effects")
  expect_error(ranef(fit, type = "mean"), "type = \"mode\"")
})
