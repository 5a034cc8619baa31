# REML for gaussian identity-link models against lme4::lmer (REML = TRUE).

reml_vs_lmer <- function(f, m) {
  expect_true(isREML(f))
  expect_equal(unname(fixef(f)), unname(lme4::fixef(m)), tolerance = 1e-4)
  expect_equal(sigma(f), sigma(m), tolerance = 1e-4)
  # Our restricted log-likelihood is lmer's, and not lower than lmer's.
  expect_gt(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-6)
  expect_lt(abs(as.numeric(logLik(f)) - as.numeric(logLik(m))), 1e-4)
  expect_equal(sqrt(diag(vcov(f))), sqrt(diag(as.matrix(vcov(m)))), tolerance = 1e-4,
               ignore_attr = TRUE)
  vm <- as.data.frame(lme4::VarCorr(m))
  vf <- as.data.frame(VarCorr(f))
  expect_equal(sort(vf$sdcor), sort(vm$sdcor), tolerance = 1e-4)
  expect_equal(as.numeric(logLik(f, REML = FALSE)), as.numeric(logLik(m, REML = FALSE)),
               tolerance = 1e-4)
}

test_that("REML matches lmer: sleepstudy, random slopes (one-factor engine)", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  f <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
  reml_vs_lmer(f, m)
  expect_false(inherits(f, "glmmgee_glmm_sparse"))
  expect_equal(unname(as.matrix(ranef(f)$Subject)), unname(as.matrix(lme4::ranef(m)$Subject)),
               tolerance = 1e-3)
  out <- capture.output(print(f))
  expect_true(any(grepl("fit by REML", out)))
  expect_true(any(grepl("fit by REML", capture.output(print(summary(f))))))
  expect_false(isREML(glmm(Reaction ~ Days + (Days | Subject), sleepstudy)))
})

test_that("REML matches lmer: Penicillin, crossed factors (sparse engine)", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  m <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
  expect_s3_class(f, "glmmgee_glmm_sparse")
  reml_vs_lmer(f, m)
})

test_that("REML matches lmer: Dyestuff and the singular Dyestuff2", {
  skip_if_not_installed("lme4")
  data(Dyestuff, Dyestuff2, package = "lme4")
  f <- glmm(Yield ~ 1 + (1 | Batch), Dyestuff, REML = TRUE)
  reml_vs_lmer(f, lme4::lmer(Yield ~ 1 + (1 | Batch), Dyestuff))
  expect_warning(f2 <- glmm(Yield ~ 1 + (1 | Batch), Dyestuff2, REML = TRUE), "by REML")
  m2 <- lme4::lmer(Yield ~ 1 + (1 | Batch), Dyestuff2)
  expect_true(lme4::isSingular(m2))
  expect_true(f2$singular)
  reml_vs_lmer(f2, m2)
})

test_that("REML optimum and value do not depend on the scaling of X", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  d <- transform(sleepstudy, Hours = 24 * Days + 1000)
  f1 <- glmm(Reaction ~ Days + (Days | Subject), d, REML = TRUE)
  f2 <- glmm(Reaction ~ Hours + (Days | Subject), d, REML = TRUE)
  m2 <- lme4::lmer(Reaction ~ Hours + (Days | Subject), d)
  expect_equal(sigma(f1), sigma(f2), tolerance = 1e-6)
  expect_equal(f1$D, f2$D, tolerance = 1e-5)
  # The criterion moves by log(24) (the Jacobian of the rescaled slope) and
  # is lmer's for the user's X.
  expect_equal(as.numeric(logLik(f2) - logLik(f1)), -log(24), tolerance = 1e-6)
  expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(m2)), tolerance = 1e-6)
})

test_that("anova refits REML fits by ML; AIC says REML", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  f0 <- glmm(Reaction ~ 1 + (Days | Subject), sleepstudy, REML = TRUE)
  f1 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  expect_message(a <- anova(f0, f1), "refitting model\\(s\\) with ML")
  m0 <- lme4::lmer(Reaction ~ 1 + (Days | Subject), sleepstudy, REML = FALSE)
  m1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
  expect_equal(a$logLik, c(as.numeric(logLik(m0)), as.numeric(logLik(m1))), tolerance = 1e-6)
  g1 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy)
  expect_warning(AIC(f1, g1), "REML")
})

