# glmm() against established implementations (lme4, GLMMadaptive, glmmTMB),
# against an independent R computation of the approximated likelihood, and
# against the truth in simulated data; the engine's analytic gradient against
# numerical differentiation; invariances of the fit.
#
# Tolerances: the peers stop their optimizers at ~1e-4 to 1e-3 relative
# precision in the estimates (lme4's Laplace fits) and our log-likelihood
# must then be at least as high as theirs (less 1e-4). Where the peer is
# precise (lmer, glmer with nAGQ > 1, GLMMadaptive with tight tolerances,
# glmmTMB) the estimates must agree to 1e-4 or better.

ref_vc_sd <- function(g) attr(lme4::VarCorr(g)[[1]], "stddev")
ref_vc_sd_all <- function(g) unlist(lapply(lme4::VarCorr(g), attr, "stddev"))

# ---- The approximated likelihood itself ------------------------------------

test_that("engine's Laplace and AGHQ values equal an independent R computation", {
  # At arbitrary parameter values (not estimates), one random intercept.
  cb <- lme4::cbpp
  fit_cb <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cb,
                 family = binomial, nAGQ = 1)
  bac <- bacteria_data()
  cnt <- sim_counts_offset()
  cases <- list(
    list(fit = fit_cb, fam = binomial(), beta = c(-1.2, -0.9, -1.1, -1.6), sd = 0.8),
    list(fit = glmm(y ~ trt + late + (1 | ID), bac, family = binomial("probit"), nAGQ = 1),
         fam = binomial("probit"), beta = c(1.8, -0.7, -0.4, -0.8), sd = 0.9),
    list(fit = glmm(y ~ trt + late + (1 | ID), bac, family = binomial("cloglog"), nAGQ = 1),
         fam = binomial("cloglog"), beta = c(1.3, -0.6, -0.3, -0.7), sd = 0.5),
    list(fit = glmm(count ~ x + offset(log(expo)) + (1 | id), cnt, family = poisson, nAGQ = 1),
         fam = poisson(), beta = c(0.2, 0.6), sd = 0.7))
  for (cs in cases) for (K in c(1L, 5L, 15L)) {
    f <- cs$fit
    ours <- loglik_at(f, c(cs$beta, cs$sd), nAGQ = K)
    ref <- ri_loglik_r(cs$beta, cs$sd, f$X, f$y, f$prior.weights, f$offset, f$group,
                       cs$fam, K = K)
    expect_equal(ours, ref, tolerance = 1e-8,
                 info = sprintf("%s(%s), nAGQ = %d", cs$fam$family, cs$fam$link, K))
  }
})

# ---- lme4::glmer, Laplace ---------------------------------------------------

expect_matches_glmer_laplace <- function(fit, g, label) {
  expect_equal(unname(fit$coefficients), unname(lme4::fixef(g)), tolerance = 1e-3,
               label = paste(label, "fixed effects"))
  expect_equal(unname(sqrt(diag(fit$D))), unname(ref_vc_sd(g)), tolerance = 1e-3,
               label = paste(label, "random-effect SD"))
  ll_g <- as.numeric(stats::logLik(g))
  expect_gt(fit$loglik, ll_g - 1e-4, label = paste(label, "logLik"))
  expect_lt(abs(fit$loglik - ll_g), 1e-2, label = paste(label, "|delta logLik|"))
  # Our optimum is the maximum of our function: at lme4's estimates our
  # log-likelihood is no higher.
  th_g <- theta_of(fit, lme4::fixef(g), diag(ref_vc_sd(g)^2, length(ref_vc_sd(g))))
  expect_gte(fit$loglik, loglik_at(fit, th_g) - 1e-8, label = paste(label, "optimality"))
}

test_that("Laplace fits agree with glmer: binomial cbind (cbpp)", {
  skip_if_not_installed("lme4")
  cb <- lme4::cbpp
  fo <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  fit <- glmm(fo, cb, family = binomial, nAGQ = 1)
  g <- glmer_ref(fo, cb, family = binomial)
  expect_matches_glmer_laplace(fit, g, "cbpp")
  expect_identical(fit$optinfo$warnings, character())
})

