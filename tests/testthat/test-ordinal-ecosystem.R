# The ecosystem of the cumulative link fits: broom's tidy()/glance() and
# emmeans for the mixed models (checked against ordinal::clmm through broom
# and emmeans) and the ordinal GEE, and anova()/QIC() of the ordinal GEE
# (checked against the binomial GEE on a binary response, where the two
# models are the same, and against geepack::ordgee).

skip_if_not_installed("ordinal")

ordtidy_wine <- function() ordinal::wine

# emmeans' summary of `spec` in `mode` for our fit and the reference fit.
ordtidy_emm <- function(ours, ref, spec, mode, ...) {
  a <- as.data.frame(summary(emmeans::emmeans(ours, spec, mode = mode, ...)))
  b <- as.data.frame(summary(emmeans::emmeans(ref, spec, mode = mode)))
  list(ours = a, ref = b)
}

test_that("wine, one random intercept: tidy() and glance() as broom's for the same clmm", {
  skip_if_not_installed("broom")
  wine <- ordtidy_wine()
  fit <- glmm(rating ~ temp + contact + (1 | judge), data = wine, family = cumulative("logit"))
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = wine)
  ours <- tidy(fit, conf.int = TRUE)
  theirs <- as.data.frame(broom::tidy(ref, conf.int = TRUE))
  fx <- ours[ours$effect == "fixed", ]
  expect_identical(fx$term, theirs$term)
  expect_identical(fx$coef.type, theirs$coef.type)
  expect_equal(fx$estimate, theirs$estimate, tolerance = 2e-4)
  expect_equal(fx$std.error, theirs$std.error, tolerance = 1e-3)
  expect_equal(fx$statistic, theirs$statistic, tolerance = 1e-3)
  expect_equal(fx$conf.low, theirs$conf.low, tolerance = 1e-3)
  expect_equal(fx$conf.high, theirs$conf.high, tolerance = 1e-3)
  rp <- ours[ours$effect == "ran_pars", ]
  expect_identical(rp$group, "judge")
  expect_identical(rp$term, "sd__(Intercept)")
  expect_true(is.na(rp$coef.type))
  expect_equal(rp$estimate, unname(ref$ST[[1]][1, 1]), tolerance = 2e-4)
  # The interval is confint()'s (Wald on log sigma), the SE its delta method.
  expect_equal(c(rp$conf.low, rp$conf.high), unname(confint(fit)["sigma", ]))
  expect_equal(rp$std.error, fit$sigma_re * sqrt(fit$cov_psi[7, 7]))
  # exponentiate: thresholds and coefficients, limits exponentiated as broom does.
  ex <- tidy(fit, effects = "fixed", exponentiate = TRUE, conf.int = TRUE)
  tex <- as.data.frame(broom::tidy(ref, exponentiate = TRUE, conf.int = TRUE))
  expect_equal(ex$estimate, tex$estimate, tolerance = 5e-4)
  expect_equal(ex$conf.low, tex$conf.low, tolerance = 2e-3)
  expect_equal(ex$conf.high, tex$conf.high, tolerance = 2e-3)
  expect_equal(ex$std.error, ex$estimate * fx$std.error)
  # conf.method and scales other than what tidy() reports are errors (they
  # were swallowed: Wald limits and SDs under "profile" and "vcov").
  expect_error(tidy(fit, conf.int = TRUE, conf.method = "profile"), "'conf.method'")
  expect_error(tidy(fit, scales = "vcov"), "'scales'")
  expect_identical(tidy(fit, scales = "sdcor"), tidy(fit))
  gl <- glance(fit)
  gr <- broom::glance(ref)
  expect_identical(gl$nobs, as.integer(gr$nobs))
  expect_equal(gl$logLik, as.numeric(gr$logLik), tolerance = 1e-7)
  expect_equal(gl$AIC, gr$AIC, tolerance = 1e-7)
  expect_equal(gl$BIC, gr$BIC, tolerance = 1e-7)
  expect_identical(gl$df.residual, 72L - 7L)
  # ran_vals: the modes and their conditional SDs, as ranef(condVar = TRUE).
  rv <- tidy(fit, effects = "ran_vals")
  re <- ranef(fit, condVar = TRUE)$judge
  expect_identical(rv$level, rownames(re))
  expect_equal(rv$estimate, re[[1]])
  expect_equal(rv$std.error, sqrt(unname(attr(re, "condVar"))))
  expect_equal(rv$estimate, unname(ordinal::ranef(ref)$judge[[1]]), tolerance = 1e-3)
})

