# Derived standard errors (standardize(), marginal_coefs(), predict(se.fit =
# TRUE)) free of a covariate's units and location on the routes round 25
# left: two-part (zero-inflated, hurdle, zero-part random effects, several
# terms), cumulative and known-covariance fits. Their delta methods used a
# numerical Jacobian on the user's parameters (steps of 15 and 7 in
# x * 1e-6 - 5's intercept and slope) or the user-scale covariance alone:
# standard errors 1e3 (two-part), 1e5 (cumulative) and 1e-4 (known
# covariance) relative off.

trust26_data <- function() {
  units_panel(function(d, b) {
    mu <- exp(0.2 + 0.3 * d$x + 0.3 * (d$trt == "1") + 0.5 * b)
    d$yz <- ifelse(runif(nrow(d)) < 0.3, 0, rpois(nrow(d), mu))
    d$yo <- cut(-0.3 + 0.6 * d$x + 0.5 * (d$trt == "1") + b + rlogis(nrow(d)),
                c(-Inf, -1, 0.5, Inf), labels = c("a", "b", "c"), ordered_result = TRUE)
    d$yg <- d$x + 0.3 * (d$trt == "1") + b + rnorm(nrow(d))
    d
  })
}

trust26_se <- function(fit, nd) {
  st <- as.data.frame(suppressWarnings(standardize(fit, "trt", se = "delta")))
  out <- list(standardize = st$std.error)
  if (!inherits(fit, "glmmgee_glmm_ordinal")) {
    out$marginal <- unname(sqrt(diag(vcov(marginal_coefs(fit))))["trt1"])
  }
  if (!inherits(fit, c("glmmgee_glmm_ordinal", "glmmgee_glmm_zi")))
    out$link <- unname(predict(fit, newdata = nd, se.fit = TRUE)$se.fit)
  out
}

# x, x * 1e-6 - 5 and x + 1e4 give the same derived standard errors; the
# well-scaled fit keeps no standardized covariance (its results are the
# plain G V G' of before), the other two do.
expect_units_free26 <- function(make, d, tolerance = 1e-7) {
  nd <- d[c(1, 7, 33, 120, 250, 300), ]
  fits <- lapply(c("x", "x2", "x3"), function(v) suppressWarnings(make(v)))
  se <- lapply(fits, trust26_se, nd = nd)
  for (k in names(se[[1]])) {
    expect_equal(se[[2]][[k]], se[[1]][[k]], tolerance = tolerance, info = paste("x * 1e-6 - 5:", k))
    expect_equal(se[[3]][[k]], se[[1]][[k]], tolerance = tolerance, info = paste("x + 1e4:", k))
  }
  expect_null(fits[[1]]$cov_star)
  expect_false(is.null(fits[[2]]$cov_star))
  expect_false(is.null(fits[[3]]$cov_star))
  fits
}

fm26 <- function(lhs, v, re = "(1 | id)") as.formula(paste(lhs, "~", v, "+ trt +", re))

