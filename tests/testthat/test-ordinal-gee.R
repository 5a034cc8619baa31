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


test_that("the ordinal GEE refuses a single cluster as gee() does", {
  # One cluster: the sandwich is zero, and the fit reported standard errors
  # of 1e-15 (independence and global odds ratios alike).
  d <- data.frame(i = 1, t = 1:6, y = factor(c(0, 1, 0, 1, 1, 0)), x = c(1, 2, 3, 1, 2, 3))
  for (cs in c("independence", "global.exchangeable"))
    expect_error(gee(y ~ x, data = d, id = i, waves = t, family = cumulative, corstr = cs),
                 "'id' has a single cluster")
  d$i <- rep(1:2, each = 3)
  expect_s3_class(gee(y ~ x, data = d, id = i, waves = t, family = cumulative), "glmmgee_gee_ordinal")
})


test_that("the ordinal GEE does not depend on where a covariate is centred or its units", {
  # age + 1e4 is nearly collinear with the thresholds: the independence and
  # global odds ratio fits stopped at the first step with a singular
  # information and gave no standard errors.
  skip_if_not_installed("geepack")
  o <- ohio_data_as_shipped()
  o$a4 <- o$age + 1e4
  o$a6 <- o$age * 1e6
  for (cs in c("independence", "global.exchangeable", "global.unstructured", "uniform")) {
    f <- gee(factor(resp) ~ age + smoke, data = o, id = id, waves = age, family = cumulative,
             corstr = cs)
    h <- expect_no_warning(gee(factor(resp) ~ a4 + smoke, data = o, id = id, waves = age,
                               family = cumulative, corstr = cs))
    g <- gee(factor(resp) ~ a6 + smoke, data = o, id = id, waves = age, family = cumulative,
             corstr = cs)
    expect_true(h$converged, info = cs)
    expect_equal(unname(coef(h)[2:3]), unname(coef(f)[2:3]), tolerance = 1e-8, info = cs)
    # The threshold at a4 = 0 is the one at age = 0 moved along the slope.
    expect_equal(unname(coef(h)[1]), unname(coef(f)[1] + 1e4 * coef(f)[2]), tolerance = 1e-8,
                 info = cs)
    expect_equal(unname(sqrt(diag(vcov(h)))[2:3]), unname(sqrt(diag(vcov(f)))[2:3]),
                 tolerance = 1e-6, info = cs)
    expect_equal(unname(coef(g)[2]) * 1e6, unname(coef(f)[2]), tolerance = 1e-8, info = cs)
    expect_equal(unname(sqrt(diag(vcov(g)))[2]) * 1e6, unname(sqrt(diag(vcov(f)))[2]),
                 tolerance = 1e-6, info = cs)
  }
})

test_that("fitted() and residuals() of an ordinal GEE do not return NULL", {
  skip_if_not_installed("geepack")
  o <- ohio_data_as_shipped()
  f <- gee(factor(resp) ~ age + smoke, data = o, id = id, waves = age, family = cumulative,
           corstr = "global.exchangeable")
  P <- fitted(f)
  expect_equal(dim(P), c(nrow(o), 2L))
  expect_equal(unname(rowSums(P)), rep(1, nrow(o)), tolerance = 1e-12)
  expect_equal(P, predict(f, type = "prob"))
  expect_error(residuals(f), "not defined (the response is a category)", fixed = TRUE)
  o$r <- factor(o$resp)
  o$r[c(3, 50)] <- NA
  ex <- gee(r ~ age + smoke, data = o, id = id, waves = age, family = cumulative,
            corstr = "global.exchangeable", na.action = na.exclude)
  Pe <- fitted(ex)
  expect_equal(dim(Pe), c(nrow(o), 2L))
  expect_equal(unname(which(is.na(Pe[, 1]))), c(3L, 50L))
})


