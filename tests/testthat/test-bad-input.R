# Bad input to glmm() and gee(), side by side: every case is a clear error
# naming the argument or variable, or a documented behaviour tested here.
# (test-glmm-input.R and test-gee-api.R hold the cases specific to one of them.)

bad_data <- function(seed = 11) {
  set.seed(seed)
  d <- data.frame(g = rep(1:12, each = 5), x = rnorm(60), w = 1, o = 0)
  d$y <- rbinom(60, 1, plogis(0.3 + d$x + rnorm(12)[d$g]))
  d$n <- rpois(60, exp(0.5 + 0.3 * d$x))
  d
}

# The same data and arguments to both front ends; the arguments in `...` are
# passed unevaluated, so bare column names work as in a user's call.
expect_both_error <- function(formula_fixed, data, pattern, ...) {
  args <- as.list(substitute(list(...)))[-1L]
  env <- parent.frame()
  calls <- list(
    glmm = as.call(c(quote(glmm), list(update(formula_fixed, . ~ . + (1 | g)), data = data,
                                       nAGQ = 1), args)),
    gee = as.call(c(quote(gee), list(formula_fixed, data = data, id = quote(g)), args)))
  for (m in names(calls)) expect_error(eval(calls[[m]], env), pattern, info = m)
}

test_that("wrong types of arguments are named", {
  d <- bad_data()
  # A formula as a string is accepted (as lmer() and glm()); one that is
  # not a formula, or another type, is not.
  expect_error(glmm("y + (1 | g)", d, family = binomial), "'formula' .* is not a formula")
  expect_error(gee("y", d, id = g, family = binomial), "'formula' .* is not a formula")
  expect_error(glmm(1, d, family = binomial), "'formula' must be")
  expect_error(gee(1, d, id = g, family = binomial), "'formula' must be")
  expect_error(glmm(y ~ x + (1 | g), as.matrix(d), family = binomial), "'data' must be a data frame")
  expect_error(gee(y ~ x, data = as.matrix(d), id = g, family = binomial), "'data' must be a data.frame")
  expect_error(gee(y ~ x, data = "d", id = g, family = binomial), "'data' must be a data.frame")
  expect_both_error(y ~ x, d, "'family' must be a family function", family = 1)
  expect_both_error(y ~ x, d, "'weights' must have one value per row of 'data'",
                    family = binomial, weights = "a")
  expect_both_error(y ~ x, d, "'weights' must have one value per row of 'data'",
                    family = binomial, weights = 1:7)
  expect_both_error(y ~ x, d, "'offset' must have one value per row of 'data'",
                    family = binomial, offset = c(0, 1))
  expect_both_error(y ~ x, transform(d, w = as.character(w)), "'weights' must be a numeric vector",
                    family = binomial, weights = w)
})

test_that("missing or misspelt variables are named", {
  d <- bad_data()
  expect_both_error(y ~ xx, d, "variable 'xx' used in the model is not in 'data'", family = binomial)
  expect_both_error(yy ~ x, d, "variable 'yy' used in the model is not in 'data'", family = binomial)
  expect_both_error(y ~ x, d, "variable 'ww' used in the model is not in 'data'",
                    family = binomial, weights = ww)
  expect_both_error(y ~ x, d, "variable 'oo' used in the model is not in 'data'",
                    family = binomial, offset = oo)
  expect_error(gee(y ~ x, data = d, id = gg, family = binomial), "variable 'gg'")
})

