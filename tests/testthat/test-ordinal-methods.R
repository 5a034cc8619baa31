# Methods of cumulative link mixed models: residuals(), model.matrix(),
# weights(), df.residual(), deviance(), and predictions for clusters not in
# the fit.

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
