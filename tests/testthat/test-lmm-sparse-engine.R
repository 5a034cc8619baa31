# The several-term LMM engine (exact-Hessian gradient in the Newton
# search, the diagonal-Lambda and small-block paths of the exact Hessian,
# the residualized X'V^-1X): fits against lmer's best optimum on crossed,
# nested (blocks above and below 24 levels), tiny and singular designs,
# weights and offsets; the exact invariance of ML to an affine change of a
# covariate (x * 1e-6 - 5, where lmer's own value is off by 1e-3 to 2e-2);
# the diagonal-Lambda Hessian with slopes (`||`) against numDeriv.

sparse_engine_data <- function(seed, na, nb, nc = 0, reps = 1, drop = 0, sb = 0.7,
                          sx = 0.5, nested = FALSE) {
  set.seed(seed)
  d <- if (nested) {
    expand.grid(r = seq_len(reps), c = seq_len(max(nc, 1)), b = seq_len(nb), a = seq_len(na))
  } else {
    expand.grid(r = seq_len(reps), a = seq_len(na), b = seq_len(nb), c = seq_len(max(nc, 1)))
  }
  if (nested) {
    d$b <- interaction(d$a, d$b)
    d$c <- interaction(d$b, d$c)
  }
  d$a <- factor(d$a); d$b <- factor(d$b); d$c <- factor(d$c)
  if (drop > 0) d <- d[sort(sample(nrow(d), round((1 - drop) * nrow(d)))), ]
  d <- droplevels(d)
  n <- nrow(d)
  d$x <- rnorm(n)
  d$y <- 1 + 0.5 * d$x + rnorm(nlevels(d$a))[d$a] + rnorm(nlevels(d$a), sd = sx)[d$a] * d$x +
    rnorm(nlevels(d$b), sd = sb)[d$b] + (if (nc > 0) rnorm(nlevels(d$c), sd = 0.5)[d$c] else 0) +
    rnorm(n)
  d$w <- runif(n, 0.5, 2)
  d$off <- rnorm(n, sd = 0.3)
  d$xsmall <- d$x * 1e-6 - 5
  d
}

test_that("several-term LMM fits reach lmer's best optimum (REML and ML)", {
  skip_if_not_installed("lme4")
  cases <- list(
    list(sparse_engine_data(3, 30, 25, drop = 0.85), y ~ x + (1 | a) + (1 | b)),            # tiny groups
    list(sparse_engine_data(4, 8, 6, 5), y ~ x + (1 | a) + (1 | b) + (1 | c)),              # 3 crossed
    list(sparse_engine_data(7, 6, 30, reps = 2, nested = TRUE), y ~ x + (1 | a) + (1 | b)), # blocks of 31
    list(sparse_engine_data(8, 6, 3, 3, reps = 2, nested = TRUE), y ~ x + (1 | a) + (1 | b) + (1 | c)),
    list(sparse_engine_data(12, 40, 30, drop = 0.5), y ~ x + (1 | a) + (1 | b)),            # one block of 70
    list(sparse_engine_data(10, 12, 10, reps = 2, sb = 0), y ~ x + (1 | a) + (1 | b)),      # singular
    list(sparse_engine_data(16, 40, 30, drop = 0.5, sx = 0.6), y ~ x + (x || a) + (1 | b)),
    list(sparse_engine_data(17, 8, 30, reps = 2, nested = TRUE, sx = 0.6), y ~ x + (x || b) + (1 | a)),
    list(lme4::Penicillin, diameter ~ 1 + (1 | plate) + (1 | sample)),
    list(lme4::Pastes, strength ~ 1 + (1 | batch/cask)),
    list(lme4::cake, angle ~ recipe + temperature + (1 | replicate) + (1 | recipe:replicate)))
  for (i in seq_along(cases)) for (reml in c(TRUE, FALSE)) {
    d <- cases[[i]][[1]]
    fo <- cases[[i]][[2]]
    fit <- suppressWarnings(glmm(fo, d, REML = reml))
    ref <- max(vapply(c("nloptwrap", "bobyqa"), function(o)
      as.numeric(logLik(suppressMessages(suppressWarnings(
        lme4::lmer(fo, d, REML = reml, control = lme4::lmerControl(optimizer = o)))))), 1))
    expect_gt(as.numeric(logLik(fit)) - ref, -1e-8, label = paste(i, reml, "logLik - lmer's"))
  }
  # weights and an offset on nested blocks above 24 levels
  d <- sparse_engine_data(7, 6, 30, reps = 2, nested = TRUE)
  for (reml in c(TRUE, FALSE)) {
    fit <- glmm(y ~ x + (1 | a) + (1 | b), d, weights = w, offset = off, REML = reml)
    ref <- lme4::lmer(y ~ x + (1 | a) + (1 | b), d, weights = w, offset = off, REML = reml)
    expect_gt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), -1e-8)
    expect_equal(unname(sqrt(diag(vcov(fit)))), unname(sqrt(diag(as.matrix(vcov(ref))))),
                 tolerance = 1e-5)
  }
})

