# Every ecosystem integration on every model kind (cumulative link glmm and
# gee, zero-inflated, REML, structured ar1 / cs, known covariance, nested
# quadrature; fixtures in helper-ecosystem-kinds.R): each call either gives
# the fit's own numbers (its coefficients by name, their covariance, its
# variance decomposition) or stops with a message; none returns another
# number. The basic kinds are covered beside the peers in the other
# test-ecosystem-*.R files and the battery.

# The coefficients an integration must read, and their covariance.
kind_coef <- function(fit) {
  if (inherits(fit, c("glmmgee_glmm_ordinal", "glmmgee_gee_ordinal"))) {
    b <- fit$coefficients
    return(list(b = b, V = vcov(fit)[names(b), names(b), drop = FALSE]))
  }
  b <- if (inherits(fit, "glmmgee_gee")) coef(fit) else fixef(fit)
  list(b = b, V = vcov(fit))
}

# Run `expr`; an error is accepted only with a message (not an internal
# R error about subscripts or arguments), and the value is checked by
# `check` otherwise.
works_or_refuses <- function(expr, check, label) {
  res <- tryCatch(expr, error = function(e) e)
  if (inherits(res, "error")) {
    msg <- conditionMessage(res)
    expect_false(grepl("subscript out of bounds|non-conformable|argument of length 0|undefined columns|missing value where",
                       msg), label = paste(label, "fails with an internal error:", msg))
    return(invisible(FALSE))
  }
  check(res)
  invisible(TRUE)
}

kinds_focal <- function(fit) if (inherits(fit, c("glmmgee_glmm_ordinal", "glmmgee_gee_ordinal")))
  "temp" else "trt"

test_that("car, lmtest and multcomp read every kind's coefficients by name", {
  skip_if_not_installed("car")
  skip_if_not_installed("lmtest")
  skip_if_not_installed("multcomp")
  skip_if_not_installed("ordinal")
  for (k in names(kinds_fits())) {
    fit <- kinds_fits()[[k]]
    cv <- kind_coef(fit)
    focal <- kinds_focal(fit)
    j <- grep(paste0("^", focal), names(cv$b))
    wald <- drop(cv$b[j] %*% solve(cv$V[j, j, drop = FALSE], cv$b[j]))
    works_or_refuses(car::Anova(fit), function(tab)
      expect_equal(tab[focal, "Chisq"], wald, label = paste(k, "Anova")), paste(k, "Anova"))
    works_or_refuses(lmtest::coeftest(fit), function(ct) {
      expect_equal(ct[names(cv$b), "Estimate"], cv$b, label = paste(k, "coeftest"))
      expect_equal(ct[names(cv$b), "Std. Error"], sqrt(diag(cv$V)), label = paste(k, "coeftest"))
    }, paste(k, "coeftest"))
    works_or_refuses(multcomp::glht(fit, linfct = diag(length(cv$b))), function(g)
      expect_equal(unname(coef(g)), unname(cv$b), label = paste(k, "glht")), paste(k, "glht"))
  }
})

test_that("broom, parameters and insight give every kind's coefficients under their names", {
  skip_if_not_installed("broom.mixed")
  skip_if_not_installed("parameters")
  skip_if_not_installed("insight")
  skip_if_not_installed("ordinal")
  for (k in names(kinds_fits())) {
    fit <- kinds_fits()[[k]]
    cv <- kind_coef(fit)
    works_or_refuses(generics::tidy(fit), function(td) {
      td <- as.data.frame(td)
      fx <- if ("effect" %in% names(td)) td[td$effect %in% "fixed", ] else td
      if ("component" %in% names(fx)) fx <- fx[fx$component %in% c("cond", "conditional"), ]
      expect_equal(fx$estimate[match(names(cv$b), fx$term)], unname(cv$b), label = paste(k, "tidy"))
    }, paste(k, "tidy"))
    works_or_refuses(insight::get_parameters(fit), function(p)
      expect_equal(p$Estimate[match(names(cv$b), p$Parameter)], unname(cv$b),
                   label = paste(k, "get_parameters")), paste(k, "get_parameters"))
    works_or_refuses(suppressWarnings(suppressMessages(
      as.data.frame(parameters::model_parameters(fit, effects = "fixed")))), function(p) {
        expect_equal(p$Coefficient[match(names(cv$b), p$Parameter)], unname(cv$b),
                     label = paste(k, "model_parameters"))
        expect_equal(p$SE[match(names(cv$b), p$Parameter)], unname(sqrt(diag(cv$V))),
                     tolerance = 1e-6, label = paste(k, "model_parameters SE"))
      }, paste(k, "model_parameters"))
  }
})

