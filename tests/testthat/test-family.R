# The family classes in C++ against R's own family objects and densities.

test_that("mean model matches stats family objects", {
  eta <- c(-40, -8, -1.3, 0, 0.7, 5, 30)
  for (fam in list(binomial("logit"), binomial("probit"), binomial("cloglog"),
                   poisson("log"), gaussian())) {
    r <- fam_eval(fam, rep(0, length(eta)), rep(1, length(eta)), eta)
    expect_equal(r$mu, fam$linkinv(eta), tolerance = 1e-12, info = fam$link)
    expect_equal(r$mu_eta, fam$mu.eta(eta), tolerance = 1e-10, info = fam$link)
    ok <- r$mu > 0 & r$mu < 1 | fam$family != "binomial"
    expect_equal(r$variance[ok], fam$variance(r$mu)[ok], tolerance = 1e-12)
  }
})

test_that("log-likelihoods include all normalizing constants", {
  set.seed(1)
  eta <- rnorm(20)
  m <- sample(1:6, 20, TRUE); s <- rbinom(20, m, 0.4)
  for (lk in c("logit", "probit", "cloglog")) {
    fam <- binomial(lk)
    r <- fam_eval(fam, s / m, m, eta)
    expect_equal(r$loglik, dbinom(s, m, fam$linkinv(eta), log = TRUE), tolerance = 1e-10)
  }
  y <- rpois(20, 3)
  r <- fam_eval(poisson(), y, rep(1, 20), eta)
  expect_equal(r$loglik, dpois(y, exp(eta), log = TRUE), tolerance = 1e-10)
  yg <- rnorm(20); w <- runif(20, 0.5, 2); sig <- 1.7
  r <- fam_eval(gaussian(), yg, w, eta, log(sig))
  expect_equal(r$loglik, dnorm(yg, eta, sig / sqrt(w), log = TRUE), tolerance = 1e-10)
})

test_that("eta-derivatives agree with numerical derivatives", {
  eta <- c(-12, -3.1, -0.4, 0.2, 1.9, 4.4, 9)
  n <- length(eta)
  cases <- list(list(binomial("logit"), rep(c(0.25, 1), length.out = n), rep(4, n)),
                list(binomial("probit"), rep(c(0.25, 1, 0), length.out = n), rep(4, n)),
                list(binomial("cloglog"), rep(c(0.5, 0, 1), length.out = n), rep(2, n)),
                list(poisson(), rep(c(0, 3, 7), length.out = n), rep(1, n)),
                list(gaussian(), rnorm(n), runif(n, 1, 2)))
  for (cs in cases) {
    fam <- cs[[1]]; y <- cs[[2]]; wt <- cs[[3]]
    f <- function(k) function(e) fam_eval(fam, y, wt, e, 0.3)[[k]]
    r <- fam_eval(fam, y, wt, eta, 0.3)
    expect_equal(r$d1, num_d(f("loglik"), eta), tolerance = 1e-6, info = fam$link)
    expect_equal(r$d2, num_d(f("d1"), eta), tolerance = 1e-6, info = fam$link)
    expect_equal(r$d3, num_d(f("d2"), eta), tolerance = 1e-5, info = fam$link)
  }
  # dispersion derivatives (gaussian, phi = log sigma)
  y <- rnorm(n); wt <- runif(n, 1, 2)
  g <- function(k) function(p) fam_eval(gaussian(), y, wt, eta, p)[[k]]
  r <- fam_eval(gaussian(), y, wt, eta, 0.3)
  expect_equal(r$dphi_l, num_d(g("loglik"), 0.3), tolerance = 1e-6)
  expect_equal(r$dphi_d1, num_d(g("d1"), 0.3), tolerance = 1e-6)
  expect_equal(r$dphi_d2, num_d(g("d2"), 0.3), tolerance = 1e-6)
})

