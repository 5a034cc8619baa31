# REML for gaussian models with a dispersion formula of fixed effects
# (R/reml-dispersion.R): residual variances by group as nlme's varIdent,
# and meta-analyses with known sampling variances (dispformula = ~ 0 with
# equalto(), or known standard deviations as the dispersion's offset).

# ng clusters of m rows, residual standard deviations 0.5, 1 and 2 by arm.
reml_disp_data <- function(seed = 2, ng = 30, m = 8) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(ng), each = m)), x = rnorm(ng * m),
                  arm = factor(rep(c("a", "b", "c"), length.out = ng * m)))
  d$y <- 2 + 0.5 * d$x + rnorm(ng, 0, 0.7)[d$g] +
    rnorm(ng * m, 0, c(a = 0.5, b = 1, c = 2)[as.character(d$arm)])
  d
}

# k studies with known sampling variances vi around a mean of 0.3, between-
# study standard deviation 0.25, and the restricted and ML criteria of the
# random-effects meta-analysis written out (tau^2 by one-dimensional search).
meta_data <- function(seed, k) {
  set.seed(seed)
  vi <- stats::runif(k, 0.02, 0.2)
  data.frame(yi = 0.3 + rnorm(k, 0, 0.25) + rnorm(k, 0, sqrt(vi)), vi = vi,
             study = factor(seq_len(k)), g = factor(1))
}
meta_reference <- function(d, reml = TRUE) {
  crit <- function(t2) {
    w <- 1 / (d$vi + t2)
    mu <- sum(w * d$yi) / sum(w)
    -0.5 * (sum(log(d$vi + t2)) + reml * log(sum(w)) + sum(w * (d$yi - mu)^2) +
              (nrow(d) - reml) * log(2 * pi))
  }
  o <- stats::optimize(crit, c(0, 4), maximum = TRUE, tol = 1e-12)
  w <- 1 / (d$vi + o$maximum)
  list(tau = sqrt(o$maximum), loglik = o$objective, mu = sum(w * d$yi) / sum(w),
       se = sqrt(1 / sum(w)))
}

test_that("REML with residual variances by group is nlme's lme(weights = varIdent, method = \"REML\")", {
  skip_if_not_installed("nlme")
  d <- reml_disp_data()
  f <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  l <- nlme::lme(y ~ x, random = ~ 1 | g, data = d, method = "REML",
                 weights = nlme::varIdent(form = ~ 1 | arm))
  expect_true(isREML(f))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l)), tolerance = 1e-7)
  expect_equal(unname(fixef(f)), unname(nlme::fixef(l)), tolerance = 1e-6)
  # the fixed effects' covariance X' V^-1 X inverted, as nlme and lme4
  expect_equal(unname(vcov(f)), unname(vcov(l)), tolerance = 1e-5)
  expect_equal(sqrt(VarCorr(f)$g[1]), as.numeric(nlme::VarCorr(l)[1, "StdDev"]),
               tolerance = 1e-5)
  sig <- exp(f$aux$disp$coef)
  ratios <- coef(l$modelStruct$varStruct, unconstrained = FALSE)
  expect_equal(unname(sig[1]), l$sigma, tolerance = 1e-5)
  expect_equal(unname(exp(f$aux$disp$coef[2:3])), unname(ratios), tolerance = 1e-5)
  # logLik(REML = FALSE): the ML log-likelihood at the REML estimates with
  # the common scale re-profiled, as nlme's (and lme4's)
  expect_equal(as.numeric(logLik(f, REML = FALSE)), as.numeric(logLik(l, REML = FALSE)),
               tolerance = 1e-7)
  expect_output(print(f), "REML criterion", fixed = TRUE)
  expect_output(print(f), "fitted by REML", fixed = TRUE)
})

test_that("REML with a dispersion formula, several terms and a structure: glmmTMB's criterion", {
  skip_if_not_installed("glmmTMB")
  set.seed(5)
  ns <- 40
  nt <- 5
  e <- data.frame(id = factor(rep(seq_len(ns), each = nt)), tf = factor(rep(seq_len(nt), ns)),
                  h = factor(sample(1:8, ns * nt, TRUE)), x = rnorm(ns * nt),
                  arm = factor(rep(0:1, length.out = ns * nt)))
  b <- t(chol(0.8^abs(outer(seq_len(nt), seq_len(nt), "-")))) %*% matrix(rnorm(nt * ns), nt)
  e$y <- 1 + 0.3 * e$x + 0.7 * as.vector(b) + rnorm(8, 0, 0.5)[e$h] +
    rnorm(ns * nt, 0, ifelse(e$arm == 1, 0.9, 0.4))
  f <- glmm(y ~ x + ar1(0 + tf | id) + (1 | h), data = e, dispformula = ~ arm, REML = TRUE)
  tm <- glmmTMB::glmmTMB(y ~ x + ar1(0 + tf | id) + (1 | h), data = e, dispformula = ~ arm,
                         REML = TRUE)
  expect_length(f$optinfo$warnings, 0L)
  expect_gte(as.numeric(logLik(f)), as.numeric(logLik(tm)) - 1e-6)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-5)
  expect_equal(unname(f$aux$disp$coef), tmb_gaussian_log_sigma(unname(glmmTMB::fixef(tm)$disp)),
               tolerance = 1e-4)
})

