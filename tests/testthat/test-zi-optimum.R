# Zero-inflated, hurdle and dispersion-formula fits keep the optimum
# guarantees of every other fit (issue 11): the optimum does not depend on
# the units, centring or coding of the covariates of any of the three
# formulas; a boundary optimum is verified by restarts from the interior;
# a zero-inflation probability running to zero is named as such.

zi_sim <- function(seed, M = 40L, nt = 8L, sd0 = 0.5, sd1 = 0.1, nb = FALSE) {
  set.seed(seed)
  g <- factor(rep(seq_len(M), each = nt))
  t <- rep(0:(nt - 1L), M)
  trt <- rep(rbinom(M, 1, 0.5), each = nt)
  h <- factor(sample(1:6, M * nt, replace = TRUE))
  z <- rnorm(M * nt, 5, 2)
  w <- rnorm(M * nt)
  b0 <- rnorm(M, 0, sd0)[g]
  b1 <- rnorm(M, 0, sd1)[g]
  mu <- exp(0.3 + 0.1 * t + 0.4 * trt + b0 + b1 * t + rnorm(6, 0, 0.3)[h])
  count <- if (nb) rnbinom(M * nt, mu = mu, size = exp(0.5 + 0.5 * w)) else rpois(M * nt, mu)
  zero <- rbinom(M * nt, 1, plogis(-2 + 0.3 * z))
  data.frame(y = count * (1 - zero), g, h, t, trt, z, w)
}

# The same data with every covariate recoded: slopes in other units
# (x 1e3), shifted origins (+100), and the treatment coded -1/+1.
recode <- function(d) {
  transform(d, t = t * 1e3 + 100, trt = 2 * trt - 1, z = z * 1e3 + 100, w = w * 1e3 + 100)
}

# Estimates and standard errors of the recoded fit, mapped back: a slope in
# units 1e3 times larger is 1e3 times smaller; the -1/+1 treatment effect is
# half the 0/1 one.
expect_same_optimum <- function(f0, f1, slopes) {
  expect_lt(abs(f1$loglik - f0$loglik), 1e-6)
  se <- function(f) sqrt(diag(f$cov_theta))
  for (nm in names(slopes)) {
    expect_equal(unname(f1$theta[[nm]] * slopes[[nm]]), unname(f0$theta[[nm]]),
                 tolerance = 1e-4, info = nm)
    expect_equal(unname(se(f1)[[nm]] * slopes[[nm]]), unname(se(f0)[[nm]]),
                 tolerance = 1e-3, info = paste("SE", nm))
  }
  expect_true(f1$optinfo$reparameterized)
}

test_that("zero-inflated random-slope fits do not depend on covariate units, origin or coding (Laplace and AGHQ)", {
  d <- zi_sim(11)
  for (nq in c(1L, 5L)) {
    f0 <- glmm(y ~ t + trt + (1 + t | g), d, family = poisson, ziformula = ~ z + trt,
               nAGQ = nq)
    f1 <- glmm(y ~ t + trt + (1 + t | g), recode(d), family = poisson,
               ziformula = ~ z + trt, nAGQ = nq)
    expect_same_optimum(f0, f1, c(t = 1e3, trt = 2, "zi~z" = 1e3, "zi~trt" = 2))
    # The random-slope standard deviation in the recoded units.
    expect_equal(sqrt(VarCorr(f1)[[1]][2, 2]) * 1e3, sqrt(VarCorr(f0)[[1]][2, 2]),
                 tolerance = 1e-4)
  }
})

test_that("a dispersion formula and a hurdle fit do not depend on covariate units or coding", {
  d <- zi_sim(12, nb = TRUE)
  f0 <- glmm(y ~ t + trt + (1 | g), d, family = nbinom2, ziformula = ~ z, dispformula = ~ w,
             nAGQ = 1)
  f1 <- glmm(y ~ t + trt + (1 | g), recode(d), family = nbinom2, ziformula = ~ z,
             dispformula = ~ w, nAGQ = 1)
  expect_same_optimum(f0, f1, c(t = 1e3, trt = 2, "zi~z" = 1e3, "disp~w" = 1e3))
  h0 <- glmm(y ~ t + trt + (1 | g), d, family = truncated_poisson, ziformula = ~ z + trt,
             nAGQ = 5)
  h1 <- glmm(y ~ t + trt + (1 | g), recode(d), family = truncated_poisson,
             ziformula = ~ z + trt, nAGQ = 5)
  expect_same_optimum(h0, h1, c(t = 1e3, trt = 2, "zi~z" = 1e3, "zi~trt" = 2))
})

test_that("several random-effect terms with zero-inflation and dispersion formulas are invariant too", {
  d <- zi_sim(13, nb = TRUE)
  f0 <- glmm(y ~ t + trt + (1 + t | g) + (1 | h), d, family = nbinom2, ziformula = ~ z + trt,
             dispformula = ~ w)
  f1 <- glmm(y ~ t + trt + (1 + t | g) + (1 | h), recode(d), family = nbinom2,
             ziformula = ~ z + trt, dispformula = ~ w)
  expect_s3_class(f0, "glmmgee_glmm_sparse")
  expect_same_optimum(f0, f1, c(t = 1e3, trt = 2, "zi~z" = 1e3, "zi~trt" = 2, "disp~w" = 1e3))
})