test_that("REML = TRUE is refused outside linear mixed models", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  expect_error(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp,
                    family = binomial, REML = TRUE), "REML is defined for linear mixed models")
  data(sleepstudy, package = "lme4")
  expect_error(glmm(Reaction ~ Days + (1 | Subject), sleepstudy,
                    family = gaussian(link = "log"), REML = TRUE), "gaussian\\(link")
  f <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)
  expect_equal(dim(confint(f)), c(4L, 2L))
  expect_error(profile(f, criterion = "both"), "'criterion' must be")
  expect_error(profile(f, which = "Days", criterion = "REML"), "does not depend on the fixed effects")
  expect_error(profile(glmm(Reaction ~ Days + (1 | Subject), sleepstudy), criterion = "REML"),
               "needs a fit with REML = TRUE")
})

test_that("REML matches lmer with weights, an offset, || terms and slopes on two factors", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(11)
  d <- sleepstudy
  d$w <- runif(nrow(d), 0.5, 2)
  d$o <- rnorm(nrow(d))
  d$x2 <- rnorm(nrow(d))
  d$g2 <- factor(sample(1:10, nrow(d), TRUE))
  reml_vs_lmer(glmm(Reaction ~ Days + (Days | Subject), d, weights = w, offset = o, REML = TRUE),
               lme4::lmer(Reaction ~ Days + (Days | Subject), d, weights = w, offset = o))
  f <- glmm(Reaction ~ Days + (Days || Subject), d, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days || Subject), d)
  reml_vs_lmer(f, m)
  expect_equal(unname(as.matrix(ranef(f)$Subject)), unname(as.matrix(lme4::ranef(m)$Subject)),
               tolerance = 1e-3)
  m <- lme4::lmer(Reaction ~ Days + x2 + (Days | Subject) + (1 | g2), d)
  expect_true(lme4::isSingular(m))
  expect_warning(f <- glmm(Reaction ~ Days + x2 + (Days | Subject) + (1 | g2), d, REML = TRUE),
                 "singular fit.*by REML")
  expect_s3_class(f, "glmmgee_glmm_sparse")
  reml_vs_lmer(f, m)
  expect_equal(unname(fitted(f)), unname(fitted(m)), tolerance = 1e-5)
  # Conditional variances of the modes, as lmer's condVar.
  pv <- attr(lme4::ranef(m, condVar = TRUE)$g2, "postVar")
  expect_equal(as.vector(attr(ranef(f)$g2, "postVar")), as.vector(pv), tolerance = 1e-3)
})