test_that("wine, one random intercept: emmeans' modes as for the same clmm (b = 0)", {
  skip_if_not_installed("emmeans")
  wine <- ordtidy_wine()
  fit <- glmm(rating ~ temp + contact + (1 | judge), data = wine, family = cumulative("logit"))
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = wine)
  for (mode in c("latent", "linear.predictor", "cum.prob", "exc.prob", "prob", "mean.class")) {
    spec <- if (mode == "prob") ~ rating | temp else ~ temp | contact
    r <- ordtidy_emm(fit, ref, spec, mode)
    est <- intersect(c("emmean", "cumprob", "exc.prob", "prob", "mean.class"), names(r$ref))
    expect_identical(names(r$ours), names(r$ref), info = mode)
    expect_identical(nrow(r$ours), nrow(r$ref), info = mode)
    expect_equal(r$ours[[est]], r$ref[[est]], tolerance = 2e-4, info = mode)
    expect_equal(r$ours$SE, r$ref$SE, tolerance = 1e-3, info = mode)
  }
  # The thresholds by name, as clmm's: linear.predictor by cut.
  lp <- as.data.frame(summary(emmeans::emmeans(fit, ~ cut | temp, mode = "linear.predictor")))
  expect_identical(levels(lp$cut), c("1|2", "2|3", "3|4", "4|5"))
  # mode = "prob" sums to one over the categories.
  pr <- as.data.frame(summary(emmeans::emmeans(fit, ~ rating | temp + contact, mode = "prob")))
  expect_equal(as.vector(tapply(pr$prob, paste(pr$temp, pr$contact), sum)), rep(1, 4))
  expect_error(emmeans::emmeans(fit, ~ temp, mode = "odds"), "'mode' must be one of")
})

test_that("wine, random slopes: sd and correlation rows as clmm's VarCorr (broom.mixed's names)", {
  wine <- ordtidy_wine()
  fit <- glmm(rating ~ temp + contact + (1 + temp | judge), data = wine, family = cumulative("logit"))
  ref <- ordinal::clmm(rating ~ temp + contact + (1 + temp | judge), data = wine)
  expect_s3_class(fit, "glmmgee_glmm_ordinal_re")
  td <- tidy(fit, conf.int = TRUE)
  rp <- td[td$effect == "ran_pars", ]
  expect_identical(rp$term, c("sd__(Intercept)", "cor__(Intercept).tempwarm", "sd__tempwarm"))
  vc <- ordinal::VarCorr(ref)$judge
  sds <- attr(vc, "stddev")
  expect_equal(rp$estimate, unname(c(sds[1], attr(vc, "correlation")[2, 1], sds[2])),
               tolerance = 5e-3)
  # Against the fit's own covariance (exactly: the same parameters).
  S <- fit$re_cov
  expect_equal(rp$estimate, c(sqrt(S[1, 1]), S[2, 1] / sqrt(S[1, 1] * S[2, 2]), sqrt(S[2, 2])))
  # (The slope's variance is barely identified here: its log-Cholesky
  # parameter has an SE of about 34, so the correlation's Wald interval on
  # the Fisher-z scale is all of (-1, 1); the limits stay in range.)
  expect_true(all(rp$conf.low <= rp$estimate & rp$estimate <= rp$conf.high))
  expect_true(rp$conf.low[2] >= -1 && rp$conf.high[2] <= 1)
  expect_true(all(rp$conf.low[c(1, 3)] > 0))
  fx <- td[td$effect == "fixed", ]
  expect_equal(fx$estimate, unname(coef(ref)), tolerance = 2e-3)
  # ran_vals: each term's modes with the diagonal of the q x q condVar.
  rv <- tidy(fit, effects = "ran_vals")
  re <- ranef(fit, condVar = TRUE)$judge
  cv <- attr(re, "condVar")
  expect_identical(rv$term, rep(c("(Intercept)", "tempwarm"), each = 9))
  expect_equal(rv$estimate, c(re[[1]], re[[2]]))
  expect_equal(rv$std.error, unname(sqrt(c(cv[1, 1, ], cv[2, 2, ]))))
  expect_equal(glance(fit)$logLik, as.numeric(logLik(ref)), tolerance = 1e-6)
})

