# Round 35 polish: wording and hints the hostile testers found misleading.

test_that("odds_ratios() on a factor interacting with a covariate far from zero says extrapolation, not separation", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(1)
  d <- sleepstudy
  d$y <- rbinom(nrow(d), 1, plogis((d$Reaction - 300) / 50))
  d$f <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  d$x3 <- d$Days * 1e-6 - 5
  fit <- glmm(y ~ f * x3 + (1 | Subject), data = d, family = binomial)
  expect_false(fit$separation$separated)
  expect_true(all(is.finite(fit$coefficients)))
  w <- character()
  r <- withCallingHandlers(odds_ratios(fit), warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  expect_true(length(w) > 0)
  expect_false(any(grepl("separated", w)))
  expect_match(w, "'fb': .*compares at x3 = 0, far from the data.*centre", all = FALSE)
  # The centred fit reads the same comparison at the data's centre: finite.
  d$x3c <- d$x3 - mean(d$x3)
  fc <- glmm(y ~ f * x3c + (1 | Subject), data = d, family = binomial)
  rc <- suppressWarnings(odds_ratios(fc, parm = c("fb", "fc")))
  expect_true(all(is.finite(rc$estimate)))
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
