# The families and links of src/families/families-extra.h (nbinom1, beta,
# beta-binomial, Gamma inverse/identity, gaussian log, binomial cauchit):
# log-likelihoods against R's densities, derivatives in eta and in the log
# dispersion against numerical ones, and the R family objects.

dbetabinom <- function(s, n, a, b) lchoose(n, s) + lbeta(s + a, n - s + b) - lbeta(a, b)

test_that("log-likelihoods equal R's densities, glmmTMB's parameterizations", {
  eta <- c(-3.5, -1.2, 0, 0.8, 2.4, 4)
  wt <- c(1, 2, 0.5, 1, 1.5, 1)
  y <- c(0, 1, 2, 9, 33, 150)
  for (phi in c(-4, -0.5, 0.7, 3, 8)) {
    p <- exp(phi); mu <- exp(eta)
    expect_equal(fam_eval(nbinom1(), y, wt, eta, phi)$loglik,
                 wt * dnbinom(y, size = mu / p, mu = mu, log = TRUE), tolerance = 1e-10)
    yb <- c(1e-4, 0.1, 0.35, 0.5, 0.9, 0.9999)
    m <- plogis(eta)
    expect_equal(fam_eval(beta_family(), yb, wt, eta, phi)$loglik,
                 wt * dbeta(yb, m * p, (1 - m) * p, log = TRUE), tolerance = 1e-9)
    n <- c(1, 5, 12, 40, 200, 3)
    s <- c(0, 2, 12, 7, 150, 3)
    expect_equal(fam_eval(betabinomial(), s / n, n, eta, phi)$loglik,
                 dbetabinom(s, n, m * p, (1 - m) * p), tolerance = 1e-9)
  }
  yg <- c(0.01, 0.3, 1, 2.5, 40, 300)
  etap <- c(0.05, 0.4, 1, 2, 7, 30)
  for (phi in c(-2, 0.3, 4)) {
    nu <- exp(phi)
    expect_equal(fam_eval(Gamma("inverse"), yg, wt, etap, phi)$loglik,
                 wt * dgamma(yg, shape = nu, rate = nu * etap, log = TRUE), tolerance = 1e-10)
    expect_equal(fam_eval(Gamma("identity"), yg, wt, etap, phi)$loglik,
                 wt * dgamma(yg, shape = nu, rate = nu / etap, log = TRUE), tolerance = 1e-10)
    yn <- c(-1, 0, 0.5, 2, 10, 60)
    expect_equal(fam_eval(gaussian("log"), yn, wt, eta, phi)$loglik,
                 dnorm(yn, exp(eta), exp(phi) / sqrt(wt), log = TRUE), tolerance = 1e-10)
  }
  n <- c(1, 5, 12, 40, 200, 3); s <- c(0, 2, 12, 7, 150, 3)
  ec <- c(-300, -8, -0.4, 0.3, 9, 500)
  expect_equal(fam_eval(binomial("cauchit"), s / n, n, ec)$loglik,
               dbinom(s, n, pcauchy(ec), log = TRUE), tolerance = 1e-10)
  # the tails do not cancel to log(0)
  expect_true(all(is.finite(fam_eval(binomial("cauchit"), c(1, 0), c(1, 1), c(-1e8, 1e8))$loglik)))
})

