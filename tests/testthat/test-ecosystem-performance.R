# performance::icc(), r2() and model_performance() on glmm fits: the same
# numbers as performance gives for the same models fitted by lme4 (Laplace,
# optimizer at a tight tolerance, so the fits agree to ~1e-6 and remaining
# differences are the methods'). The decomposition is variance_shares()'s.

skip_if_not_installed("performance")
skip_if_not_installed("lme4")
skip_if_not_installed("insight")

perf_fits <- function() {
  cached("perf_fits", {
    e <- new.env()
    utils::data("epil", package = "MASS", envir = e)
    utils::data("sleepstudy", package = "lme4", envir = e)
    b <- cbpp_bernoulli()
    fb <- y ~ period + (1 | herd)
    fp <- y ~ lbase + trt + (1 | subject)
    fs <- Reaction ~ Days + (Days | Subject)
    list(binomial = list(ours = glmm(fb, data = b, family = binomial, nAGQ = 1),
                         lme4 = tight_glmer(fb, b, binomial)),
         poisson = list(ours = glmm(fp, data = e$epil, family = poisson, nAGQ = 1),
                        lme4 = tight_glmer(fp, e$epil, poisson)),
         gaussian = list(ours = glmm(fs, data = e$sleepstudy),
                         lme4 = do.call(lme4::lmer, list(
                           fs, data = e$sleepstudy, REML = FALSE,
                           control = lme4::lmerControl(optimizer = "bobyqa",
                                                       optCtrl = list(rhoend = 1e-10))))))
  })
}

test_that("icc(), r2() and get_variance() equal performance's on lme4 fits", {
  skip_if_not_installed("MASS")
  for (fam in c("binomial", "poisson", "gaussian")) {
    m <- perf_fits()[[fam]]
    v <- insight::get_variance(m$ours)
    vr <- insight::get_variance(m$lme4)
    expect_identical(names(v), names(vr), label = fam)
    expect_equal(unlist(v), unlist(vr), tolerance = 1e-5, label = fam)
    expect_equal(unlist(performance::icc(m$ours)), unlist(performance::icc(m$lme4)),
                 tolerance = 1e-5, label = fam)
    expect_equal(unlist(performance::r2(m$ours)), unlist(performance::r2(m$lme4)),
                 tolerance = 1e-5, label = fam)
  }
})

test_that("get_variance() is variance_shares()'s decomposition, for each approximation", {
  skip_if_not_installed("MASS")
  m <- perf_fits()$poisson
  for (a in c("lognormal", "trigamma", "delta")) {
    vs <- variance_shares(m$ours, approximation = a)
    vs <- vs[vs$quantity == "variance", ]
    v <- insight::get_variance(m$ours, approximation = a)
    expect_equal(v$var.distribution, vs$estimate[vs$component == "residual"])
    expect_equal(v$var.random, sum(vs$estimate[!vs$component %in% c("fixed", "residual")]))
    expect_equal(v$var.fixed, vs$estimate[vs$component == "fixed"])
    vr <- insight::get_variance(m$lme4, approximation = a)
    expect_equal(v$var.distribution, vr$var.distribution, tolerance = 1e-5, label = a)
  }
  expect_error(insight::get_variance(m$ours, approximation = "exact"), "approximation")
})

test_that("a two-term (sparse) glmm gets icc() and r2() as glmer's", {
  m <- eco_binomial()
  skip_if_not(inherits(m$obs_level, "glmmgee_glmm_sparse"))
  d <- m$data
  ref <- tight_glmer(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
                     d, binomial)
  # insight divides the latent variance of an aggregated binomial by the
  # mean number of trials (see the next test); ours is the per-trial latent
  # variance pi^2/3 of variance_shares(). The observation-level term is
  # overdispersion in both. (insight refits a null model of the peer, which
  # lme4 reports singular.)
  vr <- suppressMessages(insight::get_variance(ref))
  v <- insight::get_variance(m$obs_level)
  expect_equal(v$var.random, vr$var.random, tolerance = 1e-4)
  expect_equal(v$var.fixed, vr$var.fixed, tolerance = 1e-4)
  expect_equal(v$var.dispersion, vr$var.dispersion, tolerance = 1e-4)
  expect_equal(v$var.distribution, pi^2 / 3)
  expect_equal(v$var.residual, pi^2 / 3 + vr$var.dispersion, tolerance = 1e-4)
  res <- pi^2 / 3 + vr$var.dispersion
  icc <- performance::icc(m$obs_level)
  expect_equal(icc$ICC_adjusted, vr$var.random / (vr$var.random + res), tolerance = 1e-4)
  r2 <- performance::r2(m$obs_level)
  tot <- vr$var.fixed + vr$var.random + res
  expect_equal(unname(r2$R2_marginal), vr$var.fixed / tot, tolerance = 1e-4)
  expect_equal(unname(r2$R2_conditional), (vr$var.fixed + vr$var.random) / tot, tolerance = 1e-4)
})

