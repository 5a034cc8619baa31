# Negative binomial dispersion at its Poisson limit: a dispersion formula
# that reaches the limit in part of the rows (the engine keeps the limit
# finite, zero counts driven to the opposite limit are named), structured
# and unstructured terms at the limit, said in a warning and recorded
# rather than reported as doubtful convergence.

test_that("a dispersion formula beyond the Poisson limit in most rows, the rest pinning it, converges", {
  # Poisson counts, log dispersion linear in an exponential x: the optimum
  # is finite, with 440 of 480 rows beyond the limit. The previous engine
  # overflowed there (exp(log theta) > 1.8e308, NB1's k^3 > 1.8e308) and
  # stopped with "gradient not finite" 0.7-1.0 below this optimum.
  d <- displim_mixed(5, stats::rexp, mixed = FALSE)
  for (fam in list(nbinom2(), nbinom1())) {
    r <- fit_quiet(y ~ z + (1 | g), data = d, ziformula = ~1, dispformula = ~x, family = fam)
    f <- r$fit
    what <- fam$family
    expect_identical(r$warnings, character(), info = what)
    expect_false(f$optinfo$dispersion_limit, info = what)
    expect_true(all(is.finite(sqrt(diag(f$cov_theta)))), info = what)
    expect_lt(f$optinfo$max_grad, 1e-4)
    ld <- drop(cbind(1, d$x) %*% f$theta[f$aux$disp_index])
    beyond <- if (fam$family == "nbinom1") ld < -30 else ld > 30
    expect_gt(sum(beyond), 400)
    expect_gt(as.numeric(logLik(f)), if (fam$family == "nbinom1") -738.43 else -738.51)
    # The same optimum in other units of x.
    d2 <- transform(d, x = x * 1000)
    f2 <- suppressWarnings(glmm(y ~ z + (1 | g), data = d2, ziformula = ~1, dispformula = ~x,
                                family = fam))
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f)), tolerance = 1e-8, info = what)
    expect_equal(unname(f2$theta[f2$aux$disp_index] * c(1, 1000)),
                 unname(f$theta[f$aux$disp_index]), tolerance = 1e-4, info = what)
    expect_equal(unname(sqrt(diag(vcov(f2)))), unname(sqrt(diag(vcov(f)))), tolerance = 1e-4,
                 info = what)
  }
})

test_that("glmmTMB's likelihood at that optimum, with the rows beyond the limit held at log size 14", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("TMB")
  # glmmTMB's own fit stops with "false convergence" and an NA logLik, and
  # its objective is NaN at our estimates (theta overflows). Rows whose log
  # size is beyond 14 are Poisson to about 1e-6 (terms ((y - mu)^2 - y) /
  # (2 size)): clamping x so that their log size is 14 gives nearly the
  # same likelihood, which glmmTMB can evaluate (beyond 17 its own NB
  # loses digits: 2e-6 off at 17, 1.5e-1 at 25); its gradient is ~0 there.
  d <- displim_mixed(5, stats::rexp, mixed = FALSE)
  for (fam in c("nbinom2", "nbinom1")) {
    # (Laplace, as glmmTMB; the default here is adaptive quadrature.)
    f <- suppressWarnings(glmm(y ~ z + (1 | g), data = d, ziformula = ~1, dispformula = ~x,
                               family = get(fam, asNamespace("glmmgee"))(), nAGQ = 1))
    ab <- unname(f$theta[f$aux$disp_index])
    # log size: nbinom2's log theta = a + b x; nbinom1's size mu / phi, so
    # clamp its log phi = a + b x at -14 - 3 (log size at least 14 where eta > -3).
    # (The slope's sign sends the large x to the limit in both fits.)
    lim <- if (fam == "nbinom2") 14 else -14 - 3
    expect_true(if (fam == "nbinom2") ab[2] > 0 else ab[2] < 0)
    dc <- d
    dc$x <- pmin(d$x, (lim - ab[1]) / ab[2])
    m <- glmmTMB::glmmTMB(y ~ z + (1 | g), data = dc, ziformula = ~1, dispformula = ~x,
                          family = get(fam, asNamespace("glmmTMB"))(), doFit = FALSE)
    obj <- TMB::MakeADFun(data = m$data.tmb, parameters = m$parameters, map = m$mapArg,
                          random = m$randomArg, DLL = "glmmTMB", silent = TRUE)
    th <- unname(f$theta)
    # glmmTMB's order: beta, betazi, betad, log SD.
    par <- c(th[1:2], th[4], th[5:6], log(th[3]))
    expect_equal(as.numeric(-obj$fn(par)), as.numeric(logLik(f)), tolerance = 3e-8, info = fam)
    expect_lt(max(abs(obj$gr(par))), 1e-3)
  }
})