test_that("derivatives in eta and in the log dispersion agree with numerical ones", {
  eta <- c(-2.5, -0.7, 0.2, 1.1, 2.6)
  etap <- c(0.3, 0.8, 1.2, 2, 3)
  wt <- c(1, 0.5, 2, 1, 1.5)
  n <- c(3, 10, 25, 1, 70)
  cases <- list(
    list(nbinom1(), c(0, 1, 4, 12, 70), wt, eta),
    list(nbinom1(), c(0, 75, 150, 3, 900), wt, eta + 2),   # counts past the finite sums
    list(beta_family(), c(0.02, 0.3, 0.55, 0.8, 0.97), wt, eta),
    list(betabinomial(), c(0, 3, 25, 1, 33) / n, n, eta),
    list(betabinomial(), c(0, 80, 150, 1, 33) / c(1, 100, 180, 1, 70), c(1, 100, 180, 1, 70), eta),
    list(Gamma("inverse"), c(0.05, 0.6, 1.3, 9, 35), wt, etap),
    list(Gamma("identity"), c(0.05, 0.6, 1.3, 9, 35), wt, etap),
    list(gaussian("log"), c(-1, 0.6, 1.3, 4, 15), wt, eta),
    list(binomial("cauchit"), c(0, 3, 25, 1, 33) / n, n, eta * 3))
  for (cs in cases) for (phi in c(-1.5, 0.4, 2.5, 5)) {
    fam <- cs[[1]]; y <- cs[[2]]; w <- cs[[3]]; e <- cs[[4]]
    r <- fam_eval(fam, y, w, e, phi)
    f <- function(k) function(x) fam_eval(fam, y, w, x, phi)[[k]]
    g <- function(k) function(p) fam_eval(fam, y, w, e, p)[[k]]
    lab <- sprintf("%s(%s), phi = %g", fam$family, fam$link, phi)
    rel <- function(a, b) max(abs(a - b) / pmax(1, abs(a)))
    expect_lt(rel(r$d1, num_d(f("loglik"), e)), 1e-6, label = lab)
    expect_lt(rel(r$d2, num_d(f("d1"), e)), 1e-6, label = lab)
    expect_lt(rel(r$d3, num_d(f("d2"), e)), 1e-6, label = lab)
    expect_lt(rel(r$dphi_l, num_d(g("loglik"), phi)), 1e-6, label = lab)
    expect_lt(rel(r$dphi_d1, num_d(g("d1"), phi)), 1e-6, label = lab)
    expect_lt(rel(r$dphi_d2, num_d(g("d2"), phi)), 1e-6, label = lab)
  }
})

test_that("second and third derivatives in the log dispersion agree with numerical ones", {
  # What a dispersion formula with random effects needs (d2 l / dphi2,
  # d3 l / deta dphi2, d3 l / dphi3), for every family with a dispersion.
  eta <- c(-2.5, -0.7, 0.2, 1.1, 2.6)
  etap <- c(0.3, 0.8, 1.2, 2, 3)
  wt <- c(1, 0.5, 2, 1, 1.5)
  n <- c(3, 10, 25, 1, 70)
  cases <- list(
    list(gaussian(), c(-1, 0.6, 1.3, 4, 15), wt, eta),
    list(gaussian("log"), c(-1, 0.6, 1.3, 4, 15), wt, eta),
    list(nbinom2(), c(0, 1, 4, 12, 70), wt, eta),
    list(nbinom2(), c(0, 75, 150, 3, 900), wt, eta + 2),
    list(nbinom1(), c(0, 1, 4, 12, 70), wt, eta),
    list(nbinom1(), c(0, 75, 150, 3, 900), wt, eta + 2),
    list(Gamma("log"), c(0.05, 0.6, 1.3, 9, 35), wt, eta),
    list(Gamma("inverse"), c(0.05, 0.6, 1.3, 9, 35), wt, etap),
    list(Gamma("identity"), c(0.05, 0.6, 1.3, 9, 35), wt, etap),
    list(beta_family(), c(0.02, 0.3, 0.55, 0.8, 0.97), wt, eta),
    list(betabinomial(), c(0, 3, 25, 1, 33) / n, n, eta),
    list(betabinomial(), c(0, 80, 150, 1, 33) / c(1, 100, 180, 1, 70), c(1, 100, 180, 1, 70), eta))
  for (cs in cases) for (phi in c(-1.5, 0.4, 2.5, 5)) {
    fam <- cs[[1]]; y <- cs[[2]]; w <- cs[[3]]; e <- cs[[4]]
    r <- fam_eval(fam, y, w, e, phi)
    g <- function(k) function(p) fam_eval(fam, y, w, e, p)[[k]]
    lab <- sprintf("%s(%s), phi = %g", fam$family, fam$link, phi)
    rel <- function(a, b) max(abs(a - b) / pmax(1, abs(a)))
    expect_true(r$has_dphi2, label = lab)
    expect_lt(rel(r$dphi2_l, num_d(g("dphi_l"), phi)), 1e-6, label = lab)
    expect_lt(rel(r$dphi2_d1, num_d(g("dphi_d1"), phi)), 1e-6, label = lab)
    expect_lt(rel(r$dphi3_l, num_d(g("dphi2_l"), phi)), 1e-6, label = lab)
  }
  # Families without a dispersion have none.
  expect_false(fam_eval(poisson(), c(0, 2), c(1, 1), c(0, 1))$has_dphi2)
})