# lme4's profile of a REML fit is that of the ML refit (lme4:::devfun2 calls
# refitML()); confint(method = "profile") of ours does the same.
test_that("profile intervals of a REML fit are lme4's (the ML refit's): sleepstudy, Penicillin", {
  skip_if_not_installed("lme4")
  data(sleepstudy, Penicillin, package = "lme4")
  f <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
  cf <- confint(f, method = "profile")
  cm <- suppressMessages(confint(m, method = "profile"))
  # lme4's order: .sig01 (sd intercept), .sig02 (cor), .sig03 (sd Days), .sigma, fixed.
  expect_equal(unname(cf[c("sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                           "sd_Days|Subject", "sigma", "(Intercept)", "Days"), ]),
               unname(cm), tolerance = 1e-3)
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  m <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
  cf <- confint(f, method = "profile")
  cm <- suppressMessages(confint(m, method = "profile"))
  expect_equal(unname(cf[c("sd_(Intercept)|plate", "sd_(Intercept)|sample", "sigma",
                           "(Intercept)"), ]), unname(cm), tolerance = 1e-3)
})

test_that("profile(criterion = \"REML\") traces the restricted likelihood (Dyestuff, by dense algebra)", {
  skip_if_not_installed("lme4")
  data(Dyestuff, package = "lme4")
  f <- glmm(Yield ~ 1 + (1 | Batch), Dyestuff, REML = TRUE)
  cf <- confint(f, method = "profile", criterion = "REML")
  expect_equal(rownames(cf), c("sd_(Intercept)|Batch", "sigma"))
  # The restricted log-likelihood from V = sb^2 ZZ' + s^2 I directly.
  y <- Dyestuff$Yield
  X <- matrix(1, length(y))
  ZZ <- outer(Dyestuff$Batch, Dyestuff$Batch, "==") * 1
  rll <- function(sb, s) {
    V <- sb^2 * ZZ + s^2 * diag(length(y))
    Vi <- solve(V)
    XVX <- crossprod(X, Vi %*% X)
    b <- solve(XVX, crossprod(X, Vi %*% y))
    r <- y - X %*% b
    -0.5 * (determinant(V)$modulus + determinant(XVX)$modulus + sum(r * (Vi %*% r)) +
              (length(y) - 1) * log(2 * pi))
  }
  expect_equal(as.numeric(rll(f$D[1, 1]^0.5, sigma(f))), as.numeric(logLik(f)), tolerance = 1e-8)
  zeta <- function(sb) {
    o <- optimize(function(ls) rll(sb, exp(ls)), log(sigma(f)) + c(-2, 2), maximum = TRUE,
                  tol = 1e-10)
    # At the estimate itself the difference is zero up to the rounding of
    # the two evaluations (either sign): max(0, .) there, not sqrt() of a
    # negative rounding error (NaN at uniroot()'s bracket end).
    sign(sb - sqrt(f$D[1, 1])) * sqrt(max(0, 2 * (as.numeric(logLik(f)) - o$objective)))
  }
  z <- stats::qnorm(0.975)
  lims <- c(stats::uniroot(function(x) zeta(x) + z, c(1e-3, sqrt(f$D[1, 1])), tol = 1e-10)$root,
            stats::uniroot(function(x) zeta(x) - z, c(sqrt(f$D[1, 1]), 10 * sqrt(f$D[1, 1])),
                           tol = 1e-10)$root)
  expect_equal(unname(cf[1, ]), lims, tolerance = 1e-4)
  # Wider than the ML refit's interval for the batch standard deviation.
  expect_gt(cf[1, 2], confint(f, parm = "sd_(Intercept)|Batch", method = "profile")[1, 2])
})

test_that("the one-factor restricted and ML criteria: lmer's values, exact gradients", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("numDeriv")
  data(sleepstudy, package = "lme4")
  set.seed(3)
  w <- runif(nrow(sleepstudy), 0.5, 2)
  X <- model.matrix(~ Days, sleepstudy)
  suff <- glmmgee:::cpp_lmm_suff(X, X, sleepstudy$Reaction, w, as.integer(sleepstudy$Subject), 18L)
  pat <- glmmgee:::block_pattern(2L)
  for (reml in c(TRUE, FALSE)) {
    ev <- function(th) glmmgee:::cpp_lmm_eval(suff, th, pat$row - 1L, pat$col - 1L, reml, FALSE)
    th <- c(0.9, 0.1, 0.3)
    expect_equal(ev(th)$gradient, numDeriv::grad(function(t) ev(t)$deviance, th),
                 tolerance = 1e-6)
    m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy, weights = w, REML = reml)
    crit <- if (reml) lme4::REMLcrit(m) else deviance(m)
    expect_equal(ev(lme4::getME(m, "theta"))$deviance, crit, tolerance = 1e-8)
  }
})

test_that("one-factor criterion for q = 1 to 4 (fixed-size and dynamic algebra): lmer's values, exact gradients, the information", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("numDeriv")
  set.seed(18)
  M <- 60L
  d <- data.frame(g = factor(rep(seq_len(M), each = 12)), x1 = rnorm(12 * M),
                  x2 = runif(12 * M), x3 = rbinom(12 * M, 1, 0.4))
  b <- matrix(rnorm(4 * M, sd = c(1, 0.8, 0.6, 0.5)), M, 4, byrow = TRUE)
  X <- model.matrix(~ x1 + x2 + x3, d)
  d$y <- drop(X %*% c(2, 1, -1, 0.5)) + rowSums(X * b[d$g, ]) + rnorm(nrow(d))
  forms <- list(y ~ x1 + x2 + x3 + (1 | g), y ~ x1 + x2 + x3 + (x1 | g),
                y ~ x1 + x2 + x3 + (x1 + x2 | g), y ~ x1 + x2 + x3 + (x1 + x2 + x3 | g))
  for (q in 1:4) {
    Z <- X[, seq_len(q), drop = FALSE]
    suff <- glmmgee:::cpp_lmm_suff(X, Z, d$y, rep(1, nrow(d)), as.integer(d$g), M)
    pat <- glmmgee:::block_pattern(q)
    ev <- function(th) glmmgee:::cpp_lmm_eval(suff, th, pat$row - 1L, pat$col - 1L, TRUE, FALSE)
    m <- lme4::lmer(forms[[q]], d, REML = TRUE)
    th <- lme4::getME(m, "theta")
    expect_equal(ev(th)$deviance, lme4::REMLcrit(m), tolerance = 1e-8)
    th1 <- th * 0.8 + 0.05
    expect_equal(ev(th1)$gradient, numDeriv::grad(function(t) ev(t)$deviance, th1),
                 tolerance = 1e-6)
    # The information pieces in one call: the sigma-free gradient and its
    # central-difference Jacobian, against numDeriv on the R-side gradient.
    par <- c(th * sigma(m), log(sigma(m)))
    sz <- rep(1, q)
    info <- glmmgee:::cpp_lmm_reml_info(suff, par, sz, pat$row - 1L, pat$col - 1L)
    gr <- function(x) glmmgee:::lmm_reml_loglik(suff, pat, x, sz, ncol(X))$gradient
    expect_equal(info$gradient, gr(par), tolerance = 1e-10)
    expect_equal(info$hessian, numDeriv::jacobian(gr, par), tolerance = 1e-5)
    f <- glmm(forms[[q]], d, REML = TRUE)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(m)), tolerance = 1e-7)
    expect_gt(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-8)
    expect_equal(sqrt(diag(vcov(f))), sqrt(diag(as.matrix(vcov(m)))), tolerance = 1e-4,
                 ignore_attr = TRUE)
  }
  expect_error(glmmgee:::cpp_lmm_reml_info(suff, par[-1], sz, pat$row - 1L, pat$col - 1L),
               "log sigma")
})

