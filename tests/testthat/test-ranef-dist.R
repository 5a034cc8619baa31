# Bridge and nonparametric random intercepts (glmm(ranef_dist = ...)).

bacteria_bridge <- function() {
  cached("bacteria_bridge", {
    data(bacteria, package = "MASS", envir = environment())
    glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial,
         ranef_dist = "bridge")
  })
}

# Data from the bridge model: 400 clusters of 6, phi = 0.6.
sim_bridge <- function() {
  cached("sim_bridge", {
    set.seed(11)
    M <- 400; ni <- 6
    id <- rep(seq_len(M), each = ni)
    x <- rnorm(M * ni)
    trt <- rep(rbinom(M, 1, 0.5), each = ni)
    truth <- list(beta = c(-0.4, 0.8, -0.7), phi = 0.6)
    b <- glmmgee:::rbridge(M, truth$phi)
    eta <- truth$beta[1] + truth$beta[2] * x + truth$beta[3] * trt + b[id]
    list(data = data.frame(y = rbinom(M * ni, 1, plogis(eta)), x = x, trt = trt, id = id),
         truth = truth)
  })
}

test_that("rbridge draws follow the bridge density", {
  set.seed(3)
  phi <- 0.55
  b <- glmmgee:::rbridge(20000, phi)
  cdf <- function(q) integrate(function(t) glmmgee:::dbridge(t, phi), -Inf, q)$value
  qs <- c(-4, -1, 0, 0.5, 3)
  expect_equal(vapply(qs, function(q) mean(b <= q), 1), vapply(qs, cdf, 1), tolerance = 0.01)
  expect_equal(var(b), glmmgee:::bridge_variance(phi), tolerance = 0.05)
  # The defining property: the marginal of a logistic model is logistic in phi * eta.
  eta <- 1.3
  m <- integrate(function(t) plogis(eta + t) * glmmgee:::dbridge(t, phi), -Inf, Inf,
                 rel.tol = 1e-12)$value
  expect_equal(m, plogis(phi * eta), tolerance = 1e-9)
})

