# performance::icc(), r2() and model_performance() on glmm fits: the same
# numbers as performance gives for the same models fitted by lme4 (Laplace,
# optimizer at a tight tolerance, so the fits agree to ~1e-6 and remaining
# differences are the methods'). The decomposition is variance_shares()'s.

skip_if_not_installed("performance")
skip_if_not_installed("lme4")
skip_if_not_installed("insight")

# The data go into the call itself: insight refits the null model by
# update(), which must find them wherever it is evaluated.
tight_glmer <- function(f, data, family) {
  do.call(lme4::glmer, list(f, data = data, family = family,
                            control = lme4::glmerControl(optimizer = "bobyqa",
                                                         optCtrl = list(rhoend = 1e-10),
                                                         tolPwrss = 1e-12)))
}

# cbpp as one 0/1 row per animal: the same likelihood as the aggregated
# binomial, and a response insight takes as Bernoulli (see below).
cbpp_bernoulli <- function() {
  cached("perf_cbpp_bernoulli", {
    d <- cbpp_data()
    idx <- rep(seq_len(nrow(d)), d$size)
    y <- unlist(lapply(seq_len(nrow(d)), function(i)
      rep(1:0, c(d$incidence[i], d$size[i] - d$incidence[i]))))
    data.frame(herd = d$herd[idx], period = d$period[idx], y = y)
  })
}

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
