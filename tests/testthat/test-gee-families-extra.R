# gee() with nbinom1, beta and betabinomial: the quasi-likelihood models
# (quasi-Poisson, quasi-binomial with an estimated scale) against geepack,
# and phi read off the scale.

test_that("nbinom1 on Salamanders: quasi-Poisson GEE as geepack, phi = scale - 1", {
  skip_if_not_installed("geepack")
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders[order(Salamanders$site), ]
  ours <- gee(count ~ mined + spp, data = d, id = site, family = nbinom1(),
              corstr = "exchangeable")
  gp <- geepack::geeglm(count ~ mined + spp, data = d, id = site, family = poisson,
                        corstr = "exchangeable")
  expect_equal(unname(coef(ours)), unname(coef(gp)), tolerance = 1e-6)
  expect_equal(ours$scale, summary(gp)$dispersion$Estimate, tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(summary(gp)$coefficients[, 2]),
               tolerance = 1e-5)
  expect_equal(ours$phi, ours$scale - 1)
  expect_output(print(ours), "NB1 dispersion phi \\(marginal Var = mu \\(1 \\+ phi\\)\\)")
  # Pearson residuals use the quasi-Poisson variance function
  mu <- fitted(ours)
  expect_equal(unname(residuals(ours, "pearson")), unname((d$count - mu) / sqrt(mu)))
})

test_that("beta and betabinomial: quasi-binomial GEE (geepack); beta phi = 1/scale - 1", {
  skip_if_not_installed("geepack")
  set.seed(2)
  g <- gl(40, 10); x <- rnorm(400); u <- rnorm(40, sd = 0.5)[g]
  mu <- plogis(-0.3 + 0.7 * x + u)
  d <- data.frame(g, x, yb = rbeta(400, mu * 8, (1 - mu) * 8), n = sample(2:12, 400, TRUE))
  d$s <- rbinom(400, d$n, rbeta(400, mu * 4, (1 - mu) * 4))
  ours <- gee(yb ~ x, data = d, id = g, family = beta_family(), corstr = "exchangeable")
  gp <- suppressWarnings(geepack::geeglm(yb ~ x, data = d, id = g, family = binomial,
                                         corstr = "exchangeable"))
  expect_equal(unname(coef(ours)), unname(coef(gp)), tolerance = 1e-6)
  expect_equal(ours$scale, summary(gp)$dispersion$Estimate, tolerance = 1e-6)
  expect_equal(ours$phi, 1 / ours$scale - 1)
  # the marginal precision is below the conditional one (8): the random
  # effect adds variance
  expect_lt(ours$phi, 8)
  bb <- gee(cbind(s, n - s) ~ x, data = d, id = g, family = betabinomial(), corstr = "exchangeable")
  # geepack's geeglm() does not read a cbind() response with varying
  # totals the way glm() does; our binomial GEE (checked against geepack on
  # 0/1 data elsewhere) is the reference: the same equations, scale free.
  bin <- gee(cbind(s, n - s) ~ x, data = d, id = g, family = binomial, corstr = "exchangeable")
  expect_equal(coef(bb), coef(bin), tolerance = 1e-8)
  expect_equal(bb$scale, bin$scale, tolerance = 1e-8)
  expect_equal(vcov(bb), vcov(bin), tolerance = 1e-8)
  expect_gt(bb$scale, 1.5)   # the beta-binomial overdispersion shows in the scale
  expect_true(is.na(bb$phi))
})