test_that("near the Poisson and binomial limits the dispersion derivatives keep their precision", {
  # Counts above 60 at a size of up to exp(40), and beta-binomial trials
  # above 60 at a precision of up to exp(30): the polygamma differences
  # there were two nearly equal function values subtracted, and the
  # curvature in the log dispersion (l_pp, l_ppp) lost every digit.
  eta <- c(-2.5, -0.7, 0.2, 1.1, 2.6) + 2
  wt <- c(1, 0.5, 2, 1, 1.5)
  n <- c(1, 100, 180, 1, 70)
  big <- c(15, 20, 25, 30, 35, 40)
  cases <- list(
    list(nbinom2(), c(0, 75, 150, 3, 900), wt, eta, big),
    list(nbinom2(), c(0, 75.5, 150.25, 3, 900.7), wt, eta, big),
    list(nbinom1(), c(0, 75, 150, 3, 900), wt, eta, -big),
    list(nbinom1(), c(0, 75.5, 150.25, 3, 900.7), wt, eta, -big),
    list(betabinomial(), c(0, 80, 150, 1, 33) / n, n, eta - 2, big[1:4]))
  for (cs in cases) for (phi in cs[[5]]) {
    fam <- cs[[1]]; y <- cs[[2]]; w <- cs[[3]]; e <- cs[[4]]
    r <- fam_eval(fam, y, w, e, phi)
    g <- function(k) function(p) fam_eval(fam, y, w, e, p)[[k]]
    lab <- sprintf("%s, y = %s, phi = %g", fam$family, paste(y, collapse = " "), phi)
    err <- function(a, b) max(abs(a - b) / pmax(1, abs(a)))
    # (a wider step for the log-likelihood, a sum of terms up to 6,000)
    expect_lt(err(r$dphi_l, num_d(g("loglik"), phi, h = 1e-4)), 1e-6, label = lab)
    expect_lt(err(r$d1, num_d(function(x) fam_eval(fam, y, w, x, phi)$loglik, e)), 1e-6,
              label = lab)
    expect_lt(err(r$dphi2_l, num_d(g("dphi_l"), phi)), 1e-6, label = lab)
    expect_lt(err(r$dphi2_d1, num_d(g("dphi_d1"), phi)), 1e-6, label = lab)
    expect_lt(err(r$dphi3_l, num_d(g("dphi2_l"), phi)), 1e-6, label = lab)
  }
})

test_that("Gamma with inverse or identity link: a mean outside (0, Inf) is a NaN, not a crash", {
  r <- fam_eval(Gamma("inverse"), c(1, 1), c(1, 1), c(-0.5, 0))
  expect_true(all(is.nan(r$loglik)))
  r <- fam_eval(Gamma("identity"), c(1, 1), c(1, 1), c(-0.5, 0))
  expect_true(all(is.nan(r$loglik)))
})

test_that("family objects: glmmTMB's names, the variance at phi, clear errors", {
  expect_identical(nbinom1()$family, "nbinom1")
  expect_identical(beta_family()$family, "beta")
  expect_identical(betabinomial()$family, "betabinomial")
  expect_identical(nbinom1()$dispersion, "phi")
  expect_error(nbinom1()$variance(1), "phi is not known")
  f <- glmmgee:::phi_family("nbinom1", "log", 2)
  expect_equal(f$variance(3), 9)
  f <- glmmgee:::phi_family("beta", "logit", 4)
  expect_equal(f$variance(0.5), 0.25 / 5)
  expect_error(nbinom1("sqrt"), "'link': nbinom1\\(\\) supports only the \"log\" link")
  expect_error(beta_family("probit"), "'link': beta_family\\(\\) supports only")
  expect_error(betabinomial("cloglog"), "'link': betabinomial\\(\\) supports only")
  skip_if_not_installed("glmmTMB")
  # glmmTMB's own family objects resolve to the same engine classes
  expect_identical(glmmgee:::resolve_family(glmmTMB::nbinom1())$family_code,
                   glmmgee:::resolve_family(nbinom1())$family_code)
  expect_identical(glmmgee:::resolve_family(glmmTMB::beta_family())$family_code,
                   glmmgee:::resolve_family(beta_family())$family_code)
})

