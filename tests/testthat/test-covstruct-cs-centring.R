# cs() with two columns is the unstructured 2 x 2 term (two standard
# deviations and a correlation in (-1, 1)), and any invertible map of its
# columns keeps that family: with a column far from zero it is searched as
# the unstructured term, centred and mapped back (covstruct-cs-two-columns.R).

# cs()'s parameters (log sd1, log sd2, logit-scale rho, i.e. 2 atanh(rho))
# of a 2 x 2 covariance.
cs_centring_par <- function(V) {
  s <- sqrt(diag(V))
  c(log(s), 2 * atanh(V[1, 2] / prod(s)))
}

# Central differences of those parameters in Lambda's entries
# (l11, l21, l22), written through rho / sqrt(1 - rho^2) = l21 / l22 so that
# a correlation within 1e-13 of -1 keeps its digits.
cs_centring_jacobian <- function(l, h = 1e-6) {
  f <- function(l) c(log(abs(l[1])), 0.5 * log(l[2]^2 + l[3]^2), 2 * sign(l[1]) * asinh(l[2] / abs(l[3])))
  vapply(1:3, function(j) {
    e <- replace(numeric(3), j, h * abs(l[j]))
    (f(l + e) - f(l - e)) / (2 * e[j])
  }, numeric(3))
}

test_that("cs(x * 1e-6 - 5 | a) + homdiag(1 | b): REML and ML are lmer's optimum on x, mapped", {
  skip_if_not_installed("lme4")
  d <- far_slope_crossed(2771)
  Tm <- matrix(c(1, 0, 5 / 1e-6, 1 / 1e-6), 2, 2)
  for (reml in c(TRUE, FALSE)) {
    l1 <- lme4::lmer(y ~ x + (x | a) + (1 | b), d, REML = reml)
    # Before: 21 log-likelihood units below the optimum, silently.
    f2 <- glmm(y ~ x2 + cs(x2 | a) + homdiag(1 | b), d, REML = reml)
    fu <- glmm(y ~ x2 + (x2 | a) + homdiag(1 | b), d, REML = reml)
    expect_true(isTRUE(f2$optinfo$centred_z))
    expect_length(f2$optinfo$warnings, 0L)
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(l1)) + if (reml) log(1e6) else 0,
                 tolerance = 1e-9)
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(fu)), tolerance = 1e-10)
    expect_equal(unname(fixef(f2)), unname(drop(Tm %*% lme4::fixef(l1))), tolerance = 1e-5)
    expect_equal(unname(vcov(f2)), unname(vcov(fu)), tolerance = 1e-6)
    # cs()'s parameters are those of lmer's covariance on x, mapped.
    Va <- Tm %*% unclass(lme4::VarCorr(l1))$a %*% t(Tm)
    s <- f2$structures[[1]]
    expect_identical(s$kind, "cs")
    expect_equal(unname(s$parameters), cs_centring_par(Va), tolerance = 1e-4)
    expect_equal(unname(s$sd), sqrt(diag(Va)), tolerance = 1e-4)
    expect_equal(s$rho, Va[1, 2] / sqrt(prod(diag(Va))), tolerance = 1e-4)
    expect_equal(unname(unclass(VarCorr(f2))$a[1:2, 1:2]), unname(Va), tolerance = 1e-4)
    # Standard errors: the unstructured fit's, carried by the delta method.
    lam <- fu$theta_structure[grep("^us\\(", names(fu$theta_structure))]
    k <- match(names(lam), names(fu$theta_structure))
    J <- cs_centring_jacobian(unname(lam))
    se <- sqrt(diag(J %*% fu$cov_theta[k, k] %*% t(J)))
    expect_equal(unname(s$se), se, tolerance = 1e-4)
  }
})