test_that("soup, two random intercepts (sparse engine): tidy(), glance() and emmeans as for clmm", {
  skip_if_not_installed("broom")
  skip_if_not_installed("emmeans")
  soup <- ordinal::soup
  fit <- glmm(SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), data = soup,
              family = cumulative("logit"))
  ref <- ordinal::clmm(SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), data = soup)
  expect_s3_class(fit, "glmmgee_glmm_ordinal_sparse")
  td <- tidy(fit, conf.int = TRUE)
  theirs <- as.data.frame(broom::tidy(ref))
  fx <- td[td$effect == "fixed", ]
  expect_identical(fx$term, theirs$term)
  expect_identical(fx$coef.type, theirs$coef.type)
  expect_equal(fx$estimate, theirs$estimate, tolerance = 2e-4)
  expect_equal(fx$std.error, theirs$std.error, tolerance = 1e-3)
  rp <- td[td$effect == "ran_pars", ]
  expect_identical(rp$group, c("RESP", "RESP:PROD"))
  expect_identical(rp$term, rep("sd__(Intercept)", 2))
  ref_sd <- vapply(ordinal::VarCorr(ref), function(v) attr(v, "stddev")[[1]], 1)
  expect_equal(rp$estimate, unname(ref_sd[rp$group]), tolerance = 2e-4)
  # Wald limits on the log-SD scale: confint()'s.
  ci <- confint(fit)
  expect_equal(rp$conf.low, unname(ci[c("RESP.(Intercept)", "RESP:PROD.(Intercept)"), 1]))
  expect_equal(rp$conf.high, unname(ci[c("RESP.(Intercept)", "RESP:PROD.(Intercept)"), 2]))
  gl <- glance(fit)
  expect_equal(gl$logLik, as.numeric(logLik(ref)), tolerance = 1e-7)
  expect_equal(gl$BIC, BIC(ref), tolerance = 1e-7)
  for (mode in c("cum.prob", "mean.class")) {
    r <- ordtidy_emm(fit, ref, ~ PROD, mode)
    est <- if (mode == "cum.prob") "cumprob" else "mean.class"
    expect_equal(r$ours[[est]], r$ref[[est]], tolerance = 2e-4, info = mode)
    expect_equal(r$ours$SE, r$ref$SE, tolerance = 1e-3, info = mode)
  }
  rv <- tidy(fit, effects = "ran_vals")
  expect_identical(unique(rv$group), c("RESP", "RESP:PROD"))
  expect_identical(nrow(rv), nlevels(soup$RESP) + nlevels(interaction(soup$RESP, soup$PROD, drop = TRUE)))
})

test_that("ordinal GEE: tidy() terms as broom's clm, estimates clm's, robust SEs; glance() with QIC", {
  skip_if_not_installed("broom")
  wine <- ordtidy_wine()
  g <- gee(rating ~ temp + contact, data = wine, id = judge, family = cumulative("logit"))
  ref <- ordinal::clm(rating ~ temp + contact, data = wine)
  td <- tidy(g, conf.int = TRUE)
  theirs <- as.data.frame(broom::tidy(ref))
  expect_identical(td$term, theirs$term)
  expect_identical(td$coef.type, theirs$coef.type)
  expect_equal(td$estimate, theirs$estimate, tolerance = 1e-6)
  se <- unname(sqrt(diag(vcov(g))))
  expect_equal(td$std.error, se)
  expect_equal(td$statistic, td$estimate / se)
  expect_equal(td$conf.low, unname(confint(g)[, 1]))
  nv <- tidy(g, std.err = "naive")
  expect_equal(nv$std.error, unname(sqrt(diag(vcov(g, type = "naive")))))
  expect_error(tidy(g, std.err = "san.se"), "'std.err' must be one of")
  gl <- glance(g)
  expect_identical(gl$n.clusters, 9L)
  expect_identical(gl$max.cluster.size, 8L)
  # Independence: the quasi-likelihood is clm's log-likelihood at the same estimates.
  expect_equal(gl$QuasiLik, as.numeric(logLik(ref)), tolerance = 1e-8)
  expect_equal(gl$QICu, -2 * gl$QuasiLik + 2 * 6)
})

