# Random effects in the zero part beyond the conditional part's single
# grouping factor (the two-part sparse Laplace engine, fit-sparse-zi-random.R):
# against glmmTMB (the same model: independent parts, Laplace) on
# Salamanders and on a simulated crossed design with known truth.

# Ours against glmmTMB: logLik within 1e-6 or ours higher, estimates of
# both parts and the random-effect SDs within optimizer tolerance.
expect_zi_random_matches_tmb <- function(fit, m, tol = 2e-3) {
  expect_true(as.numeric(logLik(fit)) > as.numeric(logLik(m)) - 1e-6)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(m)$cond), tolerance = tol)
  expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(m)$zi), tolerance = tol)
  sd_tmb <- function(part) unlist(lapply(glmmTMB::VarCorr(m)[[part]],
                                         function(v) attr(v, "stddev")))
  # Our SDs by part: a zero-part block is named zi~<group> (several-term
  # engine), a zero-part effect zi~<effect> (one-factor engine's one block).
  vc <- VarCorr(fit)
  ours <- unlist(lapply(vc, function(v) sqrt(diag(v))))
  zi <- unlist(lapply(names(vc), function(g)
    grepl("^zi~", g) | grepl("^zi~", rownames(vc[[g]]))))
  expect_equal(unname(ours[!zi]), as.numeric(sd_tmb("cond")), tolerance = 5 * tol)
  expect_equal(unname(ours[zi]), unname(sd_tmb("zi")), tolerance = 5 * tol)
}

test_that("Salamanders: zero part (1 | site) beside two conditional terms, at least glmmTMB's optimum", {
  # glmmTMB stops at a lower interior optimum (-875.5457, SD(spp:mined)
  # 0.23); the model without (1 | spp:mined) reaches -875.0903, a point of
  # this model (that SD at zero), and our fit must not end below it
  # (verify_zero_variance()). Its estimates are glmmTMB's fit of that
  # nested model.
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  f <- count ~ spp + mined + (1 | site) + (1 | spp:mined)
  fit <- suppressWarnings(glmm(f, data = Salamanders, family = poisson,
                               ziformula = ~ spp + (1 | site)))
  m <- glmmTMB::glmmTMB(f, ziformula = ~ spp + (1 | site), data = Salamanders,
                        family = poisson)
  m0 <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), ziformula = ~ spp + (1 | site),
                         data = Salamanders, family = poisson)
  expect_s3_class(fit, "glmmgee_glmm_zire_sparse")
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(m)) - 1e-6)
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(m0)) - 1e-6)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(m0)$cond), tolerance = 2e-3)
  expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(m0)$zi), tolerance = 2e-3)
  vc <- VarCorr(fit)
  expect_lt(sqrt(vc[["spp:mined"]][1, 1]), 1e-3)
  expect_equal(sqrt(vc[["site"]][1, 1]), attr(glmmTMB::VarCorr(m0)$cond$site, "stddev")[[1]],
               tolerance = 1e-2)
  expect_laplace_valid(fit)
  # The zero part's random effects, predictions of both parts.
  rz <- ranef(fit, component = "zi")$site
  rt <- glmmTMB::ranef(m0)$zi$site
  expect_equal(unname(rz[rownames(rt), 1L]), rt[, 1L], tolerance = 5e-3)
  expect_equal(unname(predict(fit, type = "zprob")), unname(predict(m0, type = "zprob")),
               tolerance = 2e-3)
  expect_equal(unname(predict(fit, type = "response")), unname(predict(m0, type = "response")),
               tolerance = 2e-3)
  # New data (glmmTMB is given the whole frame: it refuses a subset of an
  # ordered factor's rows).
  rows <- c(1, 50, 300)
  nd <- Salamanders[rows, ]
  expect_equal(unname(predict(fit, nd, type = "zprob")),
               unname(predict(m0, newdata = Salamanders, type = "zprob"))[rows], tolerance = 2e-3)
  # re.form = NA drops both parts' random effects: glmmTMB's zero-part
  # coefficients at the new rows.
  expect_equal(unname(predict(fit, nd, type = "zlink", re.form = NA)),
               unname(drop(model.matrix(~ spp, nd) %*% glmmTMB::fixef(m0)$zi)), tolerance = 2e-3)
  # Wald intervals cover the zero part's SD, and its standard error is glmmTMB's
  # (the boundary SD is left out of the information, as in the nested model).
  ci <- confint(fit, method = "Wald")
  expect_true(any(grepl("zi", rownames(ci)) & grepl("site", rownames(ci))))
  se_ours <- sqrt(diag(fit$cov_theta))[fit$aux$zi_index]
  se_tmb <- sqrt(diag(vcov(m0)$zi))
  expect_equal(unname(se_ours), unname(se_tmb), tolerance = 1e-2)
})

