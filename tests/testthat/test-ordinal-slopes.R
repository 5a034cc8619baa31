# Cumulative link mixed models with random slopes on one grouping factor,
# (1 + x | g) and (x || g): the adaptive quadrature engine with the
# cumulative link model (ordinal_agq_engine()) against the random
# intercept engine (q = 1, and a slope variance of zero), against a
# brute-force two-dimensional integration written here, simulated truth,
# invariance to the slope covariate's location and units, and the methods.

sim_ordinal_slopes <- function(M, m, theta, beta, sd0, sd1, rho, seed, link = stats::rlogis) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = m)), x = rnorm(M * m),
                  z = rbinom(M * m, 1, 0.5))
  U <- matrix(rnorm(2 * M), M)
  B <- cbind(sd0 * U[, 1], sd1 * (rho * U[, 1] + sqrt(1 - rho^2) * U[, 2]))
  eta <- beta[1] * d$x + beta[2] * d$z + B[d$g, 1] + B[d$g, 2] * d$x
  d$y <- ordered(findInterval(eta + link(M * m), theta) + 1L)
  d
}

# The slope engine's value at (thresholds th, beta b, Lambda L) with K nodes
# per effect, its gradient in (th, b, Lambda's entries lr, lc with the
# diagonal on the log scale) and each cluster's summaries; g the clusters'
# codes.
slope_engine <- function(y, X, Z, g, J, th, b, L, K, link, lr = NULL, lc = NULL) {
  if (is.null(lr)) {
    lt <- which(lower.tri(L, diag = TRUE), arr.ind = TRUE)
    lr <- lt[, 1]; lc <- lt[, 2]
  }
  n <- length(y)
  eng <- glmmgee:::ordinal_agq_engine(X, Z, y, rep(1, n), rep(0, n), g, max(g), lr, lc, J,
                                      link, K)
  on.exit(glmmgee:::cpp_agq_free(eng$ptr))
  l <- L[cbind(lr, lc)]
  on <- lr == lc
  l[on] <- log(l[on])
  eng$eval(th, b, l, K, summaries = TRUE)
}

slope_fits <- local({
  cache <- NULL
  function() {
    if (is.null(cache)) {
      d <- sim_ordinal_slopes(120, 8, c(-1, 0.5, 2), c(1, -0.5), 1, 0.6, 0.3, seed = 2)
      cache <<- list(d = d,
                     lap = glmm(y ~ x + z + (1 + x | g), data = d, family = cumulative, nAGQ = 1),
                     agq = glmm(y ~ x + z + (1 + x | g), data = d, family = cumulative, nAGQ = 5))
    }
    cache
  }
})

test_that("q = 1 and a zero slope variance: the random intercept engine's value", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine[order(ordinal::wine$judge), ]
  X <- model.matrix(~ temp + contact, w)[, -1]
  st <- c(0L, cumsum(tabulate(as.integer(w$judge))))
  y <- as.integer(w$rating)
  th <- c(-1.5, 1, 3.5, 5); b <- c(2.5, 1.5)
  for (lk in 0:1) for (K in c(1L, 7L)) {
    a <- glmmgee:::cpp_ordinal_loglik(y, X, rep(0, 72), rep(1, 72), st, 5L, th, b, log(1.1), K,
                                      lk, FALSE)
    g <- as.integer(w$judge)
    r1 <- slope_engine(y, X, matrix(1, 72, 1), g, 5L, th, b, matrix(1.1), K, lk)
    expect_equal(r1$loglik, a$loglik, tolerance = 1e-12)
    expect_equal(drop(r1$mode), a$mode, tolerance = 1e-8)
    expect_equal(r1$cluster_loglik, a$cluster_loglik, tolerance = 1e-12)
    # A slope (on temp) with zero variance integrates to the same value.
    Z <- cbind(1, X[, 1])
    r2 <- slope_engine(y, X, Z, g, 5L, th, b, diag(c(1.1, 0)), K, lk)
    expect_equal(r2$loglik, a$loglik, tolerance = 1e-12, label = paste("link", lk, "nAGQ", K))
  }
})