test_that("NA in any variable: dropped by na.omit, named by na.fail", {
  d <- bad_data()
  for (v in c("y", "x", "w", "o", "g")) {
    dd <- d
    dd[[v]][c(4, 17)] <- NA
    f1 <- suppressWarnings(glmm(y ~ x + (1 | g), dd, family = binomial, weights = w, offset = o, nAGQ = 1))
    f2 <- gee(y ~ x, data = dd, id = g, family = binomial, weights = w, offset = o)
    expect_identical(f1$n, 58L, info = v)
    expect_identical(nobs(f2), 58L, info = v)
    # The same fit as with the rows removed by hand.
    f3 <- gee(y ~ x, data = d[-c(4, 17), ], id = g, family = binomial)
    expect_equal(coef(f2), coef(f3), tolerance = 1e-10, info = v)
    nm <- c(y = "y", x = "x", w = "weights", o = "offset", g = "g")[[v]]
    expect_error(glmm(y ~ x + (1 | g), dd, family = binomial, weights = w, offset = o,
                      na.action = na.fail), sprintf("missing values in '%s'", nm), info = v)
    expect_error(gee(y ~ x, data = dd, id = g, family = binomial, weights = w, offset = o,
                     na.action = na.fail),
                 sprintf("missing values in '%s'", if (v == "g") "id" else nm), info = v)
  }
})

test_that("infinite values in the response, covariates, weights and offsets are named", {
  d <- bad_data()
  for (v in c("y", "x", "w", "o")) {
    dd <- d
    dd[[v]][7] <- if (v == "w") Inf else -Inf
    nm <- c(y = "y", x = "x", w = "weights", o = "offset")[[v]]
    expect_both_error(y ~ x, dd, sprintf("infinite values in '%s'", nm),
                      family = gaussian, weights = w, offset = o)
  }
  dd <- d; dd$x2 <- d$x; dd$x2[3] <- Inf
  expect_both_error(y ~ log(x2 + 5), dd, "infinite values in 'log\\(x2 \\+ 5\\)'", family = binomial)
  expect_error(gee(y ~ x, data = d, id = ifelse(g == 1, Inf, g), family = binomial),
               "infinite values in 'id'")
})

test_that("responses outside the family's support", {
  d <- bad_data()
  expect_both_error(I(y * 2) ~ x, d, "binomial response must be in \\[0, 1\\]", family = binomial)
  expect_both_error(I(-n) ~ x, transform(d, n = n + 1), "non-negative whole number", family = poisson)
  expect_both_error(I(n + 0.5) ~ x, d, "non-negative whole number; found", family = poisson)
  expect_both_error(factor(g) ~ x, d, "two levels; it has 12", family = binomial)
  expect_both_error(cbind(y, -1) ~ x, d, "non-negative finite counts", family = binomial)
  # Proportions without trials are allowed but not whole successes: a warning.
  expect_warning(gee(I(y / 2) ~ x, data = d, id = g, family = binomial),
                 "non-integer number of successes")
})


