# The families with an estimated dispersion (nbinom2, Gamma with a log
# link): the C++ classes against R's densities and numerical derivatives,
# the nbinom2() family object against MASS::negative.binomial() at the same
# theta, and the theta moment estimator against MASS::theta.mm().

test_that("log-likelihoods equal dnbinom and dgamma, weights multiplying them", {
  set.seed(3)
  eta <- c(-6, -1.2, 0, 0.8, 3, 7, 9.5)
  y <- c(0, 1, 2, 9, 33, 800, 15000)
  wt <- c(1, 2, 0.5, 1, 1.5, 1, 1)
  for (phi in c(-3, -0.5, 0.7, 3, 12, 19)) {
    r <- fam_eval(nbinom2(), y, wt, eta, phi)
    ref <- wt * dnbinom(y, size = exp(phi), mu = exp(eta), log = TRUE)
    expect_equal(r$loglik, ref, tolerance = 1e-10, info = paste("phi", phi))
  }
  yg <- c(0.01, 0.3, 1, 2.5, 40, 1e3, 3e4)
  for (phi in c(-3, -0.5, 0.7, 3, 9)) {
    r <- fam_eval(Gamma("log"), yg, wt, eta, phi)
    nu <- exp(phi)
    ref <- wt * dgamma(yg, shape = nu, rate = nu / exp(eta), log = TRUE)
    expect_equal(r$loglik, ref, tolerance = 1e-10, info = paste("phi", phi))
  }
})

test_that("eta and log-dispersion derivatives agree with numerical ones", {
  eta <- c(-4, -0.7, 0.2, 1.6, 3.9)
  cases <- list(list(nbinom2(), c(0, 1, 4, 12, 70)),
                list(Gamma("log"), c(0.05, 0.6, 1.3, 9, 35)))
  for (cs in cases) for (phi in c(-1.5, 0.4, 2.5, 6)) {
    fam <- cs[[1]]; y <- cs[[2]]; wt <- c(1, 0.5, 2, 1, 1.5)
    r <- fam_eval(fam, y, wt, eta, phi)
    f <- function(k) function(e) fam_eval(fam, y, wt, e, phi)[[k]]
    g <- function(k) function(p) fam_eval(fam, y, wt, eta, p)[[k]]
    lab <- sprintf("%s, phi = %g", fam$family, phi)
    scale <- function(v) max(1, abs(v))
    expect_lt(max(abs(r$d1 - num_d(f("loglik"), eta)) / scale(r$d1)), 1e-7, label = lab)
    expect_lt(max(abs(r$d2 - num_d(f("d1"), eta)) / scale(r$d2)), 1e-7, label = lab)
    expect_lt(max(abs(r$d3 - num_d(f("d2"), eta)) / scale(r$d3)), 1e-7, label = lab)
    expect_lt(max(abs(r$dphi_l - num_d(g("loglik"), phi)) / scale(r$dphi_l)), 1e-7, label = lab)
    expect_lt(max(abs(r$dphi_d1 - num_d(g("d1"), phi)) / scale(r$dphi_d1)), 1e-7, label = lab)
    expect_lt(max(abs(r$dphi_d2 - num_d(g("d2"), phi)) / scale(r$dphi_d2)), 1e-7, label = lab)
  }
})