test_that("one-stage meta-analysis with known sampling variances: the restricted likelihood written out", {
  for (k in c(12, 40)) {
    d <- meta_data(k, k)
    ref <- meta_reference(d)
    # known standard deviations as the dispersion's offset
    f <- glmm(yi ~ 1 + (1 | study), data = d, dispformula = ~ 0 + offset(log(sqrt(vi))),
              REML = TRUE)
    expect_equal(sqrt(VarCorr(f)$study[1]), ref$tau, tolerance = 1e-5)
    expect_equal(as.numeric(logLik(f)), ref$loglik, tolerance = 1e-7)
    expect_equal(unname(fixef(f)), ref$mu, tolerance = 1e-6)
    expect_equal(sqrt(vcov(f)[1, 1]), ref$se, tolerance = 1e-5)
    # no free common scale: logLik(REML = FALSE) is the ML criterion at the
    # REML estimates
    w <- 1 / (d$vi + ref$tau^2)
    ml <- -0.5 * sum(log(2 * pi * (d$vi + ref$tau^2)) + w * (d$yi - ref$mu)^2)
    expect_equal(as.numeric(logLik(f, REML = FALSE)), ml, tolerance = 1e-6)
    # the sampling covariance as equalto() beside no residual (glmmTMB's
    # way). The residual is held at 1e-4 of y's scale, where the sparse
    # factor of the Laplace engine keeps about eight digits of the
    # log-likelihood; the last Newton steps, whose gains are below that,
    # are confirmed by the exact gradient (before, the search ended with
    # "false convergence" 1e-5 from the exact estimates).
    V <- diag(d$vi)
    dimnames(V) <- list(levels(d$study), levels(d$study))
    fe <- glmm(yi ~ 1 + (1 | study) + equalto(0 + study | g, V), data = d, dispformula = ~ 0,
               REML = TRUE)
    expect_length(fe$optinfo$warnings, 0L)
    expect_equal(sqrt(VarCorr(fe)$study[1]), ref$tau, tolerance = 1e-6)
    expect_equal(as.numeric(logLik(fe)), ref$loglik, tolerance = 1e-7)
    expect_equal(unname(fixef(fe)), ref$mu, tolerance = 1e-6)
    expect_equal(sqrt(vcov(fe)[1, 1]), ref$se, tolerance = 1e-5)
  }
})

test_that("one-stage meta-analyses with equalto() and no residual: the exact optimum, in any units of y", {
  # 20 meta-analyses of 25 studies by ML and REML: each converged without
  # a warning (a third had ended with "false convergence" 1e-5 away), and
  # with y in units 1e-5 or 1e4 of its own (V in their squares) the same
  # fit; in units 1e-5 the search in y's units had stopped at logLik 0.96
  # where 223.69 is the optimum.
  for (seed in 1:20) for (reml in c(FALSE, TRUE)) {
    d <- meta_data(seed, 25)
    ref <- meta_reference(d, reml)
    fit_in <- function(s) {
      d$ys <- d$yi * s
      V <- diag(d$vi * s^2)
      dimnames(V) <- list(levels(d$study), levels(d$study))
      # (its warnings are checked in $optinfo below)
      suppressWarnings(glmm(ys ~ 1 + (1 | study) + equalto(0 + study | g, V), data = d,
                            dispformula = ~ 0, REML = reml))
    }
    info <- sprintf("seed %d, REML = %s", seed, reml)
    for (s in if (seed <= 3) c(1, 1e-5, 1e4) else 1) {
      f <- fit_in(s)
      tau <- sqrt(VarCorr(f)$study[1]) / s
      # (a between-study variance at zero is a singular fit, and said)
      expect_identical(f$optinfo$warnings[!grepl("^singular fit", f$optinfo$warnings)],
                       character(), info = info)
      expect_lt(abs(tau - ref$tau), 1e-5, label = info)
      expect_equal(as.numeric(logLik(f)) + (nrow(d) - reml) * log(s), ref$loglik,
                   tolerance = 1e-7, info = info)
      expect_lt(abs(unname(fixef(f)) / s - ref$mu), 1e-5, label = info)
      # the known covariance reported as given
      expect_equal(unname(diag(as.matrix(VarCorr(f)$g))), d$vi * s^2, tolerance = 1e-12,
                   info = info)
    }
  }
})

