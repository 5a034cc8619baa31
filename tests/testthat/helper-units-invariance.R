# Checks that a fit's numbers do not depend on a covariate's units and
# location (x, x * 1e-6 - 5, x + 1e4), shared by the units-invariance tests
# of several routes (test-covstruct-units.R, test-known-units.R,
# test-glmm-nested-units.R, test-derived-se-units.R).

# Estimates, standard errors and log-likelihood of the coefficient `v` of
# a fit, in the units of x (scale `sc` of the covariate, x = v / sc).
slope_summary <- function(fit, v, sc = 1, ll_shift = 0) {
  c(b = unname(fixef(fit)[v]) * sc, se = unname(sqrt(diag(vcov(fit)))[v]) * sc,
    ll = as.numeric(logLik(fit)) + ll_shift)
}

# Each of the three to its own relative tolerance (expect_equal() on the
# vector would let the log-likelihood's size hide a standard error's error).
expect_summary <- function(object, expected, tolerance) {
  for (k in names(expected))
    expect_equal(object[[k]], expected[[k]], tolerance = tolerance, label = k)
}

units_invariance_data <- function() {
  units_panel(function(d, b) {
    mu <- exp(0.2 + 0.3 * d$x + 0.3 * (d$trt == "1") + 0.5 * b)
    d$yz <- ifelse(runif(nrow(d)) < 0.3, 0, rpois(nrow(d), mu))
    d$yo <- cut(-0.3 + 0.6 * d$x + 0.5 * (d$trt == "1") + b + rlogis(nrow(d)),
                c(-Inf, -1, 0.5, Inf), labels = c("a", "b", "c"), ordered_result = TRUE)
    d$yg <- d$x + 0.3 * (d$trt == "1") + b + rnorm(nrow(d))
    d
  })
}

units_derived_se <- function(fit, nd) {
  st <- as.data.frame(suppressWarnings(standardize(fit, "trt", se = "delta")))
  out <- list(standardize = st$std.error)
  if (!inherits(fit, "glmmgee_glmm_ordinal")) {
    out$marginal <- unname(sqrt(diag(vcov(marginal_coefs(fit))))["trt1"])
  }
  if (!inherits(fit, c("glmmgee_glmm_ordinal", "glmmgee_glmm_zi")))
    out$link <- unname(predict(fit, newdata = nd, se.fit = TRUE)$se.fit)
  out
}

# x, x * 1e-6 - 5 and x + 1e4 give the same derived standard errors; the
# well-scaled fit keeps no standardized covariance (its results are the
# plain G V G' of before), the other two do.
expect_units_invariant <- function(make, d, tolerance = 1e-7) {
  nd <- d[c(1, 7, 33, 120, 250, 300), ]
  fits <- lapply(c("x", "x2", "x3"), function(v) suppressWarnings(make(v)))
  se <- lapply(fits, units_derived_se, nd = nd)
  for (k in names(se[[1]])) {
    expect_equal(se[[2]][[k]], se[[1]][[k]], tolerance = tolerance, info = paste("x * 1e-6 - 5:", k))
    expect_equal(se[[3]][[k]], se[[1]][[k]], tolerance = tolerance, info = paste("x + 1e4:", k))
  }
  expect_null(fits[[1]]$cov_star)
  expect_false(is.null(fits[[2]]$cov_star))
  expect_false(is.null(fits[[3]]$cov_star))
  fits
}

units_formula <- function(lhs, v, re = "(1 | id)") as.formula(paste(lhs, "~", v, "+ trt +", re))
