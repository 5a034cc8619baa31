# Methods for "glmmgee_glmm" fits, checked against formulas computed here and
# against lme4 on the same models (Laplace, where both maximize the same
# likelihood; differences are optimizer tolerance).

data(cbpp, package = "lme4")
data(sleepstudy, package = "lme4")
cbpp$n_fail <- cbpp$size - cbpp$incidence

fit_cbpp <- glmm(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
                 family = binomial, nAGQ = 1)
fit_sleep <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
fit_pois <- glmm(incidence ~ period + offset(log(size)) + (1 | herd), data = cbpp,
                 family = poisson, nAGQ = 1)

# Our logLik may be a little higher than lme4's (tighter optimum) but never
# meaningfully lower.
expect_loglik_match <- function(ours, theirs, tol = 1e-4) {
  expect_gt(as.numeric(ours) - as.numeric(theirs), -tol)
  expect_lt(abs(as.numeric(ours) - as.numeric(theirs)), 1e-2)
}

test_that("generics from nlme are re-exported", {
  expect_identical(glmmgee::fixef, nlme::fixef)
  expect_identical(glmmgee::ranef, nlme::ranef)
  expect_identical(glmmgee::VarCorr, nlme::VarCorr)
})

test_that("binomial (cbpp) estimates, vcov, logLik, AIC, BIC agree with glmer at nAGQ = 1", {
  skip_if_not_installed("lme4")
  g <- glmer_ref(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
                   family = binomial)
  expect_equal(fixef(fit_cbpp), lme4::fixef(g), tolerance = 1e-3)
  # lme4's vcov comes from finite differences of a deviance evaluated by
  # iterative PIRLS, accurate to a few percent here.
  expect_equal(vcov(fit_cbpp), as.matrix(vcov(g)), tolerance = 3e-2)
  expect_loglik_match(logLik(fit_cbpp), logLik(g))
  expect_equal(attr(logLik(fit_cbpp), "df"), attr(logLik(g), "df"))
  expect_equal(nobs(fit_cbpp), nobs(g))
  expect_equal(AIC(fit_cbpp), AIC(g), tolerance = 1e-5)
  expect_equal(BIC(fit_cbpp), BIC(g), tolerance = 1e-5)
  ll <- as.numeric(logLik(fit_cbpp))
  expect_equal(AIC(fit_cbpp), -2 * ll + 2 * 5)
  expect_equal(BIC(fit_cbpp), -2 * ll + log(56) * 5)
  expect_equal(sigma(fit_cbpp), 1)
})

test_that("binomial 0/1 (MASS::bacteria) agrees with glmer at nAGQ = 1", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS")
  f <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial, nAGQ = 1)
  g <- glmer_ref(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
  expect_equal(unname(fixef(f)), unname(lme4::fixef(g)), tolerance = 1e-3)
  expect_equal(unname(vcov(f)), unname(as.matrix(vcov(g))), tolerance = 3e-2)
  expect_loglik_match(logLik(f), logLik(g))
  expect_equal(BIC(f), BIC(g), tolerance = 1e-5)
  expect_equal(unname(sqrt(VarCorr(f)$ID[1, 1])),
               unname(attr(lme4::VarCorr(g)$ID, "stddev")), tolerance = 1e-3)
})

test_that("gaussian (sleepstudy) agrees with lmer(REML = FALSE), VarCorr and sigma included", {
  skip_if_not_installed("lme4")
  l <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE)
  expect_equal(fixef(fit_sleep), lme4::fixef(l), tolerance = 1e-4)
  expect_loglik_match(logLik(fit_sleep), logLik(l))
  expect_equal(attr(logLik(fit_sleep), "df"), attr(logLik(l), "df"))
  expect_equal(AIC(fit_sleep), AIC(l), tolerance = 1e-6)
  expect_equal(sigma(fit_sleep), sigma(l), tolerance = 1e-4)
  vc <- VarCorr(fit_sleep)
  vl <- lme4::VarCorr(l)
  expect_equal(unclass(vc$Subject)[1:2, 1:2], unclass(vl$Subject)[1:2, 1:2],
               tolerance = 1e-3, ignore_attr = TRUE)
  expect_equal(attr(vc$Subject, "stddev"), attr(vl$Subject, "stddev"), tolerance = 1e-3,
               ignore_attr = TRUE)
  expect_equal(attr(vc$Subject, "correlation"), attr(vl$Subject, "correlation"),
               tolerance = 1e-3, ignore_attr = TRUE)
  expect_equal(attr(vc, "sc"), attr(vl, "sc"), tolerance = 1e-4)
  dfv <- as.data.frame(vc)
  dfl <- as.data.frame(vl)
  expect_equal(dfv$vcov, dfl$vcov, tolerance = 1e-3)
  expect_equal(dfv$sdcor, dfl$sdcor, tolerance = 1e-3)
  expect_equal(dfv$grp, as.character(dfl$grp))
  expect_equal(vcov(fit_sleep), as.matrix(vcov(l)), tolerance = 1e-2, ignore_attr = TRUE)
})

