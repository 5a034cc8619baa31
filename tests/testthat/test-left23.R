# Round-23 leftovers: integer64 grouping factors and GEE ids, formulas given
# as strings, same-design terms on the zero-inflated several-term routes.

sleep_data <- function() {
  data("sleepstudy", package = "lme4", envir = environment())
  sleepstudy
}

quiet <- function(expr) suppressWarnings(expr)

warnings_of <- function(expr) {
  w <- character()
  withCallingHandlers(expr, warning = function(c) {
    w <<- c(w, conditionMessage(c))
    invokeRestart("muffleWarning")
  })
  w
}

test_that("integer64 grouping factors and ids beyond 2^53 define the groups of their values", {
  # data.table::fread() reads large ids as integer64. 2^60 + k: as.numeric()
  # makes the 18 ids one number, and so do the raw bits read as doubles
  # (what model.matrix()/factor() without bit64's methods would see) to the
  # 15 digits factor() compares: either would give one cluster.
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleep_data()
  k <- as.integer(s$Subject)
  s$id64 <- bit64::as.integer64("1152921504606846976") + bit64::as.integer64(k)
  expect_equal(length(unique(suppressWarnings(as.numeric(s$id64)))), 1L)
  expect_equal(length(unique(as.character(unclass(s$id64)))), 1L)
  s$idf <- factor(k)
  a <- glmm(Reaction ~ Days + (Days | id64), s)
  b <- glmm(Reaction ~ Days + (Days | idf), s)
  expect_equal(a$ngroups, 18L)
  expect_identical(fixef(a), fixef(b))
  expect_identical(as.numeric(logLik(a)), as.numeric(logLik(b)))
  # Levels are the ids as bit64 prints them, in numeric order.
  expect_identical(rownames(ranef(a)[[1]]), as.character(s$id64[match(1:18, k)]))
  ga <- gee(Reaction ~ Days, id = id64, data = s, corstr = "exchangeable")
  gb <- gee(Reaction ~ Days, id = idf, data = s, corstr = "exchangeable")
  expect_identical(coef(ga), coef(gb))
  expect_identical(ga$std.err, gb$std.err)
  expect_equal(length(unique(ga$id)), 18L)
})

test_that("integer64 ids equal factor and numeric ids on every route (negative ids too)", {
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleep_data()
  # Negative ids: their raw bits are NaN payloads as doubles.
  s$num <- -as.numeric(s$Subject) * 1000
  s$id64 <- bit64::as.integer64(s$num)
  expect_true(all(is.nan(unclass(s$id64))))
  s$d3 <- s$Days %% 3
  s$d3_64 <- bit64::as.integer64(s$d3)
  # One factor (exact gaussian ML, REML) and a binomial quadrature fit.
  expect_identical(fixef(glmm(Reaction ~ Days + (1 | id64), s)),
                   fixef(glmm(Reaction ~ Days + (1 | num), s)))
  expect_identical(fixef(glmm(Reaction ~ Days + (1 | id64), s, REML = TRUE)),
                   fixef(glmm(Reaction ~ Days + (1 | factor(num)), s, REML = TRUE)))
  s$hi <- as.numeric(s$Reaction > 300)
  expect_identical(fixef(glmm(hi ~ Days + (1 | id64), s, family = binomial)),
                   fixef(glmm(hi ~ Days + (1 | num), s, family = binomial)))
  # Several terms (sparse route), crossed.
  a <- quiet(glmm(Reaction ~ Days + (1 | id64) + (1 | d3_64), s))
  b <- quiet(glmm(Reaction ~ Days + (1 | num) + (1 | d3), s))
  expect_identical(fixef(a), fixef(b))
  expect_identical(as.numeric(logLik(a)), as.numeric(logLik(b)))
  # An interaction of an integer64 factor with another.
  a <- glmm(Reaction ~ Days + (1 | id64:d3_64), s)
  b <- glmm(Reaction ~ Days + (1 | num:d3), s)
  expect_identical(fixef(a), fixef(b))
  # gee(): id and waves as integer64 (waves are converted to exact doubles).
  s$w64 <- bit64::as.integer64(s$Days)
  ga <- gee(Reaction ~ Days, id = id64, waves = w64, data = s, corstr = "ar1")
  gb <- gee(Reaction ~ Days, id = num, waves = Days, data = s, corstr = "ar1")
  expect_identical(coef(ga), coef(gb))
  expect_identical(ga$alpha, gb$alpha)
})

