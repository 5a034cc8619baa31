# NB1 in two-part models: the hurdle family truncated_nbinom1() (glmmTMB's
# truncated_nbinom1) and random effects in the zero part with NB1 counts.
# Exact gradients against numerical differentiation, fits against glmmTMB
# (estimates, standard errors, logLik) on Salamanders and on simulated data
# with known truth, and the methods on the response scale.

nb1x_salamanders <- function() {
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  e$Salamanders
}

# Our fit at least as high as glmmTMB's and equal to optimizer tolerance;
# estimates (conditional, zero, dispersion) and standard errors compared.
nb1x_expect_tmb <- function(ours, ref, lab, tol_est = 2e-4, tol_se = 2e-3) {
  expect_gte(as.numeric(logLik(ours)), as.numeric(logLik(ref)) - 1e-6)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-6, label = lab)
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(ref)$cond), tolerance = tol_est,
               label = paste(lab, "fixef"))
  expect_equal(unname(ours$aux$zi$coef), unname(glmmTMB::fixef(ref)$zi), tolerance = tol_est,
               label = paste(lab, "zi"))
  expect_equal(unname(sigma(ours)), unname(sigma(ref)), tolerance = tol_est,
               label = paste(lab, "phi"))
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(ref)$cond))),
               tolerance = tol_se, label = paste(lab, "SE cond"))
  zi_se <- sqrt(diag(ours$cov_theta))[ours$aux$zi_index]
  expect_equal(unname(zi_se), unname(sqrt(diag(vcov(ref)$zi))), tolerance = tol_se,
               label = paste(lab, "SE zi"))
}

test_that("the hurdle nbinom1 gradient equals numerical differentiation (Laplace, AGHQ and the sparse engine)", {
  skip_if_not_installed("numDeriv")
  d <- nb1x_hurdle_sim(M = 25, ni = 5)
  nb1_aux_gradient_check(d, 2L)
})

test_that("without random effects the hurdle nbinom1 log-likelihood is the sum of its parts' densities", {
  d <- nb1x_hurdle_sim(M = 40, ni = 5, seed = 7)
  m <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = truncated_nbinom1, nAGQ = 1)
  # The engine at a zero variance: the plain two-part likelihood, written
  # here with dnbinom() (size mu / phi) and plogis().
  th <- m$theta
  th[3] <- 0
  fam <- glmmgee:::resolve_family(glmmgee::nbinom1())
  n <- nrow(d)
  eng <- glmmgee:::cpp_agq_new(cbind(1, d$x), matrix(1, n, 1), as.numeric(d$y), rep(1, n),
                               rep(0, n), as.integer(d$g), nlevels(d$g), 0L, 0L,
                               fam$family_code, fam$link_code, 1L, 1L)
  glmmgee:::cpp_agq_set_aux(eng, 2L, cbind(1, d$w, 1), c(0L, 0L, 1L), matrix(0, n, 2))
  ll <- glmmgee:::cpp_agq_eval(eng, th, FALSE)$loglik
  mu <- exp(th[1] + th[2] * d$x)
  pz <- plogis(th[4] + th[5] * d$w)
  phi <- exp(th[6])
  ref <- sum(ifelse(d$y == 0, log(pz),
                    log1p(-pz) + dnbinom(d$y, size = mu / phi, mu = mu, log = TRUE) -
                      log1p(-dnbinom(0, size = mu / phi, mu = mu))))
  expect_equal(ll, ref, tolerance = 1e-10)
})

