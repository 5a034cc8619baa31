# propto() (a given matrix times an estimated scale) and equalto() (the
# given matrix exactly): against the known-covariance route, which fits the
# same model through covariance = list(), against each other at the
# optimum, and against the gaussian likelihood written out
# (helper-gaussian-density.R).

known_matrix_data <- function(ns = 6, nsite = 50, seed = 4) {
  set.seed(seed)
  A <- matrix(rnorm(ns * 3), ns)
  K <- stats::cov2cor(tcrossprod(A) + diag(0.3, ns))
  dimnames(K) <- list(paste0("s", seq_len(ns)), paste0("s", seq_len(ns)))
  d <- expand.grid(sp = factor(rownames(K), levels = rownames(K)), site = factor(seq_len(nsite)), r = 1:2)
  b <- MASS::mvrnorm(nsite, rep(0, ns), 0.7 * K)
  d$x <- rnorm(nrow(d))
  d$h <- factor(sample(5, nrow(d), TRUE))
  eta <- 0.3 * d$x + b[cbind(as.integer(d$site), as.integer(d$sp))]
  d$yp <- rpois(nrow(d), exp(eta))
  d$yg <- 10 * (eta + rnorm(nrow(d), sd = 0.5))
  list(d = d, K = K)
}

# propto(0 + sp | site, K)'s model on the known-covariance route: one
# random effect per site and species, covariance I (x) K.
known_route_fit <- function(d, K) {
  d$ss <- interaction(d$site, d$sp, sep = ":")
  KK <- kronecker(diag(nlevels(d$site)), K)
  nm <- paste(rep(levels(d$site), each = nrow(K)), rep(levels(d$sp), nlevels(d$site)), sep = ":")
  dimnames(KK) <- list(nm, nm)
  glmm(yp ~ x + (1 | ss), d, family = poisson, covariance = list(ss = KK))
}

test_that("propto() is the known-covariance route's model of the same matrix", {
  kd <- known_matrix_data()
  d <- kd$d
  K <- kd$K
  f <- glmm(yp ~ x + propto(0 + sp | site, K), d, family = poisson)
  ref <- known_route_fit(d, K)
  expect_equal(loglik_value(f), loglik_value(ref), tolerance = 1e-6)
  expect_equal(fixef(f), fixef(ref), tolerance = 1e-4)
  expect_equal(unname(f$structures[[1]]$extra[["scale"]]), as.data.frame(VarCorr(ref))$vcov[1],
               tolerance = 1e-3)
  # propto()'s scale is the known-covariance term's variance: its profile
  # interval is the square of that term's standard deviation's
  ci <- confint(f, method = "profile")
  expect_identical(rownames(ci), c("(Intercept)", "x", "propto(0 + sp | site, K): scale"))
  expect_equal(unname(ci[3, ]), unname(suppressWarnings(confint(ref, parm = 3, method = "profile"))[1, ]^2),
               tolerance = 1e-4)
  expect_equal(unname(ci[1:2, ]), unname(suppressWarnings(confint(ref, parm = 1:2, method = "profile"))),
               tolerance = 1e-4)
  # rows matched by name: the matrix given in another order is the same model
  o <- rev(seq_len(nrow(K)))
  K2 <- K[o, o]
  expect_equal(loglik_value(glmm(yp ~ x + propto(0 + sp | site, K2), d, family = poisson)),
               loglik_value(f), tolerance = 1e-8)
})

test_that("a singular matrix (two species as clones) fits, as the known-covariance route fits it", {
  kd <- known_matrix_data()
  d <- kd$d
  K <- kd$K
  K[2, ] <- K[1, ]
  K[, 2] <- K[, 1]   # s1 and s2 identical: rank 5 of 6
  expect_equal(qr(K)$rank, 5L)
  L <- glmmgee:::semidefinite_cholesky(K)
  expect_equal(tcrossprod(L), unname(K), tolerance = 1e-12)
  expect_true(all(L[upper.tri(L)] == 0))
  f <- glmm(yp ~ x + propto(0 + sp | site, K), d, family = poisson)
  ref <- known_route_fit(d, K)
  expect_equal(loglik_value(f), loglik_value(ref), tolerance = 1e-6)
  expect_null(glmmgee:::semidefinite_cholesky(K - diag(0.5, nrow(K))))
})

