# Round 28 (issue 15, trust): profile intervals of random-slope models in
# any units of the slope's covariate.
#
# profile() ran its engines on the user's Z: with (x | g) on x * 1e-6 the
# correlation's interval was [-0.498, 0.354] for [-0.498, 0.357] (the
# searches at each point stopped short), with x * 1e-6 - 5 the slope's
# standard deviation had [0.445, 0.453] for [0.281, 0.655] (one-factor
# LMM), and the several-term GLMM's profile stopped with "theta has length
# 1". Far-off or badly scaled blocks are now profiled on their centred and
# scaled columns (profile-z-basis.R).

t28_data <- function() {
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

t28_ci <- function(d, f, v, args)
  confint(do.call(glmm, c(list(as.formula(gsub("X", v, f)), data = quote(d)), args)),
          method = "profile")

# The intervals in x's units: the fixed slope and the slope's standard
# deviation scale by 1 / c, the other parameters are the same (with
# x * 1e-6 - 5 the intercept and its correlation are those at x = 5e6, the
# same as with x - 5e6).
t28_check <- function(f, args, units = c("x1", "x2", "x3")) {
  d <- t28_data()
  ci <- t28_ci(d, f, "x", args)
  expect_true(all(is.finite(ci)))
  sc <- c(x1 = 1e-6, x2 = 1e-6, x3 = 1e6, x4 = 1)
  slope <- c(2L, which(rownames(ci) == "sd_x|g"))
  for (v in units) {
    cv <- t28_ci(d, f, v, args)
    expect_identical(dim(cv), dim(ci))
    expect_true(all(is.finite(cv)))
    expect_equal(unname(cv[slope, ]) * sc[[v]], unname(ci[slope, ]), tolerance = 1e-7)
    same <- if (v == "x2") -c(1L, slope, grep("(Intercept)|g", rownames(ci), fixed = TRUE))
            else -slope
    expect_equal(unname(cv[same, ]), unname(ci[same, ]), tolerance = 1e-7)
    if (v == "x2") {
      c4 <- t28_ci(d, f, "x4", args)
      at <- c(1L, grep("(Intercept)|g", rownames(ci), fixed = TRUE))
      expect_equal(unname(cv[at, ]), unname(c4[at, ]), tolerance = 1e-6)
    }
  }
  ci
}

test_that("one-factor and several-term LMM profiles with (x | g) in any units of x match lme4's", {
  c1 <- t28_check("yg ~ X + (X | g)", list(REML = FALSE))
  c2 <- t28_check("yg ~ X + (X | g) + (1 | h)", list(REML = FALSE))
  skip_if_not_installed("lme4")
  d <- t28_data()
  r1 <- suppressMessages(confint(lme4::lmer(yg ~ x + (x | g), d, REML = FALSE),
                                 method = "profile", oldNames = FALSE))
  expect_equal(c1[rownames(r1), ], r1, tolerance = 2e-5)
  r2 <- suppressMessages(confint(lme4::lmer(yg ~ x + (x | g) + (1 | h), d, REML = FALSE),
                                 method = "profile", oldNames = FALSE))
  expect_equal(c2[rownames(r2), ], r2, tolerance = 2e-5)
})

test_that("Laplace, AGHQ and sparse Laplace GLMM profiles with (x | g) do not depend on x's units", {
  t28_check("yb ~ X + (X | g)", list(family = binomial, nAGQ = 1))
  t28_check("yb ~ X + (X | g) + (1 | h)", list(family = binomial))
  # The far-off AGHQ fit stops about 1e-6 below the optimum
  # (logLik -751.4652359 against -751.4652349 at nAGQ = 5), which moves
  # its intervals in the 7th digit: only the scalings are checked here.
  t28_check("yb ~ X + (X | g)", list(family = binomial, nAGQ = 3), units = c("x1", "x3"))
})

test_that("the several-term GLMM profile with a variance at zero profiles the fixed effects", {
  # With h's variance at 0 the fit's covariance has no column for the
  # coefficient's lean, and profile_point() called the engine on theta of
  # length 1.
  d <- t28_data()
  fit <- suppressWarnings(glmm(yb ~ x1 + (x1 | g) + (1 | h), d[1:400, ], family = binomial))
  pr <- profile(fit, which = 1:2)
  ci <- confint(pr)
  expect_true(all(is.finite(ci)))
  f0 <- suppressWarnings(glmm(yb ~ x + (x | g) + (1 | h), d[1:400, ], family = binomial))
  expect_equal(unname(ci[2, ]) * 1e-6, unname(confint(profile(f0, which = 2))[1, ]),
               tolerance = 1e-6)
})

test_that("gee() without an intercept, a factor spanning the constant: x * 1e-6 - 5 fits as x does, and as geepack", {
  # Refused before ("'x2' is linearly dependent on the other columns"): the
  # centring of x2 needed a constant column.
  set.seed(285)
  n <- 300
  d <- data.frame(id = rep(1:60, each = 5), f = factor(sample(c("a", "b", "c"), n, TRUE)),
                  x = rnorm(n))
  d$y <- rbinom(n, 1, plogis(0.3 * d$x + c(a = -0.5, b = 0, c = 0.5)[d$f]))
  d$x2 <- d$x * 1e-6 - 5
  for (fm in list(y ~ 0 + f + X, y ~ 0 + X + f)) {
    g1 <- gee(as.formula(sub("X", "x", deparse(fm))), d, id = id, family = binomial,
              corstr = "exchangeable")
    g2 <- gee(as.formula(sub("X", "x2", deparse(fm))), d, id = id, family = binomial,
              corstr = "exchangeable")
    j <- match(c("x", "x2"), c(names(coef(g1)), names(coef(g2))))
    fs <- grep("^f", names(coef(g1)))
    b1 <- coef(g1)
    # x2 = x 1e-6 - 5: the slope times 1e6, each level's coefficient the
    # value at x = 5e6.
    expect_equal(unname(coef(g2)["x2"]) * 1e-6, unname(b1["x"]), tolerance = 1e-8)
    expect_equal(unname(coef(g2)[fs]), unname(b1[fs] + 5e6 * b1["x"]), tolerance = 1e-9)
    A <- diag(1, 4)
    A[fs, names(b1) == "x"] <- 5e6
    A[names(b1) == "x", names(b1) == "x"] <- 1e6
    expect_equal(unname(vcov(g2)), unname(A %*% vcov(g1) %*% t(A)), tolerance = 1e-7)
    expect_equal(g2$alpha, g1$alpha, tolerance = 1e-8)
    skip_if_not_installed("geepack")
    gp <- geepack::geeglm(as.formula(sub("X", "x", deparse(fm))), data = d, id = id,
                          family = binomial, corstr = "exchangeable",
                          control = geepack::geese.control(epsilon = 1e-12, maxit = 100))
    expect_equal(unname(b1), unname(coef(gp)), tolerance = 1e-7)
    expect_equal(unname(coef(g2)[fs]), unname(coef(gp)[fs] + 5e6 * coef(gp)["x"]),
                 tolerance = 1e-6)
    expect_equal(sqrt(diag(vcov(g1))), sqrt(diag(vcov(gp))), tolerance = 1e-5)
  }
})

t28_unid_data <- function() {
  set.seed(4)
  d <- expand.grid(time = factor(1:4), id = factor(1:50))
  d$site <- factor(sample(1:6, 50, TRUE))[d$id]
  d$x <- rnorm(nrow(d))
  b <- matrix(rnorm(200), 50) %*% chol(0.5 + 0.5 * diag(4))
  d$y <- 1 + 0.5 * d$x + b[cbind(as.integer(d$id), as.integer(d$time))] +
    rnorm(nrow(d), sd = 0.7)
  d
}

test_that("(0 + time | id) with one observation per id and time: residual not identified, flagged and recorded", {
  # Fitted with no warning before (lme4 refuses the model: observations
  # <= random effects).
  d <- t28_unid_data()
  for (fm in list(y ~ x + (0 + time | id), y ~ x + (0 + time | id) + (1 | site))) {
    w <- character()
    f <- withCallingHandlers(glmm(fm, d), warning = function(e) {
      w <<- c(w, conditionMessage(e))
      invokeRestart("muffleWarning")
    })
    expect_true(any(grepl("the residual variance is not identifiable", w, fixed = TRUE)))
    expect_true(any(grepl("(0 + time | id)", w, fixed = TRUE)))
    expect_true(isTRUE(f$optinfo$residual_unidentified))
    expect_true(any(grepl("residual variance is not identifiable", f$optinfo$warnings)))
    p <- length(fixef(f))
    expect_true(all(is.na(f$cov_theta[-seq_len(p), ])))
    expect_true(all(is.finite(sqrt(diag(vcov(f))))))
    skip_if_not_installed("glmmTMB")
    tm <- suppressWarnings(glmmTMB::glmmTMB(fm, d))
    # The identified part: the likelihood (glmmTMB's logLik() is NA with
    # its non-positive-definite Hessian: its objective at the optimum), the
    # fixed effects, and each time's variance plus the residual's.
    expect_equal(as.numeric(logLik(f)), -tm$fit$objective, tolerance = 1e-6)
    expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-4)
    D <- VarCorr(f)$id
    Dt <- glmmTMB::VarCorr(tm)$cond$id
    expect_equal(unname(diag(as.matrix(D))) + sigma(f)^2, unname(diag(Dt)) + sigma(tm)^2,
                 tolerance = 1e-4)
  }
  # Not flagged: two observations in one cell, or a random intercept.
  d2 <- rbind(d, transform(d[1, ], y = d$y[1] + 0.3))
  expect_null(suppressWarnings(glmm(y ~ x + (0 + time | id), d2))$optinfo$residual_unidentified)
  expect_null(glmm(y ~ x + (1 | id), d)$optinfo$residual_unidentified)
})
