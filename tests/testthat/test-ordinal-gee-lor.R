# Ordinal GEE with local odds ratios association structures against
# multgee::ordLORgee, and on simulated data with a known marginal model.

arthritis_fit_pair <- function(structure, ...) {
  # multgee's formulas name gnm's MultHomog() without importing it: gnm
  # must be on the search path.
  suppressPackageStartupMessages(library(gnm))
  data("arthritis", package = "multgee", envir = environment())
  ours <- gee(factor(y) ~ factor(time) + factor(trt) + factor(baseline), data = arthritis,
              id = id, waves = time, family = cumulative("logit"), corstr = structure,
              na.action = na.omit, ...)
  # multgee stops when the largest relative change of a coefficient is below
  # 'tolerance' (default 1e-3); at 1e-8 both solve the same equations to
  # well below the precision compared here.
  ref <- suppressMessages(multgee::ordLORgee(
    y ~ factor(time) + factor(trt) + factor(baseline), data = arthritis, id = id,
    repeated = time, LORstr = structure, control = multgee::LORgee_control(tolerance = 1e-8, maxiter = 100),
    ...))
  list(ours = ours, ref = ref)
}

# multgee: P(Y <= k) = F(beta_k0 + x'beta); ours F(theta_k - x'beta).
expect_as_multgee <- function(f, lor_tol, tol) {
  ours <- f$ours; ref <- f$ref
  k <- length(ours$thresholds)
  sgn <- c(rep(1, k), rep(-1, length(coef(ref)) - k))
  expect_equal(unname(coef(ours)), unname(sgn * coef(ref)), tolerance = tol)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(ref$robust.variance))), tolerance = tol)
  expect_equal(unname(sqrt(diag(vcov(ours, type = "naive")))), unname(sqrt(diag(ref$naive.variance))),
               tolerance = tol)
  # Local odds ratios of the pairs (1,3), (1,5), (3,5): multgee's theta
  # holds them as blocks of a (T(J-1)) x (T(J-1)) matrix.
  th <- ref$local.odds.ratios$theta
  blk <- function(a, b) th[(a - 1) * k + 1:k, (b - 1) * k + 1:k]
  lor <- ours$association$local_odds_ratios
  expect_equal(unname(lor[, , 1]), unname(blk(1, 2)), tolerance = lor_tol)
  expect_equal(unname(lor[, , 2]), unname(blk(1, 3)), tolerance = lor_tol)
  expect_equal(unname(lor[, , 3]), unname(blk(2, 3)), tolerance = lor_tol)
}

test_that("arthritis, each local odds ratios structure: as multgee's ordLORgee", {
  skip_if_not_installed("multgee")
  skip_if_not_installed("gnm")
  # The association parameters come from Poisson log-linear fits (gnm in
  # multgee, converging to ~1e-6 in the deviance): local odds ratios,
  # estimates and SEs to 1e-5 relative for the linear-by-linear models, to
  # 1e-4 for the row-column (score) models, whose gnm fits are looser.
  tol <- c(uniform = 1e-5, category.exch = 1e-5, time.exch = 1e-4, RC = 1e-4)
  for (s in names(tol)) {
    f <- arthritis_fit_pair(s)
    expect_as_multgee(f, lor_tol = tol[[s]], tol = tol[[s]])
    expect_true(f$ours$converged)
    expect_identical(f$ours$corstr, s)
  }
})

test_that("arthritis, probit link, uniform: as multgee's ordLORgee(link = \"probit\")", {
  skip_if_not_installed("multgee")
  skip_if_not_installed("gnm")
  suppressPackageStartupMessages(library(gnm))
  data("arthritis", package = "multgee", envir = environment())
  ref <- suppressMessages(multgee::ordLORgee(
    y ~ factor(time) + factor(trt), data = arthritis, id = id, repeated = time, link = "probit",
    LORstr = "uniform", control = multgee::LORgee_control(tolerance = 1e-8, maxiter = 100)))
  ours <- gee(factor(y) ~ factor(time) + factor(trt), data = arthritis, id = id, waves = time,
              family = cumulative("probit"), corstr = "uniform", na.action = na.omit)
  sgn <- c(rep(1, 4), rep(-1, 3))
  expect_equal(unname(coef(ours)), unname(sgn * coef(ref)), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(ref$robust.variance))), tolerance = 1e-5)
})

