# Standard errors of derived quantities (standardize(), predict(se.fit =
# TRUE), marginal_coefs()) do not depend on a covariate's units and
# location: with x * 1e-6 - 5 the user-scale covariance holds the
# intercept's variance to too few digits (intercept and slope correlated to
# 1 - 1e-14), and G V G' formed from it was 1e-4 (glmm) to 2.5e-3 (gee)
# relative off. The fits keep the covariance on the optimizer's standardized
# scale and the delta methods form (G T) V* (G T)' from it.

derived_se_data <- function() {
  units_panel(function(d, b) {
    d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + 0.5 * (d$trt == "1") + b))
    d$yp <- rpois(nrow(d), exp(0.2 + 0.3 * d$x + 0.3 * (d$trt == "1") + 0.5 * b +
                                 0.3 * rnorm(10)[as.integer(d$g2)]))
    d
  })
}

# The derived standard errors of a fit on the rows `nd`.
derived_se <- function(fit, nd) {
  # (A gaussian's means may be negative: its ratio rows are NaN, with a
  # warning, in every coding alike.)
  st <- suppressWarnings(standardize(fit, "trt", se = "delta"))
  out <- list(standardize = as.data.frame(st)$std.error,
              link = predict(fit, newdata = nd, se.fit = TRUE)$se.fit,
              response = predict(fit, newdata = nd, se.fit = TRUE, type = "response")$se.fit)
  if (is_glmm_fit(fit)) {
    mc <- marginal_coefs(fit)
    # The marginal coefficients other than the intercept and the slope of
    # the covariate (whose meaning moves with its units) are the same model's.
    out$marginal <- sqrt(diag(vcov(mc)))["trt1"]
    out$marginal_slope <- sqrt(diag(vcov(mc)))[2] * c(x = 1, x2 = 1e-6, x3 = 1)[names(coef(mc))[2]]
  }
  lapply(out, unname)
}
is_glmm_fit <- function(fit) inherits(fit, "glmmgee_glmm")

expect_units_free <- function(make, d, tolerance = 1e-6) {
  nd <- d[c(1, 7, 33, 120, 250, 300), ]
  fits <- lapply(c("x", "x2", "x3"), function(v) suppressWarnings(make(v)))
  se <- lapply(fits, derived_se, nd = nd)
  for (k in names(se[[1]])) {
    expect_equal(se[[2]][[k]], se[[1]][[k]], tolerance = tolerance, info = paste("x * 1e-6 - 5:", k))
    expect_equal(se[[3]][[k]], se[[1]][[k]], tolerance = tolerance, info = paste("x + 1e4:", k))
  }
  # The well-scaled design keeps no standardized covariance (its results are
  # the plain G V G'); the other two do.
  expect_null(fits[[1]]$cov_star)
  expect_null(fits[[1]]$vcov_star)
  expect_false(is.null(fits[[2]]$cov_star) && is.null(fits[[2]]$vcov_star))
  fits
}

# The delta method by hand on the well-scaled fit: the linear predictor's
# standard error sqrt(diag(X V X')).
expect_hand_link_se <- function(fit, nd, se_units) {
  X <- model.matrix(~ x + trt, nd)
  expect_equal(unname(se_units), unname(sqrt(rowSums((X %*% vcov(fit)) * X))), tolerance = 1e-6)
}

test_that("glmm binomial, one grouping factor: derived standard errors free of x's units", {
  d <- derived_se_data()
  fits <- expect_units_free(function(v)
    glmm(as.formula(paste("yb ~", v, "+ trt + (1 | id)")), d, family = binomial), d)
  nd <- d[c(1, 7, 33), ]
  expect_hand_link_se(fits[[1]], nd, predict(fits[[2]], nd, se.fit = TRUE)$se.fit)
})

test_that("glmm poisson, several terms (sparse route): derived standard errors free of x's units", {
  d <- derived_se_data()
  fits <- expect_units_free(function(v)
    glmm(as.formula(paste("yp ~", v, "+ trt + (1 | id) + (1 | g2)")), d, family = poisson), d)
  expect_s3_class(fits[[2]], "glmmgee_glmm_sparse")
  nd <- d[c(2, 50, 299), ]
  expect_hand_link_se(fits[[1]], nd, predict(fits[[2]], nd, se.fit = TRUE)$se.fit)
})

test_that("gee binomial exchangeable: derived standard errors free of x's units (and geepack's)", {
  d <- derived_se_data()
  fits <- expect_units_free(function(v)
    gee(as.formula(paste("yb ~", v, "+ trt")), id = id, data = d, family = binomial,
        corstr = "exchangeable"), d)
  # standardize() by hand on the well-scaled fit: the mean of plogis(X_t b)
  # at trt = 0 and 1, gradient colMeans(mu.eta * X_t); over `newdata`, so
  # without the covariates' sampling variance.
  f <- fits[[1]]
  b <- coef(f)
  grad <- t(sapply(c("0", "1"), function(t) {
    dt <- d
    dt$trt <- factor(t, levels = levels(d$trt))
    X <- model.matrix(~ x + trt, dt)
    eta <- drop(X %*% b)
    colMeans(binomial()$mu.eta(eta) * X)
  }))
  se_hand <- sqrt(diag(grad %*% vcov(f) %*% t(grad)))
  st2 <- as.data.frame(standardize(fits[[2]], "trt", newdata = d, se = "delta"))
  expect_equal(st2$std.error[st2$quantity == "mean"], unname(se_hand), tolerance = 1e-6)
  skip_if_not_installed("geepack")
  gp <- geepack::geeglm(yb ~ x + trt, id = id, data = d, family = binomial, corstr = "exchangeable")
  nd <- d[c(1, 7, 33), ]
  X <- model.matrix(~ x + trt, nd)
  se_gp <- sqrt(rowSums((X %*% vcov(gp)) * X))
  expect_equal(unname(predict(fits[[2]], nd, se.fit = TRUE)$se.fit), unname(se_gp), tolerance = 1e-5)
})

