# Bad input to glmm() and glmm_control(): a clear error that names the
# argument or variable at fault. Numerical trouble: a warning, recorded in
# the fit, never a crash.

bac_input <- function() {
  d <- MASS::bacteria
  d$site <- factor(rep(1:5, length.out = nrow(d)))
  d
}

test_that("a variable missing from the data is named", {
  d <- bac_input()
  expect_error(glmm(y ~ trt + nope + (1 | ID), d, family = binomial),
               "variable 'nope' .* not in 'data'")
  expect_error(glmm(y ~ trt + (1 | nope), d, family = binomial),
               "variable 'nope' .* not in 'data'")
  expect_error(glmm(y ~ trt + (1 + nope | ID), d, family = binomial),
               "variable 'nope' .* not in 'data'")
  expect_error(glmm(nope ~ trt + (1 | ID), d, family = binomial),
               "variable 'nope' .* not in 'data'")
})

test_that("a response outside the family's support is rejected", {
  d <- data.frame(y = c(0, 1, 2, 1, 0, 1), x = 1:6, g = rep(1:2, 3))
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial),
               "binomial response must be in \\[0, 1\\].*found 2")
  d$y <- c(0, 1, -1, 2, 3, 1)
  expect_error(glmm(y ~ x + (1 | g), d, family = poisson),
               "poisson response must be a non-negative whole number; found -1")
  d$y <- c(0, 1, 1.5, 2, 3, 1)
  expect_error(glmm(y ~ x + (1 | g), d, family = poisson),
               "poisson response must be a non-negative whole number; found 1.5")
  d$y <- factor(c("a", "b", "c", "a", "b", "c"))
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial), "factor response .* two levels; it has 3")
  d$s <- c(1, 2, -1, 0, 1, 1); d$f <- 2
  expect_error(glmm(cbind(s, f) ~ x + (1 | g), d, family = binomial),
               "cbind\\(successes, failures\\) must hold non-negative")
  d$y <- c(0.2, 0.5, 1, 0.1, 0, 0.3)
  expect_error(glmm(y ~ x + (1 | g), d, family = gaussian, weights = c(1, 1, -1, 1, 1, 1)),
               "'weights' must be non-negative")
})

test_that("missing values with na.action = na.fail name the variables", {
  d <- bac_input()
  d$ID[c(3, 50)] <- NA
  expect_error(glmm(y ~ trt + (1 | ID), d, family = binomial, na.action = na.fail),
               "missing values in 'ID'.*na\\.fail")
  d2 <- bac_input()
  d2$trt[5] <- NA
  expect_error(glmm(y ~ trt + (1 | ID), d2, family = binomial, na.action = "na.fail"),
               "missing values in 'trt'.*na\\.fail")
  # The default na.omit drops the rows instead.
  f <- glmm(y ~ trt + (1 | ID), d, family = binomial, nAGQ = 1)
  expect_identical(f$n, nrow(d) - 2L)
  expect_length(f$na.action, 2L)
})

test_that("nAGQ must be a whole number >= 1", {
  d <- bac_input()
  for (bad in list(0, -1, 2.5, NA, "5", c(1, 3)))
    expect_error(glmm(y ~ trt + (1 | ID), d, family = binomial, nAGQ = bad),
                 "'nAGQ' must be a whole number >= 1", info = deparse(bad))
  # also where the route does not use it (REML)
  data("sleepstudy", package = "lme4")
  for (bad in list(-1, 1.5, NA, "a"))
    expect_error(glmm(Reaction ~ Days + (1 | Subject), sleepstudy, REML = TRUE, nAGQ = bad),
                 "'nAGQ' must be a whole number >= 1", info = deparse(bad))
  expect_error(glmm(y ~ trt + (1 + week | ID), d, family = binomial, nAGQ = 400),
               "'nAGQ' = 400 with 2 random effects")
  # (beyond the integers: Inf and 3e9 became NA and stopped with "missing
  # value where TRUE/FALSE needed")
  for (big in c(Inf, 3e9))
    expect_error(glmm(y ~ trt + (1 | ID), d, family = binomial, nAGQ = big),
                 "at most 1e5 quadrature points", info = big)
})