test_that("arthritis, fixed association table: as multgee's LORstr = \"fixed\"", {
  skip_if_not_installed("multgee")
  data("arthritis", package = "multgee", envir = environment())
  tab <- exp(0.6 * outer(1:5, 1:5)) / 100
  ref <- suppressMessages(multgee::ordLORgee(
    y ~ factor(time) + factor(trt), data = arthritis, id = id, repeated = time, LORstr = "fixed",
    LORterm = matrix(as.vector(tab), 3, 25, byrow = TRUE),
    control = multgee::LORgee_control(tolerance = 1e-8, maxiter = 100)))
  ours <- gee(factor(y) ~ factor(time) + factor(trt), data = arthritis, id = id, waves = time,
              family = cumulative, corstr = "fixed", R = tab, na.action = na.omit)
  k <- 4
  sgn <- c(rep(1, k), rep(-1, 3))
  expect_equal(unname(coef(ours)), unname(sgn * coef(ref)), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(ref$robust.variance))), tolerance = 1e-5)
  expect_equal(unname(ours$association$local_odds_ratios[, , 2]), matrix(exp(0.6), 4, 4))
})

test_that("row order, waves and missing times: the same fit however the data are arranged", {
  skip_if_not_installed("multgee")
  data("arthritis", package = "multgee", envir = environment())
  a <- na.omit(arthritis)              # some patients miss a visit: unequal cluster sizes
  expect_true(length(unique(table(a$id))) > 1L)
  f1 <- gee(factor(y) ~ factor(time) + factor(trt), data = a, id = id, waves = time,
            family = cumulative, corstr = "uniform")
  set.seed(3)
  b <- a[sample(nrow(a)), ]
  f2 <- gee(factor(y) ~ factor(time) + factor(trt), data = b, id = id, waves = time,
            family = cumulative, corstr = "uniform")
  expect_equal(coef(f2), coef(f1), tolerance = 1e-10)
  expect_equal(vcov(f2), vcov(f1), tolerance = 1e-8)
  # Without waves the times are the positions in data order within each
  # cluster: with a missing first visit that pairs other visits than
  # waves = time does, so the association estimate differs.
  f3 <- gee(factor(y) ~ factor(time) + factor(trt), data = a, id = id, family = cumulative,
            corstr = "category.exch")
  f4 <- gee(factor(y) ~ factor(time) + factor(trt), data = a, id = id, waves = time,
            family = cumulative, corstr = "category.exch")
  expect_false(isTRUE(all.equal(f3$association$parameters, f4$association$parameters)))
  # Scaling a covariate (here the baseline as a number) moves only its coefficient.
  a$bl <- a$baseline; a$bl10 <- a$baseline * 10
  g1 <- gee(factor(y) ~ bl + factor(trt), data = a, id = id, waves = time, family = cumulative,
            corstr = "time.exch")
  g2 <- gee(factor(y) ~ bl10 + factor(trt), data = a, id = id, waves = time, family = cumulative,
            corstr = "time.exch")
  expect_equal(unname(coef(g2)[5]) * 10, unname(coef(g1)[5]), tolerance = 1e-7)
  expect_equal(unname(coef(g2)[-5]), unname(coef(g1)[-5]), tolerance = 1e-7)
})

