# Behaviour of the front end: input order, threads, methods, bad input.

test_that("results do not depend on row order or on the thread count", {
  d <- sim_gee_data(M = 300, family = "binomial", seed = 81)
  for (cs in c("exchangeable", "ar1", "unstructured")) {
    f1 <- gee(y ~ x1 + x2, id = id, waves = wave, data = d, family = binomial, corstr = cs,
              std.err = "kc")
    f2 <- gee(y ~ x1 + x2, id = id, waves = wave, data = shuffle_rows(d, 99),
              family = binomial, corstr = cs, std.err = "kc")
    f3 <- gee(y ~ x1 + x2, id = id, waves = wave, data = shuffle_rows(d, 98),
              family = binomial, corstr = cs, std.err = "kc", threads = 2)
    # with waves, every cluster is put in wave order: the same arithmetic
    for (g in list(f2, f3)) {
      expect_identical(coef(g), coef(f1))
      expect_identical(g$alpha, f1$alpha)
      expect_identical(g$scale, f1$scale)
      expect_identical(vcov(g), vcov(f1))
      expect_identical(g$iter, f1$iter)
    }
  }
  # without waves the order within clusters defines positions; for
  # exchangeable it only changes rounding
  d2 <- d[order(d$id, d$wave), ]
  a <- gee(y ~ x1, id = id, data = d2, family = binomial, corstr = "exchangeable")
  b <- gee(y ~ x1, id = id, data = shuffle_rows(d2, 5), family = binomial,
           corstr = "exchangeable", threads = 2)
  expect_equal(coef(a), coef(b), tolerance = 1e-10)
  expect_equal(vcov(a), vcov(b), tolerance = 1e-10)
})

test_that("gee_fit() is the engine behind gee()", {
  d <- sim_gee_data(M = 100, family = "poisson", seed = 82)
  f <- gee(y ~ x1 + x2, id = id, waves = wave, offset = log(expo), data = d,
           family = poisson, corstr = "ar1")
  X <- model.matrix(~ x1 + x2, d)
  m <- gee_fit(X, d$y, d$id, family = "poisson", corstr = "ar1", waves = d$wave,
               offset = log(d$expo))
  expect_identical(coef(m), coef(f))
  expect_identical(vcov(m), vcov(f))
  expect_s3_class(m, "glmmgee_gee")
  expect_false(inherits(m, "gee"))  # never the gee package's class
  expect_equal(unname(predict(m, newdata = X[1:5, ])), unname(drop(X[1:5, ] %*% coef(f))),
               tolerance = 1e-12)
  expect_equal(predict(m), predict(f), tolerance = 1e-12)  # with the offset
  expect_error(formula(m), "gee_fit")
})

