# Methods of cumulative link mixed models: residuals(), model.matrix(),
# weights(), df.residual(), deviance(), predictions for clusters not in
# the fit, the class they share with the other GLMM fits and the methods of
# that class they cannot serve.

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
    expect_equal(drop(X %*% fixef(f)), unname(predict(f, type = "linear", re.form = NA)), label = nm,
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

test_that("ordinal GLMM fits inherit glmmgee_glmm; predict(type = \"response\") gives the category probabilities", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  fits <- wine_ordinal_fits(wine)
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = wine)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    expect_s3_class(f, "glmmgee_glmm")
    expect_identical(class(f)[length(class(f)) - 1:0], c("glmmgee_glmm_ordinal", "glmmgee_glmm"))
    # The common layout: the coefficients' covariance as `vcov`.
    expect_identical(f$vcov, vcov(f)[names(fixef(f)), names(fixef(f))], label = nm)
    # "response" stopped with 'arg' should be one of "prob", ...
    pr <- predict(f, type = "response")
    expect_identical(pr, predict(f, type = "prob"), label = nm)
    expect_equal(rowSums(pr), rep(1, 72), ignore_attr = TRUE)
    expect_identical(predict(f, type = "link"), predict(f, type = "linear"), label = nm)
    nd <- transform(wine[1:4, ], bottle2 = factor(bottle))
    expect_identical(predict(f, nd, type = "response", re.form = NULL),
                     predict(f, nd, type = "prob", re.form = NULL), label = nm)
    # Stored fields are returned as they are: no scalar fitted values are
    # rebuilt through an inverse link.
    expect_null(f$fitted.values)
    expect_null(f$offset)
  }
  # The typical cluster's (b = 0) probabilities from clmm's estimates.
  eta <- drop(model.matrix(fits$one) %*% ref$beta)
  cum <- cbind(0, plogis(outer(-eta, ref$alpha, "+")), 1)
  expect_equal(unname(predict(fits$one, type = "response", re.form = NA)), unname(t(apply(cum, 1L, diff))),
               tolerance = 1e-4)
})

test_that("anova() of one ordinal fit gives Wald tests of the covariates' terms, not of the thresholds", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  fits <- wine_ordinal_fits(wine)
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = wine, nAGQ = 1)
  z <- coef(summary(ref))[c("tempwarm", "contactyes"), "z value"]
  for (nm in names(fits)) {
    tab <- anova(fits[[nm]])
    expect_identical(rownames(tab), c("temp", "contact"), label = nm)
    expect_identical(tab$Df, c(1, 1), label = nm)
    b <- fixef(fits[[nm]])
    expect_equal(tab$Chisq, unname(b^2 / diag(vcov(fits[[nm]]))[names(b)]), label = nm)
  }
  # One factor: clmm's Wald z squared.
  expect_equal(anova(fits$one)$Chisq, unname(z^2), tolerance = 1e-3)
  if (requireNamespace("car", quietly = TRUE))
    expect_equal(anova(fits$one)$Chisq, car::Anova(fits$one)$Chisq, tolerance = 1e-8)
})

test_that("glmmgee_glmm methods that have no meaning for an ordinal fit stop saying so", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  fits <- wine_ordinal_fits(wine)
  # refuse_ordinal()'s message, or the engine's (require_capability())
  msg <- "(not available|does not provide [^;]*) for cumulative link \\(ordinal\\) fits"
  for (nm in names(fits)) {
    f <- fits[[nm]]
    # the engine's capability message (engine-registry.R)
    expect_error(profile(f), "profile\\(\\): the .* engine .* does not provide .* for cumulative link \\(ordinal\\) fits",
                 label = nm)
    expect_error(marginal_coefs(f), msg, label = nm)
    expect_error(plot_ranef(f), paste0(msg, ".*autoplot"), label = nm)
    expect_error(ranef_new(f, wine[wine$judge == "1", ]), msg, label = nm)
    expect_error(compare_views(f), msg, label = nm)
    if (requireNamespace("broom", quietly = TRUE))
      expect_error(broom::augment(f), msg, label = nm)
    if (requireNamespace("insight", quietly = TRUE))
      expect_error(insight::get_predicted(f), msg, label = nm)
    # The likelihood-based methods of glmmgee_glmm serve it.
    expect_equal(AIC(f), -2 * as.numeric(logLik(f)) + 2 * attr(logLik(f), "df"), label = nm)
    expect_equal(extractAIC(f), c(attr(logLik(f), "df"), AIC(f)), label = nm)
  }
  expect_identical(coef(update(fits$one, . ~ . - contact)),
                   coef(glmm(rating ~ temp + (1 | judge), wine, family = cumulative("logit"))))
  skip_if_not_installed("performance")
  mp <- performance::model_performance(fits$one)
  # RMSE of category codes is not a measure of an ordinal fit.
  expect_false("RMSE" %in% names(mp))
  expect_equal(mp$ICC, performance::icc(fits$one)$ICC_adjusted)
  expect_equal(mp$R2_marginal, unname(performance::r2(fits$one)$R2_marginal))
})

