# simulate() for glmm fits: the simulated moments match the model's (mean,
# variance and within-cluster covariance, by hand), with Monte-Carlo
# tolerances; the response comes back in its original form; the seed is
# honoured as stats::simulate() does; refitting simulated data recovers
# the parameters.

# |estimate - target| within k Monte-Carlo standard errors.
expect_within_mc <- function(est, target, se, k = 4) {
  expect_true(all(abs(est - target) <= k * se),
              label = sprintf("max |z| = %.2f", max(abs(est - target) / se)))
}

sim_gaussian_ri <- function() {
  cached("sim_gaussian_ri", {
    set.seed(21)
    M <- 40; ni <- 5
    d <- data.frame(id = factor(rep(seq_len(M), each = ni)), x = rnorm(M * ni))
    d$y <- 1 + 0.5 * d$x + rnorm(M, 0, 0.8)[d$id] + rnorm(M * ni, 0, 0.6)
    d
  })
}

test_that("gaussian random intercept: new random effects give the marginal covariance", {
  d <- sim_gaussian_ri()
  fit <- glmm(y ~ x + (1 | id), data = d)
  nsim <- 4000
  S <- as.matrix(simulate(fit, nsim = nsim, seed = 10))
  expect_identical(dim(S), c(nrow(d), as.integer(nsim)))
  s2b <- fit$D[1, 1]; s2 <- sigma(fit)^2
  mu <- drop(model.matrix(~ x, d) %*% fixef(fit))
  v <- s2b + s2
  # the average over all rows: rows of a cluster share b
  n <- nrow(d)
  expect_within_mc(mean(S) - mean(mu), 0,
                   sqrt((n * s2 + sum(table(d$id)^2) * s2b) / n^2 / nsim))
  # each row's deviation from its cluster's average has no random effect
  dev <- rowMeans(S) - mu
  within <- dev - ave(dev, d$id)
  expect_within_mc(within[1:20], 0, sqrt(s2 * (1 - 1 / 5) / nsim))
  # rows 1 and 2 share a cluster, rows 1 and 6 do not
  expect_within_mc(var(S[1, ]), v, v * sqrt(2 / nsim))
  expect_within_mc(cov(S[1, ], S[2, ]), s2b, sqrt((v^2 + s2b^2) / nsim))
  expect_within_mc(cov(S[1, ], S[6, ]), 0, v / sqrt(nsim))
  # re.form = NULL: around the conditional fitted values, residual variance only
  C <- as.matrix(simulate(fit, nsim = nsim, seed = 11, re.form = NULL))
  expect_within_mc(rowMeans(C)[1:20], unname(fitted(fit))[1:20], sqrt(s2 / nsim))
  expect_within_mc(cov(C[1, ], C[2, ]), 0, s2 / sqrt(nsim))
})

test_that("the seed is honoured as by stats::simulate", {
  d <- sim_gaussian_ri()
  fit <- glmm(y ~ x + (1 | id), data = d)
  set.seed(99)
  before <- .Random.seed
  a <- simulate(fit, nsim = 3, seed = 42)
  expect_identical(.Random.seed, before)
  b <- simulate(fit, nsim = 3, seed = 42)
  expect_identical(a, b)
  expect_equal(as.numeric(attr(a, "seed")), 42)
  expect_identical(attr(attr(a, "seed"), "kind"), as.list(RNGkind()))
  expect_named(a, c("sim_1", "sim_2", "sim_3"))
  # seed = NULL: the state before, and the stream advances
  set.seed(7)
  st <- .Random.seed
  c1 <- simulate(fit)
  expect_identical(attr(c1, "seed"), st)
  assign(".Random.seed", st, envir = globalenv())
  expect_identical(simulate(fit)$sim_1, c1$sim_1)
  expect_error(simulate(fit, nsim = 0), "'nsim'")
  expect_error(simulate(fit, re.form = ~ (1 | id) + (1 | other)), "'re.form'")
})

