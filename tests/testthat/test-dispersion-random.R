# Dispersion formulas with random effects (location-scale mixed models,
# fit-dispersion-random.R): the Laplace log-likelihood against an
# independent Laplace approximation written out in the test helper, the
# optimum checked by that reference's own gradient, recovery of a known
# truth, and the methods.



test_that("gaussian location-scale fit: logLik is the Laplace approximation, at its maximum", {
  d <- location_scale_data(m = 25, k = 8, seed = 11)
  fit <- glmm(y ~ x + (1 | g), data = d, family = gaussian(), dispformula = ~ z + (1 | g))
  expect_s3_class(fit, "glmmgee_glmm")
  expect_s3_class(fit, "glmmgee_glmm_dispre")
  ref <- function(th) reference_location_scale_laplace(th, d$y, cbind(1, d$x), cbind(1, d$z),
                                                       d$g, gaussian_logdens, gaussian_rowderivs)
  par <- location_scale_par(fit)
  expect_equal(as.numeric(logLik(fit)), ref(par), tolerance = 1e-10)
  # The reference's gradient (central differences) vanishes at the
  # estimates: the optimum is the reference's too.
  gr <- vapply(seq_along(par), function(k) {
    e <- replace(numeric(length(par)), k, 1e-4)
    (ref(par + e) - ref(par - e)) / 2e-4
  }, 0)
  expect_lt(max(abs(gr)), 1e-5)
})

test_that("nbinom2, Gamma and beta location-scale fits agree with the independent Laplace", {
  for (fam in c("nbinom2", "Gamma", "beta")) {
    d <- location_scale_data(m = 30, k = 20, family = fam, d = c(if (fam == "beta") 2 else 0.3, 0.4),
                             seed = 1)
    f <- switch(fam, nbinom2 = nbinom2(), Gamma = Gamma("log"), beta = beta_family())
    logdens <- switch(fam,
      nbinom2 = function(y, eta, ld) stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE),
      Gamma = function(y, eta, ld) stats::dgamma(y, shape = exp(ld), rate = exp(ld - eta), log = TRUE),
      beta = function(y, eta, ld) stats::dbeta(y, stats::plogis(eta) * exp(ld),
                                               stats::plogis(-eta) * exp(ld), log = TRUE))
    fit <- glmm(y ~ x + (1 | g), data = d, family = f, dispformula = ~ z + (1 | g))
    par <- location_scale_par(fit)
    ref <- reference_location_scale_laplace(par, d$y, cbind(1, d$x), cbind(1, d$z), d$g, logdens)
    expect_lt(abs(as.numeric(logLik(fit)) - ref), 1e-4, label = fam)
  }
})

test_that("a known truth is recovered: the dispersion's random-effect SD", {
  d <- location_scale_data(m = 150, k = 15, su = 0.6, sv = 0.5, d = c(-0.2, 0.4), seed = 3)
  fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g))
  V <- vcov(fit, full = TRUE)
  co <- fit$theta
  sd_v <- attr(VarCorr(fit)[["disp~g"]], "stddev")
  expect_lt(abs(sd_v - 0.5), 0.15)
  expect_lt(abs(fit$aux$disp$coef[["disp~z"]] - 0.4), 3 * sqrt(V["disp~z", "disp~z"]))
  expect_lt(abs(fixef(fit)[["x"]] - 0.5), 3 * sqrt(vcov(fit)["x", "x"]))
  # Nested in it: the fixed-dispersion model, lower by a clear margin.
  fit0 <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z)
  expect_gt(as.numeric(logLik(fit) - logLik(fit0)), 10)
  expect_equal(attr(logLik(fit), "df") - attr(logLik(fit0), "df"), 1)
})