test_that("one-factor search in C++: nlminb's optimum or lower, bounds held, singular fits checked by nlminb", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(20)
  M <- 200L
  d <- data.frame(g = factor(rep(seq_len(M), each = 8)), x = rnorm(8 * M))
  b <- MASS::mvrnorm(M, c(0, 0), matrix(c(1, 0.4, 0.4, 0.6), 2))
  d$y <- 1 + 0.5 * d$x + b[d$g, 1] + b[d$g, 2] * d$x + rnorm(nrow(d))
  cases <- list(list(sleepstudy$Reaction, cbind(1, sleepstudy$Days), sleepstudy$Subject),
                list(d$y, cbind(1, d$x), d$g))
  for (cs in cases) {
    X <- cs[[2]]
    Z <- sweep(X, 2L, sqrt(colMeans(X^2)), "/")
    suff <- glmmgee:::cpp_lmm_suff(X, Z, cs[[1]], rep(1, nrow(X)), as.integer(cs[[3]]),
                                   nlevels(cs[[3]]))
    pat <- glmmgee:::block_pattern(2L)
    for (reml in c(TRUE, FALSE)) {
      obj <- glmmgee:::lmm_objective(suff, pat, reml)
      lower <- c(0, -Inf, 0)
      nl <- nlminb(c(1, 0, 1), obj$fn, obj$gr, lower = lower, control = list(rel.tol = 1e-12))
      r <- glmmgee:::cpp_lmm_search(suff, c(1, 0, 1), is.finite(lower), pat$row - 1L,
                                    pat$col - 1L, reml, 100L, 1e-14)
      expect_identical(r$convergence, 0L)
      expect_lte(r$objective, nl$objective + 1e-9)
      expect_equal(r$par, nl$par, tolerance = 1e-4)
      expect_equal(r$gradient, obj$gr(r$par))
      expect_lt(max(abs(r$gradient)), 1e-4)
    }
  }
  # Simulated without random slopes: a variance reaches its bound, where
  # the Newton search is held at zero exactly; the fit then also runs
  # nlminb and keeps the lower criterion (lmer's singular optimum).
  set.seed(2)
  g2 <- factor(rep(seq_len(30), each = 4)); x2 <- rnorm(120)
  d2 <- data.frame(g = g2, x = x2, y = 1 + x2 + rnorm(30, sd = 0.5)[g2] + rnorm(120))
  f <- suppressWarnings(glmm(y ~ x + (x | g), d2, REML = TRUE))
  m <- suppressMessages(lme4::lmer(y ~ x + (x | g), d2))
  expect_true(f$singular)
  expect_gt(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-6)
  expect_true(any(grepl("singular", f$optinfo$warnings)))
  expect_true(f$optinfo$reml$evaluations > 0)
  expect_error(glmmgee:::cpp_lmm_search(suff, c(1, 0), c(TRUE, FALSE, TRUE), pat$row - 1L,
                                        pat$col - 1L, TRUE, 100L, 1e-14), "differ in length")
  # Sleepstudy's fit comes from the Newton search, at lmer's optimum or above.
  f <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  expect_match(f$optinfo$optimizer, "Newton")
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
  expect_gt(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-9)
})

