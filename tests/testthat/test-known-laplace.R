# Binomial and Poisson models with one known covariance, by the Laplace
# engine in the space of a factor of K (fit-known-laplace.R): against lme4's
# glmer() with the random-effect design replaced by Z L (K = L L', dense
# Cholesky factor, or a low-rank factor with r < levels), the exact
# gradient against numerical differentiation, K = identity against the
# plain random intercept, a dense K against the same K given sparse (the
# sparse engine) and by its factor.

sim_known_glmm <- function(nl = 120, m = 40, reps = 3, seed = 2) {
  set.seed(seed)
  G <- matrix(rbinom(nl * m, 2, 0.3), nl, m)
  L <- scale(G) / sqrt(m)
  rownames(L) <- paste0("id", seq_len(nl))
  K <- tcrossprod(L) + diag(0.05, nl)
  d <- data.frame(id = factor(rep(rownames(L), each = reps), levels = rownames(L)),
                  x = rnorm(reps * nl))
  b <- drop(t(chol(K)) %*% rnorm(nl)) * 0.9
  d$yb <- rbinom(nrow(d), 1, stats::plogis(-0.3 + 0.6 * d$x + b[as.integer(d$id)]))
  d$yp <- rpois(nrow(d), exp(0.2 + 0.4 * d$x + 0.8 * b[as.integer(d$id)]))
  list(data = d, L = L, K = K)
}

# glmer_zl(), sim_dense_binary(), dense_K(): helper-known-genomic.R.

# Same model: our maximum at least our Laplace log-likelihood at glmer's
# estimates (the same function: glmer's reported value carries the error of
# its PIRLS modes, ~1e-5 here), not below glmer's reported value beyond that
# error, and the
# estimates at glmer's optimizer precision.
expect_as_good_as_glmer <- function(ours, ref, d, y, L, family) {
  eng <- glmmgee:::known_laplace_engine(stats::model.matrix(~ x, d), y, rep(1, length(y)),
                                        rep(0, length(y)), as.integer(d$id), L,
                                        glmmgee:::known_laplace_family(family), 1L)
  at_ref <- eng$eval(c(lme4::fixef(ref), log(lme4::getME(ref, "theta"))), gradient = FALSE)$value
  expect_gte(as.numeric(logLik(ours)), at_ref - 1e-8)
  expect_gte(as.numeric(logLik(ours)), as.numeric(logLik(ref)) - 1e-4)
  expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 2e-3)
  expect_equal(unname(ours$theta[length(ours$theta)]), unname(lme4::getME(ref, "theta")),
               tolerance = 2e-3)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(as.matrix(vcov(ref))))),
               tolerance = 1e-2)
}

test_that("dense K, binomial and Poisson: the Laplace fit equals glmer's Z L fit", {
  skip_if_not_installed("lme4")
  s <- sim_known_glmm()
  Lk <- t(chol(s$K))
  fb <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = s$K))
  expect_s3_class(fb, "glmmgee_glmm_known")
  expect_match(fb$optinfo$method, "Laplace")
  expect_as_good_as_glmer(fb, glmer_zl(yb ~ x + (1 | id), s$data, Lk, binomial),
                          s$data, s$data$yb, Lk, binomial())
  fp <- glmm(yp ~ x + (1 | id), s$data, family = poisson, covariance = list(id = s$K))
  ref <- glmer_zl(yp ~ x + (1 | id), s$data, Lk, poisson)
  expect_as_good_as_glmer(fp, ref, s$data, s$data$yp, Lk, poisson())
  # the predictions b = s L u: glmer's, mapped through L
  bref <- unname(drop(Lk %*% lme4::ranef(ref)[[1L]][[1L]]))
  expect_equal(unname(ranef(fp)$id[[1L]]), bref, tolerance = 5e-3)
})

