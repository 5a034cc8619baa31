# Cumulative link mixed models with several random-intercept terms (sparse
# Laplace engine, glmm-ordinal-sparse.R) against ordinal::clmm's Laplace
# fits on the peer's own data (wine, soup) and on simulated crossed data
# with known truth.

# clmm's (thresholds, beta, sd) with the standard deviations in the order
# of our terms (clmm orders its terms by their numbers of levels).
clmm_par <- function(m, groups) {
  vc <- ordinal::VarCorr(m)
  c(m$alpha, m$beta, vapply(vc[groups], function(v) sqrt(v[1L]), 1))
}

# wine: the bottle variance is at zero in both fits (a singular fit, which
# is reported).
wine_fit <- function() {
  expect_warning(fit <- glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle),
                             data = ordinal::wine, family = cumulative("logit")),
                 "singular fit")
  fit
}

# Our optimum against clmm's: the same point to optimizer tolerance, our
# log-likelihood not below theirs, and their parameters give their
# log-likelihood in our approximation (the same function).
expect_same_optimum <- function(fit, m, tol = 2e-3) {
  expect_gte(fit$loglik, as.numeric(logLik(m)) - 1e-6)
  expect_equal(fit$loglik, as.numeric(logLik(m)), tolerance = 1e-5)
  cp <- clmm_par(m, fit$group_name)
  expect_equal(unname(fit$par), unname(cp), tolerance = tol)
  k1 <- length(m$alpha)
  p <- length(m$beta)
  at <- glmmgee:::ordinal_sparse_loglik_at(fit, m$alpha, m$beta, cp[-seq_len(k1 + p)])
  expect_equal(at, as.numeric(logLik(m)), tolerance = 1e-7)
}

test_that("wine, crossed judge and bottle: clmm's Laplace fit (logit)", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  fit <- wine_fit()
  m <- ordinal::clmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = w)
  expect_s3_class(fit, "glmmgee_glmm_ordinal_sparse")
  expect_same_optimum(fit, m)
  expect_identical(names(fit$thresholds), names(m$alpha))
  expect_identical(unname(fit$group_name), c("judge", "bottle"))
  # Standard errors of the thresholds and coefficients as clmm's (Hessian
  # of the same function at the same point).
  k <- length(m$alpha) + length(m$beta)
  expect_equal(sqrt(diag(vcov(fit))), sqrt(diag(vcov(m)))[seq_len(k)], tolerance = 2e-2,
               ignore_attr = TRUE)
  # Conditional modes as clmm's.
  re <- ranef(fit)
  rm <- ordinal::ranef(m)
  expect_equal(re$judge[, 1L], rm$judge[, 1L], tolerance = 5e-3)
  expect_equal(re$bottle[, 1L], rm$bottle[, 1L], tolerance = 5e-3)
  expect_identical(rownames(re$judge), rownames(rm$judge))
  cv <- ranef(fit, condVar = TRUE)
  expect_equal(unname(attr(cv$judge, "condVar")), unname(ordinal::condVar(m)$judge[, 1L]),
               tolerance = 2e-2)
})

test_that("soup, nested RESP and RESP:PROD: clmm's Laplace fit (probit), and (1 | RESP/PROD) the same", {
  skip_if_not_installed("ordinal")
  s <- ordinal::soup
  fit <- glmm(SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), data = s,
              family = cumulative("probit"))
  m <- ordinal::clmm(SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), data = s, link = "probit")
  expect_same_optimum(fit, m)
  nest <- glmm(SURENESS ~ PROD + (1 | RESP/PROD), data = s, family = cumulative("probit"))
  expect_equal(nest$loglik, fit$loglik, tolerance = 1e-8)
  k <- length(fit$thresholds) + length(fit$coefficients)
  expect_equal(unname(nest$par[seq_len(k)]), unname(fit$par[seq_len(k)]), tolerance = 1e-5)
  expect_equal(sort(unname(nest$sd_re)), sort(unname(fit$sd_re)), tolerance = 1e-5)
})

