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
  # estimates: the optimum is the reference's too. Measured as the Newton
  # step it implies, in standard errors (both from the reference's
  # Hessian): the raw gradient depends on the units of y, in which the fit
  # is not searched.
  gr <- vapply(seq_along(par), function(k) {
    e <- replace(numeric(length(par)), k, 1e-4)
    (ref(par + e) - ref(par - e)) / 2e-4
  }, 0)
  V <- solve(-numDeriv::hessian(ref, par))
  expect_lt(max(abs(drop(V %*% gr)) / sqrt(diag(V))), 1e-4)
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
    expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, 0.2, -0.1)), 1e-5, label = fam)
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
  # sigma() is refused by name, not computed as if the dispersion were one
  # (also with no fixed dispersion coefficient but the intercept); the
  # variance shares average sigma_i^2 over the observations and the
  # dispersion's random effects (test-variance-shares.R)
  fit1 <- update(fit, dispformula = ~ 1 + (1 | g))
  expect_error(sigma(fit1), "varies by observation")
  for (f in list(fit, fit1)) {
    res <- variance_shares(f)
    eta <- drop(f$aux$disp$X %*% f$aux$disp$coef)
    sd_d <- attr(VarCorr(f)[["disp~g"]], "stddev")[[1L]]
    expect_equal(res$estimate[res$quantity == "variance" & res$component == "residual"],
                 mean(exp(2 * eta + 2 * sd_d^2)), tolerance = 1e-8)
  }
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
  # R2 and ICC are variance_shares()'s
  vs <- variance_shares(fit)
  expect_equal(mp$R2_conditional, vs$estimate[vs$quantity == "R2" & vs$component == "conditional"],
               tolerance = 1e-8)
  expect_equal(mp$ICC, vs$estimate[vs$quantity == "ICC"], tolerance = 1e-8)
})

test_that("a level the mean fits exactly is named, as without random effects", {
  d <- location_scale_data(m = 20, k = 6, seed = 4)
  d$f <- factor(ifelse(seq_len(nrow(d)) == 1L, "b", "a"))
  expect_error(glmm(y ~ x + f + (1 | g), data = d, dispformula = ~ f + (1 | g)),
               "fitted exactly")
})

test_that("the exact-fit check passes groups with one random effect per row", {
  # An AR(1) effect at each time point, one row per time point: the mean
  # spans every row of a dispersion level, but the random effects' part of
  # the marginal covariance stays as the residual scale shrinks, so the
  # likelihood is bounded there.
  d <- structured_location_scale_data(m = 30, reps = 1, seed = 3)
  mf <- stats::model.frame(yg ~ arm + tf + id, d)
  re <- sparse_re_terms(yg ~ arm + (0 + tf | id), mf)
  X <- stats::model.matrix(~ arm, d)
  expect_silent(check_disp_levels(d$yg, rep(1, nrow(d)), X, re, X, mf, ~ arm + (1 | id),
                                  gaussian()))
  # One intercept per subject does not span a level's rows: subjects with
  # constant responses in a level of their own (80 rows, beyond the check's
  # screen of a level's first 60) are still named.
  b <- as.integer(d$id) <= 20L
  d$f <- factor(ifelse(b, "b", "a"))
  d$yg[b] <- as.integer(d$id[b]) / 7
  mf <- stats::model.frame(yg ~ arm + f + id, d)
  re1 <- sparse_re_terms(yg ~ arm + (1 | id), mf)
  expect_error(check_disp_levels(d$yg, rep(1, nrow(d)), stats::model.matrix(~ arm + f, d), re1,
                                 stats::model.matrix(~ f, d), mf, ~ f + (1 | id), gaussian()),
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
  d$h <- factor(d$x > 0)
  # (random effects in the zero part too: quadrature only where every part's
  # terms lie on one grouping factor)
  expect_error(glmm(y ~ x + (1 | g), data = d, family = nbinom2(), ziformula = ~ (1 | h),
                    dispformula = ~ (1 | g), nAGQ = 3),
               "'nAGQ'.*both 'ziformula' and 'dispformula'.*one grouping factor")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = nbinom2(), nAGQ = 5, ziformula = ~ 1,
                    dispformula = ~ (1 | h)), "'nAGQ'.*one grouping factor")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = nbinom2(), nAGQ = 5,
                    dispformula = ~ (1 | h)), "'nAGQ'.*one grouping factor")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = poisson(), dispformula = ~ (1 | g)),
               "'dispformula'.*no dispersion")
})

test_that("structures beside a zero part and a random dispersion: the plain terms' fits", {
  # diag() of one column and us() are the unstructured terms: the structured
  # fitter (engine kinds 5 and 6 on structured terms) gives the plain
  # fitter's optimum, for zero inflation, a hurdle and zero truncation.
  d <- structured_location_scale_data(m = 60, sv = 0.7, seed = 2)
  set.seed(2)
  d$yz <- d$yn * stats::rbinom(nrow(d), 1, 0.8)
  d2 <- d[d$time <= 2, ]
  dp <- d[d$yn > 0, ]
  cases <- list(
    list(data = d, y = "yz", family = nbinom2(), zi = ~ arm),
    list(data = d, y = "yn", family = truncated_nbinom2(), zi = ~ arm),
    list(data = dp, y = "yn", family = truncated_nbinom1(), zi = NULL))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    fs <- stats::as.formula(paste(cs$y, "~ arm + diag(1 | id)"))
    fp <- stats::as.formula(paste(cs$y, "~ arm + (1 | id)"))
    a <- glmm(fs, data = cs$data, family = cs$family, ziformula = cs$zi,
              dispformula = ~ arm + (1 | id))
    b <- glmm(fp, data = cs$data, family = cs$family, ziformula = cs$zi,
              dispformula = ~ arm + (1 | id))
    expect_s3_class(a, "glmmgee_glmm_covstruct")
    expect_s3_class(a, "glmmgee_glmm_dispre")
    expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-7, label = k)
    expect_equal(unname(c(fixef(a), a$aux$zi$coef, a$aux$disp$coef)),
                 unname(c(fixef(b), b$aux$zi$coef, b$aux$disp$coef)), tolerance = 1e-4, label = k)
    expect_equal(unname(predict(a, type = "response")), unname(predict(b, type = "response")),
                 tolerance = 1e-4, label = k)
  }
  # us() over two time points, the plain correlated term (both end with the
  # correlation at 1, and say so).
  a <- suppressWarnings(glmm(yz ~ arm + us(0 + tf | id), data = d2, family = nbinom2(),
                             ziformula = ~ 1, dispformula = ~ (1 | id)))
  b <- suppressWarnings(glmm(yz ~ arm + (0 + tf | id), data = d2, family = nbinom2(),
                             ziformula = ~ 1, dispformula = ~ (1 | id)))
  expect_true(a$singular && b$singular)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-6)
  # An AR(1) mean beside both: the robust covariance and the methods.
  f <- glmm(yz ~ arm + ar1(0 + tf | id), data = d, family = nbinom2(), ziformula = ~ arm,
            dispformula = ~ arm + (1 | id))
  expect_identical(utils::tail(names(f$theta), 4),
                   c("zi~(Intercept)", "zi~arm", "disp~(Intercept)", "disp~arm"))
  V <- vcov(f, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  pz <- predict(f, type = "zprob")
  expect_equal(unname(predict(f, type = "response")),
               unname((1 - pz) * predict(f, type = "conditional")), tolerance = 1e-10)
  expect_equal(dim(simulate(f, nsim = 2, seed = 1)), c(nrow(d), 2L))
})

