# Hostile testing, round 25: a covariate's units and location on the
# structured-covariance and known-covariance linear mixed model routes and
# in gee(); the "same design" warning for structured terms and nested
# quadrature; new levels of a factor made in the formula in predict();
# integer64 cluster ids in shard files. Each test failed before its fix.

# Estimates, standard errors and log-likelihood of the coefficient `v` of
# a fit, in the units of x (scale `sc` of the covariate, x = v / sc).
slope_summary <- function(fit, v, sc = 1, ll_shift = 0) {
  c(b = unname(fixef(fit)[v]) * sc, se = unname(sqrt(diag(vcov(fit)))[v]) * sc,
    ll = as.numeric(logLik(fit)) + ll_shift)
}

# Each of the three to its own relative tolerance (expect_equal() on the
# vector would let the log-likelihood's size hide a standard error's error).
expect_summary <- function(object, expected, tolerance) {
  for (k in names(expected))
    expect_equal(object[[k]], expected[[k]], tolerance = tolerance, label = k)
}

ar1_site_data <- function() {
  set.seed(1)
  n <- 30
  tt <- 6
  d <- data.frame(id = factor(rep(1:n, each = tt)), time = factor(rep(1:tt, n)),
                  site = factor(rep(1:6, each = 5 * tt)))
  d$x <- rnorm(nrow(d))
  d$y <- 1 + 0.5 * d$x + rnorm(n)[as.integer(d$id)] + 0.7 * rnorm(6)[as.integer(d$site)] +
    as.numeric(stats::arima.sim(list(ar = 0.6), nrow(d)))
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  d$y6 <- d$y * 1e6
  d
}

test_that("structured-covariance REML: x * 1e-6 - 5 and x + 1e4 give the fit on x (and glmmTMB's)", {
  # The profiled structured route formed X'V^-1X on the user's X: with
  # x * 1e-6 - 5 beside ar1() + (1 | site) the REML search stopped in
  # false convergence, the slope 2% off; cs() + (1 | site) likewise.
  d <- ar1_site_data()
  for (st in c("ar1", "cs")) {
    re <- sprintf(" + %s(time + 0 | id) + (1 | site)", st)
    fits <- lapply(c("x", "x2", "x3"), function(v)
      suppressWarnings(glmm(as.formula(paste0("y ~ ", v, re)), d, REML = TRUE)))
    # REML log-likelihood of x * s: log|X'V^-1X| moves by 2 log s.
    ref <- slope_summary(fits[[1]], "x")
    expect_summary(slope_summary(fits[[2]], "x2", 1e-6, log(1e-6)), ref, tolerance = 1e-6)
    expect_summary(slope_summary(fits[[3]], "x3"), ref, tolerance = 1e-6)
    for (f in fits) expect_false(any(grepl("converge", f$optinfo$warnings)))
  }
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + ar1(time + 0 | id) + (1 | site), d, REML = TRUE))
  fx2 <- glmm(y ~ x2 + ar1(time + 0 | id) + (1 | site), d, REML = TRUE)
  # (glmmTMB's REML standard errors integrate beta with the covariance
  # parameters' uncertainty; the ML ones are compared below.)
  expect_equal(unname(fixef(fx2)["x2"]) * 1e-6, unname(glmmTMB::fixef(tmb)$cond["x"]), tolerance = 1e-5)
})

test_that("structured-covariance ML with (1 | site): standard errors do not move with x + 1e4", {
  d <- ar1_site_data()
  a <- suppressWarnings(glmm(y ~ x + cs(time + 0 | id) + (1 | site), d))
  b <- suppressWarnings(glmm(y ~ x3 + cs(time + 0 | id) + (1 | site), d))
  expect_summary(slope_summary(b, "x3"), slope_summary(a, "x"), tolerance = 1e-6)
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + ar1(time + 0 | id) + (1 | site), d))
  f2 <- glmm(y ~ x2 + ar1(time + 0 | id) + (1 | site), d)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(tmb)), tolerance = 1e-7)
  expect_equal(unname(sqrt(vcov(f2)["x2", "x2"])) * 1e-6,
               unname(sqrt(vcov(tmb)$cond["x", "x"])), tolerance = 1e-4)
})