test_that("truncated_nbinom1 against glmmTMB on Salamanders (one factor and crossed terms)", {
  skip_if_not_installed("glmmTMB")
  S <- nb1x_salamanders()
  ours <- glmm(count ~ spp + mined + (1 | site), data = S, ziformula = ~ spp + mined,
               family = truncated_nbinom1, nAGQ = 1)
  ref <- glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), data = S, ziformula = ~ spp + mined,
                          family = glmmTMB::truncated_nbinom1())
  nb1x_expect_tmb(ours, ref, "one factor")
  expect_equal(unname(sqrt(ours$D[1])), unname(attr(glmmTMB::VarCorr(ref)$cond$site, "stddev")),
               tolerance = 1e-3)
  expect_identical(ours$aux$family_name, "truncated_nbinom1")
  expect_false(ours$optinfo$logseries_limit)
  # glmmTMB's own family object is read as ours.
  tmbfam <- glmm(count ~ spp + mined + (1 | site), data = S, ziformula = ~ spp + mined,
                 family = glmmTMB::truncated_nbinom1(), nAGQ = 1)
  expect_equal(as.numeric(logLik(tmbfam)), as.numeric(logLik(ours)), tolerance = 1e-10)
  for (type in c("conditional", "response", "zprob", "link")) {
    expect_equal(unname(predict(ours, type = type)), unname(predict(ref, type = type)),
                 tolerance = 1e-3, label = type)
  }
  # At new data (these rows again): the fit's own predictions.
  nd <- S[c(5, 200, 400), ]
  for (type in c("conditional", "response", "zprob"))
    expect_equal(unname(predict(ours, nd, type = type)),
                 unname(predict(ours, type = type)[c(5, 200, 400)]), tolerance = 1e-12)
  expect_equal(unname(predict(ours, type = "disp")), rep(unname(sigma(ref)), nrow(S)),
               tolerance = 2e-4)
  # Several terms: the sparse Laplace route.
  oc <- glmm(count ~ mined + (1 | site) + (1 | spp), data = S, ziformula = ~ mined,
             family = truncated_nbinom1)
  rc <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), data = S, ziformula = ~ mined,
                         family = glmmTMB::truncated_nbinom1())
  nb1x_expect_tmb(oc, rc, "crossed")
  # Adaptive quadrature raises the likelihood's accuracy, not its meaning:
  # close to the Laplace fit's.
  oq <- glmm(count ~ spp + mined + (1 | site), data = S, ziformula = ~ spp + mined,
             family = truncated_nbinom1, nAGQ = 9)
  expect_equal(as.numeric(logLik(oq)), as.numeric(logLik(ours)), tolerance = 1e-3)
})

test_that("truncated_nbinom1 recovers known truth and matches glmmTMB on simulated data", {
  skip_if_not_installed("glmmTMB")
  d <- nb1x_hurdle_sim(M = 150, ni = 10, seed = 31)
  ours <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = truncated_nbinom1, nAGQ = 1)
  ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, ziformula = ~ w,
                          family = glmmTMB::truncated_nbinom1())
  nb1x_expect_tmb(ours, ref, "simulated")
  se <- sqrt(diag(ours$cov_theta))
  truth <- c(0.6, 0.5, NA, -0.7, 0.9, log(1.2))
  est <- ours$theta
  ok <- !is.na(truth)
  expect_true(all(abs(est[ok] - truth[ok]) < 3.5 * se[ok]),
              label = paste(format(est[ok]), collapse = " "))
  expect_lt(abs(sqrt(ours$D[1]) - 0.5), 0.15)
})

test_that("simulate() of a truncated_nbinom1 fit draws its zero probability and truncated NB1 counts", {
  d <- nb1x_hurdle_sim(M = 60, ni = 8, seed = 3)
  m <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = truncated_nbinom1, nAGQ = 1)
  s <- simulate(m, nsim = 400, seed = 1, re.form = NULL)
  Y <- as.matrix(s)
  expect_true(all(Y >= 0 & Y == round(Y)))
  pz <- predict(m, type = "zprob")
  mu <- predict(m, type = "conditional")
  # With the random effects held at their predictions each row's draws have
  # P(0) = pz and mean (1 - pz) mu_trunc; the averages over rows and draws
  # are checked to a few Monte Carlo errors.
  expect_equal(mean(Y == 0), mean(pz), tolerance = 4 * sqrt(mean(pz * (1 - pz)) / length(Y)) / mean(pz))
  m_fit <- mean(predict(m, type = "response"))
  expect_equal(mean(Y), m_fit, tolerance = 0.02)
  # Positive draws: the zero-truncated NB1's mean row by row (pooled).
  pos <- Y > 0
  expect_equal(sum(Y[pos]) / sum(pos), sum(mu * (1 - pz)) / sum(1 - pz), tolerance = 0.02)
  expect_true(all(Y[pos] >= 1))
  # The variance of y: Pearson residuals of data drawn from the fit have
  # mean square near 1.
  fam <- glmmgee:::zi_response_variance
  pr <- glmmgee:::zi_predictors(m, NULL, NULL, FALSE)
  v <- fam(m, pr, predict(m, type = "response"))
  r2 <- sweep(Y, 1, predict(m, type = "response"))^2 / v
  expect_equal(mean(r2), 1, tolerance = 0.05)
})

