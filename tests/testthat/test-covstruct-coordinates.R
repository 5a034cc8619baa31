# Covariance structures over coordinates: ou() on unequally spaced times,
# exp(), gau() and mat() on positions (numFactor()), against glmmTMB's
# structures of the same names; exp(x) in the fixed part stays the
# exponential.

ou_data <- function(M = 150, seed = 11) {
  set.seed(seed)
  tt <- c(0, 1, 2.5, 3, 5)
  d <- expand.grid(r = 1:2, ti = seq_along(tt), g = factor(seq_len(M)))
  d$t <- tt[d$ti]
  d$times <- numFactor(d$t)
  b <- MASS::mvrnorm(M, rep(0, 5), 0.9 * exp(-0.4 * abs(outer(tt, tt, "-"))))
  d$x <- rnorm(nrow(d))
  eta <- 0.2 + 0.4 * d$x + b[cbind(as.integer(d$g), d$ti)]
  d$yp <- rpois(nrow(d), exp(eta))
  d$yg <- eta + rnorm(nrow(d), sd = 0.6)
  d
}

spatial_data <- function(n = 120, seed = 3) {
  set.seed(seed)
  xy <- cbind(runif(n, 0, 10), runif(n, 0, 10))
  u <- drop(t(chol(0.8 * exp(-as.matrix(stats::dist(xy)) / 2))) %*% rnorm(n))
  d <- data.frame(pos = numFactor(xy[, 1], xy[, 2]), field = factor(1), cov = rnorm(n))
  d$yp <- rpois(n, exp(0.5 + 0.3 * d$cov + u))
  d$yg <- 1 + 0.3 * d$cov + u + rnorm(n, sd = 0.3)
  d
}

expect_as_tmb <- function(ours, tmb, label, tol = 1e-6) {
  expect_gte(loglik_value(ours), loglik_value(tmb) - tol, label = label)
  if (loglik_value(ours) < loglik_value(tmb) + 1e-4)
    expect_equal(fixef(ours), fixef(tmb)$cond, tolerance = 1e-3, label = label)
}

test_that("numFactor() writes glmmTMB's labels and the coordinates are read back", {
  pos <- numFactor(c(2, 1, 2), c(0, 0.5, 1.5))
  expect_identical(levels(pos), c("(2,0)", "(1,0.5)", "(2,1.5)"))
  expect_identical(as.character(pos), c("(2,0)", "(1,0.5)", "(2,1.5)"))
  expect_equal(glmmgee:::parse_coordinates(levels(pos)), rbind(c(2, 0), c(1, 0.5), c(2, 1.5)))
  expect_equal(glmmgee:::parse_coordinates(c("1", "2.5")), matrix(c(1, 2.5)))
  expect_null(glmmgee:::parse_coordinates(c("a", "b")))
  expect_identical(levels(numFactor(cbind(c(1, 1), c(2, 3)))), c("(1,2)", "(1,3)"))
  expect_error(numFactor("a"), "must be numeric")
  expect_error(numFactor(1:2, 1:3), "same length")
  skip_if_not_installed("glmmTMB")
  expect_identical(levels(numFactor(c(2, 1, 2), c(0, 0.5, 1.5))),
                   levels(glmmTMB::numFactor(c(2, 1, 2), c(0, 0.5, 1.5))))
})

test_that("the distance structures' derivatives are exact (Matern's smoothness to 1e-6)", {
  xy <- cbind(c(0, 1, 2.5, 0.3), c(0, 0.2, 1, 2))
  for (k in c("ou", "exp", "gau", "mat")) {
    coords <- if (k == "ou") xy[, 1, drop = FALSE] else xy
    s <- glmmgee:::covstruct(k, 4L, coords)
    par <- c(0.2, -0.3, if (k == "mat") 0.4)
    dn <- lapply(seq_along(par), function(j) {
      h <- 1e-5
      (s$D(replace(par, j, par[j] + h)) - s$D(replace(par, j, par[j] - h))) / (2 * h)
    })
    for (j in seq_along(par)) expect_equal(s$dD(par)[[j]], dn[[j]], tolerance = 1e-6, label = paste(k, j))
  }
  # the Matern correlation of smoothness 1/2 is the exponential one
  u <- as.matrix(stats::dist(xy))
  expect_equal(glmmgee:::matern_correlation(u, 0.5), unname(exp(-u)), tolerance = 1e-12)
})

