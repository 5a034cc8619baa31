# A random slope in the zero part far from zero (c2 = cover * 1e-6 - 5 in
# Salamanders): the fit is the fit on cover mapped back, on the one-factor
# two-part engine (fit-glmm-zi-random.R, zi_random_z_reparam()) and on the two-part
# sparse engine (sparse_reparam(), sparse_far_jacobian()); with cover it
# is glmmTMB's. Before, the one-factor fit stopped 1.8 below the optimum
# with false convergence, and the sparse one warned that the Hessian was
# not negative definite (no standard errors).

zi_slope_fit <- function(data, formula, zi) {
  w <- character()
  f <- withCallingHandlers(glmm(formula, ziformula = zi, data = data, family = poisson),
                           warning = function(x) {
                             w <<- c(w, conditionMessage(x))
                             invokeRestart("muffleWarning")
                           })
  list(fit = f, warnings = w)
}

# zi ~ g0 + g1 cover = (g0 + 5e6 g1) + 1e6 g1 c2: the zero part's
# coefficients and random effects on c2 are A times those on cover.
zi_slope_A <- matrix(c(1, 0, 5e6, 1e6), 2)

zi_slope_check <- function(r1, r2, zi_names1, zi_names2, D1, D2, tmb) {
  f1 <- r1$fit
  f2 <- r2$fit
  # Only the true singular fit (a correlation of -1 on cover, +1 on c2).
  for (r in list(r1, r2)) {
    expect_length(r$warnings, 1L)
    expect_match(r$warnings, "^singular fit")
  }
  expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1))), 1e-7)
  expect_equal(fixef(f2), fixef(f1), tolerance = 1e-6)
  expect_equal(unname(f2$theta[zi_names2]), drop(zi_slope_A %*% f1$theta[zi_names1]),
               tolerance = 1e-6)
  expect_equal(D2, zi_slope_A %*% D1 %*% t(zi_slope_A), tolerance = 1e-5, ignore_attr = TRUE)
  V1 <- vcov(f1, full = TRUE)
  V2 <- vcov(f2, full = TRUE)
  expect_true(all(is.finite(sqrt(diag(V2)[c(names(fixef(f2)), zi_names2)]))))
  cn <- names(fixef(f1))
  expect_equal(sqrt(diag(V2)[cn]), sqrt(diag(V1)[cn]), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(V2)[zi_names2])),
               sqrt(diag(zi_slope_A %*% V1[zi_names1, zi_names1] %*% t(zi_slope_A))),
               tolerance = 1e-4)
  # The fit on cover against glmmTMB's, which reports singular convergence
  # (its logLik up to 2e-5 lower): as high, and close.
  expect_loglik_at_least(as.numeric(logLik(f1)), as.numeric(logLik(tmb)), 1e-8)
  if (is.finite(logLik(tmb)))
    expect_lt(as.numeric(logLik(f1)) - as.numeric(logLik(tmb)), 1e-4)
  expect_equal(fixef(f1), glmmTMB::fixef(tmb)$cond, tolerance = 2e-4)
  expect_equal(unname(f1$theta[zi_names1]), unname(glmmTMB::fixef(tmb)$zi), tolerance = 2e-4)
  # Standard errors with the boundary parameter held, as ours are: glmmTMB
  # refitted with the zero part's correlation held at its estimate (its own
  # with the correlation free differ by 0.5% from 1.1.10 on).
  pl <- tmb$obj$env$parList(tmb$fit$par)
  cl <- stats::getCall(tmb)
  cl$start <- pl[c("beta", "betazi", "theta", "thetazi")]
  cl$map <- list(thetazi = factor(c(1, 2, NA)))
  held <- suppressWarnings(eval(cl, parent.frame()))
  expect_equal(unname(sqrt(diag(V1)[cn])), unname(sqrt(diag(vcov(held)$cond))), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(V1)[zi_names1])), unname(sqrt(diag(vcov(held)$zi))),
               tolerance = 1e-4)
  Dt <- glmmTMB::VarCorr(tmb)$zi$site
  expect_equal(D1, Dt, tolerance = 1e-3, ignore_attr = TRUE)
}

