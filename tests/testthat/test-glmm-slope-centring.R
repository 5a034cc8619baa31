# One-factor binomial and poisson GLMMs with a random slope far from zero
# beside its intercept (sleepstudy's Days as Days * 1e-6 - 5): the
# covariance parameters, the singular-fit judgement and the standard errors
# come from the standardized scale, mapped exactly to the user's units.

skip_if_not_installed("lme4")

far_data <- function() {
  d <- get(utils::data("sleepstudy", package = "lme4", envir = environment()))
  d$Days2 <- d$Days * 1e-6 - 5
  d$yb <- as.integer(d$Reaction > 290)
  d$yc <- round((d$Reaction - 150) / 10)
  d$D2 <- (d$Days - 4.5)^2 / 10
  d
}
# Days = (Days2 + 5) * 1e6: b0 + b1 Days = (b0 + 5e6 b1) + 1e6 b1 Days2.
far_map <- matrix(c(1, 0, 5e6, 1e6), 2)

expect_mapped <- function(f1, f2, C, tol = 1e-6) {
  expect_false(f2$singular)
  expect_length(f2$optinfo$warnings, 0L)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)), tolerance = 1e-8)
  D1 <- tcrossprod(f1$Lambda)
  D2 <- tcrossprod(f2$Lambda)
  expect_equal(D2, C %*% D1 %*% t(C), tolerance = tol, ignore_attr = TRUE)
  Cx <- far_map
  expect_equal(unname(fixef(f2)), drop(Cx %*% fixef(f1)), tolerance = tol)
  se1 <- sqrt(diag(Cx %*% vcov(f1) %*% t(Cx)))
  se2 <- sqrt(diag(vcov(f2)))
  expect_true(all(is.finite(se2)))
  expect_equal(unname(se2), se1, tolerance = tol)
  # The random effects in the user's units: b = C b(Days).
  r1 <- as.matrix(ranef(f1)$Subject)
  r2 <- as.matrix(ranef(f2)$Subject)
  expect_equal(unname(r2), unname(t(C %*% t(r1))), tolerance = tol)
}

test_that("binomial: a slope far from zero is no false singular fit and keeps its SEs", {
  d <- far_data()
  for (nAGQ in c(1L, 5L)) {
    f1 <- glmm(yb ~ Days + (Days | Subject), data = d, family = binomial, nAGQ = nAGQ)
    f2 <- glmm(yb ~ Days2 + (Days2 | Subject), data = d, family = binomial, nAGQ = nAGQ)
    expect_false(f1$singular)
    expect_mapped(f1, f2, far_map)
    # The correlation in the user's units is 1 - 1e-13 or so, but not 1.
    expect_gt(f2$Lambda[2, 2], 0)
  }
})

test_that("poisson: the same, Laplace and AGHQ, and with q = 3", {
  d <- far_data()
  for (nAGQ in c(1L, 5L)) {
    f1 <- glmm(yc ~ Days + (Days | Subject), data = d, family = poisson, nAGQ = nAGQ)
    f2 <- glmm(yc ~ Days2 + (Days2 | Subject), data = d, family = poisson, nAGQ = nAGQ)
    expect_false(f1$singular)
    expect_mapped(f1, f2, far_map)
  }
  C3 <- diag(3)
  C3[1:2, 1:2] <- far_map
  h1 <- glmm(yc ~ Days + (Days + D2 | Subject), data = d, family = poisson)
  h2 <- glmm(yc ~ Days2 + (Days2 + D2 | Subject), data = d, family = poisson)
  expect_false(h1$singular)
  expect_mapped(h1, h2, C3)
})

test_that("a truly singular fit with a far slope is still reported singular", {
  d <- far_data()
  d$yc <- round(d$Reaction / 30)
  expect_warning(f1 <- glmm(yc ~ Days + (Days | Subject), data = d, family = poisson),
                 "singular fit")
  expect_warning(f2 <- glmm(yc ~ Days2 + (Days2 | Subject), data = d, family = poisson),
                 "singular fit")
  expect_true(f1$singular)
  expect_true(f2$singular)
  expect_true(any(grepl("singular fit", f2$optinfo$warnings)))
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)), tolerance = 1e-8)
})

