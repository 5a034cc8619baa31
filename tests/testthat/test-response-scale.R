# Gaussian identity-link fits with one grouping factor do not depend on the
# units of the response (response-scale.R): with y * c the log-likelihood
# plus n log(c), the fixed effects / c and the standard deviations / c are
# those of the fit on y, with no warning the fit on y does not have.

test_that("ML fits of sleepstudy are equivariant in the response's units", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  n <- nrow(s)
  forms <- list(list(f = y ~ Days + (Days | Subject), nAGQ = NULL),
                list(f = y ~ Days + (1 | Subject), nAGQ = 5))
  for (m in forms) {
    s$y <- s$Reaction
    f1 <- glmm(m$f, s, nAGQ = m$nAGQ)
    for (cc in c(1e-6, 1e6)) {
      s$y <- s$Reaction * cc
      w <- character()
      fc <- withCallingHandlers(glmm(m$f, s, nAGQ = m$nAGQ),
                                warning = function(e) {
                                  w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning")
                                })
      expect_lt(abs(as.numeric(logLik(fc)) + n * log(cc) - as.numeric(logLik(f1))), 1e-6)
      expect_equal(unname(fixef(fc)) / cc, unname(fixef(f1)), tolerance = 1e-5)
      expect_equal(fc$sigma / cc, f1$sigma, tolerance = 1e-5)
      expect_equal(sqrt(diag(fc$Lambda %*% t(fc$Lambda))) / cc,
                   sqrt(diag(f1$Lambda %*% t(f1$Lambda))), tolerance = 1e-5)
      expect_length(w, length(f1$optinfo$warnings))
      # Standard errors scale with the response too.
      expect_equal(sqrt(diag(vcov(fc))) / cc, sqrt(diag(vcov(f1))), tolerance = 1e-4)
    }
  }
})

test_that("the unstructured ML fit reaches lmer's optimum whatever the units", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  for (cc in c(1e-6, 1, 1e6)) {
    s$y <- s$Reaction * cc
    ours <- glmm(y ~ Days + (Days | Subject), s)
    ref <- lme4::lmer(y ~ Days + (Days | Subject), s, REML = FALSE)
    # Ours equal or higher, to optimizer tolerance.
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6)
    expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 1e-5)
  }
})

test_that("glmm_fit() maps a start and zero weights with the response scale", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  X <- model.matrix(~ Days, sleepstudy)
  w <- rep(c(1, 0, 2), length.out = nrow(X))
  y <- sleepstudy$Reaction
  f1 <- glmm_fit(X, y, X, sleepstudy$Subject, weights = w)
  f6 <- glmm_fit(X, y * 1e6, X, sleepstudy$Subject, weights = w,
                 start = list(beta = f1$beta * 1e6, lambda = f1$lambda * 1e6,
                              sigma = f1$sigma * 1e6))
  npos <- sum(w > 0)
  expect_lt(abs(f6$loglik + npos * log(1e6) - f1$loglik), 1e-6)
  expect_equal(sum(f6$modes$loglik), f6$loglik, tolerance = 1e-8)
  expect_equal(unname(f6$beta) / 1e6, unname(f1$beta), tolerance = 1e-5)
  expect_equal(f6$cov_theta[1:2, 1:2] / 1e12, f1$cov_theta[1:2, 1:2], tolerance = 1e-4)
})

test_that("structured and dispersion-formula fits are equivariant in the response's units", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  s$t <- factor(pmin(s$Days, 3))
  n <- nrow(s)
  fits <- list(
    ar1 = function(d) glmm(y ~ Days + ar1(0 + t | Subject), d),
    cs = function(d) glmm(y ~ Days + cs(0 + t | Subject), d),
    disp = function(d) glmm(y ~ Days + (1 | Subject), d, dispformula = ~ Days))
  for (nm in names(fits)) {
    s$y <- s$Reaction
    f1 <- fits[[nm]](s)
    for (cc in c(1e-6, 1e6)) {
      s$y <- s$Reaction * cc
      w <- character()
      fc <- withCallingHandlers(fits[[nm]](s), warning = function(e) {
        w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning")
      })
      expect_lt(abs(as.numeric(logLik(fc)) + n * log(cc) - as.numeric(logLik(f1))), 1e-6)
      expect_equal(unname(fixef(fc)) / cc, unname(fixef(f1)), tolerance = 1e-5)
      expect_equal(sqrt(diag(vcov(fc))) / cc, sqrt(diag(vcov(f1))), tolerance = 1e-4)
      expect_length(w, length(f1$optinfo$warnings))
      if (nm == "disp") {
        # The dispersion's intercept moves by log(c), its slope not at all.
        d1 <- f1$theta[grepl("^disp~", names(f1$theta))]
        dc <- fc$theta[grepl("^disp~", names(fc$theta))]
        expect_equal(unname(dc - d1), c(log(cc), 0), tolerance = 1e-5)
      } else {
        # Structure parameters: log standard deviations move by log(c),
        # correlation parameters not at all.
        t1 <- f1$theta_structure
        tc <- fc$theta_structure
        sd <- grepl("log\\(sd", names(t1))
        expect_equal(unname(tc[sd] - t1[sd]), rep(log(cc), sum(sd)), tolerance = 1e-5)
        rho <- grepl("rho", names(t1))
        expect_equal(unname(tc[rho]), unname(t1[rho]), tolerance = 1e-5)
      }
    }
  }
})