test_that("REML with a dispersion formula does not depend on centring; scaling moves it by a constant", {
  d <- reml_disp_data()
  f <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  d$xc <- d$x + 100
  d$xs <- d$x * 1000
  d$ys <- d$y * 1000 + 5e4
  fc <- glmm(y ~ xc + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  fs <- glmm(y ~ xs + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  fy <- glmm(ys ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  n <- nrow(d)
  # (X' V^-1 X changes by the design's map: log det 0 for a shift, log 1000
  # for the scaled column; y in units 1000 times smaller: n - p contrasts)
  expect_equal(as.numeric(logLik(fc)), as.numeric(logLik(f)), tolerance = 1e-9)
  expect_equal(as.numeric(logLik(fs)), as.numeric(logLik(f)) - log(1000), tolerance = 1e-9)
  expect_equal(as.numeric(logLik(fy)), as.numeric(logLik(f)) - (n - 2) * log(1000),
               tolerance = 1e-9)
  expect_equal(unname(fixef(fc)[2]), unname(fixef(f)[2]), tolerance = 1e-7)
  expect_equal(unname(fixef(fs)[2]) * 1000, unname(fixef(f)[2]), tolerance = 1e-7)
  expect_equal(unname(fixef(fy)), unname(fixef(f)) * 1000 + c(5e4, 0), tolerance = 1e-7)
  expect_equal(unname(fy$aux$disp$coef), unname(f$aux$disp$coef) + c(log(1000), 0, 0),
               tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(fy)))), unname(sqrt(diag(vcov(f)))) * 1000,
               tolerance = 1e-6)
})

test_that("the restricted term and its exact gradient: dense algebra, zero weights drop rows", {
  set.seed(1)
  n <- 60
  Q <- 8
  idx <- rep(seq_len(Q), length.out = n)
  Z <- cbind(Matrix::sparseMatrix(i = seq_len(n), j = idx, x = 1, dims = c(n, Q)),
             Matrix::sparseMatrix(i = seq_len(n), j = idx, x = rnorm(n), dims = c(n, Q)))
  # one 2 x 2 block per level: Lambda entries (1,1), (2,1), (2,2)
  re <- list(Z = Z, ntheta = 3L, lam_row = c(seq_len(Q), Q + seq_len(Q), Q + seq_len(Q)),
             lam_col = c(seq_len(Q), seq_len(Q), Q + seq_len(Q)), lam_k = rep(1:3, each = Q))
  Xs <- cbind(1, rnorm(n), rbinom(n, 1, 0.5))
  Xds <- cbind(1, rbinom(n, 1, 0.5))
  w <- stats::runif(n, 0.5, 2)
  w[c(3, 17)] <- 0
  offd <- rnorm(n, 0, 0.1)
  term <- glmmgee:::reml_term(re, Xs, Xds, w, offd)
  dense <- function(th) {
    keep <- w > 0
    L <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = th[3 + re$lam_k],
                              dims = c(2 * Q, 2 * Q))
    A <- as.matrix(Z %*% L)[keep, ]
    V <- tcrossprod(A) + diag(exp(2 * (offd + drop(Xds %*% th[7:8])))[keep] / w[keep])
    -0.5 * determinant(crossprod(Xs[keep, ], solve(V, Xs[keep, ])))$modulus[1]
  }
  for (th in list(c(0, 0, 0, 0.8, 0.3, 0.5, -0.2, 0.4), c(1, 2, 3, 0.1, -0.6, 1.2, 0.5, -0.3))) {
    r <- term(th, TRUE)
    expect_equal(r$value, dense(th), tolerance = 1e-10)
    h <- 1e-5
    fd <- vapply(seq_along(th), function(k)
      (dense(replace(th, k, th[k] + h)) - dense(replace(th, k, th[k] - h))) / (2 * h), 0)
    expect_equal(r$gradient, fd, tolerance = 1e-7)
  }
})

