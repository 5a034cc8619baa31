# glmm() with the negative binomial (nbinom2) and Gamma(log) families:
# analytic gradients in the log-dispersion, fits against glmmTMB on data
# shipped with R packages and on simulated data with known truth, AGHQ
# convergence in nAGQ, and bad input.

test_that("analytic gradient in beta, Lambda and the log-dispersion equals numDeriv", {
  skip_if_not_installed("numDeriv")
  set.seed(17)
  M <- 25; ni <- 5; n <- M * ni
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(n)
  X <- cbind(1, x, rbinom(n, 1, 0.5))
  b <- matrix(rnorm(2 * M, 0, 0.6), M)
  off <- rnorm(n, 0, 0.3)
  eta <- drop(X %*% c(0.5, 0.4, -0.3)) + b[g, 1] + b[g, 2] * x + off
  w <- runif(n, 0.5, 2)
  ys <- list(nbinom2 = rnbinom(n, size = 1.5, mu = exp(eta)),
             Gamma = rgamma(n, shape = 2, rate = 2 / exp(eta)))
  worst <- 0
  for (fn in names(ys)) for (q in 1:2) for (K in c(1L, 3L, 6L)) {
    fam <- glmmgee:::resolve_family(if (fn == "Gamma") Gamma("log") else nbinom2())
    Z <- if (q == 1) matrix(1, n, 1) else cbind(1, x)
    pat <- glmmgee:::block_pattern(q)
    eng <- glmmgee:::cpp_agq_new(X, Z, as.numeric(ys[[fn]]), w, off, g, M, pat$row - 1L,
                                 pat$col - 1L, fam$family_code, fam$link_code, K, 1L)
    theta <- c(0.4, 0.3, -0.2, c(0.7, -0.2, 0.5)[seq_along(pat$row)], log(1.3))
    an <- glmmgee:::cpp_agq_eval(eng, theta, TRUE)$gradient
    nd <- numDeriv::grad(function(th) {
      glmmgee:::cpp_agq_reset(eng)
      glmmgee:::cpp_agq_eval(eng, th, FALSE)$loglik
    }, theta)
    rel <- max(abs(an - nd)) / max(abs(nd))
    worst <- max(worst, rel)
    expect_lt(rel, 1e-7, label = sprintf("%s, q = %d, nAGQ = %d", fn, q, K))
  }
  expect_lt(worst, 1e-7)
})

test_that("negative binomial on MASS::epil matches glmmTMB (Laplace)", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("MASS")
  d <- transform(MASS::epil, lbase = log(base / 4), lage = log(age))
  f <- y ~ trt + lbase + lage + V4 + (1 | subject)
  ours <- glmm(f, data = d, family = nbinom2(), nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(f, data = d, family = glmmTMB::nbinom2())
  expect_as_glmmtmb(ours, tmb)
  expect_equal(ours$family_par$estimate, sigma(ours))
  # SE of theta: delta method from the same log-scale information
  se_log_tmb <- sqrt(vcov(tmb, full = TRUE)[tmb_disp_label("(Intercept)"), tmb_disp_label("(Intercept)")])
  expect_equal(ours$family_par$se_log, unname(se_log_tmb), tolerance = 2e-3)
  expect_output(print(ours), "Negative binomial dispersion theta: ")
  expect_output(print(summary(ours)), "theta: .*\\(SE ")
  expect_identical(family(ours)$theta, sigma(ours))
  # residuals use the variance at the fitted theta
  mu <- fitted(ours)
  expect_equal(unname(residuals(ours, "pearson")),
               unname((d$y - mu) / sqrt(mu + mu^2 / sigma(ours))))
})

test_that("negative binomial on glmmTMB::Salamanders and lme4::grouseticks matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  f1 <- count ~ mined + spp + (1 | site)
  ours <- glmm(f1, data = e$Salamanders, family = nbinom2, nAGQ = 1)
  expect_as_glmmtmb(ours, glmmTMB::glmmTMB(f1, data = e$Salamanders,
                                            family = glmmTMB::nbinom2()))
  utils::data("grouseticks", package = "lme4", envir = e)
  gt <- e$grouseticks
  gt$cHEIGHT <- (gt$HEIGHT - mean(gt$HEIGHT)) / 50
  f2 <- TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)
  ours <- glmm(f2, data = gt, family = nbinom2, nAGQ = 1)
  expect_as_glmmtmb(ours, glmmTMB::glmmTMB(f2, data = gt, family = glmmTMB::nbinom2()))
})