test_that("glmm gaussian (linear mixed model routes): derived standard errors free of x's units", {
  # The linear mixed models map their fixed effects by lmm_standard_x():
  # the one-factor and several-term routes keep the standardized covariance
  # too.
  d <- derived_se_data()
  d$yg <- d$x + 0.3 * (d$trt == "1") + rnorm(60)[as.integer(d$id)] + rnorm(10)[as.integer(d$g2)] +
    rnorm(nrow(d))
  expect_units_free(function(v) glmm(as.formula(paste("yg ~", v, "+ trt + (1 | id)")), d), d)
  fits <- expect_units_free(function(v)
    glmm(as.formula(paste("yg ~", v, "+ trt + (1 | id) + (1 | g2)")), d), d)
  nd <- d[c(5, 77, 260), ]
  expect_hand_link_se(fits[[1]], nd, predict(fits[[2]], nd, se.fit = TRUE)$se.fit)
  skip_if_not_installed("lme4")
  lm4 <- lme4::lmer(yg ~ x + trt + (1 | id) + (1 | g2), d, REML = FALSE)
  X <- model.matrix(~ x + trt, nd)
  se_lme4 <- sqrt(rowSums((X %*% as.matrix(vcov(lm4))) * X))
  expect_equal(unname(predict(fits[[2]], nd, se.fit = TRUE)$se.fit), unname(se_lme4), tolerance = 1e-4)
})

# standardize()'s delta method by hand on the well-scaled fit: the means of
# E y at trt = 0, 1 and their Jacobian by central differences in theta
# (plus the between-cluster term, which standardize() adds as it is).
test_that("zero-inflated and hurdle fits: derived standard errors free of x's units", {
  d <- units_invariance_data()
  fits <- expect_units_invariant(function(v)
    glmm(units_formula("yz", v), d, family = poisson, ziformula = ~ 1), d)
  # The zero part's own covariate in micro-units as well.
  expect_units_invariant(function(v)
    glmm(units_formula("yz", v), d, family = poisson, ziformula = as.formula(paste("~", v))), d)
  expect_units_invariant(function(v)
    glmm(units_formula("yz", v), d, family = truncated_poisson(), ziformula = ~ 1), d)
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
  d <- units_invariance_data()
  fits <- expect_units_invariant(function(v)
    glmm(units_formula("yz", v, "(1 | id) + (1 | g2)"), d, family = poisson, ziformula = ~ 1), d)
  expect_s3_class(fits[[2]], "glmmgee_glmm_sparse")
  expect_units_invariant(function(v)
    glmm(units_formula("yz", v), d, family = poisson, ziformula = ~ (1 | id)), d)
})

test_that("cumulative fits (one factor, several terms): category probabilities' standard errors free of x's units", {
  d <- units_invariance_data()
  fits <- expect_units_invariant(function(v) glmm(units_formula("yo", v), d, family = cumulative()), d)
  fs <- expect_units_invariant(function(v) glmm(units_formula("yo", v, "(1 | id) + (1 | g2)"), d,
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
  d <- units_invariance_data()
  K <- diag(60)
  rownames(K) <- colnames(K) <- levels(d$id)
  fits <- expect_units_invariant(function(v) glmm(units_formula("yg", v), d, covariance = list(id = K)), d,
                              tolerance = 1e-6)
  skip_if_not_installed("lme4")
  lm4 <- lme4::lmer(yg ~ x + trt + (1 | id), d, REML = FALSE)
  nd <- d[c(5, 77, 260), ]
  X <- model.matrix(~ x + trt, nd)
  se_lme4 <- sqrt(rowSums((X %*% as.matrix(vcov(lm4))) * X))
  expect_equal(unname(predict(fits[[2]], nd, se.fit = TRUE)$se.fit), unname(se_lme4), tolerance = 1e-4)
})

test_that("predict(se.fit = TRUE) of zero-inflated and hurdle fits: glmmTMB's standard errors, free of x's units", {
  # se.fit was silently ignored: a plain vector came back.
  d <- units_invariance_data()
  nd <- d[c(1, 7, 33, 120), ]
  nd$x[2] <- NA
  nd$x2[2] <- NA
  nd$x3[2] <- NA
  types <- c("link", "zlink", "zprob", "conditional", "response")
  for (fam in c("zi", "hurdle")) {
    fits <- lapply(c("x", "x2", "x3"), function(v)
      suppressWarnings(glmm(units_formula("yz", v), d, ziformula = as.formula(paste("~", v)), nAGQ = 1,
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
