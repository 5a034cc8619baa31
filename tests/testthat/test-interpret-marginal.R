test_that("the marginal mean integral is exact against integrate()", {
  fam <- binomial()
  for (s in c(0.3, 2, 6, 12)) for (eta in c(-4, 0.5, 3)) {
    ex <- integrate(function(t) plogis(eta + s * t) * dnorm(t), -Inf, Inf,
                    rel.tol = 1e-12)$value
    got <- glmmgee:::marginal_mean(eta, s, fam, derivs = TRUE)
    expect_equal(got$mean, ex, tolerance = 1e-10)
    dex <- integrate(function(t) t * dlogis(eta + s * t) * dnorm(t), -Inf, Inf,
                     rel.tol = 1e-12)$value
    expect_equal(got$d_s, dex, tolerance = 1e-8)
  }
  # log link: E exp(eta + sT) = exp(eta + s^2 / 2)
  got <- glmmgee:::marginal_mean(c(0.2, -1), c(1.5, 3), poisson())$mean
  expect_equal(got, exp(c(0.2, -1) + c(1.5, 3)^2 / 2), tolerance = 1e-12)
})

test_that("probit random intercept: gamma = beta / sqrt(1 + sigma^2) exactly", {
  skip_if_not_installed("MASS")
  fit <- glmm(y ~ trt + late + (1 | ID), data = interp_bacteria(),
              family = binomial("probit"))
  mc <- marginal_coefs(fit)
  sigma <- sqrt(fit$D[1, 1])
  expect_equal(coef(mc), fixef(fit) / sqrt(1 + sigma^2), tolerance = 1e-6)
  expect_lt(max(abs(coef(mc) - fixef(fit) / sqrt(1 + sigma^2))), 1e-10)
  # the delta-method covariance of that closed form, by numerical derivatives
  skip_if_not_installed("numDeriv")
  f <- function(th) th[1:4] / sqrt(1 + th[5]^2)
  J <- numDeriv::jacobian(f, fit$theta)
  expect_equal(unname(vcov(mc)), unname(J %*% vcov(fit, full = TRUE) %*% t(J)),
               tolerance = 1e-6)
})

test_that("identity link returns beta; log link with a random intercept shifts the intercept", {
  skip_if_not_installed("lme4")
  fit <- glmm(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy)
  expect_equal(coef(marginal_coefs(fit)), fixef(fit), tolerance = 1e-10)
  d <- sim_counts_offset()
  pf <- glmm(count ~ x + offset(log(expo)) + (1 | id), data = d, family = poisson)
  g <- coef(marginal_coefs(pf, std_errors = FALSE))
  expect_equal(g, fixef(pf) + c(pf$D[1, 1] / 2, 0), tolerance = 1e-10)
})

test_that("marginal_coefs agrees with GLMMadaptive (their Monte Carlo error)", {
  skip_if_not_installed("GLMMadaptive")
  skip_if_not_installed("MASS")
  d <- interp_bacteria()
  fit <- interp_logit_glmm()
  gm <- GLMMadaptive::mixed_model(y ~ trt + late, random = ~ 1 | ID, data = d,
                                  family = binomial, nAGQ = 11)
  # Same parameters on both sides, so that only the integration differs.
  at <- fit
  at$theta[1:4] <- GLMMadaptive::fixef(gm)
  at$theta[5] <- sqrt(gm$D[1, 1])
  ours <- coef(marginal_coefs(at, std_errors = FALSE))
  # GLMMadaptive integrates by Monte Carlo (M draws per cluster); with
  # M = 4e5 its error, measured from seed to seed, is about 1e-3 relative.
  theirs <- GLMMadaptive::marginal_coefs(gm, M = 4e5L)$betas
  expect_lt(max(abs(ours / theirs - 1)), 3e-3)
  # Standard errors: theirs by parametric simulation (100 draws, about 7%
  # Monte Carlo error), ours by the delta method, at each package's fit.
  gs <- GLMMadaptive::marginal_coefs(gm, std_errors = TRUE, cores = 1L)
  ratio <- sqrt(diag(vcov(marginal_coefs(fit)))) / sqrt(diag(gs$var_betas))
  expect_true(all(ratio > 0.75 & ratio < 1.33))
})