test_that("Laplace fits agree with glmer: binary (MASS::bacteria)", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("MASS")
  fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), MASS::bacteria, family = binomial, nAGQ = 1)
  g <- glmer_ref(y ~ trt + I(week > 2) + (1 | ID), MASS::bacteria, family = binomial)
  expect_matches_glmer_laplace(fit, g, "bacteria")
  expect_identical(fit$optinfo$warnings, character())
})

test_that("Laplace fits agree with glmer: poisson with an offset", {
  skip_if_not_installed("lme4")
  d <- sim_counts_offset()
  fit <- glmm(count ~ x + offset(log(expo)) + (1 | id), d, family = poisson, nAGQ = 1)
  g <- glmer_ref(count ~ x + offset(log(expo)) + (1 | id), d, family = poisson)
  expect_matches_glmer_laplace(fit, g, "poisson offset")
  expect_identical(fit$optinfo$warnings, character())
  # The offset argument is the same as an offset() term.
  fit2 <- glmm(count ~ x + (1 | id), d, family = poisson, nAGQ = 1, offset = log(expo))
  expect_equal(fit2$coefficients, fit$coefficients, tolerance = 1e-10)
  expect_equal(fit2$loglik, fit$loglik, tolerance = 1e-12)
})

test_that("Laplace fits agree with glmer: poisson (MASS::epil)", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("MASS")
  fo <- y ~ lbase * trt + lage + V4 + (1 | subject)
  fit <- glmm(fo, MASS::epil, family = poisson, nAGQ = 1)
  g <- glmer_ref(fo, MASS::epil, family = poisson)
  expect_matches_glmer_laplace(fit, g, "epil")
  expect_identical(fit$optinfo$warnings, character())
})

test_that("probit and cloglog: Laplace uses the observed curvature (lme4 the expected)", {
  skip_if_not_installed("lme4")
  # For non-canonical links lme4's Laplace approximation takes the curvature
  # at the mode from the Fisher information (PIRLS weights), not from the
  # Hessian of the integrand, so its logLik is a different approximation
  # (bacteria, cloglog: ~0.7 lower). Check each against the R computation of
  # the approximation it claims, at lme4's estimates; then compare the
  # estimates where both converge to the exact integral (nAGQ = 25).
  bac <- bacteria_data()
  for (lk in c("probit", "cloglog")) {
    fam <- binomial(lk)
    g <- glmer_ref(y ~ trt + late + (1 | ID), bac, family = fam)
    fit <- glmm(y ~ trt + late + (1 | ID), bac, family = fam, nAGQ = 1)
    b <- lme4::fixef(g); s <- unname(ref_vc_sd(g))
    obs <- ri_loglik_r(b, s, fit$X, fit$y, fit$prior.weights, fit$offset, fit$group, fam)
    expd <- ri_loglik_r(b, s, fit$X, fit$y, fit$prior.weights, fit$offset, fit$group, fam,
                        curvature = "expected")
    expect_equal(loglik_at(fit, c(b, s)), obs, tolerance = 1e-8, info = lk)
    expect_equal(as.numeric(stats::logLik(g)), expd, tolerance = 1e-5, info = lk)
    expect_gte(fit$loglik, loglik_at(fit, c(b, s)), label = paste(lk, "optimality"))

    g25 <- glmer_ref(y ~ trt + late + (1 | ID), bac, family = fam, nAGQ = 25)
    f25 <- glmm(y ~ trt + late + (1 | ID), bac, family = fam, nAGQ = 25)
    expect_equal(unname(f25$coefficients), unname(lme4::fixef(g25)), tolerance = 1e-4, info = lk)
    expect_equal(sqrt(f25$D[1, 1]), unname(ref_vc_sd(g25)), tolerance = 1e-4, info = lk)
    # Binary data: no binomial coefficients, so lme4's nAGQ > 1 value is complete.
    expect_equal(f25$loglik, as.numeric(stats::logLik(g25)), tolerance = 1e-6, info = lk)
  }
  # cbpp (binomial counts), probit and cloglog, at nAGQ = 25.
  cb <- lme4::cbpp
  fo <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  for (lk in c("probit", "cloglog")) {
    g25 <- glmer_ref(fo, cb, family = binomial(lk), nAGQ = 25)
    f25 <- glmm(fo, cb, family = binomial(lk), nAGQ = 25)
    expect_equal(unname(f25$coefficients), unname(lme4::fixef(g25)), tolerance = 1e-4, info = lk)
    expect_equal(sqrt(f25$D[1, 1]), unname(ref_vc_sd(g25)), tolerance = 1e-4, info = lk)
  }
})