test_that("random effects in the dispersion formula only: the independent Laplace, the methods", {
  for (fam in c("gaussian", "nbinom2")) {
    d <- location_scale_data(m = 30, k = 15, family = fam, su = 0, d = c(0.3, 0.4), seed = 4)
    f <- if (fam == "gaussian") gaussian() else nbinom2()
    logdens <- if (fam == "gaussian") gaussian_logdens
               else function(y, eta, ld) stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE)
    fit <- glmm(y ~ x, data = d, family = f, dispformula = ~ z + (1 | g))
    expect_s3_class(fit, "glmmgee_glmm_dispre")
    expect_identical(names(VarCorr(fit)), "disp~g")
    par <- location_scale_par(fit)
    ref <- function(th) reference_location_scale_laplace(th, d$y, cbind(1, d$x), cbind(1, d$z),
                                                         d$g, logdens, mean_re = FALSE)
    expect_lt(abs(as.numeric(logLik(fit)) - ref(par)), 1e-6, label = fam)
    # The reference's gradient vanishes at the estimates.
    gr <- vapply(seq_along(par), function(k) {
      e <- replace(numeric(length(par)), k, 1e-4)
      (ref(par + e) - ref(par - e)) / 2e-4
    }, 0)
    expect_lt(max(abs(gr)), 1e-3, label = fam)
    expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, -0.1)), 1e-5, label = fam)
  }
  # The methods, on the nbinom2 fit.
  expect_output(print(fit), "Conditional model \\(log mean of the count part; no random effect\\)")
  expect_output(print(fit), "Dispersion formula: ~z \\+ \\(1 \\| g\\)")
  expect_identical(ranef(fit), ranef(fit, component = "disp"))
  v <- ranef(fit)$g[["(Intercept)"]]
  del <- fit$aux$disp$coef
  expect_equal(unname(predict(fit, type = "disp")),
               unname(exp(del[[1]] + del[[2]] * d$z + v[as.integer(d$g)])), tolerance = 1e-10)
  V <- vcov(fit, type = "CR2")
  expect_equal(V, vcov(fit, type = "CR2", cluster = ~ g), tolerance = 1e-12)
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  st <- standardize(fit, "x", values = c(0, 1))
  expect_true(all(is.finite(st$std.error)) && all(st$std.error > 0))
  td <- broom.mixed::tidy(fit)
  expect_setequal(unique(td$component), c("cond", "disp"))
  # Without random effects in any part, glmm() is not the function.
  expect_error(glmm(y ~ x, data = d, family = nbinom2(), dispformula = ~ z),
               "no random-effects term")
})