test_that("methods: fitted, residuals, predict, confint, nobs, update, model.matrix", {
  d <- gee_bacteria_data()
  d$hilo[c(3, 50)] <- NA
  f <- gee(y ~ ap + hilo, id = ID, data = d, family = binomial, corstr = "exchangeable",
           na.action = na.exclude)
  expect_equal(nobs(f), nrow(d) - 2L)
  expect_length(fitted(f), nrow(d))
  expect_true(is.na(fitted(f)[3]))
  ok <- !is.na(d$hilo)
  mu <- unname(fitted(f)[ok]); y <- d$yy[ok]
  expect_equal(unname(residuals(f, "response")[ok]), y - mu)
  expect_equal(unname(residuals(f, "pearson")[ok]), (y - mu) / sqrt(mu * (1 - mu)))
  eta <- qlogis(mu)
  expect_equal(unname(residuals(f, "working")[ok]), (y - mu) / (mu * (1 - mu)))
  expect_equal(predict(f, type = "response"), fitted(f))
  nd <- data.frame(ap = c("a", "p"), hilo = c("hi", "lo"))
  p <- predict(f, nd, type = "link", se.fit = TRUE)
  X <- cbind(1, c(0, 1), c(0, 1))
  expect_equal(unname(p$fit), drop(X %*% coef(f)))
  expect_equal(unname(p$se.fit), sqrt(diag(X %*% vcov(f) %*% t(X))))
  pr <- predict(f, nd, type = "response", se.fit = TRUE)
  expect_equal(unname(pr$se.fit), unname(p$se.fit * plogis(p$fit) * (1 - plogis(p$fit))))
  ci <- confint(f, level = 0.9)
  expect_equal(unname(ci[, 2]), unname(coef(f) + qnorm(0.95) * sqrt(diag(vcov(f)))))
  expect_equal(confint(f, "app", type = "model")[1, 1],
               unname(coef(f)["app"] - qnorm(0.975) * sqrt(vcov(f, type = "model")["app", "app"])))
  expect_equal(dim(model.matrix(f)), c(nobs(f), 3L))
  f2 <- update(f, . ~ . - hilo)
  expect_equal(names(coef(f2)), c("(Intercept)", "app"))
  expect_equal(formula(f2), y ~ ap)
  out <- capture.output(print(summary(f)))
  expect_true(any(grepl("2 rows removed for missing values", out)))
  expect_true(any(grepl("Clusters: 50 \\(size 2-5\\)", out)))
  expect_true(any(grepl("Converged in", out)))
  expect_true(any(grepl("robust sandwich", out)))
  expect_output(print(f), "exchangeable")
  a <- anova(f)
  expect_equal(rownames(a), c("ap", "hilo"))
  b <- coef(f)["hilolo"]
  expect_equal(a["hilo", "Chisq"], unname(b^2 / vcov(f)["hilolo", "hilolo"]))
})

test_that("anova() of one fit: type II tests, the same under any contrasts or centring, as car's", {
  data(epil, package = "MASS", envir = environment())
  epil$per <- factor(epil$period)
  a <- gee(y ~ trt * per + age, data = epil, id = subject, family = poisson, corstr = "exchangeable")
  b <- update(a, contrasts = list(trt = "contr.sum", per = "contr.sum"))
  ta <- anova(a)
  # per was 1.434 with contr.treatment and 7.131 with contr.sum (type III).
  expect_equal(as.data.frame(anova(b)), as.data.frame(ta), tolerance = 1e-6)
  expect_equal(ta["per", "Chisq"], 22.19787, tolerance = 1e-5)
  # The interaction, contained in no other term, is tested given all others.
  j <- grep(":", names(coef(a)))
  expect_equal(ta["trt:per", "Chisq"], drop(coef(a)[j] %*% solve(vcov(a)[j, j], coef(a)[j])))
  if (requireNamespace("car", quietly = TRUE))
    expect_equal(ta$Chisq, car::Anova(a)[rownames(ta), "Chisq"], tolerance = 1e-8)
  epil$agec <- (epil$age - 28) / 10
  c1 <- gee(y ~ trt * age + per, data = epil, id = subject, family = poisson, corstr = "exchangeable")
  c2 <- update(c1, . ~ trt * agec + per)
  expect_equal(unname(as.matrix(anova(c2, type = "md"))), unname(as.matrix(anova(c1, type = "md"))),
               tolerance = 1e-6)
})

test_that("update() takes the variables of the arguments given to it from the caller", {
  # a `sub` in the fit's formula environment replaced the caller's (56 rows, not 52)
  data(cbpp, package = "lme4", envir = environment())
  sub <- rep(TRUE, nrow(cbpp))
  f <- gee(cbind(incidence, size - incidence) ~ period, id = herd, data = cbpp, family = binomial)
  drop_herd <- function(d) { sub <- d$herd != "1"; update(f, subset = sub) }
  expect_identical(nobs(drop_herd(cbpp)), 52L)
})

