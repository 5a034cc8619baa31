# Ecosystem battery: the post-estimation and reporting calls that lme4,
# glmmTMB and geepack users make, each run on a glmmgee fit and on the peer's
# fit of the same model, with the numbers compared.
#
#   Rscript tools/ecosystem-battery.R            # prints the tally
#   Rscript tools/ecosystem-battery.R out.csv    # and writes one row a call
#
# or source() it and call run_battery(). A call counts only if it works on
# the peer's fit. On glmmgee it then either gives the same numbers
# ("same"), runs where only running can be checked ("runs": plots, tables),
# fails with an error or returns nothing ("fails"), or returns other
# numbers ("differs": silently wrong, the one outcome that must not occur)
# or other numbers by a stated convention ("convention": e.g. z rather than
# t tests for a gaussian glmm; listed with the reason, counted as working).
# The target (issue 13): at least 95% of the calls that work on the peer
# are "same" or "runs", and none "differs". Calls marked `needs` depend on
# methods added on another branch (confint, deviance, car, ...): they fail
# until that work is merged.

if (!exists("%||%", envir = baseenv(), inherits = FALSE) &&
    !exists("%||%", envir = globalenv(), inherits = FALSE)) {
  # marginaleffects' CRAN release calls base R's `%||%` (R >= 4.4).
  assign("%||%", function(x, y) if (is.null(x)) y else x, envir = globalenv())
}

suppressPackageStartupMessages({
  library(glmmgee)
})

# ---- the models ---------------------------------------------------------------

battery_fits <- function() {
  # Loading the namespaces registers their S3 methods (broom's tidy.geeglm...).
  for (p in c("lme4", "glmmTMB", "geepack", "broom", "broom.mixed", "emmeans"))
    requireNamespace(p, quietly = TRUE)
  e <- new.env()
  utils::data("cbpp", package = "lme4", envir = e)
  utils::data("sleepstudy", package = "lme4", envir = e)
  utils::data("epil", package = "MASS", envir = e)
  cbpp <- e$cbpp
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  fb <- cbind(incidence, size - incidence) ~ period + (1 | herd)
  fs <- update(fb, . ~ . + (1 | obs))
  fg <- Reaction ~ Days + (Days | Subject)
  fe <- y ~ lbase + trt + lage + V4
  epil <- e$epil
  sleepstudy <- e$sleepstudy
  list(
    B = list(ours = glmm(fb, data = cbpp, family = binomial, nAGQ = 1),
             peer = glmmTMB::glmmTMB(fb, data = cbpp, family = binomial),
             ours0 = glmm(update(fb, . ~ . - period), data = cbpp, family = binomial, nAGQ = 1),
             peer0 = glmmTMB::glmmTMB(update(fb, . ~ . - period), data = cbpp, family = binomial),
             nd = data.frame(period = factor(1:4), herd = "1"), focal = "period",
             tol = 2e-3, data = cbpp, peer_name = "glmmTMB"),
    S = list(ours = glmm(fs, data = cbpp, family = binomial),
             peer = glmmTMB::glmmTMB(fs, data = cbpp, family = binomial),
             nd = data.frame(period = factor(1:4), herd = "1", obs = "1"), focal = "period",
             tol = 5e-3, data = cbpp, peer_name = "glmmTMB"),
    G = list(ours = glmm(fg, data = sleepstudy),
             peer = lme4::lmer(fg, data = sleepstudy, REML = FALSE),
             ours0 = glmm(Reaction ~ 1 + (Days | Subject), data = sleepstudy),
             peer0 = lme4::lmer(Reaction ~ 1 + (Days | Subject), data = sleepstudy, REML = FALSE),
             nd = data.frame(Days = c(0, 4, 9), Subject = "308"), focal = "Days",
             tol = 2e-3, data = sleepstudy, peer_name = "lme4"),
    E = list(ours = gee(fe, data = epil, id = subject, family = poisson, corstr = "exchangeable"),
             peer = geepack::geeglm(fe, data = epil, id = subject, family = poisson,
                                    corstr = "exchangeable"),
             ours0 = gee(y ~ lbase + lage + V4, data = epil, id = subject, family = poisson,
                         corstr = "exchangeable"),
             peer0 = geepack::geeglm(y ~ lbase + lage + V4, data = epil, id = subject,
                                     family = poisson, corstr = "exchangeable"),
             nd = data.frame(lbase = c(-0.5, 0.5), trt = c("placebo", "progabide"),
                             lage = 0, V4 = 0), focal = "trt",
             tol = 1e-5, data = epil, peer_name = "geepack"))
}