test_that("equalto() at propto()'s estimate reproduces propto()'s fit, on one and several factors", {
  kd <- known_matrix_data()
  d <- kd$d
  K <- kd$K
  for (fam in c("poisson", "gaussian")) for (extra in c("", " + (1 | h)")) {
    y <- if (fam == "poisson") "yp" else "yg"
    pf <- suppressWarnings(glmm(stats::as.formula(paste0(y, " ~ x + propto(0 + sp | site, K)", extra)), d,
                                family = fam, nAGQ = 1))
    V <- pf$structures[[1]]$extra[["scale"]] * K
    ef <- suppressWarnings(glmm(stats::as.formula(paste0(y, " ~ x + equalto(0 + sp | site, V)", extra)), d,
                                family = fam, nAGQ = 1))
    lab <- paste(fam, extra)
    expect_equal(loglik_value(ef), loglik_value(pf), tolerance = 1e-6, label = lab)
    expect_equal(fixef(ef), fixef(pf), tolerance = 1e-4, label = lab)
    expect_length(ef$structures[[1]]$parameters, 0L)
    expect_equal(unname(VarCorr(ef)$site[, ]), unname(V), tolerance = 1e-8, label = lab)
  }
})

test_that("a gaussian equalto() fit maximizes the likelihood written out, in the response's units", {
  kd <- known_matrix_data(nsite = 30)
  d <- kd$d
  V <- 70 * kd$K
  f <- glmm(yg ~ x + equalto(0 + sp | site, V), d)
  X <- stats::model.matrix(~ x, d)
  rows <- split(seq_len(nrow(d)), d$site)
  loglik <- function(p) sum(vapply(rows, function(r) {
    Z <- stats::model.matrix(~ 0 + sp, d[r, ])
    gaussian_log_density(d$yg[r], drop(X[r, ] %*% p[1:2]), Z %*% V %*% t(Z) + diag(exp(2 * p[3]), length(r)))
  }, 1))
  p0 <- c(fixef(f), log(sigma(f)))
  expect_equal(loglik(p0), loglik_value(f), tolerance = 1e-8)
  o <- stats::optim(p0, loglik, method = "BFGS", control = list(fnscale = -1, reltol = 1e-12))
  expect_lte(o$value, loglik_value(f) + 1e-6)
  expect_output(print(f), "the given matrix, no parameter")
  # REML: the restricted log-likelihood written out (beta at its GLS value)
  fr <- glmm(yg ~ x + equalto(0 + sp | site, V), d, REML = TRUE)
  restricted <- function(ls) {
    parts <- lapply(rows, function(r) {
      Z <- stats::model.matrix(~ 0 + sp, d[r, ])
      S <- Z %*% V %*% t(Z) + diag(exp(2 * ls), length(r))
      list(S = S, XS = crossprod(X[r, ], solve(S, X[r, ])), yS = crossprod(X[r, ], solve(S, d$yg[r])))
    })
    C <- Reduce(`+`, lapply(parts, `[[`, "XS"))
    b <- solve(C, Reduce(`+`, lapply(parts, `[[`, "yS")))
    sum(vapply(seq_along(rows), function(k) {
      r <- rows[[k]]
      gaussian_log_density(d$yg[r], drop(X[r, ] %*% b), parts[[k]]$S)
    }, 1)) + log(2 * pi) - 0.5 * determinant(C)$modulus[1]
  }
  expect_true(isREML(fr))
  expect_equal(restricted(log(sigma(fr))), loglik_value(fr), tolerance = 1e-8)
  o <- stats::optimize(restricted, log(sigma(fr)) + c(-1, 1), maximum = TRUE, tol = 1e-10)
  expect_lte(o$objective, loglik_value(fr) + 1e-7)
  expect_gt(sigma(fr), sigma(f))
})

test_that("a gaussian equalto() fit on one grouping factor does not depend on y's units", {
  # y in units s of its own and V in s^2: the same fit. Kept in y's units,
  # the ML fit in units 1e-5 ended 350 below the optimum with the residual
  # reported at zero.
  kd <- known_matrix_data(nsite = 30)
  d <- kd$d
  n <- nrow(d)
  fit_in <- function(s, reml) {
    d$ys <- d$yg * s
    glmm(ys ~ x + equalto(0 + sp | site, 70 * s^2 * kd$K), d, REML = reml)
  }
  for (reml in c(FALSE, TRUE)) {
    f1 <- fit_in(1, reml)
    for (s in c(1e-5, 1e4)) {
      info <- sprintf("REML = %s, y * %g", reml, s)
      f <- fit_in(s, reml)
      expect_identical(f$optinfo$warnings, character(), info = info)
      expect_equal(loglik_value(f) + (n - 2 * reml) * log(s), loglik_value(f1), tolerance = 1e-8,
                   info = info)
      expect_equal(sigma(f) / s, sigma(f1), tolerance = 1e-6, info = info)
      expect_equal(fixef(f) / s, fixef(f1), tolerance = 1e-6, info = info)
      expect_equal(sqrt(diag(vcov(f))) / s, sqrt(diag(vcov(f1))), tolerance = 1e-5, info = info)
      expect_equal(unname(VarCorr(f)$site[, ]), 70 * s^2 * unname(kd$K), tolerance = 1e-12,
                   info = info)
    }
  }
})

