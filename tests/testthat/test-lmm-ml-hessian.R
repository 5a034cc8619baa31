# The exact Hessian of the one-factor gaussian log-likelihood
# (cpp_lmm_ml_hessian(), src/engines/lmm/lmm-onefactor-ml-info.cpp) that gives the
# standard errors of gaussian ML fits on the profiled route.

# The per-cluster sums of a one-factor design, as lmm_scaled_suff() makes
# them but on the user's Z (no column scaling).
ml_suff <- function(X, y, Z, g, w = rep(1, length(y)), off = rep(0, length(y))) {
  idx <- as.integer(factor(g))
  glmmgee:::cpp_lmm_suff(X, Z, y - off, w, idx, max(idx))
}

# Richardson-extrapolated derivatives of the exact gradient (cpp_lmm_loglik()).
lmm_ml_num_hessian <- function(suff, theta, pat) {
  gr <- function(th) glmmgee:::cpp_lmm_loglik(suff, th, pat$row - 1L, pat$col - 1L, TRUE)$gradient
  num_hessian(gr, theta, method.args = list(r = 6))
}

test_that("the analytic Hessian equals high-order differences of the exact gradient", {
  skip_if_not_installed("numDeriv")
  s <- lmm_hessian_sim(11, 30, 2:7)
  for (cs in lmm_hessian_cases(s)) for (wt in list(rep(1, s$n), s$w)) {
    pat <- glmmgee:::block_pattern(cs$sizes)
    suff <- ml_suff(s$X, s$y, cs$Z, s$g, wt, s$off)
    k <- length(pat$row)
    # Away from the optimum (the beta-covariance block is not zero there),
    # with a non-zero correlation.
    theta <- c(1.1, 0.4, -0.2, 0.3, ifelse(pat$row == pat$col, 0.7, 0.25) + 0.05 * seq_len(k), log(0.9))
    H <- glmmgee:::cpp_lmm_ml_hessian(suff, theta, pat$row - 1L, pat$col - 1L)
    Hn <- lmm_ml_num_hessian(suff, theta, pat)
    expect_equal(H, Hn, tolerance = 1e-8)
    expect_identical(H, t(H))
  }
})

test_that("ML fits: the Hessian is exact, and the standard errors agree with lmer's", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  for (form in list(Reaction ~ Days + (Days | Subject), Reaction ~ Days + (1 | Subject),
                    Reaction ~ Days + (Days || Subject))) {
    fit <- glmm(form, sleepstudy)
    expect_identical(fit$optinfo$stages$hessian$message, "analytic")
    Z <- if (is.null(fit$Z)) matrix(1, nrow(sleepstudy), 1) else as.matrix(fit$Z)
    suff <- ml_suff(as.matrix(fit$X), sleepstudy$Reaction, Z, sleepstudy$Subject)
    pat <- fit$pattern
    Hn <- lmm_ml_num_hessian(suff, unname(fit$theta), pat)
    expect_equal(unname(fit$hessian), Hn, tolerance = 1e-8)
    # lmer's Wald standard errors of the fixed effects (its vcov: the
    # inverse of X'V^-1 X, the beta block of the expected information,
    # which at the ML optimum differs from the observed one by O(1/M)).
    ref <- lme4::lmer(form, sleepstudy, REML = FALSE)
    expect_equal(sqrt(diag(vcov(fit))), sqrt(diag(as.matrix(vcov(ref)))), tolerance = 0.05)
  }
})

test_that("weights, offset and the response's units: the route's Hessian is exact", {
  skip_if_not_installed("numDeriv")
  d <- lmm_weighted_sim(31, 80, 6L, c(3, 50))
  d$y <- d$y * 1e4
  fit <- glmm(y ~ x + (x | g), d, weights = w, offset = o)
  expect_identical(fit$optinfo$stages$hessian$message, "analytic")
  keep <- d$w > 0
  suff <- ml_suff(cbind(1, d$x)[keep, ], d$y[keep], cbind(1, d$x)[keep, ], d$g[keep],
                  d$w[keep], d$o[keep])
  Hn <- lmm_ml_num_hessian(suff, unname(fit$theta), fit$pattern)
  expect_equal(unname(fit$hessian), Hn, tolerance = 1e-8)
})

# frame_from_call() skips na.omit()'s copy when nothing is missing and drops
# unused levels itself: the frame must be model.frame()'s all the same.
test_that("the model frame is model.frame()'s: missing values, unused levels, subset, na.action", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  set.seed(3)
  d <- sleepstudy
  d$f <- factor(sample(c("a", "b", "c"), nrow(d), TRUE), levels = c("a", "b", "c", "z"))
  d$ch <- as.character(d$Subject)
  d$w <- runif(nrow(d))
  dna <- d
  dna$Reaction[c(2, 30)] <- NA
  dna$f[5] <- NA
  rownames(dna) <- paste0("r", seq_len(nrow(dna)))
  forms <- list(Reaction ~ Days + f + Subject, Reaction ~ poly(Days, 2) + ch,
                Reaction ~ Days + Subject + offset(log(w)))
  frame <- function(form, data, ...) {
    mc <- match.call(glmm, as.call(c(list(quote(glmm), form, data = quote(dd)), list(...))))
    mf <- glmmgee:::frame_from_call(mc, form, environment(), extras = c("weights", "offset"))
    attr(mf, "contrasts_arg") <- NULL
    mf
  }
  for (dd in list(d, dna)) for (form in forms) {
    expect_identical(frame(form, dd), stats::model.frame(form, dd, drop.unused.levels = TRUE))
    expect_identical(frame(form, dd, weights = quote(w), subset = quote(Days > 2)),
                     stats::model.frame(form, dd, weights = w, subset = Days > 2,
                                        drop.unused.levels = TRUE))
    op <- options(na.action = "na.exclude")
    expect_identical(frame(form, dd), stats::model.frame(form, dd, drop.unused.levels = TRUE))
    options(op)
  }
  # The data's own na.action attribute is model.frame()'s default.
  dd <- dna
  attr(dd, "na.action") <- stats::na.exclude
  expect_identical(frame(forms[[1]], dd),
                   stats::model.frame(forms[[1]], dd, drop.unused.levels = TRUE))
  # A fit of a frame with missing values and an unused level.
  fit <- glmm(Reaction ~ Days + f + (1 | Subject), dna, REML = TRUE)
  expect_identical(levels(fit$model$f), c("a", "b", "c"))
  expect_identical(nobs(fit), nrow(dna) - 3L)
  expect_s3_class(fit$na.action, "omit")
})

test_that("the defaults made once: glmm_control() and the gaussian family", {
  expect_identical(glmm_control(), glmm_control(rel.tol = 1e-10))
  data(sleepstudy, package = "lme4")
  a <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE)
  b <- glmm(Reaction ~ Days + (1 | Subject), sleepstudy, family = gaussian(), REML = TRUE)
  expect_identical(a$family$family, "gaussian")
  expect_identical(a$family$link, "identity")
  expect_identical(a$family[c("family_code", "link_code")], b$family[c("family_code", "link_code")])
  a$family <- b$family <- NULL
  a$call <- b$call <- NULL
  expect_identical(a, b)
})
