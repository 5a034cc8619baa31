# Fixtures for the tests of the optimum (test-optimum-*.R): longitudinal
# data with random slopes over uncentred time, the peers' fits (NULL when a
# peer fails), and our log-likelihood at a peer's estimates.

# The default test level runs a representative subset of the expensive
# grids, GLMMGEE_TEST_LEVEL=long all of them (test_level(): helper-test-level.R).

# M clusters observed at times 0..T (not centred); `pm` a -1/+1 covariate
# that varies within clusters (a crossover), `x` a continuous one, `site` a
# second, crossed grouping factor (for the sparse engine). Random intercept
# and slopes with small intercept variance relative to the slope's spread
# over time: the setting in which an optimizer working on the raw scale
# stops at a zero intercept variance.
sim_slopes <- function(seed, family, link = "logit", T = 7, M = 40, slope = "time",
                       q = 2L, sd = c(0.4, 0.12, 0.35), site_sd = 0.3) {
  set.seed(seed)
  ni <- T + 1L
  g <- rep(seq_len(M), each = ni)
  time <- rep(0:T, M)
  pm <- ifelse(stats::runif(M * ni) < 0.5, -1, 1)
  x <- stats::rnorm(M * ni)
  site <- sample.int(8L, M * ni, TRUE)
  b <- matrix(stats::rnorm(M * 3L), M) %*% diag(sd)
  s <- switch(slope, time = time * 7 / T, pm = pm * 3)
  eta <- -0.4 + 0.04 * time + 0.3 * pm + 0.2 * x + b[g, 1] + b[g, 2] * s +
    (if (q == 3L) b[g, 3] * x else 0) + stats::rnorm(8L, 0, site_sd)[site]
  mu <- switch(family, binomial = binomial(link)$linkinv(eta), exp(eta))
  y <- switch(family,
              binomial = stats::rbinom(M * ni, 1, mu),
              poisson = stats::rpois(M * ni, mu),
              nbinom2 = stats::rnbinom(M * ni, mu = mu, size = 2))
  data.frame(y = y, g = factor(g), site = factor(site), time = time, pm = pm, x = x)
}

# The same data with the covariates centred and in other units: the
# maximum of the likelihood is the same.
rescale_slopes <- function(d, mult = 1e3) {
  d$time <- (d$time - mean(d$time)) / 10
  d$x <- d$x * mult
  d$pm <- d$pm * mult
  d
}

fam_of <- function(family, link) {
  switch(family, binomial = binomial(link), poisson = poisson(), nbinom2 = glmmgee::nbinom2())
}

peer_family <- function(family, link, peer) {
  switch(family, binomial = binomial(link), poisson = poisson(),
         nbinom2 = if (peer == "glmmTMB") glmmTMB::nbinom2() else GLMMadaptive::negative.binomial())
}

quiet <- function(expr) tryCatch(suppressMessages(suppressWarnings(expr)), error = function(e) NULL)

# Our parameter vector (one grouping factor) from beta, D and the family
# parameter (nbinom2's theta), for evaluating our engine at a peer's estimates.
theta_from <- function(fit, beta, D, phi = NULL) {
  L <- glmmgee:::chol_psd(as.matrix(D))
  c(beta, L[cbind(fit$pattern$row, fit$pattern$col)], if (!is.null(phi)) log(phi))
}

# The best log-likelihood the peers reach for a one-grouping-factor model,
# on our approximation: glmmTMB (true Laplace) and, for the canonical links,
# glmer report it themselves at nAGQ = 1; for quadrature, GLMMadaptive's
# estimates are evaluated by our engine at the same nAGQ.
peer_best <- function(formula, d, family, link, nAGQ, ours) {
  best <- -Inf
  if (nAGQ == 1L) {
    tmb <- quiet(glmmTMB::glmmTMB(formula, d, family = peer_family(family, link, "glmmTMB")))
    if (!is.null(tmb) && is.finite(stats::logLik(tmb))) best <- max(best, as.numeric(stats::logLik(tmb)))
    if ((family == "binomial" && link == "logit") || family == "poisson") {
      gm <- quiet(glmer_ref(formula, d, family = fam_of(family, link)))
      if (!is.null(gm)) best <- max(best, as.numeric(stats::logLik(gm)))
    }
  } else {
    bars <- reformulas::findbars(formula)[[1L]]
    fixed <- reformulas::nobars(formula)
    rand <- stats::as.formula(paste("~", deparse(bars[[2L]]), "|", deparse(bars[[3L]])))
    ga <- quiet(GLMMadaptive::mixed_model(fixed, rand, d, family = peer_family(family, link, "GA"),
                                          nAGQ = nAGQ))
    if (!is.null(ga)) {
      phi <- if (family == "nbinom2") exp(ga$phis)
      th <- theta_from(ours, GLMMadaptive::fixef(ga), ga$D, phi)
      best <- max(best, glmmgee:::loglik_at_theta(ours, th, nAGQ))
    }
  }
  best
}