# ---- glmer with nAGQ > 1 -----------------------------------------------------

test_that("AGHQ fits agree with glmer(nAGQ > 1) and settle as nAGQ grows", {
  skip_if_not_installed("lme4")
  bac <- bacteria_data()
  est <- list()
  for (K in c(10L, 25L)) {
    g <- glmer_ref(y ~ trt + late + (1 | ID), bac, family = binomial, nAGQ = K)
    f <- glmm(y ~ trt + late + (1 | ID), bac, family = binomial, nAGQ = K)
    expect_equal(unname(f$coefficients), unname(lme4::fixef(g)), tolerance = 1e-4, info = K)
    expect_equal(sqrt(f$D[1, 1]), unname(ref_vc_sd(g)), tolerance = 1e-4, info = K)
    expect_gte(f$loglik, loglik_at(f, c(lme4::fixef(g), ref_vc_sd(g))) - 1e-8)
  }
  for (K in c(1L, 11L, 15L, 25L)) {
    f <- glmm(y ~ trt + late + (1 | ID), bac, family = binomial, nAGQ = K,
              control = glmm_control(hessian = TRUE))
    est[[as.character(K)]] <- c(f$coefficients, sqrt(f$D[1, 1]))
  }
  d <- function(a, b) max(abs(est[[a]] - est[[b]]))
  expect_lt(d("15", "25"), 0.01 * d("1", "25"))
  expect_lt(d("15", "25"), d("11", "25"))
  expect_lt(d("15", "25"), 1e-4)

  # Binomial counts: lme4's nAGQ > 1 log-likelihood is built from deviance
  # residuals, i.e. it is relative to the saturated model; ours is the full
  # one, so the two differ by exactly the saturated log-likelihood.
  cb <- lme4::cbpp
  fo <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  g <- glmer_ref(fo, cb, family = binomial, nAGQ = 11)
  f <- glmm(fo, cb, family = binomial, nAGQ = 11)
  expect_equal(unname(f$coefficients), unname(lme4::fixef(g)), tolerance = 1e-4)
  saturated <- sum(dbinom(cb$incidence, cb$size, cb$incidence / cb$size, log = TRUE))
  expect_equal(f$loglik - as.numeric(stats::logLik(g)), saturated, tolerance = 1e-6)
})

test_that("AGHQ with one random effect agrees with GLMMadaptive (estimates and full logLik)", {
  skip_if_not_installed("GLMMadaptive")
  cb <- lme4::cbpp
  m <- GLMMadaptive::mixed_model(cbind(incidence, size - incidence) ~ period,
                                 random = ~ 1 | herd, data = cb, family = binomial(),
                                 nAGQ = 11, control = glmmadaptive_tight)
  f <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cb,
            family = binomial, nAGQ = 11)
  expect_equal(unname(f$coefficients), unname(GLMMadaptive::fixef(m)), tolerance = 1e-4)
  expect_equal(f$D[1, 1], m$D[1, 1], tolerance = 1e-4)
  expect_equal(f$loglik, as.numeric(stats::logLik(m)), tolerance = 1e-6)
})

# ---- Two correlated random effects: GLMMadaptive ----------------------------

