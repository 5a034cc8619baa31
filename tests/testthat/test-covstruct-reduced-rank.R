# rr(): reduced-rank covariances (a q x d loading matrix), against
# glmmTMB's rr() and, at full rank, the unstructured term.

rr_data <- function(ns = 8, nsite = 80, seed = 8) {
  set.seed(seed)
  Lt <- matrix(rnorm(ns * 2, sd = 0.6), ns, 2)
  d <- expand.grid(sp = factor(paste0("s", seq_len(ns))), site = factor(seq_len(nsite)))
  b <- matrix(rnorm(nsite * 2), nsite) %*% t(Lt)
  d$x <- rnorm(nrow(d))
  d$h <- factor(sample(6, nrow(d), TRUE))
  eta <- 0.2 + 0.3 * d$x + b[cbind(as.integer(d$site), as.integer(d$sp))]
  d$yp <- rpois(nrow(d), exp(eta))
  d$yg <- eta + rnorm(nrow(d), sd = 0.4)
  d
}

test_that("rr() matches glmmTMB's rr() at ranks 1 to 3, on one factor and beside another", {
  skip_if_not_installed("glmmTMB")
  d <- rr_data()
  cases <- list(list(yp ~ x + rr(0 + sp | site, d = 1), "poisson"),
                list(yp ~ x + rr(0 + sp | site, d = 2), "poisson"),
                list(yp ~ x + rr(0 + sp | site, d = 3), "poisson"),
                list(yg ~ x + rr(0 + sp | site, 2), "gaussian"),
                list(yp ~ x + rr(0 + sp | site, 2) + (1 | h), "poisson"))
  for (cs in cases) {
    lab <- paste(deparse(cs[[1]]), cs[[2]])
    ours <- suppressWarnings(glmm(cs[[1]], d, family = cs[[2]]))
    tmb <- suppressWarnings(glmmTMB::glmmTMB(cs[[1]], d, family = cs[[2]]))
    expect_gte(loglik_value(ours), loglik_value(tmb) - 1e-6, label = lab)
    if (loglik_value(ours) < loglik_value(tmb) + 1e-4) {
      expect_equal(fixef(ours), fixef(tmb)$cond, tolerance = 1e-3, label = lab)
      # the covariance (the loadings are identified only up to rotation)
      expect_equal(unname(VarCorr(ours)$site[, ]), unname(VarCorr(tmb)$cond$site[, ]),
                   tolerance = 1e-2, label = lab)
    }
  }
  f <- glmm(yp ~ x + rr(0 + sp | site, d = 2), d, family = poisson)
  expect_length(f$structures[[1]]$parameters, 8 * 2 - 1)
  expect_equal(qr(VarCorr(f)$site[, ])$rank, 2L)
  expect_output(print(f), "reduced rank")
})

test_that("rr() at full rank is the unstructured term; the rank defaults to 2 and is checked", {
  d <- rr_data(ns = 4, nsite = 60)
  # the data have rank 2: full-rank fits are singular, and say so
  expect_warning(full <- glmm(yp ~ x + rr(0 + sp | site, d = 4), d, family = poisson), "singular fit")
  expect_warning(us <- glmm(yp ~ x + (0 + sp | site), d, family = poisson), "singular fit")
  expect_equal(loglik_value(full), loglik_value(us), tolerance = 1e-6)
  expect_equal(loglik_value(glmm(yp ~ x + rr(0 + sp | site), d, family = poisson)),
               loglik_value(glmm(yp ~ x + rr(0 + sp | site, d = 2), d, family = poisson)), tolerance = 1e-10)
  # a rank above the columns is the full rank
  expect_equal(loglik_value(suppressWarnings(glmm(yp ~ x + rr(0 + sp | site, d = 9), d, family = poisson))),
               loglik_value(full), tolerance = 1e-10)
  expect_error(glmm(yp ~ rr(0 + sp | site, d = 0), d, family = poisson), "rank d, a whole number")
  expect_error(glmm(yp ~ rr(0 + sp | site, d = 1.5), d, family = poisson), "rank d, a whole number")
  expect_error(glmm(yp ~ rr(0 + sp | site, k = 2), d, family = poisson), "rank d, a whole number")
  # a rank held in a variable is read where the formula was written
  k <- 3
  expect_equal(loglik_value(glmm(yp ~ x + rr(0 + sp | site, d = k), d, family = poisson)),
               loglik_value(glmm(yp ~ x + rr(0 + sp | site, d = 3), d, family = poisson)), tolerance = 1e-10)
  k <- 0.5
  expect_error(glmm(yp ~ rr(0 + sp | site, d = k), d, family = poisson), "rank d must be a whole number")
})

# glmmTMB's own rr() expectations (its tests/testthat/test-rr.R).
test_that("glmmTMB's rr() expectations: a rank-d covariance and the GH 1151 logistic fit", {
  # "rr eigenvalues": a rank-2 term on four columns has two zero
  # eigenvalues, a rank-3 one beside an unstructured term one
  set.seed(101)
  n <- 1000
  dd <- data.frame(x = rnorm(n), y = rnorm(n), z = rnorm(n),
                   g1 = factor(sample(10, n, TRUE)), g2 = factor(sample(10, n, TRUE)))
  b1 <- matrix(rnorm(40), 10)
  b2 <- matrix(rnorm(40), 10)
  Zf <- cbind(1, dd$x, dd$y, dd$z)
  dd$w <- 1 + rowSums(Zf * b1[dd$g1, ]) + rowSums(Zf * b2[dd$g2, ]) + rnorm(n)
  m1 <- suppressWarnings(glmm(w ~ 1 + rr(x + y + z | g1, 2), dd))
  expect_equal(zapsmall(eigen(VarCorr(m1)$g1[, ])$values)[3:4], c(0, 0))
  m2 <- suppressWarnings(glmm(w ~ 1 + rr(x + y + z | g1, 3) + (x + y + z | g2), dd))
  expect_equal(zapsmall(eigen(VarCorr(m2)$g1[, ])$values)[4], 0)
  # "rr binomial" (glmmTMB's issue 1151): fixed effects -0.0273483526560848
  # and -0.0244598826860453. The optimum is singular (the correlation at
  # -1), where the likelihood is flat in a direction that moves the
  # intercept by some 1e-5 (glmmTMB 1.1.5 stops at -0.0273422, its (x | id)
  # fit at -0.0273431): the same log-likelihood, the numbers to 1e-3.
  set.seed(12345)
  data <- data.frame(id = rep(1:5, each = 10), x = rep(1:10, 5), y = round(runif(50)))
  expect_warning(g1 <- glmm(y ~ x + rr(x | id, 2), data, family = binomial, nAGQ = 1),
                 "singular fit")
  expect_equal(unname(fixef(g1)), c(-0.0273483526560848, -0.0244598826860453), tolerance = 1e-3)
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + rr(x | id, 2), family = binomial, data = data))
  expect_gte(loglik_value(g1), loglik_value(tmb) - 1e-7)
})
