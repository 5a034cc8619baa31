# Multilevel adaptive quadrature for nested random intercepts
# (src/engines/agq/agq-nested.cpp, R/fit-nested.R, R/glmm-nested.R).
# Fixtures (nested_data(), brute_nested(), ...) in helper-nested.R.

test_that("two levels: the fit's log-likelihood equals brute-force nested quadrature (binary)", {
  d <- nested_data(1)
  fit <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 15)
  expect_s3_class(fit, "glmmgee_glmm_nested")
  expect_identical(fit$nAGQ, 15L)
  eta0 <- drop(model.matrix(~ x, d) %*% fixef(fit))
  dens <- function(i, eta) dbinom(d$y[i], 1, plogis(eta))
  bf <- brute_nested(eta0, nested_groups(d, 2L), sds_outer_first(fit), dens, 80)
  expect_close(as.numeric(logLik(fit)), bf, 1e-6)
  # AGHQ moved away from the Laplace optimum, to a higher quadrature
  # log-likelihood than the Laplace estimates have under the same rule.
  expect_false(isTRUE(all.equal(unname(fit$theta), unname(fit$optinfo$laplace$theta),
                                tolerance = 1e-3)))
})

test_that("three levels (1 | a/b/c) and Poisson counts match brute-force quadrature", {
  d <- nested_data(2, A = 5, B = 2, C = 2, m = 2)
  fit <- quiet_singular(glmm(y ~ x + (1 | a/b/c), data = d, family = binomial, nAGQ = 11))
  eta0 <- drop(model.matrix(~ x, d) %*% fixef(fit))
  bf <- brute_nested(eta0, nested_groups(d, 3L), sds_outer_first(fit),
                     function(i, eta) dbinom(d$y[i], 1, plogis(eta)), 40)
  expect_close(as.numeric(logLik(fit)), bf, 1e-6)

  dp <- nested_data(3, family = "poisson", sds = c(0.6, 0.5))
  fp <- glmm(y ~ x + (1 | a) + (1 | a:b), data = dp, family = poisson, nAGQ = 15)
  eta0 <- drop(model.matrix(~ x, dp) %*% fixef(fp))
  bf <- brute_nested(eta0, nested_groups(dp, 2L), sds_outer_first(fp),
                     function(i, eta) dpois(dp$y[i], exp(eta)), 80)
  expect_close(as.numeric(logLik(fp)), bf, 1e-6)
})

test_that("a family with a dispersion (nbinom2) matches brute-force quadrature", {
  d <- nested_data(4, family = "nbinom2", sds = c(0.5, 0.4))
  fit <- quiet_singular(glmm(y ~ x + (1 | a/b), data = d, family = nbinom2, nAGQ = 15))
  eta0 <- drop(model.matrix(~ x, d) %*% fixef(fit))
  th <- exp(fit$theta[["log(theta)"]])
  bf <- brute_nested(eta0, nested_groups(d, 2L), sds_outer_first(fit),
                     function(i, eta) dnbinom(d$y[i], mu = exp(eta), size = th), 80)
  expect_close(as.numeric(logLik(fit)), bf, 1e-6)
})

test_that("one quadrature point is the sparse engine's Laplace approximation", {
  d <- nested_data(5, A = 10, B = 4)
  lap <- glmm(y ~ x + (1 | a/b), data = d, family = binomial)
  re <- glmmgee:::sparse_re_terms(y ~ x + (1 | a/b), d)
  ns <- glmmgee:::nested_structure(re)
  eng <- glmmgee:::cpp_nested_new(model.matrix(~ x, d), as.numeric(d$y), rep(1, nrow(d)),
                                  rep(0, nrow(d)), ns$units, 1L, 1L, 1L)
  map <- c(1, 2, 2 + vapply(re$terms[ns$order], `[[`, 1L, "par"))
  # At the Laplace optimum and at another point.
  for (th in list(unname(lap$theta), unname(lap$theta) * c(1.2, 0.7, 1.5, 0.4)))
    expect_close(glmmgee:::cpp_nested_eval(eng, th[map], 1L)$loglik,
                 glmmgee:::cpp_sparse_eval(
                   glmmgee:::cpp_sparse_new(model.matrix(~ x, d), re$Z, as.numeric(d$y),
                                            rep(1, nrow(d)), rep(0, nrow(d)), re$lam_row - 1L,
                                            re$lam_col - 1L, re$lam_k - 1L, re$ntheta, 1L, 1L),
                   th, FALSE)$loglik, 1e-9)
  # The fitted object records what the fit did.
  f7 <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 7)
  expect_close(f7$optinfo$laplace$loglik, as.numeric(logLik(lap)), 1e-8)
  expect_output(print(f7), "Adaptive Gauss-Hermite quadrature, nAGQ = 7")
})