test_that("a Poisson cs(x * 1e-6 - 5 | a) + homdiag(1 | b) is the unstructured fit on x, mapped", {
  d <- far_slope_crossed(2775, "poisson")
  Tm <- matrix(c(1, 0, 5 / 1e-6, 1 / 1e-6), 2, 2)
  f1 <- glmm(y ~ x + (x | a) + homdiag(1 | b), d, family = poisson)
  # Before: 5.4 below the optimum.
  f2 <- glmm(y ~ x2 + cs(x2 | a) + homdiag(1 | b), d, family = poisson)
  expect_false(f1$singular)
  expect_far_slope_mapped(f2, f1, Tm)
  Va <- Tm %*% unclass(VarCorr(f1))$a[1:2, 1:2] %*% t(Tm)
  expect_equal(unname(f2$structures[[1]]$parameters), cs_centring_par(Va), tolerance = 1e-4)
  expect_equal(f2$structures[[2]]$sd, f1$structures[[2]]$sd, tolerance = 1e-5)
})

test_that("cs(x | a) near zero runs as before (not searched unstructured)", {
  d <- far_slope_crossed(2771)
  f <- glmm(y ~ x + cs(x | a) + homdiag(1 | b), d)
  expect_null(f$optinfo$centred_z)
  expect_null(f$optinfo$cs2_unstructured)
})

test_that("one grouping factor: a far-off two-column cs() is lmer's optimum (gaussian), or the unstructured fit (quadrature)", {
  skip_if_not_installed("lme4")
  d <- far_slope_crossed(2771)
  Tm <- matrix(c(1, 0, 5 / 1e-6, 1 / 1e-6), 2, 2)
  l1 <- lme4::lmer(y ~ x + (x | a), d, REML = FALSE)
  # Before: fitted on the columns as given, below the optimum.
  f <- glmm(y ~ x2 + cs(x2 | a), d)
  expect_length(f$optinfo$warnings, 0L)
  expect_true(isTRUE(f$optinfo$centred_z))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l1)), tolerance = 1e-9)
  Va <- Tm %*% unclass(lme4::VarCorr(l1))$a %*% t(Tm)
  expect_equal(unname(f$structures[[1]]$parameters), cs_centring_par(Va), tolerance = 1e-4)
  expect_equal(unname(fixef(f)), unname(drop(Tm %*% lme4::fixef(l1))), tolerance = 1e-5)
  # Adaptive quadrature (Poisson's default nAGQ = 7) integrates on the
  # term's centred columns, as the unstructured route does (it warned and
  # ran on the columns as given before): the unstructured fit's
  # log-likelihood, no warning.
  dp <- far_slope_crossed(2775, "poisson")
  fp <- expect_no_warning(glmm(y ~ x2 + cs(x2 | a), dp, family = poisson))
  fu <- glmm(y ~ x2 + (x2 | a), dp, family = poisson)
  expect_identical(fp$optinfo$cs2_centred, "cs(x2 | a)")
  expect_equal(as.numeric(logLik(fp)), as.numeric(logLik(fu)), tolerance = 1e-10)
  expect_no_warning(glmm(y ~ x + cs(x | a), d))
})

test_that("cs(0 + time | id) + (1 | site) taking up the residual: fixed-effect SEs from V, recorded, glmmTMB's optimum", {
  skip_if_not_installed("glmmTMB")
  cf <- cs_site_fit()
  d <- cf$data
  f <- cf$fit
  w <- cf$warnings
  # Before: the right log-likelihood, every standard error NA.
  expect_true(isTRUE(f$optinfo$residual_unidentified))
  expect_true(any(grepl("residual standard deviation is at its zero limit", w)))
  expect_false(any(grepl("not negative definite", w)))
  expect_true(all(is.finite(vcov(f))))
  tm <- glmmTMB::glmmTMB(y ~ x + cs(0 + time | id) + (1 | site), d)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-8)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-5)
  # (X' V^-1 X)^-1 at glmmTMB's estimates, V built here from its VarCorr.
  vc <- glmmTMB::VarCorr(tm)$cond
  X <- model.matrix(~ x, d)
  Zi <- model.matrix(~ 0 + time, d)
  same_id <- outer(d$id, d$id, "==")
  V <- (Zi %*% vc$id %*% t(Zi)) * same_id + c(vc$site) * outer(d$site, d$site, "==") +
    diag(sigma(tm)^2, nrow(d))
  Vb <- solve(crossprod(X, solve(V, X)))
  expect_equal(unname(vcov(f)), unname(Vb), tolerance = 1e-4)
  # glmmTMB's own covariance is the observed information's (the joint
  # Hessian), which differs from the expected one by under 2% here.
  expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(tm)$cond))), tolerance = 2e-2)
  # The variance parameters' standard errors with log(sigma) held
  # (earlier in this file); none for log(sigma).
  expect_true(all(is.finite(f$structures[[1]]$se)))
  expect_true(is.na(sqrt(f$cov_structure["log(sigma)", "log(sigma)"])))
})