sim_nb_gamma <- function(family, seed, M = 250, ni = 6) {
  set.seed(seed)
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  trt <- rep(rbinom(M, 1, 0.5), each = ni)
  truth <- list(beta = c(0.8, 0.5, -0.4), sd = 0.6, disp = if (family == "nbinom2") 2.5 else 3)
  eta <- truth$beta[1] + truth$beta[2] * x + truth$beta[3] * trt + rnorm(M, 0, truth$sd)[g]
  y <- if (family == "nbinom2") rnbinom(M * ni, size = truth$disp, mu = exp(eta))
       else rgamma(M * ni, shape = truth$disp, rate = truth$disp / exp(eta))
  list(data = data.frame(y = y, x = x, trt = trt, g = factor(g)), truth = truth)
}

test_that("simulated data: estimates near the truth and equal to glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  for (fn in c("nbinom2", "Gamma")) {
    s <- sim_nb_gamma(fn, seed = if (fn == "nbinom2") 21 else 22)
    fam <- if (fn == "Gamma") Gamma(link = "log") else nbinom2()
    ours <- glmm(y ~ x + trt + (1 | g), data = s$data, family = fam, nAGQ = 1)
    tmb <- glmmTMB::glmmTMB(y ~ x + trt + (1 | g), data = s$data,
                            family = if (fn == "Gamma") Gamma(link = "log") else glmmTMB::nbinom2())
    expect_as_glmmtmb(ours, tmb)
    # within 4 standard errors of the truth
    se <- sqrt(diag(vcov(ours, full = TRUE)))
    z_beta <- (fixef(ours) - s$truth$beta) / se[1:3]
    expect_true(all(abs(z_beta) < 4), info = fn)
    z_disp <- (log(ours$family_par$estimate) - log(s$truth$disp)) / ours$family_par$se_log
    expect_lt(abs(z_disp), 4)
    expect_lt(abs(attr(VarCorr(ours)[[1]], "stddev") - s$truth$sd), 4 * se[4])
    if (fn == "Gamma") expect_equal(sigma(ours), 1 / sqrt(ours$family_par$estimate))
  }
})

test_that("AGHQ fits settle as nAGQ grows and match glmmTMB's Laplace at nAGQ = 1", {
  s <- sim_nb_gamma("nbinom2", seed = 5, M = 60, ni = 3)
  fits <- lapply(c(1L, 5L, 9L, 15L, 25L), function(K)
    glmm(y ~ x + trt + (1 | g), data = s$data, family = nbinom2, nAGQ = K))
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 1)
  th <- vapply(fits, sigma, 1)
  # successive changes shrink; the last ones are negligible
  d <- abs(diff(ll))
  expect_lt(d[4], d[1])
  expect_lt(d[4], 1e-5)
  expect_lt(abs(diff(th))[4], 1e-3 * th[5])
  expect_lt(max(abs(fixef(fits[[4]]) - fixef(fits[[5]]))), 1e-4)
  for (f in fits) expect_length(f$optinfo$warnings, 0)
})

test_that("bad input: non-count NB response, non-positive Gamma response, bad start", {
  d <- data.frame(y = c(0, 1, 2.5, 3, 4, 1), g = rep(1:3, 2))
  expect_error(glmm(y ~ (1 | g), data = d, family = nbinom2),
               "nbinom2\\) response must be a count.*2.5")
  d$y <- c(0, 1, 2, -3, 4, 1)
  expect_error(glmm(y ~ (1 | g), data = d, family = nbinom2), "must be a count.*-3")
  d$y <- c(0.5, 1, 2, 0, 4, 1)
  expect_error(glmm(y ~ (1 | g), data = d, family = Gamma("log")),
               "Gamma response must be positive; found 0")
  expect_error(glmm_fit(matrix(1, 6), c(1, 2, 3, 1.5, 2, 0), matrix(1, 6), rep(1:3, 2),
                        family = nbinom2), "must be a count")
  s <- sim_nb_gamma("nbinom2", seed = 1, M = 30, ni = 4)$data
  X <- model.matrix(~ x, s)
  expect_error(glmm_fit(X, s$y, matrix(1, nrow(s)), s$g, nbinom2,
                        start = list(beta = c(0, 0), lambda = 1)), "'theta'")
  f <- glmm_fit(X, s$y, matrix(1, nrow(s)), s$g, nbinom2, nAGQ = 1,
                start = list(beta = c(0.5, 0.5), lambda = 0.5, theta = 2))
  f0 <- glmm_fit(X, s$y, matrix(1, nrow(s)), s$g, nbinom2, nAGQ = 1)
  expect_equal(f$loglik, f0$loglik, tolerance = 1e-8)
  expect_identical(names(f$theta)[4], "log(theta)")
})
