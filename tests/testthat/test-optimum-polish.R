# A search that nlminb leaves at its iteration limit is finished by Newton
# steps with Hessians recomputed from the exact gradient (newton_refresh(),
# search.R; its unit tests are in test-search.R).
# The case that needed it (issue 11, the level-2 grid of
# test-optimum-peers.R): logit, q = 3, AGHQ, seed 9. Its optimum lies near
# a rank-deficient covariance, where nlminb crawled; after the covariates
# were centred and multiplied by 1e3 it stopped 2.6e-5 log-likelihood units
# below the fit on the original coding.

test_that("logit q = 3 AGHQ, seed 9: same optimum after rescaling, no iteration-limit stop", {
  d <- sim_slopes(9, "binomial", "logit", T = c(7L, 20L, 4L, 12L)[9 %% 4 + 1], M = 40L,
                  slope = "time", q = 3)
  form <- y ~ time + pm + x + (1 + time + x | g)
  f1 <- suppressWarnings(glmm(form, d, family = binomial))
  f2 <- suppressWarnings(glmm(form, rescale_slopes(d, 1e3), family = binomial))
  expect_equal(f1$nAGQ, f2$nAGQ)
  expect_lt(abs(as.numeric(logLik(f1)) - as.numeric(logLik(f2))), 1e-6)
  for (f in list(f1, f2)) {
    expect_false(any(grepl("iteration limit", f$optinfo$warnings)))
    expect_identical(f$optinfo$convergence, 0L)
    # Every stage that ended at nlminb's limit was finished by Newton steps
    # that converged.
    st <- f$optinfo$stages
    for (nm in grep("^nlminb", names(st), value = TRUE)) {
      if (st[[nm]]$convergence != 0L) {
        pol <- st[[sub("^nlminb", "newton_polish", nm)]]
        expect_false(is.null(pol), label = paste(nm, "followed by Newton polish"))
        expect_identical(pol$convergence, 0L)
      }
    }
  }
  skip_if_not_installed("GLMMadaptive")
  best <- peer_best(form, d, "binomial", "logit", f1$nAGQ, f1)
  expect_gte(as.numeric(logLik(f1)), best - 1e-4)
})
