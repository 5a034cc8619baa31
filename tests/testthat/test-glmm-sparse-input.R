# Known-covariance random effects and bad input to the several-term route.

sim_known_cov <- function() {
  cached("sim_known_cov", {
    set.seed(99)
    m <- 40
    lev <- sprintf("ind%02d", seq_len(m))
    K <- outer(seq_len(m), seq_len(m), function(i, j) exp(-abs(i - j) / 5))
    dimnames(K) <- list(lev, lev)
    b <- drop(t(chol(K)) %*% rnorm(m)) * 0.8
    id <- rep(seq_len(m), each = 3)
    d <- data.frame(id = factor(lev[id], levels = lev), x = rnorm(3 * m))
    d$y <- 1 + 0.5 * d$x + b[id] + rnorm(3 * m, sd = 0.6)
    list(data = d, K = K)
  })
}

test_that("K = identity reproduces the plain random-intercept fit", {
  data(cbpp, package = "lme4")
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  plain <- glmm(f, cbpp, family = binomial, nAGQ = 1)
  K <- diag(nlevels(cbpp$herd)); rownames(K) <- levels(cbpp$herd)
  withK <- glmm(f, cbpp, family = binomial, covariance = list(herd = K))
  expect_s3_class(withK, "glmmgee_glmm_sparse")
  expect_equal(as.numeric(logLik(withK)), as.numeric(logLik(plain)), tolerance = 1e-7)
  expect_equal(fixef(withK), fixef(plain), tolerance = 1e-4)
  expect_equal(attr(VarCorr(withK)$herd, "stddev"), attr(VarCorr(plain)$herd, "stddev"),
               tolerance = 1e-3)
  expect_equal(ranef(withK)$herd[[1]], ranef(plain)$herd[[1]], tolerance = 1e-3)
  # sparse K gives the same
  Ks <- Matrix::Diagonal(nrow(K)); dimnames(Ks) <- dimnames(K)
  Ks <- methods::as(Ks, "CsparseMatrix")
  rownames(Ks) <- rownames(K)
  withKs <- glmm(f, cbpp, family = binomial, covariance = list(herd = Ks))
  expect_equal(as.numeric(logLik(withKs)), as.numeric(logLik(withK)), tolerance = 1e-9)
})

test_that("gaussian with a known K matches the exact likelihood computed densely", {
  s <- sim_known_cov()
  d <- s$data; K <- s$K
  fit <- glmm(y ~ x + (1 | id), d, covariance = list(id = K))
  X <- cbind(1, d$x)
  Zi <- outer(as.integer(d$id), seq_len(nrow(K)), "==") * 1
  exact <- function(par) {
    V <- exp(2 * par[3]) * Zi %*% K %*% t(Zi) + exp(2 * par[4]) * diag(nrow(d))
    R <- chol(V)
    r <- backsolve(R, d$y - X %*% par[1:2], transpose = TRUE)
    -0.5 * sum(r^2) - sum(log(diag(R))) - 0.5 * nrow(d) * log(2 * pi)
  }
  sb <- attr(VarCorr(fit)$id, "stddev")[[1]]
  at_fit <- c(fixef(fit), log(sb), log(sigma(fit)))
  expect_equal(as.numeric(logLik(fit)), exact(at_fit), tolerance = 1e-9)
  opt <- stats::optim(at_fit + 0.05, exact, method = "BFGS",
                      control = list(fnscale = -1, reltol = 1e-14))
  expect_gt(as.numeric(logLik(fit)) - opt$value, -1e-6)
  expect_equal(unname(fixef(fit)), unname(opt$par[1:2]), tolerance = 1e-3)
  # the random effects are the BLUPs: sb^2 K Z' V^-1 (y - X beta)
  V <- sb^2 * Zi %*% K %*% t(Zi) + sigma(fit)^2 * diag(nrow(d))
  blup <- sb^2 * K %*% t(Zi) %*% solve(V, d$y - X %*% fixef(fit))
  expect_equal(ranef(fit)$id[[1]], unname(drop(blup)), tolerance = 1e-6)
  # levels of K without data get predictions through K
  K2 <- outer(1:41, 1:41, function(i, j) exp(-abs(i - j) / 5))
  dimnames(K2) <- list(c(rownames(K), "extra"), c(rownames(K), "extra"))
  fit2 <- glmm(y ~ x + (1 | id), d, covariance = list(id = K2))
  expect_true("extra" %in% rownames(ranef(fit2)$id))
  expect_equal(predict(fit2, data.frame(x = 0, id = "extra")),
               fixef(fit2)[[1]] + ranef(fit2)$id["extra", 1], ignore_attr = TRUE)
})

