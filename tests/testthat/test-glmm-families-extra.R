# glmm() with nbinom1, beta, beta-binomial, Gamma inverse/identity, gaussian
# log and binomial cauchit: the engine's analytic gradient against numDeriv,
# fits against glmmTMB (Laplace) on the peers' data sets and on simulated
# data with known truth, the sparse engine, and the methods users call.

sim_extra <- function(seed = 5, M = 40, ni = 10) {
  set.seed(seed)
  g <- gl(M, ni); x <- rnorm(M * ni)
  u <- rnorm(M, sd = 0.5)[g]; ug <- rnorm(M, sd = 0.15)[g]
  mu <- plogis(-0.3 + 0.7 * x + u)
  n <- sample(2:15, M * ni, replace = TRUE)
  data.frame(g, x, n,
             yb = rbeta(M * ni, mu * 8, (1 - mu) * 8),
             s = rbinom(M * ni, n, rbeta(M * ni, mu * 5, (1 - mu) * 5)),
             ynb = rnbinom(M * ni, size = exp(0.5 + 0.4 * x + u) / 2, mu = exp(0.5 + 0.4 * x + u)),
             yginv = rgamma(M * ni, shape = 3, rate = 3 * (1 + 0.2 * x + ug)),
             ygid = rgamma(M * ni, shape = 3, rate = 3 / (2 + 0.3 * x + 2 * ug)),
             yn = rnorm(M * ni, exp(1 + 0.3 * x + u), 0.5))
}

test_that("analytic gradient in beta, Lambda and the log-dispersion equals numDeriv", {
  skip_if_not_installed("numDeriv")
  d <- sim_extra(M = 20, ni = 6)
  X <- cbind(1, d$x)
  cases <- list(list(nbinom1(), d$ynb, 1, c(0.5, 0.4)),
                list(beta_family(), d$yb, 1, c(-0.3, 0.7)),
                list(betabinomial(), d$s / d$n, d$n, c(-0.3, 0.7)),
                list(Gamma("inverse"), d$yginv, 1, c(1, 0.2)),
                list(Gamma("identity"), d$ygid, 1, c(2, 0.3)),
                list(gaussian("log"), d$yn, 1, c(1, 0.3)),
                list(binomial("cauchit"), d$s / d$n, d$n, c(-0.3, 0.7)))
  for (cs in cases) for (q in 1:2) for (K in c(1L, 5L)) {
    fam <- glmmgee:::resolve_family(cs[[1]])
    n <- nrow(d)
    w <- if (length(cs[[3]]) == 1L) rep(1, n) else cs[[3]]
    Z <- if (q == 1) matrix(1, n, 1) else cbind(1, d$x)
    pat <- glmmgee:::block_pattern(q)
    eng <- glmmgee:::cpp_agq_new(X, Z, as.numeric(cs[[2]]), as.numeric(w), rep(0, n), as.integer(d$g),
                                 nlevels(d$g), pat$row - 1L, pat$col - 1L, fam$family_code,
                                 fam$link_code, K, 1L)
    # Gamma's inverse and identity links need small effects to keep mu > 0.
    lam <- if (fam$family == "Gamma") c(0.1, 0.02, 0.05) else c(0.5, -0.2, 0.3)
    theta <- c(cs[[4]], lam[seq_along(pat$row)],
               if (glmmgee:::has_dispersion(fam)) log(1.7))
    an <- glmmgee:::cpp_agq_eval(eng, theta, TRUE)$gradient
    nd <- numDeriv::grad(function(th) {
      glmmgee:::cpp_agq_reset(eng)
      glmmgee:::cpp_agq_eval(eng, th, FALSE)$loglik
    }, theta)
    expect_lt(max(abs(an - nd)) / max(abs(nd)), 1e-6,
              label = sprintf("%s(%s), q = %d, nAGQ = %d", fam$family, fam$link, q, K))
  }
})