test_that("one-factor REML: zero weights drop rows, bad input is refused", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  w <- rep(c(1, 0, 1), length.out = nrow(sleepstudy))
  f <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, weights = w, REML = TRUE)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy[w > 0, ])
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(m)), tolerance = 1e-6)
  expect_equal(unname(fixef(f)), unname(lme4::fixef(m)), tolerance = 1e-5)
  d <- sleepstudy[sleepstudy$Subject %in% c("308", "309"), ]
  d <- d[c(1, 11), ]
  expect_error(glmm(Reaction ~ Days + (1 | Subject), d, REML = TRUE),
               "nothing is left to estimate the residual variance")
})

# Several terms: the profiled criterion by penalized least squares with a
# sparse Cholesky factor (fit-lmm-sparse.R, src/engines/lmm/lmm-sparse.cpp).
test_that("REML matches lmer: Pastes, nested factors (profiled sparse criterion)", {
  skip_if_not_installed("lme4")
  data(Pastes, package = "lme4")
  f <- glmm(strength ~ 1 + (1 | batch/cask), Pastes, REML = TRUE)
  m <- lme4::lmer(strength ~ 1 + (1 | batch/cask), Pastes)
  expect_s3_class(f, "glmmgee_glmm_sparse")
  reml_vs_lmer(f, m)
  expect_equal(f$optinfo$method, "REML")
  expect_equal(unname(as.matrix(ranef(f)[["cask:batch"]])),
               unname(as.matrix(lme4::ranef(m)[["cask:batch"]])), tolerance = 1e-3)
  expect_equal(unname(fitted(f)), unname(fitted(m)), tolerance = 1e-5)
})

test_that("ML with several terms by the profiled criterion matches lmer(REML = FALSE)", {
  skip_if_not_installed("lme4")
  data(Pastes, Penicillin, package = "lme4")
  for (cs in list(list(strength ~ 1 + (1 | batch/cask), Pastes),
                  list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin))) {
    f <- glmm(cs[[1]], cs[[2]])
    m <- lme4::lmer(cs[[1]], cs[[2]], REML = FALSE)
    expect_false(isREML(f))
    expect_gt(as.numeric(logLik(f)), as.numeric(logLik(m)) - 1e-6)
    expect_lt(abs(as.numeric(logLik(f)) - as.numeric(logLik(m))), 1e-4)
    expect_equal(unname(fixef(f)), unname(lme4::fixef(m)), tolerance = 1e-4)
    expect_equal(sqrt(diag(vcov(f))), sqrt(diag(as.matrix(vcov(m)))), tolerance = 1e-4,
                 ignore_attr = TRUE)
    expect_equal(sort(as.data.frame(VarCorr(f))$sdcor),
                 sort(as.data.frame(lme4::VarCorr(m))$sdcor), tolerance = 1e-4)
  }
})

test_that("REML, crossed simulated design: lmer's optimum, near the truth; zero variance", {
  skip_if_not_installed("lme4")
  set.seed(42)
  n <- 3000
  d <- data.frame(a = factor(sample(120, n, TRUE)), b = factor(sample(40, n, TRUE)),
                  x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(120)[d$a] + 0.5 * rnorm(40)[d$b] + rnorm(n)
  f <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE)
  m <- lme4::lmer(y ~ x + (1 | a) + (1 | b), d)
  reml_vs_lmer(f, m)
  # Truth: beta = (1, 0.5), sigma = 1.
  expect_lt(max(abs((fixef(f) - c(1, 0.5)) / sqrt(diag(vcov(f))))), 4)
  expect_lt(abs(sigma(f) - 1), 0.05)
  # A factor whose level means of y are all equal: its variance is estimated
  # at zero (a singular fit), lmer's exact zero.
  d$c <- factor(sample(30, n, TRUE))
  d$y <- d$y - ave(d$y, d$c) + mean(d$y)
  m0 <- suppressMessages(lme4::lmer(y ~ x + (1 | a) + (1 | c), d))
  expect_true(lme4::isSingular(m0))
  expect_warning(f0 <- glmm(y ~ x + (1 | a) + (1 | c), d, REML = TRUE), "singular fit.*by REML")
  expect_true(f0$singular)
  vc <- as.data.frame(VarCorr(f0))
  expect_identical(vc$sdcor[vc$grp == "c"], 0)
  reml_vs_lmer(f0, m0)
})