test_that("a zero count driven to the opposite limit is named, and the fit is the others' zero-inflated Poisson", {
  # Poisson counts: every row's dispersion runs to the Poisson limit except
  # row 337, a zero far out in x, whose dispersion runs to the opposite
  # limit (nbinom2 theta -> 0, nbinom1 phi -> Inf), where its count part
  # puts all its mass at 0. That row then contributes nothing: the fit is
  # the zero-inflated Poisson fit without it. Before: "gradient not finite"
  # (or "doubtful convergence") and no standard errors.
  d <- displim_mixed(4, stats::rexp, mixed = FALSE)
  ref <- suppressWarnings(glmm(y ~ z + (1 | g), data = d[-337, ], ziformula = ~1,
                               family = poisson()))
  for (fam in list(nbinom2(), nbinom1())) {
    r <- fit_quiet(y ~ z + (1 | g), data = d, ziformula = ~1, dispformula = ~x, family = fam)
    f <- r$fit
    what <- fam$family
    expect_true(f$optinfo$dispersion_limit, info = what)
    expect_length(r$warnings, 1L)
    expect_match(r$warnings, "479 of 480 rows", fixed = TRUE, info = what)
    expect_match(r$warnings, "opposite limit .* in 1 row with a zero count \\(row 337\\)", info = what)
    expect_false(any(grepl("doubtful|not finite|not negative definite", r$warnings)), info = what)
    expect_true(all(is.na(disp_se(f))), info = what)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(ref)), tolerance = 1e-8, info = what)
    expect_equal(unname(fixef(f)), unname(fixef(ref)), tolerance = 1e-5, info = what)
    k <- 1:4
    expect_equal(unname(sqrt(diag(f$cov_theta))[k]), unname(sqrt(diag(ref$cov_theta))[k]),
                 tolerance = 1e-5, info = what)
  }
})

test_that("the Poisson-limit branch leaves a cluster's runaway mode search as it was", {
  # A Laplace ZINB1 with a zero-part site intercept on Salamanders (which
  # warns of non-convergence, as before): one cluster's mode search runs
  # eta beyond 700, where the branch gave -Inf (mu overflows) instead of
  # the rejected NaN of the exact expressions, and the reported logLik
  # became -Inf in an intermediate build.
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  f <- suppressWarnings(glmm(count ~ mined + (1 | site), data = Salamanders, family = nbinom1,
                             ziformula = ~ 1 + (1 | site)))
  expect_true(is.finite(as.numeric(logLik(f))))
})


test_that("nbinom1 with ar1() on Poisson data: phi at its boundary 0 is verified and said, not doubtful convergence", {
  # Before: "doubtful convergence: scaled gradient 1.8" at phi = 7e-11, a
  # logLik equal to the Poisson fit's (glmmTMB: NA, non-positive-definite
  # Hessian). log(phi) -> -Inf is a boundary, like a zero standard deviation.
  d <- ar1_poisson_like()
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + ar1(time + 0 | site), data = d, family = nbinom1()),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("converge", w)))
  expect_true(any(grepl("dispersion phi is estimated at 0.*verified: restarts", w)))
  expect_true(f$optinfo$boundary_check$dispersion_at_zero)
  expect_true(f$optinfo$boundary_check$verified)
  expect_false(f$singular)
  p <- glmm(y ~ x + ar1(time + 0 | site), data = d, family = poisson)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(p)), tolerance = 1e-7)
  expect_equal(unname(fixef(f)), unname(fixef(p)), tolerance = 1e-4)
  # The several-term (sparse) route says the same.
  w <- character()
  g <- withCallingHandlers(glmm(y ~ x + ar1(time + 0 | site) + (1 | blk), data = d, family = nbinom1()),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("converge", w)))
  expect_true(g$optinfo$boundary_check$dispersion_at_zero)
  # Overdispersed counts: phi is interior, no such warning.
  set.seed(5)
  d$y2 <- rnbinom(150, mu = exp(1 + rnorm(25, 0, 0.5)[as.integer(d$site)]), size = 2)
  h <- glmm(y2 ~ x + ar1(time + 0 | site), data = d, family = nbinom1())
  expect_false(h$optinfo$boundary_check$dispersion_at_zero)
  expect_gt(h$family_par$estimate, 0.1)
})

