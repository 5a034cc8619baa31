# Penalized fixed effects with a zero part or a dispersion formula
# (penalty-aux.R): GLMMadaptive's mixed_model(penalized = TRUE, zi_fixed =)
# penalizes the conditional part's coefficients only; pen_zi adds a prior on
# the zero part's.

# Zero-inflated counts with known truth; `ysep` has no counts where
# sep = 1 (separation in the conditional part), `ysep_z` has no zeros
# where w2 = 1 (separation in the zero part).
sim_zi_sep <- function(seed, M = 50, n = 8) {
  set.seed(seed)
  N <- M * n
  d <- data.frame(g = factor(rep(seq_len(M), each = n)), x = stats::rnorm(N),
                  w = stats::rbinom(N, 1, 0.5))
  b <- stats::rnorm(M, 0, 0.6)
  mu <- exp(0.8 + 0.4 * d$x + b[d$g])
  d$y <- ifelse(stats::runif(N) < stats::plogis(-1 + 0.5 * d$w), 0, stats::rpois(N, mu))
  d$sep <- as.numeric(d$x > 1.2)
  d$ysep <- d$y
  d$ysep[d$sep == 1] <- 0
  d$w2 <- as.numeric(d$x < -1.2)
  d$ysep_z <- d$y
  d$ysep_z[d$w2 == 1] <- d$ysep_z[d$w2 == 1] + 1L
  d
}

quiet_fit <- function(expr) {
  w <- character()
  f <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  list(fit = f, warnings = w)
}

# GLMMadaptive's penalized fit by its quasi-Newton phase alone (its EM
# phase stops on a separated coefficient), with room for large ones and
# tolerances tighter than its defaults (which stop 1e-2 from the optimum).
ga_control <- list(iter_EM = 0, max_coef_value = 1000, optimizer = "nlminb", tol1 = 1e-8,
                   tol2 = 1e-8, tol3 = 1e-12)
ga_pen_zi <- function(fixed, d, family, nAGQ, zi_fixed = ~ w, penalized = TRUE) {
  GLMMadaptive::mixed_model(fixed, ~ 1 | g, d, family = family, zi_fixed = zi_fixed,
                            penalized = penalized, nAGQ = nAGQ, control = ga_control)
}

expect_as_ga <- function(f, ga, tol = 2e-3, sd_tol = tol) {
  # Ours at least as high on the penalized objective (GLMMadaptive's logLik
  # includes its prior, without the normalizing constant, as ours).
  expect_gte(f$penalty$objective, as.numeric(logLik(ga)) - 1e-4)
  expect_lt(f$penalty$objective - as.numeric(logLik(ga)), 0.05)
  expect_equal(unname(fixef(f)), unname(GLMMadaptive::fixef(ga)), tolerance = tol)
  expect_equal(unname(f$aux$zi$coef), unname(GLMMadaptive::fixef(ga, "zero_part")), tolerance = tol)
  expect_equal(sqrt(f$D[1, 1]), sqrt(ga$D[1, 1]), tolerance = sd_tol)
}

test_that("separation in the conditional part: finite estimates, GLMMadaptive's (zi.poisson, hurdle.poisson)", {
  skip_if_not_installed("GLMMadaptive")
  d <- sim_zi_sep(1)
  for (fm in list(list(GLMMadaptive::zi.poisson(), poisson),
                  list(GLMMadaptive::hurdle.poisson(), truncated_poisson))) {
    r <- quiet_fit(glmm(ysep ~ x + sep + (1 | g), d, family = fm[[2]], ziformula = ~ w,
                        nAGQ = 11, penalized = TRUE))
    f <- r$fit
    expect_true(all(is.finite(fixef(f))))
    expect_true(all(is.finite(sqrt(diag(vcov(f))))))
    expect_lt(max(abs(f$gradient)), 1e-3)
    ga <- ga_pen_zi(ysep ~ x + sep, d, fm[[1]], 11)
    expect_as_ga(f, ga)
    # logLik() is the log-likelihood without the prior.
    expect_equal(as.numeric(logLik(f)), f$penalty$objective - f$penalty$value)
    expect_equal(f$penalty$loglik, as.numeric(logLik(f)))
    expect_output(print(f), "penalized maximum likelihood")
    expect_output(print(f), "Student-t prior")
    expect_output(print(summary(f)), "Fixed effects are penalized")
  }
  # The unpenalized zero-inflated fit warns of separation and recommends
  # the penalty; the penalized one says the estimates are set by the prior.
  r0 <- quiet_fit(glmm(ysep ~ x + sep + (1 | g), d, family = poisson, ziformula = ~ w, nAGQ = 5))
  expect_true(any(grepl("separation.*penalized = TRUE", r0$warnings)))
  expect_true(any(grepl("separation.*set largely by the prior", r$warnings)))
})