test_that("REML with several terms: the optimum does not depend on centring or scaling", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(5)
  d <- sleepstudy
  d$g2 <- factor(sample(1:6, nrow(d), TRUE))
  d$Hours <- 24 * d$Days + 1000
  f1 <- suppressWarnings(glmm(Reaction ~ Days + (Days | Subject) + (1 | g2), d, REML = TRUE))
  f2 <- suppressWarnings(glmm(Reaction ~ Hours + (Hours | Subject) + (1 | g2), d, REML = TRUE))
  m2 <- suppressMessages(lme4::lmer(Reaction ~ Hours + (Hours | Subject) + (1 | g2), d))
  expect_equal(sigma(f1), sigma(f2), tolerance = 1e-5)
  expect_equal(unname(fitted(f1)), unname(fitted(f2)), tolerance = 1e-5)
  # The criterion moves by log(24), the Jacobian of the rescaled slope.
  expect_equal(as.numeric(logLik(f2) - logLik(f1)), -log(24), tolerance = 1e-6)
  expect_gt(as.numeric(logLik(f2)), as.numeric(logLik(m2)) - 1e-6)
})

test_that("profile(criterion = \"REML\") with several terms: Penicillin, by dense algebra", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  cf <- confint(f, parm = "sd_(Intercept)|plate", method = "profile", criterion = "REML")
  y <- Penicillin$diameter
  n <- length(y)
  Zp <- outer(Penicillin$plate, Penicillin$plate, "==") * 1
  Zs <- outer(Penicillin$sample, Penicillin$sample, "==") * 1
  rll <- function(sp, ss, s) {
    V <- sp^2 * Zp + ss^2 * Zs + s^2 * diag(n)
    Vi <- solve(V)
    XVX <- sum(Vi)
    b <- sum(Vi %*% y) / XVX
    r <- y - b
    -0.5 * (determinant(V)$modulus + log(XVX) + sum(r * (Vi %*% r)) + (n - 1) * log(2 * pi))
  }
  vc <- as.data.frame(VarCorr(f))
  ll_hat <- as.numeric(logLik(f))
  expect_equal(as.numeric(rll(vc$sdcor[vc$grp == "plate"], vc$sdcor[vc$grp == "sample"], sigma(f))),
               ll_hat, tolerance = 1e-8)
  for (v in cf[1, ]) {
    o <- optim(log(c(vc$sdcor[vc$grp == "sample"], sigma(f))),
               function(t) -rll(v, exp(t[1]), exp(t[2])), method = "BFGS",
               control = list(reltol = 1e-14))
    expect_equal(2 * (ll_hat + o$value), qchisq(0.95, 1), tolerance = 1e-3)
  }
})

test_that("REML with several terms takes 'start' (Lambda / sigma) and reaches lmer's optimum", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- diameter ~ 1 + (1 | plate) + (1 | sample)
  ref <- lme4::lmer(f, Penicillin, REML = TRUE)
  fit0 <- glmm(f, Penicillin, REML = TRUE)
  # Starts far from the optimum on either side (variances 100 times too
  # small and too large, in the engine's vector: beta, Lambda, log sigma).
  evals <- c()
  for (mult in c(0.1, 10)) {
    st <- unname(c(fixef(fit0), mult * fit0$theta[2:3], fit0$theta[[4L]]))
    fit <- glmm(f, Penicillin, REML = TRUE, start = st)
    evals <- c(evals, fit$optinfo$evaluations)
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8)
    expect_equal(unname(fixef(fit)), unname(lme4::fixef(ref)), tolerance = 1e-6)
    expect_equal(as.data.frame(VarCorr(fit))$sdcor,
                 as.data.frame(lme4::VarCorr(ref))$sdcor, tolerance = 1e-4)
  }
  # The start is used: from the optimum itself the search needs fewer
  # evaluations than from the far starts. (Not than the default fit's: its
  # Newton search with the exact Hessian from the moment start takes 4.)
  fit1 <- glmm(f, Penicillin, REML = TRUE, start = unname(fit0$theta))
  expect_lt(fit1$optinfo$evaluations, min(evals))
  expect_equal(as.numeric(logLik(fit1)), as.numeric(logLik(ref)), tolerance = 1e-8)
  expect_error(glmm(f, Penicillin, REML = TRUE, start = c(1, 2)),
               "'start'.*length 4")
  expect_error(glmm(f, Penicillin, REML = TRUE, start = c(23, NA, 1, 0)),
               "'start'.*finite")
})