test_that("an aggregated binomial is on the per-trial latent scale, as its 0/1 form", {
  # Nakagawa et al.'s latent scale is that of one trial; insight 1.7
  # divides pi^2/3 by the mean number of trials for a cbind() response
  # instead. Ours gives the 0/1 data's adjusted ICC for the aggregated
  # data, the two being one likelihood. (The fixed-effect variance is over
  # the rows of the data, so it and R2 differ between the two forms, for
  # lme4 as for us.)
  m <- eco_binomial()
  b <- perf_fits()$binomial
  expect_equal(performance::icc(m$ours)$ICC_adjusted, performance::icc(b$lme4)$ICC_adjusted,
               tolerance = 1e-5)
  v <- insight::get_variance(m$ours)
  expect_equal(v$var.distribution, pi^2 / 3)
  # The difference from glmmTMB on the aggregated data is that divisor
  # alone (what the ecosystem battery lists as a convention).
  vt <- insight::get_variance(m$tmb)
  expect_equal(v$var.random, vt$var.random, tolerance = 1e-4)
  expect_equal(v$var.fixed, vt$var.fixed, tolerance = 1e-4)
  expect_equal(vt$var.distribution, pi^2 / 3 / mean(m$data$size))
})

test_that("model_performance() gives what performance gives for lme4 fits", {
  skip_if_not_installed("MASS")
  for (fam in c("binomial", "poisson", "gaussian")) {
    m <- perf_fits()[[fam]]
    ours <- suppressMessages(performance::model_performance(m$ours))
    ref <- suppressMessages(performance::model_performance(m$lme4, estimator = "ML"))
    expect_s3_class(ours, "performance_model")
    expect_identical(names(ours), names(ref), label = fam)
    expect_equal(unlist(ours), unlist(ref), tolerance = 1e-5, label = fam)
  }
  m <- perf_fits()$poisson
  common <- performance::model_performance(m$ours, metrics = "common")
  expect_identical(names(common), c("AIC", "BIC", "R2_conditional", "R2_marginal", "ICC", "RMSE"))
  expect_error(performance::model_performance(m$ours, metrics = "R3"), "'metrics'")
  expect_error(performance::model_performance(m$ours, estimator = "REML"), "'estimator'")
})

test_that("icc() and r2() of negative binomial and Gamma fits equal glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("MASS")
  e <- new.env()
  utils::data("epil", package = "MASS", envir = e)
  f <- y ~ lbase + trt + (1 | subject)
  nb <- glmm(f, data = e$epil, family = nbinom2(), nAGQ = 1)
  nb_tmb <- do.call(glmmTMB::glmmTMB, list(f, data = e$epil, family = glmmTMB::nbinom2))
  # Gamma (log) with known shape 3 and a random intercept of sd 0.5.
  set.seed(11)
  d <- data.frame(g = factor(rep(1:30, each = 8)), x = rnorm(240))
  b <- rnorm(30, sd = 0.5)
  d$y <- rgamma(240, shape = 3, rate = 3 / exp(1 + 0.5 * d$x + b[d$g]))
  ga <- glmm(y ~ x + (1 | g), data = d, family = Gamma(link = "log"), nAGQ = 1)
  ga_tmb <- do.call(glmmTMB::glmmTMB, list(y ~ x + (1 | g), data = d,
                                           family = Gamma(link = "log")))
  for (m in list(list(nb, nb_tmb, "nbinom2"), list(ga, ga_tmb, "Gamma"))) {
    expect_equal(unlist(performance::icc(m[[1]])), unlist(performance::icc(m[[2]])),
                 tolerance = 1e-5, label = m[[3]])
    expect_equal(unlist(performance::r2(m[[1]])), unlist(performance::r2(m[[2]])),
                 tolerance = 1e-5, label = m[[3]])
  }
})