test_that("ordinal GEE: emmeans' modes as for clm (its estimates), with the robust covariance", {
  skip_if_not_installed("emmeans")
  wine <- ordtidy_wine()
  g <- gee(rating ~ temp + contact, data = wine, id = judge, family = cumulative("logit"))
  ref <- ordinal::clm(rating ~ temp + contact, data = wine)
  for (mode in c("latent", "linear.predictor", "cum.prob", "exc.prob", "prob", "mean.class")) {
    spec <- if (mode == "prob") ~ rating | temp else ~ temp | contact
    # With clm's covariance the whole basis is checked (same estimates).
    r <- ordtidy_emm(g, ref, spec, mode, vcov. = vcov(ref))
    est <- intersect(c("emmean", "cumprob", "exc.prob", "prob", "mean.class"), names(r$ref))
    expect_identical(names(r$ours), names(r$ref), info = mode)
    expect_equal(r$ours[[est]], r$ref[[est]], tolerance = 1e-6, info = mode)
    expect_equal(r$ours$SE, r$ref$SE, tolerance = 1e-6, info = mode)
  }
  # By default the robust covariance; std.err = "naive" the model-based one.
  rob <- as.data.frame(summary(emmeans::emmeans(g, ~ temp, mode = "mean.class")))
  viarob <- as.data.frame(summary(emmeans::emmeans(g, ~ temp, mode = "mean.class",
                                                   vcov. = vcov(g))))
  nai <- as.data.frame(summary(emmeans::emmeans(g, ~ temp, mode = "mean.class", std.err = "naive")))
  vianai <- as.data.frame(summary(emmeans::emmeans(g, ~ temp, mode = "mean.class",
                                                   vcov. = vcov(g, type = "naive"))))
  expect_equal(rob$SE, viarob$SE)
  expect_equal(nai$SE, vianai$SE)
  expect_false(isTRUE(all.equal(rob$SE, nai$SE)))
  expect_error(emmeans::emmeans(g, ~ temp, std.err = "md"), "'std.err' must be one of")
})

test_that("ordinal GEE on a binary response: anova() and QIC() as the binomial GEE's (same model)", {
  skip_if_not_installed("geepack")
  d <- ohio_data()
  d$r <- factor(d$resp)
  # P(Y <= 0) = F(theta - x'b) is P(Y = 1) = F(x'b - theta): the same
  # coefficients, and the same estimating functions under independence.
  o1 <- gee(r ~ age * smoke, data = d, id = id, family = cumulative("logit"))
  b1 <- gee(resp ~ age * smoke, data = d, id = id, family = binomial)
  o0 <- gee(r ~ age, data = d, id = id, family = cumulative("logit"))
  b0 <- gee(resp ~ age, data = d, id = id, family = binomial)
  expect_equal(unname(o1$coefficients), unname(coef(b1)[-1]), tolerance = 1e-6)
  at <- anova(o1)
  bt <- anova(b1)
  expect_identical(rownames(at), c("age", "smoke", "age:smoke"))
  expect_equal(at$Chisq, bt$Chisq, tolerance = 1e-5)
  expect_identical(at$Df, bt$Df)
  for (test in c("wald", "score")) {
    ao <- anova(o0, o1, test = test)
    ab <- anova(b0, b1, test = test)
    expect_equal(ao$Chisq[2], ab$Chisq[2], tolerance = 1e-5, info = test)
    expect_identical(ao$Df[2], 2)
  }
  qo <- QIC(o0, o1)
  qb <- QIC(b0, b1)
  expect_equal(unname(qo[, c("QIC", "QICu", "CIC", "QuasiLik")]),
               unname(qb[, c("QIC", "QICu", "CIC", "QuasiLik")]), tolerance = 1e-6)
  # geepack's QIC generic reaches the same method.
  expect_equal(geepack::QIC(o1), QIC(o1))
})

