# Hostile tests, round 30: what users do after a fit. Each block failed on
# the previous build: deviance residuals of the phi families were zeros or
# NaN, the methods of the ordinal fits returned NULL or stopped with an
# internal error, ordinal predictions gave unseen clusters b = 0 without a
# word, and broom's augment()/glance() stopped on two-part fits.

owls_beta <- function() {
  data(Owls, package = "glmmTMB", envir = environment())
  Owls$y <- (Owls$SiblingNegotiation + 0.5) / (max(Owls$SiblingNegotiation) + 1)
  Owls
}

# Each observation's log-likelihood maximized over its mean by optimize():
# the saturated model, found independently of the package's root finder.
saturated_by_optimize <- function(ll, rows, lower, upper) {
  vapply(rows, function(i) optimize(function(m) ll(i, m), c(lower, upper), maximum = TRUE,
                                    tol = 1e-12)$objective, 1)
}

test_that("deviance residuals of beta, nbinom1 and beta-binomial fits are twice the saturated log-likelihood ratio", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  # beta: the density at mu = y is not the highest over mu, so
  # 2 (l(y; y) - l(y; mu)) was negative and the residual 0 for most rows.
  o <- owls_beta()
  fb <- glmm(y ~ FoodTreatment + (1 | Nest), o, family = beta_family(), nAGQ = 1)
  phi <- sigma(fb)
  y <- fb$y
  mu <- unname(fitted(fb))
  rows <- c(1:6, 100, 300)
  ll <- function(i, m) dbeta(y[i], m * phi, (1 - m) * phi, log = TRUE)
  sat <- saturated_by_optimize(ll, rows, 1e-9, 1 - 1e-9)
  ref <- sign(y[rows] - mu[rows]) * sqrt(2 * (sat - ll(rows, mu[rows])))
  r <- residuals(fb, type = "deviance")
  expect_equal(unname(r[rows]), ref, tolerance = 1e-6)
  expect_lt(mean(r == 0), 0.01)
  # The same residuals for the family given as glmmTMB's.
  fb2 <- glmm(y ~ FoodTreatment + (1 | Nest), o, family = glmmTMB::beta_family(), nAGQ = 1)
  expect_equal(residuals(fb2, type = "deviance"), r, tolerance = 1e-6)

  # nbinom1: size mu / phi moves with mu, so the maximum is not at mu = y.
  data(Salamanders, package = "glmmTMB", envir = environment())
  fn <- glmm(count ~ mined + (1 | site), Salamanders, family = nbinom1(), nAGQ = 1)
  phi <- sigma(fn)
  y <- fn$y
  mu <- unname(fitted(fn))
  rows <- which(y > 0)[1:6]
  ll <- function(i, m) dnbinom(y[i], size = m / phi, mu = m, log = TRUE)
  sat <- saturated_by_optimize(ll, rows, 1e-8, 10 * max(y) + 10)
  r <- residuals(fn, type = "deviance")
  expect_equal(unname(r[rows]), sign(y[rows] - mu[rows]) * sqrt(2 * (sat - ll(rows, mu[rows]))),
               tolerance = 1e-6)
  expect_false(any(r[y > 0] == 0))
  # A zero count: the saturated probability is 1 (mu -> 0).
  z <- which(y == 0)[1:3]
  expect_equal(unname(r[z]), -sqrt(-2 * ll(z, mu[z])), tolerance = 1e-8)

  # beta-binomial: 0 out of n gave NaN (lbeta(0, .) at mu = y = 0).
  data(cbpp, package = "lme4", envir = environment())
  fbb <- suppressWarnings(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp,
                               family = betabinomial(), nAGQ = 1))
  phi <- sigma(fbb)
  n <- cbpp$size
  s <- cbpp$incidence
  mu <- unname(fitted(fbb))
  llbb <- function(i, m) lchoose(n[i], s[i]) + lbeta(s[i] + m * phi, n[i] - s[i] + (1 - m) * phi) -
    lbeta(m * phi, (1 - m) * phi)
  r <- residuals(fbb, type = "deviance")
  expect_false(anyNA(r))
  rows <- which(s > 0)[1:6]
  sat <- saturated_by_optimize(llbb, rows, 1e-9, 1 - 1e-9)
  expect_equal(unname(r[rows]), sign(s[rows] / n[rows] - mu[rows]) *
                 sqrt(2 * (sat - llbb(rows, mu[rows]))), tolerance = 1e-6)
  z <- which(s == 0)[1:3]
  expect_equal(unname(r[z]), -sqrt(-2 * llbb(z, mu[z])), tolerance = 1e-8)
})

# The three cumulative link mixed model routes on wine (one factor, a
# random slope, two crossed terms), with bottle as a factor bottle2.
wine_ordinal_fits <- function(wine) {
  wine$bottle2 <- factor(wine$bottle)
  list(
    one = glmm(rating ~ temp + contact + (1 | judge), wine, family = cumulative("logit"), nAGQ = 1),
    slope = glmm(rating ~ temp + contact + (1 + as.numeric(temp) | judge), wine,
                 family = cumulative("logit"), nAGQ = 1),
    sparse = suppressWarnings(glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle2), wine,
                                   family = cumulative("logit"))))
}

