# Penalized cumulative link mixed models (penalty-ordinal.R): the Student-t
# prior of penalized = TRUE on the coefficients, never on the thresholds,
# on the one-factor (Laplace and AGHQ), random-slope and several-term
# routes; the separation check recommending it.

# 40 clusters of 6 (g: a random intercept of sd 1.2 and a slope of z of
# sd 0.8; h, crossed: sd 1), covariates x and z and a binary s; `sep = TRUE` puts every s = 1 in the top category (quasi-complete
# separation by s).
penalized_ordinal_data <- function(seed = 28, M = 40, m = 6, sd = 1.2, sep = FALSE) {
  set.seed(seed)
  n <- M * m
  g <- factor(rep(seq_len(M), each = m))
  x <- stats::rnorm(n)
  z <- stats::rnorm(n)
  h <- factor(rep(seq_len(n / 4), 4))
  lat <- 0.8 * x - 0.5 * z + stats::rnorm(M, sd = sd)[g] + stats::rnorm(M, sd = 0.8)[g] * z +
    stats::rnorm(n / 4, sd = 1)[h] + stats::rlogis(n)
  y <- as.integer(cut(lat, c(-Inf, -1, 0.2, 1.3, Inf)))
  s <- as.numeric(rank(x) %% 3 == 0)
  if (sep) y[s == 1] <- 4L
  data.frame(y = factor(y, ordered = TRUE), x, z, s, g, h)
}

# The log density of the multivariate t prior without its constant,
# written out: -(df + p) / 2 log(1 + sum(((b - mu) / sigma)^2) / df).
log_prior_t <- function(b, mu = 0, sigma = 1, df = 3)
  -(df + length(b)) / 2 * log1p(sum(((b - mu) / sigma)^2) / df)

# The marginal log-likelihood of a random-intercept cumulative logit model
# by integrate() per cluster (no Gauss-Hermite, no modes): thresholds th,
# coefficients b on design X, sd s.
loglik_integrate <- function(th, b, s, X, y, g) {
  eta <- drop(X %*% b)
  yk <- as.integer(y)
  cut <- c(-Inf, th, Inf)
  sum(vapply(split(seq_along(yk), g), function(i) {
    f <- function(u) vapply(u, function(v)
      exp(sum(log(stats::plogis(cut[yk[i] + 1L] - eta[i] - v) -
                  stats::plogis(cut[yk[i]] - eta[i] - v)))) * stats::dnorm(v, 0, s), 1)
    log(stats::integrate(f, -Inf, Inf, rel.tol = 1e-12, abs.tol = 0)$value)
  }, 1))
}

# Central differences of f at x.
num_grad <- function(f, x, h = 1e-5) {
  vapply(seq_along(x), function(j) {
    e <- replace(numeric(length(x)), j, h * max(1, abs(x[j])))
    (f(x + e) - f(x - e)) / (2 * e[j])
  }, 1)
}