test_that("emmeans and marginaleffects contrasts of every kind are its coefficient", {
  skip_if_not_installed("emmeans")
  skip_if_not_installed("marginaleffects")
  skip_if_not_installed("ordinal")
  for (k in names(kinds_fits())) {
    fit <- kinds_fits()[[k]]
    cv <- kind_coef(fit)
    focal <- kinds_focal(fit)
    coef_name <- if (focal == "temp") "tempwarm" else "trtb"
    works_or_refuses(as.data.frame(summary(pairs(emmeans::emmeans(fit, focal)), df = Inf)),
                     function(ct) expect_equal(abs(ct$estimate), abs(unname(cv$b[coef_name])),
                                               tolerance = 1e-6, label = paste(k, "emmeans")),
                     paste(k, "emmeans"))
    # The conditional (typical-cluster) difference on the link scale.
    if (focal == "trt")
      works_or_refuses(suppressWarnings(marginaleffects::avg_comparisons(
        fit, variables = "trt", type = "link", re.form = NA)), function(ac)
          expect_equal(ac$estimate, unname(cv$b[coef_name]), tolerance = 1e-6,
                       label = paste(k, "avg_comparisons")), paste(k, "avg_comparisons"))
    else
      works_or_refuses(marginaleffects::avg_comparisons(fit, variables = "temp"), function(ac)
        expect_true(all(is.finite(ac$estimate)), label = paste(k, "avg_comparisons")),
        paste(k, "avg_comparisons"))
  }
})

test_that("performance and MuMIn on every kind give variance_shares() or refuse", {
  skip_if_not_installed("performance")
  skip_if_not_installed("ordinal")
  for (k in setdiff(names(kinds_fits()), "ordinal_gee")) {
    fit <- kinds_fits()[[k]]
    vs <- tryCatch(variance_shares(fit), error = function(e) e)
    if (inherits(vs, "error")) {
      # no decomposition: the integrations must not invent one
      expect_match(conditionMessage(vs), "not available|does not support|does not provide", label = k)
      r <- suppressWarnings(tryCatch(performance::icc(fit), error = function(e) NULL))
      expect_true(is.null(r) || all(is.na(unlist(r))), label = paste(k, "icc"))
      next
    }
    icc <- vs$estimate[vs$quantity == "ICC"]
    icc_all <- if (length(icc) > 1L) icc[length(icc)] else icc
    expect_equal(suppressWarnings(performance::icc(fit))$ICC_adjusted, icc_all,
                 tolerance = 1e-8, label = paste(k, "icc"))
    r2 <- vs$estimate[vs$quantity == "R2"]
    rp <- suppressWarnings(performance::r2(fit))
    expect_equal(unname(c(rp$R2_marginal, rp$R2_conditional)), r2, tolerance = 1e-8,
                 label = paste(k, "r2"))
    if (requireNamespace("MuMIn", quietly = TRUE) && fit$family$family == "gaussian")
      works_or_refuses(MuMIn::r.squaredGLMM(fit), function(m)
        expect_equal(unname(m[1, ]), r2, tolerance = 1e-8, label = paste(k, "r.squaredGLMM")),
        paste(k, "r.squaredGLMM"))
  }
})