test_that("the matrix interfaces check the response's support as the formula ones do", {
  d <- bad_data()
  X <- cbind(1, d$x)
  # A binomial response of 1.3 was fitted without a word by glmm_fit() and
  # gee_fit(); -4 gave gee_fit()'s "non-finite starting working weights".
  for (bad in c(1.3, -4)) {
    y <- replace(d$y, 3, bad)
    found <- sprintf("binomial response must be in \\[0, 1\\].*found %s", bad)
    expect_error(gee_fit(X, y, d$g, family = binomial), found)
    expect_error(glmm_fit(X, y, NULL, d$g, family = binomial), found)
    expect_error(glmm_fit(X, y, cbind(1, d$x), d$g, family = binomial), found)
  }
  for (bad in c(1.5, -2)) {
    y <- replace(d$n, 3, bad)
    found <- sprintf("poisson response must be a non-negative whole number; found %s", bad)
    expect_error(gee_fit(X, y, d$g, family = poisson), found)
    expect_error(glmm_fit(X, y, NULL, d$g, family = poisson), found)
  }
  # (NA or Inf is named as such, before the support is looked at)
  expect_error(glmm_fit(X, replace(d$y, 3, NA), NULL, d$g, family = binomial),
               "'y' must be numeric and finite")
  expect_error(glmm_fit(X, replace(d$n, 3, Inf), NULL, d$g, family = poisson),
               "'y' must be numeric and finite")
  expect_error(gee_fit(X, replace(d$n, 3, NA), d$g, family = poisson), "'y' contains missing")
  # (a value just past 1 is shown with its digits)
  expect_error(glmm_fit(X, replace(d$y, 3, 1 + 1e-12), NULL, d$g, family = binomial),
               "found 1.000000000001")
  expect_error(glmm_fit(X, replace(d$y, 3, 2), NULL, d$g, family = betabinomial(), weights = d$w),
               "betabinomial response must be in \\[0, 1\\]")
  # Proportions with their trials as weights are in the support.
  p <- d$n / 10
  p[p > 1] <- 1
  expect_s3_class(gee_fit(X, p, d$g, family = binomial, weights = rep(10, 60)), "glmmgee_gee")
  expect_equal(glmm_fit(X, p, NULL, d$g, family = binomial, weights = rep(10, 60), nAGQ = 1)$beta,
               glmm(cbind(10 * p, 10 - 10 * p) ~ x + (1 | g), data = d, family = binomial,
                    nAGQ = 1)$coefficients, tolerance = 1e-6, ignore_attr = TRUE)
})
test_that("zero and negative weights", {
  d <- bad_data()
  expect_both_error(y ~ x, transform(d, w = -1), "'weights' must be non-negative",
                    family = binomial, weights = w)
  expect_both_error(y ~ x, transform(d, w = 0), "all 'weights' are zero", family = binomial,
                    weights = w)
  expect_both_error(cbind(y, 0) ~ x, transform(d, y = 0), "all 'weights' are zero",
                    family = binomial)
  # Some zero weights: those rows are left out, as if removed.
  dd <- d; dd$w[d$g == 3 | seq_len(60) %% 7 == 0] <- 0
  keep <- dd$w > 0
  a <- glmm(y ~ x + (1 | g), dd, family = binomial, weights = w, nAGQ = 5)
  b <- glmm(y ~ x + (1 | g), d[keep, ], family = binomial, nAGQ = 5)
  expect_equal(a$coefficients, b$coefficients, tolerance = 1e-6)
  expect_equal(a$loglik, b$loglik, tolerance = 1e-8)
  expect_identical(a$nobs, sum(keep))
  a2 <- gee(y ~ x, data = dd, id = g, family = binomial, weights = w, corstr = "exchangeable")
  b2 <- gee(y ~ x, data = d[keep, ], id = g, family = binomial, corstr = "exchangeable")
  expect_equal(coef(a2), coef(b2), tolerance = 1e-8)
  expect_equal(vcov(a2), vcov(b2), tolerance = 1e-8)
})

test_that("empty data and a single cluster", {
  d <- bad_data()
  expect_both_error(y ~ x, d[0, ], "no complete rows", family = binomial)
  expect_both_error(y ~ x, d, "no complete rows", family = binomial, subset = x > 100)
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial, subset = g == 2),
               "grouping factor 'g' has only 1 level")
  expect_error(gee(x ~ y, data = d, id = g, subset = g == 2),
               "'id' has a single cluster")
  expect_error(gee_fit(cbind(1, d$x), d$y, rep(1, 60), family = binomial), "'id' has a single cluster")
  # ... also when the other clusters have zero weight.
  expect_error(gee(x ~ 1, data = d, id = g, weights = as.numeric(g == 1)),
               "'id' has a single cluster")
})

