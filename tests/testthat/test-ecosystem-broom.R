# broom's tidy(), glance() and augment() against broom.mixed on the same
# model fitted by glmer/glmmTMB, and against broom on geepack::geeglm.

skip_if_not_installed("broom.mixed")
skip_if_not_installed("glmmTMB")
skip_if_not_installed("lme4")

peer_tidy <- function(x, ...) as.data.frame(broom.mixed::tidy(x, ...))

test_that("tidy() of a binomial glmm equals broom.mixed's on glmer and glmmTMB", {
  m <- eco_binomial()
  ours <- tidy(m$ours, conf.int = TRUE)
  expect_named(ours, c("effect", "group", "term", "estimate", "std.error", "statistic",
                       "p.value", "conf.low", "conf.high"))
  fx <- ours[ours$effect == "fixed", ]
  expect_equal(fx$estimate, peer_tidy(m$lme4, effects = "fixed")$estimate, tolerance = 1e-3)
  # Standard errors against glmmTMB's (the Hessian of the Laplace
  # likelihood); glmer's come from an approximate Hessian.
  ref <- peer_tidy(m$tmb, conf.int = TRUE, effects = "fixed")
  expect_identical(fx$term, ref$term)
  expect_equal(fx$estimate, ref$estimate, tolerance = 1e-3)
  expect_equal(fx$std.error, ref$std.error, tolerance = 1e-3)
  expect_equal(fx$conf.low, ref$conf.low, tolerance = 1e-3)
  expect_equal(fx$p.value, ref$p.value, tolerance = 1e-2)
  rp <- ours[ours$effect == "ran_pars", ]
  ref <- peer_tidy(m$tmb, effects = "ran_pars")
  expect_identical(rp$term, ref$term)
  expect_identical(rp$group, ref$group)
  expect_equal(rp$estimate, ref$estimate, tolerance = 1e-3)
  # Wald limits of the SD on the log scale: what glmmTMB's confint() gives
  # for its log-SD parameter.
  ci <- confint(m$tmb, parm = "theta_")
  expect_equal(c(rp$conf.low, rp$conf.high), unname(ci[1, 1:2]), tolerance = 2e-3)
})

test_that("tidy() of a gaussian random-slope glmm: SDs, correlation, residual SD", {
  m <- eco_gaussian()
  ours <- tidy(m$ours, conf.int = TRUE)
  ref <- peer_tidy(m$lme4)
  expect_identical(ours$term, ref$term)
  expect_identical(ours$group, ref$group)
  expect_equal(ours$estimate, ref$estimate, tolerance = 1e-4)
  fx <- ours$effect == "fixed"
  expect_equal(ours$std.error[fx], ref$std.error[fx], tolerance = 1e-3)
  ci <- confint(m$tmb, parm = "theta_")
  sd_rows <- grepl("^sd__\\(|^sd__Days", ours$term)
  expect_equal(ours$conf.low[sd_rows], unname(ci[1:2, 1]), tolerance = 1e-3)
  expect_equal(ours$conf.high[sd_rows], unname(ci[1:2, 2]), tolerance = 1e-3)
  # Intervals stay in range: correlation in (-1, 1), SDs positive.
  cr <- ours[grepl("^cor__", ours$term), ]
  expect_true(cr$conf.low > -1 && cr$conf.high < 1 && cr$conf.low < cr$estimate)
})

test_that("tidy(effects = 'ran_vals') equals broom.mixed's on glmer", {
  m <- eco_binomial()
  ours <- tidy(m$ours, effects = "ran_vals", conf.int = TRUE)
  ref <- peer_tidy(m$lme4, effects = "ran_vals")
  expect_identical(ours$level, ref$level)
  expect_identical(ours$group, ref$group)
  expect_equal(ours$estimate, ref$estimate, tolerance = 1e-3)
  expect_equal(ours$std.error, ref$std.error, tolerance = 1e-3)
  expect_equal(ours$conf.high - ours$conf.low, 2 * qnorm(0.975) * ours$std.error)
})

test_that("exponentiate = TRUE gives ratios as broom.mixed does", {
  m <- eco_binomial()
  ours <- tidy(m$ours, effects = "fixed", conf.int = TRUE, exponentiate = TRUE)
  ref <- peer_tidy(m$tmb, effects = "fixed", conf.int = TRUE, exponentiate = TRUE)
  expect_equal(ours$estimate, ref$estimate, tolerance = 1e-3)
  expect_equal(ours$std.error, ref$std.error, tolerance = 1e-3)
  expect_equal(ours$conf.high, ref$conf.high, tolerance = 1e-3)
  expect_equal(ours$estimate, unname(exp(fixef(m$ours))))
})

test_that("tidy() and glance() of a several-term (sparse) glmm equal glmmTMB's", {
  m <- eco_binomial()
  ours <- tidy(m$obs_level)
  ref <- peer_tidy(m$obs_level_tmb)
  expect_identical(ours$term, ref$term)
  expect_identical(ours$group, ref$group)
  expect_equal(ours$estimate, ref$estimate, tolerance = 1e-3)
  g <- glance(m$obs_level)
  gr <- as.data.frame(broom.mixed::glance(m$obs_level_tmb))
  expect_equal(g[c("nobs", "logLik", "AIC", "BIC", "df.residual")],
               gr[c("nobs", "logLik", "AIC", "BIC", "df.residual")], tolerance = 1e-5,
               ignore_attr = TRUE)
})