test_that("one factor: zi ~ c2 + (c2 | site) with c2 far from zero is the fit on cover mapped back", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders
  d$c2 <- d$cover * 1e-6 - 5
  r1 <- zi_slope_fit(d, count ~ mined + (1 | site), ~ cover + (cover | site))
  r2 <- zi_slope_fit(d, count ~ mined + (1 | site), ~ c2 + (c2 | site))
  expect_s3_class(r2$fit, "glmmgee_glmm_zire")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(count ~ mined + (1 | site), data = d,
                                           family = poisson, ziformula = ~ cover + (cover | site)))
  zi <- 2:3
  zi_slope_check(r1, r2, c("zi~(Intercept)", "zi~cover"), c("zi~(Intercept)", "zi~c2"),
               VarCorr(r1$fit)$site[zi, zi], VarCorr(r2$fit)$site[zi, zi], tmb)
  # The count part's random effects and the zero part's modes (b = A b).
  expect_equal(ranef(r2$fit)$site, ranef(r1$fit)$site, tolerance = 1e-5, ignore_attr = TRUE)
  b1 <- as.matrix(ranef(r1$fit, component = "zi")$site)
  b2 <- as.matrix(ranef(r2$fit, component = "zi")$site)
  expect_equal(b2, b1 %*% t(zi_slope_A), tolerance = 1e-4, ignore_attr = TRUE)
})

test_that("sparse engine: zi ~ c2 + (c2 | site) beside (1 | spp) has its standard errors", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders
  d$c2 <- d$cover * 1e-6 - 5
  r1 <- zi_slope_fit(d, count ~ mined + (1 | site) + (1 | spp), ~ cover + (cover | site))
  r2 <- zi_slope_fit(d, count ~ mined + (1 | site) + (1 | spp), ~ c2 + (c2 | site))
  expect_s3_class(r2$fit, "glmmgee_glmm_zire_sparse")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), data = d,
                                           family = poisson, ziformula = ~ cover + (cover | site)))
  zi_slope_check(r1, r2, c("zi~(Intercept)", "zi~cover"), c("zi~(Intercept)", "zi~c2"),
               VarCorr(r1$fit)[["zi~site"]], VarCorr(r2$fit)[["zi~site"]], tmb)
  # The covariance parameters off the boundary: on the face lambda[2,2] = 0
  # the map is linear, (l11, l21) on c2 = -A (l11, l21) on cover.
  l1 <- r1$fit$theta[c("zi~site.(Intercept)", "zi~site.cover.(Intercept)")]
  l2 <- r2$fit$theta[c("zi~site.(Intercept)", "zi~site.c2.(Intercept)")]
  expect_equal(unname(l2), -drop(zi_slope_A %*% l1), tolerance = 1e-5)
  V1 <- vcov(r1$fit, full = TRUE)[names(l1), names(l1)]
  V2 <- vcov(r2$fit, full = TRUE)[names(l2), names(l2)]
  expect_equal(V2, zi_slope_A %*% V1 %*% t(zi_slope_A), tolerance = 1e-3, ignore_attr = TRUE)
})

# Simulated two-part counts with a correlated zero-part random slope
# (SDs 1 and 0.8, correlation 0.3) beside two count-part intercepts: an
# interior optimum for the sparse engine.
zi_slope_sim <- function(seed = 1, M = 80, n = 10) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = n)),
                  h = factor(sample(1:5, M * n, TRUE)), x = rnorm(M * n))
  bz <- matrix(rnorm(2 * M), M) %*% chol(matrix(c(1, 0.3 * 0.8, 0.3 * 0.8, 0.8^2), 2))
  mu <- exp(1 + 0.3 * d$x + rnorm(M, 0, 0.4)[d$g] + rnorm(5, 0, 0.3)[d$h])
  pz <- plogis(-0.5 + 0.5 * d$x + bz[d$g, 1] + bz[d$g, 2] * d$x)
  d$y <- ifelse(runif(M * n) < pz, 0, rpois(M * n, mu))
  d$x2 <- d$x * 1e-6 - 5
  d
}

