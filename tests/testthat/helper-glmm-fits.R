# Shared fixtures for the GLMM reference tests: simulated data sets, fits
# that several tests use (computed once per session, on first use), an engine
# for evaluating our log-likelihood at other packages' estimates, and an
# independent R implementation of the Laplace / AGHQ likelihood for one
# random intercept.

glmm_cache <- new.env(parent = emptyenv())

# Computes `expr` once per test session under `key`.
cached <- function(key, expr) {
  if (!exists(key, envir = glmm_cache, inherits = FALSE))
    assign(key, expr, envir = glmm_cache)
  get(key, envir = glmm_cache, inherits = FALSE)
}

# Longitudinal binary data with a correlated random intercept and slope.
sim_binary_q2 <- function() {
  cached("sim_binary_q2", {
    set.seed(7)
    M <- 300; ni <- 6
    id <- rep(seq_len(M), each = ni)
    time <- rep(0:(ni - 1), M) / 3
    trt <- rep(rbinom(M, 1, 0.5), each = ni)
    truth <- list(beta = c(-0.5, 0.4, -0.6), D = matrix(c(1, 0.25, 0.25, 0.6), 2))
    b <- matrix(rnorm(2 * M), M) %*% chol(truth$D)
    eta <- truth$beta[1] + truth$beta[2] * time + truth$beta[3] * trt +
      b[id, 1] + b[id, 2] * time
    d <- data.frame(y = rbinom(M * ni, 1, plogis(eta)), time = time, trt = trt,
                    id = factor(id))
    list(data = d, truth = truth)
  })
}

# Counts with varying exposure and a random intercept.
sim_counts_offset <- function() {
  cached("sim_counts_offset", {
    set.seed(11)
    M <- 80
    ni <- sample(3:8, M, TRUE)
    id <- rep(seq_len(M), ni)
    n <- length(id)
    x <- rnorm(n)
    expo <- runif(n, 0.5, 3)
    b <- rnorm(M, 0, 0.6)
    data.frame(count = rpois(n, expo * exp(0.3 + 0.5 * x + b[id])), x = x,
               expo = expo, id = factor(id))
  })
}

bacteria_data <- function() {
  cached("bacteria", {
    d <- MASS::bacteria
    d$late <- d$week > 2
    d
  })
}

# Our engine on the data of a fitted glmm object, for evaluating our
# log-likelihood (and gradient) at any parameter value.
engine_of <- function(fit, nAGQ = fit$nAGQ) {
  f <- fit$family
  glmmgee:::cpp_agq_new(fit$X, fit$Z, fit$y, fit$prior.weights, fit$offset,
                        fit$group, fit$ngroups, fit$pattern$row - 1L,
                        fit$pattern$col - 1L, f$family_code, f$link_code,
                        as.integer(nAGQ), 1L)
}

# Our parameter vector from beta, the covariance D of the random effects and
# (gaussian) sigma, for an unstructured or diagonal pattern.
theta_of <- function(fit, beta, D, sigma = NULL) {
  L <- t(chol(D))
  c(beta, L[cbind(fit$pattern$row, fit$pattern$col)],
    if (!is.null(sigma)) log(sigma))
}

# Our log-likelihood at theta on the approximation the fit reports (the
# engine runs on the standardized design; for quadrature with several random
# effects the value depends on that choice).
loglik_at <- function(fit, theta, nAGQ = fit$nAGQ) {
  glmmgee:::loglik_at_theta(fit, theta, nAGQ)
}

# Gauss-Hermite rule for N(0, 1) by R's own eigen() (independent of the
# engine's C++ code).
gh_rule_eigen <- function(K) {
  J <- matrix(0, K, K)
  if (K > 1) {
    i <- seq_len(K - 1)
    J[cbind(i, i + 1)] <- J[cbind(i + 1, i)] <- sqrt(i)
  }
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  list(z = e$values[o], w = e$vectors[1, o]^2)
}