test_that("an ordinal GEE answers model.matrix(), family(), weights(), df.residual(), sigma() and predict(se.fit = TRUE)", {
  skip_if_not_installed("ordinal")
  skip_if_not_installed("numDeriv")
  data(wine, package = "ordinal", envir = environment())
  for (cs in c("independence", "global.exchangeable")) {
    f <- gee(rating ~ temp + contact, data = wine, id = judge, family = cumulative("logit"), corstr = cs)
    # Stopped with "object 'rating' not found".
    X <- model.matrix(f)
    expect_identical(colnames(X), c("tempwarm", "contactyes"))
    expect_equal(drop(X %*% f$coefficients), unname(predict(f, type = "linear")), ignore_attr = TRUE)
    expect_identical(family(f)$family, "cumulative")  # no method before
    expect_identical(weights(f), rep(1, 72))
    expect_identical(df.residual(f), 72L - 6L)
    expect_identical(sigma(f), 1)
    expect_error(deviance(f), "no likelihood")
    # se.fit = TRUE was swallowed: the prediction came back without
    # standard errors. The delta method over the thresholds and
    # coefficients with the robust variance, against numerical derivatives.
    nd <- wine[c(1, 7, 30), ]
    p <- predict(f, newdata = nd, type = "prob", se.fit = TRUE)
    expect_named(p, c("fit", "se.fit"))
    expect_equal(p$fit, predict(f, newdata = nd, type = "prob"))
    Xn <- model.matrix(f)[c(1, 7, 30), ]
    probs <- function(psi) {
      th <- psi[1:4]
      eta <- drop(Xn %*% psi[5:6])
      cum <- cbind(0, plogis(outer(-eta, th, "+")), 1)
      as.vector(cum[, -1] - cum[, -6])
    }
    G <- numDeriv::jacobian(probs, f$psi)
    V <- vcov(f)
    expect_equal(as.vector(p$se.fit), sqrt(rowSums((G %*% V) * G)), tolerance = 1e-6)
    pl <- predict(f, newdata = nd, type = "linear", se.fit = TRUE)
    expect_equal(unname(pl$se.fit), unname(sqrt(rowSums((Xn %*% V[5:6, 5:6]) * Xn))),
                 tolerance = 1e-10)
    expect_error(predict(f, newdata = nd, type = "class", se.fit = TRUE), "'se.fit'")
  }
})

test_that("predict() without newdata is padded under na.exclude for every type, as fitted()", {
  skip_if_not_installed("multgee")
  data("arthritis", package = "multgee", envir = environment())
  g <- gee(factor(y) ~ factor(time) + factor(trt) + age, data = arthritis, id = id, waves = time,
           family = cumulative, corstr = "uniform", na.action = na.exclude)
  miss <- is.na(arthritis$y)
  # predict() gave the 888 fitted rows, fitted() the 906 of the data.
  pr <- predict(g, type = "prob")
  expect_identical(nrow(pr), nrow(arthritis))
  expect_equal(pr, fitted(g))
  expect_true(all(is.na(pr[miss, ])))
  cl <- predict(g, type = "class")
  expect_length(cl, nrow(arthritis))
  expect_true(all(is.na(cl[miss])) && !anyNA(cl[!miss]))
  lin <- predict(g, type = "linear", se.fit = TRUE)
  expect_length(lin$fit, nrow(arthritis))
  expect_length(lin$se.fit, nrow(arthritis))
  expect_true(all(is.na(lin$se.fit[miss])))
  # With newdata: one prediction per row given.
  expect_identical(nrow(predict(g, newdata = arthritis[1:5, ])), 5L)
})

test_that("vcov() of an ordinal GEE names the argument, the value and the types it offers", {
  skip_if_not_installed("ordinal")
  wine <- ordinal::wine
  g <- gee(rating ~ temp, data = wine, id = judge, family = cumulative("logit"))
  expect_error(vcov(g, type = "md"),
               "'type' = \"md\": an ordinal GEE offers type = \"robust\" .* or \"naive\"")
  expect_identical(vcov(g), vcov(g, type = "robust"))
  # Abbreviations, as match.arg() (and the release before) took them.
  expect_identical(vcov(g, type = "rob"), vcov(g, type = "robust"))
  expect_identical(vcov(g, type = "n"), vcov(g, type = "naive"))
  expect_error(vcov(g, type = ""), "an ordinal GEE offers")
})
