# profile() / confint(method = "profile") in a covariate's units on every
# route that profiles by a rebuilt engine (profile_engine(): one-factor
# Laplace and AGHQ GLMMs, one-factor and several-term LMMs, the sparse
# Laplace GLMM, zero-inflated fits with one factor or several terms): the
# engines ran on the user's X, so with x * 1e-6 - 5 the searches for the
# other parameters at each point stopped short and the slope's interval
# came out 15% to 30% narrower (the LMM's [720890, 720969] for
# [581810, 859674]), or the zero-inflated profiles stopped with NA limits or
# an error. They now run on the centred and scaled design (profile_design())
# and are mapped back.

profile_units_data <- function() {
  set.seed(27)
  n <- 400
  g <- factor(sample(1:40, n, TRUE))
  h <- factor(sample(1:8, n, TRUE))
  x <- rnorm(n)
  eta <- -0.3 + 0.8 * x + rnorm(40, sd = 0.8)[g] + rnorm(8, sd = 0.5)[h]
  d <- data.frame(g, h, x, yb = rbinom(n, 1, plogis(eta)),
                  yg = 2 + 0.8 * x + rnorm(40)[g] + rnorm(8, sd = 0.7)[h] + rnorm(n),
                  yc = rpois(n, exp(0.3 + 0.5 * x + rnorm(40, sd = 0.5)[g])) * rbinom(n, 1, 0.7))
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x * 1e6
  d
}

profile_units_routes <- list(
  laplace = list(f = "yb ~ X + (1 | g)", args = list(family = binomial, nAGQ = 1),
                 cls = "glmmgee_glmm"),
  aghq = list(f = "yb ~ X + (1 | g)", args = list(family = binomial, nAGQ = 7),
              cls = "glmmgee_glmm"),
  lmm = list(f = "yg ~ X + (1 | g)", args = list(REML = FALSE), cls = "glmmgee_glmm"),
  lmm_reml = list(f = "yg ~ X + (1 | g)", args = list(REML = TRUE), cls = "glmmgee_glmm"),
  lmm_terms = list(f = "yg ~ X + (1 | g) + (1 | h)", args = list(REML = FALSE),
                   cls = "glmmgee_glmm_sparse"),
  sparse = list(f = "yb ~ X + (1 | g) + (1 | h)", args = list(family = binomial),
                cls = "glmmgee_glmm_sparse"),
  zi = list(f = "yc ~ X + (1 | g)", args = list(family = poisson, ziformula = ~1),
            cls = "glmmgee_glmm_zi"),
  zi_terms = list(f = "yc ~ X + (1 | g) + (1 | h)", args = list(family = poisson, ziformula = ~1),
                  cls = "glmmgee_glmm_zi"))

profile_units_fit <- function(d, route, v) {
  r <- profile_units_routes[[route]]
  f <- do.call(glmm, c(list(as.formula(sub("X", v, r$f)), data = quote(d)), r$args))
  expect_s3_class(f, r$cls)
  f
}

# The intervals in the three units: the slope's scales by exactly 1e6, the
# intercept's is the same with x * 1e6, and the variance parameters' are
# the same in all three.
profile_units_check <- function(route) {
  d <- profile_units_data()
  ci <- lapply(c("x", "x2", "x3"), function(v) confint(profile_units_fit(d, route, v), method = "profile"))
  for (k in 2:3) expect_identical(dim(ci[[k]]), dim(ci[[1]]))
  expect_true(all(is.finite(ci[[1]])))
  expect_true(all(is.finite(ci[[2]])))
  expect_equal(unname(ci[[2]][2, ]) * 1e-6, unname(ci[[1]][2, ]), tolerance = 1e-7)
  expect_equal(unname(ci[[3]][2, ]) * 1e6, unname(ci[[1]][2, ]), tolerance = 1e-7)
  expect_equal(unname(ci[[3]][1, ]), unname(ci[[1]][1, ]), tolerance = 1e-7)
  expect_equal(ci[[2]][-(1:2), ], ci[[1]][-(1:2), ], tolerance = 1e-7)
  expect_equal(ci[[3]][-(1:2), ], ci[[1]][-(1:2), ], tolerance = 1e-7)
  # The intercept with x * 1e-6 - 5 is eta at x = 5e6; with x - 5e6 it is
  # the same parameter, and the slope is x's.
  d$x4 <- d$x - 5e6
  c4 <- confint(profile_units_fit(d, route, "x4"), method = "profile")
  expect_true(all(is.finite(c4)))
  expect_equal(unname(c4[1, ]), unname(ci[[2]][1, ]), tolerance = 1e-7)
  expect_equal(unname(c4[-1, ]), unname(ci[[1]][-1, ]), tolerance = 1e-7)
  ci[[1]]
}