test_that("a cumulative link mixed model answers residuals(), model.matrix(), weights(), df.residual(), deviance()", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = wine)
  fits <- wine_ordinal_fits(wine)
  expect_equal(as.numeric(logLik(fits$one)), as.numeric(logLik(ref)), tolerance = 1e-6)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    # residuals() returned NULL.
    expect_error(residuals(f), "not defined .*fitted\\(fit\\)", label = nm)
    # model.matrix() had an intercept column no coefficient multiplies.
    X <- model.matrix(f)
    expect_identical(colnames(X), names(fixef(f)), label = nm)
    expect_equal(drop(X %*% fixef(f)), unname(predict(f, type = "linear")), label = nm,
                 ignore_attr = TRUE)
    # NULL before.
    expect_identical(weights(f), rep(1, 72), label = nm)
    expect_identical(df.residual(f), 72L - attr(logLik(f), "df"), label = nm)
    expect_equal(deviance(f), -2 * as.numeric(logLik(f)), label = nm)
  }
  # clmm's residual degrees of freedom as ours.
  expect_identical(df.residual(fits$one), as.integer(nobs(ref) - attr(logLik(ref), "df")))
  fw <- glmm(rating ~ temp + contact + (1 | judge), wine, family = cumulative("logit"), nAGQ = 1,
             weights = rep(c(1, 2), 36))
  expect_identical(weights(fw), rep(c(1, 2), 36))
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

test_that("ordinal predictions for a cluster not in the fit are an error unless allow.new.levels", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  wine$bottle2 <- factor(wine$bottle)
  nd <- wine[1:3, ]
  nd$judge <- factor(c("1", "99", "3"))
  fits <- wine_ordinal_fits(wine)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    # The unseen judge "99" got b = 0 without a word.
    expect_error(predict(f, newdata = nd, re.form = NULL), "not in the fit: '99'.*allow.new.levels",
                 label = nm)
    p <- predict(f, newdata = nd, re.form = NULL, allow.new.levels = TRUE)
    expect_equal(p[2, ], predict(f, newdata = nd, re.form = NA)[2, ], label = nm)
    expect_equal(p[-2, ], predict(f, newdata = nd[-2, ], re.form = NULL), label = nm)
    # re.form = NA does not look at the clusters.
    expect_no_error(predict(f, newdata = nd, re.form = NA))
  }
})

test_that("augment() and glance() work on zero-inflated, hurdle and dispersion-formula fits", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  data(Salamanders, package = "glmmTMB", envir = environment())
  data(sleepstudy, package = "lme4", envir = environment())
  sleepstudy$g <- sleepstudy$Days > 4
  fits <- list(
    zip = glmm(count ~ mined + (1 | site), Salamanders, family = poisson, ziformula = ~ mined),
    hurdle = glmm(count ~ mined + (1 | site), Salamanders, family = truncated_poisson(),
                  ziformula = ~ mined),
    disp = glmm(Reaction ~ Days + (1 | Subject), sleepstudy, dispformula = ~ g))
  ref <- glmmTMB::glmmTMB(Reaction ~ Days + (1 | Subject), sleepstudy, dispformula = ~ g)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    # augment() asked for deviance residuals, which these fits refuse.
    a <- generics::augment(f)
    expect_equal(a$.resid, unname(residuals(f)), label = nm)
    expect_equal(a$.fitted, unname(predict(f, type = "link")), label = nm)
    expect_equal(a$.fixed, unname(predict(f, type = "link", re.form = NA)), label = nm)
    ap <- generics::augment(f, type.residuals = "pearson")
    expect_equal(ap$.resid, unname(residuals(f, type = "pearson")), label = nm)
    expect_error(generics::augment(f, type.residuals = "deviance"), "'type.residuals'", label = nm)
    g <- generics::glance(f)
    expect_equal(g$logLik, as.numeric(logLik(f)), label = nm)
  }
  # glance() stopped in sigma(), which has no one value under a dispersion formula.
  g <- generics::glance(fits$disp)
  expect_true(is.na(g$sigma))
  expect_equal(g$logLik, as.numeric(logLik(ref)), tolerance = 1e-6)
  expect_equal(g$AIC, AIC(ref), tolerance = 1e-6)
})

test_that("predict() of a two-part fit honours na.action; ordinal simulate() takes re.form", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("ordinal")
  data(Salamanders, package = "glmmTMB", envir = environment())
  f <- glmm(count ~ mined + cover + (1 | site), Salamanders, family = poisson, ziformula = ~ mined)
  nd <- Salamanders[1:4, ]
  nd$cover[2] <- NA
  full <- predict(f, nd)
  expect_true(is.na(full[2]))
  # na.omit was swallowed by '...': the NA row stayed.
  expect_equal(predict(f, nd, na.action = na.omit), full[-2])
  expect_equal(predict(f, nd, na.action = na.exclude), full)
  p <- predict(f, nd, na.action = na.omit, se.fit = TRUE, type = "zprob")
  expect_length(p$fit, 3L)
  expect_error(predict(f, nd, na.action = na.fail), "missing values")
  # The one-factor fit's answer for the same rows.
  g <- glmm(count ~ mined + cover + (1 | site), Salamanders, family = poisson)
  expect_length(predict(g, nd, na.action = na.omit), 3L)

  data(wine, package = "ordinal", envir = environment())
  fo <- glmm(rating ~ temp + contact + (1 | judge), wine, family = cumulative("logit"), nAGQ = 1)
  # re.form = NULL was swallowed and new random effects drawn.
  expect_identical(simulate(fo, nsim = 3, seed = 1, re.form = NULL),
                   simulate(fo, nsim = 3, seed = 1, re = "fitted"))
  expect_identical(simulate(fo, nsim = 3, seed = 1, re.form = NA),
                   simulate(fo, nsim = 3, seed = 1, re = "new"))
  expect_false(identical(simulate(fo, nsim = 3, seed = 1, re.form = NULL),
                         simulate(fo, nsim = 3, seed = 1)))
  expect_error(simulate(fo, re.form = "x"), "'re.form'")
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