# 40 groups of 6 rows: a covariate x, a time factor t, an arm a (seed 2;
# the response is left to the test).
dispersion_units_data <- function() {
  set.seed(2)
  M <- 40; m <- 6
  data.frame(g = rep(seq_len(M), each = m), x = rnorm(M * m), t = factor(rep(seq_len(m), M)),
             a = factor(rep(1:2, length.out = M * m)))
}

test_that("dispersion-formula fits with structures or several terms are equivariant in the response's units", {
  # (they were searched in the units of y: at y * 1000 the ar1() fits,
  # at y * 1e6 the crossed and location-scale ones, ended 31 to 76
  # log-likelihood units short)
  d <- dispersion_units_data()
  g <- d$g
  M <- max(g)
  d$y0 <- 1 + d$x + rnorm(M)[g] +
    rnorm(nrow(d), 0, exp(-0.5 + 0.5 * (d$a == "2") + rnorm(M, 0, 0.3)[g]))
  n <- nrow(d)
  fits <- list(
    ar1 = function(d) glmm(y ~ x + ar1(0 + t | g), d, dispformula = ~ a),
    crossed = function(d) glmm(y ~ x + (1 | g) + (1 | t), d, dispformula = ~ a),
    cs_quadrature = function(d) glmm(y ~ x + cs(1 + x | g), d, dispformula = ~ a, nAGQ = 3),
    location_scale = function(d) glmm(y ~ x + (1 | g), d, dispformula = ~ a + (1 | g)),
    location_scale_crossed = function(d) glmm(y ~ x + (1 | g) + (1 | t), d,
                                              dispformula = ~ a + (1 | g)),
    location_scale_ar1 = function(d) glmm(y ~ x + ar1(0 + t | g), d, dispformula = ~ a + (1 | g)))
  for (nm in names(fits)) {
    d$y <- d$y0 + 5
    f1 <- suppressWarnings(fits[[nm]](d))
    for (cc in c(1e-6, 1e3, 1e6)) {
      d$y <- (d$y0 + 5) * cc
      fc <- suppressWarnings(fits[[nm]](d))
      expect_equal(as.numeric(logLik(fc)) + n * log(cc), as.numeric(logLik(f1)), tolerance = 1e-8,
                   label = paste(nm, cc))
      expect_equal(unname(fixef(fc)) / cc, unname(fixef(f1)), tolerance = 1e-5)
      expect_equal(sqrt(diag(vcov(fc))) / cc, sqrt(diag(vcov(f1))), tolerance = 1e-4)
      # the dispersion's intercept moves by log(c), the rest of its
      # parameters (its slope, its random effects' standard deviation) not
      dn <- grep("^disp~", names(f1$theta), value = TRUE)
      expect_equal(unname(fc$theta[dn] - f1$theta[dn]), log(cc) * (dn == "disp~(Intercept)"),
                   tolerance = 1e-5)
      r1 <- ranef(f1)[[1L]]
      expect_equal(as.matrix(ranef(fc)[[1L]]) / cc, as.matrix(r1), tolerance = 1e-4)
      expect_equal(unname(fitted(fc)) / cc, unname(fitted(f1)), tolerance = 1e-6)
      expect_equal(unname(predict(fc, type = "disp")) / cc, unname(predict(f1, type = "disp")),
                   tolerance = 1e-5)
      if (grepl("location", nm))
        expect_equal(as.matrix(ranef(fc, component = "disp")[[1L]]),
                     as.matrix(ranef(f1, component = "disp")[[1L]]), tolerance = 1e-4)
    }
  }
})

