# Profile-likelihood intervals of two-part fits with several random-effect
# terms (profile_engine()): the zero part's coefficients and standard
# deviations and the count part's, against glmmTMB's profile intervals and
# against the defining property, checked by glmmTMB refits with the
# parameter held at our limit (map =): twice the log-likelihood lost there
# is qchisq(0.95, 1).

# Twice the log-likelihood lost by holding one parameter of the glmmTMB fit
# `tmb` (fitted to `data`) at a value (`map` and `start` as glmmTMB takes
# them).
tmb_drop <- function(tmb, data, map, start) {
  r <- suppressWarnings(stats::update(tmb, data = data, map = map, start = start))
  2 * (as.numeric(logLik(tmb)) - as.numeric(logLik(r)))
}

test_that("crossed count terms, zero part with a random effect: limits are where the constrained refit loses the cutoff", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ mined + (1 | site) + (1 | spp), data = d, family = poisson,
              ziformula = ~ mined + (1 | site))
  expect_s3_class(fit, "glmmgee_glmm_zire_sparse")
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), data = d, family = poisson,
                          ziformula = ~ mined + (1 | site))
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(tmb)), tolerance = 1e-7)
  pars <- c("zi.(Intercept)", "zi.minedno", "sd_zi.(Intercept)|site", "sd_(Intercept)|spp")
  ci <- confint(fit, parm = pars, method = "profile")
  expect_identical(rownames(ci), pars)
  expect_true(all(is.finite(ci)))
  q <- stats::qchisq(0.95, 1)
  bzi <- glmmTMB::fixef(tmb)$zi
  for (lim in ci["zi.(Intercept)", ])
    expect_equal(tmb_drop(tmb, d, list(betazi = factor(c(NA, 1))), list(betazi = c(lim, bzi[2]))),
                 q, tolerance = 1e-5)
  for (lim in ci["zi.minedno", ])
    expect_equal(tmb_drop(tmb, d, list(betazi = factor(c(1, NA))), list(betazi = c(bzi[1], lim))),
                 q, tolerance = 1e-5)
  for (lim in ci["sd_zi.(Intercept)|site", ])
    expect_equal(tmb_drop(tmb, d, list(thetazi = factor(NA)), list(thetazi = log(lim))),
                 q, tolerance = 1e-5)
  th <- glmmTMB::getME(tmb, "theta")
  for (lim in ci["sd_(Intercept)|spp", ])
    expect_equal(tmb_drop(tmb, d, list(theta = factor(c(1, NA))), list(theta = c(th[1], log(lim)))),
                 q, tolerance = 1e-5)
  # glmmTMB's own profile intervals (a spline through its profile points:
  # its lower limit of the zero intercept, 0.46953, loses 3.848 instead of
  # 3.841, so the comparison is to its interpolation error).
  ref <- rbind(confint(tmb, method = "profile", parm = 3)[1, 1:2],
               confint(tmb, method = "profile", parm = 4)[1, 1:2],
               exp(confint(tmb, method = "profile", parm = 7)[1, 1:2]),
               exp(confint(tmb, method = "profile", parm = 6)[1, 1:2]))
  expect_equal(unname(ci), unname(ref), tolerance = 2e-3)
})

test_that("zero part on another grouping factor: a standard deviation's lower limit at 0 when the profile stays inside", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ spp + mined + (1 | site), data = d, family = poisson,
              ziformula = ~ mined + (1 | spp))
  expect_s3_class(fit, "glmmgee_glmm_zire_sparse")
  tmb <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), data = d, family = poisson,
                          ziformula = ~ mined + (1 | spp))
  ci <- confint(fit, parm = c("zi.minedno", "sd_zi.(Intercept)|spp", "sd_(Intercept)|site"),
                method = "profile")
  expect_identical(ci["sd_zi.(Intercept)|spp", 1], 0)
  # At zero the zero part's effect is gone: the fit without it loses less
  # than the cutoff, so no positive lower limit exists.
  tmb0 <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), data = d, family = poisson,
                           ziformula = ~ mined)
  q <- stats::qchisq(0.95, 1)
  expect_lt(2 * (as.numeric(logLik(tmb)) - as.numeric(logLik(tmb0))), q)
  expect_equal(tmb_drop(tmb, d, list(thetazi = factor(NA)),
                        list(thetazi = log(ci["sd_zi.(Intercept)|spp", 2]))), q, tolerance = 1e-5)
  ref <- rbind(confint(tmb, method = "profile", parm = 10)[1, 1:2],
               exp(confint(tmb, method = "profile", parm = 11)[1, 1:2]))
  expect_equal(unname(ci[c(1, 3), ]), unname(ref), tolerance = 2e-3)
})