test_that("adaptive quadrature: the gaussian location-scale likelihood converges to the exact one", {
  # Clusters of 6 rows: the Laplace approximation is 3 log-likelihood units
  # off here; the quadrature rules close in on the exact value (the mean's
  # intercept integrated in closed form, the dispersion's by integrate()).
  d <- location_scale_data(m = 40, k = 6, seed = 11)
  err <- vapply(c(1, 5, 9, 15), function(q) {
    f <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g), nAGQ = q)
    as.numeric(logLik(f)) - exact_gaussian_location_scale(location_scale_par(f), d$y,
                                                          cbind(1, d$x), cbind(1, d$z), d$g)
  }, 0)
  expect_gt(abs(err[1]), 1)
  expect_true(all(diff(abs(err)) < 0))
  expect_lt(abs(err[4]), 0.01)
  # The fit's engine: its exact gradient, its clusters' log-likelihoods,
  # its methods.
  fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g), nAGQ = 9)
  expect_identical(fit$engine$name, "agq_zero_re")
  expect_identical(fit$nAGQ, 9L)
  expect_output(print(fit), "quadrature.*nAGQ = 9")
  expect_equal(sum(fit$cluster_loglik), fit$loglik, tolerance = 1e-10)
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, -0.1, 0.05)), 1e-5)
  # Its modes are those of the quadrature's centring: at nAGQ = 1 the same
  # engine gives the Laplace fit (the sparse engine's, to its optimum).
  lap <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g))
  one <- glmmgee:::glmm_dispre_agq_fit(
    stats::model.matrix(~ x, d), d$y, glmmgee:::sparse_re_terms(~ (1 | g), d),
    glmmgee:::sparse_re_terms(~ (1 | g), d), glmmgee:::resolve_family(gaussian()),
    stats::model.matrix(~ z, d), rep(1, nrow(d)), rep(0, nrow(d)), glmm_control(), NULL, NULL, 1L)
  expect_equal(unname(one$theta), unname(lap$theta), tolerance = 1e-6)
  expect_equal(one$zterms[[1]]$b, lap$aux$disp$re$terms[[1]]$b, tolerance = 1e-5)
  expect_equal(one$terms[[1]]$condvar, lap$reterms[[1]]$condvar, tolerance = 1e-5)
  ci <- confint(fit, parm = c("sd_disp.(Intercept)|g", "disp.z"), method = "profile")
  w <- confint(fit, parm = c("sd_disp.(Intercept)|g", "disp.z"))
  expect_equal(unname(ci), unname(w), tolerance = 0.05)
  V <- vcov(fit, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  expect_equal(names(VarCorr(fit)), c("g", "disp~g"))
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  # Posterior means from the quadrature, of both parts' effects: near the
  # modes, not equal to them (the dispersion's posterior is skewed).
  for (cmp in c("cond", "disp")) {
    rm <- ranef(fit, type = "mean", component = cmp)$g
    ro <- ranef(fit, component = cmp)$g
    expect_identical(attr(ranef(fit, type = "mean", component = cmp), "type"), "mean")
    expect_lt(max(abs(rm - ro)), 0.3, label = cmp)
    expect_gt(max(abs(rm - ro)), 1e-4, label = cmp)
    expect_true(all(attr(rm, "postVar") > 0))
  }
  expect_error(ranef(lap, type = "mean"), "adaptive quadrature")
  # A random slope far from zero: the fit integrates in a rotated basis;
  # the robust covariance rebuilds that engine (its CR0 that of the centred
  # fit), the profile is refused with the way out.
  set.seed(1)
  ds <- data.frame(g = factor(rep(1:40, each = 8)), x = rnorm(320), z = rbinom(320, 1, 0.5))
  ds$y <- rnorm(320, 1 + 0.5 * ds$x + rnorm(40)[ds$g] + rnorm(40, sd = 0.3)[ds$g] * ds$x,
                exp(-0.3 + 0.4 * ds$z + rnorm(40, sd = 0.5)[ds$g]))
  ds$x300 <- ds$x + 300
  # (the uncentred fit's correlation is near -1, and it says so)
  fr <- suppressWarnings(glmm(y ~ x300 + (1 + x300 | g), data = ds, dispformula = ~ z + (1 | g),
                              nAGQ = 3))
  fc <- glmm(y ~ x + (1 + x | g), data = ds, dispformula = ~ z + (1 | g), nAGQ = 3)
  expect_equal(as.numeric(logLik(fr)), as.numeric(logLik(fc)), tolerance = 1e-6)
  expect_equal(vcov(fr, type = "CR0")[2, 2], vcov(fc, type = "CR0")[2, 2], tolerance = 1e-4)
  expect_lt(engine_gradient_error(fr, c(0.01, 0.001, 0.05, 0.001, 0.002, 0.05, 0.02, -0.02)), 1e-5)
  expect_error(confint(fr, method = "profile", parm = "x300"), "rotated basis.*centre the covariate")
  # A dispersion formula without fixed columns; a collinear one named.
  f0 <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ 0 + (1 | g), nAGQ = 3)
  expect_identical(names(f0$theta), c("(Intercept)", "x", "g.(Intercept)", "disp~g.(Intercept)"))
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + I(2 * z) + (1 | g), nAGQ = 3),
               "'dispformula': the dispersion model matrix is rank deficient")
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + I(2 * z) + (1 | g)),
               "'dispformula': the dispersion model matrix is rank deficient")
  # A count family: quadrature moves the Laplace fit little with clusters
  # of 20.
  dn <- location_scale_data(m = 30, k = 20, family = "nbinom2", d = c(0.3, 0.4), seed = 1)
  fl <- glmm(y ~ x + (1 | g), data = dn, family = nbinom2(), dispformula = ~ z + (1 | g))
  fq <- glmm(y ~ x + (1 | g), data = dn, family = nbinom2(), dispformula = ~ z + (1 | g), nAGQ = 7)
  expect_lt(abs(as.numeric(logLik(fq) - logLik(fl))), 0.5)
  expect_equal(unname(fixef(fq)), unname(fixef(fl)), tolerance = 0.02)
  expect_lt(engine_gradient_error(fq, c(0.05, -0.03, 0.1, 0.08, -0.1, 0.05)), 1e-5)
})

test_that("profiles of structured two-part fits equal the plain fits' where the structure is the plain term", {
  # diag(1 | id) is (1 | id): the profile engine of structured fits with a
  # zero part beside a random dispersion, and with a structure in the zero
  # part, gives the plain fits' intervals.
  d <- structured_location_scale_data(m = 60, sv = 0.7, seed = 3)
  set.seed(4)
  d$yz <- d$yn * stats::rbinom(nrow(d), 1, 0.8)
  a <- glmm(yz ~ arm + diag(1 | id), data = d, family = nbinom2(), ziformula = ~ 1,
            dispformula = ~ arm + (1 | id))
  b <- glmm(yz ~ arm + (1 | id), data = d, family = nbinom2(), ziformula = ~ 1,
            dispformula = ~ arm + (1 | id))
  ca <- confint(a, method = "profile")
  cb <- confint(b, method = "profile")
  at <- c("(Intercept)", "arm", "diag(1 | id): sd((Intercept))",
          "disp~us(1 | id): lambda[(Intercept),(Intercept)]", "zi.(Intercept)",
          "disp.(Intercept)", "disp.arm")
  bt <- c("(Intercept)", "arm", "sd_(Intercept)|id", "sd_disp.(Intercept)|id", "zi.(Intercept)",
          "disp.(Intercept)", "disp.arm")
  expect_equal(unname(ca[at, ]), unname(cb[bt, ]), tolerance = 1e-4)
  a2 <- glmm(yz ~ arm + (1 | id), data = d, family = poisson(), ziformula = ~ diag(1 | id))
  b2 <- glmm(yz ~ arm + (1 | id), data = d, family = poisson(), ziformula = ~ (1 | id))
  ca <- confint(a2, method = "profile", parm = c("arm", "zi~diag(1 | id): sd((Intercept))"))
  cb <- confint(b2, method = "profile", parm = c("arm", "sd_zi.(Intercept)|id"))
  expect_equal(unname(ca), unname(cb), tolerance = 1e-4)
  # An AR(1) mean beside them: each limit lies where the profile crosses
  # the quantile, its correlation within (-1, 1].
  f <- glmm(yg ~ arm + ar1(0 + tf | id), data = d, dispformula = ~ arm + (1 | id))
  ci <- confint(f, method = "profile", parm = c("ar1(0 + tf | id): rho", "disp.arm"))
  w <- confint(f, parm = "disp.arm")
  expect_equal(unname(ci[2, ]), unname(w[1, ]), tolerance = 0.05)
  rho <- f$structures[[1]]$rho
  expect_true(ci[1, 1] < rho && rho < ci[1, 2] && ci[1, 2] <= 1)
})