test_that("random effects on several grouping factors go to the sparse Laplace engine", {
  d <- bac_input()
  # Adaptive quadrature with several terms needs them nested (ID and site
  # are crossed here).
  expect_error(glmm(y ~ trt + (1 | ID) + (1 | site), d, family = binomial, nAGQ = 5),
               "'nAGQ' > 1 .*needs nested grouping factors.*crossed")
  expect_s3_class(suppressWarnings(glmm(y ~ trt + (1 | ID) + (1 | site), d, family = binomial)),
                  "glmmgee_glmm_sparse")
  # site cycles within ID, so ID:site has one level per observation: from a
  # 0/1 response its variance is identified only through the link's shape,
  # which both routes warn about.
  # (It also warns that this variance has no finite maximum.)
  warned <- function(expr) {
    w <- character()
    value <- withCallingHandlers(expr, warning = function(cnd) {
      w <<- c(w, conditionMessage(cnd))
      invokeRestart("muffleWarning")
    })
    list(value = value, warnings = w)
  }
  r <- warned(glmm(y ~ trt + (1 | site/ID), d, family = binomial))
  expect_true(any(grepl("'ID:site'.*one binary observation", r$warnings)))
  # One interaction factor is one grouping factor.
  fit <- glmm(y ~ trt + (1 | ID:trt), d, family = binomial, nAGQ = 1)
  expect_s3_class(fit, "glmmgee_glmm")
  expect_false(inherits(fit, "glmmgee_glmm_sparse"))
  # (Here every site:ID cell holds one binary observation, which is warned about.)
  r <- warned(glmm(y ~ trt + (1 | site:ID), d, family = binomial, nAGQ = 1))
  expect_true(any(grepl("one binary observation", r$warnings)))
  f <- r$value
  expect_s3_class(f, "glmmgee_glmm")
})

test_that("no data left, or one group only", {
  d <- data.frame(y = c(NA, NA), x = 1:2, g = 1:2)
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial), "no complete rows")
  expect_error(glmm(y ~ trt + (1 | ID), bac_input(), family = binomial, subset = week > 100),
               "no complete rows")
  d1 <- data.frame(y = rep(0:1, 10), x = seq_len(20), g = "a")
  expect_error(glmm(y ~ x + (1 | g), d1, family = binomial),
               "grouping factor 'g' has only 1 level")
  # ... also when the other groups are removed by subset.
  d2 <- data.frame(y = rep(0:1, 10), x = seq_len(20), g = rep(c("a", "b"), each = 10))
  expect_error(glmm(y ~ x + (1 | g), d2, family = binomial, subset = g == "a"),
               "grouping factor 'g' has only 1 level")
})

test_that("a formula without random effects points to glm() or gee()", {
  expect_error(glmm(y ~ trt, bac_input(), family = binomial), "no random-effects term.*glm\\(\\).*gee\\(\\)")
  expect_error(glmm(~ trt + (1 | ID), bac_input()), "two-sided formula")
  expect_error(glmm(y ~ trt + (0 | ID), bac_input(), family = binomial), "random-effects term has no columns")
})

test_that("glmm_control() rejects unknown names and bad values", {
  expect_error(glmm_control(reltol = 1e-8), "unknown glmm_control\\(\\) setting\\(s\\): reltol")
  expect_error(glmm_control(rel.tol = 1e-8, foo = 1, bar = 2), "foo, bar")
  expect_error(glmm_control(nthreads = 0), "'nthreads' must be one positive whole number")
  expect_error(glmm_control(iter.max = 1.5), "'iter.max' must be")
  expect_error(glmm_control(hessian = NA), "'hessian' must be TRUE or FALSE")
  expect_error(glmm(y ~ trt + (1 | ID), bac_input(), family = binomial,
                    control = list(rel.tol = 1)), "'control' must come from glmm_control\\(\\)")
})

test_that("bad families are rejected with the supported list", {
  d <- bac_input()
  expect_error(glmm(y ~ trt + (1 | ID), d, family = "binomal"), "no family function called \"binomal\"")
  expect_error(glmm(y ~ trt + (1 | ID), d, family = poisson("sqrt")), "poisson with link \"sqrt\" is not supported; supported: .*binomial\\(logit\\)")
  expect_error(glmm(y ~ trt + (1 | ID), d, family = poisson("identity")), "link \"identity\" is not supported")
  expect_error(glmm(y ~ trt + (1 | ID), d, family = quasibinomial), "quasibinomial .* not supported")
  expect_error(glmm(y ~ trt + (1 | ID), d, family = 3), "'family' must be a family function")
})