# standardize()'s delta method by hand on the well-scaled fit: the means of
# E y at trt = 0, 1 and their Jacobian by central differences in theta
# (plus the between-cluster term, which standardize() adds as it is).
test_that("zero-inflated and hurdle fits: derived standard errors free of x's units", {
  d <- trust26_data()
  fits <- expect_units_free26(function(v)
    glmm(fm26("yz", v), d, family = poisson, ziformula = ~ 1), d)
  # The zero part's own covariate in micro-units as well.
  expect_units_free26(function(v)
    glmm(fm26("yz", v), d, family = poisson, ziformula = as.formula(paste("~", v))), d)
  expect_units_free26(function(v)
    glmm(fm26("yz", v), d, family = truncated_poisson(), ziformula = ~ 1), d)
  skip_if_not_installed("glmmTMB")
  # The well-scaled zero-inflated fit's marginal mean at trt = 1 over the
  # data equals glmmTMB's estimates plugged into the same formula, and the
  # standard error from glmmTMB's covariance by the same delta method agrees.
  tmb <- glmmTMB::glmmTMB(yz ~ x + trt + (1 | id), d, family = poisson, ziformula = ~ 1)
  # (Laplace, as glmmTMB; the x * 1e-6 - 5 coding.)
  f <- suppressWarnings(glmm(yz ~ x2 + trt + (1 | id), d, family = poisson, ziformula = ~ 1,
                             nAGQ = 1))
  st <- as.data.frame(standardize(f, "trt", se = "delta", newdata = d))
  mean_tmb <- function(par) {
    b <- par[1:3]; s <- exp(par[5]); pz <- plogis(par[4])
    vapply(c(0, 1), function(t) mean((1 - pz) * exp(b[1] + b[2] * d$x + b[3] * t + s^2 / 2)), 1)
  }
  par <- c(glmmTMB::fixef(tmb)$cond, glmmTMB::fixef(tmb)$zi, tmb$fit$par[["theta"]])
  expect_equal(st$estimate[1:2], mean_tmb(par), tolerance = 1e-4)
  V <- vcov(tmb, full = TRUE)
  G <- t(vapply(1:5, function(k) {
    h <- 1e-5 * max(1, abs(par[k])); e <- replace(numeric(5), k, h)
    (mean_tmb(par + e) - mean_tmb(par - e)) / (2 * h)
  }, numeric(2)))
  se_tmb <- sqrt(diag(t(G) %*% V %*% G))
  expect_equal(st$std.error[1:2], unname(se_tmb), tolerance = 2e-3)
})

test_that("two-part fits with several terms or zero-part random effects: derived standard errors free of x's units", {
  d <- trust26_data()
  fits <- expect_units_free26(function(v)
    glmm(fm26("yz", v, "(1 | id) + (1 | g2)"), d, family = poisson, ziformula = ~ 1), d)
  expect_s3_class(fits[[2]], "glmmgee_glmm_sparse")
  expect_units_free26(function(v)
    glmm(fm26("yz", v), d, family = poisson, ziformula = ~ (1 | id)), d)
})

test_that("cumulative fits (one factor, several terms): category probabilities' standard errors free of x's units", {
  d <- trust26_data()
  fits <- expect_units_free26(function(v) glmm(fm26("yo", v), d, family = cumulative()), d)
  fs <- expect_units_free26(function(v) glmm(fm26("yo", v, "(1 | id) + (1 | g2)"), d,
                                              family = cumulative()), d)
  # The same fit and the same probabilities whatever the units.
  expect_equal(logLik(fits[[2]]), logLik(fits[[1]]), tolerance = 1e-9)
  # Population-averaged cumulative odds ratios of trt (4e3 times off with
  # x * 1e-6 - 5).
  or <- lapply(fits, function(f) as.data.frame(odds_ratios(f, type = "marginal", parm = "trt1")))
  expect_equal(or[[2]]$std.error, or[[1]]$std.error, tolerance = 1e-7)
  expect_equal(or[[3]]$std.error, or[[1]]$std.error, tolerance = 1e-7)
  skip_if_not_installed("ordinal")
  # Typical-cluster probabilities at trt = 1 and x as observed, against
  # clmm's estimates in the same formula.
  cm <- ordinal::clmm(yo ~ x + trt + (1 | id), data = d, nAGQ = 10)
  f <- glmm(yo ~ x2 + trt + (1 | id), d, family = cumulative(), nAGQ = 10)
  st <- as.data.frame(standardize(f, "trt", re = "conditional"))
  pr <- function(th, b) {
    eta <- b[1] * d$x + b[2]
    P <- cbind(plogis(th[1] - eta), plogis(th[2] - eta) - plogis(th[1] - eta), 1 - plogis(th[2] - eta))
    colMeans(P)
  }
  expect_equal(st$estimate[4:6], unname(pr(cm$alpha, cm$beta)), tolerance = 1e-3)
})

