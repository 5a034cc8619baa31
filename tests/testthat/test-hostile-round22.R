# Reproducers from hostile testing of the issue-15 families and model parts
# (round 22): each failed before its fix.

gamma_identity_data <- function() {
  set.seed(2)
  g <- rep(1:30, each = 8)
  x <- runif(240)
  mu <- 5 + 2 * x + rnorm(30, 0, 1)[g]
  data.frame(y = rgamma(240, shape = 4, rate = 4 / mu), x = x, g = g)
}

test_that("Gamma with the identity link: quadrature nodes with a mean <= 0 give Laplace, not an nlminb error", {
  # The default nAGQ (11) switched on at the Laplace optimum put nodes of
  # low clusters at a negative mean: NaN log-likelihood, and nlminb stopped
  # with "NA/NaN gradient evaluation".
  skip_if_not_installed("glmmTMB")
  d <- gamma_identity_data()
  expect_warning(f <- glmm(y ~ x + (1 | g), data = d, family = Gamma("identity")),
                 "outside the family's support.*fitted by Laplace")
  expect_identical(f$nAGQ, 1L)
  ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = Gamma("identity"))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(ref)), tolerance = 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-4)
  # Asked for explicitly, quadrature is refused with the reason and the advice.
  expect_error(glmm(y ~ x + (1 | g), data = d, family = Gamma("identity"), nAGQ = 11),
               "nAGQ = 11 puts nodes where the mean is outside.*nAGQ = 1")
})

test_that("predict(newdata =) of a two-part fit keeps the basis of ns() / poly() in ziformula and dispformula", {
  # The zero and dispersion parts' terms had no predvars: on new rows ns()
  # and poly() were recomputed from those rows, and the zero probabilities
  # came out silently different (0.099 instead of 0.131 on the first row).
  data(Owls, package = "glmmTMB")
  nd <- Owls[c(1, 5, 40, 300), ]
  f <- glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest),
            ziformula = ~ splines::ns(ArrivalTime, 2), data = Owls, family = poisson)
  for (type in c("response", "zprob", "zlink"))
    expect_equal(unname(predict(f, newdata = nd, type = type)),
                 unname(predict(f, type = type)[c(1, 5, 40, 300)]), tolerance = 1e-10,
                 info = type)
  data(sleepstudy, package = "lme4")
  g <- glmm(Reaction ~ Days + (1 | Subject), dispformula = ~ poly(Days, 2), data = sleepstudy)
  expect_equal(unname(predict(g, newdata = sleepstudy[c(2, 13, 30), ], type = "disp")),
               unname(predict(g, type = "disp")[c(2, 13, 30)]), tolerance = 1e-10)
})

test_that("REML with penalized says that the two do not combine, not that covariance structures need more factors", {
  data(sleepstudy, package = "lme4")
  expect_error(glmm(Reaction ~ Days + (1 | Subject), data = sleepstudy, penalized = TRUE, REML = TRUE),
               "'REML = TRUE' cannot be combined with 'penalized'")
})

test_that("aliased columns in ziformula or dispformula are reported against that formula", {
  # The message spoke of "the fixed-effects model matrix", sending the user
  # to the conditional formula, which was fine.
  data(Owls, package = "glmmTMB")
  O <- Owls
  O$F2 <- O$FoodTreatment
  expect_error(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), ziformula = ~ FoodTreatment + F2,
                    data = O, family = poisson),
               "'ziformula': the zero part's model matrix is rank deficient.*F2Satiated")
  expect_error(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), dispformula = ~ FoodTreatment + F2,
                    data = O, family = nbinom2()),
               "'dispformula': the dispersion model matrix is rank deficient.*F2Satiated")
  expect_error(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest) + (1 | SexParent),
                    ziformula = ~ FoodTreatment + F2, data = O, family = poisson),
               "'ziformula': the zero part's model matrix is rank deficient")
})

test_that("cumulative link mixed models: standard errors do not depend on a covariate's units or location", {
  # The Hessian was differenced on the user's scale with steps of 1e-5:
  # for x * 1e7 (coefficient ~1e-8) the standard error came out 38 times
  # too large with a gradient warning, for x + 1e4 there were none.
  data(wine, package = "ordinal")
  w <- wine
  set.seed(1)
  w$x <- rnorm(72)
  w$x7 <- w$x * 1e7
  w$x4 <- w$x + 1e4
  for (re in c("(1 | judge)", "(1 + contact | judge)")) {
    fit <- function(v) glmm(stats::as.formula(paste("rating ~", v, "+ temp +", re)), data = w,
                            family = cumulative)
    a <- fit("x")
    b <- expect_no_warning(fit("x7"))
    d <- expect_no_warning(fit("x4"))
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8, info = re)
    expect_equal(as.numeric(logLik(d)), as.numeric(logLik(a)), tolerance = 1e-8, info = re)
    se <- function(f) sqrt(diag(vcov(f)))[5:6]
    expect_equal(unname(se(b) * c(1e7, 1)), unname(se(a)), tolerance = 1e-5, info = re)
    expect_equal(unname(se(d)), unname(se(a)), tolerance = 1e-5, info = re)
  }
  # And the unscaled fit's agree with clmm's.
  skip_if_not_installed("ordinal")
  ref <- ordinal::clmm(rating ~ x + temp + (1 | judge), data = w)
  a <- glmm(rating ~ x + temp + (1 | judge), data = w, family = cumulative, nAGQ = 1)
  expect_equal(unname(sqrt(diag(vcov(a)))[5:6]), unname(sqrt(diag(vcov(ref)))[5:6]), tolerance = 1e-4)
})