test_that("the unpenalized fit of separated ordinal data recommends penalized = TRUE; the penalized fit is finite", {
  d <- penalized_ordinal_data(sep = TRUE)
  w0 <- character()
  f0 <- withCallingHandlers(glmm(y ~ s + z + (1 | g), d, family = cumulative()),
                            warning = function(w) {
                              w0 <<- c(w0, conditionMessage(w))
                              invokeRestart("muffleWarning")
                            })
  expect_match(w0[1L], "glmm(..., penalized = TRUE)", fixed = TRUE)
  expect_match(w0[1L], "not on the thresholds", fixed = TRUE)
  expect_gt(abs(f0$coefficients[["s"]]), 20)
  for (form in list(y ~ s + z + (1 | g), y ~ s + z + (1 + z | g), y ~ s + z + (1 | g) + (1 | h))) {
    w1 <- character()
    f1 <- withCallingHandlers(glmm(form, d, family = cumulative(), penalized = TRUE),
                              warning = function(w) {
                                w1 <<- c(w1, conditionMessage(w))
                                invokeRestart("muffleWarning")
                              })
    info <- deparse(form)
    sep_w <- grep("^separation", w1, value = TRUE)
    expect_length(sep_w, 1L)
    expect_match(sep_w, "the fit is penalized (penalized = TRUE)", fixed = TRUE)
    expect_true(f1$separation$separated, info = info)
    se <- sqrt(diag(vcov(f1)))
    expect_true(all(is.finite(coef(f1))), info = info)
    expect_true(all(is.finite(se)) && all(se > 0), info = info)
    # Finite and set by the prior: a few units, not the ML fit's drift.
    expect_gt(f1$coefficients[["s"]], 2)
    expect_lt(f1$coefficients[["s"]], 10)
    expect_lt(se[["s"]], 3)
    # logLik() without the prior; $penalty records both.
    expect_equal(f1$penalty$loglik, as.numeric(logLik(f1)))
    expect_equal(f1$penalty$value, log_prior_t(f1$coefficients), tolerance = 1e-12)
    expect_equal(f1$penalty$objective, f1$penalty$loglik + f1$penalty$value, tolerance = 1e-12)
    expect_output(print(f1), "penalized maximum likelihood")
  }
  # The ML fit's warning has no optimizer notes that separation explains;
  # the penalized fit keeps them (its estimates are finite).
  expect_false(any(grepl("penalized = TRUE)", f0$optinfo$warnings, fixed = TRUE) &
                     grepl("the fit is penalized", f0$optinfo$warnings, fixed = TRUE)))
})

test_that("the penalized AGHQ fit maximizes its objective, evaluated independently by integrate()", {
  d <- penalized_ordinal_data(sep = TRUE)
  f <- suppressWarnings(glmm(y ~ s + z + (1 | g), d, family = cumulative(), penalized = TRUE,
                             nAGQ = 15))
  X <- cbind(s = d$s, z = d$z)
  obj <- function(par) {
    if (any(diff(par[1:3]) <= 0)) return(-Inf)
    loglik_integrate(par[1:3], par[4:5], exp(par[6]), X, d$y, d$g) + log_prior_t(par[4:5])
  }
  psi <- unname(f$psi)
  # The objective (15 nodes against integrate(): 1e-6) and the
  # log-likelihood reported without the prior.
  expect_equal(obj(psi), f$penalty$objective, tolerance = 1e-7)
  expect_equal(obj(psi) - log_prior_t(psi[4:5]), as.numeric(logLik(f)), tolerance = 1e-7)
  # A stationary point of the independent objective, with the fit's own
  # gradient near 0.
  g <- num_grad(obj, psi, 1e-4)
  expect_lt(max(abs(g)), 2e-4)
  expect_lt(max(abs(f$gradient)), 1e-5)
  # The penalized Hessian, whose inverse gives the standard errors, against
  # second differences of the independent objective (beta block and beta,
  # thresholds).
  k <- 1:5
  Hn <- sapply(k, function(j) {
    e <- replace(numeric(6), j, 1e-3)
    num_grad(obj, psi + e, 1e-4)[k] - num_grad(obj, psi - e, 1e-4)[k]
  }) / 2e-3
  expect_equal(unname(f$hessian[k, k]), (Hn + t(Hn)) / 2, tolerance = 2e-3)
  # And nothing higher nearby.
  for (j in 4:5) for (h in c(-0.05, 0.05))
    expect_lt(obj(replace(psi, j, psi[j] + h)), obj(psi))
})

test_that("the prior's value, gradient and Hessian on the search's scale match central differences", {
  prior <- glmmgee:::penalty_prior(list(pen_mu = c(0.5, -1), pen_sigma = c(2, 0.7), pen_df = 4))
  scl <- c(3.1, 0.02)
  pen <- glmmgee:::ordinal_penalty(prior, 2L, scl)
  bstar <- c(1.7, -0.004)
  # On beta* = scl * beta the same prior as on beta.
  v <- glmmgee:::ordinal_add_penalty(list(loglik = 0, gradient = numeric(4),
                                          hessian = matrix(0, 4, 4)), pen, bstar, 2:3)
  f <- function(b) log_prior_t(b / scl, c(0.5, -1), c(2, 0.7), 4)
  expect_equal(v$penalty, f(bstar), tolerance = 1e-13)
  expect_equal(v$gradient[2:3], num_grad(f, bstar, 1e-6), tolerance = 1e-7)
  expect_equal(v$gradient[c(1, 4)], c(0, 0))
  Hn <- sapply(1:2, function(j) {
    e <- replace(numeric(2), j, 1e-5 * max(1, abs(bstar[j])))
    (num_grad(f, bstar + e, 1e-6) - num_grad(f, bstar - e, 1e-6)) / (2 * e[j])
  })
  expect_equal(v$hessian[2:3, 2:3], (Hn + t(Hn)) / 2, tolerance = 1e-5)
})