test_that("Salamanders: a zero part on another grouping factor (hurdle poisson and nbinom2) matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  fit <- glmm(count ~ mined + (1 | site), data = Salamanders, family = truncated_poisson,
              ziformula = ~ mined + (1 | spp))
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site), ziformula = ~ mined + (1 | spp),
                        data = Salamanders, family = glmmTMB::truncated_poisson)
  expect_zi_random_matches_tmb(fit, m)
  expect_laplace_valid(fit)
  fit2 <- glmm(count ~ spp + mined + (1 | site), data = Salamanders,
               family = truncated_nbinom2, ziformula = ~ mined + (1 | spp))
  m2 <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), ziformula = ~ mined + (1 | spp),
                         data = Salamanders, family = glmmTMB::truncated_nbinom2)
  expect_zi_random_matches_tmb(fit2, m2)
  expect_equal(sigma(fit2), sigma(m2), tolerance = 1e-2)
})

test_that("random effects in the zero part only: glmmTMB's optimum, and every method", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  S <- Salamanders
  for (fam in c("poisson", "nbinom2", "truncated_nbinom2")) {
    f <- switch(fam, poisson = poisson(), nbinom2 = nbinom2(), truncated_nbinom2 = truncated_nbinom2())
    fit <- glmm(count ~ spp + mined, data = S, family = f, ziformula = ~ mined + (1 | site))
    m <- glmmTMB::glmmTMB(count ~ spp + mined, ziformula = ~ mined + (1 | site), data = S,
                          family = switch(fam, poisson = poisson, nbinom2 = glmmTMB::nbinom2,
                                          truncated_nbinom2 = glmmTMB::truncated_nbinom2))
    expect_s3_class(fit, "glmmgee_glmm_zire_sparse")
    expect_zi_random_matches_tmb(fit, m)
    expect_identical(names(VarCorr(fit)), "zi~site")
    # The engine's exact gradient against differences of its value, away
    # from the optimum (no conditional random-effect column).
    expect_lt(engine_gradient_error(fit, rnorm(length(fit$theta), 0, 0.03)), 1e-5, label = fam)
  }
  # The methods, on the nbinom2 fit.
  set.seed(1)
  fit <- glmm(count ~ spp + mined, data = S, family = nbinom2(), ziformula = ~ mined + (1 | site))
  out <- capture.output(print(fit))
  expect_true(any(grepl("Conditional model (log mean of the count part; no random effect)", out,
                        fixed = TRUE)))
  expect_true(any(grepl("23 site", out, fixed = TRUE)))
  # ranef(): without a conditional term, the zero part's modes by default.
  expect_identical(ranef(fit), ranef(fit, component = "zi"))
  expect_length(ranef(fit, component = "cond"), 0L)
  expect_identical(names(ranef(fit, component = "both")), c("cond", "zi"))
  # The clusters of the robust covariances are the zero part's grouping.
  V <- vcov(fit, type = "CR2")
  expect_equal(V, vcov(fit, type = "CR2", cluster = ~ site), tolerance = 1e-12)
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  # Predictions at new data: the zero part's effects of known sites, zero
  # for new ones.
  nd <- S[c(1, 50, 300), ]
  b <- ranef(fit)$site[as.character(nd$site), "(Intercept)"]
  Xz <- stats::model.matrix(~ mined, nd)
  expect_equal(unname(predict(fit, nd, type = "zlink")),
               unname(drop(Xz %*% fit$aux$zi$coef) + b), tolerance = 1e-10)
  nd$site <- factor("new")
  expect_equal(unname(predict(fit, nd, type = "zlink", allow.new.levels = TRUE)),
               unname(drop(Xz %*% fit$aux$zi$coef)), tolerance = 1e-10)
  td <- tidy(fit)
  expect_equal(td$estimate[td$effect == "ran_pars"],
               unname(attr(VarCorr(fit)[["zi~site"]], "stddev")))
  st <- standardize(fit, "mined")
  expect_true(all(is.finite(st$std.error)) && all(st$std.error > 0))
  expect_equal(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(S), 2L))
  # A profile interval of the zero part's SD (poisson: the nbinom2 fit's
  # upper side reaches SDs where the Laplace approximation breaks down).
  fp <- glmm(count ~ spp + mined, data = S, family = poisson(), ziformula = ~ mined + (1 | site))
  ci <- confint(fp, parm = "sd_zi.(Intercept)|site", method = "profile")
  sd0 <- attr(VarCorr(fp)[["zi~site"]], "stddev")
  expect_true(ci[1] < sd0 && sd0 < ci[2])
})