test_that("a low-rank factor (kfactor, r < levels) equals glmer's reduced-rank Z L fit", {
  skip_if_not_installed("lme4")
  s <- sim_known_glmm()
  fb <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(s$L)))
  expect_equal(fb$optinfo$rank, ncol(s$L))
  expect_as_good_as_glmer(fb, glmer_zl(yb ~ x + (1 | id), s$data, s$L, binomial),
                          s$data, s$data$yb, s$L, binomial())
})

test_that("a dense K of low rank is found to be so: the fit equals the fit on its factor", {
  s <- sim_known_glmm(nl = 150, m = 40)
  K <- tcrossprod(s$L)  # rank 40 (the columns of L are centred: 39 or 40)
  r <- qr(s$L)$rank
  fd <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = K))
  ff <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(s$L)))
  expect_identical(fd$optinfo$rank, r)
  expect_equal(as.numeric(logLik(fd)), as.numeric(logLik(ff)), tolerance = 1e-9)
  expect_equal(coef(fd), coef(ff), tolerance = 1e-6)
  expect_equal(fd$theta, ff$theta, tolerance = 1e-6)
  expect_equal(unname(ranef(fd)$id[[1L]]), unname(ranef(ff)$id[[1L]]), tolerance = 1e-5)
  # the factor reproduces K, rows in K's order
  expect_equal(unname(tcrossprod(fd$known_factor$L)), unname(K), tolerance = 1e-10)
  expect_identical(rownames(fd$known_factor$L), rownames(K))
  # a K that the plain Cholesky factorization passes with a pivot at
  # rounding level is found singular too (here rank 149 of 150)
  Ln <- cbind(s$L, matrix(rnorm(150 * 109), 150) / 30)
  Kn <- tcrossprod(Ln)
  expect_identical(glmm(yb ~ x + (1 | id), s$data, family = binomial,
                        covariance = list(id = Kn))$optinfo$rank, qr(Ln)$rank)
  # from 2,000 levels the rank is looked for first (pivoting stopped at a
  # tenth of the levels): the same fit as by the factor
  set.seed(5)
  L2 <- scale(matrix(rbinom(2000 * 30, 2, 0.3), 2000, 30)) / sqrt(30)
  rownames(L2) <- sprintf("p%04d", 1:2000)
  d2 <- data.frame(id = rownames(L2), x = rnorm(2000))
  d2$y <- rbinom(2000, 1, plogis(0.3 * d2$x + drop(L2 %*% rnorm(30))))
  f2 <- expect_silent(glmm(y ~ x + (1 | id), d2, family = binomial,
                           covariance = list(id = tcrossprod(L2))))
  f2f <- glmm(y ~ x + (1 | id), d2, family = binomial, covariance = list(id = kfactor(L2)))
  expect_identical(f2$optinfo$rank, 30L)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f2f)), tolerance = 1e-9)
  K2a <- tcrossprod(L2)
  K2a[1, 2] <- K2a[1, 2] + 0.1
  expect_error(glmm(y ~ x + (1 | id), d2, family = binomial, covariance = list(id = K2a)),
               "'covariance$id' is not symmetric", fixed = TRUE)
  # Poisson on the same route
  fp <- glmm(yp ~ x + (1 | id), s$data, family = poisson, covariance = list(id = K))
  fpf <- glmm(yp ~ x + (1 | id), s$data, family = poisson, covariance = list(id = kfactor(s$L)))
  expect_equal(as.numeric(logLik(fp)), as.numeric(logLik(fpf)), tolerance = 1e-9)
})

