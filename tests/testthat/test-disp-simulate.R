# simulate() and Pearson residuals of dispersion-formula fits of every family
# whose dispersion varies by row: the draws' moments against the fitted mean
# and the family's variance at each row's phi (known truth), the residuals
# against that variance. beta and beta-binomial fits returned columns of
# NULL and "phi is not known" errors; gaussian(link = "log") drew around the
# linear predictor instead of the mean.

disp_data <- function() {
  set.seed(11)
  n <- 400; g <- rep(1:40, each = 10); x <- rnorm(n); z <- rbinom(n, 1, 0.5)
  mu <- plogis(-0.3 + 0.5 * x + rnorm(40, 0, 0.5)[g]); phi <- exp(2 + z)
  d <- data.frame(x = x, z = z, g = g, tr = rep(c(5, 12), n / 2))
  d$y <- rbeta(n, mu * phi, (1 - mu) * phi)
  d$s <- rbinom(n, d$tr, rbeta(n, mu * phi, (1 - mu) * phi))
  d$f <- d$tr - d$s
  d$yl <- exp(0.5 + 0.3 * x) + rnorm(n, 0, 0.2 * (1 + z))
  d
}

# Moments of nsim draws (re.form = NULL: the fitted random effects, so the
# draws' mean is the conditional mean and their variance the family's).
check_draws <- function(fit, m, v, nsim = 400) {
  s <- as.matrix(simulate(fit, nsim = nsim, seed = 3, re.form = NULL))
  expect_true(is.numeric(s) && all(is.finite(s)))
  expect_equal(dim(s), c(length(m), nsim))
  # Row means within 5 Monte Carlo SEs on average, and pooled variance ratio.
  zm <- (rowMeans(s) - m) / sqrt(v / nsim)
  expect_lt(abs(mean(zm)), 5 / sqrt(length(m)))
  expect_lt(abs(stats::sd(zm) - 1), 0.15)
  expect_lt(abs(mean(apply(s, 1, stats::var) / v) - 1), 0.05)
}

test_that("beta with a dispersion formula: draws and Pearson residuals at each row's phi", {
  d <- disp_data()
  fit <- glmm(y ~ x + (1 | g), data = d, family = beta_family(), dispformula = ~ z)
  m <- predict(fit, type = "conditional")
  phi <- predict(fit, type = "disp")
  v <- m * (1 - m) / (1 + phi)
  check_draws(fit, m, v)
  expect_true(all(simulate(fit, nsim = 1, seed = 1)[[1]] > 0 & simulate(fit, nsim = 1, seed = 1)[[1]] < 1))
  expect_equal(unname(residuals(fit, type = "pearson")), unname((d$y - m) / sqrt(v)), tolerance = 1e-10)
})

test_that("beta-binomial with a dispersion formula: proportions of the trials, variance with phi", {
  d <- disp_data()
  fit <- glmm(cbind(s, f) ~ x + (1 | g), data = d, family = betabinomial(), dispformula = ~ z)
  m <- predict(fit, type = "conditional")
  phi <- predict(fit, type = "disp")
  v <- m * (1 - m) * (phi + d$tr) / ((phi + 1) * d$tr)
  check_draws(fit, m, v)
  s1 <- simulate(fit, nsim = 1, seed = 1)[[1]]
  expect_equal(s1 * d$tr, round(s1 * d$tr), tolerance = 1e-12)
  expect_equal(unname(residuals(fit, type = "pearson")), unname((d$s / d$tr - m) / sqrt(v)),
               tolerance = 1e-10)
})

test_that("gaussian(log) with a dispersion formula draws around the mean, not the linear predictor", {
  d <- disp_data()
  fit <- glmm(yl ~ x + (1 | g), data = d, family = gaussian(link = "log"), dispformula = ~ z)
  m <- predict(fit, type = "conditional")
  v <- predict(fit, type = "disp")^2
  check_draws(fit, m, v)
})

test_that("glmmTMB's Pearson residuals of a beta dispersion-formula fit", {
  skip_if_not_installed("glmmTMB")
  d <- disp_data()
  fit <- glmm(y ~ x + (1 | g), data = d, family = beta_family(), dispformula = ~ z, nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = glmmTMB::beta_family(),
                          dispformula = ~ z)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(tmb)), tolerance = 1e-6)
  # glmmTMB 1.1.5's own Pearson residuals are NA here; its mean and phi
  # give them by the beta variance mu (1 - mu) / (1 + phi).
  mt <- unname(stats::fitted(tmb))
  pt <- unname(predict(tmb, type = "disp"))
  expect_equal(unname(residuals(fit, type = "pearson")),
               (d$y - mt) / sqrt(mt * (1 - mt) / (1 + pt)), tolerance = 1e-3)
})

test_that("prior weights divide a gaussian row's variance in the draws of a dispersion-formula fit", {
  # (the draws of a dispersion formula's rows had left the weights out: a
  # row of weight 2 was drawn with twice its variance)
  d <- disp_data()
  d$w <- rep(c(0.5, 1, 2, 4), length.out = nrow(d))
  d$o <- log(0.2 * (1 + d$z))
  for (disp in list(~ z, ~ 0 + offset(o))) {
    fit <- glmm(yl ~ x + (1 | g), data = d, family = gaussian("log"), dispformula = disp,
                weights = w)
    v <- predict(fit, type = "disp")^2 / d$w
    check_draws(fit, fitted(fit), v)
  }
})