# ---- Numerical trouble: warnings recorded in the fit -----------------------------

test_that("a singular fit warns and is recorded (gaussian)", {
  # Residuals sum to zero within every cluster: no between-cluster variance.
  M <- 20
  x <- rep(c(-1, 0, 1, 2), M)
  e <- rep(c(0.5, -1, 0.2, 0.3), M) * rep(seq(0.5, 2, length.out = M), each = 4)
  d <- data.frame(y = 1 + 2 * x + e, x = x, g = factor(rep(seq_len(M), each = 4)))
  expect_warning(f <- glmm(y ~ x + (1 | g), d), "singular")
  expect_true(f$singular)
  expect_true(any(grepl("singular", f$optinfo$warnings)))
  expect_equal(unname(f$D[1, 1]), 0, tolerance = 1e-8)
  # No standard error for a parameter on the boundary; the others are fine
  # (the fixed effects then equal ordinary least squares).
  expect_true(is.na(f$cov_theta["lambda[1,1]", "lambda[1,1]"]))
  expect_true(all(is.finite(diag(f$vcov))))
  expect_equal(unname(f$coefficients), unname(coef(lm(y ~ x, d))), tolerance = 1e-6)
})

test_that("a singular fit warns and is recorded (binomial)", {
  # Identical clusters: less between-cluster variation than binomial.
  d <- data.frame(y = rep(c(0, 1, 0, 1, 1, 0, 1, 1), 30), x = rep(1:8, 30),
                  g = factor(rep(1:30, each = 8)))
  expect_warning(f <- glmm(y ~ x + (1 | g), d, family = binomial), "singular")
  expect_true(f$singular)
  expect_gt(length(f$optinfo$warnings), 0L)
  # The fixed effects are then those of the GLM.
  expect_equal(unname(f$coefficients), unname(coef(glm(y ~ x, binomial, d))), tolerance = 1e-4)
})

test_that("failed convergence warns and is recorded, without a crash", {
  d <- bac_input()
  # Without the Hessian there is no Newton polish to rescue a truncated run.
  w <- capture_warnings(f <- glmm(y ~ trt + (1 | ID), d, family = binomial, nAGQ = 1,
                                  control = glmm_control(iter.max = 1, hessian = FALSE)))
  expect_true(any(grepl("the optimizer did not converge", w)))
  # The stalled search is restarted from the interior (verify_boundary()),
  # which may bring the gradient within tolerance; the iteration limit is
  # still named, with the advice to raise it.
  expect_true(any(grepl("iteration limit.*raise glmm_control", w)))
  expect_true(f$optinfo$boundary_check$stalled)
  expect_identical(w, f$optinfo$warnings)
  expect_s3_class(f, "glmmgee_glmm")
  expect_false(f$optinfo$convergence == 0L)
  expect_true(any(grepl("did not converge", f$optinfo$warnings)))
  expect_true(is.finite(f$loglik))
})