test_that("integer64 covariates stay refused wherever they enter the model", {
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleep_data()
  s$d64 <- bit64::as.integer64(s$Days)
  s$id64 <- bit64::as.integer64(as.integer(s$Subject))
  msg <- "'d64' is an integer64"
  expect_error(glmm(Reaction ~ d64 + (1 | id64), s), msg)
  # A random slope, and a variable that is both covariate and grouping factor.
  expect_error(glmm(Reaction ~ Days + (d64 | id64), s), msg)
  expect_error(glmm(Reaction ~ d64 + (1 | d64), s), msg)
  expect_error(glmm(Reaction ~ Days + (1 | id64), s, weights = d64), "'weights' is an integer64")
  expect_error(glmm(Reaction ~ Days + (1 | id64), s, offset = d64), "'offset' is an integer64")
  expect_error(gee(Reaction ~ Days, id = id64, weights = d64, data = s), "'weights' is an integer64")
  s$cnt <- round(s$Reaction / 50) * (s$Days > 2)
  expect_error(glmm(cnt ~ Days + (1 | id64), s, family = poisson, ziformula = ~ d64), msg)
  expect_error(glmm(cnt ~ Days + (1 | id64), s, family = nbinom2(), dispformula = ~ d64), msg)
  # waves beyond 2^53 cannot be read exactly as doubles.
  s$wbig <- bit64::as.integer64("9007199254740993") + bit64::as.integer64(s$Days)
  expect_error(gee(Reaction ~ Days, id = id64, waves = wbig, data = s, corstr = "ar1"),
               "'waves' holds integer64 values beyond 2\\^53")
})

test_that("an integer64 grouping factor works in a zero-inflated fit with zero-part random effects", {
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleep_data()
  s$cnt <- round(s$Reaction / 50) * (s$Days > 2)
  s$id64 <- bit64::as.integer64(as.integer(s$Subject))
  a <- quiet(glmm(cnt ~ Days + (1 | id64), s, family = poisson, ziformula = ~ 1 + (1 | id64)))
  b <- quiet(glmm(cnt ~ Days + (1 | Subject), s, family = poisson, ziformula = ~ 1 + (1 | Subject)))
  expect_identical(a$theta, b$theta)
})

test_that("a formula given as a string fits as the formula object, and its fit updates", {
  skip_if_not_installed("lme4")
  s <- sleep_data()
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
  s <- sleep_data()
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

test_that("two zero-inflated or zero-part terms with the same design are reported", {
  skip_if_not_installed("lme4")
  set.seed(4)
  d <- data.frame(a = factor(rep(1:12, each = 8)), e = factor(rep(1:4, 24)), x = stats::rnorm(96))
  d$b <- factor(letters[as.integer(d$a)])
  d$y <- stats::rpois(96, exp(0.5 + 0.3 * d$x + stats::rnorm(12, 0, 0.5)[d$a])) *
    stats::rbinom(96, 1, 0.7)
  msg <- "terms \\(1 \\| a\\) and \\(1 \\| b\\) have the same design"
  expect_warning(f <- glmm(y ~ x + (1 | a) + (1 | b), d, family = poisson, ziformula = ~ 1), msg)
  expect_true(any(grepl("same design", f$optinfo$warnings)))
  w <- warnings_of(glmm(y ~ x + (1 | a), d, family = poisson, ziformula = ~ 1 + (1 | a) + (1 | b)))
  expect_true(any(grepl(paste("zero part's random-effect", msg), w)))
  w <- warnings_of(glmm(y ~ x + (1 | a) + (1 | e), d, family = poisson, ziformula = ~ 1))
  expect_false(any(grepl("same design", w)))
})
