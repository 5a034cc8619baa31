# confint() and profile() for glmm fits against lme4's and glmmTMB's
# intervals on the same models and approximations.

cbpp_fits <- function() list(data = eco_cbpp(), ours = eco_glmm())

test_that("Wald intervals equal glmmTMB's for fixed effects and standard deviations", {
  skip_if_not_installed("glmmTMB")
  cf <- cbpp_fits()
  tm <- eco_glmmtmb()
  ours <- confint(cf$ours)
  theirs <- confint(tm, method = "wald")
  expect_equal(unname(ours[1:4, ]), unname(theirs[1:4, 1:2]), tolerance = 1e-4)
  # glmmTMB's Wald interval of a standard deviation is on the log scale too.
  expect_equal(unname(ours["sd_(Intercept)|herd", ]),
               unname(theirs[grep("Std.Dev", rownames(theirs)), 1:2]), tolerance = 1e-3)
  # Hand computation from vcov().
  se <- sqrt(diag(vcov(cf$ours)))
  z <- qnorm(0.95)
  expect_equal(confint(cf$ours, parm = "beta_", level = 0.9)[, 1], fixef(cf$ours) - z * se)
})

test_that("profile intervals equal lme4's (binomial, Laplace)", {
  skip_if_not_installed("lme4")
  cf <- cbpp_fits()
  g <- eco_glmer()
  ours <- confint(cf$ours, method = "profile")
  theirs <- suppressMessages(confint(g, method = "profile", oldNames = FALSE))
  expect_setequal(rownames(ours), rownames(theirs))
  expect_equal(ours[rownames(theirs), ], theirs, tolerance = 5e-4)
})

test_that("profile intervals equal glmmTMB's profile intervals", {
  skip_if_not_installed("glmmTMB")
  cf <- cbpp_fits()
  tm <- eco_glmmtmb()
  theirs <- confint(tm, method = "profile")
  ours <- confint(cf$ours, method = "profile")
  expect_equal(unname(ours[1:4, ]), unname(theirs[1:4, 1:2]), tolerance = 5e-4)
  # glmmTMB profiles the log standard deviation.
  expect_equal(unname(log(ours[5, ])), unname(theirs[5, 1:2]), tolerance = 2e-3)
})

test_that("profile intervals equal glmmTMB's for poisson (with an offset) and negative binomial GLMMs", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("MASS")
  data("epil", package = "MASS", envir = environment())
  epil$expo <- rep_len(c(1, 2, 3), nrow(epil))
  fit <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson, nAGQ = 1,
              offset = log(expo))
  tm <- glmmTMB::glmmTMB(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
                         offset = log(expo))
  ours <- confint(fit, method = "profile")
  theirs <- confint(tm, method = "profile")
  expect_equal(unname(ours[1:3, ]), unname(theirs[1:3, 1:2]), tolerance = 1e-3)
  expect_equal(unname(log(ours[4, ])), unname(theirs[4, 1:2]), tolerance = 1e-3)
  # Negative binomial: theta is profiled out with the other parameters.
  fit <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = nbinom2(), nAGQ = 1)
  tm <- glmmTMB::glmmTMB(y ~ trt + lbase + (1 | subject), data = epil,
                         family = glmmTMB::nbinom2())
  ours <- confint(fit, method = "profile")
  theirs <- confint(tm, method = "profile")
  expect_equal(unname(ours[1:3, ]), unname(theirs[1:3, 1:2]), tolerance = 1e-3)
  expect_equal(unname(log(ours[4, ])), unname(theirs[4, 1:2]), tolerance = 1e-3)
})

test_that("profile intervals equal lme4's for a correlated random slope, correlation included (ML)", {
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4", envir = environment())
  fit <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
  m <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
  ours <- confint(fit, method = "profile")
  theirs <- suppressMessages(confint(m, method = "profile", oldNames = FALSE))
  expect_setequal(rownames(ours), rownames(theirs))
  expect_equal(ours[rownames(theirs), ], theirs, tolerance = 5e-4)
  # Wald interval of the correlation: on Fisher's z scale.
  w <- confint(fit, parm = "cor_Days.(Intercept)|Subject")
  rho <- attr(VarCorr(fit)$Subject, "correlation")[2, 1]
  expect_true(w[1] > -1 && w[2] < 1 && w[1] < rho && w[2] > rho)
  expect_equal(atanh(rho) - atanh(w[1]), atanh(w[2]) - atanh(rho))
})

