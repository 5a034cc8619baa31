# emmeans on glmm and gee fits against the same calls on glmmTMB and
# geepack fits of the same models.

skip_if_not_installed("emmeans")
skip_if_not_installed("glmmTMB")

emm_df <- function(x) as.data.frame(summary(x))

test_that("EMMs and regrid() risk differences of a binomial glmm equal glmmTMB's", {
  m <- eco_binomial()
  ours <- emmeans::emmeans(m$ours, ~ period)
  ref <- emmeans::emmeans(m$tmb, ~ period)
  expect_equal(emm_df(ours)$emmean, emm_df(ref)$emmean, tolerance = 1e-5)
  expect_equal(emm_df(ours)$SE, emm_df(ref)$SE, tolerance = 1e-3)
  rd <- emm_df(emmeans::contrast(emmeans::regrid(ours), "trt.vs.ctrl"))
  rd_ref <- emm_df(emmeans::contrast(emmeans::regrid(ref), "trt.vs.ctrl"))
  expect_identical(as.character(rd$contrast), as.character(rd_ref$contrast))
  expect_equal(rd$estimate, rd_ref$estimate, tolerance = 1e-5)
  expect_equal(rd$SE, rd_ref$SE, tolerance = 1e-3)
  # Response scale: the inverse logit of the EMMs, as glmer's.
  resp <- emm_df(emmeans::emmeans(m$ours, ~ period, type = "response"))
  expect_equal(resp$prob, plogis(emm_df(ours)$emmean))
  # Asymptotic (z) inference, as for glmer fits.
  expect_true(all(is.infinite(emm_df(ours)$df)))
})

test_that("emmeans() of a gaussian glmm equals glmmTMB's; pairs() too", {
  m <- eco_gaussian()
  ours <- emmeans::emmeans(m$ours, ~ Days, at = list(Days = c(0, 4, 9)))
  ref <- emmeans::emmeans(m$tmb, ~ Days, at = list(Days = c(0, 4, 9)))
  # (the same optimum as lmer's to 1e-10; glmmTMB 1.1.15 stops 3e-6 from it)
  ref_lmer <- emmeans::emmeans(m$lme4, ~ Days, at = list(Days = c(0, 4, 9)))
  expect_equal(emm_df(ours)$emmean, emm_df(ref_lmer)$emmean, tolerance = 1e-8)
  expect_equal(emm_df(ours)$emmean, emm_df(ref)$emmean, tolerance = 1e-5)
  expect_equal(emm_df(ours)$SE, emm_df(ref)$SE, tolerance = 1e-3)
  expect_equal(emm_df(pairs(ours))$estimate, emm_df(pairs(ref))$estimate, tolerance = 1e-5)
  tr <- emm_df(emmeans::emtrends(m$ours, ~ 1, var = "Days"))
  expect_equal(tr$Days.trend, unname(fixef(m$ours)["Days"]), tolerance = 1e-6)
})

test_that("offsets (formula or argument) enter EMMs as for glmmTMB", {
  m <- eco_poisson()
  d <- m$data
  by_arg <- glmm(count ~ grp + (1 | id), offset = log(expo), data = d, family = poisson,
                 nAGQ = 1)
  ref <- emm_df(emmeans::emmeans(m$tmb, ~ grp, type = "response"))
  for (fit in list(m$ours, by_arg)) {
    ours <- emm_df(emmeans::emmeans(fit, ~ grp, type = "response"))
    expect_equal(ours$rate, ref$rate, tolerance = 1e-5)
    expect_equal(ours$SE, ref$SE, tolerance = 1e-3)
  }
  # emmeans' offset argument: rates per unit exposure.
  unit <- emm_df(emmeans::emmeans(m$ours, ~ grp, type = "response", offset = 0))
  unit_ref <- emm_df(emmeans::emmeans(m$tmb, ~ grp, type = "response", offset = 0))
  expect_equal(unit$rate, unit_ref$rate, tolerance = 1e-5)
  rr <- emm_df(emmeans::contrast(emmeans::emmeans(m$ours, ~ grp, type = "response"),
                                 "revpairwise"))
  expect_equal(rr$ratio, unname(exp(fixef(m$ours)[["grphigh"]])), tolerance = 1e-10)
})

test_that("emmeans() of a several-term glmm equals glmmTMB's", {
  m <- eco_binomial()
  ours <- emm_df(emmeans::emmeans(m$obs_level, ~ period, type = "response"))
  ref <- emm_df(emmeans::emmeans(m$obs_level_tmb, ~ period, type = "response"))
  expect_equal(ours$prob, ref$prob, tolerance = 1e-4)
  expect_equal(ours$SE, ref$SE, tolerance = 2e-3)
})