test_that("known-covariance gaussian fits: derived standard errors free of x's units (and lmer's)", {
  d <- trust26_data()
  K <- diag(60)
  rownames(K) <- colnames(K) <- levels(d$id)
  fits <- expect_units_free26(function(v) glmm(fm26("yg", v), d, covariance = list(id = K)), d,
                              tolerance = 1e-6)
  skip_if_not_installed("lme4")
  lm4 <- lme4::lmer(yg ~ x + trt + (1 | id), d, REML = FALSE)
  nd <- d[c(5, 77, 260), ]
  X <- model.matrix(~ x + trt, nd)
  se_lme4 <- sqrt(rowSums((X %*% as.matrix(vcov(lm4))) * X))
  expect_equal(unname(predict(fits[[2]], nd, se.fit = TRUE)$se.fit), unname(se_lme4), tolerance = 1e-4)
})

test_that("shard files mixing integer64 and numeric cluster ids are a clear error (glmm_shards, gee_shards)", {
  # integer64 ids group by their exact values, numeric ones by their
  # doubles: 2^53 + 1 as integer64 and the double 2^53 + 1 (which is 2^53)
  # were two clusters or one depending on the file.
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  part <- split(s, as.integer(s$Subject) %% 2)
  part[[1]]$id <- bit64::as.integer64("9007199254740993") + as.integer(part[[1]]$Subject) * 2L
  part[[2]]$id <- 9007199254740993 + as.integer(part[[2]]$Subject) * 2
  dir <- tempfile("shards")
  dir.create(dir)
  files <- file.path(dir, sprintf("part%d.rds", 1:2))
  for (i in 1:2) saveRDS(part[[i]], files[i])
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  msg <- "cluster ids 'id' are integer64 \\(bit64\\) in shard file\\(s\\) 1 but not in 2"
  expect_error(glmm_shards(Reaction ~ Days + (1 | id), files, workers = cl), msg)
  expect_error(gee_shards(Reaction ~ Days, files, id = "id", workers = cl), msg)
})

test_that("glmm_shards(): derived standard errors free of x's units; gee_shards() without an intercept as gee()", {
  d <- trust26_data()
  set.seed(3)
  d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + 0.5 * (d$trt == "1") +
                                      rnorm(60)[as.integer(d$id)]))
  dir <- tempfile("shards")
  dir.create(dir)
  part <- split(d, as.integer(d$id) %% 3)
  files <- file.path(dir, sprintf("p%d.rds", 1:3))
  for (i in 1:3) saveRDS(part[[i]], files[i])
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  nd <- d[c(1, 7, 33), ]
  fits <- lapply(c("x", "x2", "x3"), function(v)
    glmm_shards(as.formula(paste("yb ~", v, "+ trt + (1 | id)")), files, family = binomial,
                workers = cl))
  se <- lapply(fits, function(f) list(
    standardize = as.data.frame(standardize(f, "trt", se = "delta", workers = cl))$std.error,
    marginal = unname(sqrt(diag(vcov(marginal_coefs(f, workers = cl))))["trt1"]),
    link = unname(predict(f, newdata = nd, se.fit = TRUE)$se.fit)))
  for (k in names(se[[1]])) {
    expect_equal(se[[2]][[k]], se[[1]][[k]], tolerance = 1e-7, info = paste("x * 1e-6 - 5:", k))
    expect_equal(se[[3]][[k]], se[[1]][[k]], tolerance = 1e-7, info = paste("x + 1e4:", k))
  }
  expect_null(fits[[1]]$cov_star)
  expect_false(is.null(fits[[2]]$cov_star))
  # The in-memory fit's derived standard errors.
  m <- glmm(yb ~ x2 + trt + (1 | id), d, family = binomial)
  expect_equal(se[[2]]$link, unname(predict(m, newdata = nd, se.fit = TRUE)$se.fit), tolerance = 1e-6)
  # Without an intercept column, x + 1e4 was not rescaled on the shards and
  # the fit failed at its start ("the starting weighted least-squares step
  # failed"); gee() fits it.
  a <- gee_shards(yb ~ 0 + x3 + trt, files, id = "id", family = binomial, corstr = "exchangeable",
                  workers = cl)
  b <- gee(yb ~ 0 + x3 + trt, id = id, data = d, family = binomial, corstr = "exchangeable")
  expect_equal(coef(a), coef(b), tolerance = 1e-8)
  expect_equal(vcov(a), vcov(b), tolerance = 1e-6)
})