test_that("penalized: a level with only zeros gets a finite coefficient beside a random dispersion", {
  d <- location_scale_data(m = 40, k = 10, family = "nbinom2", d = c(0.3, 0.4), seed = 3)
  set.seed(1)
  d$f <- factor(sample(c("a", "b", "c"), nrow(d), TRUE))
  d$y[d$f == "c"] <- 0
  f0 <- suppressWarnings(glmm(y ~ x + f + (1 | g), data = d, family = nbinom2(),
                              dispformula = ~ z + (1 | g)))
  f1 <- glmm(y ~ x + f + (1 | g), data = d, family = nbinom2(), dispformula = ~ z + (1 | g),
             penalized = TRUE)
  expect_lt(fixef(f0)[["fc"]], -10)
  expect_true(fixef(f1)[["fc"]] > -10 && fixef(f1)[["fc"]] < -2)
  # logLik() is the likelihood; the objective adds the log prior.
  expect_equal(as.numeric(logLik(f1)), f1$penalty$loglik)
  expect_equal(f1$penalty$objective, f1$penalty$loglik + f1$penalty$value)
  expect_output(print(f1), "penalized maximum likelihood")
  # The other coefficients as without the penalty, the prior's pull apart.
  expect_equal(fixef(f1)[c("(Intercept)", "x", "fb")], fixef(f0)[c("(Intercept)", "x", "fb")],
               tolerance = 0.05)
  # By quadrature too.
  f2 <- glmm(y ~ x + f + (1 | g), data = d, family = nbinom2(), dispformula = ~ z + (1 | g),
             penalized = TRUE, nAGQ = 5)
  expect_equal(fixef(f2), fixef(f1), tolerance = 0.05)
  expect_equal(f2$penalty$objective, f2$penalty$loglik + f2$penalty$value)
})

test_that("start: from an earlier fit's theta, or from elsewhere, the same optimum", {
  d <- location_scale_data(m = 25, k = 8, seed = 11)
  fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g))
  again <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g), start = fit$theta)
  expect_gt(as.numeric(logLik(again)), as.numeric(logLik(fit)) - 1e-8)
  expect_equal(again$theta, fit$theta, tolerance = 1e-4)
  far <- replace(fit$theta, seq_along(fit$theta), c(0, 0, 1, 1, 0, 0))
  other <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g), start = far)
  expect_lt(abs(as.numeric(logLik(other)) - as.numeric(logLik(fit))), 1e-6)
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g), start = c(0, 0)),
               "'start' must be 6 finite numbers")
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ z + (1 | g),
                    start = c(0, 0, 1, 1, 0, NA)), "'start' must be")
})

test_that("zero inflation beside a random dispersion: the independent Laplace, the methods", {
  d <- location_scale_data(m = 30, k = 20, family = "nbinom2", d = c(0.3, 0.4), seed = 2)
  set.seed(2)
  d$y <- d$y * stats::rbinom(nrow(d), 1, 0.8)
  fit <- glmm(y ~ x + (1 | g), data = d, family = nbinom2(), ziformula = ~ 1,
              dispformula = ~ z + (1 | g))
  expect_s3_class(fit, "glmmgee_glmm_dispre")
  expect_s3_class(fit, "glmmgee_glmm_zi")
  expect_identical(names(fit$theta)[5:7], c("zi~(Intercept)", "disp~(Intercept)", "disp~z"))
  pz <- stats::plogis(fit$aux$zi$coef[[1]])
  zinb <- function(y, eta, ld) {
    f0 <- stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE)
    ifelse(y == 0, log(pz + (1 - pz) * exp(f0)), log1p(-pz) + f0)
  }
  ref <- reference_location_scale_laplace(location_scale_par(fit), d$y, cbind(1, d$x),
                                          cbind(1, d$z), d$g, zinb)
  expect_lt(abs(as.numeric(logLik(fit)) - ref), 1e-4)
  # The engine's exact gradient (which needs the rows' third derivatives
  # in the mean and the log dispersion) against differences of its value,
  # away from the optimum.
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, 0.2, -0.1, 0.05)), 1e-5)
  # The zeros the data were given: a clearly better fit than without the
  # zero part.
  f0 <- glmm(y ~ x + (1 | g), data = d, family = nbinom2(), dispformula = ~ z + (1 | g))
  expect_gt(as.numeric(logLik(fit) - logLik(f0)), 5)
  # The methods: the mean of y is (1 - pi) mu; each part's intervals.
  mu <- predict(fit, type = "conditional")
  expect_equal(unname(predict(fit, type = "response")), unname((1 - pz) * mu), tolerance = 1e-10)
  expect_equal(unname(predict(fit, type = "zprob")), rep(pz, nrow(d)), tolerance = 1e-12)
  v <- ranef(fit, component = "disp")$g[["(Intercept)"]]
  del <- fit$aux$disp$coef
  expect_equal(unname(predict(fit, type = "disp")),
               unname(exp(del[[1]] + del[[2]] * d$z + v[as.integer(d$g)])), tolerance = 1e-10)
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  ci <- confint(fit, parm = c("zi.(Intercept)", "disp.z"), method = "profile")
  w <- confint(fit, parm = c("zi.(Intercept)", "disp.z"))
  expect_equal(unname(ci), unname(w), tolerance = 0.1)
  V <- vcov(fit, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  td <- broom.mixed::tidy(fit)
  expect_setequal(unique(td$component), c("cond", "zi", "disp"))
})

