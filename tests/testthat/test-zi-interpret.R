# standardize() and marginal_coefs() of two-part models on the response
# scale: the mean of y integrated over the random effect, checked against
# numerical integration with stats::integrate().

test_that("standardized means of zero-inflated and hurdle fits are the integrals of the mean of y over the random effect", {
  skip_if_not_installed("glmmTMB")
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  d <- e$Salamanders
  f <- count ~ spp + mined + (1 | site)
  fits <- list(zi = glmm(f, data = d, ziformula = ~ mined, family = poisson, nAGQ = 1),
               hurdle = glmm(f, data = d, ziformula = ~ mined, family = truncated_nbinom2, nAGQ = 1))
  for (k in names(fits)) {
    fit <- fits[[k]]
    st <- standardize(fit, "mined")
    sd_b <- sqrt(fit$D[1])
    for (v in c("yes", "no")) {
      nd <- d
      nd$mined <- factor(v, levels = levels(d$mined))
      eta <- predict(fit, nd, type = "link", re.form = NA)
      pz <- predict(fit, nd, type = "zprob", re.form = NA)
      th <- if (k == "hurdle") predict(fit, nd, type = "disp")
      mean_y <- function(b) vapply(b, function(bb) {
        mu <- exp(eta + bb)
        cm <- if (k == "zi") mu else mu / (1 - (th / (th + mu))^th)
        mean((1 - pz) * cm)
      }, 0) * dnorm(b, 0, sd_b)
      ref <- integrate(mean_y, -12 * sd_b, 12 * sd_b, rel.tol = 1e-10)$value
      expect_equal(st$estimate[st$quantity == "mean" & st$value == v], ref, tolerance = 1e-7,
                   label = paste(k, v))
    }
    expect_true(all(is.finite(st$std.error)) && all(st$std.error > 0))
  }
  # With species and mining additive on the log scale of the mean of y, the
  # marginal coefficient of mining is exactly the log of the standardized ratio.
  mc <- marginal_coefs(fits$zi)
  st <- standardize(fits$zi, "mined")
  expect_equal(unname(exp(coef(mc)[["minedno"]])), st$estimate[st$quantity == "ratio"],
               tolerance = 1e-8)
  expect_true(all(is.finite(sqrt(diag(vcov(mc))))))
})

test_that("what rebuilds an engine without the zero or dispersion parts refuses two-part fits; profiles rebuild the two-part engine", {
  set.seed(11)
  d <- data.frame(g = factor(rep(1:30, each = 6)), x = rnorm(180))
  b <- rnorm(30, 0, 0.6)
  d$y <- ifelse(runif(180) < 0.3, 0L, rpois(180, exp(0.5 + 0.4 * d$x + b[d$g])))
  fit <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ 1, family = poisson, nAGQ = 3)
  expect_error(ranef(fit, type = "mean", nAGQ = 7), "zero-inflated")
  expect_true(all(is.finite(confint(fit, method = "Wald")[, 1])))
  # Profiles rebuild the fit's own engine, zero part included
  # (profile_engine()): with the count slope held at a limit by an offset the
  # refit's logLik is the fit's minus qchisq(0.95, 1) / 2.
  ci <- confint(fit, method = "profile")
  expect_identical(rownames(ci), c("(Intercept)", "x", "zi.(Intercept)", "sd_(Intercept)|g"))
  expect_true(all(is.finite(ci)))
  for (lim in ci["x", ]) {
    r <- glmm(y ~ 1 + offset(lim * x) + (1 | g), data = d, ziformula = ~ 1, family = poisson,
              nAGQ = 3)
    expect_equal(as.numeric(logLik(fit)) - as.numeric(logLik(r)), qchisq(0.95, 1) / 2,
                 tolerance = 1e-5)
  }
})
