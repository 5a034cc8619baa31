# The interpretation layer on fits with several random-effect terms
# (glmm_sparse): nested, crossed, random slopes and known covariances.
# z'b is normal with variance sum_t z_t' D_t z_t, so every check below is a
# hand computation from VarCorr() or from theta, by integrate() or a closed
# form, and the delta method by numDeriv.

nested_fit <- function() {
  cached("interp_nested_fit", {
    d <- sim_hospital_wards()
    glmm(y ~ x + (1 + x | hospital) + (1 | ward:hospital), data = d, family = binomial)
  })
}

sim_crossed_binary <- function() {
  cached("sim_crossed_binary", {
    set.seed(77)
    S <- 60; I <- 25
    d <- expand.grid(subject = factor(seq_len(S)), item = factor(seq_len(I)))
    d <- d[sample(nrow(d), 900), ]
    d$x <- rnorm(nrow(d))
    d$trt <- rbinom(nrow(d), 1, 0.5)
    eta <- 0.2 + 0.6 * d$x - 0.5 * d$trt + rnorm(S, 0, 1)[d$subject] + rnorm(I, 0, 0.7)[d$item]
    d$y <- rbinom(nrow(d), 1, pnorm(eta / 1.7))
    d
  })
}

# E h(eta + sT), T ~ N(0, 1), by integrate() one row at a time.
integrated_means <- function(eta, s, h = plogis) {
  vapply(seq_along(eta), function(i)
    integrate(function(t) h(eta[i] + s[i] * t) * dnorm(t), -Inf, Inf,
              rel.tol = 1e-12)$value, 1)
}

test_that("nested logit with a random slope: marginal means integrate over both terms", {
  fit <- nested_fit()
  d <- sim_hospital_wards()
  vc <- VarCorr(fit)
  Dh <- vc[["hospital"]]
  sw2 <- vc[["ward:hospital"]][1, 1]
  Zh <- cbind(1, d$x)
  s <- sqrt(rowSums((Zh %*% Dh) * Zh) + sw2)
  X <- model.matrix(~ x, d)
  eta <- drop(X %*% fixef(fit))
  mu <- integrated_means(eta, s)
  mc <- marginal_coefs(fit)
  expect_equal(coef(mc), setNames(qr.coef(qr(X), qlogis(mu)), names(fixef(fit))),
               tolerance = 1e-8)
  # attenuated towards zero, as for one grouping factor
  expect_true(all(abs(coef(mc)) < abs(fixef(fit))))
  expect_equal(odds_ratios(mc)$estimate, unname(exp(coef(mc)[-1])))
})

test_that("crossed probit random intercepts: gamma = beta / sqrt(1 + s_a^2 + s_b^2) and its delta method", {
  skip_if_not_installed("numDeriv")
  d <- sim_crossed_binary()
  fit <- glmm(y ~ x + trt + (1 | subject) + (1 | item), data = d,
              family = binomial("probit"))
  th <- fit$theta
  closed <- function(th) th[1:3] / sqrt(1 + th[4]^2 + th[5]^2)
  mc <- marginal_coefs(fit)
  expect_lt(max(abs(coef(mc) - closed(th))), 1e-10)
  J <- numDeriv::jacobian(closed, unname(th))
  expect_equal(unname(vcov(mc)), unname(J %*% vcov(fit, full = TRUE) %*% t(J)),
               tolerance = 1e-6)
  # compare_views: the GEE takes one id, which the user must name
  expect_error(compare_views(y ~ x + trt + (1 | subject) + (1 | item), data = d,
                             family = binomial("probit")), "'id' is needed")
  cv <- compare_views(y ~ x + trt + (1 | subject) + (1 | item), data = d,
                      family = binomial("probit"), id = "subject")
  g <- gee(y ~ x + trt, data = d, id = subject, family = binomial("probit"),
           corstr = "exchangeable")
  expect_equal(cv$gee, unname(coef(g)), tolerance = 1e-8)
  expect_equal(cv$marginal_glmm, unname(coef(mc)), tolerance = 1e-6)
  expect_output(print(cv), "SD\\(subject: \\(Intercept\\)\\)")
})