test_that("structured-covariance profiled fits of y * 1e6 do not warn of doubtful convergence", {
  # The remaining Newton step of (1 | site)'s entry was measured in the
  # user's units (an entry of 1e6): a step of 15 there read as not
  # converged, though the log-likelihood equals the fit of y to 1e-9.
  d <- ar1_site_data()
  for (reml in c(FALSE, TRUE)) {
    f6 <- withCallingHandlers(glmm(y6 ~ x + ar1(time + 0 | id) + (1 | site), d, REML = reml),
                              warning = function(w) {
                                expect_false(grepl("converge", conditionMessage(w)))
                                invokeRestart("muffleWarning")
                              })
    f1 <- glmm(y ~ x + ar1(time + 0 | id) + (1 | site), d, REML = reml)
    df <- nrow(d) - if (reml) 2 else 0
    expect_equal(as.numeric(logLik(f6)) + df * log(1e6), as.numeric(logLik(f1)), tolerance = 1e-9)
    expect_equal(unname(fixef(f6)) / 1e6, unname(fixef(f1)), tolerance = 1e-6)
  }
})

test_that("known-covariance gaussian fits do not depend on a covariate's units and location", {
  # X'V^-1X was formed as X'X less its rotated part on the user's X: with
  # x * 1e-6 - 5 the slope came out 4% off and the log-likelihood 0.6
  # below the optimum, without a warning (spectral rotation, the factor,
  # sparse K, and the several-term dense and sparse routes, ML and REML).
  u <- units_data()
  d <- u$d
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  cases <- list(list(f = "(1 | g)", cov = list(g = u$K)),
                list(f = "(1 | g)", cov = list(g = kfactor(u$Lf))),
                list(f = "(1 | g)", cov = list(g = u$Ks)),
                list(f = "(1 | g) + (1 | a)", cov = list(g = u$K)),
                list(f = "(1 | g) + (1 | a)", cov = list(g = u$Ks)))
  for (cs in cases) for (reml in c(FALSE, TRUE)) {
    fit <- function(v) suppressWarnings(glmm(as.formula(paste("y0 ~", v, "+", cs$f)), d,
                                             covariance = cs$cov, REML = reml))
    ref <- slope_summary(fit("x"), "x")
    expect_summary(slope_summary(fit("x2"), "x2", 1e-6, if (reml) log(1e-6) else 0), ref,
                 tolerance = 1e-6)
    expect_summary(slope_summary(fit("x3"), "x3"), ref, tolerance = 1e-6)
  }
  # With K the identity the model is lmer's random intercept.
  skip_if_not_installed("lme4")
  lev <- levels(d$g)
  I <- diag(length(lev))
  dimnames(I) <- list(lev, lev)
  for (reml in c(FALSE, TRUE)) {
    a <- glmm(y0 ~ x2 + (1 | g), d, covariance = list(g = I), REML = reml)
    b <- lme4::lmer(y0 ~ x + (1 | g), d, REML = reml)
    expect_equal(unname(fixef(a)["x2"]) * 1e-6, unname(lme4::fixef(b)["x"]), tolerance = 1e-6)
    expect_equal(unname(sqrt(vcov(a)["x2", "x2"])) * 1e-6,
                 unname(sqrt(as.matrix(vcov(b))["x", "x"])), tolerance = 1e-5)
    expect_equal(as.numeric(logLik(a)) + if (reml) log(1e-6) else 0, as.numeric(logLik(b)),
                 tolerance = 1e-7)
  }
})

test_that("assoc_scan() on a known-covariance fit with a shifted covariate equals the scan on x", {
  # The transformed fit keeps the rotated design of the user's X, which
  # the scan combines with it.
  u <- units_data()
  d <- u$d
  d$x3 <- d$x + 1e4
  set.seed(2)
  G <- matrix(rbinom(nrow(d) * 5, 2, 0.3), nrow(d))
  a <- assoc_scan(glmm(y0 ~ x + (1 | g), d, covariance = list(g = u$K)), G)
  b <- assoc_scan(glmm(y0 ~ x3 + (1 | g), d, covariance = list(g = u$K)), G)
  expect_equal(b$estimate, a$estimate, tolerance = 1e-6)
  expect_equal(b$p_value, a$p_value, tolerance = 1e-6)
})