sim_crossed_ordinal <- function(seed, n_a = 60L, n_b = 40L, reps = 2L) {
  set.seed(seed)
  d <- expand.grid(a = factor(seq_len(n_a)), b = factor(seq_len(n_b)), r = seq_len(reps))
  n <- nrow(d)
  d$x <- rnorm(n)
  d$z <- rbinom(n, 1, 0.5)
  eta <- 0.7 * d$x - 0.5 * d$z + rnorm(n_a, 0, 0.8)[d$a] + rnorm(n_b, 0, 0.5)[d$b]
  # cloglog: P(Y <= k) = 1 - exp(-exp(theta_k - eta)), latent minimum-Gumbel error
  latent <- eta + log(-log(stats::runif(n)))
  d$y <- ordered(findInterval(latent, c(-1, 0, 1.2)) + 1L)
  d
}

test_that("simulated crossed design (cloglog): clmm's fit and the known truth", {
  skip_if_not_installed("ordinal")
  d <- sim_crossed_ordinal(20261123)
  fit <- glmm(y ~ x + z + (1 | a) + (1 | b), data = d, family = cumulative("cloglog"))
  m <- ordinal::clmm(y ~ x + z + (1 | a) + (1 | b), data = d, link = "cloglog")
  expect_same_optimum(fit, m)
  truth <- c(-1, 0, 1.2, 0.7, -0.5, 0.8, 0.5)
  se <- sqrt(diag(fit$cov_par))
  expect_true(all(abs(fit$par - truth) < 4 * se))
  expect_false(fit$singular)
})

test_that("the gradient is that of the log-likelihood (central differences)", {
  skip_if_not_installed("ordinal")
  d <- sim_crossed_ordinal(7, n_a = 15L, n_b = 10L, reps = 1L)
  fit <- glmm(y ~ x + z + (1 | a) + (1 | b), data = d, family = cumulative("logit"))
  ll <- function(ps) glmmgee:::ordinal_sparse_loglik_at(fit, ps[1:3], ps[4:5], ps[6:7])
  ps <- unname(fit$par) + c(0.1, -0.05, 0.2, 0.1, -0.1, 0.2, 0.15)
  g <- glmmgee:::ordinal_sparse_loglik_at(fit, ps[1:3], ps[4:5], ps[6:7], gradient = TRUE)
  num <- vapply(seq_along(ps), function(j) {
    h <- 1e-5
    e <- replace(numeric(length(ps)), j, h)
    (ll(ps + e) - ll(ps - e)) / (2 * h)
  }, 1)
  expect_equal(g, num, tolerance = 1e-6)
})

test_that("the optimum does not depend on the covariates' location and units", {
  skip_if_not_installed("ordinal")
  d <- sim_crossed_ordinal(11, n_a = 30L, n_b = 20L)
  f1 <- glmm(y ~ x + z + (1 | a) + (1 | b), data = d, family = cumulative("logit"))
  d$x2 <- 1000 + 50 * d$x
  f2 <- glmm(y ~ x2 + z + (1 | a) + (1 | b), data = d, family = cumulative("logit"))
  expect_equal(f2$loglik, f1$loglik, tolerance = 1e-8)
  expect_equal(f2$coefficients[["x2"]] * 50, f1$coefficients[["x"]], tolerance = 1e-5)
  expect_equal(unname(f2$sd_re), unname(f1$sd_re), tolerance = 1e-5)
  # sum-to-zero coding of a factor: the same model
  d$zf <- factor(d$z)
  contrasts(d$zf) <- contr.sum(2)
  f3 <- glmm(y ~ x + zf + (1 | a) + (1 | b), data = d, family = cumulative("logit"))
  expect_equal(f3$loglik, f1$loglik, tolerance = 1e-8)
  expect_equal(-2 * f3$coefficients[["zf1"]], f1$coefficients[["z"]], tolerance = 1e-5)
  expect_equal(f3$thresholds - f3$coefficients[["zf1"]], f1$thresholds, tolerance = 1e-5)
})

