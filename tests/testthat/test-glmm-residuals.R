# Deviance residuals of the families with a dispersion parameter (beta,
# nbinom1, beta-binomial): twice the saturated log-likelihood ratio.

owls_beta <- function() {
  data(Owls, package = "glmmTMB", envir = environment())
  Owls$y <- (Owls$SiblingNegotiation + 0.5) / (max(Owls$SiblingNegotiation) + 1)
  Owls
}

# Each observation's log-likelihood maximized over its mean by optimize():
# the saturated model, found independently of the package's root finder.
saturated_by_optimize <- function(ll, rows, lower, upper) {
  vapply(rows, function(i) optimize(function(m) ll(i, m), c(lower, upper), maximum = TRUE,
                                    tol = 1e-12)$objective, 1)
}

test_that("deviance residuals of beta, nbinom1 and beta-binomial fits are twice the saturated log-likelihood ratio", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  # beta: the density at mu = y is not the highest over mu, so
  # 2 (l(y; y) - l(y; mu)) was negative and the residual 0 for most rows.
  o <- owls_beta()
  fb <- glmm(y ~ FoodTreatment + (1 | Nest), o, family = beta_family(), nAGQ = 1)
  phi <- sigma(fb)
  y <- fb$y
  mu <- unname(fitted(fb))
  rows <- c(1:6, 100, 300)
  ll <- function(i, m) dbeta(y[i], m * phi, (1 - m) * phi, log = TRUE)
  sat <- saturated_by_optimize(ll, rows, 1e-9, 1 - 1e-9)
  ref <- sign(y[rows] - mu[rows]) * sqrt(2 * (sat - ll(rows, mu[rows])))
  r <- residuals(fb, type = "deviance")
  expect_equal(unname(r[rows]), ref, tolerance = 1e-6)
  expect_lt(mean(r == 0), 0.01)
  # The same residuals for the family given as glmmTMB's.
  fb2 <- glmm(y ~ FoodTreatment + (1 | Nest), o, family = glmmTMB::beta_family(), nAGQ = 1)
  expect_equal(residuals(fb2, type = "deviance"), r, tolerance = 1e-6)

  # nbinom1: size mu / phi moves with mu, so the maximum is not at mu = y.
  data(Salamanders, package = "glmmTMB", envir = environment())
  fn <- glmm(count ~ mined + (1 | site), Salamanders, family = nbinom1(), nAGQ = 1)
  phi <- sigma(fn)
  y <- fn$y
  mu <- unname(fitted(fn))
  rows <- which(y > 0)[1:6]
  ll <- function(i, m) dnbinom(y[i], size = m / phi, mu = m, log = TRUE)
  sat <- saturated_by_optimize(ll, rows, 1e-8, 10 * max(y) + 10)
  r <- residuals(fn, type = "deviance")
  expect_equal(unname(r[rows]), sign(y[rows] - mu[rows]) * sqrt(2 * (sat - ll(rows, mu[rows]))),
               tolerance = 1e-6)
  expect_false(any(r[y > 0] == 0))
  # A zero count: the saturated probability is 1 (mu -> 0).
  z <- which(y == 0)[1:3]
  expect_equal(unname(r[z]), -sqrt(-2 * ll(z, mu[z])), tolerance = 1e-8)

  # beta-binomial: 0 out of n gave NaN (lbeta(0, .) at mu = y = 0).
  data(cbpp, package = "lme4", envir = environment())
  fbb <- suppressWarnings(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp,
                               family = betabinomial(), nAGQ = 1))
  phi <- sigma(fbb)
  n <- cbpp$size
  s <- cbpp$incidence
  mu <- unname(fitted(fbb))
  llbb <- function(i, m) lchoose(n[i], s[i]) + lbeta(s[i] + m * phi, n[i] - s[i] + (1 - m) * phi) -
    lbeta(m * phi, (1 - m) * phi)
  r <- residuals(fbb, type = "deviance")
  expect_false(anyNA(r))
  rows <- which(s > 0)[1:6]
  sat <- saturated_by_optimize(llbb, rows, 1e-9, 1 - 1e-9)
  expect_equal(unname(r[rows]), sign(s[rows] / n[rows] - mu[rows]) *
                 sqrt(2 * (sat - llbb(rows, mu[rows]))), tolerance = 1e-6)
  z <- which(s == 0)[1:3]
  expect_equal(unname(r[z]), -sqrt(-2 * llbb(z, mu[z])), tolerance = 1e-8)
})