test_that("all clusters of size one", {
  d <- bad_data()
  d$g <- seq_len(60)
  expect_error(glmm(x ~ 1 + (1 | g), d), "every level of the grouping factor 'g' has one observation")
  expect_warning(f <- glmm(y ~ x + (1 | g), d, family = binomial),
                 "every level of the grouping factor 'g' has one binary observation")
  expect_match(f$optinfo$warnings, "one binary observation", all = FALSE)
  # Counts: an observation-level random effect, a model for overdispersion.
  f2 <- suppressWarnings(glmm(n ~ x + (1 | g), d, family = poisson))
  expect_false(any(grepl("one (binary )?observation", f2$optinfo$warnings)))
  # GEE: the correlation cannot be estimated; the coefficients are glm's.
  expect_warning(f3 <- gee(y ~ x, data = d, id = g, family = binomial, corstr = "exchangeable"),
                 "no cluster has two or more")
  expect_equal(unname(coef(f3)), unname(coef(glm(y ~ x, binomial, d))), tolerance = 1e-6)
})

test_that("a response without variation cannot be fitted", {
  d <- bad_data()
  expect_both_error(y ~ x, transform(d, y = 0), "response 'y' has no successes", family = binomial)
  expect_both_error(y ~ x, transform(d, y = 1), "response 'y' has no failures", family = binomial)
  expect_both_error(n ~ x, transform(d, n = 0), "response 'n' is 0 for every observation",
                    family = poisson)
  expect_both_error(x ~ 1, transform(d, x = 2.5), "response 'x' is constant \\(2.5\\)")
  # Zero-weight rows do not count as variation.
  dd <- d; dd$y[1] <- 1; dd$y[-1] <- 0
  expect_both_error(y ~ x, dd, "has no successes", family = binomial,
                    weights = as.numeric(seq_len(60) > 1))
  # A constant positive count is fine: the estimate exists (intercept log 1 = 0).
  f <- gee(n ~ x, data = transform(d, n = 1), id = g, family = poisson)
  expect_equal(unname(coef(f)), c(0, 0), tolerance = 1e-8)
})

test_that("aliased (collinear) fixed effects are a clear error naming the column", {
  d <- bad_data()
  d$x2 <- 2 * d$x - 1
  d$h <- factor(d$g %% 2)
  d$h2 <- d$h
  expect_error(glmm(y ~ x + x2 + (1 | g), d, family = binomial), "rank deficient.*x2")
  expect_error(gee(y ~ x + x2, data = d, id = g, family = binomial), "rank deficient: 'x2'")
  expect_error(glmm(y ~ h + h2 + (1 | g), d, family = binomial), "rank deficient.*h21")
  expect_error(gee(y ~ h + h2, data = d, id = g, family = binomial), "'h21' is linearly dependent")
  # The matrix interfaces name an unnamed column by its place, never ''.
  X <- cbind(1, d$x, d$x2)
  expect_error(gee_fit(X, d$y, d$g, family = binomial), "rank deficient: 'X3' is")
  expect_error(glmm_fit(X, d$y, NULL, d$g, family = binomial), "collinear columns: column 3\\)")
  colnames(X) <- c("(Intercept)", "x", "")
  expect_error(gee_fit(X, d$y, d$g, family = binomial), "rank deficient: 'X3' is")
  expect_error(glmm_fit(X, d$y, NULL, d$g, family = binomial), "collinear columns: column 3\\)")
  expect_identical(names(coef(gee_fit(X[, 1:2], d$y, d$g, family = binomial))),
                   c("(Intercept)", "x"))
  colnames(X) <- c("(Intercept)", NA, "x2")
  expect_identical(names(coef(gee_fit(X[, -3], d$y, d$g, family = binomial))),
                   c("(Intercept)", "X2"))
  # glm, by contrast, drops the column with an NA coefficient.
  expect_true(is.na(coef(glm(y ~ x + x2, binomial, d))[["x2"]]))
  # More coefficients than observations (gaussian): no residual variance left.
  expect_error(glmm(x ~ factor(seq_len(60)) + (1 | g), d),
               "60 fixed-effect coefficients but only 60 observations")
  expect_error(gee(x ~ factor(seq_len(60)), data = d, id = g),
               "60 fixed-effect coefficients but only 60 observations")
})

