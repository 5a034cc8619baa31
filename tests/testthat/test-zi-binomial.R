# Zero-inflated binomial GLMMs: f(0) = pi + (1 - pi)(1 - p)^n, the inner
# binomial at its number of trials (glmmTMB's parameterization). Against
# glmmTMB (Laplace, one and two grouping factors) and GLMMadaptive's
# adaptive quadrature where it fits the model; engine gradients against
# numerical differentiation; predictions and simulate().

zib_sim <- function(seed = 1, M = 40, ni = 8, trials = 6) {
  set.seed(seed)
  n <- M * ni
  d <- data.frame(g = rep(seq_len(M), each = ni), h = sample(1:10, n, TRUE),
                  x = rnorm(n), w = rbinom(n, 1, 0.5), n = trials)
  p <- plogis(-0.3 + 0.5 * d$x + rnorm(M, 0, 0.6)[d$g] + rnorm(10, 0, 0.4)[d$h])
  d$s <- ifelse(runif(n) < plogis(-1 + 1.2 * d$w), 0, rbinom(n, d$n, p))
  d
}

test_that("the zero-inflated binomial engine's gradient equals numerical differentiation", {
  skip_if_not_installed("numDeriv")
  d <- zib_sim(M = 25, ni = 6)
  fam <- glmmgee:::resolve_family(binomial())
  nr <- nrow(d)
  X <- cbind(1, d$x)
  for (nagq in c(1L, 5L)) {
    eng <- glmmgee:::cpp_agq_new(X, X, d$s / d$n, as.numeric(d$n), rep(0, nr), d$g, max(d$g),
                                 c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code, fam$link_code,
                                 nagq, 1L)
    P <- glmmgee:::cpp_agq_set_aux(eng, 3L, cbind(1, d$w), c(0L, 0L), matrix(0, nr, 1))
    th <- c(-0.2, 0.4, 0.5, 0.1, 0.2, -0.8, 0.9)
    expect_equal(P, length(th))
    an <- glmmgee:::cpp_agq_eval(eng, th, TRUE)
    nu <- numDeriv::grad(function(t) glmmgee:::cpp_agq_eval(eng, t, FALSE)$loglik, th)
    expect_equal(an$gradient, nu, tolerance = 1e-5, label = sprintf("nAGQ %d", nagq))
    glmmgee:::cpp_agq_free(eng)
  }
  Z <- Matrix::sparseMatrix(i = rep(seq_len(nr), 2), j = c(d$g, 25 + d$h), x = 1)
  eng <- glmmgee:::cpp_sparse_new(X, Z, d$s / d$n, as.numeric(d$n), rep(0, nr), 0:34, 0:34,
                                  c(rep(0L, 25), rep(1L, 10)), 2L, fam$family_code,
                                  fam$link_code)
  P <- glmmgee:::cpp_sparse_set_aux(eng, 3L, cbind(1, d$w), c(0L, 0L), matrix(0, nr, 1))
  th <- c(-0.2, 0.4, 0.5, 0.3, -0.8, 0.9)
  an <- glmmgee:::cpp_sparse_eval(eng, th, TRUE)$gradient
  nu <- numDeriv::grad(function(t) glmmgee:::cpp_sparse_eval(eng, t, FALSE)$loglik, th)
  expect_equal(an, nu, tolerance = 1e-5)
})

