# The interpretation layer on the families with an estimated dispersion
# (nbinom2, Gamma with a log link): rate ratios from glmm and gee fits, and
# marginal coefficients and standardization against the log-link closed
# form E exp(eta + sigma Z) = exp(eta + sigma^2 / 2).

sim_overdispersed <- function() {
  cached("sim_overdispersed", {
    set.seed(808)
    M <- 60; ni <- 6
    d <- data.frame(id = factor(rep(seq_len(M), each = ni)), x = rnorm(M * ni),
                    trt = rep(rbinom(M, 1, 0.5), each = ni))
    eta <- 0.4 + 0.3 * d$x - 0.5 * d$trt + rnorm(M, 0, 0.7)[d$id]
    d$y <- rnbinom(nrow(d), mu = exp(eta), size = 1.5)
    d$yg <- rgamma(nrow(d), shape = 2.5, rate = 2.5 / exp(eta))
    d
  })
}

test_that("rate ratios on nbinom2 and Gamma(log) glmm and gee fits are exp of the coefficients", {
  d <- sim_overdispersed()
  fits <- list(
    nb_glmm = glmm(y ~ x + trt + (1 | id), data = d, family = nbinom2()),
    gamma_glmm = glmm(yg ~ x + trt + (1 | id), data = d, family = Gamma("log")),
    nb_gee = gee(y ~ x + trt, data = d, id = id, family = nbinom2(), corstr = "exchangeable"),
    gamma_gee = gee(yg ~ x + trt, data = d, id = id, family = Gamma("log"),
                    corstr = "exchangeable"))
  z <- qnorm(0.95)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    rr <- rate_ratios(f, level = 0.9)
    b <- f$coefficients[c("x", "trt")]
    se <- sqrt(diag(vcov(f)))[c("x", "trt")]
    expect_equal(rr$estimate, unname(exp(b)), label = nm)
    expect_equal(rr$conf.low, unname(exp(b - z * se)), label = nm)
    expect_equal(rr$conf.high, unname(exp(b + z * se)), label = nm)
    expect_identical(attr(rr, "measure"), if (grepl("^nb", nm)) "rate ratio" else "ratio of means")
    expect_identical(attr(rr, "view"), if (grepl("glmm", nm)) "conditional" else "marginal")
    expect_error(odds_ratios(f), "binary outcome.*rate_ratios")
  }
})

test_that("marginal_coefs and standardize for log-link NB and Gamma random intercepts: exp(eta + sigma^2/2)", {
  skip_if_not_installed("numDeriv")
  d <- sim_overdispersed()
  for (fam in list(nbinom2(), Gamma("log"))) {
    resp <- if (fam$family == "nbinom2") "y" else "yg"
    fit <- glmm(reformulate(c("x", "trt", "(1 | id)"), resp), data = d, family = fam)
    s2 <- fit$D[1, 1]
    mc <- marginal_coefs(fit)
    expect_equal(coef(mc), fixef(fit) + c(s2 / 2, 0, 0), tolerance = 1e-10)
    # delta method of the closed form: the dispersion parameter does not enter
    f <- function(th) th[1:3] + c(th[4]^2 / 2, 0, 0)
    J <- numDeriv::jacobian(f, unname(fit$theta))
    expect_equal(unname(vcov(mc)), unname(J %*% vcov(fit, full = TRUE) %*% t(J)),
                 tolerance = 1e-6)
    expect_equal(rate_ratios(mc)$estimate, unname(exp(fixef(fit)[-1])), tolerance = 1e-10)
    st <- standardize(fit, "trt", se = "none")
    X <- model.matrix(~ x + trt, d)
    hand <- vapply(0:1, function(v) {
      X[, "trt"] <- v
      mean(exp(drop(X %*% fixef(fit)) + s2 / 2))
    }, 1)
    expect_equal(st$estimate[1:2], hand, tolerance = 1e-10)
    expect_equal(st$estimate[4], exp(fixef(fit)[["trt"]]), tolerance = 1e-10)
    stc <- standardize(fit, "trt", re = "conditional", se = "none")
    expect_equal(stc$estimate[1:2], hand * exp(-s2 / 2), tolerance = 1e-10)
  }
})

test_that("NB glmm bootstrap refits start from theta (the family's own dispersion name)", {
  d <- sim_overdispersed()
  fit <- glmm(y ~ x + trt + (1 | id), data = d, family = nbinom2())
  rows <- split(seq_len(nrow(d)), d$id)
  th <- glmmgee:::refit_clusters(fit, rows, seq_along(rows))
  expect_equal(th, unname(fit$theta), tolerance = 1e-4)
})