test_that("correlated intercept and slope agree with GLMMadaptive: MASS::epil (poisson)", {
  skip_if_not_installed("GLMMadaptive")
  skip_if_not_installed("MASS")
  ep <- MASS::epil
  ep$visit <- (ep$period - 2.5) / 2
  f <- glmm(y ~ lbase * trt + lage + visit + (1 + visit | subject), ep,
            family = poisson, nAGQ = 11)
  m <- GLMMadaptive::mixed_model(y ~ lbase * trt + lage + visit, random = ~ visit | subject,
                                 data = ep, family = poisson(), nAGQ = 11,
                                 control = glmmadaptive_tight)
  expect_false(f$singular)
  expect_identical(f$optinfo$warnings, character())
  expect_equal(unname(f$coefficients), unname(GLMMadaptive::fixef(m)), tolerance = 1e-4)
  expect_equal(unname(f$D), unname(m$D[, ]), tolerance = 1e-4)
  ll_m <- as.numeric(stats::logLik(m))
  expect_gt(f$loglik, ll_m - 1e-4)
  expect_lt(abs(f$loglik - ll_m), 1e-3)
  expect_gte(f$loglik, loglik_at(f, theta_of(f, GLMMadaptive::fixef(m), m$D)) - 1e-8)
})

test_that("correlated intercept and slope agree with GLMMadaptive: simulated binary", {
  skip_if_not_installed("GLMMadaptive")
  sim <- sim_binary_q2()
  f <- cached("fit_binary_q2_K11",
              glmm(y ~ time + trt + (1 + time | id), sim$data, family = binomial, nAGQ = 11))
  m <- GLMMadaptive::mixed_model(y ~ time + trt, random = ~ time | id, data = sim$data,
                                 family = binomial(), nAGQ = 11, control = glmmadaptive_tight)
  expect_false(f$singular)
  expect_equal(unname(f$coefficients), unname(GLMMadaptive::fixef(m)), tolerance = 1e-4)
  expect_equal(unname(f$D), unname(m$D[, ]), tolerance = 1e-3)
  # The two product grids are oriented differently (different square roots
  # of the curvature), so at nAGQ = 11 the approximations differ slightly.
  ll_m <- as.numeric(stats::logLik(m))
  expect_lt(abs(f$loglik - ll_m), 1e-3)
  expect_gte(f$loglik, loglik_at(f, theta_of(f, GLMMadaptive::fixef(m), m$D)) - 1e-8)
})

test_that("uncorrelated random effects (x || g) agree with glmmTMB and glmer", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  set.seed(3)
  M <- 120; ni <- 8
  id <- rep(seq_len(M), each = ni); x <- rnorm(M * ni)
  b0 <- rnorm(M, 0, 0.8); b1 <- rnorm(M, 0, 0.5)
  d <- data.frame(count = rpois(M * ni, exp(0.2 + 0.4 * x + b0[id] + b1[id] * x)),
                  x = x, id = factor(id))
  f <- glmm(count ~ x + (1 + x || id), d, family = poisson, nAGQ = 1)
  expect_identical(f$cov_blocks, c(1L, 1L))
  expect_identical(f$D[1, 2], 0)
  m <- glmmTMB::glmmTMB(count ~ x + (1 + x || id), d, family = poisson)
  expect_equal(unname(f$coefficients), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
  expect_equal(unname(diag(f$D)), unname(diag(glmmTMB::VarCorr(m)$cond$id)), tolerance = 1e-4)
  expect_equal(f$loglik, as.numeric(stats::logLik(m)), tolerance = 1e-6)
  # glmer stops early on this one (estimates ~5e-3 off, logLik 4e-3 lower),
  # so only check that we do at least as well.
  g <- glmer_ref(count ~ x + (1 + x || id), d, family = poisson)
  expect_gt(f$loglik, as.numeric(stats::logLik(g)) - 1e-4)
  expect_gte(f$loglik, loglik_at(f, theta_of(f, lme4::fixef(g),
                                             diag(ref_vc_sd_all(g)^2))) - 1e-8)
})

# ---- Gaussian: lmer(REML = FALSE) ------------------------------------------