test_that("nbinom2 stays accurate near the Poisson limit and for large counts", {
  # theta = e^25: the log-likelihood is the Poisson one to ~mu^2/theta, and
  # the theta derivative is O(1/theta), not rounding noise of size theta.
  eta <- c(-2, 0.5, 2, 4)
  y <- c(0, 3, 5, 70)
  r <- fam_eval(nbinom2(), y, rep(1, 4), eta, 25)
  expect_equal(r$loglik, dpois(y, exp(eta), log = TRUE), tolerance = 1e-9)
  expect_lt(max(abs(r$dphi_l)), 1e-6)
  expect_true(all(is.finite(unlist(r))))
  # counts beyond the summation range use log-gamma differences
  big <- fam_eval(nbinom2(), c(9, 10, 5000), rep(1, 3), c(2, 2, 8), log(3))
  expect_equal(big$loglik, dnbinom(c(9, 10, 5000), size = 3, mu = exp(c(2, 2, 8)), log = TRUE),
               tolerance = 1e-12)
  ext <- fam_eval(nbinom2(), c(0, 1e6), c(1, 1), c(-700, 700), 0)
  expect_true(all(is.finite(unlist(ext[c("loglik", "d1", "d2", "d3", "dphi_l",
                                         "dphi_d1", "dphi_d2")]))))
})

test_that("mean-model functions: variance at theta, quasi-likelihood score", {
  mu <- c(0.2, 1, 7, 40)
  th <- 2.5
  r <- fam_eval(nbinom2(), mu, rep(1, 4), log(mu), log(th))
  expect_equal(r$mu, mu)
  expect_equal(r$variance, mu + mu^2 / th)
  r <- fam_eval(Gamma("log"), mu, rep(1, 4), log(mu), 0.3)
  expect_equal(r$variance, mu^2)
})

test_that("nbinom2() has what glm-style code needs and matches MASS at the same theta", {
  skip_if_not_installed("MASS")
  f <- nbinom2()
  expect_s3_class(f, "family")
  expect_identical(f$family, "nbinom2")
  expect_identical(f$dispersion, "theta")
  expect_true(is.na(f$theta))
  expect_error(f$variance(1), "theta is not known")
  expect_identical(nbinom2(log)$link, "log")
  expect_error(nbinom2("identity"), "'link'")
  th <- 3.7
  g <- glmmgee:::nbinom2_family(th)
  m <- MASS::negative.binomial(th)
  mu <- c(0.3, 2, 11); y <- c(0, 3, 8); wt <- c(1, 2, 1)
  expect_equal(g$variance(mu), m$variance(mu))
  expect_equal(g$dev.resids(y, mu, wt), m$dev.resids(y, mu, wt))
  expect_equal(g$linkinv(0.4), m$linkinv(0.4))
  expect_equal(g$mu.eta(0.4), m$mu.eta(0.4))
  # MASS's aic omits nothing either: both are -2 log-likelihood
  expect_equal(g$aic(y, 1, mu, wt, 0), m$aic(y, 1, mu, wt, 0))
  expect_true(g$validmu(mu)); expect_false(g$validmu(c(1, 0)))
  # glm() runs with it, as with MASS's family
  d <- data.frame(y = c(0, 2, 5, 1, 9, 4, 0, 3), x = 1:8)
  expect_equal(coef(glm(y ~ x, family = g, data = d)),
               coef(glm(y ~ x, family = m, data = d)), tolerance = 1e-10)
})

test_that("theta moment estimator solves Pearson = df, as MASS::theta.mm", {
  skip_if_not_installed("MASS")
  set.seed(5)
  mu <- exp(rnorm(300, 1))
  y <- rnbinom(300, size = 2, mu = mu)
  w <- runif(300, 0.5, 2)
  th <- glmmgee:::nb_theta_moment(y, mu, w, 297)
  expect_equal(th, MASS::theta.mm(y, mu, 297, weights = w), tolerance = 1e-6)
  expect_equal(sum(w * (y - mu)^2 / (mu + mu^2 / th)), 297, tolerance = 1e-8)
  # no overdispersion: the Poisson limit
  yp <- rpois(300, mu)
  expect_identical(glmmgee:::nb_theta_moment(yp, yp + 0.5, rep(1, 300), 297), 1e8)
})