test_that("a hurdle beside a random dispersion: the independent Laplace, the gradient, the mean", {
  d <- location_scale_data(m = 30, k = 20, family = "nbinom2", d = c(0.3, 0.4), seed = 4)
  set.seed(4)
  d$y <- d$y * stats::rbinom(nrow(d), 1, 0.8)
  fit <- glmm(y ~ x + (1 | g), data = d, family = truncated_nbinom2(), ziformula = ~ 1,
              dispformula = ~ z + (1 | g))
  expect_s3_class(fit, "glmmgee_glmm_dispre")
  pz <- stats::plogis(fit$aux$zi$coef[[1]])
  hurdle <- function(y, eta, ld) {
    f <- stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE)
    f0 <- stats::dnbinom(0, size = exp(ld), mu = exp(eta), log = TRUE)
    ifelse(y == 0, log(pz), log1p(-pz) + f - log(-expm1(f0)))
  }
  ref <- reference_location_scale_laplace(location_scale_par(fit), d$y, cbind(1, d$x),
                                          cbind(1, d$z), d$g, hurdle)
  expect_lt(abs(as.numeric(logLik(fit)) - ref), 1e-4)
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, 0.2, -0.1, 0.05)), 1e-5)
  # The mean of y: (1 - pi) mu / (1 - f_c(0)), at each row's own dispersion.
  mu <- exp(predict(fit, type = "link"))
  th_r <- predict(fit, type = "disp")
  expect_equal(unname(predict(fit, type = "response")),
               unname((1 - pz) * mu / (1 - stats::dnbinom(0, size = th_r, mu = mu))),
               tolerance = 1e-10)
  V <- vcov(fit, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  # Zero-truncated (no zero part): the rows with counts.
  dp <- d[d$y > 0, ]
  ft <- glmm(y ~ x + (1 | g), data = dp, family = truncated_nbinom2(), dispformula = ~ z + (1 | g))
  trunc <- function(y, eta, ld) stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE) -
    log(-expm1(stats::dnbinom(0, size = exp(ld), mu = exp(eta), log = TRUE)))
  ref <- reference_location_scale_laplace(location_scale_par(ft), dp$y, cbind(1, dp$x),
                                          cbind(1, dp$z), dp$g, trunc)
  expect_lt(abs(as.numeric(logLik(ft)) - ref), 1e-4)
  expect_true(all(is.finite(confint(ft, method = "profile", parm = "disp.z"))))
})

test_that("covariance structures beside dispersion random effects: diag() and us() are the plain terms", {
  d <- structured_location_scale_data(seed = 2)
  # (x's dispersion slope has SD 0 in truth: singular fits, both)
  a <- suppressWarnings(glmm(yg ~ arm + (1 | id), data = d, dispformula = ~ 1 + diag(1 + x | id)))
  b <- suppressWarnings(glmm(yg ~ arm + (1 | id), data = d, dispformula = ~ 1 + (1 + x || id)))
  expect_true(a$singular && b$singular)
  expect_s3_class(a, "glmmgee_glmm_dispre")
  expect_s3_class(a, "glmmgee_glmm_covstruct")
  expect_identical(a$engine$name, "laplace_sparse_zero_re")
  expect_lt(abs(as.numeric(logLik(a)) - as.numeric(logLik(b))), 1e-7)
  expect_equal(fixef(a), fixef(b), tolerance = 1e-5)
  expect_equal(a$aux$disp$coef, b$aux$disp$coef, tolerance = 1e-5)
  expect_equal(unname(attr(VarCorr(a)[["disp~id"]], "stddev")),
               unname(c(attr(VarCorr(b)[["disp~id"]], "stddev"),
                        attr(VarCorr(b)[["disp~id.1"]], "stddev"))), tolerance = 1e-4)
  # The cluster-robust covariance through the structure's Jacobian is the
  # plain terms' own.
  expect_equal(vcov(a, type = "CR2"), vcov(b, type = "CR2"), tolerance = 1e-4)
  # (and the mean's x slope has SD 0)
  c1 <- suppressWarnings(glmm(yn ~ arm + us(1 + x | id), family = nbinom2(), data = d,
                              dispformula = ~ arm + (1 | id)))
  c2 <- suppressWarnings(glmm(yn ~ arm + (1 + x | id), family = nbinom2(), data = d,
                              dispformula = ~ arm + (1 | id)))
  expect_lt(abs(as.numeric(logLik(c1)) - as.numeric(logLik(c2))), 1e-7)
  expect_equal(c1$aux$disp$coef, c2$aux$disp$coef, tolerance = 1e-5)
})

test_that("an AR(1) mean beside a random dispersion: the truth is recovered, the methods work", {
  d <- structured_location_scale_data(m = 150, sw = 0, seed = 5)
  fit <- glmm(yg ~ arm + ar1(0 + tf | id), data = d, dispformula = ~ arm + (1 | id))
  ci <- confint(fit, level = 0.999)
  truth <- c("cor_tf2.tf1|id" = 0.6, "sd_tf1|id" = 0.5, "sd_disp.(Intercept)|id" = 0.4,
             "disp.arm" = 0.3, "disp.(Intercept)" = -0.5, arm = 0.3)
  for (k in names(truth)) {
    expect_gt(truth[[k]], ci[k, 1], label = k)
    expect_lt(truth[[k]], ci[k, 2], label = k)
  }
  expect_output(print(summary(fit)), "ar1(0 + tf | id)", fixed = TRUE)
  expect_output(print(summary(fit)), "Dispersion model (log sigma, given the random effects of id)",
                fixed = TRUE)
  # The dispersion at zero random effects is exp(Xd delta); at the modes
  # each subject's own.
  del <- fit$aux$disp$coef
  expect_equal(unname(predict(fit, type = "disp", re.form = NA)),
               unname(exp(del[[1]] + del[[2]] * d$arm)), tolerance = 1e-10)
  v <- ranef(fit, component = "disp")$id[["(Intercept)"]]
  expect_length(v, 150L)
  expect_equal(unname(predict(fit, type = "disp")),
               unname(exp(del[[1]] + del[[2]] * d$arm + v[as.integer(d$id)])), tolerance = 1e-10)
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  td <- broom.mixed::tidy(fit)
  expect_true(any(td$component == "disp" & td$effect == "ran_pars"))
  for (type in c("CR0", "CR1", "CR2", "CR3")) {
    V <- vcov(fit, type = type)
    expect_true(all(is.finite(V)) && all(diag(V) > 0), label = type)
  }
  # the residual variance: sigma_i^2 averaged over the rows and the
  # dispersion's random effects, also beside a structure
  vs <- variance_shares(fit)
  eta <- drop(fit$aux$disp$X %*% fit$aux$disp$coef)
  sd_d <- attr(VarCorr(fit)[["disp~id"]], "stddev")[[1L]]
  expect_equal(vs$estimate[vs$quantity == "variance" & vs$component == "residual"],
               mean(exp(2 * eta + 2 * sd_d^2)), tolerance = 1e-8)
  # Against the fixed-dispersion model it nests: a likelihood-ratio test.
  fit0 <- update(fit, dispformula = ~ arm)
  expect_gt(as.numeric(logLik(fit) - logLik(fit0)), 5)
  expect_equal(anova(fit0, fit)$Df[2], 1)
})

