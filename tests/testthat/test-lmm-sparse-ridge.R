# Diagonal random slopes far from zero on the several-term LMM route
# (R/lmm-ridge.R): (x || g) with x = x0 * 1e-6 - 5 puts the pair's two
# variances on a ridge that nlminb crawled along, short of the optimum.

# The shared models' mk(seed, na, nb, reps, sx) design and draws (one level
# of a third factor per level of b, whose effects are drawn and not used).
ridge_data <- function(seed = 13, na = 20, nb = 6, reps = 3, sx = 0.8, nested = FALSE) {
  set.seed(seed)
  d <- if (nested) {
    g <- expand.grid(r = seq_len(reps), c = 1L, b = seq_len(nb), a = seq_len(na))
    g$b <- interaction(g$a, g$b)
    g
  } else expand.grid(r = seq_len(reps), a = seq_len(na), b = seq_len(nb), c = 1L)
  d$a <- factor(d$a)
  d$b <- factor(d$b)
  d <- droplevels(d)
  n <- nrow(d)
  d$x <- rnorm(n)
  d$z <- runif(n)
  ea <- rnorm(nlevels(d$a))
  eb <- rnorm(nlevels(d$b), sd = 0.7)
  rnorm(if (nested) nlevels(d$b) else 1L, sd = 0.5)
  ex <- rnorm(nlevels(d$a), sd = sx)
  d$y <- 1 + 0.5 * d$x - 0.3 * d$z + ea[d$a] + ex[d$a] * d$x + eb[d$b] + rnorm(n)
  d$xsmall <- d$x * 1e-6 - 5
  d$xk <- d$x + 1e3
  d
}

# lmer's best over its optimizers. On x * 1e-6 - 5 lmer's own criterion
# loses digits in X'X (condition ~1e13): its restricted log-likelihood of
# y ~ xsmall + (1 | a) + (1 | b) is 0.026 off. The reference is therefore
# lmer's fit of the same random part with fixed effects on x (the same
# column space), whose REML differs by exactly log|det T| = log(1e-6)
# (xsmall = -5 + 1e-6 x), ML not at all.
lmer_best <- function(f, d, REML) {
  max(vapply(c("bobyqa", "Nelder_Mead", "nloptwrap"), function(o) {
    m <- suppressWarnings(suppressMessages(
      lme4::lmer(f, d, REML = REML, control = lme4::lmerControl(optimizer = o))))
    as.numeric(stats::logLik(m))
  }, 1))
}

test_that("(xsmall || a) + (1 | b) reaches the optimum at the ridge's end, REML and ML", {
  skip_if_not_installed("lme4")
  d <- ridge_data()
  for (reml in c(TRUE, FALSE)) {
    r <- fit_quiet(y ~ xsmall + (xsmall || a) + (1 | b), d, REML = reml)
    ref <- lmer_best(y ~ x + (1 | a) + (0 + xsmall | a) + (1 | b), d, reml) -
      reml * log(1e-6)
    expect_gte(as.numeric(logLik(r$fit)), ref - 1e-8)
    expect_false(any(grepl("did not report convergence", r$warnings)))
    expect_identical(r$fit$optinfo$convergence, 0L)
    # The optimum is the intercept's SD at 0 (all of the level's shift in
    # the slope): reported as a singular fit.
    expect_identical(unname(r$fit$theta[["a.(Intercept)"]]), 0)
    expect_true(r$fit$singular)
  }
})