test_that("zi.negative.binomial on Salamanders (glmmTMB's data) with penalized = TRUE: GLMMadaptive's", {
  skip_if_not_installed("GLMMadaptive")
  skip_if_not_installed("glmmTMB")
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  d <- e$Salamanders
  d$g <- d$site
  f <- glmm(count ~ mined + cover + (1 | g), d, family = nbinom2, ziformula = ~ mined,
            nAGQ = 7, penalized = TRUE)
  ga <- GLMMadaptive::mixed_model(count ~ mined + cover, ~ 1 | g, d,
                                  family = GLMMadaptive::zi.negative.binomial(),
                                  zi_fixed = ~ mined, penalized = TRUE, nAGQ = 7,
                                  control = ga_control)
  # The random-effect SD (0.13) is where the objective is flattest:
  # GLMMadaptive's stops 5e-4 from ours, its objective 4e-6 lower.
  expect_as_ga(f, ga, sd_tol = 1e-2)
  # GLMMadaptive's phis is log(theta), our dispersion coefficient.
  expect_equal(unname(f$aux$disp$coef), unname(ga$phis), tolerance = 2e-3)
  # The penalty shrinks: the maximum likelihood fit's log-likelihood is higher.
  f0 <- glmm(count ~ mined + cover + (1 | g), d, family = nbinom2, ziformula = ~ mined, nAGQ = 7)
  expect_gte(as.numeric(logLik(f0)), as.numeric(logLik(f)) - 1e-8)
})

# The one-factor engine on ysep_z ~ x, zero part ~ w2 (no reparameterization:
# theta in the user's units), nAGQ = 5.
zi_engine_at <- function(d, th) {
  X <- cbind(1, d$x)
  Xz <- cbind(1, d$w2)
  n <- nrow(d)
  cl <- glmmgee:::cluster_index(d$g, "g")
  fam <- glmmgee:::resolve_family(poisson())
  eng <- glmmgee:::cpp_agq_new(X, matrix(1, n, 1L), as.numeric(d$ysep_z), rep(1, n), rep(0, n),
                               cl$index, length(cl$levels), 0L, 0L, fam$family_code,
                               fam$link_code, 5L, 1L)
  glmmgee:::cpp_agq_set_aux(eng, 1L, Xz, c(0L, 0L), cbind(rep(0, n)))
  eng
}

test_that("separation in the zero part: pen_zi keeps the zero part finite, the objective's gradient is exact", {
  skip_if_not_installed("numDeriv")
  d <- sim_zi_sep(2)
  r0 <- quiet_fit(glmm(ysep_z ~ x + (1 | g), d, family = poisson, ziformula = ~ w2, nAGQ = 5))
  expect_true(any(grepl("separation in the zero part.*pen_zi = TRUE", r0$warnings)))
  expect_identical(r0$fit$aux$zi$separation$terms, "w2")
  # penalized = TRUE alone (GLMMadaptive's convention) leaves the zero part
  # unpenalized: still the warning.
  r1 <- quiet_fit(glmm(ysep_z ~ x + (1 | g), d, family = poisson, ziformula = ~ w2, nAGQ = 5,
                       penalized = TRUE))
  expect_true(any(grepl("separation in the zero part.*pen_zi = TRUE", r1$warnings)))
  r <- quiet_fit(glmm(ysep_z ~ x + (1 | g), d, family = poisson, ziformula = ~ w2, nAGQ = 5,
                      penalized = list(pen_zi = TRUE)))
  f <- r$fit
  expect_true(any(grepl("zero part.*penalized\\$pen_zi.*set largely by the prior", r$warnings)))
  expect_true(all(is.finite(f$aux$zi$coef)))
  expect_lt(f$aux$zi$coef[[2]], -1)
  expect_gt(f$aux$zi$coef[[2]], r1$fit$aux$zi$coef[[2]] + 1)
  expect_true(all(is.finite(sqrt(diag(vcov(f))))))
  expect_lt(max(abs(f$gradient)), 1e-3)
  expect_output(print(f), "zero part: multivariate Student-t prior")
  # The penalized objective at the optimum: the engine's log-likelihood at
  # the estimates plus both log priors, and its gradient against numDeriv.
  ev <- glmmgee:::aux_penalty(f$penalty$prior, 2L, 2L, 4L:5L, diag(2), diag(2))
  expect_equal(f$penalty$value, ev(unname(f$theta))$value, tolerance = 1e-10)
  obj <- function(th) {
    eng <- zi_engine_at(d, th)
    glmmgee:::cpp_agq_eval(eng, th, FALSE)$loglik + ev(th)$value
  }
  th <- unname(f$theta) + c(0.05, -0.03, 0.02, 0.1, -0.2)
  eng <- zi_engine_at(d, th)
  pe <- glmmgee:::penalized_engine(eng, ev)
  an <- glmmgee:::agq_eval(pe, th, TRUE)
  expect_equal(an$loglik, obj(th), tolerance = 1e-10)
  expect_equal(an$gradient, numDeriv::grad(obj, th), tolerance = 1e-6)
})