test_that("the estimates are the peer's: glmmTMB on the recoded data", {
  skip_if_not_installed("glmmTMB")
  d <- recode(zi_sim(11))
  f <- glmm(y ~ t + trt + (1 + t | g), d, family = poisson, ziformula = ~ z + trt, nAGQ = 1)
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ t + trt + (1 + t | g), d, family = poisson,
                                           ziformula = ~ z + trt))
  # glmmTMB searches on the user's units; where it converges it must not be
  # higher, and ours must be at least as high.
  expect_gte(f$loglik, as.numeric(logLik(tmb)) - 1e-4)
})

test_that("a random-effect variance started at zero is moved off the boundary (one factor and several terms)", {
  d <- zi_sim(21, sd0 = 0.3, sd1 = 0)
  X <- model.matrix(~ t + trt, d)
  Xz <- model.matrix(~ z, d)
  fit_from <- function(start) glmmgee:::glmm_zi_fit(X, d$y, matrix(1, nrow(d), 1L), d$g,
                                                    glmmgee:::resolve_family(stats::poisson()), "zi",
                                                    Xz = Xz, nAGQ = 1L, start = start)
  f_free <- fit_from(NULL)
  expect_false(f_free$singular)
  st <- f_free$theta
  st[["lambda[1,1]"]] <- 0
  f_zero <- fit_from(unname(st))
  bc <- f_zero$optinfo$boundary_check
  expect_true(bc$performed)
  expect_true(bc$moved_off)
  expect_false(f_zero$singular)
  expect_lt(abs(f_zero$loglik - f_free$loglik), 1e-6)
  expect_gt(f_zero$lambda[[1]], 0.1)

  re <- glmmgee:::sparse_re_terms(y ~ t + (1 | g) + (1 | h), model.frame(y ~ t + g + h, d), NULL)
  sfit <- function(start) glmmgee:::glmm_sparse_zi_fit(
    model.matrix(~ t + trt, d), d$y, re, glmmgee:::resolve_family(stats::poisson()), "zi", Xz, NULL,
    rep(1, nrow(d)), rep(0, nrow(d)), NULL, glmm_control(), start = start)
  s_free <- sfit(NULL)
  st <- s_free$theta
  st[grep("g", names(st))[1]] <- 0
  s_zero <- sfit(unname(st))
  expect_true(s_zero$optinfo$boundary_check$moved_off)
  expect_lt(abs(s_zero$loglik - s_free$loglik), 1e-6)
})

test_that("a zero variance is accepted only verified, and said so", {
  d <- zi_sim(22, sd0 = 0, sd1 = 0)
  expect_warning(f <- glmm(y ~ t + trt + (1 | g), d, family = poisson, ziformula = ~ z,
                           nAGQ = 5), "singular fit.*verified")
  bc <- f$optinfo$boundary_check
  expect_true(f$singular)
  expect_true(bc$performed)
  expect_true(bc$verified)
  expect_gt(bc$restarts, 0L)
  expect_true(all(bc$loglik_restarts <= f$loglik + 1e-6, na.rm = TRUE))
  expect_true(any(grepl("singular fit.*; verified", f$optinfo$warnings)))
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ t + trt + (1 | g), d, family = poisson,
                                           ziformula = ~ z))
  f1 <- suppressWarnings(glmm(y ~ t + trt + (1 | g), d, family = poisson, ziformula = ~ z,
                              nAGQ = 1))
  expect_gte(f1$loglik, as.numeric(logLik(tmb)) - 1e-4)
})

test_that("a zero-inflation probability running to zero is named as the cause", {
  set.seed(2)
  g <- factor(rep(1:40, each = 10))
  x <- rnorm(400)
  d <- data.frame(y = rpois(400, exp(0.5 + 0.3 * x + rnorm(40, 0, 0.5)[g])), x, g)
  expect_warning(f <- glmm(y ~ x + (1 | g), d, family = poisson, ziformula = ~ 1, nAGQ = 1),
                 "zero-inflation intercept runs to -Inf")
  expect_true(f$optinfo$zero_inflation_vanishes)
  expect_true(any(grepl("no structural zeros", f$optinfo$warnings)))
  expect_lt(f$theta[["zi~(Intercept)"]], -8)
  # The count part is the Poisson GLMM's.
  p0 <- glmm(y ~ x + (1 | g), d, family = poisson, nAGQ = 1)
  expect_equal(unname(fixef(f)), unname(fixef(p0)), tolerance = 1e-4)
  expect_lt(abs(f$loglik - p0$loglik), 1e-6)
  # Data that do need structural zeros carry no such warning.
  d$y[sample(400, 80)] <- 0
  f2 <- glmm(y ~ x + (1 | g), d, family = poisson, ziformula = ~ 1, nAGQ = 1)
  expect_false(f2$optinfo$zero_inflation_vanishes)
  expect_false(any(grepl("runs to -Inf", f2$optinfo$warnings)))
})