test_that("nbinom1 on glmmTMB's Salamanders and Owls matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  f <- count ~ mined + spp + (1 | site)
  ours <- glmm(f, data = Salamanders, family = nbinom1(), nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(f, data = Salamanders, family = glmmTMB::nbinom1())
  expect_as_glmmtmb(ours, tmb)
  expect_identical(ours$family_par$estimate, sigma(ours))
  expect_output(print(ours), "NB1 dispersion phi \\(conditional Var = mu \\(1 \\+ phi\\)\\): ")
  expect_output(print(summary(ours)), "phi.*\\(SE ")
  data(Owls, package = "glmmTMB", envir = environment())
  f <- SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)
  ours <- glmm(f, data = Owls, family = nbinom1(), nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(f, data = Owls, family = glmmTMB::nbinom1())
  expect_as_glmmtmb(ours, tmb)
  se_log_tmb <- sqrt(vcov(tmb, full = TRUE)[tmb_disp_label("(Intercept)"), tmb_disp_label("(Intercept)")])
  expect_equal(ours$family_par$se_log, unname(se_log_tmb), tolerance = 2e-3)
})

test_that("betabinomial on lme4's cbpp matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  ours <- suppressWarnings(glmm(f, data = cbpp, family = betabinomial(), nAGQ = 1))
  tmb <- glmmTMB::glmmTMB(f, data = cbpp, family = glmmTMB::betabinomial())
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_equal(sigma(ours), sigma(tmb), tolerance = 1e-3)
  d <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
  expect_gt(d, -1e-4)
  expect_lt(abs(d), 1e-3)
  expect_identical(attr(logLik(ours), "df"), attr(logLik(tmb), "df"))
})

test_that("simulated data: beta, beta-binomial, nbinom1 near the truth and equal to glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_extra()
  fits <- list(
    list(yb ~ x + (1 | g), beta_family(), glmmTMB::beta_family(), 8),
    list(cbind(s, n - s) ~ x + (1 | g), betabinomial(), glmmTMB::betabinomial(), 5),
    list(ynb ~ x + (1 | g), nbinom1(), glmmTMB::nbinom1(), 2))
  for (cs in fits) {
    ours <- glmm(cs[[1]], data = d, family = cs[[2]], nAGQ = 1)
    tmb <- glmmTMB::glmmTMB(cs[[1]], data = d, family = cs[[3]])
    expect_as_glmmtmb(ours, tmb)
    truth <- if (cs[[2]]$family == "nbinom1") c(0.5, 0.4) else c(-0.3, 0.7)
    se <- sqrt(diag(vcov(ours)))
    expect_true(all(abs(fixef(ours) - truth) < 4 * se), label = cs[[2]]$family)
    expect_lt(abs(log(sigma(ours) / cs[[4]])), 4 * ours$family_par$se_log)
  }
})

test_that("Gamma inverse and identity, gaussian log: equal to glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_extra()
  fits <- list(list(yginv ~ x + (1 | g), Gamma("inverse")),
               list(ygid ~ x + (1 | g), Gamma("identity")),
               list(yn ~ x + (1 | g), gaussian("log")))
  for (cs in fits) {
    ours <- glmm(cs[[1]], data = d, family = cs[[2]], nAGQ = 1)
    # glmmTMB's default start (beta = 0) is outside the inverse and
    # identity links' domain: it starts from the GLM.
    st <- coef(glm(lme4::nobars(cs[[1]]), data = d, family = cs[[2]],
                   mustart = rep(mean(d[[all.vars(cs[[1]])[1]]]), nrow(d))))
    tmb <- suppressWarnings(glmmTMB::glmmTMB(cs[[1]], data = d, family = cs[[2]],
                                             start = list(beta = st)))
    expect_as_glmmtmb(ours, tmb)
  }
  ours <- glmm(yn ~ x + (1 | g), data = d, family = gaussian("log"))
  expect_false(grepl("exact", glmmgee:::approximation_label(ours)))
})

test_that("cauchit on cbpp by AGHQ: a log-likelihood at least GLMMadaptive's", {
  skip_if_not_installed("GLMMadaptive")
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  ours <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
               family = binomial("cauchit"), nAGQ = 11)
  ga <- GLMMadaptive::mixed_model(cbind(incidence, size - incidence) ~ period, random = ~ 1 | herd,
                                  data = cbpp, family = binomial("cauchit"), nAGQ = 11)
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ga)), -1e-4)
  expect_equal(unname(fixef(ours)), unname(GLMMadaptive::fixef(ga)), tolerance = 5e-3)
})