test_that("the log-likelihood settles as nAGQ grows (cbpp, herd/observation)", {
  skip_if_not_installed("lme4")
  cb <- cbpp_data()
  cb$obs <- factor(seq_len(nrow(cb)))
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd/obs)
  fit <- glmm(f, cb, family = binomial, nAGQ = 9)
  re <- glmmgee:::sparse_re_terms(f, cb)
  ns <- glmmgee:::nested_structure(re)
  eng <- glmmgee:::cpp_nested_new(fit$X, fit$y, as.numeric(fit$prior.weights),
                                  rep(0, nrow(cb)), ns$units, 1L, 1L, 1L)
  p <- length(fixef(fit))
  th <- unname(fit$theta)[c(seq_len(p), p + vapply(re$terms[ns$order], `[[`, 1L, "par"))]
  ks <- c(3, 5, 9, 15, 25, 41)
  v <- vapply(ks, function(k) glmmgee:::cpp_nested_eval(eng, th, k)$loglik, 1)
  gaps <- abs(diff(v))
  expect_lt(gaps[length(gaps)], 1e-7)
  expect_true(gaps[length(gaps)] < gaps[1L])
  expect_close(as.numeric(logLik(fit)), v[3L], 1e-10)
})

test_that("a single grouping factor through the nested engine equals the one-factor AGHQ engine and GLMMadaptive", {
  d <- nested_data(6, A = 30, B = 1, m = 4)
  one <- glmm(y ~ x + (1 | a), data = d, family = binomial, nAGQ = 11)
  re <- glmmgee:::sparse_re_terms(y ~ x + (1 | a), d)
  nf <- glmmgee:::glmm_nested_fit(model.matrix(~ x, d), d$y, re, glmmgee:::resolve_family(binomial()),
                                  rep(1, nrow(d)),
                                  rep(0, nrow(d)), 11L, glmm_control())
  expect_close(nf$loglik, as.numeric(logLik(one)), 1e-7)
  expect_equal(unname(nf$theta), unname(one$theta), tolerance = 1e-4)
  skip_if_not_installed("GLMMadaptive")
  # Its optimizer stops earlier than ours; the same rule at its estimates
  # gives its log-likelihood, and ours is at least as high.
  m <- GLMMadaptive::mixed_model(y ~ x, ~ 1 | a, d, family = binomial(), nAGQ = 11)
  eng <- glmmgee:::cpp_nested_new(model.matrix(~ x, d), as.numeric(d$y), rep(1, nrow(d)),
                                  rep(0, nrow(d)), list(as.integer(d$a) - 1L), 1L, 1L, 1L)
  at_peer <- c(unname(GLMMadaptive::fixef(m)), sqrt(m$D[1, 1]))
  expect_close(glmmgee:::cpp_nested_eval(eng, at_peer, 11L)$loglik, as.numeric(logLik(m)), 1e-6)
  expect_gte(nf$loglik, as.numeric(logLik(m)) - 1e-8)
})

test_that("results do not depend on the number of threads or on covariate scaling", {
  d <- nested_data(7, A = 12)
  f1 <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 7)
  f2 <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 7,
             control = glmm_control(nthreads = 2))
  expect_close(as.numeric(logLik(f2)), as.numeric(logLik(f1)), 1e-12)
  expect_equal(f2$theta, f1$theta, tolerance = 1e-8)
  d$xs <- 100 * d$x + 7
  f3 <- glmm(y ~ xs + (1 | a/b), data = d, family = binomial, nAGQ = 7)
  expect_close(as.numeric(logLik(f3)), as.numeric(logLik(f1)), 1e-7)
  expect_equal(100 * fixef(f3)[["xs"]], fixef(f1)[["x"]], tolerance = 1e-4)
})