# ---- the calls ----------------------------------------------------------------

# One call: `expr` is evaluated with `fit` (and `fit0`, `nd`, `data`) bound
# to glmmgee's objects and to the peer's; `peer` overrides the expression
# for the peer, `num` (and `num_peer`) extract what is compared ("runs"
# checks only that it runs).
cl <- function(models, area, name, expr, peer = NULL, num = NULL, num_peer = num,
               type = "numbers", tol = NULL, needs = NA_character_, convention = NULL) {
  lapply(strsplit(models, "")[[1L]], function(m)
    list(model = m, area = area, name = name, expr = expr, peer = peer %||% expr,
         num = num %||% identity, num_peer = num_peer %||% num %||% identity,
         type = type, tol = tol, needs = needs,
         convention = if (is.null(convention)) NA_character_
                      else if (is.null(names(convention))) convention
                      else unname(convention[m])))
}

q <- function(x) substitute(x)
trial_scale <- paste("latent variance of one trial (pi^2/3), not divided by the mean number",
                     "of trials as insight 1.7 does for cbind() responses")
col <- function(v) function(x) as.data.frame(x)[[v]]
fx <- function(x) x[grepl("^fixed$", x$effect), ]
tmb_cond <- function(x) if (is.list(x) && !is.data.frame(x) && "cond" %in% names(x)) x$cond else x
pfx <- function(n) function(x) tmb_cond(x)[seq_len(n)]

# The fixed effects of any fit in the battery (gee fits have no fixef()).
fixed_coef <- function(fit) {
  if (inherits(fit, c("glmmgee_gee", "geeglm"))) coef(fit) else tmb_cond(lme4::fixef(fit))
}