test_that("the q = 2 value is the integral: brute-force 2-d quadrature agrees", {
  d <- sim_ordinal_slopes(15, 6, c(-1, 0.5, 2), c(1, -0.5), 1, 0.7, -0.4, seed = 4)
  o <- order(d$g)
  d <- d[o, ]
  X <- cbind(d$x, d$z); Z <- cbind(1, d$x)
  st <- c(0L, cumsum(tabulate(d$g)))
  y <- as.integer(d$y)
  th <- c(-0.9, 0.4, 2.1); b <- c(0.8, -0.3)
  L <- matrix(c(1.2, -0.3, 0, 0.6), 2)
  # Brute force: a 161 x 161 midpoint grid on u in [-8, 8]^2, per cluster.
  h <- 16 / 161
  g1 <- seq(-8 + h / 2, 8 - h / 2, by = h)
  U <- as.matrix(expand.grid(g1, g1))
  logphi <- rowSums(dnorm(U, log = TRUE))
  brute <- 0
  for (c in seq_len(15)) {
    rows <- (st[c] + 1):st[c + 1]
    lp <- logphi
    for (i in rows) {
      eta <- sum(X[i, ] * b) + drop(U %*% (t(L) %*% Z[i, ]))
      up <- if (y[i] == 4) 1 else plogis(th[y[i]] - eta)
      lo <- if (y[i] == 1) 0 else plogis(th[y[i] - 1] - eta)
      lp <- lp + log(up - lo)
    }
    mx <- max(lp)
    brute <- brute + mx + log(sum(exp(lp - mx)) * h^2)
  }
  ours <- slope_engine(y, X, Z, as.integer(d$g), 4L, th, b, L, 12L, 0L)$loglik
  expect_equal(ours, brute, tolerance = 1e-7)
  # The Laplace approximation is an approximation: close, not equal.
  lap <- slope_engine(y, X, Z, as.integer(d$g), 4L, th, b, L, 1L, 0L)$loglik
  expect_lt(abs(lap - brute), 1)
  expect_gt(abs(lap - brute), 1e-4)
})

test_that("the slope engine's exact gradient equals central differences of its value", {
  d <- sim_ordinal_slopes(15, 6, c(-1, 0.5, 2), c(1, -0.5), 1, 0.7, -0.4, seed = 4)
  d <- d[order(d$g), ]
  X <- cbind(d$x, d$z)
  st <- c(0L, cumsum(tabulate(d$g)))
  y <- as.integer(d$y)
  n <- nrow(d)
  # (1 + x | g) unstructured, (x || g) diagonal, and q = 3 unstructured.
  cfgs <- list(list(Z = cbind(1, d$x), lr = c(1L, 2L, 2L), lc = c(1L, 1L, 2L)),
               list(Z = cbind(1, d$x), lr = c(1L, 2L), lc = c(1L, 2L)),
               list(Z = cbind(1, d$x, d$z), lr = c(1L, 2L, 3L, 2L, 3L, 3L),
                    lc = c(1L, 1L, 1L, 2L, 2L, 3L)))
  for (cf in cfgs) for (lk in 0:2) for (K in c(1L, 3L)) {
    q <- ncol(cf$Z)
    dl <- cf$lr == cf$lc
    ev <- function(ps) {
      L <- matrix(0, q, q)
      l <- ps[-(1:5)]
      L[cbind(cf$lr, cf$lc)] <- ifelse(dl, exp(l), l)
      slope_engine(y, X, cf$Z, as.integer(d$g), 4L, ps[1:3], ps[4:5], L, K, lk, cf$lr, cf$lc)
    }
    ps <- c(-1, 0.4, 2.1, 0.9, -0.4, ifelse(dl, log(0.8), 0.3))
    num <- vapply(seq_along(ps), function(j) {
      e <- replace(numeric(length(ps)), j, 1e-5)
      (ev(ps + e)$loglik - ev(ps - e)$loglik) / 2e-5
    }, 1)
    r <- ev(ps)
    expect_length(r$gradient, length(ps))
    expect_lt(max(abs(r$gradient - num)), 1e-6 * max(abs(num)))
  }
  # An entry above Lambda's diagonal is refused, naming the entry.
  L0 <- matrix(c(0.8, 0.3, 0, 0.8), 2)
  expect_error(slope_engine(y, X, cbind(1, d$x), as.integer(d$g), 4L, c(-1, 0.4, 2.1),
                            c(0.9, -0.4), L0, 3L, 0L, 1:2, c(2L, 1L)),
               "entry 1 is not in the lower triangle")
})

test_that("random slopes: simulated truth recovered, a maximum, and the intercept model nested", {
  f <- slope_fits()
  for (fit in f[c("lap", "agq")]) {
    expect_s3_class(fit, "glmmgee_glmm_ordinal_re")
    expect_identical(fit$optinfo$convergence, 0L)
    expect_lt(fit$optinfo$max_grad, 1e-3)
    se <- sqrt(diag(vcov(fit)))
    expect_true(all(abs(coef(fit) - c(-1, 0.5, 2, 1, -0.5)) < 4 * se))
    vc <- VarCorr(fit)
    expect_equal(unname(vc$sd), c(1, 0.6), tolerance = 0.5)
  }
  # A maximum: the log-likelihood falls in every direction around it.
  fit <- f$agq
  k <- length(fit$psi)
  base <- glmmgee:::ordinal_loglik_at_re(fit, fit$psi)
  expect_equal(base, fit$loglik, tolerance = 1e-10)
  for (j in seq_len(k)) for (s in c(-1, 1)) {
    ps <- fit$psi
    ps[j] <- ps[j] + s * 1e-3
    expect_lt(glmmgee:::ordinal_loglik_at_re(fit, ps), base)
  }
  # The random intercept model is nested: its logLik is no higher.
  fi <- glmm(y ~ x + z + (1 | g), data = f$d, family = cumulative, nAGQ = 5)
  expect_gt(fit$loglik, fi$loglik)
})