test_that("VarCorr of a diagonal covariance shows no cross-block correlation", {
  f <- glmm(Reaction ~ Days + (Days || Subject), data = sleepstudy)
  vc <- VarCorr(f)
  expect_equal(vc$Subject[1, 2], 0)
  expect_equal(nrow(as.data.frame(vc)), 3L)
  out <- capture.output(print(vc))
  expect_false(any(grepl("Corr", out)))
  expect_true(any(grepl("Residual", out)))
})

test_that("vcov(full = TRUE) covers all optimizer parameters", {
  V <- vcov(fit_sleep, full = TRUE)
  expect_equal(dim(V), rep(length(fit_sleep$theta), 2))
  expect_equal(rownames(V), names(fit_sleep$theta))
  expect_equal(V[1:2, 1:2], vcov(fit_sleep))
  expect_true(isSymmetric(V))
})

test_that("ranef modes and conditional variances agree with lme4 (Laplace)", {
  skip_if_not_installed("lme4")
  g <- glmer_ref(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
                   family = binomial)
  re <- ranef(fit_cbpp)
  rl <- lme4::ranef(g, condVar = TRUE)
  expect_s3_class(re, "ranef.glmmgee_glmm")
  expect_named(re, "herd")
  expect_equal(rownames(re$herd), rownames(rl$herd))
  expect_equal(re$herd[[1]], rl$herd[[1]], tolerance = 2e-3)
  expect_equal(as.vector(attr(re$herd, "postVar")), as.vector(attr(rl$herd, "postVar")),
               tolerance = 5e-3)
  dr <- as.data.frame(re)
  dl <- as.data.frame(rl)
  expect_equal(dr$condval, dl$condval, tolerance = 2e-3)
  expect_equal(dr$condsd, dl$condsd, tolerance = 5e-3)

  l <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE)
  rs <- ranef(fit_sleep)$Subject
  rls <- lme4::ranef(l, condVar = TRUE)$Subject
  expect_equal(as.matrix(rs), as.matrix(rls), tolerance = 1e-3)
  expect_equal(as.vector(attr(rs, "postVar")), as.vector(attr(rls, "postVar")),
               tolerance = 1e-3)
  expect_null(attr(ranef(fit_sleep, condVar = FALSE)$Subject, "postVar"))
})

test_that("ranef(type = 'mean') are posterior means by quadrature", {
  # Direct numerical integration of each herd's posterior at the estimates.
  f <- glmm(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
            family = binomial, nAGQ = 9)
  pm <- ranef(f, type = "mean")$herd
  expect_equal(as.matrix(pm), f$ranef$mean, ignore_attr = TRUE)
  sd_b <- sqrt(VarCorr(f)$herd[1, 1])
  eta0 <- drop(model.matrix(f) %*% fixef(f))
  for (h in c("1", "4", "7")) {
    rows <- cbpp$herd == h
    post <- function(b) vapply(b, function(bb)
      exp(sum(dbinom(cbpp$incidence[rows], cbpp$size[rows],
                     plogis(eta0[rows] + bb), log = TRUE))), 1) * dnorm(b, 0, sd_b)
    m0 <- integrate(post, -5, 5)$value
    m1 <- integrate(function(b) b * post(b), -5, 5)$value / m0
    m2 <- integrate(function(b) (b - m1)^2 * post(b), -5, 5)$value / m0
    expect_equal(pm[h, 1], m1, tolerance = 1e-4)
    expect_equal(attr(pm, "postVar")[1, 1, h], m2, tolerance = 1e-3)
  }
  # A Laplace fit recomputes the moments by quadrature at its own estimates.
  pl <- ranef(fit_cbpp, type = "mean", nAGQ = 9)$herd
  expect_false(isTRUE(all.equal(pl[[1]], ranef(fit_cbpp)$herd[[1]], tolerance = 1e-6)))
  expect_equal(pl[[1]], ranef(fit_cbpp)$herd[[1]], tolerance = 0.2)
})