test_that("beta and beta-binomial by AGHQ equal GLMMadaptive's", {
  skip_if_not_installed("GLMMadaptive")
  d <- sim_extra()
  d$f <- d$n - d$s
  ours <- glmm(yb ~ x + (1 | g), data = d, family = beta_family(), nAGQ = 11)
  ga <- GLMMadaptive::mixed_model(yb ~ x, random = ~ 1 | g, data = d,
                                  family = GLMMadaptive::beta.fam(), nAGQ = 11)
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ga)), -1e-4)
  expect_equal(unname(fixef(ours)), unname(GLMMadaptive::fixef(ga)), tolerance = 1e-4)
  expect_equal(sigma(ours), exp(ga$phis[[1]]), tolerance = 1e-3)
  ours <- glmm(cbind(s, f) ~ x + (1 | g), data = d, family = betabinomial(), nAGQ = 11)
  ga <- GLMMadaptive::mixed_model(cbind(s, f) ~ x, random = ~ 1 | g, data = d,
                                  family = GLMMadaptive::beta.binomial(), nAGQ = 11)
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ga)), -1e-4)
  expect_equal(unname(fixef(ours)), unname(GLMMadaptive::fixef(ga)), tolerance = 2e-3)
  expect_equal(sigma(ours), exp(ga$phis[[1]]), tolerance = 1e-3)
})

test_that("several terms: the sparse Laplace engine matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_extra()
  set.seed(9)
  d$h <- factor(sample(letters[1:8], nrow(d), replace = TRUE))
  for (cs in list(list(yb ~ x + (1 | g) + (1 | h), beta_family(), glmmTMB::beta_family()),
                  list(ynb ~ x + (1 | g) + (1 | h), nbinom1(), glmmTMB::nbinom1()),
                  list(cbind(s, n - s) ~ x + (1 | g) + (1 | h), betabinomial(),
                       glmmTMB::betabinomial()))) {
    ours <- suppressWarnings(glmm(cs[[1]], data = d, family = cs[[2]]))
    expect_s3_class(ours, "glmmgee_glmm_sparse")
    tmb <- suppressWarnings(glmmTMB::glmmTMB(cs[[1]], data = d, family = cs[[3]]))
    expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
    expect_equal(sigma(ours), sigma(tmb), tolerance = 1e-3)
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(tmb)), -1e-4)
  }
})

test_that("several terms with non-canonical links: Gamma inverse/identity, gaussian log match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_extra()
  set.seed(9)
  d$h <- factor(sample(letters[1:8], nrow(d), replace = TRUE))
  for (cs in list(list(yginv ~ x + (1 | g) + (1 | h), Gamma("inverse")),
                  list(ygid ~ x + (1 | g) + (1 | h), Gamma("identity")),
                  list(yn ~ x + (1 | g) + (1 | h), gaussian("log")))) {
    ours <- suppressWarnings(glmm(cs[[1]], data = d, family = cs[[2]]))
    st <- coef(glm(lme4::nobars(cs[[1]]), data = d, family = cs[[2]],
                   mustart = rep(mean(d[[all.vars(cs[[1]])[1]]]), nrow(d))))
    tmb <- suppressWarnings(glmmTMB::glmmTMB(cs[[1]], data = d, family = cs[[2]],
                                             start = list(beta = st)))
    expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
    expect_equal(sigma(ours), sigma(tmb), tolerance = 1e-3)
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(tmb)), -1e-4)
  }
})

test_that("print, summary and VarCorr show phi once each, as a conditional parameter", {
  d <- sim_extra()
  fit <- glmm(ynb ~ x + (1 | g), data = d, family = nbinom1(), nAGQ = 5)
  expect_output(print(VarCorr(fit)), "phi = ")
  out <- capture.output(print(summary(fit)))
  expect_length(grep("phi", out), 1L)
  expect_match(out[grep("phi", out)], "conditional Var")
})

test_that("AGHQ settles as nAGQ grows", {
  d <- sim_extra()
  for (fam in list(beta_family(), nbinom1())) {
    f <- if (fam$family == "beta") yb ~ x + (1 | g) else ynb ~ x + (1 | g)
    ll <- vapply(c(5L, 9L, 15L), function(k) as.numeric(logLik(glmm(f, data = d, family = fam,
                                                                     nAGQ = k))), 0)
    expect_lt(abs(ll[3] - ll[2]), 1e-3)
  }
})

