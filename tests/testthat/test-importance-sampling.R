# Maximum likelihood of the importance-sampled log-likelihood
# (glmm_control(importance_draws = )): its gradient, agreement with the
# exact likelihood where nested quadrature gives it, the Monte Carlo error
# in the standard errors, seeds and threads, what methods serve, refusals.

nested_design <- function(seed, family = "binomial", H = 12L, W = 3L) {
  set.seed(seed)
  d <- expand.grid(patient = 1:4, ward = seq_len(W), hospital = seq_len(H))
  d$hospital <- factor(d$hospital)
  d$hw <- factor(paste(d$hospital, d$ward))
  d$x <- rnorm(nrow(d))
  eta <- -0.2 + 0.6 * d$x + rnorm(H, 0, 0.8)[d$hospital] + rnorm(W * H, 0, 1.2)[as.integer(d$hw)]
  d$y <- if (family == "binomial") rbinom(nrow(d), 1, plogis(eta)) else rpois(nrow(d), exp(eta - 1))
  d
}

crossed_design <- function(seed, nA = 15L, nB = 12L, reps = 2L) {
  set.seed(seed)
  d <- expand.grid(a = factor(seq_len(nA)), b = factor(seq_len(nB)), rep = seq_len(reps))
  d$x <- rnorm(nrow(d))
  ua <- matrix(rnorm(2 * nA, 0, c(0.6, 0.3)), nA, 2, byrow = TRUE)
  d$mu <- exp(0.4 + (0.3 + ua[d$a, 2]) * d$x + ua[d$a, 1] + rnorm(nB, 0, 0.4)[d$b])
  d$count <- rnbinom(nrow(d), mu = d$mu, size = 3)
  d$yes <- rbinom(nrow(d), 1, d$mu / (1 + d$mu))
  d
}

# The sampler of importance-sampling.R on the model's own designs.
sampler_for <- function(formula, data, family, draws = 300L, seed = 1L) {
  mf <- model.frame(glmmgee:::sub_bars(formula), data)
  re <- sparse_re_terms(formula, mf)
  X <- model.matrix(reformulas::nobars(formula), mf)
  n <- nrow(mf)
  y <- as.numeric(model.response(mf))
  eng <- cpp_sparse_new(X, re$Z, y, rep(1, n), rep(0, n), re$lam_row - 1L, re$lam_col - 1L,
                        re$lam_k - 1L, re$ntheta, family$family_code, family$link_code)
  list(sampler = importance_sampler(eng, X, re$Z, y, rep(1, n), rep(0, n), re, family, draws, 20,
                                    seed),
       p = ncol(X), re = re)
}

test_that("with common random numbers the importance-sampled log-likelihood is smooth in every parameter", {
  skip_if_not_installed("numDeriv")
  d <- crossed_design(1)
  cases <- list(
    list(count ~ x + (1 + x | a) + (1 | b), nbinom2(), c(0.4, 0.3, 0.5, 0.1, 0.2, 0.4, log(3))),
    list(yes ~ x + (1 | a) + (1 | b), binomial(), c(-0.2, 0.5, 0.7, 0.5)),
    list(count ~ x + (x || a) + (1 | b), poisson(), c(0.3, 0.2, 0.6, 0.3, 0.4)))
  for (cs in cases) {
    fam <- glmmgee:::resolve_family(cs[[2]])
    e <- sampler_for(cs[[1]], d, fam)
    th <- cs[[3]]
    expect_length(th, e$p + e$re$ntheta + has_dispersion(fam))
    at <- importance_value(e$sampler, th, h = rep(1e-4, length(th)))
    # the central differences of the package against Richardson's
    # extrapolation: the same function, smooth to many digits
    num <- numDeriv::grad(function(t) importance_value(e$sampler, t)$loglik, th)
    expect_equal(at$gradient, num, tolerance = 1e-5)
    # the same draws: the same value (to the modes' convergence from a warm
    # start); the Monte Carlo covariance of the gradient is a covariance matrix
    expect_equal(importance_value(e$sampler, th)$loglik, at$loglik, tolerance = 1e-12)
    expect_true(isSymmetric(at$gradient_cov))
    expect_gte(min(eigen(at$gradient_cov, only.values = TRUE)$values), -1e-10)
  }
})