test_that("a dense K that is not positive semidefinite is refused, low rank or not", {
  s <- sim_known_glmm(nl = 80, m = 10)
  K <- tcrossprod(s$L)
  # a negative direction hidden behind positive diagonal entries
  v <- rep(c(1, -1), 40) / sqrt(80)
  Kneg <- K - 0.5 * tcrossprod(v) + diag(0.3, 80)
  dimnames(Kneg) <- dimnames(K)
  expect_lt(min(eigen(Kneg, symmetric = TRUE, only.values = TRUE)$values), 0)
  expect_error(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = Kneg)),
               "'covariance$id' is not positive semidefinite", fixed = TRUE)
  # the message names the usual remedy, and the remedy fits
  expect_error(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = Kneg)),
               "Matrix::nearPD(K)$mat", fixed = TRUE)
  Kpd <- Matrix::nearPD(Kneg)$mat
  expect_true(is.finite(logLik(glmm(yb ~ x + (1 | id), s$data, family = binomial,
                                    covariance = list(id = Kpd)))))
  # zero diagonal entries with a nonzero off-diagonal one
  K2 <- K
  K2[1, ] <- K2[, 1] <- 0
  K2[1, 2] <- K2[2, 1] <- 0.5
  expect_error(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = K2)),
               "not positive semidefinite")
  K0 <- K * 0
  expect_error(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = K0)),
               "'covariance$id' is zero", fixed = TRUE)
})

test_that("a fit with a large dense K says up front what it will cost, and how to give K faster", {
  # the forecast scales as n^3 in time and n^2 in memory
  a <- glmmgee:::known_dense_forecast(3000, 2, unit = 0.02)
  b <- glmmgee:::known_dense_forecast(6000, 2, unit = 0.02)
  expect_equal(b$fit / a$fit, 8)
  expect_equal(b$eval / a$eval, 8)
  expect_equal(b$bytes / a$bytes, 4)
  expect_gt(a$fit, a$eval)
  expect_gt(glmmgee:::known_dense_unit(), 0)
  # small K: no message
  s <- sim_known_glmm(nl = 60)
  expect_silent(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = s$K)))
  # the message, with the forecast of a slow machine
  slow <- glmmgee:::known_dense_forecast(10000, 2, unit = 2)
  msg <- tryCatch(glmmgee:::known_dense_forecast_message("id", 10000L, 2L, slow),
                  message = conditionMessage)
  expect_match(msg, "'covariance$id' is a dense 10,000 x 10,000 matrix", fixed = TRUE)
  expect_match(msg, "about 19.4 hours here (each evaluation of the likelihood about 1.9 hours)",
               fixed = TRUE)
  expect_match(msg, "about 6.0 GB of memory", fixed = TRUE)
  expect_match(msg, "covariance = list(id = kfactor(L))", fixed = TRUE)
  expect_null(glmmgee:::known_dense_forecast_message("id", 1999L, 2L, slow))
  expect_null(glmmgee:::known_dense_forecast_message(
    "id", 3000L, 2L, glmmgee:::known_dense_forecast(3000, 2, unit = 1e-3)))
})

test_that("dense K, its Cholesky factor and the sparse engine give the same fit", {
  s <- sim_known_glmm(nl = 60)
  f_dense <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = s$K))
  Lk <- t(chol(s$K))
  rownames(Lk) <- rownames(s$K)
  f_fac <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(Lk)))
  Ks <- Matrix::Matrix(s$K, sparse = TRUE)
  f_sp <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = Ks))
  expect_false(inherits(f_sp, "glmmgee_glmm_known"))
  expect_equal(logLik(f_fac), logLik(f_dense), tolerance = 1e-9)
  expect_equal(as.numeric(logLik(f_sp)), as.numeric(logLik(f_dense)), tolerance = 1e-7)
  expect_equal(fixef(f_sp), fixef(f_dense), tolerance = 1e-4)
  expect_equal(unname(f_sp$theta[3]), unname(f_dense$theta[3]), tolerance = 1e-4)
})

test_that("K as a dense Matrix (nearPD()$mat, Matrix(K), dgeMatrix) gives the base matrix's fit", {
  # these had stopped with "invalid 'type' (list) of argument"
  s <- sim_known_glmm(nl = 60)
  base <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = s$K))
  Kd <- list(Matrix::nearPD(s$K)$mat, Matrix::Matrix(s$K),
             methods::as(methods::as(Matrix::Matrix(s$K), "generalMatrix"), "unpackedMatrix"))
  for (K in Kd) {
    f <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = K))
    expect_s3_class(f, "glmmgee_glmm_known")
    expect_equal(logLik(f), logLik(base), tolerance = 1e-8)
    expect_equal(fixef(f), fixef(base), tolerance = 1e-6)
    expect_equal(ranef(f)$id, ranef(base)$id, tolerance = 1e-6)
  }
})