test_that("standardize on a nested fit: integrated means, delta method by numDeriv, hospitals as clusters", {
  skip_if_not_installed("numDeriv")
  fit <- nested_fit()
  d <- sim_hospital_wards()
  s <- standardize(fit, "x", values = c(-1, 1))
  expect_identical(attr(s, "cluster"), "hospital")
  X <- model.matrix(~ x, d)
  hand_rows <- function(th) {
    Lh <- matrix(c(th[3], th[4], 0, th[5]), 2)
    Dh <- Lh %*% t(Lh)
    vapply(c(-1, 1), function(v) {
      Zh <- cbind(1, v)
      s <- sqrt(rowSums((Zh %*% Dh) * Zh) + th[6]^2)
      eta <- th[1] + th[2] * v
      glmmgee:::marginal_mean(rep(eta, nrow(d)), rep(s, nrow(d)), binomial())$mean
    }, numeric(nrow(d)))
  }
  th <- unname(fit$theta)
  rows <- hand_rows(th)
  # one row checked against integrate()
  Dh <- VarCorr(fit)[["hospital"]]
  s1 <- sqrt(sum(c(1, -1) * (Dh %*% c(1, -1))) + VarCorr(fit)[["ward:hospital"]][1, 1])
  expect_equal(rows[1, 1], integrated_means(sum(fixef(fit) * c(1, -1)), s1), tolerance = 1e-10)
  expect_equal(s$estimate[1:2], colMeans(rows), tolerance = 1e-10)
  J <- numDeriv::jacobian(function(th) colMeans(hand_rows(th)), th)
  K <- nlevels(d$hospital)
  R <- (rowsum(rows, d$hospital) - outer(as.vector(table(d$hospital)), colMeans(rows))) / nrow(d)
  S <- J %*% vcov(fit, full = TRUE) %*% t(J) + crossprod(R) * K / (K - 1)
  expect_equal(s$std.error[1:2], sqrt(diag(S)), tolerance = 1e-5)
  expect_equal(s$std.error[3], sqrt(drop(c(-1, 1) %*% S %*% c(-1, 1))), tolerance = 1e-5)
  # conditional: b = 0
  sc <- standardize(fit, "x", values = c(-1, 1), re = "conditional", se = "none")
  expect_equal(sc$estimate[1:2], plogis(fixef(fit)[[1]] + fixef(fit)[[2]] * c(-1, 1)))
})

test_that("nested bootstrap resamples hospitals, crossed designs need 'cluster'", {
  fit <- nested_fit()
  set.seed(5)
  sb <- suppressWarnings(standardize(fit, "x", values = c(-1, 1), se = "bootstrap",
                                     B = 25, progress = FALSE))
  sd <- standardize(fit, "x", values = c(-1, 1))
  expect_identical(attr(sb, "cluster"), "hospital")
  expect_equal(sb$estimate, sd$estimate)
  expect_true(all(sb$std.error[1:3] > 0.4 * sd$std.error[1:3] &
                    sb$std.error[1:3] < 2.5 * sd$std.error[1:3]))
  # the refit on all clusters drawn once each reproduces the fit
  expect_identical(fit$group_name[1], "hospital")
  rows <- split(seq_len(nobs(fit)), fit$reterms[[1]]$index)
  th <- glmmgee:::refit_clusters(fit, rows, seq_along(rows), term = 1L)
  expect_equal(th, unname(fit$theta), tolerance = 1e-4)
  # crossed: no outermost factor
  d <- sim_crossed_binary()
  cf <- glmm(y ~ x + trt + (1 | subject) + (1 | item), data = d, family = binomial)
  expect_error(standardize(cf, "trt", se = "bootstrap", B = 20), "crossed.*cluster =")
  expect_error(standardize(cf, "trt", cluster = "visit"), "'cluster' must name one grouping factor")
  set.seed(3)
  sbc <- suppressWarnings(standardize(cf, "trt", se = "bootstrap", B = 20, cluster = "subject",
                                      progress = FALSE))
  expect_identical(attr(sbc, "cluster"), "subject")
  expect_true(all(sbc$std.error > 0))
  # the delta method on a crossed design counts the named factor's levels
  s1 <- standardize(cf, "trt", cluster = "item")
  s2 <- standardize(cf, "trt", cluster = "subject")
  expect_equal(s1$estimate, s2$estimate)
  expect_false(isTRUE(all.equal(s1$std.error, s2$std.error)))
})