test_that("simulated latent bivariate normal: consistent, and more efficient than independence", {
  # Y_t = category of Z_t = x_t beta + e_t, e ~ N(0, 1) with corr(e_t, e_s) = 0.8,
  # cut at theta: the marginal model is exactly the cumulative probit
  # P(Y_t <= k) = pnorm(theta_k - x_t beta).
  set.seed(11)
  K <- 1500; T <- 3
  theta <- c(-1, 0, 0.8); beta <- c(0.5, -0.7)
  x1 <- rnorm(K * T); x2 <- rep(rbinom(K, 1, 0.5), each = T)
  e <- matrix(rnorm(K * T), K, T) %*% chol(0.2 * diag(T) + 0.8)
  z <- x1 * beta[1] + x2 * beta[2] + as.vector(t(e))
  d <- data.frame(id = rep(seq_len(K), each = T), time = rep(seq_len(T), K), x1 = x1, x2 = x2,
                  y = factor(findInterval(z, theta) + 1L))
  d <- d[-sample(nrow(d), 400), ]           # missing visits
  ind <- gee(y ~ x1 + x2, data = d, id = id, waves = time, family = cumulative("probit"))
  for (s in c("uniform", "time.exch")) {
    f <- gee(y ~ x1 + x2, data = d, id = id, waves = time, family = cumulative("probit"), corstr = s)
    se <- sqrt(diag(vcov(f)))
    expect_true(all(abs(coef(f) - c(theta, beta)) < 4 * se))
    # The within-cluster covariate gains most from the association.
    expect_lt(se[["x1"]], 0.9 * sqrt(diag(vcov(ind)))[["x1"]])
    expect_true(all(se <= sqrt(diag(vcov(ind))) * 1.02))
    expect_true(all(f$association$local_odds_ratios > 1.5))
  }
})

test_that("corstr names, weights and R: clear errors", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "exchangeable"),
               "local odds ratio structures")
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "unifrom"),
               "\"uniform\", \"category.exch\"")
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "uniform",
                   weights = rep(2, 72)), "'weights'.*independence")
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "uniform",
                   R = diag(5)), "'R' is used only")
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "fixed"),
               "needs the association table in 'R'")
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "fixed",
                   R = diag(3)), "'R' must be")
  one <- data.frame(y = factor(rep(1:3, 4)), id = 1:12, x = rnorm(12))
  expect_error(gee(y ~ x, data = one, id = id, family = cumulative, corstr = "uniform"),
               "needs repeated responses")
  expect_error(gee(rating ~ temp, data = w, id = judge, family = cumulative, corstr = "uniform",
                   waves = rep(1, 72)), "duplicated value within cluster")
})

test_that("methods: print, summary, vcov, confint, predict, odds_ratios with an association structure", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$occ <- ave(seq_len(nrow(w)), w$judge, FUN = seq_along)
  f <- gee(rating ~ temp + contact, data = w, id = judge, waves = occ, family = cumulative,
           corstr = "uniform")
  out <- capture.output(print(summary(f)))
  expect_true(any(grepl("local odds ratios structure \"uniform\"", out, fixed = TRUE)))
  expect_true(any(grepl("log local OR", out, fixed = TRUE)))
  expect_equal(dim(vcov(f)), c(6L, 6L))
  ci <- confint(f)
  expect_true(all(ci[, 1] < coef(f) & coef(f) < ci[, 2]))
  P <- predict(f, newdata = w[1:3, ], type = "prob")
  expect_equal(unname(rowSums(P)), rep(1, 3))
  expect_equal(P, predict(f, type = "prob")[1:3, ])
  or <- odds_ratios(f)
  expect_equal(or$estimate, unname(exp(coef(f)[c("tempwarm", "contactyes")])))
})