test_that("a structured fit's boundary check reports log-likelihoods in the units of y", {
  # (structured fits searched on y / s reported the boundary and restart
  # log-likelihoods of that search: 46 units off at y's own scale)
  d <- dispersion_units_data()
  # no group effect: the structures' standard deviations are at zero
  d$y0 <- 1 + d$x + rnorm(nrow(d), 0, exp(-0.5 + 0.5 * (d$a == "2")))
  fits <- list(ar1_dispersion = function(d) glmm(y ~ x + ar1(0 + t | g), d, dispformula = ~ a),
               cs = function(d) glmm(y ~ x + cs(0 + t | g), d))
  for (nm in names(fits)) for (cc in c(1, 1e3)) {
    d$y <- (d$y0 + 5) * cc
    fc <- suppressWarnings(fits[[nm]](d))
    bc <- fc$optinfo$boundary_check
    expect_true(is.numeric(bc$loglik_boundary), label = nm)
    expect_equal(bc$loglik_boundary, as.numeric(logLik(fc)), tolerance = 1e-8,
                 label = paste(nm, cc))
    expect_true(all(bc$loglik_restarts <= as.numeric(logLik(fc)) + 1e-6), label = paste(nm, cc))
  }
})

test_that("a structured fit beside a second term reaches the optimum in any units", {
  # The sparse Laplace route with y * 1e6 stopped 8.9 below the optimum with
  # only a "Hessian not negative definite" warning; any warning now also
  # fits the scale-free profiled criterion and keeps the higher value.
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  n <- nrow(s)
  s$t <- factor(pmin(s$Days, 3))
  s$g2 <- factor(rep(1:6, length.out = n))
  s$y <- s$Reaction
  f1 <- suppressWarnings(glmm(y ~ Days + ar1(0 + t | Subject) + (1 | g2), s))
  for (cc in c(1e-6, 1e6)) {
    s$y <- s$Reaction * cc
    fc <- suppressWarnings(glmm(y ~ Days + ar1(0 + t | Subject) + (1 | g2), s))
    expect_gt(as.numeric(logLik(fc)) + n * log(cc), as.numeric(logLik(f1)) - 1e-6)
    expect_equal(unname(fixef(fc)) / cc, unname(fixef(f1)), tolerance = 1e-4)
  }
})

# The other gaussian routes, on units_data() (helper-units-data.R).

# Fits fit_with(data) with y = y0 * c for c = 1e-6, 1, 1e6: the
# log-likelihood plus (n - r) log(c) (r = 0 for ML, the number of fixed
# effects for REML) is that of c = 1 to 1e-6 relative; the fixed effects,
# standard deviations and standard errors divided by c are those of c = 1;
# and no warning is added.
expect_units_equivariant <- function(fit_with, d, reml = FALSE, gee = FALSE, tol = 1e-5) {
  fits <- lapply(c(1e-6, 1, 1e6), function(cc) {
    d$y <- d$y0 * cc
    w <- character()
    f <- withCallingHandlers(fit_with(d), warning = function(e) {
      w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning")
    })
    list(f = f, w = w, c = cc)
  })
  f1 <- fits[[2L]]$f
  n <- nrow(d)
  sds <- function(f) if (gee) sqrt(f$scale) else
    c(unlist(lapply(VarCorr(f), function(v) attr(v, "stddev"))), sigma(f))
  co <- function(f) if (gee) coef(f) else fixef(f)
  for (k in c(1L, 3L)) {
    fc <- fits[[k]]$f
    cc <- fits[[k]]$c
    info <- sprintf("y * %g", cc)
    if (!gee) {
      r <- if (reml) length(fixef(fc)) else 0
      l1 <- as.numeric(logLik(f1))
      expect_lt(abs(as.numeric(logLik(fc)) + (n - r) * log(cc) - l1), 1e-6 * abs(l1), label = info)
    }
    expect_equal(unname(co(fc)) / cc, unname(co(f1)), tolerance = tol, info = info)
    expect_equal(unname(sds(fc)) / cc, unname(sds(f1)), tolerance = tol, info = info)
    expect_equal(sqrt(diag(as.matrix(vcov(fc)))) / cc, sqrt(diag(as.matrix(vcov(f1)))),
                 tolerance = 10 * tol, info = info)
    expect_identical(fits[[k]]$w, fits[[2L]]$w, info = info)
  }
}