# Independent Laplace (K = 1) / adaptive Gauss-Hermite log-likelihood for a
# random intercept with standard deviation `sd`: per cluster, the mode of
# log f(y | u) + log phi(u) by optimize(), the curvature by a central second
# difference, then the rule centred and scaled there. `curvature = "expected"`
# uses the Fisher information in place of the observed curvature (what lme4's
# Laplace approximation does for non-canonical links).
ri_loglik_r <- function(beta, sd, X, y, weights, offset, group, family, K = 1,
                        curvature = c("observed", "expected")) {
  curvature <- match.arg(curvature)
  eta0 <- drop(X %*% beta) + offset
  dens <- switch(family$family,
    binomial = function(mu, i) dbinom(round(y[i] * weights[i]), weights[i], mu, log = TRUE),
    poisson = function(mu, i) dpois(y[i], mu, log = TRUE),
    stop("unsupported family"))
  rule <- gh_rule_eigen(K)
  total <- 0
  for (i in split(seq_along(y), group)) {
    h <- function(u) sum(dens(family$linkinv(eta0[i] + sd * u), i)) + dnorm(u, log = TRUE)
    u0 <- optimize(h, c(-12, 12), maximum = TRUE, tol = 1e-12)$maximum
    if (curvature == "observed") {
      e <- 1e-4
      H <- -(h(u0 + e) - 2 * h(u0) + h(u0 - e)) / e^2
    } else {
      et <- eta0[i] + sd * u0
      mu <- family$linkinv(et)
      H <- 1 + sd^2 * sum(weights[i] * family$mu.eta(et)^2 / family$variance(mu))
    }
    # u = u0 + z / sqrt(H):  integral = sqrt(2 pi / H) E[exp(h(u) + z^2 / 2)]
    u <- u0 + rule$z / sqrt(H)
    a <- log(rule$w) + rule$z^2 / 2 + vapply(u, h, 0)
    total <- total + max(a) + log(sum(exp(a - max(a)))) + 0.5 * log(2 * pi / H)
  }
  total
}

# Tight GLMMadaptive settings: its defaults stop early (tol1 = 1e-4).
glmmadaptive_tight <- list(tol1 = 1e-10, tol2 = 1e-10, tol3 = 1e-12, iter_qN_outer = 50)

# Maximum relative difference, for measured-deviation messages.
max_rel <- function(a, b) max(abs(as.numeric(a) - as.numeric(b)) / pmax(abs(as.numeric(b)), 1e-8))

# Crossed counts and positive data for the simulate() tests.
sim_overdispersed_sim <- function() {
  cached("sim_overdispersed_sim", {
    set.seed(404)
    n <- 500
    d <- data.frame(a = factor(sample(1:25, n, TRUE)), b = factor(sample(1:12, n, TRUE)),
                    x = rnorm(n))
    eta <- 0.6 + 0.3 * d$x + rnorm(25, 0, 0.5)[d$a] + rnorm(12, 0, 0.4)[d$b]
    d$y <- rnbinom(n, mu = exp(eta), size = 3)
    d$yg <- rgamma(n, shape = 4, rate = 4 / exp(eta))
    d$yp <- rpois(n, exp(eta))
    d
  })
}

# Our fit against glmmTMB's (one or several random-effect terms): fixed
# effects, every random-effect SD (tolerance sd_tol), sigma() (the
# dispersion), standard errors of the fixed effects, and the log-likelihood
# (equal, or ours higher).
expect_as_glmmtmb <- function(ours, tmb, tol = 1e-4, sd_tol = tol) {
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = tol)
  sds <- function(vc) unlist(lapply(vc, attr, "stddev"), use.names = FALSE)
  expect_equal(sds(VarCorr(ours)), sds(glmmTMB::VarCorr(tmb)$cond), tolerance = sd_tol)
  expect_equal(sigma(ours), sigma(tmb), tolerance = 10 * tol)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(tmb)$cond))),
               tolerance = 1e-3)
  d <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
  expect_gt(d, -1e-4)
  expect_lt(abs(d), 1e-3)
  expect_identical(attr(logLik(ours), "df"), attr(logLik(tmb), "df"))
}

# 150 Poisson counts in 25 sites of 6, with a time and a block factor: the
# small design of the input-checking and dispersion-limit tests.
ar1_poisson_like <- function() {
  set.seed(4)
  site <- rep(1:25, each = 6)
  u <- rnorm(25, 0, 0.5)[site]
  data.frame(y = rpois(150, exp(0.5 + u)), x = rnorm(150), site = factor(site),
             time = factor(rep(1:6, 25)), blk = factor(rep(1:5, 30)))
}