test_that("REML fits with a dispersion formula: methods, and what is refused", {
  d <- reml_disp_data()
  f <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  f0 <- glmm(y ~ 1 + (1 | g), data = d, dispformula = ~ arm, REML = TRUE)
  ml <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm)
  ml0 <- glmm(y ~ 1 + (1 | g), data = d, dispformula = ~ arm)
  # anova() refits by ML, as for other REML fits
  expect_message(a <- anova(f0, f), "refitting")
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(ml)) - as.numeric(logLik(ml0))),
               tolerance = 1e-6)
  expect_equal(stats::AIC(f), -2 * as.numeric(logLik(f)) + 2 * 6)
  ci <- confint(f)
  expect_true(all(ci[, 1] < ci[, 2]))
  expect_error(vcov(f, type = "CR2"), "REML fits with a 'dispformula'")
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm + (1 | g), REML = TRUE),
               "fixed effects only in 'dispformula'")
  d$count <- rpois(nrow(d), 2)
  expect_error(glmm(count ~ x + (1 | g), data = d, family = poisson, ziformula = ~ 1, REML = TRUE),
               "needs family = gaussian")
  expect_error(glmm(count ~ x + (1 | g), data = d, family = nbinom2(), dispformula = ~ arm,
                    REML = TRUE), "needs family = gaussian")
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE,
                    start = f$theta), "'start' is not available for REML fits")
  # zero weights: the rows dropped
  w <- rep(1, nrow(d))
  w[c(5, 40, 77)] <- 0
  fw <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE, weights = w)
  fd <- glmm(y ~ x + (1 | g), data = d[w > 0, ], dispformula = ~ arm, REML = TRUE)
  expect_equal(as.numeric(logLik(fw)), as.numeric(logLik(fd)), tolerance = 1e-8)
  expect_equal(fixef(fw), fixef(fd), tolerance = 1e-6)
})

test_that("REML with equalto() and an estimated residual: the restricted likelihood by dense algebra", {
  # 30 studies of 3 arms with known sampling variances (equalto()), a study
  # effect and a residual (heterogeneity) variance; the reference maximizes
  # the restricted log-likelihood of V = tau^2 Z Z' + diag(vi) + sigma^2 I.
  eq_data <- function(seed, sd_res) {
    set.seed(seed)
    k <- 30
    d <- data.frame(study = factor(rep(seq_len(k), each = 3)), x = rnorm(3 * k), g = factor(1))
    d$unit <- factor(seq_len(nrow(d)))
    d$vi <- stats::runif(nrow(d), 0.02, 0.1)
    d$y <- 1 + 0.4 * d$x + rnorm(k, 0, 0.5)[d$study] + rnorm(nrow(d), 0, sqrt(d$vi)) +
      rnorm(nrow(d), 0, sd_res)
    d
  }
  dense_reml <- function(d, par) {
    X <- cbind(1, d$x)
    Z <- stats::model.matrix(~ 0 + study, d)
    V <- exp(2 * par[1]) * tcrossprod(Z) + diag(d$vi + exp(2 * par[2]))
    Vi <- solve(V)
    C <- crossprod(X, Vi %*% X)
    r <- d$y - X %*% solve(C, crossprod(X, Vi %*% d$y))
    -0.5 * (determinant(V)$modulus[1] + determinant(C)$modulus[1] + drop(crossprod(r, Vi %*% r)) +
              (nrow(d) - 2) * log(2 * pi))
  }
  d <- eq_data(4, 0.4)
  V <- diag(d$vi)
  dimnames(V) <- list(levels(d$unit), levels(d$unit))
  f <- glmm(y ~ x + (1 | study) + equalto(0 + unit | g, V), data = d, REML = TRUE)
  o <- stats::optim(c(log(0.5), log(0.4)), function(p) -dense_reml(d, p), method = "BFGS",
                    control = list(reltol = 1e-15))
  expect_length(f$optinfo$warnings, 0L)
  expect_gte(as.numeric(logLik(f)), -o$value - 1e-7)
  expect_equal(as.numeric(logLik(f)), -o$value, tolerance = 1e-7)
  expect_equal(c(sqrt(VarCorr(f)$study[1]), sigma(f)), exp(o$par), tolerance = 1e-4)
  # No residual variance beyond the sampling variances: the residual at its
  # lower boundary, said, verified, and the limit's restricted likelihood.
  d0 <- eq_data(4, 0)
  V0 <- diag(d0$vi)
  dimnames(V0) <- list(levels(d0$unit), levels(d0$unit))
  expect_warning(f0 <- glmm(y ~ x + (1 | study) + equalto(0 + unit | g, V0), data = d0, REML = TRUE),
                 "residual standard deviation is estimated at 0")
  expect_true(f0$optinfo$boundary_check$verified)
  o0 <- stats::optimize(function(a) dense_reml(d0, c(a, -30)), c(-5, 2), maximum = TRUE,
                        tol = 1e-10)
  expect_gte(as.numeric(logLik(f0)), o0$objective - 1e-5)
  expect_equal(as.numeric(logLik(f0)), o0$objective, tolerance = 1e-6)
  expect_equal(sqrt(VarCorr(f0)$study[1]), exp(o0$maximum), tolerance = 1e-4)
  expect_output(print(summary(f0)), "REML criterion", fixed = TRUE)
})

