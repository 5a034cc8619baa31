# Cumulative link mixed models (family = cumulative()) against ordinal::clmm,
# the engine's gradient against numerical differentiation, simulated data
# with known truth, and the methods.

wine_fits <- local({
  cache <- NULL
  function() {
    if (is.null(cache)) {
      # data named in the call itself, so that update() can evaluate it again.
      w <- ordinal::wine
      cache <<- list(
        lap = glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
                   family = cumulative("logit"), nAGQ = 1),
        agq = glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
                   family = cumulative("logit"), nAGQ = 10),
        clmm_lap = ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w),
        clmm_agq = ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, nAGQ = 10))
    }
    cache
  }
})

expect_matches_clmm <- function(ours, ref, tol = 2e-4) {
  # Same model and approximation: the log-likelihoods agree, and ours is no
  # lower than the same approximation at clmm's estimates. (clmm's Laplace
  # value is not evaluated at the exact conditional modes: it can differ from
  # the approximation at its own estimates by ~1e-6.)
  at_ref <- glmmgee:::ordinal_loglik_at(ours, ref$alpha, ref$beta, ref$ST[[1]][1, 1])
  expect_gte(ours$loglik, at_ref - 1e-9)
  expect_equal(ours$loglik, ref$logLik, tolerance = 1e-7)
  expect_equal(unname(ours$thresholds), unname(ref$alpha), tolerance = tol)
  expect_equal(unname(fixef(ours)), unname(ref$beta), tolerance = tol)
  expect_equal(ours$sigma_re, unname(ref$ST[[1]][1, 1]), tolerance = tol)
  k <- length(ours$thresholds) + length(fixef(ours))
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(ref)))[seq_len(k)]),
               tolerance = 1e-3)
}

test_that("wine: Laplace and adaptive quadrature match clmm", {
  skip_if_not_installed("ordinal")
  f <- wine_fits()
  expect_matches_clmm(f$lap, f$clmm_lap)
  expect_matches_clmm(f$agq, f$clmm_agq)
  expect_identical(names(f$lap$thresholds), c("1|2", "2|3", "3|4", "4|5"))
  expect_identical(names(coef(f$lap)), c("1|2", "2|3", "3|4", "4|5", "tempwarm", "contactyes"))
  expect_true(all(diff(f$agq$thresholds) > 0))
  expect_equal(as.numeric(logLik(f$agq)), f$agq$loglik)
  expect_identical(attr(logLik(f$agq), "df"), 7L)
  expect_equal(AIC(f$lap), -2 * f$lap$loglik + 14)
})

test_that("wine, probit link: matches clmm (Laplace)", {
  skip_if_not_installed("ordinal")
  ours <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
               family = cumulative("probit"), nAGQ = 1)
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine, link = "probit")
  expect_matches_clmm(ours, ref)
})

test_that("cloglog link: clm's likelihood in the limit sigma -> 0, and ours higher than clmm's", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  ref0 <- ordinal::clm(rating ~ temp + contact, data = w, link = "cloglog")
  ours <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative("cloglog"),
               nAGQ = 10)
  expect_equal(glmmgee:::ordinal_loglik_at(ours, ref0$alpha, ref0$beta, 1e-8), ref0$logLik,
               tolerance = 1e-8)
  # clmm(link = "cloglog") reports a lower maximum (-82.73 against our
  # -81.53 at nAGQ = 10) with thresholds far from clm's: its mixed-model
  # likelihood for this link is not clm's F; we only require ours not lower.
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, link = "cloglog",
                       nAGQ = 10)
  expect_gte(ours$loglik, ref$logLik)
})

test_that("soup: SURENESS ~ PROD + (1 | RESP) matches clmm (Laplace)", {
  skip_if_not_installed("ordinal")
  soup <- ordinal::soup
  ours <- glmm(SURENESS ~ PROD + (1 | RESP), data = soup, family = cumulative("logit"), nAGQ = 1)
  ref <- ordinal::clmm(SURENESS ~ PROD + (1 | RESP), data = soup)
  expect_matches_clmm(ours, ref)
})

