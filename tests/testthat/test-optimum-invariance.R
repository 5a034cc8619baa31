# The cases of "No silent wrong optimum", each a test: random slopes over
# uncentred time, a correlated -1/+1 slope, a cloglog random slope at
# default settings and in other units, quasi-complete separation by a
# cluster-level covariate, clusters that are all 0 or all 1; plus what the
# fit records about the optimum (boundary verification, iteration limits).

# The value of expr and every warning it gave.
with_warnings <- function(expr) {
  w <- character()
  val <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}

test_that("(1 + time | g) over uncentred time reaches glmer's optimum or higher (Laplace, 10 seeds each)", {
  skip_if_not_installed("lme4")
  for (fam in c("poisson", "binomial")) for (seed in 1:10) {
    d <- sim_slopes(100 + seed, fam, T = 7L, M = 40L)
    form <- y ~ time + pm + (1 + time | g)
    ours <- suppressWarnings(glmm(form, d, family = fam, nAGQ = 1))
    gm <- quiet(glmer_ref(form, d, family = fam))
    skip_if(is.null(gm))
    expect_gte(loglik_value(ours), loglik_value(gm) - 1e-4, label = sprintf("%s seed %d: ours %.5f, glmer %.5f",
                                                          fam, seed, loglik_value(ours), loglik_value(gm)))
    # A zero variance is reported only once verified.
    if (ours$singular) expect_true(ours$optinfo$boundary_check$verified)
  }
})

test_that("the default AGHQ fit of (1 + time | g) is at least GLMMadaptive's optimum (poisson, 10 seeds)", {
  skip_if_not_installed("GLMMadaptive")
  for (seed in 1:10) {
    d <- sim_slopes(200 + seed, "poisson", T = 7L, M = 40L)
    ours <- suppressWarnings(glmm(y ~ time + pm + (1 + time | g), d, family = poisson))
    expect_identical(ours$nAGQ, 7L)
    best <- peer_best(y ~ time + pm + (1 + time | g), d, "poisson", "log", ours$nAGQ, ours)
    expect_gte(loglik_value(ours), best - 1e-4, label = sprintf("seed %d", seed))
  }
})

test_that("a correlated slope of a -1/+1 covariate reaches glmer's and glmmTMB's optimum", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("glmmTMB")
  for (seed in 1:10) for (fam in c("binomial", "poisson")) {
    d <- sim_slopes(300 + seed, fam, T = 5L, M = 40L, slope = "pm")
    form <- y ~ time + pm + (1 + pm | g)
    ours <- suppressWarnings(glmm(form, d, family = fam, nAGQ = 1))
    best <- peer_best(form, d, fam, if (fam == "binomial") "logit" else "log", 1L, ours)
    expect_gte(loglik_value(ours), best - 1e-4, label = sprintf("%s seed %d", fam, seed))
    expect_identical(ours$optinfo$convergence, 0L)
  }
})

cloglog_data <- function(seed, mult = 1) {
  set.seed(seed)
  M <- 50; ni <- 6
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  b0 <- rnorm(M, 0, 0.7); b1 <- rnorm(M, 0, 0.5)
  y <- rbinom(M * ni, 1, 1 - exp(-exp(-0.5 + 0.5 * x + b0[g] + b1[g] * x)))
  data.frame(y = y, g = factor(g), x = x * mult)
}

test_that("a cloglog random slope at default settings reaches glmmTMB's optimum and converges", {
  skip_if_not_installed("glmmTMB")
  for (seed in 1:6) {
    d <- cloglog_data(seed)
    ours <- suppressWarnings(glmm(y ~ x + (x | g), d, family = binomial("cloglog"), nAGQ = 1))
    tmb <- quiet(glmmTMB::glmmTMB(y ~ x + (x | g), d, family = binomial("cloglog")))
    # glmmTMB stops with "singular convergence (7)" on seed 2, and once in a
    # whole-suite run its log-likelihood came back NA: no reference for that
    # seed (our own convergence is still checked).
    if (!is.null(tmb) && is.finite(loglik_value(tmb)))
      expect_gte(loglik_value(ours), loglik_value(tmb) - 1e-4, label = sprintf("seed %d", seed))
    expect_identical(ours$optinfo$convergence, 0L)
    expect_false(any(grepl("did not converge|doubtful", ours$optinfo$warnings)))
  }
})