test_that("bridge marginal coefficients are exactly phi times the conditional ones", {
  skip_if_not_installed("MASS")
  fit <- bacteria_bridge()
  phi <- fit$ranef_dist$phi
  expect_true(phi > 0 && phi < 1)
  mc <- marginal_coefs(fit)
  expect_equal(unname(coef(mc)), unname(phi * fixef(fit)), tolerance = 1e-12)
  expect_output(print(mc), "exactly phi \\* conditional")
  # Delta method over (beta, phi) by hand.
  p <- length(fixef(fit))
  J <- cbind(diag(phi, p), fixef(fit))
  expect_equal(unname(vcov(mc)), unname(J %*% fit$cov_theta %*% t(J)), tolerance = 1e-10)
  or <- odds_ratios(mc)
  expect_equal(or$estimate, unname(exp(phi * fixef(fit)[-1])), tolerance = 1e-12)
  cv <- compare_views(fit)
  expect_equal(cv$marginal_glmm, unname(phi * fixef(fit)), tolerance = 1e-12)
  # standardize(): the population-averaged risk is the mean of expit(phi eta).
  st <- standardize(fit, "trt", se = "none")
  d <- fit$model
  eta_at <- function(v) {
    nd <- MASS::bacteria
    nd$trt <- factor(v, levels = levels(nd$trt))
    X <- model.matrix(~ trt + I(week > 2), nd)
    drop(X %*% fixef(fit))
  }
  expect_equal(st$estimate[1:3],
               vapply(levels(MASS::bacteria$trt), function(v) mean(plogis(phi * eta_at(v))), 1),
               tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("bridge log-likelihood equals a brute-force integral at the estimates", {
  skip_if_not_installed("MASS")
  fit <- bacteria_bridge()
  phi <- fit$ranef_dist$phi
  eta <- fit$eta_fixed
  g <- fit$group
  y <- fit$y
  one <- function(i) {
    r <- g == i
    f <- function(b) vapply(b, function(bb)
      exp(sum(dbinom(y[r], 1, plogis(eta[r] + bb), log = TRUE))) * glmmgee:::dbridge(bb, phi), 1)
    log(integrate(f, -Inf, Inf, rel.tol = 1e-13, subdivisions = 1000L)$value)
  }
  brute <- vapply(seq_len(fit$ngroups), one, 1)
  expect_equal(sum(brute), as.numeric(logLik(fit)), tolerance = 1e-9)
  expect_equal(unname(fit$cluster_loglik), brute, tolerance = 1e-8)
  expect_lt(max(abs(fit$gradient)), 1e-3)
})

test_that("the engine's gradient matches numerical differentiation", {
  skip_if_not_installed("numDeriv")
  set.seed(5)
  M <- 25; ni <- 5
  g <- rep(seq_len(M), each = ni)
  X <- cbind(1, rnorm(M * ni))
  y <- rbinom(M * ni, 1, plogis(0.2 + X[, 2] + rnorm(M, 0, 1.5)[g]))
  start <- as.integer(c(0, cumsum(rep(ni, M))))
  one <- rep(1, M * ni); zero <- rep(0, M * ni)
  ev <- function(beta, dist, prior)
    glmmgee:::cpp_dist_eval(X, y, one, zero, start, 1L, 1L, beta, dist, prior, 0.125)
  th <- c(0.1, 0.7, 0.65)
  expect_equal(ev(th[1:2], 0L, th[3])$gradient,
               numDeriv::grad(function(t) ev(t[1:2], 0L, t[3])$loglik, th), tolerance = 1e-7)
  th <- c(0.3, -1, 0.4, 1.8, 0.5, -0.7)
  expect_equal(ev(th[1:2], 1L, th[-(1:2)])$gradient,
               numDeriv::grad(function(t) ev(t[1:2], 1L, t[-(1:2)])$loglik, th),
               tolerance = 1e-7)
  # A finer rule changes the log-likelihood by less than 1e-10.
  a <- glmmgee:::cpp_dist_eval(X, y, one, zero, start, 1L, 1L, c(0.1, 0.7), 0L, 0.3, 0.125)
  b <- glmmgee:::cpp_dist_eval(X, y, one, zero, start, 1L, 1L, c(0.1, 0.7), 0L, 0.3, 0.05)
  expect_equal(a$loglik, b$loglik, tolerance = 1e-12)
})

test_that("a bridge fit's information is the central difference of its exact gradient", {
  # The Hessian behind the standard errors must be accurate to O(h^2): a
  # forward difference (error O(h), about 1e-5 relative) is not good enough.
  skip_if_not_installed("numDeriv")
  set.seed(8)
  M <- 60; ni <- 5
  id <- rep(seq_len(M), each = ni)
  d <- data.frame(id = id, x = rnorm(M * ni))
  d$y <- rbinom(M * ni, 1, plogis(-0.3 + 0.9 * d$x + glmmgee:::rbridge(M, 0.7)[id]))
  fit <- glmm(y ~ x + (1 | id), data = d, family = binomial, ranef_dist = "bridge")
  X <- cbind(1, d$x)
  start <- as.integer(c(0, cumsum(rep(ni, M))))
  one <- rep(1, M * ni); zero <- rep(0, M * ni)
  grad <- function(t)
    glmmgee:::cpp_dist_eval(X, as.numeric(d$y), one, zero, start, 1L, 1L, t[1:2], 0L, t[3],
                            0.125)$gradient
  ref <- numDeriv::jacobian(grad, unname(fit$theta))
  expect_equal(unname(fit$hessian), (ref + t(ref)) / 2, tolerance = 1e-7)
})

test_that("a bridge fit recovers the truth and the GEE agrees with its marginal coefficients", {
  s <- sim_bridge()
  fit <- glmm(y ~ x + trt + (1 | id), data = s$data, family = binomial, ranef_dist = "bridge")
  se <- sqrt(diag(fit$cov_theta))
  est <- fit$theta
  truth <- c(s$truth$beta, s$truth$phi)
  expect_true(all(abs(est - truth) < 3 * se))
  pa <- gee(y ~ x + trt, data = s$data, id = id, family = binomial, corstr = "exchangeable")
  mc <- marginal_coefs(fit)
  se_gee <- sqrt(diag(vcov(pa)))
  # Both estimate the same population-averaged coefficients, phi * beta.
  expect_true(all(abs(coef(pa) - coef(mc)) < 0.5 * se_gee))
  expect_true(all(abs(coef(mc) - s$truth$phi * s$truth$beta) < 3 * sqrt(diag(vcov(mc)))))
})

test_that("a nonparametric fit recovers a two-point truth and beats the normal fit", {
  set.seed(21)
  M <- 250; ni <- 8
  id <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni, 0, 0.5)
  b <- ifelse(runif(M) < 0.3, -1.2, 0.6)[id]
  d <- data.frame(y = rpois(M * ni, exp(0.5 + 0.4 * x + b)), x = x, id = id)
  fit <- glmm(y ~ x + (1 | id), data = d, family = poisson,
              ranef_dist = list("nonparametric", k = 2))
  rd <- fit$ranef_dist
  o <- order(rd$mass)
  # theta holds the mass points on the linear-predictor scale (truth: 0.5 +
  # (-1.2, 0.6)) and their log-weights relative to the first.
  se <- sqrt(diag(fit$cov_theta))
  pts <- fit$theta[3:4][o]
  expect_true(all(abs(pts - (0.5 + c(-1.2, 0.6))) < 3 * se[3:4][o]))
  expect_equal(unname(rd$weights[o]), c(0.3, 0.7), tolerance = 0.15)
  expect_equal(fixef(fit)[["x"]], 0.4, tolerance = 0.1)
  expect_gt(as.numeric(logLik(fit)), fit$normal$loglik + 5)
  # Exact likelihood: a finite sum over the mass points, by hand.
  eta <- drop(model.matrix(fit) %*% fixef(fit)) - fixef(fit)[["(Intercept)"]]
  a <- rd$mass + fixef(fit)[["(Intercept)"]]
  ll <- sum(vapply(split(seq_len(nrow(d)), d$id), function(r)
    log(sum(rd$weights * vapply(a, function(ak) exp(sum(dpois(d$y[r], exp(eta[r] + ak), log = TRUE))), 1))),
    1))
  expect_equal(as.numeric(logLik(fit)), ll, tolerance = 1e-10)
  # Marginal means are the mixture over the points.
  st <- standardize(fit, "x", values = 0, se = "none")
  expect_equal(st$estimate[1], sum(rd$weights * exp(a)), tolerance = 1e-12)
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_invisible(plot_ranef_dist(fit))
})

test_that("ranef_dist rejects what it cannot fit, naming the problem", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  expect_error(glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial("probit"),
                    ranef_dist = "bridge"), "probit link the normal random intercept")
  expect_error(glmm(y ~ trt + (1 + week | ID), data = bacteria, family = binomial,
                    ranef_dist = "bridge"), "random intercept only")
  expect_error(glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial,
                    ranef_dist = "t"), "'ranef_dist' must be one of")
  expect_error(glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial,
                    ranef_dist = list("nonparametric", k = 1)), "mass points 'k'")
  expect_error(glmm(y ~ trt - 1 + (1 | ID), data = bacteria, family = binomial,
                    ranef_dist = "nonparametric"), "needs a model with an intercept")
})