test_that("K = identity reproduces the plain random intercept (cbpp, Laplace)", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  K <- diag(nlevels(cbpp$herd))
  dimnames(K) <- list(levels(cbpp$herd), levels(cbpp$herd))
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  plain <- glmm(f, cbpp, family = binomial, nAGQ = 1)
  known <- glmm(f, cbpp, family = binomial, covariance = list(herd = K))
  expect_s3_class(known, "glmmgee_glmm_known")
  expect_equal(as.numeric(logLik(known)), as.numeric(logLik(plain)), tolerance = 1e-8)
  expect_equal(fixef(known), fixef(plain), tolerance = 1e-5)
  expect_equal(unname(sqrt(VarCorr(known)$herd[1])), unname(sqrt(VarCorr(plain)$herd[1])),
               tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(known)))), unname(sqrt(diag(vcov(plain)))), tolerance = 1e-4)
})

test_that("the gradient in (beta, log s) is exact, including the modes' dependence", {
  skip_if_not_installed("numDeriv")
  s <- sim_known_glmm(nl = 50)
  X <- stats::model.matrix(~ x, s$data)
  idx <- as.integer(s$data$id)
  for (fam in list(binomial(), poisson())) {
    y <- if (fam$family == "binomial") s$data$yb else s$data$yp
    eng <- glmmgee:::known_laplace_engine(X, y, rep(1, length(y)), rep(0, length(y)), idx,
                                          s$L, glmmgee:::known_laplace_family(fam), 1L)
    par <- c(-0.2, 0.5, log(0.7))
    g <- eng$eval(par)$gradient
    num <- numDeriv::grad(function(p) { eng$reset(); eng$eval(p, gradient = FALSE)$value }, par)
    expect_equal(unname(g), num, tolerance = 1e-6)
  }
})

test_that("the Hessian in (beta, s) is exact: it equals the numerical Jacobian of the exact gradient, for a general factor and a dense K's factor, with several observations a level", {
  skip_if_not_installed("numDeriv")
  s <- sim_known_glmm(nl = 120, reps = 2, seed = 3)
  X <- stats::model.matrix(~ x, s$data)
  n <- nrow(X)
  idx <- as.integer(s$data$id)
  Lk <- glmmgee:::cpp_known_dense_factor(s$K, 1e-8)$L
  for (L in list(s$L, Lk)) for (fam in list(binomial(), poisson())) {
    y <- if (fam$family == "binomial") s$data$yb else s$data$yp
    eng <- glmmgee:::known_laplace_engine(X, y, rep(1, n), rep(0, n), idx, L,
                                          glmmgee:::known_laplace_family(fam), 1L)
    th <- c(-0.2, 0.5, 0.7)
    grad_s <- function(th) {
      g <- eng$eval(c(th[1:2], log(th[3])))$gradient
      c(g[1:2], g[3] / th[3])
    }
    H <- eng$hessian(c(th[1:2], log(th[3])))
    num <- numDeriv::jacobian(grad_s, th)
    expect_equal(H, t(H))
    expect_equal(H, num, tolerance = 1e-6)
  }
})

test_that("when the engine refuses the exact Hessian (memory), the covariance comes from differences of the exact gradient", {
  s <- sim_known_glmm(nl = 80, reps = 2, seed = 4)
  X <- stats::model.matrix(~ x, s$data)
  n <- nrow(X)
  eng <- glmmgee:::known_laplace_engine(X, s$data$yb, rep(1, n), rep(0, n), as.integer(s$data$id),
                                        s$L, glmmgee:::known_laplace_family(binomial()), 1L)
  par <- c(-0.2, 0.5, log(0.7))
  exact <- glmmgee:::known_laplace_cov(eng, par, FALSE, TRUE)
  refusing <- eng
  refusing$hessian <- function(par) stop("not enough memory for the weighted Gram matrices")
  fallback <- glmmgee:::known_laplace_cov(refusing, par, FALSE, TRUE)
  expect_false(anyNA(fallback))
  # forward differences (step 1e-5 relative): agree with the exact inverse
  # to the differences' truncation error
  expect_equal(fallback, exact, tolerance = 1e-4)
  expect_gt(max(abs(fallback - exact)), 0)
})