test_that("a one-level factor in any formula is an error naming the argument and the variable", {
  # Before: R's "contrasts can be applied only to factors with 2 or more levels".
  d <- ar1_poisson_like()
  d$one <- factor("a")
  d$half <- factor(ifelse(d$x > 0, "p", "n"))
  d$half[d$x < 0] <- NA
  d$ch <- "k"
  msg <- "has a single value \\(\"%s\"\\) in the rows used"
  expect_error(glmm(y ~ x + one + (1 | site), data = d, family = poisson),
               paste0("'formula': the variable 'one' ", sprintf(msg, "a")))
  expect_error(glmm(y ~ x + ch + (1 | site), data = d, family = poisson), "'formula': the variable 'ch'")
  expect_error(glmm(y ~ x + (one | site), data = d, family = poisson),
               "'formula': the variable 'one' in the random-effect term \\(one \\| site\\)")
  expect_error(glmm(y ~ x + ar1(one + 0 | site), data = d, family = poisson),
               "'one' in the random-effect term \\(one \\+ 0 \\| site\\)")
  # One level left after the removal of rows with NA, or after subset=.
  expect_error(glmm(y ~ x + half + (1 | site), data = d, family = poisson),
               paste0("'formula': the variable 'half' ", sprintf(msg, "p")))
  d$half2 <- factor(ifelse(d$x > 0, "p", "n"))
  expect_error(glmm(y ~ x + half2 + (1 | site), data = d, family = poisson, subset = x > 0.5),
               "'half2' has a single value \\(\"p\"\\)")
  expect_error(glmm(y ~ x + (1 | site), ziformula = ~ one, data = d, family = poisson),
               "'ziformula': the variable 'one'")
  expect_error(glmm(y ~ x + (1 | site), dispformula = ~ factor(one), data = d, family = nbinom2()),
               "'dispformula': the variable 'factor\\(one\\)'")
  expect_error(gee(y ~ x + one, id = site, data = d, family = poisson), "'formula': the variable 'one'")
  # A single group is not this error, and a two-level factor still fits.
  expect_error(glmm(y ~ x + (1 | one), data = d, family = poisson),
               "grouping factor 'one' has only 1 level")
  f <- glmm(y ~ x + half2 + (1 | site), data = d, family = poisson)
  expect_length(fixef(f), 3L)
})


test_that("a model without fixed effects is refused up front, naming 'formula'", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4", envir = environment())
  msg <- "'formula': the model has no fixed effects"
  expect_error(glmm(diameter ~ 0 + (1 | plate), Penicillin), msg)
  expect_error(glmm(diameter ~ 0 + (1 | plate) + (1 | sample), Penicillin), msg)
  expect_error(glmm(diameter ~ 0 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE), msg)
  expect_error(glmm(I(diameter > 23) ~ 0 + (1 | plate), Penicillin, family = binomial), msg)
  expect_error(glmm(I(diameter > 23) ~ -1 + (1 | plate) + (1 | sample), Penicillin,
                    family = binomial), msg)
  # the same model with an intercept is lmer's
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
  l <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l)), tolerance = 1e-7)
  # a covariate without an intercept is a fixed effect
  data(sleepstudy, package = "lme4", envir = environment())
  g <- glmm(Reaction ~ 0 + Days + (1 | Subject), sleepstudy)
  m <- lme4::lmer(Reaction ~ 0 + Days + (1 | Subject), sleepstudy, REML = FALSE)
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(m)), tolerance = 1e-7)
})

test_that("a grouping column that looks continuous is named in the warning", {
  collect <- function(expr) {
    w <- character()
    val <- withCallingHandlers(expr, warning = function(c) {
      w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning")
    })
    list(value = val, warnings = w)
  }
  set.seed(2)
  d <- data.frame(score = round(rnorm(200, 50, 10), 2), x = rnorm(200))
  d$y <- rbinom(200, 1, plogis(0.3 * d$x))
  nd <- length(unique(d$score))
  expect_gt(nd, 180L)
  r <- collect(glmm(y ~ x + (1 | score), d, family = binomial))
  msg <- sprintf("the grouping column 'score' is numeric with %d distinct values in 200 rows", nd)
  expect_true(any(grepl(msg, r$warnings, fixed = TRUE)), info = paste(r$warnings, collapse = "\n"))
  expect_true(any(grepl(msg, r$value$optinfo$warnings, fixed = TRUE)))
  # One message for it, not a second one about clusters of one observation
  expect_false(any(grepl("has one binary observation", r$warnings)))
  # Not for a cluster identifier: a factor, an integer id (clusters of one
  # observation keep their own warning), or a count model's observation-level effect
  d$f <- factor(d$score)
  r2 <- collect(glmm(y ~ x + (1 | f), d, family = binomial))
  expect_false(any(grepl("looks like a continuous", r2$warnings)))
  d$id <- seq_len(200)
  r3 <- collect(glmm(y ~ x + (1 | id), d, family = binomial))
  expect_false(any(grepl("looks like a continuous", r3$warnings)))
  expect_true(any(grepl("grouping factor 'id' has one binary observation", r3$warnings)))
  d$n <- rpois(200, 3)
  r4 <- collect(glmm(n ~ x + (1 | score), d, family = poisson))
  expect_false(any(grepl("looks like a continuous", r4$warnings)))
})