test_that("structures in either formula against glmmTMB (1.1.10 and later)", {
  skip_if_not_installed("glmmTMB", "1.1.10")
  d <- structured_location_scale_data(seed = 11)
  models <- list(
    list(yg ~ arm + ar1(0 + tf | id), ~ arm + (1 | id), "gaussian"),
    list(yg ~ arm + (1 | id), ~ arm + ar1(0 + tf | id), "gaussian"),
    list(yg ~ arm + cs(0 + tf | id), ~ arm + diag(1 + x | id), "gaussian"),
    list(yn ~ arm + ar1(0 + tf | id), ~ arm + (1 | id), "nbinom2"),
    list(yn ~ arm + (1 | id), ~ 1 + homcs(0 + tf | id), "nbinom2"),
    list(yG ~ arm + toep(0 + tf | id), ~ arm + (1 | id), "Gamma"),
    list(yb ~ arm + ar1(0 + tf | id), ~ arm + (1 | id), "beta"))
  for (m in models) {
    f <- switch(m[[3]], gaussian = gaussian(), nbinom2 = nbinom2(), Gamma = Gamma("log"),
                beta = beta_family())
    ft <- switch(m[[3]], gaussian = gaussian(), Gamma = Gamma("log"),
                 nbinom2 = glmmTMB::nbinom2(), beta = glmmTMB::beta_family())
    a <- suppressWarnings(glmm(m[[1]], data = d, family = f, dispformula = m[[2]]))
    b <- suppressWarnings(glmmTMB::glmmTMB(m[[1]], data = d, family = ft, dispformula = m[[2]]))
    lab <- paste(deparse(m[[1]]), deparse(m[[2]]))
    if (b$fit$convergence != 0 || !isTRUE(b$sdr$pdHess)) next
    expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-4, label = lab)
    expect_equal(unname(c(fixef(a), a$aux$disp$coef)),
                 unname(c(glmmTMB::fixef(b)$cond, glmmTMB::fixef(b)$disp)),
                 tolerance = 1e-3, label = lab)
  }
  # Beside a zero part: zero inflation, a hurdle, zero truncation.
  d <- structured_location_scale_data(m = 60, sv = 0.7, seed = 3)
  set.seed(4)
  d$yz <- d$yn * stats::rbinom(nrow(d), 1, 0.8)
  dp <- d[d$yn > 0, ]
  cases <- list(list(d, yz ~ arm + ar1(0 + tf | id), "nbinom2", ~ arm),
                list(d, yn ~ arm + ar1(0 + tf | id), "truncated_nbinom2", ~ arm),
                list(dp, yn ~ arm + ar1(0 + tf | id), "truncated_nbinom2", NULL))
  for (cs in cases) {
    a <- suppressWarnings(glmm(cs[[2]], data = cs[[1]], family = get(cs[[3]])(), ziformula = cs[[4]],
                               dispformula = ~ arm + (1 | id)))
    b <- suppressWarnings(glmmTMB::glmmTMB(cs[[2]], data = cs[[1]],
                                           family = getExportedValue("glmmTMB", cs[[3]])(),
                                           ziformula = cs[[4]] %||% ~ 0,
                                           dispformula = ~ arm + (1 | id)))
    lab <- paste(cs[[3]], deparse(cs[[4]]))
    expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-4, label = lab)
    expect_equal(unname(c(fixef(a), a$aux$zi$coef, a$aux$disp$coef)),
                 unname(c(glmmTMB::fixef(b)$cond, glmmTMB::fixef(b)$zi, glmmTMB::fixef(b)$disp)),
                 tolerance = 1e-3, label = lab)
  }
})

test_that("against glmmTMB where it fits random effects in dispformula (1.1.10 and later)", {
  skip_if_not_installed("glmmTMB", "1.1.10")
  # With a zero part beside it (fixed effects), for both negative binomials.
  for (fam in c("nbinom2", "nbinom1")) for (seed in c(1, 2)) {
    d <- location_scale_data(m = 40, k = 25, family = "nbinom2", d = c(0.5, 0.5), sv = 0.8,
                             seed = seed)
    d$y <- d$y * stats::rbinom(nrow(d), 1, 0.8)
    a <- glmm(y ~ x + (1 | g), data = d, family = get(fam)(), ziformula = ~ z,
              dispformula = ~ z + (1 | g))
    b <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = getExportedValue("glmmTMB", fam)(),
                          ziformula = ~ z, dispformula = ~ z + (1 | g))
    lab <- paste("zero-inflated", fam, seed)
    h <- glmm(y ~ x + (1 | g), data = d, family = get(paste0("truncated_", fam))(), ziformula = ~ z,
              dispformula = ~ z + (1 | g))
    hb <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, ziformula = ~ z, dispformula = ~ z + (1 | g),
                           family = getExportedValue("glmmTMB", paste0("truncated_", fam))())
    expect_gt(as.numeric(logLik(h)) - as.numeric(logLik(hb)), -1e-4, label = paste("hurdle", fam))
    expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-4, label = lab)
    expect_equal(unname(c(fixef(a), a$aux$zi$coef, a$aux$disp$coef)),
                 unname(c(glmmTMB::fixef(b)$cond, glmmTMB::fixef(b)$zi, glmmTMB::fixef(b)$disp)),
                 tolerance = 1e-3, label = lab)
  }
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
  # Random effects in the dispersion formula only, also beside a zero part
  # with fixed effects.
  for (fam in c("gaussian", "nbinom2")) {
    d <- location_scale_data(m = 40, k = 15, family = fam, su = 0, d = c(0.3, 0.4), seed = 5)
    a <- glmm(y ~ x, data = d, family = get(fam)(), dispformula = ~ z + (1 | g))
    b <- glmmTMB::glmmTMB(y ~ x, data = d, family = if (fam == "gaussian") gaussian() else glmmTMB::nbinom2(),
                          dispformula = ~ z + (1 | g))
    expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-4, label = fam)
    expect_equal(unname(c(fixef(a), a$aux$disp$coef)),
                 unname(c(glmmTMB::fixef(b)$cond, glmmTMB::fixef(b)$disp)),
                 tolerance = 1e-3, label = fam)
  }
  d$y <- d$y * stats::rbinom(nrow(d), 1, 0.8)
  a <- glmm(y ~ x, data = d, family = nbinom2(), ziformula = ~ z, dispformula = ~ (1 | g))
  b <- glmmTMB::glmmTMB(y ~ x, data = d, family = glmmTMB::nbinom2(), ziformula = ~ z,
                        dispformula = ~ (1 | g))
  expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-4, label = "zero-inflated")
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