test_that("a gaussian ML equalto() fit beside another grouping factor does not depend on y's units", {
  # It takes the two-part route, on y / s, as REML fits do: on the sparse
  # Laplace route in y's units it ended 7.9 below the optimum in units 1e6
  # (a convergence warning only).
  kd <- known_matrix_data(nsite = 20)
  d <- kd$d
  n <- nrow(d)
  fit_in <- function(s) {
    d$ys <- d$yg * s
    glmm(ys ~ x + equalto(0 + sp | site, 70 * s^2 * kd$K) + (1 | h), d)
  }
  f1 <- fit_in(1)
  for (s in c(1e-5, 1e6)) {
    info <- sprintf("y * %g", s)
    f <- fit_in(s)
    expect_identical(f$optinfo$warnings, character(), info = info)
    expect_equal(loglik_value(f) + n * log(s), loglik_value(f1), tolerance = 1e-8, info = info)
    expect_equal(c(fixef(f), sigma(f), sqrt(VarCorr(f)$h[1])) / s,
                 c(fixef(f1), sigma(f1), sqrt(VarCorr(f1)$h[1])), tolerance = 1e-5, info = info)
    expect_equal(unname(VarCorr(f)$site[, ]), 70 * s^2 * unname(kd$K), tolerance = 1e-12,
                 info = info)
  }
})

test_that("propto() and equalto() refuse a matrix that does not fit the term, naming it", {
  kd <- known_matrix_data(nsite = 10)
  d <- kd$d
  K <- kd$K
  expect_error(glmm(yp ~ propto(0 + sp | site), d, family = poisson), "one matrix")
  Kbad <- K
  Kbad[1, 2] <- 0.9
  expect_error(glmm(yp ~ propto(0 + sp | site, Kbad), d, family = poisson), "not symmetric")
  Kn <- unname(K)[-1, -1]
  expect_error(glmm(yp ~ propto(0 + sp | site, Kn), d, family = poisson), "5 rows and no row names")
  Kr <- K
  rownames(Kr)[2] <- "zz"
  expect_error(glmm(yp ~ equalto(0 + sp | site, Kr), d, family = poisson), "no row named 's2'")
  Ks <- K - diag(2, nrow(K))
  expect_error(glmm(yp ~ equalto(0 + sp | site, Ks), d, family = poisson), "not positive semidefinite.*Matrix::nearPD")
  expect_error(glmm(yp ~ equalto(0 + sp | site, nothere), d, family = poisson), "could not be evaluated")
})

# glmmTMB's propto() expectation (its tests/testthat/test-propto.R,
# "Identity"): propto() with the identity is the diagonal term with its
# variances equal, and the scale is that variance.
test_that("propto(x | spp, I) is homdiag(x | spp), as glmmTMB's test of propto() asserts", {
  set.seed(1001)
  nsp <- 50
  dat <- data.frame(spp = factor(1:nsp), x = rbinom(nsp, 1, 0.4),
                    spp_int = rnorm(nsp, mean = 1, sd = 0.6),
                    spp_slope = rnorm(nsp, mean = 1, sd = 0.6))
  dat$y <- with(dat, rpois(nsp, exp(x * 1.5 + spp_int + x * spp_slope)))
  I2 <- diag(2)
  dimnames(I2) <- list(c("(Intercept)", "x"), c("(Intercept)", "x"))
  f <- suppressWarnings(glmm(y ~ x + propto(x | spp, I2), dat, family = poisson, nAGQ = 1))
  h <- suppressWarnings(glmm(y ~ x + homdiag(x | spp), dat, family = poisson, nAGQ = 1))
  expect_equal(unname(VarCorr(f)$spp[, ]), unname(VarCorr(h)$spp[, ]), tolerance = 1e-6)
  expect_equal(loglik_value(f), loglik_value(h), tolerance = 1e-8)
  expect_equal(f$structures[[1]]$extra[["scale"]], unname(h$structures[[1]]$sd[1])^2,
               tolerance = 1e-6)
})