# Every id's three values in all six orders: the time columns are
# exchangeable, and the fit's cs() standard deviations come out equal.
cs_centring_exchangeable <- function() {
  set.seed(3)
  n0 <- 20
  L <- matrix(0.5, 3, 3) + diag(0.5, 3)
  B <- t(chol(L)) %*% matrix(rnorm(3 * n0), 3, n0) + matrix(rnorm(3 * n0, sd = 0.5), 3, n0)
  perms <- rbind(c(1, 2, 3), c(1, 3, 2), c(2, 1, 3), c(2, 3, 1), c(3, 1, 2), c(3, 2, 1))
  Y <- do.call(cbind, lapply(seq_len(n0), function(i) apply(perms, 1, function(p) B[p, i])))
  data.frame(y = as.vector(Y) + 1, time = factor(rep(1:3, ncol(Y))),
             id = factor(rep(seq_len(ncol(Y)), each = 3)))
}

test_that("a three-column cs() at equal standard deviations with one observation per id and time: residual not identified", {
  skip_if_not_installed("glmmTMB")
  d <- cs_centring_exchangeable()
  w <- character()
  f <- withCallingHandlers(glmm(y ~ 1 + cs(0 + time | id), d), warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  # Before: no warning, one arbitrary split with standard errors of 7.7 and 46.
  expect_true(isTRUE(f$optinfo$residual_unidentified))
  expect_true(any(grepl("residual variance is not identifiable.*equal standard deviations", w)))
  expect_true(all(is.na(f$structures[[1]]$se)))
  tm <- glmmTMB::glmmTMB(y ~ 1 + cs(0 + time | id), d)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-8)
  # What is identified: the common variance plus sigma^2, and the covariance.
  vt <- glmmTMB::VarCorr(tm)$cond$id
  s <- f$structures[[1]]
  expect_equal(s$sd[[1]]^2 + sigma(f)^2, vt[1, 1] + sigma(tm)^2, tolerance = 1e-4)
  expect_equal(s$rho * s$sd[[1]]^2, vt[1, 2], tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(tm)$cond))), tolerance = 1e-4)
  # Unequal standard deviations (cs_data()'s 1, 1.3, 0.8): identified, no
  # such record.
  d2 <- cs_data(3)
  d2$site <- factor(rep(1:8, length.out = nrow(d2)))
  f2 <- suppressWarnings(glmm(y ~ x + cs(0 + time | id), d2))
  expect_null(f2$optinfo$residual_unidentified)
})

test_that("the several-term route: a three-column cs() at equal standard deviations is marked too", {
  d <- cs_centring_exchangeable()
  d$site <- factor(rep(1:5, length.out = nrow(d)))
  f <- suppressWarnings(glmm(y ~ 1 + cs(0 + time | id) + (1 | site), d))
  expect_equal(max(f$structures[[1]]$sd) / min(f$structures[[1]]$sd), 1, tolerance = 1e-5)
  expect_true(isTRUE(f$optinfo$residual_unidentified))
  expect_true(any(grepl("equal standard deviations", f$optinfo$warnings)))
  expect_true(all(is.na(f$structures[[1]]$se)))
})


# The covariance of (intercept, slope) in x2 = s x + m units from that in x.
slope_cov_map <- function(D, s, m) {
  Mm <- matrix(c(1, 0, -m / s, 1 / s), 2, 2)
  Mm %*% D %*% t(Mm)
}

