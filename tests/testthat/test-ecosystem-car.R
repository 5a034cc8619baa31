# car::Anova, linearHypothesis and deltaMethod on glmm and gee fits against
# the same calls on glmmTMB, lme4 and geepack fits and hand computations.

car_glmm_fit <- function() list(data = eco_cbpp(), fit = eco_glmm())

test_that("car::Anova on a glmm equals car::Anova on the glmmTMB and lme4 fits", {
  skip_if_not_installed("car")
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("lme4")
  cf <- car_glmm_fit()
  tm <- eco_glmmtmb()
  g <- eco_glmer()
  for (type in c("II", "III")) {
    ours <- car::Anova(cf$fit, type = type)
    expect_s3_class(ours, "anova")
    expect_named(ours, c("Chisq", "Df", "Pr(>Chisq)"))
    # glmmTMB's covariance is the exact Hessian of the same Laplace
    # likelihood, as ours.
    theirs <- car::Anova(tm, type = type)
    expect_equal(as.data.frame(ours), as.data.frame(theirs), tolerance = 1e-4, info = type)
    # lme4's own covariance comes from a finite-difference Hessian that
    # differs by ~1% (its standard errors are ~1% smaller here); with the
    # same covariance the tests are the same.
    theirs <- suppressMessages(car::Anova(g, type = type, vcov. = vcov(cf$fit)))
    expect_equal(as.data.frame(ours), as.data.frame(theirs), tolerance = 1e-5, info = type)
    expect_equal(as.data.frame(suppressMessages(car::Anova(g, type = type)))$Chisq,
                 ours$Chisq, tolerance = 0.05)
  }
  # By hand: the joint Wald test of the period coefficients.
  b <- fixef(cf$fit)[2:4]
  V <- vcov(cf$fit)[2:4, 2:4]
  expect_equal(car::Anova(cf$fit)["period", "Chisq"], drop(b %*% solve(V, b)))
  expect_equal(car::Anova(cf$fit)["period", "Chisq"], anova(cf$fit)["period", "Chisq"])
})

test_that("type II tests respect marginality as car does for glmmTMB (interaction)", {
  skip_if_not_installed("car")
  skip_if_not_installed("glmmTMB")
  data("sleepstudy", package = "lme4", envir = environment())
  sleepstudy$late <- sleepstudy$Days > 4
  fit <- glmm(Reaction ~ Days * late + (1 | Subject), data = sleepstudy)
  tm <- glmmTMB::glmmTMB(Reaction ~ Days * late + (1 | Subject), data = sleepstudy,
                         REML = FALSE)
  for (type in c("II", "III"))
    expect_equal(as.data.frame(car::Anova(fit, type = type)),
                 as.data.frame(car::Anova(tm, type = type)), tolerance = 1e-4, info = type)
})

test_that("car::Anova on a gee equals geepack's Wald tests between nested fits", {
  skip_if_not_installed("car")
  skip_if_not_installed("geepack")
  d <- ohio_data()
  d$smoke <- factor(d$smoke)
  d$agef <- factor(d$age)
  fit <- gee(resp ~ agef + smoke, data = shuffle_rows(d), id = id,
             family = binomial, corstr = "exchangeable")
  full <- geepack::geeglm(resp ~ agef + smoke, id = id, data = d,
                          family = binomial, corstr = "exchangeable",
                          control = geepack::geese.control(epsilon = 1e-12, maxit = 200))
  ours <- car::Anova(fit, type = "III")
  # geepack's anova() refits the models from their calls (with the model
  # frame as data), so the control is written out and waves are not used
  # (exchangeable needs no order).
  reduced <- list(
    agef = geepack::geeglm(resp ~ smoke, id = id, data = d, family = binomial,
                           corstr = "exchangeable",
                           control = geepack::geese.control(epsilon = 1e-12, maxit = 200)),
    smoke = geepack::geeglm(resp ~ agef, id = id, data = d, family = binomial,
                            corstr = "exchangeable",
                            control = geepack::geese.control(epsilon = 1e-12, maxit = 200)))
  for (term in c("agef", "smoke")) {
    w <- anova(full, reduced[[term]])
    expect_equal(ours[term, "Chisq"], w$X2[1], tolerance = 1e-5, info = term)
    expect_equal(ours[term, "Df"], w$Df[1], info = term)
  }
  # Type II equals type III without interactions; another variance type.
  expect_equal(car::Anova(fit)[, "Chisq"], ours[-1, "Chisq"])
  md <- car::Anova(fit, vcov. = vcov(fit, type = "model"))
  b <- coef(fit)[grep("agef", names(coef(fit)))]
  V <- vcov(fit, type = "model")[names(b), names(b)]
  expect_equal(md["agef", "Chisq"], drop(b %*% solve(V, b)))
})

test_that("car::linearHypothesis on a glmm equals hand computation and lme4's", {
  skip_if_not_installed("car")
  skip_if_not_installed("lme4")
  cf <- car_glmm_fit()
  g <- eco_glmer()
  h <- c("period2 = period3", "period4 = 0")
  ours <- car::linearHypothesis(cf$fit, h)
  L <- rbind(c(0, 1, -1, 0), c(0, 0, 0, 1))
  est <- L %*% fixef(cf$fit)
  stat <- drop(t(est) %*% solve(L %*% vcov(cf$fit) %*% t(L), est))
  expect_equal(ours$Chisq[2], stat)
  expect_equal(ours$Df[2], 2)
  theirs <- car::linearHypothesis(g, h, vcov. = vcov(cf$fit))
  expect_equal(ours$Chisq[2], theirs$Chisq[2], tolerance = 1e-5)
  expect_error(car::linearHypothesis(cf$fit, h, vcov. = diag(2)), "'vcov.' must be a 4 x 4")
  expect_error(car::linearHypothesis(cf$fit, h, test = "F"), "'test' = \"F\" is not available")
  expect_error(car::Anova(cf$fit, test.statistic = "F"), "'test.statistic' = \"F\"")
})