test_that("known-covariance gaussian fits are equivariant in the response's units", {
  u <- units_data()
  d <- u$d
  for (reml in c(FALSE, TRUE)) {
    expect_units_equivariant(function(d) glmm(y ~ x + (1 | g), d, covariance = list(g = u$K),
                                              REML = reml), d, reml)
    expect_units_equivariant(function(d) glmm(y ~ x + (1 | g), d,
                                              covariance = list(g = kfactor(u$Lf)), REML = reml),
                             d, reml)
    expect_units_equivariant(function(d) glmm(y ~ x + (1 | g), d, covariance = list(g = u$Ks),
                                              REML = reml), d, reml)
    # several terms: dense marginal (REML) or sparse Laplace (ML) route,
    # and the sparse marginal route
    expect_units_equivariant(function(d) glmm(y ~ x + (1 | g) + (1 | a), d,
                                              covariance = list(g = u$K), REML = reml), d, reml)
    expect_units_equivariant(function(d) glmm(y ~ x + (1 | g) + (1 | a), d,
                                              covariance = list(g = u$Ks), REML = reml), d, reml)
  }
  # a random slope beside a known covariance: the sparse Laplace engine (ML)
  expect_units_equivariant(function(d) glmm(y ~ x + (1 | g) + (x | a), d,
                                            covariance = list(g = u$K)), d, tol = 1e-4)
})

test_that("nested quadrature, several-term (RE)ML and gee() are equivariant in the response's units", {
  u <- units_data()
  d <- u$d
  expect_units_equivariant(function(d) glmm(y ~ x + (1 | a/g), d, nAGQ = 5), d)
  expect_units_equivariant(function(d) glmm(y ~ x + (1 | a/g), d), d)
  for (reml in c(FALSE, TRUE)) {
    expect_units_equivariant(function(d) glmm(y ~ x + (1 | g) + (1 | a), d, REML = reml), d, reml)
    expect_units_equivariant(function(d) glmm(y ~ x + (x | g) + (1 | a), d, REML = reml), d, reml,
                             tol = 1e-4)
  }
  # the sparse Laplace engine without a covariance: ML with a start
  f1 <- glmm(y0 ~ x + (1 | g) + (1 | a), d)
  d$y <- d$y0 * 1e6
  f6 <- glmm(y ~ x + (1 | g) + (1 | a), d, start = f1$theta * c(1e6, 1e6, 1e6, 1e6, 1) +
               c(0, 0, 0, 0, log(1e6)))
  expect_lt(abs(as.numeric(logLik(f6)) + nrow(d) * log(1e6) - as.numeric(logLik(f1))), 1e-6 * 500)
  expect_equal(unname(fixef(f6)) / 1e6, unname(fixef(f1)), tolerance = 1e-5)
  for (cs in c("independence", "exchangeable", "ar1"))
    expect_units_equivariant(function(d) gee(y ~ x, data = d, id = g, corstr = cs), d, gee = TRUE)
})


# sleepstudy with the response shifted by a constant: the intercept absorbs
# it, every other estimate and the log-likelihood stay. Before the response
# was fitted as y - X b0 (response_shift()), the one-factor gaussian routes
# summed squares of y itself and lost their digits: with y + 1e9, REML
# reported logLik +57497.8 (lmer: -871.81), ML with a random intercept
# -1035.66 (lmer: -897.04), a cs() structure +2.5e8, nested quadrature -Inf.
shifted_sleep <- function(shift) {
  data(sleepstudy, package = "lme4", envir = environment())
  sleepstudy$Reaction <- sleepstudy$Reaction + shift
  sleepstudy$f <- factor(sleepstudy$Days %/% 3)
  sleepstudy$g <- sleepstudy$Days > 4
  sleepstudy$h <- factor(rep_len(c("a", "b", "c", "d", "e", "f"), 180)[c(1:90 * 2, 1:90 * 2 - 1)])
  sleepstudy
}

test_that("a response shifted by 1e9: one-factor REML and ML equal lmer's fits", {
  skip_if_not_installed("lme4")
  base <- shifted_sleep(0)
  d <- shifted_sleep(1e9)
  for (reml in c(TRUE, FALSE)) for (fo in list(Reaction ~ Days + (Days | Subject),
                                               Reaction ~ Days + (1 | Subject))) {
    ref <- lme4::lmer(fo, d, REML = reml)
    fit <- glmm(fo, d, REML = reml)
    fit0 <- glmm(fo, base, REML = reml)
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-9)
    expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-7)
    expect_equal(unname(sqrt(diag(vcov(fit)))), unname(sqrt(diag(as.matrix(vcov(ref))))),
                 tolerance = 1e-4)
    expect_equal(sigma(fit), sigma(ref), tolerance = 1e-5)
    # The same fit as on the unshifted response, to the rounding of y + 1e9
    # (1.2e-7 per observation).
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(fit0)), tolerance = 1e-10)
    expect_equal(sigma(fit), sigma(fit0), tolerance = 1e-8)
    expect_equal(unname(sqrt(diag(vcov(fit)))), unname(sqrt(diag(vcov(fit0)))), tolerance = 1e-8)
    expect_equal(fixef(fit)[[2L]], fixef(fit0)[[2L]], tolerance = 1e-9)
    expect_length(fit$optinfo$warnings, 0L)
  }
})