test_that("the diagonal model's fit is invariant to rescaling the far slope", {
  d <- ridge_data()
  d$xs2 <- d$xsmall * 1e3
  for (reml in c(TRUE, FALSE)) {
    a <- fit_quiet(y ~ xsmall + (xsmall || a) + (1 | b), d, REML = reml)$fit
    b <- fit_quiet(y ~ xs2 + (xs2 || a) + (1 | b), d, REML = reml)$fit
    # REML's log|X'V^-1X| shifts by log 1e3 with the fixed slope's units;
    # the criterion itself is evaluated to ~1e-11 relative on such a design
    # (3e-9 here between the two).
    expect_equal(as.numeric(logLik(b)) + reml * log(1e3), as.numeric(logLik(a)),
                 tolerance = 2e-11)
    expect_equal(b$theta[["a.xs2"]] * 1e3, a$theta[["a.xsmall"]], tolerance = 1e-6)
    # (1 + xsmall || a) is the same model.
    c1 <- fit_quiet(y ~ xsmall + (1 + xsmall || a) + (1 | b), d, REML = reml)$fit
    expect_equal(as.numeric(logLik(c1)), as.numeric(logLik(a)), tolerance = 1e-12)
  }
})

test_that("nested (xsmall || a/b) and (x + 1e3 || a) + (1 | b) are at lmer's best", {
  skip_if_not_installed("lme4")
  dn <- ridge_data(17, 8, 30, reps = 2, sx = 0.6, nested = TRUE)
  for (reml in c(TRUE, FALSE)) {
    r <- fit_quiet(y ~ xsmall + (xsmall || a/b), dn, REML = reml)
    ref <- lmer_best(y ~ x + (1 | a) + (0 + xsmall | a) + (1 | a:b) + (0 + xsmall | a:b),
                     dn, reml) - reml * log(1e-6)
    expect_gte(as.numeric(logLik(r$fit)), ref - 1e-8)
    expect_false(any(grepl("did not report convergence", r$warnings)))
    r2 <- fit_quiet(y ~ xk + (xk || a) + (1 | b), dn, REML = reml)
    expect_gte(as.numeric(logLik(r2$fit)), lmer_best(y ~ xk + (xk || a) + (1 | b), dn, reml) - 1e-8)
  }
})

test_that("only far, nearly collinear scalar pairs on one factor are searched along the ridge", {
  d <- ridge_data()
  pairs <- function(f, data) {
    mf <- stats::model.frame(lme4::subbars(f), data)
    re <- glmmgee:::sparse_re_terms(f, mf, NULL)
    glmmgee:::lmm_ridge_pairs(re, rep(TRUE, nrow(mf)))
  }
  skip_if_not_installed("lme4")
  expect_null(pairs(y ~ x + (x || a) + (1 | b), d))
  expect_null(pairs(y ~ x + (1 | a) + (1 | b), d))
  d$xbig <- d$x * 1e6
  expect_null(pairs(y ~ xbig + (xbig || a) + (1 | b), d))
  data("sleepstudy", package = "lme4", envir = environment())
  expect_null(pairs(Reaction ~ Days + (Days || Subject), sleepstudy))
  expect_equal(unname(pairs(y ~ xsmall + (xsmall || a) + (1 | b), d)), matrix(1:2, 1))
  expect_equal(nrow(pairs(y ~ xk + (xk || a) + (xk || b), d)), 2L)
})

test_that("the polar map and its gradient are exact", {
  pm <- glmmgee:::lmm_ridge_polar(matrix(c(1L, 3L), 1), c(0, 0, 0))
  th <- c(0.3, 1.2, 0.7)
  expect_equal(pm$theta(pm$psi(th)), th, tolerance = 1e-15)
  f <- function(t) sum((t - c(1, 2, 3))^2 * c(1, 3, 5)) + t[1] * t[3]
  g <- function(t) 2 * (t - c(1, 2, 3)) * c(1, 3, 5) + c(t[3], 0, t[1])
  p <- pm$psi(th)
  num <- vapply(1:3, function(j) {
    h <- 1e-6
    (f(pm$theta(replace(p, j, p[j] + h))) - f(pm$theta(replace(p, j, p[j] - h)))) / (2 * h)
  }, 1)
  expect_equal(pm$grad(p, g(pm$theta(p))), num, tolerance = 1e-8)
  expect_equal(pm$upper, c(Inf, Inf, pi / 2))
})