battery_calls <- function() {
  c(
    # -- stats and lme4-style extractors
    cl("BSG", "stats", "fixef", q(nlme::fixef(fit)), peer = q(lme4::fixef(fit)), num = tmb_cond),
    cl("E", "stats", "coef", q(coef(fit))),
    cl("BSGE", "stats", "vcov", q(vcov(fit)), num = function(v) as.vector(as.matrix(tmb_cond(v)))),
    cl("BSG", "stats", "logLik", q(as.numeric(logLik(fit)))),
    cl("BSG", "stats", "AIC", q(AIC(fit))),
    cl("BSG", "stats", "BIC", q(BIC(fit))),
    cl("BSGE", "stats", "nobs", q(nobs(fit))),
    cl("BSGE", "stats", "fitted", q(as.vector(fitted(fit)))),
    cl("BSG", "stats", "residuals (response)", q(as.vector(residuals(fit, type = "response")))),
    cl("BSGE", "stats", "residuals (pearson)", q(as.vector(residuals(fit, type = "pearson")))),
    cl("G", "stats", "residuals (default)", q(as.vector(residuals(fit)))),
    cl("BSG", "stats", "predict (link)", q(as.vector(predict(fit)))),
    cl("BSGE", "stats", "predict (response)", q(as.vector(predict(fit, type = "response")))),
    cl("BSG", "stats", "predict newdata", q(as.vector(predict(fit, newdata = nd)))),
    cl("BSG", "stats", "predict re.form = NA", q(as.vector(predict(fit, newdata = nd, re.form = NA)))),
    cl("E", "stats", "predict newdata", q(as.vector(predict(fit, newdata = nd)))),
    cl("BG", "stats", "predict se.fit", q(as.vector(predict(fit, newdata = nd, re.form = NA,
                                                             se.fit = TRUE)$se.fit)),
       needs = "predict(se.fit) for glmm"),
    cl("E", "stats", "predict se.fit", q(as.vector(predict(fit, newdata = nd, se.fit = TRUE)$se.fit))),
    cl("BSG", "stats", "sigma", q(sigma(fit))),
    cl("BSG", "stats", "VarCorr SDs", q(unlist(lapply(nlme::VarCorr(fit), attr, "stddev"))),
       peer = q(unlist(lapply(tmb_cond(lme4::VarCorr(fit)), attr, "stddev")))),
    cl("BG", "stats", "ranef", q(unlist(tmb_cond(nlme::ranef(fit))[[1]])),
       peer = q(unlist(tmb_cond(lme4::ranef(fit))[[1]]))),
    cl("BG", "stats", "coef (per cluster)", q(unlist(tmb_cond(coef(fit))[[1]]))),
    cl("BSGE", "stats", "summary coefficients", q(tmb_cond(coef(summary(fit)))[, 1:2])),
    cl("BSGE", "stats", "formula", q(deparse(formula(fit))), type = "runs"),
    cl("BSGE", "stats", "family", q(family(fit)$family)),
    cl("BSG", "stats", "model.frame rows", q(nrow(model.frame(fit)))),
    cl("BSGE", "stats", "model.matrix", q(as.vector(model.matrix(fit)))),
    cl("BSG", "stats", "anova (LRT)", q(as.data.frame(anova(fit0, fit))$Chisq[2]),
       num = function(x) x),
    cl("E", "stats", "anova (Wald)", q(anova(fit0, fit)), peer = q(anova(fit, fit0)),
       num = function(a) as.data.frame(a)$Chisq[2], num_peer = function(a) as.data.frame(a)$X2[1]),
    cl("BGE", "stats", "update", q(tmb_cond(coef(summary(update(fit, . ~ . - 1 + 1))))[, 1:2])),
    cl("BSG", "stats", "simulate", q(nrow(simulate(fit, nsim = 2, seed = 1))), type = "runs"),
    # lme4's confint() profiles by default and lists the variance parameters
    # first: ask every package for Wald intervals of the fixed effects.
    cl("BSGE", "stats", "confint (Wald)", q(tmb_cond(confint(fit))),
       peer = q(if (inherits(fit, "merMod")) confint(fit, parm = "beta_", method = "Wald")
                else tmb_cond(confint(fit))),
       num = function(ci) as.vector(as.matrix(ci)[seq_len(2), 1:2]), needs = "confint"),
    cl("BG", "stats", "confint (profile)", q(confint(fit, parm = 2, method = "profile")),
       peer = q(if (inherits(fit, "glmmTMB")) confint(fit, parm = 2, method = "profile")
                else confint(fit, parm = "Days", method = "profile")),
       num = function(ci) as.vector(as.matrix(ci)[1, 1:2]), tol = 1e-2, needs = "profile"),
    cl("BSG", "stats", "df.residual", q(df.residual(fit)), needs = "df.residual"),
    cl("G", "stats", "deviance", q(deviance(fit)), needs = "deviance"),
    cl("BSGE", "stats", "weights", q(as.vector(weights(fit))), needs = "weights"),
    cl("BSG", "stats", "extractAIC", q(extractAIC(fit)), needs = "extractAIC"),
    cl("BG", "stats", "drop1", q(as.data.frame(drop1(fit))$AIC), needs = "extractAIC"),
    cl("E", "stats", "QIC", q(unname(geepack::QIC(fit)[1])), needs = "QIC registration"),

    # -- broom / broom.mixed
    cl("BSG", "broom", "tidy", q(generics::tidy(fit)$estimate)),
    cl("BG", "broom", "tidy fixed conf.int", q(fx(generics::tidy(fit, effects = "fixed",
                                                                 conf.int = TRUE))$conf.low)),
    cl("B", "broom", "tidy exponentiate", q(fx(generics::tidy(fit, effects = "fixed",
                                                              exponentiate = TRUE))$estimate)),
    cl("G", "broom", "tidy ran_vals", q(generics::tidy(fit, effects = "ran_vals")$estimate)),
    cl("E", "broom", "tidy", q(as.matrix(generics::tidy(fit, conf.int = TRUE)[, -1]))),
    cl("BSG", "broom", "glance", q(unlist(generics::glance(fit)[c("nobs", "logLik", "AIC", "BIC")]))),
    cl("E", "broom", "glance", q(unlist(generics::glance(fit)[c("df.residual", "n.clusters",
                                                              "max.cluster.size", "alpha", "gamma")]))),
    cl("G", "broom", "augment", q(generics::augment(fit)$.fitted)),
    cl("E", "broom", "augment", q(generics::augment(fit, data = data)$.fitted),
       peer = q(as.vector(generics::augment(fit, data = data, type.predict = "link")$.fitted))),

    # -- emmeans
    cl("BSGE", "emmeans", "emmeans", q(summary(emmeans::emmeans(fit, focal, data = data, lmer.df = "asymptotic"),
                                               df = Inf)[, c(2, 3)]),
       num = function(x) as.vector(as.matrix(x))),
    cl("BSE", "emmeans", "emmeans type = response",
       q(summary(emmeans::emmeans(fit, focal, type = "response", data = data, lmer.df = "asymptotic"), df = Inf)[, 2])),
    cl("BSE", "emmeans", "regrid", q(summary(emmeans::regrid(emmeans::emmeans(fit, focal, data = data, lmer.df = "asymptotic")),
                                              df = Inf)[, 2:3]),
       num = function(x) as.vector(as.matrix(x))),
    cl("BSE", "emmeans", "risk differences", q(summary(emmeans::contrast(
      emmeans::regrid(emmeans::emmeans(fit, focal, data = data, lmer.df = "asymptotic")), "trt.vs.ctrl"), df = Inf)$estimate)),
    cl("BSE", "emmeans", "pairs", q(summary(pairs(emmeans::emmeans(fit, focal, data = data, lmer.df = "asymptotic")),
                                            df = Inf)$estimate)),
    cl("BE", "emmeans", "confint(emmeans)", q(as.data.frame(confint(emmeans::emmeans(
      fit, focal, data = data, lmer.df = "asymptotic"), df = Inf))[, 5:6]), num = function(x) as.vector(as.matrix(x))),
    cl("BE", "emmeans", "test(emmeans)", q(summary(emmeans::emmeans(fit, focal, data = data, lmer.df = "asymptotic"),
                                                   infer = TRUE, df = Inf)$z.ratio)),
    cl("BSE", "emmeans", "joint_tests", q(as.data.frame(emmeans::joint_tests(fit, data = data))$F.ratio),
       tol = 5e-3),
    cl("G", "emmeans", "emtrends", q(summary(emmeans::emtrends(fit, ~ 1, var = "Days", lmer.df = "asymptotic"), df = Inf)[, 2:3]),
       num = function(x) as.vector(as.matrix(x))),
    cl("BSGE", "emmeans", "ref_grid predict", q(predict(emmeans::ref_grid(fit, data = data, lmer.df = "asymptotic")))),

    # -- marginaleffects (conditional types)
    cl("BSGE", "marginaleffects", "predictions", q(marginaleffects::predictions(fit)$estimate), tol = 1e-3),
    cl("BSGE", "marginaleffects", "avg_predictions",
       q(unlist(marginaleffects::avg_predictions(fit)[c("estimate", "std.error")])), tol = 5e-3),
    cl("BSE", "marginaleffects", "avg_predictions by", q(marginaleffects::avg_predictions(
      fit, variables = focal)$estimate), tol = 1e-3),
    cl("BSGE", "marginaleffects", "comparisons", q(marginaleffects::comparisons(
      fit, variables = focal)$estimate), tol = 1e-3),
    cl("BSGE", "marginaleffects", "avg_comparisons",
       q(unlist(marginaleffects::avg_comparisons(fit, variables = focal)[c("estimate", "std.error")])),
       tol = 5e-3),
    cl("BE", "marginaleffects", "avg_comparisons ratio", q(marginaleffects::avg_comparisons(
      fit, variables = focal, comparison = "ratio")$estimate), tol = 1e-3),
    cl("BSGE", "marginaleffects", "predictions re.form = NA", q(unlist(marginaleffects::predictions(
      fit, newdata = nd, re.form = NA)[c("estimate", "conf.low")]))),
    # A slope's standard error is a finite difference of a finite difference:
    # the same step for both fits, so that the comparison is of the models,
    # and central differences in the coefficients (forward ones carry
    # rounding noise of 1e-5 relative from the predictions' last digits).
    cl("GE", "marginaleffects", "avg_slopes", q(unlist(marginaleffects::avg_slopes(
      fit, variables = if (focal == "trt") "lbase" else focal, eps = 1e-4,
      numderiv = list("fdcenter", eps = 1e-5))[c("estimate", "std.error")]))),
    cl("GE", "marginaleffects", "slopes", q(marginaleffects::slopes(
      fit, variables = if (focal == "trt") "lbase" else focal)$estimate), tol = 1e-3),
    cl("BGE", "marginaleffects", "hypotheses", q(marginaleffects::hypotheses(
      fit, hypothesis = "b2 = 0")$estimate)),
    cl("BGE", "marginaleffects", "plot_predictions", q(marginaleffects::plot_predictions(
      fit, condition = focal)), type = "runs"),

    # -- modelsummary
    cl("BGE", "modelsummary", "modelsummary estimates", q({
      tab <- modelsummary::modelsummary(list(fit), output = "data.frame", fmt = 3,
                                        statistic = NULL, gof_map = NA)
      sort(as.numeric(tab[[ncol(tab)]][tab$part == "estimates"]))
    })),
    cl("BGE", "modelsummary", "modelsummary Num.Obs.", q({
      tab <- modelsummary::modelsummary(list(fit), output = "data.frame")
      as.numeric(tab[[ncol(tab)]][tab$term == "Num.Obs."])
    })),

    # -- insight
    cl("BSGE", "insight", "find_formula", q(deparse(insight::find_formula(fit)$conditional))),
    cl("BSG", "insight", "find_random", q(insight::find_random(fit))),
    cl("BSGE", "insight", "is_mixed_model", q(insight::is_mixed_model(fit))),
    cl("BSGE", "insight", "get_parameters", q(insight::get_parameters(fit)$Estimate)),
    cl("BSGE", "insight", "find_parameters", q(insight::find_parameters(fit)$conditional)),
    cl("BSGE", "insight", "get_varcov", q(as.vector(insight::get_varcov(fit)))),
    cl("BSG", "insight", "get_statistic", q(insight::get_statistic(fit)$Statistic)),
    cl("BSG", "insight", "find_statistic", q(insight::find_statistic(fit)),
       convention = c(G = "glmmgee tests gaussian fixed effects by z (as glmmTMB), lme4 by t")),
    cl("BSGE", "insight", "model_info", q(unlist(insight::model_info(fit)[
      c("is_binomial", "is_poisson", "is_linear", "is_mixed", "is_logit")]))),
    cl("BSGE", "insight", "get_data rows", q(nrow(insight::get_data(fit)))),
    cl("BSGE", "insight", "find_response", q(insight::find_response(fit))),
    cl("BSG", "insight", "find_predictors", q(insight::find_predictors(fit)$conditional)),
    cl("BSGE", "insight", "n_obs", q(insight::n_obs(fit))),
    cl("BSGE", "insight", "link_inverse", q(insight::link_inverse(fit)(0.3))),
    cl("BSG", "insight", "get_df (wald)", q(insight::get_df(fit, type = "wald")),
       convention = c(G = "z tests: infinite df (as glmmTMB), lme4 gives n - p")),
    cl("BSG", "insight", "get_loglikelihood", q(as.numeric(insight::get_loglikelihood(fit)))),
    cl("BSG", "insight", "get_predicted", q(as.vector(insight::get_predicted(fit))), tol = 1e-3),

    # -- parameters
    cl("BSGE", "parameters", "model_parameters", q(unlist(as.data.frame(parameters::model_parameters(
      fit, effects = "fixed"))[c("Coefficient", "SE", "CI_low")]))),
    cl("BSGE", "parameters", "standard_error", q(parameters::standard_error(fit, effects = "fixed")$SE)),
    cl("BSGE", "parameters", "p_value", q(parameters::p_value(fit, effects = "fixed")$p), tol = 2e-2),
    cl("BSGE", "parameters", "ci", q(parameters::ci(fit, effects = "fixed")$CI_low)),

    # -- performance
    # insight 1.7 divides the logit latent variance pi^2/3 by the mean
    # number of trials for a cbind() binomial response; ours stays on the
    # latent scale of one trial, as variance_shares() and as both give for
    # the same data as 0/1 rows.
    cl("BSG", "performance", "icc", q(unlist(performance::icc(fit))),
       convention = c(B = trial_scale, S = trial_scale)),
    cl("BSG", "performance", "r2", q(unlist(performance::r2(fit))),
       convention = c(B = trial_scale, S = trial_scale)),
    cl("BSG", "performance", "model_performance", q(performance::model_performance(fit)$AIC),
       convention = c(G = paste("AIC of the ML fit; performance's default estimator = \"REML\"",
                                "gives lme4's REML criterion for an ML fit"))),
    cl("BSG", "performance", "model_performance (R2, ICC, RMSE)",
       q(unlist(performance::model_performance(fit, estimator = "ML")[
         c("R2_conditional", "R2_marginal", "ICC", "RMSE")])),
       convention = c(B = trial_scale, S = trial_scale)),
    cl("BSG", "performance", "check_singularity", q(performance::check_singularity(fit))),

    # -- ggeffects
    cl("BSG", "ggeffects", "ggpredict", q(unlist(as.data.frame(ggeffects::ggpredict(fit, focal))[
      c("predicted", "conf.low")])), tol = 5e-3),
    # ggeffects' intervals for geeglm are not Wald intervals from the
    # sandwich (0.79 to 41 around 5.7 on MASS::epil): compare the means.
    cl("E", "ggeffects", "ggpredict", q(as.data.frame(ggeffects::ggpredict(fit, focal))$predicted)),
    cl("BSGE", "ggeffects", "ggemmeans", q(as.data.frame(ggeffects::ggemmeans(fit, focal))$predicted)),

    # -- sjPlot
    cl("BGE", "sjPlot", "tab_model", q(sjPlot::tab_model(fit)), type = "runs"),
    cl("BGE", "sjPlot", "plot_model", q(sjPlot::plot_model(fit)), type = "runs"),

    # -- car, multcomp, lmtest
    cl("BSGE", "car", "Anova", q(as.data.frame(car::Anova(fit))[, 1]), needs = "car methods"),
    cl("BGE", "car", "linearHypothesis", q(as.data.frame(car::linearHypothesis(
      fit, names(fixed_coef(fit))[2]))[2, "Chisq"]),
       peer = q(as.data.frame(car::linearHypothesis(
         fit, if (inherits(fit, "geeglm")) names(coef(fit))[2] else names(tmb_cond(lme4::fixef(fit)))[2]))[2, "Chisq"]),
       needs = "car methods"),
    cl("BGE", "car", "deltaMethod", q(car::deltaMethod(fit, "exp(b1)", parameterNames = paste0("b", 0:(length(fixed_coef(fit)) - 1)))$Estimate),
       peer = q(car::deltaMethod(fit, "exp(b1)", parameterNames = paste0("b", 0:(length(if (inherits(fit, "geeglm")) coef(fit) else tmb_cond(lme4::fixef(fit))) - 1)))$Estimate),
       needs = "car methods"),
    cl("BGE", "multcomp", "glht", q(as.vector(summary(multcomp::glht(fit, linfct = diag(
      length(if (inherits(fit, "geeglm") || inherits(fit, "glmmgee_gee")) coef(fit) else tmb_cond(lme4::fixef(fit))))))$test$tstat)),
      needs = "multcomp methods"),
    cl("BGE", "lmtest", "coeftest", q(as.vector(lmtest::coeftest(fit)[, 1:2])), needs = "coeftest methods")
  )
}