test_that("the gradient of the penalized fits on every route against central differences of the objective", {
  d <- penalized_ordinal_data()
  pr <- function(b) log_prior_t(b)
  # Random slopes: ordinal_loglik_at_re() plus the prior, in (thresholds,
  # beta, lambda).
  fs <- glmm(y ~ x + z + (1 + z | g), d, family = cumulative(), penalized = TRUE)
  k1 <- 3
  objs <- function(ps) glmmgee:::ordinal_loglik_at_re(fs, ps) + pr(ps[k1 + 1:2])
  expect_equal(objs(unname(fs$psi)), fs$penalty$objective, tolerance = 1e-10)
  expect_lt(max(abs(num_grad(objs, unname(fs$psi), 1e-5))), 1e-4)
  # Several terms: ordinal_sparse_loglik_at() (its gradient too) plus the
  # prior, in (thresholds, beta, sd).
  fp <- glmm(y ~ x + z + (1 | g) + (1 | h), d, family = cumulative(), penalized = TRUE)
  objp <- function(ps) glmmgee:::ordinal_sparse_loglik_at(fp, ps[1:3], ps[4:5], ps[6:7]) +
    pr(ps[4:5])
  par <- unname(fp$par)
  expect_equal(objp(par), fp$penalty$objective, tolerance = 1e-10)
  gn <- num_grad(objp, par, 1e-5)
  expect_lt(max(abs(gn[1:5])), 1e-4)
  # Away from the optimum: the analytic gradient plus the prior's against
  # differences of the objective.
  at <- par + c(0.1, -0.05, 0.2, 0.3, -0.2, 0.1, 0.05)
  ga <- glmmgee:::ordinal_sparse_loglik_at(fp, at[1:3], at[4:5], at[6:7], gradient = TRUE)
  ga[4:5] <- ga[4:5] + glmmgee:::penalty_value(fp$penalty$prior, at[4:5])$gradient
  expect_equal(ga, num_grad(objp, at, 1e-6), tolerance = 1e-6)
  # One grouping factor, Laplace: ordinal_loglik_at() plus the prior.
  f1 <- glmm(y ~ x + z + (1 | g), d, family = cumulative(), penalized = TRUE)
  obj1 <- function(ps) glmmgee:::ordinal_loglik_at(f1, ps[1:3], ps[4:5], exp(ps[6])) + pr(ps[4:5])
  expect_equal(obj1(unname(f1$psi)), f1$penalty$objective, tolerance = 1e-10)
  expect_lt(max(abs(num_grad(obj1, unname(f1$psi), 1e-5))), 1e-4)
})