test_that("covariates in other units (x 1e3, x 1e4) give the same optimum and scaled standard errors", {
  for (engine in c("one factor", "sparse")) for (seed in 1:3) {
    d <- cloglog_data(seed)
    d$h <- factor(rep(1:6, length.out = nrow(d)))
    form <- if (engine == "sparse") y ~ x + (x | g) + (1 | h) else y ~ x + (x | g)
    f1 <- suppressWarnings(glmm(form, d, family = binomial("cloglog"), nAGQ = 1))
    for (mult in c(1e3, 1e4)) {
      dm <- d
      dm$x <- d$x * mult
      fm <- suppressWarnings(glmm(form, dm, family = binomial("cloglog"), nAGQ = 1))
      expect_true(is.finite(loglik_value(fm)))
      expect_lt(abs(loglik_value(fm) - loglik_value(f1)), 1e-6, label = sprintf("%s seed %d x %g", engine, seed, mult))
      expect_equal(unname(fixef(fm)) * c(1, mult), unname(fixef(f1)), tolerance = 1e-5)
      se1 <- sqrt(diag(vcov(f1)))
      sem <- sqrt(diag(vcov(fm))) * c(1, mult)
      expect_equal(unname(sem), unname(se1), tolerance = 1e-4)
    }
  }
})

test_that("the AGHQ log-likelihood with random slopes does not depend on centring or units", {
  for (fam in c("binomial", "poisson")) {
    d <- sim_slopes(7, fam, T = 12L, M = 40L, q = 3L)
    form <- y ~ time + pm + x + (1 + time + x | g)
    f1 <- suppressWarnings(glmm(form, d, family = fam))
    f2 <- suppressWarnings(glmm(form, rescale_slopes(d, 1e4), family = fam))
    expect_lt(abs(loglik_value(f1) - loglik_value(f2)), 1e-6)
    # The same covariance of the random effects, mapped to the other coding.
    expect_equal(f1$D[3, 3], f2$D[3, 3] * 1e8, tolerance = 1e-4)
  }
})

test_that("quasi-complete separation by a cluster-level covariate at the default nAGQ is a warning, not an error", {
  set.seed(2)
  M <- 40; ni <- 8
  g <- rep(seq_len(M), each = ni)
  trt <- rep(rep(0:1, each = M / 2), each = ni)
  y <- rbinom(M * ni, 1, plogis(-0.5 + rnorm(M)[g]))
  y[trt == 1] <- 1  # no failures among the treated
  d <- data.frame(y = y, g = factor(g), trt = trt)
  r <- with_warnings(glmm(y ~ trt + (1 | g), d, family = binomial))
  f <- r$value
  expect_true(any(grepl("separation", r$warnings)))
  expect_true(f$separation$separated)
  expect_identical(f$separation$terms, "trt")
  expect_true(any(grepl("separation", f$optinfo$warnings)))
})

test_that("clusters that are all 0 or all 1 are named: the variance has no finite maximum", {
  set.seed(3)
  M <- 40
  g <- rep(seq_len(M), each = 6)
  d <- data.frame(y = rep(rbinom(M, 1, 0.5), each = 6), g = factor(g), x = rnorm(M * 6))
  r <- with_warnings(glmm(y ~ x + (1 | g), d, family = binomial))
  expect_true(any(grepl("no finite maximum", r$warnings)))
  expect_true(any(grepl("no finite maximum", r$value$optinfo$warnings)))
  d$h <- factor(rep(1:5, length.out = nrow(d)))
  r <- with_warnings(glmm(y ~ x + (1 | g) + (1 | h), d, family = binomial))
  expect_true(any(grepl("variance of 'g' has no finite maximum", r$warnings)))
  expect_true(any(grepl("no finite maximum", r$value$optinfo$warnings)))
})