test_that("bad known covariances are rejected with the problem named", {
  s <- sim_known_cov()
  d <- s$data; K <- s$K
  f <- y ~ x + (1 | id)
  expect_error(glmm(f, d, covariance = list(id = K[, -1])), "must be square")
  expect_error(glmm(f, d, covariance = list(id = K[-1, -1])), "do not match the levels of 'id'")
  Kn <- K; dimnames(Kn) <- NULL
  expect_error(glmm(f, d, covariance = list(id = Kn)), "needs row names")
  Kb <- K; dimnames(Kb) <- list(paste0("x", rownames(K)), paste0("x", rownames(K)))
  expect_error(glmm(f, d, covariance = list(id = Kb)), "do not match the levels")
  Ki <- K; Ki[1, 2] <- Ki[2, 1] <- 3
  expect_error(glmm(f, d, covariance = list(id = Ki)), "not positive semidefinite")
  Ka <- K; Ka[1, 2] <- 0.1
  expect_error(glmm(f, d, covariance = list(id = Ka)), "not symmetric")
  expect_error(glmm(f, d, covariance = list(grp = K)), "not a grouping factor")
  expect_error(glmm(y ~ x + (x | id), d, covariance = list(id = K)), "one random-intercept term")
  expect_error(glmm(f, d, covariance = K), "named list")
  expect_error(glmm(f, d, covariance = list(id = K), nAGQ = 3), "nAGQ")
})

test_that("observation-level effects: gaussian ones are refused, binary ones warned about, Poisson ones fit", {
  data(cbpp, package = "lme4")
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  cbpp$bin <- as.numeric(cbpp$incidence > 0)
  expect_error(glmm(size ~ period + (1 | herd) + (1 | obs), cbpp),
               "as many levels as observations.*confounded with the residual")
  expect_error(glmm(size ~ period + (1 | obs), cbpp), "'obs' has one observation.*residual variance")
  w <- character()
  f <- withCallingHandlers(glmm(bin ~ period + (1 | herd) + (1 | obs), cbpp, family = binomial),
                           warning = function(c) { w <<- c(w, conditionMessage(c))
                                                   invokeRestart("muffleWarning") })
  expect_match(w, "'obs' has one binary observation", all = FALSE)
  expect_match(f$optinfo$warnings, "barely identifiable", all = FALSE)
  data(grouseticks, package = "lme4")
  fit <- glmm(TICKS ~ YEAR + (1 | INDEX), grouseticks, family = poisson)
  expect_true(is.finite(logLik(fit)))
  expect_gt(attr(VarCorr(fit)$INDEX, "stddev")[[1]], 0.5)
})

test_that("the terms' blocks are bound as Matrix's cbind() binds them, names included", {
  a <- Matrix::sparseMatrix(i = c(1, 3), j = c(1, 2), x = c(1, 2), dims = c(3, 2))
  b <- Matrix::sparseMatrix(i = c(2, 3), j = c(1, 1), x = c(3, 4), dims = c(3, 1),
                            dimnames = list(c("r1", "r2", "r3"), "g1"))
  c3 <- Matrix::sparseMatrix(i = 1, j = 2, x = 5, dims = c(3, 2),
                             dimnames = list(NULL, c("h1", "h2")))
  for (bl in list(list(a, b), list(b, a), list(a, c3, b), list(a, a), list(b, c3))) {
    ref <- methods::as(methods::as(do.call(cbind, bl), "CsparseMatrix"), "generalMatrix")
    got <- glmmgee:::cbind_dgc(bl)
    expect_identical(dim(got), dim(ref))
    expect_identical(as.matrix(got), as.matrix(ref))
    expect_identical(dimnames(got), dimnames(ref))
    expect_true(methods::validObject(got))
  }
})

test_that("a known covariance beside a plain term with named levels fits on the sparse engine", {
  set.seed(1); n <- 400; nm <- paste0("c", 1:n); f <- (1:n - 1) %/% 5
  K <- Matrix::forceSymmetric(methods::as(Matrix::Matrix(0.5 * outer(f, f, "==") + diag(0.5, n),
                                                         sparse = TRUE), "CsparseMatrix"))
  dimnames(K) <- list(nm, nm)
  d <- data.frame(cell = factor(nm, levels = nm), x = rnorm(n),
                  batch = factor(sample(sprintf("b%02d", 1:20), n, TRUE)))
  d$y <- 0.3 + 0.5 * d$x + rnorm(20, sd = 0.7)[d$batch] + rnorm(n)
  fit <- suppressWarnings(glmm(y ~ x + (1 | cell) + (1 | batch), d, covariance = list(cell = K)))
  expect_s3_class(fit, "glmmgee_glmm")
  expect_identical(dim(fit$Z), c(400L, 420L))
  expect_true(is.finite(as.numeric(logLik(fit))))
})