test_that("ranef(nAGQ = ) with the posterior modes is an error naming it", {
  # the modes use no quadrature: nAGQ = 20 was ignored
  expect_error(ranef(fit_cbpp, nAGQ = 20),
               "ranef\\(type = \"mode\"\\): 'nAGQ' is for the posterior means \\(type = \"mean\"\\) and ranef\\(newdata = \\)")
  expect_error(ranef(fit_cbpp, type = "mode", nAGQ = NULL), "'nAGQ' is for the posterior means")
  expect_identical(ranef(fit_cbpp, type = "mode"), ranef(fit_cbpp))
  expect_s3_class(ranef(fit_cbpp, newdata = cbpp[cbpp$herd == "3", ], nAGQ = 5), "data.frame")
  # the sparse engine's posterior means are the fit's own: nAGQ is unused there
  # (singular on these data: the warning says so)
  sp <- suppressWarnings(glmm(incidence ~ period + (1 | herd) + (1 | obs), family = poisson,
                              data = transform(cbpp, obs = factor(seq_len(nrow(cbpp))))))
  expect_s3_class(sp, "glmmgee_glmm_sparse")
  expect_error(ranef(sp, type = "mean", nAGQ = 5),
               "ranef\\(\\) of a fit by the sparse engine: 'nAGQ' is for fits of one grouping factor")
})

test_that("posterior mean is close to the mode when clusters are big", {
  set.seed(11)
  M <- 12; m <- 150
  d <- data.frame(g = factor(rep(seq_len(M), each = m)), x = rnorm(M * m))
  b <- rnorm(M, 0, 0.5)
  d$y <- rpois(M * m, exp(0.3 + 0.4 * d$x + b[as.integer(d$g)]))
  f <- glmm(y ~ x + (1 | g), data = d, family = poisson, nAGQ = 1)
  mo <- ranef(f, type = "mode")$g
  me <- ranef(f, type = "mean")$g
  csd <- sqrt(attr(mo, "postVar")[1, 1, ])
  expect_lt(max(abs(me[[1]] - mo[[1]]) / csd), 0.05)
  expect_equal(attr(me, "postVar")[1, 1, ], attr(mo, "postVar")[1, 1, ], tolerance = 0.02)
})

test_that("coef per cluster is fixef + ranef", {
  cf <- coef(fit_sleep)
  expect_s3_class(cf, "coef.glmmgee_glmm")
  re <- ranef(fit_sleep)$Subject
  fe <- fixef(fit_sleep)
  expect_equal(cf$Subject[["(Intercept)"]], fe[["(Intercept)"]] + re[["(Intercept)"]])
  expect_equal(cf$Subject$Days, fe[["Days"]] + re$Days)
  expect_equal(rownames(cf$Subject), levels(sleepstudy$Subject))
  cb <- coef(fit_cbpp)$herd
  expect_equal(cb$period3, rep(fixef(fit_cbpp)[["period3"]], 15))
})

test_that("fitted and model matrices reproduce the linear predictor", {
  X <- model.matrix(fit_pois)
  Z <- model.matrix(fit_pois, type = "random")
  expect_s4_class(Z, "Matrix")
  expect_equal(dim(Z), c(nrow(cbpp), 15L))
  u <- as.vector(t(as.matrix(ranef(fit_pois)$herd)))
  eta <- drop(X %*% fixef(fit_pois)) + as.vector(Z %*% u) + log(cbpp$size)
  expect_equal(unname(fitted(fit_pois)), unname(exp(eta)))
  Zs <- model.matrix(fit_sleep, type = "random")
  expect_equal(dim(Zs), c(180L, 36L))
  us <- as.vector(t(as.matrix(ranef(fit_sleep)$Subject)))
  expect_equal(unname(fitted(fit_sleep)),
               unname(drop(model.matrix(fit_sleep) %*% fixef(fit_sleep)) + as.vector(Zs %*% us)))
})

test_that("residuals follow glm's definitions with conditional fitted values", {
  mu <- fitted(fit_cbpp)
  y <- cbpp$incidence / cbpp$size
  w <- cbpp$size
  expect_equal(residuals(fit_cbpp, "response"), y - mu)
  expect_equal(unname(residuals(fit_cbpp, "pearson")),
               unname((y - mu) * sqrt(w / (mu * (1 - mu)))))
  dev <- 2 * w * (ifelse(y > 0, y * log(y / mu), 0) +
                    ifelse(y < 1, (1 - y) * log((1 - y) / (1 - mu)), 0))
  expect_equal(unname(residuals(fit_cbpp, "deviance")), unname(sign(y - mu) * sqrt(dev)))
  expect_equal(residuals(fit_cbpp), residuals(fit_cbpp, "deviance"))
  mp <- fitted(fit_pois)
  expect_equal(unname(residuals(fit_pois, "pearson")),
               unname((cbpp$incidence - mp) / sqrt(mp)))
})