test_that("standardize() and marginal_coefs() of a truncated_nbinom1 fit integrate the mean of y over the random effect", {
  skip_if_not_installed("glmmTMB")
  d <- nb1x_salamanders()
  fit <- glmm(count ~ spp + mined + (1 | site), data = d, ziformula = ~ mined,
              family = truncated_nbinom1, nAGQ = 1)
  st <- standardize(fit, "mined")
  sd_b <- sqrt(fit$D[1])
  for (v in c("yes", "no")) {
    nd <- d
    nd$mined <- factor(v, levels = levels(d$mined))
    eta <- predict(fit, nd, type = "link", re.form = NA)
    pz <- predict(fit, nd, type = "zprob", re.form = NA)
    phi <- predict(fit, nd, type = "disp")
    mean_y <- function(b) vapply(b, function(bb) {
      mu <- exp(eta + bb)
      mean((1 - pz) * mu / (1 - (1 + phi)^(-mu / phi)))
    }, 0) * dnorm(b, 0, sd_b)
    ref <- integrate(mean_y, -12 * sd_b, 12 * sd_b, rel.tol = 1e-10)$value
    expect_equal(st$estimate[st$quantity == "mean" & st$value == v], ref, tolerance = 1e-7,
                 label = v)
  }
  expect_true(all(is.finite(st$std.error)) && all(st$std.error > 0))
  mc <- marginal_coefs(fit)
  expect_true(all(is.finite(coef(mc))) && all(is.finite(sqrt(diag(vcov(mc))))))
})

# Logarithmic counts with parameter 0.5, P(y) = 0.5^y / (y log 2), in 30
# clusters of 10 (y); the same with 30% zeros for hurdle models (y0); and
# counts that are 1 with probability 0.8, else 2-4, with 30% zeros (y20).
nb1x_logseries_data <- function() {
  set.seed(3)
  n <- 300
  d <- data.frame(g = factor(rep(1:30, each = 10)), h = factor(rep(1:10, 30)), x = rnorm(n))
  d$y <- sample(1:30, n, TRUE, prob = 0.5^(1:30) / (1:30) / log(2))
  d$y0 <- ifelse(runif(n) < 0.3, 0, d$y)
  d$y20 <- ifelse(runif(n) < 0.3, 0, ifelse(runif(n) < 0.8, 1, sample(2:4, n, TRUE)))
  d
}

test_that("truncated_nbinom1 at its log-series limit (mu -> 0, phi finite) says so and records it", {
  d <- nb1x_logseries_data()
  n <- nrow(d)
  w <- character()
  m <- withCallingHandlers(glmm(y ~ x + (1 | g), data = d, family = truncated_nbinom1()),
                           warning = function(w0) {
                             w <<- c(w, conditionMessage(w0)); invokeRestart("muffleWarning")
                           })
  expect_true(m$optinfo$logseries_limit)
  expect_true(any(grepl("zero-truncated nbinom1 runs to its log-series limit", w)))
  # At the limit phi / (1 + phi) is the logarithmic parameter.
  expect_equal(unname(sigma(m) / (1 + sigma(m))), 0.5, tolerance = 0.1)
  # As a hurdle model, with a zero part.
  m <- suppressWarnings(glmm(y0 ~ x + (1 | g), data = d, ziformula = ~ 1,
                             family = truncated_nbinom1(), nAGQ = 1))
  expect_true(m$optinfo$logseries_limit)
  expect_true(any(grepl("nbinom1 runs to its log-series limit", m$optinfo$warnings)))
  # Ordinary zero-truncated NB1 counts: no such limit.
  d2 <- nb1x_hurdle_sim(M = 30, ni = 10, seed = 4)
  d2 <- d2[d2$y > 0, ]
  m2 <- glmm(y ~ x + (1 | g), data = d2, family = truncated_nbinom1())
  expect_false(m2$optinfo$logseries_limit)
  expect_false(any(grepl("log-series", m2$optinfo$warnings)))
})