test_that("a far-off cs(x2 | a) under adaptive quadrature is the fit on the centred covariate", {
  d <- count_slope_data()
  for (fam in c("poisson", "binomial")) {
    resp <- if (fam == "poisson") "y" else "yb"
    for (k in c(1, 3, 7)) {
      f0 <- glmm(as.formula(sprintf("%s ~ x + cs(x | a)", resp)), d, family = fam, nAGQ = k)
      D0 <- unclass(VarCorr(f0))$a[1:2, 1:2]
      for (v in c("x_far", "x_small")) {
        # Before (nAGQ > 1): fitted on the columns as given, with a warning;
        # Poisson at nAGQ = 7 ended 10.3 below (-627.414 against -617.133).
        f <- expect_no_warning(glmm(as.formula(sprintf("%s ~ %s + cs(%s | a)", resp, v, v)), d,
                                    family = fam, nAGQ = k))
        expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-8)
        s <- if (v == "x_far") 1 else 1e-3
        m <- if (v == "x_far") 1e3 else 50
        # The slope (near zero here) to 1e-4 of its standard error.
        se0 <- sqrt(diag(vcov(f0)))[[2]]
        expect_lt(abs(unname(fixef(f))[2] * s - unname(fixef(f0))[2]) / se0, 1e-4)
        expect_equal(sqrt(diag(vcov(f)))[[2]] * s, se0, tolerance = 1e-4)
        D <- unclass(VarCorr(f))$a[1:2, 1:2]
        expect_equal(unname(D), unname(slope_cov_map(D0, s, m)), tolerance = 1e-4)
        st <- f$structures[[1]]
        expect_identical(st$kind, "cs")
        expect_equal(unname(st$sd), sqrt(diag(unname(D))), tolerance = 1e-10)
        expect_true(all(is.finite(st$se)))
        expect_true(all(is.finite(sqrt(diag(vcov(f))))))
        expect_length(f$optinfo$warnings, 0L)
      }
    }
  }
})

test_that("a far-off cs(x2 | a) under adaptive quadrature is the unstructured (x2 | a) fit", {
  d <- count_slope_data()
  # x not centred: the unstructured route integrates on the centred and
  # scaled columns in any case, and so does cs() now.
  d$x_far <- d$x_far + 0.7
  for (k in c(3, 7)) {
    f <- glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = k)
    fu <- glmm(y ~ x_far + (x_far | a), d, family = poisson, nAGQ = k)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(fu)), tolerance = 1e-8)
    expect_equal(unname(unclass(VarCorr(f))$a[1:2, 1:2]), unname(unclass(VarCorr(fu))$a[1:2, 1:2]),
                 tolerance = 1e-4)
    # The conditional modes: those of the same model.
    expect_equal(unname(as.matrix(ranef(f)$a)), unname(as.matrix(ranef(fu)$a)), tolerance = 1e-4)
  }
  # Robust covariances and profiles evaluate that approximation on the
  # centred columns too (the two fits agree to 1e-4; on the user's Z it
  # was another approximation, CR3 0.9% off the unstructured fit's, and
  # profile() stopped as not rebuilt)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f, type = ty)[2, 2], vcov(fu, type = ty)[2, 2], tolerance = 1e-4, info = ty)
  ci <- confint(f, parm = "x_far", method = "profile")
  expect_equal(unname(ci[1, ]), unname(confint(fu, parm = "x_far", method = "profile")[1, ]),
               tolerance = 1e-4)
  # Rows of weight 0: centred over all rows, as the unstructured term is.
  d$w <- rep(c(0, 1), c(5, nrow(d) - 5))
  f <- glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = 3, weights = w)
  fu <- glmm(y ~ x_far + (x_far | a), d, family = poisson, nAGQ = 3, weights = w)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(fu)), tolerance = 1e-8)
})

