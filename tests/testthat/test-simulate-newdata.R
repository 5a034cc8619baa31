# A `newdata` argument used to fall into `...` of simulate() and be
# ignored: the user got the fitted rows' simulations as if they were the
# new data's. Fits with normal random effects now simulate newdata's rows
# (test-confint-boot.R); the two-part, non-normal random-effect and ordinal
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


test_that("simulate(newdata = ) with labels equal to fitted levels only as numbers gives predict()'s hint", {
  set.seed(3)
  d <- data.frame(g = rep(1:10, each = 6), x = rnorm(60))
  d$y <- rbinom(60, 1, plogis(d$x + rnorm(10)[d$g]))
  fit <- glmm(y ~ x + (1 | g), d, binomial)
  nd <- data.frame(x = 0, g = "001")
  hint <- "equal a fitted level only as numbers, e.g. '001' versus '1'"
  expect_error(predict(fit, newdata = nd), hint, fixed = TRUE)
  expect_error(simulate(fit, newdata = nd, re.form = NULL), hint, fixed = TRUE)
  # A label that is simply new gets no such hint.
  expect_error(simulate(fit, newdata = data.frame(x = 0, g = "zz"), re.form = NULL),
               "not in the fit: 'zz'\\. [^(]*$")
})

test_that("predict()/simulate() on new rows whose covariate column is all NA (logical) give NA rows", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  f2 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy)
  fs <- glmm(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), sleepstudy)
  nd <- data.frame(Days = c(NA, NA), Subject = c("308", "309"))
  expect_true(is.logical(nd$Days))
  ndn <- transform(nd, Days = as.numeric(Days))
  for (f in list(f2, fs)) {
    p <- predict(f, newdata = nd)
    expect_equal(p, predict(f, newdata = ndn))
    expect_true(all(is.na(p)))
    for (rf in list(NA, NULL)) {
      s <- simulate(f, nsim = 2, seed = 1, newdata = nd, re.form = rf)
      expect_equal(dim(s), c(2L, 2L))
      expect_true(all(is.na(as.matrix(s))))
      expect_identical(s, simulate(f, nsim = 2, seed = 1, newdata = ndn, re.form = rf))
    }
  }
  # With a row that has a value, that row is simulated and the NA one is NA.
  nd2 <- data.frame(Days = c(NA, 3), Subject = c("308", "309"))
  s <- simulate(f2, nsim = 1, seed = 1, newdata = nd2)
  expect_true(is.na(s[1, 1]) && is.finite(s[2, 1]))
})

test_that("simulate(newdata) takes a missing grouping label as predict() does", {
  fc <- glmm(incidence ~ period + (1 | herd), data = lme4::cbpp, family = poisson, nAGQ = 1)
  nd <- data.frame(period = factor(1:2), herd = factor(c(NA, "1")), incidence = 0, size = 5)
  msg <- "missing value\\(s\\) of the grouping variable 'herd'"
  expect_error(simulate(fc, newdata = nd, re.form = NULL, seed = 1), msg)
  expect_error(simulate(fc, newdata = nd, seed = 1), msg)
  # allowed: the row is simulated with random effects of zero (it was NA).
  s <- simulate(fc, newdata = nd, re.form = NULL, allow.new.levels = TRUE, seed = 1, nsim = 3)
  expect_false(anyNA(unlist(s)))
  expect_identical(nrow(simulate(fc, newdata = nd, seed = 1, na.action = na.omit)), 1L)
})
