# ML fits of several random intercepts start the Newton search from the
# moment equations moved to ML's optimum (lmm_ml_moments(),
# R/fit-lmm-sparse.R): on balanced designs that is ML's optimum, so the
# search needs one iteration where it took four or five from REML's.
skip_if_not_installed("lme4")

ml_case <- function(formula, data) {
  fit <- suppressWarnings(glmm(formula, data, REML = FALSE))
  ref <- lme4::lmer(formula, data, REML = FALSE)
  list(fit = fit, ll = as.numeric(logLik(fit)), ll_ref = as.numeric(logLik(ref)))
}

test_that("balanced ML fits reach lmer's optimum in one Newton iteration", {
  data(Penicillin, Pastes, package = "lme4")
  for (cs in list(list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin),
                  list(strength ~ 1 + (1 | batch/cask), Pastes),
                  list(strength ~ 1 + (1 | batch) + (1 | sample), Pastes))) {
    r <- ml_case(cs[[1]], cs[[2]])
    expect_match(r$fit$optinfo$optimizer, "^Newton")
    expect_identical(r$fit$optinfo$iterations, 1L)
    expect_lte(r$fit$optinfo$evaluations, 4)
    expect_lt(abs(r$ll - r$ll_ref), 1e-8)
    expect_gte(r$ll, r$ll_ref - 1e-8)
  }
})

test_that("the ML moments solve ML's equations on a balanced crossed design", {
  data(Penicillin, package = "lme4")
  ref <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
  vc <- as.data.frame(lme4::VarCorr(ref))
  codes <- list(as.integer(Penicillin$plate), as.integer(Penicillin$sample))
  r <- Penicillin$diameter - mean(Penicillin$diameter)
  eq <- glmmgee:::cpp_lmm_term_moments(codes, c(24L, 6L), r, 1L)
  v0 <- solve(eq$A, eq$b)
  v <- glmmgee:::lmm_ml_moments(eq$A, eq$b, v0, codes, length(r))
  ml <- c(vc$vcov[vc$grp == "plate"], vc$vcov[vc$grp == "sample"], vc$vcov[vc$grp == "Residual"])
  # lmer's bobyqa stops 1e-6 short; the Newton search's end is 1e-7 on theta
  expect_equal(v, ml, tolerance = 1e-5)
  fit <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
  expect_equal(v, c(unname(fit$theta[c("plate.(Intercept)", "sample.(Intercept)")])^2,
                    fit$sigma^2), tolerance = 1e-7)
  # the REML moments are not ML's
  expect_gt(max(abs(v0 - ml) / ml), 1e-2)
})

test_that("unbalanced and weighted ML fits keep lmer's optimum", {
  data(Penicillin, Pastes, package = "lme4")
  set.seed(31)
  pw <- Penicillin
  pw$w <- runif(nrow(pw), 0.5, 2)
  pu <- Penicillin[-c(3, 7, 20, 41, 55, 80, 100, 130), ]
  pa <- Pastes[-c(1, 9, 33, 50), ]
  for (cs in list(list(diameter ~ 1 + (1 | plate) + (1 | sample), pu, NULL),
                  list(strength ~ 1 + (1 | batch/cask), pa, NULL),
                  list(diameter ~ 1 + (1 | plate) + (1 | sample), pw, "w"))) {
    d <- cs[[2]]
    d$.w <- if (is.null(cs[[3]])) 1 else d[[cs[[3]]]]
    fit <- glmm(cs[[1]], d, REML = FALSE, weights = .w)
    ref <- lme4::lmer(cs[[1]], d, REML = FALSE, weights = .w)
    expect_lt(abs(as.numeric(logLik(fit)) - as.numeric(logLik(ref))), 1e-8)
    expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(ref)) - 1e-8)
  }
})

test_that("the ML moments' C++ rounds refuse systems that do not agree", {
  A <- diag(3)
  expect_error(glmmgee:::cpp_lmm_ml_moments(A, c(1, 1), c(1, 1, 1), A, 10, 20L, 1e-7),
               "must agree in size")
  # a singular system leaves the start as it is
  expect_identical(glmmgee:::cpp_lmm_ml_moments(matrix(0, 3, 3), c(1, 1, 1), c(1, 2, 3), A,
                                                10, 20L, 1e-7), c(1, 2, 3))
})
