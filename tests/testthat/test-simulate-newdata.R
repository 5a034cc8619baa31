# A `newdata` argument used to fall into `...` of simulate() and be
# ignored: the user got the fitted rows' simulations as if they were the
# new data's. Fits with normal random effects now simulate newdata's rows
# (test-boot35.R); the two-part, non-normal random-effect and ordinal
# methods still draw for the fitted rows only and refuse it by name.

test_that("simulate(newdata =) is refused by the methods that cannot take it", {
  skip_if_not_installed("lme4")
  cbpp <- lme4::cbpp
  nd <- cbpp[1:5, ]
  quad <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
               data = cbpp, family = binomial, nAGQ = 5)
  expect_equal(dim(simulate(quad, nsim = 2, seed = 1, newdata = nd)), c(nrow(nd), 2L))
  fits <- list(
    bridge = glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
                  data = cbpp, family = binomial, ranef_dist = "bridge"),
    zi = suppressWarnings(glmm(incidence ~ period + (1 | herd), data = cbpp,
                               family = poisson, ziformula = ~ 1))
  )
  expect_s3_class(fits$bridge, "glmmgee_glmm_dist")
  expect_s3_class(fits$zi, "glmmgee_glmm_zi")
  for (f in fits) {
    expect_error(simulate(f, nsim = 1, seed = 1, newdata = nd), "'newdata'")
    # without it, as before: one column per simulation, a row per fitted row
    s <- simulate(f, nsim = 2, seed = 1)
    expect_equal(dim(s), c(nrow(cbpp), 2L))
  }
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  ords <- list(glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative("logit")),
               glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = w,
                    family = cumulative("logit")))
  expect_s3_class(ords[[2]], "glmmgee_glmm_ordinal_sparse")
  for (f in ords) {
    expect_error(simulate(f, nsim = 1, seed = 1, newdata = w[1:3, ]), "'newdata'")
    expect_equal(nrow(as.data.frame(simulate(f, nsim = 1, seed = 1))), nrow(w))
  }
})