test_that("REML with equalto() and a residual does not depend on y's units or origin", {
  set.seed(4)
  k <- 30
  d <- data.frame(study = factor(rep(seq_len(k), each = 3)), x = rnorm(3 * k), g = factor(1))
  d$unit <- factor(seq_len(nrow(d)))
  d$vi <- stats::runif(nrow(d), 0.02, 0.1)
  d$y <- 1 + 0.4 * d$x + rnorm(k, 0, 0.5)[d$study] + rnorm(nrow(d), 0, sqrt(d$vi)) +
    rnorm(nrow(d), 0, 0.4)
  fit_at <- function(s, shift, reml = TRUE) {
    d$ys <- d$y * s + shift
    V <- diag(d$vi * s^2)
    dimnames(V) <- list(levels(d$unit), levels(d$unit))
    glmm(ys ~ x + (1 | study) + equalto(0 + unit | g, V), data = d, REML = reml)
  }
  f <- fit_at(1, 0)
  n <- nrow(d)
  # (sigma 0.32: far above the floor of a residual estimated at zero,
  # which is relative to y's scale)
  for (a in list(c(1e-2, 0), c(1e3, 0), c(1, 1e5))) {
    fa <- fit_at(a[1], a[2])
    expect_length(fa$optinfo$warnings, 0L)
    expect_equal(as.numeric(logLik(fa)) + (n - 2) * log(a[1]), as.numeric(logLik(f)),
                 tolerance = 1e-7)
    expect_equal(c(sqrt(VarCorr(fa)$study[1]), sigma(fa)) / a[1],
                 c(sqrt(VarCorr(f)$study[1]), sigma(f)), tolerance = 1e-5)
    # (to the search's precision, a millionth of the standard errors)
    expect_equal(unname(fixef(fa)), unname(fixef(f)) * a[1] + c(a[2], 0), tolerance = 1e-5)
  }
  # y in units 1e-5 of its spread: the study variance, 0.45 of y's scale,
  # was reported at zero ("singular fit"), by REML and ML alike; the
  # boundary's threshold is now relative to y's scale.
  for (reml in c(TRUE, FALSE)) {
    f1 <- fit_at(1, 0, reml)
    fa <- fit_at(1e-5, 0, reml)
    expect_length(fa$optinfo$warnings, 0L)
    expect_false(fa$singular)
    expect_equal(as.numeric(logLik(fa)) + (n - 2 * reml) * log(1e-5), as.numeric(logLik(f1)),
                 tolerance = 1e-7)
  }
})

test_that("REML: a dispersion level of one row is bounded (nlme's varIdent fit); an unidentified residual is said", {
  skip_if_not_installed("nlme")
  d <- reml_disp_data(3, ng = 20, m = 6)
  d1 <- droplevels(d[d$arm != "c" | seq_len(nrow(d)) == 3, ])
  f <- glmm(y ~ x + (1 | g), data = d1, dispformula = ~ arm, REML = TRUE)
  l <- nlme::lme(y ~ x, random = ~ 1 | g, data = d1, method = "REML",
                 weights = nlme::varIdent(form = ~ 1 | arm))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l)), tolerance = 1e-7)
  expect_equal(unname(exp(f$aux$disp$coef[2:3])),
               unname(coef(l$modelStruct$varStruct, unconstrained = FALSE)), tolerance = 1e-4)
  # by ML the same level's sigma runs to zero: refused
  expect_error(glmm(y ~ x + (1 | g), data = d1, dispformula = ~ arm), "fitted exactly")
  # one row per level of the term beside a residual with a free scale
  d$u <- factor(seq_len(nrow(d)))
  expect_warning(fu <- glmm(y ~ x + (1 | u), data = d, dispformula = ~ arm, REML = TRUE),
                 "residual variance is not identifiable")
  expect_true(fu$optinfo$residual_unidentified)
  expect_true(all(is.na(diag(fu$cov_theta)[-(1:2)])))
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ arm, REML = TRUE, penalized = TRUE),
               "'REML = TRUE' cannot be combined with 'penalized'")
})