test_that("sparse engine, interior optimum: a far zero-part slope is no false singular fit", {
  skip_if_not_installed("glmmTMB")
  d <- zi_slope_sim()
  r1 <- zi_slope_fit(d, y ~ x + (1 | g) + (1 | h), ~ x + (x | g))
  r2 <- zi_slope_fit(d, y ~ x + (1 | g) + (1 | h), ~ x2 + (x2 | g))
  # Before: "singular fit" and "the Hessian ... not negative definite".
  expect_length(r1$warnings, 0L)
  expect_length(r2$warnings, 0L)
  f1 <- r1$fit
  f2 <- r2$fit
  expect_false(any(f2$on_boundary))
  expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1))), 1e-7)
  expect_equal(fixef(f2), fixef(f1), tolerance = 1e-6)
  z1 <- c("zi~(Intercept)", "zi~x")
  z2 <- c("zi~(Intercept)", "zi~x2")
  expect_equal(unname(f2$theta[z2]), drop(zi_slope_A %*% f1$theta[z1]), tolerance = 1e-6)
  expect_equal(VarCorr(f2)[["zi~g"]],
               zi_slope_A %*% VarCorr(f1)[["zi~g"]] %*% t(zi_slope_A),
               tolerance = 1e-5, ignore_attr = TRUE)
  V1 <- vcov(f1, full = TRUE)
  V2 <- vcov(f2, full = TRUE)
  expect_true(all(is.finite(diag(V2))))
  cn <- c(names(fixef(f1)), "g.(Intercept)", "h.(Intercept)")
  expect_equal(sqrt(diag(V2)[cn]), sqrt(diag(V1)[cn]), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(V2)[z2])),
               sqrt(diag(zi_slope_A %*% V1[z1, z1] %*% t(zi_slope_A))), tolerance = 1e-4)
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g) + (1 | h), ziformula = ~ x + (x | g), data = d,
                          family = poisson)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(tmb)), tolerance = 1e-8)
  expect_equal(unname(f1$theta[z1]), unname(glmmTMB::fixef(tmb)$zi), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(V1)[z1])), unname(sqrt(diag(vcov(tmb)$zi))), tolerance = 1e-3)
  expect_equal(VarCorr(f1)[["zi~g"]], glmmTMB::VarCorr(tmb)$zi$g, tolerance = 1e-4,
               ignore_attr = TRUE)
})

test_that("sparse GLMM without a zero part: a far slope's interior optimum is reported as such", {
  d <- zi_slope_sim(2)
  d$y <- rpois(nrow(d), exp(0.3 + 0.5 * d$x + rnorm(80, 0, 0.5)[d$g] +
                              rnorm(80, 0, 0.3)[d$g] * d$x + rnorm(5, 0, 0.3)[d$h]))
  r1 <- zi_slope_fit(d, y ~ x + (x | g) + (1 | h), NULL)
  r2 <- zi_slope_fit(d, y ~ x2 + (x2 | g) + (1 | h), NULL)
  expect_length(r1$warnings, 0L)
  expect_length(r2$warnings, 0L)
  expect_lt(abs(as.numeric(logLik(r2$fit)) - as.numeric(logLik(r1$fit))), 1e-7)
  A <- zi_slope_A
  expect_equal(unname(fixef(r2$fit)), drop(A %*% fixef(r1$fit)), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(A %*% vcov(r1$fit) %*% t(A)))),
               unname(sqrt(diag(vcov(r2$fit)))), tolerance = 1e-4)
  expect_equal(VarCorr(r2$fit)$g, A %*% VarCorr(r1$fit)$g %*% t(A), tolerance = 1e-5,
               ignore_attr = TRUE)
})

test_that("correlated parts (zi_correlated = TRUE): the far slope is centred by the zero part's intercept", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders
  d$c2 <- d$cover * 1e-6 - 5
  r1 <- suppressWarnings(glmm(count ~ mined + (1 | site), ziformula = ~ cover + (cover | site),
                              data = d, family = poisson, zi_correlated = TRUE, nAGQ = 3))
  w <- character()
  r2 <- withCallingHandlers(
    glmm(count ~ mined + (1 | site), ziformula = ~ c2 + (c2 | site), data = d, family = poisson,
         zi_correlated = TRUE, nAGQ = 3),
    warning = function(x) {
      w <<- c(w, conditionMessage(x))
      invokeRestart("muffleWarning")
    })
  # Before: 1.28 below, "doubtful convergence" and no standard errors.
  expect_length(w, 1L)
  expect_match(w, "^singular fit")
  expect_lt(abs(as.numeric(logLik(r2)) - as.numeric(logLik(r1))), 1e-7)
  expect_equal(fixef(r2), fixef(r1), tolerance = 1e-6)
  expect_equal(unname(r2$theta[c("zi~(Intercept)", "zi~c2")]),
               drop(zi_slope_A %*% r1$theta[c("zi~(Intercept)", "zi~cover")]), tolerance = 1e-6)
  B <- diag(1, 3)
  B[2:3, 2:3] <- zi_slope_A
  expect_equal(VarCorr(r2)$site, B %*% VarCorr(r1)$site %*% t(B), tolerance = 1e-5,
               ignore_attr = TRUE)
  expect_equal(sqrt(diag(vcov(r2))), sqrt(diag(vcov(r1))), tolerance = 1e-4)
})