test_that("simulate(allow.new.levels = ) without newdata is an error; re.form is kept", {
  # allow.new.levels was ignored on the fitted rows, which have no new levels
  d <- sim_gaussian_ri()
  fit <- glmm(y ~ x + (1 | id), data = d)
  expect_error(simulate(fit, re.form = NULL, allow.new.levels = TRUE, na.action = na.omit),
               "simulate\\(\\) without 'newdata': 'allow.new.levels' is for simulations at 'newdata'")
  expect_error(simulate(fit, allow.new.levels = FALSE), "'allow.new.levels' is for simulations")
  expect_identical(simulate(fit, seed = 2, re.form = NULL, na.action = na.omit),
                   simulate(fit, seed = 2, re.form = NULL))
})

test_that("binomial cbind response: a matrix per simulation, marginal probabilities by integrate()", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial)
  nsim <- 3000
  s <- simulate(fit, nsim = nsim, seed = 3)
  expect_true(is.matrix(s$sim_1))
  expect_identical(colnames(s$sim_1), c("incidence", ""))
  expect_equal(rowSums(s$sim_2), cbpp$size)
  succ <- vapply(s, function(m) m[, 1], numeric(nrow(cbpp)))
  eta <- drop(model.matrix(~ period, cbpp) %*% fixef(fit))
  sig <- sqrt(fit$D[1, 1])
  p <- vapply(eta, function(e) integrate(function(t) plogis(e + sig * t) * dnorm(t),
                                         -Inf, Inf, rel.tol = 1e-10)$value, 1)
  # Var of successes: n p (1 - p) + n (n - 1) Var(plogis(eta + b))
  p2 <- vapply(eta, function(e) integrate(function(t) plogis(e + sig * t)^2 * dnorm(t),
                                          -Inf, Inf, rel.tol = 1e-10)$value, 1)
  n <- cbpp$size
  v <- n * p * (1 - p) + n * (n - 1) * (p2 - p^2)
  expect_within_mc(rowMeans(succ), n * p, sqrt(v / nsim))
  # re.form = NULL: binomial around the fitted probabilities
  s0 <- simulate(fit, nsim = nsim, seed = 4, re.form = NULL)
  succ0 <- vapply(s0, function(m) m[, 1], numeric(nrow(cbpp)))
  pf <- fitted(fit)
  expect_within_mc(rowMeans(succ0), n * pf, sqrt(n * pf * (1 - pf) / nsim) + 1e-12)
  # a 0/1 factor response stays a factor
  d <- MASS::bacteria
  fb <- glmm(y ~ trt + (1 | ID), data = d, family = binomial)
  sb <- simulate(fb, nsim = 2, seed = 1)
  expect_s3_class(sb$sim_1, "factor")
  expect_identical(levels(sb$sim_1), levels(d$y))
})