test_that("with a weak prior the penalized fits are the maximum likelihood fits; with the default, near them on data with information", {
  d <- penalized_ordinal_data()
  weak <- list(pen_sigma = 1e3)
  for (form in list(y ~ x + z + (1 | g), y ~ x + z + (1 + z | g), y ~ x + z + (1 | g) + (1 | h))) {
    info <- deparse(form)
    a <- suppressWarnings(glmm(form, d, family = cumulative()))
    b <- suppressWarnings(glmm(form, d, family = cumulative(), penalized = weak))
    expect_equal(coef(b), coef(a), tolerance = 1e-5, info = info)
    expect_equal(sqrt(diag(vcov(b))), sqrt(diag(vcov(a))), tolerance = 1e-4, info = info)
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-9, info = info)
    # The default prior shrinks 0.8 and -0.5 a little towards 0.
    c1 <- suppressWarnings(glmm(form, d, family = cumulative(), penalized = TRUE))
    expect_lt(abs(c1$coefficients[["x"]]), abs(a$coefficients[["x"]]))
    expect_equal(c1$coefficients, a$coefficients, tolerance = 0.1, info = info)
    expect_lt(as.numeric(logLik(c1)), as.numeric(logLik(a)))
  }
  # The ML fit is clmm's (the penalized one with a weak prior is that fit).
  skip_if_not_installed("ordinal")
  m <- ordinal::clmm(y ~ x + z + (1 | g), data = d, nAGQ = 10)
  b <- glmm(y ~ x + z + (1 | g), d, family = cumulative(), penalized = weak, nAGQ = 10)
  expect_equal(unname(b$coefficients), unname(m$beta), tolerance = 1e-4)
  expect_equal(unname(b$thresholds), unname(m$alpha), tolerance = 1e-4)
})

test_that("the penalized optimum does not depend on centring; the prior acts on the coefficients as coded", {
  d <- penalized_ordinal_data(sep = TRUE)
  fit <- function(dd, form = y ~ s + z + (1 | g), pen = TRUE, ...)
    suppressWarnings(glmm(form, dd, family = cumulative(), penalized = pen, ...))
  a <- fit(d)
  # Centring (or any shift) moves only the thresholds, which the prior does
  # not touch: the same coefficients, log-likelihood and standard errors.
  dc <- transform(d, s = s - 7, z = z + 1e4)
  b <- fit(dc)
  expect_equal(b$coefficients, a$coefficients, tolerance = 1e-6)
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-9)
  expect_equal(sqrt(diag(vcov(b)))[4:5], sqrt(diag(vcov(a)))[4:5], tolerance = 1e-5)
  expect_equal(unname(b$thresholds), unname(a$thresholds - 7 * a$coefficients[["s"]] +
                                              1e4 * a$coefficients[["z"]]), tolerance = 1e-6)
  # Units: z * 10 under a prior of scale 0.1 on its coefficient is the
  # same model and prior as z under scale 1.
  du <- transform(d, z = z * 10)
  u <- fit(du, pen = list(pen_sigma = c(1, 0.1)))
  expect_equal(u$coefficients[["z"]] * 10, a$coefficients[["z"]], tolerance = 1e-6)
  expect_equal(as.numeric(logLik(u)), as.numeric(logLik(a)), tolerance = 1e-9)
  # ... but under the same scale 1 the prior is another one: a different fit.
  u1 <- fit(du)
  expect_gt(abs(u1$coefficients[["s"]] - a$coefficients[["s"]]), 1e-4)
  # Contrast coding: a two-level factor's sum coding is -1/2 times the
  # treatment coding's coefficient; a prior of scale 1/2 there is the same.
  d$f <- factor(ifelse(d$s == 1, "b", "a"))
  tr <- fit(d, y ~ f + z + (1 | g))
  sm <- fit(d, y ~ f + z + (1 | g), pen = list(pen_sigma = c(0.5, 1)),
            contrasts = list(f = "contr.sum"))
  expect_equal(sm$coefficients[[1]], -tr$coefficients[[1]] / 2, tolerance = 1e-6)
  expect_equal(as.numeric(logLik(sm)), as.numeric(logLik(tr)), tolerance = 1e-9)
  expect_equal(tr$coefficients[["fb"]], a$coefficients[["s"]], tolerance = 1e-6)
  # Slopes and several terms: centring too.
  for (form in list(y ~ s + z + (1 + z | g), y ~ s + z + (1 | g) + (1 | h))) {
    a2 <- fit(d, form)
    b2 <- fit(dc, form)
    expect_equal(b2$coefficients, a2$coefficients, tolerance = 1e-5, info = deparse(form))
  }
})