test_that("profile intervals equal lme4's for crossed random effects (sparse engine)", {
  skip_if_not_installed("lme4")
  data("Penicillin", package = "lme4", envir = environment())
  fit <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)
  expect_s3_class(fit, "glmmgee_glmm_sparse")
  m <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = FALSE)
  ours <- confint(fit, method = "profile", level = 0.9)
  theirs <- suppressMessages(confint(m, method = "profile", oldNames = FALSE, level = 0.9))
  expect_equal(ours[rownames(theirs), ], theirs, tolerance = 5e-4)
})

test_that("at a profile limit the likelihood-ratio statistic is the chi-square quantile", {
  # An independent check of the profile: fix the coefficient at the
  # reported limit through an offset, refit with glmm(), and compare
  # 2 (logLik - restricted logLik) with qchisq(0.95, 1).
  d <- eco_cbpp()
  d$p2 <- as.numeric(d$period == "2")
  d$p3 <- as.numeric(d$period == "3")
  d$p4 <- as.numeric(d$period == "4")
  fit <- eco_glmm()
  ci <- confint(fit, parm = "period2", method = "profile")
  # One profile refined at two levels.
  pr <- profile(fit, which = "period2", refine = c(0.9, 0.95))
  expect_equal(confint(pr, level = 0.95), ci)
  limits <- rbind(cbind(ci, level = 0.95), cbind(confint(pr, level = 0.9), level = 0.9))
  for (r in seq_len(nrow(limits))) for (lim in limits[r, 1:2]) {
    d$fixed <- lim * d$p2
    restricted <- glmm(cbind(incidence, size - incidence) ~ p3 + p4 + offset(fixed) + (1 | herd),
                       data = d, family = binomial, nAGQ = 1)
    lr <- 2 * (as.numeric(logLik(fit)) - as.numeric(logLik(restricted)))
    expect_equal(lr, qchisq(limits[r, "level"], 1), tolerance = 1e-6)
  }
})

test_that("a singular variance has a profile lower limit of 0 and no Wald interval", {
  set.seed(3)
  d <- data.frame(g = factor(rep(1:20, each = 5)), x = rnorm(100))
  d$y <- rbinom(100, 1, plogis(0.3 * d$x))
  fit <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 1))
  skip_if_not(isTRUE(fit$singular))
  # NA with a warning naming the parameter and the profile, not a silent NA.
  expect_warning(w <- confint(fit), "no Wald interval for 'sd_\\(Intercept\\)\\|g'.*method = \"profile\"")
  expect_true(all(is.na(w["sd_(Intercept)|g", ])))
  expect_true(all(is.finite(w["x", ])))
  ci <- confint(fit, parm = "sd_(Intercept)|g", method = "profile")
  expect_equal(ci[1, 1], 0)
  expect_gt(ci[1, 2], 0)
})