test_that("the pure-cluster check agrees with its definition, weights and proportions included", {
  # Every cluster with rows of positive weight all y <= 0 or all y >= 1.
  pure_ref <- function(y, w, g) {
    k <- w > 0
    all(tapply(y[k], g[k], function(v) all(v <= 0) || all(v >= 1)))
  }
  set.seed(5)
  seen <- c(0L, 0L)
  for (r in 1:200) {
    M <- sample(2:8, 1)
    g <- sample(M, sample(M:30, 1), TRUE)
    y <- rep(rbinom(M, 1, 0.5), length.out = M)[g]
    if (r %% 3 == 0) y[sample(length(y), 1)] <- sample(c(0, 1, 0.5), 1)
    w <- sample(c(0, 1, 2), length(y), TRUE, prob = c(0.2, 0.6, 0.2))
    if (!any(w > 0)) next
    got <- glmmgee:::cpp_clusters_all_pure(as.numeric(y), as.numeric(w), g, max(g))
    expect_identical(got, pure_ref(y, w, g), info = r)
    seen[got + 1L] <- seen[got + 1L] + 1L
  }
  expect_true(all(seen > 0L))
  # Empty weights: all 1.
  expect_identical(glmmgee:::cpp_clusters_all_pure(c(0, 0, 1, 1), numeric(0), c(1L, 1L, 2L, 2L), 2L),
                   TRUE)
  expect_identical(glmmgee:::cpp_clusters_all_pure(c(0, 1, 1, 1), numeric(0), c(1L, 1L, 2L, 2L), 2L),
                   FALSE)
  expect_error(glmmgee:::cpp_clusters_all_pure(c(0, 1), 1, 1:2, 2L), "same length")
  expect_error(glmmgee:::cpp_clusters_all_pure(c(0, 1), c(1, 1), c(1L, 3L), 2L), "out of 1..2")
})

test_that("a boundary optimum is verified and says so in $optinfo and print()", {
  set.seed(4)
  M <- 40; ni <- 6
  d <- data.frame(g = factor(rep(seq_len(M), each = ni)), x = rnorm(M * ni))
  # Counts closer to their means than Poisson counts: no room for a
  # between-cluster variance, whose maximum is then at zero.
  d$y <- round(exp(0.3 + 0.4 * d$x))
  f <- suppressWarnings(glmm(y ~ x + (1 | g), d, family = poisson))
  expect_true(f$singular)
  bc <- f$optinfo$boundary_check
  expect_true(bc$performed)
  expect_true(bc$verified)
  expect_gte(bc$restarts, 1L)
  expect_true(all(bc$loglik_restarts <= loglik_value(f) + 1e-6))
  expect_output(print(f), "verified")
  fs <- suppressWarnings(glmm(y ~ x + (1 | g), d, family = poisson, nAGQ = 1))
  d$h <- factor(rep(1:5, length.out = nrow(d)))
  fsp <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), d, family = poisson))
  expect_true(fsp$optinfo$boundary_check$performed)
  expect_true(fsp$optinfo$boundary_check$verified)
})

test_that("a fit stopped by an iteration limit says so", {
  d <- cloglog_data(1)
  r <- with_warnings(glmm(y ~ x + (x | g), d, family = binomial("cloglog"), nAGQ = 1,
                          control = glmm_control(iter.max = 1, hessian = FALSE)))
  f <- r$value
  expect_true(any(grepl("did not converge.*limit", r$warnings)))
  expect_output(print(f), "did not converge")
  expect_false(f$optinfo$convergence == 0L)
  expect_match(f$optinfo$message, "limit")
})