test_that("simulated known truth: the penalized estimates recover the coefficients", {
  set.seed(2811)
  M <- 150; m <- 8; n <- M * m
  g <- factor(rep(seq_len(M), each = m))
  x <- stats::rnorm(n); tr <- rep(0:1, length.out = n)
  lat <- 1 * x - 0.7 * tr + stats::rnorm(M, sd = 0.8)[g] + stats::rlogis(n)
  d <- data.frame(y = cut(lat, c(-Inf, -1, 0.5, 2, Inf), ordered_result = TRUE), x, tr, g)
  f <- glmm(y ~ x + tr + (1 | g), d, family = cumulative(), penalized = TRUE, nAGQ = 7)
  se <- sqrt(diag(vcov(f)))
  z <- (c(f$thresholds, f$coefficients) - c(-1, 0.5, 2, 1, -0.7)) / se
  expect_true(all(abs(z) < 3.5))
  expect_lt(abs(f$sigma_re - 0.8), 3 * sqrt(f$cov_psi[6, 6]) * f$sigma_re)
})

test_that("penalized cumulative fits: bad input and what is refused", {
  d <- penalized_ordinal_data()
  expect_error(glmm(y ~ x + z + (1 | g), d, family = cumulative(),
                    penalized = list(pen_sigma = c(1, 2, 3))), "pen_sigma")
  expect_error(glmm(y ~ x + z + (1 | g), d, family = cumulative(), penalized = list(pen_zi = TRUE)),
               "ziformula")
  expect_error(glmm(y ~ x + z + diag(1 + z | g), d, family = cumulative()),
               "no covariance-structure terms")
  expect_error(glmm(y ~ x + z + (1 | g), d, family = cumulative(), penalized = list(scale = 2)),
               "unknown component")
})

# predict(se.fit = TRUE) for type = "prob_marginal" and re.form = NULL.

# The delta method by central differences of `pfun` (the predictions as a
# vector, as a function of the parameters psi) over covariance V.
num_delta_se <- function(pfun, V, psi) {
  G <- sapply(seq_along(psi), function(i) {
    h <- 1e-6 * max(1, abs(psi[i]))
    e <- replace(numeric(length(psi)), i, h)
    (pfun(psi + e) - pfun(psi - e)) / (2 * h)
  })
  sqrt(rowSums((G %*% V) * G))
}

# Category probabilities from cumulative ones (n x (J - 1)).
cat_probs <- function(C) {
  C <- cbind(0, C, 1)
  C[, -1L] - C[, -ncol(C)]
}

test_that("population-averaged category probabilities: standard errors against central differences and the probit closed form", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  nd <- w[c(1, 5, 20, 40, 63), ]
  X <- model.matrix(~ temp + contact, nd)[, -1]
  for (link in c("logit", "probit")) {
    f <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative(link),
              nAGQ = 10)
    p <- predict(f, nd, type = "prob_marginal", se.fit = TRUE)
    expect_equal(p$fit, predict(f, nd, type = "prob_marginal"))
    expect_identical(dim(p$se.fit), dim(p$fit))
    # The same 30-node average, differenced in (thresholds, beta, log sigma).
    pf <- function(ps) as.vector(glmmgee:::ordinal_marginal_probs(f$family, ps[1:4],
                                                                 drop(X %*% ps[5:6]), exp(ps[7]), 30L))
    expect_equal(unname(as.vector(p$se.fit)), num_delta_se(pf, f$cov_psi, unname(f$psi)),
                 tolerance = 1e-6, info = link)
    if (link == "probit") {
      # Known values: averaged over N(0, s^2) the probit cumulative
      # probability is Phi((theta_j - eta) / sqrt(1 + s^2)) exactly.
      pc <- function(ps) as.vector(cat_probs(stats::pnorm(
        outer(-drop(X %*% ps[5:6]), ps[1:4], "+") / sqrt(1 + exp(2 * ps[7])))))
      psi <- unname(f$psi)
      expect_equal(unname(as.vector(p$fit)), pc(psi), tolerance = 1e-12)
      expect_equal(unname(as.vector(p$se.fit)), num_delta_se(pc, f$cov_psi, psi), tolerance = 1e-6)
    }
  }
})

