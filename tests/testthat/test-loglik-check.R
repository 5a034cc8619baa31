# loglik_check(): the fit's log-likelihood beside one of known error, on
# designs where the exact value is known by another route (nested
# quadrature, many-point one-factor quadrature, gaussian closed form).

nested_binary <- function(seed, H = 20L) {
  set.seed(seed)
  d <- expand.grid(patient = 1:4, ward = 1:4, hospital = seq_len(H))
  d$x <- rnorm(nrow(d))
  d$y <- rbinom(nrow(d), 1, plogis(-0.5 + d$x + rnorm(H)[d$hospital] +
                                     1.5 * rnorm(4 * H)[(d$hospital - 1) * 4 + d$ward]))
  d
}

# The nested quadrature log-likelihood (15 points) at the estimates of `fit`
# (a Laplace fit of the same nested model): its engine in the same order;
# with the quadrature fit's estimates as attribute "theta".
nested_exact_at <- function(fit, data, family) {
  fq <- glmm(fit$formula, data = data, family = family, nAGQ = 15)
  pe <- profile_engine(fq)
  structure(pe$eval(theta_star(as.numeric(fit$theta), pe$Tx))$loglik, theta = as.numeric(fq$theta))
}

test_that("importance sampling agrees with nested quadrature within 3 Monte Carlo SEs and finds Laplace's error", {
  d <- nested_binary(4)
  fl <- glmm(y ~ x + (1 | hospital/ward), data = d, family = binomial)
  exact <- nested_exact_at(fl, d, binomial)
  ck <- loglik_check(fl, draws = 3000, seed = 1)
  expect_s3_class(ck, "glmmgee_loglik_check")
  expect_equal(ck$fit_loglik, as.numeric(logLik(fl)))
  expect_lt(abs(ck$loglik - exact), 3 * ck$se)
  expect_lt(ck$se, 0.2)
  # Laplace is off by more than a log-likelihood unit here, and the check
  # says so (the exact value is higher).
  expect_gt(exact - ck$fit_loglik, 1)
  expect_gt(ck$difference / ck$se, 5)
  expect_output(print(ck), "moves likelihood-ratio tests and AIC")
  # One Newton step on the sampled log-likelihood moves the variance
  # components towards the quadrature fit's, the wards' (Laplace's largest
  # error) most of the way, well beyond its Monte Carlo error.
  sh <- ck$shift
  th_q <- attr(exact, "theta")
  vc <- 3:4
  expect_true(all(abs(sh$one_step[vc] - th_q[vc]) < abs(sh$estimate[vc] - th_q[vc])))
  expect_lt(abs(sh$one_step[3] - th_q[3]), 0.25 * abs(sh$estimate[3] - th_q[3]))
  expect_gt(sh$shift_se[3], 5 * sh$mc_se[3])
  expect_output(print(ck), "would move by more than a tenth of a standard error")
  # Poisson counts, a second data set
  set.seed(8)
  d2 <- expand.grid(rep = 1:3, class = 1:5, school = 1:25)
  d2$x <- rnorm(nrow(d2))
  d2$y <- rpois(nrow(d2), exp(0.2 + 0.4 * d2$x + rnorm(25, sd = 0.7)[d2$school] +
                                rnorm(125, sd = 0.6)[(d2$school - 1) * 5 + d2$class]))
  fp <- glmm(y ~ x + (1 | school/class), data = d2, family = poisson)
  exact_p <- nested_exact_at(fp, d2, poisson)
  ckp <- loglik_check(fp, draws = 3000, seed = 2)
  expect_lt(abs(ckp$loglik - exact_p), 3 * ckp$se)
})