test_that("bad responses name the family and the problem", {
  g <- gl(5, 4); x <- seq_len(20)
  expect_error(glmm(c(0.5, 1.2, rep(0.3, 18)) ~ x + (1 | g), family = beta_family()),
               "beta response must lie strictly between 0 and 1; found 1.2")
  expect_error(glmm(c(0, 1, rep(0.3, 18)) ~ x + (1 | g), family = beta_family()),
               "strictly between 0 and 1; found 0")
  expect_error(glmm(c(1.5, rep(2, 19)) ~ x + (1 | g), family = nbinom1()),
               "nbinom1\\) response must be a count")
  expect_error(glmm(c(-1, rep(2, 19)) ~ x + (1 | g), family = Gamma("inverse")),
               "Gamma response must be positive")
  expect_error(glmm(c(2, rep(0.5, 19)) ~ x + (1 | g), family = betabinomial()),
               "binomial response must be in \\[0, 1\\]")
})

test_that("a degenerate response stops at once with one message for every family, in glmm() and gee()", {
  set.seed(1)
  d <- data.frame(g = factor(rep(1:10, each = 5)), x = rnorm(50))
  d$n <- 4
  cases <- list(
    list(family = binomial(), y = 0, what = "has no successes"),
    list(family = binomial(), y = 1, what = "has no failures"),
    list(family = binomial("log"), y = 1, what = "has no failures"),
    list(family = binomial("cauchit"), y = 0, what = "has no successes"),
    list(family = betabinomial(), y = 0, what = "has no successes", trials = TRUE),
    list(family = betabinomial(), y = 1, what = "has no failures", trials = TRUE),
    list(family = poisson(), y = 0, what = "is 0 for every observation"),
    list(family = nbinom2(), y = 0, what = "is 0 for every observation"),
    list(family = nbinom1(), y = 0, what = "is 0 for every observation"),
    list(family = gaussian(), y = 2.5, what = "is constant \\(2.5\\)"),
    list(family = gaussian("log"), y = 2.5, what = "is constant \\(2.5\\)"),
    list(family = Gamma("log"), y = 3, what = "is constant \\(3\\)"),
    list(family = Gamma("inverse"), y = 3, what = "is constant \\(3\\)"),
    list(family = beta_family(), y = 0.4, what = "is constant \\(0.4\\)"))
  for (cs in cases) {
    dd <- d
    dd$y <- cs$y
    fam <- cs$family
    label <- sprintf("%s(%s), y = %s", fam$family, fam$link, cs$y)
    pat <- paste0("the response '.*' ", cs$what, ".*: the ", fam$family, " model cannot be estimated")
    if (isTRUE(cs$trials)) {
      dd$s <- cs$y * dd$n
      expect_error(glmm(cbind(s, n - s) ~ x + (1 | g), data = dd, family = fam, nAGQ = 1), pat,
                   info = label)
      expect_error(gee(cbind(s, n - s) ~ x, data = dd, id = g, family = fam), pat, info = label)
    } else {
      t0 <- proc.time()[["elapsed"]]
      expect_error(glmm(y ~ x + (1 | g), data = dd, family = fam, nAGQ = 1), pat, info = label)
      expect_error(gee(y ~ x, data = dd, id = g, family = fam), pat, info = label)
      # At once: before any engine runs (beta with a constant response took
      # 80 s by Laplace).
      expect_lt(proc.time()[["elapsed"]] - t0, 5)
    }
  }
  # Zero-inflated and hurdle parts see the same table, named by the model.
  dz <- transform(d, y = 0)
  expect_error(glmm(y ~ x + (1 | g), data = dz, family = nbinom1(), ziformula = ~ 1),
               "is 0 for every observation: the zero-inflated nbinom1 model cannot be estimated")
  # Not degenerate: one positive count, a constant positive count for
  # poisson, and a constant response with a zero weight elsewhere is still
  # constant.
  d1 <- transform(d, y = 0); d1$y[3] <- 2
  expect_s3_class(suppressWarnings(glmm(y ~ 1 + (1 | g), data = d1, family = nbinom1(), nAGQ = 1)),
                  "glmmgee_glmm")
  db <- transform(d, y = 0.4); db$y[1] <- 0.7
  expect_error(glmm(y ~ x + (1 | g), data = db, family = beta_family(), nAGQ = 1,
                    weights = as.numeric(seq_len(50) > 1)), "is constant \\(0.4\\)")
})