test_that("ou() on unequally spaced times matches glmmTMB, and equals ar1() on equal steps", {
  skip_if_not_installed("glmmTMB")
  d <- ou_data()
  for (fam in c("poisson", "gaussian")) {
    f <- if (fam == "poisson") yp ~ x + ou(0 + times | g) else yg ~ x + ou(0 + times | g)
    ours <- glmm(f, d, family = fam, nAGQ = 1)
    expect_as_tmb(ours, glmmTMB::glmmTMB(f, d, family = fam), paste("ou", fam))
  }
  expect_named(ours$structures[[1]]$extra, "theta")
  # times 1..5: ou() is ar1() with rho = exp(-theta) > 0
  d$steps <- numFactor(d$ti)
  d$stepf <- factor(d$ti)
  fo <- glmm(yp ~ x + ou(0 + steps | g), d, family = poisson, nAGQ = 1)
  fa <- glmm(yp ~ x + ar1(0 + stepf | g), d, family = poisson, nAGQ = 1)
  expect_equal(loglik_value(fo), loglik_value(fa), tolerance = 1e-6)
  expect_equal(unname(exp(-fo$structures[[1]]$extra)), fa$structures[[1]]$rho, tolerance = 1e-4)
  # factor() of numeric times serves as well as numFactor()
  expect_equal(loglik_value(glmm(yp ~ x + ou(0 + stepf | g), d, family = poisson, nAGQ = 1)),
               loglik_value(fo), tolerance = 1e-8)
})

test_that("exp(), gau() and mat() fit one spatial field as glmmTMB does", {
  skip_if_not_installed("glmmTMB")
  d <- spatial_data()
  for (k in c("exp", "gau", "mat")) for (fam in c("gaussian", "poisson")) {
    f <- stats::as.formula(sprintf("%s ~ cov + %s(0 + pos | field)", if (fam == "poisson") "yp" else "yg", k))
    ours <- glmm(f, d, family = fam)
    # The Gaussian kernel's correlation matrix is ill conditioned: both
    # searches stop within a few 1e-6 of each other there (ours at a
    # scaled gradient of 2e-6).
    expect_as_tmb(ours, suppressWarnings(glmmTMB::glmmTMB(f, d, family = fam)), paste(k, fam),
                  tol = if (k == "gau") 1e-5 else 1e-6)
    expect_true(all(ours$structures[[1]]$extra > 0))
  }
  expect_named(ours$structures[[1]]$extra, c("range", "kappa"))
  expect_output(print(ours), "Matern: correlation of smoothness kappa")
  # the field beside a second grouping factor (the sparse engine), whose
  # variance is estimated near zero: the same log-likelihood or above
  d$blk <- factor(rep(1:3, length.out = nrow(d)))
  one <- glmm(yp ~ cov + exp(0 + pos | field), d, family = poisson)
  two <- suppressWarnings(glmm(yp ~ cov + exp(0 + pos | field) + (1 | blk), d, family = poisson))
  expect_s3_class(two, "glmmgee_glmm_sparse")
  expect_gte(loglik_value(two), loglik_value(one) - 1e-6)
})

test_that("mat() over a few positions per group fits where its derivatives overflow far out", {
  # 30 groups over 4 uneven times: the search passes through ranges and
  # smoothness where the Matern correlation's derivatives are not finite
  # (the Bessel functions'), which stopped the fit with "the directions
  # must be finite" (glmmTMB 1.1.15 stops with "NA/NaN gradient evaluation")
  pd <- panel_data(5, 30, 4L, 6L, 0.4)
  d <- pd$d
  d$tt <- numFactor(c(0, 1, 2.5, 4)[d$t])
  d$y <- rpois(nrow(d), exp(0.3 + 0.4 * d$x + pd$u[cbind(d$t, as.integer(d$g))]))
  fm <- suppressWarnings(glmm(y ~ x + mat(0 + tt | g), data = d, family = poisson, nAGQ = 1))
  fe <- glmm(y ~ x + exp(0 + tt | g), data = d, family = poisson, nAGQ = 1)
  expect_true(is.finite(logLik(fm)))
  # the Matern family holds the exponential (smoothness 1/2)
  expect_gte(as.numeric(logLik(fm)), as.numeric(logLik(fe)) - 1e-6)
})

test_that("mat()'s smoothness far out is a point to back off from, never a crash", {
  # besselK() of an order near 2^31 crashed R ("memory not mapped"): a beta
  # model with mat() in its dispersion formula sent the smoothness there
  expect_error(glmmgee:::matern_correlation(matrix(c(0, 1, 1, 0), 2), 1e12), "beyond 1e3")
  expect_error(glmmgee:::matern_dlogrange(matrix(c(0, 1, 1, 0), 2), Inf), "beyond 1e3")
  m <- grammar_structure_draw(7)
  expect_identical(m$structure, "mat(0 + tt | g)")
  expect_identical(m$part, "disp")
  d <- grammar_data(m)
  g <- grammar_model(m)
  f <- suppressWarnings(glmm(g$formula, dispformula = g$dispformula, data = d,
                             family = grammar_family(m$family), nAGQ = 1))
  # (the range runs to its limit, where every correlation is 1: the
  # dispersion's random intercept, a singular fit)
  expect_true(is.finite(logLik(f)))
  expect_match(f$optinfo$warnings, "^singular fit", all = FALSE)
})