test_that("the log-series check runs on every two-part route: several terms, zero-part random effects", {
  # Before, the routes with random effects in the zero part never ran it,
  # and the sparse hurdle NB1 fit, stopped by false convergence at
  # mu / phi near 0.05 (the one-factor fit runs to 1e-11), fell short of its
  # threshold: a search that did not converge is judged at ten times it.
  d <- nb1x_logseries_data()
  cases <- list(
    list(y0 ~ x + (1 | g) + (1 | h), ~1, truncated_nbinom1(), "nbinom1"),
    list(y0 ~ x + (1 | g), ~ 1 + (1 | h), truncated_nbinom1(), "nbinom1"),
    list(y0 ~ x + (1 | g) + (1 | h), ~ 1 + (1 | h), truncated_nbinom1(), "nbinom1"),
    list(y20 ~ x + (1 | g), ~ 1 + (1 | h), truncated_nbinom2(), "nbinom2"),
    list(y20 ~ x + (1 | g) + (1 | h), ~ 1 + (1 | h), truncated_nbinom2(), "nbinom2"))
  for (cs in cases) {
    what <- paste(deparse(cs[[1]]), deparse(cs[[2]]), cs[[4]])
    m <- suppressWarnings(glmm(cs[[1]], data = d, ziformula = cs[[2]], family = cs[[3]], nAGQ = 1))
    expect_true(isTRUE(m$optinfo$logseries_limit), info = what)
    expect_true(any(grepl(paste0("zero-truncated ", cs[[4]], " runs to its log-series limit"),
                          m$optinfo$warnings)), info = what)
    # The count part's linear predictor is near the limit in the median row.
    eta <- drop(model.matrix(~x, d) %*% fixef(m))
    expect_lt(stats::median(eta), log(0.1), label = what)
  }
  # The same rule keeps quiet on ordinary two-part NB1 counts with
  # zero-part random effects (one factor and the sparse engine).
  d2 <- nb1x_zi_random_sim(M = 40, ni = 8, seed = 41, hurdle = TRUE)
  for (f in list(y ~ x + (1 | g), y ~ x + (1 | g) + (1 | h))) {
    m2 <- suppressWarnings(glmm(f, data = d2, family = truncated_nbinom1(),
                                ziformula = ~ w + (1 | g), nAGQ = 1))
    expect_false(m2$optinfo$logseries_limit, label = deparse(f))
  }
})

test_that("truncated_nbinom1 refuses what it cannot fit, naming the argument", {
  d <- nb1x_hurdle_sim(M = 10, ni = 5)
  expect_error(truncated_nbinom1(link = "sqrt"), "'link': truncated_nbinom1 supports only")
  expect_error(glmm(y ~ x + (1 | g), data = d, family = truncated_nbinom1()),
               "'family': truncated_nbinom1 without a 'ziformula' is zero-truncated")
})

# ---- Random effects in the zero part with NB1 counts ----------------------