test_that("several count terms with a fixed zero part, hurdle and dispersion formulas profile too", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ mined + (1 | site) + (1 | spp), data = d, family = poisson,
              ziformula = ~ mined)
  expect_true(isTRUE(fit$aux$sparse))
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), data = d, family = poisson,
                          ziformula = ~ mined)
  ci <- confint(fit, parm = c("zi.(Intercept)", "sd_(Intercept)|spp"), method = "profile")
  q <- stats::qchisq(0.95, 1)
  bzi <- glmmTMB::fixef(tmb)$zi
  for (lim in ci["zi.(Intercept)", ])
    expect_equal(tmb_drop(tmb, d, list(betazi = factor(c(NA, 1))), list(betazi = c(lim, bzi[2]))),
                 q, tolerance = 1e-5)
  th <- glmmTMB::getME(tmb, "theta")
  for (lim in ci["sd_(Intercept)|spp", ])
    expect_equal(tmb_drop(tmb, d, list(theta = factor(c(1, NA))), list(theta = c(th[1], log(lim)))),
                 q, tolerance = 1e-5)
  # Hurdle with zero-part random effects (the two-part engine's other
  # kind), and a gaussian dispersion formula: finite intervals near Wald's.
  h <- glmm(count ~ mined + (1 | site) + (1 | spp), data = d, family = truncated_poisson,
            ziformula = ~ mined + (1 | site))
  ph <- confint(h, parm = c("zi.minedno", "sd_zi.(Intercept)|site"), method = "profile")
  expect_true(all(is.finite(ph)))
  expect_lt(max(abs(ph - confint(h, parm = c("zi.minedno", "sd_zi.(Intercept)|site")))), 0.1)
  set.seed(3)
  d$y <- log1p(d$count) + stats::rnorm(nrow(d), sd = 0.1)
  g <- glmm(y ~ mined + (1 | site) + (1 | spp), data = d, dispformula = ~ mined)
  pg <- confint(g, parm = "disp.minedno", method = "profile")
  expect_true(all(is.finite(pg)))
  expect_lt(max(abs(pg - confint(g, parm = "disp.minedno"))), 0.02)
})

test_that("a profile that runs into the region where the Laplace approximation breaks down stops there, with a warning", {
  d <- salamanders_data()
  # The hard ZINB of fit-sparse-zi-random.R: the fit reaches glmmTMB's optimum,
  # but lowering the zero part's SD leads the count part's effects to carry
  # the zeros, where the joint mode's negative Hessian becomes nearly
  # singular (points the engine refuses).
  fit <- glmm(count ~ mined + (1 | site) + (1 | spp), data = d, family = nbinom2,
              ziformula = ~ (1 | site))
  expect_length(fit$optinfo$warnings, 0L)
  msgs <- character()
  pr <- withCallingHandlers(profile(fit, which = "sd_zi.(Intercept)|site"),
                            warning = function(w) {
                              msgs <<- c(msgs, conditionMessage(w))
                              invokeRestart("muffleWarning")
                            })
  expect_true(any(grepl("Laplace approximation breaks down .* lower side; no limit there", msgs)))
  # No value from beyond the edge: the lower limit is not available.
  expect_true(is.na(confint(pr)[1L, 1L]))
  expect_true(all(is.finite(pr$zeta)))
})

test_that("a zero part that vanishes for one level has no profile limit on that side", {
  # Zero inflation vanishing as its intercept goes far out (with zi.z
  # following, the zero part stays for z = 1): the profile levels off at
  # |zeta| 1.24, short of the 95% quantile, so the data do not bound the
  # intercept below, nor zi.z above. Past the level stretch the refits with
  # the intercept held fail and zeta jumps by 2; that step was read as a
  # limit (-34.2 and 27.8, and before the spline was kept within its
  # bracket, 1.6e8).
  set.seed(4)
  m <- 60
  d <- data.frame(id = factor(rep(1:m, each = 8)), tf = factor(rep(rep(1:4, each = 2), m)))
  d$x <- rnorm(480)
  d$z <- rbinom(480, 1, 0.5)
  d$g <- factor(rep(1:15, length.out = m))[d$id]
  U <- t(chol(0.6^abs(outer(1:4, 1:4, "-")))) %*% matrix(rnorm(4 * m), 4)
  eta <- 1 + 0.3 * d$x + 0.7 * U[cbind(as.integer(d$tf), as.integer(d$id))]
  ld <- 0.3 + rnorm(15, sd = 0.6)[d$g]
  pz <- plogis(-1 + 0.5 * d$z)
  d$y <- ifelse(runif(480) < pz, 0, rnbinom(480, size = exp(ld), mu = exp(eta)))
  f <- glmm(y ~ x + (1 | id), ziformula = ~ z, dispformula = ~ (1 | g), family = nbinom2(),
            data = d)
  msgs <- character()
  pr <- withCallingHandlers(profile(f, which = c("zi.(Intercept)", "zi.z")),
                            warning = function(w) {
                              msgs <<- c(msgs, conditionMessage(w))
                              invokeRestart("muffleWarning")
                            })
  expect_true(any(grepl("'zi.\\(Intercept\\)' levels off below the cutoff on the lower side", msgs)))
  expect_true(any(grepl("'zi.z' levels off below the cutoff on the upper side", msgs)))
  ci <- confint(pr)
  est <- unname(f$aux$zi$coef)
  expect_true(is.na(ci[1, 1]) && is.na(ci[2, 2]))
  expect_true(ci[1, 2] > est[1] && ci[2, 1] < est[2])
  # The traced profile has no step: below the cutoff on the open sides.
  expect_true(all(abs(pr$zeta[pr$parameter == "zi.(Intercept)" & pr$value < est[1]]) < 1.24))
  expect_true(all(abs(pr$zeta[pr$parameter == "zi.z" & pr$value > est[2]]) < 1.24))
  # The closed sides are refined crossings of the 95% quantile.
  for (k in 1:2) {
    d1 <- pr[pr$parameter == rownames(ci)[k], ]
    lim <- ci[k, 3 - k]
    expect_equal(abs(d1$zeta[which.min(abs(d1$value - lim))]), stats::qnorm(0.975),
                 tolerance = 1e-4)
  }
})