test_that("assoc_scan() and known-covariance binomial fits do not depend on x's units", {
  # The scan formed X'V^-1X on the user's X (condition 1e13 with
  # x * 1e-6 - 5: statistics 9% off); the binomial known-covariance fit's
  # glm start solved the user's X'WX, singular numerically, and failed.
  d <- trust26_data()
  set.seed(5)
  A <- crossprod(matrix(rnorm(60 * 80), 80, 60)) / 80
  rownames(A) <- colnames(A) <- levels(d$id)
  G <- matrix(rbinom(300 * 8, 2, 0.3), 300, 8)
  G[, 8] <- d$x * 0.1 + G[, 8]
  d$yc <- rbinom(300, 1, plogis(d$x + 0.3 * (d$trt == "1")))
  makers <- list(
    one = function(v) glmm(fm26("yg", v), d, covariance = list(id = A)),
    several = function(v) glmm(fm26("yg", v, "(1 | id) + (1 | g2)"), d, covariance = list(id = A),
                               REML = TRUE),
    binomial = function(v) glmm(fm26("yc", v), d, family = binomial, covariance = list(id = A)))
  for (route in names(makers)) {
    fits <- lapply(c("x", "x2", "x3"), function(v) suppressWarnings(makers[[route]](v)))
    sc <- lapply(fits, assoc_scan, G = G)
    expect_equal(sc[[2]]$statistic, sc[[1]]$statistic, tolerance = 1e-6, info = paste(route, "x * 1e-6 - 5"))
    expect_equal(sc[[3]]$statistic, sc[[1]]$statistic, tolerance = 1e-6, info = paste(route, "x + 1e4"))
    # (A REML log-likelihood depends on the design's units: log|X'V^-1X|.)
    if (route != "several")
      expect_equal(as.numeric(logLik(fits[[2]])), as.numeric(logLik(fits[[1]])), tolerance = 1e-9)
  }
  expect_units_free26(makers$binomial, d, tolerance = 1e-6)
  skip_if_not_installed("lme4")
  # With K = I the binomial model is glmer's (1 | id).
  I60 <- diag(60)
  rownames(I60) <- colnames(I60) <- levels(d$id)
  f <- glmm(yc ~ x2 + trt + (1 | id), d, family = binomial, covariance = list(id = I60))
  g <- lme4::glmer(yc ~ x + trt + (1 | id), d, family = binomial)
  # (glmer stops 3e-4 below the optimum.)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(g)), tolerance = 1e-5)
  expect_gte(as.numeric(logLik(f)), as.numeric(logLik(g)) - 1e-8)
  expect_equal(unname(fixef(f)[c("x2", "trt1")] * c(1e-6, 1)), unname(lme4::fixef(g)[c("x", "trt1")]),
               tolerance = 2e-3)
})

test_that("profile() of a nested quadrature fit does not depend on x's units", {
  # The profile's engine ran on the user's X: with x * 1e-6 - 5 the
  # searches for the other parameters at each point stopped short and the
  # slope's 95% interval was [795772, 795788] for a slope of 0.81e6 with
  # standard error 0.14e6; with x + 1e4 its upper end was 0.955 for 1.087.
  d <- nested_data(7, A = 25, B = 4, m = 4)
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  ci <- lapply(c("x", "x2", "x3"), function(v) {
    f <- glmm(as.formula(paste("y ~", v, "+ (1 | a/b)")), d, family = binomial, nAGQ = 9)
    expect_s3_class(f, "glmmgee_glmm_nested")
    confint(f, parm = c(v, "sd_(Intercept)|a"), method = "profile")
  })
  expect_equal(ci[[2]][1, ] * 1e-6, ci[[1]][1, ], tolerance = 1e-5)
  expect_equal(ci[[3]][1, ], ci[[1]][1, ], tolerance = 1e-5)
  expect_equal(ci[[2]][2, ], ci[[1]][2, ], tolerance = 1e-5)
  expect_equal(ci[[3]][2, ], ci[[1]][2, ], tolerance = 1e-5)
  # The well-scaled profile against the Wald interval's centre and width
  # (a profile of 100 clusters is close to quadratic in the slope).
  w <- confint(glmm(y ~ x + (1 | a/b), d, family = binomial, nAGQ = 9), parm = "x")
  expect_equal(unname(ci[[1]][1, ]), unname(w[1, ]), tolerance = 0.05)
})

