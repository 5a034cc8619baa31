# Profiles and refits of fits with a known covariance (profile-known.R):
# they use the covariance the fit was made with, stored in the fit, not
# the object its call names now (redefined since, local to a function that
# made the fit, or another object of the same name elsewhere).

sim_refit_known <- function(n = 60, m = 200, seed = 3) {
  set.seed(seed)
  G <- matrix(rbinom(n * m, 2, 0.3), n, m)
  K <- tcrossprod(scale(G)) / m
  ids <- sprintf("id%03d", seq_len(n))
  dimnames(K) <- list(ids, ids)
  set.seed(11)
  u <- drop(t(chol(K + 1e-8 * diag(n))) %*% rnorm(n)) * 1.2
  d <- data.frame(id = rep(ids, each = 4), x = rnorm(4 * n), z = rbinom(4 * n, 1, 0.4))
  ui <- u[match(d$id, ids)]
  d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.8 * d$x + ui))
  d$y <- 1 + 0.5 * d$x - 0.3 * d$z + ui + rnorm(nrow(d))
  list(data = d, K = K)
}

test_that("a binomial profile uses the fitted K after the name is given another matrix", {
  s <- sim_refit_known()
  d <- s$data
  K <- s$K
  fb <- glmm(yb ~ x + z + (1 | id), data = d, family = binomial, covariance = list(id = K))
  ci0 <- suppressWarnings(confint(fb, method = "profile", parm = 4))
  K <- 2 * K
  ci1 <- suppressWarnings(confint(fb, method = "profile", parm = 4))
  # the 2K profile had been 0.336 - 1.106 around the estimate 0.970
  expect_equal(ci1, ci0, tolerance = 1e-8)
  expect_equal(unname(ci0[1, ]), c(0.4757, 1.5643), tolerance = 1e-3)
  expect_identical(fb$covariance$id, s$K)
})

test_that("a fit made inside a function profiles with its own K, not a global of the same name", {
  s <- sim_refit_known()
  d <- s$data
  fit_in <- function(form, dat, Kmat) glmm(form, data = dat, family = binomial,
                                           covariance = list(id = Kmat))
  Kmat <- diag(nrow(s$K))
  dimnames(Kmat) <- dimnames(s$K)
  fw <- fit_in(yb ~ x + z + (1 | id), d, s$K)
  fd <- glmm(yb ~ x + z + (1 | id), data = d, family = binomial, covariance = list(id = s$K))
  cw <- suppressWarnings(confint(fw, method = "profile"))
  # with the global identity the interval for x had been 0.484 - 0.793
  expect_equal(cw, suppressWarnings(confint(fd, method = "profile")), tolerance = 1e-8)
  expect_equal(unname(cw["x", ]), c(0.3104, 1.0031), tolerance = 1e-3)
})

test_that("anova() and the profile of REML fits refit by ML with the fitted K", {
  s <- sim_refit_known()
  d <- s$data
  K <- s$K
  f0 <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = K), REML = TRUE)
  f1 <- glmm(y ~ x + z + (1 | id), data = d, covariance = list(id = K), REML = TRUE)
  ci0 <- confint(f1, method = "profile")
  K <- sim_refit_known(seed = 55)$K
  a <- suppressMessages(anova(f0, f1))
  # the ML fits of the fitted K (the other K had given -393.48 / -393.42)
  m0 <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = s$K))
  m1 <- glmm(y ~ x + z + (1 | id), data = d, covariance = list(id = s$K))
  expect_equal(a$logLik, c(as.numeric(logLik(m0)), as.numeric(logLik(m1))), tolerance = 1e-8)
  expect_equal(a$logLik, c(-384.83444, -384.71867), tolerance = 1e-7)
  expect_equal(a$Chisq[2], 0.2315, tolerance = 1e-3)
  expect_equal(confint(f1, method = "profile"), ci0, tolerance = 1e-8)
  expect_equal(unname(ci0["sd_(Intercept)|id", ]), c(0.8617, 1.3676), tolerance = 1e-3)
  # drop1() refits each smaller model with the fitted K as well
  dr <- suppressMessages(drop1(f1))
  expect_equal(dr["z", "AIC"], AIC(m0), tolerance = 1e-8)
})

test_that("update() keeps the fitted K unless given a new one; a fit without it says so", {
  s <- sim_refit_known()
  d <- s$data
  K <- s$K
  fb <- glmm(yb ~ x + (1 | id), data = d, family = binomial, covariance = list(id = K))
  K <- diag(nrow(K))
  dimnames(K) <- dimnames(s$K)
  u <- update(fb, . ~ . + z)
  ref <- glmm(yb ~ x + z + (1 | id), data = d, family = binomial, covariance = list(id = s$K))
  expect_equal(logLik(u), logLik(ref), tolerance = 1e-10)
  # the refit's call shows the expression, not the matrices
  expect_identical(u$call$covariance, quote(list(id = K)))
  # a new covariance given to update() is the one used
  ui <- update(fb, covariance = list(id = K))
  expect_identical(ui$covariance$id, K)
  expect_false(isTRUE(all.equal(logLik(ui), logLik(fb))))
  old <- fb
  old$covariance <- NULL
  expect_error(suppressWarnings(confint(old, method = "profile", parm = 2)),
               "does not hold the known covariance it was fitted with")
})

test_that("vcov(type = \"CR2\") names what does not match when the rebuilt covariance differs", {
  set.seed(5)
  fam <- rep(sprintf("f%02d", 1:30), each = 3)
  ids <- sprintf("i%02d", seq_along(fam))
  K <- diag(length(ids)) + 0.5 * outer(fam, fam, `==`) * (1 - diag(length(ids)))
  dimnames(K) <- list(ids, ids)
  d <- data.frame(id = rep(ids, each = 2), fam = rep(fam, each = 2), x = rnorm(2 * length(ids)))
  d$y <- d$x + rnorm(length(ids))[match(d$id, ids)] + rnorm(nrow(d))
  fit <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = K))
  K <- K * 0 + diag(length(ids))
  expect_no_error(v <- vcov(fit, type = "CR2", cluster = ~ fam))
  bad <- fit
  bad$covariance$id <- 1e3 * fit$covariance$id
  expect_error(vcov(bad, type = "CR2", cluster = ~ fam),
               "its GLS estimate of '.*' is .*standard errors apart.*known covariance")
})