test_that("no slope variation: the slope variance goes to 0 and the fit reduces to the intercept model", {
  d <- sim_ordinal_slopes(100, 8, c(-1, 0.5, 2), c(1, -0.5), 1, 0, 0, seed = 7)
  fi <- glmm(y ~ x + z + (1 | g), data = d, family = cumulative, nAGQ = 1)
  fd <- suppressWarnings(glmm(y ~ x + z + (x || g), data = d, family = cumulative, nAGQ = 1))
  # The slope's standard deviation is estimated near 0 (truth 0), and the
  # fit is the intercept model's up to that small variance.
  expect_lt(VarCorr(fd)$sd[2], 0.3)
  expect_gte(fd$loglik, fi$loglik - 1e-6)
  expect_lt(fd$loglik - fi$loglik, 0.5)
  expect_true(all(abs(coef(fd) - coef(fi)) < 0.25 * sqrt(diag(vcov(fi)))))
  expect_equal(unname(VarCorr(fd)$sd[1]), fi$sigma_re, tolerance = 0.1)
})

test_that("the optimum does not depend on the slope covariate's location and units", {
  f <- slope_fits()
  d2 <- transform(f$d, x = 10 * x + 3)
  f2 <- glmm(y ~ x + z + (1 + x | g), data = d2, family = cumulative, nAGQ = 1)
  expect_equal(f2$loglik, f$lap$loglik, tolerance = 1e-7)
  expect_equal(unname(fixef(f2)["x"]) * 10, unname(fixef(f$lap)["x"]), tolerance = 1e-4)
  expect_equal(unname(f2$thresholds - 3 * fixef(f2)["x"]), unname(f$lap$thresholds),
               tolerance = 1e-4)
  # The slope's standard deviation scales with the covariate's units.
  expect_equal(unname(VarCorr(f2)$sd[2]) * 10, unname(VarCorr(f$lap)$sd[2]), tolerance = 1e-3)
  # (x || g): only the units (centring moves the optimum, as in lme4).
  fd <- glmm(y ~ x + z + (x || g), data = f$d, family = cumulative, nAGQ = 1)
  fd2 <- glmm(y ~ x + z + (x || g), data = transform(f$d, x = 10 * x), family = cumulative,
              nAGQ = 1)
  expect_equal(fd2$loglik, fd$loglik, tolerance = 1e-7)
  expect_equal(VarCorr(fd)$corr[1, 2], 0)
})