test_that("the engine's log-likelihood is clmm's at clmm's estimates, for each link and nAGQ", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine[order(ordinal::wine$judge), ]
  X <- model.matrix(~ temp + contact, w)[, -1]
  st <- c(0L, cumsum(tabulate(as.integer(w$judge))))
  for (lk in c("logit", "probit")) for (K in c(1L, 7L)) {
    ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, link = lk, nAGQ = K)
    r <- glmmgee:::cpp_ordinal_loglik(as.integer(w$rating), X, rep(0, 72), rep(1, 72), st, 5L,
                                      ref$alpha, ref$beta, log(ref$ST[[1]][1, 1]), K,
                                      cumulative(lk)$link_code, FALSE)
    # Exact at nAGQ > 1; clmm's Laplace value is taken at inexact modes.
    expect_equal(r$loglik, ref$logLik, tolerance = if (K == 1L) 1e-7 else 1e-10,
                 label = paste(lk, K))
  }
})

# The Laplace approximation of a random-intercept logit model computed here
# in R, independently of the engine: per cluster the mode of
# h(u) = sum_i log p_i(u) - u^2 / 2 by Newton's method to rounding, and
# log L = sum_c [h_c(u^) - log(-h_c''(u^)) / 2] (the N(0, 1) density's
# 1 / sqrt(2 pi) cancels the Laplace integral's sqrt(2 pi)).
laplace_direct <- function(y, X, g, theta, beta, sigma) {
  th <- c(-Inf, theta, Inf)
  eta0 <- drop(X %*% beta)
  total <- 0
  for (rows in split(seq_along(y), g)) {
    a <- th[y[rows] + 1L] - eta0[rows]
    b <- th[y[rows]] - eta0[rows]
    h <- function(u) {
      Fa <- plogis(a - sigma * u); Fb <- plogis(b - sigma * u)
      fa <- dlogis(a - sigma * u); fb <- dlogis(b - sigma * u)
      pr <- Fa - Fb
      d1 <- -sigma * (fa - fb) / pr                       # d log p / du
      d2 <- sigma^2 * (fa * (1 - 2 * Fa) - fb * (1 - 2 * Fb)) / pr - d1^2
      c(h = sum(log(pr)) - u^2 / 2, h1 = sum(d1) - u, h2 = sum(d2) - 1)
    }
    u <- 0
    for (it in 1:100) {
      v <- h(u)
      step <- -v[["h1"]] / v[["h2"]]
      u <- u + step
      if (abs(step) < 1e-14) break
    }
    v <- h(u)
    total <- total + v[["h"]] - 0.5 * log(-v[["h2"]])
  }
  total
}

test_that("wine and soup, Laplace: our logLik is the approximation's maximum, not below clmm's", {
  skip_if_not_installed("ordinal")
  # clmm's reported Laplace value on wine is 3.5e-6 above ours: its inner
  # Newton iterations for the modes stop at max |gradient| < 1e-4
  # (clmm.control(gradTol)), and the log-determinant at an inexact mode
  # moves linearly with the mode's error. With the modes solved
  # (gradTol = 1e-8) clmm's maximum is at or below ours.
  f <- wine_fits()
  w <- ordinal::wine
  X <- model.matrix(~ temp + contact, w)[, -1]
  y <- as.integer(w$rating)
  ours <- f$lap
  expect_equal(laplace_direct(y, X, w$judge, ours$thresholds, fixef(ours), ours$sigma_re),
               ours$loglik, tolerance = 1e-12)
  ref <- f$clmm_lap
  at_ref <- laplace_direct(y, X, w$judge, ref$alpha, ref$beta, ref$ST[[1]][1, 1])
  expect_gte(ours$loglik, at_ref)
  tight <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w,
                         control = ordinal::clmm.control(gradTol = 1e-8, innerCtrl = "noWarn"))
  expect_gte(ours$loglik, tight$logLik - 1e-9)
  expect_equal(ours$loglik, tight$logLik, tolerance = 1e-10)
  soup <- ordinal::soup
  so <- glmm(SURENESS ~ PROD + (1 | RESP), data = soup, family = cumulative("logit"), nAGQ = 1)
  Xs <- model.matrix(~ PROD, soup)[, -1, drop = FALSE]
  expect_equal(laplace_direct(as.integer(soup$SURENESS), Xs, soup$RESP, so$thresholds, fixef(so),
                              so$sigma_re), so$loglik, tolerance = 1e-12)
  # (on soup some clusters' modes stop at rounding above 1e-8: not warned)
  st <- ordinal::clmm(SURENESS ~ PROD + (1 | RESP), data = soup,
                      control = ordinal::clmm.control(gradTol = 1e-8, innerCtrl = "noWarn"))
  expect_gte(so$loglik, st$logLik - 1e-9)
})

