# Formulas given as strings to glmm() and gee(): fitted as the formula
# object, updated, and strings that are not formulas refused by name.

quiet <- function(expr) suppressWarnings(expr)

test_that("a formula given as a string fits as the formula object, and its fit updates", {
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  a <- glmm("Reaction ~ Days + (1 | Subject)", data = s)
  b <- glmm(Reaction ~ Days + (1 | Subject), data = s)
  expect_identical(fixef(a), fixef(b))
  expect_identical(logLik(a), logLik(b))
  expect_identical(predict(a, newdata = s[1:7, ]), predict(b, newdata = s[1:7, ]))
  expect_s3_class(a$call$formula, "formula")
  expect_identical(deparse(formula(a)), deparse(formula(b)))
  a0 <- update(a, . ~ . - Days)
  b0 <- update(b, . ~ . - Days)
  expect_identical(logLik(a0), logLik(b0))
  expect_identical(anova(a0, a)$Chisq, anova(b0, b)$Chisq)
  expect_identical(fixef(update(a, REML = TRUE)), fixef(update(b, REML = TRUE)))
  # A formula object in a variable.
  fo <- Reaction ~ Days + (1 | Subject)
  expect_identical(fixef(glmm(fo, data = s)), fixef(b))
  # Several terms, and variables found in the caller's environment.
  f <- function() {
    scale_k <- 2
    glmm("Reaction ~ I(Days * scale_k) + (1 | Subject) + (0 + Days | Subject)", data = s)
  }
  s$Days2 <- s$Days * 2
  expect_equal(unname(fixef(f())),
               unname(fixef(glmm(Reaction ~ Days2 + (1 | Subject) + (0 + Days | Subject), s))),
               tolerance = 1e-10)
  # ziformula and dispformula as strings.
  s$cnt <- round(s$Reaction / 50) * (s$Days > 2)
  z1 <- quiet(glmm("cnt ~ Days + (1 | Subject)", s, family = poisson, ziformula = "~ Days"))
  z2 <- quiet(glmm(cnt ~ Days + (1 | Subject), s, family = poisson, ziformula = ~ Days))
  expect_identical(z1$theta, z2$theta)
  expect_identical(predict(z1, newdata = s[1:5, ], type = "response"),
                   predict(z2, newdata = s[1:5, ], type = "response"))
  d1 <- glmm(Reaction ~ Days + (1 | Subject), s, dispformula = "~ Days")
  d2 <- glmm(Reaction ~ Days + (1 | Subject), s, dispformula = ~ Days)
  expect_identical(d1$theta, d2$theta)
})

test_that("gee() takes a formula as a string; strings that are not formulas are refused by name", {
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  a <- gee("Reaction ~ Days", id = Subject, data = s, corstr = "exchangeable")
  b <- gee(Reaction ~ Days, id = Subject, data = s, corstr = "exchangeable")
  expect_identical(coef(a), coef(b))
  expect_identical(predict(a, newdata = s[1:4, ]), predict(b, newdata = s[1:4, ]))
  expect_identical(coef(update(a, . ~ . + I(Days^2))), coef(update(b, . ~ . + I(Days^2))))
  expect_identical(coef(update(a, corstr = "ar1")), coef(update(b, corstr = "ar1")))
  expect_identical(anova(update(a, . ~ 1), a)$X2, anova(update(b, . ~ 1), b)$X2)
  expect_error(glmm("Reaction", data = s), "'formula' \\(\"Reaction\"\\) is not a formula")
  expect_error(glmm("Reaction ~ (", data = s), "'formula' .* does not parse")
  expect_error(glmm(c("y ~ x", "y ~ z"), data = s), "'formula' is a character vector of length 2")
  expect_error(gee("Days", id = Subject, data = s), "'formula' \\(\"Days\"\\) is not a formula")
  expect_error(glmm(Reaction ~ Days + (1 | Subject), s, dispformula = "Days"),
               "'dispformula' \\(\"Days\"\\) is not a formula")
})