test_that("local odds ratios GEE: the estimating equations, written out in R, vanish at the root with shared and unshared covariate patterns", {
  # The engine computes V_i once per covariate pattern (clusters with equal
  # times, covariates and offsets) and each joint table once per pair of
  # linear predictors; here sum_i D_i'V_i^-1 (y_i - pi_i) is built cluster
  # by cluster, with an IPF of its own for every pair, and must be zero at
  # the fitted estimates. Half the clusters share a few patterns (a binary
  # treatment), the other half have a continuous covariate; visits missing.
  set.seed(15)
  K <- 120; T <- 3; J <- 4
  e <- matrix(stats::rnorm(K * T), K, T) %*% chol(0.5 * diag(T) + 0.5)
  d <- data.frame(id = rep(seq_len(K), each = T), time = rep(seq_len(T), K),
                  trt = rep(stats::rbinom(K, 1, 0.5), each = T))
  d$x <- ifelse(d$id <= K / 2, 0, stats::rnorm(K * T))
  z <- 0.6 * d$x - 0.5 * d$trt + 0.2 * d$time + as.vector(t(e))
  d$y <- findInterval(z, c(-0.7, 0.3, 1.2)) + 1L
  d <- d[-sample(nrow(d), 30), ]
  fit <- gee(factor(y) ~ x + trt + time, data = d, id = id, waves = time,
             family = cumulative("logit"), corstr = "uniform")
  expect_true(fit$converged)
  tab <- fit$association$tables[, 1L]   # "uniform": one table for all pairs
  ipf <- function(t0, r, c) {
    for (it in 1:5000) {
      t0 <- t0 * (r / rowSums(t0))
      t0 <- sweep(t0, 2L, c / colSums(t0), "*")
      if (max(abs(rowSums(t0) - r)) < 1e-14) break
    }
    t0
  }
  th <- fit$thresholds; b <- fit$coefficients
  U <- numeric(length(th) + length(b))
  for (g in split(d, d$id)) {
    g <- g[order(g$time), ]
    X <- as.matrix(g[, c("x", "trt", "time")])
    eta <- drop(X %*% b)
    cum <- plogis(outer(-eta, th, "+"))           # P(Y <= k), n_i x (J-1)
    P <- cbind(cum, 1) - cbind(0, cum)            # n_i x J
    dens <- cum * (1 - cum)
    n <- nrow(g); k1 <- J - 1
    D <- matrix(0, n * k1, length(U)); V <- matrix(0, n * k1, n * k1); r <- numeric(n * k1)
    for (j in seq_len(n)) {
      rows <- (j - 1) * k1 + seq_len(k1)
      fk <- dens[j, ]; fprev <- c(0, fk[-k1])
      D[cbind(rows, seq_len(k1))] <- fk
      if (k1 > 1) D[cbind(rows[-1], seq_len(k1 - 1))] <- -fk[-k1]
      D[rows, k1 + seq_along(b)] <- -outer(fk - fprev, X[j, ])
      r[rows] <- (g$y[j] == seq_len(k1)) - P[j, seq_len(k1)]
      V[rows, rows] <- diag(P[j, seq_len(k1)]) - tcrossprod(P[j, seq_len(k1)])
      for (l in seq_len(n)[-seq_len(j)]) {
        cols <- (l - 1) * k1 + seq_len(k1)
        joint <- ipf(matrix(tab, J, J), P[j, ], P[l, ])
        V[rows, cols] <- joint[seq_len(k1), seq_len(k1)] - tcrossprod(P[j, seq_len(k1)], P[l, seq_len(k1)])
        V[cols, rows] <- t(V[rows, cols])
      }
    }
    U <- U + drop(crossprod(D, solve(V, r)))
  }
  # At the root the equations vanish to the solver's precision; a wrong V_i
  # for any cluster leaves components of order 1e-2 to 1.
  expect_lt(max(abs(U)), 1e-6)
})

test_that("a local-odds-ratio structure that diverges on a pair of times seen in two clusters says so and names the remedy", {
  skip_if_not_installed("multgee")
  data("arthritis", package = "multgee", envir = environment())
  a <- na.omit(arthritis)
  # time 5 kept only for two clusters, which are not observed at time 1
  a2 <- a[!(a$time == 5 & a$id %in% a$id[a$time == 1]), ]
  expect_error(gee(factor(y) ~ factor(trt) + age, data = a2, id = id, waves = time,
                   family = cumulative, corstr = "category.exch"),
               paste0("not positive definite: the association model \\(\"category.exch\"\\) has diverging ",
                      "log odds ratios .* pair\\(s\\) of times 3-5, seen in 2 cluster\\(s\\).*",
                      "corstr = \"uniform\" or \"time.exch\""))
  # the remedy fits
  expect_true(all(is.finite(coef(gee(factor(y) ~ factor(trt) + age, data = a2, id = id, waves = time,
                                     family = cumulative, corstr = "uniform")))))
})