test_that("the spatial range's profile interval: the likelihood written out is the cutoff below at each limit", {
  d <- spatial_data(n = 60, seed = 8)
  d$blk <- factor(rep(1:4, length.out = nrow(d)))
  d$yb <- d$yg + c(-0.6, 0.1, 0.5, -0.2)[d$blk]
  D <- as.matrix(stats::dist(glmmgee:::parse_coordinates(levels(d$pos))))
  X <- cbind(1, d$cov)
  B <- outer(d$blk, levels(d$blk), "==") * 1
  # The maximum over everything but the range, of the gaussian likelihood
  # of the field (plus blocks, on the sparse route) written out.
  held <- function(range, start, blocks) {
    nll <- function(q) {
      V <- exp(2 * q[3]) * exp(-D / range) + diag(exp(2 * q[4]), nrow(d)) +
        if (blocks) exp(2 * q[5]) * tcrossprod(B) else 0
      ll <- tryCatch(gaussian_log_density(if (blocks) d$yb else d$yg, drop(X %*% q[1:2]), V),
                     error = function(e) -Inf)
      if (is.finite(ll)) -ll else 1e10
    }
    -stats::optim(start, nll, method = "BFGS", control = list(reltol = 1e-12, maxit = 500))$value
  }
  for (blocks in c(FALSE, TRUE)) {
    f <- glmm(if (blocks) yb ~ cov + exp(0 + pos | field) + (1 | blk)
              else yg ~ cov + exp(0 + pos | field), d)
    expect_s3_class(f, "glmmgee_glmm_covstruct")
    lab <- "exp(0 + pos | field): range"
    ci <- confint(f, parm = lab, method = "profile")
    expect_identical(rownames(ci), lab)
    rg <- f$structures[[1]]$extra[["range"]]
    expect_true(ci[1] < rg && rg < ci[2])
    start <- c(fixef(f), log(f$structures[[1]]$sd[1]), log(sigma(f)),
               if (blocks) log(0.4))
    for (r in ci) expect_equal(2 * (loglik_value(f) - held(r, start, blocks)), stats::qchisq(0.95, 1),
                               tolerance = 2e-3, label = sprintf("range held at %g (blocks %s)", r, blocks))
  }
  # every parameter: fixed effects, the field's sd and range, sigma
  pr <- profile(glmm(yg ~ cov + exp(0 + pos | field), d))
  expect_identical(levels(pr$parameter), c("(Intercept)", "cov", "exp(0 + pos | field): sd",
                                           "exp(0 + pos | field): range", "sigma"))
  expect_true(all(is.finite(confint(pr))))
})

test_that("exp(x) in the fixed part is the exponential, with or without a structure", {
  d <- ou_data(M = 60)
  d$ex <- exp(d$x / 3)
  a <- glmm(yg ~ exp(x / 3) + ou(0 + times | g), d)
  b <- glmm(yg ~ ex + ou(0 + times | g), d)
  expect_equal(loglik_value(a), loglik_value(b), tolerance = 1e-10)
  expect_identical(names(fixef(a)), c("(Intercept)", "exp(x/3)"))
  p <- glmm(yp ~ exp(x / 3) + (1 | g), d, family = poisson)
  q <- glmm(yp ~ ex + (1 | g), d, family = poisson)
  expect_equal(unname(fixef(p)), unname(fixef(q)), tolerance = 1e-10)
  expect_false(glmmgee:::has_covstruct(y ~ exp(x) + (1 | g)))
  expect_true(glmmgee:::has_covstruct(y ~ exp(x) + exp(0 + pos | g)))
})

test_that("structures over coordinates refuse terms without coordinates, naming them", {
  d <- ou_data(M = 30)
  d$tf <- factor(c("a", "b", "c", "d", "e")[d$ti])
  expect_error(glmm(yp ~ ou(0 + tf | g), d, family = poisson), "levels of 'tf' are not coordinates")
  expect_error(glmm(yp ~ exp(1 + times | g), d, family = poisson), "one factor without intercept")
  d$pos <- numFactor(d$t, d$x)
  expect_error(glmm(yp ~ ou(0 + pos | g), d, family = poisson), "one time coordinate")
  # one group is refused for unstructured terms, as before
  d$one <- factor(1)
  expect_error(glmm(yp ~ (1 | one), d, family = poisson), "at least two groups")
})