test_that("the penalty on the search's scale (beta* = Tx beta, gamma* = Tz gamma) has the exact gradient and curvature", {
  skip_if_not_installed("numDeriv")
  pr <- glmmgee:::penalty_prior(list(pen_sigma = c(1, 2, 0.5), pen_df = 4,
                                     pen_zi = list(pen_mu = 0.5, pen_df = 2)))
  Tx <- matrix(c(1, 0, 0, -0.4, 2, 0, 0.3, 0.1, 0.7), 3, 3)
  Tz <- matrix(c(1, 0, 0.8, 1.5), 2, 2)
  pen <- glmmgee:::aux_penalty(pr, 3L, 2L, 5:6, Tx, Tz)
  th <- c(0.3, -1.2, 2, 0.4, -0.7, 1.1, 0.2)
  v <- pen(th, hessian = TRUE)
  val <- function(t) pen(t)$value
  expect_equal(v$gradient, numDeriv::grad(val, th), tolerance = 1e-8)
  expect_equal(v$hessian, numDeriv::hessian(val, th), tolerance = 1e-6)
  # The value is the two priors at beta = Tx^-1 beta*, gamma = Tz^-1 gamma*.
  expect_equal(v$value,
               glmmgee:::penalty_value(pr, solve(Tx, th[1:3]))$value +
                 glmmgee:::penalty_value(pr$zi, solve(Tz, th[5:6]))$value)
})

# A penalized fit on route `cls`: finite estimates in both parts, the
# penalized objective's gradient zero at the optimum, logLik() without the
# prior.
expect_penalized_optimum <- function(f, cls) {
  expect_s3_class(f, cls)
  expect_true(all(is.finite(c(fixef(f), f$aux$zi$coef))))
  expect_lt(max(abs(f$gradient)), 1e-3)
  expect_equal(as.numeric(logLik(f)), f$penalty$objective - f$penalty$value)
}

test_that("the sparse routes (several terms, zero-part random effects) take the penalty", {
  skip_if_not_installed("numDeriv")
  d <- sim_zi_sep(3)
  d$h <- factor(rep(1:10, length.out = nrow(d)))
  # Several terms: the sparse Laplace engine; separation in both parts.
  r <- quiet_fit(glmm(ysep ~ x + sep + (1 | g) + (1 | h), d, family = poisson,
                      ziformula = ~ w + w2, penalized = list(pen_zi = TRUE, pen_sigma = 2)))
  f <- r$fit
  expect_penalized_optimum(f, "glmmgee_glmm_sparse")
  expect_output(print(f), "penalized maximum likelihood")
  # Zero-part random effects on another factor: the two-part sparse engine.
  r2 <- quiet_fit(glmm(ysep ~ x + sep + (1 | g), d, family = poisson,
                       ziformula = ~ w + (1 | h), penalized = TRUE))
  expect_penalized_optimum(r2$fit, "glmmgee_glmm_zire_sparse")
  # Zero-part random effects on the same factor: the one-factor two-part engine.
  r3 <- quiet_fit(glmm(ysep ~ x + sep + (1 | g), d, family = poisson,
                       ziformula = ~ w + (1 | g), penalized = TRUE))
  f3 <- r3$fit
  expect_penalized_optimum(f3, "glmmgee_glmm_zire")
  # A penalized fit's objective is at least the unpenalized optimum's
  # objective value; the unpenalized fit's log-likelihood at least ours.
  f30 <- quiet_fit(glmm(ysep ~ x + sep + (1 | g), d, family = poisson,
                        ziformula = ~ w + (1 | g)))$fit
  pen_at <- glmmgee:::penalty_value(f3$penalty$prior, unname(fixef(f30)))$value
  expect_gte(f3$penalty$objective, as.numeric(logLik(f30)) + pen_at - 1e-6)
  expect_gte(as.numeric(logLik(f30)), as.numeric(logLik(f3)) - 1e-6)
})