test_that("Gamma inverse and identity fits do not depend on the response's units (glmmTMB in both)", {
  set.seed(3)
  M <- 30; ni <- 8
  d <- data.frame(g = factor(rep(seq_len(M), each = ni)), x = runif(M * ni))
  eta <- 0.5 + 0.4 * d$x + rnorm(M, 0, 0.1)[d$g]
  d$y <- rgamma(nrow(d), shape = 4, rate = 4 * eta)   # mean 1 / eta
  d$y1000 <- d$y * 1000
  n <- nrow(d)
  for (lk in c("inverse", "identity")) {
    fam <- Gamma(lk)
    a <- glmm(y ~ x + (1 | g), data = d, family = fam, nAGQ = 1)
    b <- glmm(y1000 ~ x + (1 | g), data = d, family = fam, nAGQ = 1)
    k <- if (lk == "inverse") 1 / 1000 else 1000
    expect_length(b$optinfo$warnings, 0L)
    # logLik falls by exactly n log(1000) (the Gamma density's Jacobian).
    expect_equal(as.numeric(logLik(a) - logLik(b)), n * log(1000), tolerance = 1e-9)
    expect_equal(unname(fixef(b)), unname(fixef(a)) * k, tolerance = 1e-5)
    expect_equal(sqrt(b$D[1, 1]), sqrt(a$D[1, 1]) * k, tolerance = 1e-4)
    expect_equal(sigma(b), sigma(a), tolerance = 1e-5)
    expect_equal(unname(sqrt(diag(vcov(b)))), unname(sqrt(diag(vcov(a)))) * k, tolerance = 1e-4)
    # Several terms (the sparse Laplace route) alike.
    d$h <- factor(rep(1:8, length.out = n))
    # (h has no variance in these data: a verified singular fit in both units.)
    a2 <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), data = d, family = fam))
    b2 <- suppressWarnings(glmm(y1000 ~ x + (1 | g) + (1 | h), data = d, family = fam))
    expect_equal(as.numeric(logLik(a2) - logLik(b2)), n * log(1000), tolerance = 1e-8)
    expect_equal(unname(fixef(b2)), unname(fixef(a2)) * k, tolerance = 1e-4)
    skip_if_not_installed("glmmTMB")
    # glmmTMB from its default start may stop (an eigen() of a Hessian
    # with NaN on this inverse-link model); from ours it converges. At its
    # optimum or higher in both units (Laplace both).
    tmb <- function(f, st) suppressWarnings(tryCatch(
      glmmTMB::glmmTMB(f, data = d, family = fam, start = list(beta = st)),
      error = function(e) NULL))
    ta <- tmb(y ~ x + (1 | g), unname(fixef(a)))
    tb <- tmb(y1000 ~ x + (1 | g), unname(fixef(b)))
    for (pair in list(list(a, ta), list(b, tb))) {
      if (is.null(pair[[2]]) || !is.finite(as.numeric(logLik(pair[[2]])))) next
      expect_gt(as.numeric(logLik(pair[[1]])) - as.numeric(logLik(pair[[2]])), -1e-4)
      expect_equal(unname(fixef(pair[[1]])), unname(glmmTMB::fixef(pair[[2]])$cond),
                   tolerance = 1e-3)
    }
  }
})
