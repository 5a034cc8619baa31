# Models drawn at random from the grammar family (8) x random-effect
# structure (intercepts, correlated and independent slopes, crossed,
# nested, ar1(), cs(), diag(), toep(), a structure beside a crossed term) x
# zero part (none, fixed, with a random intercept, with an AR(1)) x
# dispersion part (none, fixed, with a random intercept: compared where
# glmmTMB is 1.1.10 or later), each fitted by glmmgee and glmmTMB, both
# by the Laplace approximation (helper-model-grammar.R). Wherever glmmTMB
# converges (a positive definite Hessian), glmmgee fits too, with a
# log-likelihood not below glmmTMB's by more than 1e-4, and the
# coefficients within 1e-3 (relative, floor 1) unless its log-likelihood
# is higher; the methods work on every fit. 200 draws (about 3.5 minutes).

test_that("random models of the grammar fit, at or above glmmTMB's log-likelihood", {
  skip_if_not_installed("glmmTMB")
  skip_unless_level("default")
  draws <- 1:200
  compared <- 0L
  for (k in draws) {
    m <- grammar_draw(k)
    d <- grammar_data(m)
    g <- grammar_model(m)
    label <- sprintf("draw %d: %s, %s, zero part %s, dispersion %s", k, m$family, m$re, m$zero,
                     m$disp)
    tm <- tryCatch(suppressWarnings(glmmTMB::glmmTMB(
      g$formula, ziformula = g$ziformula, dispformula = g$dispformula,
      family = grammar_family(m$family, peer = TRUE), data = d)), error = function(e) NULL)
    converged <- !is.null(tm) && isTRUE(tm$sdr$pdHess) && is.finite(stats::logLik(tm))
    f <- tryCatch(suppressWarnings(glmm(g$formula, ziformula = g$ziformula,
                                        dispformula = g$dispformula,
                                        family = grammar_family(m$family), data = d, nAGQ = 1)),
                  error = function(e) e)
    if (!converged) {
      # Where glmmTMB fails, a fit or an error that says why; never a crash.
      if (inherits(f, "error")) expect_true(nzchar(conditionMessage(f)), label = label)
      next
    }
    expect_s3_class(f, "glmmgee_glmm")
    if (inherits(f, "error")) {
      fail(paste(label, "failed:", conditionMessage(f)))
      next
    }
    compared <- compared + 1L
    lt <- as.numeric(stats::logLik(tm))
    # glmmTMB's nbinom2 log-likelihood loses digits far in the Poisson
    # limit (theta = exp(23): 1.6e-3 above its value at the same limit by
    # its own Poisson fit): there its Poisson fit is the reference.
    if (m$family == "nbinom2" && m$disp == "none" && isTRUE(glmmTMB::fixef(tm)$disp[[1L]] > 10)) {
      tp <- tryCatch(suppressWarnings(glmmTMB::glmmTMB(g$formula, ziformula = g$ziformula,
                                                       family = poisson(), data = d)),
                     error = function(e) NULL)
      if (!is.null(tp) && isTRUE(tp$sdr$pdHess)) lt <- as.numeric(stats::logLik(tp))
    }
    lo <- as.numeric(stats::logLik(f))
    expect_gte(lo, lt - 1e-4, label = sprintf("%s: logLik %.7f (glmmTMB %.7f)", label, lo, lt))
    if (lo < lt + 1e-4) {
      ours <- c(fixef(f), if (m$zero != "none") f$aux$zi$coef,
                if (m$disp == "random") f$aux$disp$coef)
      peer <- c(glmmTMB::fixef(tm)$cond, if (m$zero != "none") glmmTMB::fixef(tm)$zi,
                if (m$disp == "random") glmmTMB::fixef(tm)$disp)
      expect_lte(max(abs(unname(ours) - unname(peer)) / pmax(1, abs(unname(peer)))), 1e-3,
                 label = paste(label, "coefficients"))
    }
    # The methods on every fit.
    expect_output(print(summary(f)), "Random effects|Conditional model", label = label)
    expect_length(stats::predict(f, type = "response"), nrow(d))
    expect_true(all(is.finite(stats::fitted(f))), label = label)
    expect_identical(nrow(stats::vcov(f)), length(fixef(f)))
    expect_true(is.list(ranef(f)), label = label)
    expect_identical(dim(stats::simulate(f, nsim = 1, seed = 1)), c(nrow(d), 1L))
  }
  # Most draws are compared (the others are models glmmTMB does not fit).
  expect_gt(compared, length(draws) / 2)
})
