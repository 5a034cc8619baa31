# A negative binomial dispersion formula that reaches a limit in part of
# the rows (gaps27): the engine keeps the Poisson limit finite, and zero
# counts driven to the opposite limit are named.

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

test_that("a three-column cs() that absorbs the residual variance: the residual SD at its zero boundary, glmmTMB's optimum", {
  # One observation per id and time: the maximum is at sigma -> 0, where
  # the likelihood has a finite limit. The search ran on to log(sigma) =
  # -356, where the engine's terms overflow, and reported a log-likelihood
  # of +3.7e295 without standard errors.
  d <- cs_data(3)
  msg <- "residual standard deviation is estimated at 0"
  fits <- lapply(c("time", "time2"), function(tv) {
    w <- character()
    f <- withCallingHandlers(glmm(as.formula(sprintf("y ~ x + cs(0 + %s | id)", tv)), d),
                             warning = function(e) {
                               w <<- c(w, conditionMessage(e))
                               invokeRestart("muffleWarning")
                             })
    expect_length(w, 1L)
    expect_match(w, msg)
    expect_match(w, "verified")
    expect_true(f$optinfo$dispersion_limit)
    expect_lt(sigma(f), 1e-3)
    expect_true(all(is.finite(sqrt(diag(vcov(f))))))
    expect_true(all(is.finite(f$structures[[1]]$se)))
    f
  })
  # The same optimum in both orders of the levels.
  expect_equal(as.numeric(logLik(fits[[2]])), as.numeric(logLik(fits[[1]])), tolerance = 1e-9)
  expect_equal(sqrt(diag(vcov(fits[[2]]))), sqrt(diag(vcov(fits[[1]]))), tolerance = 1e-4)
  expect_equal(unname(fits[[2]]$structures[[1]]$sd[3:1]), unname(fits[[1]]$structures[[1]]$sd),
               tolerance = 1e-4)
  skip_if_not_installed("glmmTMB")
  tm <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id), d)
  expect_lt(sigma(tm), 1e-3)
  expect_equal(as.numeric(logLik(fits[[1]])), as.numeric(logLik(tm)), tolerance = 1e-8)
  expect_equal(unname(fixef(fits[[1]])), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(fits[[1]])))), unname(sqrt(diag(vcov(tm)$cond))),
               tolerance = 1e-4)
  expect_equal(unname(fits[[1]]$structures[[1]]$sd),
               unname(attr(glmmTMB::VarCorr(tm)$cond$id, "stddev")), tolerance = 1e-4)
  # The log-SD standard errors (glmmTMB's theta[1:3], the same scale).
  se_tm <- sqrt(diag(vcov(tm, full = TRUE)))
  se_th <- unname(se_tm[grep("^theta", names(se_tm))][1:3])
  expect_equal(unname(fits[[1]]$structures[[1]]$se[1:3]), se_th, tolerance = 1e-3)
})