test_that("residuals agree with lme4", {
  skip_if_not_installed("lme4")
  g <- glmer_ref(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
                   family = binomial)
  for (type in c("response", "pearson", "deviance"))
    expect_equal(unname(residuals(fit_cbpp, type)), unname(residuals(g, type)),
                 tolerance = 2e-3, label = type)
  l <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE)
  for (type in c("response", "pearson"))
    expect_equal(unname(residuals(fit_sleep, type)), unname(residuals(l, type)),
                 tolerance = 1e-4, label = type)
})

test_that("predict: link, response, population level and original data", {
  expect_equal(predict(fit_pois), fit_pois$linear.predictors)
  expect_equal(predict(fit_pois, type = "response"), fitted(fit_pois))
  pop <- drop(model.matrix(fit_pois) %*% fixef(fit_pois)) + log(cbpp$size)
  expect_equal(unname(predict(fit_pois, re.form = NA)), unname(pop))
  expect_equal(unname(predict(fit_pois, re.form = ~ 0)), unname(pop))
  expect_equal(unname(predict(fit_pois, newdata = cbpp, re.form = NA)), unname(pop))
  expect_equal(predict(fit_pois, newdata = cbpp), predict(fit_pois))
  expect_equal(predict(fit_pois, newdata = cbpp, type = "response"), fitted(fit_pois))
  expect_equal(predict(fit_sleep, newdata = sleepstudy), predict(fit_sleep))
  rows <- c(5, 40, 99, 180)
  expect_equal(unname(predict(fit_sleep, newdata = sleepstudy[rows, ])),
               unname(predict(fit_sleep)[rows]))
})

test_that("predict: factors in random-effect terms keep the levels of the fit", {
  d <- sleepstudy
  d$half <- factor(ifelse(d$Days >= 5, "late", "early"))
  f <- glmm(Reaction ~ Days + (half | Subject), data = d)
  rows <- which(d$half == "early")[1:6]
  expect_equal(predict(f, d[rows, ]), predict(f)[rows])
  nd <- d[rows, ]
  nd$half <- as.character(nd$half)
  expect_equal(predict(f, nd), predict(f)[rows])
})

test_that("predict: an offset argument of the call is used for newdata", {
  f <- glmm(incidence ~ period + (1 | herd), offset = log(size), data = cbpp,
            family = poisson, nAGQ = 1)
  expect_equal(fixef(f), fixef(fit_pois), tolerance = 1e-6)
  expect_equal(predict(f, newdata = cbpp), predict(f))
  nd <- cbpp[1:3, ]
  nd$size <- nd$size * 2
  expect_equal(unname(predict(f, nd) - predict(f, cbpp[1:3, ])), rep(log(2), 3))
})

test_that("predict: new clusters get zero random effects with allow.new.levels = TRUE", {
  nd <- data.frame(period = factor(1:4, levels = 1:4), herd = c("new", "1", "new", "2"),
                   size = 10, incidence = 0)
  p <- predict(fit_pois, nd, allow.new.levels = TRUE)
  p0 <- predict(fit_pois, nd, re.form = NA)
  expect_equal(p[c(1, 3)], p0[c(1, 3)])
  b <- ranef(fit_pois)$herd
  expect_equal(unname(p[c(2, 4)] - p0[c(2, 4)]), b[c("1", "2"), 1])
  expect_error(predict(fit_pois, nd), "not in the fit: 'new'")
  expect_equal(unname(predict(fit_pois, nd, type = "response", allow.new.levels = TRUE)),
               unname(exp(p)))
  # newdata need not contain the grouping factor for population-level predictions
  expect_equal(predict(fit_pois, nd[, c("period", "size")], re.form = NA), p0)
})

test_that("predict: missing values in newdata", {
  nd <- data.frame(period = factor(c(1, NA, 3), levels = 1:4), herd = c("1", "2", "3"),
                   size = 10)
  p <- predict(fit_pois, nd)
  expect_true(is.na(p[2]))
  expect_equal(length(p), 3L)
  po <- predict(fit_pois, nd, na.action = na.omit)
  expect_equal(names(po), c("1", "3"))
  expect_equal(po, p[c(1, 3)])
  pe <- predict(fit_pois, nd, na.action = na.exclude)
  expect_equal(unname(pe), unname(p))
})