test_that("one-factor fits are checked by many-point quadrature, gaussian ones are exact", {
  data(cbpp, package = "lme4")
  form <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  f1 <- glmm(form, data = cbpp, family = binomial, nAGQ = 1)
  ck <- loglik_check(f1)
  f25 <- glmm(form, data = cbpp, family = binomial, nAGQ = 25)
  pe <- profile_engine(f25)
  expect_equal(ck$loglik, pe$eval(theta_star(as.numeric(f1$theta), pe$Tx))$loglik, tolerance = 1e-10)
  expect_identical(ck$se, 0)
  expect_gt(ck$difference, 0.01)
  # one Newton step on the 25-point log-likelihood lands near its maximum
  expect_equal(ck$shift$one_step, unname(as.numeric(f25$theta)), tolerance = 1e-3)
  expect_output(print(ck), "less than a tenth of a standard error")
  # with enough nodes the fit is exact and the check agrees
  expect_lt(abs(loglik_check(f25, nodes = 30)$difference), 1e-8)
  data(sleepstudy, package = "lme4")
  fg <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
  ckg <- loglik_check(fg)
  expect_identical(ckg$difference, 0)
  expect_output(print(ckg), "exact to 1e-6")
})

test_that("a random slope by quadrature is checked on the basis the fit's search ran on", {
  # Quadrature with two effects per group is not invariant to their basis;
  # the fit maximized it on the centred slope, so the check at the fit's
  # own rule gives the fit's value, and its gradient there is about 0.
  set.seed(3)
  M <- 40; m <- 10; g <- rep(seq_len(M), each = m); x <- rnorm(M * m) + 3
  b <- cbind(rnorm(M, 0, 0.6), rnorm(M, 0, 0.3))[g, ]
  d <- data.frame(y = rpois(M * m, exp(-1 + 0.5 * x + b[, 1] + b[, 2] * (x - 3))), x = x, g = g)
  fit <- glmm(y ~ x + (1 + x | g), data = d, family = poisson, nAGQ = 3)
  ck <- loglik_check(fit, nodes = 3)
  expect_lt(abs(ck$difference), 1e-8)
  expect_lt(max(abs(ck$shift$shift)), 1e-4)
  # and with more points it measures the error of three
  expect_gt(abs(loglik_check(fit, nodes = 15)$difference), 0.01)
})

test_that("loglik_check(): seeds reproduce, the session's stream is left alone, bad input is named", {
  data(cbpp, package = "lme4")
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
              data = cbpp, family = binomial)
  set.seed(99)
  before <- .Random.seed
  a <- loglik_check(fit, draws = 500, seed = 5)
  expect_identical(.Random.seed, before)
  expect_identical(loglik_check(fit, draws = 500, seed = 5)$loglik, a$loglik)
  expect_false(identical(loglik_check(fit, draws = 500, seed = 6)$loglik, a$loglik))
  expect_error(loglik_check(fit, draws = 10), "'draws' must be a whole number of at least 100")
  expect_error(loglik_check(fit, df = 0), "'df' must be a positive number")
  expect_error(loglik_check(fit, nodes = 1), "'nodes' must be a whole number")
  expect_error(loglik_check(fit, seed = "a"), "'seed' must be one number")
  expect_error(loglik_check(lm(incidence ~ period, cbpp)), "'fit' must be a glmm\\(\\) fit")
  # (a fit only for its refusal: its warnings do not matter here)
  fz <- suppressWarnings(glmm(incidence ~ period + (1 | herd) + (1 | obs), data = cbpp,
                              family = poisson, ziformula = ~ 1))
  expect_error(loglik_check(fz), "not available for zero-inflated, hurdle or dispersion-formula fits with several")
})

