# A model without fixed effects stopped inside every route with a message
# about names or an "invalid 'k' argument"; it is refused by glmm() with
# what to write instead. Models with a fixed effect are untouched.

test_that("a model without fixed effects is refused up front, naming 'formula'", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4", envir = environment())
  msg <- "'formula': the model has no fixed effects"
  expect_error(glmm(diameter ~ 0 + (1 | plate), Penicillin), msg)
  expect_error(glmm(diameter ~ 0 + (1 | plate) + (1 | sample), Penicillin), msg)
  expect_error(glmm(diameter ~ 0 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE), msg)
  expect_error(glmm(I(diameter > 23) ~ 0 + (1 | plate), Penicillin, family = binomial), msg)
  expect_error(glmm(I(diameter > 23) ~ -1 + (1 | plate) + (1 | sample), Penicillin,
                    family = binomial), msg)
  # the same model with an intercept is lmer's
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
  l <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l)), tolerance = 1e-7)
  # a covariate without an intercept is a fixed effect
  data(sleepstudy, package = "lme4", envir = environment())
  g <- glmm(Reaction ~ 0 + Days + (1 | Subject), sleepstudy)
  m <- lme4::lmer(Reaction ~ 0 + Days + (1 | Subject), sleepstudy, REML = FALSE)
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(m)), tolerance = 1e-7)
})