test_that("car::deltaMethod on glmm and gee fits equals the delta method by hand", {
  skip_if_not_installed("car")
  cf <- car_glmm_fit()
  dm <- car::deltaMethod(cf$fit, "exp(period2) / exp(period3)")
  b <- fixef(cf$fit)
  est <- exp(b[["period2"]] - b[["period3"]])
  grad <- c(0, est, -est, 0)
  expect_equal(dm$Estimate, est)
  expect_equal(dm$SE, sqrt(drop(grad %*% vcov(cf$fit) %*% grad)))
  data("bacteria", package = "MASS", envir = environment())
  pa <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID, family = binomial,
            corstr = "exchangeable")
  dm <- car::deltaMethod(pa, "exp(trtdrug)")
  expect_equal(dm$SE, exp(coef(pa)[["trtdrug"]]) * sqrt(vcov(pa)["trtdrug", "trtdrug"]))
  # parameterNames renames the coefficients for g., as car's lm/glm methods do.
  nm <- paste0("b", 0:3)
  dm2 <- car::deltaMethod(cf$fit, "exp(b1) / exp(b2)", parameterNames = nm)
  expect_equal(dm2$Estimate, est)
  expect_equal(dm2$SE, sqrt(drop(grad %*% vcov(cf$fit) %*% grad)))
  dm3 <- car::deltaMethod(pa, "exp(b1)", parameterNames = nm)
  expect_equal(dm3$SE, dm$SE)
  expect_error(car::deltaMethod(pa, "exp(b1)", parameterNames = "b0"), "'parameterNames'")
})

# Cumulative link fits: coef() is thresholds then coefficients, so a
# default method reading it tested the thresholds under the covariates'
# names (chi-square 5.66 for temp on wine, where the Wald test is 26.5).
test_that("car::Anova on cumulative link fits tests the covariates, not the thresholds", {
  skip_if_not_installed("car")
  skip_if_not_installed("ordinal")
  fits <- kinds_fits()
  for (nm in c("ordinal", "ordinal_gee")) {
    fit <- fits[[nm]]
    b <- fit$coefficients
    V <- vcov(fit)[names(b), names(b)]
    for (type in c("II", "III")) {
      tab <- car::Anova(fit, type = type)
      expect_identical(rownames(tab), c("temp", "contact"), label = nm)
      for (t in c("temp", "contact")) {
        j <- grep(t, names(b))
        expect_equal(tab[t, "Chisq"], drop(b[j] %*% solve(V[j, j], b[j])), label = paste(nm, t))
      }
    }
    lh <- car::linearHypothesis(fit, "tempwarm = 0")
    expect_equal(lh[2, "Chisq"], car::Anova(fit)["temp", "Chisq"])
    expect_equal(car::deltaMethod(fit, "exp(tempwarm)")$Estimate, exp(unname(b["tempwarm"])))
    # vcov. over all parameters or over the coefficients alone
    expect_equal(car::Anova(fit, vcov. = vcov(fit))$Chisq, car::Anova(fit, vcov. = V)$Chisq)
    expect_error(car::Anova(fit, vcov. = diag(3)), "thresholds and")
  }
  # The peer: ordinal::clmm's Wald statistic from its own coefficients and
  # covariance (car::Anova() on a clmm fails, and on a clm it reads the
  # thresholds as ours did). Same model, both by quadrature.
  mm <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = kinds_wine(), nAGQ = 5)
  j <- "tempwarm"
  peer <- unname(mm$beta[j]^2 / vcov(mm)[j, j])
  ours <- car::Anova(fits$ordinal)["temp", "Chisq"]
  expect_equal(ours, peer, tolerance = 2e-3)   # 26.5 by both; 5.66 before
  expect_gt(ours, 20)
})

test_that("multcomp and lmtest on cumulative link fits read the coefficients by name", {
  skip_if_not_installed("multcomp")
  skip_if_not_installed("lmtest")
  skip_if_not_installed("ordinal")
  fits <- kinds_fits()
  for (nm in c("ordinal", "ordinal_gee")) {
    fit <- fits[[nm]]
    b <- fit$coefficients
    se <- sqrt(diag(vcov(fit)))
    g <- summary(multcomp::glht(fit, multcomp::mcp(temp = "Tukey")))
    expect_equal(unname(g$test$coefficients), unname(b["tempwarm"]), label = nm)
    expect_equal(unname(g$test$sigma), unname(se["tempwarm"]), label = nm)
    ct <- lmtest::coeftest(fit)
    expect_identical(rownames(ct), names(c(fit$thresholds, b)))
    expect_equal(ct[, "Std. Error"], se[rownames(ct)])
    expect_equal(unname(lmtest::coefci(fit)["tempwarm", 1]),
                 unname(b["tempwarm"] - stats::qnorm(0.975) * se["tempwarm"]))
  }
})