test_that("bridge fits print, summarize, simulate and survive saveRDS", {
  skip_if_not_installed("MASS")
  fit <- bacteria_bridge()
  expect_output(print(fit), "phi = ")
  expect_output(print(summary(fit)), "bridge random intercept")
  sims <- simulate(fit, nsim = 2, seed = 1)
  expect_equal(dim(sims), c(nobs(fit), 2L))
  # in the response's own form, as simulations of the normal fit
  expect_identical(levels(sims[[1]]), levels(MASS::bacteria$y))
  expect_s3_class(sims[[2]], "factor")
  # a cbind() response: counts of successes and failures that add up to the
  # trials (they were proportions without the trials)
  cb <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = lme4::cbpp,
             family = binomial, ranef_dist = "bridge")
  sc <- simulate(cb, nsim = 2, seed = 1)
  expect_true(is.matrix(sc[[1]]) && ncol(sc[[1]]) == 2L)
  expect_equal(rowSums(sc[[2]]), lme4::cbpp$size)
  expect_equal(rowSums(simulate(cb, seed = 1, nsim = 1)[[1]]), lme4::cbpp$size)
  f <- tempfile(fileext = ".rds")
  saveRDS(fit, f)
  expect_equal(coef(marginal_coefs(readRDS(f))), coef(marginal_coefs(fit)))
  expect_s3_class(ranef(fit), "ranef.glmmgee_glmm")
})

