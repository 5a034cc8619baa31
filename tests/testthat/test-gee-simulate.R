# simulate() for gee fits: draws with the fitted marginal means, joined
# within a cluster by the working correlation (multivariate normal for
# gaussian, a Gaussian copula otherwise).

gs_data <- function(M = 400, ni = 4, seed = 3) {
  set.seed(seed)
  d <- data.frame(id = rep(seq_len(M), each = ni), t = rep(seq_len(ni), M))
  d$x <- rnorm(nrow(d))
  b <- rep(rnorm(M, 0, 0.7), each = ni)
  d$yg <- 1 + 0.5 * d$x + b + rnorm(nrow(d))
  d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + b))
  d$yp <- rpois(nrow(d), exp(0.2 + 0.4 * d$x + b / 2))
  d
}

test_that("gaussian draws have the fitted means, the scale and the working correlation", {
  d <- gs_data()
  fit <- gee(yg ~ x, data = d, id = id, corstr = "exchangeable")
  s <- simulate(fit, nsim = 200, seed = 11)
  expect_s3_class(s, "data.frame")
  expect_identical(dim(s), c(nrow(d), 200L))
  expect_identical(names(s)[1:2], c("sim_1", "sim_2"))
  S <- as.matrix(s)
  dev <- S - fitted(fit)
  # mean, variance and within-cluster correlation over 200 x 1600 draws
  expect_lt(abs(mean(dev)), 4 * sqrt(fit$scale / length(dev)) * 3)
  expect_equal(mean(dev^2), fit$scale, tolerance = 0.02)
  first <- dev[d$t == 1, ]; second <- dev[d$t == 2, ]
  expect_equal(cor(as.vector(first), as.vector(second)), unname(fit$alpha), tolerance = 0.03)
  # the seed convention of stats::simulate()
  expect_identical(simulate(fit, nsim = 2, seed = 5), simulate(fit, nsim = 2, seed = 5))
  expect_identical(attr(simulate(fit, nsim = 1, seed = 5), "seed")[1], 5)
})

test_that("binary and count draws have the fitted means and a positive within-cluster correlation", {
  d <- gs_data()
  fb <- gee(yb ~ x, data = d, id = id, family = binomial, corstr = "exchangeable")
  sb <- as.matrix(simulate(fb, nsim = 100, seed = 2))
  expect_true(all(sb %in% c(0, 1)))
  expect_equal(unname(rowMeans(sb)[1:50]), unname(fitted(fb))[1:50], tolerance = 0.25)
  expect_equal(mean(sb), mean(fitted(fb)), tolerance = 0.01)
  r <- cor(as.vector(sb[d$t == 1, ]), as.vector(sb[d$t == 2, ]))
  expect_gt(r, 0.5 * unname(fb$alpha))
  expect_lt(r, unname(fb$alpha) + 0.03)
  fp <- gee(yp ~ x, data = d, id = id, family = poisson, corstr = "independence")
  sp <- as.matrix(simulate(fp, nsim = 100, seed = 2))
  expect_true(all(sp == round(sp)) && all(sp >= 0))
  expect_equal(mean(sp), mean(fitted(fp)), tolerance = 0.01)
  expect_lt(abs(cor(as.vector(sp[d$t == 1, ]), as.vector(sp[d$t == 2, ]))), 0.03)
})

test_that("simulate() refuses families with no distribution and unknown arguments", {
  d <- gs_data(M = 30)
  fit <- gee(yp ~ x, data = d, id = id, family = nbinom1())
  expect_error(simulate(fit), "the family \"nbinom1\" implies no distribution")
  fg <- gee(yg ~ x, data = d, id = id)
  expect_error(simulate(fg, newdata = d), "newdata")
  expect_error(simulate(fg, nsim = 0), "'nsim' must be")
  # binomial prior weights are numbers of trials: the glmm method's check
  # and message, naming 'weights'
  d$w <- rep(c(0.5, 1.5), length.out = nrow(d))
  fw <- suppressWarnings(gee(yb ~ x, data = d, id = id, family = binomial, weights = w))
  expect_error(simulate(fw), "cannot simulate from non-integer prior weights \\('weights'\\)")
})

test_that("DHARMa's simulateResiduals() runs on a gee fit", {
  skip_if_not_installed("DHARMa")
  d <- gs_data()
  fp <- gee(yp ~ x, data = d, id = id, family = poisson, corstr = "exchangeable")
  res <- withCallingHandlers(DHARMa::simulateResiduals(fp, n = 250, seed = 4),
    warning = function(w) if (grepl("not in class of supported models", conditionMessage(w)))
      invokeRestart("muffleWarning"))
  expect_s3_class(res, "DHARMa")
  expect_length(res$scaledResiduals, nrow(d))
  expect_true(all(res$scaledResiduals >= 0 & res$scaledResiduals <= 1))
  expect_equal(res$observedResponse, d$yp)
  fb <- gee(yb ~ x, data = d, id = id, family = binomial, corstr = "exchangeable")
  rb <- suppressWarnings(DHARMa::simulateResiduals(fb, n = 100, seed = 4))
  expect_length(rb$scaledResiduals, nrow(d))
  expect_error(suppressWarnings(DHARMa::simulateResiduals(fb, n = 10, refit = TRUE)),
               "refit = TRUE is not available")
})