# glmmTMB's profile intervals of a Laplace fit: standard deviations on the
# log scale, after the fixed effects.
profile_units_tmb <- function(ours, tm, p) {
  ref <- confint(tm, method = "profile")
  expect_equal(unname(ours[seq_len(p), ]), unname(ref[seq_len(p), 1:2]), tolerance = 1e-3)
  k <- nrow(ours)
  expect_equal(unname(log(ours[(p + 1):k, ])), unname(ref[(p + 1):k, 1:2]), tolerance = 2e-3)
}

test_that("one-factor Laplace and AGHQ GLMM profiles do not depend on x's units, and match glmmTMB's", {
  # (lme4's profile of these glmer fits stops: "profiling detected new,
  # lower deviance".)
  ci <- profile_units_check("laplace")
  profile_units_check("aghq")
  skip_if_not_installed("glmmTMB")
  d <- profile_units_data()
  profile_units_tmb(ci, glmmTMB::glmmTMB(yb ~ x + (1 | g), d, family = binomial), 2L)
})

test_that("LMM profiles (one factor, ML and REML's ML refit; several terms) do not depend on x's units, and match lme4's", {
  c1 <- profile_units_check("lmm")
  cr <- profile_units_check("lmm_reml")
  expect_equal(cr, c1)
  c2 <- profile_units_check("lmm_terms")
  skip_if_not_installed("lme4")
  d <- profile_units_data()
  r1 <- suppressMessages(confint(lme4::lmer(yg ~ x + (1 | g), d, REML = FALSE),
                                 method = "profile", oldNames = FALSE))
  expect_equal(c1[rownames(r1), ], r1, tolerance = 5e-4)
  r2 <- suppressMessages(confint(lme4::lmer(yg ~ x + (1 | g) + (1 | h), d, REML = FALSE),
                                 method = "profile", oldNames = FALSE))
  expect_equal(c2[rownames(r2), ], r2, tolerance = 5e-4)
})

test_that("sparse Laplace GLMM profiles do not depend on x's units, and match glmmTMB's", {
  cs <- profile_units_check("sparse")
  skip_if_not_installed("glmmTMB")
  d <- profile_units_data()
  profile_units_tmb(cs, glmmTMB::glmmTMB(yb ~ x + (1 | g) + (1 | h), d, family = binomial), 2L)
})

test_that("zero-inflated profiles (one factor, several terms) do not depend on x's units, and match glmmTMB's", {
  profile_units_check("zi")
  profile_units_check("zi_terms")
  skip_if_not_installed("glmmTMB")
  d <- profile_units_data()
  # glmmTMB's Laplace approximation (the one-factor default is quadrature).
  fz <- glmm(yc ~ x + (1 | g), d, family = poisson, ziformula = ~1, nAGQ = 1)
  tm <- glmmTMB::glmmTMB(yc ~ x + (1 | g), d, family = poisson, ziformula = ~1)
  expect_equal(as.numeric(logLik(fz)), as.numeric(logLik(tm)), tolerance = 1e-7)
  profile_units_tmb(confint(fz, method = "profile"), tm, 3L)
  # (glmmTMB's profile of the several-term fit stops with missing values;
  # test-profile-zi-sparse.R checks that route against glmmTMB's refits.)
})

test_that("restricted-likelihood profiles (criterion = \"REML\") do not depend on x's units", {
  # The restricted likelihood was evaluated on the user's X: with
  # x * 1e-6 - 5 the standard deviation's upper limit was 0.930 for 1.085
  # (one factor). On X* it is log|det T| higher, which is taken off.
  d <- profile_units_data()
  for (f in c("yg ~ X + (1 | g)", "yg ~ X + (1 | g) + (1 | h)")) {
    ci <- lapply(c("x", "x2", "x3"), function(v)
      confint(glmm(as.formula(sub("X", v, f)), d, REML = TRUE), method = "profile",
              criterion = "REML"))
    expect_true(all(is.finite(ci[[2]])))
    # (2e-5 when each search started at the fixed effects'
    # estimates, 3.8e6 in x2's units, where nlminb's relative step test
    # ended it at once; they are held at 0 now.)
    expect_equal(ci[[2]], ci[[1]], tolerance = 1e-8)
    expect_equal(ci[[3]], ci[[1]], tolerance = 1e-7)
    # Restricted intervals are wider than the ML refit's for the standard
    # deviations (the ML estimates are biased down).
    ml <- confint(glmm(as.formula(sub("X", "x", f)), d, REML = TRUE), method = "profile")
    sds <- grep("^sd_", rownames(ci[[1]]))
    expect_true(all(ci[[1]][sds, 2] > ml[rownames(ci[[1]])[sds], 2]))
  }
})