test_that("gee() takes x * 1e-6 - 5 (was 'linearly dependent') and its fit is the fit on x", {
  # The rank check read X'X, where such a column equals a multiple of the
  # intercept's to 1e-13; then the sandwich was up to 3% off. geepack
  # fits the column; on x its figures are gee()'s.
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  set.seed(5)
  s$x <- rnorm(nrow(s))
  s$yb <- rbinom(nrow(s), 1, plogis((s$Reaction - 300) / 50 + 0.5 * s$x))
  s$x2 <- s$x * 1e-6 - 5
  s$wave <- s$Days + 1
  for (fam in c("gaussian", "binomial")) for (cs in c("independence", "exchangeable", "ar1")) {
    yv <- if (fam == "gaussian") "Reaction" else "yb"
    fit <- function(v) gee(as.formula(paste(yv, "~ Days +", v)), id = Subject, data = s,
                           family = get(fam)(), corstr = cs, waves = wave)
    a <- fit("x")
    b <- fit("x2")
    expect_equal(unname(coef(b)["x2"]) * 1e-6, unname(coef(a)["x"]), tolerance = 1e-8)
    expect_equal(unname(sqrt(vcov(b)["x2", "x2"])) * 1e-6, unname(sqrt(vcov(a)["x", "x"])),
                 tolerance = 1e-8)
    expect_equal(unname(b$alpha), unname(a$alpha), tolerance = 1e-8)
    skip_if_not_installed("geepack")
    pk <- geepack::geeglm(as.formula(paste(yv, "~ Days + x")), id = Subject, data = s,
                          family = get(fam)(), corstr = cs, waves = wave)
    expect_equal(unname(sqrt(vcov(b)["x2", "x2"])) * 1e-6,
                 unname(summary(pk)$coefficients["x", 2]), tolerance = 1e-5)
  }
  # A column that is a multiple of another is still refused.
  s$x5 <- 2 * s$Days
  expect_error(gee(Reaction ~ Days + x5, id = Subject, data = s), "'x5' is linearly dependent")
})

test_that("two structured terms of the same design, and (1 | a/b) by quadrature with a:b = a, are named", {
  set.seed(2)
  d <- data.frame(a = factor(rep(1:30, each = 8)), b = factor(1), time = factor(rep(1:8, 30)))
  d$a2 <- factor(paste0("k", d$a))
  d$x <- rnorm(nrow(d))
  d$y <- rbinom(nrow(d), 1, plogis(0.3 + d$x + rnorm(30)[d$a]))
  d$yg <- 1 + d$x + rnorm(30)[d$a] + rnorm(nrow(d))
  msg <- "have the same design.*only the sum of their variances is identified"
  # (The fits also warn that their Hessian is singular: that is the split.)
  warnings_of <- function(expr) {
    w <- character()
    withCallingHandlers(expr, warning = function(e) {
      w <<- c(w, conditionMessage(e))
      invokeRestart("muffleWarning")
    })
    w
  }
  expect_match(warnings_of(glmm(y ~ x + (1 | a/b), d, family = binomial, nAGQ = 5)), msg,
               all = FALSE)
  expect_match(warnings_of(glmm(yg ~ x + diag(0 + time | a) + diag(0 + time | a2), d)),
               "diag\\(0 \\+ time \\| a\\) and diag\\(0 \\+ time \\| a2\\) have the same design",
               all = FALSE)
  expect_match(warnings_of(glmm(yg ~ x + homdiag(0 + time | a) + diag(0 + time | a2), d, REML = TRUE)),
               msg, all = FALSE)
  # Two AR(1) terms are identified (their sum is not an AR(1)): no such warning.
  w <- warnings_of(try(glmm(yg ~ x + ar1(0 + time | a) + ar1(0 + time | a2), d), silent = TRUE))
  expect_false(any(grepl("same design", w)))
})

