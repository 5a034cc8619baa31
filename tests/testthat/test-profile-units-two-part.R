# Profile intervals of random slopes in odd
# units on the two-part routes, the rotated adaptive quadrature map in C++,
# and what a user sees for the correlation of a slope far from zero.
#
# Round 28 profiled far-off or badly scaled random-effect blocks on their
# centred and scaled columns (profile-z-basis.R) on the one-factor and
# several-term routes only: a zero-inflated fit with (x2 | a),
# x2 = x * 1e-6 - 5, still ran its profile engine on the user's Z, and the
# slope's standard deviation came out [267180, 269877] for x's
# [0.151854, 0.413549] x 1e6, and with x + 1e6 the profile stopped with
# "missing value where TRUE/FALSE needed".

two_part_units_ci <- function(d, f, v, args)
  suppressMessages(confint(suppressWarnings(
    do.call(glmm, c(list(as.formula(gsub("X", v, f)), data = quote(d)), args))),
    method = "profile"))

# The fixed slope's and the slope's standard deviation's limits in x2's
# units are x's times 1e6, in x4's the same as x's; the zero part's
# coefficients and the other terms' standard deviations do not move.
two_part_units_check <- function(f, args) {
  d <- two_part_units_data()
  ci <- two_part_units_ci(d, f, "x", args)
  expect_true(all(is.finite(ci)))
  slope <- c(2L, which(rownames(ci) == "sd_x|a"))
  keep <- grep("^zi\\.|\\|h$", rownames(ci))
  for (v in c("x2", "x4")) {
    cv <- two_part_units_ci(d, f, v, args)
    expect_identical(dim(cv), dim(ci))
    sc <- if (v == "x2") 1e-6 else 1
    expect_equal(unname(cv[slope, ]) * sc, unname(ci[slope, ]), tolerance = 1e-7)
    expect_equal(unname(cv[keep, ]), unname(ci[keep, ]), tolerance = 1e-7)
  }
  ci
}

test_that("zero-inflated and hurdle profiles with (x | a) do not depend on x's units", {
  two_part_units_check("yc ~ X + (X | a)", list(family = poisson, ziformula = ~1, nAGQ = 1))
  two_part_units_check("yc ~ X + (X | a)", list(family = truncated_poisson, ziformula = ~1, nAGQ = 1))
})

test_that("the several-term zero-inflated profile with (x | a) + (1 | h) does not depend on x's units", {
  # h's variance is estimated at 0: the intercept's profile on x2 needs the
  # lean of the other coefficients without h's (NA) covariance.
  two_part_units_check("yc ~ X + (X | a) + (1 | h)", list(family = poisson, ziformula = ~1))
})

test_that("a zero-inflated profile with random effects in both parts does not depend on x's units", {
  # The two-part one-factor engine (cpp_two_part_new()) ran on the user's Z:
  # with x * 1e-6 - 5 the slope's SD had [279523, NA] for x's
  # [0.151854, 0.413549] x 1e6.
  d <- two_part_units_data()
  ci <- function(v) suppressWarnings(confint(suppressWarnings(
    glmm(as.formula(sprintf("yc ~ %s + (%s | a)", v, v)), data = d, family = poisson,
         ziformula = ~ 1 + (1 | a))), parm = c(v, sprintf("sd_%s|a", v)), method = "profile"))
  c1 <- ci("x")
  c2 <- ci("x2")
  expect_true(all(is.finite(c1)) && all(is.finite(c2)))
  expect_equal(unname(c2) * 1e-6, unname(c1), tolerance = 1e-7)
})

test_that("the zero-inflated adaptive quadrature profile with (x | a) runs on the fit's Z*", {
  # The fit maximizes the quadrature on the centred and scaled Z*, which
  # is not invariant to the basis of two effects: the profile engine
  # rebuilt on the user's Z gave another log-likelihood at the estimate, and
  # profile() stopped with "the model could not be rebuilt from the fit".
  d <- two_part_units_data()
  args <- list(family = poisson, ziformula = ~1, nAGQ = 3)
  ci <- two_part_units_ci(d, "yc ~ X + (X | a)", "x", args)
  expect_true(all(is.finite(ci)))
  fit <- suppressWarnings(glmm(yc ~ x + (x | a), data = d, family = poisson, ziformula = ~1,
                               nAGQ = 3))
  est <- c(fixef(fit)[["x"]], attr(VarCorr(fit)$a, "stddev")[["x"]])
  expect_true(all(ci[c("x", "sd_x|a"), 1L] < est & est < ci[c("x", "sd_x|a"), 2L]))
  # x * 1e-6 - 5: the far-off fit stops about 1e-7 short of the optimum
  # (as the one-factor quadrature's does), so its limits agree to 1e-5.
  cv <- two_part_units_ci(d, "yc ~ X + (X | a)", "x2", args)
  expect_equal(unname(cv[c("x2", "sd_x2|a"), ]) * 1e-6, unname(ci[c("x", "sd_x|a"), ]),
               tolerance = 1e-5)
})

test_that("the rotated block map of adaptive quadrature profiles (C++) is the LQ map and its Jacobian", {
  set.seed(3)
  for (s in 2:3) {
    at <- which(lower.tri(diag(s), diag = TRUE), arr.ind = TRUE)
    at <- at[order(at[, 2L], at[, 1L]), , drop = FALSE]
    C <- qr.Q(qr(matrix(rnorm(s * s), s)))
    L <- matrix(0, s, s)
    L[at] <- rnorm(nrow(at))
    diag(L) <- abs(diag(L)) + 0.1
    lq <- glmmgee:::lq_blocks(t(C) %*% L, s)
    m <- glmmgee:::cpp_lq_rotate(t(C), L[at], at, TRUE)
    expect_equal(m$lambda, lq$L[at], tolerance = 1e-13)
    expect_equal(m$J, glmmgee:::lq_jacobian(L, lq$L, lq$W, at), tolerance = 1e-12)
    # a standard deviation held at 0: no derivative
    L[s, s] <- 0
    expect_null(glmmgee:::cpp_lq_rotate(t(C), L[at], at, TRUE)$J)
  }
  expect_error(glmmgee:::cpp_lq_rotate(diag(2), c(1, 0, 1), matrix(1L, 2, 2), TRUE), "sizes")
})

test_that("the correlation of a slope far from zero is explained where it prints as 1", {
  d <- two_part_units_data()
  fit <- glmm(yb ~ x2 + (x2 | a), data = d, family = binomial, nAGQ = 1)
  expect_message(ci <- confint(fit, parm = "cor_x2.(Intercept)|a", method = "profile"),
                 "random intercept at x2 = 0.*Centre x2 \\(e.g. x2 \\+ 5\\)")
  # the limits themselves: within 1e-9 of 1 and ordered, not NA
  expect_true(all(is.finite(ci)) && all(ci <= 1) && all(1 - ci < 1e-9) && ci[1] <= ci[2])
  # no message where the correlation does not print as 1
  f0 <- glmm(yb ~ x + (x | a), data = d, family = binomial, nAGQ = 1)
  expect_silent(suppressWarnings(confint(f0, parm = "cor_x.(Intercept)|a", method = "profile")))
})
