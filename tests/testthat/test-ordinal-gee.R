# Ordinal GEE (independence working structure) against multgee::ordLORgee and
# geepack::ordgee on their own examples.

test_that("arthritis: estimates and robust/naive SEs as multgee's ordLORgee (independence)", {
  skip_if_not_installed("multgee")
  data("arthritis", package = "multgee", envir = environment())
  a <- na.omit(arthritis)
  a$yf <- factor(a$y)
  ours <- gee(yf ~ factor(time) + factor(trt) + factor(baseline), data = a, id = id,
              family = cumulative("logit"))
  ref <- suppressMessages(multgee::ordLORgee(y ~ factor(time) + factor(trt) + factor(baseline),
                                             data = arthritis, id = id, repeated = time,
                                             LORstr = "independence"))
  k <- 4
  sgn <- c(rep(1, k), rep(-1, length(coef(ref)) - k))  # multgee: F(beta_0j + x'beta)
  # multgee stops at a relative change of 1e-3 per iteration; the
  # independence equations are the scores of clm's likelihood, which ours
  # maximizes to the gradient's precision.
  expect_equal(unname(coef(ours)), unname(sgn * coef(ref)), tolerance = 1e-5)
  if (requireNamespace("ordinal", quietly = TRUE)) {
    cl <- ordinal::clm(yf ~ factor(time) + factor(trt) + factor(baseline), data = a)
    expect_equal(unname(coef(ours)), unname(coef(cl)), tolerance = 1e-7)
  }
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(ref)))), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(ours, type = "naive")))),
               unname(sqrt(diag(ref$naive.variance))), tolerance = 1e-5)
  or <- odds_ratios(ours)
  expect_equal(or$estimate, unname(exp(coef(ours)[-(1:k)])))
})

test_that("ohio (geepack's ordgee example): independence estimates and sandwich as ordgee's", {
  skip_if_not_installed("geepack")
  data("ohio", package = "geepack", envir = environment())
  ohio$resp <- ordered(as.factor(ohio$resp))
  ours <- gee(resp ~ age + smoke + age:smoke, data = ohio, id = id, family = cumulative)
  ref <- geepack::ordgee(resp ~ age + smoke + age:smoke, id = id, data = ohio,
                         corstr = "independence")
  # ordgee: logit P(Y > j) = alpha_j + x'beta, so thresholds are -alpha.
  sref <- summary(ref)$mean
  expect_equal(unname(coef(ours)), c(-sref$estimate[1], sref$estimate[-1]), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(ours)))), sref$san.se, tolerance = 1e-4)
})

test_that("estimates equal clm's (independence likelihood); other structures refused", {
  skip_if_not_installed("ordinal")
  ours <- gee(rating ~ temp + contact, data = ordinal::wine, id = judge, family = cumulative)
  ref <- ordinal::clm(rating ~ temp + contact, data = ordinal::wine)
  expect_equal(unname(coef(ours)), unname(coef(ref)), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(ours, type = "naive")))), unname(sqrt(diag(vcov(ref)))),
               tolerance = 0.05)  # expected vs observed information
  P <- predict(ours, type = "prob")
  expect_equal(unname(rowSums(P)), rep(1, 72))
  expect_error(gee(rating ~ temp, data = ordinal::wine, id = judge, family = cumulative,
                   corstr = "exchangeable"), "local odds ratio structures")
})