test_that("predict(type = 'prob') with and without the random intercepts, ranef, fitted", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  fit <- wine_fit()
  P0 <- predict(fit, type = "prob", re.form = NA)
  P1 <- predict(fit, type = "prob", re.form = NULL)
  expect_equal(rowSums(P0), rep(1, nrow(w)), tolerance = 1e-12)
  expect_equal(rowSums(P1), rep(1, nrow(w)), tolerance = 1e-12)
  eta0 <- drop(fit$X %*% fit$coefficients)
  expect_equal(P0[, 1L], plogis(fit$thresholds[[1L]] - eta0), ignore_attr = TRUE)
  re <- ranef(fit)
  eta1 <- eta0 + re$judge[as.character(w$judge), 1L] + re$bottle[as.character(w$bottle), 1L]
  expect_equal(P1[, 5L], 1 - plogis(fit$thresholds[[4L]] - eta1), ignore_attr = TRUE)
  expect_equal(predict(fit, type = "linear", re.form = NULL), fit$linear.predictors,
               tolerance = 1e-8)
  # newdata: the same rows give the same probabilities; one term only via re.form
  expect_equal(predict(fit, newdata = w[1:5, ], re.form = NULL), P1[1:5, ], tolerance = 1e-12,
               ignore_attr = TRUE)
  Pj <- predict(fit, newdata = w[1:5, ], re.form = ~ (1 | judge))
  etaj <- eta0[1:5] + re$judge[as.character(w$judge[1:5]), 1L]
  expect_equal(Pj[, 1L], plogis(fit$thresholds[[1L]] - etaj), ignore_attr = TRUE)
  expect_equal(fitted(fit), P1[cbind(seq_len(nrow(w)), as.integer(w$rating))])
  # population-averaged: integrated over the sum of the intercepts
  Pm <- predict(fit, type = "prob_marginal")
  s <- sqrt(sum(fit$sd_re^2))
  z <- seq(-8, 8, length.out = 4001) * s
  wz <- dnorm(z, 0, s); wz <- wz / sum(wz)
  expect_equal(Pm[1L, 1L], sum(wz * plogis(fit$thresholds[[1L]] - eta0[1L] - z)),
               tolerance = 1e-6, ignore_attr = TRUE)
  expect_error(predict(fit, newdata = w[, c("temp", "contact")], re.form = NULL), "grouping variable")
})

test_that("print says conditional and marginal; odds_ratios, VarCorr, confint, anova, simulate", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  fit <- wine_fit()
  expect_output(print(fit), "conditional on the random intercepts")
  expect_output(print(summary(fit)), "Random intercepts")
  or <- odds_ratios(fit)
  expect_equal(or$estimate, unname(exp(fit$coefficients)), tolerance = 1e-10)
  orm <- odds_ratios(fit, type = "marginal")
  expect_identical(nrow(orm), 2L * 4L)
  expect_match(attr(orm, "source"), "integrated")
  # population-averaged effects are attenuated towards 1 (logit link)
  expect_true(all(log(orm$estimate) < log(or$estimate[match(orm$term, or$term)])))
  expect_true(all(log(orm$estimate) > 0))
  vc <- VarCorr(fit)
  expect_equal(vc$sdcor, unname(fit$sd_re))
  ci <- confint(fit)
  inside <- ci[, 1L] < fit$par & fit$par < ci[, 2L]
  expect_true(all(inside[names(inside) != "bottle.(Intercept)"]))
  expect_true(all(is.na(ci["bottle.(Intercept)", ])))  # on the boundary: no Wald interval
  f0 <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative("logit"))
  a <- anova(f0, fit)
  expect_equal(a$Chisq[2L], 2 * (fit$loglik - f0$loglik))
  sim <- simulate(fit, nsim = 2, seed = 1)
  expect_identical(dim(sim), c(nrow(w), 2L))
  expect_true(is.ordered(sim[[1L]]))
  st <- standardize(fit, "contact")
  expect_equal(sum(st$estimate[st$value == "no"]), 1, tolerance = 1e-10)
})

test_that("bad input is refused with a clear message", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$one <- factor("a")
  w$obs <- factor(seq_len(nrow(w)))
  expect_error(glmm(rating ~ temp + (1 | judge) + (1 | one), data = w, family = cumulative),
               "only 1 level")
  expect_error(glmm(rating ~ temp + (1 | judge) + (1 | obs), data = w, family = cumulative),
               "as many levels as observations")
  expect_error(glmm(rating ~ temp + (1 | judge) + (1 + temp | bottle), data = w,
                    family = cumulative), "random intercepts only")
  expect_error(glmm(rating ~ temp + (1 | judge) + (1 | bottle), data = w, family = cumulative,
                    nAGQ = 3), "Laplace approximation only")
  expect_error(glmm(rating ~ 1 + (1 | judge) + (1 | bottle), data = w, family = cumulative,
                    start = list(theta = c(1, 2, 3, 4), sd = 1)), "'start\\$sd'")
})