test_that("several terms: exact gradients of the profiled criterion's pieces and of the loglik", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("numDeriv")
  data(Penicillin, Pastes, sleepstudy, package = "lme4")
  d <- sleepstudy
  d$g2 <- factor(as.integer(d$Subject) %% 5)
  set.seed(11)
  w <- runif(nrow(d), 0.5, 2)
  cases <- list(list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, NULL),
                list(strength ~ 1 + (1 | batch/cask), Pastes, NULL),
                list(Reaction ~ Days + (Days | Subject) + (1 | g2), d, w))
  for (cs in cases) {
    mf <- model.frame(reformulas::subbars(cs[[1]]), cs[[2]])
    X <- model.matrix(reformulas::nobars(cs[[1]]), mf)
    re <- glmmgee:::sparse_re_terms(cs[[1]], mf)
    y <- model.response(mf)
    wt <- if (is.null(cs[[3]])) rep(1, length(y)) else cs[[3]]
    st <- glmmgee:::lmm_sparse_setup(X, y, re, wt, rep(0, length(y)))
    th <- seq(0.4, 1.3, length.out = re$ntheta)
    g <- glmmgee:::cpp_lmmsp_grad(st$eng, th, 5000L)
    for (nm in c("ldL2", "ldRX2", "pwrss"))
      expect_equal(g[[paste0("grad_", nm)]],
                   numDeriv::grad(function(t) glmmgee:::cpp_lmmsp_eval(st$eng, t, FALSE)[[nm]], th),
                   tolerance = 1e-6)
    par <- c(th * 3, log(3))
    for (reml in c(TRUE, FALSE))
      expect_equal(glmmgee:::lmm_sparse_loglik_grad(st, par, reml),
                   numDeriv::grad(function(x) glmmgee:::lmm_sparse_loglik(st, x, reml), par),
                   tolerance = 1e-6)
  }
  expect_error(glmmgee:::cpp_lmmsp_grad(st$eng, th, 2L), "at most 2 random effects")
})


test_that("anova() of REML fits made inside a function refits them by ML on their own data", {
  # update(fit, REML = FALSE) could not find the function's local data
  # (and with anova(fits in lapply) its formula variable 'f' named the fit
  # itself: "'formula' must be a two-sided formula"). Worse, a global
  # object of the same name as the local data was used silently: a
  # likelihood-ratio test on other rows. lme4's refitML() works from the
  # stored frame; so does the refit now when the data are not the fit's.
  s <- sleepstudy_data()
  mk <- function(f) {
    dd <- s
    glmm(f, dd, REML = TRUE)
  }
  fa <- mk(Reaction ~ Days + (Days | Subject))
  fb <- mk(Reaction ~ 1 + (Days | Subject))
  ml_a <- glmm(Reaction ~ Days + (Days | Subject), s)
  ml_b <- glmm(Reaction ~ 1 + (Days | Subject), s)
  check <- function(tab) {
    expect_equal(tab$logLik, c(as.numeric(logLik(ml_b)), as.numeric(logLik(ml_a))), tolerance = 1e-7)
    expect_equal(tab$Chisq[2], 2 * as.numeric(logLik(ml_a) - logLik(ml_b)), tolerance = 1e-6)
  }
  expect_message(tab <- anova(fb, fa), "refitting model\\(s\\) with ML")
  check(tab)
  # A 'dd' with other rows where the formulas were made is not the fits'
  # data (it was used before).
  dd <- s[s$Days < 5, ]
  check(suppressMessages(anova(fb, fa)))
  # Fits made in lapply(): the call's formula is the variable 'f'.
  fl <- lapply(list(Reaction ~ 1 + (Days | Subject), Reaction ~ Days + (Days | Subject)),
               function(f) glmm(f, s, REML = TRUE))
  tab <- suppressMessages(do.call(anova, fl))
  check(tab)
  expect_equal(rownames(tab), c("model1", "model2"))
  # Weights, subset and na.exclude are carried by the stored frame.
  mkw <- function(form) {
    dw <- s
    dw$w <- 1 + dw$Days / 10
    dw$Reaction[5] <- NA
    glmm(form, dw, weights = w, subset = Days > 0, na.action = na.exclude, REML = TRUE)
  }
  tw <- suppressMessages(anova(mkw(Reaction ~ 1 + (Days | Subject)),
                               mkw(Reaction ~ Days + (Days | Subject))))
  s$w <- 1 + s$Days / 10
  s$Reaction[5] <- NA
  expect_equal(tw$logLik[2], as.numeric(logLik(glmm(Reaction ~ Days + (Days | Subject), s, weights = w,
                                                    subset = Days > 0))), tolerance = 1e-7)
  # A transformed response inside a function, data gone: a clear error.
  mkl <- function(form) {
    dl <- sleepstudy_data()
    glmm(form, dl, REML = TRUE)
  }
  expect_error(suppressMessages(anova(mkl(log(Reaction) ~ 1 + (Days | Subject)),
                                     mkl(log(Reaction) ~ Days + (Days | Subject)))),
               "could not be refitted by maximum likelihood.*where its data are visible")
})