test_that("a dense K's factor (reversed Cholesky layout) gives the values, gradients and leverages of any factor of K", {
  skip_if_not_installed("numDeriv")
  s <- sim_known_glmm(nl = 70, reps = 2, seed = 5)
  X <- stats::model.matrix(~ x, s$data)
  idx <- as.integer(s$data$id)
  f <- glmmgee:::cpp_known_dense_factor(s$K, 1e-8)
  expect_true(f$ok)
  expect_equal(tcrossprod(f$L), s$K, tolerance = 1e-12, ignore_attr = TRUE)
  expect_true(all(f$L[row(f$L) + col(f$L) < nrow(f$L)] == 0))  # zero above the anti-diagonal
  # with the levels, the same factor carrying them as row names
  fn <- glmmgee:::cpp_known_dense_factor(s$K, 1e-8, rownames(s$K))
  expect_identical(rownames(fn$L), rownames(s$K))
  expect_identical(unname(fn$L), unname(f$L))
  expect_error(glmmgee:::cpp_known_dense_factor(s$K, 1e-8, rownames(s$K)[-1]), "levels")
  # a general factor of the same K: the Cholesky factor turned by an orthogonal matrix
  Q <- qr.Q(qr(matrix(rnorm(70^2), 70)))
  Lg <- t(chol(s$K)) %*% Q
  for (fam in list(binomial(), poisson())) {
    y <- if (fam$family == "binomial") s$data$yb else s$data$yp
    mk <- function(L) glmmgee:::known_laplace_engine(X, y, rep(1, length(y)), rep(0, length(y)),
                                                     idx, L, glmmgee:::known_laplace_family(fam), 2L)
    e_rt <- mk(f$L)
    e_g <- mk(Lg)
    for (par in list(c(-0.2, 0.5, log(0.7)), c(0.1, 0.3, log(1.3)))) {
      a <- e_rt$eval(par)
      b <- e_g$eval(par)
      expect_equal(a$value, b$value, tolerance = 1e-10)
      expect_equal(a$gradient, b$gradient, tolerance = 1e-7)
      expect_equal(a$factor$lev, b$factor$lev, tolerance = 1e-9)
    }
    num <- numDeriv::grad(function(p) { e_rt$reset(); e_rt$eval(p, gradient = FALSE)$value },
                          c(0.1, 0.3, log(1.3)))
    expect_equal(unname(e_rt$eval(c(0.1, 0.3, log(1.3)))$gradient), num, tolerance = 1e-6)
  }
  # a non-symmetric K is refused before any factor is made
  Kb <- s$K
  Kb[1, 2] <- Kb[1, 2] + 0.1
  expect_false(glmmgee:::cpp_known_dense_factor(Kb, 1e-8)$symmetric)
  expect_error(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = Kb)),
               "not symmetric")
})

test_that("at s -> 0 the Laplace log-likelihood is the glm one, and the fit is never below it", {
  set.seed(11)
  s <- sim_known_glmm(nl = 60, reps = 2)
  s$data$y0 <- rbinom(nrow(s$data), 1, 0.5)
  g0 <- glm(y0 ~ x, binomial, s$data)
  eng <- glmmgee:::known_laplace_engine(stats::model.matrix(~ x, s$data), s$data$y0,
                                        rep(1, nrow(s$data)), rep(0, nrow(s$data)),
                                        as.integer(s$data$id), s$L,
                                        glmmgee:::known_laplace_family(binomial()), 1L)
  expect_equal(eng$eval(c(coef(g0), log(1e-9)))$value, as.numeric(logLik(g0)), tolerance = 1e-10)
  fit <- suppressWarnings(glmm(y0 ~ x + (1 | id), s$data, family = binomial,
                               covariance = list(id = s$K)))
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(g0)) - 1e-10)
  if (isTRUE(fit$singular)) expect_true(any(grepl("singular", fit$optinfo$warnings)))
})