# 60 rows in 12 clusters, 4 categories (all present), weights and offsets:
# the engine-level data of the gradient and Hessian checks below.
ordinal_engine_data <- function() {
  set.seed(3)
  n <- 60; M <- 12
  g <- sort(sample(M, n, replace = TRUE))
  X <- cbind(rnorm(n), rbinom(n, 1, 0.4))
  y <- sample(1:4, n, replace = TRUE)
  y[1:4] <- 1:4
  off <- rnorm(n, 0, 0.3); wt <- runif(n, 0.5, 2)
  list(y = y, X = X, off = off, wt = wt, st = c(0L, cumsum(tabulate(g, M))))
}

test_that("the gradient is exact: numDeriv agrees, with weights and offsets, every link", {
  skip_if_not_installed("numDeriv")
  sim <- ordinal_engine_data()
  y <- sim$y; X <- sim$X; off <- sim$off; wt <- sim$wt; st <- sim$st
  for (lk in 0:2) for (K in c(1L, 6L)) {
    f <- function(par) glmmgee:::cpp_ordinal_loglik(y, X, off, wt, st, 4L, par[1:3], par[4:5],
                                                    par[6], K, lk, TRUE)
    par <- c(-0.7, 0.2, 1.1, 0.4, -0.5, log(0.8))
    nd <- numDeriv::grad(function(p) f(p)$loglik, par)
    expect_equal(f(par)$gradient, nd, tolerance = 1e-6, label = paste("link", lk, "nAGQ", K))
  }
})

test_that("the search in C++ reaches the maximum nlminb finds, every link; bad sizes refused", {
  sim <- ordinal_engine_data()
  y <- sim$y; X <- sim$X; off <- sim$off; wt <- sim$wt; st <- sim$st
  to_theta <- function(a) cumsum(c(a[1L], exp(a[-1L])))
  par0 <- c(-1, log(1), log(1), 0, 0, 0)
  lower <- c(rep(-Inf, 5), log(1e-6))
  for (lk in 0:2) for (K in c(1L, 5L)) {
    lab <- paste("link", lk, "nAGQ", K)
    r <- glmmgee:::cpp_ordinal_search(y, X, off, wt, st, 4L, par0, K, lk, NULL, NULL, lower,
                                      50L, 1e-12)
    expect_true(r$converged, label = lab)
    ll <- function(par) glmmgee:::cpp_ordinal_loglik(y, X, off, wt, st, 4L, to_theta(par[1:3]),
                                                     par[4:5], par[6], K, lk, TRUE)
    # nlminb from the same start without our gradient or steps
    ref <- nlminb(par0, function(p) -ll(p)$loglik, lower = lower)
    expect_gte(ll(r$par)$loglik, -ref$objective - 1e-9, label = lab)
    expect_equal(dim(r$hessian), c(6L, 6L))
  }
  expect_error(glmmgee:::cpp_ordinal_search(y, X, off, wt, st, 4L, par0[-1], 1L, 0L, NULL, NULL,
                                            lower, 50L, 1e-12), "'par0'")
  expect_error(glmmgee:::cpp_ordinal_search(y, X, off, wt, st, 4L, par0, 1L, 0L, NULL, diag(5),
                                            lower, 50L, 1e-12), "'H0'")
  expect_error(glmmgee:::cpp_ordinal_search(y, X, off, wt, st, 4L, par0, 1L, 0L, 1:3, NULL,
                                            lower, 50L, 1e-12), "'mode_start'")
})