test_that("large sigma: marginal effects are attenuated, and compare_views shows it", {
  d <- sim_large_sigma()
  cv <- compare_views(y ~ x + (1 | id), data = d, family = binomial)
  fit <- attr(cv, "glmm")
  expect_gt(sqrt(fit$D[1, 1]), 2)
  row <- cv[cv$term == "x", ]
  expect_lt(row$marginal_glmm, 0.75 * row$conditional)
  expect_lt(row$ratio, 0.75)
  # the GEE estimates the marginal effect: close to the GLMM-implied one
  expect_lt(abs(row$gee - row$marginal_glmm), 2 * (row$gee.high - row$gee.low) / 3.92)
  expect_gt(row$conditional, row$cond.high - (row$cond.high - row$cond.low))
  expect_output(print(cv), "marginal_glmm / conditional")
  # exponentiate gives odds ratios
  cve <- compare_views(fit, attr(cv, "gee"), exponentiate = TRUE)
  expect_equal(cve$conditional, exp(cv$conditional), tolerance = 1e-12)
})

test_that("compare_views rejects mismatched fits", {
  skip_if_not_installed("MASS")
  d <- interp_bacteria()
  other <- gee(y ~ late, data = d, id = ID, family = binomial)
  expect_error(compare_views(interp_logit_glmm(), other), "different mean models")
  expect_error(compare_views(interp_gee()), "'x' must be a fit from glmm")
  expect_error(compare_views(y ~ late, data = d, family = binomial), "no random-effect term")
})


test_that("marginal odds ratios of gee() and marginal_coefs() per a step delta", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  bacteria$wk <- bacteria$week * 1e-6 + 3
  g <- gee(y ~ trt + wk, data = bacteria, id = ID, family = binomial, corstr = "exchangeable")
  g0 <- gee(y ~ trt + week, data = bacteria, id = ID, family = binomial, corstr = "exchangeable")
  # Per unit of wk (a step of -1.2e5 on the log-odds scale): the warning
  # suggests a step whose log odds ratio is about 1.
  expect_warning(odds_ratios(g, parm = "wk"), "delta = c\\(wk = 1e-05\\)")
  o <- expect_no_warning(odds_ratios(g, parm = "wk", delta = c(wk = 1e-6)))
  o0 <- odds_ratios(g0, parm = "week")
  expect_equal(o$estimate, o0$estimate, tolerance = 1e-5)
  expect_equal(o$conf.low, o0$conf.low, tolerance = 1e-5)
  expect_equal(o$p.value, o0$p.value, tolerance = 1e-5)
  # Two weeks: the odds ratio per week squared (a logit-linear model).
  o2 <- odds_ratios(g0, parm = "week", delta = 2)
  expect_equal(o2$estimate, o0$estimate^2)
  fm <- glmm(y ~ trt + wk + (1 | ID), data = bacteria, family = binomial)
  mc <- marginal_coefs(fm)
  om <- expect_no_warning(odds_ratios(mc, parm = "wk", delta = c(wk = 1e-6)))
  expect_equal(log(om$estimate), 1e-6 * unname(mc$coefficients["wk"]))
  data(epil, package = "MASS", envir = environment())
  epil$lb <- epil$lbase * 1e-6
  rr <- rate_ratios(gee(y ~ trt + lb, data = epil, id = subject, family = poisson), parm = "lb",
                    delta = 1e-6)
  rr0 <- rate_ratios(gee(y ~ trt + lbase, data = epil, id = subject, family = poisson), parm = "lbase")
  expect_equal(rr$estimate, rr0$estimate, tolerance = 1e-6)
})

test_that("links with a pole: marginal means are refused where the random effect reaches it", {
  set.seed(6)
  d <- data.frame(g = factor(rep(1:20, each = 8)), x = runif(160))
  b <- rnorm(20, 0, .3)
  mu <- 1 / (1 + .5 * d$x + b[d$g])
  d$y <- rgamma(160, 5, 5 / abs(mu))
  fi <- glmm(y ~ x + (1 | g), data = d, family = Gamma("inverse"), nAGQ = 1)
  expect_error(marginal_coefs(fi), "not defined: the normal random effect puts probability .* far side of eta = 0")
  expect_error(standardize(fi, "x", values = c(0, 1)), "pole")
  # E[1 / (eta + sT)] diverges for any s > 0 whose normal reaches the pole;
  # far from it the rule is the integral over the normal's effective range
  fam <- Gamma("inverse")
  expect_error(glmmgee:::marginal_mean(1, 0.3, fam), "probability 0.00043")
  ex <- integrate(function(t) 1 / (40 + 0.3 * t) * dnorm(t), -Inf, Inf, rel.tol = 1e-12)$value
  expect_equal(glmmgee:::marginal_mean(40, 0.3, fam)$mean, ex, tolerance = 1e-10)
  expect_error(glmmgee:::marginal_mean(2, 0.3, Gamma("1/mu^2")), "pole")
})