test_that("predict: subsets of random-effect terms via re.form", {
  f <- glmm(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), data = sleepstudy)
  b <- ranef(f)$Subject
  g <- as.character(sleepstudy$Subject)
  p_int <- predict(f, re.form = ~ (1 | Subject))
  expect_equal(unname(p_int - predict(f, re.form = NA)), b[g, "(Intercept)"])
  expect_equal(predict(f, newdata = sleepstudy, re.form = ~ (1 | Subject)), p_int)
  expect_error(predict(f, re.form = ~ (1 | Days)), "not in the model")
})

test_that("predict agrees with lme4", {
  skip_if_not_installed("lme4")
  g <- glmer_ref(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
                   family = binomial)
  nd <- data.frame(period = factor(c(1, 2, 3, 4), levels = 1:4), herd = c("1", "5", "9", "new"))
  for (type in c("link", "response")) {
    expect_equal(unname(predict(fit_cbpp, type = type)), unname(predict(g, type = type)),
                 tolerance = 2e-3)
    expect_equal(unname(predict(fit_cbpp, nd, type = type, allow.new.levels = TRUE)),
                 unname(predict(g, nd, type = type, allow.new.levels = TRUE)), tolerance = 2e-3)
    expect_equal(unname(predict(fit_cbpp, nd, type = type, re.form = NA)),
                 unname(predict(g, nd, type = type, re.form = NA)), tolerance = 2e-3)
  }
})

test_that("anova: likelihood-ratio test between nested fits", {
  f0 <- glmm(cbind(incidence, n_fail) ~ 1 + (1 | herd), data = cbpp, family = binomial,
             nAGQ = 1)
  a <- anova(fit_cbpp, f0)
  expect_s3_class(a, "anova")
  expect_equal(rownames(a), c("f0", "fit_cbpp"))
  expect_equal(a$npar, c(2, 5))
  ll0 <- as.numeric(logLik(f0)); ll1 <- as.numeric(logLik(fit_cbpp))
  expect_equal(a$Chisq[2], 2 * (ll1 - ll0))
  expect_equal(a$Df[2], 3)
  expect_equal(a[["Pr(>Chisq)"]][2], pchisq(2 * (ll1 - ll0), 3, lower.tail = FALSE))
  expect_equal(a$AIC, c(AIC(f0), AIC(fit_cbpp)))
  expect_equal(a$deviance, -2 * c(ll0, ll1))
  expect_equal(anova(f0, fit_cbpp), a)
  expect_output(print(a), "Likelihood-ratio")

  fs <- glmm(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp[-1, ],
             family = binomial, nAGQ = 1)
  expect_error(anova(fit_cbpp, fs), "different numbers of observations")
  expect_error(anova(fit_cbpp, fit_pois), "different responses")
  expect_error(anova(fit_cbpp, 1), "position 2 is not a fitted model")
})

test_that("anova: agrees with lme4's LRT", {
  skip_if_not_installed("lme4")
  g1 <- glmer_ref(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp,
                    family = binomial)
  g0 <- glmer_ref(cbind(incidence, n_fail) ~ 1 + (1 | herd), data = cbpp, family = binomial)
  f0 <- update(fit_cbpp, . ~ . - period)
  expect_equal(anova(f0, fit_cbpp)$Chisq[2], anova(g0, g1)$Chisq[2], tolerance = 1e-3)
})