test_that("nbinom2, Gamma and poisson: conditional variances; sparse crossed fits share levels", {
  d <- sim_overdispersed_sim()
  nsim <- 3000
  fnb <- glmm(y ~ x + (1 | a) + (1 | b), data = d, family = nbinom2())
  s <- as.matrix(simulate(fnb, nsim = nsim, seed = 5, re.form = NULL))
  mu <- unname(fitted(fnb))[1:10]
  v <- mu + mu^2 / sigma(fnb)
  expect_within_mc(rowMeans(s)[1:10], mu, sqrt(v / nsim))
  expect_within_mc(apply(s[1:10, ], 1, var), v, v * sqrt((2 + 6 / sigma(fnb)) / nsim) + 3 * mu / sqrt(nsim))
  fg <- glmm(yg ~ x + (1 | a) + (1 | b), data = d, family = Gamma("log"))
  g <- as.matrix(simulate(fg, nsim = nsim, seed = 6, re.form = NULL))
  mu <- unname(fitted(fg))[1:10]
  shape <- fg$family_par$estimate
  expect_within_mc(rowMeans(g)[1:10], mu, mu / sqrt(shape * nsim))
  expect_within_mc(apply(g[1:10, ], 1, var), mu^2 / shape,
                   mu^2 / shape * sqrt((2 + 6 / shape) / nsim))
  # poisson, crossed, new random effects: rows sharing only b covary through b
  fp <- glmm(yp ~ x + (1 | a) + (1 | b), data = d, family = poisson)
  P <- as.matrix(simulate(fp, nsim = nsim, seed = 7))
  vc <- VarCorr(fp)
  sa2 <- vc$a[1, 1]; sb2 <- vc$b[1, 1]
  eta <- drop(model.matrix(~ x, d) %*% fixef(fp))
  m <- exp(eta + (sa2 + sb2) / 2)
  expect_within_mc(rowMeans(P)[1:10], m[1:10],
                   sqrt((m + m^2 * (exp(sa2 + sb2) - 1)) / nsim)[1:10])
  i <- 1
  j <- which(d$b == d$b[i] & d$a != d$a[i])[1]
  k <- which(d$b != d$b[i] & d$a != d$a[i])[1]
  cij <- m[i] * m[j] * (exp(sb2) - 1)
  vi <- m[i] + m[i]^2 * (exp(sa2 + sb2) - 1)
  vj <- m[j] + m[j]^2 * (exp(sa2 + sb2) - 1)
  expect_within_mc(cov(P[i, ], P[j, ]), cij, sqrt((vi * vj + cij^2) / nsim) * 1.5)
  expect_within_mc(cov(P[i, ], P[k, ]), 0, sqrt(vi * var(P[k, ]) / nsim) * 1.5)
})

test_that("refitting simulated data recovers the parameters (known truth = the fit)", {
  d <- sim_overdispersed_sim()
  fnb <- glmm(y ~ x + (1 | a) + (1 | b), data = d, family = nbinom2())
  d$ysim <- simulate(fnb, seed = 12)$sim_1
  re <- glmm(ysim ~ x + (1 | a) + (1 | b), data = d, family = nbinom2())
  se <- sqrt(diag(vcov(fnb, full = TRUE)))
  z <- (re$theta - fnb$theta) / se
  expect_true(all(abs(z) < 4), label = paste(round(z, 2), collapse = " "))
  fb <- glmm(y ~ trt + (1 | ID), data = MASS::bacteria, family = binomial)
  sims <- simulate(fb, nsim = 3, seed = 13)
  for (k in 1:3) {
    db <- MASS::bacteria
    db$y <- sims[[k]]
    rb <- glmm(y ~ trt + (1 | ID), data = db, family = binomial)
    z <- (rb$theta - fb$theta) / sqrt(diag(vcov(fb, full = TRUE)))
    expect_true(all(abs(z) < 4), label = paste(round(z, 2), collapse = " "))
  }
})

# Draws y of a known-covariance fit whose simulations have mean `mu` and
# covariance `V` (n x n): the simulations' mean and covariance agree within
# their Monte Carlo error (each entry's, and over all entries together).
expect_known_moments <- function(sims, mu, V, label) {
  Y <- as.matrix(as.data.frame(lapply(sims, as.numeric)))
  nsim <- ncol(Y)
  zm <- (rowMeans(Y) - mu) / sqrt(diag(V) / nsim)
  expect_lt(max(abs(zm)), 5, label = paste(label, "mean"))
  C <- stats::cov(t(Y))
  se <- sqrt((outer(diag(V), diag(V)) + V^2) / nsim)
  up <- upper.tri(V, diag = TRUE)
  expect_lt(max(abs(C - V)[up] / se[up]), 5.5, label = paste(label, "covariance"))
  slope <- unname(stats::coef(stats::lm(C[up] ~ V[up]))[2L])
  expect_equal(slope, 1, tolerance = 0.05, label = paste(label, "slope"))
}