test_that("unsupported links and bad responses give clear errors", {
  expect_error(glmmgee:::resolve_family(poisson("sqrt")), "poisson with link \"sqrt\" is not supported")
  fam <- glmmgee:::resolve_family(nbinom2)
  expect_error(glmmgee:::check_support(c(1, 2.5), fam), "must be a count.*2.5")
  expect_error(glmmgee:::check_support(c(1, -1), fam), "must be a count.*-1")
  expect_error(glmmgee:::check_support(c(1, 0), glmmgee:::resolve_family(Gamma("log"))),
               "Gamma response must be positive; found 0")
})

test_that("a dispersion-formula level fitted exactly (constant responses) is named, not fitted", {
  set.seed(5)
  d <- data.frame(g = factor(rep(1:12, each = 6)), grp = factor(rep(c("A", "B", "C"), 24)))
  d$x <- rnorm(72)
  d$y <- 2 + 0.5 * d$x + rnorm(12, 0, 0.5)[d$g] + rnorm(72)
  dc <- d
  dc$y[dc$grp == "C"] <- 4
  # glmmTMB's likelihood is unbounded here too: it returns NA (or a huge
  # logLik); ours stops before fitting, naming the level.
  expect_error(glmm(y ~ grp + (1 | g), data = dc, dispformula = ~ grp),
               "'dispformula': the 24 observation\\(s\\) of the dispersion level grp = C are fitted exactly.*all 4.*residual standard deviation")
  # Gamma and beta alike.
  dg <- transform(dc, y = exp(y / 4))
  expect_error(glmm(y ~ grp + (1 | g), data = dg, family = Gamma("log"), dispformula = ~ grp),
               "dispersion level grp = C .*1 / shape")
  db <- transform(dc, y = plogis(y - 3))
  expect_error(glmm(y ~ grp + (1 | g), data = db, family = beta_family(), dispformula = ~ grp),
               "dispersion level grp = C")
  # A level of one observation is fitted exactly by any mean model.
  d1 <- d
  d1$grp <- factor(ifelse(seq_len(72) == 7, "D", as.character(d$grp)))
  expect_error(glmm(y ~ x + (1 | g), data = d1, dispformula = ~ grp),
               "the 1 observation\\(s\\) of the dispersion level grp = D")
  # With a random intercept the level is fitted exactly even with x in the
  # mean (slope 0, each cluster's intercept at 4).
  expect_error(glmm(y ~ x + (1 | g), data = dc, dispformula = ~ grp), "dispersion level grp = C")
  # Responses that vary in every level: fitted, no false alarm, also far
  # from zero (y + 1e9 was refused: the residuals were compared with the
  # response's size, 1e9, not its spread), where a constant level is still
  # named.
  fit <- glmm(y ~ grp + (1 | g), data = d, dispformula = ~ grp)
  expect_true(is.finite(logLik(fit)))
  d9 <- transform(d, y = y + 1e9)
  f9 <- glmm(y ~ grp + (1 | g), data = d9, dispformula = ~ grp)
  expect_equal(as.numeric(logLik(f9)), as.numeric(logLik(fit)), tolerance = 1e-8)
  expect_equal(unname(f9$theta[-1]), unname(fit$theta[-1]), tolerance = 1e-5)
  expect_error(glmm(y ~ grp + (1 | g), data = transform(dc, y = y + 1e9), dispformula = ~ grp),
               "dispersion level grp = C are fitted exactly")
  # nbinom1: a vanishing dispersion is the Poisson limit, bounded; not refused.
  dn <- d
  dn$y <- rpois(72, 3)
  dn$y[dn$grp == "C"] <- 2
  expect_s3_class(suppressWarnings(glmm(y ~ grp + (1 | g), data = dn, family = nbinom1(),
                                        dispformula = ~ grp)), "glmmgee_glmm")
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ grp + (1 | g), data = dc, dispformula = ~ grp))
  ll <- suppressWarnings(as.numeric(logLik(tmb)))
  # glmmTMB: NA or a log-likelihood far above the data's (unbounded).
  expect_true(is.na(ll) || ll > 100)
})