test_that("adaptive quadrature with a zero part beside a random dispersion: the exact integral", {
  d <- location_scale_data(m = 30, k = 20, family = "nbinom2", d = c(0.3, 0.4), seed = 2)
  set.seed(2)
  d$y <- d$y * stats::rbinom(nrow(d), 1, 0.8)
  X <- cbind(1, d$x)
  Xd <- cbind(1, d$z)
  some <- c(1, 7, 18, 30)
  for (fam in c("zi", "hurdle")) {
    family <- if (fam == "zi") nbinom2() else truncated_nbinom2()
    fit <- glmm(y ~ x + (1 | g), data = d, family = family, ziformula = ~ 1,
                dispformula = ~ z + (1 | g), nAGQ = 15)
    expect_identical(fit$engine$name, "agq_zero_re", info = fam)
    expect_identical(fit$nAGQ, 15L, info = fam)
    expect_s3_class(fit, "glmmgee_glmm_dispre")
    expect_identical(names(fit$theta)[5:7], c("zi~(Intercept)", "disp~(Intercept)", "disp~z"))
    pz <- stats::plogis(fit$aux$zi$coef[[1]])
    logdens <- function(y, eta, ld) {
      f <- stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE)
      if (fam == "zi") ifelse(y == 0, log(pz + (1 - pz) * exp(f)), log1p(-pz) + f)
      else ifelse(y == 0, log(pz), log1p(-pz) + f -
                    log(-expm1(stats::dnbinom(0, size = exp(ld), mu = exp(eta), log = TRUE))))
    }
    # Each cluster's log-likelihood is its double integral over both
    # parts' effects (four clusters, integrate() within integrate()).
    rows <- d$g %in% levels(d$g)[some]
    ref <- reference_location_scale_integral(location_scale_par(fit), d$y[rows],
                                             X[rows, , drop = FALSE], Xd[rows, , drop = FALSE],
                                             d$g[rows], logdens)
    expect_equal(unname(fit$cluster_loglik[some]), unname(ref), tolerance = 1e-5, info = fam)
    expect_equal(sum(fit$cluster_loglik), fit$loglik, tolerance = 1e-10)
    # The exact gradient of the quadrature, away from the optimum.
    expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, 0.2, -0.1, 0.05)), 1e-5)
    # The same engine at one point is the Laplace fit of the sparse engine.
    lap <- glmm(y ~ x + (1 | g), data = d, family = family, ziformula = ~ 1,
                dispformula = ~ z + (1 | g))
    expect_identical(lap$engine$name, "laplace_sparse_zero_re")
    rc <- sparse_re_terms(~ (1 | g), d)
    one <- glmm_dispre_agq_fit(stats::model.matrix(~ x, d), d$y, rc, rc,
                               resolve_family(nbinom2()), stats::model.matrix(~ z, d),
                               rep(1, nrow(d)), rep(0, nrow(d)), glmm_control(), NULL, NULL, 1L,
                               Xz = matrix(1, nrow(d), 1, dimnames = list(NULL, "(Intercept)")),
                               offz = rep(0, nrow(d)), zkind = fam)
    expect_equal(unname(one$theta), unname(lap$theta), tolerance = 1e-5, info = fam)
    expect_equal(one$loglik, as.numeric(logLik(lap)), tolerance = 1e-7, info = fam)
    # Quadrature moves the Laplace fit a little, upwards here.
    expect_gt(as.numeric(logLik(fit) - logLik(lap)), 0)
    expect_lt(as.numeric(logLik(fit) - logLik(lap)), 1)
    # The methods read the fit as the Laplace one.
    mu <- exp(predict(fit, type = "link"))
    th_r <- predict(fit, type = "disp")
    v <- ranef(fit, component = "disp")$g[["(Intercept)"]]
    del <- fit$aux$disp$coef
    expect_equal(unname(th_r), unname(exp(del[[1]] + del[[2]] * d$z + v[as.integer(d$g)])),
                 tolerance = 1e-10)
    mean_y <- if (fam == "zi") (1 - pz) * mu else (1 - pz) * mu / (1 - stats::dnbinom(0, size = th_r, mu = mu))
    expect_equal(unname(predict(fit, type = "response")), unname(mean_y), tolerance = 1e-10)
    expect_equal(unname(predict(fit, type = "zprob")), rep(pz, nrow(d)), tolerance = 1e-12)
    expect_output(print(fit), "nAGQ = 15")
    expect_equal(names(VarCorr(fit)), c("g", "disp~g"))
    expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
    V <- vcov(fit, type = "CR2")
    expect_true(all(is.finite(V)) && all(diag(V) > 0))
    # (the robust covariance's scores, rebuilt in the engine's order, sum
    # to the gradient at the optimum: about 0)
    expect_lt(max(abs(colSums(sandwich::estfun(fit)))), 1e-3)
    # start = the fit's own theta (in theta's order, not the engine's): the
    # same optimum.
    if (fam == "zi") {
      again <- glmm(y ~ x + (1 | g), data = d, family = family, ziformula = ~ 1,
                    dispformula = ~ z + (1 | g), nAGQ = 15, start = fit$theta)
      expect_equal(unname(again$theta), unname(fit$theta), tolerance = 1e-5)
    }
  }
  ci <- confint(fit, parm = c("zi.(Intercept)", "disp.z"), method = "profile")
  w <- confint(fit, parm = c("zi.(Intercept)", "disp.z"))
  expect_equal(unname(ci), unname(w), tolerance = 0.1)
  # Zero-truncated (no zero part): the rows with counts, by quadrature.
  dp <- d[d$y > 0, ]
  ft <- glmm(y ~ x + (1 | g), data = dp, family = truncated_nbinom2(),
             dispformula = ~ z + (1 | g), nAGQ = 9)
  expect_identical(ft$engine$name, "agq_zero_re")
  trunc <- function(y, eta, ld) stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE) -
    log(-expm1(stats::dnbinom(0, size = exp(ld), mu = exp(eta), log = TRUE)))
  rows <- dp$g %in% levels(dp$g)[some]
  ref <- reference_location_scale_integral(location_scale_par(ft), dp$y[rows],
                                           cbind(1, dp$x)[rows, ], cbind(1, dp$z)[rows, ],
                                           dp$g[rows], trunc)
  expect_equal(unname(ft$cluster_loglik[some]), unname(ref), tolerance = 1e-4)
  expect_true(all(is.finite(confint(ft, parm = "disp.z"))))
})