test_that("the engine's Hessian (central differences of the exact gradient) is numDeriv's", {
  skip_if_not_installed("numDeriv")
  sim <- ordinal_engine_data()
  y <- sim$y; X <- sim$X; off <- sim$off; wt <- sim$wt; st <- sim$st
  par <- c(-0.7, 0.2, 1.1, 0.4, -0.5, log(0.8))
  for (lk in 0:2) for (K in c(1L, 6L)) {
    f <- function(p, h = 0L) glmmgee:::cpp_ordinal_loglik(y, X, off, wt, st, 4L, p[1:3], p[4:5],
                                                          p[6], K, lk, TRUE, NULL, TRUE, h)
    # numDeriv's Richardson extrapolation of the exact gradient: ~1e-10.
    ref <- numDeriv::jacobian(function(p) f(p)$gradient, par)
    ref <- (ref + t(ref)) / 2
    lab <- paste("link", lk, "nAGQ", K)
    expect_lt(max(abs(f(par, 2L)$hessian - ref)), 1e-6 * max(abs(ref)), label = lab)
    # forward differences (the search's start): ~1e-5
    expect_lt(max(abs(f(par, 1L)$hessian - ref)), 1e-3 * max(abs(ref)), label = lab)
  }
  # The fit's standard errors: the observed information at the optimum.
  fit <- wine_fits()$agq
  w <- ordinal::wine[order(ordinal::wine$judge), ]
  Xw <- model.matrix(~ temp + contact, w)[, -1]
  stw <- c(0L, cumsum(tabulate(as.integer(w$judge))))
  gw <- function(p) glmmgee:::cpp_ordinal_loglik(as.integer(w$rating), Xw, rep(0, 72),
                                                 rep(1, 72), stw, 5L, p[1:4], p[5:6], p[7], 10L,
                                                 0L, TRUE)$gradient
  Hw <- numDeriv::jacobian(gw, unname(fit$psi))
  Hw <- (Hw + t(Hw)) / 2
  expect_equal(sqrt(diag(fit$cov_psi)), sqrt(diag(solve(-Hw))), tolerance = 1e-6,
               ignore_attr = TRUE)
  expect_error(glmmgee:::cpp_ordinal_loglik(y, X, off, wt, st, 4L, par[1:3], par[4:5], par[6],
                                            1L, 0L, TRUE, NULL, TRUE, 4L), "'hessian'")
})

test_that("the logit fast path computes what the general path computes, tails included", {
  set.seed(5)
  n <- 400; M <- 40
  g <- sort(sample(M, n, replace = TRUE))
  X <- cbind(rnorm(n), rbinom(n, 1, 0.4))
  y <- sample(1:5, n, replace = TRUE)
  st <- c(0L, cumsum(tabulate(g, M)))
  ev <- function(par, wt, K, fast)
    glmmgee:::cpp_ordinal_loglik(y, X, rep(0, n), wt, st, 5L, par[1:4], par[5:6], par[7], K,
                                 0L, TRUE, NULL, fast)
  pars <- list(c(-1, 0, 0.5, 2, 0.7, -0.4, log(1.2)),
               # far tails: category probabilities near 1e-130, a large sigma
               c(-60, -20, 25, 70, 3, -2, log(15)),
               c(-0.2, -0.1, 0.05, 0.1, 0, 0, log(1e-4)))
  for (par in pars) for (K in c(1L, 7L)) for (wt in list(rep(1, n), runif(n, 0.3, 3))) {
    a <- ev(par, wt, K, TRUE)
    b <- ev(par, wt, K, FALSE)
    lab <- sprintf("sigma %g, nAGQ %d", exp(par[7]), K)
    expect_equal(a$loglik, b$loglik, tolerance = 1e-12, label = lab)
    expect_equal(a$gradient, b$gradient, tolerance = 1e-9, label = lab)
    for (nm in c("mode", "scale", "post_mean", "post_var", "cluster_loglik"))
      expect_equal(a[[nm]], b[[nm]], tolerance = 1e-9, label = paste(lab, nm))
  }
})

sim_ordinal <- function(M, m, theta, beta, sigma, seed) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = m)), x = rnorm(M * m),
                  z = rbinom(M * m, 1, 0.5))
  b <- rnorm(M, 0, sigma)[d$g]
  eta <- beta[1] * d$x + beta[2] * d$z + b
  u <- rlogis(M * m)
  d$y <- ordered(findInterval(eta + u, theta) + 1L)
  d
}

test_that("simulated data: known truth recovered, clmm matched, scale invariance", {
  skip_if_not_installed("ordinal")
  theta <- c(-1, 0.5, 2); beta <- c(1, -0.5); sigma <- 1
  d <- sim_ordinal(150, 8, theta, beta, sigma, seed = 11)
  fit <- glmm(y ~ x + z + (1 | g), data = d, family = cumulative, nAGQ = 7)
  se <- sqrt(diag(vcov(fit, full = TRUE)))
  truth <- c(theta, beta, log(sigma))
  expect_true(all(abs(fit$psi - truth) < 4 * se))
  ref <- ordinal::clmm(y ~ x + z + (1 | g), data = d, nAGQ = 7)
  expect_matches_clmm(fit, ref)
  # Units and location of a covariate change neither the optimum nor the fit.
  d2 <- transform(d, x = 100 * x + 37)
  fit2 <- glmm(y ~ x + z + (1 | g), data = d2, family = cumulative, nAGQ = 7)
  expect_equal(fit2$loglik, fit$loglik, tolerance = 1e-9)
  expect_equal(unname(fixef(fit2)["x"]) * 100, unname(fixef(fit)["x"]), tolerance = 1e-6)
  expect_equal(unname(fit2$thresholds - 37 * fixef(fit2)["x"]), unname(fit$thresholds),
               tolerance = 1e-6)
})

