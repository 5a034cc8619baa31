# The models of the peers' own help pages, tests and vignettes that glmmgee
# supports, fitted by glmm() and by the peer: our log-likelihood is not
# lower (1e-4), and where both reach the same optimum (log-likelihoods
# within 1e-3) the estimates agree to 1e-3 (relative). Where a peer stops
# below the optimum only the log-likelihoods are compared. Deliberate
# differences: glmer's Laplace approximation for probit/cloglog (none of the
# models below) and its nAGQ > 1 log-likelihood, which drops constants, so
# that there our value is compared with our engine's at glmer's estimates.
# gee() is compared with geepack's examples in test-gee-geepack.R.

# Fixed effects, then random-effect SDs by grouping factor (glmer orders
# its terms by their numbers of levels), and sigma for gaussian models.
sds_by_group <- function(vc) {
  vc <- vc[order(names(vc))]
  unlist(lapply(vc, attr, "stddev"), use.names = FALSE)
}
est_ours <- function(f) {
  c(unname(fixef(f)), sds_by_group(VarCorr(f)), if (f$family$family == "gaussian") sigma(f))
}
est_glmer <- function(m) {
  c(unname(lme4::fixef(m)), sds_by_group(lme4::VarCorr(m)), if (lme4::isLMM(m)) sigma(m))
}
est_tmb <- function(m, gaussian = FALSE) {
  c(unname(glmmTMB::fixef(m)$cond), sds_by_group(glmmTMB::VarCorr(m)$cond),
    if (gaussian) sigma(m))
}

expect_matches_peer <- function(ll_ours, ll_peer, e_ours, e_peer, label) {
  expect_gte(ll_ours, ll_peer - 1e-4, label = sprintf("%s: logLik %.6f vs peer %.6f",
                                                      label, ll_ours, ll_peer))
  if (abs(ll_ours - ll_peer) < 1e-3)
    expect_equal(e_ours, e_peer, tolerance = 1e-3, label = paste(label, "estimates"))
}

test_that("lme4: cbpp (binomial, Laplace and AGHQ 9) matches glmer and glmmTMB", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  data(cbpp, package = "lme4")
  form <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  f1 <- glmm(form, cbpp, family = binomial, nAGQ = 1)
  g1 <- glmer_ref(form, cbpp, family = binomial)
  expect_matches_peer(loglik_value(f1), loglik_value(g1), est_ours(f1), est_glmer(g1), "cbpp glmer")
  t1 <- glmmTMB::glmmTMB(form, cbpp, family = binomial)
  expect_matches_peer(loglik_value(f1), loglik_value(t1), est_ours(f1), est_tmb(t1), "cbpp glmmTMB")
  f9 <- glmm(form, cbpp, family = binomial, nAGQ = 9)
  g9 <- glmer_ref(form, cbpp, family = binomial, nAGQ = 9)
  at <- theta_of(f9, lme4::fixef(g9), as.matrix(lme4::VarCorr(g9)$herd))
  expect_matches_peer(loglik_value(f9), loglik_at(f9, at), est_ours(f9), est_glmer(g9), "cbpp AGHQ 9")
})

test_that("lme4 / glmmTMB: sleepstudy (gaussian, correlated slope) matches lmer (ML) and glmmTMB", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  data(sleepstudy, package = "lme4")
  form <- Reaction ~ Days + (Days | Subject)
  f <- glmm(form, sleepstudy)
  l <- lme4::lmer(form, sleepstudy, REML = FALSE)
  expect_matches_peer(loglik_value(f), loglik_value(l), est_ours(f), est_glmer(l), "sleepstudy lmer")
  t <- glmmTMB::glmmTMB(form, sleepstudy)
  expect_matches_peer(loglik_value(f), loglik_value(t), est_ours(f), est_tmb(t, TRUE), "sleepstudy glmmTMB")
  # The same with Days in hours: the same optimum.
  sh <- sleepstudy
  sh$Days <- sh$Days * 24
  fh <- glmm(form, sh)
  expect_lt(abs(loglik_value(fh) - loglik_value(f)), 1e-6)
})

test_that("lme4: grouseticks (poisson, three crossed/nested intercepts) matches glmer and glmmTMB", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  data(grouseticks, package = "lme4")
  gt <- grouseticks
  gt$cHEIGHT <- gt$HEIGHT - mean(gt$HEIGHT)
  form <- TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)
  f <- suppressWarnings(glmm(form, gt, family = poisson))
  g <- quiet(glmer_ref(form, gt, family = poisson))
  skip_if(is.null(g))
  expect_matches_peer(loglik_value(f), loglik_value(g), est_ours(f), est_glmer(g), "grouseticks glmer")
  t <- quiet(glmmTMB::glmmTMB(form, gt, family = poisson))
  if (!is.null(t))
    expect_matches_peer(loglik_value(f), loglik_value(t), est_ours(f), est_tmb(t), "grouseticks glmmTMB")
  # Height in its raw units (uncentred, cm): the same optimum.
  fr <- suppressWarnings(glmm(TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION),
                              gt, family = poisson))
  expect_lt(abs(loglik_value(fr) - loglik_value(f)), 1e-6)
})