# ---- running and tallying ----------------------------------------------------

run_one <- function(call, fits) {
  m <- fits[[call$model]]
  env_for <- function(who) {
    e <- new.env(parent = globalenv())
    e$fit <- m[[who]]
    e$fit0 <- m[[paste0(who, "0")]]
    e$nd <- m$nd
    e$data <- m$data
    e$focal <- m$focal
    e
  }
  attempt <- function(expr, env, num) {
    tryCatch({
      r <- suppressWarnings(suppressMessages(eval(expr, env)))
      if (call$type == "runs") TRUE else num(r)
    }, error = function(e) structure(conditionMessage(e), class = "battery_error"))
  }
  peer <- attempt(call$peer, env_for("peer"), call$num_peer)
  ours <- attempt(call$expr, env_for("ours"), call$num)
  nothing <- function(x) is.null(x) || !length(x) || (is.atomic(x) && all(is.na(x)))
  status <- if (inherits(peer, "battery_error") || nothing(peer)) "peer fails"
    else if (inherits(ours, "battery_error") || nothing(ours)) "fails"
    else if (call$type == "runs") "runs"
    else if (same_numbers(ours, peer, call$tol %||% m$tol)) "same"
    else if (!is.na(call$convention)) "convention"
    else "differs"
  data.frame(model = call$model, peer = m$peer_name, area = call$area, call = call$name,
             status = status, needs = call$needs, convention = call$convention,
             message = if (inherits(ours, "battery_error")) substr(unclass(ours), 1L, 120L)
                       else "", stringsAsFactors = FALSE)
}

