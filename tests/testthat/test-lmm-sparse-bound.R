# The several-term linear mixed model route (fit-lmm-sparse.R) does not stop
# on a zero standard deviation when the criterion is lower inside: a
# variance at zero is a stationary point of the (even) criterion, where
# nlminb's gradient steps used to land (REML 0.41 below lmer's here).

test_that("crossed random intercepts: REML and ML reach lmer's optimum off the boundary", {
  skip_if_not_installed("lme4")
  set.seed(20261123)
  n <- 300
  d <- data.frame(g = factor(sample(1:30, n, TRUE)), h = factor(sample(1:10, n, TRUE)),
                  a = factor(sample(c("p", "q", "r", "s"), n, TRUE)), x = rnorm(n))
  u <- rnorm(30)
  d$y <- 1 + 0.5 * as.numeric(d$a) + 0.3 * d$x + u[d$g] + rnorm(n)
  f <- y ~ a + x + (1 | g) + (1 | h)
  for (reml in c(TRUE, FALSE)) {
    # (the ML search ends in nlminb's "singular convergence" at lmer's
    # optimum, which the Newton step verifies: no warning either)
    ours <- glmm(f, d, REML = reml)
    ref <- lme4::lmer(f, d, REML = reml)
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6)
    sd_ref <- as.data.frame(lme4::VarCorr(ref))
    sd_ours <- unlist(lapply(VarCorr(ours), function(v) attr(v, "stddev")))
    expect_equal(unname(sd_ours), sd_ref$sdcor[match(c("g", "h"), sd_ref$grp)], tolerance = 1e-4)
    expect_false(ours$singular)
    expect_identical(ours$optinfo$warnings, character())
  }
})