test_that("emmeans() of a gee equals geeglm's; std.err chooses the covariance", {
  skip_if_not_installed("geepack")
  skip_if_not_installed("MASS")
  m <- eco_gee()
  ours <- emm_df(emmeans::emmeans(m$ours, ~ trt, type = "response"))
  ref <- emm_df(emmeans::emmeans(m$peer, ~ trt, type = "response"))
  expect_equal(ours$rate, ref$rate, tolerance = 1e-6)
  expect_equal(ours$SE, ref$SE, tolerance = 1e-6)
  naive <- emm_df(emmeans::emmeans(m$ours, ~ trt, std.err = "model"))
  naive_ref <- emm_df(emmeans::emmeans(m$peer, ~ trt, vcov.method = "naive"))
  expect_equal(naive$SE, naive_ref$SE, tolerance = 1e-6)
  md <- emm_df(emmeans::emmeans(m$ours, ~ trt, std.err = "md"))
  X <- emmeans::emmeans(m$ours, ~ trt)@linfct
  expect_equal(md$SE, sqrt(diag(X %*% vcov(m$ours, type = "md") %*% t(X))))
  # A user-supplied covariance (emmeans' vcov.) wins.
  V2 <- 4 * vcov(m$ours)
  v2 <- emm_df(emmeans::emmeans(m$ours, ~ trt, vcov. = V2))
  expect_equal(v2$SE, 2 * emm_df(emmeans::emmeans(m$ours, ~ trt))$SE)
})

test_that("a gee_fit() fit without a formula gets a clear emmeans error", {
  m <- eco_gee()
  X <- model.matrix(m$ours)
  fit <- gee_fit(X, m$data$y, id = m$data$subject, family = poisson())
  expect_error(emmeans::ref_grid(fit), "gee_fit")
})

# The heading emmeans prints ("Covariance: ...") names the matrix used:
# with vcov. = vcov(fit, type = "md") it said "robust sandwich".
test_that("the covariance heading follows the matrix emmeans used", {
  skip_if_not_installed("MASS")
  m <- eco_gee()
  mesg <- function(emm) paste(emm@misc$initMesg, collapse = " ")
  expect_match(mesg(emmeans::emmeans(m$ours, ~ trt)), "robust sandwich")
  md <- emmeans::emmeans(m$ours, ~ trt, vcov. = vcov(m$ours, type = "md"))
  expect_match(mesg(md), "Mancl-DeRouen")
  expect_no_match(mesg(md), "robust sandwich")
  expect_match(mesg(emmeans::emmeans(m$ours, ~ trt, vcov. = function(f, ...) vcov(f, type = "kc"))),
               "Kauermann-Carroll")
  expect_match(mesg(emmeans::emmeans(m$ours, ~ trt, std.err = "md")), "Mancl-DeRouen")
  expect_match(mesg(emmeans::emmeans(m$ours, ~ trt, vcov. = vcov(m$ours, type = "model"))),
               "model-based")
  expect_match(mesg(emmeans::emmeans(m$ours, ~ trt, vcov. = 4 * vcov(m$ours))), "user-supplied")
  # the same for the ordinal gee (robust / naive)
  skip_if_not_installed("ordinal")
  og <- kinds_fits()$ordinal_gee
  expect_match(mesg(emmeans::emmeans(og, ~ temp, vcov. = vcov(og, type = "naive"))), "naive")
  expect_match(mesg(emmeans::emmeans(og, ~ temp, vcov. = 2 * vcov(og))), "user-supplied")
})

test_that("a zero or dispersion component is refused, not answered with the conditional means", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  fit <- glmm(count ~ mined + (1 | site), data = Salamanders, family = nbinom2,
              ziformula = ~ mined, dispformula = ~ mined, nAGQ = 1)
  for (cmp in c("zi", "disp"))
    expect_error(emmeans::emmeans(fit, ~ mined, component = cmp),
                 sprintf("component = \"%s\".*predict\\(type = \"zprob\"\\)", cmp))
  cond <- emmeans::emmeans(fit, ~ mined, component = "cond")
  expect_equal(summary(cond)$emmean, summary(emmeans::emmeans(fit, ~ mined))$emmean)
  expect_equal(summary(cond)$emmean[2] - summary(cond)$emmean[1], unname(fixef(fit)[["minedno"]]),
               tolerance = 1e-10)
})
