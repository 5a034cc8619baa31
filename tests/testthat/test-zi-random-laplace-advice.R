# A one-factor two-part fit with a zero-part random effect whose Laplace
# search fails must say that adaptive quadrature is the remedy, and the
# remedy must work: Salamanders ZINB, zi ~ mined + (1 | site) (almost no
# zeros are inflated at unmined sites, so the zero part's site effect is
# nearly unidentified there; glmmTMB ends with false convergence too).
test_that("a failed Laplace fit with zero-part random effects points to nAGQ > 1, which converges", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  fit <- suppressWarnings(glmm(count ~ mined + (1 | site), data = Salamanders, family = nbinom2,
                               ziformula = ~ mined + (1 | site)))
  expect_true(any(grepl("refit with nAGQ > 1", fit$optinfo$warnings)))
  f7 <- expect_no_warning(glmm(count ~ mined + (1 | site), data = Salamanders, family = nbinom2,
                               ziformula = ~ mined + (1 | site), nAGQ = 7))
  expect_length(f7$optinfo$warnings, 0L)
  expect_true(all(is.finite(sqrt(diag(vcov(f7))))))
})

test_that("a Laplace fit with zero-part random effects that converges gets no such advice", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  fit <- expect_no_warning(glmm(count ~ mined + (1 | site), data = Salamanders, family = poisson,
                                ziformula = ~ (1 | site)))
  expect_false(any(grepl("refit with nAGQ", fit$optinfo$warnings)))
})