test_that("the two-part engines' gradient with zero-part random effects and NB1 counts equals numerical differentiation", {
  skip_if_not_installed("numDeriv")
  fam <- glmmgee:::resolve_family(glmmgee::nbinom1())
  for (kind in 1:2) {
    d <- nb1x_zi_random_sim(M = 20, ni = 5, seed = kind, hurdle = kind == 2L)
    n <- nrow(d)
    # One factor: count intercept and zero intercept, correlated (full
    # 2 x 2 Lambda) and independent.
    for (pt in list(list(r = c(0L, 1L, 1L), c = c(0L, 0L, 1L)), list(r = c(0L, 1L), c = c(0L, 1L)))) {
      for (nagq in c(1L, 4L)) {
        eng <- glmmgee:::cpp_two_part_new(cbind(1, d$x), matrix(1, n, 1), matrix(1, n, 1),
                                      cbind(1, d$w), matrix(1, n, 1), as.numeric(d$y), rep(1, n),
                                      matrix(0, n, 3), as.integer(d$g), nlevels(d$g), pt$r, pt$c,
                                      fam$family_code, fam$link_code, kind, nagq, 1L)
        th <- c(0.4, 0.3, c(0.5, 0.2, 0.6)[seq_along(pt$r)], -0.5, 0.6, 0.3)
        an <- glmmgee:::cpp_two_part_eval(eng, th, TRUE)
        nu <- numDeriv::grad(function(t) glmmgee:::cpp_two_part_eval(eng, t, FALSE)$loglik, th)
        expect_true(is.finite(an$loglik))
        expect_equal(an$gradient, nu, tolerance = 1e-5,
                     label = sprintf("kind %d, %d Lambda entries, nAGQ %d", kind, length(pt$r), nagq))
      }
    }
    # The two-part sparse engine: (1 | g) + (1 | h) in the count part,
    # (1 | g) in the zero part.
    ind <- function(f) Matrix::sparseMatrix(i = seq_len(n), j = as.integer(f), x = 1,
                                            dims = c(n, nlevels(f)))
    Zc <- cbind(ind(d$g), ind(d$h))
    Zz <- ind(d$g)
    qg <- nlevels(d$g); qh <- nlevels(d$h)
    lr <- seq_len(qg + qh) - 1L
    zr <- qg + qh + seq_len(qg) - 1L
    eng <- glmmgee:::cpp_sparse_two_part_new(cbind(1, d$x), cbind(1, d$w), matrix(1, n, 1),
                                    methods::as(Zc, "CsparseMatrix"), methods::as(Zz, "CsparseMatrix"),
                                    as.numeric(d$y), rep(1, n), matrix(0, n, 3),
                                    c(lr, zr), c(lr, zr), c(rep(0L, qg), rep(1L, qh), rep(2L, qg)), 3L,
                                    fam$family_code, fam$link_code, kind)
    th <- c(0.4, 0.3, 0.5, 0.4, 0.7, -0.5, 0.6, 0.3)
    an <- glmmgee:::cpp_sparse_two_part_grad(eng, th)
    nu <- numDeriv::grad(function(t) glmmgee:::cpp_sparse_two_part_eval(eng, cbind(t)), th)
    expect_true(is.finite(an$loglik))
    expect_equal(an$gradient, nu, tolerance = 1e-6, label = sprintf("sparse, kind %d", kind))
  }
})

test_that("with the zero part's variance at zero the NB1 two-part engine gives the fixed-zero-part likelihood", {
  fam <- glmmgee:::resolve_family(glmmgee::nbinom1())
  for (kind in 1:2) {
    d <- nb1x_zi_random_sim(M = 25, ni = 6, seed = 10 + kind, hurdle = kind == 2L)
    n <- nrow(d)
    for (nagq in c(1L, 5L)) {
      eng <- glmmgee:::cpp_two_part_new(cbind(1, d$x), matrix(1, n, 1), matrix(1, n, 1),
                                    cbind(1, d$w), matrix(1, n, 1), as.numeric(d$y), rep(1, n),
                                    matrix(0, n, 3), as.integer(d$g), nlevels(d$g), c(0L, 1L),
                                    c(0L, 1L), fam$family_code, fam$link_code, kind, nagq, 1L)
      a <- glmmgee:::cpp_two_part_eval(eng, c(0.5, 0.3, 0.6, 0, -0.4, 0.5, 0.2), FALSE)$loglik
      e0 <- glmmgee:::cpp_agq_new(cbind(1, d$x), matrix(1, n, 1), as.numeric(d$y), rep(1, n),
                                  rep(0, n), as.integer(d$g), nlevels(d$g), 0L, 0L,
                                  fam$family_code, fam$link_code, nagq, 1L)
      glmmgee:::cpp_agq_set_aux(e0, kind, cbind(1, d$w, 1), c(0L, 0L, 1L), matrix(0, n, 2))
      b <- glmmgee:::cpp_agq_eval(e0, c(0.5, 0.3, 0.6, -0.4, 0.5, 0.2), FALSE)$loglik
      expect_equal(a, b, tolerance = 1e-10, label = sprintf("kind %d, nAGQ %d", kind, nagq))
    }
  }
})