test_that("predict(newdata) with a new level of factor(z) names the factor and the level", {
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  s$z <- rep(1:3, length.out = nrow(s))
  nd <- s[1:3, ]
  nd$z <- c(1, 4, 5)
  msg <- "'newdata' has 2 level\\(s\\) of the factor 'factor\\(z\\)' .*not in the fit: '4', '5'"
  expect_error(predict(glmm(Reaction ~ Days + factor(z) + (1 | Subject), s), newdata = nd), msg)
  expect_error(predict(gee(Reaction ~ Days + factor(z), id = Subject, data = s), newdata = nd), msg)
  s$zc <- letters[s$z]
  nd$zc <- c("a", "q", "a")
  expect_error(predict(gee(Reaction ~ Days + zc, id = Subject, data = s), newdata = nd),
               "level\\(s\\) of the factor 'zc' .*'q'")
  # Levels in the fit still predict, equal to the fitted values.
  f <- glmm(Reaction ~ Days + factor(z) + (1 | Subject), s)
  expect_equal(unname(predict(f, newdata = s[1:5, ])), unname(fitted(f)[1:5]), tolerance = 1e-10)
  skip_if_not_installed("ordinal")
  data("wine", package = "ordinal", envir = environment())
  w <- wine
  w$k <- rep(1:2, length.out = nrow(w))
  fo <- glmm(rating ~ temp + factor(k) + (1 | judge), w, family = cumulative())
  nw <- w[1:2, ]
  nw$k <- c(1, 3)
  expect_error(predict(fo, newdata = nw, re.form = NA),
               "level\\(s\\) of the factor 'factor\\(k\\)' .*'3'")
})