# Cumulative link mixed models: without their own decomposition insight saw
# no random effects (icc() NULL) and performance took the fit for a glm
# (R2 = -4.75 on wine). The decomposition is on the latent scale, as for a
# binomial with the link.
test_that("icc() and r2() of a cumulative link mixed model are the latent-scale decomposition", {
  skip_if_not_installed("ordinal")
  fit <- kinds_fits()$ordinal
  s2 <- fit$sigma_re^2
  vf <- stats::var(drop(fit$X %*% fit$coefficients))
  v <- insight::get_variance(fit)
  expect_equal(v$var.random, s2)
  expect_equal(v$var.fixed, vf)
  expect_equal(v$var.residual, pi^2 / 3)
  icc <- performance::icc(fit)
  expect_equal(icc$ICC_adjusted, s2 / (s2 + pi^2 / 3))
  r2 <- performance::r2(fit)
  tot <- vf + s2 + pi^2 / 3
  expect_equal(unname(r2$R2_marginal), vf / tot)
  expect_equal(unname(r2$R2_conditional), (vf + s2) / tot)
  expect_true(r2$R2_marginal > 0 && r2$R2_conditional < 1)
  # variance_shares() gives the same, with intervals
  vs <- variance_shares(fit)
  expect_equal(vs$estimate[vs$quantity == "R2" & vs$component == "marginal"],
               unname(r2$R2_marginal))
  expect_equal(vs$estimate[vs$quantity == "ICC"], icc$ICC_adjusted)
  ci <- vs[vs$quantity == "ICC", c("conf.low", "conf.high")]
  expect_true(ci$conf.low < icc$ICC_adjusted && icc$ICC_adjusted < ci$conf.high)
  # The peer: performance on ordinal::clmm of the same model, where
  # insight supports it.
  mm <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = kinds_wine(), nAGQ = 5)
  pv <- tryCatch(suppressWarnings(insight::get_variance(mm)), error = function(e) NULL)
  if (!is.null(pv$var.random)) {
    expect_equal(v$var.random, pv$var.random, tolerance = 1e-3)
    expect_equal(v$var.residual, pv$var.residual, tolerance = 1e-6)
    expect_equal(v$var.fixed, pv$var.fixed, tolerance = 1e-3)
  }
  # probit: residual variance 1
  pr <- glmm(rating ~ temp + contact + (1 | judge), data = kinds_wine(),
             family = cumulative("probit"), nAGQ = 5)
  expect_equal(insight::get_variance(pr)$var.residual, 1)
  expect_error(performance::r2(kinds_fits()$ordinal_gee), "not available")
})

test_that("icc() and r2() of a known-covariance fit equal variance_shares()", {
  fit <- kinds_fits()$known
  vs <- variance_shares(fit)
  icc_own <- vs$estimate[vs$quantity == "ICC"]
  expect_gt(icc_own, 0.1)
  expect_equal(performance::icc(fit)$ICC_adjusted, icc_own)
  r2 <- performance::r2(fit)
  expect_equal(unname(r2$R2_conditional),
               vs$estimate[vs$quantity == "R2" & vs$component == "conditional"])
  v <- insight::get_variance(fit)
  expect_equal(v$var.dispersion, 0)
  # One level per observation with a known K is the genetic term of an
  # animal model, not an observation-level (overdispersion) effect.
  # 120 individuals in 12 families, one observation each, a family effect
  # of variance 1 through K (relatedness 0.5 within a family).
  set.seed(3)
  n <- 120L
  fam <- rep(seq_len(12L), each = 10L)
  K <- 0.5 * outer(fam, fam, "==") + diag(0.5, n)
  dimnames(K) <- list(as.character(seq_len(n)), as.character(seq_len(n)))
  s <- data.frame(id = factor(seq_len(n)), x = rnorm(n))
  s$y <- 1 + 0.5 * s$x + drop(t(chol(2 * K)) %*% rnorm(n)) + rnorm(n, sd = 0.7)
  one <- glmm(y ~ x + (1 | id), data = s, covariance = list(id = K))
  vs1 <- variance_shares(one)
  icc1 <- vs1$estimate[vs1$quantity == "ICC"]
  expect_gt(icc1, 0.3)
  expect_equal(performance::icc(one)$ICC_adjusted, icc1)
  expect_equal(insight::get_variance(one)$var.dispersion, 0)
})

