# Toeplitz structures (toep(), homtoep()) and the heterogeneous AR(1)
# (hetar1()): the partial-autocorrelation scale, fits against glmmTMB's
# toep() (homtoep() as toep() with its standard deviations mapped equal) and
# against the gaussian likelihood written out (helper-gaussian-density.R),
# on one grouping factor and beside another.

toeplitz_data <- function(M = 120, reps = 3, seed = 5) {
  set.seed(seed)
  d <- expand.grid(r = seq_len(reps), time = factor(1:4), g = factor(seq_len(M)))
  d$x <- rnorm(nrow(d))
  S <- c(1, 0.8, 1.2, 0.9)
  D <- outer(S, S) * stats::toeplitz(c(1, 0.6, 0.3, 0.2))
  b <- MASS::mvrnorm(M, rep(0, 4), D)
  eta <- -0.3 + 0.5 * d$x + b[cbind(as.integer(d$g), as.integer(d$time))]
  d$y <- rbinom(nrow(d), 1, plogis(eta))
  d$yp <- rpois(nrow(d), exp(eta))
  d$yg <- eta + rnorm(nrow(d), sd = 0.5)
  d$site <- factor(sample(10, nrow(d), TRUE))
  d
}

test_that("partial autocorrelations give positive definite Toeplitz correlations, with an exact Jacobian", {
  set.seed(3)
  for (m in 1:6) {
    t <- rnorm(m, sd = 2)
    tp <- glmmgee:::toeplitz_pacf(t)
    R <- stats::toeplitz(c(1, tp$r))
    expect_gt(min(eigen(R, symmetric = TRUE, only.values = TRUE)$values), 0)
    # The partial autocorrelations of R (Durbin-Levinson run backwards by
    # solving the Yule-Walker systems) are the ones put in.
    phi <- vapply(seq_len(m), function(k) {
      if (k == 1L) return(tp$r[1L])
      solve(R[seq_len(k), seq_len(k)], tp$r[seq_len(k)])[k]
    }, 1)
    expect_equal(phi, t / sqrt(1 + t^2), tolerance = 1e-10)
    Jn <- vapply(seq_len(m), function(k) {
      h <- 1e-6
      (glmmgee:::toeplitz_pacf(replace(t, k, t[k] + h))$r -
         glmmgee:::toeplitz_pacf(replace(t, k, t[k] - h))$r) / (2 * h)
    }, numeric(m))
    expect_equal(tp$dr, matrix(Jn, m), tolerance = 1e-7)
  }
  # An AR(1) has partial autocorrelations (rho, 0, 0, ...).
  t1 <- 0.6 / sqrt(1 - 0.36)
  expect_equal(glmmgee:::toeplitz_pacf(c(t1, 0, 0))$r, 0.6^(1:3), tolerance = 1e-12)
})

test_that("toep() matches glmmTMB's toep() on one grouping factor and beside another", {
  skip_if_not_installed("glmmTMB")
  d <- toeplitz_data()
  cases <- list(
    list(y ~ x + toep(0 + time | g), binomial(), 1L),
    list(yp ~ x + toep(0 + time | g), poisson(), 1L),
    list(yg ~ x + toep(0 + time | g), gaussian(), 1L),
    list(yp ~ x + toep(0 + time | g) + (1 | site), poisson(), 1L),
    list(yg ~ x + toep(0 + time | g) + (1 | site), gaussian(), 1L))
  for (cs in cases) {
    lab <- paste(deparse(cs[[1]]), cs[[2]]$family)
    ours <- suppressWarnings(glmm(cs[[1]], d, family = cs[[2]], nAGQ = cs[[3]]))
    tmb <- suppressWarnings(glmmTMB::glmmTMB(cs[[1]], d, family = cs[[2]]))
    expect_gte(loglik_value(ours), tmb_loglik(tmb) - 1e-6, label = lab)
    # The same estimates, or a higher log-likelihood (the binomial fit, where
    # glmmTMB stops 0.096 below with a non-positive-definite Hessian).
    if (loglik_value(ours) < tmb_loglik(tmb) + 1e-4) {
      expect_equal(fixef(ours), fixef(tmb)$cond, tolerance = 1e-3, label = lab)
      expect_equal(unname(VarCorr(ours)$g), unname(VarCorr(tmb)$cond$g[, ]), tolerance = 2e-3,
                   ignore_attr = TRUE, label = lab)
    }
  }
  ours <- glmm(yp ~ x + toep(0 + time | g), d, family = poisson, nAGQ = 1)
  expect_identical(ours$structures[[1]]$kind, "toep")
  expect_length(ours$structures[[1]]$rho, 3L)
  # the lag correlations are those of the implied covariance matrix
  V <- VarCorr(ours)$g
  R <- stats::cov2cor(V[, ])
  expect_equal(unname(R[1, -1]), ours$structures[[1]]$rho, tolerance = 1e-8)
  expect_equal(unname(R[cbind(2:4, 1:3)]), rep(ours$structures[[1]]$rho[1], 3), tolerance = 1e-8)
  expect_true(all(is.finite(ours$structures[[1]]$se)))
})