test_that("known-covariance fits draw new random effects b ~ N(0, s^2 K), correlated over K's rows", {
  # The default simulate() (re.form = NA) was refused for every
  # known-covariance fit. Known truth: y = X beta + Z b + e has mean
  # X beta and covariance s2g Z K Z' + s2e I over the simulations.
  set.seed(31)
  nl <- 24
  G <- matrix(rbinom(nl * 8, 2, 0.4), nl, 8)
  Lf <- scale(G) / sqrt(8)
  ids <- sprintf("p%02d", seq_len(nl))
  rownames(Lf) <- ids
  K <- tcrossprod(Lf) + diag(0.1, nl)
  K0 <- tcrossprod(Lf)  # semidefinite: rank 8
  dimnames(K) <- dimnames(K0) <- list(ids, ids)
  Ks <- methods::as(Matrix::Matrix(K * (abs(K) > 0.15), sparse = TRUE), "CsparseMatrix")
  Ks <- Matrix::forceSymmetric(Ks + Matrix::Diagonal(nl, 0.5))
  d <- data.frame(id = rep(ids, each = 2), x = rnorm(2 * nl))
  d1 <- d[!duplicated(d$id), ]
  b <- drop(t(chol(K)) %*% rnorm(nl)) * 1.2
  d$y <- 1 + 0.5 * d$x + b[match(d$id, ids)] + rnorm(2 * nl)
  d1$y <- d$y[!duplicated(d$id)]
  d$yb <- rbinom(2 * nl, 1, stats::plogis(0.3 * d$x + b[match(d$id, ids)]))
  gauss <- list(dense = list(d, K), semidefinite = list(d, K0), factor = list(d, kfactor(Lf)),
                sparse = list(d, Ks), tridiagonal = list(d1, K))
  for (nm in names(gauss)) {
    dd <- gauss[[nm]][[1L]]
    Kg <- gauss[[nm]][[2L]]
    Kd <- if (inherits(Kg, "glmmgee_kfactor")) tcrossprod(Kg$L) else as.matrix(Kg)
    fit <- suppressWarnings(glmm(y ~ x + (1 | id), dd, covariance = list(id = Kg)))
    Z <- outer(dd$id, ids, "==") * 1
    V <- VarCorr(fit)$id[1, 1] * Z %*% Kd %*% t(Z) + sigma(fit)^2 * diag(nrow(dd))
    sims <- simulate(fit, nsim = 3000, seed = 7)
    expect_known_moments(sims, fit$eta_fixed, V, nm)
  }
  # the binomial Laplace engine: each row's mean over b, and rows of
  # correlated levels correlated as K says (P(y_i = y_j = 1) by quadrature
  # over b_i, b_j)
  fb <- glmm(yb ~ x + (1 | id), d, family = binomial, covariance = list(id = K))
  s2 <- VarCorr(fb)$id[1, 1]
  sims <- simulate(fb, nsim = 4000, seed = 8)
  Y <- as.matrix(as.data.frame(lapply(sims, as.numeric)))
  gh <- gh_rule_eigen(40)
  eta <- fb$eta_fixed
  Kr <- K[match(d$id, ids), match(d$id, ids)]
  p1 <- vapply(seq_len(nrow(d)), function(i)
    sum(gh$w * stats::plogis(eta[i] + sqrt(s2 * Kr[i, i]) * gh$z)), 0)
  expect_lt(max(abs(rowMeans(Y) - p1) / sqrt(p1 * (1 - p1) / 4000)), 5)
  # pairs of different levels with the largest kinship: their covariance
  other <- Kr * outer(d$id, d$id, "!=")
  ij <- which(other == max(other), arr.ind = TRUE)[1L, ]
  i <- ij[[1L]]; j <- ij[[2L]]
  expect_gt(Kr[i, j], 0.2)
  R <- chol(s2 * Kr[c(i, j), c(i, j)])
  p11 <- sum(outer(gh$w, gh$w) * outer(gh$z, gh$z, function(u, v) {
    bi <- R[1, 1] * u
    bj <- R[1, 2] * u + R[2, 2] * v
    stats::plogis(eta[i] + bi) * stats::plogis(eta[j] + bj)
  }))
  cij <- p11 - p1[i] * p1[j]
  expect_lt(abs(mean(Y[i, ] * Y[j, ]) - p1[i] * p1[j] - cij) / sqrt(p11 / 4000), 5)
  # use.u = TRUE and re.form = NULL keep the predicted effects
  expect_equal(simulate(fb, nsim = 2, seed = 3, use.u = TRUE),
               simulate(fb, nsim = 2, seed = 3, re.form = NULL))
})