test_that("confint(method = \"profile\") of bridge and nonparametric fits: the refitted likelihood falls by qchisq / 2 at the limits", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  bacteria$late <- as.numeric(bacteria$week > 2)
  br <- glmm(y ~ late + (1 | ID), data = bacteria, family = binomial, ranef_dist = "bridge")
  ci <- confint(br, method = "profile")
  expect_identical(rownames(ci), c("(Intercept)", "late", "sd_(Intercept)|ID"))
  expect_true(all(ci[, 1] < ci[, 2]))
  cut <- qchisq(0.95, 1)
  # The slope held at each limit through an offset, the rest refitted.
  for (v in ci["late", ]) {
    bacteria$off <- v * bacteria$late
    r <- glmm(y ~ 1 + offset(off) + (1 | ID), data = bacteria, family = binomial,
              ranef_dist = "bridge")
    expect_equal(2 * as.numeric(logLik(br) - logLik(r)), cut, tolerance = 1e-3)
  }
  # The bridge sd's interval holds its estimate; Wald's and profile's overlap.
  sd_hat <- sqrt(br$D[1, 1])
  expect_true(ci[3, 1] < sd_hat && sd_hat < ci[3, 2])
  np <- suppressWarnings(glmm(y ~ late + (1 | ID), data = bacteria, family = binomial,
                              ranef_dist = list("nonparametric", k = 2)))
  cn <- confint(np, parm = "late", method = "profile")
  for (v in cn["late", ]) {
    bacteria$off <- v * bacteria$late
    r <- suppressWarnings(glmm(y ~ 1 + offset(off) + (1 | ID), data = bacteria, family = binomial,
                               ranef_dist = list("nonparametric", k = 2)))
    expect_equal(2 * as.numeric(logLik(np) - logLik(r)), cut, tolerance = 2e-3)
  }
  # profile() gives the table these intervals are read from; the
  # nonparametric standard deviation has none.
  pb <- profile(br)
  expect_s3_class(pb, "glmmgee_profile")
  expect_equal(confint(pb), ci, tolerance = 1e-8)
  pn <- suppressWarnings(profile(np, which = "late"))
  expect_equal(confint(pn), cn, tolerance = 1e-8)
  pn_all <- suppressWarnings(profile(np))
  expect_identical(levels(pn_all$parameter), c("(Intercept)", "late"))
  expect_error(profile(np, which = "sd_(Intercept)|ID"),
               "'which': 'sd_(Intercept)|ID' of the nonparametric random intercept has no profile",
               fixed = TRUE)
})

test_that("Wald intervals of a bridge fit's sd are of the sd, not of phi", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  br <- glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, ranef_dist = "bridge")
  phi <- br$ranef_dist$phi
  sd <- sqrt(pi^2 / 3 * (1 / phi^2 - 1))
  expect_equal(sd, sqrt(br$D[1, 1]), tolerance = 1e-10)
  ci <- confint(br, parm = "theta_")
  se_phi <- sqrt(br$cov_theta["phi", "phi"])
  se_sd <- pi^2 / 3 / (phi^3 * sd) * se_phi
  expect_equal(unname(ci[1, ]), sd * exp(c(-1, 1) * qnorm(0.975) * se_sd / sd), tolerance = 1e-8)
  # numDeriv-free check of the derivative: central difference of sd(phi).
  h <- 1e-6
  dnum <- (sqrt(pi^2 / 3 * (1 / (phi + h)^2 - 1)) - sqrt(pi^2 / 3 * (1 / (phi - h)^2 - 1))) / (2 * h)
  expect_equal(abs(dnum), pi^2 / 3 / (phi^3 * sd), tolerance = 1e-6)
})

test_that("ranef_dist refuses settings it does not take, and nAGQ, naming them", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  f <- function(...) glmm(y ~ trt + (1 | ID), data = bacteria, family = binomial, ...)
  # a typo was ignored (k = 5 fitted); k means nothing for the bridge
  expect_error(f(ranef_dist = list("nonparametric", K = 2)), "'K' is not a setting for ranef_dist = \"nonparametric\"")
  expect_error(f(ranef_dist = list("bridge", k = 3)), "'k' is not a setting for ranef_dist = \"bridge\"; it takes none")
  expect_error(f(ranef_dist = list("nonparametric", k = 3, k = 4)), "'k' is not a setting")
  expect_identical(glmmgee:::check_ranef_dist(list("nonparametric", k = 3))$k, 3L)
  # nAGQ = 1 and 50 had given identical fits
  err <- tryCatch(f(ranef_dist = "bridge", nAGQ = 50), error = identity)
  expect_identical(err$id, "ranef_dist_nagq")
  expect_match(conditionMessage(err), "'nAGQ' does not apply with ranef_dist = \"bridge\"")
  expect_error(f(ranef_dist = "nonparametric", nAGQ = 1), "finite sum over the mass points")
})