test_that("ranef: modes and conditional variances as clmm's", {
  skip_if_not_installed("ordinal")
  f <- wine_fits()
  re <- ranef(f$lap, condVar = TRUE)
  expect_named(re, "judge")
  expect_equal(re$judge[[1]], ordinal::ranef(f$clmm_lap)$judge[[1]], tolerance = 1e-3)
  expect_equal(unname(attr(re$judge, "condVar")),
               unname(ordinal::condVar(f$clmm_lap)$judge[[1]]), tolerance = 2e-3)
  vc <- VarCorr(f$lap)
  expect_equal(vc$sdcor, f$lap$sigma_re)
})

test_that("predictions: probabilities, population-averaged integral, class, fitted", {
  skip_if_not_installed("ordinal")
  f <- wine_fits()$agq
  P0 <- predict(f, type = "prob")
  expect_equal(unname(rowSums(P0)), rep(1, 72))
  expect_identical(colnames(P0), levels(ordinal::wine$rating))
  Pm <- predict(f, type = "prob_marginal")
  expect_equal(unname(rowSums(Pm)), rep(1, 72))
  # The population-averaged cumulative probability of row 1 by integrate().
  eta <- sum(fixef(f) * f$X[1, ])
  cum1 <- integrate(function(b) plogis(f$thresholds[2] - eta - b) * dnorm(b, 0, f$sigma_re),
                    -Inf, Inf, rel.tol = 1e-10)$value
  expect_equal(sum(Pm[1, 1:2]), cum1, tolerance = 1e-7)
  cl <- predict(f, type = "class", re.form = NULL)
  expect_true(is.ordered(cl))
  Pc <- predict(f, type = "prob", re.form = NULL)
  expect_identical(as.integer(cl), unname(max.col(Pc, ties.method = "first")))
  nd <- ordinal::wine[c(1, 40), ]
  expect_equal(predict(f, newdata = nd, type = "prob", re.form = NULL), Pc[c(1, 40), ],
               ignore_attr = TRUE)
  expect_equal(fitted(f), Pc[cbind(1:72, as.integer(ordinal::wine$rating))])
  s <- simulate(f, nsim = 3, seed = 1)
  expect_identical(dim(s), c(72L, 3L))
  expect_identical(levels(s[[1]]), levels(ordinal::wine$rating))
})

test_that("odds ratios: conditional proportional odds, population-averaged per threshold", {
  skip_if_not_installed("ordinal")
  f <- wine_fits()$agq
  orc <- odds_ratios(f)
  expect_equal(orc$estimate, unname(exp(fixef(f))))
  expect_identical(attr(orc, "view"), "conditional")
  orm <- odds_ratios(f, type = "marginal")
  expect_identical(nrow(orm), 8L)
  expect_identical(attr(orm, "view"), "marginal")
  # Attenuated towards 1 relative to the conditional ratio, and not constant
  # over thresholds (no proportional odds after integrating).
  tw <- orm$estimate[orm$term == "tempwarm"]
  expect_true(all(tw < exp(fixef(f)["tempwarm"])) && all(tw > 1))
  expect_gt(diff(range(log(tw))), 0.05)
  # The per-threshold ratio is that of the averaged marginal probabilities.
  d1 <- d0 <- ordinal::wine
  d1$temp <- factor("warm", levels(d0$temp)); d0$temp <- factor("cold", levels(d0$temp))
  p1 <- colMeans(predict(f, newdata = d1, type = "prob_marginal"))
  p0 <- colMeans(predict(f, newdata = d0, type = "prob_marginal"))
  odds <- function(p) { a <- 1 - cumsum(p)[1:4]; a / (1 - a) }
  expect_equal(tw, unname(odds(p1) / odds(p0)), tolerance = 1e-8)
  expect_error(odds_ratios(glmm(rating ~ temp + (1 | judge), data = ordinal::wine,
                                family = cumulative("probit"), nAGQ = 1)), "logit link")
})