test_that("glance() of a glmm equals broom.mixed's on glmmTMB and lmer (ML)", {
  for (m in list(eco_binomial(), eco_gaussian())) {
    g <- glance(m$ours)
    gr <- as.data.frame(broom.mixed::glance(m$tmb))
    cols <- c("nobs", "sigma", "logLik", "AIC", "BIC", "df.residual")
    expect_equal(g[cols], gr[cols], tolerance = 1e-5, ignore_attr = TRUE)
  }
})

test_that("augment() adds fitted values and residuals that match lme4's", {
  m <- eco_gaussian()
  a <- augment(m$ours)
  expect_identical(nrow(a), nrow(m$data))
  expect_equal(a$.fitted, unname(fitted(m$lme4)), tolerance = 1e-4)
  expect_equal(a$.resid, unname(residuals(m$lme4)), tolerance = 1e-3)
  expect_equal(a$.fixed, unname(predict(m$lme4, re.form = NA)), tolerance = 1e-4)
  nd <- m$data[1:3, ]
  expect_equal(augment(m$ours, newdata = nd)$.fitted, unname(predict(m$ours, nd)))
  b <- eco_binomial()
  ab <- augment(b$ours, type.predict = "response")
  expect_equal(ab$.fitted, unname(fitted(b$lme4)), tolerance = 1e-3)
})

test_that("tidy() and glance() of a gee equal broom's on geeglm", {
  skip_if_not_installed("geepack")
  skip_if_not_installed("MASS")
  m <- eco_gee()
  ours <- tidy(m$ours, conf.int = TRUE)
  ref <- as.data.frame(broom::tidy(m$peer, conf.int = TRUE))
  expect_identical(names(ours), names(ref))
  expect_identical(ours$term, ref$term)
  for (v in c("estimate", "std.error", "statistic", "conf.low", "conf.high"))
    expect_equal(ours[[v]], ref[[v]], tolerance = 1e-6, label = v)
  g <- glance(m$ours)
  gr <- as.data.frame(broom::glance(m$peer))
  expect_equal(g[names(gr)], gr, tolerance = 1e-6, ignore_attr = TRUE)
  a <- augment(m$ours, type.predict = "response")
  expect_equal(a$.fitted, as.vector(fitted(m$peer)), tolerance = 1e-6)
  # Another variance estimator changes the standard errors only.
  md <- tidy(m$ours, std.err = "md")
  expect_equal(md$std.error, unname(sqrt(diag(vcov(m$ours, type = "md")))))
  expect_equal(md$estimate, ours$estimate)
})

test_that("tidy() rejects bad arguments with a message naming them", {
  m <- eco_binomial()
  expect_error(tidy(m$ours, effects = "ran_coefs"), "'effects' must be")
  expect_error(tidy(m$ours, conf.int = NA), "'conf.int' must be TRUE or FALSE")
  expect_error(tidy(m$ours, conf.level = 2), "level")
  # broom.mixed's conf.method and scales: honoured at the values tidy()
  # reports, an error otherwise (profile limits and variances were
  # silently replaced by Wald limits and standard deviations).
  expect_identical(tidy(m$ours, conf.int = TRUE, conf.method = "Wald", scales = "sdcor"),
                   tidy(m$ours, conf.int = TRUE))
  expect_error(tidy(m$ours, conf.int = TRUE, conf.method = "profile"),
               "'conf.method' = \"profile\": tidy\\(\\) gives Wald limits")
  expect_error(tidy(m$ours, scales = "vcov"), "'scales'.*VarCorr")
  zi <- glmm(count ~ mined + (1 | site), data = glmmTMB::Salamanders, ziformula = ~ 1,
             family = poisson, nAGQ = 1)
  expect_error(tidy(zi, conf.method = "boot"), "'conf.method'")
  expect_error(tidy(zi, scales = "vcov"), "'scales'")
})

test_that("modelsummary() renders glmm and gee fits with their numbers", {
  skip_if_not_installed("modelsummary")
  skip_if_not_installed("geepack")
  skip_if_not_installed("MASS")
  b <- eco_binomial()
  g <- eco_gee()
  tab <- modelsummary::modelsummary(list(GLMM = b$ours, GEE = g$ours), output = "data.frame",
                                    statistic = "std.error", fmt = 6)
  est <- function(model, term) {
    r <- tab[tab$term == term & tab$statistic == "estimate", model]
    as.numeric(r)
  }
  expect_equal(est("GLMM", "period2"), unname(fixef(b$ours)["period2"]), tolerance = 1e-5)
  expect_equal(est("GEE", "lbase"), unname(coef(g$ours)["lbase"]), tolerance = 1e-5)
  se <- tab[tab$term == "lbase" & tab$statistic == "std.error", "GEE"]
  expect_equal(as.numeric(gsub("[()]", "", se)), unname(sqrt(vcov(g$ours)["lbase", "lbase"])),
               tolerance = 1e-5)
  expect_true(any(grepl("Num.Obs.", tab$term)))
})

test_that("tidy() of a gee takes the variance as 'type', as vcov() does", {
  skip_if_not_installed("broom")
  data(ohio, package = "geepack", envir = environment())
  f <- gee(resp ~ age + smoke, id = id, data = ohio, family = binomial, corstr = "exchangeable")
  # type = "md" fell into '...' and the sandwich's standard errors came back
  md <- broom::tidy(f, type = "md")
  expect_equal(md$std.error, unname(sqrt(diag(vcov(f, type = "md")))))
  expect_identical(md, broom::tidy(f, std.err = "md"))
  expect_false(isTRUE(all.equal(md$std.error, broom::tidy(f)$std.error)))
  expect_error(broom::tidy(f, type = "md", std.err = "md"), "'type' or 'std.err'")
})