test_that("ML is invariant to an affine change of a covariate, REML shifts by log|A|", {
  # y ~ x * 1e-6 - 5 spans the same space as y ~ x: the ML optimum is the
  # same and REML's differs by -log(1e-6) exactly (lmer is 1e-3 to 2e-2
  # off here, either way).
  for (d in list(sparse_engine_data(1, 10, 8, reps = 2), sparse_engine_data(12, 40, 30, drop = 0.5))) {
    for (reml in c(FALSE, TRUE)) {
      f1 <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = reml)
      f2 <- glmm(y ~ xsmall + (1 | a) + (1 | b), d, REML = reml)
      shift <- if (reml) -log(1e-6) else 0
      expect_lt(abs(as.numeric(logLik(f2)) - as.numeric(logLik(f1)) - shift), 1e-8,
                label = paste("REML", reml, "logLik difference"))
      expect_equal(f2$theta[["xsmall"]] * 1e-6, f1$theta[["x"]],
                   tolerance = 1e-6)
      expect_equal(f2$sigma, f1$sigma, tolerance = 1e-6)
    }
  }
})

test_that("the exact Hessian with diagonal Lambda and slopes (||) is numDeriv's", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("reformulas")
  cases <- list(
    list(sparse_engine_data(13, 20, 6, reps = 3, sx = 0.8), y ~ x + (x || a) + (1 | b), c(0.9, 0.5, 0.6)),
    list(sparse_engine_data(17, 8, 30, reps = 2, nested = TRUE, sx = 0.6), y ~ x + (x || b) + (1 | a),
         c(0.7, 0.4, 1.2)),
    list(sparse_engine_data(17, 8, 30, reps = 2, nested = TRUE, sx = 0.6), y ~ x + (x || a) + (1 | b),
         c(0.7, 0.4, 1.2)))
  for (cs in cases) for (wt in c(FALSE, TRUE)) {
    d <- cs[[1]]
    mf <- model.frame(reformulas::subbars(cs[[2]]), d)
    re <- glmmgee:::sparse_re_terms(cs[[2]], mf, NULL)
    X <- model.matrix(reformulas::nobars(cs[[2]]), d)
    st <- glmmgee:::lmm_sparse_setup(X, d$y, re, if (wt) d$w else rep(1, nrow(d)),
                                     if (wt) d$off else rep(0, nrow(d)))
    th <- cs[[3]]
    for (reml in c(FALSE, TRUE)) {
      piece <- function(t, j) {
        e <- glmmgee:::cpp_lmmsp_eval(st$eng, t, FALSE)
        c(e$ldL2 + if (reml) e$ldRX2 else 0, e$pwrss)[[j]]
      }
      eh <- glmmgee:::cpp_lmmsp_hessian(st$eng, th, reml, 1e9)
      expect_false(is.null(eh))
      info <- paste(deparse(cs[[2]]), wt, reml)
      expect_equal(eh$h_ld, numDeriv::hessian(piece, th, j = 1), tolerance = 1e-7, info = info)
      expect_equal(eh$h_q, numDeriv::hessian(piece, th, j = 2), tolerance = 1e-7, info = info)
      expect_equal(drop(eh$g_ld), numDeriv::grad(piece, th, j = 1), tolerance = 1e-7, info = info)
      expect_equal(drop(eh$g_q), numDeriv::grad(piece, th, j = 2), tolerance = 1e-7, info = info)
    }
  }
})
