# gee() with the negative binomial variance function (theta by the moment
# equation, scale 1) and with Gamma(log): against glm() at the same theta,
# the estimating equations computed here in plain R, MASS::theta.mm(), and
# geepack for Gamma (geepack has no negative binomial variance function).

epil_x <- function() transform(MASS::epil, lbase = log(base / 4), lage = log(age))

test_that("independence nbinom2 GEE = glm with MASS's family at the estimated theta", {
  skip_if_not_installed("MASS")
  d <- epil_x()
  f <- gee(y ~ trt + lbase + lage + V4, data = d, id = subject, family = nbinom2,
           epsilon = 1e-12)
  th <- f$nb_theta$theta
  expect_true(f$nb_theta$converged)
  expect_identical(f$scale, 1)
  expect_true(f$scale.fix)
  ref <- glm(y ~ trt + lbase + lage + V4, data = d, family = MASS::negative.binomial(th),
             control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(coef(f), coef(ref), tolerance = 1e-7)
  # model-based variance with scale 1 is glm's unscaled covariance
  expect_equal(unname(vcov(f, type = "model")), unname(summary(ref)$cov.unscaled),
               tolerance = 1e-6)
  # theta solves the moment equation at the fitted means
  expect_equal(th, MASS::theta.mm(d$y, fitted(f), nrow(d) - 5), tolerance = 1e-6)
  expect_identical(family(f)$theta, th)
  expect_output(print(f), "Negative binomial theta: ")
})

test_that("exchangeable nbinom2 GEE solves its estimating equations", {
  skip_if_not_installed("MASS")
  d <- epil_x()
  d <- d[sample(nrow(d)), ]  # rows need not be sorted by cluster
  f <- gee(y ~ trt + lbase + lage + V4, data = d, id = subject, family = nbinom2,
           corstr = "exchangeable", epsilon = 1e-12)
  th <- f$nb_theta$theta
  X <- model.matrix(f); mu <- fitted(f); y <- d$y
  V <- mu + mu^2 / th
  e <- (y - mu) / sqrt(V)
  # alpha: the moment estimator over within-cluster pairs (scale 1)
  ids <- split(seq_along(y), d$subject)
  num <- sum(vapply(ids, function(r) (sum(e[r])^2 - sum(e[r]^2)) / 2, 1))
  npair <- sum(vapply(ids, function(r) choose(length(r), 2), 1))
  expect_equal(unname(f$alpha), num / npair, tolerance = 1e-8)
  U <- 0; H <- 0
  for (r in ids) {
    R <- matrix(f$alpha, length(r), length(r)); diag(R) <- 1
    A <- sqrt(V[r])
    Vi <- A * t(A * R)
    D <- mu[r] * X[r, , drop = FALSE]
    U <- U + crossprod(D, solve(Vi, y[r] - mu[r]))
    H <- H + crossprod(D, solve(Vi, D))
  }
  expect_lt(max(abs(solve(H, U))), 1e-8)
  expect_equal(unname(vcov(f, type = "model")), unname(solve(H)), tolerance = 1e-8)
  # theta solves Pearson = N - p at the fitted means
  expect_equal(sum(e^2), nrow(d) - ncol(X), tolerance = 1e-8)
  # later variance requests use the same variance function
  expect_equal(vcov(f, type = "md"), vcov(f, type = "md"))
  expect_gt(min(diag(vcov(f, type = "md")) / diag(vcov(f))), 1)
})

test_that("nbinom2 GEE recovers theta from simulated overdispersed counts", {
  set.seed(8)
  M <- 400; ni <- 4
  id <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  y <- rnbinom(M * ni, size = 1.5, mu = exp(0.5 + 0.4 * x))  # independent clusters
  f <- gee(y ~ x, id = id, family = nbinom2, corstr = "exchangeable")
  expect_lt(abs(f$nb_theta$theta - 1.5), 0.3)
  expect_lt(max(abs(coef(f) - c(0.5, 0.4)) / sqrt(diag(vcov(f)))), 4)
  expect_lt(abs(f$alpha), 0.05)
  # Underdispersed counts: no theta fits, it stays at its limit, with a
  # warning, and the fit is the Poisson one
  yp <- rbinom(M * ni, 4, plogis(0.4 * x))
  expect_warning(fp <- gee(yp ~ x, id = id, family = nbinom2), "no overdispersion")
  expect_equal(coef(fp), coef(gee(yp ~ x, id = id, family = poisson)), tolerance = 1e-6)
})

test_that("Gamma(log) GEE matches geepack", {
  skip_if_not_installed("geepack")
  skip_if_not_installed("MASS")
  d <- epil_x()
  d <- d[d$y > 0, ]
  d <- d[order(d$subject, d$period), ]
  for (cs in c("independence", "exchangeable", "ar1")) {
    f <- gee(y ~ trt + lbase, data = shuffle_rows(d), id = subject, waves = period,
             family = Gamma("log"), corstr = cs, epsilon = 1e-12)
    g <- geepack::geeglm(y ~ trt + lbase, data = d, id = subject, waves = period,
                         family = Gamma("log"), corstr = cs, control = gee_tight())
    expect_same_as_geeglm(f, g, tol = 1e-6, info = cs)
  }
})

test_that("bad responses are rejected by gee()", {
  d <- data.frame(y = c(0, 1, 2.5, 3), id = c(1, 1, 2, 2))
  expect_error(gee(y ~ 1, data = d, id = id, family = nbinom2), "must be a count.*2.5")
  expect_error(gee_fit(matrix(1, 4), c(0, 1, -2, 3), id = c(1, 1, 2, 2), family = nbinom2),
               "must be a count.*-2")
  expect_error(gee(y ~ 1, data = transform(d, y = y - 1), id = id, family = Gamma("log")),
               "Gamma response must be positive")
})