test_that("homtoep() is glmmTMB's toep() with its standard deviations mapped equal", {
  skip_if_not_installed("glmmTMB")
  d <- toeplitz_data()
  ours <- glmm(yp ~ x + homtoep(0 + time | g), d, family = poisson, nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(yp ~ x + toep(0 + time | g), d, family = poisson,
                          map = list(theta = factor(c(1, 1, 1, 1, 2, 3, 4))))
  expect_gte(loglik_value(ours), loglik_value(tmb) - 1e-6)
  expect_equal(fixef(ours), fixef(tmb)$cond, tolerance = 1e-3)
  expect_equal(ours$structures[[1]]$rho, unname(stats::cov2cor(VarCorr(tmb)$cond$g[, ])[1, -1]),
               tolerance = 1e-3)
  expect_length(unique(ours$structures[[1]]$sd), 1L)
  # lme4's spelling: toep(hom = TRUE)
  expect_equal(loglik_value(glmm(yp ~ x + toep(0 + time | g, hom = TRUE), d, family = poisson, nAGQ = 1)),
               loglik_value(ours), tolerance = 1e-10)
})

test_that("hetar1() maximizes the gaussian likelihood written out, and sits between ar1() and toep()", {
  d <- toeplitz_data(M = 60)
  h <- glmm(yg ~ x + hetar1(0 + time | g), d)
  X <- stats::model.matrix(~ x, d)
  lag <- abs(outer(1:4, 1:4, "-"))
  rows <- split(seq_len(nrow(d)), d$g)
  Zs <- lapply(rows, function(r) stats::model.matrix(~ 0 + time, d[r, ]))
  loglik <- function(p) {
    s <- exp(p[3:6])
    D <- outer(s, s) * tanh(p[7])^lag
    sum(vapply(seq_along(rows), function(i) {
      r <- rows[[i]]
      gaussian_log_density(d$yg[r], drop(X[r, ] %*% p[1:2]),
                           Zs[[i]] %*% D %*% t(Zs[[i]]) + diag(exp(2 * p[8]), length(r)))
    }, 1))
  }
  s <- h$structures[[1]]
  p0 <- c(fixef(h), log(s$sd), atanh(s$rho), log(sigma(h)))
  expect_equal(loglik(p0), loglik_value(h), tolerance = 1e-8)
  o <- stats::optim(p0, loglik, method = "BFGS", control = list(fnscale = -1, reltol = 1e-12))
  expect_lte(o$value, loglik_value(h) + 1e-6)
  # ar1() is hetar1() with equal standard deviations, hetar1() toep() with
  # partial autocorrelations (rho, 0, 0): nested log-likelihoods.
  d$y2 <- d$yp
  f <- lapply(c(ar1 = "ar1", hetar1 = "hetar1", toep = "toep"), function(k)
    glmm(stats::as.formula(sprintf("yp ~ x + %s(0 + time | g)", k)), d, family = poisson, nAGQ = 1))
  ll <- vapply(f, loglik_value, 1)
  expect_true(ll[["ar1"]] <= ll[["hetar1"]] + 1e-6 && ll[["hetar1"]] <= ll[["toep"]] + 1e-6)
  # lme4's spelling: ar1(hom = FALSE)
  expect_equal(loglik_value(glmm(yp ~ x + ar1(0 + time | g, hom = FALSE), d, family = poisson, nAGQ = 1)),
               ll[["hetar1"]], tolerance = 1e-10)
})

test_that("with two columns toep() and hetar1() are the unstructured term, by quadrature too", {
  d <- toeplitz_data(M = 80)
  d2 <- d[d$time %in% c("1", "2"), ]
  d2$time <- droplevels(d2$time)
  us <- glmm(yp ~ x + (0 + time | g), d2, family = poisson, nAGQ = 5)
  for (k in c("toep", "hetar1"))
    expect_equal(loglik_value(glmm(stats::as.formula(sprintf("yp ~ x + %s(0 + time | g)", k)), d2,
                                   family = poisson, nAGQ = 5)),
                 loglik_value(us), tolerance = 1e-6, label = k)
})

test_that("the Toeplitz structures work with the fit's methods and refuse what they cannot fit", {
  d <- toeplitz_data(M = 60)
  f <- glmm(y ~ x + toep(0 + time | g), d, family = binomial)
  expect_s3_class(f, "glmmgee_glmm")
  expect_output(print(f), "Toeplitz: one correlation per lag")
  expect_equal(dim(ranef(f)$g), c(60L, 4L))
  expect_length(predict(f, type = "response"), nrow(d))
  expect_equal(nrow(confint(f, method = "Wald", parm = "beta_")), 2L)
  a1 <- glmm(y ~ x + ar1(0 + time | g), d, family = binomial)
  av <- anova(a1, f)
  expect_equal(av$npar, c(4, 9))
  expect_equal(av$Df[2], 5)
  expect_true(all(is.finite(sqrt(diag(vcov(f, type = "CR2"))))))
  s <- simulate(f, nsim = 2, seed = 1)
  expect_equal(dim(s), c(nrow(d), 2L))
  expect_error(glmm(y ~ toep(0 + x | g), d, family = binomial), "at least two columns")
  d$tchr <- c("1", "2", "10", "20")[as.integer(d$time)]
  expect_error(glmm(y ~ hetar1(0 + tchr | g), d, family = binomial), "'tchr' is a character column")
  expect_error(glmm(y ~ homtoep(0 + time | g, het = TRUE), d, family = binomial),
               "homtoep\\(\\) takes no argument 'het'")
})
