# MuMIn's r.squaredGLMM() and dredge() on glmm fits, beside the same calls
# on lme4 and glmmTMB fits of the same models.

test_that("r.squaredGLMM() of a glmm equals MuMIn's on the glmer fit", {
  skip_if_not_installed("MuMIn")
  skip_if_not_installed("lme4")
  skip_if_not_installed("MASS")
  # binomial (0/1 rows: MuMIn and we both use the per-trial latent scale),
  # poisson and gaussian, the fits at a tight tolerance so that they agree
  # to ~1e-6 and remaining differences are the methods'.
  b <- cbpp_bernoulli()
  e <- new.env()
  utils::data("epil", package = "MASS", envir = e)
  utils::data("sleepstudy", package = "lme4", envir = e)
  cases <- list(
    binomial = list(glmm(y ~ period + (1 | herd), data = b, family = binomial, nAGQ = 1),
                    tight_glmer(y ~ period + (1 | herd), b, binomial)),
    poisson = list(glmm(y ~ lbase + trt + (1 | subject), data = e$epil, family = poisson, nAGQ = 1),
                   tight_glmer(y ~ lbase + trt + (1 | subject), e$epil, poisson)),
    gaussian = list(glmm(Reaction ~ Days + (Days | Subject), data = e$sleepstudy),
                    do.call(lme4::lmer, list(Reaction ~ Days + (Days | Subject), data = e$sleepstudy,
                                             REML = FALSE))))
  for (nm in names(cases)) {
    ours <- suppressWarnings(MuMIn::r.squaredGLMM(cases[[nm]][[1]]))
    ref <- suppressWarnings(MuMIn::r.squaredGLMM(cases[[nm]][[2]]))
    expect_identical(dimnames(ours), dimnames(ref), label = nm)
    expect_equal(ours, ref, tolerance = 1e-4, label = nm)
  }
  expect_error(suppressWarnings(MuMIn::r.squaredGLMM(cases$poisson[[1]], pj2014 = TRUE)),
               "unknown argument")
})

test_that("dredge() of a glmm ranks the submodels as dredge() of glmmTMB fits", {
  skip_if_not_installed("MuMIn")
  skip_if_not_installed("glmmTMB")
  d <- kinds_panel()
  ours <- glmm(count ~ trt + x + timef + (1 | id), data = d, family = poisson, nAGQ = 1,
               na.action = na.fail)
  peer <- glmmTMB::glmmTMB(count ~ trt + x + timef + (1 | id), data = d, family = poisson,
                           na.action = na.fail)
  dd <- suppressMessages(MuMIn::dredge(ours))
  dp <- suppressMessages(MuMIn::dredge(peer))
  expect_identical(nrow(dd), nrow(dp))
  # glmmTMB's columns are named cond(term)
  key <- function(x, pre = "") apply(!is.na(as.data.frame(x)[paste0(pre, c("timef", "trt", "x"), if (nzchar(pre)) ")")]),
                                     1, paste, collapse = "")
  expect_identical(key(dd), key(dp, "cond("))
  expect_equal(as.numeric(dd$AICc), as.numeric(dp$AICc), tolerance = 1e-6)
  expect_equal(as.numeric(dd$logLik), as.numeric(dp$logLik), tolerance = 1e-6)
  expect_equal(as.numeric(dd$weight), as.numeric(dp$weight), tolerance = 1e-5)
  expect_equal(as.numeric(dd$x), as.numeric(dp[["cond(x)"]]), tolerance = 1e-4)
})

test_that("r.squaredGLMM()'s rows are Nakagawa's R2 as performance computes it for glmer", {
  # Without MuMIn (CRAN's current release needs a newer R) the method is
  # checked against performance's r2() of the same glmer fits: its
  # theoretical (binomial), lognormal (poisson) and only (gaussian) rows.
  skip_if_not_installed("performance")
  skip_if_not_installed("lme4")
  skip_if_not_installed("MASS")
  r2m <- getFromNamespace("r.squaredGLMM.glmmgee_glmm", "glmmgee")
  b <- cbpp_bernoulli()
  e <- new.env()
  utils::data("epil", package = "MASS", envir = e)
  ob <- glmm(y ~ period + (1 | herd), data = b, family = binomial, nAGQ = 1)
  rb <- performance::r2(tight_glmer(y ~ period + (1 | herd), b, binomial))
  expect_equal(unname(r2m(ob)["theoretical", ]), unname(c(rb$R2_marginal, rb$R2_conditional)),
               tolerance = 1e-5)
  op <- glmm(y ~ lbase + trt + (1 | subject), data = e$epil, family = poisson, nAGQ = 1)
  rp <- performance::r2(tight_glmer(y ~ lbase + trt + (1 | subject), e$epil, poisson))
  expect_equal(unname(r2m(op)["lognormal", ]), unname(c(rp$R2_marginal, rp$R2_conditional)),
               tolerance = 1e-5)
  expect_error(r2m(kinds_fits()$zi), "zero-inflated")
})

test_that("r.squaredGLMM() of a cumulative link mixed model is variance_shares()'s R2", {
  skip_if_not_installed("ordinal")
  r2m <- getFromNamespace("r.squaredGLMM.glmmgee_glmm_ordinal", "glmmgee")
  fit <- kinds_fits()$ordinal
  vs <- variance_shares(fit)
  expect_equal(unname(r2m(fit)["theoretical", ]), vs$estimate[vs$quantity == "R2"])
})

test_that("r.squaredGLMM() of a dispersion-formula fit averages over the rows the fit used", {
  # rows of weight 0 enter neither the fixed and random variances nor the
  # residual one: the R2 are those of the data without them (the residual
  # had been averaged over all rows). The method itself, so that this runs
  # where MuMIn is not installed.
  r2 <- getFromNamespace("r.squaredGLMM.glmmgee_glmm", "glmmgee")
  set.seed(3)
  M <- 30; m <- 8; g <- rep(seq_len(M), each = m)
  d <- data.frame(g = g, x = rnorm(M * m), arm = factor(sample(c("a", "b"), M * m, TRUE)))
  d$y <- 1 + d$x + rnorm(M, 0, 0.6)[g] + rnorm(M * m) * exp(0.5 * (d$arm == "b"))
  w <- rep(1, nrow(d))
  w[d$arm == "b" & d$g <= 15] <- 0
  f0 <- glmm(y ~ x + (1 | g), data = d, weights = w, dispformula = ~ arm)
  f1 <- glmm(y ~ x + (1 | g), data = d[w > 0, ], dispformula = ~ arm)
  r0 <- r2(f0)
  expect_equal(r0, r2(f1), tolerance = 1e-6)
  vs <- variance_shares(f1)
  expect_equal(r0[[1, "R2c"]], vs$estimate[vs$quantity == "R2" & vs$component == "conditional"],
               tolerance = 1e-6)
})