test_that("a response shifted by 1e9: structured, dispersion, quadrature and nested fits do not move", {
  base <- shifted_sleep(0)
  d <- shifted_sleep(1e9)
  fits <- list(
    cs = function(x) glmm(Reaction ~ Days + cs(0 + f | Subject), x),
    diag = function(x) glmm(Reaction ~ Days + diag(Days | Subject), x),
    disp = function(x) glmm(Reaction ~ Days + (1 | Subject), x, dispformula = ~ g),
    agq = function(x) glmm(Reaction ~ Days + (1 | Subject), x, nAGQ = 5),
    nested = function(x) glmm(Reaction ~ Days + (1 | Subject/h), x, nAGQ = 3))
  for (nm in names(fits)) {
    # Warnings (a singular fit) are compared in the fits' records.
    a <- suppressWarnings(fits[[nm]](base))
    b <- suppressWarnings(fits[[nm]](d))
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-9, label = nm)
    expect_equal(fixef(b)[["Days"]], fixef(a)[["Days"]], tolerance = 1e-7, label = nm)
    expect_equal(fixef(b)[[1L]] - 1e9, fixef(a)[[1L]], tolerance = 1e-6, label = nm)
    expect_equal(unname(fitted(b)) - 1e9, unname(fitted(a)), tolerance = 1e-8, label = nm)
    expect_equal(unname(sqrt(diag(vcov(b)))), unname(sqrt(diag(vcov(a)))), tolerance = 1e-4,
                 label = nm)
    expect_equal(b$optinfo$warnings, a$optinfo$warnings, label = nm)
  }
})

test_that("a response shifted by 1e9: glmm_fit() and start values in the user's units", {
  skip_if_not_installed("lme4")
  d <- shifted_sleep(1e9)
  X <- cbind(1, d$Days)
  fit <- glmm_fit(X, d$Reaction, matrix(1, nrow(d)), d$Subject)
  ref <- lme4::lmer(Reaction ~ Days + (1 | Subject), d, REML = FALSE)
  expect_equal(fit$loglik, as.numeric(logLik(ref)), tolerance = 1e-9)
  expect_equal(unname(fit$beta), unname(lme4::fixef(ref)), tolerance = 1e-8)
  st <- glmm_fit(X, d$Reaction, matrix(1, nrow(d)), d$Subject,
                 start = list(beta = fit$beta, lambda = fit$lambda, sigma = fit$sigma))
  expect_equal(st$loglik, fit$loglik, tolerance = 1e-10)
})


# Profile intervals of a gaussian response far from zero: the profile
# refitted on y itself, whose sums of squares lost their digits (Days'
# limits 8e-3 off with Reaction + 1e9); profiled on y - X b0 as fitted,
# they are y's intervals, the intercept's shifted, and lmer's.
test_that("profile intervals of a response shifted by 1e9 are those of the response", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  d$g2 <- factor(rep_len(1:4, nrow(d)))
  d2 <- d
  d2$Reaction <- d2$Reaction + 1e9
  for (fo in list(Reaction ~ Days + (1 | Subject), Reaction ~ Days + (1 | Subject) + (1 | g2))) {
    ca <- suppressWarnings(confint(glmm(fo, d), method = "profile"))
    cb <- suppressWarnings(confint(glmm(fo, d2), method = "profile"))
    cb[1L, ] <- cb[1L, ] - 1e9
    expect_equal(cb, ca, tolerance = 1e-7)
  }
  ref <- confint(lme4::lmer(Reaction ~ Days + (1 | Subject), d, REML = FALSE), method = "profile")
  expect_equal(unname(cb <- suppressWarnings(confint(glmm(Reaction ~ Days + (1 | Subject), d2),
                                                     method = "profile"))["Days", ]),
               unname(ref["Days", ]), tolerance = 1e-6)
})