test_that("zero-part covariates: the zero-inflated profile does not depend on their units", {
  # The zero part's design was used as it was: with z * 1e-6 - 5 its
  # coefficient's interval was [-685797, -685782] for [-1188439, -298615].
  set.seed(28)
  n <- 400
  g <- factor(sample(1:40, n, TRUE))
  x <- rnorm(n)
  z <- rnorm(n)
  d <- data.frame(g, x, z, y = rpois(n, exp(0.3 + 0.5 * x + rnorm(40, sd = 0.5)[g])) *
                    rbinom(n, 1, plogis(0.8 + 0.7 * z)))
  d$z2 <- d$z * 1e-6 - 5
  d$z4 <- d$z - 5e6
  ci <- lapply(c("z", "z2", "z4"), function(v)
    confint(glmm(y ~ x + (1 | g), d, family = poisson, ziformula = as.formula(paste("~", v))),
            method = "profile"))
  for (k in 1:3) expect_true(all(is.finite(ci[[k]])))
  expect_equal(unname(ci[[2]][4, ]) * 1e-6, unname(ci[[1]][4, ]), tolerance = 1e-7)
  expect_equal(unname(ci[[3]][4, ]), unname(ci[[1]][4, ]), tolerance = 1e-7)
  expect_equal(unname(ci[[3]][3, ]), unname(ci[[2]][3, ]), tolerance = 1e-7)
  for (k in 2:3) expect_equal(unname(ci[[k]][-(3:4), ]), unname(ci[[1]][-(3:4), ]), tolerance = 1e-7)
  skip_if_not_installed("glmmTMB")
  fz <- glmm(y ~ x + (1 | g), d, family = poisson, ziformula = ~ z, nAGQ = 1)
  tm <- glmmTMB::glmmTMB(y ~ x + (1 | g), d, family = poisson, ziformula = ~ z)
  expect_equal(as.numeric(logLik(fz)), as.numeric(logLik(tm)), tolerance = 1e-7)
  profile_units_tmb(confint(fz, method = "profile"), tm, 4L)
})


quadrature_units_data <- function() {
  set.seed(28)
  n <- 1200
  g <- factor(sample(1:60, n, TRUE))
  h <- factor(sample(1:8, n, TRUE))
  x <- rnorm(n)
  b0 <- rnorm(60, sd = 0.8)
  b1 <- rnorm(60, sd = 0.7)
  d <- data.frame(g, h, x,
                  yb = rbinom(n, 1, plogis(-0.3 + 0.8 * x + b0[g] + b1[g] * x)),
                  yg = 2 + 0.8 * x + b0[g] + b1[g] * x + rnorm(8, sd = 0.7)[h] + rnorm(n))
  d$x1 <- d$x * 1e-6
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x * 1e6
  d$x4 <- d$x - 5e6
  d
}

quadrature_units_ci <- function(d, f, v, args)
  confint(do.call(glmm, c(list(as.formula(gsub("X", v, f)), data = quote(d)), args)),
          method = "profile")

# The intervals in x's units: the fixed slope and the slope's standard
# deviation scale by 1 / c, the other parameters are the same (with
# x * 1e-6 - 5 the intercept and its correlation are those at x = 5e6, the
# same as with x - 5e6).
quadrature_units_check <- function(f, args, units = c("x1", "x2", "x3")) {
  d <- quadrature_units_data()
  ci <- quadrature_units_ci(d, f, "x", args)
  expect_true(all(is.finite(ci)))
  sc <- c(x1 = 1e-6, x2 = 1e-6, x3 = 1e6, x4 = 1)
  slope <- c(2L, which(rownames(ci) == "sd_x|g"))
  for (v in units) {
    cv <- quadrature_units_ci(d, f, v, args)
    expect_identical(dim(cv), dim(ci))
    expect_true(all(is.finite(cv)))
    expect_equal(unname(cv[slope, ]) * sc[[v]], unname(ci[slope, ]), tolerance = 1e-7)
    same <- if (v == "x2") -c(1L, slope, grep("(Intercept)|g", rownames(ci), fixed = TRUE))
            else -slope
    expect_equal(unname(cv[same, ]), unname(ci[same, ]), tolerance = 1e-7)
    if (v == "x2") {
      c4 <- quadrature_units_ci(d, f, "x4", args)
      at <- c(1L, grep("(Intercept)|g", rownames(ci), fixed = TRUE))
      expect_equal(unname(cv[at, ]), unname(c4[at, ]), tolerance = 1e-6)
    }
  }
  ci
}