test_that("lme4: VerbAgg (binary, crossed subjects and items) matches glmmTMB", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  skip_unless_level("long")  # VerbAgg's peer fits take about a minute
  data(VerbAgg, package = "lme4")
  form <- r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)
  f <- glmm(form, VerbAgg, family = binomial)
  t <- glmmTMB::glmmTMB(form, VerbAgg, family = binomial)
  expect_matches_peer(loglik_value(f), loglik_value(t), est_ours(f), est_tmb(t), "VerbAgg glmmTMB")
  g <- quiet(glmer_ref(form, VerbAgg, family = binomial))
  if (!is.null(g)) expect_gte(loglik_value(f), loglik_value(g) - 1e-4)
})

test_that("lme4 (mlmRev): Contraception with a random urban slope matches glmer", {
  skip_if_not_installed("mlmRev")
  skip_if_not_installed("lme4")
  data(Contraception, package = "mlmRev")
  form <- use ~ age + I(age^2) + urban + livch + (urban | district)
  f <- glmm(form, Contraception, family = binomial, nAGQ = 1)
  # lme4's own convergence check warns about its scaling on these data; the
  # comparison is of the optimum, which it reaches.
  g <- suppressWarnings(glmer_ref(form, Contraception, family = binomial))
  expect_matches_peer(loglik_value(f), loglik_value(g), est_ours(f), est_glmer(g), "Contraception")
})

test_that("glmmTMB: Salamanders (poisson and nbinom2, random site) matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  form <- count ~ spp + mined + (1 | site)
  fp <- glmm(form, Salamanders, family = poisson, nAGQ = 1)
  tp <- glmmTMB::glmmTMB(form, Salamanders, family = poisson)
  expect_matches_peer(loglik_value(fp), loglik_value(tp), est_ours(fp), est_tmb(tp), "Salamanders poisson")
  fn <- glmm(count ~ spp * mined + (1 | site), Salamanders, family = nbinom2(), nAGQ = 1)
  tn <- glmmTMB::glmmTMB(count ~ spp * mined + (1 | site), Salamanders, family = glmmTMB::nbinom2())
  expect_matches_peer(loglik_value(fn), loglik_value(tn), c(est_ours(fn), sigma(fn)), c(est_tmb(tn), sigma(tn)),
                      "Salamanders nbinom2")
})

test_that("glmmTMB: Owls (nbinom2 with an offset, random nest) matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB")
  form <- SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)
  f <- glmm(form, Owls, family = nbinom2(), nAGQ = 1)
  t <- glmmTMB::glmmTMB(form, Owls, family = glmmTMB::nbinom2())
  expect_matches_peer(loglik_value(f), loglik_value(t), c(est_ours(f), sigma(f)), c(est_tmb(t), sigma(t)), "Owls nbinom2")
  fp <- glmm(form, Owls, family = poisson, nAGQ = 1)
  tp <- glmmTMB::glmmTMB(form, Owls, family = poisson)
  expect_matches_peer(loglik_value(fp), loglik_value(tp), est_ours(fp), est_tmb(tp), "Owls poisson")
})

# The simulated design of GLMMadaptive's introductory vignette: 100
# subjects, 8 visits at 0 and seven uniform times on (0, 15), sex, with
# fixed effects (-2.13, -0.25, 0.24, -0.05) for sex * time and random
# intercept and slope variances 0.48 and 0.1 (our own simulation of it).
ga_vignette_data <- function(seed = 1234) {
  set.seed(seed)
  n <- 100; K <- 8
  id <- rep(seq_len(n), each = K)
  time <- as.vector(vapply(seq_len(n), function(i) c(0, sort(runif(K - 1, 0, 15))), numeric(K)))
  sex <- factor(rep(rep(c("male", "female"), each = n / 2), each = K), c("male", "female"))
  X <- model.matrix(~ sex * time)
  b <- cbind(rnorm(n, 0, sqrt(0.48)), rnorm(n, 0, sqrt(0.1)))
  eta <- drop(X %*% c(-2.13, -0.25, 0.24, -0.05)) + b[id, 1] + b[id, 2] * time
  data.frame(id = id, time = time, sex = sex, y = rbinom(n * K, 1, plogis(eta)))
}

test_that("GLMMadaptive: its vignette's binary longitudinal models match mixed_model (AGHQ)", {
  skip_if_not_installed("GLMMadaptive")
  d <- ga_vignette_data()
  # Random intercept, 11 points.
  f1 <- glmm(y ~ sex * time + (1 | id), d, family = binomial, nAGQ = 11)
  m1 <- GLMMadaptive::mixed_model(y ~ sex * time, ~ 1 | id, d, family = binomial(), nAGQ = 11)
  at1 <- theta_of(f1, GLMMadaptive::fixef(m1), m1$D)
  expect_matches_peer(loglik_value(f1), loglik_at(f1, at1),
                      est_ours(f1), c(unname(GLMMadaptive::fixef(m1)), sqrt(m1$D[1, 1])),
                      "GLMMadaptive (1 | id)")
  # Correlated intercept and slope over uncentred time, 7 points per dimension.
  f2 <- suppressWarnings(glmm(y ~ sex * time + (time | id), d, family = binomial, nAGQ = 7))
  m2 <- GLMMadaptive::mixed_model(y ~ sex * time, ~ time | id, d, family = binomial(), nAGQ = 7)
  at2 <- theta_of(f2, GLMMadaptive::fixef(m2), m2$D)
  expect_matches_peer(loglik_value(f2), loglik_at(f2, at2),
                      est_ours(f2), c(unname(GLMMadaptive::fixef(m2)), sqrt(diag(m2$D))),
                      "GLMMadaptive (time | id)")
})