test_that("the gaussian family is exact already at nAGQ = 1", {
  d <- nested_data(8, family = "gaussian", A = 10)
  f1 <- glmm(y ~ x + (1 | a/b), data = d)
  f5 <- glmm(y ~ x + (1 | a/b), data = d, nAGQ = 5)
  expect_close(as.numeric(logLik(f5)), as.numeric(logLik(f1)), 1e-7)
  expect_equal(unname(f5$theta), unname(f1$theta), tolerance = 1e-4)
})

test_that("methods work on nested quadrature fits", {
  d <- nested_data(9, A = 20, sds = c(1.2, 1))
  fit <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 7)
  re <- ranef(fit)
  expect_named(re, c("b:a", "a"))
  expect_equal(nrow(re[["b:a"]]), 60L)
  expect_true(all(attr(re$a, "postVar") > 0))
  # Predictions at the modes: eta = X beta + the two modes.
  eta <- drop(model.matrix(~ x, d) %*% fixef(fit)) + re$a[as.character(d$a), 1] +
    re[["b:a"]][paste(d$b, d$a, sep = ":"), 1]
  expect_equal(unname(predict(fit)), unname(eta), tolerance = 1e-10)
  expect_equal(unname(predict(fit, re.form = NA)), unname(drop(model.matrix(~ x, d) %*% fixef(fit))),
               tolerance = 1e-10)
  expect_equal(attr(logLik(fit), "df"), 4L)
  expect_true(all(is.finite(sqrt(diag(vcov(fit))))))
  # The profile likelihood uses the quadrature, not the Laplace surface.
  ci <- confint(fit, parm = "x", method = "profile")
  expect_true(ci[1] < fixef(fit)[["x"]] && fixef(fit)[["x"]] < ci[2])
  f0 <- quiet_singular(glmm(y ~ 1 + (1 | a/b), data = d, family = binomial, nAGQ = 7))
  a <- anova(f0, fit)
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(fit)) - as.numeric(logLik(f0))),
               tolerance = 1e-8)
})

test_that("designs multilevel quadrature cannot integrate are refused with a clear error", {
  d <- nested_data(10)
  d$g <- factor(rep(1:4, length.out = nrow(d)))
  expect_error(glmm(y ~ x + (1 | a) + (1 | g), data = d, family = binomial, nAGQ = 5),
               "needs nested grouping factors.*crossed.*nAGQ = 1")
  expect_error(glmm(y ~ x + (x | a) + (1 | a:b), data = d, family = binomial, nAGQ = 5),
               "random slopes.*nAGQ = 1")
  expect_error(glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 0),
               "'nAGQ' must be a whole number")
  expect_error(glmm(y ~ x + (1 | a/b/c), data = d, family = binomial, nAGQ = 50),
               "quadrature points for each row")
  K <- diag(8)
  rownames(K) <- levels(d$a)
  expect_error(glmm(y ~ x + (1 | a) + (1 | a:b), data = d, family = binomial, nAGQ = 5,
                    covariance = list(a = K)), "known covariance")
})

test_that("the cluster bootstrap refits a nested quadrature fit by the same quadrature", {
  d <- nested_data(11, A = 15, sds = c(1, 1.3))
  fit <- glmm(y ~ x + (1 | a/b), data = d, family = binomial, nAGQ = 5)
  k <- which(vapply(fit$reterms, `[[`, "", "group") == "a")
  rows <- split(seq_len(nrow(d)), fit$reterms[[k]]$index)
  # Every hospital drawn once: the original data, so the original estimates.
  same <- glmmgee:::refit_clusters(fit, rows, seq_along(rows), term = k)
  expect_equal(same, unname(fit$theta), tolerance = 1e-5)
  # A resample with repeated hospitals: each copy's wards are new wards,
  # and the estimates are the quadrature fit of the resampled data.
  draw <- c(1:10, 1:5)
  boot <- glmmgee:::refit_clusters(fit, rows, draw, term = k)
  dd <- d[unlist(rows[draw]), ]
  dd$a <- factor(rep(seq_along(draw), lengths(rows[draw])))
  direct <- glmm(y ~ x + (1 | a/b), data = dd, family = binomial, nAGQ = 5)
  expect_equal(boot, unname(direct$theta), tolerance = 1e-4)
})