test_that("extreme linear predictors stay finite", {
  eta <- c(-800, -50, 50, 800)
  for (lk in c("logit", "probit", "cloglog")) {
    r <- fam_eval(binomial(lk), c(1, 0, 1, 0), rep(1, 4), eta)
    expect_true(all(is.finite(unlist(r[c("d1", "d2", "d3")]))), info = lk)
  }
})

test_that("family argument accepts a function, an object or a name", {
  expect_identical(glmmgee:::resolve_family("poisson")$family_code,
                   glmmgee:::resolve_family(poisson)$family_code)
  expect_error(glmmgee:::resolve_family(poisson("sqrt")), "not supported")
  expect_error(glmmgee:::resolve_family("nosuchfamily"), "no family function")
  expect_error(glmmgee:::resolve_family(42), "'family' must be")
})

test_that("family names from other packages point to glmmgee's constructor", {
  skip_if_not_installed("MASS")
  d <- MASS::bacteria
  d$n <- rpois(nrow(d), 2)
  d$r <- factor(d$ap, ordered = TRUE)
  # As strings, in glmm() and gee()
  cases <- list(ordinal = "cumulative\\(\\)", negbin = "nbinom2\\(\\)", nb = "nbinom2\\(\\)",
                negative.binomial = "nbinom2\\(\\)", "Negative Binomial" = "nbinom2\\(\\)",
                zip = "poisson with ziformula", zinb = "nbinom2\\(\\) with ziformula",
                beta = "beta_family\\(\\)", nb1 = "nbinom1\\(\\)",
                hurdle = "truncated_poisson\\(\\)")
  for (nm in names(cases)) {
    expect_error(glmm(n ~ trt + (1 | ID), d, family = nm),
                 paste0("'family': \"", nm, "\" is not a family of glmmgee; use family = ", cases[[nm]]),
                 info = nm)
    expect_error(gee(n ~ trt, d, id = ID, family = nm), cases[[nm]], info = nm)
  }
  # As calls and names that do not exist, or that are base R's beta()
  expect_error(glmm(r ~ trt + (1 | ID), d, family = ordinal()),
               "'family': 'ordinal\\(\\)' is not a family of glmmgee; use family = cumulative\\(\\)")
  expect_error(glmm(r ~ trt + (1 | ID), d, family = ordinal), "use family = cumulative\\(\\)")
  expect_error(glmm(n ~ trt + (1 | ID), d, family = negbin()), "'negbin\\(\\)' .* nbinom2\\(\\)")
  expect_error(glmm(n ~ trt + (1 | ID), d, family = nb(link = "log")), "nbinom2\\(\\)")
  expect_error(glmm(n ~ trt + (1 | ID), d, family = zip), "poisson with ziformula")
  expect_error(glmm(n ~ trt + (1 | ID), d, family = beta), "'beta' is not a family of glmmgee; use family = beta_family\\(\\)")
  expect_error(glmm(n ~ trt + (1 | ID), d, family = beta()), "'beta\\(\\)' .* beta_family\\(\\)")
  expect_error(gee(n ~ trt, d, id = ID, family = negbin()), "nbinom2\\(\\)")
  expect_error(gee(r ~ trt, d, id = ID, family = ordinal), "cumulative\\(\\)")
  # MASS's family object of a fixed theta
  expect_error(glmm(n ~ trt + (1 | ID), d, family = MASS::negative.binomial(2)),
               "\"Negative Binomial\\(2\\)\" is not a family of glmmgee; use family = nbinom2\\(\\)")
  # Other errors in evaluating the family are left as they are
  expect_error(glmm(n ~ trt + (1 | ID), d, family = nosuchfamily()), "could not find function")
  expect_error(glmm(n ~ trt + (1 | ID), d, family = "nosuchfamily"), "no family function called")
  # The families glmmgee has still resolve
  expect_s3_class(glmmgee:::resolve_family(beta_family()), "family")
  expect_s3_class(glmmgee:::resolve_family("nbinom2"), "family")
})