test_that("prob_marginal standard errors with random slopes and several terms; re.form = NULL at the modes", {
  d <- penalized_ordinal_data()
  nd <- d[c(3, 50, 120, 200), ]
  X <- as.matrix(nd[, c("x", "z")])
  Z <- cbind(1, nd$z)
  fs <- glmm(y ~ x + z + (1 + z | g), d, family = cumulative())
  expect_false(fs$singular)
  p <- predict(fs, nd, type = "prob_marginal", se.fit = TRUE)
  expect_equal(p$fit, predict(fs, nd, type = "prob_marginal"))
  # s_i = sqrt(z_i' Lambda Lambda' z_i) from (thresholds, beta, lambda).
  pf <- function(ps) {
    L <- matrix(0, 2, 2)
    dg <- fs$lam_row == fs$lam_col
    L[cbind(fs$lam_row, fs$lam_col)] <- ifelse(dg, exp(ps[6:8]), ps[6:8])
    s <- sqrt(rowSums((Z %*% L)^2))
    as.vector(t(sapply(seq_len(nrow(X)), function(i)
      glmmgee:::ordinal_marginal_probs(fs$family, ps[1:3], sum(X[i, ] * ps[4:5]), s[i], 30L))))
  }
  expect_equal(unname(as.vector(p$se.fit)), num_delta_se(pf, fs$cov_psi, unname(fs$psi)),
               tolerance = 1e-6)
  # Several terms: over (thresholds, beta, log of the total sd).
  f2 <- glmm(y ~ x + z + (1 | g) + (1 | h), d, family = cumulative())
  p2 <- predict(f2, nd, type = "prob_marginal", se.fit = TRUE)
  pf2 <- function(ps) as.vector(glmmgee:::ordinal_marginal_probs(f2$family, ps[1:3],
                                                                  drop(X %*% ps[4:5]), exp(ps[6]), 30L))
  expect_equal(unname(as.vector(p2$se.fit)), num_delta_se(pf2, f2$cov_psi, unname(f2$psi)),
               tolerance = 1e-6)
  # re.form = NULL: the probabilities at the fitted modes, differenced in
  # (thresholds, beta) with the modes held fixed.
  f1 <- glmm(y ~ x + z + (1 | g), d, family = cumulative())
  for (fit in list(f1, fs, f2)) {
    pn <- predict(fit, nd, type = "prob", re.form = NULL, se.fit = TRUE)
    ln <- predict(fit, nd, type = "linear", re.form = NULL, se.fit = TRUE)
    expect_equal(pn$fit, predict(fit, nd, type = "prob", re.form = NULL))
    expect_equal(ln$fit, predict(fit, nd, type = "linear", re.form = NULL))
    b <- ln$fit - drop(X %*% fit$coefficients)  # the modes' part of eta
    expect_gt(max(abs(b)), 0.1)
    pfn <- function(ps) as.vector(cat_probs(stats::plogis(outer(-(drop(X %*% ps[4:5]) + b),
                                                                 ps[1:3], "+"))))
    V <- vcov(fit)
    psi <- c(unname(fit$thresholds), unname(fit$coefficients))
    expect_equal(unname(as.vector(pn$se.fit)), num_delta_se(pfn, V, psi), tolerance = 1e-6)
    # x'beta + z'b: the same standard error as at b = 0 (the modes are known).
    expect_equal(ln$se.fit, predict(fit, nd, type = "linear", se.fit = TRUE)$se.fit)
  }
  # The fitted rows (newdata NULL).
  expect_identical(dim(predict(f2, type = "prob", re.form = NULL, se.fit = TRUE)$se.fit),
                   c(nrow(d), 4L))
  expect_error(predict(f2, nd, type = "class", se.fit = TRUE), "'se.fit'")
})