test_that("cs(x | a) on the well-scaled covariate is glmmTMB's cs() (Laplace)", {
  skip_if_not_installed("glmmTMB")
  d <- count_slope_data()
  for (fam in c("poisson", "binomial")) {
    resp <- if (fam == "poisson") "y" else "yb"
    fo <- as.formula(sprintf("%s ~ x + cs(x | a)", resp))
    tm <- glmmTMB::glmmTMB(fo, d, family = fam)
    f <- glmm(as.formula(sprintf("%s ~ x_far + cs(x_far | a)", resp)), d, family = fam, nAGQ = 1)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(tm)), tolerance = 1e-6)
    se <- sqrt(diag(vcov(tm)$cond))[[2]]
    expect_lt(abs(unname(fixef(f))[2] - unname(glmmTMB::fixef(tm)$cond)[2]) / se, 1e-3)
    expect_equal(sqrt(diag(vcov(f)))[[2]], se, tolerance = 1e-3)
  }
})


test_that("a far-off cs() term reports the gradient the optimizer searched, and the user's beside it", {
  d <- count_slope_data()
  for (k in c(1, 3)) {
    f0 <- glmm(y ~ x + cs(x | a), d, family = poisson, nAGQ = k)
    for (v in c("x_far", "x_small")) {
      f <- expect_no_warning(glmm(as.formula(sprintf("y ~ %s + cs(%s | a)", v, v)), d,
                                  family = poisson, nAGQ = k))
      o <- f$optinfo
      # Before: max_grad 0.151 (x_far) and 2.18 (x_small) at nAGQ = 3, 0.021
      # and 0.215 at nAGQ = 1, at the optimum of the fit on x.
      expect_identical(o$grad_basis, "standardized")
      expect_lt(o$max_grad, 1e-3)
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-8)
      # The user's gradient (what max_grad was) beside it.
      expect_gt(o$max_grad_user, o$max_grad)
      expect_lt(o$scaled_grad, glmm_control()$grad_tol)
      out <- utils::capture.output(summary(f))
      expect_true(any(grepl("max|gradient|", out, fixed = TRUE) &
                        grepl("(standardized parameters)", out, fixed = TRUE)))
    }
  }
})

test_that("the other centred routes report the searched gradient: (x | a), several terms", {
  d <- count_slope_data()
  fits <- list(
    glmm(y ~ x_small + (x_small | a), d, family = poisson, nAGQ = 3),
    glmm(yb ~ x_far + (x_far | a), d, family = binomial, nAGQ = 5),
    suppressWarnings(glmm(y ~ x_far + (x_far | a) + (1 | b), d, family = poisson)),
    suppressWarnings(glmm(y ~ x_far + cs(x_far | a) + (1 | b), d, family = poisson)))
  ref <- list(
    glmm(y ~ x + (x | a), d, family = poisson, nAGQ = 3),
    glmm(yb ~ x + (x | a), d, family = binomial, nAGQ = 5),
    suppressWarnings(glmm(y ~ x + (x | a) + (1 | b), d, family = poisson)),
    suppressWarnings(glmm(y ~ x + cs(x | a) + (1 | b), d, family = poisson)))
  for (i in seq_along(fits)) {
    o <- fits[[i]]$optinfo
    expect_identical(o$grad_basis, "standardized", info = i)
    # Before: the cs() term beside (1 | b) reported 0.092.
    expect_lt(o$max_grad, 1e-3)
    expect_true(is.finite(o$max_grad_user), info = i)
    expect_equal(as.numeric(logLik(fits[[i]])), as.numeric(logLik(ref[[i]])), tolerance = 1e-8,
                 info = i)
  }
})

test_that("a far-off cs() fit that has not converged still warns", {
  d <- count_slope_data()
  w <- character()
  f <- withCallingHandlers(
    glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = 3,
         control = glmm_control(rel.tol = 1e-2)),
    warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  good <- glmm(y ~ x_far + cs(x_far | a), d, family = poisson, nAGQ = 3)
  # Stopped short (1.5e-3 below), and says so, with the searched gradient.
  expect_lt(as.numeric(logLik(f)), as.numeric(logLik(good)) - 1e-4)
  expect_true(any(grepl("^doubtful convergence", w)))
  expect_identical(f$optinfo$grad_basis, "standardized")
  expect_gt(f$optinfo$max_grad, 1e-3)
  expect_gt(f$optinfo$scaled_grad, glmm_control()$grad_tol)
})