test_that("zero-inflated, nested-quadrature and known-covariance fits are checked too", {
  set.seed(5)
  M <- 40
  d <- data.frame(g = rep(seq_len(M), each = 8), x = rnorm(M * 8))
  d$y <- rpois(nrow(d), exp(0.5 + 0.3 * d$x + rnorm(M, sd = 0.7)[d$g])) * rbinom(nrow(d), 1, 0.8)
  # zero-inflated Poisson by Laplace: one step on the 25-point
  # log-likelihood lands on the 25-point fit
  fz <- glmm(y ~ x + (1 | g), d, poisson, ziformula = ~ 1, nAGQ = 1)
  fz25 <- glmm(y ~ x + (1 | g), d, poisson, ziformula = ~ 1, nAGQ = 25)
  ck <- loglik_check(fz)
  expect_match(ck$method, "25 points")
  expect_equal(ck$loglik, fz25$loglik, tolerance = 1e-5)
  expect_equal(ck$shift$one_step, unname(as.numeric(fz25$theta)), tolerance = 1e-4)
  # nested quadrature with 3 points, checked with 25
  dn <- nested_binary(4)
  fn3 <- glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 3)
  ckn <- loglik_check(fn3, nodes = 15)
  pe <- profile_engine(glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 15))
  expect_equal(ckn$loglik, pe$eval(theta_star(as.numeric(fn3$theta), pe$Tx))$loglik, tolerance = 1e-10)
  expect_gt(ckn$difference, 0.1)
  # a known covariance equal to the identity is the random intercept: the
  # importance-sampled value agrees with its 25-point quadrature
  d$yb <- rbinom(nrow(d), 1, plogis(0.3 * d$x + rnorm(M)[d$g]))
  K <- diag(M)
  dimnames(K) <- list(seq_len(M), seq_len(M))
  fk <- glmm(yb ~ x + (1 | g), d, binomial, covariance = list(g = K))
  ckk <- loglik_check(fk, draws = 4000, seed = 3)
  f1 <- glmm(yb ~ x + (1 | g), d, binomial, nAGQ = 25)
  pe1 <- profile_engine(f1)
  exact <- pe1$eval(theta_star(as.numeric(fk$theta), pe1$Tx))$loglik
  expect_lt(abs(ckk$loglik - exact), 3 * ckk$se)
  # refusals name what is not checked
  data(cbpp, package = "lme4")
  cbpp$sev <- cut(cbpp$incidence / cbpp$size, c(-Inf, 0, 0.1, Inf))
  fo <- suppressWarnings(glmm(sev ~ period + (1 | herd), cbpp, family = cumulative()))
  expect_error(loglik_check(fo), "not available for fits of the ordinal_agq engine")
})

test_that("location-scale fits by quadrature are checked by many-point quadrature", {
  # Random effects in the mean and the dispersion, with and without a zero
  # part: the 25-point value is each cluster's double integral (written out
  # by integrate() in helper-dispersion-random.R), and one Newton step
  # lands on the many-point fit. (The check read the several-term layout's
  # Z as 13 effects per cluster and set the wrong engine's rule.)
  d <- location_scale_data(m = 12, k = 20, family = "nbinom2", d = c(0.3, 0.4), sv = 0.6,
                           seed = 1)
  set.seed(1)
  d$y <- d$y * stats::rbinom(nrow(d), 1, 0.8)
  nb <- function(y, eta, ld) stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE)
  for (zi in c(FALSE, TRUE)) {
    zf <- if (zi) ~ 1
    f5 <- glmm(y ~ x + (1 | g), data = d, family = nbinom2(), ziformula = zf,
               dispformula = ~ z + (1 | g), nAGQ = 5)
    ck <- loglik_check(f5)
    logdens <- if (!zi) nb else {
      pz <- stats::plogis(f5$aux$zi$coef[[1]])
      function(y, eta, ld) ifelse(y == 0, log(pz + (1 - pz) * exp(nb(y, eta, ld))),
                                  log1p(-pz) + nb(y, eta, ld))
    }
    ref <- reference_location_scale_integral(location_scale_par(f5), d$y, cbind(1, d$x),
                                             cbind(1, d$z), d$g, logdens)
    expect_equal(ck$loglik, sum(ref), tolerance = 1e-6, info = zi)
    expect_equal(ck$fit_loglik, as.numeric(logLik(f5)), info = zi)
    f25 <- glmm(y ~ x + (1 | g), data = d, family = nbinom2(), ziformula = zf,
                dispformula = ~ z + (1 | g), nAGQ = 25)
    expect_lt(max(abs(ck$shift$one_step - f25$theta)), 0.01 * max(abs(f5$theta - f25$theta)) +
                1e-4, label = paste("one step, zi =", zi))
  }
})