test_that("prob_marginal standard errors do not depend on a covariate's units", {
  d <- penalized_ordinal_data()
  d$xs <- d$x * 1e-6 - 5
  nd <- d[c(2, 50, 100, 200), ]
  for (form in list(~ (1 | g), ~ (1 | g) + (1 | h))) {
    f1 <- glmm(update(form, y ~ x + z + .), d, family = cumulative())
    f2 <- glmm(update(form, y ~ xs + z + .), d, family = cumulative())
    s1 <- predict(f1, nd, type = "prob_marginal", se.fit = TRUE)$se.fit
    s2 <- predict(f2, nd, type = "prob_marginal", se.fit = TRUE)$se.fit
    expect_equal(s2, s1, tolerance = 1e-5, info = deparse(form))
  }
})

test_that("adaptive quadrature with random slopes runs on the standardized Z: the same fit in any units", {
  # (z ~ N(1, 1): well scaled, so before only the Laplace approximation's
  # odd units were standardized and AGHQ ran on the user's Z.)
  set.seed(28)
  M <- 40; m <- 6; n <- M * m
  g <- factor(rep(seq_len(M), each = m))
  x <- stats::rnorm(n)
  z <- stats::rnorm(n, 1, 1)
  lat <- 0.8 * x - 0.5 * z + stats::rnorm(M, sd = 1.2)[g] + stats::rnorm(M, sd = 0.8)[g] * z +
    stats::rlogis(n)
  d <- data.frame(y = cut(lat, c(-Inf, -1, 0.2, 1.3, Inf), ordered_result = TRUE), x, z, g,
                  zs = z * 1e-6 - 5, z6 = z * 1e-6)
  fit <- function(form, K) suppressWarnings(glmm(form, d, family = cumulative(), nAGQ = K))
  for (K in c(3L, 5L)) {
    a <- fit(y ~ x + z + (1 + z | g), K)
    b <- fit(y ~ x + zs + (1 + zs | g), K)
    expect_true(a$optinfo$centred_z)
    expect_lt(abs(as.numeric(logLik(b)) - as.numeric(logLik(a))), 1e-8)
    expect_equal(b$coefficients[["x"]], a$coefficients[["x"]], tolerance = 1e-5)
    expect_equal(b$coefficients[["zs"]] * 1e-6, a$coefficients[["z"]], tolerance = 1e-5)
    expect_equal(unname(b$re_cov[2, 2]) * 1e-12, unname(a$re_cov[2, 2]), tolerance = 1e-4)
    # The fit's design is the one ordinal_loglik_at_re() evaluates on.
    expect_equal(glmmgee:::ordinal_loglik_at_re(a, a$psi), a$loglik, tolerance = 1e-12)
  }
  # (z || g) is invariant to z's units only. On the user's Z the nAGQ = 5
  # search stopped in a false singular fit (slope sd 1e-4) 0.010 below
  # the optimum that z * 1e-6 found.
  a <- fit(y ~ x + z + (z || g), 5L)
  b <- fit(y ~ x + z6 + (z6 || g), 5L)
  expect_lt(abs(as.numeric(logLik(b)) - as.numeric(logLik(a))), 1e-8)
  expect_false(a$singular)
  expect_gt(sqrt(a$re_cov[2, 2]), 0.05)
  # The Laplace approximation is the same value on either design.
  la <- fit(y ~ x + z + (1 + z | g), 1L)
  lb <- fit(y ~ x + zs + (1 + zs | g), 1L)
  expect_lt(abs(as.numeric(logLik(lb)) - as.numeric(logLik(la))), 1e-8)
  # wine, (1 + temp | judge) by nAGQ = 3: the product grid turns with the
  # random effects' coordinates, and on the user's Z the fit was 3.9e-5
  # above the one of temp coded 1e-6 - 5 (a different approximation).
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$t2 <- as.numeric(w$temp == "warm") * 1e-6 - 5
  a <- suppressWarnings(glmm(rating ~ temp + contact + (1 + temp | judge), data = w,
                             family = cumulative(), nAGQ = 3))
  b <- suppressWarnings(glmm(rating ~ t2 + contact + (1 + t2 | judge), data = w,
                             family = cumulative(), nAGQ = 3))
  expect_lt(abs(as.numeric(logLik(b)) - as.numeric(logLik(a))), 1e-8)
  expect_equal(glmmgee:::ordinal_loglik_at_re(a, a$psi), a$loglik, tolerance = 1e-12)
})