test_that("methods: predict, ranef, VarCorr, simulate, print, confint", {
  d <- location_scale_data(m = 25, k = 8, seed = 11)
  fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g))
  # The dispersion at the modes: the fixed part plus the dispersion
  # formula's random effects.
  rd <- ranef(fit, component = "disp")
  expect_equal(names(rd), "g")
  ld <- fit$aux$disp$coef[[1]] + fit$aux$disp$coef[[2]] * d$z + rd$g[as.integer(d$g), 1]
  expect_equal(unname(predict(fit, type = "disp")), exp(ld), tolerance = 1e-10)
  expect_equal(unname(predict(fit, type = "disp", re.form = NA)),
               exp(fit$aux$disp$coef[[1]] + fit$aux$disp$coef[[2]] * d$z), tolerance = 1e-10)
  # The mean does not involve the dispersion's random effects.
  ru <- ranef(fit)$g[as.integer(d$g), 1]
  expect_equal(unname(predict(fit)), unname(drop(cbind(1, d$x) %*% fixef(fit)) + ru),
               tolerance = 1e-10)
  nd <- data.frame(x = 0, z = c(0, 1), g = factor(c(1, 999)))
  expect_error(predict(fit, nd, type = "disp"), "allow.new.levels")
  pn <- predict(fit, nd, type = "disp", allow.new.levels = TRUE)
  expect_equal(unname(pn[2]), exp(sum(fit$aux$disp$coef)), tolerance = 1e-10)
  expect_equal(names(VarCorr(fit)), c("g", "disp~g"))
  out <- capture.output(print(fit))
  expect_true(any(grepl("dispersion, log scale", out)))
  expect_true(any(grepl("Dispersion formula", out)))
  s <- capture.output(summary(fit))
  expect_true(any(grepl("given the random effects of g", s)))
  # simulate(): new random effects of both parts by default; the
  # simulated spread of the cluster SDs reflects the dispersion's effects.
  sim <- simulate(fit, nsim = 40, seed = 2)
  expect_equal(dim(sim), c(nrow(d), 40L))
  sdev <- apply(sim, 2, function(s) stats::sd(log(tapply(s - predict(fit, re.form = NA), d$g, stats::sd))))
  expect_gt(mean(sdev), 0.3)
  ci <- confint(fit, method = "Wald")
  expect_true(all(c("sd_disp.(Intercept)|g", "disp.(Intercept)", "disp.z") %in% rownames(ci)))
  expect_true(all(ci[, 1] < ci[, 2]))
  sd_v <- attr(VarCorr(fit)[["disp~g"]], "stddev")
  expect_true(ci["sd_disp.(Intercept)|g", 1] < sd_v && sd_v < ci["sd_disp.(Intercept)|g", 2])
  V <- vcov(fit, full = TRUE)
  expect_equal(dim(V), c(6L, 6L))
  expect_true(all(c("disp~(Intercept)", "disp~z", "disp~g.(Intercept)") %in% rownames(V)))
  # Variance shares and sigma() are refused by name, not computed as if the
  # dispersion were one (also with no fixed dispersion coefficient but
  # the intercept).
  expect_error(variance_shares(fit), "dispersion formula")
  fit1 <- update(fit, dispformula = ~ 1 + (1 | g))
  expect_error(sigma(fit1), "varies by observation")
  expect_error(variance_shares(fit1), "dispersion formula's random effects")
  # update() and anova() against the model without the dispersion's
  # random effects.
  fit0 <- update(fit, dispformula = ~ z)
  a <- anova(fit0, fit)
  expect_equal(a$Chisq[2], 2 * as.numeric(logLik(fit) - logLik(fit0)), tolerance = 1e-8)
})

test_that("ecosystem: broom.mixed tidy and emmeans on a location-scale fit", {
  skip_if_not_installed("broom.mixed")
  skip_if_not_installed("emmeans")
  d <- location_scale_data(m = 25, k = 8, seed = 11)
  d$z <- factor(d$z)
  fit <- glmm(y ~ x + z + (1 | g), data = d, dispformula = ~ z + (1 | g))
  td <- broom.mixed::tidy(fit)
  expect_true(all(c("cond", "disp") %in% td$component))
  # The dispersion's SD is a row of component "disp" and group "g".
  rp <- td[td$effect == "ran_pars", ]
  expect_equal(sort(rp$component), c("cond", "disp"))
  expect_equal(rp$group, c("g", "g"))
  em <- emmeans::emmeans(fit, ~ z)
  expect_equal(nrow(as.data.frame(em)), 2L)
  skip_if_not_installed("performance")
  mp <- suppressMessages(performance::model_performance(fit))
  expect_equal(mp$AIC, stats::AIC(fit))
  expect_false(any(c("R2_conditional", "ICC") %in% names(mp)))
})

test_that("a level the mean fits exactly is named, as without random effects", {
  d <- location_scale_data(m = 20, k = 6, seed = 4)
  d$f <- factor(ifelse(seq_len(nrow(d)) == 1L, "b", "a"))
  expect_error(glmm(y ~ x + f + (1 | g), data = d, dispformula = ~ f + (1 | g)),
               "fitted exactly")
})

test_that("profile on a badly scaled slope: the rebuilt engine takes the fit's design", {
  d <- location_scale_data(m = 25, k = 8, seed = 11)
  d$xf <- d$x * 1e-6 - 5
  # (the data have no slope variance: a singular fit, verified)
  fit <- suppressWarnings(glmm(y ~ xf + (xf | g), data = d, dispformula = ~ 1 + (1 | g)))
  ci <- confint(fit, parm = "xf", method = "profile")
  expect_true(ci[1, 1] < fixef(fit)[["xf"]] && fixef(fit)[["xf"]] < ci[1, 2])
})