test_that("gee: duplicated and missing waves", {
  d <- bad_data()
  d$t <- ave(d$g, d$g, FUN = seq_along)
  dd <- d; dd$t[d$g == 4][2] <- 1
  for (cs in c("independence", "exchangeable", "ar1", "unstructured"))
    expect_error(gee(y ~ x, data = dd, id = g, waves = t, family = binomial, corstr = cs),
                 "'waves' has a duplicated value within cluster 4", info = cs)
  dd <- d; dd$t[5] <- Inf
  expect_error(gee(y ~ x, data = dd, id = g, waves = t, family = binomial),
               "infinite values in 'waves'")
  # A missing wave value drops the row (na.omit), like any variable.
  dd <- d; dd$t[5] <- NA
  f <- gee(y ~ x, data = dd, id = g, waves = t, family = binomial, corstr = "ar1")
  expect_identical(nobs(f), 59L)
})

# ---- Bad input to the interpretation layer: odds_ratios, rate_ratios,
# marginal_coefs and standardize, across glmm (one factor and several
# terms) and gee fits.

bad_interp_fits <- function() {
  cached("bad_interp_fits", {
    d <- bad_data()
    d$grp <- factor(ifelse(d$x > 0, "hi", "lo"))
    d$ward <- factor(rep(1:2, 30))
    d$g6 <- factor((d$g - 1L) %/% 2L)
    # (some of these small fits are singular: irrelevant to the input checks)
    list(d = d,
         glmm = suppressWarnings(glmm(y ~ x + grp + (1 | g), data = d, family = binomial)),
         sparse = suppressWarnings(glmm(y ~ x + grp + (1 | g/ward), data = d, family = binomial)),
         few = suppressWarnings(glmm(y ~ x + grp + (1 | g6/g), data = d, family = binomial)),
         gee = gee(y ~ x + grp, data = d, id = g, family = binomial),
         pois = suppressWarnings(glmm(n ~ x + (1 | g), data = d, family = poisson)),
         gauss = suppressWarnings(glmm(x ~ grp + (1 | g), data = d)))
  })
}

test_that("interpretation functions: wrong object type names 'fit'", {
  f <- bad_interp_fits()
  lmfit <- lm(y ~ x, data = f$d)
  expect_error(odds_ratios(lmfit), "'fit' must be a fit from glmm\\(\\) or gee\\(\\).*\"lm\"")
  expect_error(rate_ratios(list(1)), "'fit' must be a fit from glmm\\(\\) or gee\\(\\)")
  expect_error(marginal_coefs(f$gee), "'fit': marginal_coefs\\(\\) needs a fit from glmm\\(\\)")
  expect_error(marginal_coefs(lmfit), "'fit': marginal_coefs\\(\\) needs a fit from glmm\\(\\).*\"lm\"")
  expect_error(standardize(lmfit, "x"), "'fit' must be a fit from glmm\\(\\) or gee\\(\\)")
  expect_error(plot_ranef(f$gee), "'fit': plot_ranef\\(\\) needs a fit from glmm\\(\\)")
  expect_error(marginal_coefs(f$glmm, std_errors = "yes"), "'std_errors'")
  mc0 <- marginal_coefs(f$sparse, std_errors = FALSE)
  expect_error(odds_ratios(mc0), "'fit'.*std_errors = TRUE")
})