test_that("anova: a random intercept is a constrained case of group-specific variances when no cluster has both groups", {
  set.seed(47)
  M <- 60
  d <- data.frame(id = factor(rep(seq_len(M), each = 5)), x = rnorm(5 * M))
  grp <- rep(rep(c("A", "B"), length.out = M), each = 5)
  d$gA <- as.numeric(grp == "A"); d$gB <- as.numeric(grp == "B")
  b <- ifelse(grp == "A", 0.4, 2)[seq_len(5 * M)] * rep(rnorm(M), each = 5)
  d$y <- 1 + 0.5 * d$x + b + rnorm(5 * M, sd = 0.7)
  f0 <- glmm(y ~ x + gB + (1 | id), data = d)
  f1 <- glmm(y ~ x + gB + (0 + gA + gB || id), data = d)
  a <- anova(f0, f1)
  by_hand <- 2 * (as.numeric(logLik(f1)) - as.numeric(logLik(f0)))
  expect_equal(a$Chisq[2], by_hand)
  expect_equal(a$Df[2], 1)
  expect_gt(by_hand, 10)
  # lme4 (no nesting check) on the same pair: the same statistic.
  if (requireNamespace("lme4", quietly = TRUE)) {
    m0 <- lme4::lmer(y ~ x + gB + (1 | id), data = d, REML = FALSE)
    m1 <- lme4::lmer(y ~ x + gB + (0 + gA + gB || id), data = d, REML = FALSE)
    expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(m1)) - as.numeric(logLik(m0))), tolerance = 1e-4)
  }
  # With clusters holding both groups the intercept's effect is shared by
  # both groups' rows (correlation 1), which independent effects are not:
  # refused.
  d2 <- d
  d2$gA <- rep(c(1, 0), length.out = nrow(d)); d2$gB <- 1 - d2$gA
  g0 <- glmm(y ~ x + gB + (1 | id), data = d2)
  g1 <- suppressWarnings(glmm(y ~ x + gB + (0 + gA + gB || id), data = d2))
  expect_error(anova(g0, g1), "not nested.*constrained case")
  # Unstructured group effects contain the intercept whatever the data;
  # a random slope in x is no constrained case of them.
  g2 <- glmm(y ~ x + gB + (0 + gA + gB | id), data = d2)
  expect_silent(anova(g0, g2))
  g3 <- glmm(y ~ x + gB + (0 + x | id), data = d)
  expect_error(anova(g3, f1), "not nested")
})

test_that("anova: zero-inflation and dispersion parts are named and checked for nesting", {
  set.seed(1)
  d <- data.frame(g = rep(1:20, each = 5), x = rnorm(100), a = factor(rep(1:2, 50)))
  d$y <- 1 + d$x + rnorm(20)[d$g] + rnorm(100, sd = ifelse(d$a == "1", 1, 2))
  d$lv <- log(ifelse(d$a == "1", 1, 2))
  f0 <- glmm(y ~ x + (1 | g), d)
  f1 <- glmm(y ~ x + (1 | g), d, dispformula = ~ a)
  known <- glmm(y ~ x + (1 | g), d, dispformula = ~ 0 + offset(lv))
  a <- anova(f0, f1)
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(f1)) - as.numeric(logLik(f0))))
  expect_output(print(a), "f1: y ~ x \\+ \\(1 \\| g\\), dispformula = ~a")
  # dispersions known by arm are a case of one dispersion per arm ...
  expect_equal(anova(known, f1)$Df[2], 2)
  # ... but not of one dispersion for all rows (had been "tested", with a
  # negative chi-square blamed on the optimizer)
  expect_error(anova(known, f0), "not nested.*dispersion predictor")
  # zero parts: none is the boundary case of one; zi and hurdle differ
  d$n <- rpois(100, exp(0.5 + 0.3 * d$x + rnorm(20, 0, 0.5)[d$g])) * rbinom(100, 1, 0.8)
  p0 <- glmm(n ~ x + (1 | g), d, family = poisson)
  z1 <- glmm(n ~ x + (1 | g), d, family = poisson, ziformula = ~ 1)
  zx <- glmm(n ~ x + (1 | g), d, family = poisson, ziformula = ~ x)
  h1 <- glmm(n ~ x + (1 | g), d, family = truncated_poisson, ziformula = ~ 1)
  expect_equal(anova(z1, zx)$Df[2], 1)
  expect_equal(anova(p0, z1)$Df[2], 1)
  expect_output(print(anova(z1, zx)), "zx: n ~ x \\+ \\(1 \\| g\\), ziformula = ~x")
  expect_error(anova(h1, zx), "not nested.*hurdle model and a zi model")
  expect_error(anova(zx, glmm(n ~ x + (1 | g), d, family = poisson, ziformula = ~ a)),
               "not nested.*zero-inflation predictor")
})

test_that("anova: Wald tests of fixed-effect terms for a single fit", {
  a <- anova(fit_cbpp)
  expect_equal(rownames(a), "period")
  b <- fixef(fit_cbpp)[2:4]
  V <- vcov(fit_cbpp)[2:4, 2:4]
  w <- drop(t(b) %*% solve(V) %*% b)
  expect_equal(a$Chisq, w)
  expect_equal(a$Df, 3)
  expect_equal(a[["Pr(>Chisq)"]], pchisq(w, 3, lower.tail = FALSE))
  as <- anova(fit_sleep)
  z <- fixef(fit_sleep)[["Days"]] / sqrt(vcov(fit_sleep)[2, 2])
  expect_equal(as["Days", "Chisq"], z^2)
  f0 <- glmm(Reaction ~ 1 + (1 | Subject), data = sleepstudy)
  expect_equal(nrow(anova(f0)), 0L)
})