test_that("standardize(): category probabilities averaged over the data", {
  skip_if_not_installed("ordinal")
  f <- wine_fits()$agq
  st <- standardize(f, "temp")
  expect_identical(nrow(st), 10L)
  expect_equal(tapply(st$estimate, st$value, sum), c(cold = 1, warm = 1), ignore_attr = TRUE)
  d1 <- ordinal::wine; d1$temp <- factor("warm", levels(d1$temp))
  expect_equal(st$estimate[st$value == "warm"],
               unname(colMeans(predict(f, newdata = d1, type = "prob_marginal"))), tolerance = 1e-10)
  expect_true(all(st$conf.low >= 0 & st$conf.high <= 1 & st$std.error > 0))
  stc <- standardize(f, "temp", re = "conditional")
  expect_identical(attr(stc, "view"), "typical")
})

test_that("bad input is refused with a clear message", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$num <- as.integer(w$rating)
  expect_error(glmm(num ~ temp + (1 | judge), data = w, family = cumulative), "ordered factor")
  expect_error(glmm(rating ~ temp + (1 | judge) + (1 | bottle), data = w, family = cumulative,
                    nAGQ = 5), "Laplace approximation only")
  expect_error(glmm(rating ~ temp + (1 + temp | judge), data = w, family = cumulative,
                    start = list(theta = 1:4)), "'start' is not available")
  expect_error(cumulative("cauchit"), "'link'")
  expect_error(glmm(rating ~ temp + (1 | judge), data = w, family = cumulative, nAGQ = 0), "'nAGQ'")
  w$rating2 <- factor(w$rating, levels = c(levels(w$rating), "6"))
  # An empty level is dropped with the model frame's unused levels, with the
  # warning ?cumulative promises (the frame dropped it silently before), on
  # every route.
  expect_warning(f <- glmm(rating2 ~ temp + (1 | judge), data = w, family = cumulative, nAGQ = 1),
                 "response 'rating2': level\\(s\\) '6' do not occur and were dropped")
  expect_identical(length(f$thresholds), 4L)
  expect_match(f$optinfo$warnings, "'6' do not occur", all = FALSE)
  expect_warning(glmm(rating2 ~ temp + (1 + temp | judge), data = w, family = cumulative, nAGQ = 1),
                 "'6' do not occur")
  expect_warning(glmm(rating2 ~ temp + (1 | judge) + (1 | bottle), data = w, family = cumulative),
                 "'6' do not occur")
  expect_warning(gee(rating2 ~ temp, data = w, id = judge, family = cumulative),
                 "'6' do not occur")
  expect_error(glmm(rating ~ temp + (1 | judge), data = w, family = cumulative,
                    start = list(theta = c(1, 0, 2, 3))), "increasing")
})

test_that("two categories: the binomial logit GLMM (same logLik, beta, threshold = -intercept)", {
  skip_if_not_installed("MASS")
  b <- MASS::bacteria
  b$yo <- ordered(b$y, levels = c("n", "y"))
  ord <- glmm(yo ~ trt + I(week > 2) + (1 | ID), data = b, family = cumulative, nAGQ = 11)
  bin <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = b, family = binomial, nAGQ = 11)
  expect_equal(ord$loglik, bin$loglik, tolerance = 1e-9)
  expect_equal(unname(c(-ord$thresholds, fixef(ord))), unname(fixef(bin)), tolerance = 1e-5)
  expect_equal(ord$sigma_re, sqrt(bin$D[1, 1]), tolerance = 1e-5)
})

test_that("no between-cluster variation: a singular fit, warned and recorded, at clm's optimum", {
  skip_if_not_installed("ordinal")
  set.seed(1)
  d <- data.frame(g = factor(rep(1:30, each = 5)), x = rnorm(150))
  d$y <- ordered(findInterval(d$x + rlogis(150), c(-1, 0, 1)) + 1)
  expect_warning(f <- glmm(y ~ x + (1 | g), data = d, family = cumulative, nAGQ = 5), "singular")
  expect_true(f$singular)
  expect_match(f$optinfo$warnings, "singular", all = FALSE)
  ref <- ordinal::clm(y ~ x, data = d)
  expect_equal(f$loglik, ref$logLik, tolerance = 1e-6)
  expect_equal(unname(coef(f)), unname(coef(ref)), tolerance = 1e-3)
})