test_that("ordinal GEE, global odds ratios: anova()'s Wald tests from ordgee's estimates", {
  skip_if_not_installed("geepack")
  data("ohio", package = "geepack", envir = environment())
  ohio$resp <- ordered(as.factor(ohio$resp))
  ref <- geepack::ordgee(resp ~ age + smoke + age:smoke, id = id, data = ohio,
                         corstr = "exchangeable",
                         control = geepack::geese.control(epsilon = 1e-10, maxit = 200))
  ours <- gee(resp ~ age + smoke + age:smoke, data = ohio, id = id, family = cumulative,
              corstr = "global.exchangeable")
  b <- ref$beta[-1]
  V <- ref$vbeta[-1, -1]
  tab <- anova(ours)
  # Type II: the interaction given all others; each main effect with the
  # interaction's coefficient projected out (b_j - V_j3 / V_33 b_3).
  main <- vapply(1:2, function(j) (b[j] - V[j, 3] / V[3, 3] * b[3])^2 /
                                    (V[j, j] - V[j, 3]^2 / V[3, 3]), 1)
  expect_equal(tab$Chisq, unname(c(main, b[3]^2 / V[3, 3])), tolerance = 1e-5)
  # Comparing two nested fits: the Wald test of the larger fit's extra coefficients.
  small <- gee(resp ~ age, data = ohio, id = id, family = cumulative, corstr = "global.exchangeable")
  cmp <- anova(small, ours)
  expect_equal(cmp$Chisq[2], drop(b[2:3] %*% solve(V[2:3, 2:3], b[2:3])), tolerance = 1e-5)
  expect_error(anova(small, ours, test = "score"), "corstr = \"independence\"")
  q <- QIC(ours)
  expect_named(q, c("QIC", "QICu", "CIC", "QuasiLik", "params"))
  expect_gt(q[["CIC"]], 0)
})

test_that("ordinal GEE: the score test and QIC() do not depend on a covariate's origin or units", {
  wine <- ordtidy_wine()
  set.seed(2)
  wine$x <- rnorm(nrow(wine))
  wine$x4 <- wine$x + 1e4
  wine$x7 <- wine$x * 1e-7
  g0 <- gee(rating ~ temp, data = wine, id = judge, family = cumulative("logit"))
  fits <- lapply(c("x", "x4", "x7"), function(v)
    gee(stats::as.formula(paste("rating ~ temp +", v)), data = wine, id = judge,
        family = cumulative("logit")))
  # x + 1e4: the score test stopped ("system is computationally singular").
  sc <- vapply(fits, function(f) anova(g0, f, test = "score")$Chisq[2], 1)
  expect_equal(sc[2:3], rep(sc[1], 2), tolerance = 1e-8)
  q <- t(vapply(fits, QIC, numeric(5)))
  expect_equal(q[2, ], q[1, ], tolerance = 1e-7)
  expect_equal(q[3, ], q[1, ], tolerance = 1e-7)
  wd <- vapply(fits, function(f) anova(f)$Chisq[2], 1)
  expect_equal(wd[2:3], rep(wd[1], 2), tolerance = 1e-8)
})

test_that("ordinal GEE: anova()'s term tests are type II, the same under any contrasts, as car's", {
  skip_if_not_installed("multgee")
  data("arthritis", package = "multgee", envir = environment())
  ar <- stats::na.omit(arthritis)
  ar$tm <- factor(ar$time)
  ar$tr <- factor(ar$trt)
  o1 <- gee(factor(y) ~ tm * tr, data = ar, id = id, waves = time, family = cumulative,
            corstr = "uniform")
  o2 <- update(o1, contrasts = list(tm = "contr.sum", tr = "contr.sum"))
  t1 <- anova(o1)
  # tr was 2.686 with contr.treatment and 8.015 with contr.sum (type III).
  expect_equal(as.data.frame(anova(o2)), as.data.frame(t1), tolerance = 1e-6)
  expect_equal(as.data.frame(anova(o2, type = "naive")), as.data.frame(anova(o1, type = "naive")),
               tolerance = 1e-6)
  if (requireNamespace("car", quietly = TRUE))
    expect_equal(t1$Chisq, car::Anova(o1)[rownames(t1), "Chisq"], tolerance = 1e-8)
})