test_that("interpretation functions: unknown 'parm' and 'level' outside (0, 1)", {
  f <- bad_interp_fits()
  for (nm in c("glmm", "sparse", "gee")) {
    expect_error(odds_ratios(f[[nm]], parm = "z"), "'parm'.*'z' not among the coefficients",
                 info = nm)
    expect_error(odds_ratios(f[[nm]], parm = 7), "'parm': indices must be between 1 and 3",
                 info = nm)
    for (lv in list(0, 1, 1.2, -0.5, NA, c(0.9, 0.95), "0.95"))
      expect_error(odds_ratios(f[[nm]], level = lv), "'level' must be one number between 0 and 1",
                   info = nm)
    expect_error(standardize(f[[nm]], "x", level = 95), "'level'", info = nm)
  }
  expect_error(rate_ratios(f$pois, parm = "grp"), "'parm'")
  expect_error(rate_ratios(f$pois, level = 1), "'level'")
  mc <- marginal_coefs(f$sparse)
  expect_error(confint(mc, parm = "w"), "'parm'")
  expect_error(confint(mc, level = 0), "'level'")
  expect_error(odds_ratios(mc, level = 2), "'level'")
})

test_that("interpretation functions: outcome and link the ratio needs", {
  f <- bad_interp_fits()
  expect_error(odds_ratios(f$pois), "'fit': odds ratios need a binary outcome.*poisson\\(log\\); use rate_ratios")
  expect_error(odds_ratios(f$gauss), "'fit': odds ratios need a binary outcome.*gaussian")
  expect_error(rate_ratios(f$gauss), "'fit': rate ratios need the log link.*identity")
  expect_error(rate_ratios(f$sparse), "'fit': rate ratios need the log link.*use odds_ratios")
  expect_error(rate_ratios(f$gee), "'fit': rate ratios need the log link")
  d <- f$d
  pr <- glmm(y ~ x + (1 | g), data = d, family = binomial("probit"))
  expect_error(odds_ratios(pr), "'fit': odds ratios need the logit link.*probit")
  prs <- suppressWarnings(glmm(y ~ x + (1 | g/ward), data = d, family = binomial("probit")))
  expect_error(odds_ratios(prs), "'fit': odds ratios need the logit link")
  expect_error(odds_ratios(marginal_coefs(prs)), "'fit': odds ratios need the logit link")
})

test_that("standardize: unknown variable, values outside a factor's levels, too few clusters", {
  f <- bad_interp_fits()
  for (nm in c("glmm", "sparse", "gee")) {
    fit <- f[[nm]]
    expect_error(standardize(fit, "dose"), "'variable'.*\"dose\" is not one", info = nm)
    expect_error(standardize(fit, "g"), "'variable'.*\"g\" is not one", info = nm)
    expect_error(standardize(fit, c("x", "grp")), "'variable' must name one variable", info = nm)
    expect_error(standardize(fit, "grp", values = c("lo", "medium")),
                 "'values'.*\"medium\" not among the levels of 'grp' \\(hi, lo\\)", info = nm)
    expect_error(standardize(fit, "x", values = c(0, NA)), "'values'.*finite numbers", info = nm)
    expect_error(standardize(fit, "x", se = "bootstrap", B = 5), "'B'", info = nm)
    expect_error(standardize(fit, "x", newdata = f$d[, c("x", "y")]), "grp|newdata", info = nm)
  }
  expect_error(standardize(f$glmm, "x", re = "random"), "'arg' should be one of")
  # the outer factor of the nested fit has 6 levels: too few to resample
  expect_identical(attr(standardize(f$few, "x", se = "none"), "cluster"), "g6")
  expect_error(standardize(f$few, "x", se = "bootstrap"),
               "'se' = \"bootstrap\" needs at least 10 clusters.*has 6")
  expect_error(standardize(f$few, "x", se = "bootstrap", cluster = "ward"),
               "'cluster' must name one grouping factor of the model \\(g:g6, g6\\)")
  expect_error(standardize(f$glmm, "x", cluster = "ward"), "'cluster' is for glmm fits with several")
  expect_error(standardize(f$gee, "x", cluster = "g"), "'cluster' is for glmm fits with several")
  small <- f$d[f$d$g <= 6, ]
  g6 <- glmm(y ~ x + (1 | g), data = small, family = binomial)
  expect_error(standardize(g6, "x", se = "bootstrap"), "at least 10 clusters.*has 6")
})