test_that("bad input to the known-covariance Laplace route is refused with the problem named", {
  s <- sim_known_glmm(nl = 30, reps = 2)
  d <- s$data
  expect_error(glmm(yp ~ x + (1 | id), d, family = poisson, covariance = list(id = s$K),
                    weights = rep(2, nrow(d))), "'weights'")
  expect_error(glmm(yb ~ x + (1 | id), d, family = binomial, covariance = list(id = s$K),
                    nAGQ = 5), "nAGQ")
  Lb <- s$L
  rownames(Lb)[1] <- "zz"
  expect_error(glmm(yb ~ x + (1 | id), d, family = binomial, covariance = list(id = kfactor(Lb))),
               "do not match the levels")
  expect_error(glmm(yb ~ x + (1 | id), d, family = binomial(link = "probit"),
                    covariance = list(id = kfactor(s$L))), "kfactor")
})

test_that("a wide factor (r > 200): the quasi-Newton search from the reduced-rank start reaches glmer's Z L optimum", {
  skip_if_not_installed("lme4")
  s <- sim_known_glmm(nl = 300, m = 240, reps = 2, seed = 7)
  fb <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(s$L)))
  expect_match(fb$optinfo$optimizer, "quasi-Newton")
  expect_equal(fb$optinfo$convergence, 0L)
  expect_as_good_as_glmer(fb, glmer_zl(yb ~ x + (1 | id), s$data, s$L, binomial),
                          s$data, s$data$yb, s$L, binomial())
  # the search's own optimum: nlminb from the glm start ends no higher
  X <- stats::model.matrix(~ x, s$data)
  eng <- glmmgee:::known_laplace_engine(X, s$data$yb, rep(1, nrow(X)), rep(0, nrow(X)),
                                        as.integer(s$data$id), s$L,
                                        glmmgee:::known_laplace_family(binomial()), 1L)
  g0 <- glm(yb ~ x, binomial, s$data)
  opt <- nlminb(c(coef(g0), log(0.5)), function(p) -eng$eval(p, FALSE)$value,
                function(p) -eng$eval(p)$gradient, control = list(rel.tol = 1e-12))
  expect_gte(as.numeric(logLik(fb)), -opt$objective - 1e-8)
})

test_that("the moment start is the weighted least-squares fit of the residual products on Z K Z' over pairs i != j", {
  s <- sim_known_glmm(nl = 300, m = 240, reps = 2, seed = 7)
  X <- stats::model.matrix(~ x, s$data)
  n <- nrow(X)
  idx <- as.integer(s$data$id)
  y <- s$data$yb
  g0 <- suppressWarnings(stats::glm.fit(X, y, family = binomial()))
  kd <- rowSums(s$L^2)
  mom <- glmmgee:::known_laplace_moment_start(X, y, rep(1, n), rep(0, n), idx, s$L,
                                              glmmgee:::known_laplace_family(binomial()), g0, kd)
  # by brute force over the n^2 pairs, the Frobenius norm exact
  mu <- stats::plogis(drop(X %*% g0$coefficients))
  w <- mu * (1 - mu)
  KZ <- tcrossprod(s$L)[idx, idx]
  off <- row(KZ) != col(KZ)
  s2 <- sum((tcrossprod(y - mu) * KZ)[off]) / sum((tcrossprod(w) * KZ^2)[off])
  a <- sqrt(1 + (16 * sqrt(3) / (15 * pi))^2 * s2 * mean(kd))
  expect_equal(unname(mom[1:2]), unname(g0$coefficients) * a, tolerance = 0.05)
  expect_equal(exp(mom[[3]]), sqrt(s2) * a, tolerance = 0.05)
  # no effect of the user's random number stream
  set.seed(1)
  r1 <- runif(1)
  set.seed(1)
  glmmgee:::known_laplace_moment_start(X, y, rep(1, n), rep(0, n), idx, s$L,
                                       glmmgee:::known_laplace_family(binomial()), g0, kd)
  expect_identical(runif(1), r1)
})