test_that("refusals: dispersion random effects with parts not yet combined", {
  d <- location_scale_data(m = 10, k = 5, family = "nbinom2", seed = 1)
  expect_error(glmm(y ~ x + (1 | g), data = d, family = nbinom2(), ziformula = ~ 1,
                    dispformula = ~ (1 | g)), "'dispformula'.*ziformula")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = nbinom2(), nAGQ = 5,
                    dispformula = ~ (1 | g)), "'nAGQ'")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = poisson(), dispformula = ~ (1 | g)),
               "'dispformula'.*no dispersion")
  expect_error(glmm(y ~ x + ar1(0 + factor(x > 0) | g), data = d, family = nbinom2(),
                    dispformula = ~ (1 | g)), "'dispformula'")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = nbinom2(),
                    dispformula = ~ ar1(0 + factor(x > 0) | g)), "'dispformula'")
})

test_that("against glmmTMB where it fits random effects in dispformula (1.1.10 and later)", {
  skip_if_not_installed("glmmTMB", "1.1.10")
  for (fam in c("gaussian", "nbinom2", "Gamma", "beta")) for (seed in c(1, 3)) {
    d <- location_scale_data(m = 30, k = 10, family = fam, d = c(if (fam == "beta") 2 else 0.3, 0.4),
                             seed = seed)
    f <- switch(fam, gaussian = gaussian(), nbinom2 = nbinom2(), Gamma = Gamma("log"),
                beta = beta_family())
    ft <- switch(fam, gaussian = gaussian(), Gamma = Gamma("log"),
                 nbinom2 = glmmTMB::nbinom2(), beta = glmmTMB::beta_family())
    a <- glmm(y ~ x + (1 | g), data = d, family = f, dispformula = ~ z + (1 | g))
    b <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = ft, dispformula = ~ z + (1 | g))
    lab <- paste(fam, seed)
    expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-4, label = lab)
    expect_equal(unname(c(fixef(a), a$aux$disp$coef)),
                 unname(c(glmmTMB::fixef(b)$cond, glmmTMB::fixef(b)$disp)),
                 tolerance = 1e-3, label = lab)
  }
})

test_that("cluster-robust covariance: the clusters' scores are those of the independent Laplace", {
  d <- location_scale_data(m = 15, k = 8, seed = 2)
  fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g))
  par <- location_scale_par(fit)
  expect_true(all(is.finite(par)))
  clus <- function(lv) {
    i <- d$g == lv
    function(th) reference_location_scale_laplace(th, d$y[i], cbind(1, d$x[i]), cbind(1, d$z[i]),
                                                  droplevels(d$g[i]), gaussian_logdens,
                                                  gaussian_rowderivs)
  }
  cgrad <- function(f, th, h = 1e-5) vapply(seq_along(th), function(k) {
    e <- replace(numeric(length(th)), k, h)
    (f(th + e) - f(th - e)) / (2 * h)
  }, 0)
  G <- t(vapply(levels(d$g), function(lv) cgrad(clus(lv), par), numeric(6)))
  expect_lt(max(abs(colSums(G))), 1e-4)
  total_grad <- function(th) rowSums(vapply(levels(d$g), function(lv) cgrad(clus(lv), th), numeric(6)))
  H <- numDeriv::jacobian(total_grad, par, method = "simple", method.args = list(eps = 1e-4))
  H <- (H + t(H)) / 2
  b <- 1:2
  o <- 3:6
  # The fixed effects' scores with the other parameters projected out
  # (estfun()'s), and the sandwich built on them.
  Seff <- G[, b] - G[, o] %*% solve(H[o, o], H[o, b])
  S <- sandwich::estfun(fit)
  S <- S[rowSums(abs(S)) > 0, , drop = FALSE]
  expect_lt(max(abs(unname(S) - unname(Seff))), 5e-3)
  Hi <- solve(-H)[b, b]
  expect_equal(unname(vcov(fit, type = "CR0")), unname(Hi %*% crossprod(Seff) %*% Hi),
               tolerance = 1e-3)
  for (ty in c("CR2", "CR3")) expect_true(all(is.finite(vcov(fit, type = ty))), label = ty)
})

test_that("profile intervals: the limit is where the refit with the value held drops by the quantile", {
  d <- location_scale_data(m = 25, k = 8, seed = 11)
  fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g))
  ci <- confint(fit, parm = "x", method = "profile")
  for (lim in ci[1, ]) {
    held <- glmm(y ~ 1 + offset(lim * x) + (1 | g), data = d, dispformula = ~ z + (1 | g))
    expect_equal(2 * as.numeric(logLik(fit) - logLik(held)), qchisq(0.95, 1), tolerance = 1e-3)
  }
  cid <- confint(fit, parm = "sd_disp.(Intercept)|g", method = "profile")
  sd_v <- attr(VarCorr(fit)[["disp~g"]], "stddev")
  expect_true(cid[1, 1] < sd_v && sd_v < cid[1, 2])
})