test_that("update() and anova(): likelihood-ratio test between nested fits", {
  skip_if_not_installed("ordinal")
  f <- wine_fits()
  small <- update(f$agq, . ~ . - contact)
  expect_identical(names(fixef(small)), "tempwarm")
  a <- anova(f$agq, small)
  expect_equal(a$Chisq[2], 2 * (f$agq$loglik - small$loglik))
  ref <- ordinal::clmm(rating ~ temp + (1 | judge), data = ordinal::wine, nAGQ = 10)
  expect_equal(small$loglik, ref$logLik, tolerance = 1e-9)
  # The same formula twice (here by two approximations) stopped with
  # "duplicate row.names"; the fits are labelled by their names, as anova()
  # of the other GLMM fits does.
  expect_warning(expect_warning(a2 <- anova(f$agq, f$lap), "0 degrees of freedom"),
                 "different approximations")
  expect_identical(rownames(a2), c("f$agq", "f$lap"))
  expect_match(paste(attr(a2, "heading"), collapse = ""), "different approximations")
  # Other links are not nested models.
  expect_error(anova(f$agq, update(f$agq, family = cumulative("probit"))),
               "not nested.*cumulative\\(logit\\) and cumulative\\(probit\\)")
})

test_that("the covariance and condition number from one eigendecomposition are solve()'s and kappa()'s", {
  fit <- wine_fits()$lap
  H <- unname(fit$hessian)
  info <- glmmgee:::ordinal_information(H)
  expect_equal(info$cov, solve(-H), tolerance = 1e-10)
  expect_equal(info$condition, kappa(H, exact = TRUE), tolerance = 1e-10)
  expect_equal(unname(fit$cov_psi), solve(-H), tolerance = 1e-10)
  # A Hessian that is not finite, or singular to working precision: no
  # covariance (the fitter then warns), as solve() would fail.
  na <- glmmgee:::ordinal_information(replace(H, 1, NA))
  expect_null(na$cov)
  expect_identical(na$condition, NA_real_)
  sing <- H
  sing[, 2] <- sing[, 1]
  sing[2, ] <- sing[1, ]
  expect_error(solve(-sing))
  expect_null(glmmgee:::ordinal_information(sing)$cov)
  # ill-conditioned but invertible: solve()'s answer
  e <- eigen(-H, symmetric = TRUE)
  lam <- replace(e$values, length(e$values), e$values[1L] * 1e-12)
  ill <- -e$vectors %*% (lam * t(e$vectors))
  ill <- (ill + t(ill)) / 2
  expect_gt(glmmgee:::ordinal_information(ill)$condition, 1e10)
  expect_identical(glmmgee:::ordinal_information(ill)$cov, solve(-ill))
})

test_that("the random intercept's grouping factor is checked as re_terms() checks it", {
  w <- ordinal::wine
  w$g1 <- factor("a")
  expect_error(glmm(rating ~ temp + (1 | g1), data = w, family = cumulative),
               "grouping factor 'g1' has only 1 level")
  w$gna <- w$judge
  w$gna[3] <- NA
  expect_error(glmm(rating ~ temp + (1 | gna), data = w, family = cumulative, na.action = na.pass),
               "grouping factor 'gna'")
  # an expression as the grouping factor, as in the other routes
  f1 <- glmm(rating ~ temp + (1 | judge), data = w, family = cumulative)
  f2 <- glmm(rating ~ temp + (1 | factor(as.integer(judge))), data = w, family = cumulative)
  expect_equal(f2$loglik, f1$loglik, tolerance = 1e-12)
  expect_identical(f2$group_name, "factor(as.integer(judge))")
})