test_that("a wide factor: the search from the moment start ends where the search from the reduced-rank optimum ends, with the same standard errors", {
  s <- sim_known_glmm(nl = 300, m = 240, reps = 2, seed = 7)
  fb <- glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = kfactor(s$L)))
  X <- stats::model.matrix(~ x, s$data)
  n <- nrow(X)
  idx <- as.integer(s$data$id)
  y <- s$data$yb
  fam <- glmmgee:::known_laplace_family(binomial())
  g0 <- suppressWarnings(stats::glm.fit(X, y, family = binomial()))
  kd <- rowSums(s$L^2)
  ctl <- glmm_control()
  # the previous start: the reduced-rank model's optimum (no g0 given)
  st <- glmmgee:::known_laplace_start(X, y, rep(1, n), rep(0, n), idx, s$L, fam, ctl,
                                      c(g0$coefficients, log(0.5 / sqrt(mean(kd)))), sum(kd))
  eng <- glmmgee:::known_laplace_engine(X, y, rep(1, n), rep(0, n), idx, s$L, fam, 1L)
  old <- glmmgee:::known_laplace_qn(eng, c(st), attr(st, "hessian"), ctl$rel.tol)
  expect_false(is.null(old))
  expect_equal(as.numeric(logLik(fb)), old$at$value, tolerance = 1e-9)
  expect_equal(unname(fb$theta), unname(c(old$par[1:2], exp(old$par[3]))), tolerance = 1e-5)
  # the covariance at the second search's optimum: the same standard errors
  cv <- glmmgee:::known_laplace_cov(eng, old$par, FALSE, TRUE)
  expect_equal(unname(sqrt(diag(vcov(fb)))), sqrt(diag(cv))[1:2], tolerance = 1e-5)
})

test_that("an evaluation far from the previous one gives the value of a fresh engine (the chord steps hand over to Newton's)", {
  s <- sim_known_glmm(nl = 120, reps = 2, seed = 3)
  X <- stats::model.matrix(~ x, s$data)
  n <- nrow(X)
  for (fam in list(binomial(), poisson())) {
    y <- if (fam$family == "binomial") s$data$yb else s$data$yp
    eng <- glmmgee:::known_laplace_engine(X, y, rep(1, n), rep(0, n), as.integer(s$data$id), s$L,
                                          glmmgee:::known_laplace_family(fam), 1L)
    for (far in list(c(0.4, -0.3, log(3)), c(-0.1, 0.2, log(0.05)))) {
      eng$eval(c(-0.2, 0.5, log(0.7)))
      a <- eng$eval(far)
      eng$reset()
      b <- eng$eval(far)
      expect_equal(a$value, b$value, tolerance = 1e-10)
      expect_equal(a$gradient, b$gradient, tolerance = 1e-7)
    }
  }
})

test_that("a search that drifts towards s = 0 from a poor start is restarted (dense K, binary)", {
  # Simulated as bench/bench-genomic-laplace.R does; with this seed the
  # reduced-rank start of the dense K's Cholesky factor sent the first
  # search to sd 0.001 while the profile log-likelihood rises to sd 0.3.
  n <- 400L
  s6 <- sim_dense_binary(n, 500L, seed = 6)
  d <- s6$d
  K <- dense_K(s6$L)
  fit <- glmm(y ~ x + (1 | id), d, family = binomial, covariance = list(id = K))
  expect_length(fit$optinfo$warnings, 0L)
  ll0 <- as.numeric(logLik(glm(y ~ x, binomial, d)))
  expect_gt(as.numeric(logLik(fit)), ll0 + 0.05)
  # The fit is the maximum of the profile log-likelihood in the sd.
  eng <- glmmgee:::known_laplace_engine(fit$X, fit$y, fit$prior.weights, rep(0, n),
                                        fit$known_factor$index, fit$known_factor$L,
                                        glmmgee:::known_laplace_family(fit$family), 1L)
  sd_hat <- sqrt(unlist(VarCorr(fit))[[1L]])
  for (sdv in sd_hat * c(0.01, 0.5, 0.8, 1.25, 2)) {
    pr <- stats::nlminb(fixef(fit), function(b) -eng$eval(c(b, log(sdv)), gradient = FALSE)$value)
    expect_lte(-pr$objective, as.numeric(logLik(fit)) + 1e-6)
  }
})