test_that("profile intervals of a REML fit made inside a function are those of the ML refit", {
  s <- sleepstudy_data()
  mk <- function() {
    dd <- s
    glmm(Reaction ~ Days + (1 | Subject), dd, REML = TRUE)
  }
  ci <- confint(mk(), method = "profile")
  ref <- confint(glmm(Reaction ~ Days + (1 | Subject), s), method = "profile")
  expect_equal(unname(ci), unname(ref), tolerance = 1e-6)
})

test_that("REML and ML against lmer: zero weights, nlme's Machines and Orthodont, a factor in ||", {
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  set.seed(1)
  s$w <- stats::runif(180, 0.2, 3)
  s$w[c(3, 50, 77)] <- 0
  for (reml in c(TRUE, FALSE)) {
    # Zero weights drop their rows (lmer keeps them and reports logLik -Inf
    # with other estimates: its own problem, see bench/README.md).
    o <- glmm(Reaction ~ Days + (1 | Subject), s, weights = w, REML = reml)
    l <- lme4::lmer(Reaction ~ Days + (1 | Subject), s[s$w > 0, ], weights = w, REML = reml)
    expect_equal(as.numeric(logLik(o)), as.numeric(logLik(l)), tolerance = 1e-8)
    expect_equal(unname(fixef(o)), unname(lme4::fixef(l)), tolerance = 1e-6)
  }
  skip_if_not_installed("nlme")
  data("Machines", package = "nlme", envir = environment())
  data("Orthodont", package = "nlme", envir = environment())
  M <- as.data.frame(Machines)
  O <- as.data.frame(Orthodont)
  for (reml in c(TRUE, FALSE)) {
    cases <- list(list(score ~ Machine + (1 | Worker / Machine), M),
                  list(score ~ Machine + (Machine | Worker), M),
                  list(distance ~ age * Sex + (age | Subject), O))
    for (cs in cases) {
      o <- glmm(cs[[1]], cs[[2]], REML = reml)
      l <- lme4::lmer(cs[[1]], cs[[2]], REML = reml)
      expect_gte(as.numeric(logLik(o)), as.numeric(logLik(l)) - 1e-7)
      expect_equal(as.numeric(logLik(o)), as.numeric(logLik(l)), tolerance = 1e-7)
      expect_equal(unname(fixef(o)), unname(lme4::fixef(l)), tolerance = 1e-5)
    }
  }
  # (fd || Subject) with a factor is (1 | Subject) + (0 + fd | Subject), in
  # lme4 and here; by REML lmer stops at fd's variances near 0, 0.46 below.
  s$fd <- factor(s$Days %% 3)
  o <- suppressWarnings(glmm(Reaction ~ Days + (fd || Subject), s, REML = TRUE))
  l <- suppressMessages(lme4::lmer(Reaction ~ Days + (fd || Subject), s, REML = TRUE))
  expect_gte(as.numeric(logLik(o)), as.numeric(logLik(l)) - 1e-7)
})

test_that("confint(profile, criterion = \"REML\") names the fixed effects in 'parm' it cannot profile", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4", envir = environment())
  fr <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)
  expect_error(confint(fr, method = "profile", criterion = "REML", parm = c("Days", "sigma")),
               "'parm': 'Days' has no restricted profile")
  expect_error(profile(fr, which = c("(Intercept)", "Days", "sigma"), criterion = "REML"),
               "'which': '\\(Intercept\\)', 'Days' have no restricted profile")
  # by default the covariance parameters alone, as before
  ci <- confint(fr, method = "profile", criterion = "REML")
  expect_false(any(c("(Intercept)", "Days") %in% rownames(ci)))
  expect_equal(rownames(confint(fr, method = "profile", criterion = "REML", parm = "sigma")), "sigma")
})