test_that("a zero-inflated fit with a covariate in micro-units does not report doubtful convergence", {
  # The gradient test read the user's gradient (3.1 per micro-unit) at an
  # optimum equal to the unscaled fit's.
  data(Owls, package = "glmmTMB")
  O <- Owls
  O$AT <- O$ArrivalTime * 1e6
  a <- glmm(SiblingNegotiation ~ ArrivalTime + (1 | Nest), ziformula = ~ 1, data = O, family = poisson)
  b <- expect_no_warning(glmm(SiblingNegotiation ~ AT + (1 | Nest), ziformula = ~ 1, data = O,
                              family = poisson))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
})

test_that("cumulative link models with several random intercepts: a covariate's units do not change its standard error", {
  # The sparse route's Hessian was differenced on the user's design: with
  # x * 1e7 the standard error was 0.108 per 1e-7 instead of 0.0455
  # (clmm's), with no warning; with x + 1e4 there were none.
  skip_if_not_installed("ordinal")
  data(soup, package = "ordinal")
  s <- soup
  set.seed(1)
  s$x <- rnorm(nrow(s))
  s$x7 <- s$x * 1e7
  s$x4 <- s$x + 1e4
  a <- glmm(SURENESS ~ x + PROD + (1 | RESP) + (1 | RESP:PROD), data = s, family = cumulative)
  b <- glmm(SURENESS ~ x7 + PROD + (1 | RESP) + (1 | RESP:PROD), data = s, family = cumulative)
  # x + 1e4: no standard errors before ("not negative definite").
  d <- expect_no_warning(glmm(SURENESS ~ x4 + PROD + (1 | RESP) + (1 | RESP:PROD), data = s,
                              family = cumulative))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(as.numeric(logLik(d)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(sqrt(diag(vcov(b)))[6:7] * c(1e7, 1)), unname(sqrt(diag(vcov(a)))[6:7]),
               tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(d)))[6:7]), unname(sqrt(diag(vcov(a)))[6:7]), tolerance = 1e-5)
  ref <- ordinal::clmm(SURENESS ~ x + PROD + (1 | RESP) + (1 | RESP:PROD), data = s)
  expect_equal(unname(sqrt(diag(vcov(a)))[6:7]), unname(sqrt(diag(vcov(ref)))[6:7]), tolerance = 1e-4)
})

test_that("several random-effect terms: a covariate in units of 1e-7 does not report doubtful convergence", {
  data(Salamanders, package = "glmmTMB")
  S <- Salamanders
  set.seed(1)
  S$x <- rnorm(nrow(S))
  S$x7 <- S$x * 1e7
  a <- glmm(count ~ x + (1 | site) + (1 | spp), data = S, family = nbinom1())
  # Before: "doubtful convergence: largest absolute gradient 2.5e+02".
  b <- expect_no_warning(glmm(count ~ x7 + (1 | site) + (1 | spp), data = S, family = nbinom1()))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(sqrt(diag(vcov(b)))[2]) * 1e7, unname(sqrt(diag(vcov(a)))[2]), tolerance = 1e-5)
})

test_that("a beta-binomial fit to a binary response is refused: phi is not identified", {
  # Before: a fit with "doubtful convergence" and no standard errors.
  data(bacteria, package = "MASS")
  expect_error(glmm(y ~ trt + (1 | ID), data = bacteria, family = betabinomial()),
               "betabinomial\\(\\) with one trial per observation.*use binomial")
  expect_error(glmm(y ~ trt + (1 | ID) + (1 | week), data = bacteria, family = betabinomial()),
               "one trial per observation")
  # Trials given: fitted as before.
  data(cbpp, package = "lme4")
  expect_warning(f <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                           family = betabinomial()), "singular fit")
  expect_true(is.finite(logLik(f)))
})

ar1_poisson_like <- function() {
  set.seed(4)
  site <- rep(1:25, each = 6)
  u <- rnorm(25, 0, 0.5)[site]
  data.frame(y = rpois(150, exp(0.5 + u)), x = rnorm(150), site = factor(site),
             time = factor(rep(1:6, 25)), blk = factor(rep(1:5, 30)))
}

test_that("nbinom1 with ar1() on Poisson data: phi at its boundary 0 is verified and said, not doubtful convergence", {
  # Before: "doubtful convergence: scaled gradient 1.8" at phi = 7e-11, a
  # logLik equal to the Poisson fit's (glmmTMB: NA, non-positive-definite
  # Hessian). log(phi) -> -Inf is a boundary, like a zero standard deviation.
  d <- ar1_poisson_like()
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + ar1(time + 0 | site), data = d, family = nbinom1()),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("converge", w)))
  expect_true(any(grepl("dispersion phi is estimated at 0.*verified: restarts", w)))
  expect_true(f$optinfo$boundary_check$dispersion_at_zero)
  expect_true(f$optinfo$boundary_check$verified)
  expect_false(f$singular)
  p <- glmm(y ~ x + ar1(time + 0 | site), data = d, family = poisson)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(p)), tolerance = 1e-7)
  expect_equal(unname(fixef(f)), unname(fixef(p)), tolerance = 1e-4)
  # The several-term (sparse) route says the same.
  w <- character()
  g <- withCallingHandlers(glmm(y ~ x + ar1(time + 0 | site) + (1 | blk), data = d, family = nbinom1()),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("converge", w)))
  expect_true(g$optinfo$boundary_check$dispersion_at_zero)
  # Overdispersed counts: phi is interior, no such warning.
  set.seed(5)
  d$y2 <- rnbinom(150, mu = exp(1 + rnorm(25, 0, 0.5)[as.integer(d$site)]), size = 2)
  h <- glmm(y2 ~ x + ar1(time + 0 | site), data = d, family = nbinom1())
  expect_false(h$optinfo$boundary_check$dispersion_at_zero)
  expect_gt(h$family_par$estimate, 0.1)
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