test_that("one-factor and several-term LMM profiles with (x | g) in any units of x match lme4's", {
  c1 <- quadrature_units_check("yg ~ X + (X | g)", list(REML = FALSE))
  c2 <- quadrature_units_check("yg ~ X + (X | g) + (1 | h)", list(REML = FALSE))
  skip_if_not_installed("lme4")
  d <- quadrature_units_data()
  r1 <- suppressMessages(confint(lme4::lmer(yg ~ x + (x | g), d, REML = FALSE),
                                 method = "profile", oldNames = FALSE))
  expect_equal(c1[rownames(r1), ], r1, tolerance = 2e-5)
  r2 <- suppressMessages(confint(lme4::lmer(yg ~ x + (x | g) + (1 | h), d, REML = FALSE),
                                 method = "profile", oldNames = FALSE))
  expect_equal(c2[rownames(r2), ], r2, tolerance = 2e-5)
})

test_that("Laplace, AGHQ and sparse Laplace GLMM profiles with (x | g) do not depend on x's units", {
  quadrature_units_check("yb ~ X + (X | g)", list(family = binomial, nAGQ = 1))
  quadrature_units_check("yb ~ X + (X | g) + (1 | h)", list(family = binomial))
  # The far-off AGHQ fit stops about 1e-6 below the optimum
  # (logLik -751.4652359 against -751.4652349 at nAGQ = 5), which moves
  # its intervals in the 7th digit: only the scalings are checked here.
  quadrature_units_check("yb ~ X + (X | g)", list(family = binomial, nAGQ = 3), units = c("x1", "x3"))
})

test_that("the several-term GLMM profile with a variance at zero profiles the fixed effects", {
  # With h's variance at 0 the fit's covariance has no column for the
  # coefficient's lean, and profile_point() called the engine on theta of
  # length 1.
  d <- quadrature_units_data()
  fit <- suppressWarnings(glmm(yb ~ x1 + (x1 | g) + (1 | h), d[1:400, ], family = binomial))
  pr <- profile(fit, which = 1:2)
  ci <- confint(pr)
  expect_true(all(is.finite(ci)))
  f0 <- suppressWarnings(glmm(yb ~ x + (x | g) + (1 | h), d[1:400, ], family = binomial))
  expect_equal(unname(ci[2, ]) * 1e-6, unname(confint(profile(f0, which = 2))[1, ]),
               tolerance = 1e-6)
})

test_that("gaussian profiles do not depend on y's units (sleepstudy; a six-column unstructured term)", {
  skip_if_not_installed("lme4")
  # In units 1e4 of y's spread the profile's constrained refits stopped
  # short (Lambda's entries near 1e4 beside log sigma, unscaled): Days's
  # limits were 7.55 and 13.38 against 7.36 and 13.58, and the six-column
  # term's fixed effect had limits where the likelihood-ratio statistic was
  # 3.27, not 3.84.
  ss <- as.data.frame(lme4::sleepstudy)
  set.seed(4)
  d <- expand.grid(sp = factor(1:6), site = factor(1:15), r = 1:2)
  d$x <- rnorm(nrow(d))
  b <- matrix(rnorm(15 * 6), 15) %*% chol(0.5 + 0.5 * diag(6))
  d$y0 <- 10 * (0.3 * d$x + b[cbind(as.integer(d$site), as.integer(d$sp))] + rnorm(nrow(d), 0, 0.5))
  limits <- function(s) {
    ss$ys <- ss$Reaction * s
    d$ys <- d$y0 * s
    c(confint(glmm(ys ~ Days + (Days | Subject), ss), method = "profile", parm = 2),
      confint(glmm(ys ~ x + (0 + sp | site), d), method = "profile", parm = 2)) / s
  }
  l1 <- limits(1)
  ref <- stats::confint(lme4::lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE),
                        parm = "Days", method = "profile", quiet = TRUE)
  expect_equal(l1[1:2], unname(ref[1, ]), tolerance = 1e-4)
  for (s in c(1e-4, 1e4)) expect_equal(limits(s), l1, tolerance = 1e-5, info = paste("y *", s))
})