test_that("cluster sizes of one, unobserved wave pairs and all-singleton data", {
  d <- sim_gee_data(M = 120, T = 5, family = "gaussian", seed = 83)
  # no cluster is observed at both waves 4 and 5
  d <- d[!(d$wave == 5 & d$id %in% d$id[d$wave == 4]), ]
  d <- rbind(d, data.frame(id = 1000:1009, wave = 3L, x1 = rnorm(10), x2 = 0, expo = 1,
                           y = rnorm(10)))
  f <- gee(y ~ x1, id = id, waves = wave, data = d, corstr = "unstructured")
  expect_true(f$converged)
  expect_true(is.na(f$alpha["alpha.4:5"]))
  expect_false(anyNA(f$alpha[setdiff(names(f$alpha), "alpha.4:5")]))
  expect_equal(nobs(f), nrow(d))
  expect_equal(min(f$cluster.sizes), 1L)
  one <- d[!duplicated(d$id), ]
  expect_warning(f1 <- gee(y ~ x1, id = id, data = one, corstr = "exchangeable"),
                 "no cluster has two or more")
  expect_equal(coef(f1), coef(lm(y ~ x1, one)), tolerance = 1e-10)
})

test_that("a fixed working correlation equal to the exchangeable estimate reproduces that fit", {
  d <- resp_data()
  fe <- gee(outcome ~ treat + baseline, id = cid, waves = visit, data = d,
            family = binomial, corstr = "exchangeable", epsilon = 1e-12)
  ff <- gee(outcome ~ treat + baseline, id = cid, waves = visit, data = d,
            family = binomial, corstr = "fixed", R = fe$working.correlation, epsilon = 1e-12)
  expect_equal(coef(ff), coef(fe), tolerance = 1e-8)
  expect_equal(vcov(ff), vcov(fe), tolerance = 1e-8)
})

test_that("non-convergence is a warning with the iteration count, recorded in the fit", {
  d <- resp_data()
  expect_warning(f <- gee(outcome ~ treat + age, id = cid, waves = visit, data = d,
                          family = binomial, corstr = "ar1", maxit = 2),
                 "did not converge in 2 iterations")
  expect_false(f$converged)
  expect_equal(f$iter, 2L)
  expect_match(f$warnings, "did not converge")
  expect_match(f$warnings, "largest estimating-function component", all = FALSE)
  expect_output(print(f), "NOT converged after 2 iterations")
  # The recorded estimating-function size falls as the scoring converges.
  fc <- gee(outcome ~ treat + age, id = cid, waves = visit, data = d,
            family = binomial, corstr = "ar1")
  expect_true(fc$converged)
  expect_gt(f$score, 0)
  expect_lt(fc$score, 1e-3 * f$score)
})