test_that("simulate() with the predicted random effects draws each family's fitted mean and variance", {
  # Known truth: with re.form = NULL each row's draws have the fitted
  # conditional mean and the family's variance at the fitted dispersion
  # (hurdle: zero with probability pi, else zero-truncated).
  set.seed(5)
  M <- 30; n <- 6
  g <- factor(rep(1:M, each = n)); x <- stats::rnorm(M * n)
  eta <- 0.5 + 0.3 * x + stats::rnorm(M, 0, 0.4)[g]
  mu <- exp(eta); pr <- stats::plogis(eta - 0.5)
  d <- data.frame(g, x, N = stats::rpois(M * n, 6) + 2,
                  ynb1 = stats::rnbinom(M * n, mu = mu, size = mu / 2),
                  ybeta = stats::rbeta(M * n, pr * 8, (1 - pr) * 8),
                  yhp = ifelse(stats::runif(M * n) < 0.4, 0, stats::qpois(stats::runif(M * n, stats::dpois(0, mu), 1), mu)))
  d$ybb <- stats::rbinom(M * n, d$N, stats::rbeta(M * n, pr * 5, (1 - pr) * 5))
  d$yzi <- ifelse(stats::runif(M * n) < 0.3, 0, stats::rnbinom(M * n, mu = mu, size = 2))
  cases <- list(
    nb1 = list(ynb1 ~ x + (1 | g), nbinom1(), NULL, function(m, ph, pz, N) m * (1 + ph)),
    beta = list(ybeta ~ x + (1 | g), beta_family(), NULL, function(m, ph, pz, N) m * (1 - m) / (1 + ph)),
    bb = list(cbind(ybb, N - ybb) ~ x + (1 | g), betabinomial(), NULL,
              function(m, ph, pz, N) N * m * (1 - m) * (1 + (N - 1) / (ph + 1))),
    zinb = list(yzi ~ x + (1 | g), nbinom2(), ~ 1, function(m, ph, pz, N) (1 - pz) * m * (1 + m / ph + pz * m)),
    hnb = list(yhp ~ x + (1 | g), truncated_nbinom2(), ~ 1, function(m, ph, pz, N) {
      p0 <- (ph / (ph + m))^ph
      (1 - pz) * (m + m^2 / ph + m^2) / (1 - p0) - ((1 - pz) * m / (1 - p0))^2
    }))
  for (nm in names(cases)) {
    cs <- cases[[nm]]
    f <- suppressWarnings(glmm(cs[[1]], data = d, family = cs[[2]], ziformula = cs[[3]], nAGQ = 1))
    S <- simulate(f, nsim = 2000, seed = 2, re.form = NULL)
    Y <- if (is.matrix(S[[1]])) sapply(S, function(s) s[, 1]) else as.matrix(S)
    m <- if (is.null(cs[[3]])) predict(f, type = "response") else exp(predict(f, type = "link"))
    pz <- if (is.null(cs[[3]])) 0 else predict(f, type = "zprob")
    ph <- exp(f$theta[[length(f$theta)]])
    v <- cs[[4]](m, ph, pz, d$N)
    mean_fit <- if (nm == "bb") d$N * m else predict(f, type = "response")
    z <- (rowMeans(Y) - mean_fit) / sqrt(v / ncol(Y))
    expect_lt(abs(mean(z)), 4 / sqrt(length(z)), label = paste(nm, "mean"))
    expect_lt(abs(stats::sd(z) - 1), 0.2, label = paste(nm, "sd of z"))
    expect_lt(abs(mean(apply(Y, 1, stats::var) / v) - 1), 0.02, label = paste(nm, "variance"))
  }
})