test_that("random slopes: ranef, predictions, simulate", {
  f <- slope_fits()
  fit <- f$agq
  re <- ranef(fit, condVar = TRUE)[[1]]
  expect_identical(dim(re), c(120L, 2L))
  cv <- attr(re, "condVar")
  expect_identical(dim(cv), c(2L, 2L, 120L))
  expect_true(all(apply(cv, 3L, function(v) all(eigen(v)$values > 0))))
  # Conditional predictions: the category probabilities at eta + z'b.
  P <- predict(fit, type = "prob", re.form = NULL)
  B <- as.matrix(re)[as.integer(f$d$g), ]
  eta <- drop(fit$X %*% fixef(fit)) + B[, 1] + B[, 2] * f$d$x
  cp <- plogis(outer(-eta, fit$thresholds, "+"))
  expect_equal(unname(P), unname(cbind(cp, 1) - cbind(0, cp)), tolerance = 1e-12)
  expect_equal(fitted(fit), unname(P[cbind(seq_len(nrow(P)), fit$y)]))
  # Population-averaged: the integral over b ~ N(0, Sigma), here by a
  # 2-d Gauss-Hermite product rule of 40^2 nodes written out.
  nd <- f$d[c(1, 50, 333), ]
  Pm <- predict(fit, newdata = nd, type = "prob_marginal")
  gh <- glmmgee:::cpp_gh_rule(40L)
  R <- t(chol(fit$re_cov))
  ref <- 0
  for (a in seq_along(gh$z)) for (bq in seq_along(gh$z)) {
    bb <- R %*% c(gh$z[a], gh$z[bq])
    e <- drop(cbind(nd$x, nd$z) %*% fixef(fit)) + bb[1] + bb[2] * nd$x
    cpm <- plogis(outer(-e, fit$thresholds, "+"))
    ref <- ref + gh$w[a] * gh$w[bq] * (cbind(cpm, 1) - cbind(0, cpm))
  }
  expect_equal(unname(Pm), unname(ref), tolerance = 1e-8)
  expect_equal(unname(rowSums(Pm)), rep(1, 3))
  # new clusters get b = 0
  nd$g <- factor("new")
  # A cluster not in the fit needs allow.new.levels = TRUE (as lme4's
  # predict()), and then is a typical one.
  expect_error(predict(fit, newdata = nd, re.form = NULL), "allow.new.levels")
  expect_equal(predict(fit, newdata = nd, re.form = NULL, allow.new.levels = TRUE),
               predict(fit, newdata = nd, re.form = NA))
  expect_equal(predict(fit, newdata = nd, re.form = ~ 0), predict(fit, newdata = nd, re.form = NA))
  s1 <- simulate(fit, nsim = 2, seed = 9)
  expect_identical(dim(s1), c(nrow(f$d), 2L))
  expect_identical(levels(s1[[1]]), levels(f$d$y))
  expect_identical(simulate(fit, nsim = 2, seed = 9), s1)
  expect_equal(nrow(simulate(fit, re = "fitted", seed = 1)), nrow(f$d))
  # Simulating from the fit and refitting recovers the fitted parameters.
  d3 <- f$d
  d3$y <- simulate(fit, seed = 3)[[1]]
  f3 <- glmm(y ~ x + z + (1 + x | g), data = d3, family = cumulative, nAGQ = 1)
  expect_true(all(abs(coef(f3) - coef(fit)) < 4 * sqrt(diag(vcov(f3)))))
  expect_error(odds_ratios(fit, type = "marginal"), "random intercept only")
  expect_error(standardize(fit, "z"),
               paste("standardize\\(\\): the ordinal_agq engine .* does not provide standardized",
                     "predictions for cumulative link fits with random slopes .*random intercept only"))
  expect_output(print(summary(fit)), "Corr")
  expect_identical(nrow(confint(fit)), 5L)
})

test_that("random slopes: theta holds the Cholesky factor as on the AGQ engine, cov_theta by the delta method", {
  fit <- slope_fits()$agq
  th <- fit$theta
  lam <- th[grep("^lambda", names(th))]
  expect_identical(names(lam), c("lambda[1,1]", "lambda[2,1]", "lambda[2,2]"))
  L <- matrix(0, 2, 2)
  L[cbind(c(1, 2, 2), c(1, 1, 2))] <- lam
  expect_equal(unname(tcrossprod(L)), unname(fit$re_cov), tolerance = 1e-12)
  expect_identical(names(th), c(names(fixef(fit)), names(lam), names(fit$thresholds)))
  # d L[i,i] / d log L[i,i] = L[i,i]; the off-diagonal entry is searched as it is
  ld <- grep("^log\\(L", names(fit$psi))
  expect_equal(unname(sqrt(diag(fit$cov_theta))[c(3, 5)]),
               unname(exp(fit$psi[ld]) * sqrt(diag(fit$cov_psi))[ld]))
  expect_identical(fit$sigma, 1)
  expect_identical(deparse(fit$re_formula[[1L]]), "1 + x")
})

test_that("cloglog slopes on tiny clusters: failed mode searches far away do not spoil the fit", {
  # 30 clusters of 2 rows, three random effects. Far from the optimum the
  # cloglog curvature met 0 * Inf (a density underflowing where its
  # derivative overflows) and the engine kept the failed mode as the next
  # search's start: every later evaluation was NaN, and so was logLik.
  set.seed(143)
  M <- 30; n <- 2; N <- M * n
  g <- factor(rep(sprintf("g%02d", 1:M), each = n))
  x <- rnorm(N); z <- rnorm(N); w2 <- rnorm(N)
  b0 <- rnorm(M, 0, 1); b1 <- rnorm(M, 0, 0.6); b2 <- rnorm(M, 0, 0.5)
  eta <- 0.5 * x - 0.3 * z + b0[g] + b1[g] * x + b2[g] * w2
  th <- qlogis(1:4 / 5) * 1.2
  P <- matrix(sapply(th, function(t) -expm1(-exp(t - eta))), N)
  d <- data.frame(y = factor(1 + rowSums(runif(N) > P), levels = 1:5, ordered = TRUE),
                  x, z, w2, g)
  fit <- suppressWarnings(glmm(y ~ x + z + w2 + (1 + x + w2 | g), data = d,
                               family = cumulative("cloglog"), nAGQ = 3))
  expect_true(is.finite(logLik(fit)))
  expect_identical(fit$optinfo$convergence, 0L)
  # the value at the estimates on a fresh engine (no cached modes)
  expect_equal(as.numeric(logLik(fit)), glmmgee:::ordinal_loglik_at_re(fit, fit$psi),
               tolerance = 1e-10)
})