test_that("a cs() term with one observation per group and column: the residual variance's non-identification is detected alike in every coding", {
  # With two columns cs() is unstructured, and its covariance plus c I is
  # another: only the sum with the residual variance is identified. The fit
  # stopped somewhere on that ridge, with log-sd standard errors of 20 to
  # 100 that changed with the order of the factor's levels, silently.
  d <- cs_data(2)
  msg <- "residual variance is not identifiable.*cs\\(0 \\+ time2? \\| id\\)"
  fits <- lapply(c("time", "time2"), function(tv) {
    f <- NULL
    expect_warning(f <- glmm(as.formula(sprintf("y ~ x + cs(0 + %s | id)", tv)), d), msg)
    f
  })
  for (f in fits) {
    expect_true(f$optinfo$residual_unidentified)
    expect_true(all(is.na(diag(f$cov_theta)[-(1:2)])))
    expect_true(all(is.na(f$structures[[1]]$se)))
    expect_true(any(grepl("not identifiable", f$optinfo$warnings)))
  }
  expect_equal(as.numeric(logLik(fits[[2]])), as.numeric(logLik(fits[[1]])), tolerance = 1e-8)
  expect_equal(sqrt(diag(vcov(fits[[2]]))), sqrt(diag(vcov(fits[[1]]))), tolerance = 1e-6)
  # Beside another term (the sparse engine's route) as well.
  d$site <- factor(as.integer(d$id) %% 8)
  fs <- NULL
  expect_warning(fs <- glmm(y ~ x + cs(0 + time | id) + (1 | site), d), msg)
  expect_true(fs$optinfo$residual_unidentified)
  expect_true(all(is.na(diag(fs$cov_theta)[-(1:2)])))
  # Three or more columns with heterogeneous variances are identified: no
  # warning, standard errors as glmmTMB's.
  d4 <- cs_data(4)
  f4 <- expect_silent(glmm(y ~ x + cs(0 + time | id), d4))
  expect_null(f4$optinfo$residual_unidentified)
  skip_if_not_installed("glmmTMB")
  tm <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | id), d))
  # glmmTMB: the same fixed effects and standard errors, NaN for the rest.
  expect_equal(unname(sqrt(diag(vcov(fits[[1]])))), unname(sqrt(diag(vcov(tm)$cond))), tolerance = 1e-5)
  expect_true(all(is.nan(suppressWarnings(sqrt(diag(vcov(tm, full = TRUE))))[-(1:2)])))
  tm4 <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id), d4)
  expect_equal(as.numeric(logLik(f4)), as.numeric(logLik(tm4)), tolerance = 1e-7)
  expect_equal(unname(sqrt(diag(vcov(f4)))), unname(sqrt(diag(vcov(tm4)$cond))), tolerance = 1e-4)
})