test_that("bad input gives errors that name the argument", {
  d <- resp_data()
  expect_error(gee(outcome ~ treat, data = d, family = binomial), "'id' is missing")
  expect_error(gee(outcome ~ treat, id = 1:10, data = d, family = binomial),
               "'id' must have one value per row of 'data' \\(444\\), not 10")
  expect_error(gee(outcome ~ treat, id = cid, waves = 1:3, data = d),
               "'waves' must have one value per row")
  expect_error(gee(outcome ~ treat, id = cid, corstr = "toeplitz", data = d),
               "'corstr' = \"toeplitz\" is not a known working correlation; use one of \"independence\", \"exchangeable\", \"ar1\", \"unstructured\", \"mdep\", \"fixed\"")
  dd <- d; dd$visit[2] <- 1L
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = dd, corstr = "ar1"),
               "'waves' has a duplicated value within cluster 1001")
  dd$visit <- as.character(d$visit)
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = dd), "'waves' must be numeric")
  dd$visit <- d$visit + 0.5 * (d$visit == 2)
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = dd), "whole numbers")
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = d, corstr = "fixed"),
               "needs the working correlation matrix in 'R'")
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = d, corstr = "fixed",
                   R = diag(3)), "'R' is 3 x 3 but the data have 4 wave positions")
  bad <- matrix(0.9, 4, 4); diag(bad) <- 1; bad[1, 4] <- bad[4, 1] <- -0.9
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = d, corstr = "fixed",
                   R = bad), "'R' must be positive definite")
  expect_error(gee(outcome ~ treat, id = cid, waves = visit, data = d, corstr = "fixed",
                   R = diag(4) + 0.1), "unit diagonal")
  expect_error(gee(outcome ~ treat, id = cid, data = d, corstr = "mdep", Mv = 4),
               "'Mv' = 4 but there are only 4 wave positions")
  # ("robust" is glmtoolbox's name of "san.se" and accepted)
  expect_error(gee(outcome ~ treat, id = cid, data = d, std.err = "sandwich"),
               "'std.err' must be one of")
  expect_error(gee(outcome ~ treat, id = cid, data = d, maxiter = 3),
               "unknown argument\\(s\\) 'maxiter'")
  expect_error(gee(outcome ~ treat, id = cid, data = d, control = gee_control(), trace = TRUE),
               "not both")
  expect_error(gee(outcome ~ treat + I(2 * (treat == "P")), id = cid, data = d),
               "rank deficient")
  expect_error(gee_fit(cbind(1, d$age), d$outcome, d$cid[-1]),
               "'id' must have one value per observation \\(444\\), not 443")
  expect_error(gee_fit(cbind(1, d$age), d$outcome), "'id' is missing")
  expect_error(vcov(gee(outcome ~ treat, id = cid, data = d), type = "hc3"),
               "'type' must be one of")
})

test_that("gee_control() validates its arguments", {
  expect_equal(gee_control()$epsilon, 1e-8)
  expect_error(gee_control(epsilon = -1), "'epsilon'")
  expect_error(gee_control(maxit = 2.5), "'maxit'")
  expect_error(gee_control(trace = NA), "'trace'")
  expect_error(gee_control(threads = 0), "'threads'")
  expect_error(gee_control(tol = 1), "unknown argument\\(s\\) 'tol'")
  expect_error(gee(y ~ 1, id = id, data = data.frame(y = 1:4, id = 1:4), control = list()),
               "gee_control\\(\\)")
})

test_that("the fitted object is plain R data", {
  d <- resp_data()
  f <- gee(outcome ~ treat, id = cid, waves = visit, data = d, family = binomial,
           corstr = "ar1")
  is_plain <- function(x) {
    if (is.environment(x) || typeof(x) %in% c("externalptr", "closure", "builtin")) {
      return(is.function(x))  # family functions are ordinary closures
    }
    if (is.list(x)) all(vapply(x, is_plain, logical(1))) else TRUE
  }
  expect_true(is_plain(unclass(f)[setdiff(names(f), c("terms", "formula", "model", "call"))]))
  f2 <- unserialize(serialize(f, NULL))
  expect_identical(vcov(f2, type = "md"), vcov(f, type = "md"))
})

test_that("id and waves may be vectors; subset and na.action apply to them", {
  d <- resp_data()
  f1 <- gee(outcome ~ treat, id = cid, waves = visit, data = d, subset = visit > 1,
            family = binomial, corstr = "ar1")
  idv <- d$cid; wv <- d$visit
  f2 <- gee(outcome ~ treat, id = idv, waves = wv, data = d, subset = visit > 1,
            family = binomial, corstr = "ar1")
  expect_identical(coef(f1), coef(f2))
  expect_equal(nobs(f1), sum(d$visit > 1))
  d$cid[5] <- NA
  d$visit[9] <- NA
  f3 <- gee(outcome ~ treat, id = cid, waves = visit, data = d, family = binomial,
            corstr = "ar1")
  expect_equal(nobs(f3), nrow(d) - 2L)
  expect_equal(length(f3$na.action), 2L)
  expect_output(print(f3), "2 rows removed for missing values")
})