# A binary response with prior weights 1 and 3 (three trials per row of
# weight 3), coded as 0/1, as a factor and as a logical: the same fit.
sim_weighted_binary <- function() {
  cached("sim_weighted_binary", {
    set.seed(2)
    d <- data.frame(g = factor(rep(1:30, each = 8)), x = stats::rnorm(240))
    d$y <- stats::rbinom(240, 1, stats::plogis(d$x + stats::rnorm(30)[d$g]))
    d$w <- rep(c(1, 3), 120)
    d$yf <- factor(ifelse(d$y == 1, "yes", "no"))
    d$yl <- d$y == 1
    d
  })
}

test_that("a weighted factor or logical binomial response simulates proportions of its trials", {
  d <- sim_weighted_binary()
  fn <- glmm(y ~ x + (1 | g), data = d, family = binomial, weights = w)
  ff <- glmm(yf ~ x + (1 | g), data = d, family = binomial, weights = w)
  fl <- glmm(yl ~ x + (1 | g), data = d, family = binomial, weights = w)
  sn <- simulate(fn, nsim = 3, seed = 1)
  # the three codings of one fit draw the same proportions (a factor gave NA
  # levels for 2 or 3 successes, a logical TRUE for any success)
  expect_identical(simulate(ff, nsim = 3, seed = 1), sn)
  expect_identical(simulate(fl, nsim = 3, seed = 1), sn)
  expect_true(all(as.matrix(sn) * d$w == round(as.matrix(sn) * d$w)))
  # lme4 draws the same successes out of the same trials (its binomial
  # simulate(): rbinom(n, weights, fitted) / weights) at the predicted
  # random effects
  fl1 <- glmm(yl ~ x + (1 | g), data = d, family = binomial, weights = w, nAGQ = 1)
  gl <- suppressWarnings(glmer_ref(yl ~ x + (1 | g), data = d, family = binomial, weights = w,
                                   control = lme4::glmerControl(optimizer = "bobyqa",
                                                                optCtrl = list(rhoend = 1e-10),
                                                                tolPwrss = 1e-12)))
  expect_equal(unname(fitted(fl1)), unname(fitted(gl)), tolerance = 1e-5)
  theirs <- simulate(gl, nsim = 1, seed = 3, use.u = TRUE)[[1]]
  expect_identical(unname(simulate(fl1, nsim = 1, seed = 3, re.form = NULL)[[1]]), unname(theirs))
  # with every weight 1 the binary form is kept
  f1 <- glmm(yf ~ x + (1 | g), data = d, family = binomial)
  expect_identical(levels(simulate(f1, seed = 1)[[1]]), c("no", "yes"))
  expect_type(simulate(glmm(yl ~ x + (1 | g), data = d, family = binomial), seed = 1)[[1]],
              "logical")
})

test_that("binomial simulate() refuses non-integer prior weights and draws 0 at weight 0", {
  d <- sim_weighted_binary()
  d$w2 <- rep(c(0.4, 1.6), 120)
  f2 <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, family = binomial, weights = w2))
  # (0.4 was rounded to 0 trials, which always drew 0)
  expect_error(simulate(f2, seed = 1), "non-integer prior weights \\('weights'\\)")
  expect_error(simulate(f2, seed = 1, newdata = d[1:4, ]), "non-integer prior weights")
  # rows of weight 0 are not in the model: 0 successes, no NA or NaN; a
  # factor with weights 0 and 1 keeps its form
  d$w0 <- rep(c(0, 1, 1, 1), 60)
  f0 <- glmm(yf ~ x + (1 | g), data = d, family = binomial, weights = w0)
  s0 <- simulate(f0, nsim = 20, seed = 1)
  expect_true(all(vapply(s0, function(s) is.factor(s) && !anyNA(s) && all(s[d$w0 == 0] == "no"), TRUE)))
  d$w3 <- rep(c(0, 1, 3, 2), 60)
  s3 <- as.matrix(simulate(glmm(yl ~ x + (1 | g), data = d, family = binomial, weights = w3),
                           nsim = 20, seed = 1))
  expect_true(!anyNA(s3) && all(s3[d$w3 == 0, ] == 0))
})