test_that("the importance-sampling fit agrees with nested quadrature within its Monte Carlo error", {
  f <- y ~ x + (1 | hospital) + (1 | hw)
  for (case in list(c("binomial", 1), c("binomial", 2), c("poisson", 2))) {
    fam <- case[[1]]
    d <- nested_design(as.integer(case[[2]]), fam)
    fits <- suppressWarnings(list(
      fl = glmm(f, data = d, family = fam),
      fq = glmm(f, data = d, family = fam, nAGQ = 15),
      fi = glmm(f, data = d, family = fam,
                control = glmm_control(importance_draws = 5000, importance_seed = 11))))
    list2env(fits, environment())
    imp <- fi$importance
    info <- paste(case, collapse = " ")
    expect_s3_class(fi, "glmmgee_glmm")
    expect_identical(names(fi$theta), names(fq$theta))
    expect_gt(imp$ess, 500)
    # the log-likelihood at the optimum, within 3 Monte Carlo SEs of the
    # exact maximum
    expect_lt(abs(fi$loglik - fq$loglik), 3 * imp$loglik_se)
    # the estimates, within 3 Monte Carlo SEs (the Monte Carlo part of their
    # covariance) of the exact ones
    # (a variance at zero in both fits, as in the first data set, is held
    # there and has no standard error)
    free <- !is.na(diag(fq$cov_theta))
    expect_identical(free, !is.na(diag(fi$cov_theta)))
    expect_equal(fi$theta[!free], fq$theta[!free], tolerance = 1e-6)
    mc <- sqrt(diag(imp$mc_cov))[free]
    expect_true(all(mc > 0), info = info)
    expect_true(all(abs(fi$theta - fq$theta)[free] < 3 * mc),
                info = paste(info, paste(signif((fi$theta - fq$theta)[free] / mc, 3), collapse = " ")))
    # the standard errors include the Monte Carlo error, and are otherwise
    # those of the exact fit (to the curvature's own Monte Carlo error)
    expect_true(all(diag(imp$mc_cov)[free] > 0))
    expect_equal(sqrt(diag(fi$cov_theta))[free], sqrt(diag(fq$cov_theta))[free], tolerance = 0.15,
                 info = info)
    expect_equal(imp$laplace_loglik, fl$loglik, tolerance = 1e-8)
    if (fam == "binomial" && all(free)) {
      # Laplace is half a log-likelihood unit off here; the new fit is not
      expect_gt(fq$loglik - fl$loglik, 0.5)
      expect_lt(abs(fi$loglik - fq$loglik), 0.1)
    }
  }
  # Too few draws for 48 random effects: the fit says its sampler has too
  # few effective draws
  d <- nested_design(4, "poisson")
  w <- character()
  withCallingHandlers(glmm(f, data = d, family = poisson,
                           control = glmm_control(importance_draws = 100, importance_seed = 11)),
                      warning = function(c) {
                        w <<- c(w, conditionMessage(c))
                        invokeRestart("muffleWarning")
                      })
  expect_true(any(grepl("importance sampling: effective sample size", w)))
})

test_that("importance-sampling fits: seeds, threads and the session's random numbers", {
  d <- crossed_design(2)
  f <- yes ~ x + (1 | a) + (1 | b)
  ctl <- function(...) glmm_control(importance_draws = 1000, ...)
  a <- glmm(f, data = d, family = binomial, control = ctl(importance_seed = 5))
  b <- glmm(f, data = d, family = binomial, control = ctl(importance_seed = 5, nthreads = 2))
  expect_identical(a$theta, b$theta)
  expect_identical(a$loglik, b$loglik)
  expect_identical(a$importance$seed, 5L)
  c2 <- glmm(f, data = d, family = binomial, control = ctl(importance_seed = 6))
  expect_false(identical(a$theta, c2$theta))
  # without a seed: one number drawn from the session's stream, recorded
  set.seed(9)
  r0 <- runif(2)
  set.seed(9)
  s <- glmm(f, data = d, family = binomial, control = ctl())
  expect_identical(runif(1), { set.seed(9); sample.int(.Machine$integer.max, 1L); runif(1) })
  again <- glmm(f, data = d, family = binomial, control = ctl(importance_seed = s$importance$seed))
  expect_identical(again$theta, s$theta)
  # rows of zero weight change nothing (nor the draws' ordering; every level
  # keeps rows of positive weight, so the random effects are the same)
  d$w <- rep(c(1, 1, 1, 0), length.out = nrow(d))
  zw <- glmm(f, data = d, family = binomial, weights = w, control = ctl(importance_seed = 5))
  sub <- glmm(f, data = d[d$w > 0, ], family = binomial, control = ctl(importance_seed = 5))
  expect_equal(zw$theta, sub$theta, tolerance = 1e-6)
  expect_equal(zw$loglik, sub$loglik, tolerance = 1e-10)
  # update() refits the same way
  u <- update(a)
  expect_identical(u$theta, a$theta)
  expect_match(a$optinfo$method, "importance sampling")
})

