# Population-averaged cumulative odds ratios of an ordinal glmm with a
# covariate in small units (x * 1e-6 - 5): one unit of it is a step of
# ~1e6 on the log-odds scale, which saturated the averaged probabilities,
# so that the log odds ratio was Inf - Inf and its standard error NaN.
# Under that saturation the marginal log odds ratio per unit tends to the
# coefficient, and its standard error to the coefficient's.

wine_units <- function() {
  skip_if_not_installed("ordinal")
  w <- as.data.frame(ordinal::wine)
  set.seed(31)
  w$x <- as.numeric(w$temp == "warm") + stats::rnorm(nrow(w), 0, 0.3)
  w$x2 <- w$x * 1e-6 - 5
  w$x3 <- w$x + 1e6
  w
}

test_that("marginal odds ratios of a covariate in small units have finite standard errors (wine)", {
  w <- wine_units()
  f1 <- glmm(rating ~ x + contact + (1 | judge), data = w, family = "cumulative")
  f2 <- glmm(rating ~ x2 + contact + (1 | judge), data = w, family = "cumulative")
  expect_warning(m2 <- odds_ratios(f2, type = "marginal"), "one unit of the covariate")
  c2 <- suppressWarnings(odds_ratios(f2))
  r <- m2$term == "x2"
  expect_true(all(is.finite(m2$std.error)))
  expect_true(all(is.finite(m2$p.value)))
  expect_equal(m2$std.error[r], rep(c2$std.error[c2$term == "x2"], sum(r)), tolerance = 1e-3)
  expect_equal(m2$p.value[r], rep(c2$p.value[c2$term == "x2"], sum(r)), tolerance = 1e-3)
  # the conditional view is the same fit on x: per unit of x2, 1e6 times x's
  c1 <- odds_ratios(f1)
  expect_equal(c2$std.error[1], 1e6 * c1$std.error[1], tolerance = 1e-4)
  # the other covariate's marginal ratios are those of the fit on x
  m1 <- odds_ratios(f1, type = "marginal")
  expect_equal(m2[!r, -1], m1[m1$term == "contactyes", -1], tolerance = 1e-5,
               ignore_attr = TRUE)
  # a shift changes nothing
  m3 <- odds_ratios(f3 <- glmm(rating ~ x3 + contact + (1 | judge), data = w,
                               family = "cumulative"), type = "marginal")
  expect_equal(m3[, -1], m1[, -1], tolerance = 1e-5, ignore_attr = TRUE)
})

test_that("marginal odds ratios of a covariate in small units have finite standard errors (simulated)", {
  set.seed(131)
  n <- 60; m <- 5
  g <- rep(seq_len(n), each = m)
  x <- stats::rnorm(n * m, 2, 1.5)
  lp <- 0.7 * x + stats::rnorm(n, 0, 1)[g]
  d <- data.frame(y = cut(lp + stats::rlogis(n * m), c(-Inf, 0.5, 1.5, 3, Inf), ordered_result = TRUE),
                  x2 = x * 1e-6 + 3, g = factor(g))
  f <- glmm(y ~ x2 + (1 | g), data = d, family = "cumulative")
  expect_warning(mo <- odds_ratios(f, type = "marginal"), "'x2'")
  co <- suppressWarnings(odds_ratios(f))
  expect_true(all(is.finite(mo$std.error)))
  expect_equal(mo$std.error, rep(co$std.error, nrow(mo)), tolerance = 1e-3)
  expect_equal(mo$p.value, rep(co$p.value, nrow(mo)), tolerance = 1e-3)
})

test_that("marginal odds ratios near saturation match a direct integration of the lower tails", {
  # x / 15: one unit is 15 of x, a log odds ratio of ~35, where 1 - P(Y > j)
  # is ~1e-16 and 1 - cumsum() of the category probabilities kept no digits
  w <- wine_units()
  w$x15 <- w$x / 15
  f <- glmm(rating ~ x15 + contact + (1 | judge), data = w, family = "cumulative")
  mo <- odds_ratios(f, type = "marginal", parm = "x15")
  X <- f$X; b <- f$coefficients; s <- f$sigma_re
  X1 <- X; X1[, "x15"] <- X[, "x15"] + 1
  avg <- function(eta, th, upper) mean(vapply(eta, function(e) stats::integrate(function(z)
    stats::plogis(if (upper) e + s * z - th else th - e - s * z) * stats::dnorm(z),
    -Inf, Inf, rel.tol = 1e-12)$value, numeric(1)))
  logit <- function(Xm) vapply(f$thresholds, function(th) {
    eta <- drop(Xm %*% b)
    log(avg(eta, th, TRUE)) - log(avg(eta, th, FALSE))
  }, numeric(1))
  ref <- logit(X1) - logit(X)
  expect_true(all(is.finite(log(mo$estimate))))
  expect_equal(log(mo$estimate), unname(ref), tolerance = 1e-6)
})