test_that("a fit saved by a version whose ordinal class did not inherit glmmgee_glmm prints, predicts and tests", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  fits <- wine_ordinal_fits(wine)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    old <- f
    class(old) <- setdiff(class(f), "glmmgee_glmm")
    old$vcov <- NULL
    expect_identical(capture.output(print(old)), capture.output(print(f)), label = nm)
    expect_identical(predict(old, wine[1:5, ], type = "prob_marginal"),
                     predict(f, wine[1:5, ], type = "prob_marginal"), label = nm)
    expect_identical(vcov(old), vcov(f), label = nm)
    if (requireNamespace("car", quietly = TRUE))
      expect_equal(car::Anova(old), car::Anova(f), label = nm)
    if (requireNamespace("performance", quietly = TRUE))
      expect_equal(performance::icc(old)$ICC_adjusted, performance::icc(f)$ICC_adjusted, label = nm)
  }
})

test_that("ordinal methods refuse bad arguments by name; a formula without intercept gets one", {
  w <- ordinal::wine
  f <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative())
  # "subscript out of bounds", "'names' attribute [1] must be the same
  # length", "missing value where TRUE/FALSE needed" before
  expect_error(confint(f, parm = "zz"), "'parm': 'zz' not among")
  expect_identical(rownames(confint(f, parm = "tempwarm")), "tempwarm")
  expect_error(simulate(f, nsim = 0), "'nsim'")
  # The bootstrap's refusal named "profile", which this fit refuses too.
  expect_error(confint(f, method = "boot"), "parametric bootstrap.*; use method = \"Wald\"$")
  expect_error(confint(f, method = "profile"), "Wald intervals only")
  expect_error(ranef(f, condVar = NA), "'condVar' must be TRUE or FALSE")
  fc <- suppressWarnings(glmm(rating ~ temp + (1 | judge) + (1 | bottle), data = w,
                              family = cumulative()))
  expect_error(ranef(fc, condVar = NA), "'condVar' must be TRUE or FALSE")
  # '0 +' or '- 1' stopped with "rank deficient (aliased: tempwarm)": the
  # thresholds are the intercept, as clm() says and assumes
  expect_warning(f0 <- glmm(rating ~ 0 + temp + contact + (1 | judge), data = w,
                            family = cumulative()), "no intercept")
  expect_equal(coef(f0), coef(f))
  expect_equal(predict(f0, w[1:4, ]), predict(f, w[1:4, ]))
  expect_warning(g0 <- gee(rating ~ temp + contact - 1, data = w, id = judge,
                           family = cumulative()), "no intercept")
  expect_equal(coef(g0), coef(gee(rating ~ temp + contact, data = w, id = judge,
                                  family = cumulative())))
})

test_that("simulate(use.u = TRUE) of every ordinal route conditions on the fitted random effects, as lme4's", {
  skip_if_not_installed("ordinal")
  data(wine, package = "ordinal", envir = environment())
  fits <- wine_ordinal_fits(wine)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    sim <- function(...) simulate(f, nsim = 3, seed = 1, ...)
    fitted_re <- sim(re = "fitted")
    # use.u = TRUE drew new random effects (as re = "new").
    expect_identical(sim(use.u = TRUE), fitted_re, label = nm)
    expect_identical(sim(re.form = NULL), fitted_re, label = nm)
    expect_identical(sim(use.u = FALSE), sim(re = "new"), label = nm)
    expect_false(identical(sim(re = "new"), fitted_re), label = nm)
  }
})