test_that("the well-scaled fits agree with lme4::glmer", {
  d <- far_data()
  g <- suppressWarnings(lme4::glmer(yc ~ Days + (Days | Subject), data = d, family = poisson))
  f <- glmm(yc ~ Days + (Days | Subject), data = d, family = poisson)
  expect_equal(unname(fixef(f)), unname(lme4::fixef(g)), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(as.matrix(vcov(g))))),
               tolerance = 1e-3)
  # The far fit, mapped back to Days, agrees with glmer on Days.
  f2 <- glmm(yc ~ Days2 + (Days2 | Subject), data = d, family = poisson)
  expect_equal(unname(solve(far_map, fixef(f2))), unname(lme4::fixef(g)), tolerance = 1e-4)
  Ci <- solve(far_map)
  expect_equal(sqrt(diag(Ci %*% vcov(f2) %*% t(Ci))), unname(sqrt(diag(as.matrix(vcov(g))))),
               tolerance = 1e-3)
})

test_that("zero-inflated poisson (simulated, known truth): the same, and glmmTMB agrees", {
  set.seed(2611)
  m <- 40
  k <- 10
  d <- data.frame(g = factor(rep(seq_len(m), each = k)), x = rep(0:(k - 1), m))
  L <- matrix(c(0.5, 0.05, 0, 0.14), 2)
  b <- matrix(rnorm(2 * m), m) %*% t(L)
  eta <- 0.8 + 0.1 * d$x + b[d$g, 1] + b[d$g, 2] * d$x
  d$y <- rpois(nrow(d), exp(eta)) * rbinom(nrow(d), 1, 0.8)
  d$x2 <- d$x * 1e-6 - 5
  f1 <- glmm(y ~ x + (x | g), ziformula = ~1, data = d, family = poisson)
  f2 <- glmm(y ~ x2 + (x2 | g), ziformula = ~1, data = d, family = poisson)
  expect_false(f1$singular)
  expect_false(f2$singular)
  expect_length(f2$optinfo$warnings, 0L)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)), tolerance = 1e-8)
  expect_equal(tcrossprod(f2$Lambda), far_map %*% tcrossprod(f1$Lambda) %*% t(far_map),
               tolerance = 1e-6, ignore_attr = TRUE)
  expect_equal(unname(sqrt(diag(vcov(f2)))),
               sqrt(diag(far_map %*% vcov(f1)[1:2, 1:2] %*% t(far_map))), tolerance = 1e-6)
  # The truth is recovered within a few standard errors.
  expect_true(all(abs(fixef(f1) - c(0.8, 0.1)) < 3 * sqrt(diag(vcov(f1)))))
  skip_if_not_installed("glmmTMB")
  # glmmTMB's approximation is Laplace's.
  tmb <- glmmTMB::glmmTMB(y ~ x + (x | g), ziformula = ~1, data = d, family = poisson)
  f3 <- glmm(y ~ x2 + (x2 | g), ziformula = ~1, data = d, family = poisson, nAGQ = 1)
  expect_false(f3$singular)
  expect_equal(as.numeric(logLik(f3)), as.numeric(logLik(tmb)), tolerance = 1e-6)
  expect_equal(unname(solve(far_map, fixef(f3))), unname(glmmTMB::fixef(tmb)$cond),
               tolerance = 1e-4)
})


test_that("a random slope on a covariate in large units is not reported singular", {
  # Days * 1e6: the slope's variance is 1e-14 times the intercept's, and
  # mapping the optimum back to the user's units zeroed its column of the
  # factor: a false singular fit, no standard errors and a wrong slope SD
  # (at the right log-likelihood).
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  s$D6 <- s$Days * 1e6
  a <- glmm(Reaction ~ Days + (Days | Subject), s)
  b <- expect_no_warning(glmm(Reaction ~ D6 + (D6 | Subject), s))
  expect_false(b$singular)
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(b$Lambda[2, ]) * 1e6, unname(a$Lambda[2, ]), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(b)))[2]) * 1e6, unname(sqrt(diag(vcov(a)))[2]),
               tolerance = 1e-4)
  skip_if_not_installed("lme4")
  l <- lme4::lmer(Reaction ~ Days + (Days | Subject), s, REML = FALSE)
  expect_gte(as.numeric(logLik(b)), as.numeric(logLik(l)) - 1e-6)
})