test_that("zero-inflated binomial GLMMs match glmmTMB (one factor, crossed factors)", {
  skip_if_not_installed("glmmTMB")
  d <- zib_sim()
  f <- cbind(s, n - s) ~ x + (1 | g)
  ours <- glmm(f, data = d, ziformula = ~ w, family = binomial, nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(f, data = d, ziformula = ~ w, family = binomial)
  fx <- glmmTMB::fixef(tmb)
  expect_equal(unname(fixef(ours)), unname(fx$cond), tolerance = 1e-4)
  expect_equal(unname(ours$aux$zi$coef), unname(fx$zi), tolerance = 1e-4)
  expect_equal(unname(sqrt(ours$D[1, 1])),
               unname(attr(glmmTMB::VarCorr(tmb)$cond$g, "stddev")), tolerance = 1e-3)
  dl <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
  expect_gt(dl, -1e-4)
  expect_lt(abs(dl), 1e-3)
  expect_identical(attr(logLik(ours), "df"), attr(logLik(tmb), "df"))
  for (ty in c("response", "conditional", "zprob", "link"))
    expect_equal(unname(predict(ours, type = ty)), unname(predict(tmb, type = ty)),
                 tolerance = 1e-4, label = ty)
  # Two crossed factors: the sparse Laplace engine.
  f2 <- cbind(s, n - s) ~ x + (1 | g) + (1 | h)
  ours2 <- glmm(f2, data = d, ziformula = ~ w, family = binomial)
  tmb2 <- glmmTMB::glmmTMB(f2, data = d, ziformula = ~ w, family = binomial)
  expect_equal(unname(fixef(ours2)), unname(glmmTMB::fixef(tmb2)$cond), tolerance = 1e-4)
  expect_equal(unname(ours2$aux$zi$coef), unname(glmmTMB::fixef(tmb2)$zi), tolerance = 1e-4)
  expect_gt(as.numeric(logLik(ours2)) - as.numeric(logLik(tmb2)), -1e-4)
})

test_that("zero-inflated binomial by adaptive quadrature matches GLMMadaptive's zi.binomial()", {
  skip_if_not_installed("GLMMadaptive")
  d <- zib_sim(seed = 2)
  q7 <- glmm(cbind(s, n - s) ~ x + (1 | g), data = d, ziformula = ~ w, family = binomial,
             nAGQ = 7)
  ga <- GLMMadaptive::mixed_model(cbind(s, n - s) ~ x, random = ~ 1 | g, data = d,
                                  family = GLMMadaptive::zi.binomial(), zi_fixed = ~ w,
                                  nAGQ = 7)
  expect_equal(unname(fixef(q7)), unname(GLMMadaptive::fixef(ga)), tolerance = 1e-3)
  expect_equal(unname(q7$aux$zi$coef), unname(GLMMadaptive::fixef(ga, "zero_part")),
               tolerance = 1e-3)
  expect_gt(as.numeric(logLik(q7)) - as.numeric(logLik(ga)), -1e-4)
  # More nodes change the log-likelihood by little: 7 are enough here.
  q15 <- glmm(cbind(s, n - s) ~ x + (1 | g), data = d, ziformula = ~ w, family = binomial,
              nAGQ = 15)
  expect_equal(as.numeric(logLik(q7)), as.numeric(logLik(q15)), tolerance = 1e-6)
})

test_that("simulate(), print() and bad input of a zero-inflated binomial GLMM", {
  d <- zib_sim(seed = 3, M = 30)
  fit <- glmm(cbind(s, n - s) ~ x + (1 | g), data = d, ziformula = ~ w, family = binomial,
              nAGQ = 1)
  sim <- simulate(fit, nsim = 200, seed = 1)
  # Proportions of the trials; the share of zeros as the model says.
  expect_true(all(as.matrix(sim) >= 0 & as.matrix(sim) <= 1))
  expect_true(all(abs(as.matrix(sim) * d$n - round(as.matrix(sim) * d$n)) < 1e-8))
  pz <- predict(fit, type = "zprob")
  p <- plogis(drop(cbind(1, d$x) %*% fixef(fit)))
  expect_equal(mean(as.matrix(sim) == 0), mean(pz + (1 - pz) * (1 - p)^d$n), tolerance = 0.1)
  out <- capture.output(print(summary(fit)))
  expect_true(any(grepl("zero-inflated binomial", out)))
  expect_true(any(grepl("given the random effect", out)))
  expect_error(glmm(cbind(s, n - s) ~ x + (1 | g), data = d, ziformula = ~ w,
                    family = binomial, weights = rep(2, nrow(d))),
               "'weights'.*trials")
  # Counts that are not whole numbers fit (with glm's warning) but cannot
  # be simulated: an error, as for one-part fits (rbinom() drew NA).
  dh <- transform(d, n = n + 0.5)
  fh <- suppressWarnings(glmm(cbind(s, n - s) ~ x + (1 | g), data = dh, ziformula = ~ w,
                              family = binomial, nAGQ = 1))
  expect_error(simulate(fh, seed = 1), "non-integer prior weights")
})