test_that("check_overdispersion() of a glmm is the Pearson test performance gives glmer fits", {
  skip_if_not_installed("MASS")
  m <- perf_fits()$poisson
  ours <- performance::check_overdispersion(m$ours)
  ref <- performance::check_overdispersion(m$lme4, residual_type = "normal")
  expect_s3_class(ours, "check_overdisp")
  expect_equal(unclass(ours)[c("chisq_statistic", "dispersion_ratio", "residual_df", "p_value")],
               unclass(ref)[c("chisq_statistic", "dispersion_ratio", "residual_df", "p_value")],
               tolerance = 1e-4)
  expect_error(performance::check_overdispersion(perf_fits()$gaussian$ours), "gaussian")
  expect_error(performance::check_overdispersion(m$ours, type = 1), "unknown argument")
  expect_error(performance::check_overdispersion(kinds_fits()$zi), "zero-inflated")
})

test_that("compare_performance() refuses glmm fits; model_performance() rows give its numbers", {
  # performance::compare_performance() keeps only the classes in insight's
  # fixed list (insight::is_model_supported() is not a generic), so it
  # drops glmmgee fits and fails; the rows of model_performance(), bound
  # together, are the table it gives for the glmer fits.
  skip_if_not_installed("MASS")
  e <- new.env()
  utils::data("epil", package = "MASS", envir = e)
  m <- perf_fits()$poisson
  m0 <- glmm(y ~ lbase + (1 | subject), data = e$epil, family = poisson, nAGQ = 1)
  r0 <- tight_glmer(y ~ lbase + (1 | subject), e$epil, poisson)
  expect_error(suppressMessages(suppressWarnings(
    performance::compare_performance(m$ours, m0, estimator = "ML"))))
  ours <- do.call(rbind, lapply(list(m$ours, m0), function(f)
    suppressMessages(performance::model_performance(f, metrics = "common"))))
  ref <- suppressMessages(suppressWarnings(
    performance::compare_performance(m$lme4, r0, estimator = "ML", metrics = "common")))
  expect_identical(nrow(ours), 2L)
  for (col in c("AIC", "BIC", "R2_conditional", "R2_marginal", "ICC", "RMSE"))
    expect_equal(ours[[col]], ref[[col]], tolerance = 1e-4, label = col)
})

test_that("cumulative link models with random slopes or several terms decompose as variance_shares()", {
  skip_if_not_installed("ordinal")
  w <- kinds_wine()
  r <- suppressWarnings(glmm(rating ~ temp + contact + (1 + contact | judge), data = w,
                             family = cumulative()))
  Z <- cbind(1, w$contact == "yes")
  v <- insight::get_variance(r)
  # Johnson (2014): the slope model's variance averaged over the rows
  expect_equal(v$var.random, mean(rowSums((Z %*% r$re_cov) * Z)))
  expect_equal(performance::icc(r)$ICC_adjusted, v$var.random / (v$var.random + pi^2 / 3))
  s <- suppressWarnings(glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = w,
                             family = cumulative()))
  vs <- insight::get_variance(s)
  expect_equal(vs$var.random, sum(s$sd_re^2))
  expect_equal(unname(vs$var.intercept), unname(s$sd_re^2))
  # ordinal::clmm's decomposition by insight, where it gives one
  mm <- ordinal::clmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = w)
  pv <- suppressWarnings(insight::get_variance(mm))
  expect_equal(vs$var.fixed, pv$var.fixed, tolerance = 2e-3)
  expect_equal(unname(vs$var.intercept["judge"]), unname(pv$var.intercept["judge"]), tolerance = 2e-3)
})