test_that("a covariance structure in the zero part only matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  # 150 subjects, 4 time points, 4 rows at each: AR(1) subject-by-time
  # effects (SD 1.2, correlation 0.6) on the zero-inflation logit.
  set.seed(2)
  m <- 150; nt <- 4; r <- 4
  d <- data.frame(id = factor(rep(seq_len(m), each = nt * r)),
                  tf = factor(rep(rep(seq_len(nt), each = r), m)))
  d$x <- rnorm(nrow(d)); d$z <- rnorm(nrow(d))
  U <- t(chol(0.6^abs(outer(seq_len(nt), seq_len(nt), "-")))) %*% matrix(rnorm(nt * m), nt)
  pz <- plogis(-0.5 + 0.5 * d$z + 1.2 * U[cbind(as.integer(d$tf), as.integer(d$id))])
  d$y <- ifelse(runif(nrow(d)) < pz, 0, rpois(nrow(d), exp(0.8 + 0.3 * d$x)))
  fit <- glmm(y ~ x, ziformula = ~ z + ar1(0 + tf | id), family = poisson(), data = d)
  tmb <- glmmTMB::glmmTMB(y ~ x, ziformula = ~ z + ar1(0 + tf | id), family = poisson, data = d)
  expect_gt(as.numeric(logLik(fit)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
  expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(tmb)$zi), tolerance = 1e-3)
  vt <- glmmTMB::VarCorr(tmb)$zi$id
  expect_equal(matrix(VarCorr(fit)[["zi~id"]], nt), matrix(vt, nt), tolerance = 2e-3)
  # diag(1 | id) in the zero part alone is the plain (1 | id).
  f1 <- glmm(y ~ x, ziformula = ~ z + diag(1 | id), family = poisson(), data = d)
  f2 <- glmm(y ~ x, ziformula = ~ z + (1 | id), family = poisson(), data = d)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f2)), tolerance = 1e-8)
})

# Crossed design: conditional (1 | a) + (1 | b), zero part x + (1 | a) +
# (1 | c), known truth.
zi_random_crossed_sim <- function(seed = 7) {
  set.seed(seed)
  n <- 1500
  a <- sample(40, n, TRUE); b <- sample(30, n, TRUE); cc <- sample(25, n, TRUE)
  x <- rnorm(n)
  ua <- rnorm(40, 0, 0.5); ub <- rnorm(30, 0, 0.4)
  va <- rnorm(40, 0, 0.7); vc <- rnorm(25, 0, 0.6)
  mu <- exp(0.8 + 0.5 * x + ua[a] + ub[b])
  pz <- plogis(-0.8 + 0.7 * x + va[a] + vc[cc])
  data.frame(a = factor(a), b = factor(b), cc = factor(cc), x = x,
             y = ifelse(runif(n) < pz, 0, rpois(n, mu)))
}