test_that("adaptive quadrature with random effects in the dispersion formula only", {
  # Only the spread varies by cluster; the gaussian mean is fixed, so each
  # cluster's likelihood is a one-dimensional integral over v, written out
  # here with integrate().
  d <- location_scale_data(m = 40, k = 6, su = 0, seed = 11)
  exact <- function(fit) {
    sv <- attr(VarCorr(fit)[["disp~g"]], "stddev")[[1]]
    eta <- drop(cbind(1, d$x) %*% fixef(fit))
    ld <- drop(cbind(1, d$z) %*% fit$aux$disp$coef)
    sum(vapply(split(seq_len(nrow(d)), d$g), function(r) {
      h <- function(v) vapply(v, function(vv) sum(stats::dnorm(d$y[r], eta[r], exp(ld[r] + vv),
                                                               log = TRUE)) +
                                stats::dnorm(vv, 0, sv, log = TRUE), 0)
      o <- stats::optimize(h, c(-6, 6), maximum = TRUE)
      o$objective + log(stats::integrate(function(v) exp(h(v) - o$objective),
                                         o$maximum - 12 * sv, o$maximum + 12 * sv,
                                         rel.tol = 1e-12)$value)
    }, 0))
  }
  err <- vapply(c(1, 5, 15, 25), function(q) {
    f <- glmm(y ~ x, data = d, dispformula = ~ z + (1 | g), nAGQ = q)
    expect_identical(f$engine$name, if (q == 1) "laplace_sparse_zero_re" else "agq_zero_re")
    as.numeric(logLik(f)) - exact(f)
  }, 0)
  # (Laplace 0.2 off, then 0.02, 1e-5 and 1e-8 at 5, 15 and 25 points)
  expect_gt(abs(err[1]), 0.1)
  expect_true(all(diff(abs(err)) < 0))
  expect_lt(abs(err[4]), 1e-6)
  fit <- glmm(y ~ x, data = d, dispformula = ~ z + (1 | g), nAGQ = 15)
  expect_identical(names(fit$theta), c("(Intercept)", "x", "disp~g.(Intercept)",
                                       "disp~(Intercept)", "disp~z"))
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, 0.08, -0.1)), 1e-5)
  # ranef() gives the dispersion's modes; predict(type = "disp") uses them.
  # coef() has no groups (it added the dispersion's modes to the mean's
  # intercept).
  expect_length(coef(fit), 0L)
  v <- ranef(fit)$g[["(Intercept)"]]
  expect_equal(v, ranef(fit, component = "disp")$g[["(Intercept)"]])
  del <- fit$aux$disp$coef
  expect_equal(unname(predict(fit, type = "disp")),
               unname(exp(del[[1]] + del[[2]] * d$z + v[as.integer(d$g)])), tolerance = 1e-10)
  expect_true(all(is.finite(vcov(fit, type = "CR2"))))
  expect_true(all(is.finite(confint(fit, parm = "disp.z", method = "profile"))))
  # The dispersion's factor must be one: two factors stay with Laplace.
  d$h <- factor(rep(1:8, length.out = nrow(d)))
  expect_error(glmm(y ~ x, data = d, dispformula = ~ (1 | g) + (1 | h), nAGQ = 5),
               "'nAGQ'.*one grouping factor")
})

test_that("quadrature beside a zero part: a first search that runs far out is restarted", {
  # Weights and offsets in all three parts: the first search of nAGQ = 9
  # ran to a dispersion intercept near -2000 and a NaN log-likelihood, and
  # the boundary verification then stopped with "missing value where
  # TRUE/FALSE needed". Its restarts from the interior find the optimum.
  set.seed(5)
  m <- 40
  n <- m * 8
  d <- data.frame(g = factor(rep(1:m, each = 8)), x = rnorm(n), w = rnorm(n), z2 = rnorm(n),
                  f = factor(sample(c("a", "b", "c"), n, TRUE)))
  eta <- 1 + 0.5 * d$x + rnorm(m, sd = 0.6)[d$g]
  ld <- 0.5 - 0.6 * d$w + rnorm(m, sd = 0.5)[d$g]
  pz <- stats::plogis(-1 + 0.8 * d$z2 + c(a = 0, b = 1, c = -1)[as.character(d$f)])
  d$y <- stats::rnbinom(n, size = exp(ld), mu = exp(eta)) * stats::rbinom(n, 1, 1 - pz)
  set.seed(9)
  d$oz <- stats::runif(n, -0.5, 0.5)
  d$od <- stats::runif(n, -0.5, 0.5)
  d$o <- stats::runif(n, -0.3, 0.3)
  d$wt <- sample(c(0.5, 1, 2), n, TRUE)
  fit <- glmm(y ~ x + offset(o) + (1 | g), data = d, family = nbinom2(),
              ziformula = ~ z2 + f + offset(oz), dispformula = ~ w + offset(od) + (1 | g),
              nAGQ = 9, weights = wt)
  expect_identical(fit$optinfo$convergence, 0L)
  expect_length(fit$optinfo$warnings, 0L)
  # At its estimates 25 points per effect move the log-likelihood little,
  # and one Newton step on them moves no estimate by a tenth of its SE.
  ck <- loglik_check(fit)
  expect_lt(abs(ck$difference), 0.05)
  expect_lt(max(abs(ck$shift$shift_se)), 0.1)
})

test_that("predict(newdata): a missing label of the dispersion formula's grouping is an error unless allowed", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  f <- glmm(count ~ mined + (1 | site), data = Salamanders, dispformula = ~ 1 + (1 | spp),
            family = nbinom2(), nAGQ = 1)
  nd <- data.frame(mined = "no", site = "R-1", spp = c(NA, "GP"))
  expect_error(predict(f, nd, type = "disp"),
               "missing value\\(s\\) of the grouping variable 'spp' \\(dispersion formula\\)")
  a <- predict(f, nd, type = "disp", allow.new.levels = TRUE)
  expect_equal(a[[1L]], predict(f, nd, type = "disp", re.form = ~ (1 | site))[[1L]])
  # re.form names the dispersion term as written in dispformula.
  expect_equal(predict(f, nd[2L, ], type = "disp", re.form = ~ (1 | spp)), a[2L])
})