test_that("gaussian fits equal lmer(REML = FALSE) on sleepstudy", {
  skip_if_not_installed("lme4")
  ss <- lme4::sleepstudy
  ctrl <- lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10))
  for (fo in list(Reaction ~ Days + (1 | Subject), Reaction ~ Days + (Days | Subject),
                  Reaction ~ Days + (Days || Subject))) {
    lab <- deparse(fo)
    f <- glmm(fo, ss)
    g <- lme4::lmer(fo, ss, REML = FALSE, control = ctrl)
    vc <- as.matrix(Matrix::bdiag(lme4::VarCorr(g)))
    expect_equal(unname(f$coefficients), unname(lme4::fixef(g)), tolerance = 1e-6, info = lab)
    expect_equal(unname(f$D), unname(vc), tolerance = 1e-6, info = lab)
    expect_equal(f$sigma, stats::sigma(g), tolerance = 1e-6, info = lab)
    expect_equal(f$loglik, as.numeric(stats::logLik(g)), tolerance = 1e-6, info = lab)
    expect_identical(f$optinfo$warnings, character())
  }
})

# ---- Known truth ------------------------------------------------------------

test_that("simulated data: estimates within 4 standard errors of the truth", {
  sim <- sim_binary_q2()
  f <- cached("fit_binary_q2_K11",
              glmm(y ~ time + trt + (1 + time | id), sim$data, family = binomial, nAGQ = 11))
  se <- sqrt(diag(f$cov_theta))
  truth <- c(sim$truth$beta, theta_of(f, numeric(0), sim$truth$D))
  expect_true(all(is.finite(se)))
  expect_true(all(abs(f$theta - truth) < 4 * se),
              info = paste(format(round((f$theta - truth) / se, 2)), collapse = " "))
  # vcov() of the fixed effects is the leading block of the full covariance.
  expect_equal(f$vcov, f$cov_theta[1:3, 1:3])
})

# ---- Analytic gradient ---------------------------------------------------------

gradient_case <- function(family, q, K, weights_offset, diagonal = FALSE, seed = 1) {
  set.seed(seed)
  M <- 25
  ni <- sample(3:7, M, TRUE)
  g <- rep(seq_len(M), ni)
  n <- length(g)
  x1 <- rnorm(n); x2 <- rbinom(n, 1, 0.5)
  X <- cbind(1, x1, x2)
  Z <- if (q == 1) matrix(1, n, 1) else cbind(1, x1)
  b <- matrix(rnorm(M * q, 0, 0.7), M)
  off <- if (weights_offset) rnorm(n, 0, 0.3) else rep(0, n)
  eta <- drop(X %*% c(-0.3, 0.5, 0.4)) + rowSums(Z * b[g, , drop = FALSE]) + off
  fam <- glmmgee:::resolve_family(family)
  w <- rep(1, n)
  if (fam$family == "binomial") {
    if (weights_offset) w <- sample(1:5, n, TRUE)
    y <- rbinom(n, w, fam$linkinv(eta)) / w
  } else if (fam$family == "poisson") {
    if (weights_offset) w <- runif(n, 0.5, 2)
    y <- rpois(n, exp(eta))
  } else {
    if (weights_offset) w <- runif(n, 0.5, 2)
    y <- eta + rnorm(n, 0, 0.8 / sqrt(w))
  }
  pat <- glmmgee:::block_pattern(if (diagonal) rep(1L, q) else q)
  eng <- glmmgee:::cpp_agq_new(X, Z, as.numeric(y), as.numeric(w), as.numeric(off), g, M,
                               pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code,
                               as.integer(K), 1L)
  lam <- c(0.9, -0.3, 0.6)[seq_along(pat$row)]
  if (diagonal) lam <- c(0.9, 0.6)[seq_len(q)]
  theta <- c(0.1, 0.2, -0.3, lam, if (fam$family == "gaussian") log(0.7))
  list(eng = eng, theta = theta)
}