test_that("the fitted object's xlevels are stats::.getXlevels()'s; predict() on new data uses them", {
  w <- ordinal::wine
  w$ch <- as.character(w$contact)
  w$x <- seq(-1, 1, length.out = nrow(w))
  w$`b c` <- factor(rep(c("u", "v", "z"), length.out = nrow(w)))
  f <- glmm(rating ~ temp + ch + log(x + 3) + `b c` + (1 | judge), data = w,
            family = cumulative("logit"))
  expect_identical(f$xlevels, stats::.getXlevels(f$terms, f$model))
  expect_identical(names(f$xlevels), c("temp", "ch", "b c"))
  expect_warning(fs <- glmm(rating ~ temp + ch + (1 | judge) + (1 | bottle), data = w,
                            family = cumulative("logit")), "singular fit")
  expect_identical(fs$xlevels, stats::.getXlevels(fs$terms, fs$model))
  nd <- w[c(3, 50), ]
  nd$ch <- factor(nd$ch)  # one level only: the fit's levels give its coding
  expect_equal(predict(f, newdata = nd, type = "prob", re.form = NA),
               predict(f, newdata = w[c(3, 50), ], type = "prob", re.form = NA),
               tolerance = 1e-14, ignore_attr = TRUE)
  tx <- stats::terms(rating ~ x, data = w)
  expect_identical(glmmgee:::frame_xlevels(tx, w), stats::.getXlevels(tx, w))
  t0 <- stats::terms(rating ~ 1, data = w)
  expect_identical(glmmgee:::frame_xlevels(t0, w), stats::.getXlevels(t0, w))
})

test_that("start thresholds: unit weights counted as the weighted sums count them", {
  fam <- cumulative("probit")
  y <- c(1L, 3L, 3L, 2L, 4L, 1L, 3L)
  a <- glmmgee:::ordinal_start(y, rep(1, 7), 4L, fam, 0L, NULL, numeric(), numeric())
  b <- glmmgee:::ordinal_start(y, rep(2, 7), 4L, fam, 0L, NULL, numeric(), numeric())
  expect_identical(a, b)
  cw <- c(0.5, 1, 2, 1, 1, 3, 1)
  th <- qnorm(cumsum(c(0.5 + 3, 1, 1 + 2 + 1, 1))[1:3] / sum(cw))
  th <- cummax(th + (1:3) * 1e-3)
  expect_equal(glmmgee:::ordinal_start(y, cw, 4L, fam, 0L, NULL, numeric(), numeric()),
               c(th[1], log(diff(th)), 0), tolerance = 1e-14)
})

test_that("nAGQ^q above 1e5 nodes per cluster is refused as by the binary and count engines", {
  # Three random effects at nAGQ = 100 are a million nodes per cluster
  # (minutes per pass): the cumulative engine accepted them.
  set.seed(3)
  d <- data.frame(g = rep(1:20, each = 10), x1 = rnorm(200), x2 = rnorm(200))
  d$y <- ordered(cut(d$x1 + rnorm(20)[d$g] + rlogis(200), c(-Inf, -1, 0, 1, Inf)))
  d$yb <- as.integer(d$y) > 2
  msg <- function(...) tryCatch({ glmm(...); "fitted" }, error = conditionMessage)
  cum <- msg(y ~ x1 + x2 + (1 + x1 + x2 | g), data = d, family = cumulative(), nAGQ = 100)
  bin <- msg(yb ~ x1 + x2 + (1 + x1 + x2 | g), data = d, family = binomial, nAGQ = 100)
  expect_match(cum, "'nAGQ' = 100 with 3 random effects means 1e\\+06 quadrature points per cluster")
  expect_identical(cum, bin)
  expect_identical(msg(y ~ x1 + (1 + x1 | g), data = d, family = cumulative(), nAGQ = 400),
                   msg(yb ~ x1 + (1 + x1 | g), data = d, family = binomial, nAGQ = 400))
  # One random effect: the quadrature rule's own bound, and bad values.
  expect_error(glmm(y ~ x1 + (1 | g), data = d, family = cumulative(), nAGQ = 101), "between 1 \\(Laplace\\) and 100")
  expect_error(glmm(y ~ x1 + (1 | g), data = d, family = cumulative(), nAGQ = 2.5), "'nAGQ' must be a whole number")
})

test_that("standardize() of a fit with an offset: the data of the fit with the offset's variables", {
  skip_if_not_installed("ordinal")
  w <- wine_with_offset()
  f <- wine_offset_fits(w)$one
  ft <- wine_offset_fits(w, as_term = TRUE)$one
  st <- standardize(f, "contact")
  # The 'offset =' argument was left out of the model frame's rows; an
  # offset() term stopped ("'newdata' lacks the variable 'off'").
  expect_identical(st, standardize(f, "contact", newdata = w))
  expect_equal(standardize(ft, "contact")$estimate, st$estimate, tolerance = 1e-6)
})