# glmmTMB's estimates of both parts, the variances of both, and the
# standard errors of the conditional fixed effects.
nb1x_expect_tmb_zi_random <- function(ours, ref, lab, tol = 5e-4) {
  expect_gte(as.numeric(logLik(ours)), as.numeric(logLik(ref)) - 1e-5)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-6, label = lab)
  expect_identical(attr(logLik(ours), "df"), attr(logLik(ref), "df"))
  fx <- glmmTMB::fixef(ref)
  expect_equal(unname(fixef(ours)), unname(fx$cond), tolerance = tol, label = paste(lab, "cond"))
  expect_equal(unname(ours$aux$zi$coef), unname(fx$zi), tolerance = tol, label = paste(lab, "zi"))
  expect_equal(unname(sigma(ours)), unname(sigma(ref)), tolerance = tol, label = paste(lab, "phi"))
  vc <- glmmTMB::VarCorr(ref)
  sd_t <- unlist(lapply(c(vc$cond, vc$zi), function(v) attr(v, "stddev")))
  sd_o <- unlist(lapply(VarCorr(ours), function(v) attr(v, "stddev")))
  expect_equal(sort(unname(sd_o)), sort(unname(sd_t)), tolerance = 2e-3, label = paste(lab, "SDs"))
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(ref)$cond))),
               tolerance = 3e-3, label = paste(lab, "SE"))
}

test_that("NB1 with random effects in the zero part matches glmmTMB on Salamanders (one factor and the sparse engine)", {
  skip_if_not_installed("glmmTMB")
  S <- nb1x_salamanders()
  cases <- list(
    list(f = count ~ spp + mined + (1 | site), zi = ~ mined + (1 | site),
         lab = "hurdle NB1 one factor"),
    list(f = count ~ spp + mined + (1 | site), zi = ~ mined + (1 | spp),
         lab = "hurdle NB1 sparse, another factor"),
    list(f = count ~ spp + mined + (1 | site) + (1 | sample), zi = ~ mined + (1 | site),
         lab = "hurdle NB1 sparse, two count terms"))
  for (cs in cases) {
    ours <- glmm(cs$f, data = S, family = truncated_nbinom1, ziformula = cs$zi, nAGQ = 1)
    ref <- glmmTMB::glmmTMB(cs$f, ziformula = cs$zi, data = S,
                            family = glmmTMB::truncated_nbinom1())
    expect_length(ours$optinfo$warnings, 0L)
    nb1x_expect_tmb_zi_random(ours, ref, cs$lab)
    for (ty in c("response", "conditional", "zprob"))
      expect_equal(unname(predict(ours, type = ty)), unname(predict(ref, type = ty)),
                   tolerance = 2e-3, label = paste(cs$lab, ty))
  }
  # The zero-inflated NB1 with a site intercept in the zero part is
  # degenerate on Salamanders (as the nbinom2 one, test-zi-random.R): the
  # zero part's variance runs off and glmmTMB ends with a non-positive-
  # definite Hessian and logLik NA. Ours says so instead of returning a
  # silent estimate.
  w <- character()
  ours <- withCallingHandlers(
    glmm(count ~ mined + (1 | site), data = S, family = nbinom1, ziformula = ~ mined + (1 | site),
         nAGQ = 1),
    warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("Laplace approximation can fail", w)))
  expect_true(any(grepl("not negative definite", w)))
})