test_that("a dispersion formula takes the penalty on the conditional part (one factor and sparse)", {
  set.seed(11)
  d <- data.frame(g = rep(1:40, each = 8), h = rep(1:5, 64), x = stats::rnorm(320),
                  w = stats::rbinom(320, 1, 0.5))
  d$y <- 1 + 0.5 * d$x + stats::rnorm(40, sd = 0.7)[d$g] +
    stats::rnorm(320, sd = exp(-0.4 + 0.6 * d$w))
  f0 <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ w)
  f <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ w, penalized = TRUE)
  expect_lt(max(abs(f$gradient)), 1e-4)
  # The prior pulls towards 0: a smaller coefficient vector, a lower
  # log-likelihood, a higher penalized objective than ML's estimates give.
  expect_lt(sum(fixef(f)^2), sum(fixef(f0)^2))
  expect_gte(as.numeric(logLik(f0)), as.numeric(logLik(f)) - 1e-8)
  expect_gte(f$penalty$objective, as.numeric(logLik(f0)) +
               glmmgee:::penalty_value(f$penalty$prior, unname(fixef(f0)))$value - 1e-8)
  f2 <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | h), data = d, dispformula = ~ w,
                              penalized = TRUE))
  expect_s3_class(f2, "glmmgee_glmm_sparse")
  expect_lt(max(abs(f2$gradient)), 1e-4)
  expect_equal(as.numeric(logLik(f2)), f2$penalty$objective - f2$penalty$value)
})

test_that("hostile 'penalized' lists are refused with the argument named", {
  d <- sim_zi_sep(4, M = 20)
  fz <- function(pen, zi = ~ w, ...)
    glmm(y ~ x + (1 | g), d, family = poisson, ziformula = zi, penalized = pen, ...)
  expect_error(fz(list(pen_zi = "yes")), "'penalized\\$pen_zi'")
  expect_error(fz(list(pen_zi = list(scale = 2))), "'penalized\\$pen_zi'")
  expect_error(fz(list(pen_zi = list(pen_df = 0))), "'penalized\\$pen_zi\\$pen_df'")
  expect_error(fz(list(pen_zi = list(pen_sigma = -1))), "'penalized\\$pen_zi\\$pen_sigma'")
  expect_error(fz(list(pen_mu = c(0, 1, 2))), "'penalized\\$pen_mu' must have 1 or 2")
  expect_error(fz(list(pen_zi = list(pen_sigma = c(1, 2, 3)))),
               "'penalized\\$pen_zi\\$pen_sigma' must have 1 or 2")
  expect_error(fz(list(pen_sigma = c(1, 2), pen_zi = TRUE)), "single numbers")
  expect_error(fz(list(pen_df = 3, pen_df = 4)), "'penalized'")
  expect_error(fz(list(pen_zi = NA)), "'penalized\\$pen_zi'")
  expect_error(fz(list(unknown = 1)), "unknown component")
  # No zero part to penalize.
  expect_error(glmm(y ~ x + (1 | g), d, family = poisson, penalized = list(pen_zi = TRUE)),
               "'penalized\\$pen_zi'.*ziformula")
  expect_error(glmm(y ~ x + (1 | g), d, family = nbinom2, dispformula = ~ w,
                    penalized = list(pen_zi = TRUE)), "'penalized\\$pen_zi'")
  # Profiles would drop the prior.
  f <- suppressWarnings(fz(TRUE, nAGQ = 3))
  expect_error(confint(f, method = "profile"), "penalized")
})
