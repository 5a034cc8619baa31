# The hard Salamanders ZINB with a zero-part random intercept beside two
# conditional terms (the two-part sparse engine): from the default start the
# search climbs towards parameters where H, the negative Hessian of the joint
# mode's objective, becomes singular and the Laplace log-likelihood rises
# without bound (an artefact, above glmmTMB's optimum). The engine refuses
# such points (laplace-zero-re.cpp, mode()); the fit must then give glmmTMB's
# optimum or say that the approximation breaks down, never a silently higher
# log-likelihood.

zinb_hard <- function(...) {
  data(Salamanders, package = "glmmTMB", envir = environment())
  glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders, family = nbinom2,
       ziformula = ~ (1 | site), ...)
}

test_that("hard Salamanders ZINB: glmmTMB's optimum or a recorded breakdown, never a silent artefact", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), ziformula = ~ (1 | site),
                        data = Salamanders, family = glmmTMB::nbinom2)
  ll_tmb <- as.numeric(logLik(m))
  fit <- suppressWarnings(zinb_hard())
  ll <- as.numeric(logLik(fit))
  v <- fit$optinfo$laplace_validity
  broke <- any(grepl("Laplace approximation breaks down", fit$optinfo$warnings))
  expect_identical(broke, isTRUE(v$breaks_down))
  # The estimates are a point where the approximation holds.
  expect_gte(v$hmin, v$bound)
  if (!broke) {
    # An optimum: glmmTMB's, or higher only where H is well conditioned.
    expect_length(fit$optinfo$warnings, 0L)
    if (ll > ll_tmb + 1e-4) expect_gt(v$hmin, 0.5) else expect_equal(ll, ll_tmb, tolerance = 1e-4 / abs(ll_tmb))
  } else {
    # The warning is issued, and the search ran into refused points.
    expect_gt(v$refused, 0)
    ws <- character()
    withCallingHandlers(zinb_hard(), warning = function(w) {
      ws <<- c(ws, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
    expect_true(any(grepl("Laplace approximation breaks down", ws)))
  }
})

test_that("hard Salamanders ZINB from starting values near a valid optimum: glmmTMB's fit", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), ziformula = ~ (1 | site),
                        data = Salamanders, family = glmmTMB::nbinom2)
  # Rounded glmmTMB estimates in our order (fixed effects, SDs of both
  # parts, zero intercept, log size).
  p <- m$fit$par
  st <- signif(c(p[1:2], exp(p[5:7]), p[3:4]), 2)
  fit <- zinb_hard(start = st)
  expect_length(fit$optinfo$warnings, 0L)
  expect_false(fit$optinfo$laplace_validity$breaks_down)
  expect_gt(fit$optinfo$laplace_validity$hmin, 0.5)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(m)), tolerance = 1e-4 / 837)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(m)$cond), tolerance = 2e-3)
  expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(m)$zi), tolerance = 2e-3)
  expect_equal(sigma(fit), sigma(m), tolerance = 2e-3)
})