test_that("simulated crossed zero part: glmmTMB's optimum, truth recovered, units do not matter", {
  skip_if_not_installed("glmmTMB")
  d <- zi_random_crossed_sim()
  f <- y ~ x + (1 | a) + (1 | b)
  fit <- glmm(f, data = d, family = poisson, ziformula = ~ x + (1 | a) + (1 | cc))
  m <- glmmTMB::glmmTMB(f, ziformula = ~ x + (1 | a) + (1 | cc), data = d, family = poisson)
  expect_zi_random_matches_tmb(fit, m)
  expect_laplace_valid(fit)
  # Truth within 3 standard errors for the fixed effects of both parts.
  se <- sqrt(diag(fit$cov_theta))
  est <- fit$theta
  idx <- c(seq_len(2), fit$aux$zi_index)
  expect_true(all(abs(est[idx] - c(0.8, 0.5, -0.8, 0.7)) < 3 * se[idx]))
  # Rescaling x (both parts) rescales its coefficients only.
  d2 <- transform(d, x = 100 * x + 5)
  fit2 <- glmm(f, data = d2, family = poisson, ziformula = ~ x + (1 | a) + (1 | cc))
  expect_equal(as.numeric(logLik(fit2)), as.numeric(logLik(fit)), tolerance = 1e-7)
  expect_equal(unname(fit2$aux$zi$coef[2] * 100), unname(fit$aux$zi$coef[2]), tolerance = 1e-4)
  # simulate() with the fitted random effects reproduces the predicted mean.
  s <- simulate(fit, nsim = 200, seed = 1, re.form = NULL)
  expect_equal(dim(s), c(nrow(d), 200L))
  mu <- predict(fit, type = "response")
  muc <- predict(fit, type = "conditional")
  pz <- predict(fit, type = "zprob")
  se <- sqrt(sum((1 - pz) * muc * (1 + pz * muc)) / 200) / nrow(d)
  expect_lt(abs(mean(as.matrix(s)) - mean(mu)), 4 * se)
  expect_lt(abs(mean(as.matrix(s) == 0) - mean(pz + (1 - pz) * exp(-muc))), 0.01)
  s0 <- simulate(fit, nsim = 50, seed = 2)
  expect_equal(dim(s0), c(nrow(d), 50L))
})

test_that("refusals: quadrature and a correlated zero part need the one-factor route", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  expect_error(glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders,
                    family = poisson, ziformula = ~ (1 | site), nAGQ = 5), "nAGQ")
  expect_error(glmm(count ~ mined + (1 | site), data = Salamanders, family = poisson,
                    ziformula = ~ (1 | spp), zi_correlated = TRUE), "zi_correlated")
  expect_error(glmm(count ~ mined + (1 | site), data = Salamanders, family = poisson,
                    ziformula = ~ (1 | spp), start = 1), "start")
})

# Zero-inflated binomial with trials: P(0) = pi + (1 - pi)(1 - p)^n.
zib_re_sim <- function(seed = 3) {
  set.seed(seed)
  M <- 60; H <- 15; ni <- 8
  g <- rep(seq_len(M), each = ni)
  h <- sample(H, M * ni, TRUE)
  x <- rnorm(M * ni)
  n <- sample(3:8, M * ni, TRUE)
  p <- plogis(-0.3 + 0.6 * x + rnorm(M, 0, 0.5)[g] + rnorm(H, 0, 0.3)[h])
  pz <- plogis(-0.6 + rnorm(M, 0, 0.8)[g])
  s <- ifelse(runif(M * ni) < pz, 0, rbinom(M * ni, n, p))
  data.frame(g = factor(g), h = factor(h), x = x, s = s, f = n - s)
}

test_that("zero-inflated binomial with zero-part random effects matches glmmTMB (one factor and several terms)", {
  skip_if_not_installed("glmmTMB")
  d <- zib_re_sim()
  fit <- glmm(cbind(s, f) ~ x + (1 | g), data = d, family = binomial,
              ziformula = ~ (1 | g), nAGQ = 1)
  m <- glmmTMB::glmmTMB(cbind(s, f) ~ x + (1 | g), ziformula = ~ (1 | g), data = d,
                        family = binomial)
  expect_s3_class(fit, "glmmgee_glmm_zire")
  expect_zi_random_matches_tmb(fit, m)
  # Quadrature: at least the Laplace fit's likelihood neighbourhood, and a
  # proper likelihood (the nAGQ = 1 fit's value is an approximation).
  fq <- glmm(cbind(s, f) ~ x + (1 | g), data = d, family = binomial,
             ziformula = ~ (1 | g), nAGQ = 9)
  expect_lt(abs(as.numeric(logLik(fq)) - as.numeric(logLik(fit))), 2)
  expect_equal(unname(predict(fit, type = "zprob")), unname(predict(m, type = "zprob")),
               tolerance = 5e-3)
  fit2 <- glmm(cbind(s, f) ~ x + (1 | g) + (1 | h), data = d, family = binomial,
               ziformula = ~ (1 | g))
  m2 <- glmmTMB::glmmTMB(cbind(s, f) ~ x + (1 | g) + (1 | h), ziformula = ~ (1 | g),
                         data = d, family = binomial)
  expect_s3_class(fit2, "glmmgee_glmm_zire_sparse")
  expect_zi_random_matches_tmb(fit2, m2)
  expect_equal(unname(predict(fit2, type = "response")), unname(predict(m2, type = "response")),
               tolerance = 5e-3)
})