test_that("a correlation whose variance is at zero is named as such, not as a correlation at -1 or 1", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4", envir = environment())
  ss <- sleepstudy
  ss$grp <- factor(as.integer(ss$Subject) %% 4)
  set.seed(1)
  ss$z <- rnorm(nrow(ss))
  fit <- suppressWarnings(glmm(Reaction ~ Days + diag(1 + Days | Subject) + us(1 + z | grp), data = ss))
  skip_if_not(isTRUE(fit$singular))
  w <- character()
  ci <- withCallingHandlers(confint(fit), warning = function(c) {
    w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  cor_row <- grep("^cor_z", rownames(ci), value = TRUE)
  expect_length(cor_row, 1L)
  expect_true(all(is.na(ci[cor_row, ])))
  named <- regmatches(w, regexpr(sprintf("'%s' \\(estimate [^)]*\\)", gsub("([.()|])", "\\\\\\1", cor_row)), w))
  expect_length(named, 1L)
  expect_match(named, "a correlation of a term whose variance is at zero")
  expect_false(grepl("correlation at -1 or 1", named))
})

test_that("a dispersion formula's standard deviation at zero: NA Wald limits with a warning, as the mean's", {
  d <- location_scale_data(m = 30, k = 8, family = "nbinom2", sv = 0, seed = 3)
  fit <- suppressWarnings(glmm(y ~ x + (1 | g), dispformula = ~ 1 + (1 | g), family = nbinom2,
                               data = d, nAGQ = 1))
  expect_true(fit$singular)
  # (the estimate is next to zero, not at it: the fit leaves its standard
  # error out, as on every boundary)
  expect_warning(w <- confint(fit), "no Wald interval for 'sd_disp\\.\\(Intercept\\)\\|g'.*boundary.*method = \"profile\"")
  expect_true(all(is.na(w["sd_disp.(Intercept)|g", ])))
  expect_true(all(is.finite(w[rownames(w) != "sd_disp.(Intercept)|g", ])))
  expect_no_warning(confint(fit, parm = c("x", "disp.(Intercept)")))
  ci <- confint(fit, parm = "sd_disp.(Intercept)|g", method = "profile")
  expect_equal(ci[1, 1], 0)
  expect_gt(ci[1, 2], 0)
})

test_that("a correlation whose profile stays inside the level up to 1 has upper limit 1", {
  set.seed(1)
  M <- 12; n <- 6
  g <- rep(seq_len(M), each = n)
  x <- rep(0:(n - 1), M)
  b <- matrix(rnorm(2 * M), M) %*% chol(matrix(c(1, 0.97, 0.97, 1), 2))
  d <- data.frame(y = 1 + 0.5 * x + b[g, 1] + b[g, 2] * x + rnorm(M * n, 0, 0.5), x = x,
                  g = factor(g))
  fit <- glmm(y ~ x + (x | g), data = d)
  pr <- profile(fit, which = "cor_x.(Intercept)|g")
  d1 <- as.data.frame(pr)
  expect_equal(max(d1$value), 1)
  expect_lt(max(d1$zeta), qnorm(0.975))
  ci <- confint(pr)
  expect_equal(ci[1, 2], 1)
  expect_lt(ci[1, 1], attr(VarCorr(fit)$g, "correlation")[2, 1])
})

test_that("the profile is linear in zeta for a gaussian fixed effect and has methods", {
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4", envir = environment())
  fit <- glmm(Reaction ~ Days + (1 | Subject), data = sleepstudy)
  pr <- profile(fit, which = c("Days", "sigma"))
  expect_s3_class(pr, "glmmgee_profile")
  d <- as.data.frame(pr)
  expect_named(d, c("parameter", "value", "zeta"))
  dd <- d[d$parameter == "Days", ]
  expect_gte(nrow(dd), 5L)
  expect_true(all(diff(dd$zeta) > 0))
  expect_gte(max(dd$zeta), qnorm(0.995))
  expect_lte(min(dd$zeta), -qnorm(0.995))
  # zeta at the 95% profile limits is +-1.96 by construction; check the
  # interpolation against a direct refit at the limit by lme4.
  m <- lme4::lmer(Reaction ~ Days + (1 | Subject), sleepstudy, REML = FALSE)
  ci_l <- suppressMessages(confint(m, parm = "Days", method = "profile"))
  expect_equal(unname(confint(pr, parm = "Days")), unname(ci_l), tolerance = 1e-4)
  pdf(NULL)
  on.exit(dev.off())
  expect_identical(plot(pr), pr)
})

test_that("confint() and profile() reject bad arguments with clear errors", {
  cf <- cbpp_fits()
  expect_error(confint(cf$ours, parm = "bogus"), "'parm'.*bogus.*not among")
  expect_error(confint(cf$ours, parm = 9), "'parm'.*between 1 and 5")
  expect_error(confint(cf$ours, level = 1.2), "'level' must be one number between 0 and 1")
  expect_error(confint(cf$ours, level = c(0.9, 0.95)), "'level'")
  expect_error(confint(cf$ours, method = "bogus"), "'arg' should be one of")
  expect_error(profile(cf$ours, alpha = 2), "'alpha'")
  expect_error(profile(cf$ours, which = "nope"), "'which'.*nope")
  pr <- profile(cf$ours, which = "period2", alpha = 0.1)
  expect_error(confint(pr, level = 0.95), "'level' = 0.95 needs a profile with alpha <= 0.05")
})