test_that("simulate(), predict(type = 'response'), marginal means and sigma()", {
  d <- sim_extra()
  fb <- glmm(yb ~ x + (1 | g), data = d, family = beta_family(), nAGQ = 5)
  set.seed(1)
  sims <- simulate(fb, nsim = 200)
  expect_true(all(sims > 0 & sims < 1))
  # simulated mean and variance at the fit: the beta variance shrinks by 1 + phi
  expect_equal(mean(as.matrix(sims)), mean(d$yb), tolerance = 0.05)
  expect_equal(unname(predict(fb, type = "response")), unname(plogis(predict(fb))))
  expect_equal(family(fb)$phi, sigma(fb))
  mc <- coef(marginal_coefs(fb))
  # the population-averaged slope is attenuated relative to the conditional one
  expect_lt(abs(mc[[2]]), abs(fixef(fb)[[2]]))

  fbb <- glmm(cbind(s, n - s) ~ x + (1 | g), data = d, family = betabinomial(), nAGQ = 5)
  sb <- simulate(fbb, nsim = 2, seed = 3)
  expect_true(is.matrix(sb[[1]]) && all(rowSums(sb[[1]]) == d$n))
  # standardized means on the response scale: the mean over the random
  # effect's normal distribution, the same at every row (x is the only covariate)
  st <- standardize(fbb, "x", values = c(-1, 1))
  sdr <- attr(VarCorr(fbb)[[1]], "stddev")
  z <- qnorm(ppoints(4000))
  pa <- function(x) mean(plogis(fixef(fbb)[[1]] + fixef(fbb)[[2]] * x + sdr * z))
  expect_equal(st$estimate[1:2], c(pa(-1), pa(1)), tolerance = 1e-3)
  fnb <- glmm(ynb ~ x + (1 | g), data = d, family = nbinom1(), nAGQ = 5)
  s1 <- simulate(fnb, nsim = 300, seed = 4)
  mu <- fitted(fnb)
  # conditional on the fitted random effects? no: simulate() draws new ones;
  # the overall mean is what can be checked
  expect_equal(mean(as.matrix(s1)), mean(d$ynb), tolerance = 0.1)
  fg <- glmm(yginv ~ x + (1 | g), data = d, family = Gamma("inverse"), nAGQ = 5)
  expect_true(all(as.matrix(simulate(fg, nsim = 3, seed = 1)) > 0))
})


gamma_identity_data <- function() {
  set.seed(2)
  g <- rep(1:30, each = 8)
  x <- runif(240)
  mu <- 5 + 2 * x + rnorm(30, 0, 1)[g]
  data.frame(y = rgamma(240, shape = 4, rate = 4 / mu), x = x, g = g)
}

test_that("Gamma with the identity link: quadrature nodes with a mean <= 0 give Laplace, not an nlminb error", {
  # The default nAGQ (11) switched on at the Laplace optimum put nodes of
  # low clusters at a negative mean: NaN log-likelihood, and nlminb stopped
  # with "NA/NaN gradient evaluation".
  skip_if_not_installed("glmmTMB")
  d <- gamma_identity_data()
  expect_warning(f <- glmm(y ~ x + (1 | g), data = d, family = Gamma("identity")),
                 "outside the family's support.*fitted by Laplace")
  expect_identical(f$nAGQ, 1L)
  ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = Gamma("identity"))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(ref)), tolerance = 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-4)
  # Asked for explicitly, quadrature is refused with the reason and the advice.
  expect_error(glmm(y ~ x + (1 | g), data = d, family = Gamma("identity"), nAGQ = 11),
               "nAGQ = 11 puts nodes where the mean is outside.*nAGQ = 1")
})

test_that("a beta-binomial fit to a binary response is refused: phi is not identified", {
  # Before: a fit with "doubtful convergence" and no standard errors.
  data(bacteria, package = "MASS")
  expect_error(glmm(y ~ trt + (1 | ID), data = bacteria, family = betabinomial()),
               "betabinomial\\(\\) with one trial per observation.*use binomial")
  expect_error(glmm(y ~ trt + (1 | ID) + (1 | week), data = bacteria, family = betabinomial()),
               "one trial per observation")
  # Trials given: fitted as before.
  data(cbpp, package = "lme4")
  expect_warning(f <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                           family = betabinomial()), "singular fit")
  expect_true(is.finite(logLik(f)))
})