test_that("start = an earlier fit's theta reaches the same optimum; a wrong length is refused", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  f <- count ~ mined + (1 | site)
  fit <- glmm(f, data = Salamanders, family = truncated_poisson, ziformula = ~ mined + (1 | spp))
  re <- glmm(f, data = Salamanders, family = truncated_poisson, ziformula = ~ mined + (1 | spp),
             start = fit$theta)
  expect_equal(as.numeric(logLik(re)), as.numeric(logLik(fit)), tolerance = 1e-8)
  expect_lt(re$optinfo$evaluations, fit$optinfo$evaluations)
  # The one-factor engines take it too.
  f1 <- glmm(f, data = Salamanders, family = poisson, ziformula = ~ mined + (1 | site))
  r1 <- glmm(f, data = Salamanders, family = poisson, ziformula = ~ mined + (1 | site),
             start = f1$theta)
  expect_equal(as.numeric(logLik(r1)), as.numeric(logLik(f1)), tolerance = 1e-8)
  f0 <- glmm(f, data = Salamanders, family = poisson, ziformula = ~ mined)
  r0 <- glmm(f, data = Salamanders, family = poisson, ziformula = ~ mined, start = f0$theta)
  expect_equal(as.numeric(logLik(r0)), as.numeric(logLik(f0)), tolerance = 1e-8)
  expect_error(glmm(f, data = Salamanders, family = poisson, ziformula = ~ mined + (1 | spp),
                    start = fit$theta[-1]), "'start' must be 6 finite numbers")
})


test_that("zero-part random effects on several terms find structural zeros carried by one term", {
  # Zeros kept only at mined sites: glmmTMB's optimum has a zero-part site SD
  # of 11 (logit scale) and a fixed zero intercept near -10. The search
  # stopped 14.5 below it, with the zero part vanishing and the advice to
  # drop 'ziformula'; the nested fit with the site term alone was higher.
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders
  d$count[d$mined == "no" & d$count == 0] <- 1
  both <- expect_no_warning(glmm(count ~ mined + (1 | site), data = d, family = poisson,
                                 ziformula = ~ (1 | spp) + (1 | site)))
  site <- glmm(count ~ mined + (1 | site), data = d, family = poisson, ziformula = ~ (1 | site))
  expect_gte(as.numeric(logLik(both)), as.numeric(logLik(site)) - 1e-6)
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), data = d, family = poisson,
                          ziformula = ~ (1 | spp) + (1 | site))
  expect_gte(as.numeric(logLik(both)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(fixef(both)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
})

test_that("a zero part with random effects and no fixed column: its methods", {
  set.seed(1)
  n <- 600
  g <- factor(sample(1:40, n, TRUE))
  x <- rnorm(n)
  d <- data.frame(x = x, g = g,
                  y = ifelse(runif(n) < plogis(rnorm(40, 0, 1)[g]), 0, rpois(n, exp(0.5 + 0.3 * x))))
  f <- glmm(y ~ x, ziformula = ~ 0 + (1 | g), family = poisson(), data = d)
  expect_length(f$aux$zi$coef, 0L)
  expect_output(print(f), "(no fixed effect)", fixed = TRUE)
  b <- ranef(f)$g[as.character(d$g), 1L]
  expect_equal(unname(predict(f, type = "zlink")), b, tolerance = 1e-10)
  expect_equal(unname(predict(f, d[1:5, ], type = "response")),
               unname(predict(f, type = "response")[1:5]), tolerance = 1e-10)
  expect_true(all(is.finite(vcov(f, type = "CR2"))))
})