test_that("known covariance: Var(b_l) = sigma^2 K_ll in the marginal means (log link closed form)", {
  set.seed(11)
  L <- 30
  A <- matrix(rnorm(L * L), L) / sqrt(L)
  K <- crossprod(A) + diag(0.5, L)
  rownames(K) <- colnames(K) <- paste0("g", seq_len(L))
  d <- data.frame(id = factor(sample(rownames(K), 400, TRUE), levels = rownames(K)),
                  site = factor(sample(1:8, 400, TRUE)), x = rnorm(400))
  bK <- drop(t(chol(K)) %*% rnorm(L, 0, 0.5))
  d$y <- rpois(400, exp(0.3 + 0.4 * d$x + bK[d$id] + rnorm(8, 0, 0.3)[d$site]))
  fit <- glmm(y ~ x + (1 | id) + (1 | site), data = d, family = poisson,
              covariance = list(id = K))
  vc <- VarCorr(fit)
  s2 <- vc[["id"]][1, 1] * diag(K)[as.character(d$id)] + vc[["site"]][1, 1]
  X <- model.matrix(~ x, d)
  eta <- drop(X %*% fixef(fit))
  mc <- marginal_coefs(fit)
  expect_equal(unname(coef(mc)), unname(qr.coef(qr(X), eta + s2 / 2)), tolerance = 1e-10)
  st <- standardize(fit, "x", values = c(0, 1), se = "none")
  expect_equal(st$estimate[1:2], vapply(0:1, function(v)
    mean(exp(fixef(fit)[[1]] + fixef(fit)[[2]] * v + s2 / 2)), 1), tolerance = 1e-10)
  expect_equal(rate_ratios(fit)$estimate, unname(exp(fixef(fit)[2])))
  expect_error(standardize(fit, "x", se = "bootstrap", B = 20, cluster = "site"),
               "known-covariance")
})

test_that("plot_ranef draws each grouping factor of a several-term fit (which =)", {
  fit <- nested_fit()
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  rk <- plot_ranef(fit, which = "hospital")
  re <- ranef(fit)$hospital
  expect_equal(nrow(rk), nrow(re))
  expect_equal(rk$estimate, sort(re[["(Intercept)"]]))
  expect_false(is.unsorted(rk$estimate))
  # the raw estimate of one hospital: a GLM for its rows alone with an
  # intercept and everything else in the offset
  h <- rk$group[which(is.finite(rk$raw))[1]]
  d <- sim_hospital_wards()
  rows <- d$hospital == h
  off <- fit$linear.predictors[rows] - re[h, "(Intercept)"]
  g <- glm(d$y[rows] ~ 1 + offset(off), family = binomial)
  expect_equal(rk$raw[rk$group == h], unname(coef(g)), tolerance = 1e-6)
  rk2 <- plot_ranef(fit, which = 2, term = "(Intercept)")
  expect_equal(nrow(rk2), nrow(ranef(fit)[["ward:hospital"]]))
  slope <- plot_ranef(fit, which = "hospital", term = "x")
  expect_equal(slope$estimate, sort(re$x))
  expect_true(all(is.na(slope$raw)))
  expect_error(plot_ranef(fit, which = "ward"), "'which'")
  pv <- plot_views(fit, "x")
  expect_true(all(diff(pv$marginal) > 0))
})