test_that("predict() of a gee fit honours na.action on newdata, as predict.glm()", {
  skip_if_not_installed("geepack")
  data(ohio, package = "geepack", envir = environment())
  f <- gee(resp ~ age + smoke, data = ohio, id = id, family = binomial)
  ref <- glm(resp ~ age + smoke, data = ohio, family = binomial)
  nd <- ohio[1:4, ]
  nd$smoke[2] <- NA
  full <- predict(f, nd)
  expect_true(is.na(full[2]))
  # na.omit was swallowed by '...': the NA row stayed.
  expect_equal(predict(f, nd, na.action = na.omit), predict(ref, nd, na.action = na.omit),
               tolerance = 1e-8)
  # na.exclude pads the row back, as predict.glmmgee_glmm().
  expect_equal(predict(f, nd, na.action = na.exclude, type = "response"),
               predict(f, nd, type = "response"))
  p <- predict(f, nd, na.action = na.omit, se.fit = TRUE)
  expect_equal(p, lapply(predict(f, nd, se.fit = TRUE), function(v) v[-2]))
})

test_that("gee() refuses R and Mv its working correlation does not use; anova() refuses other families", {
  data(ohio, package = "geepack", envir = environment())
  # R and Mv were ignored without a word with corstr = "exchangeable"
  expect_error(gee(resp ~ age, id = id, data = ohio, family = binomial, corstr = "exchangeable",
                   R = diag(4)), "'R' is used only with corstr = \"fixed\"")
  expect_error(gee(resp ~ age, id = id, data = ohio, family = binomial, corstr = "exchangeable",
                   Mv = 3), "'Mv' is used only with corstr = \"mdep\"")
  fa <- gee(resp ~ age, id = id, data = ohio, family = binomial)
  # a binomial and a Poisson fit were compared as nested (chi-square 2.36)
  expect_error(anova(fa, gee(resp ~ age + smoke, id = id, data = ohio, family = poisson)),
               "not nested: families binomial\\(logit\\) and poisson\\(log\\)")
  expect_s3_class(anova(fa, gee(resp ~ age + smoke, id = id, data = ohio, family = binomial)),
                  "anova")
})

test_that("print() of a gee shows each coefficient's own digits", {
  data(ohio, package = "geepack", envir = environment())
  f <- gee(resp ~ age + smoke, id = id, data = ohio, family = binomial, corstr = "exchangeable")
  out <- capture.output(print(f, digits = 4))
  # format(signif()) padded the shorter ones: 0.2651 was printed as 0.26510
  line <- out[grep("^\\(Intercept\\)", out) + 1L]
  expect_identical(strsplit(trimws(line), " +")[[1]],
                   trimws(unname(format(coef(f), digits = 4))))
})

test_that("anova(): type II tests whose robust covariance is singular are NA, with a warning", {
  # 5 clusters, 12 coefficients: the sandwich has rank 4; the table had
  # been left blank without a word.
  set.seed(1)
  d <- data.frame(id = rep(1:5, each = 30), x = rnorm(150), f = factor(sample(letters[1:6], 150, TRUE)))
  d$y <- 1 + d$x + rnorm(150)
  g <- gee(y ~ x * f, data = d, id = id)
  expect_warning(tab <- anova(g), "no type II Wald test of 'x', 'f', 'x:f'.*5 clusters for 12 coefficients")
  expect_true(all(is.na(tab$Chisq)) && all(is.na(tab[["Pr(>Chisq)"]])))
  expect_equal(tab$Df, c(1, 5, 5))
  expect_no_warning(tm <- anova(g, type = "model"))
  expect_true(all(is.finite(tm$Chisq)))
  # Rescaling a covariate does not make a test singular.
  d$x <- d$x * 1e6
  expect_no_warning(anova(gee(y ~ x, data = d, id = id)))
})