test_that("NB1 with random effects in both parts: known truth, glmmTMB, quadrature, correlated parts, methods", {
  skip_if_not_installed("glmmTMB")
  for (hurdle in c(FALSE, TRUE)) {
    d <- nb1x_zi_random_sim(M = 150, ni = 8, seed = 40 + hurdle, hurdle = hurdle)
    fo <- if (hurdle) truncated_nbinom1 else nbinom1
    ft <- if (hurdle) glmmTMB::truncated_nbinom1() else glmmTMB::nbinom1()
    lab <- if (hurdle) "hurdle" else "zi"
    ours <- glmm(y ~ x + (1 | g), data = d, family = fo, ziformula = ~ w + (1 | g), nAGQ = 1)
    ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), ziformula = ~ w + (1 | g), data = d, family = ft)
    nb1x_expect_tmb_zi_random(ours, ref, lab)
    se <- sqrt(diag(ours$cov_theta))
    est <- c(fixef(ours), ours$aux$zi$coef, log(sigma(ours)))
    truth <- c(0.6, 0.5, -0.7, 0.9, log(1.2))
    idx <- c(1:2, ours$aux$zi_index, ours$aux$disp_index)
    expect_true(all(abs(est - truth) < 3.5 * se[idx]), label = paste(lab, paste(format(est), collapse = " ")))
    sds <- unname(unlist(lapply(VarCorr(ours), function(v) attr(v, "stddev"))))
    expect_true(all(abs(sds - c(0.5, 0.7)) < c(0.15, 0.3)), label = paste(lab, "SDs"))
    # Quadrature on the same model: close to Laplace (both approximate the
    # same integral) and the correlated model at least as high.
    oq <- glmm(y ~ x + (1 | g), data = d, family = fo, ziformula = ~ w + (1 | g), nAGQ = 5)
    expect_equal(as.numeric(logLik(oq)), as.numeric(logLik(ours)), tolerance = 2e-3)
    oc <- glmm(y ~ x + (1 | g), data = d, family = fo, ziformula = ~ w + (1 | g),
               zi_correlated = TRUE, nAGQ = 5)
    expect_gte(as.numeric(logLik(oc)), as.numeric(logLik(oq)) - 1e-6)
    expect_identical(attr(logLik(oc), "df"), attr(logLik(oq), "df") + 1L)
    # Methods: simulate() draws both parts (zeros near the fitted share),
    # standardize() integrates over both parts' random effects.
    Y <- as.matrix(simulate(ours, nsim = 50, seed = 2))
    expect_true(all(Y >= 0 & Y == round(Y)))
    expect_equal(mean(Y == 0), mean(d$y == 0), tolerance = 0.1)
    # The parts' random effects are independent, so each row's mean is the
    # product of one integral over each: checked with integrate().
    st <- standardize(ours, "x", values = c(0, 1))
    expect_true(all(is.finite(st$estimate)) && all(st$std.error > 0))
    sds <- unname(unlist(lapply(VarCorr(ours), function(v) attr(v, "stddev"))))
    phi <- sigma(ours)
    for (x0 in c(0, 1)) {
      eta <- fixef(ours)[[1]] + fixef(ours)[[2]] * x0
      cm <- integrate(function(b) vapply(b, function(bb) {
        mu <- exp(eta + bb)
        if (hurdle) mu / (1 - (1 + phi)^(-mu / phi)) else mu
      }, 0) * dnorm(b, 0, sds[1]), -12 * sds[1], 12 * sds[1], rel.tol = 1e-10)$value
      alink <- ours$aux$zi$coef[[1]] + ours$aux$zi$coef[[2]] * d$w
      epi <- vapply(alink, function(a) integrate(function(b) plogis(a + b) * dnorm(b, 0, sds[2]),
                                                 -12 * sds[2], 12 * sds[2], rel.tol = 1e-10)$value, 0)
      expect_equal(st$estimate[st$quantity == "mean" & st$value == x0], mean((1 - epi) * cm),
                   tolerance = 1e-6, label = paste(lab, "standardized mean at x =", x0))
    }
    expect_equal(unname(ranef(ours, component = "zi")$g[[1]]),
                 unname(glmmTMB::ranef(ref)$zi$g[[1]]), tolerance = 5e-3)
  }
})
