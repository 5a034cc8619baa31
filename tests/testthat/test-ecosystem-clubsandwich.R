# clubSandwich's vcovCR(), coef_test(), Wald_test() and conf_int() on glmm()
# fits (R/ecosystem-clubsandwich.R).

cs_sleep <- function() {
  data(sleepstudy, package = "lme4", envir = environment())
  set.seed(1)
  d <- sleepstudy[sort(sample(nrow(sleepstudy), 150)), ]  # unbalanced
  d$w <- runif(nrow(d), 0.5, 2)
  d
}

test_that("vcovCR() of a linear mixed model is clubSandwich's computation and equals vcov(type = )", {
  skip_if_not_installed("clubSandwich")
  skip_if_not_installed("lme4")
  d <- cs_sleep()
  fits <- list(reml = glmm(Reaction ~ Days + (Days | Subject), data = d, REML = TRUE),
               weighted = glmm(Reaction ~ Days + (1 | Subject), data = d, weights = w))
  for (fit in fits) for (ty in c("CR0", "CR1", "CR2", "CR3")) {
    V <- clubSandwich::vcovCR(fit, type = ty)
    expect_s3_class(V, "clubSandwich")
    ours <- vcov(fit, type = ty)
    expect_lt(max(abs(as.matrix(V) - ours)) / max(abs(ours)), 1e-10)
  }
  # clubSandwich's own types beyond glmmgee's run too
  expect_true(all(is.finite(as.matrix(clubSandwich::vcovCR(fits$reml, type = "CR1S")))))
  # a cluster given as a formula, a vector or missing is the same clustering
  V1 <- clubSandwich::vcovCR(fits$reml, type = "CR2", cluster = d$Subject)
  V2 <- clubSandwich::vcovCR(fits$reml, type = "CR2", cluster = ~ Subject)
  expect_equal(as.matrix(V1), as.matrix(V2))
})

test_that("coef_test() Satterthwaite df and Wald_test() on an LMM agree with summary(vcov = )", {
  skip_if_not_installed("clubSandwich")
  skip_if_not_installed("lme4")
  d <- cs_sleep()
  for (fit in list(glmm(Reaction ~ Days + (Days | Subject), data = d, REML = TRUE),
                   glmm(Reaction ~ Days + (1 | Subject), data = d, weights = w))) {
    ct <- clubSandwich::coef_test(fit, vcov = "CR2", test = "Satterthwaite")
    sm <- summary(fit, vcov = "CR2")$coefficients
    expect_equal(ct$df_Satt, unname(sm[, "df"]), tolerance = 1e-8)
    expect_equal(ct$SE, unname(sm[, "Std. Error"]), tolerance = 1e-8)
    expect_equal(ct$p_Satt, unname(sm[, "Pr(>|t|)"]), tolerance = 1e-6)
    # one constraint: the HTZ F test is the square of the t test with its df
    wt <- clubSandwich::Wald_test(fit, constraints = clubSandwich::constrain_zero(2),
                                  vcov = "CR2", test = "HTZ")
    expect_equal(wt$Fstat, unname(sm[2, "t value"])^2, tolerance = 1e-8)
  }
})

test_that("vcovCR() of a binomial GLMM is glmmgee's score sandwich; linear-model tests stop", {
  skip_if_not_installed("clubSandwich")
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  g <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
            family = binomial)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(as.matrix(clubSandwich::vcovCR(g, type = ty)), vcov(g, type = ty),
                 ignore_attr = TRUE, tolerance = 1e-12)
  V <- clubSandwich::vcovCR(g, type = "CR2", cluster = cbpp$herd)
  ct <- clubSandwich::coef_test(g, vcov = V, test = "naive-t")
  expect_equal(ct$SE, sqrt(diag(vcov(g, type = "CR2"))), ignore_attr = TRUE)
  expect_equal(ct$df_t, rep(nlevels(cbpp$herd) - 1, 4))
  ci <- clubSandwich::conf_int(g, vcov = V, test = "z")
  expect_equal(ci$CI_L, unname(fixef(g) - qnorm(0.975) * ct$SE))
  expect_error(clubSandwich::coef_test(g, vcov = V), "built for linear models")
  expect_error(clubSandwich::vcovCR(g, type = "CR4"), "\"CR4\" is not available")
  expect_error(clubSandwich::vcovCR(g, type = "CR2", form = "meat"), "form")
  expect_error(clubSandwich::vcovCR(g, type = "CR2", inverse_var = TRUE), "inverse_var")
  expect_error(clubSandwich::vcovCR(g), "'type' must be given")
  expect_error(clubSandwich::vcovCR(g, type = "CR2", typo = 1), "no argument 'typo'")
  expect_error(clubSandwich::vcovCR(g, type = "CR2", cluster = cbpp$period), "does not nest")
})