test_that("analytic gradient equals numerical differentiation, every family and link", {
  skip_if_not_installed("numDeriv")
  # The engine warm-starts each cluster's mode search from its last mode, so
  # the value depends on the path at the level of the mode tolerance (~1e-10,
  # which at K = 1 moves numerical derivatives by ~1e-6). Resetting the warm
  # starts before each evaluation makes the function deterministic; then the
  # two derivatives agree to ~1e-9 (measured), for K = 1 as for K > 1.
  fams <- list(gaussian(), binomial("logit"), binomial("probit"), binomial("cloglog"),
               poisson())
  worst <- 0
  for (fam in fams) for (q in 1:2) for (K in c(1L, 3L, 7L)) for (wo in c(FALSE, TRUE)) {
    diag_pattern <- q == 2 && K == 3
    cs <- gradient_case(fam, q, K, wo, diagonal = diag_pattern)
    an <- glmmgee:::cpp_agq_eval(cs$eng, cs$theta, TRUE)$gradient
    nd <- numDeriv::grad(function(th) {
      glmmgee:::cpp_agq_reset(cs$eng)
      glmmgee:::cpp_agq_eval(cs$eng, th, FALSE)$loglik
    }, cs$theta)
    rel <- max(abs(an - nd)) / max(abs(nd))
    worst <- max(worst, rel)
    expect_lt(rel, 1e-7, label = sprintf("%s(%s), q = %d%s, nAGQ = %d, weights/offset = %s",
                                         fam$family, fam$link, q,
                                         if (diag_pattern) " diagonal" else "", K, wo))
  }
  expect_lt(worst, 1e-7)
})

test_that("warm starts change the log-likelihood only at the mode-tolerance level", {
  cs <- gradient_case(poisson(), 2, 1L, TRUE)
  glmmgee:::cpp_agq_reset(cs$eng)
  cold <- glmmgee:::cpp_agq_eval(cs$eng, cs$theta, TRUE)
  glmmgee:::cpp_agq_eval(cs$eng, cs$theta + 0.05, FALSE)
  warm <- glmmgee:::cpp_agq_eval(cs$eng, cs$theta, TRUE)
  expect_equal(warm$loglik, cold$loglik, tolerance = 1e-12)
  expect_equal(warm$gradient, cold$gradient, tolerance = 1e-8)
})

# ---- Invariances ---------------------------------------------------------------

test_that("fits do not depend on row order, cluster labels or the number of threads", {
  ep <- MASS::epil
  ep$visit <- (ep$period - 2.5) / 2
  fo <- y ~ lbase * trt + lage + visit + (1 + visit | subject)
  f0 <- glmm(fo, ep, family = poisson, nAGQ = 5)
  set.seed(99)
  f1 <- glmm(fo, ep[sample(nrow(ep)), ], family = poisson, nAGQ = 5)
  expect_equal(f1$coefficients, f0$coefficients, tolerance = 1e-6)
  expect_equal(f1$D, f0$D, tolerance = 1e-6)
  expect_equal(f1$loglik, f0$loglik, tolerance = 1e-9)
  lev <- levels(factor(ep$subject))
  new_lab <- paste0("c", match(lev, rev(lev)))
  relab <- ep
  relab$subject <- factor(new_lab[match(as.character(ep$subject), lev)])
  f2 <- glmm(fo, relab, family = poisson, nAGQ = 5)
  expect_equal(f2$coefficients, f0$coefficients, tolerance = 1e-6)
  expect_equal(f2$D, f0$D, tolerance = 1e-6)
  expect_equal(f2$loglik, f0$loglik, tolerance = 1e-9)
  # Random effects follow their clusters.
  expect_equal(unname(f2$ranef$mode[new_lab, ]), unname(f0$ranef$mode[lev, ]), tolerance = 1e-5)

  t1 <- glmm(fo, ep, family = poisson, nAGQ = 5, control = glmm_control(nthreads = 1))
  t2 <- glmm(fo, ep, family = poisson, nAGQ = 5, control = glmm_control(nthreads = 2))
  expect_identical(t2$loglik, t1$loglik)
  expect_identical(t2$coefficients, t1$coefficients)
  expect_identical(t2$theta, t1$theta)
})