test_that("a dense K: the search from the moment start is seeded with the full model's curvature in log s, and ends at nlminb's optimum", {
  # As bench/bench-genomic-laplace.R simulates; the rank-100 model of a
  # dense K's Cholesky factor has its optimum near s = 0, where the
  # curvature in log s is nearly zero (the search seeded with it gave up
  # at n = 3,000).
  n <- 400L
  s6 <- sim_dense_binary(n, 500L, seed = 6)
  d <- s6$d
  K <- dense_K(s6$L)
  fit <- glmm(y ~ x + (1 | id), d, family = binomial, covariance = list(id = K))
  expect_match(fit$optinfo$optimizer, "quasi-Newton (BFGS) from a moment estimate", fixed = TRUE)
  expect_length(fit$optinfo$warnings, 0L)
  X <- fit$X
  idx <- fit$known_factor$index
  Lf <- fit$known_factor$L
  fam <- glmmgee:::known_laplace_family(binomial())
  eng <- glmmgee:::known_laplace_engine(X, fit$y, rep(1, n), rep(0, n), idx, Lf, fam, 1L)
  g0 <- suppressWarnings(stats::glm.fit(X, fit$y, family = binomial()))
  kd <- rowSums(Lf^2)
  st <- glmmgee:::known_laplace_start(X, fit$y, rep(1, n), rep(0, n), idx, Lf, fam, glmm_control(),
                                      c(g0$coefficients, log(0.5 / sqrt(mean(kd)))), sum(kd),
                                      g0, kd, eng)
  # the log s column: the full model's Hessian at the start (forward
  # differences of the exact gradient, step 1e-5 against the start's 1e-3)
  Hf <- glmmgee:::known_laplace_hessian_par(eng, c(st))
  expect_equal(attr(st, "hessian")[, 3], Hf[, 3], tolerance = 1e-2)
  expect_lt(attr(st, "hessian")[3, 3], 0)
  # the optimum is nlminb's from the glm fit
  eng$reset()
  nl <- stats::nlminb(c(g0$coefficients, log(0.5 / sqrt(mean(kd)))),
                      function(par) -eng$eval(par, gradient = FALSE)$value,
                      function(par) -eng$eval(par)$gradient, control = list(rel.tol = 1e-10))
  expect_gte(as.numeric(logLik(fit)), -nl$objective - 1e-6)
  expect_equal(unname(fit$theta), unname(c(nl$par[1:2], exp(nl$par[3]))), tolerance = 1e-4)
})

test_that("profile intervals of binomial and Poisson fits say nothing of a Hessian the fit has", {
  # the Laplace fit's covariance was never marked valid: every profile
  # warned "the fit has no valid Hessian" though vcov() gave standard errors
  s <- sim_known_glmm(nl = 60, reps = 3)
  for (resp in c("yb", "yp")) {
    fit <- glmm(stats::reformulate(c("x", "(1 | id)"), resp), data = s$data,
                family = if (resp == "yb") binomial else poisson, covariance = list(id = s$K))
    expect_true(isTRUE(attr(fit$cov_theta, "ok")))
    expect_true(all(is.finite(sqrt(diag(vcov(fit))))))
    expect_silent(ci <- confint(fit, parm = "x", method = "profile"))
    expect_true(all(is.finite(ci)))
    expect_lt(ci[1L], fixef(fit)[["x"]])
    expect_gt(ci[2L], fixef(fit)[["x"]])
  }
})