wine_marginal_data <- function() {
  skip_if_not_installed("ordinal")
  w <- as.data.frame(ordinal::wine)
  set.seed(31)
  w$x <- as.numeric(w$temp == "warm") + stats::rnorm(nrow(w), 0, 0.3)
  w$x2 <- w$x * 1e-6 - 5
  w
}

# The logit of the data-averaged P(Y > j) of a logit cumulative link
# model, by integrate() over the random intercept, row by row.
marginal_logit_integrate <- function(f, Xm) {
  b <- f$coefficients
  s <- f$sigma_re
  eta <- drop(Xm %*% b)
  avg <- function(th, upper) mean(vapply(eta, function(e) stats::integrate(function(z)
    stats::plogis(if (upper) e + s * z - th else th - e - s * z) * stats::dnorm(z),
    -Inf, Inf, rel.tol = 1e-12)$value, numeric(1)))
  vapply(f$thresholds, function(th) log(avg(th, TRUE)) - log(avg(th, FALSE)), numeric(1))
}

test_that("ordinal marginal odds ratios per a step delta: finite, integrate()'s, the fit on x's", {
  w <- wine_marginal_data()
  f2 <- glmm(rating ~ x2 + contact + (1 | judge), data = w, family = "cumulative")
  f1 <- glmm(rating ~ x + contact + (1 | judge), data = w, family = "cumulative")
  # Per unit of x2 (a step of ~1e6 on the log-odds scale): Inf, and the
  # warning names the argument.
  expect_warning(m <- odds_ratios(f2, type = "marginal", parm = "x2"), "delta = c\\(x2 = 1e-06\\)")
  expect_true(all(is.infinite(m$estimate)))
  # Default delta = 1: as before.
  expect_identical(suppressWarnings(odds_ratios(f2, type = "marginal", delta = 1)),
                   suppressWarnings(odds_ratios(f2, type = "marginal")))
  md <- expect_no_warning(odds_ratios(f2, type = "marginal", parm = "x2", delta = c(x2 = 1e-6)))
  expect_true(all(is.finite(md$estimate)))
  X1 <- f2$X
  X1[, "x2"] <- X1[, "x2"] + 1e-6
  ref <- marginal_logit_integrate(f2, X1) - marginal_logit_integrate(f2, f2$X)
  expect_equal(log(md$estimate), unname(ref), tolerance = 1e-6)
  # The same model as the fit on x, one unit of x.
  m1 <- odds_ratios(f1, type = "marginal", parm = "x")
  expect_equal(md$estimate, m1$estimate, tolerance = 1e-4)
  expect_equal(md$std.error, m1$std.error, tolerance = 1e-3)
  # A step other than one unit on the fit on x (half a unit), integrate()'s.
  mh <- odds_ratios(f1, type = "marginal", parm = "x", delta = 0.5)
  Xh <- f1$X
  Xh[, "x"] <- Xh[, "x"] + 0.5
  ref_h <- marginal_logit_integrate(f1, Xh) - marginal_logit_integrate(f1, f1$X)
  expect_equal(log(mh$estimate), unname(ref_h), tolerance = 1e-6)
  expect_identical(attr(mh, "delta"), c(x = 0.5))
  # The conditional ratio per step: exp(delta beta).
  cd <- odds_ratios(f2, parm = "x2", delta = c(x2 = 1e-6))
  expect_equal(cd$estimate, exp(1e-6 * unname(f2$coefficients["x2"])))
  expect_equal(cd$std.error, 1e-6 * sqrt(vcov(f2)["x2", "x2"]))
  # A 0/1 column takes no step; a bad step is an error naming the argument.
  expect_error(odds_ratios(f2, type = "marginal", delta = c(contactyes = 2)), "'delta'.*0/1")
  expect_error(odds_ratios(f2, type = "marginal", delta = c(z = 2)), "'delta'")
  expect_error(odds_ratios(f2, delta = 0), "'delta'")
  expect_error(odds_ratios(f2, delta = c(1, 2)), "'delta'")
})