test_that("thread count does not change the engine's sums (many clusters)", {
  sim <- sim_binary_q2()
  fit <- cached("fit_binary_q2_K11",
                glmm(y ~ time + trt + (1 + time | id), sim$data, family = binomial, nAGQ = 11))
  e1 <- glmmgee:::cpp_agq_new(fit$X, fit$Z, fit$y, fit$prior.weights, fit$offset, fit$group,
                              fit$ngroups, fit$pattern$row - 1L, fit$pattern$col - 1L,
                              fit$family$family_code, fit$family$link_code, 11L, 1L)
  e2 <- glmmgee:::cpp_agq_new(fit$X, fit$Z, fit$y, fit$prior.weights, fit$offset, fit$group,
                              fit$ngroups, fit$pattern$row - 1L, fit$pattern$col - 1L,
                              fit$family$family_code, fit$family$link_code, 11L, 2L)
  th <- as.numeric(fit$theta) + 0.01
  expect_identical(glmmgee:::cpp_agq_eval(e2, th, TRUE), glmmgee:::cpp_agq_eval(e1, th, TRUE))
})

# ---- Binomial response forms -----------------------------------------------------

test_that("binomial response forms give the same fit", {
  bac <- bacteria_data()
  fo_rhs <- ~ trt + late + (1 | ID)
  fit_with <- function(resp, data, ...) {
    fo <- stats::update(fo_rhs, stats::as.formula(paste(resp, "~ .")))
    glmm(fo, data, family = binomial, nAGQ = 7, ...)
  }
  bac$y01 <- as.numeric(bac$y == "y")
  bac$ylgl <- bac$y == "y"
  f_fac <- fit_with("y", bac)
  f_num <- fit_with("y01", bac)
  f_lgl <- fit_with("ylgl", bac)
  expect_equal(f_num$coefficients, f_fac$coefficients, tolerance = 1e-10)
  expect_equal(f_lgl$coefficients, f_fac$coefficients, tolerance = 1e-10)
  expect_equal(f_num$loglik, f_fac$loglik, tolerance = 1e-12)
  expect_equal(f_lgl$loglik, f_fac$loglik, tolerance = 1e-12)

  # Aggregate by cluster x covariate pattern.
  agg <- stats::aggregate(cbind(s = y01, m = 1) ~ ID + trt + late, data = bac, FUN = sum)
  agg$f <- agg$m - agg$s
  agg$prop <- agg$s / agg$m
  expect_lt(nrow(agg), nrow(bac))
  f_cb <- glmm(cbind(s, f) ~ trt + late + (1 | ID), agg, family = binomial, nAGQ = 7)
  f_pr <- glmm(prop ~ trt + late + (1 | ID), agg, family = binomial, nAGQ = 7, weights = m)
  expect_equal(f_cb$coefficients, f_num$coefficients, tolerance = 1e-6)
  expect_equal(f_cb$D, f_num$D, tolerance = 1e-6)
  expect_equal(f_pr$coefficients, f_cb$coefficients, tolerance = 1e-10)
  expect_equal(f_pr$loglik, f_cb$loglik, tolerance = 1e-12)
  # The aggregated likelihood adds the binomial coefficients, nothing else.
  expect_equal(f_cb$loglik - f_num$loglik, sum(lchoose(agg$m, agg$s)), tolerance = 1e-8)
  expect_equal(loglik_at(f_cb, f_num$theta) - f_num$loglik, sum(lchoose(agg$m, agg$s)),
               tolerance = 1e-10)
})

# ---- Saved objects -------------------------------------------------------------

test_that("a fit survives saveRDS/readRDS and still prints", {
  fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), MASS::bacteria, family = binomial)
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path))
  saveRDS(fit, path)
  back <- readRDS(path)
  # The formula keeps its environment (as glm()'s does), here the test's,
  # which gains `back` after the save: compare everything else exactly.
  expect_identical(back, fit, ignore_formula_env = TRUE)
  expect_identical(serialize(back[setdiff(names(back), c("formula", "terms", "model", "call", "re_formula"))], NULL),
                   serialize(fit[setdiff(names(fit), c("formula", "terms", "model", "call", "re_formula"))], NULL))
  expect_output(print(back))
  expect_equal(back$loglik, fit$loglik)
})