test_that("predict(se.fit = TRUE) of zero-inflated and hurdle fits: glmmTMB's standard errors, free of x's units", {
  # se.fit was silently ignored: a plain vector came back.
  d <- trust26_data()
  nd <- d[c(1, 7, 33, 120), ]
  nd$x[2] <- NA
  nd$x2[2] <- NA
  nd$x3[2] <- NA
  types <- c("link", "zlink", "zprob", "conditional", "response")
  for (fam in c("zi", "hurdle")) {
    fits <- lapply(c("x", "x2", "x3"), function(v)
      suppressWarnings(glmm(fm26("yz", v), d, ziformula = as.formula(paste("~", v)), nAGQ = 1,
                            family = if (fam == "zi") poisson else truncated_poisson())))
    for (ty in types) {
      p <- lapply(fits, predict, newdata = nd, type = ty, re.form = NA, se.fit = TRUE)
      expect_named(p[[1]], c("fit", "se.fit"))
      expect_equal(p[[1]]$fit, predict(fits[[1]], nd, type = ty, re.form = NA))
      expect_true(is.na(p[[1]]$se.fit[2]))
      expect_equal(p[[2]]$se.fit, p[[1]]$se.fit, tolerance = 1e-7, info = paste(fam, ty))
      expect_equal(p[[3]]$se.fit, p[[1]]$se.fit, tolerance = 1e-7, info = paste(fam, ty))
    }
    skip_if_not_installed("glmmTMB")
    tm <- glmmTMB::glmmTMB(yz ~ x + trt + (1 | id), d, ziformula = ~ x,
                           family = if (fam == "zi") poisson else glmmTMB::truncated_poisson())
    for (ty in types) {
      pt <- predict(tm, nd[-2, ], type = ty, re.form = NA, se.fit = TRUE)
      expect_equal(unname(predict(fits[[2]], nd[-2, ], type = ty, re.form = NA, se.fit = TRUE)$se.fit),
                   unname(pt$se.fit), tolerance = 2e-4, info = paste(fam, ty))
    }
  }
  # On the fit's own rows too (padded by na.action like the fit).
  f <- fits[[1]]
  expect_length(predict(f, se.fit = TRUE)$se.fit, length(predict(f)))
})

test_that("hostile codings of the round-25 two-part features agree with glmmTMB; a partial log-series limit is said", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  s <- Salamanders
  set.seed(1)
  s$lt <- log(runif(nrow(s), 0.5, 2))
  s$lt[c(3, 50)] <- NA
  s$minedc <- as.character(s$mined)
  s$minedl <- s$mined == "yes"
  ll <- function(f) as.numeric(logLik(f))
  # offset() in ziformula with missing offsets (na.omit), a character
  # factor, a logical; a dispformula offset on a tibble.
  a <- glmm(count ~ minedc + (1 | site), s, family = poisson, ziformula = ~ minedc + offset(lt), nAGQ = 1)
  b <- glmmTMB::glmmTMB(count ~ minedc + (1 | site), s, family = poisson, ziformula = ~ minedc + offset(lt))
  expect_equal(ll(a), ll(b), tolerance = 1e-8)
  expect_equal(nobs(a), nrow(s) - 2L)
  a <- glmm(count ~ minedl + (1 | site), s, family = poisson, ziformula = ~ minedl, nAGQ = 1)
  b <- glmmTMB::glmmTMB(count ~ minedl + (1 | site), s, family = poisson, ziformula = ~ minedl)
  expect_equal(ll(a), ll(b), tolerance = 1e-8)
  expect_equal(unname(fixef(a)), unname(glmmTMB::fixef(b)$cond), tolerance = 1e-5)
  skip_if_not_installed("tibble")
  st <- tibble::as_tibble(s)
  a <- glmm(count ~ mined + (1 | site), st, family = nbinom2, dispformula = ~ minedc + offset(lt), nAGQ = 1)
  b <- glmmTMB::glmmTMB(count ~ mined + (1 | site), st, family = nbinom2, dispformula = ~ minedc + offset(lt))
  expect_equal(ll(a), ll(b), tolerance = 1e-8)
  # truncated_nbinom1 hurdle on ~ mined: the mined sites' mu runs to 0 at a
  # finite phi (count intercept -18, minedno +19; glmmTMB stops at -14,
  # +15 with the same log-likelihood). Said and recorded, as the whole-fit
  # log-series limit is; it said only "doubtful convergence" before.
  w <- character()
  f <- withCallingHandlers(
    glmm(count ~ mined + (1 | site), s, family = truncated_nbinom1(), ziformula = ~ mined, nAGQ = 1),
    warning = function(cnd) { w <<- c(w, conditionMessage(cnd)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("log-series limit in 308 of 644 rows", w)))
  expect_true(f$optinfo$logseries_limit)
  g <- suppressWarnings(glmmTMB::glmmTMB(count ~ mined + (1 | site), s, family = glmmTMB::truncated_nbinom1,
                                         ziformula = ~ mined))
  expect_gte(ll(f), ll(g) - 1e-6)
  expect_equal(ll(f), ll(g), tolerance = 1e-8)
})