test_that("anova: the single-fit tests are type II, the same under any coding or centring", {
  d <- sleepstudy
  d$late <- factor(d$Days > 4)
  f1 <- glmm(Reaction ~ Days * late + (1 | Subject), data = d)
  d$Dc <- (d$Days - 4.5) / 2
  f2 <- glmm(Reaction ~ Dc * late + (1 | Subject), data = d, contrasts = list(late = "contr.sum"))
  a1 <- anova(f1)
  expect_equal(unname(as.matrix(anova(f2))), unname(as.matrix(a1)), tolerance = 1e-5)
  expect_equal(unname(as.matrix(anova(f2, vcov = "CR2"))), unname(as.matrix(anova(f1, vcov = "CR2"))),
               tolerance = 1e-5)
  if (requireNamespace("car", quietly = TRUE))
    expect_equal(a1$Chisq, car::Anova(f1)$Chisq, tolerance = 1e-8)
})

test_that("update re-fits with changed formula and arguments", {
  d <- sleepstudy
  d$x2 <- rep(c(-1, 1), length.out = nrow(d))
  f <- glmm(Reaction ~ Days + (Days | Subject), data = d)
  f2 <- update(f, . ~ . + x2)
  expect_s3_class(f2, "glmmgee_glmm")
  expect_true("x2" %in% names(fixef(f2)))
  expect_length(reformulas::findbars(formula(f2)), 1L)
  expect_equal(f2$cnames, c("(Intercept)", "Days"))
  fa <- update(fit_cbpp, nAGQ = 5)
  expect_equal(fa$nAGQ, 5L)
  expect_equal(fixef(fa), fixef(fit_cbpp), tolerance = 0.05)
  expect_equal(formula(fa), formula(fit_cbpp), ignore_attr = TRUE)
})

test_that("update() takes the variables of the arguments given to it from the caller, as stats::update()", {
  # With `k` and `sub` also in the fit's formula environment, those replaced
  # the caller's without a word: nAGQ 1 and 1 for k = 5 and 9, 56 rows for 52.
  k <- 1
  sub <- rep(TRUE, nrow(cbpp))
  f <- glmm(cbind(incidence, n_fail) ~ period + (1 | herd), data = cbpp, family = binomial)
  expect_equal(sapply(c(5, 9), function(k) update(f, nAGQ = k)$nAGQ), c(5, 9))
  drop_herd <- function(fit, d, h) { sub <- d$herd != h; update(fit, subset = sub) }
  u <- drop_herd(f, cbpp, "1")
  expect_identical(nobs(u), 52L)
  # updated again, the refit keeps the caller's subset
  expect_identical(nobs(update(u, nAGQ = 3)), 52L)
  # a fit made inside a function still finds its data there, and the
  # caller's subset wins over a global one
  make <- function() {
    dd <- cbpp
    dd$z <- rep(c(-1, 1), length.out = nrow(dd))
    glmm(cbind(incidence, n_fail) ~ period + z + (1 | herd), data = dd, family = binomial)
  }
  m <- make()
  expect_identical(names(fixef(update(m, . ~ . - z))), names(fixef(f)))
  expect_identical(nobs(drop_herd(m, cbpp, "2")), 53L)
})

test_that("print and summary report the approximation, effects and notes", {
  out <- capture.output(print(fit_cbpp))
  expect_true(any(grepl("Laplace approximation", out)))
  expect_true(any(grepl("binomial ( logit )", out, fixed = TRUE)))
  expect_true(any(grepl("Number of obs: 56, clusters: herd, 15", out, fixed = TRUE)))
  expect_true(any(grepl("period4", out)))
  fa <- update(fit_cbpp, nAGQ = 5)
  expect_output(print(fa), "Adaptive Gauss-Hermite quadrature, nAGQ = 5")
  s <- summary(fit_cbpp)
  expect_s3_class(s, "summary.glmmgee_glmm")
  cf <- coef(s)
  expect_equal(colnames(cf), c("Estimate", "Std. Error", "z value", "Pr(>|z|)"))
  expect_equal(cf[, "Std. Error"], sqrt(diag(vcov(fit_cbpp))))
  expect_equal(cf[, "Pr(>|z|)"], 2 * pnorm(-abs(cf[, "z value"])))
  so <- capture.output(print(s))
  expect_true(any(grepl("conditional (subject-specific)", so, fixed = TRUE)))
  expect_true(any(grepl("Optimizer: Newton-BFGS", so)))
  expect_true(any(grepl("Variance", so)))
  expect_output(print(fit_sleep), "Residual")
  bad <- fit_cbpp
  bad$optinfo$warnings <- "singular fit: a random-effect variance is estimated at zero"
  expect_output(print(bad), "Note:.*singular fit")
  expect_output(print(summary(bad)), "singular fit")
  # AIC is shown rounded to its shown decimals, not rounded to 6 significant
  # digits and then padded with zeros (194.0526 printed as 194.0530).
  shown <- function(out) {
    i <- grep("AIC", out)[1L]
    v <- strsplit(trimws(out[i + 1L]), " +")[[1L]]
    v[match("AIC", strsplit(trimws(out[i]), " +")[[1L]])]
  }
  for (a in list(shown(out), shown(so))) {
    k <- nchar(sub("^[^.]*\\.?", "", a))
    expect_equal(as.numeric(a), round(AIC(fit_cbpp), k))
  }
})