same_numbers <- function(a, b, tol) {
  if (is.character(a) || is.logical(a) || is.character(b) || is.logical(b))
    return(identical(unname(as.vector(unlist(a))), unname(as.vector(unlist(b)))))
  a <- suppressWarnings(unname(as.numeric(unlist(a))))
  b <- suppressWarnings(unname(as.numeric(unlist(b))))
  length(a) == length(b) && isTRUE(all.equal(a, b, tolerance = tol))
}

run_battery <- function(fits = battery_fits(), calls = battery_calls()) {
  out <- do.call(rbind, lapply(calls, run_one, fits = fits))
  attr(out, "summary") <- battery_summary(out)
  out
}

battery_summary <- function(res) {
  eligible <- res$status != "peer fails"
  ok <- res$status %in% c("same", "runs", "convention")
  list(calls = nrow(res), peer_works = sum(eligible), works_same = sum(ok & eligible),
       share = sum(ok & eligible) / sum(eligible),
       differs = sum(res$status == "differs"),
       fails_needing_other_branch = sum(res$status == "fails" & !is.na(res$needs)),
       fails_other = sum(res$status == "fails" & is.na(res$needs)))
}

print_battery <- function(res) {
  s <- attr(res, "summary")
  cat(sprintf("%d calls; %d work on the peer; of those %d (%.1f%%) work on glmmgee with the same numbers.\n",
              s$calls, s$peer_works, s$works_same, 100 * s$share))
  cat(sprintf("Silently different numbers: %d. Failures: %d needing methods from another branch, %d other.\n",
              s$differs, s$fails_needing_other_branch, s$fails_other))
  print(table(res$area, res$status))
  conv <- res[res$status == "convention", c("model", "area", "call", "convention")]
  if (nrow(conv)) {
    cat("\nOther numbers by a documented difference of convention (counted as working):\n")
    print(conv, row.names = FALSE, right = FALSE)
  }
  bad <- res[res$status %in% c("fails", "differs"), c("model", "area", "call", "status", "needs", "message")]
  if (nrow(bad)) {
    cat("\nNot working:\n")
    print(bad, row.names = FALSE, right = FALSE)
  }
  invisible(res)
}

if (sys.nframe() == 0L) {
  res <- run_battery()
  print_battery(res)
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args)) utils::write.csv(res, args[[1L]], row.names = FALSE)
}