test_that("methods on importance-sampling fits use its estimates and covariance, and refuse the Laplace-only ones", {
  d <- crossed_design(3)
  f <- yes ~ x + (1 | a) + (1 | b)
  fl <- glmm(f, data = d, family = binomial)
  fi <- glmm(f, data = d, family = binomial,
             control = glmm_control(importance_draws = 1000, importance_seed = 1))
  expect_output(print(fi), "Importance sampling, 1000 draws")
  expect_output(print(summary(fi)), "Importance sampling")
  expect_equal(vcov(fi), fi$cov_theta[1:2, 1:2])
  ci <- confint(fi)
  expect_equal(unname(ci["x", 2]), unname(fi$coefficients[["x"]] + qnorm(0.975) * sqrt(vcov(fi)[2, 2])),
               tolerance = 1e-8)
  expect_error(confint(fi, method = "profile"), "importance-sampling fits")
  expect_error(profile(fi), "importance-sampling fits")
  expect_error(vcov(fi, type = "CR2"), "importance-sampling fits")
  expect_warning(AIC(fl, fi), "different approximations")
  # two fits by the same number of draws are fits by the same approximation
  f0 <- glmm(yes ~ 1 + (1 | a) + (1 | b), data = d, family = binomial,
             control = glmm_control(importance_draws = 1000, importance_seed = 1))
  expect_false(any(grepl("different approximations", attr(anova(f0, fi), "heading"))))
  # random effects and predictions at the importance-sampling estimates
  expect_equal(unname(predict(fi, type = "link")), unname(fi$linear.predictors))
  expect_false(isTRUE(all.equal(fi$linear.predictors, fl$linear.predictors)))
  expect_length(ranef(fi)$a[[1]], 15L)
  # the check on the importance-sampling fit (fresh draws) finds no error
  ck <- loglik_check(fi, draws = 2000, seed = 3)
  expect_lt(abs(ck$difference), 4 * sqrt(ck$se^2 + fi$importance$loglik_se^2))
})

test_that("importance sampling is refused where it has nothing to correct or no engine", {
  d <- crossed_design(4)
  ctl <- glmm_control(importance_draws = 500)
  expect_error(glmm(yes ~ x + (1 | a), data = d, family = binomial, control = ctl),
               "one grouping factor adaptive quadrature gives the likelihood exactly")
  expect_error(glmm(x ~ 1 + (1 | a) + (1 | b), data = d, control = ctl),
               "gaussian identity-link model is exact")
  expect_error(glmm(count ~ x + (1 | a) + (1 | b), data = d, family = poisson, ziformula = ~ 1,
                    control = ctl), "zero-inflation, hurdle or dispersion part")
  expect_error(glmm(yes ~ x + (1 | a) + (1 | b), data = d, family = binomial, nAGQ = 5,
                    control = ctl), "give one of them")
  expect_error(glmm_control(importance_draws = 50), "'importance_draws'")
  expect_error(glmm_control(importance_draws = 1000.5), "'importance_draws'")
  expect_error(glmm_control(importance_df = 0), "'importance_df'")
  expect_error(glmm_control(importance_seed = c(1, 2)), "'importance_seed'")
})

