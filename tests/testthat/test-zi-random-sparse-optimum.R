# Which optimum the two-part sparse engine (fit-sparse-zi-random.R) ends at:
# never below a model nested in it by a term fewer (verify_zero_variance()),
# and, where the search from the default start runs into points where the
# Laplace approximation breaks down, a valid optimum from restarts
# (zi_random_refused_restarts()) rather than the edge of those points.

test_that("a term whose removal raises the likelihood: the fit is at least the nested model's", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  big <- suppressWarnings(glmm(count ~ spp + mined + (1 | site) + (1 | spp:mined),
                               data = Salamanders, family = poisson,
                               ziformula = ~ spp + (1 | site)))
  nested <- glmm(count ~ spp + mined + (1 | site), data = Salamanders, family = poisson,
                 ziformula = ~ spp + (1 | site))
  ll_big <- as.numeric(logLik(big))
  expect_gte(ll_big, as.numeric(logLik(nested)) - 1e-6)
  m <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site) + (1 | spp:mined),
                        ziformula = ~ spp + (1 | site), data = Salamanders, family = poisson)
  expect_gte(ll_big, as.numeric(logLik(m)) - 1e-6)
  # What was tried is recorded; the zero SD is reported as a verified
  # boundary (the search from the interior ended lower).
  zv <- big$optinfo$zero_variance_check
  expect_true(zv$performed)
  expect_identical(zv$moved_to, "(1 | spp:mined)")
  expect_true("(1 | spp:mined)" %in% zv$restarted)
  expect_gt(ll_big, zv$loglik_start + 0.1)
  expect_true(big$optinfo$boundary_check$verified)
  expect_match(big$optinfo$warnings, "singular fit.*verified", all = FALSE)
})

test_that("a regular model: the zero-variance check restarts nothing that moves it", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  fit <- glmm(count ~ mined + (1 | site), data = Salamanders, family = truncated_poisson,
              ziformula = ~ mined + (1 | spp))
  zv <- fit$optinfo$zero_variance_check
  expect_true(zv$performed)
  expect_true(is.na(zv$moved_to))
  expect_true(all(is.na(zv$loglik_restarts) | zv$loglik_restarts <= as.numeric(logLik(fit)) + 1e-6))
  expect_length(fit$optinfo$warnings, 0L)
})

test_that("hard ZINB from the default start: glmmTMB's optimum after restarts, no breakdown warning", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), ziformula = ~ (1 | site),
                        data = Salamanders, family = glmmTMB::nbinom2)
  fit <- expect_no_warning(glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders,
                                family = nbinom2, ziformula = ~ (1 | site)))
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(m)), tolerance = 1e-6 / 837)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(m)$cond), tolerance = 2e-3)
  v <- fit$optinfo$laplace_validity
  expect_false(v$breaks_down)
  expect_gt(v$hmin, 0.5)
  # The first search came next to the refused region (it is abandoned there,
  # zi_random_first_search()'s `near`); a restart gave the optimum.
  expect_false(is.null(v$restarts))
  expect_false(is.na(v$restarts$adopted))
})

test_that("a start where the Laplace approximation breaks down is blamed on the start, not the data", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  # A point the default search of the hard ZINB refused (the engine's
  # smallest eigenvalue of H at the joint mode below its bound).
  st <- c(-1.52355441838664, 2.01917690055735, 0.566528465052549, 0.654772544442526,
          1.56340925408711, -2.7586199884619, 0.213038712188609)
  expect_error(glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders,
                    family = nbinom2, ziformula = ~ (1 | site), start = st),
               "Laplace approximation breaks down at the starting values.*start =")
})