test_that("fitted and residuals are padded under na.exclude", {
  d <- cbpp
  d$period[3] <- NA
  f <- glmm(cbind(incidence, n_fail) ~ period + (1 | herd), data = d, family = binomial,
            nAGQ = 1, na.action = na.exclude)
  expect_length(fitted(f), nrow(d))
  expect_true(is.na(fitted(f)[3]))
  expect_length(residuals(f, "pearson"), nrow(d))
  expect_length(predict(f), nrow(d))
  expect_equal(nobs(f), nrow(d) - 1L)
})

test_that("all methods work after saveRDS/readRDS", {
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path))
  saveRDS(fit_cbpp, path)
  f <- readRDS(path)
  expect_identical(fixef(f), fixef(fit_cbpp))
  expect_identical(ranef(f), ranef(fit_cbpp))
  expect_equal(ranef(f, type = "mean", nAGQ = 7), ranef(fit_cbpp, type = "mean", nAGQ = 7))
  expect_identical(VarCorr(f), VarCorr(fit_cbpp))
  expect_identical(coef(f), coef(fit_cbpp))
  expect_identical(vcov(f, full = TRUE), vcov(fit_cbpp, full = TRUE))
  expect_identical(logLik(f), logLik(fit_cbpp))
  expect_identical(c(AIC(f), BIC(f), nobs(f)), c(AIC(fit_cbpp), BIC(fit_cbpp), nobs(fit_cbpp)))
  expect_identical(fitted(f), fitted(fit_cbpp))
  expect_identical(residuals(f, "pearson"), residuals(fit_cbpp, "pearson"))
  expect_identical(predict(f, cbpp[1:5, ], type = "response"),
                   predict(fit_cbpp, cbpp[1:5, ], type = "response"))
  expect_identical(model.matrix(f, type = "random"), model.matrix(fit_cbpp, type = "random"))
  expect_identical(anova(f), anova(fit_cbpp))
  expect_identical(capture.output(print(summary(f))), capture.output(print(summary(fit_cbpp))))
  expect_equal(fixef(update(f, nAGQ = 1)), fixef(fit_cbpp))
})

test_that("anova(): a type II test whose robust covariance is singular is NA, with a warning", {
  # 5 clusters, 12 coefficients: the CR2 covariance has rank 5 at most; the
  # test of x had come out as F = 1.7e17, p < 2e-16.
  set.seed(1)
  d <- data.frame(id = rep(1:5, each = 30), x = rnorm(150), f = factor(sample(letters[1:6], 150, TRUE)))
  d$y <- 1 + d$x + rnorm(150)
  m <- suppressWarnings(glmm(y ~ x * f + (1 | id), data = d))
  w <- character()
  tab <- withCallingHandlers(anova(m, vcov = "CR2"), warning = function(c) {
    w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("no type II Wald test of 'x', 'f'.*5 clusters for 12 coefficients", w)))
  expect_true(all(is.na(tab[c("x", "f"), c("F", "Pr(>F)")])))
  expect_equal(tab[c("x", "f"), "Df"], c(1, 5))
  # x:f's own block is invertible, but HTZ's denominator degrees of freedom
  # are negative (-0.44; it printed F = -114): no test, and a warning
  expect_true(any(grepl("no HTZ test of 'x:f'.*not positive.*too few clusters \\(5\\)", w)))
  expect_true(all(is.na(tab["x:f", c("Den Df", "F", "Pr(>F)")])))
  expect_no_warning(mb <- anova(m))
  expect_true(all(is.finite(mb$Chisq)))
})