test_that("the salamander mating data: the importance-sampling fit gives the published Monte Carlo EM estimates, Laplace shrinks the variances", {
  skip_if_not_installed("glmm")
  data(salamander, package = "glmm", envir = environment())
  f <- Mate ~ 0 + Cross + (1 | Female) + (1 | Male)
  fl <- glmm(f, data = salamander, family = binomial)
  fi <- glmm(f, data = salamander, family = binomial,
             control = glmm_control(importance_draws = 4000, importance_seed = 1))
  # Booth and Hobert (1999, JRSS B 61, 265-285), Monte Carlo EM on the 60
  # females and 60 males of the three experiments: the four crosses' logits
  # and the female and male variances, to the two decimals published
  published <- c(1.03, 0.32, -1.95, 0.99, 1.40, 1.25)
  est <- function(fit) c(fit$coefficients, fit$theta[c("Female.(Intercept)", "Male.(Intercept)")]^2)
  expect_lt(max(abs(est(fi) - published)), 0.02)
  # Laplace's variances are 0.2 low; the new fit is within 0.01
  expect_true(all(published[5:6] - est(fl)[5:6] > 0.2))
  expect_true(all(abs(est(fi)[5:6] - published[5:6]) < 0.01))
  expect_gt(fi$loglik - fl$loglik, 1.5)
  expect_gt(fi$importance$ess, 200)
})

test_that("AIC() between Laplace and importance-sampling fits names the remedy that works; its nAGQ refuses them", {
  d <- crossed_design(3)
  f <- yes ~ x + (1 | a) + (1 | b)
  fl <- glmm(f, data = d, family = binomial)
  fi <- glmm(f, data = d, family = binomial,
             control = glmm_control(importance_draws = 1000, importance_seed = 1))
  # the warning had told to use AIC(..., nAGQ = 1), which changed nothing
  w <- tryCatch(AIC(fl, fi), warning = conditionMessage)
  expect_match(w, "fi: a refinement of the Laplace approximation set by glmm_control\\(\\).*same glmm_control\\(\\) settings")
  expect_false(grepl("nAGQ = 1", w, fixed = TRUE))
  expect_error(AIC(fl, fi, nAGQ = 1), "'nAGQ' = 1: fi cannot be refitted with it: its likelihood is refined by glmm_control")
  expect_error(BIC(fl, fi, nAGQ = 3), "fl cannot be refitted with it: it has several random-effect terms")
  w <- tryCatch(anova(glmm(yes ~ 1 + (1 | a) + (1 | b), data = d, family = binomial), fi),
                warning = conditionMessage)
  expect_match(w, "same glmm_control\\(\\) settings")
  expect_false(grepl("give nAGQ explicitly", w))
  # the same settings: no warning
  fi0 <- glmm(yes ~ 1 + (1 | a) + (1 | b), data = d, family = binomial,
              control = glmm_control(importance_draws = 1000, importance_seed = 1))
  expect_no_warning(AIC(fi0, fi))
})

test_that("importance_seed is a whole number or an error, needs importance_draws, and reproduces the fit whatever RNGkind()", {
  # 1.5 had been stored as 1 and -3 as 2147483644
  expect_error(glmm_control(importance_draws = 500, importance_seed = 1.5), "'importance_seed' must be NULL or one whole number")
  expect_error(glmm_control(importance_draws = 500, importance_seed = -3), "'importance_seed' must be NULL or one whole number")
  expect_error(glmm_control(importance_draws = 500, importance_seed = 2^31), "'importance_seed'")
  expect_identical(glmm_control(importance_draws = 500, importance_seed = 7)$importance_seed, 7L)
  # without draws they change nothing
  expect_error(glmm_control(importance_seed = 5), "'importance_seed' applies only to importance sampling")
  expect_error(glmm_control(importance_draws = 0, importance_df = 5), "'importance_df' applies only")
  expect_error(glmm_control(importance_seed = 5, importance_df = 5), "'importance_seed' and 'importance_df'")
  expect_s3_class(glmm_control(importance_seed = NULL), "glmmgee_glmm_control")
  # another normal.kind in the session had drawn other proposals from the seed
  d <- crossed_design(2)
  fit <- function() glmm(yes ~ x + (1 | a) + (1 | b), data = d, family = binomial,
                         control = glmm_control(importance_draws = 1000, importance_seed = 5))
  a <- fit()
  old <- RNGkind()
  on.exit(RNGkind(old[1], old[2], old[3]), add = TRUE)
  RNGkind(normal.kind = "Box-Muller")
  set.seed(1)
  b <- fit()
  expect_identical(RNGkind()[2], "Box-Muller")
  expect_identical(rnorm(1), { set.seed(1); rnorm(1) })
  RNGkind(normal.kind = "Inversion")
  expect_identical(b$theta, a$theta)
  expect_identical(a$importance$rng_kind, c("Mersenne-Twister", "Inversion", "Rejection"))
})