test_that("ordinal GEE: anova() and QIC() refuse what they cannot compare", {
  wine <- ordtidy_wine()
  g <- gee(rating ~ temp + contact, data = wine, id = judge, family = cumulative("logit"))
  h <- gee(as.numeric(rating) ~ temp, data = wine, id = judge)
  expect_error(anova(g, h), "every model must be an ordinal GEE")
  expect_error(QIC(g, h), "every model must be an ordinal GEE")
  other <- gee(rating ~ temp, data = wine, id = bottle, family = cumulative("logit"))
  expect_error(anova(other, g), "same observations, response, weights and clusters")
  expect_error(anova(g, test = "lr"), "'test' must be one of")
  expect_error(anova(g, type = "md"), "'type' must be one of")
  expect_error(tidy(glmm(rating ~ temp + (1 | judge), data = wine, family = cumulative),
                    effects = "random"), "'effects' must be")
})


test_that("emmeans after a subset with an operator and missing values (ordinal and count GLMMs)", {
  skip_if_not_installed("emmeans")
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$temp[c(1, 5)] <- NA
  w$y <- as.integer(w$rating)
  sub <- w[w$judge != "9" & !is.na(w$temp), ]
  emm <- function(fit) as.data.frame(summary(emmeans::emmeans(fit, ~ temp)))
  # emmeans stopped: "missing value where TRUE/FALSE needed"
  ord <- glmm(rating ~ temp + contact + (1 | judge), data = w, subset = judge != "9",
              family = cumulative("logit"))
  ord_sub <- glmm(rating ~ temp + contact + (1 | judge), data = sub, family = cumulative("logit"))
  expect_equal(emm(ord), emm(ord_sub))
  ref <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = w, subset = judge != "9")
  r <- as.data.frame(summary(emmeans::emmeans(ref, ~ temp)))
  expect_equal(emm(ord)$emmean, r$emmean, tolerance = 2e-4)
  expect_equal(emm(ord)$SE, r$SE, tolerance = 1e-3)
  g <- gee(rating ~ temp + contact, data = w, id = judge, subset = judge != "9",
           family = cumulative("logit"))
  g_sub <- gee(rating ~ temp + contact, data = sub, id = judge, family = cumulative("logit"))
  expect_equal(emm(g), emm(g_sub))
  pf <- suppressWarnings(glmm(y ~ temp + contact + (1 | judge), data = w, subset = judge != "9",
                              family = poisson))
  pf_sub <- suppressWarnings(glmm(y ~ temp + contact + (1 | judge), data = sub, family = poisson))
  expect_equal(emm(pf), emm(pf_sub))
})

test_that("emmeans of an ordinal fit with the 'offset =' argument: as with an offset() term, every route", {
  skip_if_not_installed("emmeans")
  skip_if_not_installed("ordinal")
  w <- wine_with_offset()
  fits <- wine_offset_fits(w)
  with_term <- wine_offset_fits(w, as_term = TRUE)
  g <- gee(rating ~ temp + contact, offset = off, data = w, id = judge, family = cumulative())
  gt <- gee(rating ~ temp + contact + offset(off), data = w, id = judge, family = cumulative())
  fits$gee <- g
  with_term$gee <- gt
  for (nm in names(fits)) {
    # The argument was left out of the reference grid (its offset 0).
    expect_identical(emmeans::ref_grid(fits[[nm]])@grid$.offset.,
                     emmeans::ref_grid(with_term[[nm]])@grid$.offset., label = nm)
    emm <- function(f) as.data.frame(summary(emmeans::emmeans(f, ~ temp, mode = "linear.predictor")))
    expect_equal(emm(fits[[nm]])$emmean, emm(with_term[[nm]])$emmean, tolerance = 1e-6, label = nm)
  }
})

test_that("ordinal GEE: a type II test whose robust covariance is singular is NA, with a warning", {
  set.seed(1)
  d <- data.frame(id = rep(1:5, each = 30), x = rnorm(150), f = factor(sample(letters[1:6], 150, TRUE)))
  d$o <- cut(1 + d$x + rnorm(150), c(-Inf, 0, 1, 2, Inf))
  o <- gee(o ~ x * f, data = d, id = id, family = cumulative)
  expect_warning(tab <- anova(o), "no type II Wald test of 'x', 'f', 'x:f'.*5 clusters for 11 coefficients")
  expect_true(all(is.na(tab$Chisq)))
  expect_no_warning(tn <- anova(o, type = "naive"))
  expect_true(all(is.finite(tn$Chisq)))
})