test_that("anova() between fits of different random-effect distributions gives no p-value and says why", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  br <- bacteria_bridge()
  nb <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
  w <- character()
  a <- withCallingHandlers(anova(nb, br), warning = function(c) {
    w <<- c(w, conditionMessage(c))
    invokeRestart("muffleWarning")
  })
  w <- grep("random-effect distributions", w, value = TRUE)
  expect_length(w, 1L)
  expect_match(w, "nb \\(normal\\) and br \\(bridge\\) have different random-effect distributions.*no chi-square reference")
  # (the same fixed effects: nothing else differs)
  expect_false(grepl("fixed effects too", w))
  expect_true(is.na(a[["Pr(>Chisq)"]][2]))
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(br)) - as.numeric(logLik(nb))))
  expect_equal(a$logLik, c(as.numeric(logLik(nb)), as.numeric(logLik(br))))
  expect_match(attr(a, "heading"), "no p-value between fits with different random-effect", all = FALSE)
  # with other fixed effects too, the statistic mixes both changes
  nb0 <- glmm(y ~ I(week > 2) + (1 | ID), data = bacteria, family = binomial)
  expect_warning(a0 <- anova(nb0, br), "nb0 and br differ in their fixed effects too")
  expect_true(is.na(a0[["Pr(>Chisq)"]][2]))
  # the same distribution: the chi-square test as before
  a1 <- anova(nb0, nb)
  expect_false(is.na(a1[["Pr(>Chisq)"]][2]))
})

test_that("a nonparametric fit whose mass points coincide has no standard errors, and says so", {
  skip_if_not_installed("MASS")
  data(epil, package = "MASS", envir = environment())
  w <- character()
  np8 <- withCallingHandlers(
    glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
         ranef_dist = list("nonparametric", k = 8)),
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  # two pairs of coincident points (and one drifting to -Inf for the
  # subjects with no seizures): no standard errors, and the fit says why
  expect_true(any(grepl("mass points (that )?coincide.*fewer", w)))
  expect_true(any(grepl("mass points (that )?coincide", np8$optinfo$warnings)))
  expect_true(all(is.na(np8$cov_theta)))
  expect_false(isTRUE(attr(np8$cov_theta, "ok")))
  # an information that is invertible but near-singular (it had given
  # standard errors of 300 to 449 on an earlier fit of this model) counts as
  # over-specified; a well-conditioned one does not
  Q <- qr.Q(qr(matrix(c(2, 1, 1, 1, 3, 1, 1, 1, 4), 3)))
  expect_true(glmmgee:::npml_support_overspecified(-Q %*% diag(c(1, 1e-3, 1e-13)) %*% t(Q)))
  expect_false(glmmgee:::npml_support_overspecified(-Q %*% diag(c(1, 0.5, 0.1)) %*% t(Q)))
  # five distinct points: standard errors as before
  np5 <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
              ranef_dist = "nonparametric")
  expect_false(any(grepl("mass points coincide", np5$optinfo$warnings)))
  expect_true(all(is.finite(sqrt(diag(np5$cov_theta)))))
})

test_that("a nonparametric fit leaves the local maximum its starting grids reach", {
  skip_if_not_installed("MASS")
  data(epil, package = "MASS", envir = environment())
  np3 <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
              ranef_dist = list("nonparametric", k = 3))
  # The ten starting grids stop at -678.0623 (treatment -0.152); 150 random
  # starts of nlminb reach -678.0356 (treatment -0.046) at best.
  expect_gt(as.numeric(logLik(np3)), -678.036)
  expect_equal(fixef(np3)[["trtprogabide"]], -0.0463, tolerance = 1e-3)
  # the log-likelihood written out: a finite mixture over the mass points
  a <- np3$theta[sprintf("mass[%d]", 1:3)]
  w <- exp(np3$theta[sprintf("alpha[%d]", 1:3)]); w <- w / sum(w)
  eta <- drop(model.matrix(~ trt + lbase, epil)[, -1] %*% fixef(np3)[-1])
  ll <- sum(vapply(split(seq_len(nrow(epil)), epil$subject), function(i)
    log(sum(w * vapply(a, function(ak) exp(sum(dpois(epil$y[i], exp(eta[i] + ak), log = TRUE))), 1))), 1))
  expect_equal(as.numeric(logLik(np3)), ll, tolerance = 1e-9)
})