test_that("predict(se.fit = TRUE) of a cumulative link mixed model: delta method, numerical derivatives, clmm, units", {
  # se.fit went into '...' and was ignored: a plain matrix came back.
  f <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine, family = cumulative())
  nd <- ordinal::wine[c(1, 5, 20, 40), ]
  p <- predict(f, nd, type = "prob", se.fit = TRUE)
  l <- predict(f, nd, type = "linear", se.fit = TRUE)
  expect_named(p, c("fit", "se.fit"))
  expect_equal(p$fit, predict(f, nd, type = "prob"))
  expect_equal(l$fit, predict(f, nd, type = "linear"))
  expect_identical(dim(p$se.fit), dim(p$fit))
  # Numerical derivatives of the probabilities in (thresholds, beta).
  k <- length(f$thresholds) + length(f$coefficients)
  V <- f$cov_psi[seq_len(k), seq_len(k)]
  X <- model.matrix(~ temp + contact, nd)[, -1]
  # P(Y <= j) = plogis(theta_j - x'beta), written out here.
  probs <- function(par) {
    cum <- cbind(0, plogis(outer(-drop(X %*% par[5:6]), par[1:4], "+")), 1)
    as.vector(cum[, -1] - cum[, -6])
  }
  par <- c(f$thresholds, f$coefficients)
  G <- sapply(seq_len(k), function(i) {
    h <- 1e-6 * max(1, abs(par[[i]]))
    e <- replace(numeric(k), i, h)
    (probs(par + e) - probs(par - e)) / (2 * h)
  })
  expect_equal(unname(as.vector(p$se.fit)), sqrt(rowSums((G %*% V) * G)), tolerance = 1e-6)
  expect_equal(unname(l$se.fit), unname(sqrt(rowSums((X %*% V[5:6, 5:6]) * X))), tolerance = 1e-10)
  # Against ordinal::clmm: the same delta method from its estimates and
  # covariance (its vcov agrees with ours to about 1e-4).
  skip_if_not_installed("ordinal")
  m <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine)
  pm <- c(m$alpha, m$beta)
  Vm <- vcov(m)[seq_len(k), seq_len(k)]
  Gm <- sapply(seq_len(k), function(i) {
    h <- 1e-6 * max(1, abs(pm[[i]]))
    e <- replace(numeric(k), i, h)
    (probs(pm + e) - probs(pm - e)) / (2 * h)
  })
  expect_equal(unname(as.vector(p$se.fit)), sqrt(rowSums((Gm %*% Vm) * Gm)), tolerance = 2e-3)
  # Several terms (the sparse route) hand se.fit to the same delta method,
  # over their own covariance.
  f2 <- suppressWarnings(glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = ordinal::wine,
                              family = cumulative()))
  p2 <- predict(f2, nd, type = "prob", se.fit = TRUE)
  expect_equal(p2$fit, predict(f2, nd, type = "prob"))
  par2 <- c(f2$thresholds, f2$coefficients)
  G2 <- sapply(seq_len(k), function(i) {
    h <- 1e-6 * max(1, abs(par2[[i]]))
    e <- replace(numeric(k), i, h)
    (probs(par2 + e) - probs(par2 - e)) / (2 * h)
  })
  V2 <- vcov(f2)
  expect_equal(unname(as.vector(p2$se.fit)), sqrt(rowSums((G2 %*% V2) * G2)), tolerance = 1e-6)
})

test_that("ordinal predict() standard errors do not depend on a covariate's units; unavailable types are refused", {
  set.seed(27)
  M <- 40; n <- 6
  g <- factor(rep(seq_len(M), each = n))
  x <- rnorm(M * n)
  eta <- 0.8 * x + rnorm(M, 0, 0.7)[g]
  y <- cut(eta + rlogis(M * n), c(-Inf, -1, 0.5, 2, Inf), ordered_result = TRUE)
  d <- data.frame(y, x, g, xs = x * 1e-6 - 5)
  f1 <- glmm(y ~ x + (1 | g), data = d, family = cumulative())
  f2 <- glmm(y ~ xs + (1 | g), data = d, family = cumulative())
  nd <- d[c(2, 50, 100, 200), ]
  for (ty in c("prob", "linear")) {
    s1 <- predict(f1, nd, type = ty, se.fit = TRUE)$se.fit
    s2 <- predict(f2, nd, type = ty, se.fit = TRUE)$se.fit
    if (ty == "prob") expect_equal(s2, s1, tolerance = 1e-6)
    # (x'beta differs by a constant between the two: its standard error is
    # the one of -5e6 beta_xs + ..., not comparable; the probabilities are.)
    else expect_true(all(is.finite(s2)))
  }
  # (prob_marginal and re.form = NULL have standard errors since
  # test-ordinal28.R; a class has none.)
  expect_error(predict(f1, nd, type = "class", se.fit = TRUE), "'se.fit'")
  expect_error(predict(f1, nd, se.fit = NA), "se.fit")
})