test_that("integer64 cluster ids in shard files group by their exact values (glmm_shards, gee_shards)", {
  # The workers read the files without bit64's methods: as.character()
  # printed the ids' raw bits to 15 digits and merged distinct clusters
  # (18 sleepstudy subjects became 4), silently.
  skip_if_not_installed("bit64")
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  s$id64 <- bit64::as.integer64("9007199254740993") + as.integer(s$Subject) * 2L
  files <- shard_files(split(s, as.integer(s$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(2L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  a <- glmm_shards(Reaction ~ Days + (1 | id64), files, workers = cl)
  b <- glmm(Reaction ~ Days + (1 | id64), s)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-10)
  expect_equal(a$ngroups, 18L)
  # The clusters in the in-memory fit's (numeric) order.
  ra <- ranef(a)[[1]]
  rb <- ranef(b)[[1]]
  expect_identical(rownames(ra), rownames(rb))
  expect_equal(ra[[1]], rb[[1]], tolerance = 1e-8)
  g <- gee_shards(Reaction ~ Days, files, id = "id64", corstr = "exchangeable", workers = cl)
  h <- gee(Reaction ~ Days, id = id64, data = s, corstr = "exchangeable")
  expect_equal(coef(g), coef(h), tolerance = 1e-10)
  expect_equal(vcov(g), vcov(h), tolerance = 1e-10)
  expect_equal(g$nclusters, 18L)
})

test_that("predict(newdata) without a variable of the model names it", {
  # Was model.frame()'s or eval()'s "object 'tr' not found".
  set.seed(8)
  d <- data.frame(g = factor(rep(1:20, each = 6)), x = rnorm(120), tr = rbinom(120, 1, 0.5))
  d$y <- rbinom(120, 1, plogis(-0.3 + d$x + d$tr + rnorm(20)[d$g]))
  d$off <- 0.1
  f <- glmm(y ~ x + tr + (1 | g), d, binomial)
  expect_error(predict(f, newdata = d[1:3, c("x", "g")]), "'newdata' lacks the variable 'tr'")
  expect_error(predict(f, newdata = d[1:3, c("x", "tr")]),
               "'newdata' lacks the grouping variable 'g' .*re.form = NA")
  # Without the grouping variable at re.form = NA: X beta, as glm's predict().
  expect_equal(unname(predict(f, newdata = d[1:3, c("x", "tr")], re.form = NA)),
               unname(drop(cbind(1, as.matrix(d[1:3, c("x", "tr")])) %*% fixef(f))), tolerance = 1e-12)
  fo <- glmm(y ~ x + tr + offset(off) + (1 | g), d, binomial)
  expect_error(predict(fo, newdata = d[1:3, c("x", "tr", "g")]), "lacks the variable 'off'")
  gg <- gee(y ~ x + tr, id = g, data = d, family = binomial)
  expect_error(predict(gg, newdata = d[1:3, c("x", "g")]), "'newdata' lacks the variable 'tr'")
  # A variable of the formula's environment, not of the data, is still found.
  k <- 2
  fk <- glmm(y ~ I(x * k) + (1 | g), d, binomial)
  expect_equal(unname(predict(fk, newdata = d[1:4, ])), unname(predict(fk)[1:4]),
               tolerance = 1e-10)
})

test_that("gee_shards() with x * 1e-6 - 5 or x + 1e4 is gee()'s fit on x", {
  # x + 1e4 stopped with "the starting weighted least-squares step
  # failed" and x * 1e-6 - 5 was refused as linearly dependent; the shards'
  # engines now solve on the centred and scaled design, as gee().
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  set.seed(5)
  s$x <- rnorm(nrow(s))
  s$x2 <- s$x * 1e-6 - 5
  s$x3 <- s$x + 1e4
  files <- shard_files(split(s, as.integer(s$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(2L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  a <- gee(Reaction ~ Days + x, id = Subject, data = s, corstr = "exchangeable")
  for (v in c("x2", "x3")) {
    sc <- if (v == "x2") 1e-6 else 1
    b <- gee_shards(as.formula(paste("Reaction ~ Days +", v)), files, id = "Subject",
                    corstr = "exchangeable", workers = cl)
    expect_equal(unname(coef(b)[v]) * sc, unname(coef(a)["x"]), tolerance = 1e-8)
    expect_equal(unname(sqrt(vcov(b)[v, v])) * sc, unname(sqrt(vcov(a)["x", "x"])), tolerance = 1e-8)
    expect_equal(unname(b$alpha), unname(a$alpha), tolerance = 1e-8)
    expect_equal(unname(predict(b, newdata = s[1:5, ])), unname(predict(a, newdata = s[1:5, ])),
                 tolerance = 1e-8)
  }
})

test_that("predict(newdata) with a new level of a factor in a random-effect term names the term", {
  # Was R's "factor z has new levels c" (one-factor, several-term and
  # structured routes alike).
  set.seed(1)
  d <- data.frame(id = factor(rep(1:30, each = 6)), time = factor(rep(1:6, 30)),
                  site = factor(rep(1:6, each = 30)))
  d$x <- rnorm(nrow(d))
  d$z <- factor(rep(c("a", "b"), length.out = nrow(d)))
  d$y <- 1 + 0.5 * d$x + rnorm(30)[as.integer(d$id)] + rnorm(nrow(d))
  nd <- d[1:3, ]
  nd$z <- c("a", "c", "b")
  f1 <- suppressWarnings(glmm(y ~ x + (0 + z | id), d))
  expect_error(predict(f1, newdata = nd),
               "level\\(s\\) of the factor 'z' \\(random-effect term \\(0 \\+ z \\| id\\)\\) not in the fit: 'c'")
  f2 <- suppressWarnings(glmm(y ~ x + (0 + z | id) + (1 | site), d))
  expect_error(predict(f2, newdata = nd), "factor 'z' \\(random-effect term \\(0 \\+ z \\| id\\)\\)")
  f3 <- suppressWarnings(glmm(y ~ x + ar1(time + 0 | id) + (1 | site), d))
  nt <- d[1:3, ]
  nt$time <- factor(c("1", "7", "2"))
  expect_error(predict(f3, newdata = nt), "factor 'time' \\(random-effect term .*'7'")
  # Known levels predict as the fitted rows.
  expect_equal(unname(predict(f3, newdata = d[1:3, ])), unname(predict(f3)[1:3]), tolerance = 1e-10)
  expect_equal(unname(predict(f1, newdata = d[1:3, ])), unname(predict(f1)[1:3]), tolerance = 1e-10)
})

test_that("QIC() of a gee() fit does not move with a covariate's units and location", {
  # CIC = trace(Omega_I V_R) was taken from the user-scale matrices, where
  # it cancels: with x + 1e4 it was 1.3e-5 relative off.
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  set.seed(5)
  s$x <- rnorm(nrow(s))
  s$cnt <- rpois(nrow(s), exp(1 + 0.3 * s$x))
  s$x2 <- s$x * 1e-6 - 5
  s$x3 <- s$x + 1e4
  q <- lapply(c("x", "x2", "x3"), function(v)
    QIC(gee(as.formula(paste("cnt ~ Days +", v)), id = Subject, data = s, family = poisson,
            corstr = "exchangeable")))
  expect_equal(q[[2]], q[[1]], tolerance = 1e-8)
  expect_equal(q[[3]], q[[1]], tolerance = 1e-8)
  # On x it is trace(Omega_I V_R) from the stored matrices, as before.
  a <- gee(cnt ~ Days + x, id = Subject, data = s, family = poisson, corstr = "exchangeable")
  expect_equal(unname(q[[1]]["CIC"]), sum(diag(a$info.indep %*% vcov(a))), tolerance = 1e-12)
})

test_that("odds_ratios() of a well-determined coefficient in tiny units says to rescale, not 'separated'", {
  # With x * 1e-6 - 5 the log odds ratio per unit is 1e6: exp() overflows,
  # and the warning blamed separation on a fit that has none.
  set.seed(12)
  d <- data.frame(g = factor(rep(1:40, each = 6)), x = rnorm(240))
  d$y <- rbinom(240, 1, plogis(-0.3 + d$x + rnorm(40)[d$g]))
  d$x2 <- d$x * 1e-6 - 5
  f2 <- glmm(y ~ x2 + (1 | g), d, binomial)
  f1 <- glmm(y ~ x + (1 | g), d, binomial)
  expect_warning(o2 <- odds_ratios(f2), "'x2': one unit of the covariate is a step of .* rescale")
  # The scale-free parts equal the fit on x.
  o1 <- odds_ratios(f1)
  expect_equal(o2$p.value, o1$p.value, tolerance = 1e-6)
  # A separated fit keeps its warning.
  d$ysep <- as.integer(d$x > 0)
  fs <- suppressWarnings(glmm(ysep ~ x + (1 | g), d, binomial))
  expect_warning(odds_ratios(fs), "no finite estimate \\(the fit is separated")
})

test_that("nested adaptive quadrature does not depend on a covariate's units and location", {
  # The search ran in the user's parameters: with x + 1e4 it stopped at
  # the Laplace start ("doubtful convergence", log-likelihood 0.002 short,
  # the slope Laplace's), with x * 1e-6 - 5 also without standard errors.
  set.seed(3)
  d <- data.frame(a = factor(rep(1:20, each = 12)), b = factor(rep(1:3, 80)))
  d$x <- rnorm(240)
  d$y <- rbinom(240, 1, plogis(0.2 + d$x + rnorm(20)[d$a] + rnorm(60)[interaction(d$a, d$b)]))
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  fit <- function(v, ...) glmm(as.formula(paste("y ~", v, "+ (1 | a/b)")), d, binomial, nAGQ = 5, ...)
  ref <- slope_summary(fit("x"), "x")
  expect_summary(slope_summary(fit("x2"), "x2", 1e-6), ref, tolerance = 1e-6)
  expect_summary(slope_summary(expect_silent(fit("x3")), "x3"), ref, tolerance = 1e-6)
  # Without the Hessian the estimates map back alone.
  f0 <- fit("x3", control = glmm_control(hessian = FALSE))
  expect_equal(unname(fixef(f0)["x3"]), ref[["b"]], tolerance = 1e-6)
})
