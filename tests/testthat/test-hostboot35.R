# Hostile tests of this round's confint(method = "boot"), simulate(newdata = )
# and the ordinal fits' emmeans support: what users write that broke them.

test_that("confint(method = 'boot') refits a formula with '.' as the same model", {
  skip_if_not_installed("lme4")
  ss <- lme4::sleepstudy[, c("Reaction", "Days", "Subject")]
  dot <- glmm(Reaction ~ . - Subject + (1 | Subject), data = ss)
  named <- glmm(Reaction ~ Days + (1 | Subject), data = ss)
  expect_equal(fixef(dot), fixef(named))
  # the refits took the observed response among the covariates ('.'), so the
  # refit of the observed response did not reproduce the fit: an error
  expect_identical(confint(dot, method = "boot", nsim = 3, seed = 1),
                   confint(named, method = "boot", nsim = 3, seed = 1))
})

test_that("confint(method = 'boot') of a fit without 'data' and a transformed covariate", {
  set.seed(1)
  g <- rep(1:15, each = 8)
  x <- stats::runif(120, 1, 5)
  y <- stats::rpois(120, exp(0.3 * log(x) + stats::rnorm(15, 0, 0.5)[g]))
  loose <- glmm(y ~ log(x) + (1 | g), family = poisson)
  framed <- glmm(y ~ log(x) + (1 | g), family = poisson, data = data.frame(y, x, g))
  # the model frame has log(x), not x: "could not refit the model"
  ref <- confint(framed, method = "boot", nsim = 3, seed = 1)
  expect_identical(confint(loose, method = "boot", nsim = 3, seed = 1), ref)
  # socket workers get the variables with the refitting function
  expect_identical(unclass(confint(loose, method = "boot", nsim = 3, seed = 1, parallel = "snow",
                                   ncpus = 2)), unclass(ref))
})

test_that("confint(method = 'boot') says why the refit of the observed response failed", {
  skip_if_not_installed("lme4")
  fo <- Reaction ~ Days + (1 | Subject)
  make <- function() {
    dd <- lme4::sleepstudy
    fam <- gaussian()
    glmm(fo, data = dd, family = fam)
  }
  fit <- make()
  # the family lives in make()'s frame, the formula's environment is the test's
  expect_error(confint(fit, method = "boot", nsim = 3, seed = 1),
               "could not refit.*object 'fam' not found")
})

test_that("confint(method = 'boot'): several boot.type values are refused by name", {
  skip_if_not_installed("lme4")
  fit <- glmm(Reaction ~ Days + (1 | Subject), data = lme4::sleepstudy)
  expect_error(confint(fit, method = "boot", nsim = 3, boot.type = c("perc", "norm")),
               "'boot.type' must be one of")
})

test_that("simulate(newdata = ) with zero rows, or no row with every value", {
  skip_if_not_installed("lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = lme4::cbpp,
              family = binomial)
  nd <- data.frame(period = factor(c("4", "1"), levels = 1:4), herd = factor(c("1", "2")),
                   incidence = 0, size = 10)
  s0 <- simulate(fit, nsim = 3, seed = 1, newdata = nd[0, ])
  expect_identical(dim(s0), c(0L, 3L))
  expect_identical(names(s0), paste0("sim_", 1:3))
  expect_identical(dim(s0$sim_1), c(0L, 2L))
  na_rows <- nd
  na_rows$period[] <- NA
  s1 <- simulate(fit, nsim = 2, seed = 1, newdata = na_rows)
  expect_identical(dim(s1), c(2L, 2L))
  expect_true(all(is.na(unlist(s1))))
  expect_identical(dim(simulate(fit, nsim = 2, seed = 1, newdata = na_rows,
                                na.action = stats::na.omit)), c(0L, 2L))
})

test_that("simulate(newdata = ) with a spline term: a row with a missing value does not stop the others", {
  skip_if_not_installed("lme4")
  fit <- glmm(Reaction ~ splines::ns(Days, 3) + (Days | Subject), data = lme4::sleepstudy)
  one <- simulate(fit, nsim = 2, seed = 1, newdata = data.frame(Days = 1, Subject = "308"))
  two <- simulate(fit, nsim = 2, seed = 1, newdata = data.frame(Days = c(NA, 1), Subject = "308"))
  expect_true(all(is.na(unlist(two[1, ]))))
  expect_equal(unlist(two[2, ]), unlist(one[1, ]))
  none <- simulate(fit, nsim = 2, seed = 1, newdata = data.frame(Days = NA_real_, Subject = "308"))
  expect_true(all(is.na(unlist(none))))
})

test_that("predict()/simulate() on newdata without an offset's variable named like a base function", {
  set.seed(2)
  d <- data.frame(g = rep(1:20, each = 6), x = stats::rnorm(120), t = stats::runif(120, 1, 3))
  d$cnt <- stats::rpois(120, d$t * exp(0.2 * d$x + stats::rnorm(20, 0, 0.5)[d$g]))
  f_term <- glmm(cnt ~ x + offset(log(t)) + (1 | g), data = d, family = poisson)
  f_arg <- glmm(cnt ~ x + (1 | g), offset = log(t), data = d, family = poisson)
  nd <- data.frame(x = 0, g = 1)
  # 't' was found as base::t(): "non-numeric argument to mathematical function"
  expect_error(predict(f_term, newdata = nd), "'newdata' lacks the variable 't'")
  expect_error(simulate(f_term, nsim = 1, newdata = nd), "'newdata' lacks the variable 't'")
  expect_error(predict(f_arg, newdata = nd), "'newdata' lacks the variable 't'.*offset = log\\(t\\)")
  expect_error(simulate(f_arg, nsim = 1, newdata = nd), "'newdata' lacks the variable 't'")
  nd$t <- 2
  expect_equal(predict(f_term, newdata = nd), predict(f_arg, newdata = nd))
})

test_that("emmeans after a subset with an operator and missing values (ordinal and count GLMMs)", {
  skip_if_not_installed("emmeans")
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$temp[c(1, 5)] <- NA
  w$y <- as.integer(w$rating)
  sub <- w[w$judge != "9" & !is.na(w$temp), ]
  emm <- function(fit) as.data.frame(summary(emmeans::emmeans(fit, ~ temp)))
  # emmeans stopped: "missing value where TRUE/FALSE needed"
  ord <- glmm(rating ~ temp + contact + (1 | judge), data = w, subset = judge != "9",
              family = cumulative("logit"))
  ord_sub <- glmm(rating ~ temp + contact + (1 | judge), data = sub, family = cumulative("logit"))
  expect_equal(emm(ord), emm(ord_sub))
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, subset = judge != "9")
  r <- as.data.frame(summary(emmeans::emmeans(ref, ~ temp)))
  expect_equal(emm(ord)$emmean, r$emmean, tolerance = 2e-4)
  expect_equal(emm(ord)$SE, r$SE, tolerance = 1e-3)
  g <- gee(rating ~ temp + contact, data = w, id = judge, subset = judge != "9",
           family = cumulative("logit"))
  g_sub <- gee(rating ~ temp + contact, data = sub, id = judge, family = cumulative("logit"))
  expect_equal(emm(g), emm(g_sub))
  pf <- suppressWarnings(glmm(y ~ temp + contact + (1 | judge), data = w, subset = judge != "9",
                              family = poisson))
  pf_sub <- suppressWarnings(glmm(y ~ temp + contact + (1 | judge), data = sub, family = poisson))
  expect_equal(emm(pf), emm(pf_sub))
})