test_that("a dispersion at its no-overdispersion limit is said, not 'doubtful convergence' (unstructured terms)", {
  # Before: "doubtful convergence: scaled gradient 0.19-0.63" at optima equal
  # to the Poisson / binomial fits', and for betabinomial no standard
  # errors at all. (Round 22 did this for nbinom1 with structured terms.)
  set.seed(3)
  d <- data.frame(g = factor(rep(1:30, each = 6)), h = factor(rep(1:6, 30)), x = stats::rnorm(180), n = 10)
  d$yp <- stats::rpois(180, exp(0.5 + 0.3 * d$x + stats::rnorm(30, 0, 0.5)[d$g]))
  d$yb <- stats::rbinom(180, 10, stats::plogis(-0.5 + 0.3 * d$x + stats::rnorm(30, 0, 0.5)[d$g]))
  for (re in c("(1 | g)", "(1 | g) + (1 | h)")) {
    for (case in list(list("yp", nbinom2(), poisson(), "nbinom2 dispersion theta .* limit Inf"),
                      list("yp", nbinom1(), poisson(), "nbinom1 dispersion phi .* limit 0"),
                      list("cbind(yb, n - yb)", betabinomial(), binomial(), "betabinomial dispersion phi .* limit Inf"))) {
      fml <- stats::as.formula(paste(case[[1]], "~ x +", re))
      w <- character()
      f <- withCallingHandlers(glmm(fml, data = d, family = case[[2]], nAGQ = 1),
                               warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
      info <- paste(case[[2]]$family, re)
      expect_false(any(grepl("doubtful|did not converge|Hessian", w)), info = paste(info, w))
      expect_true(any(grepl(case[[4]], w)), info = info)
      expect_true(f$optinfo$dispersion_limit, info = info)
      lim <- suppressWarnings(glmm(fml, data = d, family = case[[3]], nAGQ = 1))
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(lim)), tolerance = 1e-7, info = info)
      expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(lim)))), tolerance = 1e-3, info = info)
    }
  }
  # Overdispersed counts: an interior dispersion, not flagged.
  d$y2 <- stats::rnbinom(180, mu = exp(1 + stats::rnorm(30, 0, 0.5)[d$g]), size = 2)
  f <- glmm(y2 ~ x + (1 | g), data = d, family = nbinom2())
  expect_false(f$optinfo$dispersion_limit)
})

# Structured covariances: the nbinom2 theta and the betabinomial phi at
# their no-overdispersion limit (Inf) are verified, said and recorded as
# nbinom1's phi -> 0 was, and as dispersion_limit() does for unstructured
# terms: left out of the convergence test and the covariance.
dispersion_limit_ar1_data <- function(under) {
  set.seed(2)
  G <- 40; Tn <- 4; R <- 3
  d <- data.frame(g = factor(rep(1:G, each = Tn * R)), t = factor(rep(rep(1:Tn, each = R), G)))
  d$x <- rnorm(nrow(d))
  b <- matrix(rnorm(G * Tn), G, Tn)
  for (j in 2:Tn) b[, j] <- 0.6 * b[, j - 1] + sqrt(1 - 0.36) * b[, j]
  eta <- 0.5 * b[cbind(as.integer(d$g), as.integer(d$t))]
  d$y <- rpois(nrow(d), exp(0.5 + 0.3 * d$x + eta))
  # Counts with less variance than Poisson: nbinom2's theta runs to Inf.
  if (under) d$yu <- rbinom(nrow(d), 30, exp(0.5 + 0.3 * d$x + eta) / 30)
  d$n <- 10
  d$k <- rbinom(nrow(d), 10, plogis(-0.3 + 0.3 * d$x + eta))
  d
}

test_that("nbinom2 with a structured covariance at theta -> Inf: the Poisson fit, said and recorded", {
  d <- dispersion_limit_ar1_data(TRUE)
  for (st in c("ar1", "cs", "homdiag", "diag")) {
    f <- stats::as.formula(sprintf("yu ~ x + %s(t + 0 | g)", st))
    p <- glmm(f, data = d, family = poisson())
    expect_warning(nb <- glmm(f, data = d, family = nbinom2()),
                   "nbinom2 dispersion theta is estimated at Inf.*Poisson limit.*verified")
    expect_true(nb$optinfo$dispersion_limit, info = st)
    expect_false(any(grepl("doubtful convergence|not negative definite", nb$optinfo$warnings)), info = st)
    expect_equal(as.numeric(logLik(nb)), as.numeric(logLik(p)), tolerance = 1e-7, info = st)
    expect_equal(fixef(nb), fixef(p), tolerance = 1e-4, info = st)
    expect_equal(sqrt(diag(vcov(nb))), sqrt(diag(vcov(p))), tolerance = 1e-4, info = st)
    expect_true(is.na(diag(nb$cov_theta))[[length(nb$theta)]], info = st)
  }
})

test_that("betabinomial with ar1() at phi -> Inf: the binomial fit, said and recorded", {
  d <- dispersion_limit_ar1_data(FALSE)
  f <- cbind(k, n - k) ~ x + ar1(t + 0 | g)
  b <- glmm(f, data = d, family = binomial())
  expect_warning(bb <- glmm(f, data = d, family = betabinomial()),
                 "betabinomial dispersion phi is estimated at Inf.*binomial limit")
  expect_true(bb$optinfo$dispersion_limit)
  expect_false(any(grepl("doubtful convergence|not negative definite", bb$optinfo$warnings)))
  expect_equal(as.numeric(logLik(bb)), as.numeric(logLik(b)), tolerance = 1e-7)
  expect_equal(sqrt(diag(vcov(bb))), sqrt(diag(vcov(b))), tolerance = 1e-4)
})

test_that("nbinom2 with ar1() and overdispersed counts: no limit reported", {
  d <- dispersion_limit_ar1_data(FALSE)
  d$yo <- rnbinom(nrow(d), mu = exp(0.5 + 0.3 * d$x), size = 2)
  nb <- glmm(yo ~ x + ar1(t + 0 | g), data = d, family = nbinom2())
  expect_false(nb$optinfo$dispersion_limit)
  expect_true(is.finite(sqrt(diag(nb$cov_theta))[[length(nb$theta)]]))
})
